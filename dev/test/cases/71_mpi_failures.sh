# data-parallel failures end the job with a non-zero exit and a clear message, never a
# hang (each run under `timeout 60`; 124 would be a hang):
#  1. ranks started with different flags (MPMD): rank 0 names the rank and the flag;
#  2. a corrupt token file on rank 1 only (rank 1 runs in another directory with the same
#     relative -i): rank 1 names the file and the fault, and the job ends (MPI_Abort);
#  3. a valid but different token file on rank 1: rank 0 names the rank and the file;
#  4. rank 1 killed with SIGKILL mid-run: mpirun ends the job.
set -e
command -v mpirun >/dev/null 2>&1 || { echo "mpirun not found: install openmpi-bin"; exit 77; }
dir=$(mktemp -d "$PWD/build/tmp.mpifail.XXXXXX")
job=
trap '[ -n "$job" ] && kill "$job" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
mpi=(mpirun --oversubscribe --bind-to none)
root=$PWD
prog="$root/train_gpt2"
base=(-j "$root/data/corpus_val.bin" -e d2w64h2t64 -t 32 -b 2 -x 3 -g 0 -m 2)

# expect_failure NAME PATTERN COMMAND...: the command exits non-zero (not 124: a hang), and
# its output matches PATTERN
expect_failure() {
    local name=$1 pattern=$2
    shift 2
    local rc=0
    timeout 60 "$@" > "$dir/$name.txt" 2>&1 || rc=$?
    [ "$rc" -ne 124 ] || fail "$name: still running after 60 s (a hang)"
    [ "$rc" -ne 0 ] || fail "$name: exited 0"
    grep -q -- "$pattern" "$dir/$name.txt" || { tail -20 "$dir/$name.txt"; fail "$name: no message matching '$pattern'"; }
    echo "$name: exit $rc, $(grep -m1 -- "$pattern" "$dir/$name.txt")"
}

# 1. flags
expect_failure flags 'error: rank 1 was started differently from rank 0 (flags): rank 1 has "-lr 0.002" where rank 0 has "-lr 0.001"' \
    "${mpi[@]}" -np 1 "$prog" -i "$root/data/corpus_train.bin" "${base[@]}" -lr 1e-3 : \
                -np 1 "$prog" -i "$root/data/corpus_train.bin" "${base[@]}" -lr 2e-3

# 2. rank 1's token file is corrupt: a bad magic number
mkdir -p "$dir/r0" "$dir/r1" "$dir/r2"
cp data/corpus_train.bin "$dir/r0/tokens.bin"
cp data/corpus_train.bin "$dir/r1/tokens.bin"
printf 'XXXX' | dd of="$dir/r1/tokens.bin" bs=1 seek=0 conv=notrunc status=none
expect_failure corrupt 'rank 1: error: tokens.bin: ' \
    "${mpi[@]}" -np 1 --wdir "$dir/r0" "$prog" -i tokens.bin "${base[@]}" : -np 1 --wdir "$dir/r1" "$prog" -i tokens.bin "${base[@]}"
! grep -q "^step " "$dir/corrupt.txt" || fail "corrupt: rank 0 went on training"

# 3. rank 1's token file is valid but another (the validation tokens under the same name)
cp data/corpus_val.bin "$dir/r2/tokens.bin"
expect_failure otherdata 'error: rank 1 was started differently from rank 0 (data files): rank 1 has "training tokens crc32' \
    "${mpi[@]}" -np 1 --wdir "$dir/r0" "$prog" -i tokens.bin "${base[@]}" : -np 1 --wdir "$dir/r2" "$prog" -i tokens.bin "${base[@]}"

# 4. SIGKILL to rank 1 after a few steps
long=(-i "$root/data/corpus_train.bin" -j "$root/data/corpus_val.bin" -e d2w64h2t64 -t 32 -b 2 -x 100000 -g 0 -m 2)
timeout 60 "${mpi[@]}" -np 2 "$prog" "${long[@]}" > "$dir/kill.txt" 2>&1 &
job=$!
for i in $(seq 1 300); do grep -q "^step     3/" "$dir/kill.txt" && break; sleep 0.1; done
grep -q "^step     3/" "$dir/kill.txt" || fail "kill: the run did not reach step 3"
# rank 1: the child of mpirun (under timeout) whose environment says rank 1
launcher=$(pgrep -P "$job" -x mpirun)
rank1=
for p in $(pgrep -P "$launcher"); do
    tr '\0' '\n' < "/proc/$p/environ" | grep -qx 'OMPI_COMM_WORLD_RANK=1' && rank1=$p
done
[ -n "$rank1" ] || fail "kill: rank 1's process not found"
kill -9 "$rank1"
rc=0
wait "$job" || rc=$?
job=
[ "$rc" -ne 124 ] || fail "kill: the job was still running 60 s after rank 1 was killed"
[ "$rc" -ne 0 ] || fail "kill: the job exited 0 after rank 1 was killed"
grep -q "rank 1 .* exited on signal 9" "$dir/kill.txt" || { tail -5 "$dir/kill.txt"; fail "kill: mpirun did not report rank 1's signal"; }
echo "kill: exit $rc, $(grep -m1 "exited on signal 9" "$dir/kill.txt")"
echo "mpi failures: mismatched flags, corrupt and different data on rank 1, a killed rank: each ends the job with a clear message"

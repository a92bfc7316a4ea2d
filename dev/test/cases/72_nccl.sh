# the NCCL path of train_gpt2cu (llmc/dist_nccl.cuh), where a GPU exists:
#  1. mpirun -np 1 runs it with one rank (the communicator, ncclAllReduce with ncclAvg, and
#     with -z 1 the reduce / broadcast groups and the gathered BackSlash statistics): its
#     losses and final weights against the plain one-GPU run (no NCCL): loss within 1e-5,
#     weights max |dw| <= 1e-6 (an average over one rank should be exact: the bound only
#     allows for an NCCL copy that is not);
#  2. with 2 GPUs or more: mpirun -np 2 with -b 2 against one GPU with -b 4, as the CPU
#     test 70 (loss within 1e-3, bf16 weights; rms |dw| < 1e-4).
# Skipped (77) without train_gpt2cu, a GPU, mpirun, or an MPI+NCCL build.
set -u
[ -x ./train_gpt2cu ] || { echo "train_gpt2cu not built (no nvcc): the NCCL path has not run"; exit 77; }
command -v mpirun >/dev/null 2>&1 || { echo "mpirun not found: install openmpi-bin"; exit 77; }
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
[ "${gpus:-0}" -ge 1 ] || { echo "no CUDA device: the NCCL path (dist_nccl.cuh) has not run here"; exit 77; }
ldd ./train_gpt2cu | grep -q libnccl || { echo "train_gpt2cu built without NCCL (make says why): the NCCL path has not run"; exit 77; }
set -e
dir=$(mktemp -d "$PWD/build/tmp.nccl.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 BS_NCCL_TIMEOUT=60
mpi=(mpirun --oversubscribe --bind-to none)
args=(-e d2w64h2t64 -t 32 -x 10 -l 1000 -v 5 -m 2 -g 0 -lr 1e-3 -u 2 -n 10)

# losses (column 2) of two logs within tol; weights within max_tol
compare() { # name logA logB tol
    awk -F, -v tol="$4" -v name="$1" 'NR == FNR { if (FNR > 1) loss[$1] = $2; next }
        FNR > 1 && $2 != "" { d = $2 - loss[$1]; if (d < 0) d = -d; if (d > max) max = d; if (!(d <= tol)) bad = 1 }
        END { printf "%s: max loss difference %.2e\n", name, max; exit bad }' "$2" "$3"
}

timeout 300 ./train_gpt2cu "${args[@]}" -b 4 -o "$dir/plain" > "$dir/plain.txt" || fail "the plain run failed: $(tail -3 "$dir/plain.txt")"
for z in 0 1; do
    timeout 300 "${mpi[@]}" -np 1 ./train_gpt2cu "${args[@]}" -b 4 -z $z -o "$dir/np1z$z" > "$dir/np1z$z.txt" 2>&1 ||
        fail "mpirun -np 1 -z $z failed: $(tail -5 "$dir/np1z$z.txt")"
    cat "$dir/np1z$z.txt"
    compare "np 1 -z $z vs plain" "$dir/plain/log.csv" "$dir/np1z$z/log.csv" 1e-5 || fail "np 1 -z $z: losses differ"
    read -r mx rms frac < <(dev/test/bin/test_dist --max-diff "$dir/plain/model_00000010.bin" "$dir/np1z$z/model_00000010.bin")
    echo "np 1 -z $z vs plain: max |dw| $mx, rms $rms"
    awk -v m="$mx" 'BEGIN { exit !(m <= 1e-6) }' || fail "np 1 -z $z: weights differ (max $mx)"
done

if [ "$gpus" -ge 2 ]; then
    for z in 0 1; do
        timeout 300 "${mpi[@]}" -np 2 ./train_gpt2cu "${args[@]}" -b 2 -z $z -o "$dir/np2z$z" > "$dir/np2z$z.txt" 2>&1 ||
            fail "mpirun -np 2 -z $z failed: $(tail -5 "$dir/np2z$z.txt")"
        compare "np 2 -z $z vs one GPU" "$dir/plain/log.csv" "$dir/np2z$z/log.csv" 1e-3 || fail "np 2 -z $z: losses differ"
        read -r mx rms frac < <(dev/test/bin/test_dist --max-diff "$dir/plain/model_00000010.bin" "$dir/np2z$z/model_00000010.bin")
        echo "np 2 -z $z vs one GPU: max |dw| $mx, rms $rms, fraction over 1e-5 $frac"
        awk -v r="$rms" 'BEGIN { exit !(r < 1e-4) }' || fail "np 2 -z $z: weights differ (rms $rms)"
    done
else
    echo "one GPU: the 2-rank comparison did not run"
fi
echo "nccl: the NCCL path matches the one-GPU run"

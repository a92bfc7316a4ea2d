#!/usr/bin/env bash
# Data-parallel training on the GPUs of one machine (doc/distributed.md): one MPI rank per
# GPU, NCCL between them (llmc/dist_nccl.cuh). Every flag after the options goes to
# train_gpt2cu unchanged; -b is the batch of each GPU, -d the tokens of one optimizer step
# over all of them (so the same -d gives the same training on any number of GPUs).
#
#   scripts/run_multi_gpu.sh [-n GPUS] [-z 0|1] -- TRAIN_FLAGS...
#   scripts/run_multi_gpu.sh -n 8 -z 1 -- -e d12 -b 16 -t 1024 -d 524288 -x 10000 -l 1000 -o out/gpt2_124M
#
# -n defaults to every GPU nvidia-smi lists; -z 1 shards the optimizer state and step
# (ZeRO-1). BS_NCCL_TIMEOUT (seconds, default 120) bounds the communicator's setup. The
# job ends with a non-zero exit if any rank fails (mpirun then stops the others).
set -euo pipefail
cd "$(dirname "$0")/.."
gpus=
zero=0
while [ $# -gt 0 ]; do
  case "$1" in
    -n) gpus="$2"; shift 2 ;;
    -z) zero="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1 (the trainer's flags go after --)" >&2; sed -n '2,13p' "$0" >&2; exit 2 ;;
  esac
done
command -v mpirun >/dev/null || { echo "error: mpirun not found: install openmpi-bin (and libopenmpi-dev, then make train_gpt2cu)" >&2; exit 1; }
if [ -z "$gpus" ]; then
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
  [ "${gpus:-0}" -ge 1 ] || { echo "error: no GPU found (nvidia-smi -L)" >&2; exit 1; }
fi
make train_gpt2cu
ldd ./train_gpt2cu | grep -q libnccl || { echo "error: train_gpt2cu was built without NCCL (see make's note)" >&2; exit 1; }
root=()
[ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)
# the settings that reach every rank, when set here
pass=()
for v in BS_NCCL_TIMEOUT NCCL_DEBUG; do [ -n "${!v+x}" ] && pass+=(-x "$v"); done
echo "running on $gpus GPU(s), -z $zero: train_gpt2cu $*"
# one rank per GPU on this machine; each rank picks GPU = its local rank (dist_nccl_device)
exec mpirun "${root[@]}" -np "$gpus" --bind-to none --map-by slot "${pass[@]}" \
  ./train_gpt2cu -z "$zero" "$@"

#!/usr/bin/env bash
# Data-parallel training over several machines (doc/distributed.md): mpirun starts one rank
# per GPU on every host of a host file, NCCL connects the GPUs (within a machine over NVLink
# or PCIe, between machines over InfiniBand/RoCE or TCP). Every flag after the options goes
# to the trainer unchanged.
#
#   scripts/run_multi_node.sh -f HOSTFILE [-g GPUS_PER_NODE] [-z 0|1] [-p train_gpt2cu|train_gpt2] -- TRAIN_FLAGS...
#   scripts/run_multi_node.sh -f hosts.txt -g 8 -z 1 -- -e d12 -b 16 -t 1024 -d 524288 -x 10000 -o /shared/run1
#
# HOSTFILE (OpenMPI's format), one line per machine:   node1 slots=8
# Requirements, as for any mpirun job: the same repository path with the same built
# binaries and token files on every host (the ranks check that their flags, token files
# and initial weights agree, and stop with a message naming the rank that differs);
# passwordless ssh from this host to the others; -o on a file system every host sees
# (rank 0 writes; resume (-y 1) reads the state on every rank). -p train_gpt2 runs the CPU
# trainer instead (then -g is the ranks per host, and OMP_NUM_THREADS the threads of each).
set -euo pipefail
cd "$(dirname "$0")/.."
hostfile=
per_node=
zero=0
prog=train_gpt2cu
while [ $# -gt 0 ]; do
  case "$1" in
    -f) hostfile="$2"; shift 2 ;;
    -g) per_node="$2"; shift 2 ;;
    -z) zero="$2"; shift 2 ;;
    -p) prog="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1 (the trainer's flags go after --)" >&2; sed -n '2,18p' "$0" >&2; exit 2 ;;
  esac
done
[ -n "$hostfile" ] || { echo "error: -f HOSTFILE is required" >&2; sed -n '2,18p' "$0" >&2; exit 2; }
[ -r "$hostfile" ] || { echo "error: $hostfile: cannot read the host file" >&2; exit 1; }
case "$prog" in train_gpt2cu|train_gpt2) ;; *) echo "error: -p $prog: train_gpt2cu or train_gpt2" >&2; exit 2 ;; esac
command -v mpirun >/dev/null || { echo "error: mpirun not found: install openmpi-bin" >&2; exit 1; }
hosts=$(grep -v -E '^\s*(#|$)' "$hostfile" | wc -l)
[ "$hosts" -ge 1 ] || { echo "error: $hostfile lists no hosts" >&2; exit 1; }
if [ -z "$per_node" ]; then
  if [ "$prog" = train_gpt2cu ]; then per_node=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true); else per_node=1; fi
  [ "${per_node:-0}" -ge 1 ] || { echo "error: no GPU found here; give -g GPUS_PER_NODE" >&2; exit 1; }
fi
make "$prog"
root=()
[ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)
# the settings that reach every rank, when set here
pass=()
for v in BS_NCCL_TIMEOUT NCCL_DEBUG NCCL_SOCKET_IFNAME OMP_NUM_THREADS; do [ -n "${!v+x}" ] && pass+=(-x "$v"); done
np=$((hosts * per_node))
echo "running $prog on $hosts host(s) x $per_node = $np rank(s), -z $zero: $*"
exec mpirun "${root[@]}" -np "$np" --hostfile "$hostfile" --map-by "ppr:$per_node:node" --bind-to none \
  "${pass[@]}" -wdir "$PWD" \
  "$PWD/$prog" -z "$zero" "$@"

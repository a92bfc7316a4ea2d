# the fused update against an independent PyTorch computation (autograd through
# D + lambda R, torch.optim.AdamW): coupled, decoupled and proximal; global, per-tensor and fixed nu,
# 10 steps each (dev/test/dggr_reference.py states the tolerances)
set -e
if ! /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null; then
  echo "python3-torch is not installed for /usr/bin/python3 (apt-get install python3-torch)"
  exit 77
fi
dir=$(mktemp -d build/tmp.dggr.XXXXXX)
trap 'rm -rf "$dir"' EXIT
for variant in 0 1 2; do
  for shape in 0 1 2; do
    dev/test/bin/test_dggr --trajectory "$dir/traj.bin" $variant $shape
    /usr/bin/python3 dev/test/dggr_reference.py "$dir/traj.bin"
  done
done

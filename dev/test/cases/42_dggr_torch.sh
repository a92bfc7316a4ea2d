# the fused update against an independent PyTorch computation (autograd through
# D + lambda R, torch.optim.AdamW): coupled, decoupled and proximal; global, per-tensor and fixed nu,
# 10 steps each (dev/test/dggr_reference.py states the tolerances), with and without AVX-512
set -e
if ! /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null; then
  echo "python3-torch is not installed for /usr/bin/python3 (apt-get install python3-torch)"
  exit 77
fi
dir=$(mktemp -d build/tmp.dggr.XXXXXX)
trap 'rm -rf "$dir"' EXIT
# test_dggr_scalar: the same pass built without its AVX-512 loops (llmc/fastpow.h)
for bin in test_dggr test_dggr_scalar; do
  echo "== $bin"
  files=()
  for variant in 0 1 2; do
    for shape in 0 1 2; do
      dev/test/bin/$bin --trajectory "$dir/traj_${variant}_$shape.bin" $variant $shape
      files+=("$dir/traj_${variant}_$shape.bin")
    done
  done
  /usr/bin/python3 dev/test/dggr_reference.py "${files[@]}"
done

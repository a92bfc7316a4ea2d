# the CPU model (fast and reference kernels) against a float64 PyTorch GPT-2: logits, loss,
# every gradient, 10 AdamW steps (tolerances in test_gpt2.c)
set -e
if ! /usr/bin/python3 -c "import torch, numpy" 2>/dev/null; then
  echo "PyTorch is not installed for /usr/bin/python3 (Debian: python3-torch)"; exit 77
fi
dir=$(mktemp -d build/tmp.gpt2ref.XXXXXX)
trap 'rm -rf "$dir"' EXIT
/usr/bin/python3 dev/test/gpt2_reference.py "$dir"
./test_gpt2 "$dir"

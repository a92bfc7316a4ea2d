# The CUDA programs were built (make test builds them when nvcc exists): each is an
# executable with sm_90 machine code and compute_90 PTX, and the trainer parses the
# shared flags without a GPU (-h prints the usage; a bad flag is an error).
set -eu
NVCC=$(command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)
if [ -z "$NVCC" ]; then
  echo "nvcc not found: the CUDA programs were not built"
  exit 77
fi
for p in train_gpt2cu test_gpt2cu test_gpt2fp32cu; do
  [ -x "$p" ] || { echo "FAIL: $p was not built although nvcc exists ($NVCC)"; exit 1; }
  code=$(/usr/bin/python3 dev/test/fatbin_archs.py "$p")
  echo "$code" | grep -qx 'elf sm_90' || { echo "FAIL: $p has no sm_90 machine code ($code)"; exit 1; }
  echo "$code" | grep -qx 'ptx compute_90' || { echo "FAIL: $p has no compute_90 PTX ($code)"; exit 1; }
  echo "$p:" $code
done
./train_gpt2cu -h | grep -q -- '-lr' || { echo "FAIL: ./train_gpt2cu -h prints no usage"; exit 1; }
err=$(mktemp build/tmp.cuda.XXXXXX)
trap 'rm -f "$err"' EXIT
if ./train_gpt2cu -bogus 1 >/dev/null 2>"$err"; then echo "FAIL: a bad flag was accepted"; exit 1; fi
grep -q 'unknown flag -bogus' "$err" || { echo "FAIL: no message naming the bad flag"; cat "$err"; exit 1; }
if ./train_gpt2cu -ref 1 >/dev/null 2>"$err"; then echo "FAIL: -ref 1 (a CPU mode) was accepted"; exit 1; fi
grep -q 'flag -ref' "$err" || { echo "FAIL: no message naming -ref"; cat "$err"; exit 1; }
echo "train_gpt2cu: usage and flag errors work without a GPU"

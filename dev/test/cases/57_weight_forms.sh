# the in-memory weight forms of ./generate (llmc/weight_form.h): every form and value type
# against a double-precision dense reference (row decode exact; reference C, AVX-512 and
# prefill products within float rounding) on random matrices and on every weight matrix of
# a trained model, coded (.bsz: exact levels) and fp32 (.bin: float values); the same
# without the AVX-512 kernels (-DWF_NO_AVX512: the reference path); bad input refused
set -eo pipefail
dir=$(mktemp -d build/tmp.wforms.XXXXXX)
trap 'rm -rf "$dir"' EXIT
./train_gpt2 -e d2w64h2t64 -b 2 -t 32 -m 2 -g 0 -x 6 -n 6 -v 6 -l 1000 -o "$dir/out" > "$dir/train.txt" 2>&1 || { cat "$dir/train.txt"; exit 1; }
dev/test/bin/test_weight_form "$dir/out/model_00000006.bsz" | tail -n 8
dev/test/bin/test_weight_form "$dir/out/model_00000006.bin" | tail -n 3
dev/test/bin/test_weight_form_ref | tail -n 3

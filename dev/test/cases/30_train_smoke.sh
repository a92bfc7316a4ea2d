# train_gpt2: a tiny model trains on the corpus for a few steps and writes its files
set -e
dir=$(mktemp -d build/tmp.train.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# 2 layers, 64 wide, 2 heads, maxT 64: 3.4 M parameters (mostly the embedding)
./train_gpt2 -e d2w64h2t64 -b 4 -t 32 -x 8 -v 4 -m 4 -n 4 -g 8 -lr 1e-3 -u 2 -o "$dir" | tee "$dir/out.txt"
grep -q "final val loss" "$dir/out.txt" || fail "no final val loss"
grep -q "^generated:" "$dir/out.txt" || fail "no sample"
# the log: header and one row per step, plus the final evaluation's row
head -1 "$dir/log.csv" | grep -q "^step,loss,val_loss,lr,grad_norm,tokens_per_s,ms_per_step" || fail "log header: $(head -1 "$dir/log.csv")"
[ "$(wc -l < "$dir/log.csv")" -eq 10 ] || fail "log has $(wc -l < "$dir/log.csv") lines, expected 10"
# the loss starts near ln(50257) = 10.82 and falls
awk -F, 'NR==2 { if ($2 < 10.5 || $2 > 11.2) { print "first loss " $2; exit 1 } first = $2 }
         NR==9 { if (!($2 < first - 0.15)) { print "loss did not fall: " first " -> " $2; exit 1 } }' "$dir/log.csv" || fail "loss curve"
# checkpoints at steps 4 and 8: llm.c fp32 files of 1024 + 4 * num_params bytes
params=$(sed -n 's/^model: .*, \([0-9]*\) parameters.*/\1/p' "$dir/out.txt")
[[ "$params" =~ ^[0-9]+$ ]] || fail "no parameter count in the model line"
[ "$params" -eq 3323648 ] || fail "d2w64h2t64 has $params parameters, expected 3323648 (50304*64 + 64*64 + 2 layers)"
for s in 00000004 00000008; do
  [ "$(stat -c %s "$dir/model_$s.bin")" -eq $((1024 + 4 * params)) ] || fail "model_$s.bin has the wrong size"
  [ -s "$dir/state_$s.bin" ] || fail "no state_$s.bin"
done
ls "$dir" | grep -q tmp && fail "a temporary file was left behind"
echo "train smoke: ok"

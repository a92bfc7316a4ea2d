# The run's configuration: run.json (every flag, the model, the data files' CRCs, the
# version) and the same text in every state; -y 1 refuses a flag that changes training,
# naming it and both values, and accepts those that do not; after a resume the progress
# line shows the last val loss; -nm writes states by the clock (the default: 5 minutes)
set -e
fail() { echo "FAIL: $*"; exit 1; }
dir=$(mktemp -d build/tmp.runcfg.XXXXXX)
trap 'rm -rf "$dir"' EXIT
base=(-e d2w64h2t64 -b 2 -t 16 -m 1 -g 0 -v 3 -o "$dir/run")
./train_gpt2 "${base[@]}" -x 4 -n 2 -l 10 > "$dir/first.out"
python3 - "$dir/run" <<'PY' || fail "run.json / the state's run_config"
import json, struct, sys, zlib
d = sys.argv[1]
raw = open(d + '/run.json', 'rb').read()
c = json.loads(raw)
for k in ['program', 'version', 'model', 'train_tokens', 'val_tokens', 'world', '-lr', '-l', '-lv', '-ls', '-le', '-lc', '-ld', '-k', '-e', '-x']:
    assert k in c, 'run.json has no ' + k
assert c['program'] == 'train_gpt2' and c['-e'] == 'd2w64h2t64' and c['-l'] == 10 and c['-lr'] == 0.0006, c
for key, f in [('train_tokens', 'data/corpus_train.bin'), ('val_tokens', 'data/corpus_val.bin')]:
    b = open(f, 'rb').read()
    want = 'crc32 0x%08x, %d bytes' % (zlib.crc32(b), len(b))
    assert c[key] == want, (c[key], want)
assert '3323648 parameters' in c['model'], c['model']
# the state's sections: the same text
s = open(d + '/state_00000004.bin', 'rb').read()
n = struct.unpack('<I', s[8:12])[0]
pos, found = 16, None
for _ in range(n):
    tag = s[pos:pos + 16].rstrip(b'\0').decode(); size = struct.unpack('<Q', s[pos + 16:pos + 24])[0]; pos += 32
    if tag == 'run_config': found = s[pos:pos + size]
    pos += size
assert found == raw, 'the state has no run_config section equal to run.json'
PY
echo "run.json: flags, model, data CRCs, version; the same in the state"

rm "$dir/run/state_00000004.bin" "$dir/run/model_00000004.bin" "$dir/run/model_00000004.bsz"
sum_before=$(cat "$dir"/run/* | cksum)
refuse() { # what-the-message-names flags...
  local want=$1; shift
  if ./train_gpt2 "${base[@]}" -x 4 -n 2 -l 10 -y 1 "$@" > /dev/null 2> "$dir/err"; then fail "-y 1 $* resumed"; fi
  grep -qF -- "$want" "$dir/err" || fail "-y 1 $*: the message does not say '$want': $(cat "$dir/err")"
}
refuse "-lr 0.0006 (this run: 0.001)" -lr 1e-3
refuse "-l 10 (this run: 1000)" -l 1000
refuse "-lv coupled (this run: decoupled)" -lv decoupled
refuse "-ls global (this run: tensor)" -ls tensor
refuse "-le 1 (this run: 0.5)" -le 0.5
refuse "-lc matrices (this run: all)" -lc all
refuse "-ld 0.001 (this run: 0.002)" -ld 0.002
refuse "-k 0 (this run: 1)" -k linear
refuse "-u 10 (this run: 5)" -u 5
refuse "-e d2w64h2t64 (this run: d2w64h2t32)" -e d2w64h2t32
cp data/corpus_val.bin "$dir/other.bin"
refuse "train_tokens the -i file crc32" -i "$dir/other.bin"
refuse "-lr 0.0006 (this run: 0.001); -l 10 (this run: 0)" -lr 1e-3 -l 0
[ "$(cat "$dir"/run/* | cksum)" = "$sum_before" ] || fail "a refused resume changed the directory"
echo "refused: each flag named with both values"
# accepted: -x (longer), -v, -pe, -s, -g, -n, -m; the data under another path with the same bytes
cp data/corpus_train.bin "$dir/train_copy.bin"
./train_gpt2 "${base[@]}" -x 6 -n 3 -l 10 -y 1 -v 4 -pe 1 -s 5 -g 4 -m 2 -i "$dir/train_copy.bin" > "$dir/resumed.out" 2>&1 ||
  { cat "$dir/resumed.out"; fail "resume with free flags changed refused"; }
grep -q "resuming from .*state_00000002.bin (step 2)" "$dir/resumed.out" || fail "did not resume from step 2"
# the first progress line after the resume: the val loss of step 0 (the last before the state)
v0=$(sed -n 's/^step 0: val loss //p' "$dir/first.out")
line=$(grep -m1 "^step *3/6" "$dir/resumed.out")
echo "$line" | grep -q "| val $v0 |" || fail "after the resume the progress line shows '$line', expected val $v0"
echo "accepted: -x -v -pe -s -g -n -m, data moved; the progress line shows the last val loss"
# -nm: states by the clock (every step here), without -n (-nk 0: all of them kept)
./train_gpt2 -e d2w64h2t64 -b 2 -t 16 -m 1 -g 0 -x 3 -nm 0.00001 -nk 0 -o "$dir/timed" > /dev/null
for s in 1 2 3; do [ -e "$dir/timed/state_0000000$s.bin" ] || fail "-nm 0.00001: no state at step $s"; done
./train_gpt2 -e d2w64h2t64 -b 2 -t 16 -m 1 -g 0 -x 3 -o "$dir/default" > /dev/null
[ "$(ls "$dir/default" | grep -c '^state_')" -eq 1 ] || fail "a 3-step run wrote a state before the end by default"
./train_gpt2 -h | grep -q -- "-nm .*(default 5)" || fail "-nm's default is not 5 minutes"
echo "resume configuration: ok"

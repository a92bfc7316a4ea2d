# The documentation says what the programs do: defaults and banner in doc/backslash.md,
# doc/train_cpu.md's flag table lists every flag, the help texts name every output, the
# README's layout paths exist, log.csv has lambda R, bsz info --json --total gives the total only
set -e
fail() { echo "FAIL: $*"; exit 1; }
dir=$(mktemp -d build/tmp.docs.XXXXXX)
trap 'rm -rf "$dir"' EXIT
./train_gpt2 -h > "$dir/help"
default_of() { sed -n "s/^  $1 .*(default \([^)]*\))\$/\1/p" "$dir/help"; }
# doc/backslash.md's flag table: the defaults of -l -le -lv -ls -lc -lk -ld
for f in -l -le -lv -ls -lc -lk -ld; do
  doc=$(sed -n "s/^| \`$f\` | \([^|]*\) |.*/\1/p" doc/backslash.md | sed 's/ *$//')
  [ "$doc" = "$(default_of "$f")" ] || fail "doc/backslash.md says $f defaults to '$doc', the program to '$(default_of "$f")'"
done
# its example banner is what the trainer prints
./train_gpt2 -e d2w64h2t64 -b 1 -t 8 -x 1 -m 1 -g 0 -v 0 -l 1000 -o "$dir/run" > "$dir/out"
banner=$(grep "^BackSlash ON" "$dir/out")
grep -qxF "    $banner" doc/backslash.md || fail "doc/backslash.md's banner is not the program's: $banner"
# doc/train_cpu.md's flag table names every flag
for f in $(sed -n 's/^  \(-[a-z0-9]*\) .*/\1/p' "$dir/help" | grep -vx -- -h); do
  grep -qE "^\| [^|]*\`$f\`" doc/train_cpu.md || fail "doc/train_cpu.md's flag table lacks $f"
done
grep -- "^  -lv " "$dir/help" | grep -q proximal || fail "-lv's help omits proximal"
grep -- "^  -e " "$dir/help" | grep -q "\.bsz" || fail "-e's help omits .bsz"
grep -- "^  -o " "$dir/help" | grep -q "model_\*\.bsz" || fail "-o's help omits the .bsz files"
grep -- "^  -o " "$dir/help" | grep -q "run.json" || fail "-o's help omits run.json"
echo "flag docs: ok"
# README's layout table: every path exists
# (the first column's paths, and every directory named in the table)
layout=$(sed -n '/^## Layout/,/^## /p' README.md | grep '^| `')
{ echo "$layout" | cut -d'|' -f2 | grep -o '`[^`]*`'; echo "$layout" | grep -o '`[^` ]*/`'; } | tr -d '`' | while read -r p; do
  [ -e "$p" ] || { echo "README.md's layout names $p, which does not exist"; exit 1; }
done || fail "README layout"
# log.csv: lambda_rate = lambda * rate (README: the log shows lambda R)
python3 - "$dir/run/log.csv" <<'PY' || fail "log.csv's lambda_rate"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert 'lambda_rate' in rows[0], 'no lambda_rate column: %s' % list(rows[0])
r = rows[0]
assert abs(float(r['lambda_rate']) - 1000 * float(r['rate'])) <= 1e-6 * 1000 * float(r['rate']), r
PY
# bsz info --json --total: the total, without the per-tensor list
./bsz info --json --total "$dir/run/model_00000001.bsz" > "$dir/total.json"
./bsz info --json "$dir/run/model_00000001.bsz" > "$dir/all.json"
python3 - "$dir/total.json" "$dir/all.json" <<'PY' || fail "bsz info --json --total"
import json, sys
t, a = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert 'tensors' not in t, '--total still lists the tensors'
assert len(a['tensors']) > 0 and t['total'] == a['total'], 'the totals differ'
PY
echo "docs match the programs: ok"

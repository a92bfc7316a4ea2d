# data-parallel CPU training under mpirun (llmc/dist.h, doc/distributed.md), after
# test_dist's single-process checks:
#  1. mpirun -np 2 with -b 2 matches one process with -b 4 (the same global batch, the same
#     rows), BackSlash on (-l 1000): per-step loss within 1e-4, gradient norm within 1e-4
#     relative, final weights with rms difference < 1e-5 and fewer than 0.1% of them more
#     than 1e-5 apart (see the tolerance note below); with -d, 2 ranks x 2 accumulated
#     batches of 1 row match one batch of 4;
#  2. -z 1 (the optimizer step sharded over the ranks, BackSlash's statistics gathered)
#     gives bit for bit the state of -z 0; mpirun -np 1 -z 1 that of the plain process;
#  3. only rank 0 writes: rank 1 runs in another directory with the same relative -o, and
#     nothing appears there;
#  4. resume under np 2 continues the same curve bit for bit; resuming with np 1 is refused.
# Tolerance: the ranks' gradient sum adds the same terms in another order than one
# process's backward over 4 rows, so the gradients differ by float rounding (~1e-7
# relative). Adam turns that into differences of order lr only where a gradient is near
# zero and its sign flips (measured here: max 6.7e-4, rms 8.3e-7, 0.0007% of the weights
# over 1e-5 after 10 steps at lr 1e-3; the weights themselves moved by rms 2e-3 in steps
# 5..10). The bounds leave 10x (rms) and 100x (fraction) of margin.
set -e
# first the parts that need no MPI (dev/test/test_dist.c: loader shards, the sharded
# AdamW+DGGR step against dggr_step bit for bit, the flag text), which run everywhere
dev/test/bin/test_dist
command -v mpirun >/dev/null 2>&1 || { echo "mpirun not found: install openmpi-bin"; exit 77; }
dir=$(mktemp -d "$PWD/build/tmp.mpi.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
mpi=(mpirun --oversubscribe --bind-to none)
root=$PWD
args=(-i "$root/data/corpus_train.bin" -j "$root/data/corpus_val.bin" -e d2w64h2t64 -t 32 -x 10 -l 1000 -v 5 -m 2 -g 0
      -lr 1e-3 -u 2 -n 5)

timeout 120 ./train_gpt2 "${args[@]}" -b 4 -o "$dir/one" > "$dir/one.txt"
timeout 120 "${mpi[@]}" -np 2 ./train_gpt2 "${args[@]}" -b 2 -o "$dir/two" > "$dir/two.txt" ||
    fail "mpirun -np 2 failed (is train_gpt2 built with MPI? make says so): $(tail -3 "$dir/two.txt")"
grep -q "data-parallel: 2 ranks" "$dir/two.txt" || fail "the np 2 run does not say it is data-parallel"
[ "$(grep -c "^step 10: val loss" "$dir/two.txt")" -eq 1 ] || fail "the np 2 run's output is not rank 0's alone"

# 1. the logs: step, loss, val_loss, lr, grad_norm
awk -F, -v tol=1e-4 'NR == FNR { if (FNR > 1) { loss[$1] = $2; val[$1] = $3; norm[$1] = $5 } next }
    FNR > 1 {
      n++
      if ($2 != "" && (($2 - loss[$1]) > tol || (loss[$1] - $2) > tol)) { print "step " $1 ": loss " $2 " vs " loss[$1]; bad = 1 }
      if ($3 != "" && (($3 - val[$1]) > tol || (val[$1] - $3) > tol)) { print "step " $1 ": val loss " $3 " vs " val[$1]; bad = 1 }
      if ($5 != "" && (($5 - norm[$1]) > tol * norm[$1] || (norm[$1] - $5) > tol * norm[$1])) { print "step " $1 ": norm " $5 " vs " norm[$1]; bad = 1 }
    }
    END { if (n != 11) { print "rows: " n; bad = 1 } exit bad }' "$dir/one/log.csv" "$dir/two/log.csv" ||
    fail "np 2 and np 1 logs differ beyond the tolerance"
# the weights
read -r mx rms frac < <(dev/test/bin/test_dist --max-diff "$dir/one/model_00000010.bin" "$dir/two/model_00000010.bin")
echo "np 1 vs np 2 after 10 steps: max |dw| $mx, rms $rms, fraction over 1e-5 $frac"
awk -v r="$rms" -v f="$frac" 'BEGIN { exit !(r < 1e-5 && f < 1e-3) }' || fail "final weights differ too much (rms $rms, fraction $frac)"

# ... and with gradient accumulation: 2 ranks x B=1 x 2 micro-batches (-d 128) cover the
# same 4 rows per step; the losses agree as above (a wrong 1/(accum x ranks) would not:
# -gc 0 and a coupled rate term make the step see the gradient's scale)
acc=(-i "$root/data/corpus_train.bin" -j "$root/data/corpus_val.bin" -e d2w64h2t64 -t 32 -x 4 -v 0 -m 1 -g 0 -rb 0
     -l 100000 -lv coupled -gc 0)
timeout 120 ./train_gpt2 "${acc[@]}" -b 4 -o "$dir/acc1" > "$dir/acc1.txt"
timeout 120 "${mpi[@]}" -np 2 ./train_gpt2 "${acc[@]}" -b 1 -d 128 -o "$dir/acc2" > "$dir/acc2.txt" || fail "np 2 with -d failed"
grep -q "128 tokens/step, 2 batches" "$dir/acc2.txt" || fail "np 2 -b 1 -d 128 does not accumulate 2 batches"
awk -F, -v tol=1e-4 'NR == FNR { if (FNR > 1) loss[$1] = $2; next }
    FNR > 1 && $2 != "" { n++; d = $2 - loss[$1]; if (d < 0) d = -d; printf "accumulated step %d: loss %s vs %s\n", $1, $2, loss[$1]; if (!(d <= tol)) bad = 1 }
    END { exit bad || n != 4 }' "$dir/acc1/log.csv" "$dir/acc2/log.csv" || fail "np 2 x 2 accumulated batches differ from one batch of 4"

# 2. -z 1: the same run bit for bit
timeout 120 "${mpi[@]}" -np 2 ./train_gpt2 "${args[@]}" -b 2 -z 1 -o "$dir/zero" > "$dir/zero.txt" || fail "-z 1 failed"
grep -q "sharded over the ranks (-z 1)" "$dir/zero.txt" || fail "-z 1 does not say it shards"
python3 dev/test/state_cmp.py "$dir/two/state_00000010.bin" "$dir/zero/state_00000010.bin" || fail "-z 1 and -z 0 states differ"
cmp "$dir/two/model_00000010.bsz" "$dir/zero/model_00000010.bsz" || fail "-z 1 and -z 0 coded models differ"

# ... and under mpirun -np 1 the sharded path (MPI gathers over one rank) is the plain run bit for bit
timeout 120 "${mpi[@]}" -np 1 ./train_gpt2 "${args[@]}" -b 4 -z 1 -o "$dir/one_z" > "$dir/one_z.txt" || fail "np 1 -z 1 failed"
python3 dev/test/state_cmp.py "$dir/one/state_00000010.bin" "$dir/one_z/state_00000010.bin" || fail "mpirun -np 1 -z 1 differs from one process"

# 3. rank 1 in another working directory, the same relative -o: it writes nothing
mkdir -p "$dir/r0" "$dir/r1"
short=(-i "$root/data/corpus_train.bin" -j "$root/data/corpus_val.bin" -e d2w64h2t64 -t 32 -x 2 -b 2 -g 0 -m 2 -o out)
timeout 120 "${mpi[@]}" -np 1 --wdir "$dir/r0" "$root/train_gpt2" "${short[@]}" : \
    -np 1 --wdir "$dir/r1" "$root/train_gpt2" "${short[@]}" > "$dir/wdir.txt" || fail "the two-directory run failed"
[ -f "$dir/r0/out/state_00000002.bin" ] && [ -f "$dir/r0/out/log.csv" ] || fail "rank 0 wrote no checkpoint"
[ -z "$(ls -A "$dir/r1")" ] || fail "rank 1 wrote files: $(ls -R "$dir/r1")"

# 4. resume at np 2 from step 5: the same curve and final state, bit for bit
cp -r "$dir/two" "$dir/res"
rm "$dir/res/state_00000010.bin" "$dir/res/model_00000010.bin" "$dir/res/model_00000010.bsz"
timeout 120 "${mpi[@]}" -np 2 ./train_gpt2 "${args[@]}" -b 2 -o "$dir/res" -y 1 > "$dir/res.txt" || fail "resume at np 2 failed"
grep -q "resuming from $dir/res/state_00000005.bin (step 5)" "$dir/res.txt" || fail "did not resume from step 5"
cut -d, -f1-5,8-9 "$dir/two/log.csv" > "$dir/a"
cut -d, -f1-5,8-9 "$dir/res/log.csv" > "$dir/b"
cmp "$dir/a" "$dir/b" || { diff "$dir/a" "$dir/b" || true; fail "the resumed log differs"; }
python3 dev/test/state_cmp.py "$dir/two/state_00000010.bin" "$dir/res/state_00000010.bin" || fail "the resumed final state differs"
# the same state at np 1 is refused, with the reason
rm "$dir/res/state_00000010.bin"
if timeout 60 ./train_gpt2 "${args[@]}" -b 2 -o "$dir/res" -y 1 > "$dir/np1.txt" 2>&1; then fail "np 1 resumed a np 2 state"; fi
grep -q "saved by a run of 2 rank(s); resume it with mpirun -np 2" "$dir/np1.txt" || fail "no clear message: $(tail -2 "$dir/np1.txt")"
echo "mpi: np 2 matches np 1 within tolerance; -z 1 identical to -z 0; rank 0 alone writes; resume at np 2 exact"

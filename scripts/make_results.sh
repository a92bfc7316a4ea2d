#!/usr/bin/env bash
# Rebuilds doc/results.md and its plots (doc/results/*.png) from the small files in
# doc/results/: the training logs (<run>.log.csv), `./bsz info --json` of each final model
# (<run>.bsz.json), prune.csv, quant.csv, the spam logs, and the hand-written
# discussion.md. With SWEEP (and SPAM) directories that hold the models, it first
# refreshes the .bsz.json files from the final model_*.bsz there.
#
# Usage: scripts/make_results.sh [SWEEP=out/sweep] [SPAM=out/spam]
# The experiments themselves: scripts/run_sweep.sh, prune_sweep.sh, quant_sweep.sh, spam.sh
# (doc/results.md, "Regenerating").
set -euo pipefail
cd "$(dirname "$0")/.."
SWEEP=${1:-out/sweep}; SPAM=${2:-out/spam}
R=${RESULTS_DIR:-doc/results}; MD=${RESULTS_MD:-doc/results.md}   # (other places: for testing)
command -v gnuplot >/dev/null || { echo "gnuplot is not installed (apt-get install gnuplot-nox)" >&2; exit 1; }
if [ -d "$SWEEP" ] || [ -d "$SPAM" ]; then
  make -s bsz
  for f in "$R"/*.log.csv; do
    name=$(basename "$f" .log.csv)
    case $name in spam_*) dir="$SPAM/${name#spam_}" ;; *) dir="$SWEEP/$name" ;; esac
    model=$(ls "$dir"/model_*.bsz 2>/dev/null | sort | tail -n 1 || true)
    [ -n "$model" ] && ./bsz info --json "$model" > "$R/$name.bsz.json"
  done
fi
python3 scripts/results_tables.py "$R" "$MD"

# the training curves of the lambda sweep (scripts/plot_backslash.sh labels a log by its directory)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/results.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
logs=()
for run in lambda0 lambda300 lambda1000 lambda3000 lambda10000; do
  [ -f "$R/$run.log.csv" ] || continue
  mkdir -p "$tmp/$run"; cp "$R/$run.log.csv" "$tmp/$run/log.csv"; logs+=("$tmp/$run/log.csv")
done
[ ${#logs[@]} -gt 0 ] && scripts/plot_backslash.sh "$R" "${logs[@]}"

STYLE='set terminal pngcairo size 900,560 font ",11" noenhanced; set grid; set key top right'
if [ -f "$R/rd_backslash.dat" ]; then
  post=""; [ -f "$R/rd_posttraining.dat" ] && post="\"$R/rd_posttraining.dat\" using 1:2 with linespoints lw 2 pt 6 title \"lambda 0, quantized after training (Delta 1e-3 .. 5e-2)\","
  abl=""; [ -s "$R/rd_ablation.dat" ] && abl=", \"$R/rd_ablation.dat\" using 1:2 with points pt 5 ps 1.2 title \"ablation, lambda 3000\", \"$R/rd_ablation.dat\" using 1:2:3 with labels offset 0,-1 notitle"
  # each BackSlash model's own quantization curve (quant_<run>.csv) as a dashed line
  curves=""
  for f in "$R"/quant_*.csv; do
    run=$(basename "$f" .csv); run=${run#quant_}
    [ "$run" = lambda0 ] && continue
    awk -F, 'NR > 1 { print $6, $3 }' "$f" > "$tmp/rd_$run.dat"
    curves="$curves, \"$tmp/rd_$run.dat\" using 1:2 with linespoints dt 2 pt 1 title \"$run quantized at Delta 1e-3 .. 5e-2\""
  done
  gnuplot <<GP
$STYLE
set output "$R/rd.png"
set title "val loss against coded size (EG, per-tensor best order)"
set xlabel "EG bits per parameter"
set ylabel "val loss (nats/token)"
plot $post "$R/rd_backslash.dat" using 1:2 with points pt 7 ps 1.5 title "BackSlash at Delta 1e-3 (label: lambda)", \
     "$R/rd_backslash.dat" using 1:2:3 with labels offset 1.2,0.8 notitle $abl $curves
GP
fi
if [ -s "$R/rd_small_sweep.dat" ] && [ "$(grep -vc '^#' "$R/rd_small_sweep.dat")" -gt 0 ]; then
  gnuplot <<GP
$STYLE
set output "$R/rd_small.png"
set title "ablation on the small model: val loss against coded size (Delta 1e-3)"
set xlabel "EG bits per parameter"
set ylabel "val loss (nats/token)"
plot "$R/rd_small_sweep.dat" using 1:2 with linespoints pt 7 ps 1.5 lw 2 title "DGGR (global nu, decoupled), label: lambda", \
     "$R/rd_small_sweep.dat" using 1:2:3 with labels offset 1.2,0.8 notitle, \
     "$R/rd_small_variants.dat" using 1:2 with points pt 5 ps 1.3 title "variants at lambda 300", \
     "$R/rd_small_variants.dat" using 1:2:3 with labels offset 0,-1 notitle
GP
fi
# the per-run pruning and quantization rows, one file each for gnuplot
cat_runs() { # prefix
  local first=1
  for f in "$R/$1"_*.csv; do
    [ -f "$f" ] || continue
    if [ $first = 1 ]; then cat "$f"; first=0; else tail -n +2 "$f"; fi
  done
}
cat_runs prune > "$tmp/prune.csv"; cat_runs quant > "$tmp/quant.csv"
if [ -s "$tmp/prune.csv" ]; then
  gnuplot <<GP
$STYLE
set datafile separator ","
set output "$R/prune.png"
set title "magnitude pruning of the constrained weights (not re-trained)"
set xlabel "fraction of the weight matrices and embeddings set to zero"
set ylabel "val loss (nats/token)"
set key top left
models = system("tail -n +2 $tmp/prune.csv | cut -d, -f1 | uniq | tr '\\n' ' '")
plot for [m in models] "< grep '^".m.",' $tmp/prune.csv" using 3:6 with linespoints lw 2 title m
GP
fi
if [ -s "$tmp/quant.csv" ]; then
  gnuplot <<GP
$STYLE
set datafile separator ","
set output "$R/quant.png"
set title "uniform quantization of every parameter (coded, decoded)"
set xlabel "Delta"
set logscale x
set ylabel "val loss (nats/token)"
set key top left
models = system("tail -n +2 $tmp/quant.csv | cut -d, -f1 | uniq | tr '\\n' ' '")
plot for [m in models] "< grep '^".m.",' $tmp/quant.csv" using 2:3 with linespoints lw 2 title m
GP
fi
# the study (issue 13): rate-distortion of every method on one coder, zeros by parameter group
S="$R/study"
if [ -s "$S/rd_control.dat" ]; then
  plots=""
  for kind in coupled decoupled proximal eps shape; do
    [ "$(grep -vc '^#' "$S/rd_$kind.dat" 2>/dev/null || echo 0)" -gt 0 ] || continue
    plots="$plots, \"$S/rd_$kind.dat\" using 1:2 with linespoints pt 7 ps 1.3 title \"BackSlash $kind\", \"$S/rd_$kind.dat\" using 1:2:3 with labels offset 0,-0.8 font \",8\" notitle"
  done
  if [ "$(grep -vc '^#' "$S/rd_requant.dat" 2>/dev/null || echo 0)" -gt 0 ]; then
    plots="$plots, for [i=0:*] \"$S/rd_requant.dat\" index i using 1:2 with linespoints dt 2 pt 2 lc rgb \"gray40\" title (i == 0 ? \"BackSlash models quantized after training (Delta 1e-3 .. 5e-2)\" : \"\")"
  fi
  prune=""
  [ "$(grep -vc '^#' "$S/rd_prune.dat")" -gt 0 ] && prune=", \"$S/rd_prune.dat\" using 1:2 with linespoints lw 2 pt 4 title \"control: magnitude pruning + quantization at 1e-3\""
  gnuplot <<GP
$STYLE
set output "$S/rd.png"
set title "whole val file: val loss against coded size (one value map, EG best k; losses above 5.3 off the plot)"
set xlabel "EG bits per parameter"
set ylabel "val loss (nats/token)"
set yrange [4.5:5.3]
set key top right font ",9"
plot "$S/rd_control.dat" using 1:2 with linespoints lw 2 pt 6 title "control quantized after training (Delta 1e-3 .. 5e-2)" $prune $plots
GP
fi
if [ -s "$S/zeros.dat" ]; then
  ncol=$(head -n 1 "$S/zeros.dat" | awk '{print NF}')
  gnuplot <<GP
$STYLE
set output "$S/zeros.png"
set title "zeros at Delta 1e-3 by parameter group"
set ylabel "share of the group's parameters at zero (%)"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -35 font ",9"
set key top left font ",9"
set yrange [0:100]
plot for [c=2:$ncol] "$S/zeros.dat" using c:xtic(1) title columnhead
GP
fi
echo "wrote $MD and $R/*.png"

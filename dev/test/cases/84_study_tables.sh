# scripts/study_tables.py (the study section of doc/results.md) on made-up inputs: the
# paired difference and its standard error, the unpaired standard error, the matched-rate
# interpolation on the control's quantization curve, the group table and the plot data
# are the numbers worked out by hand below; scripts/paired_se.py agrees on the same files
set -eo pipefail
dir=$(mktemp -d build/tmp.study.XXXXXX)
trap 'rm -rf "$dir"' EXIT
S="$dir/study"; mkdir -p "$S"
printf '5.0\n5.2\n5.1\n5.3\n' > "$S/control_q0.001.pb.txt"
printf '5.01\n5.23\n5.12\n5.32\n' > "$S/coupled_l300_q0.001.pb.txt"      # control + .01 .03 .02 .02
printf '5.0\n5.2\n5.1\n5.3\n' > "$S/control_q0.002.pb.txt"
printf '5.2\n5.4\n5.3\n5.5\n' > "$S/control_q0.01.pb.txt"
printf '5.1\n5.3\n5.2\n5.4\n' > "$S/coupled_l300_q0.01.pb.txt"
{ echo "tag,model,prune_frac,delta,zero_frac,val_loss,batches,B,T"
  echo "control_q0.001,m,0,0.001,0.01,5.150000,4,8,128"
  echo "coupled_l300_q0.001,m,0,0.001,0.5,5.170000,4,8,128"
  echo "control_q0.002,m,0,0.002,0.02,5.150000,4,8,128"
  echo "control_q0.01,m,0,0.01,0.1,5.350000,4,8,128"
  echo "coupled_l300_q0.01,m,0,0.01,0.6,5.250000,4,8,128"; } > "$S/eval.csv"
{ echo "tag,delta,group,params,share,rows,zero_frac,entropy_bits,eg_bits,eg_k"
  for t in control_q0.001:7.0:0.01 coupled_l300_q0.001:4.0:0.5 control_q0.002:6.0:0.02 control_q0.01:3.0:0.1 coupled_l300_q0.01:2.0:0.6; do
    IFS=: read -r tag eg z <<< "$t"
    echo "$tag,0.001,matrices,600,0.6,0,$z,5.0,$eg,2"
    echo "$tag,0.001,all,1000,1.0,0,$z,5.5,$eg,2"
  done; } > "$S/groups.csv"
# the runs and their settings come from their command lines
echo "./train_gpt2 -e b -x 150 -l 0 -o out/study/control" > "$S/control.command.txt"
echo "./train_gpt2 -e b -x 150 -l 300 -lv coupled -o out/study/coupled_l300" > "$S/coupled_l300.command.txt"
echo "reference losses of v (242278 targets, counts from t, V 8192): unigram 6.3668 bigram 4.8776 nats/token" > "$S/refs.txt"
python3 scripts/study_tables.py "$S" "$dir/out.md"
cat "$dir/out.md"
# control 5.15 +- sd(5.0,5.2,5.1,5.3)/2 = 0.129099/2 = 0.0645; the difference +0.0200 +- 0.0041
grep -q "| 5.1500 +- 0.0645 |" "$dir/out.md"
grep -q "| coupled_l300 | coupled | 300 | 1 | global | 5.1700 +- 0.0672 | +0.0200 +- 0.0041 | 50.0% | 50.0% | 4.000 |" "$dir/out.md"
# matched rate: the control curve (3.0, 5.35) .. (6.0, 5.15) at 4.0 bits is 5.35 - 0.2/3 = 5.2833
grep -q "| coupled_l300 | 4.000 | 5.1700 | 5.2833 | -0.1133 |" "$dir/out.md"
grep -q "^4.0000 5.17000 coupled_l300" "$S/rd_coupled.dat"
# a BackSlash model quantized after training: its own table, against the control
grep -q "| coupled_l300_q0.01 | 0 | 0.01 | 5.2500 +- 0.0645 | +0.1000 +- 0.0000 | 60.0% | 2.000 |" "$dir/out.md"
# its quantization curve, one block
grep -q "^2.0000 5.25000 coupled_l300_q0.01" "$S/rd_requant.dat"
grep -q "^4.0000 5.17000 coupled_l300_q0.001" "$S/rd_requant.dat"
grep -q "count unigram 6.3668, count bigram 4.8776" "$dir/out.md"
scripts/paired_se.py "$S/control_q0.001.pb.txt" "$S/coupled_l300_q0.001.pb.txt" | tee "$dir/se.txt"
grep -q "minus the first: +0.0200 +- 0.0041" "$dir/se.txt"
echo "study tables checks passed"

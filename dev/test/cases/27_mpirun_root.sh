# OpenMPI refuses to run as root without --allow-run-as-root (CI and containers run as
# root): every script and test that starts mpirun handles it, and the README says it
set -e
fail() { echo "FAIL: $*"; exit 1; }
bad=0
for f in scripts/*.sh dev/test/cases/*.sh; do
  [ "$f" = dev/test/cases/27_mpirun_root.sh ] && continue
  # a command line that runs mpirun (not a comment, not a message or a check for it)
  grep -vE '^\s*#|echo |command -v mpirun|pgrep' "$f" | grep -qE '(^|[^-a-z_])mpirun( |$)|\(mpirun ' || continue
  if ! grep -qE -- '--allow-run-as-root|OMPI_ALLOW_RUN_AS_ROOT=1' "$f"; then
    echo "$f starts mpirun without --allow-run-as-root or OMPI_ALLOW_RUN_AS_ROOT"; bad=1
  fi
  if grep -q -- '--allow-run-as-root' "$f" && ! grep -qE 'id -u' "$f"; then
    echo "$f passes --allow-run-as-root whether or not it runs as root"; bad=1
  fi
done
[ $bad -eq 0 ] || fail "scripts that cannot start mpirun as root (above)"
for doc in README.md doc/distributed.md; do
  grep -q -- "--allow-run-as-root" "$doc" || fail "$doc shows mpirun examples but does not say that root needs --allow-run-as-root"
done
# as root here: both ways of allowing it start mpirun
if [ "$(id -u)" -eq 0 ] && command -v mpirun > /dev/null; then
  mpirun --allow-run-as-root -np 1 true || fail "mpirun --allow-run-as-root does not start here"
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np 1 true || fail "the environment variables do not work"
  echo "as root: both ways start mpirun"
fi
echo "mpirun as root: ok"

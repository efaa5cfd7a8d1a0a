#!/usr/bin/env bash
# Vendors mpegts.js (the dashboard's FLV player) into web/js/vendor/: the npm package's
# built dist/mpegts.js byte for byte, next to it the package's LICENSE (Apache-2.0) and
# dist/mpegts.js.LICENSE.txt (the notice of es6-promise, MIT, which the build bundles; the
# first line of mpegts.js points to it by that name).
#
#   tools/vendor-mpegts.sh        fetch VERSION, check it, copy it, print the sha256s
#
# Re-runnable: the same VERSION gives the same files. To move to another version, change
# VERSION and INTEGRITY (npm view mpegts.js@X dist.integrity) here and the version and sha256
# in web/js/vendor/README.md, run this, and run the browser tests. Needs npm (node 18 or newer).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=1.8.2
INTEGRITY=sha512-cZYMa5muASH55wrS6JK5IGkUqnCA96c0f+WdnW91jIK9s/N6NzjmTQDJNYg9A5u/G2Q5nj2b3w1Zwzze/9guxA==
DEST=web/js/vendor

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# npm pack writes the registry's tarball into the current folder and prints its name; the
# package's scripts do not run (nothing is installed)
tarball=$(cd "$tmp" && npm pack --silent --ignore-scripts "mpegts.js@$VERSION" | tail -n 1)
got=$(node -e 'const c = require("crypto"), fs = require("fs");
  process.stdout.write("sha512-" + c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"));' \
  "$tmp/$tarball")
if [ "$got" != "$INTEGRITY" ]; then
  echo "mpegts.js@$VERSION: the tarball's integrity is $got, not the pinned $INTEGRITY" >&2
  exit 1
fi
tar -xzf "$tmp/$tarball" -C "$tmp"
mkdir -p "$DEST"
cp "$tmp/package/dist/mpegts.js" "$DEST/mpegts.js"
cp "$tmp/package/LICENSE" "$DEST/LICENSE"
cp "$tmp/package/dist/mpegts.js.LICENSE.txt" "$DEST/mpegts.js.LICENSE.txt"
echo "mpegts.js $VERSION (npm, $INTEGRITY) into $DEST:"
(cd "$DEST" && sha256sum mpegts.js LICENSE mpegts.js.LICENSE.txt)

#!/bin/sh
# The FLV and RTMP benchmarks' peer: node-media-server 4.4.3, pinned by package.json and
# package-lock.json, installed into bench/peers/node_modules from the npm registry
# (docs/PERFORMANCE.md, "FLV" and "RTMP ingest").
# bench/run.sh never installs anything itself.
set -eu
cd "$(dirname "$0")"
command -v npm >/dev/null || { echo "install Node.js 20+ and npm first (Debian: nodejs npm)" >&2; exit 1; }
exec npm ci --no-audit --no-fund

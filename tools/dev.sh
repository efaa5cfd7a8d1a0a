#!/usr/bin/env bash
# The two README commands:
#   tools/dev.sh run    install what is missing, build, serve the demo on http://127.0.0.1:8000
#   tools/dev.sh test   install test dependencies, build (plain, ASan+UBSan, clang libFuzzer),
#                       run every test and a short fuzzing run (docs/FUZZING.md), then the
#                       media-path tests against a small FFmpeg (tools/ffmpeg-small.sh)
# Debian 12 packages only; apt runs only when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_PKGS="meson ninja-build pkg-config gcc libwebsockets-dev libavformat-dev libavcodec-dev
  libswscale-dev libavutil-dev libturbojpeg0-dev libjpeg62-turbo-dev liburiparser-dev
  libjansson-dev libssl-dev libsrtp2-dev libxml2-dev libcurl4-openssl-dev"
TEST_PKGS="ffmpeg python3 python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-rtsp-server-1.0
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad gstreamer1.0-libav python3-websocket
  python3-pil chromium nginx libnginx-mod-rtmp clang libclang-rt-14-dev llvm dpkg-dev nasm
  libgnutls28-dev python3-aiortc"

. tools/packages.sh

build() { # build DIR [meson options...]
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then
    [ $# -eq 0 ] || meson configure "$dir" "$@"
  else
    meson setup "$dir" "$@"
  fi
  ninja -C "$dir"
}

case "${1:-}" in
run)
  install_missing "$BUILD_PKGS"
  build build
  echo "== open http://127.0.0.1:${CAMSTREAM_PORT:-8000}/ and press \"Show the demo\""
  exec ./build/src/camstream --host "${CAMSTREAM_HOST:-127.0.0.1}" --port "${CAMSTREAM_PORT:-8000}"
  ;;
test)
  install_missing "$BUILD_PKGS $TEST_PKGS"
  # node may come from elsewhere (with its own npm); Debian's packages only when it is absent
  command -v npm >/dev/null || install_missing "nodejs npm"
  if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/flv.js ] ||
    [ ! -d tests/browser/node_modules/hls.js ]; then
    npm ci --prefix tests/browser --no-audit --no-fund
  fi
  # node-media-server (an independent RTMP peer for test_rtmp_ingest and the benchmarks) wants
  # node 20+; with an older node that test says it skips
  if { [ ! -d bench/peers/node_modules/node-media-server ] ||
    [ ! -d bench/peers/node_modules/hls.js ]; } &&
    [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge 20 ]; then
    bench/peers/install.sh || echo "== bench/peers/install.sh failed: the node-media-server test skips"
  fi
  # a build that fails is reported in CI's terms too
  trap 'echo "tests: 0 passed, 1 failed"' ERR
  build build -Dwerror=true
  build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true
  CC=clang build build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dwerror=true
  trap - ERR
  status=0
  # libFuzzer: each target for CAMSTREAM_FUZZ_SECONDS (20) from its seeds; the rest of this
  # build is the same as build-asan, so only the fuzz suite runs here. It runs beside the plain
  # suite, one target at a time (one core), and is reported after it: the plain suite's
  # programs use a fraction of the other core, so the two take the time of the longer
  meson test -C build-fuzz --suite fuzz --print-errorlogs --num-processes 1 \
    > build-fuzz/fuzz-suite.log 2>&1 &
  fuzz_pid=$!
  meson test -C build --print-errorlogs || status=1
  wait "$fuzz_pid" || status=1
  cat build-fuzz/fuzz-suite.log
  # LSan must see every leak; UBSan findings fail the test instead of scrolling by. The soak
  # runs for half its plain time here: it looks for leaks, which LSan reports at any length
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp \
    CAMSTREAM_SOAK_SECONDS=${CAMSTREAM_SOAK_SECONDS_ASAN:-60} \
    meson test -C build-asan --print-errorlogs --timeout-multiplier 3 || status=1
  logs="build/meson-logs/testlog.json build-asan/meson-logs/testlog.json
    build-fuzz/meson-logs/testlog.json"
  # The small-FFmpeg build (tools/ffmpeg-small.sh, docs/PERFORMANCE.md "Memory") on the media
  # paths: RTSP (H.264, H.265, MJPEG), RTMP, HTTP. It needs Debian's source archive; where that
  # cannot be reached the build is reported and skipped, a failing test is not.
  if tools/ffmpeg-small.sh build-small -Dwerror=true > build-small.log 2>&1; then
    meson test -C build-small --print-errorlogs test_ws_stream test_rtmp test_mjpeg || status=1
    logs="$logs build-small/meson-logs/testlog.json"
  else
    echo "== small-FFmpeg build skipped: tools/ffmpeg-small.sh failed; last lines of build-small.log:"
    tail -n 15 build-small.log
  fi
  python3 tools/count_tests.py $logs
  exit $status
  ;;
*)
  echo "usage: $0 run|test" >&2
  exit 2
  ;;
esac

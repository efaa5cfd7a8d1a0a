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
  libgnutls28-dev python3-aiortc debhelper debootstrap lintian curl"

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
  # tests/browser's packages, from the lockfile that suits the node found: playwright-core 1.65
  # wants node 20+; Debian 12's node 18 gets 1.61 (tests/browser/node18/, the same packages
  # otherwise), installed there and moved into tests/browser/node_modules, where the tests look
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$node_major" -ge 20 ]; then lock=tests/browser; else lock=tests/browser/node18; fi
  want=$(node -p "require('./$lock/package.json').dependencies['playwright-core']")
  have=$(node -p "require('./tests/browser/node_modules/playwright-core/package.json').version" \
    2>/dev/null || echo none)
  if [ "$have" != "$want" ] || [ ! -d tests/browser/node_modules/flv.js ] ||
    [ ! -d tests/browser/node_modules/hls.js ] || [ ! -d tests/browser/node_modules/onvif ]; then
    echo "== npm ci from $lock/package-lock.json (node $node_major, playwright-core $want)"
    npm ci --prefix "$lock" --no-audit --no-fund
    if [ "$lock" != tests/browser ]; then
      rm -rf tests/browser/node_modules
      mv "$lock/node_modules" tests/browser/node_modules
    fi
  fi
  # node-media-server (an independent RTMP peer for test_rtmp_ingest and the benchmarks) wants
  # node 20+; with an older node that test says it skips
  if { [ ! -d bench/peers/node_modules/node-media-server ] ||
    [ ! -d bench/peers/node_modules/hls.js ]; } &&
    [ "$node_major" -ge 20 ]; then
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
  t0=$SECONDS
  phase() { echo "== $1 at +$((SECONDS - t0)) s"; }
  # The integration tests run one at a time (they measure latency and memory); the other core
  # runs what does not: the libFuzzer targets (each CAMSTREAM_FUZZ_SECONDS, default 20, from
  # its seeds; the rest of build-fuzz is build-asan again, so only its fuzz suite runs), then
  # the browser suite. Their logs are printed after the integration suite's; both halves use
  # the builds made above (--no-rebuild: two meson tests never run ninja at once).
  beside() { # beside BUILD [meson test options]: (the fuzz run,) BUILD's browser suite (, the package)
    local b=$1 rc=0
    shift
    if [ "$b" = build ]; then
      meson test -C build-fuzz --no-rebuild --suite fuzz --print-errorlogs --num-processes 1 \
        || rc=1
    fi
    meson test -C "$b" --no-rebuild --suite browser --no-suite quiet --logbase browserlog \
      --print-errorlogs "$@" || rc=1
    # the .deb built, checked by lintian, installed into a fresh Debian 12 root and run there
    # (tools/chroot-check.sh deb; mostly network and disk, its compile at one job, niced)
    if [ "$b" = build ]; then
      phase "package suite"
      meson test -C build --no-rebuild --suite package --logbase packagelog --print-errorlogs \
        || rc=1
      phase "package suite done"
    fi
    return $rc
  }
  # ... and what must not run beside it (suite 'quiet': see tests/meson.build), after both
  quiet() { # quiet BUILD [meson test options]
    local b=$1
    shift
    meson test -C "$b" --no-rebuild --suite quiet --logbase quietlog --print-errorlogs "$@"
  }
  phase "plain suite"
  beside build > build/beside.log 2>&1 &
  beside_pid=$!
  meson test -C build --no-rebuild --no-suite browser --no-suite package --print-errorlogs ||
    status=1
  phase "plain suite done; waiting for the fuzz run, the browser and the package suites"
  wait "$beside_pid" || status=1
  cat build/beside.log
  quiet build || status=1
  # LSan must see every leak; UBSan findings fail the test instead of scrolling by. The soak
  # runs for half its plain time here: it looks for leaks, which LSan reports at any length
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp
  phase "ASan+UBSan suite"
  CAMSTREAM_SOAK_SECONDS=${CAMSTREAM_SOAK_SECONDS_ASAN:-60} \
    beside build-asan --timeout-multiplier 3 > build-asan/beside.log 2>&1 &
  beside_pid=$!
  CAMSTREAM_SOAK_SECONDS=${CAMSTREAM_SOAK_SECONDS_ASAN:-60} \
    meson test -C build-asan --no-rebuild --no-suite browser --no-suite package --print-errorlogs \
    --timeout-multiplier 3 || status=1
  phase "ASan+UBSan suite done; waiting for its browser suite"
  wait "$beside_pid" || status=1
  cat build-asan/beside.log
  quiet build-asan --timeout-multiplier 3 || status=1
  unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
  logs="build/meson-logs/testlog.json build/meson-logs/browserlog.json
    build/meson-logs/quietlog.json build/meson-logs/packagelog.json build-asan/meson-logs/testlog.json
    build-asan/meson-logs/browserlog.json build-asan/meson-logs/quietlog.json
    build-fuzz/meson-logs/testlog.json"
  # The small-FFmpeg build (tools/ffmpeg-small.sh, docs/PERFORMANCE.md "Memory") on the media
  # paths: RTSP (H.264, H.265, MJPEG), RTMP, HTTP. It needs Debian's source archive; where that
  # cannot be reached the build is reported and skipped, a failing test is not.
  phase "small-FFmpeg build"
  if tools/ffmpeg-small.sh build-small -Dwerror=true > build-small.log 2>&1; then
    phase "small-FFmpeg suite"
    meson test -C build-small --print-errorlogs test_ws_stream test_rtmp test_mjpeg || status=1
    logs="$logs build-small/meson-logs/testlog.json"
  else
    echo "== small-FFmpeg build skipped: tools/ffmpeg-small.sh failed; last lines of build-small.log:"
    tail -n 15 build-small.log
  fi
  phase "end"
  python3 tools/count_tests.py $logs
  exit $status
  ;;
*)
  echo "usage: $0 run|test" >&2
  exit 2
  ;;
esac

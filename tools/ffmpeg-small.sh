#!/usr/bin/env bash
# A small FFmpeg for camstream: Debian 12's FFmpeg 5.1 source, configured with only what
# camstream opens (RTSP, RTMP, HTTP; H.264, H.265, MJPEG; the camera audio it turns into AAC:
# G.711, G.722, G.726, Opus, MP3, with swresample and the native AAC encoder; TLS through
# GnuTLS, as Debian's), then camstream built against it. Why: Debian's libavcodec and
# libavformat link 123 libraries that camstream never calls (x265, rav1e, aom, librsvg, ICU,
# ...) and their pages cost ~20 MiB of resident memory per process (docs/PERFORMANCE.md
# "Memory").
#
#   tools/ffmpeg-small.sh [BUILD_DIR [MESON_OPTION...]]
#       BUILD_DIR defaults to build-small; then run BUILD_DIR/src/camstream, or bench it with
#       CAMSTREAM_BIN=$PWD/build-small/src/camstream bench/run.sh
#
# The FFmpeg source comes from Debian's archive (apt-get source, with a deb-src list of our own,
# so the system's apt configuration is left alone) into subprojects/ffmpeg-small/, which git
# ignores; the libraries are installed under subprojects/ffmpeg-small/prefix and found by meson
# through pkg-config. Needs dpkg-dev, nasm and libgnutls28-dev (installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${1:-build-small}
[ $# -gt 0 ] && shift
VERSION=5.1
TOP=$PWD/subprojects/ffmpeg-small
PREFIX=$TOP/prefix
PKGS="dpkg-dev nasm libgnutls28-dev pkg-config meson ninja-build gcc libwebsockets-dev
  libturbojpeg0-dev libjpeg62-turbo-dev liburiparser-dev libjansson-dev"

. tools/packages.sh
install_missing "$PKGS"

mkdir -p "$TOP"
src=$(ls -d "$TOP"/ffmpeg-$VERSION* 2>/dev/null | head -1 || true)
if [ -z "$src" ]; then
  # Debian's source package, through a private source list and package index
  apt_dir=$TOP/apt
  mkdir -p "$apt_dir/lists/partial"
  echo "deb-src http://deb.debian.org/debian bookworm main" > "$apt_dir/sources.list"
  opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=-"
        -o "Dir::State::Lists=$apt_dir/lists")
  apt-get "${opts[@]}" update -q
  (cd "$TOP" && apt-get "${opts[@]}" source -q ffmpeg)
  src=$(ls -d "$TOP"/ffmpeg-$VERSION* | head -1)
fi

if [ ! -f "$PREFIX/lib/pkgconfig/libswresample.pc" ]; then
  # Only what src/inputs/av_pull.c opens: the demuxers it forces or probes for, the protocols
  # its whitelists name, the decoders of the codecs it plays; swscale for odd pixel formats;
  # for src/media/aac_transcode.c the audio decoders, swresample (Opus needs it too) and the
  # native aac encoder. A prefix built before these were added is built again.
  (cd "$src" && ./configure --prefix="$PREFIX" --enable-shared --disable-static \
     --disable-programs --disable-doc --disable-avdevice --disable-avfilter --disable-postproc \
     --disable-everything --disable-autodetect --enable-pthreads \
     --enable-network --enable-gnutls --enable-swresample \
     --enable-decoder=h264,hevc,mjpeg \
     --enable-decoder=pcm_alaw,pcm_mulaw,adpcm_g722,adpcm_g726,adpcm_g726le,opus,mp3float \
     --enable-encoder=aac \
     --enable-parser=h264,hevc,mjpeg,mpegaudio \
     --enable-demuxer=rtsp,rtp,sdp,flv,live_flv,mjpeg,mpjpeg \
     --enable-protocol=tcp,udp,rtp,rtmp,rtmps,http,https,tls \
     && make -j"$(nproc)" && make install)
fi

if [ -f "$BUILD/build.ninja" ]; then
  meson configure "$BUILD" -Dpkg_config_path="$PREFIX/lib/pkgconfig" "$@"
else
  meson setup "$BUILD" -Dpkg_config_path="$PREFIX/lib/pkgconfig" "$@"
fi
ninja -C "$BUILD"
echo "== $BUILD/src/camstream uses:"
ldd "$BUILD/src/camstream" | grep -E "libav|libsw"

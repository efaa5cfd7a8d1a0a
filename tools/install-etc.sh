#!/bin/sh
# meson's install script for the settings under /etc (meson.build):
#   tools/install-etc.sh SYSCONFDIR FILE MODE [FILE MODE]...
# installs each FILE into $DESTDIR/SYSCONFDIR/camstream with MODE, unless a file of that name is
# already there: `meson install` over a running system keeps the user's settings and cameras.
# (A package build installs into an empty DESTDIR; dpkg then treats them as conffiles.)
set -eu
dir="${DESTDIR:-}$1/camstream"
shift
mkdir -p "$dir"
while [ $# -ge 2 ]; do
  dst="$dir/$(basename "$1")"
  if [ -e "$dst" ]; then
    echo "camstream: keeping $dst"
  else
    install -m "$2" "$1" "$dst"
    echo "camstream: installed $dst"
  fi
  shift 2
done

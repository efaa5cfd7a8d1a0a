#!/usr/bin/env bash
# camstream in a fresh Debian 12 root, as a new machine has it (debootstrap, minbase).
#
#   tools/chroot-check.sh deb [FILE.deb]   build the .deb (dpkg-buildpackage, then lintian) or
#                                          take FILE.deb, install it with apt into the root, run
#                                          the installed /usr/bin/camstream (as nobody, loopback)
#                                          and check the page, the API, a snapshot, --version,
#                                          the man page, the unit and the conffile; 2-3 minutes.
#   tools/chroot-check.sh readme           the README's two commands as a new user with sudo, on
#                                          a git clone of this checkout's HEAD: `tools/dev.sh run`
#                                          until the page answers, then `tools/dev.sh test`; about
#                                          an hour. Run before each release.
#
# Variables:
#   CAMSTREAM_CHROOT_CACHE  folder for the pristine root, apt's downloads, the package build and
#                           the working roots (default: build/chroot); the pristine root is
#                           made once and copied for every run, so each run starts clean
#   CAMSTREAM_CHROOT_MIRROR Debian mirror (default: the machine's own from /etc/apt/sources*)
#   CAMSTREAM_CHROOT_PORT   readme: the port `tools/dev.sh run` serves on (default 8000)
#
# Needs root, debootstrap and unshare; deb also dpkg-buildpackage and debhelper (unless given a
# .deb). Where one is missing it says why and exits 77 (meson's "skipped"). Everything that is
# mounted in the root is mounted in a private mount namespace (unshare -m), so nothing stays
# mounted when the script ends, however it ends; the processes it started are ended by a trap.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
SELF=$SRC/tools/chroot-check.sh
SUITE=bookworm

skip() { echo "SKIP: $*"; exit 77; }
# progress lines go to stderr: stdout of some functions is their answer
export CHROOT_CHECK_START=${CHROOT_CHECK_START:-$(date +%s)}
say() { echo "== $* (+$(($(date +%s) - CHROOT_CHECK_START)) s)" >&2; }

# The machine's Debian mirror: the first deb.debian.org-like URI serving bookworm's main archive
mirror() {
  local m
  m=$(grep -hs -E '^(deb |URIs:)' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
      /etc/apt/sources.list.d/*.sources |
    grep -o -E 'https?://[^ ]+/debian/?( |$)' | grep -v -- '-security' | sed -n 1p | tr -d ' ')
  echo "${m:-http://deb.debian.org/debian}"
}

# No mount may remain under a folder before it is removed (rm would follow a bind mount)
nothing_mounted_under() {
  # (no `| grep -q` under pipefail: grep leaving at the first match can make the writer die of
  # SIGPIPE, which fails the pipeline now and then)
  local mounts
  mounts=$(findmnt -rn -o TARGET)
  if grep -q -F "$1/" <<< "$mounts"; then
    echo "something is still mounted under $1; not removing it" >&2
    return 1
  fi
}

# The pristine root, made once per cache folder: debootstrap into DIR.partial, then renamed
pristine_root() {
  local dir=$CACHE/$SUITE-minbase
  if [ ! -x "$dir/usr/bin/apt-get" ]; then
    say "debootstrap --variant=minbase $SUITE from $MIRROR"
    nothing_mounted_under "$dir.partial"
    rm -rf --one-file-system "$dir.partial" "$dir"
    debootstrap --variant=minbase "$SUITE" "$dir.partial" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 || {
      tail -n 20 "$CACHE/debootstrap.log"
      echo "debootstrap failed (log: $CACHE/debootstrap.log)" >&2
      return 1
    }
    mv "$dir.partial" "$dir"
  fi
  echo "$dir"
}

# A working root for MODE: a fresh copy of the pristine one, with a stock machine's apt sources
# (deb and deb-src for bookworm, its updates and security) and no service started by a package
fresh_root() { # fresh_root MODE
  local pristine root=$CACHE/root-$1 security
  pristine=$(pristine_root)
  nothing_mounted_under "$root"
  rm -rf --one-file-system "$root"
  cp -a "$pristine" "$root"
  security=${MIRROR%/debian*}/debian-security
  cat > "$root/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb-src $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb-src $MIRROR $SUITE-updates main
deb $security $SUITE-security main
deb-src $security $SUITE-security main
EOF
  printf '#!/bin/sh\n# no service starts in this root (tools/chroot-check.sh)\nexit 101\n' \
    > "$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  # The certificate authorities this machine added to its own (a proxy's, say), so that the root
  # reaches over https what the machine reaches; ca-certificates takes them in when installed
  if compgen -G '/usr/local/share/ca-certificates/*.crt' > /dev/null; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  fi
  mkdir -p "$CACHE/apt-archives/partial"
  echo "$root"
}

# ---- inside the private mount namespace ---------------------------------------------------
# Mounts: /proc always; apt's download cache; for readme also /sys, /dev/pts and /dev/shm, which
# Chromium and the tests want. They go away with the namespace.
mount_root() { # mount_root ROOT full|min
  local root=$1
  mount -t proc proc "$root/proc"
  mount --bind "$CACHE/apt-archives" "$root/var/cache/apt/archives"
  if [ "$2" = full ]; then
    mount -t sysfs sysfs "$root/sys"
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
    mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
  fi
}

in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
  DEBIAN_FRONTEND=noninteractive "$@"; }

# The processes started here, each the leader of its process group; runuser -l starts a new
# session below them, so what runs in the root is found by its root folder too
PIDS=()
in_root_pids() { # the processes whose root is $ROOT
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] && echo "${p#/proc/}"
  done
  return 0
}
end_processes() {
  local p
  for p in "${PIDS[@]}"; do
    kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
  done
  # shellcheck disable=SC2046
  kill -TERM $(in_root_pids) 2>/dev/null || true
  for p in "${PIDS[@]}" $(in_root_pids); do
    timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
  done
  PIDS=()
}

# One numbered line per check ("ok 3 - ...", as TAP has them: tools/count_tests.py counts them);
# the number is kept in a file, as checks are made in two processes
tap() { # tap ok|"not ok" TEXT
  local n
  n=$(($(cat "$CHROOT_CHECK_TAP") + 1))
  echo "$n" > "$CHROOT_CHECK_TAP"
  echo "$1 $n - $2"
}
FAILED=0
check() { # check COMMAND...: a check named $NAME
  if "$@"; then tap ok "$NAME"; else tap "not ok" "$NAME"; FAILED=1; fi
}

# wait_http URL SECONDS PID: until URL answers, the process PID is still there and time is left
wait_http() {
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    kill -0 "$3" 2>/dev/null || return 1
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

inside_deb() { # inside_deb ROOT DEB
  ROOT=$1
  local deb=$2 port log=$CACHE/deb-camstream.log tmp
  trap end_processes EXIT
  mount_root "$ROOT" min
  cp "$deb" "$ROOT/tmp/"
  say "apt-get install ./$(basename "$deb") and its dependencies into the root"
  if ! in_root apt-get update -q > "$CACHE/deb-apt.log" 2>&1 ||
    ! in_root apt-get install -y -q --no-install-recommends "/tmp/$(basename "$deb")" \
      >> "$CACHE/deb-apt.log" 2>&1; then
    tail -n 30 "$CACHE/deb-apt.log"
    tap "not ok" "the package installs with apt"
    return 1
  fi
  tap ok "the package installs with apt"

  NAME="camstream --version names camstream and its libraries"
  version_ok() {
    local out
    out=$(in_root /usr/bin/camstream --version) || return 1
    echo "$out" | sed 's/^/  # /'
    [[ ${out%%$'\n'*} =~ ^camstream\ [0-9]+\.[0-9]+\.[0-9]+ ]] && [[ ${out,,} == *libwebsockets* ]]
  }
  check version_ok
  NAME="the man page camstream(1) is installed"
  check test -f "$ROOT/usr/share/man/man1/camstream.1.gz"
  # installed, not enabled: the administrator enables it after setting it up (debian/rules)
  NAME="the systemd unit is installed, not enabled"
  check test -f "$ROOT/lib/systemd/system/camstream.service" -a \
    ! -e "$ROOT/etc/systemd/system/multi-user.target.wants/camstream.service"
  NAME="/etc/camstream/camstream.conf is a conffile"
  conffiles=$(in_root dpkg-query -W -f='${Conffiles}' camstream || true)
  check eval '[[ $conffiles == *" /etc/camstream/camstream.conf "* ]]'
  NAME="/etc/camstream/streams.json is a conffile, root's alone (camera passwords go there)"
  check eval '[[ $conffiles == *" /etc/camstream/streams.json "* ]] &&
    [ "$(stat -c %a:%U "$ROOT/etc/camstream/streams.json")" = 600:root ]'
  NAME="the example streams.json is installed"
  check test -f "$ROOT/usr/share/doc/camstream/examples/streams.json"

  # The installed binary with its defaults, as nobody, on ports of the kernel's choosing (it
  # prints the one it got; the RTMP and WebRTC ports too, lest they meet a test's)
  say "starting /usr/bin/camstream in the root on 127.0.0.1"
  setsid chroot --userspec=nobody:nogroup "$ROOT" env -i PATH=/usr/bin:/bin \
    /usr/bin/camstream --host 127.0.0.1 --port 0 --rtmp-port 0 --webrtc-port 0 > "$log" 2>&1 &
  PIDS+=($!)
  local deadline=$((SECONDS + 20))
  port=
  while [ -z "$port" ] && [ $SECONDS -lt $deadline ] && kill -0 "${PIDS[0]}" 2>/dev/null; do
    port=$(sed -n 's|^camstream listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$log")
    [ -n "$port" ] || sleep 0.1
  done
  local base=http://127.0.0.1:$port
  if [ -z "$port" ] || ! wait_http "$base/api/health" 10 "${PIDS[0]}"; then
    tail -n 20 "$log"
    tap "not ok" "the installed camstream answers"
    return 1
  fi
  tap ok "the installed camstream answers on $base"
  tmp=$(mktemp -d)
  NAME="GET / for a browser serves /usr/share/camstream/web/index.html"
  page_ok() {
    curl -fsS --max-time 10 -H 'Accept: text/html' -D "$tmp/h" -o "$tmp/page" "$base/" &&
      grep -q -i '^content-type: text/html' "$tmp/h" &&
      cmp -s "$tmp/page" "$ROOT/usr/share/camstream/web/index.html"
  }
  check page_ok
  NAME="a script (css) of the page is served from the installed folder"
  check eval 'curl -fsS --max-time 10 "$base/css/camstream.css" | cmp -s - "$ROOT/usr/share/camstream/web/css/camstream.css"'
  NAME="GET /api/health answers status ok"
  check eval '[[ $(curl -fsS --max-time 10 "$base/api/health") == *"\"status\":\"ok\""* ]]'
  NAME="GET /snapshot?rtsp_url=demo: answers a JPEG"
  snapshot_ok() {
    curl -fsS --max-time 20 -D "$tmp/sh" -o "$tmp/snap" "$base/snapshot?rtsp_url=demo:" &&
      grep -q -i '^content-type: image/jpeg' "$tmp/sh" &&
      [ "$(head -c 2 "$tmp/snap" | od -An -tx1 | tr -d ' ')" = ffd8 ]
  }
  check snapshot_ok
  rm -rf "$tmp"
  end_processes
  if [ $FAILED -ne 0 ]; then
    echo "# camstream's log:"
    sed 's/^/# /' "$log" | tail -n 30
  fi
  return $FAILED
}

inside_readme() { # inside_readme ROOT PORT
  ROOT=$1
  local port=$2 user=newcomer home rc log
  trap end_processes EXIT
  mount_root "$ROOT" full
  say "sudo and git for a new user"
  in_root apt-get update -q > "$CACHE/readme-setup.log" 2>&1
  in_root apt-get install -y -q sudo git ca-certificates curl >> "$CACHE/readme-setup.log" 2>&1
  in_root useradd --create-home --shell /bin/bash --groups sudo "$user"
  # sudo without a password: nobody is there to type it
  echo "$user ALL=(ALL) NOPASSWD:ALL" > "$ROOT/etc/sudoers.d/$user"
  chmod 440 "$ROOT/etc/sudoers.d/$user"
  home=/home/$user
  say "git clone of $(git -C "$SRC" rev-parse --short HEAD) into $home/camstream"
  git clone -q --no-local "$SRC" "$ROOT$home/camstream"
  chown -R "$(stat -c %u:%g "$ROOT$home")" "$ROOT$home/camstream"
  as_user() { chroot "$ROOT" runuser -l "$user" -c "$*"; }

  log=$CACHE/readme-run.log
  say "tools/dev.sh run (log: $log)"
  setsid chroot "$ROOT" runuser -l "$user" -c \
    "cd camstream && CAMSTREAM_PORT=$port tools/dev.sh run" > "$log" 2>&1 < /dev/null &
  PIDS+=($!)
  rc=0
  # the first run installs the build packages and builds: minutes
  if wait_http "http://127.0.0.1:$port/api/health" 1800 "${PIDS[0]}" &&
      curl -fsS --max-time 10 -H 'Accept: text/html' "http://127.0.0.1:$port/" |
        grep -q -i '<html'; then
    tap ok "tools/dev.sh run serves the page on 127.0.0.1:$port"
  else
    tail -n 30 "$log"
    tap "not ok" "tools/dev.sh run serves the page on 127.0.0.1:$port"
    rc=1
  fi
  end_processes
  [ $rc -eq 0 ] || return 1

  log=$CACHE/readme-test.log
  say "tools/dev.sh test (log: $log)"
  setsid chroot "$ROOT" runuser -l "$user" -c "cd camstream && tools/dev.sh test" \
    > "$log" 2>&1 < /dev/null &
  PIDS+=($!)
  wait "${PIDS[0]}" || rc=$?
  PIDS=()
  grep -E '^== |^tests: ' "$log" | tail -n 40
  if [ $rc -eq 0 ]; then
    tap ok "tools/dev.sh test passes"
  else
    tap "not ok" "tools/dev.sh test passes (exit $rc; log: $log)"
  fi
  return $rc
}

# ---- outside ------------------------------------------------------------------------------
build_deb() { # sets deb to the path of the .deb
  local out=$CACHE/pkg
  nothing_mounted_under "$out"
  rm -rf --one-file-system "$out"
  mkdir -p "$out/camstream"
  # the checkout as it is, uncommitted changes included, without what git ignores (builds)
  (cd "$SRC" && git ls-files -z -c -o --exclude-standard) |
    (cd "$SRC" && xargs -0 cp -a --parents -t "$out/camstream")
  say "dpkg-buildpackage -us -uc -b (log: $out/build.log)"
  if ! (cd "$out/camstream" && DEB_BUILD_OPTIONS="nocheck parallel=1 ${DEB_BUILD_OPTIONS:-}" \
      nice dpkg-buildpackage -us -uc -b > "$out/build.log" 2>&1); then
    tail -n 30 "$out/build.log"
    tap "not ok" "dpkg-buildpackage builds the package"
    return 1
  fi
  tap ok "dpkg-buildpackage builds the package"
  deb=$(ls "$out"/camstream_*.deb)
}

main() {
  local mode=${1:-}
  case "$mode" in
  __inside-deb) shift; CACHE=$3; inside_deb "$1" "$2"; return ;;
  __inside-readme) shift; CACHE=$3; inside_readme "$1" "$2"; return ;;
  deb|readme) ;;
  *) echo "usage: $0 deb [FILE.deb] | readme" >&2; exit 2 ;;
  esac
  [ "$(id -u)" = 0 ] || skip "needs root (debootstrap, chroot, mounts)"
  command -v debootstrap >/dev/null || skip "debootstrap is not installed"
  command -v unshare >/dev/null || skip "unshare is not installed"
  command -v curl >/dev/null || skip "curl is not installed"
  CACHE=${CAMSTREAM_CHROOT_CACHE:-$SRC/build/chroot}
  mkdir -p "$CACHE"
  CACHE=$(cd "$CACHE" && pwd -P)
  export CHROOT_CHECK_TAP=$CACHE/tap-count
  echo 0 > "$CHROOT_CHECK_TAP"
  MIRROR=${CAMSTREAM_CHROOT_MIRROR:-$(mirror)}
  local host=${MIRROR#*://}
  host=${host%%/*}
  timeout 10 bash -c "exec 3<>/dev/tcp/$host/80" 2>/dev/null ||
    skip "the Debian mirror $MIRROR cannot be reached"

  local root deb rc=0 lint_pid=
  if [ "$mode" = deb ]; then
    deb=${2:-}
    if [ -z "$deb" ]; then
      command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null ||
        skip "dpkg-dev or debhelper is not installed (needed to build the .deb)"
      build_deb || exit 1
      # lintian beside the chroot work (one is CPU, the other mostly the network)
      if command -v lintian >/dev/null; then
        (cd "$CACHE/pkg" && nice lintian --fail-on error --display-info --pedantic \
          camstream_*.changes > lintian.log 2>&1) &
        lint_pid=$!
      else
        echo "# lintian is not installed: not run"
      fi
    fi
    deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
    [ -f "$deb" ] || { echo "no such file: $deb" >&2; exit 2; }
    root=$(fresh_root deb)
    unshare -m --propagation private "$SELF" __inside-deb "$root" "$deb" "$CACHE" || rc=1
    if [ -n "$lint_pid" ]; then
      if wait "$lint_pid"; then
        tap ok "lintian finds no error"
      else
        tap "not ok" "lintian finds no error"
        rc=1
      fi
      sed 's/^/  # /' "$CACHE/pkg/lintian.log"
    fi
  else
    root=$(fresh_root readme)
    unshare -m --propagation private "$SELF" __inside-readme "$root" \
      "${CAMSTREAM_CHROOT_PORT:-8000}" "$CACHE" || rc=1
  fi
  say "end: $([ $rc -eq 0 ] && echo passed || echo FAILED)"
  exit $rc
}

main "$@"

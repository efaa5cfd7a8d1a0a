#!/usr/bin/python3
"""A real RTMP server for camstream's integration tests: Debian's nginx with libnginx-mod-rtmp
(packages nginx, libnginx-mod-rtmp), fed by the ffmpeg CLI (package ffmpeg, with libx264).

RtmpServer writes its own nginx.conf into a temporary folder and runs nginx in the foreground
(daemon off, master_process off: one process, no pid file or log outside that folder) on free
ports of 127.0.0.1:
  rtmp://127.0.0.1:PORT/live/NAME  application "live" (live on, nothing recorded); only
                                   127.0.0.1 may publish
  http://127.0.0.1:STAT/stat       nginx-rtmp's statistics (XML), used to see what is published
A publisher is `ffmpeg -re -f lavfi -i testsrc2=size=WxH:rate=FPS -c:v libx264 -tune
zerolatency -preset ultrafast -g FPS -f flv rtmp://.../live/NAME` (a key frame every second).
start() returns once nginx answers and the stream is published, with video, according to the
statistics; every wait has a deadline.

idle_streams=False makes nginx drop the players of a stream when its publisher goes away (and
refuse players of a stream nobody publishes); with the default (True) players stay connected
and wait for a new publisher, as many RTMP servers do.

Run alone, it prints "READY url=rtmp://... stat_port=N" and serves until SIGTERM or SIGINT:
    /usr/bin/python3 tests/integration/rtmp_server.py [--width 320] [--height 240] [--fps 25]
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
APP = "live"

START_TIMEOUT = 15.0   # nginx listening + the stream published
STOP_TIMEOUT = 5.0

CONF = """\
load_module {module};
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log stderr {log_level};
events {{
    worker_connections 256;
}}
rtmp {{
    server {{
        listen 127.0.0.1:{rtmp_port};
        access_log off;   # nginx-rtmp has its own, by default in /var/log/nginx
        chunk_size 4096;
        application {app} {{
            live on;
            record off;
            idle_streams {idle};
            allow publish 127.0.0.1;
            deny publish all;
            allow play all;
        }}
    }}
}}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{stat_port};
        location /stat {{
            rtmp_stat all;
        }}
    }}
}}
"""


def free_port():
    """A port free at the time of asking (nginx takes it a moment later: start() retries if
    someone else was faster)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _default_new_log(folder):
    seq = [0]

    def new_log(label):
        seq[0] += 1
        return os.path.join(folder, "%02d-%s.log" % (seq[0], re.sub(r"[^\w.-]", "_", label)))
    return new_log


def _stop_process(proc, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
    """Sends @sig, waits, kills on timeout. Returns the exit code."""
    if proc is None or proc.poll() is not None:
        return None if proc is None else proc.returncode
    proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(10)


class RtmpServer:
    """nginx-rtmp plus ffmpeg publishers. @new_log(label) -> path of a new log file for a
    child's stderr (the harness passes its own so failed tests show the logs)."""

    def __init__(self, width=320, height=240, fps=25, stream="test", idle_streams=True,
                 new_log=None):
        self.width, self.height, self.fps = width, height, fps
        self.stream = stream
        self.idle_streams = idle_streams
        self.dir = tempfile.mkdtemp(prefix="camtest-rtmp-")
        self.own_logs = new_log is None   # logs in self.dir: kept by stop()
        self.new_log = new_log or _default_new_log(self.dir)
        self.nginx = None
        self.nginx_log = None
        self.publishers = {}      # stream name -> Popen of its ffmpeg
        self.publisher_logs = {}  # stream name -> log path
        self.port = None
        self.stat_port = None

    # -- nginx

    def start(self, timeout=START_TIMEOUT, publish=True):
        """Starts nginx and (with @publish) the publisher of self.stream; returns self once the
        stream is published. Raises AssertionError (after cleaning up) if it cannot."""
        try:
            self._start_nginx(timeout)
            if publish:
                self.start_publisher(self.stream, timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_nginx(self, timeout):
        last = ""
        for _attempt in range(5):
            self.port, self.stat_port = free_port(), free_port()
            conf = os.path.join(self.dir, "nginx.conf")
            with open(conf, "w") as f:
                f.write(CONF.format(module=RTMP_MODULE, dir=self.dir, rtmp_port=self.port,
                                    stat_port=self.stat_port, app=APP,
                                    idle="on" if self.idle_streams else "off",
                                    log_level="info"))
            self.nginx_log = self.new_log("nginx-rtmp")
            argv = [NGINX, "-p", self.dir + "/", "-c", conf, "-e", "stderr"]
            with open(self.nginx_log, "wb") as log:
                log.write(("# " + " ".join(argv) + "\n").encode())
                log.flush()
                self.nginx = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                              stdout=subprocess.DEVNULL, stderr=log,
                                              start_new_session=True)
            if self._wait(lambda: self.nginx.poll() is not None or self._stat_answers(),
                          timeout) and self.nginx.poll() is None:
                return
            last = _tail(self.nginx_log)
            _stop_process(self.nginx)
            self.nginx = None
            if "in use" not in last:
                break
        raise AssertionError("nginx-rtmp did not start within %.0f s; log %s:\n%s"
                             % (timeout, self.nginx_log, last))

    def alive(self):
        return self.nginx is not None and self.nginx.poll() is None

    def stop(self):
        """Stops every publisher and nginx; removes the folder unless it holds the logs.
        Idempotent."""
        for name in list(self.publishers):
            self.stop_publisher(name, wait=False)
        _stop_process(self.nginx)
        self.nginx = None
        if not self.own_logs:
            shutil.rmtree(self.dir, ignore_errors=True)

    def kill(self):
        """SIGKILL to nginx: every connection dies at once, players and publishers alike."""
        if self.alive():
            self.nginx.kill()
            self.nginx.wait(10)

    # -- publishers

    def url(self, name=None, userinfo=None):
        """rtmp://[userinfo@]127.0.0.1:PORT/live/NAME (nginx-rtmp ignores userinfo)."""
        auth = userinfo + "@" if userinfo else ""
        return "rtmp://%s127.0.0.1:%d/%s/%s" % (auth, self.port, APP, name or self.stream)

    def start_publisher(self, name=None, timeout=START_TIMEOUT):
        """Starts an ffmpeg publishing to @name and waits until nginx lists it as published
        with video."""
        name = name or self.stream
        if self.publishers.get(name) is not None and self.publishers[name].poll() is None:
            raise AssertionError("stream %r already has a publisher" % name)
        log_path = self.new_log("ffmpeg-publish-" + name)
        argv = [FFMPEG, "-hide_banner", "-nostats", "-nostdin", "-loglevel", "warning", "-re",
                "-f", "lavfi", "-i", "testsrc2=size=%dx%d:rate=%d" % (self.width, self.height,
                                                                    self.fps),
                "-c:v", "libx264", "-tune", "zerolatency", "-preset", "ultrafast",
                "-g", str(self.fps), "-pix_fmt", "yuv420p", "-f", "flv", self.url(name)]
        with open(log_path, "wb") as log:
            log.write(("# " + " ".join(argv) + "\n").encode())
            log.flush()
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=log, start_new_session=True)
        self.publishers[name] = proc
        self.publisher_logs[name] = log_path
        if not self._wait(lambda: proc.poll() is not None or self.is_published(name), timeout) \
                or proc.poll() is not None:
            rc = proc.poll()
            self.stop_publisher(name, wait=False)
            raise AssertionError("stream %r not published within %.0f s (ffmpeg exit code %s); "
                                 "ffmpeg log %s:\n%s\nnginx log %s:\n%s"
                                 % (name, timeout, rc, log_path, _tail(log_path),
                                    self.nginx_log, _tail(self.nginx_log)))
        return proc

    def stop_publisher(self, name=None, sig=signal.SIGKILL, wait=True, timeout=10.0):
        """Stops @name's publisher (SIGKILL by default: the connection just drops) and, with
        @wait, waits until nginx no longer lists it as published. Returns the monotonic time
        the signal was sent."""
        name = name or self.stream
        proc = self.publishers.pop(name, None)
        sent_at = time.monotonic()
        _stop_process(proc, sig)
        if wait and not self._wait(lambda: not self.is_published(name), timeout):
            raise AssertionError("stream %r still published %.0f s after its publisher stopped"
                                 % (name, timeout))
        return sent_at

    # -- statistics

    def _stat_xml(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/stat" % self.stat_port,
                                        timeout=2) as r:
                return ET.fromstring(r.read())
        except (OSError, urllib.error.URLError, ET.ParseError):
            return None

    def _stat_answers(self):
        return self._stat_xml() is not None

    def streams(self):
        """{name: {"publishing": bool, "players": int, "video": codec or None, "bytes_in",
        "bytes_out"}} of application "live", from nginx-rtmp's statistics."""
        root = self._stat_xml()
        out = {}
        if root is None:
            return out
        for app in root.iter("application"):
            if app.findtext("name") != APP:
                continue
            for s in app.iter("stream"):
                clients = s.findall("client")
                out[s.findtext("name")] = {
                    "publishing": s.find("publishing") is not None,
                    "players": sum(1 for c in clients if c.find("publishing") is None),
                    "video": s.findtext("meta/video/codec"),
                    "bytes_in": int(s.findtext("bytes_in") or 0),
                    "bytes_out": int(s.findtext("bytes_out") or 0),
                }
        return out

    def is_published(self, name=None):
        s = self.streams().get(name or self.stream)
        return bool(s and s["publishing"] and s["video"])

    def players(self, name=None):
        s = self.streams().get(name or self.stream)
        return s["players"] if s else 0

    @staticmethod
    def _wait(predicate, timeout, interval=0.05):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value or time.monotonic() >= deadline:
                return value
            time.sleep(interval)


def _tail(path, lines=25):
    try:
        with open(path, "rb") as f:
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])
    except (OSError, TypeError):
        return "(no log)"


def start_for_test(testcase, **kw):
    """An RtmpServer for one test of the integration suite: its logs go with the other
    processes' (run.py shows them when the test fails) and a cleanup stops it."""
    import camtest  # the harness; imported here so this file also runs on its own

    def new_log(label):
        path = camtest._log_path(label)
        camtest.STARTED_LOGS.append((label, path))
        return path
    server = RtmpServer(new_log=new_log, **kw)
    testcase.addCleanup(server.stop)
    return server.start()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--stream", default="test")
    ap.add_argument("--no-idle-streams", action="store_true",
                    help="drop players when the publisher goes away")
    args = ap.parse_args()

    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(True))
    server = RtmpServer(args.width, args.height, args.fps, args.stream,
                        idle_streams=not args.no_idle_streams)
    try:
        server.start()
        print("READY url=%s stat_port=%d logs=%s" % (server.url(), server.stat_port, server.dir),
              flush=True)
        while not stop and server.alive():
            time.sleep(0.2)
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)   # its logs too: they were not needed
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""camtest: the harness of camstream's integration tests.

Processes: Camstream (the server under test, from $CAMSTREAM_BIN) and RtspServer (the
gst-rtsp-server fixture, rtsp_server.py), each started, waited for and stopped with timeouts,
with its stderr kept in a log file. Network fixtures: a silent listener and a closed port.
Clients: Viewer, a WebSocket client of /ws/stream (python3-websocket), synchronous or receiving
in a background thread; http_get; StreamClient, the base of the plain-socket clients that read
a streamed answer with a deadline. Checks: JPEG validity and size (PIL), mean luma.

Every wait has a deadline. Nothing sleeps to synchronise where an event can be awaited;
conditions that cannot be awaited are polled with a deadline.
"""

import base64
import http.client
import io
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

import websocket
import websocket._abnf
from PIL import Image, ImageChops, ImageStat

# python3-websocket 1.2.3 rejects the IANA-registered close codes 1012 (service restart) and
# 1013 (try again later: camstream's server_busy) as "Invalid close opcode"; accept them.
websocket._abnf.VALID_CLOSE_STATUS = tuple(websocket._abnf.VALID_CLOSE_STATUS) + (1012, 1013)

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
GI_PYTHON = "/usr/bin/python3"  # the Debian python that has python3-gi
RTSP_SERVER = os.path.join(HERE, "rtsp_server.py")

CAMSTREAM_BIN = os.environ.get("CAMSTREAM_BIN", "")
WEB_ROOT = os.environ.get("CAMSTREAM_WEB_ROOT", os.path.join(SOURCE_ROOT, "web"))

START_TIMEOUT = 10.0   # the listening line / READY line
STOP_TIMEOUT = 5.0     # SIGTERM to exit for ordinary teardown
LISTEN_RE = re.compile(r"^camstream listening on https?://(\[[^\]]+\]|[^:/\s]+):(\d+)$")

# Logs of every process started in this run. run.py removes the folder when all tests pass.
LOG_DIR = os.environ.get("CAMTEST_LOG_DIR") or tempfile.mkdtemp(prefix="camtest-")
os.makedirs(LOG_DIR, exist_ok=True)
STARTED_LOGS = []      # (label, path) in start order; run.py shows the ones a failed test made
_log_seq = [0]


def _log_path(label):
    _log_seq[0] += 1
    return os.path.join(LOG_DIR, "%03d-%s.log" % (_log_seq[0], re.sub(r"[^\w.-]", "_", label)))


def wait_until(predicate, timeout, interval=0.05):
    """Polls @predicate until it returns a true value or @timeout passes; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class _LineReader:
    """Reads a child's stdout in a thread so it can never block on a full pipe."""

    def __init__(self, stream):
        self.lines = []
        self._cond = threading.Condition()
        self._eof = False
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def wait_for(self, regex, timeout):
        """The first match of @regex on a whole line, or None at timeout or end of output."""
        deadline = time.monotonic() + timeout
        pattern = re.compile(regex)
        with self._cond:
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    m = pattern.match(line)
                    if m:
                        return m
                seen = len(self.lines)
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    return None
                self._cond.wait(remaining)


class _Process:
    """A child process with stdout read by a thread and stderr in a log file."""

    label = "process"

    def __init__(self):
        self.proc = None
        self.stdout = None
        self.log_path = None
        self.returncode = None

    def _spawn(self, argv, env):
        self.log_path = _log_path(self.label)
        STARTED_LOGS.append((self.label, self.log_path))
        with open(self.log_path, "wb") as log:
            log.write(("# " + " ".join(argv) + "\n").encode())
            log.flush()
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=log, env=env, start_new_session=True)
        self.stdout = _LineReader(self.proc.stdout)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def send_signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def wait(self, timeout):
        """The exit code, or None if still running after @timeout."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends @sig and waits; kills with SIGKILL on timeout. Returns (exit code, seconds)
        where the exit code is None if it had to be killed."""
        if self.proc is None:
            return None, 0.0
        if self.proc.poll() is not None:
            return self.proc.returncode, 0.0
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        rc = self.wait(timeout)
        elapsed = time.monotonic() - t0
        if rc is None:
            self.kill()
        return rc, elapsed

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.returncode = self.proc.returncode if self.proc else None

    def close_pipes(self):
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()


def _env_without_camstream_vars(extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMSTREAM_")}
    env.update(extra or {})
    return env


RTMP_RE = re.compile(r"^camstream rtmp on rtmp://(\[[^\]]+\]|[^:/\s]+):(\d+)/live/$")
WEBRTC_RE = re.compile(r"^camstream webrtc on udp://(\[[^\]]+\]|[^:/\s]+):(\d+)$")


def _chosen(args, option):
    """Whether @args give @option a value other than off."""
    return option in args and args[args.index(option) + 1:][:1] != ["off"]


class Camstream(_Process):
    """The server under test: `CAMSTREAM_BIN --port 0 --host 127.0.0.1 --web-root WEB_ROOT`
    plus @args, and `--rtmp-port off` unless @args choose an RTMP port (parallel servers must
    not race for 1935), `--webrtc-port off` likewise (UDP 8189). No CAMSTREAM_* variable
    reaches it except those in @env.
    With --rtmp-port given, start() also reads the RTMP line: rtmp_port, rtmp_url(key); with
    --webrtc-port given (0 for any free port), the WebRTC line: webrtc_host, webrtc_port."""

    label = "camstream"

    def __init__(self, *args, env=None, default_args=True):
        super().__init__()
        if not CAMSTREAM_BIN:
            raise RuntimeError("CAMSTREAM_BIN is not set (the path of the camstream binary)")
        base = (["--port", "0", "--host", "127.0.0.1", "--web-root", WEB_ROOT] if default_args
                else [])
        args = [str(a) for a in args]
        self.wants_rtmp = _chosen(args, "--rtmp-port")
        self.wants_webrtc = _chosen(args, "--webrtc-port")
        if default_args and "--rtmp-port" not in args:
            base += ["--rtmp-port", "off"]
        if default_args and "--webrtc-port" not in args:
            base += ["--webrtc-port", "off"]
        self.argv = [CAMSTREAM_BIN] + base + args
        self.env = _env_without_camstream_vars(env)
        self.host = None
        self.port = None
        self.rtmp_port = None
        self.webrtc_host = None
        self.webrtc_port = None

    def start(self, timeout=START_TIMEOUT):
        self._spawn(self.argv, self.env)
        m = self.stdout.wait_for(LISTEN_RE.pattern, timeout)
        if m is None:
            rc = self.proc.poll()
            self.kill()
            raise AssertionError(
                "camstream did not print 'camstream listening on http://HOST:PORT' within %.0f s "
                "(exit code %s); stdout %r; log %s:\n%s" % (timeout, rc, self.stdout.lines,
                                                           self.log_path, self.log_text()[-3000:]))
        self.host, self.port = m.group(1).strip("[]"), int(m.group(2))
        if self.wants_rtmp:
            m = self.stdout.wait_for(RTMP_RE.pattern, timeout)
            if m is None:
                raise AssertionError("camstream did not print 'camstream rtmp on rtmp://HOST:PORT"
                                     "/live/'; stdout %r" % (self.stdout.lines,))
            self.rtmp_port = int(m.group(2))
        if self.wants_webrtc:
            m = self.stdout.wait_for(WEBRTC_RE.pattern, timeout)
            if m is None:
                raise AssertionError("camstream did not print 'camstream webrtc on udp://HOST:"
                                     "PORT'; stdout %r" % (self.stdout.lines,))
            self.webrtc_host, self.webrtc_port = m.group(1).strip("[]"), int(m.group(2))
        return self

    def rtmp_url(self, key, query=""):
        """rtmp://127.0.0.1:PORT/live/KEY[?QUERY] of this server's ingest."""
        assert self.rtmp_port, "start camstream with --rtmp-port 0 to publish to it"
        return "rtmp://127.0.0.1:%d/live/%s%s" % (self.rtmp_port, key,
                                                 "?" + query if query else "")

    def rss_kb(self, field="VmRSS"):
        """A /proc/PID/status figure in kB: VmRSS, or RssAnon (the process's own memory,
        without the pages of the libraries it maps)."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise AssertionError("no %s in /proc/%d/status" % (field, self.pid))

    def fd_count(self):
        """Open file descriptors (/proc/PID/fd)."""
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def thread_count(self):
        """Threads (/proc/PID/task)."""
        return len(os.listdir("/proc/%d/task" % self.pid))

    def sanitized(self):
        """True if this camstream runs with AddressSanitizer (libasan is mapped)."""
        with open("/proc/%d/maps" % self.pid) as f:
            return any("libasan" in line or "libclang_rt.asan" in line for line in f)

    def sanitizer_reports(self):
        """Lines of the log where ASan, LSan or UBSan report a finding."""
        return [line for line in self.log_text().splitlines()
                if re.search(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|"
                             r"SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer", line)]


def run_camstream(*args, env=None, timeout=10.0):
    """Runs camstream to completion (for --help, --version, bad options): (rc, stdout, stderr)."""
    argv = [CAMSTREAM_BIN] + [str(a) for a in args]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                       env=_env_without_camstream_vars(env))
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


SECURE_USER = "viewer"          # rtsp_server.py's credentials for /secure
SECURE_PASSWORD = "s3cr3tPass"


class RtspServer(_Process):
    """The gst-rtsp-server fixture (see rtsp_server.py for its mounts). @port 0 picks a free
    one; pass the port of a server that was stopped to bring "the same camera" back."""

    label = "rtsp-server"

    def __init__(self, width=320, height=240, fps=25, eos_seconds=3, port=0):
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self.argv = [GI_PYTHON, RTSP_SERVER, "--port", str(port), "--width", str(width),
                     "--height", str(height), "--fps", str(fps), "--eos-seconds", str(eos_seconds)]
        self.port = None
        self.control_port = None

    def start(self, timeout=START_TIMEOUT):
        self._spawn(self.argv, dict(os.environ))
        m = self.stdout.wait_for(r"^READY rtsp_port=(\d+) control_port=(\d+)$", timeout)
        if m is None:
            self.kill()
            raise AssertionError("rtsp_server.py printed no READY line within %.0f s; log:\n%s"
                                 % (timeout, self.log_text()[-3000:]))
        self.port, self.control_port = int(m.group(1)), int(m.group(2))
        self.secure_port = self._control("/info")["secure_port"]
        return self

    def url(self, mount):
        """rtsp://127.0.0.1:PORT/MOUNT of an open mount (h264, h265, mjpeg, black, ...)."""
        return "rtsp://127.0.0.1:%d/%s" % (self.port, mount.lstrip("/"))

    def secure_url(self, userinfo=None):
        """The mount that needs Basic credentials SECURE_USER:SECURE_PASSWORD."""
        auth = userinfo + "@" if userinfo else ""
        return "rtsp://%s127.0.0.1:%d/secure" % (auth, self.secure_port)

    def _control(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.control_port, path),
                                    timeout=5) as r:
            return json.loads(r.read())

    def stats(self):
        """{"sessions", "clients", "clients_total", "sessions_total", "media", "media_total"}"""
        return self._control("/stats")

    def wait_sessions(self, predicate, timeout):
        """Polls stats until @predicate(stats) holds; returns the last stats either way."""
        last = {}

        def check():
            last.clear()
            last.update(self.stats())
            return predicate(last)
        wait_until(check, timeout, interval=0.1)
        return dict(last)


class SilentListener:
    """A TCP port that accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted.append(conn)

    def close(self):
        self._stop.set()
        self._thread.join(5)
        for c in self.accepted:
            c.close()
        self.sock.close()


class ClosedPort:
    """A port nobody listens on: bound (so nobody else gets it) but not listening, so a
    connection attempt is refused."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


def tcp_send_queue(local_port, remote_port):
    """Bytes queued for sending on the local TCP socket 127.0.0.1:@local_port connected to
    127.0.0.1:@remote_port (from /proc/net/tcp), or None if there is no such socket."""
    want_local = "0100007F:%04X" % local_port
    want_remote = "0100007F:%04X" % remote_port
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == want_local and fields[2] == want_remote:
                return int(fields[4].split(":")[0], 16)
    return None



def raise_nofile(n, what):
    """Raises this process's soft RLIMIT_NOFILE, which camstream inherits, for @n connections:
    each is a descriptor here and one in camstream. Fails when the hard limit is too low for @n
    @what. Returns the limits before, for resource.setrlimit to restore."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 2 * n + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < n + 64:
        raise AssertionError("RLIMIT_NOFILE hard limit %d is too low for %d %s" % (hard, n, what))
    return soft, hard

class StreamClient:
    """A client of 127.0.0.1:@port on a plain blocking socket that sends @request at once, so
    a test decides when (and whether) it reads the answer. _recv_raw(deadline) is one read
    with a deadline; a subclass names what it raises when the deadline passes (Timeout)."""

    Timeout = AssertionError

    def __init__(self, port, request, rcvbuf=None, timeout=10.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(request)

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _recv_raw(self, deadline):
        """Up to 256 KiB; b"" when the server ended (or reset) the connection; raises
        self.Timeout when nothing came before @deadline (monotonic)."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self.Timeout("no data before the deadline")
        self.sock.settimeout(remaining)
        try:
            return self.sock.recv(256 * 1024)
        except socket.timeout:
            raise self.Timeout("no data before the deadline") from None
        except (ConnectionResetError, BrokenPipeError):   # recv(2) itself never gives EPIPE
            return b""

# ---- HTTP -----------------------------------------------------------------------------------

class HttpResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def content_type(self):
        return (self.headers.get("content-type") or "").split(";")[0].strip().lower()

    def json(self):
        return json.loads(self.body.decode("utf-8"))


def http_get(port, path, headers=None, timeout=10.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        body = r.read()
        return HttpResponse(r.status, {k.lower(): v for k, v in r.getheaders()}, body)
    finally:
        conn.close()


# ---- WebSocket viewers ----------------------------------------------------------------------

def stream_path(rtsp_url=None, encode=True, **opts):
    """/ws/stream?rtsp_url=<percent-encoded>&opt=value...; @rtsp_url None leaves it out."""
    parts = []
    if rtsp_url is not None:
        parts.append("rtsp_url=" + (urllib.parse.quote(rtsp_url, safe="") if encode else rtsp_url))
    parts += ["%s=%s" % (k, urllib.parse.quote(str(v), safe="")) for k, v in opts.items()]
    return "/ws/stream" + ("?" + "&".join(parts) if parts else "")


class WsTimeout(AssertionError):
    pass


class Closed:
    """How a viewer's connection ended: the close code (1005 none given, 1006 no close frame)."""

    def __init__(self, code, reason=""):
        self.code = code
        self.reason = reason

    def __repr__(self):
        return "Closed(%s, %r)" % (self.code, self.reason)


class Viewer:
    """A /ws/stream client. Use recv()/frames()/until_closed() synchronously, or start() it to
    receive in a background thread (then use the recorded fields and the wait_* methods).

    Everything received is recorded: frame arrival times, the last frames, text messages and
    how the connection closed."""

    def __init__(self, port, path, connect_timeout=10.0, sockopt=(), keep_frames=3):
        self.url = "ws://127.0.0.1:%d%s" % (port, path)
        self.ws = websocket.create_connection(self.url, timeout=connect_timeout, sockopt=sockopt,
                                              skip_utf8_validation=True,
                                              enable_multithread=False)
        self.connected_at = time.monotonic()
        self.frame_times = []    # monotonic arrival time of every binary message
        self.last_frames = []    # the newest @keep_frames binary messages
        self.keep_frames = keep_frames
        self.texts = []          # text messages, in order
        self.events = []         # ("binary", size) / ("text", str) / ("close", code), in order
        self.closed = None       # a Closed once the connection ended
        self.closed_at = None
        self._cond = threading.Condition()
        self._thread = None
        self._stop = threading.Event()

    # -- receiving

    def recv(self, timeout):
        """The next message: ("binary", bytes), ("text", str) or ("close", Closed).
        Raises WsTimeout if nothing arrives within @timeout."""
        if self.closed is not None:
            return "close", self.closed
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WsTimeout("no WebSocket message within %.1f s" % timeout)
            self.ws.settimeout(remaining)
            try:
                opcode, data = self.ws.recv_data_frame(control_frame=True)
            except websocket.WebSocketTimeoutException:
                raise WsTimeout("no WebSocket message within %.1f s" % timeout) from None
            except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError) as e:
                if isinstance(e, socket.timeout):
                    raise WsTimeout("no WebSocket message within %.1f s" % timeout) from None
                return "close", self._record_close(Closed(1006, "connection lost: %s" % e))
            now = time.monotonic()
            if opcode in (websocket.ABNF.OPCODE_BINARY, websocket.ABNF.OPCODE_TEXT):
                data = data.data   # the assembled message (an ABNF frame)
            if opcode == websocket.ABNF.OPCODE_BINARY:
                self._record_frame(now, data)
                return "binary", data
            if opcode == websocket.ABNF.OPCODE_TEXT:
                text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
                with self._cond:
                    self.texts.append(text)
                    self.events.append(("text", text))
                    self._cond.notify_all()
                return "text", text
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                payload = data.data or b""
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                reason = payload[2:].decode("utf-8", "replace")
                closed = self._record_close(Closed(code, reason))
                self._shutdown_socket()
                return "close", closed
            # ping/pong: answered by the library; keep waiting

    def _record_frame(self, now, data):
        with self._cond:
            self.frame_times.append(now)
            self.last_frames.append(data)
            del self.last_frames[:-self.keep_frames]
            self.events.append(("binary", len(data)))
            self._cond.notify_all()

    def _record_close(self, closed):
        with self._cond:
            if self.closed is None:
                self.closed = closed
                self.closed_at = time.monotonic()
                self.events.append(("close", closed.code))
            self._cond.notify_all()
        return self.closed

    def _shutdown_socket(self):
        try:
            self.ws.shutdown()
        except Exception:  # noqa: BLE001 - already gone is fine
            pass

    def frames(self, n, timeout):
        """The next @n binary messages; fails if a text message or a close comes instead."""
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            remaining = deadline - time.monotonic()
            try:
                kind, data = self.recv(max(0.0, remaining))
            except WsTimeout:
                raise WsTimeout("got %d of %d frames within %.1f s (events: %s)"
                                % (len(out), n, timeout, self.describe())) from None
            if kind != "binary":
                raise AssertionError("expected frames, got %s %r after %d frames (events: %s)"
                                     % (kind, data, len(out), self.describe()))
            out.append(data)
        return out

    def until_closed(self, timeout):
        """Receives until the connection closes; returns the Closed. Fails at timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                kind, data = self.recv(max(0.0, deadline - time.monotonic()))
            except WsTimeout:
                raise WsTimeout("connection not closed within %.1f s (events: %s)"
                                % (timeout, self.describe())) from None
            if kind == "close":
                return data

    def error_and_code(self, closed=None):
        """(error dict, close code) of a closed viewer. Fails unless exactly one text message,
        holding a JSON object, came before the close."""
        closed = closed or self.closed
        if len(self.texts) != 1:
            raise AssertionError("expected exactly one text message before the close, got %d: "
                                 "%r (close %s)" % (len(self.texts), self.texts, closed))
        try:
            err = json.loads(self.texts[0])
        except ValueError:
            raise AssertionError("the error message is not JSON: %r" % self.texts[0]) from None
        if not isinstance(err, dict):
            raise AssertionError("the error message is not a JSON object: %r" % self.texts[0])
        return err, closed.code

    # -- background receiving

    def start(self):
        """Receives in a background thread until stop() or the close."""
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set() and self.closed is None:
            try:
                self.recv(0.25)
            except WsTimeout:
                continue
            except Exception as e:  # noqa: BLE001 - any failure ends this viewer
                self._record_close(Closed(1006, "receive failed: %r" % e))
                return

    def wait_frames(self, n, timeout):
        """Waits (background mode) until @n frames in total arrived; returns the count."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.frame_times) < n and self.closed is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return len(self.frame_times)

    def wait_closed(self, timeout):
        """Waits (background mode) for the close; returns the Closed or None."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.closed is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self.closed

    def count_between(self, t0, t1):
        with self._cond:
            return sum(1 for t in self.frame_times if t0 <= t < t1)

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    # -- ending

    def close(self):
        """Closes the connection (a normal close, 1000) and stops receiving."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        try:
            self.ws.settimeout(2)
            if self.closed is None:
                self.ws.send_close()
        except Exception:  # noqa: BLE001 - the server may have gone already
            pass
        try:
            self.ws.close(timeout=1)
        except Exception:  # noqa: BLE001
            pass
        try:
            self.ws.shutdown()
        except Exception:  # noqa: BLE001
            pass

    def describe(self, limit=12):
        with self._cond:
            ev = list(self.events)
        shown = ev[:limit // 2] + ([("...", len(ev) - limit)] if len(ev) > limit else []) \
            + ev[max(limit // 2, len(ev) - limit // 2):]
        return "%d frames, texts %r, closed %r; first/last events %s" % (
            len(self.frame_times), self.texts, self.closed, shown)


def measure_rate(viewer, warmup, duration):
    """Receives synchronously: skips @warmup seconds, then counts frames for @duration.
    Returns (frames per second, frames of the window)."""
    deadline_warm = time.monotonic() + warmup
    while time.monotonic() < deadline_warm:
        try:
            kind, data = viewer.recv(max(0.01, deadline_warm - time.monotonic()))
        except WsTimeout:
            break
        if kind != "binary":
            raise AssertionError("expected frames, got %s %r (%s)" % (kind, data,
                                                                      viewer.describe()))
    frames = []
    t0 = time.monotonic()
    t_end = t0 + duration
    while True:
        remaining = t_end - time.monotonic()
        if remaining <= 0:
            break
        try:
            kind, data = viewer.recv(remaining)
        except WsTimeout:
            break
        if kind != "binary":
            raise AssertionError("the stream stopped: got %s %r after %d frames in the window "
                                 "(%s)" % (kind, data, len(frames), viewer.describe()))
        frames.append(data)
    return len(frames) / duration, frames


# ---- JPEG checks ----------------------------------------------------------------------------

def jpeg_problem(data):
    """None if @data is one valid JPEG, else what is wrong with it."""
    if not isinstance(data, (bytes, bytearray)):
        return "not binary: %r" % type(data)
    if len(data) < 4:
        return "only %d bytes" % len(data)
    if data[:2] != b"\xff\xd8":
        return "does not start with FF D8 (starts %s)" % data[:4].hex()
    if data[-2:] != b"\xff\xd9":
        return "does not end with FF D9 (ends %s)" % data[-4:].hex()
    try:
        Image.open(io.BytesIO(data)).verify()
        im = Image.open(io.BytesIO(data))
        if im.format != "JPEG":
            return "PIL reads it as %s" % im.format
        im.load()
    except Exception as e:  # noqa: BLE001 - PIL raises many kinds
        return "PIL cannot decode it: %r" % e
    return None


def jpeg_size(data):
    return Image.open(io.BytesIO(data)).size


def mean_luma(data):
    return ImageStat.Stat(Image.open(io.BytesIO(data)).convert("L")).mean[0]


def pixels_differ(a, b):
    """Mean absolute difference of the two pictures' luma (0 = identical)."""
    ia = Image.open(io.BytesIO(a)).convert("L")
    ib = Image.open(io.BytesIO(b)).convert("L")
    if ia.size != ib.size:
        return 255.0
    return ImageStat.Stat(ImageChops.difference(ia, ib)).mean[0]


# ---- the test case base ---------------------------------------------------------------------

class CamTestCase(unittest.TestCase):
    """Base of every integration test: starts processes and viewers with cleanups that stop
    them, and checks that camstream exits 0 on SIGTERM at the end of each test."""

    maxDiff = 4000
    rtsp = None            # a class-wide RtspServer, when a subclass starts one in setUpClass

    def note(self, text):
        """A measurement worth seeing in the report (run.py prints it after the result line)."""
        self.__dict__.setdefault("notes", []).append(text)

    @classmethod
    def start_class_rtsp(cls, **kw):
        cls.rtsp = RtspServer(**kw).start()
        cls.addClassCleanup(cls._stop_class_rtsp)

    @classmethod
    def _stop_class_rtsp(cls):
        if cls.rtsp is not None:
            cls.rtsp.stop()
            cls.rtsp.close_pipes()

    def start_rtsp(self, **kw):
        """An RTSP server of this test alone (for tests that kill it)."""
        server = RtspServer(**kw).start()
        self.addCleanup(server.close_pipes)
        self.addCleanup(server.stop)
        return server

    def start_camstream(self, *args, env=None, default_args=True, check_exit=True):
        """Starts camstream; at the end of the test it is sent SIGTERM and must exit 0."""
        cam = Camstream(*args, env=env, default_args=default_args)
        self.addCleanup(self._stop_camstream, cam, check_exit)
        cam.start()
        return cam

    def stop_camstream(self, cam, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Stops camstream within the test: (exit code or None if it had to be killed, seconds)."""
        cam.stopped_by_test = True
        return cam.stop(sig, timeout)

    def assertCleanExit(self, cam, timeout=30.0):
        """Stops @cam with SIGTERM within the test: it must exit 0 and, in a sanitizer build,
        without a report (LeakSanitizer prints at exit). The report is shown on failure."""
        rc, _ = self.stop_camstream(cam, timeout=timeout)
        reports = cam.sanitizer_reports()
        if reports:
            lines = cam.log_text().splitlines()
            first = next(i for i, line in enumerate(lines) if line in reports)
            self.fail("sanitizer report at exit (log %s):\n%s"
                      % (cam.log_path, "\n".join(lines[max(0, first - 2):first + 40])))
        self.assertEqual(rc, 0, "exit code after SIGTERM (None = killed); log %s"
                         % cam.log_path)

    def _stop_camstream(self, cam, check_exit):
        if cam.proc is None or getattr(cam, "stopped_by_test", False):
            cam.close_pipes()
            return
        was_alive = cam.alive()
        rc, elapsed = cam.stop(signal.SIGTERM, STOP_TIMEOUT)
        cam.close_pipes()
        if check_exit:
            if not was_alive:
                self.fail("camstream had already exited (code %s) before the test ended; log %s:"
                          "\n%s" % (rc, cam.log_path, cam.log_text()[-3000:]))
            self.assertEqual(rc, 0, "camstream did not exit 0 within %.0f s of SIGTERM (rc %s, "
                             "None = killed); log %s" % (STOP_TIMEOUT, rc, cam.log_path))

    def write_streams_config(self, streams, mode=0o600):
        """A streams file {"streams": @streams} in a folder of its own (removed at the end of
        the test), for --config: its path."""
        folder = tempfile.mkdtemp(prefix="camstream-cfg-")
        self.addCleanup(shutil.rmtree, folder, True)
        path = os.path.join(folder, "streams.json")
        with open(path, "w") as f:
            json.dump({"streams": streams}, f, indent=2)
        os.chmod(path, mode)
        return path

    def assertJsonError(self, r, status, code, what):
        """@r (an HttpResponse) is the JSON error {"error": text, "code": @code} with
        @status, served as application/json."""
        self.assertEqual(r.status, status, "%s: status (body %r)" % (what, r.body[:600]))
        self.assertEqual(r.content_type, "application/json", "%s: content type" % what)
        doc = json.loads(r.body.decode())
        self.assertEqual(doc.get("code"), code, "%s: error code in %r" % (what, doc))
        self.assertIsInstance(doc.get("error"), str, "%s: no error text in %r" % (what, doc))
        self.assertTrue(doc["error"].strip(), "%s: empty error text" % what)
        return doc

    def viewer(self, cam, path, **kw):
        """A connected Viewer of @path (closed at the end of the test)."""
        try:
            v = Viewer(cam.port, path, **kw)
        except websocket.WebSocketBadStatusException as e:
            self.fail("WebSocket handshake for %s refused: %s" % (path, e))
        self.addCleanup(v.close)
        return v

    def expect_ws_error(self, cam, path, code, close_code, timeout=10.0, viewer=None):
        """Connects to @path (or uses @viewer) and checks the failure contract: exactly one text
        message {"error": non-empty text, "code": @code}, then close @close_code.
        Returns (error dict, seconds from connect to close, viewer)."""
        v = viewer or self.viewer(cam, path)
        closed = v.until_closed(timeout)
        elapsed = v.closed_at - v.connected_at
        err, got_close = v.error_and_code(closed)
        self.assertEqual(err.get("code"), code, "error code for %s: got %r, close %s (%s)"
                         % (path, err, closed, v.describe()))
        self.assertIsInstance(err.get("error"), str, "error message is not text: %r" % (err,))
        self.assertTrue(err["error"].strip(), "error message is empty: %r" % (err,))
        self.assertEqual(got_close, close_code, "close code for %s (error %r): got %s"
                         % (path, err, closed))
        return err, elapsed, v

    def silent_listener(self):
        s = SilentListener()
        self.addCleanup(s.close)
        return s

    def closed_port(self):
        p = ClosedPort()
        self.addCleanup(p.close)
        return p

    def assertJpeg(self, data, msg=""):
        problem = jpeg_problem(data)
        if problem:
            self.fail("invalid JPEG (%d bytes): %s%s" % (len(data), problem,
                                                        ("; " + msg) if msg else ""))

    def assertRateAtLeast(self, rate, minimum, what):
        self.note("%s: %.1f frames/s" % (what, rate))
        self.assertGreaterEqual(rate, minimum, "%s: %.1f frames/s, expected >= %.1f"
                                % (what, rate, minimum))


class SessionCountingCase(CamTestCase):
    """Tests that count the RTSP sessions camstream opens: one RTSP server for the class, and
    each test starts only once the sessions of earlier tests are gone."""

    SESSION_END_TIMEOUT = 5.0
    RTSP_FPS = 25

    @classmethod
    def setUpClass(cls):
        cls.start_class_rtsp(fps=cls.RTSP_FPS)

    def setUp(self):
        # Sessions of an earlier test must be gone, or the counts below mean nothing.
        stats = self.rtsp.wait_sessions(lambda s: s["sessions"] == 0, self.SESSION_END_TIMEOUT)
        self.assertEqual(stats["sessions"], 0, "RTSP sessions left over from an earlier test: %s"
                         % stats)
        self.sessions_before = stats["sessions_total"]

    def new_sessions(self):
        """RTSP sessions opened since the test began."""
        return self.rtsp.stats()["sessions_total"] - self.sessions_before


def b64_credentials(user, password):
    return base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


if __name__ == "__main__":
    sys.exit("camtest is a library; run tests with run.py NAME")

"""Three camstream instances behind Debian's nginx, configured by deploy/nginx/ (the shipped
files, with this test's ports and paths put in): each camera is pulled once for the whole
cluster, counted at the camera; an instance killed moves only its own cameras, whose viewers
come back through nginx within 5 s; the instance restarted takes nothing back mid-stream.
Then the client address in log lines (X-Forwarded-For from a --trusted-proxy), named streams
in a cluster (--cluster-peers), and the follow-up URLs of WHEP and HLS through the balancer.

Cameras are one gst-rtsp-server (rtsp_server.py) with a distinct query per camera on its /h264
mount: every camera is its own RTSP session, and the server counts live sessions per path and
query. nginx runs in the foreground as this user (as root its workers become nobody, which
needs nothing of the files here but the sockets nginx opened for them), loopback only.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

import websocket

import camtest
from camtest import (CamTestCase, Camstream, RtspServer, _log_path, _Process, http_get,
                     run_camstream, wait_until)

DEPLOY = os.path.join(camtest.SOURCE_ROOT, "deploy", "nginx")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CAMERAS = 9
FPS = 10                   # the cameras' rate: 9 of them decode and encode on a shared machine
RECONNECT_DELAY = 0.25     # how long a page waits before it reconnects a dropped viewer
MOVE_DEADLINE = 5.0        # a killed instance's viewers play again within this
GAP_LIMIT = 1.0            # the longest pause between two frames of an undisturbed viewer

# A viewer's connected and left lines name its client: "... connected: URL from ADDR (N viewers)"
# (the lead's "viewer: client address in logs"). The one place to change if the wording does.
FROM_RE = r"from (\S+?)[),;]?(?:\s|$)"

_rtsp = None               # the cameras, for the whole module


def setUpModule():
    global _rtsp
    if not os.access(NGINX, os.X_OK):
        raise unittest.SkipTest("nginx is not installed (apt-get install nginx-light or nginx)")
    _rtsp = RtspServer(width=160, height=120, fps=FPS).start()
    unittest.addModuleCleanup(_stop_rtsp)


def _stop_rtsp():
    if _rtsp is not None:
        _rtsp.stop()
        _rtsp.close_pipes()


_help_text = []


def camstream_knows(option):
    """Whether this camstream's --help lists @option (the lead's cluster options land later)."""
    if not _help_text:
        _help_text.append(run_camstream("--help")[1])
    return option in _help_text[0]


def free_port():
    """A port nobody listens on now (bound and released: instances need theirs before they
    start, since every one is told every other's URL)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def camera_url(tag):
    return _rtsp.url("h264") + "?cam=" + tag


def camera_path(tag):
    """The camera as rtsp_server.py's by_path counts it."""
    return "/h264?cam=" + tag


def enc(url):
    """A camera URL as a page puts it in a query (encodeURIComponent): every viewer of a camera
    sends the same bytes, so nginx hashes them alike."""
    return urllib.parse.quote(url, safe="")


def sessions_by_path():
    return _rtsp.stats()["by_path"]


# ---- nginx ----------------------------------------------------------------------------------

class Nginx(_Process):
    """Debian's nginx in the foreground with deploy/nginx/nginx.conf and camstream.conf, in a
    folder of its own: the upstream's server lines become @upstreams (ports on 127.0.0.1, same
    parameters as the shipped first line), the listen line 127.0.0.1:@port, the access log a
    file here. Its error log is its stderr (the test log)."""

    label = "nginx"

    def __init__(self, upstreams):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="camtest-nginx-")
        self.port = free_port()
        self.access_log = os.path.join(self.dir, "access.log")
        snippet = self._snippet(upstreams)
        with open(os.path.join(self.dir, "camstream.conf"), "w") as f:
            f.write(snippet)
        with open(os.path.join(DEPLOY, "nginx.conf")) as f:
            main = f.read()
        temp = "".join(" %s_temp_path %s;" % (k, os.path.join(self.dir, k))
                       for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        main, n = re.subn(r"^http \{$", "http {\n   " + temp, main, flags=re.M)
        assert n == 1, "deploy/nginx/nginx.conf: no 'http {' line to add the temp paths to"
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(main)
        if os.geteuid() == 0:
            os.chmod(self.dir, 0o755)   # workers run as nobody; they may need the temp paths
        self.argv = [NGINX, "-p", self.dir + "/", "-e", "stderr", "-c", self.conf,
                     "-g", "daemon off; pid %s;" % os.path.join(self.dir, "nginx.pid")]

    def _snippet(self, upstreams):
        with open(os.path.join(DEPLOY, "camstream.conf")) as f:
            text = f.read()
        server_re = re.compile(r"^(\s*)server\s+[\w.\[\]:-]+:\d+(\s[^;]*)?;\s*$", re.M)
        found = server_re.findall(text)
        assert found, "deploy/nginx/camstream.conf: no 'server HOST:PORT ...;' line"
        indent, params = found[0]
        lines = "".join("%sserver 127.0.0.1:%d%s;\n" % (indent, p, params or "")
                        for p in upstreams)
        seen = []

        def replace(_m):   # the first server line becomes ours, the others go
            seen.append(1)
            return lines.rstrip("\n") if len(seen) == 1 else ""
        text = server_re.sub(replace, text)
        text, n = re.subn(r"^(\s*)listen\s+80;", r"\1listen 127.0.0.1:%d;" % self.port, text,
                          flags=re.M)
        assert n == 1, "deploy/nginx/camstream.conf: no 'listen 80;' line"
        text, n = re.subn(r"access_log\s+\S+\s+camstream;",
                          "access_log %s camstream;" % self.access_log, text)
        assert n == 1, "deploy/nginx/camstream.conf: no 'access_log ... camstream;' line"
        return text

    def start(self, timeout=camtest.START_TIMEOUT):
        self._spawn(self.argv, dict(os.environ))

        def accepts():
            if not self.alive():
                return True
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(accepts, timeout)
        if not self.alive():
            raise AssertionError("nginx exited (code %s): %s" % (self.proc.returncode,
                                                                self.log_text()[-3000:]))
        return self

    def stop_and_clean(self):
        self.stop(signal.SIGQUIT)   # graceful: workers finish, then exit
        self.kill()
        self.close_pipes()
        shutil.rmtree(self.dir, ignore_errors=True)

    def upstream_of(self, uri, timeout=5.0):
        """The instance port of the newest access log line for @uri (a path), or None."""
        pattern = re.compile(r'"\w+ %s" \d+ .* upstream=(?:\S+, )*127\.0\.0\.1:(\d+)$'
                             % re.escape(uri))

        def find():
            try:
                with open(self.access_log) as f:
                    lines = f.read().splitlines()
            except OSError:
                return None
            for line in reversed(lines):
                m = pattern.search(line)
                if m:
                    return int(m.group(1))
            return None
        return wait_until(find, timeout)


# ---- viewers that reconnect like a page ------------------------------------------------------

class PageViewer:
    """A viewer of one camera through nginx, in a thread: it reads frames and, when the
    connection ends, waits RECONNECT_DELAY and connects again, as the page does. Records the
    arrival time of every frame, of every end and every connect."""

    def __init__(self, port, kind, path):
        self.port, self.kind, self.path = port, kind, path
        self.frame_times = []
        self.ends = []           # (monotonic time, why)
        self.connects = []       # monotonic times of successful connects
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._sock = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def __repr__(self):
        return "%s %s" % (self.kind, self.path[:90])

    def _frame(self):
        with self._cond:
            self.frame_times.append(time.monotonic())
            self._cond.notify_all()

    def _run(self):
        while not self._stop.is_set():
            try:
                {"ws": self._ws, "flv": self._flv, "mjpeg": self._mjpeg}[self.kind]()
                why = "ended"
            except Exception as e:  # noqa: BLE001 - any end is an end to a page
                why = repr(e)
            if self._stop.is_set():
                return
            with self._cond:
                self.ends.append((time.monotonic(), why))
                self._cond.notify_all()
            self._stop.wait(RECONNECT_DELAY)

    def _connected(self):
        with self._cond:
            self.connects.append(time.monotonic())
            self._cond.notify_all()

    def _ws(self):
        ws = websocket.create_connection("ws://127.0.0.1:%d%s" % (self.port, self.path),
                                         timeout=5, skip_utf8_validation=True)
        self._sock = ws
        self._connected()
        try:
            while not self._stop.is_set():
                try:
                    opcode, data = ws.recv_data_frame(control_frame=True)
                except websocket.WebSocketTimeoutException:
                    raise AssertionError("no message for 5 s") from None
                if opcode == websocket.ABNF.OPCODE_BINARY:
                    self._frame()
                elif opcode == websocket.ABNF.OPCODE_CLOSE:
                    return
                elif opcode == websocket.ABNF.OPCODE_TEXT:
                    raise AssertionError("text message: %r" % data.data[:200])
        finally:
            ws.shutdown()

    def _http(self):
        """The streamed body of GET self.path, as HTTP/1.0 so nginx sends it as it comes,
        without chunks: yields the pieces read."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self._sock = s
        try:
            s.sendall(("GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n"
                       % (self.path, self.port)).encode())
            head = b""
            while b"\r\n\r\n" not in head:
                piece = s.recv(65536)
                if not piece:
                    raise AssertionError("connection closed in the answer's head: %r" % head)
                head += piece
            head, body = head.split(b"\r\n\r\n", 1)
            status = head.split(b"\r\n", 1)[0]
            if b" 200 " not in status + b" ":
                raise AssertionError("answer %r" % head[:300])
            self._connected()
            yield head, body
            while not self._stop.is_set():
                piece = s.recv(65536)
                if not piece:
                    return
                yield head, piece
        finally:
            s.close()

    def _flv(self):
        buf = b""
        need_header = True
        for _head, piece in self._http():
            buf += piece
            if need_header:
                if len(buf) < 13:
                    continue
                if buf[:3] != b"FLV":
                    raise AssertionError("not FLV: %r" % buf[:16])
                buf = buf[13:]
                need_header = False
            while len(buf) >= 11:
                size = int.from_bytes(buf[1:4], "big")
                if len(buf) < 11 + size + 4:
                    break
                if buf[0] == 9:
                    self._frame()
                buf = buf[11 + size + 4:]

    def _mjpeg(self):
        boundary = None
        tail = b""
        for head, piece in self._http():
            if boundary is None:
                m = re.search(rb"boundary=\"?([^\";\r\n]+)", head)
                if not m:
                    raise AssertionError("no boundary in %r" % head[:300])
                boundary = b"--" + m.group(1)
            data = tail + piece
            for _ in range(data.count(boundary)):
                self._frame()
            tail = data[-(len(boundary) - 1):]

    # -- what the test asks

    def wait_frames(self, n, timeout, after=0.0):
        """Waits until @n frames arrived after monotonic time @after; returns how many did."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = sum(1 for t in self.frame_times if t > after)
                remaining = deadline - time.monotonic()
                if got >= n or remaining <= 0:
                    return got
                self._cond.wait(remaining)

    def wait_end(self, after, timeout):
        """The first end after @after, or None at the deadline."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                ends = [e for e in self.ends if e[0] > after]
                remaining = deadline - time.monotonic()
                if ends or remaining <= 0:
                    return ends[0] if ends else None
                self._cond.wait(remaining)

    def first_frame_after(self, t):
        with self._cond:
            return next((f for f in self.frame_times if f > t), None)

    def longest_gap(self, t0, t1):
        with self._cond:
            times = [t0] + [t for t in self.frame_times if t0 <= t <= t1] + [t1]
        return max(b - a for a, b in zip(times, times[1:]))

    def close(self):
        self._stop.set()
        sock = self._sock
        if sock is not None:
            try:
                (sock.sock if hasattr(sock, "sock") else sock).shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):
                pass
        self._thread.join(5)


# ---- a cluster ---------------------------------------------------------------------------------

class ClusterCase(CamTestCase):
    """Three instances and nginx for the class. Subclasses say what else instances get."""

    SIZE = 3

    @classmethod
    def instance_args(cls, i):
        """Extra arguments of instance @i (1-based)."""
        return []

    @classmethod
    def setUpClass(cls):
        cls.ports = [free_port() for _ in range(cls.SIZE)]
        cls.peers = ",".join("http://127.0.0.1:%d" % p for p in cls.ports)
        cls.instances = [None] * cls.SIZE
        cls.addClassCleanup(cls._stop_instances)
        for i in range(1, cls.SIZE + 1):
            cls.start_instance(i)
        cls.nginx = Nginx(cls.ports)
        cls.addClassCleanup(cls.nginx.stop_and_clean)
        cls.nginx.start()

    @classmethod
    def start_instance(cls, i):
        args = ["--port", cls.ports[i - 1], "--host", "127.0.0.1", "--web-root",
                camtest.WEB_ROOT] + [str(a) for a in cls.instance_args(i)]
        for option in ("--rtmp-port", "--webrtc-port"):
            if option not in args:
                args += [option, "off"]
        cam = Camstream(*args, default_args=False)
        cam.label = "camstream-%d" % i
        cls.instances[i - 1] = cam
        cam.start()
        return cam

    @classmethod
    def _stop_instances(cls):
        for cam in cls.instances:
            if cam is not None and cam.proc is not None:
                cam.stop()
                cam.close_pipes()

    def instance_index(self, port):
        return self.ports.index(port) + 1

    def sources_of(self, i):
        """The source labels of instance @i's /metrics (its running cameras)."""
        r = http_get(self.ports[i - 1], "/metrics", timeout=5)
        self.assertEqual(r.status, 200, "/metrics of instance %d" % i)
        return set(re.findall(r'^camstream_source_up\{source="([^"]*)"', r.body.decode(),
                              re.M))

    def where(self, tags):
        """{tag: [instances running camera @tag]} from every live instance's /metrics."""
        found = {t: [] for t in tags}
        for i, cam in enumerate(self.instances, 1):
            if not cam.alive():
                continue
            running = self.sources_of(i)
            for t in tags:
                if camera_url(t) in running:
                    found[t].append(i)
        return found

    def wait_one_session_each(self, tags, timeout, what):
        """Waits until the camera counts exactly one live session for each of @tags."""
        last = {}

        def check():
            last.clear()
            last.update(sessions_by_path())
            return all(last.get(camera_path(t)) == 1 for t in tags)
        ok = wait_until(check, timeout, interval=0.1)
        self.assertTrue(ok, "%s: sessions at the camera by path %s (want 1 for each of %s)"
                        % (what, last, [camera_path(t) for t in tags]))
        return last

    def tag_on(self, prefix, wanted):
        """A camera tag (PREFIXn) whose URL nginx sends to one of the instances @wanted:
        asks nginx for /api/streams/probe-TAG?rtsp_url=URL (camstream answers 404) and reads
        the instance that answered from the access log."""
        seen = {}
        for n in range(60):
            tag = "%s%d" % (prefix, n)
            uri = "/api/streams/probe-" + tag
            http_get(self.nginx.port, uri + "?rtsp_url=" + enc(camera_url(tag)), timeout=5)
            port = self.nginx.upstream_of(uri)
            self.assertIsNotNone(port, "no access log line for %s" % uri)
            seen[tag] = self.instance_index(port)
            if seen[tag] in wanted:
                return tag
        self.fail("no camera tag of 60 hashes to instances %s: %s" % (wanted, seen))

    def page_viewer(self, kind, path):
        v = PageViewer(self.nginx.port, kind, path)
        self.addCleanup(v.close)
        return v


# ---- 9 cameras x 2 viewers, a kill and a restart ----------------------------------------------

class Failover(ClusterCase):
    """One story in three steps (the tests run in name order and share the viewers)."""

    TAGS = ["c%d" % n for n in range(1, CAMERAS + 1)]
    viewers = {}            # tag -> [PageViewer, PageViewer]
    victim = None           # the instance killed in step 2
    moved = ()              # the tags it ran
    broken = None           # the step that failed, for the later ones to skip

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.viewers = {}
        cls.addClassCleanup(cls._close_viewers)

    @classmethod
    def _close_viewers(cls):
        for pair in cls.viewers.values():
            for v in pair:
                v.close()

    def setUp(self):
        if type(self).broken:
            self.skipTest("step %s failed" % type(self).broken)

    def run(self, result=None):
        failures = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > failures:
            type(self).broken = self._testMethodName
        return out

    def test_1_each_camera_is_pulled_once_and_the_cameras_spread(self):
        sessions_before = _rtsp.stats()["sessions_total"]
        for n, tag in enumerate(self.TAGS):
            q = enc(camera_url(tag))
            second = ("flv", "/flv?rtsp_url=" + q) if n % 2 else ("mjpeg", "/mjpeg?rtsp_url=" + q)
            # Failover's viewers live across its tests: closed by the class cleanup
            type(self).viewers[tag] = [PageViewer(self.nginx.port, "ws",
                                                  "/ws/stream?rtsp_url=" + q),
                                       PageViewer(self.nginx.port, *second)]
        for tag, pair in self.viewers.items():
            for v in pair:
                self.assertGreaterEqual(v.wait_frames(3, timeout=20), 3,
                                        "%s: no frames through nginx (ends %s)" % (v, v.ends))
        self.wait_one_session_each(self.TAGS, 5, "9 cameras x 2 viewers")
        self.assertEqual(_rtsp.stats()["sessions_total"] - sessions_before, CAMERAS,
                         "sessions opened at the camera for 9 cameras")
        where = self.where(self.TAGS)
        self.assertTrue(all(len(w) == 1 for w in where.values()),
                        "each camera runs on exactly one instance: %s" % where)
        used = {w[0] for w in where.values()}
        self.note("cameras per instance: %s" % {i: sum(1 for w in where.values() if w == [i])
                                                for i in range(1, self.SIZE + 1)})
        self.assertGreater(len(used), 1, "all 9 cameras on one instance: %s" % where)
        self.assertTrue(all(not v.ends for pair in self.viewers.values() for v in pair),
                        "a viewer was dropped: %s" % [(v, v.ends) for pair in
                                                      self.viewers.values() for v in pair
                                                      if v.ends])

    def test_2_killing_an_instance_moves_only_its_cameras_within_5_s(self):
        where = self.where(self.TAGS)
        counts = {i: [t for t, w in where.items() if w == [i]] for i in range(1, self.SIZE + 1)}
        victim = max(counts, key=lambda i: len(counts[i]))
        moved = counts[victim]
        type(self).victim, type(self).moved = victim, moved
        stayed = [t for t in self.TAGS if t not in moved]
        t_kill = time.monotonic()
        self.instances[victim - 1].kill()
        self.note("killed instance %d with %d cameras" % (victim, len(moved)))
        for tag in moved:
            for v in self.viewers[tag]:
                end = v.wait_end(t_kill, MOVE_DEADLINE)
                self.assertIsNotNone(end, "%s: its connection did not end when instance %d "
                                     "was killed" % (v, victim))
        worst = 0.0
        for tag in moved:
            for v in self.viewers[tag]:
                left = MOVE_DEADLINE - (time.monotonic() - t_kill)
                v.wait_frames(2, max(0.0, left), after=t_kill)
                first = v.first_frame_after(v.ends[-1][0] if v.ends else t_kill)
                self.assertIsNotNone(first, "%s: no frame within %.0f s of the kill (ends %s, "
                                     "connects %d)" % (v, MOVE_DEADLINE, v.ends,
                                                       len(v.connects)))
                worst = max(worst, first - t_kill)
        self.note("moved viewers playing again %.2f s after the kill at worst" % worst)
        self.assertLessEqual(worst, MOVE_DEADLINE)
        for tag in stayed:
            for v in self.viewers[tag]:
                self.assertFalse(v.ends, "%s: its camera was not on instance %d, yet it was "
                                 "dropped: %s" % (v, victim, v.ends))
        # the killed instance's sessions end at the camera when the kernel closes its sockets
        self.wait_one_session_each(self.TAGS, 5, "after the kill")
        where = self.where(self.TAGS)
        self.assertTrue(all(len(w) == 1 and w[0] != victim for w in where.values()),
                        "each camera on one live instance: %s" % where)

    def test_3_a_restarted_instance_takes_nothing_back_mid_stream(self):
        victim = self.victim
        self.assertIsNotNone(victim)
        ends_before = {v: len(v.ends) for pair in self.viewers.values() for v in pair}
        self.instances[victim - 1].close_pipes()
        t0 = time.monotonic()
        self.start_instance(victim)
        # watch for a few seconds, longer than nginx's fail_timeout (5 s) is not needed:
        # nothing new connects, so nothing can be sent back
        deadline = t0 + 3.0
        threading.Event().wait(max(0.0, deadline - time.monotonic()))   # a window to watch
        t1 = time.monotonic()
        for pair in self.viewers.values():
            for v in pair:
                self.assertEqual(len(v.ends), ends_before[v], "%s: dropped after instance %d "
                                 "restarted: %s" % (v, victim, v.ends[ends_before[v]:]))
                gap = v.longest_gap(t0, t1)
                self.assertLessEqual(gap, GAP_LIMIT, "%s: a pause of %.2f s while instance %d "
                                     "restarted" % (v, gap, victim))
        self.wait_one_session_each(self.TAGS, 2, "after the restart")
        self.assertEqual(self.sources_of(victim), set(),
                         "the restarted instance %d runs cameras nobody asked it for" % victim)


# ---- X-Forwarded-For ----------------------------------------------------------------------------

class ForwardedFor(ClusterCase):
    """Instances 1 and 2 believe nginx (--trusted-proxy 127.0.0.1), instance 3 believes nobody.
    The client connects to nginx from 127.0.0.2 and sends a forged X-Forwarded-For: nginx
    appends 127.0.0.2, and a believing instance logs that, the rightmost address its trusted
    proxy did not add, never the forged one; the other logs nginx's own address."""

    CLIENT = "127.0.0.2"
    FORGED = "198.51.100.7"

    @classmethod
    def setUpClass(cls):
        if not camstream_knows("--trusted-proxy"):
            raise unittest.SkipTest("this camstream has no --trusted-proxy yet (the lead's "
                                    "\"viewer: client address in logs\")")
        super().setUpClass()

    @classmethod
    def instance_args(cls, i):
        return ["--trusted-proxy", "127.0.0.1"] if i != 3 else []

    def view_from_client(self, tag):
        """A WebSocket viewer of camera @tag through nginx, connecting from CLIENT with a
        forged X-Forwarded-For; returns once it has frames, closed at the end of the test."""
        sock = socket.socket()
        sock.bind((self.CLIENT, 0))
        sock.settimeout(10)
        sock.connect(("127.0.0.1", self.nginx.port))
        ws = websocket.create_connection(
            "ws://127.0.0.1:%d/ws/stream?rtsp_url=%s" % (self.nginx.port, enc(camera_url(tag))),
            socket=sock, timeout=10, header=["X-Forwarded-For: " + self.FORGED])
        self.addCleanup(ws.close)
        opcode, _ = ws.recv_data_frame(control_frame=True)
        self.assertEqual(opcode, websocket.ABNF.OPCODE_BINARY, "first message of the viewer")
        return ws

    def logged_addresses(self, i, tag, timeout=5.0):
        """The "from ADDR" addresses of instance @i's log lines about camera @tag."""
        cam = self.instances[i - 1]
        needle = "cam=" + tag

        def found():
            return [m.group(1) for line in cam.log_text().splitlines() if needle in line
                    for m in [re.search(FROM_RE, line)] if m]
        return wait_until(found, timeout) or []

    def check_logged(self, instances, expected):
        tag = self.tag_on("xff-%s-" % expected.replace(".", "-"), instances)
        self.view_from_client(tag)
        i = self.instance_index(self.nginx.upstream_of("/api/streams/probe-" + tag))
        addresses = self.logged_addresses(i, tag)
        self.assertTrue(addresses, "instance %d logged no viewer line with \"from ADDR\" for "
                        "cam=%s:\n%s" % (i, tag, self.instances[i - 1].log_text()[-2000:]))
        self.assertEqual(set(addresses), {expected}, "instance %d: client addresses logged for "
                         "cam=%s" % (i, tag))
        self.assertNotIn(self.FORGED, self.instances[i - 1].log_text(),
                         "the forged X-Forwarded-For reached a log line")

    def test_with_trusted_proxy_the_log_names_the_client_nginx_saw(self):
        self.check_logged({1, 2}, self.CLIENT)

    def test_without_trusted_proxy_the_log_names_the_proxy(self):
        self.check_logged({3}, "127.0.0.1")


# ---- named streams in a cluster ---------------------------------------------------------------

def start_publisher(url, log_label):
    """ffmpeg pushing a 160x120 test picture at 10 fps (H.264, a key picture a second) to
    @url; returns (process, log path)."""
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        raise unittest.SkipTest("no ffmpeg")
    log_path = _log_path(log_label)
    argv = [ffmpeg, "-hide_banner", "-nostats", "-nostdin", "-loglevel", "info", "-re",
            "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10", "-c:v", "libx264",
            "-preset", "ultrafast", "-tune", "zerolatency", "-g", "10", "-pix_fmt", "yuv420p",
            "-f", "flv", url]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=log, start_new_session=True)
    return proc, log_path


def stop_process(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


class NamedStreams(ClusterCase):
    """--cluster-peers: the same streams file on every instance; an always-on stream runs on its
    owner only, a published key is taken by its owner only, and either plays through nginx and
    at every instance (non-owners are fed by the owner) with one session at the camera."""

    @classmethod
    def setUpClass(cls):
        if not camstream_knows("--cluster-peers"):
            raise unittest.SkipTest("this camstream has no --cluster-peers yet (the lead's "
                                    "\"cluster:\" commits)")
        cls.cfg_dir = tempfile.mkdtemp(prefix="camtest-cluster-cfg-")
        cls.addClassCleanup(shutil.rmtree, cls.cfg_dir, True)
        cls.config = os.path.join(cls.cfg_dir, "streams.json")
        with open(cls.config, "w") as f:
            json.dump({"streams": [
                {"name": "yard", "rtsp_url": camera_url("yard"), "always_on": True},
                {"name": "pub1", "publish": True}]}, f)
        cls.rtmp_ports = [free_port() for _ in range(cls.SIZE)]
        super().setUpClass()
        if "cluster" not in http_get(cls.ports[0], "/api/streams", timeout=5).json():
            raise unittest.SkipTest("this camstream's /api/streams has no \"cluster\" yet (the "
                                    "lead's \"cluster:\" commits for named streams)")

    @classmethod
    def instance_args(cls, i):
        return ["--cluster-peers", cls.peers, "--cluster-self", i, "--config", cls.config,
                "--rtmp-port", cls.rtmp_ports[i - 1], "--rtmp-grace", 1]

    def streams_of(self, i):
        r = http_get(self.ports[i - 1], "/api/streams", timeout=5)
        self.assertEqual(r.status, 200, "/api/streams of instance %d" % i)
        return r.json()

    def owner_of(self, name):
        """The owner instance of @name: every instance must say the same."""
        owners = set()
        for i in range(1, self.SIZE + 1):
            doc = self.streams_of(i)
            self.assertEqual(doc.get("cluster"), {"self": i, "size": self.SIZE},
                             "instance %d's cluster" % i)
            st = next((s for s in doc["streams"] if s["name"] == name), None)
            self.assertIsNotNone(st, "instance %d does not list %s: %s" % (i, name, doc))
            owners.add(st["owner"])
            self.assertEqual(st["owner_url"], "http://127.0.0.1:%d" % self.ports[st["owner"] - 1])
            self.assertEqual(st["local"], st["owner"] == i, "%s at instance %d: %s"
                             % (name, i, st))
        self.assertEqual(len(owners), 1, "instances disagree on %s's owner: %s" % (name, owners))
        return owners.pop()

    def view_everywhere(self, name):
        """FLV and JPEG viewers of @name through nginx, and a JPEG viewer at each instance
        directly: all must get frames."""
        viewers = [self.page_viewer("flv", "/live/%s.flv" % name),
                   self.page_viewer("ws", "/ws/stream?name=" + name)]
        for port in self.ports:
            v = PageViewer(port, "ws", "/ws/stream?name=" + name)
            self.addCleanup(v.close)
            viewers.append(v)
        for v in viewers:
            self.assertGreaterEqual(v.wait_frames(3, timeout=15), 3, "%s (port %d): no frames "
                                    "(ends %s)" % (v, v.port, v.ends))
        return viewers

    def test_an_always_on_stream_is_pulled_once_and_plays_at_every_instance(self):
        self.wait_one_session_each(["yard"], 15, "always-on yard before any viewer")
        owner = self.owner_of("yard")
        self.view_everywhere("yard")
        self.wait_one_session_each(["yard"], 2, "yard with viewers at every instance")
        self.assertEqual(self.where(["yard"])["yard"], [owner], "instances pulling the camera")

    def test_a_key_is_published_to_its_owner_only_and_plays_at_every_instance(self):
        owner = self.owner_of("pub1")
        other = 1 if owner != 1 else 2
        refused, log_path = start_publisher(self.instances[other - 1].rtmp_url("pub1"),
                                            "ffmpeg-refused")
        self.addCleanup(stop_process, refused)
        try:
            refused.wait(15)
        except subprocess.TimeoutExpired:
            self.fail("instance %d took the publish of pub1, owned by %d" % (other, owner))
        with open(log_path, "rb") as f:
            said = f.read().decode("utf-8", "replace")
        self.assertNotEqual(refused.returncode, 0, "ffmpeg's exit after the refusal")
        self.assertIn("instance %d" % owner, said, "the refusal names the owner")
        publisher, log_path = start_publisher(self.instances[owner - 1].rtmp_url("pub1"),
                                              "ffmpeg-publish")
        self.addCleanup(stop_process, publisher)
        self.view_everywhere("pub1")
        self.assertIsNone(publisher.poll(), "the owner's publisher ended")
        for i in range(1, self.SIZE + 1):
            r = http_get(self.ports[i - 1], "/metrics", timeout=5)
            m = re.search(r"^camstream_rtmp_publishers (\d+)$", r.body.decode(), re.M)
            self.assertEqual(int(m.group(1)), 1 if i == owner else 0,
                             "publishers at instance %d (owner %d)" % (i, owner))


    def test_the_documented_score_gives_the_owners_camstream_reports(self):
        peers = ["http://127.0.0.1:%d" % p for p in self.ports]
        for name in ("yard", "pub1"):
            self.assertEqual(documented_owner(name, peers), self.owner_of(name), name)

    def test_an_unknown_key_at_another_instance_is_404_at_once(self):
        peers = ["http://127.0.0.1:%d" % p for p in self.ports]
        name = next(n for n in ("nokey%d" % k for k in range(100))
                    if documented_owner(n, peers) != 1)
        for path in ("/live/%s.flv" % name, "/snapshot?name=" + name):
            t0 = time.monotonic()
            r = http_get(self.ports[0], path, timeout=10)
            took = time.monotonic() - t0
            self.assertEqual(r.status, 404, "%s at a non-owner: %s %r" % (path, r.status,
                                                                       r.body[:300]))
            self.assertLess(took, 5.0, "%s: the relay retried instead of failing" % path)
        # a name that is no stream name is not relayed anywhere
        r = http_get(self.ports[0], "/snapshot?name=" + urllib.parse.quote("../x?q=1", safe=""),
                     timeout=10)
        self.assertEqual(r.status, 404, r.body[:300])

    def test_api_changes_are_refused_in_a_cluster(self):
        for method, path, body in (("POST", "/api/streams", {"name": "n1", "rtsp_url": "demo:"}),
                                   ("DELETE", "/api/streams/yard", None),
                                   ("POST", "/api/streams/yard/stop", None)):
            r = http_request(self.nginx.port, method, path, body)
            self.assertEqual(r.status, 409, "%s %s: %s %r" % (method, path, r.status, r.body))
            self.assertEqual(r.json().get("code"), "cluster_config", r.body)


def http_request(port, method, path, body=None, timeout=10.0):
    """One request with an optional JSON @body, on its own connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                     headers={"Content-Type": "application/json"} if body is not None else {})
        r = conn.getresponse()
        return camtest.HttpResponse(r.status, {k.lower(): v for k, v in r.getheaders()},
                                    r.read())
    finally:
        conn.close()


def documented_owner(name, peers):
    """docs/DEPLOY.md's owner function, as written there (1-based)."""
    M = (1 << 64) - 1

    def score(url):
        h = 0xcbf29ce484222325
        for b in name.encode() + b"\0" + url.encode():
            h = ((h ^ b) * 0x100000001b3) & M
        h = (h + 0x9e3779b97f4a7c15) & M
        h = ((h ^ (h >> 30)) * 0xbf58476d1ce4e5b9) & M
        h = ((h ^ (h >> 27)) * 0x94d049bb133111eb) & M
        return h ^ (h >> 31)
    return max(range(len(peers)), key=lambda i: score(peers[i])) + 1


# ---- the follow-up URLs of HLS and WHEP through the balancer -----------------------------------

class FollowUpUrls(ClusterCase):
    """An HLS playlist's parts and a WHEP session's Location go back through nginx: they must
    reach the instance that made them, so they carry the balancer's key (the path's name for
    /live/NAME/..., ?rtsp_url= or ?name= otherwise)."""

    @classmethod
    def setUpClass(cls):
        cls.cfg_dir = tempfile.mkdtemp(prefix="camtest-cluster-cfg-")
        cls.addClassCleanup(shutil.rmtree, cls.cfg_dir, True)
        cls.config = os.path.join(cls.cfg_dir, "streams.json")
        with open(cls.config, "w") as f:
            json.dump({"streams": [{"name": "porch", "rtsp_url": camera_url("porch")}]}, f)
        super().setUpClass()

    @classmethod
    def instance_args(cls, i):
        args = ["--webrtc-port", 0]
        if camstream_knows("--cluster-peers"):
            args += ["--cluster-peers", cls.peers, "--cluster-self", i]
        return args + ["--config", cls.config]

    def hls_uris(self, playlist_path):
        """The part, segment and map URIs of the playlist at @playlist_path (through nginx),
        resolved against it."""
        r = http_get(self.nginx.port, playlist_path, timeout=20)
        self.assertEqual(r.status, 200, "%s: %r" % (playlist_path, r.body[:300]))
        text = r.body.decode()
        uris = re.findall(r'URI="([^"]+)"', text) + [
            line for line in text.splitlines() if line and not line.startswith("#")]
        uris = [u for u in uris if not u.endswith("gap.mp4")]
        self.assertTrue(uris, "no URIs in %s:\n%s" % (playlist_path, text))
        return [urllib.parse.urljoin(playlist_path, u) for u in uris], text

    def fetch_all(self, uris):
        """Every complete part, segment and map answers 200 through nginx (the hinted part is
        left out: it is held until it exists)."""
        for u in uris[:8]:
            r = http_get(self.nginx.port, u, timeout=10)
            self.assertEqual(r.status, 200, "%s through nginx: %s %r" % (u, r.status,
                                                                         r.body[:200]))

    def test_a_named_stream_s_hls_parts_reach_its_instance(self):
        uris, text = self.hls_uris("/live/porch.m3u8")
        hint = re.search(r'#EXT-X-PRELOAD-HINT:.*URI="([^"]+)"', text)
        held = {urllib.parse.urljoin("/live/porch.m3u8", hint.group(1))} if hint else set()
        self.fetch_all([u for u in uris if u not in held])

    def test_an_ad_hoc_camera_s_hls_parts_carry_its_key(self):
        path = "/hls/index.m3u8?rtsp_url=" + enc(camera_url("hls"))
        uris, text = self.hls_uris(path)
        hint = re.search(r'#EXT-X-PRELOAD-HINT:.*URI="([^"]+)"', text)
        held = {urllib.parse.urljoin(path, hint.group(1))} if hint else set()
        keyed = [u for u in uris if "rtsp_url=" in u]
        if not keyed:
            self.skipTest("the playlist's URIs carry no ?rtsp_url= yet (the lead's change): %s"
                          % uris[:3])
        self.assertEqual(keyed, uris, "every URI carries the key")
        self.assertTrue(all(("rtsp_url=" + enc(camera_url("hls"))) in u for u in uris),
                        "the key as the playlist request had it: %s" % uris[:3])
        self.fetch_all([u for u in uris if u not in held])

    def whep_location(self, offer_path, key):
        from whep_client import offer_sdp, post_offer, request
        sdp, _, _ = offer_sdp(audio=False)
        r = post_offer(self.nginx.port, offer_path, sdp)
        self.assertEqual(r.status, 201, "POST %s through nginx: %r" % (offer_path, r.body[:300]))
        location = r.headers.get("location", "")
        self.assertTrue(location.startswith("/whep/session/"), "Location %r" % location)
        if key not in location:
            self.skipTest("the Location carries no %s yet (the lead's change): %r"
                          % (key, location))
        r = request(self.nginx.port, "DELETE", location)
        self.assertEqual(r.status, 200, "DELETE %s through nginx: %s %r"
                         % (location, r.status, r.body[:200]))

    def test_a_whep_session_of_an_ad_hoc_camera_is_hung_up_through_nginx(self):
        q = enc(camera_url("whep"))
        self.whep_location("/whep?rtsp_url=" + q, "rtsp_url=" + q)

    def test_a_whep_session_of_a_named_stream_is_hung_up_through_nginx(self):
        self.whep_location("/api/streams/porch/whep", "name=porch")

"""GET /mjpeg?rtsp_url= answers multipart/x-mixed-replace: one JPEG per part, for a bare <img src>.
Same options and sharing as the WebSocket, latest frame wins (a slow reader gets fewer frames and
costs no memory), the next part's headers follow each JPEG at once (Chrome shows a part only when
they arrive), the stream outlives lws' 5 s HTTP timeout, and it ends when the source does or the
server stops. Failures before the first picture are JSON {"error","code"}."""

import os
import re
import signal
import time
import urllib.parse

from camtest import (SessionCountingCase, StreamClient, jpeg_problem, jpeg_size,
                     stream_path, tcp_send_queue, wait_until)

FPS = 25
OPEN_TIMEOUT = 3.0
READ_TIMEOUT = 2.0
SESSION_END_TIMEOUT = 5.0


def mjpeg_path(rtsp_url=None, encode=True, **opts):
    return "/mjpeg" + stream_path(rtsp_url, encode, **opts)[len("/ws/stream"):]


class MjpegTimeout(AssertionError):
    pass


class MjpegClient(StreamClient):
    """A /mjpeg client on a plain socket, so a test decides when (and whether) it reads. Parses
    the body part by part: a part ends at its Content-Length when it has one, else at the next
    boundary. Records when each part's header block and body were complete."""

    Timeout = MjpegTimeout

    def __init__(self, port, path, rcvbuf=None, timeout=10.0):
        super().__init__(port, ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: image/*\r\n\r\n"
                                % (path, port)).encode(), rcvbuf, timeout)
        self.buf = b""
        self.eof = False
        self.eof_at = None
        self.status = None
        self.headers = {}
        self.body = b""           # the whole body of a non-multipart answer (an error)
        self.delimiter = None
        self.state = "delimiter"
        self.part_headers = None
        self.parts = []           # (headers dict, JPEG bytes, monotonic time it was complete)
        self.header_times = []    # monotonic times each part's header block was complete
        self.received = 0

    def _recv(self, deadline):
        data = self._recv_raw(deadline)
        if not data:
            self.eof = True
            self.eof_at = time.monotonic()
            return False
        self.received += len(data)
        self.buf += data
        return True

    def read_head(self, timeout=15.0):
        """Reads the response head; a non-multipart answer's body too. Returns the status."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._recv(deadline):
                raise AssertionError("connection closed before the response head: %r"
                                     % self.buf[:300])
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        ctype = self.headers.get("content-type", "")
        m = re.search(r"boundary=\"?([^\";]+)\"?", ctype)
        if ctype.startswith("multipart/x-mixed-replace") and m:
            self.delimiter = b"--" + m.group(1).encode()
            self._parse(time.monotonic())
            return self.status
        length = int(self.headers.get("content-length", "0"))
        while len(self.buf) < length:
            if not self._recv(deadline):
                break
        self.body = self.buf[:length]
        return self.status

    def _parse(self, now):
        while True:
            if self.state == "delimiter":
                lead = 2 if self.buf.startswith(b"\r\n") else 0
                need = lead + len(self.delimiter) + 2
                if len(self.buf) < need:
                    return
                if self.buf[lead:lead + len(self.delimiter)] != self.delimiter:
                    raise AssertionError("expected the boundary, got %r" % self.buf[:80])
                after = self.buf[lead + len(self.delimiter):need]
                self.buf = self.buf[need:]
                if after == b"--":
                    self.state = "closed"
                    return
                if after != b"\r\n":
                    raise AssertionError("boundary line followed by %r" % after)
                self.state = "headers"
            elif self.state == "headers":
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                hdrs = {}
                for line in self.buf[:end].decode("latin-1").split("\r\n"):
                    if line:
                        name, _, value = line.partition(":")
                        hdrs[name.strip().lower()] = value.strip()
                self.buf = self.buf[end + 4:]
                self.part_headers = hdrs
                self.header_times.append(now)
                self.state = "body"
            elif self.state == "body":
                length = self.part_headers.get("content-length")
                if length is not None:
                    n = int(length)
                    if len(self.buf) < n:
                        return
                else:
                    n = self.buf.find(b"\r\n" + self.delimiter)
                    if n < 0:
                        return
                self.parts.append((self.part_headers, self.buf[:n], now))
                self.buf = self.buf[n:]
                self.state = "delimiter"
            else:
                return

    def read_parts(self, n, timeout):
        """Reads until @n parts in total arrived; returns the count (fewer at EOF)."""
        deadline = time.monotonic() + timeout
        while len(self.parts) < n and not self.eof:
            if self._recv(deadline):
                self._parse(time.monotonic())
        return len(self.parts)

    def read_for(self, seconds):
        """Reads for @seconds (or until EOF); returns the parts that arrived meanwhile."""
        first = len(self.parts)
        deadline = time.monotonic() + seconds
        while not self.eof:
            try:
                if self._recv(deadline):
                    self._parse(time.monotonic())
            except MjpegTimeout:
                break
        return self.parts[first:]

    def read_until_eof(self, timeout):
        """Reads until the server ends the response; returns when (None on timeout)."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            try:
                if self._recv(deadline):
                    self._parse(time.monotonic())
            except MjpegTimeout:
                return None
        return self.eof_at

    def describe(self):
        return "status %s, %d parts, %d bytes, eof %s, headers %r" % (
            self.status, len(self.parts), self.received, self.eof, self.headers)


class MjpegCase(SessionCountingCase):
    RTSP_FPS = FPS

    def client(self, cam, path, **kw):
        c = MjpegClient(cam.port, path, **kw)
        self.addCleanup(c.close)
        return c

    def stream(self, cam, path, parts=3, timeout=20.0, **kw):
        """A client that got the multipart head and @parts parts."""
        c = self.client(cam, path, **kw)
        self.assertEqual(c.read_head(timeout), 200, "GET %s: %s %r" % (path, c.describe(),
                                                                        c.body[:300]))
        got = c.read_parts(parts, timeout)
        self.assertGreaterEqual(got, parts, "GET %s: %s" % (path, c.describe()))
        return c

    def expect_error(self, cam, path, status, code, timeout=20.0):
        c = self.client(cam, path)
        t0 = time.monotonic()
        got = c.read_head(timeout)
        elapsed = time.monotonic() - t0
        self.assertEqual(got, status, "GET %s: %s, body %r" % (path, c.describe(), c.body[:300]))
        self.assertTrue(c.headers.get("content-type", "").startswith("application/json"),
                        "GET %s: error content type %r" % (path, c.headers))
        import json
        doc = json.loads(c.body)
        self.assertEqual(doc.get("code"), code, "GET %s: error %r" % (path, doc))
        self.assertTrue(str(doc.get("error", "")).strip(), "GET %s: no message %r" % (path, doc))
        return doc, elapsed


class Parts(MjpegCase):
    def test_response_is_multipart_x_mixed_replace_with_a_boundary(self):
        cam = self.start_camstream()
        c = self.stream(cam, mjpeg_path(self.rtsp.url("h264")))
        self.assertRegex(c.headers["content-type"],
                         r"^multipart/x-mixed-replace;\s*boundary=\S+$")
        self.assertIn("no-store", c.headers.get("cache-control", ""))

    def test_every_part_is_a_jpeg_of_the_source_size_with_its_content_type(self):
        cam = self.start_camstream()
        c = self.stream(cam, mjpeg_path(self.rtsp.url("h264")), parts=20)
        for i, (hdrs, body, _) in enumerate(c.parts[:20]):
            self.assertEqual(hdrs.get("content-type"), "image/jpeg", "part %d headers %r"
                             % (i, hdrs))
            problem = jpeg_problem(body)
            self.assertIsNone(problem, "part %d (%d bytes): %s" % (i, len(body), problem))
            self.assertEqual(jpeg_size(body), (320, 240), "part %d size" % i)

    def test_width_option_scales_the_parts(self):
        cam = self.start_camstream()
        c = self.stream(cam, mjpeg_path(self.rtsp.url("h264"), width=160), parts=3)
        self.assertEqual(jpeg_size(c.parts[-1][1]), (160, 120))

    def test_rate_is_at_least_90_percent_of_the_source_rate(self):
        cam = self.start_camstream()
        c = self.stream(cam, mjpeg_path(self.rtsp.url("h264")), parts=FPS)  # past the start burst
        window = 3.0
        parts = c.read_for(window)
        rate = len(parts) / window
        self.assertRateAtLeast(rate, 0.9 * FPS, "MJPEG over %.0f s" % window)
        for i, (_, body, _) in enumerate(parts):
            self.assertIsNone(jpeg_problem(body), "part %d of the window" % i)

    def test_stream_outlives_the_5_second_http_timeout(self):
        cam = self.start_camstream()
        c = self.stream(cam, mjpeg_path(self.rtsp.url("h264"), fps=5))
        c.read_for(6.0)
        late = c.read_for(1.5)
        self.assertFalse(c.eof, "the response ended after %.1f s: %s" % (7.5, c.describe()))
        self.assertGreaterEqual(len(late), 3, "parts 6-7.5 s into the stream: %s" % c.describe())

    def test_next_part_headers_follow_each_jpeg_at_once(self):
        # Chrome shows a part only once the next part's header block has arrived. At 2 frames/s
        # the next picture is 0.5 s away: its headers must not wait for it.
        cam = self.start_camstream()
        c = self.stream(cam, mjpeg_path(self.rtsp.url("h264"), fps=2), parts=4, timeout=20)
        gaps = []
        for i, (_, _, done) in enumerate(c.parts[:3]):
            # header_times[i] is part i's header block: part i + 1's must follow part i at once
            gaps.append(c.header_times[i + 1] - done)
        self.note("JPEG end to next headers: max %.1f ms" % (1000 * max(gaps)))
        self.assertLess(max(gaps), 0.15, "next part's headers came %s s after the JPEG"
                        % ["%.3f" % g for g in gaps])

    def test_advance_headers_0_gives_content_length_and_timestamp_per_part(self):
        cam = self.start_camstream()
        c = self.stream(cam, mjpeg_path(self.rtsp.url("h264"), advance_headers=0), parts=5)
        now = time.time()
        for i, (hdrs, body, _) in enumerate(c.parts[:5]):
            self.assertEqual(hdrs.get("content-type"), "image/jpeg", "part %d: %r" % (i, hdrs))
            self.assertEqual(int(hdrs.get("content-length", -1)), len(body),
                             "part %d content-length: %r" % (i, hdrs))
            self.assertLess(abs(float(hdrs["x-timestamp"]) - now), 10.0,
                            "part %d x-timestamp %r" % (i, hdrs.get("x-timestamp")))
            self.assertIsNone(jpeg_problem(body), "part %d" % i)

    def test_demo_source(self):
        cam = self.start_camstream()
        c = self.stream(cam, mjpeg_path("demo:", width=320), parts=3)
        self.assertEqual(jpeg_size(c.parts[-1][1])[0], 320)


class Sharing(MjpegCase):
    def test_mjpeg_next_to_a_websocket_viewer_shares_the_session(self):
        cam = self.start_camstream()
        url = self.rtsp.url("h264")
        v = self.viewer(cam, stream_path(url)).start()
        self.assertGreaterEqual(v.wait_frames(3, timeout=20), 3, v.describe())
        self.stream(cam, mjpeg_path(url), parts=5)
        self.assertEqual(self.new_sessions(), 1, "WebSocket + MJPEG viewer: RTSP sessions %s"
                         % self.rtsp.stats())

    def test_two_mjpeg_viewers_share_the_session(self):
        cam = self.start_camstream()
        path = mjpeg_path(self.rtsp.url("h264"))
        self.stream(cam, path, parts=3)
        self.stream(cam, path, parts=3)
        self.assertEqual(self.new_sessions(), 1, "two MJPEG viewers: RTSP sessions %s"
                         % self.rtsp.stats())

    def test_closing_the_connection_releases_the_session(self):
        cam = self.start_camstream()
        c = self.stream(cam, mjpeg_path(self.rtsp.url("h264")), parts=3)
        c.close()
        stats = self.rtsp.wait_sessions(lambda s: s["sessions"] == 0, SESSION_END_TIMEOUT)
        self.assertEqual(stats["sessions"], 0, "%.0f s after the MJPEG client left: %s"
                         % (SESSION_END_TIMEOUT, stats))


class SlowReader(MjpegCase):
    """A reader that never reads (tiny receive buffer) next to a normal one, on the 1280x720 demo
    source so that a backlog would show quickly."""

    SOURCE = "demo:"

    def slow(self, cam):
        c = self.client(cam, mjpeg_path(self.SOURCE), rcvbuf=4096)
        return c   # never read from

    def assertBackedUp(self, cam, slow):
        queued = wait_until(lambda: (tcp_send_queue(cam.port, slow.local_port) or 0) > 8 * 1024,
                            10)
        self.assertTrue(queued, "the slow reader is not backed up: camstream's send queue to it "
                        "holds %s bytes" % tcp_send_queue(cam.port, slow.local_port))

    def test_slow_reader_does_not_slow_a_normal_reader(self):
        cam = self.start_camstream()
        slow = self.slow(cam)
        normal = self.stream(cam, mjpeg_path(self.SOURCE), parts=2 * 25)
        self.assertBackedUp(cam, slow)
        window = 4.0
        rate = len(normal.read_for(window)) / window
        self.assertRateAtLeast(rate, 0.9 * 25, "normal MJPEG reader next to one that never reads")

    def test_slow_reader_does_not_grow_server_memory(self):
        asan = os.environ.get("ASAN_OPTIONS", "")
        cam = self.start_camstream(env={"ASAN_OPTIONS": (asan + ":" if asan else "")
                                        + "quarantine_size_mb=16"})
        slow = self.slow(cam)
        normal = self.stream(cam, mjpeg_path(self.SOURCE), parts=3 * 25)
        self.assertBackedUp(cam, slow)
        rss0 = cam.rss_kb()
        parts = normal.read_for(5.0)
        rss1 = cam.rss_kb()
        grown_mb = (rss1 - rss0) / 1024
        self.note("VmRSS %d -> %d kB over %d parts" % (rss0, rss1, len(parts)))
        self.assertGreater(len(parts), 4 * 25, "the normal reader stalled: %s" % normal.describe())
        self.assertLess(grown_mb, 30, "VmRSS grew %.1f MB with a reader that never reads"
                        % grown_mb)


class Endings(MjpegCase):
    def test_stream_ends_when_the_source_dies(self):
        rtsp = self.start_rtsp()
        cam = self.start_camstream("--read-timeout", READ_TIMEOUT, "--open-timeout", OPEN_TIMEOUT)
        c = self.stream(cam, mjpeg_path(rtsp.url("h264")), parts=5)
        killed_at = time.monotonic()
        rtsp.kill()
        ended = c.read_until_eof(READ_TIMEOUT + 10)
        self.assertIsNotNone(ended, "the response did not end %.0f s after the source died: %s"
                             % (READ_TIMEOUT + 10, c.describe()))
        self.note("ended %.2f s after the kill" % (ended - killed_at))
        self.assertLessEqual(ended - killed_at, READ_TIMEOUT + 2.0, "ended %.1f s after the kill"
                             % (ended - killed_at))
        self.assertTrue(cam.alive(), "camstream died with the source")

    def test_stream_ends_when_the_source_ends(self):
        cam = self.start_camstream()
        c = self.stream(cam, mjpeg_path(self.rtsp.url("eos")), parts=3)
        self.assertIsNotNone(c.read_until_eof(15), "the response did not end after the source "
                             "ended: %s" % c.describe())

    def test_server_shutdown_ends_the_stream_and_exits_0(self):
        cam = self.start_camstream()
        c = self.stream(cam, mjpeg_path(self.rtsp.url("h264")), parts=3)
        cam.send_signal(signal.SIGTERM)
        self.assertIsNotNone(c.read_until_eof(5), "the response did not end at shutdown: %s"
                             % c.describe())
        rc, elapsed = self.stop_camstream(cam)
        self.assertEqual(rc, 0, "exit code after SIGTERM with an MJPEG viewer")
        self.assertLess(elapsed, 3.0, "exit took %.1f s" % elapsed)

    def test_max_clients_refuses_one_more_with_503(self):
        cam = self.start_camstream("--max-clients", 1)
        first = self.stream(cam, mjpeg_path(self.rtsp.url("h264")), parts=2)
        self.expect_error(cam, mjpeg_path(self.rtsp.url("h264")), 503, "server_busy")
        first.close()
        ok = wait_until(lambda: self._one_stream_ok(cam), 5, interval=0.2)
        self.assertTrue(ok, "no MJPEG viewer accepted after the first one left")

    def _one_stream_ok(self, cam):
        c = MjpegClient(cam.port, mjpeg_path(self.rtsp.url("h264")))
        try:
            return c.read_head(10) == 200 and c.read_parts(1, 10) == 1
        finally:
            c.close()


class Errors(MjpegCase):
    def setUp(self):
        super().setUp()
        self.cam = self.start_camstream("--open-timeout", OPEN_TIMEOUT)

    def test_missing_url_is_400(self):
        self.expect_error(self.cam, "/mjpeg", 400, "bad_request")

    def test_bad_fps_is_400(self):
        self.expect_error(self.cam, mjpeg_path("demo:", fps=0), 400, "bad_request")

    def test_bad_advance_headers_is_400(self):
        self.expect_error(self.cam, mjpeg_path("demo:", advance_headers=2), 400, "bad_request")

    def test_file_url_is_403(self):
        self.expect_error(self.cam, mjpeg_path("file:/etc/passwd"), 403, "scheme_not_allowed")

    def test_missing_rtsp_path_is_404(self):
        self.expect_error(self.cam, mjpeg_path(self.rtsp.url("no/such/mount")), 404, "not_found")

    def test_closed_port_is_502(self):
        port = self.closed_port().port
        self.expect_error(self.cam, mjpeg_path("rtsp://127.0.0.1:%d/x" % port), 502,
                          "open_failed")

    def test_silent_listener_is_504_within_the_open_timeout(self):
        listener = self.silent_listener()
        _, elapsed = self.expect_error(self.cam,
                                       mjpeg_path("rtsp://127.0.0.1:%d/x" % listener.port), 504,
                                       "timeout", timeout=OPEN_TIMEOUT + 10)
        self.note("504 after %.2f s" % elapsed)
        self.assertLessEqual(elapsed, OPEN_TIMEOUT + 3.0)

    def test_error_does_not_leak_the_password(self):
        port = self.closed_port().port
        url = "rtsp://admin:s3cr3tPass@127.0.0.1:%d/x" % port
        doc, _ = self.expect_error(self.cam, mjpeg_path(url), 502, "open_failed")
        self.assertNotIn("s3cr3tPass", doc["error"])


class NamedStream(MjpegCase):
    def test_mjpeg_of_a_named_stream(self):
        import json
        import tempfile
        fd, path = tempfile.mkstemp(prefix="camstream-mjpeg-", suffix=".json")
        self.addCleanup(os.unlink, path)
        with os.fdopen(fd, "w") as f:
            json.dump({"streams": [{"name": "cam1", "rtsp_url": self.rtsp.url("h264"),
                                    "enabled": True}]}, f)
        cam = self.start_camstream("--config", path)
        c = self.stream(cam, "/mjpeg?name=cam1&width=160", parts=5)
        self.assertEqual(jpeg_size(c.parts[-1][1]), (160, 120))
        self.expect_error(cam, "/mjpeg?name=" + urllib.parse.quote("no such"), 404, "not_found")

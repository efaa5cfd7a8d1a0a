"""Faults at both ends. A camera that dies, freezes, answers garbage, hangs up mid-answer, stalls
or sends a damaged or resized stream; a client that sends garbage, data, huge frames, never
finishes its handshake or stops reading. Each gets its documented outcome, and the server and
every other client carry on: in every test a bystander watches another source throughout, and
afterwards /api/health answers and a new viewer gets pictures."""

import os
import random
import signal
import socket
import time

import rawws
from camtest import CamTestCase, http_get, jpeg_problem, jpeg_size, stream_path, wait_until
from fake_rtsp import FakeRtsp

READ_TIMEOUT = 2.0
OPEN_TIMEOUT = 3.0
AT_ONCE = 1.5            # "quickly": an error the camera's answer makes certain
SLACK = 1.0              # the contract: within the timeout + 1 s
IDLE_RECLAIM = 20.0      # lws drops a connection that never finishes its handshake (~10 s)

# error code -> close code (README, "Errors")
CLOSE_CODES = {"bad_request": 1008, "scheme_not_allowed": 1008, "open_failed": 1011,
               "not_found": 1011, "unauthorized": 1011, "timeout": 1011,
               "unsupported_codec": 1011, "source_ended": (1000, 1011), "server_busy": 1013}


class FaultTestCase(CamTestCase):
    """camstream with short timeouts and a bystander: a demo: viewer at 5 frames/s."""

    def setUp(self):
        self.cam = self.start_camstream("--read-timeout", READ_TIMEOUT,
                                        "--open-timeout", OPEN_TIMEOUT)
        self.bystander = self.viewer(self.cam, stream_path("demo:", width=320, fps=5)).start()
        self.assertGreaterEqual(self.bystander.wait_frames(2, timeout=15), 2,
                                "bystander: %s" % self.bystander.describe())

    # -- the server and the others carry on

    def assertCarriesOn(self):
        """The bystander is still open and still getting frames, /api/health answers at once
        and a new viewer gets a picture."""
        self.assertTrue(self.cam.alive(), "camstream died; log:\n%s" % self.cam.log_text()[-3000:])
        b = self.bystander
        n = len(b.frame_times)
        self.assertGreaterEqual(b.wait_frames(n + 3, timeout=5), n + 3,
                                "the bystander stopped getting frames: %s" % b.describe())
        self.assertIsNone(b.closed, "the bystander was closed: %s" % b.describe())
        t0 = time.monotonic()
        r = http_get(self.cam.port, "/api/health", timeout=5)
        took = time.monotonic() - t0
        self.assertEqual((r.status, r.json().get("status")), (200, "ok"), r.body)
        self.assertLess(took, 1.0, "/api/health took %.2f s" % took)
        fresh = self.viewer(self.cam, stream_path("demo:", width=160))
        self.assertJpeg(fresh.frames(1, timeout=15)[0], "a new viewer's first frame")
        fresh.close()

    def assertBystanderKeptUp(self, t0, t1):
        """The bystander (fps=5) got frames at nearly its rate between @t0 and @t1."""
        rate = self.bystander.count_between(t0, t1) / (t1 - t0)
        self.note("bystander %.1f frames/s meanwhile" % rate)
        self.assertGreaterEqual(rate, 4.0, "the bystander's rate over %.1f s: %s"
                                % (t1 - t0, self.bystander.describe()))

    # -- outcomes

    def assertFailsWith(self, v, codes, since, within, at_least=None):
        """@v (receiving in the background) gets exactly one error text with a code of @codes
        and the close code the README gives it, within @within s of @since. Returns the code."""
        closed = v.wait_closed(within + 10)
        self.assertIsNotNone(closed, "not closed %.0f s after the fault: %s"
                             % (within + 10, v.describe()))
        err, close = v.error_and_code(closed)
        code = err.get("code")
        self.assertIn(code, codes, "error %r (close %s)" % (err, closed))
        self.assertTrue(str(err.get("error", "")).strip(), "empty error message: %r" % (err,))
        want = CLOSE_CODES[code]
        self.assertIn(close, want if isinstance(want, tuple) else (want,),
                      "close code for %s (error %r)" % (code, err))
        elapsed = v.closed_at - since
        self.note("%s/%s after %.2f s" % (code, close, elapsed))
        self.assertLessEqual(elapsed, within, "closed %.2f s after the fault, expected within "
                             "%.1f s (error %r)" % (elapsed, within, err))
        if at_least is not None:
            self.assertGreaterEqual(elapsed, at_least, "closed already after %.2f s (error %r)"
                                    % (elapsed, err))
        return code


class CameraFaults(FaultTestCase):
    def watch(self, url, frames=5):
        v = self.viewer(self.cam, stream_path(url)).start()
        self.assertGreaterEqual(v.wait_frames(frames, timeout=20), frames, v.describe())
        return v

    def test_killed_camera_closes_its_viewer_with_1011_within_the_read_timeout(self):
        rtsp = self.start_rtsp()
        v = self.watch(rtsp.url("h264"))
        killed_at = time.monotonic()
        rtsp.kill()
        code = self.assertFailsWith(v, ("source_ended", "timeout"), killed_at,
                                    READ_TIMEOUT + SLACK)
        self.assertEqual(v.closed.code, 1011, "close code after the camera died (%s)" % code)
        self.assertCarriesOn()

    def test_frozen_camera_times_out_with_1011_within_the_read_timeout(self):
        rtsp = self.start_rtsp()
        v = self.watch(rtsp.url("h264"))
        self.addCleanup(rtsp.send_signal, signal.SIGCONT)
        rtsp.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        self.assertFailsWith(v, ("timeout",), stopped_at, READ_TIMEOUT + SLACK,
                             at_least=READ_TIMEOUT - 0.5)
        rtsp.send_signal(signal.SIGCONT)
        self.assertCarriesOn()

    def test_garbage_answer_to_options_fails_within_the_open_timeout(self):
        # FFmpeg reads a line that does not start with "RTSP/" as a request from the server
        # and waits for the real answer, so random bytes end in timeout, not open_failed.
        fake = self.fake("garbage")
        t0 = time.monotonic()
        v = self.viewer(self.cam, stream_path(fake.url())).start()
        self.assertFailsWith(v, ("open_failed", "timeout"), t0, OPEN_TIMEOUT + SLACK)
        self.assertCarriesOn()

    def test_garbled_reply_to_options_is_open_failed_at_once(self):
        fake = self.fake("garbled_options")
        t0 = time.monotonic()
        v = self.viewer(self.cam, stream_path(fake.url())).start()
        self.assertFailsWith(v, ("open_failed",), t0, AT_ONCE)
        self.assertCarriesOn()

    def test_garbled_reply_to_describe_is_open_failed_at_once(self):
        fake = self.fake("garbled_describe")
        t0 = time.monotonic()
        v = self.viewer(self.cam, stream_path(fake.url())).start()
        self.assertFailsWith(v, ("open_failed",), t0, AT_ONCE)
        self.assertIn("DESCRIBE", " ".join(fake.requests), fake.requests)
        self.assertCarriesOn()

    def test_garbage_instead_of_sdp_is_a_clean_error_at_once(self):
        fake = self.fake("garbage_sdp")
        t0 = time.monotonic()
        v = self.viewer(self.cam, stream_path(fake.url())).start()
        self.assertFailsWith(v, ("unsupported_codec", "open_failed"), t0, AT_ONCE)
        self.assertCarriesOn()

    def test_connection_closed_mid_describe_is_open_failed_at_once(self):
        fake = self.fake("close_mid_describe")
        t0 = time.monotonic()
        v = self.viewer(self.cam, stream_path(fake.url())).start()
        self.assertFailsWith(v, ("open_failed",), t0, AT_ONCE)
        self.assertCarriesOn()

    def test_camera_stalling_after_setup_times_out_within_the_open_timeout(self):
        fake = self.fake("stall_after_setup")
        t0 = time.monotonic()
        v = self.viewer(self.cam, stream_path(fake.url())).start()
        self.assertFailsWith(v, ("timeout",), t0, OPEN_TIMEOUT + SLACK,
                             at_least=OPEN_TIMEOUT - 0.5)
        self.assertTrue(any(r.startswith("PLAY") for r in fake.requests), fake.requests)
        self.assertCarriesOn()

    def test_camera_sending_nothing_after_play_times_out_within_the_open_timeout(self):
        fake = self.fake("stall_after_play")
        t0 = time.monotonic()
        v = self.viewer(self.cam, stream_path(fake.url())).start()
        self.assertFailsWith(v, ("timeout",), t0, OPEN_TIMEOUT + SLACK,
                             at_least=OPEN_TIMEOUT - 0.5)
        self.assertCarriesOn()

    def fake(self, mode, **kw):
        f = FakeRtsp(mode, **kw)
        self.addCleanup(f.close)
        return f


class DamagedStreams(FaultTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_rtsp(fps=25)

    def check_damaged(self, seconds, **damage):
        """A viewer of the /h264 mount through a relay that damages RTP packets, next to a
        viewer of the same mount without it: every frame the first gets is a valid JPEG, and
        it either keeps getting frames or ends with one clean error."""
        fake = FakeRtsp("corrupt", upstream_port=self.rtsp.port, seed=int(time.time()), **damage)
        self.addCleanup(fake.close)
        clean = self.viewer(self.cam, stream_path(self.rtsp.url("h264"))).start()
        v = self.viewer(self.cam, stream_path(fake.url("h264")), keep_frames=10 ** 6).start()
        t0 = time.monotonic()
        v.wait_closed(seconds)
        self.note("seed %d: %d of %d RTP packets damaged, %d frames"
                  % (fake.seed, fake.rtp_mangled, fake.rtp_packets, len(v.frame_times)))
        self.assertGreater(fake.rtp_mangled, 0, "nothing was damaged: %d RTP packets relayed"
                           % fake.rtp_packets)
        for i, data in enumerate(v.last_frames):
            problem = jpeg_problem(data)
            self.assertIsNone(problem, "frame %d of %d from the damaged stream: %s"
                              % (i, len(v.last_frames), problem))
        if v.closed is not None:
            self.assertFailsWith(v, tuple(CLOSE_CODES), t0, seconds)
        else:
            self.assertGreaterEqual(len(v.frame_times), 5, "neither frames nor an error from "
                                    "the damaged stream: %s" % v.describe())
        n = len(clean.frame_times)
        self.assertGreaterEqual(clean.wait_frames(n + 10, timeout=5), n + 10,
                                "the viewer of the undamaged stream: %s" % clean.describe())
        self.assertIsNone(clean.closed, clean.describe())
        v.close()
        self.assertCarriesOn()
        self.assertCleanExit(self.cam)

    def test_lightly_damaged_h264_gives_valid_jpegs(self):
        self.check_damaged(6, corrupt_ratio=0.2, corrupt_bytes=4)

    def test_heavily_damaged_h264_gives_valid_jpegs_or_a_clean_error(self):
        self.check_damaged(6, corrupt_ratio=1.0, corrupt_bytes=64)

    def test_damaged_rtp_headers_give_valid_jpegs_or_a_clean_error(self):
        self.check_damaged(6, corrupt_ratio=0.3, corrupt_bytes=8, corrupt_headers=True)


class ResolutionChange(FaultTestCase):
    """The /resize mount switches between 320x240 and 160x120 every 2 s."""

    @classmethod
    def setUpClass(cls):
        cls.start_class_rtsp(width=320, height=240, fps=25)

    def sizes_over(self, path, seconds):
        v = self.viewer(self.cam, path, keep_frames=10 ** 6).start()
        self.assertGreaterEqual(v.wait_frames(1, timeout=15), 1, v.describe())
        v.wait_closed(seconds)
        self.assertIsNone(v.closed, "closed during the resolution changes: %s" % v.describe())
        runs = []
        for i, data in enumerate(v.last_frames):
            problem = jpeg_problem(data)
            self.assertIsNone(problem, "frame %d: %s" % (i, problem))
            size = jpeg_size(data)
            if not runs or runs[-1][0] != size:
                runs.append([size, 0])
            runs[-1][1] += 1
        self.note("sizes in order: %s" % ", ".join("%dx%d x%d" % (s[0], s[1], n)
                                                   for s, n in runs))
        return runs

    def test_frames_follow_the_camera_to_its_new_size(self):
        runs = self.sizes_over(stream_path(self.rtsp.url("resize")), 5.0)
        self.assertEqual({s for s, _ in runs}, {(320, 240), (160, 120)}, runs)
        self.assertGreaterEqual(len(runs), 2, runs)
        self.assertCarriesOn()

    def test_a_requested_width_is_kept_across_the_change(self):
        runs = self.sizes_over(stream_path(self.rtsp.url("resize"), width=240), 5.0)
        self.assertEqual({s for s, _ in runs}, {(240, 180)}, runs)
        self.assertCarriesOn()


class ClientFaults(FaultTestCase):
    def raw(self):
        s = socket.create_connection(("127.0.0.1", self.cam.port), timeout=5)
        self.addCleanup(s.close)
        return s

    def upgraded(self, path=None, **kw):
        s, parser = rawws.open_ws(self.cam.port, path or stream_path("demo:", width=160, fps=5),
                                  **kw)
        self.addCleanup(s.close)
        return s, parser

    def assertClosedByServer(self, s, timeout):
        """Reads (discarding) until the server ends the connection; returns the seconds."""
        t0 = time.monotonic()
        s.settimeout(timeout)
        while True:
            try:
                data = s.recv(65536)
            except socket.timeout:
                self.fail("the server kept the connection open %.0f s" % timeout)
            except ConnectionResetError:
                break
            if not data:
                break
            s.settimeout(max(0.01, timeout - (time.monotonic() - t0)))
        return time.monotonic() - t0

    def test_garbage_instead_of_a_handshake_is_closed(self):
        s = self.raw()
        s.sendall(os.urandom(4096) + b"\r\n\r\n")
        took = self.assertClosedByServer(s, 5)
        self.note("closed after %.2f s" % took)
        self.assertCarriesOn()

    def test_text_message_from_a_viewer_closes_it_with_1003(self):
        v = self.viewer(self.cam, stream_path("demo:", width=160, fps=5))
        v.frames(1, timeout=15)
        v.ws.send("hello")
        closed = v.until_closed(5)
        self.assertIn(closed.code, (1003, 1008), "close after a text message: %s (%s)"
                      % (closed, v.describe()))
        self.assertCarriesOn()

    def test_binary_message_from_a_viewer_closes_it_with_1003(self):
        v = self.viewer(self.cam, stream_path("demo:", width=160, fps=5))
        v.frames(1, timeout=15)
        v.ws.send_binary(b"\x00" * 100)
        closed = v.until_closed(5)
        self.assertIn(closed.code, (1003, 1008), "close after a binary message: %s (%s)"
                      % (closed, v.describe()))
        self.assertCarriesOn()

    def test_huge_frame_from_a_viewer_closes_it(self):
        s, parser = self.upgraded()
        rss0 = self.cam.rss_kb()
        size = 10 * 1024 * 1024
        s.sendall(rawws.frame(rawws.OP_BINARY, b"", length=size))   # header; payload follows
        sent, chunk, t0 = 0, os.urandom(65536), time.monotonic()
        s.settimeout(5)
        try:
            while sent < size and time.monotonic() - t0 < 10:
                sent += s.send(chunk[:min(len(chunk), size - sent)])
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass
        code, how, _ = rawws.wait_closed(s, parser, 10)
        self.note("sent %.1f of 10 MB; then %s %s; VmRSS %d -> %d kB"
                  % (sent / 2 ** 20, how, code, rss0, self.cam.rss_kb()))
        self.assertIsNotNone(code, "a 10 MB frame did not get the viewer closed")
        if how == "close frame":
            self.assertIn(code, (1003, 1008, 1009), "close code after a 10 MB frame")
        self.assertCarriesOn()

    def test_oversized_ping_closes_the_viewer(self):
        # Control frames carry at most 125 bytes (RFC 6455 5.5).
        s, parser = self.upgraded()
        s.sendall(rawws.frame(rawws.OP_PING, b"x" * 1000))
        code, how, _ = rawws.wait_closed(s, parser, 10)
        self.note("%s %s" % (how, code))
        self.assertIsNotNone(code, "a 1000-byte ping did not get the viewer closed")
        self.assertCarriesOn()

    def test_garbage_frames_after_the_handshake_close_the_viewer(self):
        # Random bytes where frames should be: reserved opcodes and bits, lengths that lie,
        # unmasked frames, continuations of nothing. Ten connections, each with its own seed.
        seed0 = int(time.time())
        outcomes = []
        for seed in range(seed0, seed0 + 10):
            s, parser = self.upgraded()
            rng = random.Random(seed)
            try:
                s.sendall(bytes(rng.randrange(256) for _ in range(16384)))
            except (BrokenPipeError, ConnectionResetError):
                pass
            code, how, _ = rawws.wait_closed(s, parser, 10)
            self.assertIsNotNone(code, "random bytes (seed %d) after the handshake did not get "
                                 "the viewer closed" % seed)
            outcomes.append("%s" % code)
        self.note("seeds %d..%d: closes %s" % (seed0, seed0 + 9, " ".join(outcomes)))
        self.assertCarriesOn()

    def test_unfinished_handshake_is_reclaimed_within_the_idle_timeout(self):
        s = self.raw()
        s.sendall(b"GET /ws/stream?rtsp_url=demo: HT")
        t0 = time.monotonic()
        took = self.assertClosedByServer(s, IDLE_RECLAIM)
        self.note("reclaimed after %.1f s" % took)
        self.assertBystanderKeptUp(t0, time.monotonic())
        self.assertCarriesOn()

    def test_many_unfinished_handshakes_do_not_lock_out_new_clients(self):
        # A slowloris: more half-sent requests than lws has header tables by default.
        socks = []
        for _ in range(100):
            s = self.raw()
            s.sendall(b"GET /ws/stream?rtsp_url=demo: HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        self.assertCarriesOn()
        t0 = time.monotonic()
        for s in socks:
            self.assertClosedByServer(s, max(1.0, IDLE_RECLAIM - (time.monotonic() - t0)))
        self.note("all 100 reclaimed after %.1f s" % (time.monotonic() - t0))
        self.assertBystanderKeptUp(t0, time.monotonic())
        self.assertCarriesOn()

    def test_stalled_readers_do_not_slow_the_others(self):
        # Viewers of the bystander's own output and of a full-size one that never read.
        stalled = [self.upgraded(stream_path("demo:", width=320, fps=5), rcvbuf=4096)
                   for _ in range(3)]
        stalled += [self.upgraded(stream_path("demo:"), rcvbuf=4096) for _ in range(3)]
        b = self.bystander
        b.wait_frames(len(b.frame_times) + 5, timeout=5)
        t0 = time.monotonic()
        n0 = len(b.frame_times)
        b.wait_frames(n0 + 1000, timeout=4.0)
        rate = (len(b.frame_times) - n0) / (time.monotonic() - t0)
        self.note("bystander %.1f frames/s next to 6 stalled readers" % rate)
        self.assertGreaterEqual(rate, 4.0, "bystander at fps=5 next to stalled readers")
        for s, _ in stalled:
            s.close()
        gone = wait_until(lambda: self.viewer_count() == 1, 5)
        self.assertTrue(gone, "stalled readers not released after they hung up: %s viewers"
                        % self.viewer_count())
        self.assertCarriesOn()

    def viewer_count(self):
        r = http_get(self.cam.port, "/metrics", timeout=5)
        for line in r.body.decode().splitlines():
            if line.startswith("camstream_clients "):
                return int(float(line.split()[1]))
        return None

"""Losing the camera mid-stream: viewers get one error text and close 1011 within the read
timeout; camstream stays up. A source that ends cleanly closes with 1000."""

import signal
import time

from camtest import CamTestCase, jpeg_size, stream_path

READ_TIMEOUT = 2.0
OPEN_TIMEOUT = 3.0
LOSS_CODES = ("source_ended", "timeout")


class SourceLoss(CamTestCase):
    def setUp(self):
        self.rtsp = self.start_rtsp()   # this test's own: it gets killed
        self.cam = self.start_camstream("--read-timeout", READ_TIMEOUT,
                                        "--open-timeout", OPEN_TIMEOUT)

    def watch(self, n=1, **opts):
        path = stream_path(self.rtsp.url("h264"), **opts)
        viewers = [self.viewer(self.cam, path).start() for _ in range(n)]
        for i, v in enumerate(viewers):
            self.assertGreaterEqual(v.wait_frames(5, timeout=20), 5,
                                    "viewer %d gets no frames: %s" % (i, v.describe()))
        return viewers

    def kill_source(self):
        killed_at = time.monotonic()
        self.rtsp.kill()   # SIGKILL: no TEARDOWN, no BYE, the connection just dies
        return killed_at

    def check_loss(self, v, killed_at, check_close_code=True):
        """One error text (source_ended or timeout), then a close (1011 unless told not to check
        the code: the tests of other behaviours leave that to the tests named for it), within
        the read timeout + 1 s."""
        closed = v.wait_closed(READ_TIMEOUT + 10)
        self.assertIsNotNone(closed, "no close %.0f s after the source died: %s"
                             % (READ_TIMEOUT + 10, v.describe()))
        err, code = v.error_and_code(closed)
        self.assertIn(err.get("code"), LOSS_CODES, "error after source loss: %r (close %s)"
                      % (err, closed))
        if check_close_code:
            self.assertEqual(code, 1011, "close code after source loss (error %r)" % (err,))
        elapsed = v.closed_at - killed_at
        self.note("%s/%s %.2f s after the kill" % (err.get("code"), code, elapsed))
        self.assertLessEqual(elapsed, READ_TIMEOUT + 1.0, "closed %.1f s after the source died, "
                             "--read-timeout %.0f" % (elapsed, READ_TIMEOUT))

    def test_lost_tcp_source_closes_with_1011_within_the_read_timeout(self):
        (v,) = self.watch(transport="tcp")
        self.check_loss(v, self.kill_source())

    def test_lost_udp_source_closes_with_1011_within_the_read_timeout(self):
        (v,) = self.watch(transport="udp")
        self.check_loss(v, self.kill_source())

    def test_stalled_source_times_out_within_the_read_timeout(self):
        # SIGSTOP: the camera's connection stays open but nothing more arrives.
        (v,) = self.watch()
        self.addCleanup(self.rtsp.send_signal, signal.SIGCONT)
        self.rtsp.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        closed = v.wait_closed(READ_TIMEOUT + 10)
        self.assertIsNotNone(closed, "no close %.0f s after the source stalled: %s"
                             % (READ_TIMEOUT + 10, v.describe()))
        err, code = v.error_and_code(closed)
        self.assertEqual(err.get("code"), "timeout", "error after the source stalled: %r (close "
                         "%s)" % (err, closed))
        self.assertEqual(code, 1011, "close code after the source stalled (error %r)" % (err,))
        elapsed = v.closed_at - stopped_at
        self.note("%s/%s %.2f s after the stall" % (err.get("code"), code, elapsed))
        self.assertLessEqual(elapsed, READ_TIMEOUT + 1.0, "closed %.1f s after the source "
                             "stalled, --read-timeout %.0f" % (elapsed, READ_TIMEOUT))
        self.assertGreaterEqual(elapsed, READ_TIMEOUT - 0.5, "closed only %.1f s after the "
                                "source stalled, --read-timeout %.0f" % (elapsed, READ_TIMEOUT))

    def test_every_viewer_of_a_lost_source_gets_the_error(self):
        viewers = self.watch(n=3)
        killed_at = self.kill_source()
        for v in viewers:
            self.check_loss(v, killed_at, check_close_code=False)

    def test_camstream_serves_a_new_viewer_after_source_loss(self):
        (v,) = self.watch()
        self.check_loss(v, self.kill_source(), check_close_code=False)
        self.assertTrue(self.cam.alive(), "camstream died after the source was lost")
        demo = self.viewer(self.cam, stream_path("demo:"))
        frames = demo.frames(3, timeout=15)
        self.assertJpeg(frames[-1])
        self.assertEqual(jpeg_size(frames[-1]), (1280, 720))

    def test_reconnecting_to_a_lost_source_fails_instead_of_reusing_it(self):
        (v,) = self.watch()
        url = self.rtsp.url("h264")
        self.check_loss(v, self.kill_source(), check_close_code=False)
        self.expect_ws_error(self.cam, stream_path(url), "open_failed", 1011,
                             timeout=OPEN_TIMEOUT + 10)


class CleanEnd(CamTestCase):
    def test_source_that_ends_cleanly_closes_with_1000(self):
        rtsp = self.start_rtsp(eos_seconds=3)
        cam = self.start_camstream("--read-timeout", 5)
        v = self.viewer(cam, stream_path(rtsp.url("eos"))).start()
        self.assertGreaterEqual(v.wait_frames(5, timeout=20), 5, v.describe())
        closed = v.wait_closed(15)
        self.assertIsNotNone(closed, "the stream did not end after its source did: %s"
                             % v.describe())
        err, code = v.error_and_code(closed)
        self.assertEqual(err.get("code"), "source_ended", "error at the source's end: %r" % (err,))
        self.assertEqual(code, 1000, "close code at the source's clean end (error %r)" % (err,))

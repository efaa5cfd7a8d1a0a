"""SIGTERM and SIGINT: every viewer is sent close 1001 and camstream exits 0 within 2 s."""

import signal
import socket

from camtest import CamTestCase, stream_path, wait_until

EXIT_WITHIN = 2.0


class Shutdown(CamTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_rtsp()

    def viewers_of_two_sources(self, cam):
        paths = [stream_path(self.rtsp.url("h264"))] * 2 + [stream_path("demo:")]
        viewers = [self.viewer(cam, p).start() for p in paths]
        for i, v in enumerate(viewers):
            self.assertGreaterEqual(v.wait_frames(3, timeout=20), 3,
                                    "viewer %d gets no frames: %s" % (i, v.describe()))
        return viewers

    def check_stop(self, cam, sig):
        rc, elapsed = self.stop_camstream(cam, sig, timeout=EXIT_WITHIN)
        self.note("exit %s after %.2f s" % (rc, elapsed))
        self.assertIsNotNone(rc, "camstream still running %.0f s after %s (killed)"
                             % (EXIT_WITHIN, sig.name))
        self.assertEqual(rc, 0, "exit code after %s" % sig.name)
        self.assertLessEqual(elapsed, EXIT_WITHIN)

    def check_viewers_got_1001(self, viewers, sig):
        for i, v in enumerate(viewers):
            closed = v.wait_closed(5)
            self.assertIsNotNone(closed, "viewer %d not closed after %s: %s"
                                 % (i, sig.name, v.describe()))
            self.assertEqual(closed.code, 1001, "viewer %d close after %s: %s"
                             % (i, sig.name, v.describe()))

    def test_sigterm_closes_every_viewer_with_1001_and_exits_0(self):
        cam = self.start_camstream()
        viewers = self.viewers_of_two_sources(cam)
        self.check_stop(cam, signal.SIGTERM)
        self.check_viewers_got_1001(viewers, signal.SIGTERM)

    def test_sigint_closes_every_viewer_with_1001_and_exits_0(self):
        cam = self.start_camstream()
        viewers = self.viewers_of_two_sources(cam)
        self.check_stop(cam, signal.SIGINT)
        self.check_viewers_got_1001(viewers, signal.SIGINT)

    def test_sigterm_without_viewers_exits_0(self):
        cam = self.start_camstream()
        self.check_stop(cam, signal.SIGTERM)

    def test_sigterm_while_a_source_is_opening_exits_0(self):
        # The worker is blocked opening a camera that never answers (open timeout 10 s).
        cam = self.start_camstream("--open-timeout", 10)
        listener = self.silent_listener()
        v = self.viewer(cam, stream_path("rtsp://127.0.0.1:%d/x" % listener.port)).start()
        self.assertTrue(wait_accepted(listener, 5), "camstream never connected to the camera")
        self.check_stop(cam, signal.SIGTERM)
        closed = v.wait_closed(5)
        self.assertIsNotNone(closed, "viewer not closed after SIGTERM: %s" % v.describe())
        self.assertEqual(closed.code, 1001, "close code: %s" % v.describe())

    def test_sigterm_with_a_viewer_that_never_reads_exits_0(self):
        cam = self.start_camstream()
        path = stream_path("demo:")
        self.viewer(cam, path, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
        normal = self.viewer(cam, path).start()
        self.assertGreaterEqual(normal.wait_frames(2 * 25, timeout=15), 2 * 25,
                                normal.describe())   # the slow viewer's buffers are full by now
        self.check_stop(cam, signal.SIGTERM)
        closed = normal.wait_closed(5)
        self.assertIsNotNone(closed, "normal viewer not closed: %s" % normal.describe())
        self.assertEqual(closed.code, 1001, "normal viewer close code: %s" % normal.describe())


def wait_accepted(listener, timeout):
    return wait_until(lambda: len(listener.accepted) > 0, timeout)

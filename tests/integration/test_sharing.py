"""Viewers of the same source share one RTSP session, each getting the size and rate it asked
for; --isolate gives each its own; the session ends with the last viewer; a slow viewer slows
nobody."""

import os
import socket
import time

from camtest import (SessionCountingCase, jpeg_size, measure_rate, stream_path,
                     tcp_send_queue, wait_until)

FPS = 25
SESSION_END_TIMEOUT = 5.0


class SharingTestCase(SessionCountingCase):
    RTSP_FPS = FPS

    def start_viewers(self, cam, path, n):
        viewers = [self.viewer(cam, path).start() for _ in range(n)]
        for i, v in enumerate(viewers):
            self.assertGreaterEqual(v.wait_frames(3, timeout=20), 3,
                                    "viewer %d of %d gets no frames: %s" % (i, n, v.describe()))
        return viewers


class Sharing(SharingTestCase):
    def test_ten_viewers_of_one_url_share_one_rtsp_session(self):
        cam = self.start_camstream()
        self.start_viewers(cam, stream_path(self.rtsp.url("h264")), 10)
        stats = self.rtsp.stats()
        self.assertEqual(stats["sessions"], 1, "10 viewers: RTSP sessions now %s" % stats)
        self.assertEqual(self.new_sessions(), 1, "10 viewers: RTSP sessions created %s" % stats)

    def test_ten_viewers_all_receive_nearly_every_frame(self):
        cam = self.start_camstream()
        viewers = self.start_viewers(cam, stream_path(self.rtsp.url("h264")), 10)
        # Skip the burst a session starts with, then count over a 3 s window.
        viewers[0].wait_frames(len(viewers[0].frame_times) + FPS, timeout=3.0)
        t0 = time.monotonic()
        viewers[0].wait_frames(len(viewers[0].frame_times) + 3 * FPS + 10, timeout=3.0)
        t1 = time.monotonic()
        rates = [v.count_between(t0, t1) / (t1 - t0) for v in viewers]
        slowest = min(rates)
        self.note("slowest viewer %.1f frames/s" % slowest)
        self.assertGreaterEqual(slowest, 0.8 * FPS, "frames/s of the 10 viewers over %.1f s: %s"
                                % (t1 - t0, ["%.1f" % r for r in rates]))
        self.assertTrue(all(v.closed is None for v in viewers),
                        "a viewer was closed: %s" % [v.describe() for v in viewers if v.closed])

    def test_same_options_in_another_order_share_the_session(self):
        cam = self.start_camstream()
        url = self.rtsp.url("h264")
        self.start_viewers(cam, stream_path(url, width=160, quality=70), 1)
        self.start_viewers(cam, stream_path(url, quality=70, width=160), 1)
        self.assertEqual(self.new_sessions(), 1, "same options in another order: sessions %s"
                         % self.rtsp.stats())

    def test_different_width_shares_the_session_with_its_own_size(self):
        cam = self.start_camstream()
        url = self.rtsp.url("h264")
        full, small = (self.start_viewers(cam, stream_path(url), 1)[0],
                       self.start_viewers(cam, stream_path(url, width=160), 1)[0])
        stats = self.rtsp.stats()
        self.assertEqual(stats["sessions"], 1, "full size and width=160: sessions %s" % stats)
        full.wait_frames(len(full.frame_times) + 2, timeout=5)
        small.wait_frames(len(small.frame_times) + 2, timeout=5)
        self.assertEqual(jpeg_size(full.last_frames[-1]), (320, 240), "full-size viewer")
        self.assertEqual(jpeg_size(small.last_frames[-1]), (160, 120), "width=160 viewer")

    def test_different_fps_cap_shares_the_session_at_its_own_rate(self):
        cam = self.start_camstream()
        url = self.rtsp.url("h264")
        full = self.start_viewers(cam, stream_path(url), 1)[0]
        capped = self.start_viewers(cam, stream_path(url, fps=5), 1)[0]
        stats = self.rtsp.stats()
        self.assertEqual(stats["sessions"], 1, "fps unset and fps=5: sessions %s" % stats)
        t0 = time.monotonic()
        full.wait_frames(len(full.frame_times) + 3 * FPS, timeout=4.0)
        t1 = time.monotonic()
        rate_full = full.count_between(t0, t1) / (t1 - t0)
        rate_capped = capped.count_between(t0, t1) / (t1 - t0)
        self.note("full %.1f frames/s, fps=5 %.1f frames/s" % (rate_full, rate_capped))
        self.assertGreaterEqual(rate_full, 0.9 * FPS, "uncapped viewer's rate")
        self.assertLessEqual(rate_capped, 6.5, "fps=5 viewer's rate")
        self.assertGreaterEqual(rate_capped, 3.5, "fps=5 viewer's rate")

    def test_isolate_gives_each_viewer_its_own_session(self):
        cam = self.start_camstream("--isolate")
        self.start_viewers(cam, stream_path(self.rtsp.url("h264")), 2)
        stats = self.rtsp.stats()
        self.assertEqual(stats["sessions"], 2, "--isolate with 2 viewers: sessions %s" % stats)

    def test_isolate_from_the_environment(self):
        cam = self.start_camstream(env={"CAMSTREAM_ISOLATE": "1"})
        self.start_viewers(cam, stream_path(self.rtsp.url("h264")), 2)
        stats = self.rtsp.stats()
        self.assertEqual(stats["sessions"], 2, "CAMSTREAM_ISOLATE=1 with 2 viewers: sessions %s"
                         % stats)


class SessionLifetime(SharingTestCase):
    def test_rtsp_session_ends_when_the_last_viewer_leaves(self):
        cam = self.start_camstream()
        viewers = self.start_viewers(cam, stream_path(self.rtsp.url("h264")), 2)
        for v in viewers:
            v.close()
        t0 = time.monotonic()
        stats = self.rtsp.wait_sessions(lambda s: s["sessions"] == 0 and s["clients"] == 0,
                                        SESSION_END_TIMEOUT)
        self.assertEqual((stats["sessions"], stats["clients"]), (0, 0),
                         "%.0f s after the last viewer left the RTSP server still has %s"
                         % (time.monotonic() - t0, stats))

    def test_rtsp_session_stays_while_a_viewer_remains(self):
        cam = self.start_camstream()
        stay, leave = self.start_viewers(cam, stream_path(self.rtsp.url("h264")), 2)
        leave.close()
        n = len(stay.frame_times)
        got = stay.wait_frames(n + 2 * FPS, timeout=5)
        self.assertGreaterEqual(got, n + 2 * FPS, "the remaining viewer stopped receiving: %s"
                                % stay.describe())
        stats = self.rtsp.stats()
        self.assertEqual(stats["sessions"], 1, "one of two viewers left: sessions %s" % stats)
        self.assertEqual(self.new_sessions(), 1, "one of two viewers left: a new session was "
                         "created %s" % stats)

    def test_abruptly_disconnected_viewer_releases_the_session(self):
        cam = self.start_camstream()
        (v,) = self.start_viewers(cam, stream_path(self.rtsp.url("h264")), 1)
        v.stop()
        v.ws.sock.shutdown(socket.SHUT_RDWR)   # no close frame: the TCP connection just ends
        v.ws.sock.close()
        stats = self.rtsp.wait_sessions(lambda s: s["sessions"] == 0, SESSION_END_TIMEOUT)
        self.assertEqual(stats["sessions"], 0, "%.0f s after the viewer's connection dropped: %s"
                         % (SESSION_END_TIMEOUT, stats))

    def test_viewer_after_the_last_one_left_gets_a_fresh_session(self):
        cam = self.start_camstream()
        url = stream_path(self.rtsp.url("h264"))
        (first,) = self.start_viewers(cam, url, 1)
        first.close()
        stats = self.rtsp.wait_sessions(lambda s: s["sessions"] == 0, SESSION_END_TIMEOUT)
        self.assertEqual(stats["sessions"], 0, "the first session did not end: %s" % stats)
        (second,) = self.start_viewers(cam, url, 1)
        self.assertIsNone(second.closed, second.describe())
        self.assertEqual(self.rtsp.stats()["sessions"], 1)


class SlowViewer(SharingTestCase):
    """A viewer that connects and never reads (a tiny receive buffer, no recv) against a normal
    viewer of the same source."""

    SOURCE = "demo:"   # 1280x720 frames: a backlog would show quickly

    def slow_viewer(self, cam, path):
        v = self.viewer(cam, path, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
        return v   # never read from

    def assertBackedUp(self, cam, slow):
        """The test means something only if camstream has data it cannot send to @slow."""
        port = slow.ws.sock.getsockname()[1]
        queued = wait_until(lambda: (tcp_send_queue(cam.port, port) or 0) > 8 * 1024, 5)
        self.assertTrue(queued, "the slow viewer is not backed up: camstream's send queue to "
                        "it holds %s bytes" % tcp_send_queue(cam.port, port))

    def test_frames_do_not_pile_up_in_the_kernel_for_a_slow_viewer(self):
        # latest frame wins all the way: camstream starts a frame only when at most about
        # one frame still waits in the socket, so the backlog stays near one frame
        cam = self.start_camstream()
        path = stream_path(self.SOURCE)
        slow = self.slow_viewer(cam, path)
        self.assertBackedUp(cam, slow)
        port = slow.ws.sock.getsockname()[1]
        peak = 0
        t_end = time.monotonic() + 3.0
        while time.monotonic() < t_end:
            peak = max(peak, tcp_send_queue(cam.port, port) or 0)
            time.sleep(0.05)  # sampling, not synchronisation
        self.note("peak send queue %d bytes" % peak)
        self.assertLess(peak, 200 * 1024, "camstream's send queue to a viewer that never reads")

    def test_slow_viewer_does_not_slow_a_normal_viewer(self):
        cam = self.start_camstream()
        path = stream_path(self.SOURCE)
        slow = self.slow_viewer(cam, path)
        normal = self.viewer(cam, path)
        normal.frames(1, timeout=15)
        rate, _ = measure_rate(normal, warmup=3.0, duration=4.0)
        self.assertBackedUp(cam, slow)
        self.assertRateAtLeast(rate, 0.9 * 25, "normal viewer next to a viewer that never reads")

    def test_slow_viewer_does_not_grow_server_memory(self):
        # ASan keeps freed memory in quarantine; bound it so RSS shows real growth.
        asan = os.environ.get("ASAN_OPTIONS", "")
        cam = self.start_camstream(env={"ASAN_OPTIONS": (asan + ":" if asan else "")
                                        + "quarantine_size_mb=16"})
        path = stream_path(self.SOURCE)
        slow = self.slow_viewer(cam, path)
        normal = self.viewer(cam, path).start()
        self.assertGreaterEqual(normal.wait_frames(3 * 25, timeout=10), 3 * 25,
                                "normal viewer: %s" % normal.describe())   # buffers are full
        self.assertBackedUp(cam, slow)
        rss0 = cam.rss_kb()
        n = len(normal.frame_times)
        normal.wait_frames(n + 5 * 25, timeout=5.0)   # about 5 s of frames
        rss1 = cam.rss_kb()
        grown_mb = (rss1 - rss0) / 1024
        self.note("VmRSS %d -> %d kB" % (rss0, rss1))
        self.assertLess(grown_mb, 30, "VmRSS grew %.1f MB (%d -> %d kB) in %d frames with a "
                        "viewer that never reads" % (grown_mb, rss0, rss1,
                                                     len(normal.frame_times) - n))
        self.assertIsNone(normal.closed, "normal viewer: %s" % normal.describe())

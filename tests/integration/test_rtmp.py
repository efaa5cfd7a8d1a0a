"""rtmp:// sources work like rtsp:// ones, against a real RTMP server (nginx with
libnginx-mod-rtmp, fed by the ffmpeg CLI; see rtmp_server.py): valid JPEGs at the source rate,
one pull for many viewers, and the failure contract when the publisher or the server goes away:
one error text, then a close, within the read timeout + 1 s."""

import time

from camtest import CamTestCase, jpeg_size, measure_rate, pixels_differ, stream_path
from rtmp_server import start_for_test as start_rtmp

FPS = 25
MIN_RATE = 0.9 * FPS       # the contract: >= 90% of the source rate
WARMUP = 1.5
WINDOW = 4.0
READ_TIMEOUT = 2.0
OPEN_TIMEOUT = 3.0
LOSS_CODES = ("source_ended", "timeout")


class RtmpTestCase(CamTestCase):
    def watch(self, cam, url, n=1, frames=5):
        viewers = [self.viewer(cam, stream_path(url)).start() for _ in range(n)]
        for i, v in enumerate(viewers):
            self.assertGreaterEqual(v.wait_frames(frames, timeout=20), frames,
                                    "viewer %d of %s gets no frames: %s" % (i, url,
                                                                            v.describe()))
        return viewers

    def check_loss(self, v, lost_at, what):
        """One error text (source_ended or timeout), then a close, within READ_TIMEOUT + 1 s of
        @lost_at: 1011 for a failure, 1000 only for a clean source_ended."""
        closed = v.wait_closed(READ_TIMEOUT + 10)
        self.assertIsNotNone(closed, "no close %.0f s after %s: %s"
                             % (READ_TIMEOUT + 10, what, v.describe()))
        err, code = v.error_and_code(closed)
        self.assertIn(err.get("code"), LOSS_CODES, "error after %s: %r (close %s)"
                      % (what, err, closed))
        allowed = (1000, 1011) if err.get("code") == "source_ended" else (1011,)
        self.assertIn(code, allowed, "close code after %s (error %r)" % (what, err))
        elapsed = v.closed_at - lost_at
        self.note("%s/%s %.2f s after %s" % (err.get("code"), code, elapsed, what))
        self.assertLessEqual(elapsed, READ_TIMEOUT + 1.0, "closed %.1f s after %s, "
                             "--read-timeout %.0f" % (elapsed, what, READ_TIMEOUT))
        return err, code


class RtmpStreaming(RtmpTestCase):
    def setUp(self):
        self.rtmp = start_rtmp(self, fps=FPS)
        self.cam = self.start_camstream()

    def test_rtmp_viewer_gets_valid_jpegs_of_the_source_size(self):
        v = self.viewer(self.cam, stream_path(self.rtmp.url()))
        frames = v.frames(10, timeout=20)
        for i, f in enumerate(frames):
            self.assertJpeg(f, "frame %d" % i)
            self.assertEqual(jpeg_size(f), (320, 240), "size of frame %d" % i)

    def test_rtmp_pictures_move(self):
        v = self.viewer(self.cam, stream_path(self.rtmp.url()))
        first = v.frames(1, timeout=20)[0]
        v.frames(FPS // 2, timeout=10)
        last = v.frames(1, timeout=10)[0]
        self.assertGreater(pixels_differ(first, last), 1.0, "half a second of testsrc2 did not "
                           "change the picture")

    def test_rtmp_stream_runs_at_the_source_frame_rate(self):
        v = self.viewer(self.cam, stream_path(self.rtmp.url()))
        v.frames(1, timeout=20)
        rate, frames = measure_rate(v, WARMUP, WINDOW)
        self.assertRateAtLeast(rate, MIN_RATE, "RTMP %d fps source" % FPS)
        self.assertLessEqual(rate, FPS * 1.12, "more frames than the source has: %.1f/s" % rate)
        for i, f in enumerate(frames):
            self.assertJpeg(f, "frame %d of the window" % i)

    def test_viewers_of_one_rtmp_url_share_one_pull(self):
        viewers = self.watch(self.cam, self.rtmp.url(), n=3)
        self.assertEqual(self.rtmp.players(), 1, "3 viewers: players on the RTMP server %s"
                         % self.rtmp.streams())
        for v in viewers:
            v.close()
        self.assertTrue(self.rtmp._wait(lambda: self.rtmp.players() == 0, 5.0),
                        "the RTMP pull outlived its last viewer: %s" % self.rtmp.streams())

    def test_rtmp_url_with_userinfo_plays(self):
        # nginx-rtmp ignores userinfo; camstream must pass it on and not choke on it
        v = self.viewer(self.cam, stream_path(self.rtmp.url(userinfo="user:pa55")))
        self.assertJpeg(v.frames(3, timeout=20)[-1])


class RtmpSourceLoss(RtmpTestCase):
    def start(self, idle_streams):
        self.rtmp = start_rtmp(self, fps=FPS, idle_streams=idle_streams)
        self.cam = self.start_camstream("--read-timeout", READ_TIMEOUT,
                                        "--open-timeout", OPEN_TIMEOUT)

    def test_stopped_publisher_closes_viewers_when_the_server_keeps_players(self):
        # nginx-rtmp's default: players stay connected, waiting for a new publisher
        self.start(idle_streams=True)
        viewers = self.watch(self.cam, self.rtmp.url(), n=2)
        stopped_at = self.rtmp.stop_publisher(wait=False)
        for v in viewers:
            self.check_loss(v, stopped_at, "the publisher stopped")
        self.assertTrue(self.cam.alive(), "camstream died after the publisher stopped")

    def test_stopped_publisher_closes_viewers_when_the_server_drops_players(self):
        self.start(idle_streams=False)
        (v,) = self.watch(self.cam, self.rtmp.url())
        self.check_loss(v, self.rtmp.stop_publisher(wait=False), "the publisher stopped")

    def test_killed_rtmp_server_closes_viewers_with_1011(self):
        self.start(idle_streams=True)
        (v,) = self.watch(self.cam, self.rtmp.url())
        killed_at = time.monotonic()
        self.rtmp.kill()
        err, code = self.check_loss(v, killed_at, "the RTMP server was killed")
        self.assertEqual(code, 1011, "close code after the server died (error %r)" % (err,))

    def test_new_viewer_plays_again_once_a_publisher_returns(self):
        self.start(idle_streams=True)
        (v,) = self.watch(self.cam, self.rtmp.url())
        self.check_loss(v, self.rtmp.stop_publisher(), "the publisher stopped")
        self.rtmp.start_publisher()
        (again,) = self.watch(self.cam, self.rtmp.url())
        self.assertIsNone(again.closed, again.describe())

    def test_unpublished_stream_fails_within_the_open_timeout(self):
        # nginx answers NetStream.Play.StreamNotFound (FFmpeg 5.1 reports it as EPERM)
        self.start(idle_streams=False)   # nginx refuses players of a stream nobody publishes
        v = self.viewer(self.cam, stream_path(self.rtmp.url("nobody")))
        closed = v.until_closed(OPEN_TIMEOUT + 10)
        err, code = v.error_and_code(closed)
        self.assertIn(err.get("code"), ("not_found", "open_failed"), "error for a stream "
                      "nobody publishes: %r" % (err,))
        self.assertEqual(code, 1011, "close code (error %r)" % (err,))
        elapsed = v.closed_at - v.connected_at
        self.note("%s %.2f s after connecting" % (err.get("code"), elapsed))
        self.assertLessEqual(elapsed, OPEN_TIMEOUT + 1.0)

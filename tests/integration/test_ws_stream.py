"""/ws/stream delivers every decoded frame as one binary JPEG message: validity, size, rate,
the fps/width/height/quality/transport options, codecs, colours and the demo source; and to a
viewer that sends "next", one frame per "next" (pull mode)."""

import re
import statistics
import time

from camtest import (CamTestCase, WsTimeout, jpeg_size, mean_luma, measure_rate, pixels_differ,
                     stream_path)

FPS = 25
WIDTH, HEIGHT = 320, 240
MIN_RATE = 0.9 * FPS        # the contract: >= 90% of the source rate
WARMUP = 1.5                # seconds skipped before a rate is measured (session start bursts)
WINDOW = 4.0                # seconds a rate is measured over


class StreamTestCase(CamTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_rtsp(width=WIDTH, height=HEIGHT, fps=FPS)

    def setUp(self):
        self.cam = self.start_camstream()

    def open(self, mount, **opts):
        return self.viewer(self.cam, stream_path(self.rtsp.url(mount), **opts))

    def first_frames(self, v, n=5, timeout=20.0):
        frames = v.frames(n, timeout)
        for i, f in enumerate(frames):
            self.assertJpeg(f, "frame %d" % i)
        return frames


class Frames(StreamTestCase):
    def test_h264_frames_are_valid_jpegs_of_the_source_size(self):
        frames = self.first_frames(self.open("h264"), n=10)
        for i, f in enumerate(frames):
            self.assertEqual(jpeg_size(f), (WIDTH, HEIGHT), "size of frame %d" % i)

    def test_h264_stream_runs_at_the_source_frame_rate(self):
        v = self.open("h264")
        self.first_frames(v, n=1)
        rate, frames = measure_rate(v, WARMUP, WINDOW)
        self.assertRateAtLeast(rate, MIN_RATE, "H.264 %d fps source" % FPS)
        self.assertLessEqual(rate, FPS * 1.12, "more frames than the source has: %.1f/s" % rate)
        self.assertJpeg(frames[-1], "last frame of the window")

    def test_consecutive_frames_of_a_moving_source_differ(self):
        frames = self.first_frames(self.open("h264"), n=6)
        diffs = [pixels_differ(a, b) for a, b in zip(frames, frames[1:])]
        self.assertTrue(all(d > 0 for d in diffs),
                        "some consecutive frames are identical (mean luma differences %s)"
                        % ["%.2f" % d for d in diffs])

    def test_unencoded_rtsp_url_works(self):
        v = self.viewer(self.cam, stream_path(self.rtsp.url("h264"), encode=False))
        for f in self.first_frames(v, n=3):
            self.assertEqual(jpeg_size(f), (WIDTH, HEIGHT))

    def test_percent_encoded_url_with_its_own_query_works(self):
        # "&" and "=" inside the camera URL must not split the request's own parameters.
        url = self.rtsp.url("h264") + "?channel=1&subtype=0"
        v = self.viewer(self.cam, stream_path(url, width=160))
        for f in self.first_frames(v, n=3):
            self.assertEqual(jpeg_size(f), (160, 120))

    def test_h265_source_gives_valid_jpegs_of_the_source_size(self):
        for i, f in enumerate(self.first_frames(self.open("h265"), n=5)):
            self.assertEqual(jpeg_size(f), (WIDTH, HEIGHT), "size of H.265 frame %d" % i)

    def test_mjpeg_source_gives_valid_jpegs_of_the_source_size(self):
        for i, f in enumerate(self.first_frames(self.open("mjpeg"), n=5)):
            self.assertEqual(jpeg_size(f), (WIDTH, HEIGHT), "size of MJPEG frame %d" % i)

    def test_black_source_decodes_black(self):
        frames = self.first_frames(self.open("black"), n=5)
        luma = mean_luma(frames[-1])
        self.note("mean luma %.1f" % luma)
        self.assertLess(luma, 8, "mean luma of a black picture is %.1f: limited range (16) not "
                        "converted to full range (0)?" % luma)

    def test_white_source_decodes_white(self):
        frames = self.first_frames(self.open("white"), n=5)
        luma = mean_luma(frames[-1])
        self.note("mean luma %.1f" % luma)
        self.assertGreater(luma, 247, "mean luma of a white picture is %.1f: limited range (235) "
                           "not converted to full range (255)?" % luma)


class Options(StreamTestCase):
    def test_fps_caps_the_frame_rate(self):
        v = self.open("h264", fps=5)
        self.first_frames(v, n=1)
        rate, _ = measure_rate(v, WARMUP, WINDOW)
        self.note("fps=5: %.1f frames/s" % rate)
        self.assertLessEqual(rate, 5 * 1.2, "fps=5 gave %.1f frames/s" % rate)
        self.assertGreaterEqual(rate, 5 * 0.75, "fps=5 gave only %.1f frames/s" % rate)

    def test_width_and_height_scale_to_both(self):
        for f in self.first_frames(self.open("h264", width=200, height=100), n=3):
            self.assertEqual(jpeg_size(f), (200, 100), "width=200&height=100")

    def test_width_alone_keeps_the_aspect_ratio(self):
        for f in self.first_frames(self.open("h264", width=160), n=3):
            self.assertEqual(jpeg_size(f), (160, 120), "width=160 of 320x240")

    def test_height_alone_keeps_the_aspect_ratio(self):
        for f in self.first_frames(self.open("h264", height=120), n=3):
            self.assertEqual(jpeg_size(f), (160, 120), "height=120 of 320x240")

    def test_odd_dimensions_are_rounded_to_even(self):
        w, h = jpeg_size(self.first_frames(self.open("h264", width=161, height=121), n=2)[-1])
        self.assertEqual((w % 2, h % 2), (0, 0), "width=161&height=121 gave %dx%d" % (w, h))
        self.assertLessEqual(abs(w - 161), 1, "width=161 gave %d" % w)
        self.assertLessEqual(abs(h - 121), 1, "height=121 gave %d" % h)

    def test_derived_dimension_is_rounded_to_even(self):
        # 250 wide keeps 4:3 at 187.5 high: an even height near it.
        w, h = jpeg_size(self.first_frames(self.open("h264", width=250), n=2)[-1])
        self.assertEqual(w, 250, "width=250 gave %dx%d" % (w, h))
        self.assertEqual(h % 2, 0, "width=250 gave an odd height: %dx%d" % (w, h))
        self.assertLessEqual(abs(h - 187.5), 2, "width=250 of 4:3 gave %dx%d" % (w, h))

    def test_lower_quality_gives_smaller_jpegs(self):
        low = self.first_frames(self.open("smpte", quality=10), n=8)
        high = self.first_frames(self.open("smpte", quality=95), n=8)
        low_size = statistics.median(len(f) for f in low)
        high_size = statistics.median(len(f) for f in high)
        self.note("median %d vs %d bytes" % (low_size, high_size))
        self.assertLess(low_size, 0.7 * high_size, "quality=10 median %d bytes vs quality=95 "
                        "median %d bytes" % (low_size, high_size))

    def test_tcp_transport_streams_at_the_source_rate(self):
        v = self.open("h264", transport="tcp")
        self.first_frames(v, n=1)
        rate, _ = measure_rate(v, WARMUP, WINDOW)
        self.assertRateAtLeast(rate, MIN_RATE, "transport=tcp")

    def test_udp_transport_streams_at_the_source_rate(self):
        v = self.open("h264", transport="udp")
        self.first_frames(v, n=1)
        rate, _ = measure_rate(v, WARMUP, WINDOW)
        self.assertRateAtLeast(rate, MIN_RATE, "transport=udp")

    def test_auto_transport_streams(self):
        v = self.open("h264", transport="auto")
        for f in self.first_frames(v, n=5):
            self.assertEqual(jpeg_size(f), (WIDTH, HEIGHT))


class Sources(StreamTestCase):
    def test_demo_source_gives_moving_1280x720_jpegs(self):
        v = self.viewer(self.cam, stream_path("demo:"))
        frames = self.first_frames(v, n=4)
        for i, f in enumerate(frames):
            self.assertEqual(jpeg_size(f), (1280, 720), "size of demo frame %d" % i)
        diffs = [pixels_differ(a, b) for a, b in zip(frames, frames[1:])]
        self.assertTrue(all(d > 0 for d in diffs),
                        "consecutive demo frames are identical (differences %s)" % diffs)

    def test_demo_source_runs_at_about_25_fps(self):
        v = self.viewer(self.cam, stream_path("demo:"))
        self.first_frames(v, n=1)
        rate, frames = measure_rate(v, WARMUP, WINDOW)
        self.assertRateAtLeast(rate, 0.9 * 25, "demo:")
        self.assertLessEqual(rate, 25 * 1.12, "demo: sends too fast: %.1f/s" % rate)
        self.assertJpeg(frames[-1], "last demo frame of the window")

    def test_source_with_credentials_streams(self):
        from camtest import SECURE_PASSWORD, SECURE_USER
        url = self.rtsp.secure_url("%s:%s" % (SECURE_USER, SECURE_PASSWORD))
        v = self.viewer(self.cam, stream_path(url))
        for f in self.first_frames(v, n=3):
            self.assertEqual(jpeg_size(f), (WIDTH, HEIGHT))


STAMP = re.compile(rb"camstream t=(\d{16}) seq=(\d{10})")


def stamp(data):
    """(capture time in s, seq) from the comment camstream writes into each JPEG."""
    m = STAMP.search(data[:256])
    if not m:
        raise AssertionError("no camstream stamp in the JPEG's first 256 bytes")
    return int(m.group(1)) / 1e6, int(m.group(2))


class Pull(StreamTestCase):
    """A viewer that sends "next" gets one frame per "next", and one made after it asked."""

    def drain(self, v, seconds):
        """The frames that arrive within @seconds (a window: what is asserted is what does not
        come)."""
        out = []
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return out
            try:
                kind, data = v.recv(left)
            except WsTimeout:
                return out
            self.assertEqual(kind, "binary", "a pulling viewer got %s %r" % (kind, data))
            out.append(data)

    def test_each_next_brings_one_frame_and_no_more(self):
        v = self.open("h264")
        self.first_frames(v, 1)
        v.ws.send("next")
        self.drain(v, 1.0)   # what was pushed before camstream read "next", and its frame
        for _ in range(3):
            v.ws.send("next")
        got = v.frames(3, timeout=5)
        seqs = [stamp(f)[1] for f in got]
        self.assertEqual(seqs, sorted(set(seqs)), "three different frames, in order")
        self.assertEqual(len(self.drain(v, 1.0)), 0, "frames nobody asked for")
        v.ws.send("next")
        self.assertEqual(len(v.frames(1, timeout=5)), 1, "one more when asked again")

    def test_the_frame_asked_for_was_made_after_the_asking(self):
        other = self.open("h264")    # keeps the camera's pictures encoded while it watches
        v = self.open("h264")
        self.first_frames(other, 1)
        self.first_frames(v, 1)
        v.ws.send("next")
        self.drain(v, 0.5)
        other.close()   # now nobody wants frames: the camera's pictures go by unencoded
        self.assertEqual(len(self.drain(v, 2.0)), 0, "frames nobody asked for")
        asked = time.time()
        v.ws.send("next")
        (data,) = v.frames(1, timeout=5)
        captured, _ = stamp(data)
        self.assertGreater(captured, asked - 0.05, "the frame asked for was captured %.2f s "
                           "before it was asked for" % (asked - captured))

    def test_pulling_viewer_still_gets_the_error_when_the_camera_goes(self):
        rtsp = self.start_rtsp(width=WIDTH, height=HEIGHT, fps=FPS)
        v = self.viewer(self.cam, stream_path(rtsp.url("h264")))
        self.first_frames(v, 1)
        v.ws.send("next")
        self.drain(v, 0.5)
        rtsp.kill()
        kind, text = v.recv(15)
        self.assertEqual(kind, "text", "an error text for a viewer that asked for nothing")
        self.assertIn("source_ended", text)
        self.assertIn(v.until_closed(5).code, (1000, 1011))

    def test_other_messages_still_close_the_viewer(self):
        v = self.open("h264")
        self.first_frames(v, 1)
        v.ws.send("next please")
        self.assertEqual(v.until_closed(5).code, 1003)

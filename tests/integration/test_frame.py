"""The coded-picture path, seen from outside through its first reader: GET
/api/streams/{name}/frame (seed 001) answers the camera's own newest key picture in Annex B,
its parameter sets first, so ffmpeg decodes it; a camera watched only that way is demuxed and
never decoded (camstream_frames_decoded_total stays 0); and a named stream's status reports
the rate it measures."""

import json
import os
import subprocess
import tempfile
import time

from camtest import CamTestCase, SilentListener, http_get, wait_until
from test_metrics import Metrics

FPS = 25


def frame_picture(data, suffix):
    """Decodes @data (Annex B) with the ffmpeg CLI: (width, height) of its one picture, or
    None, and ffmpeg's messages."""
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "frame." + suffix)
        with open(src, "wb") as f:
            f.write(data)
        out = os.path.join(d, "out.jpg")
        r = subprocess.run(["ffmpeg", "-v", "error", "-i", src, "-frames:v", "1", "-y", out],
                           capture_output=True, timeout=30)
        if r.returncode != 0 or not os.path.exists(out):
            return None, r.stderr.decode(errors="replace")
        r = subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-show_streams", out],
                           capture_output=True, timeout=30)
        s = json.loads(r.stdout)["streams"][0]
        return (s["width"], s["height"]), ""


class Frame(CamTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_rtsp(fps=FPS)

    def start(self, streams):
        return self.start_camstream("--config", self.write_streams_config(streams),
                                    "--open-timeout", "4")

    def get_frame(self, cam, name):
        return http_get(cam.port, "/api/streams/%s/frame" % name, timeout=20)

    def metric(self, cam, name, stream):
        return Metrics(http_get(cam.port, "/metrics").body.decode()).value(name, name=stream)

    def test_h264_frame_decodes_with_ffmpeg(self):
        cam = self.start([{"name": "cam", "rtsp_url": self.rtsp.url("h264")}])
        r = self.get_frame(cam, "cam")
        self.assertEqual(r.status, 200, r.body[:200])
        self.assertEqual(r.headers.get("content-type"), "video/h264")
        self.assertEqual(r.body[:4], b"\x00\x00\x00\x01", "Annex B starts with a start code")
        self.assertEqual(r.body[4] & 0x1f, 7, "the parameter sets come first (an SPS)")
        size, err = frame_picture(r.body, "h264")
        self.assertEqual(size, (self.rtsp.width, self.rtsp.height), err)

    def test_h265_frame_decodes_with_ffmpeg(self):
        cam = self.start([{"name": "cam", "rtsp_url": self.rtsp.url("h265")}])
        r = self.get_frame(cam, "cam")
        self.assertEqual(r.status, 200, r.body[:200])
        self.assertEqual(r.headers.get("content-type"), "video/h265")
        self.assertEqual((r.body[4] >> 1) & 0x3f, 32, "the parameter sets come first (a VPS)")
        size, err = frame_picture(r.body, "h265")
        self.assertEqual(size, (self.rtsp.width, self.rtsp.height), err)

    def test_a_camera_read_only_for_frames_is_never_decoded(self):
        cam = self.start([{"name": "cam", "rtsp_url": self.rtsp.url("h264")}])
        self.assertEqual(self.get_frame(cam, "cam").status, 200)
        # the source is kept warm: pictures keep coming, none is decoded
        self.assertTrue(wait_until(
            lambda: self.metric(cam, "camstream_pictures_received_total", "cam") >= 2 * FPS,
            10), "pictures keep coming for the warm source")
        self.assertEqual(self.metric(cam, "camstream_frames_decoded_total", "cam"), 0)
        # a JPEG reader of the same source makes it decode
        r = http_get(cam.port, "/api/streams/cam/snapshot", timeout=20)
        self.assertEqual(r.status, 200, r.body[:200])
        self.assertGreater(self.metric(cam, "camstream_frames_decoded_total", "cam"), 0)

    def test_a_second_frame_comes_from_the_running_source_at_once(self):
        cam = self.start([{"name": "cam", "rtsp_url": self.rtsp.url("h264")}])
        self.assertEqual(self.get_frame(cam, "cam").status, 200)
        sessions = self.rtsp.stats()["sessions_total"]
        t0 = time.monotonic()
        r = self.get_frame(cam, "cam")
        took = time.monotonic() - t0
        self.assertEqual(r.status, 200)
        self.note("second frame in %.0f ms" % (took * 1000))
        self.assertLess(took, 0.5, "the cached key picture answers at once")
        self.assertEqual(self.rtsp.stats()["sessions_total"], sessions,
                         "no new camera session")

    def test_the_status_reports_the_measured_frame_rate(self):
        cam = self.start([{"name": "cam", "rtsp_url": self.rtsp.url("h264"),
                           "always_on": True}])
        last = {}

        def measured():
            last.update(json.loads(http_get(cam.port, "/api/streams/cam").body))
            return last.get("fps") is not None
        self.assertTrue(wait_until(measured, 10), "no fps in %r" % last)
        self.assertAlmostEqual(last["fps"], FPS, delta=3, msg="status %r" % last)
        self.assertEqual(last["codec"], "h264")
        self.assertEqual((last["width"], last["height"]), (self.rtsp.width, self.rtsp.height))

    def test_unknown_name_is_404_json(self):
        cam = self.start([])
        self.assertJsonError(self.get_frame(cam, "nope"), 404, "not_found", "unknown name")

    def test_a_source_without_a_coded_form_is_unsupported(self):
        cam = self.start([{"name": "demo", "rtsp_url": "demo:"},
                          {"name": "mj", "rtsp_url": self.rtsp.url("mjpeg")}])
        self.assertJsonError(self.get_frame(cam, "demo"), 502, "unsupported_codec", "demo:")
        self.assertJsonError(self.get_frame(cam, "mj"), 502, "unsupported_codec", "mjpeg")

    def test_no_key_picture_within_the_open_timeout_is_504(self):
        silent = SilentListener()
        self.addCleanup(silent.close)
        cam = self.start([{"name": "gone",
                           "rtsp_url": "rtsp://127.0.0.1:%d/cam" % silent.port}])
        self.assertJsonError(self.get_frame(cam, "gone"), 504, "timeout", "a camera not there")

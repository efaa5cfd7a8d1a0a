"""HTTP-FLV and WS-FLV (issue 11): GET /flv?rtsp_url=, /?cam_url=, /live/NAME.flv and
WS /ws/flv carry the camera's own coded pictures (and its audio as AAC) in FLV, from a cached
key picture on, without decoding them. Checked tag by tag with a strict reader of our own
(flvtags.py), and end to end with FFmpeg's readers; errors before the first byte are the usual
JSON; viewers share the camera's one RTSP session; a dead, frozen or ending camera ends the
body; a viewer that never reads costs no memory and slows nobody; 1000 viewers are served.

The contract is issue 11's, as the README's "HTTP-FLV and WS-FLV" section tells it.
CAMSTREAM_FLV_MANY sets the number of viewers of the load test (default 1000)."""

import json
import os
import resource
import signal
import socket
import subprocess
import time
import urllib.parse

import flvtags
from camtest import (SessionCountingCase, http_get, raise_nofile, stream_path, tcp_send_queue,
                     wait_until)
from flvtags import FlvError, HttpFlv, WsFlv
from test_many_clients import HealthProbe
from test_metrics import Metrics
from test_streams_api import request

FPS = 25
OPEN_TIMEOUT = 3.0
READ_TIMEOUT = 2.0
SLACK = 1.0                 # "within the timeout": the timeout + 1 s, as test_faults has it
FIRST_PICTURE = 20.0        # connect to the first picture, camera start included
SESSION_END_TIMEOUT = 5.0
FFMPEG_TIMEOUT = 60.0
MANY = int(os.environ.get("CAMSTREAM_FLV_MANY", "1000"))
SIZE = (320, 240)
AAC_CAMERA = (2, 16000, 1)  # AAC-LC, 16 kHz, mono: rtsp_server.py's audio mounts


def query(rtsp_url=None, **opts):
    """?rtsp_url=<percent-encoded>&opt=value..., as /ws/stream takes them."""
    return stream_path(rtsp_url, **opts)[len("/ws/stream"):]


def flv_path(rtsp_url=None, **opts):
    return "/flv" + query(rtsp_url, **opts)


def ws_flv_path(rtsp_url=None, **opts):
    return "/ws/flv" + query(rtsp_url, **opts)


def run(argv, stdin=None, timeout=FFMPEG_TIMEOUT):
    """Runs an FFmpeg tool: (exit code, stdout text, stderr text)."""
    p = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def headers_of(tags):
    """The tags before the first picture or audio frame (metadata and sequence headers)."""
    out = []
    for t in tags:
        if t.is_picture or (t.kind == "audio" and t.aac_packet == "frame"):
            break
        out.append(t)
    return out


def first_picture_index(tags):
    return next(i for i, t in enumerate(tags) if t.is_picture)


class FlvCase(SessionCountingCase):
    """One RTSP fixture for the class (rtsp_server.py, 320x240 at 25 frames/s); every test
    starts with no RTSP session open."""

    RTSP_FPS = FPS

    def start_camstream(self, *args, **kw):
        return super().start_camstream("--open-timeout", OPEN_TIMEOUT,
                                       "--read-timeout", READ_TIMEOUT, *args, **kw)

    def client(self, cam, path, ws=False, **kw):
        c = (WsFlv if ws else HttpFlv)(cam.port, path, **kw)
        self.addCleanup(c.close)
        return c

    def play(self, cam, path, pictures=1, ws=False, timeout=FIRST_PICTURE, **kw):
        """A client of @path that got the 200 (or 101) answer and @pictures pictures."""
        c = self.client(cam, path, ws=ws, **kw)
        if ws:
            self.assertEqual(c.open(timeout), 101, "WS %s: %r %r" % (path, c.status, c.body))
        else:
            self.assertEqual(c.read_head(timeout), 200, "GET %s: %s %r"
                             % (path, c.status_line, c.body[:300]))
            self.assertEqual(c.headers.get("content-type"), "video/x-flv", c.describe())
        c.read_pictures(pictures, timeout)
        return c

    def camera(self, mount):
        return self.rtsp.url(mount)

    def expect_error(self, cam, path, status, code, timeout=FIRST_PICTURE):
        """GET @path answers @status with the JSON {"error": text, "code": @code}."""
        c = self.client(cam, path)
        t0 = time.monotonic()
        got = c.read_head(timeout)
        elapsed = time.monotonic() - t0
        self.assertEqual(got, status, "GET %s: %s %r" % (path, c.status_line, c.body[:300]))
        self.assertEqual(c.headers.get("content-type", "").split(";")[0], "application/json",
                         "GET %s: content type of the error" % path)
        doc = c.json()
        self.assertEqual(doc.get("code"), code, "GET %s: %r" % (path, doc))
        self.assertTrue(str(doc.get("error", "")).strip(), "GET %s: no message %r" % (path, doc))
        return doc, elapsed

    def expect_ws_flv_error(self, cam, path, code, close_code, timeout=FIRST_PICTURE):
        """/ws/flv fails as /ws/stream does: one JSON text {"error", "code": @code}, then
        @close_code (the one /ws/stream gives for the same cause)."""
        err, _, _ = self.expect_ws_error(cam, path, code, close_code, timeout=timeout)
        return err

    def metrics(self, cam):
        r = http_get(cam.port, "/metrics")
        self.assertEqual(r.status, 200, r.body[:300])
        return Metrics(r.body.decode("utf-8"))

    def source_value(self, m, metric, url):
        """@metric of the source whose label is @url (summed over its samples)."""
        found = [v for n, lab, v in m.samples if n == metric and lab.get("source") == url]
        self.assertTrue(found, "no %s{source=%r} in /metrics:\n%s" % (metric, url, m.text))
        return sum(found)


# ---- the byte stream ------------------------------------------------------------------------

class Answer(FlvCase):
    def test_answer_is_200_video_x_flv_close_delimited_with_the_contract_headers(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h264")))
        h = c.headers
        self.assertEqual(c.status_line.split()[0], "HTTP/1.1", c.status_line)
        self.assertNotIn("content-length", h, h)
        self.assertNotIn("transfer-encoding", h, "the contract has a close-delimited body: %r"
                         % h)
        self.assertIn("no-store", h.get("cache-control", ""), h)
        self.assertEqual(h.get("access-control-allow-origin"), "*", h)
        self.assertEqual(h.get("x-accel-buffering"), "no", h)

    def test_stream_outlives_the_5_second_http_timeout(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h264")))
        c.read_for(6.0)
        late = [t for t in c.read_for(1.5) if t.is_picture]
        self.assertFalse(c.eof, "the body ended: %s" % c.describe())
        self.assertGreaterEqual(len(late), 0.9 * 1.5 * FPS, c.describe())


class Header(FlvCase):
    def test_video_only_camera_flags_video_alone(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h264")), pictures=FPS)
        self.assertEqual(c.header_flags, flvtags.FLAG_VIDEO, "FLV header flags")
        self.assertEqual([t for t in c.tags if t.kind == "audio"], [], "audio tags")

    def test_audio_0_leaves_the_audio_flag_and_the_audio_out(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h264-aac"), audio=0), pictures=FPS)
        self.assertEqual(c.header_flags, flvtags.FLAG_VIDEO, "FLV header flags with audio=0")
        self.assertEqual([t for t in c.tags if t.kind == "audio"], [], "audio tags with audio=0")

    def test_audio_camera_flags_audio_and_sends_the_aac_sequence_header_first(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h264-aac")))
        self.assertEqual(c.header_flags, flvtags.FLAG_VIDEO | flvtags.FLAG_AUDIO,
                         "FLV header flags of an H.264 + AAC camera")
        heads = headers_of(c.tags)
        aac = [t for t in heads if t.kind == "audio"]
        self.assertEqual(len(aac), 1, "AAC sequence headers before the first picture: %s"
                         % c.describe())
        self.assertEqual((aac[0].first_byte, aac[0].aac_packet), (0xAF, "config"), aac[0])
        self.assertEqual(aac[0].asc, AAC_CAMERA, "AudioSpecificConfig (type, rate, channels)")
        self.assertEqual(aac[0].timestamp, 0, aac[0])


class Metadata(FlvCase):
    def metadata(self, mount, **opts):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera(mount), **opts))
        first = c.tags[0]
        self.assertEqual((first.kind, first.name, first.timestamp), ("script", "onMetaData", 0),
                         "the first tag: %s" % c.describe())
        self.assertIsInstance(first.value, dict, "onMetaData's value: %r" % (first.value,))
        return first.value

    def test_on_metadata_comes_first_with_the_size_and_codec_id(self):
        meta = self.metadata("h264")
        self.assertEqual((meta.get("width"), meta.get("height")), SIZE, meta)
        self.assertEqual(meta.get("videocodecid"), 7, meta)
        self.assertNotIn("audiocodecid", meta, "a video-only camera: %r" % meta)
        if "framerate" in meta:
            self.assertAlmostEqual(meta["framerate"], FPS, delta=1, msg=meta)
        else:
            self.note("no framerate in onMetaData")

    def test_on_metadata_of_an_audio_camera_describes_the_aac(self):
        meta = self.metadata("h264-aac")
        self.assertEqual(meta.get("audiocodecid"), 10, meta)
        self.assertEqual(meta.get("audiosamplerate"), AAC_CAMERA[1], meta)
        if "audiochannels" in meta:
            self.assertEqual(meta["audiochannels"], 1, meta)
        self.assertIs(meta.get("stereo", False), False, meta)

    def test_on_metadata_of_an_h265_camera_names_its_fourcc(self):
        # Enhanced RTMP names a codec by its FourCC where the legacy ids end: "hvc1"
        meta = self.metadata("h265")
        self.assertEqual(meta.get("videocodecid"), int.from_bytes(b"hvc1", "big"), meta)
        self.assertEqual((meta.get("width"), meta.get("height")), SIZE, meta)


class SequenceHeaders(FlvCase):
    def test_headers_are_metadata_video_then_audio_all_at_0(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h264-aac")))
        heads = headers_of(c.tags)
        kinds = [(t.kind, t.packet or t.aac_packet or t.name) for t in heads]
        self.assertEqual(kinds, [("script", "onMetaData"), ("video", "config"),
                                 ("audio", "config")], c.describe())
        self.assertEqual([t.timestamp for t in heads], [0, 0, 0], heads)

    def test_avc_sequence_header_has_4_byte_lengths_and_the_camera_size(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h264")))
        configs = [t for t in c.tags[:first_picture_index(c.tags)]
                   if t.kind == "video" and t.packet == "config"]
        self.assertEqual(len(configs), 1, "AVC sequence headers before the first picture: %s"
                         % c.describe())
        seq = configs[0]
        self.assertEqual((seq.first_byte, seq.packet_type, seq.cts), (0x17, 0, 0), seq)
        self.assertEqual(seq.config.length_size, 4, seq.config)
        self.assertEqual(seq.config.size, SIZE, "the size the avcC's SPS gives")

    def test_hevc_sequence_header_is_enhanced_flv_with_hvcc(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h265")))
        configs = [t for t in c.tags[:first_picture_index(c.tags)]
                   if t.kind == "video" and t.packet == "config"]
        self.assertEqual(len(configs), 1, "HEVC sequence headers before the first picture: %s"
                         % c.describe())
        seq = configs[0]
        self.assertEqual(seq.first_byte, 0x80 | 0x10 | 0, "IsExHeader | key | SequenceStart")
        self.assertEqual(seq.fourcc, b"hvc1")
        self.assertEqual(seq.config.length_size, 4, seq.config)
        self.assertEqual(seq.config.size, SIZE, "the size the hvcC's SPS gives")


class Pictures(FlvCase):
    def test_first_picture_is_a_key_picture_with_an_idr(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h264")))
        first = c.tags[first_picture_index(c.tags)]
        self.assertEqual(first.first_byte, 0x17, "first picture %s" % first)
        self.assertIn(flvtags.H264_IDR, first.nal_types(), "NAL units of the first picture")

    def test_audio_camera_starts_at_the_key_picture(self):
        # "then tags from a key picture on": no audio frame before it
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h264-aac")))
        after = c.tags[len(headers_of(c.tags))]
        self.assertTrue(after.is_picture and after.key, "the first tag after the headers is %s"
                        " (%s)" % (after, c.describe()))

    def test_avc_pictures_have_the_avc_layout(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h264")), pictures=2 * FPS)
        for t in c.pictures():
            self.assertIn(t.first_byte, (0x17, 0x27), t)
            self.assertEqual(t.packet_type, 1, t)
            self.assertEqual(t.key, flvtags.H264_IDR in t.nal_types(),
                             "key flag and IDR NAL unit disagree: %s %s" % (t, t.nal_types()))
            self.assertTrue(0 <= t.cts < 1000, "composition time %d of %s" % (t.cts, t))
        self.assertGreaterEqual(sum(1 for t in c.pictures() if t.key), 2,
                                "two seconds of a camera with a key picture every second")

    def test_hevc_pictures_are_enhanced_coded_frames(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h265")), pictures=2 * FPS)
        for t in c.pictures():
            ft = 1 if t.key else 2
            self.assertEqual(t.first_byte, 0x80 | ft << 4 | 1, "CodedFrames with a composition "
                             "time: %s" % t)
            self.assertEqual(t.fourcc, b"hvc1", t)
            irap = any(16 <= n <= 23 for n in t.nal_types())
            self.assertEqual(t.key, irap, "key flag and IRAP NAL unit disagree: %s %s"
                             % (t, t.nal_types()))
        self.assertTrue(c.pictures()[0].key, c.describe())

    def test_audio_tags_are_raw_aac_frames(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h264-aac")), pictures=3 * FPS)
        self.assertEqual(c.header_flags, flvtags.FLAG_VIDEO | flvtags.FLAG_AUDIO, c.describe())
        frames = [t for t in c.tags if t.kind == "audio" and t.aac_packet == "frame"]
        span = (c.pictures()[-1].timestamp - c.pictures()[0].timestamp) / 1000
        rate = len(frames) / span
        self.note("%d AAC frames over %.1f s" % (len(frames), span))
        self.assertTrue(frames, "no AAC frame: %s" % c.describe())
        for t in frames:
            self.assertEqual(t.first_byte, 0xAF, t)
            self.assertFalse(t.payload[:2] == b"\xff\xf1" or t.payload[:2] == b"\xff\xf9",
                             "an ADTS header in %s" % t)
        want = AAC_CAMERA[1] / 1024
        self.assertAlmostEqual(rate, want, delta=0.2 * want, msg="AAC frames per second")


class Timestamps(FlvCase):
    def test_timestamps_start_at_0(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h264")))
        upto = c.tags[:first_picture_index(c.tags) + 1]
        self.assertEqual([t.timestamp for t in upto], [0] * len(upto),
                         "headers and first picture: %s" % upto)

    def test_a_second_viewer_starts_at_0_too(self):
        cam = self.start_camstream()
        path = flv_path(self.camera("h264"))
        first = self.play(cam, path, pictures=2 * FPS)
        second = self.play(cam, path)
        pic = second.tags[first_picture_index(second.tags)]
        self.assertEqual(pic.timestamp, 0, "the second viewer's first picture %s (the first "
                         "viewer is at %d ms)" % (pic, first.pictures()[-1].timestamp))

    def test_timestamps_of_each_track_never_go_back(self):
        # per track, as the README has it: the audio may run a little ahead of the video
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h264-aac")), pictures=4 * FPS)
        pics = c.pictures()
        frames = [t for t in c.tags if t.kind == "audio" and t.aac_packet == "frame"]
        self.assertGreater(len(frames), 2 * FPS // 2, c.describe())
        same = [(a, b) for a, b in zip(pics, pics[1:]) if b.timestamp <= a.timestamp]
        self.assertEqual(same, [], "pictures without a later timestamp than the one before")
        back = [(a, b) for a, b in zip(frames, frames[1:]) if b.timestamp < a.timestamp]
        self.assertEqual(back, [], "AAC frames whose timestamp goes back")
        skew = max((a.timestamp - b.timestamp for a, b in zip(c.tags, c.tags[1:])),
                   default=0)
        self.note("interleaving: a tag's timestamp is up to %d ms above the next one's" % skew)

    def test_timestamps_follow_the_camera_clock(self):
        # past the start, whose cached pictures come at once, 3 s of camera time take 3 s
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h264")), pictures=2 * FPS)
        c.read_for(3.0)
        pics = [t for t in c.pictures() if t.arrived > c.pictures()[0].arrived + 1.5]
        self.assertGreaterEqual(len(pics), 2 * FPS, c.describe())
        media = (pics[-1].timestamp - pics[0].timestamp) / 1000
        wall = pics[-1].arrived - pics[0].arrived
        self.note("%.2f s of timestamps over %.2f s" % (media, wall))
        self.assertAlmostEqual(media, wall, delta=0.25, msg="timestamp span vs arrival span")

    def test_picture_rate_is_the_camera_rate(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h264")), pictures=FPS)
        window = 3.0
        got = [t for t in c.read_for(window) if t.is_picture]
        rate = len(got) / window
        self.note("%.1f pictures/s" % rate)
        self.assertGreaterEqual(rate, 0.9 * FPS, "pictures per second")
        self.assertLessEqual(rate, 1.1 * FPS, "pictures per second")


# ---- FFmpeg's readers -----------------------------------------------------------------------

class Decoding(FlvCase):
    """ffprobe and ffmpeg (5.1) read the HTTP-FLV of an H.264 camera, with each kind of audio
    a camera sends; for H.265 (Enhanced FLV, which FFmpeg 5.1 cannot read) the tags are
    turned back into an elementary stream by flvtags and that is decoded."""

    def url(self, cam, mount, **opts):
        return "http://127.0.0.1:%d%s" % (cam.port, flv_path(self.camera(mount), **opts))

    def probe(self, url):
        rc, out, err = run(["ffprobe", "-v", "error", "-show_entries",
                            "stream=codec_type,codec_name,width,height,sample_rate,channels",
                            "-of", "json", url])
        self.assertEqual(rc, 0, "ffprobe %s: %s" % (url, err))
        return {s["codec_type"]: s for s in json.loads(out)["streams"]}

    def decode(self, url, seconds=3):
        rc, _, err = run(["ffmpeg", "-nostdin", "-v", "error", "-i", url, "-t", str(seconds),
                          "-f", "null", "-"])
        self.assertEqual((rc, err.strip()), (0, ""), "ffmpeg decoding %s" % url)

    def check_h264_with_audio(self, mount):
        cam = self.start_camstream()
        url = self.url(cam, mount)
        streams = self.probe(url)
        self.assertEqual(set(streams), {"video", "audio"}, streams)
        v, a = streams["video"], streams["audio"]
        self.assertEqual((v["codec_name"], v["width"], v["height"]), ("h264",) + SIZE, v)
        self.assertEqual(a["codec_name"], "aac", a)
        self.note("audio %s Hz, %s channel(s)" % (a.get("sample_rate"), a.get("channels")))
        self.decode(url)

    def test_ffprobe_reads_h264_at_the_camera_size_and_no_audio(self):
        cam = self.start_camstream()
        streams = self.probe(self.url(cam, "h264"))
        self.assertEqual(list(streams), ["video"], streams)
        v = streams["video"]
        self.assertEqual((v["codec_name"], v["width"], v["height"]), ("h264",) + SIZE, v)

    def test_ffmpeg_decodes_h264_without_errors(self):
        cam = self.start_camstream()
        self.decode(self.url(cam, "h264"))

    def test_aac_camera_decodes_as_h264_and_its_aac(self):
        self.check_h264_with_audio("h264-aac")

    def test_pcma_camera_decodes_as_h264_and_aac(self):
        self.check_h264_with_audio("h264-pcma")

    def test_pcmu_camera_decodes_as_h264_and_aac(self):
        self.check_h264_with_audio("h264-pcmu")

    def test_opus_camera_decodes_as_h264_and_aac(self):
        self.check_h264_with_audio("h264-opus")

    def test_g722_camera_decodes_as_h264_and_aac(self):
        self.check_h264_with_audio("h264-g722")

    def decode_elementary(self, fmt, data):
        """(frames, width, height) FFmpeg decodes from @data in format @fmt; no errors."""
        rc, _, err = run(["ffmpeg", "-nostdin", "-v", "error", "-f", fmt, "-i", "pipe:",
                          "-f", "null", "-"], stdin=data)
        self.assertEqual((rc, err.strip()), (0, ""), "ffmpeg -f %s of %d bytes" % (fmt, len(data)))
        rc, out, err = run(["ffprobe", "-v", "error", "-f", fmt, "-count_frames",
                            "-show_entries", "stream=width,height,nb_read_frames", "-of",
                            "csv=p=0", "pipe:"], stdin=data)
        self.assertEqual(rc, 0, err)
        return tuple(int(x) for x in out.strip().split(",") if x)

    def test_h265_tags_decode_at_the_camera_size_without_errors(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h265")), pictures=3 * FPS)
        es = flvtags.annexb(c.tags, "hevc", strip_inband_parameter_sets=True)
        width, height, frames = self.decode_elementary("hevc", es)
        self.assertEqual((width, height), SIZE)
        self.assertEqual(frames, len(c.pictures()), "pictures decoded of those in the tags")

    def test_h265_camera_aac_decodes_without_errors(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h265-aac")), pictures=2 * FPS)
        self.assertEqual(c.header_flags, flvtags.FLAG_VIDEO | flvtags.FLAG_AUDIO)
        es = flvtags.annexb(c.tags, "hevc", strip_inband_parameter_sets=True)
        self.assertEqual(self.decode_elementary("hevc", es)[:2], SIZE)
        aac = flvtags.adts(c.tags)
        self.assertTrue(aac, "no AAC frames: %s" % c.describe())
        rc, _, err = run(["ffmpeg", "-nostdin", "-v", "error", "-f", "aac", "-i", "pipe:",
                          "-f", "null", "-"], stdin=aac)
        self.assertEqual((rc, err.strip()), (0, ""), "the AAC as ADTS")


# ---- the endpoints --------------------------------------------------------------------------

class Endpoints(FlvCase):
    def assertStreamOfTheCamera(self, c):
        meta = c.tags[0]
        self.assertEqual(meta.name, "onMetaData", c.describe())
        self.assertEqual((meta.value.get("width"), meta.value.get("height")), SIZE)
        self.assertTrue(c.pictures()[0].key, c.describe())

    def test_root_with_cam_url_is_the_flv_stream(self):
        cam = self.start_camstream()
        c = self.play(cam, "/?cam_url=" + urllib.parse.quote(self.camera("h264"), safe=""))
        self.assertStreamOfTheCamera(c)

    def test_flv_takes_cam_url_as_rtsp_url(self):
        cam = self.start_camstream()
        c = self.play(cam, "/flv?cam_url=" + urllib.parse.quote(self.camera("h264"), safe=""))
        self.assertStreamOfTheCamera(c)

    def test_root_without_a_query_still_answers_the_health_json(self):
        cam = self.start_camstream()
        r = http_get(cam.port, "/")
        self.assertEqual((r.status, r.content_type), (200, "application/json"), r.body[:200])
        self.assertEqual(r.json().get("status"), "ok", r.body)
        page = http_get(cam.port, "/", {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        self.assertEqual((page.status, page.content_type), (200, "text/html"), "for a browser")

    def test_live_name_flv_of_a_configured_stream(self):
        config = self.write_streams_config([{"name": "cam1", "rtsp_url": self.camera("h264")}])
        cam = self.start_camstream("--config", config)
        self.assertStreamOfTheCamera(self.play(cam, "/live/cam1.flv"))

    def test_flv_name_is_the_named_stream(self):
        config = self.write_streams_config([{"name": "cam1", "rtsp_url": self.camera("h264")}])
        cam = self.start_camstream("--config", config)
        self.assertStreamOfTheCamera(self.play(cam, "/flv?name=cam1"))

    def test_live_name_flv_of_a_stream_added_through_the_api(self):
        cam = self.start_camstream()
        r = request(cam.port, "POST", "/api/streams", {"name": "door",
                                                        "rtsp_url": self.camera("h264")})
        self.assertEqual(r.status, 201, r.body[:300])
        self.assertStreamOfTheCamera(self.play(cam, "/live/door.flv"))

    def test_ws_flv_carries_the_same_byte_stream_in_binary_messages(self):
        cam = self.start_camstream()
        c = self.play(cam, ws_flv_path(self.camera("h264-aac")), ws=True, pictures=FPS)
        self.assertEqual(c.texts, [], c.describe())
        self.assertEqual(c.header_flags, flvtags.FLAG_VIDEO | flvtags.FLAG_AUDIO)
        self.assertStreamOfTheCamera(c)
        self.assertEqual([(t.kind, t.packet or t.aac_packet) for t in headers_of(c.tags)[1:]],
                         [("video", "config"), ("audio", "config")], c.describe())

    def test_ws_flv_of_a_named_stream(self):
        config = self.write_streams_config([{"name": "cam1", "rtsp_url": self.camera("h264")}])
        cam = self.start_camstream("--config", config)
        self.assertStreamOfTheCamera(self.play(cam, "/ws/flv?name=cam1", ws=True))


# ---- errors before the first byte -----------------------------------------------------------

class Errors(FlvCase):
    def setUp(self):
        super().setUp()
        self.cam = self.start_camstream()

    def test_missing_url_is_400(self):
        self.expect_error(self.cam, "/flv", 400, "bad_request")

    def test_malformed_url_is_400(self):
        self.expect_error(self.cam, flv_path("rtsp://[::1/x"), 400, "bad_request")

    def test_audio_other_than_0_or_1_is_400(self):
        self.expect_error(self.cam, flv_path(self.camera("h264"), audio=2), 400, "bad_request")

    def test_unknown_transport_is_400(self):
        self.expect_error(self.cam, flv_path(self.camera("h264"), transport="xyz"), 400,
                          "bad_request")

    def test_file_url_is_403(self):
        self.expect_error(self.cam, flv_path("file:/etc/passwd"), 403, "scheme_not_allowed")

    def test_unknown_name_is_404(self):
        self.expect_error(self.cam, "/live/nosuch.flv", 404, "not_found")
        self.expect_error(self.cam, "/flv?name=nosuch", 404, "not_found")

    def test_camera_that_refuses_the_connection_is_502(self):
        port = self.closed_port().port
        self.expect_error(self.cam, flv_path("rtsp://127.0.0.1:%d/x" % port), 502,
                          "open_failed")

    def test_camera_refusing_our_credentials_is_502(self):
        self.expect_error(self.cam, flv_path(self.rtsp.secure_url()), 502, "unauthorized")

    def test_missing_camera_path_is_404(self):
        self.expect_error(self.cam, flv_path(self.camera("no/such/mount")), 404, "not_found")

    def test_silent_camera_is_504_within_the_open_timeout(self):
        listener = self.silent_listener()
        _, took = self.expect_error(self.cam, flv_path("rtsp://127.0.0.1:%d/x" % listener.port),
                                    504, "timeout")
        self.note("504 after %.2f s" % took)
        self.assertLessEqual(took, OPEN_TIMEOUT + SLACK)

    def test_mjpeg_camera_is_unsupported_codec(self):
        self.expect_error(self.cam, flv_path(self.camera("mjpeg")), 502, "unsupported_codec")

    def test_audio_only_camera_is_unsupported_codec(self):
        self.expect_error(self.cam, flv_path(self.camera("audio")), 502, "unsupported_codec")

    def test_demo_source_is_unsupported_codec(self):
        self.expect_error(self.cam, flv_path("demo:"), 502, "unsupported_codec")

    def test_error_does_not_leak_the_password(self):
        port = self.closed_port().port
        doc, _ = self.expect_error(self.cam, flv_path("rtsp://admin:s3cr3tPass@127.0.0.1:%d/x"
                                                      % port), 502, "open_failed")
        self.assertNotIn("s3cr3tPass", doc["error"])


class Access(FlvCase):
    TOKEN = "flv-token-0123456789"

    def test_missing_token_is_401_and_the_token_lets_in(self):
        cam = self.start_camstream("--token", self.TOKEN)
        self.expect_error(cam, flv_path(self.camera("h264")), 401, "invalid_token")
        self.play(cam, flv_path(self.camera("h264"), token=self.TOKEN))

    def test_named_only_refuses_an_adhoc_url_with_403(self):
        config = self.write_streams_config([{"name": "cam1", "rtsp_url": self.camera("h264")}])
        cam = self.start_camstream("--named-only", "--config", config)
        self.expect_error(cam, flv_path(self.camera("h264")), 403, "named_only")
        self.play(cam, "/live/cam1.flv")

    def test_allow_hosts_refuses_a_camera_outside_with_403_before_connecting(self):
        cam = self.start_camstream("--allow-hosts", "10.0.0.0/8")
        self.expect_error(cam, flv_path(self.camera("h264")), 403, "host_not_allowed")
        self.assertEqual(self.new_sessions(), 0, "an RTSP session was opened")

    def test_max_clients_refuses_one_more_with_503(self):
        cam = self.start_camstream("--max-clients", 1)
        first = self.play(cam, flv_path(self.camera("h264")))
        self.expect_error(cam, flv_path(self.camera("h264")), 503, "server_busy")
        self.assertFalse(first.eof, first.describe())


class WsErrors(FlvCase):
    """On /ws/flv the errors are /ws/stream's: one JSON text message, then the close code
    /ws/stream gives for the same cause (test_ws_errors, test_access, test_streams_api)."""

    def test_missing_url_is_bad_request_1008(self):
        self.expect_ws_flv_error(self.start_camstream(), "/ws/flv", "bad_request", 1008)

    def test_unknown_name_is_not_found_1008(self):
        # as /ws/stream?name=: asking again will not help, so a policy close
        self.expect_ws_flv_error(self.start_camstream(), "/ws/flv?name=nosuch", "not_found",
                                 1008)

    def test_missing_camera_path_is_not_found_1011(self):
        self.expect_ws_flv_error(self.start_camstream(), ws_flv_path(self.camera("no/such")),
                                 "not_found", 1011)

    def test_camera_that_refuses_the_connection_is_open_failed_1011(self):
        port = self.closed_port().port
        self.expect_ws_flv_error(self.start_camstream(),
                                 ws_flv_path("rtsp://127.0.0.1:%d/x" % port), "open_failed",
                                 1011)

    def test_mjpeg_camera_is_unsupported_codec_1011(self):
        self.expect_ws_flv_error(self.start_camstream(), ws_flv_path(self.camera("mjpeg")),
                                 "unsupported_codec", 1011)

    def test_missing_token_refuses_the_upgrade_with_401_json(self):
        cam = self.start_camstream("--token", Access.TOKEN)
        c = self.client(cam, ws_flv_path(self.camera("h264")), ws=True)
        self.assertEqual(c.open(10), 401, "upgrade without the token: %r" % c.body[:300])
        self.assertEqual(json.loads(c.body).get("code"), "invalid_token", c.body)

    def test_named_only_is_1008(self):
        config = self.write_streams_config([{"name": "cam1", "rtsp_url": self.camera("h264")}])
        cam = self.start_camstream("--named-only", "--config", config)
        self.expect_ws_flv_error(cam, ws_flv_path(self.camera("h264")), "named_only", 1008)

    def test_allow_hosts_is_1008(self):
        cam = self.start_camstream("--allow-hosts", "10.0.0.0/8")
        self.expect_ws_flv_error(cam, ws_flv_path(self.camera("h264")), "host_not_allowed",
                                 1008)

    def test_max_clients_is_server_busy_1013(self):
        cam = self.start_camstream("--max-clients", 1)
        self.play(cam, ws_flv_path(self.camera("h264")), ws=True)
        self.expect_ws_flv_error(cam, ws_flv_path(self.camera("h264")), "server_busy", 1013)


# ---- sharing --------------------------------------------------------------------------------

class Sharing(FlvCase):
    def test_ten_flv_and_two_jpeg_viewers_share_one_rtsp_session(self):
        cam = self.start_camstream()
        url = self.camera("h264")
        flvs = [self.play(cam, flv_path(url)) for _ in range(10)]
        jpegs = [self.viewer(cam, stream_path(url)).start() for _ in range(2)]
        for v in jpegs:
            self.assertGreaterEqual(v.wait_frames(3, timeout=FIRST_PICTURE), 3, v.describe())
        for c in flvs:
            c.read_pictures(len(c.pictures()) + 3, 5)
        stats = self.rtsp.stats()
        self.assertEqual((stats["sessions"], self.new_sessions()), (1, 1),
                         "10 FLV + 2 JPEG viewers: RTSP sessions %s" % stats)

    def test_a_camera_with_only_flv_viewers_decodes_nothing(self):
        cam = self.start_camstream()
        url = self.camera("h264")
        viewers = [self.play(cam, flv_path(url), pictures=FPS) for _ in range(3)]
        m = self.metrics(cam)
        self.assertGreater(self.source_value(m, "camstream_pictures_received_total", url), FPS)
        self.assertEqual(self.source_value(m, "camstream_frames_decoded_total", url), 0)
        self.assertEqual(self.source_value(m, "camstream_coded_readers", url), len(viewers))

    def test_a_joining_viewer_starts_at_once_from_the_cached_key_picture(self):
        # the camera's key pictures are 1 s apart: without a cache a joiner waits up to 1 s
        cam = self.start_camstream()
        path = flv_path(self.camera("h264"))
        self.play(cam, path, pictures=FPS)
        waits = []
        for i in range(3):
            c = self.play(cam, path)
            waits.append(c.pictures()[0].arrived - c.opened_at)
            time.sleep(0.3)   # spreads the joins over the GOP; not a synchronisation
        self.note("first key picture after %s s" % ["%.3f" % w for w in waits])
        self.assertLess(max(waits), 0.4, "joins waited %s s" % ["%.3f" % w for w in waits])

    def test_viewers_with_and_without_audio_starting_together_both_get_valid_flv(self):
        # Both wait for the camera's first key picture and take it in the same round. The
        # tag before it differs (the AAC sequence header, the AVC one): each must get its own
        # PreviousTagSize and timestamps.
        cam = self.start_camstream()
        url = self.camera("h264-aac")
        both = {"audio=1": self.client(cam, flv_path(url)),
                "audio=0": self.client(cam, flv_path(url, audio=0))}
        for what, c in both.items():
            self.assertEqual(c.read_head(FIRST_PICTURE), 200, "%s: %s" % (what, c.describe()))
        for what, c in both.items():
            try:
                c.read_pictures(FPS, 10)
            except FlvError as e:
                self.fail("the viewer with %s: %s" % (what, e))
            self.assertEqual(c.pictures()[0].timestamp, 0, "%s: %s" % (what, c.describe()))

    def test_closing_the_last_flv_viewer_releases_the_session(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h264")))
        c.close()
        stats = self.rtsp.wait_sessions(lambda s: s["sessions"] == 0, SESSION_END_TIMEOUT)
        self.assertEqual(stats["sessions"], 0, "after the FLV viewer left: %s" % stats)


# ---- faults ---------------------------------------------------------------------------------

class Endings(FlvCase):
    """A camera that dies, freezes or ends ends its viewers' bodies; the server carries on."""

    def bystander(self, cam):
        return self.play(cam, flv_path(self.camera("h264")), pictures=3)

    def assertCarriesOn(self, cam, bystander):
        self.assertTrue(cam.alive(), "camstream died: %s" % cam.log_text()[-3000:])
        n = len(bystander.pictures())
        bystander.read_pictures(n + FPS, 5)
        r = http_get(cam.port, "/api/health", timeout=5)
        self.assertEqual(r.status, 200, r.body)
        self.play(cam, flv_path(self.camera("h264-aac")))

    def test_killed_camera_ends_the_body_within_the_read_timeout(self):
        rtsp = self.start_rtsp()
        cam = self.start_camstream()
        other = self.bystander(cam)
        c = self.play(cam, flv_path(rtsp.url("h264")), pictures=5)
        killed_at = time.monotonic()
        rtsp.kill()
        ended = c.read_until_eof(READ_TIMEOUT + 10)
        self.assertIsNotNone(ended, "the body did not end: %s" % c.describe())
        self.note("ended %.2f s after the kill" % (ended - killed_at))
        self.assertLessEqual(ended - killed_at, READ_TIMEOUT + SLACK)
        self.assertCarriesOn(cam, other)

    def test_frozen_camera_ends_the_body_after_the_read_timeout(self):
        rtsp = self.start_rtsp()
        cam = self.start_camstream()
        other = self.bystander(cam)
        c = self.play(cam, flv_path(rtsp.url("h264")), pictures=5)
        self.addCleanup(rtsp.send_signal, signal.SIGCONT)
        rtsp.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        ended = c.read_until_eof(READ_TIMEOUT + 10)
        rtsp.send_signal(signal.SIGCONT)
        self.assertIsNotNone(ended, "the body did not end: %s" % c.describe())
        self.note("ended %.2f s after SIGSTOP" % (ended - stopped_at))
        self.assertGreaterEqual(ended - stopped_at, READ_TIMEOUT - 0.5)
        self.assertLessEqual(ended - stopped_at, READ_TIMEOUT + SLACK)
        self.assertCarriesOn(cam, other)

    def test_camera_that_ends_ends_the_body(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("eos")))
        self.assertIsNotNone(c.read_until_eof(15), "the body did not end after the camera "
                             "ended: %s" % c.describe())

    def test_ws_flv_closes_when_the_camera_dies(self):
        rtsp = self.start_rtsp()
        cam = self.start_camstream()
        c = self.play(cam, ws_flv_path(rtsp.url("h264")), ws=True, pictures=5)
        rtsp.kill()
        self.assertIsNotNone(c.read_until_eof(READ_TIMEOUT + 10), c.describe())
        self.assertIn(c.close_code, (1000, 1011), c.describe())

    def test_server_shutdown_ends_the_body_and_exits_0(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("h264")))
        cam.send_signal(signal.SIGTERM)
        self.assertIsNotNone(c.read_until_eof(5), "the body did not end at shutdown: %s"
                             % c.describe())
        rc, took = self.stop_camstream(cam)
        self.assertEqual(rc, 0, "exit code after SIGTERM with an FLV viewer")
        self.assertLess(took, 3.0, "exit took %.1f s" % took)


class ResolutionChange(FlvCase):
    """/resize switches between 320x240 and 160x120 every 2 s, with new parameter sets in band."""

    def changes(self):
        cam = self.start_camstream()
        c = self.play(cam, flv_path(self.camera("resize")))
        c.read_for(7.0)
        self.assertFalse(c.eof, c.describe())
        configs = [i for i, t in enumerate(c.tags) if t.kind == "video" and t.packet == "config"]
        sizes = [c.tags[i].config.size for i in configs]
        self.note("sequence headers: %s" % sizes)
        self.assertGreaterEqual(len(configs), 3, "7 s of a camera that changes size every 2 s: "
                                "sequence headers %s" % sizes)
        self.assertEqual(set(sizes), {SIZE, (SIZE[0] // 2, SIZE[1] // 2)}, sizes)
        return c, configs

    def test_new_sequence_header_with_the_new_size_before_the_first_picture_of_that_size(self):
        c, configs = self.changes()
        for i in configs[1:]:
            nxt = next((t for t in c.tags[i + 1:] if t.is_picture), None)
            self.assertTrue(nxt is None or nxt.key, "after the sequence header %s the next "
                            "picture is %s" % (c.tags[i], nxt))
        # every in-band SPS a picture carries gives the size of the sequence header in force
        current = None
        for t in c.tags:
            if t.kind == "video" and t.packet == "config":
                current = t.config.size
            elif t.is_picture:
                for nal in t.nalus:
                    if flvtags.nal_type("avc", nal) == flvtags.H264_SPS:
                        self.assertEqual(flvtags.sps_size("avc", nal), current,
                                         "picture %s carries an SPS of another size than the "
                                         "sequence header before it" % t)
        # and with only the sequence headers' parameter sets, FFmpeg decodes every picture
        es = flvtags.annexb(c.tags, "avc", strip_inband_parameter_sets=True)
        rc, _, err = run(["ffmpeg", "-nostdin", "-v", "error", "-f", "h264", "-i", "pipe:",
                          "-f", "null", "-"], stdin=es)
        self.assertEqual((rc, err.strip()), (0, ""), "decoding with the sequence headers' "
                         "parameter sets only")

    def test_two_viewers_keep_their_own_timestamps_through_the_changes(self):
        # both take the first picture of each new size after their own new sequence header
        cam = self.start_camstream()
        path = flv_path(self.camera("resize"))
        first = self.play(cam, path, pictures=FPS)
        second = self.play(cam, path)   # a second later: its timestamps are 1 s lower
        end = time.monotonic() + 5.0
        while time.monotonic() < end:
            for c in (first, second):
                c.read_for(0.2)
        for what, c in (("first", first), ("second", second)):
            pics = c.pictures()
            steps = [(a, b) for a, b in zip(pics, pics[1:])
                     if not 0 < b.timestamp - a.timestamp < 500]
            self.assertEqual(steps, [], "the %s viewer's pictures that go back or leap "
                             "ahead (sequence headers %s)" % (
                                 what, [t.config.size for t in c.tags if t.config]))

    def test_new_metadata_with_the_new_size_before_the_new_sequence_header(self):
        c, configs = self.changes()
        for i in configs[1:]:
            size = c.tags[i].config.size
            last_pic = max((j for j in range(i) if c.tags[j].is_picture), default=-1)
            metas = [t for t in c.tags[last_pic + 1:i] if t.kind == "script"]
            self.assertTrue(metas, "no onMetaData between the last picture before %s and it"
                            % c.tags[i])
            meta = metas[-1].value
            self.assertEqual((meta.get("width"), meta.get("height")), size, meta)


class SlowViewer(FlvCase):
    """A viewer that never reads (4 KiB receive buffer) of the /snow camera (about 1 MB/s), next
    to one that reads."""

    def backed_up(self, cam, mount="snow", n=1):
        path = flv_path(self.camera(mount))
        slow = [self.client(cam, path, rcvbuf=4096) for _ in range(n)]
        normal = self.play(cam, path, pictures=FPS)
        for s in slow:
            ok = wait_until(lambda: (tcp_send_queue(cam.port, s.local_port) or 0) > 16 * 1024,
                            15)
            self.assertTrue(ok, "the slow viewer is not backed up: camstream's send queue to "
                            "it holds %s bytes" % tcp_send_queue(cam.port, s.local_port))
        return slow, normal

    def test_never_reading_viewer_does_not_slow_a_reading_one(self):
        cam = self.start_camstream()
        _, normal = self.backed_up(cam)
        normal.read_for(1.0)
        window = 4.0
        rate = sum(1 for t in normal.read_for(window) if t.is_picture) / window
        self.assertRateAtLeast(rate, 0.9 * FPS, "reading FLV viewer next to one that never reads")

    def test_never_reading_viewers_do_not_grow_server_memory(self):
        # A server that kept what a stalled viewer has not taken would hold the camera's
        # 1 MB/s for as long as it stalls: 12 MB over the window. ASan's quarantine of freed
        # memory is made small so that only such growth shows.
        asan = os.environ.get("ASAN_OPTIONS", "")
        cam = self.start_camstream(env={"ASAN_OPTIONS": (asan + ":" if asan else "")
                                        + "quarantine_size_mb=1"})
        _, normal = self.backed_up(cam, n=5)
        normal.parser.keep = False      # the reader's own memory is not the question
        normal.read_for(2.0)
        rss0 = cam.rss_kb("RssAnon")
        normal.read_for(12.0)
        rss1 = cam.rss_kb("RssAnon")
        grown = (rss1 - rss0) / 1024
        self.note("RssAnon %d -> %d kB over 12 s with 5 viewers that never read (1 MB/s "
                  "camera)" % (rss0, rss1))
        self.assertLess(grown, 6, "RssAnon grew %.1f MB" % grown)

    def test_slow_viewer_skips_to_key_pictures_and_the_skips_show_in_the_metrics(self):
        # A viewer that takes about 40 KB/s of a 1 MB/s camera falls behind at once: it jumps
        # to newer key pictures, and the jumps are counted. (One that never reads takes
        # nothing at all, skipped or not: it is dropped after the stall limit.)
        cam = self.start_camstream()
        url = self.camera("snow")
        slow = self.client(cam, flv_path(url), rcvbuf=4096)

        def read_a_little_and_look():
            slow.sock.settimeout(0.1)
            try:
                slow.sock.recv(4096)
            except (socket.timeout, BlockingIOError):
                pass
            return self.source_value(self.metrics(cam), "camstream_coded_skipped_total",
                                     url) > 0

        ok = wait_until(read_a_little_and_look, 15, interval=0.1)
        self.assertTrue(ok, "camstream_coded_skipped_total stays 0:\n%s"
                        % "\n".join(l for l in self.metrics(cam).text.splitlines()
                                    if "coded" in l))


# ---- many viewers ---------------------------------------------------------------------------

class FlvSwarm:
    """@n HTTP-FLV viewers of one path on one thread (selectors, non-blocking sockets). Each
    parses its stream until its first picture, then only counts bytes."""

    def __init__(self, port, path, n):
        import selectors
        self.port, self.path, self.n = port, path, n
        self.sel = selectors.DefaultSelector()
        self.EVENT_READ, self.EVENT_WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
        self.clients = []
        self.bytes_received = 0

    class One:
        def __init__(self, index, sock, request):
            self.index, self.sock, self.out = index, sock, bytearray(request)
            self.head = bytearray()
            self.status = None
            self.parser = flvtags.Parser()
            self.first_picture = False
            self.bytes = 0
            self.ended = None

    def open(self, count):
        import errno
        import socket
        request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (self.path, self.port))
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            c = self.One(len(self.clients), s, request.encode())
            err = s.connect_ex(("127.0.0.1", self.port))
            if err not in (0, errno.EINPROGRESS):
                c.ended = "connect: %s" % os.strerror(err)
                s.close()
            else:
                self.sel.register(s, self.EVENT_READ | self.EVENT_WRITE, c)
            self.clients.append(c)

    def pump_until(self, predicate, timeout):
        end = time.monotonic() + timeout
        while not predicate():
            remaining = end - time.monotonic()
            if remaining <= 0:
                return False
            for key, events in self.sel.select(min(remaining, 0.2)):
                self._service(key.data, events)
        return True

    def pump(self, seconds):
        self.pump_until(lambda: False, seconds)

    def _end(self, c, why):
        c.ended = why
        self.sel.unregister(c.sock)
        c.sock.close()

    def _service(self, c, events):
        if events & self.EVENT_WRITE and c.out:
            try:
                del c.out[:c.sock.send(c.out)]
            except BlockingIOError:
                return
            except OSError as e:
                return self._end(c, "send: %s" % e)
            if not c.out:
                self.sel.modify(c.sock, self.EVENT_READ, c)
        if not events & self.EVENT_READ:
            return None
        try:
            data = c.sock.recv(262144)
        except BlockingIOError:
            return None
        except OSError as e:
            return self._end(c, "recv: %s" % e)
        if not data:
            return self._end(c, "closed by the server (status %s)" % c.status)
        self.bytes_received += len(data)
        c.bytes += len(data)
        if c.status is None:
            c.head += data
            if b"\r\n\r\n" not in c.head:
                return None
            head, _, data = bytes(c.head).partition(b"\r\n\r\n")
            c.status = int(head.split(b" ", 2)[1])
            if c.status != 200:
                return self._end(c, "status %d: %r" % (c.status, data[:200]))
        if not c.first_picture:
            try:
                c.first_picture = any(t.is_picture and t.key for t in c.parser.feed(data))
            except FlvError as e:
                return self._end(c, "bad FLV: %s" % e)
            if c.first_picture:
                c.parser = None
        return None

    def close(self):
        for c in self.clients:
            if c.ended is None:
                self._end(c, "closed by the test")
        self.sel.close()


class ManyViewers(FlvCase):
    RTSP_FPS = 10

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._nofile = raise_nofile(MANY, "viewers")

    @classmethod
    def tearDownClass(cls):
        resource.setrlimit(resource.RLIMIT_NOFILE, cls._nofile)
        super().tearDownClass()

    def test_thousand_flv_viewers_of_one_camera_all_get_pictures_and_the_server_survives(self):
        cam = self.start_camstream("--max-clients", 2 * MANY)
        url = self.camera("h264")
        probe = HealthProbe(cam.port).start()
        swarm = FlvSwarm(cam.port, flv_path(url), MANY)
        try:
            t0 = time.monotonic()
            while len(swarm.clients) < MANY:       # a batch at a time: the listen backlog
                batch = min(100, MANY - len(swarm.clients))
                first = len(swarm.clients)
                swarm.open(batch)
                swarm.pump_until(lambda: all(c.status or c.ended
                                             for c in swarm.clients[first:]), 30)
            all_pictured = swarm.pump_until(
                lambda: all(c.first_picture or c.ended for c in swarm.clients), 30)
            t_first = time.monotonic() - t0
            without = [(c.index, c.status, c.ended) for c in swarm.clients
                       if not c.first_picture]
            self.assertTrue(all_pictured and not without, "%d of %d viewers without a key "
                            "picture after %.0f s; e.g. %s" % (len(without), MANY, t_first,
                                                               without[:5]))
            before = [c.bytes for c in swarm.clients]
            swarm.pump(5.0)
            stalled = [c.index for c, b in zip(swarm.clients, before) if c.bytes <= b]
            ended = [(c.index, c.ended) for c in swarm.clients if c.ended]
            self.note("%d viewers: every key picture in %.1f s, %.1f MB received; fds %d, "
                      "VmRSS %d kB" % (MANY, t_first, swarm.bytes_received / 1e6,
                                       cam.fd_count(), cam.rss_kb()))
            self.assertEqual(ended, [], "viewers whose body ended while held")
            self.assertEqual(stalled, [], "viewers that got no bytes over 5 s")
            self.assertEqual(self.rtsp.stats()["sessions"], 1, self.rtsp.stats())
        finally:
            swarm.close()
            probe.stop()
        self.note("/api/health: %s" % probe.summary())
        self.assertEqual(probe.failures, [], "/api/health failed")
        self.assertTrue(cam.alive(), cam.log_text()[-3000:])
        self.play(cam, flv_path(self.camera("h264")))

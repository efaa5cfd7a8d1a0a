"""RTMP ingest (issue 12): real publishers push to rtmp://127.0.0.1:PORT/live/KEY and KEY is a
live named stream for every output; rights and refusals are RTMP errors, never a hang; a
publisher that dies, stalls or attacks the server costs nothing but its own connection.

Publishers: ffmpeg (`-c copy -f flv` from the gst-rtsp-server camera, and libx264 + AAC from
lavfi), GStreamer (`flvmux ! rtmpsink`, `flvmux ! rtmp2sink`) and rtmp_publish.py, our own
publisher, for Enhanced RTMP H.265 (Debian's ffmpeg 5.1 cannot publish it), byte-exact
comparisons, chunking corners and the hostile modes. Each publish is watched as WS-JPEG
(/ws/stream?name=KEY), FLV (/live/KEY.flv, read by flvtags' strict reader) and snapshot
(/snapshot?name=KEY), and through /api/streams and /metrics.

The contract is the README's "RTMP ingest" section: `--rtmp-port 0` prints
`camstream rtmp on rtmp://HOST:PORT/live/`; `--rtmp-grace`; the refusal codes; the limits."""

import atexit
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

import rtmp_publish
import rtmp_server
from camtest import (HERE, SOURCE_ROOT, STARTED_LOGS, WEB_ROOT, CamTestCase, WsTimeout,
                     _log_path, _Process, http_get, jpeg_size, measure_rate, run_camstream,
                     stream_path, wait_until)
from flvtags import HttpFlv, WsFlv
from rtmp_publish import Closed, Publisher, RtmpTimeout
from test_metrics import Metrics

GRACE = 2.0                 # --rtmp-grace of these tests
READ_TIMEOUT = 2.0          # --read-timeout where a test needs it short
SLACK = 1.5                 # "within": the bound + this
FIRST = 15.0                # publisher start to the first picture a viewer gets
HANDSHAKE_DEADLINE = 5.0    # the contract's limits
CONNECT_DEADLINE = 10.0
REFUSAL_CLOSE = 1.0         # after a refusal the server closes within ~1 s
RTMP_RE = r"^camstream rtmp on rtmp://(\[[^\]]+\]|[^:/\s]+):(\d+)/live/$"
FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
GST_LAUNCH = shutil.which("gst-launch-1.0") or "/usr/bin/gst-launch-1.0"
SIZE = (320, 240)
BIG = (640, 360)
NMS_DIR = os.path.join(SOURCE_ROOT, "bench", "peers", "node_modules", "node-media-server")
NMS_PUSH = os.path.join(HERE, "nms_push.js")


# ---- media files, made once per run with the ffmpeg CLI -------------------------------------

_MEDIA = {}
_MEDIA_DIR = []

X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25",
        "-pix_fmt", "yuv420p"]


def _media_dir():
    if not _MEDIA_DIR:
        d = tempfile.mkdtemp(prefix="camtest-rtmp-media-")
        atexit.register(shutil.rmtree, d, True)
        _MEDIA_DIR.append(d)
    return _MEDIA_DIR[0]


def media(name):
    """The path of a 4-second test file: "h264_aac" (FLV, 320x240 H.264 + 44.1 kHz AAC),
    "h264_big" (FLV, 640x360 H.264), "hevc" (Annex B 320x240 H.265, no B-frames), all with a
    key picture every second at 25 frames/s."""
    if name in _MEDIA:
        return _MEDIA[name]
    src = ["-f", "lavfi", "-i", "testsrc2=size=%dx%d:rate=25"]
    spec = {
        "h264_aac": (src[:3] + [src[3] % SIZE, "-f", "lavfi", "-i",
                                "sine=frequency=440:sample_rate=44100", "-t", "4", "-map",
                                "0:v", "-map", "1:a"] + X264 + ["-c:a", "aac", "-b:a", "64k",
                                                                "-f", "flv"], "h264_aac.flv"),
        "h264_big": (src[:3] + [src[3] % BIG, "-t", "4"] + X264 + ["-f", "flv"], "big.flv"),
        "hevc": (src[:3] + [src[3] % SIZE, "-t", "4", "-c:v", "libx265", "-preset",
                            "ultrafast", "-x265-params", "keyint=25:bframes=0:log-level=error",
                            "-pix_fmt", "yuv420p", "-f", "hevc"], "c.hevc"),
    }
    args, fname = spec[name]
    path = os.path.join(_media_dir(), fname)
    p = subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y"] + args + [path],
                       capture_output=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("ffmpeg could not make %s: %s" % (name, p.stderr.decode()[-2000:]))
    _MEDIA[name] = path
    return path


def tags_of(name):
    if name == "hevc":
        return rtmp_publish.hevc_tags(media(name))
    return rtmp_publish.read_flv(media(name))


# ---- our publisher in a thread --------------------------------------------------------------

class PublishLoop:
    """rtmp_publish.Publisher sending @tags in real time in a thread, the file looped (its
    metadata and sequence headers once, then its pictures and audio again and again with the
    timestamps going on). @kill_after pictures: the socket is closed without a word (as a
    killed publisher's is); @stall_after pictures: nothing more is sent, the socket stays open.
    @aggregate: the media goes in aggregate messages of 4 tags. .sent is [(timestamp, tag)]
    of what was sent; .stopped_at the monotonic time the last tag went (kill or stall)."""

    def __init__(self, url, tags, kill_after=None, stall_after=None, aggregate=False,
                 ts_offset=0, interleave=True, **kw):
        self.url = url
        self.pub = Publisher.open(url, **kw)
        self.tags = tags
        self.kill_after, self.stall_after = kill_after, stall_after
        self.aggregate = aggregate
        self.ts_offset = ts_offset
        self.interleave = interleave
        self.sent = []
        self.pictures = 0
        self.error = None
        self.stopped_at = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _on_sent(self, offset):
        def on_sent(t):
            with self._lock:
                self.sent.append((t.timestamp + offset, t))
                if t.is_picture:
                    self.pictures += 1
                    limit = self.kill_after or self.stall_after
                    if limit and self.pictures >= limit:
                        self.stopped_at = time.monotonic()
                        self._stop.set()
        return on_sent

    def _run(self):
        head = [t for t in self.tags if t.type == 18 or t.is_config]
        body = [t for t in self.tags if not (t.type == 18 or t.is_config)]
        span = body[-1].timestamp - body[0].timestamp + 40
        try:
            self.pub.send_tags(head, realtime=False, ts_offset=self.ts_offset,
                               on_sent=self._on_sent(self.ts_offset))
            loop = 0
            while not self._stop.is_set():
                offset = self.ts_offset + loop * span
                if self.aggregate:
                    self._send_aggregates(body, offset)
                else:
                    self.pub.send_tags(body, realtime=True, ts_offset=offset,
                                       interleave=self.interleave, stop=self._stop,
                                       on_sent=self._on_sent(offset))
                loop += 1
        except (Closed, RtmpTimeout, OSError) as e:
            self.error = e
        if self.kill_after and self.pictures >= self.kill_after:
            self.pub.close()

    def _send_aggregates(self, body, offset):
        t0 = time.monotonic()
        base = body[0].timestamp
        on_sent = self._on_sent(offset)
        for i in range(0, len(body), 4):
            group = body[i:i + 4]
            if self._stop.wait(max(0.0, t0 + (group[0].timestamp - base) / 1000.0
                                   - time.monotonic())):
                return
            self.pub.send_aggregate(group, ts_offset=offset)
            for t in group:
                on_sent(t)

    def wait_pictures(self, n, timeout):
        return wait_until(lambda: self.pictures >= n, timeout)

    def sent_pictures(self):
        with self._lock:
            return [(ts, t) for ts, t in self.sent if t.is_picture]

    def stop(self):
        self._stop.set()
        self.thread.join(5)
        self.pub.close()


class Tool(_Process):
    """An external publisher (ffmpeg, gst-launch-1.0) with its stderr in the logs."""

    def __init__(self, label, argv):
        super().__init__()
        self.label = label
        self.argv = argv

    def start(self):
        self._spawn(self.argv, dict(os.environ))
        return self


def ffmpeg_lavfi_argv(url, size=SIZE, audio=True, seconds=60):
    argv = [FFMPEG, "-hide_banner", "-nostats", "-nostdin", "-loglevel", "warning", "-re",
            "-f", "lavfi", "-i", "testsrc2=size=%dx%d:rate=25" % size]
    if audio:
        argv += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-map", "0:v",
                 "-map", "1:a", "-c:a", "aac", "-b:a", "64k"]
    return argv + ["-t", str(seconds)] + X264 + ["-f", "flv", url]


def gst_argv(sink, url, audio=True):
    location = url + " live=1" if sink == "rtmpsink" else url
    argv = [GST_LAUNCH, "-q", "videotestsrc", "is-live=true", "pattern=ball", "!",
            "video/x-raw,width=%d,height=%d,framerate=25/1" % SIZE, "!", "x264enc",
            "tune=zerolatency", "speed-preset=ultrafast", "key-int-max=25", "!", "h264parse",
            "!", "flvmux", "name=m", "streamable=true", "!", sink, "location=" + location]
    if audio:
        argv += ["audiotestsrc", "is-live=true", "!", "audioconvert", "!", "audioresample", "!",
                 "audio/x-raw,rate=44100,channels=1", "!", "voaacenc", "!", "aacparse", "!",
                 "m."]
    return argv


def nal_payload(tag):
    """A flvtags picture's NAL units, 4-byte length-prefixed, as they were in the body."""
    return b"".join(len(n).to_bytes(4, "big") + n for n in tag.nalus)


# ---- the base -------------------------------------------------------------------------------

class IngestCase(CamTestCase):
    def start_ingest(self, *args, grace=GRACE, **kw):
        """camstream with --rtmp-port 0; its rtmp line read: cam.rtmp_port, cam.rtmp_base."""
        cam = self.start_camstream("--rtmp-port", "0", "--rtmp-grace", grace, *args, **kw)
        m = cam.stdout.wait_for(RTMP_RE, 5.0)
        self.assertIsNotNone(m, "no 'camstream rtmp on rtmp://HOST:PORT/live/' line on stdout: "
                             "%r" % cam.stdout.lines)
        self.assertEqual(m.group(1), "127.0.0.1", "the rtmp line's host (--host 127.0.0.1)")
        lines = cam.stdout.lines
        listen = next((i for i, l in enumerate(lines) if l.startswith("camstream listening on")),
                      None)
        rtmp = next(i for i, l in enumerate(lines) if l.startswith("camstream rtmp on"))
        self.assertTrue(listen is not None and listen < rtmp, "the rtmp line comes before the "
                        "listening line: %r" % lines)
        cam.rtmp_port = int(m.group(2))
        self.assertNotEqual(cam.rtmp_port, 0, "the rtmp line shows port 0, not the bound one")
        cam.rtmp_base = "rtmp://127.0.0.1:%d/live/" % cam.rtmp_port
        return cam

    def url(self, cam, key, app="live"):
        return "rtmp://127.0.0.1:%d/%s/%s" % (cam.rtmp_port, app, key)

    def publish(self, cam, key, tags=None, url=None, **kw):
        """Our publisher looping @tags (default: the H.264 + AAC file) to @key."""
        loop = PublishLoop(url or self.url(cam, key), tags or tags_of("h264_aac"), **kw)
        self.addCleanup(loop.stop)
        return loop

    def tool(self, label, argv):
        t = Tool(label, argv).start()
        self.addCleanup(t.close_pipes)
        self.addCleanup(t.stop)
        return t

    def attempt(self, url, play=False, timeout=10.0):
        """Connects and publishes (or plays) @url with our publisher; returns (publisher,
        connect reply kind, connect values, onStatus info or None). The publisher is closed
        at the end of the test."""
        host, port, app, name, tc_url = rtmp_publish.split_url(url)
        p = Publisher(host, port, timeout=timeout)
        self.addCleanup(p.close)
        p.connect()
        kind, values = p.rtmp_connect(app, tc_url)
        if kind != "_result":
            return p, kind, values, None
        p.create_stream(name)
        if play:
            p.send_message(rtmp_publish.Message(rtmp_publish.MSG_COMMAND_AMF0,
                                                rtmp_publish.amf0("play", 0, None, name),
                                                0, p.stream_id, 8))
            return p, kind, values, p.wait_status("NetStream.Play.")
        return p, kind, values, p.publish(name)

    def assertRefused(self, url, code, what, play=False, connect_code=None):
        """@url is refused with onStatus @code (or, with @connect_code, connect's _error with
        that code); then the server closes the connection within ~1 s. Returns the info."""
        p, kind, values, info = self.attempt(url, play=play)
        if connect_code:
            self.assertEqual(kind, "_error", "%s: connect answered %s %r" % (what, kind, values))
            info = next((v for v in values if isinstance(v, dict) and "code" in v), {})
            self.assertEqual(info.get("code"), connect_code, "%s: %r" % (what, values))
        else:
            self.assertEqual(kind, "_result", "%s: connect answered %r" % (what, values))
            self.assertEqual(info.get("code"), code, "%s: onStatus %r" % (what, info))
            self.assertEqual(info.get("level"), "error", "%s: onStatus %r" % (what, info))
        t0 = time.monotonic()
        closed = p.wait_closed(REFUSAL_CLOSE + SLACK)
        self.assertIsNotNone(closed, "%s: the connection is still open %.1f s after the refusal"
                             % (what, REFUSAL_CLOSE + SLACK))
        self.note("%s: %s, closed %.2f s after the answer" % (what, info.get("code"),
                                                               max(0.0, closed - t0)))
        return info

    # -- what viewers see

    def api(self, cam, path, token=None):
        sep = "&" if "?" in path else "?"
        r = http_get(cam.port, path + (sep + "token=" + token if token else ""))
        return r

    def wait_live(self, cam, key, timeout=FIRST, token=None):
        """Polls /api/streams/KEY until it is live with pictures; returns its status."""
        last = {}

        def live():
            r = self.api(cam, "/api/streams/" + key, token)
            last["r"] = r
            if r.status != 200:
                return None
            doc = r.json()
            return doc if doc.get("publish") is True and doc.get("frames_received", 0) > 0 \
                else None
        doc = wait_until(live, timeout, interval=0.1)
        r = last.get("r")
        self.assertTrue(doc, "%s not live with pictures within %.0f s: last answer %s %r"
                        % (key, timeout, r and r.status, r and r.body[:500]))
        return doc

    def check_jpeg(self, cam, key, size=SIZE, n=5, token=None):
        path = "/ws/stream?name=" + key + ("&token=" + token if token else "")
        v = self.viewer(cam, path)
        frames = v.frames(n, timeout=FIRST)
        for i, f in enumerate(frames):
            self.assertJpeg(f, "WS frame %d of %s" % (i, key))
            self.assertEqual(jpeg_size(f), size, "size of WS frame %d of %s" % (i, key))
        return v

    def check_snapshot(self, cam, key, size=SIZE, token=None):
        r = self.api(cam, "/snapshot?name=" + key, token)
        self.assertEqual(r.status, 200, "snapshot of %s: %r" % (key, r.body[:300]))
        self.assertEqual(r.content_type, "image/jpeg", "snapshot of %s" % key)
        self.assertJpeg(r.body, "snapshot of %s" % key)
        self.assertEqual(jpeg_size(r.body), size, "snapshot size of %s" % key)

    def flv_client(self, cam, key, token=None):
        path = "/live/%s.flv" % key + ("?token=" + token if token else "")
        c = HttpFlv(cam.port, path)
        self.addCleanup(c.close)
        self.assertEqual(c.read_head(FIRST), 200, "GET %s: %s %r"
                         % (path, c.status_line, c.body[:300]))
        self.assertEqual(c.headers.get("content-type"), "video/x-flv", c.describe())
        return c

    def check_flv(self, cam, key, size=SIZE, codec="avc", audio=False, loop=None, pictures=25,
                  token=None):
        """/live/KEY.flv: the header flags, onMetaData, the sequence header (@codec, @size)
        before the first picture, a key picture first, AAC's sequence header before its
        frames when @audio, timestamps that never go back; with @loop (a PublishLoop) the
        pictures are byte for byte the published ones, with the published timestamp steps."""
        c = self.flv_client(cam, key, token)
        c.read_pictures(pictures, FIRST)
        if audio:
            c.read_until(lambda c: any(t.kind == "audio" and t.aac_packet == "frame"
                                       for t in c.tags), 5.0, "an AAC frame")
        self.check_flv_tags(c, size, codec, audio)
        if loop is not None:
            c.matched = self.check_same_pictures(c.pictures(), loop)
        return c

    def check_flv_tags(self, c, size, codec, audio):
        tags = c.tags
        self.assertEqual(c.header_flags, 0x05 if audio else 0x01, "FLV header flags: %s"
                         % c.describe())
        first_pic = next(i for i, t in enumerate(tags) if t.is_picture)
        configs = [t for t in tags[:first_pic] if t.kind == "video" and t.packet == "config"]
        self.assertTrue(configs, "no video sequence header before the first picture: %s"
                        % c.describe())
        self.assertEqual(configs[-1].codec, codec, configs[-1])
        self.assertEqual(configs[-1].config.size, size, "the sequence header's picture size")
        if codec == "hevc":
            self.assertTrue(configs[-1].enhanced and configs[-1].fourcc == b"hvc1",
                            "H.265 as Enhanced FLV hvc1: %r" % configs[-1])
        self.assertTrue(tags[first_pic].key, "the first picture is not a key picture: %s"
                        % c.describe())
        aac = [t for t in tags if t.kind == "audio"]
        if audio:
            self.assertTrue(aac, "no audio tags: %s" % c.describe())
            first_frame = next((i for i, t in enumerate(aac) if t.aac_packet == "frame"), None)
            self.assertTrue(first_frame and any(t.aac_packet == "config"
                                                for t in aac[:first_frame]),
                            "no AAC sequence header before the first AAC frame: %s" % aac[:5])
        else:
            self.assertEqual(aac, [], "audio tags in a video-only stream")
        for kind in ("video", "audio"):
            ts = [t.timestamp for t in tags if t.kind == kind]
            back = [(a, b) for a, b in zip(ts, ts[1:]) if b < a]
            self.assertEqual(back, [], "%s timestamps go back: %s" % (kind, ts[:60]))

    def check_same_pictures(self, got, loop):
        """@got (flvtags pictures) are consecutive published pictures of @loop, byte for byte,
        their timestamps stepping as the published ones."""
        sent = loop.sent_pictures()
        payloads = [t.nal_payload() for _, t in sent]
        first = nal_payload(got[0])
        starts = [i for i, p in enumerate(payloads) if p == first]
        self.assertTrue(starts, "the viewer's first picture (%d bytes) is none of the %d "
                        "published" % (len(first), len(payloads)))
        j = starts[0]
        for k, t in enumerate(got):
            self.assertLess(j + k, len(sent), "more pictures than were published")
            self.assertEqual(nal_payload(t), payloads[j + k], "picture %d of the viewer differs "
                             "from published picture %d" % (k, j + k))
            self.assertEqual(t.key, sent[j + k][1].is_key, "key flag of picture %d" % k)
            if k:
                want = sent[j + k][0] - sent[j + k - 1][0]
                step = t.timestamp - got[k - 1].timestamp
                self.assertLessEqual(abs(step - want), 1, "timestamp step %d -> %d: %d ms, "
                                     "published %d ms" % (k - 1, k, step, want))
        return sent[j:j + len(got)]

    def check_api(self, cam, key, size=SIZE, token=None):
        doc = self.wait_live(cam, key, token=token)
        pub = doc.get("publisher")
        self.assertIsInstance(pub, dict, "status of a published key: %r" % doc)
        self.assertEqual(pub.get("address"), "127.0.0.1", pub)
        self.assertTrue(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", str(pub.get("since"))),
                        "publisher.since is not ISO 8601: %r" % pub)
        self.assertGreater(pub.get("bytes", 0), 1000, pub)
        self.assertEqual((doc.get("width"), doc.get("height")), size, doc)
        r = self.api(cam, "/api/streams", token)
        self.assertEqual(r.status, 200, r.body[:300])
        names = [s.get("name") for s in r.json().get("streams", [])]
        self.assertIn(key, names, "/api/streams does not list the published key")
        return doc

    def metrics(self, cam, token=None):
        r = self.api(cam, "/metrics", token)
        self.assertEqual(r.status, 200, r.body[:300])
        return Metrics(r.body.decode("utf-8"))

    def check_all(self, cam, key, size=SIZE, codec="avc", audio=False, loop=None):
        self.check_api(cam, key, size)
        v = self.check_jpeg(cam, key, size)
        c = self.check_flv(cam, key, size, codec, audio, loop)
        self.check_snapshot(cam, key, size)
        m = self.metrics(cam)
        self.assertGreaterEqual(m.total("camstream_rtmp_publishers"), 1, m.text[-3000:])
        self.assertGreaterEqual(m.total("camstream_rtmp_connections"), 1, m.text[-3000:])
        self.assertGreater(m.total("camstream_rtmp_bytes_received_total"), 1000, m.text[-3000:])
        return v, c


# ---- publishers -----------------------------------------------------------------------------

class Publishers(IngestCase):
    """Each real publisher's stream seen by WS-JPEG, FLV and snapshot viewers."""

    @classmethod
    def setUpClass(cls):
        cls.start_class_rtsp(fps=25)

    def test_ffmpeg_copy_from_the_rtsp_camera(self):
        cam = self.start_ingest()
        url = self.url(cam, "fromcam")
        self.tool("ffmpeg-rtsp-to-rtmp", [
            FFMPEG, "-hide_banner", "-nostats", "-nostdin", "-loglevel", "warning",
            "-rtsp_transport", "tcp", "-i", self.rtsp.url("h264-aac"), "-c", "copy", "-f", "flv",
            url])
        self.check_all(cam, "fromcam", audio=True)

    def test_ffmpeg_libx264_aac_from_lavfi(self):
        cam = self.start_ingest()
        self.tool("ffmpeg-lavfi", ffmpeg_lavfi_argv(self.url(cam, "lavfi")))
        self.check_all(cam, "lavfi", audio=True)

    def test_ws_jpeg_at_the_published_rate_with_audio(self):
        # audio messages between the pictures must not look like a worker that is behind
        cam = self.start_ingest()
        self.tool("ffmpeg-lavfi-rate", ffmpeg_lavfi_argv(self.url(cam, "rate")))
        self.wait_live(cam, "rate")
        v = self.viewer(cam, "/ws/stream?name=rate")
        v.frames(1, FIRST)
        rate, frames = measure_rate(v, 1.0, 3.0)
        self.assertRateAtLeast(rate, 0.9 * 25, "WS-JPEG of an H.264 + AAC publish")
        m = self.metrics(cam)
        # a few under a sanitizer's slowness; most of them when audio made pictures look late
        self.assertLess(m.total("camstream_frames_late_total"), 10, "pictures counted late")

    def test_gstreamer_flvmux_rtmpsink(self):
        cam = self.start_ingest()
        self.tool("gst-rtmpsink", gst_argv("rtmpsink", self.url(cam, "gst1")))
        self.check_all(cam, "gst1", audio=True)

    def test_gstreamer_flvmux_rtmp2sink(self):
        cam = self.start_ingest()
        self.tool("gst-rtmp2sink", gst_argv("rtmp2sink", self.url(cam, "gst2")))
        self.check_all(cam, "gst2", audio=True)

    def test_node_media_server_relay_push(self):
        # node-media-server 4.4.3 (bench/peers) takes ffmpeg's publish and pushes it on to us
        # with its own RTMP client (a relay task in "push" mode)
        if not os.path.isdir(NMS_DIR):
            self.skipTest("node-media-server is not installed: run bench/peers/install.sh")
        node = shutil.which("node")
        if not node:
            self.skipTest("no node")
        cam = self.start_ingest()
        rtmp_port, http_port = rtmp_server.free_port(), rtmp_server.free_port()
        data = tempfile.mkdtemp(prefix="camtest-nms-")
        self.addCleanup(shutil.rmtree, data, True)
        nms = self.tool("node-media-server", [node, NMS_PUSH, NMS_DIR, str(rtmp_port),
                                              str(http_port), data, self.url(cam, "nms")])
        self.assertIsNotNone(nms.stdout.wait_for("^READY$", 15.0), "node-media-server did not "
                             "start: %r %s" % (nms.stdout.lines[-10:], nms.log_text()[-1000:]))
        self.tool("ffmpeg-to-nms", ffmpeg_lavfi_argv("rtmp://127.0.0.1:%d/live/src" % rtmp_port))
        self.assertIsNotNone(nms.stdout.wait_for("^PUSHING$", FIRST), "node-media-server got "
                             "no publish: %r" % nms.stdout.lines[-10:])
        self.check_all(cam, "nms", audio=True)

    def test_our_publisher_h264_aac_pictures_byte_equal(self):
        # chunk size 128: every picture in many chunks, audio and video interleaved chunk by
        # chunk on their chunk streams
        cam = self.start_ingest()
        loop = self.publish(cam, "ours", chunk_size=128)
        self.check_all(cam, "ours", audio=True, loop=loop)

    def test_enhanced_rtmp_h265(self):
        cam = self.start_ingest()
        tags = tags_of("hevc")
        loop = self.publish(cam, "hevc", tags=tags)
        _, c = self.check_all(cam, "hevc", codec="hevc", loop=loop)
        config = next(t for t in c.tags if t.kind == "video" and t.packet == "config")
        self.assertEqual(config.config.raw, tags[0].body[5:], "the hvcC differs from the "
                         "published one")

    def test_enhanced_rtmp_h265_with_aac(self):
        # OBS 29.1+'s combination: Enhanced RTMP H.265 and AAC in one publish
        cam = self.start_ingest()
        audio = [t for t in tags_of("h264_aac") if t.is_audio]
        tags = sorted(tags_of("hevc") + audio, key=lambda t: (not t.is_config, t.timestamp))
        loop = self.publish(cam, "hevcaac", tags=tags)
        self.check_all(cam, "hevcaac", codec="hevc", audio=True, loop=loop)

    def test_legacy_flv_hevc_codec_id_12(self):
        # the older HEVC-in-FLV (codec id 12) some publishers send: viewers get Enhanced FLV
        cam = self.start_ingest()
        tags = rtmp_publish.hevc_tags(media("hevc"), legacy=True)
        loop = self.publish(cam, "hevc12", tags=tags)
        _, c = self.check_all(cam, "hevc12", codec="hevc", loop=loop)
        config = next(t for t in c.tags if t.kind == "video" and t.packet == "config")
        self.assertEqual(config.config.raw, tags[0].body[5:], "the hvcC differs from the "
                         "published one")


class Chunking(IngestCase):
    """Extended timestamps (with and without the repeat on type-3 chunks) and aggregate
    messages, each with byte-equal pictures."""

    def extended_timestamps(self, ext_on_type3):
        cam = self.start_ingest()
        # type-0 headers only, so every chunk of every message carries the timestamp; from
        # 2 s below 2^24 on, so the 3-byte field reads 0xFFFFFF and the real one follows
        loop = self.publish(cam, "ext", compact=False, chunk_size=128,
                            ts_offset=0xFFFFFF - 2000, ext_on_type3=ext_on_type3)
        self.wait_live(cam, "ext")
        c = self.check_flv(cam, "ext", audio=True, loop=loop, pictures=90)
        sent_ts = [ts for ts, _ in c.matched]
        self.assertTrue(sent_ts[0] < 0xFFFFFF <= sent_ts[-1], "the pictures the viewer got "
                        "were not sent across 2^24 ms: %d .. %d" % (sent_ts[0], sent_ts[-1]))
        self.assertIsNone(loop.error, repr(loop.error))
        self.assertIsNone(loop.pub.closed_at, "closed: %s" % loop.pub.close_reason)

    def test_extended_timestamps_repeated_on_type_3_chunks(self):
        self.extended_timestamps(ext_on_type3=True)

    def test_extended_timestamps_not_repeated_on_type_3_chunks(self):
        self.extended_timestamps(ext_on_type3=False)

    def test_aggregate_messages(self):
        cam = self.start_ingest()
        loop = self.publish(cam, "agg", aggregate=True)
        self.wait_live(cam, "agg")
        self.check_flv(cam, "agg", audio=True, loop=loop)
        self.check_jpeg(cam, "agg")


# ---- rights ---------------------------------------------------------------------------------

class Rights(IngestCase):
    def test_second_publisher_is_refused_and_the_first_goes_on(self):
        cam = self.start_ingest()
        loop = self.publish(cam, "busy")
        self.wait_live(cam, "busy")
        v = self.check_jpeg(cam, "busy").start()
        before = self.metrics(cam).total("camstream_rtmp_refused_total")
        info = self.assertRefused(self.url(cam, "busy"), "NetStream.Publish.BadName",
                                  "a second publisher of a live key")
        self.assertIn("already publishing", str(info.get("description")), info)
        t0 = time.monotonic()
        ff = self.tool("ffmpeg-second", ffmpeg_lavfi_argv(self.url(cam, "busy"), audio=False))
        rc = ff.wait(10.0)
        self.note("ffmpeg exited %s after %.1f s" % (rc, time.monotonic() - t0))
        self.assertIsNotNone(rc, "ffmpeg, refused, still runs after 10 s")
        self.assertNotEqual(rc, 0, "ffmpeg, refused, exits 0")
        n = len(v.frame_times)
        self.assertGreaterEqual(v.wait_frames(n + 10, 5.0), n + 10, "the first publisher's "
                                "viewer stopped: %s" % v.describe())
        self.assertIsNone(loop.pub.closed_at, "the first publisher was closed: %s"
                          % loop.pub.close_reason)
        self.assertGreaterEqual(self.metrics(cam).total("camstream_rtmp_refused_total"),
                                before + 2, "camstream_rtmp_refused_total after 2 refusals")

    def test_unknown_app_invalid_key_and_play_are_refused(self):
        cam = self.start_ingest()
        self.assertRefused(self.url(cam, "key", app="other"), None, "app 'other'",
                           connect_code="NetConnection.Connect.Rejected")
        t0 = time.monotonic()
        ff = self.tool("ffmpeg-other-app", ffmpeg_lavfi_argv(self.url(cam, "key", app="other"),
                                                             audio=False))
        rc = ff.wait(10.0)
        self.note("ffmpeg to app 'other' exited %s after %.1f s" % (rc, time.monotonic() - t0))
        self.assertIsNotNone(rc, "ffmpeg to an unknown app still runs after 10 s")
        self.assertNotEqual(rc, 0)
        for bad in ("bad$key", "x" * 65, "a b"):
            self.assertRefused(self.url(cam, bad), "NetStream.Publish.BadName",
                               "invalid key %r" % bad)
        self.assertRefused(self.url(cam, "key"), "NetStream.Play.Failed", "play", play=True)
        self.assertTrue(cam.alive())

    def test_token_required_on_the_key_or_on_the_app(self):
        cam = self.start_ingest("--token", "T0ken")
        self.assertRefused(self.url(cam, "tk"), "NetStream.Publish.Denied", "no token")
        self.assertRefused(self.url(cam, "tk?token=wrong"), "NetStream.Publish.Denied",
                           "a wrong token")
        p, kind, _, info = self.attempt(self.url(cam, "tk?token=T0ken"))
        self.assertEqual(info.get("code"), "NetStream.Publish.Start", "token on the key: %r"
                         % info)
        p.close()
        p, kind, values, info = self.attempt("rtmp://127.0.0.1:%d/live?token=T0ken/obs"
                                             % cam.rtmp_port)
        self.assertEqual(kind, "_result", "OBS-style token on the app: connect %r" % values)
        self.assertEqual(info.get("code"), "NetStream.Publish.Start", "OBS style: %r" % info)
        p.close()
        # ffmpeg passes the query in the stream name; the stream then plays with the token
        self.tool("ffmpeg-token", ffmpeg_lavfi_argv(self.url(cam, "tk?token=T0ken"),
                                                    audio=False))
        self.wait_live(cam, "tk", token="T0ken")
        self.check_jpeg(cam, "tk", token="T0ken")
        r = http_get(cam.port, "/api/streams/tk")
        self.assertEqual(r.status, 401, "the API without the token: %s" % r.status)

    def test_declared_key_with_a_publish_secret(self):
        config = self.write_streams_config([
            {"name": "cam1", "publish": True, "publish_secret": "s3cret"},
            {"name": "pulled", "rtsp_url": "rtsp://127.0.0.1:9/nothing"}])
        cam = self.start_ingest("--config", config)
        r = http_get(cam.port, "/api/streams/cam1")
        self.assertEqual(r.status, 200, "a declared publish key: %r" % r.body[:300])
        self.assertNotIn(b"s3cret", r.body, "the secret is shown")
        self.assertEqual(r.json().get("publish_secret"), "***", r.json())
        self.assertRefused(self.url(cam, "cam1"), "NetStream.Publish.Denied", "no secret")
        self.assertRefused(self.url(cam, "cam1?token=nope"), "NetStream.Publish.Denied",
                           "a wrong secret")
        self.assertRefused(self.url(cam, "pulled"), "NetStream.Publish.BadName",
                           "the key of a pulled stream")
        self.publish(cam, "cam1", url=self.url(cam, "cam1?token=s3cret"))
        self.wait_live(cam, "cam1")
        self.check_jpeg(cam, "cam1")

    def test_named_only_takes_declared_keys_only(self):
        config = self.write_streams_config([{"name": "decl", "publish": True}])
        cam = self.start_ingest("--named-only", "--config", config)
        p, kind, values, info = self.attempt(self.url(cam, "undeclared"))
        self.assertIn(info and info.get("code"), ("NetStream.Publish.BadName",
                                                  "NetStream.Publish.Denied"),
                      "an undeclared key with --named-only: %r %r" % (values, info))
        self.note("undeclared key with --named-only: %s" % info.get("code"))
        self.assertIsNotNone(p.wait_closed(REFUSAL_CLOSE + SLACK), "not closed after refusal")
        self.publish(cam, "decl")
        self.wait_live(cam, "decl")
        self.check_snapshot(cam, "decl")


# ---- publisher faults -----------------------------------------------------------------------

class PublisherFaults(IngestCase):
    def republish(self, cam, key, tags=None, within=GRACE - 0.5):
        """A new publisher of @key, retried while the server still has the old one (busy)."""
        deadline = time.monotonic() + within
        while True:
            try:
                return self.publish(cam, key, tags=tags)
            except rtmp_publish.RtmpError as e:
                if "already publishing" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def test_killed_mid_gop_viewers_stay_and_resume_with_a_new_publisher(self):
        cam = self.start_ingest()
        # 37 pictures: the second second's GOP is half sent when the socket goes
        old = self.publish(cam, "phoenix", kill_after=37)
        self.wait_live(cam, "phoenix")
        v = self.check_jpeg(cam, "phoenix", n=3).start()
        c = self.flv_client(cam, "phoenix")
        c.read_pictures(3, FIRST)
        self.assertTrue(old.wait_pictures(37, 10), "the publisher sent %d pictures"
                        % old.pictures)
        old.thread.join(5)
        killed_at = old.stopped_at
        # the new publisher sends the same file from its start: its first picture is the
        # file's first, which the viewer sees again only after the comeback
        new = self.republish(cam, "phoenix")
        file_first = next(t for t in tags_of("h264_aac") if t.is_picture).nal_payload()

        def comeback(c):
            pics = c.pictures()
            return next((m for m in range(1, len(pics))
                         if nal_payload(pics[m]) == file_first), None)
        c.read_until(lambda c: comeback(c) is not None
                     and len(c.pictures()) - comeback(c) >= 30, FIRST,
                     "30 pictures of the new publisher")
        pics, m = c.pictures(), comeback(c)
        self.check_same_pictures(pics[:m], old)
        self.check_same_pictures(pics[m:], new)
        self.assertEqual(m, 37 - next(i for i, (_, t) in enumerate(old.sent_pictures())
                                      if t.nal_payload() == nal_payload(pics[0])),
                         "the viewer did not get every picture the killed publisher sent")
        self.assertTrue(pics[m].key, "the new publisher's first picture is not a key picture")
        at = c.tags.index(pics[m])
        config = [t for t in c.tags[:at] if t.kind == "video" and t.packet == "config"][-1]
        avcc = next(t for t in tags_of("h264_aac") if t.is_config and t.is_video).body[5:]
        self.assertEqual(config.config.raw, avcc, "the sequence header in effect at the "
                         "comeback is not the new publisher's")
        self.note("sequence headers after the comeback: %d (the new publisher's avcC equals "
                  "the old one's)" % sum(1 for t in c.tags[c.tags.index(pics[m - 1]):at]
                                         if t.kind == "video" and t.packet == "config"))
        ts = [t.timestamp for t in c.tags if t.kind == "video"]
        self.assertEqual([(a, b) for a, b in zip(ts, ts[1:]) if b < a], [],
                         "video timestamps go back across the comeback")
        n = len(v.frame_times)
        self.assertGreaterEqual(v.wait_frames(n + 10, FIRST), n + 10, v.describe())
        self.assertIsNone(v.closed, "the JPEG viewer was closed: %s" % v.describe())
        resumed = [t for t in v.frame_times if t > killed_at + 0.2]
        self.assertGreaterEqual(len(resumed), 10, "JPEG frames after the comeback: %s"
                                % v.describe())

    def test_clean_unpublish_closes_and_frees_the_key_at_once(self):
        cam = self.start_ingest()
        loop = self.publish(cam, "clean")
        self.wait_live(cam, "clean")
        v = self.check_jpeg(cam, "clean", n=2).start()
        loop._stop.set()
        loop.thread.join(5)
        t0 = time.monotonic()
        loop.pub.unpublish("clean")          # FCUnpublish + deleteStream
        closed = loop.pub.wait_closed(REFUSAL_CLOSE + SLACK)
        self.assertIsNotNone(closed, "the server keeps the connection open %.1f s after "
                             "deleteStream" % (REFUSAL_CLOSE + SLACK))
        self.note("closed %.2f s after deleteStream" % (closed - t0))
        again = self.publish(cam, "clean")   # no "already publishing": the key is free
        n = len(v.frame_times)
        self.assertGreaterEqual(v.wait_frames(n + 10, FIRST), n + 10, "the viewer did not "
                                "resume with the next publisher: %s" % v.describe())
        self.assertIsNone(again.pub.closed_at, again.pub.close_reason)

    def test_not_coming_back_ends_viewers_after_the_grace(self):
        cam = self.start_ingest()
        loop = self.publish(cam, "gone", kill_after=30)
        self.wait_live(cam, "gone")
        v = self.check_jpeg(cam, "gone", n=2).start()
        c = self.flv_client(cam, "gone")
        c.read_pictures(2, FIRST)
        self.assertTrue(loop.wait_pictures(30, 10))
        loop.thread.join(5)
        killed_at = loop.stopped_at
        closed = v.wait_closed(GRACE + 10)
        self.assertIsNotNone(closed, "the JPEG viewer is open %.0f s after the publisher went: "
                             "%s" % (GRACE + 10, v.describe()))
        err, code = v.error_and_code(closed)
        self.assertEqual(err.get("code"), "source_ended", err)
        self.assertEqual(code, 1000, "close code after source_ended")
        elapsed = v.closed_at - killed_at
        self.note("source_ended %.2f s after the publisher went (grace %.0f s)" % (elapsed,
                                                                                  GRACE))
        self.assertGreaterEqual(elapsed, GRACE - 0.3, "viewers did not stay for the grace")
        self.assertLessEqual(elapsed, GRACE + SLACK, "viewers stayed past the grace")
        eof = c.read_until_eof(5.0)
        self.assertIsNotNone(eof, "the FLV body did not end: %s" % c.describe())
        self.assertLessEqual(eof - killed_at, GRACE + SLACK)
        r = http_get(cam.port, "/api/streams/gone")
        self.assertEqual(r.status, 404, "an undeclared key after its publisher went: %r"
                         % r.body[:300])
        m = self.metrics(cam)
        self.assertEqual(m.total("camstream_rtmp_publishers"), 0, m.text[-2000:])

    def test_new_publisher_with_a_new_resolution(self):
        cam = self.start_ingest()
        old = self.publish(cam, "resize", kill_after=30)
        self.wait_live(cam, "resize")
        v = self.check_jpeg(cam, "resize", n=2)
        c = self.flv_client(cam, "resize")
        c.read_pictures(2, FIRST)
        self.assertTrue(old.wait_pictures(30, 10))
        old.thread.join(5)
        before = len(c.tags)
        self.republish(cam, "resize", tags=tags_of("h264_big"))
        c.read_until(lambda c: any(t.kind == "video" and t.packet == "config"
                                   and t.config.size == BIG for t in c.tags[before:])
                     and sum(t.is_picture for t in c.tags[before:]) >= 10, FIRST,
                     "a 640x360 sequence header and 10 pictures")

        def big_frame():
            try:
                kind, data = v.recv(1.0)
            except WsTimeout:
                return False
            self.assertEqual(kind, "binary", "the JPEG viewer: %s" % v.describe())
            return jpeg_size(data) == BIG
        self.assertTrue(wait_until(big_frame, FIRST, interval=0), "no 640x360 JPEG: %s"
                        % v.describe())

    def test_stalled_publisher_is_closed_after_the_read_timeout(self):
        cam = self.start_ingest("--read-timeout", READ_TIMEOUT)
        loop = self.publish(cam, "stall", stall_after=25)
        self.assertTrue(loop.wait_pictures(25, 10))
        loop.thread.join(5)
        closed = loop.pub.wait_closed(READ_TIMEOUT + 5)
        self.assertIsNotNone(closed, "a silent publisher still connected %.0f s after its "
                             "last message" % (READ_TIMEOUT + 5))
        elapsed = closed - loop.stopped_at
        self.note("closed %.2f s after the last message (--read-timeout %.0f)"
                  % (elapsed, READ_TIMEOUT))
        self.assertGreaterEqual(elapsed, READ_TIMEOUT - 0.5)
        self.assertLessEqual(elapsed, READ_TIMEOUT + SLACK)


# ---- hostile connections --------------------------------------------------------------------

class Hostile(IngestCase):
    """Each attack's connection is closed within its bound while a healthy publisher and its
    viewer go on unaffected; the server is up and takes a new publisher afterwards."""

    def setUp(self):
        super().setUp()
        self.cam = self.start_ingest()
        self.healthy = self.publish(self.cam, "healthy")
        self.wait_live(self.cam, "healthy")
        self.watcher = self.check_jpeg(self.cam, "healthy", n=3).start()
        self.t0 = time.monotonic()
        self.n0 = len(self.watcher.frame_times)

    def tearDown(self):
        # the healthy viewer's frames from the attack's start: at least 15 a second over the
        # attack, and over 2 s at least for the attacks that are over at once
        window = max(2.0, time.monotonic() - self.t0)
        need = self.n0 + int(15 * window)
        got = self.watcher.wait_frames(need, max(0.0, self.t0 + window + 0.5
                                                 - time.monotonic()))
        self.note("healthy viewer: %d frames in the %.1f s from the attack's start"
                  % (got - self.n0, window))
        self.assertIsNone(self.watcher.closed, self.watcher.describe())
        self.assertGreaterEqual(got, need, "the healthy viewer slowed during the attack: %s"
                                % self.watcher.describe())
        self.assertIsNone(self.healthy.pub.closed_at, "the healthy publisher was closed: %s"
                          % self.healthy.pub.close_reason)
        self.assertTrue(self.cam.alive(), "camstream died")
        p = Publisher.open(self.url(self.cam, "after"))
        p.close()

    def host(self):
        return "127.0.0.1", self.cam.rtmp_port

    def assertClosedWithin(self, p, bound, what, since=None):
        since = since or time.monotonic()
        closed = p.wait_closed(bound + SLACK)
        self.assertIsNotNone(closed, "%s: the connection is open %.1f s later" % (what,
                                                                                  bound + SLACK))
        self.note("%s: closed after %.2f s" % (what, closed - since))
        return closed - since

    def test_half_handshake(self):
        t0 = time.monotonic()
        p = rtmp_publish.half_handshake(*self.host())
        self.addCleanup(p.close)
        took = self.assertClosedWithin(p, HANDSHAKE_DEADLINE, "half a handshake", t0)
        self.assertGreaterEqual(took, HANDSHAKE_DEADLINE - 1.0, "closed before the deadline")

    def test_64_kb_of_garbage_instead_of_a_handshake(self):
        t0 = time.monotonic()
        p = rtmp_publish.garbage(*self.host())
        self.addCleanup(p.close)
        self.assertClosedWithin(p, 1.0, "64 KB of garbage", t0)

    def test_64_kb_of_garbage_after_the_handshake(self):
        t0 = time.monotonic()
        p = rtmp_publish.garbage(*self.host(), after_handshake=True, seed=12)
        self.addCleanup(p.close)
        self.assertClosedWithin(p, CONNECT_DEADLINE, "64 KB of garbage after the handshake", t0)

    def test_chunk_size_2_to_the_31(self):
        p = rtmp_publish.connected(*self.host())
        self.addCleanup(p.close)
        t0 = time.monotonic()
        rtmp_publish.huge_chunk_size(p)
        self.assertClosedWithin(p, 1.0, "Set Chunk Size 2^31", t0)

    def test_16_mb_message_length(self):
        p = rtmp_publish.connected(*self.host())
        self.addCleanup(p.close)
        rss0 = self.cam.rss_kb()
        t0 = time.monotonic()
        rtmp_publish.huge_message(p)
        self.assertClosedWithin(p, 1.0, "a 16 MB message length", t0)
        grew = self.cam.rss_kb() - rss0
        self.note("RSS grew %d kB" % grew)
        self.assertLess(grew, 8 * 1024, "16 MB announced, RSS grew %d kB" % grew)

    def test_17_and_more_chunk_streams_in_progress(self):
        p = rtmp_publish.connected(*self.host())
        self.addCleanup(p.close)
        t0 = time.monotonic()
        rtmp_publish.many_chunk_streams(p, n=17)
        self.assertClosedWithin(p, 1.0, "17 chunk streams in progress", t0)

    def test_16_chunk_streams_in_progress_are_allowed(self):
        p = rtmp_publish.connected(*self.host())
        self.addCleanup(p.close)
        rtmp_publish.many_chunk_streams(p, n=16)
        self.assertIsNone(p.wait_closed(1.0), "16 chunk streams in progress closed the "
                          "connection: %s" % p.close_reason)


    def test_connected_but_never_publishing(self):
        t0 = time.monotonic()
        p = rtmp_publish.connected(*self.host())
        self.addCleanup(p.close)
        took = self.assertClosedWithin(p, CONNECT_DEADLINE, "connect and then nothing", t0)
        self.assertGreaterEqual(took, CONNECT_DEADLINE - 1.0, "closed before the deadline")

    def test_more_than_64_connections_not_publishing(self):
        conns = []
        for _ in range(70):
            p = Publisher(*self.host()).tcp().start_reader()
            self.addCleanup(p.close)
            conns.append(p)
        t0 = time.monotonic()
        wait_until(lambda: sum(p.closed_at is not None for p in conns) >= 6, 2.0)
        early = sum(p.closed_at is not None and p.closed_at < t0 + 2.0 for p in conns)
        self.note("%d of 70 idle connections closed at once" % early)
        self.assertEqual(early, 70 - 64, "idle connections closed at accept (64 may wait)")
        for p in conns:
            p.close()


class Startup(IngestCase):
    def test_explicit_rtmp_port_taken_is_a_start_error(self):
        taken = self.silent_listener()
        rc, out, err = run_camstream("--port", "0", "--host", "127.0.0.1", "--web-root",
                                     WEB_ROOT, "--rtmp-port", taken.port, timeout=10)
        self.assertEqual(rc, 1, "exit status with --rtmp-port %d taken; stderr %r"
                         % (taken.port, err[-500:]))
        self.assertNotIn("camstream rtmp on", out)

    def test_default_rtmp_port_taken_warns_and_runs_without_rtmp(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        try:
            sock.bind(("127.0.0.1", 1935))
            sock.listen(1)
        except OSError:
            pass        # someone else has it: taken all the same
        cam = self.start_camstream("--port", "0", "--host", "127.0.0.1", "--web-root", WEB_ROOT,
                                   default_args=False)
        self.assertIsNone(cam.stdout.wait_for("^camstream rtmp on", 1.0),
                          "an rtmp line with the default port taken: %r" % cam.stdout.lines)
        self.assertEqual(http_get(cam.port, "/api/health").status, 200)
        self.assertTrue(wait_until(lambda: "without RTMP" in cam.log_text(), 2.0),
                        "no warning on stderr: %s" % cam.log_text()[-1000:])


class Outputs(IngestCase):
    def test_not_live_key_is_not_found_everywhere(self):
        cam = self.start_ingest()
        r = http_get(cam.port, "/api/streams/nokey")
        self.assertJsonError(r, 404, "not_found", "/api/streams/nokey")
        for path in ("/live/nokey.flv", "/flv?name=nokey", "/snapshot?name=nokey"):
            self.assertJsonError(http_get(cam.port, path), 404, "not_found", path)
        self.expect_ws_error(cam, "/ws/stream?name=nokey", "not_found", 1008)

    def test_flv_by_name_and_ws_flv_carry_the_published_pictures(self):
        cam = self.start_ingest()
        loop = self.publish(cam, "outs")
        self.wait_live(cam, "outs")
        c = HttpFlv(cam.port, "/flv?name=outs")
        self.addCleanup(c.close)
        self.assertEqual(c.read_head(FIRST), 200, c.describe())
        c.read_pictures(10, FIRST)
        self.check_flv_tags(c, SIZE, "avc", audio=True)
        self.check_same_pictures(c.pictures(), loop)
        w = WsFlv(cam.port, "/ws/flv?name=outs")
        self.addCleanup(w.close)
        self.assertEqual(w.open(FIRST), 101, w.describe())
        w.read_pictures(10, FIRST)
        self.check_flv_tags(w, SIZE, "avc", audio=True)
        self.check_same_pictures(w.pictures(), loop)


# ---- interop: the pull path with nginx-rtmp -------------------------------------------------

class Interop(IngestCase):
    """Publishers into Debian's nginx-rtmp, pulled by a camstream whose ingest is on."""

    def nginx(self, publish=True):
        def new_log(label):
            path = _log_path(label)
            STARTED_LOGS.append((label, path))
            return path
        server = rtmp_server.RtmpServer(new_log=new_log)
        self.addCleanup(server.stop)
        return server.start(publish=publish)

    def pull(self, cam, url):
        v = self.viewer(cam, stream_path(url))
        for i, f in enumerate(v.frames(5, FIRST)):
            self.assertJpeg(f, "frame %d pulled from %s" % (i, url))
            self.assertEqual(jpeg_size(f), SIZE)
        c = HttpFlv(cam.port, "/flv?rtsp_url=" + urllib.parse.quote(url, safe=""))
        self.addCleanup(c.close)
        self.assertEqual(c.read_head(FIRST), 200, c.describe())
        c.read_pictures(10, FIRST)
        self.check_flv_tags(c, SIZE, "avc", audio=False)

    def test_ffmpeg_to_nginx_rtmp_pulled(self):
        server = self.nginx()
        cam = self.start_ingest()
        self.pull(cam, server.url())

    def test_gstreamer_rtmp2sink_to_nginx_rtmp_pulled(self):
        server = self.nginx(publish=False)
        self.tool("gst-rtmp2sink-nginx", gst_argv("rtmp2sink", server.url("gst"), audio=False))
        self.assertTrue(server._wait(lambda: server.is_published("gst"), FIRST),
                        "rtmp2sink did not publish to nginx-rtmp: %s" % server.streams())
        cam = self.start_ingest()
        self.pull(cam, server.url("gst"))

    def test_our_publisher_to_nginx_rtmp_pulled(self):
        # rtmp_publish.py against an independent server: the tool itself is right
        server = self.nginx(publish=False)
        tags = [t for t in tags_of("h264_aac") if t.type != rtmp_publish.MSG_AUDIO]
        self.publish(None, "ours", tags=tags, url=server.url("ours"), chunk_size=128)
        self.assertTrue(server._wait(lambda: server.is_published("ours"), FIRST),
                        "our publisher did not publish to nginx-rtmp: %s" % server.streams())
        cam = self.start_ingest()
        self.pull(cam, server.url("ours"))


"""GET /metrics: Prometheus text format 0.0.4, checked by a strict parser of its own (no
browser, no Prometheus library). Per-source counters move while a source streams, totals match
the viewers connected, and labels never carry credentials."""

import json
import math
import os
import re
import shutil
import signal
import socket
import tempfile
import time
import unittest

from camtest import (SECURE_PASSWORD, SECURE_USER, CamTestCase, http_get, run_camstream,
                     stream_path, wait_until)
from rtmp_server import start_for_test as start_rtmp

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FPS = 25

# ---- a strict parser of the text exposition format 0.0.4 ------------------------------------

METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
FLOAT = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NaN|[+-]Inf"
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}

HELP_RE = re.compile(r"^# HELP (%s) (.*)$" % METRIC_NAME)
TYPE_RE = re.compile(r"^# TYPE (%s) (\S+)$" % METRIC_NAME)
SAMPLE_RE = re.compile(r"^(%s)(\{.*\})? (%s)(?: (-?[0-9]+))?$" % (METRIC_NAME, FLOAT))
LABEL_RE = re.compile(r'(%s)="((?:[^"\\\n]|\\[\\"n])*)"' % LABEL_NAME)


class ExpositionError(AssertionError):
    pass


def _unescape(value):
    return re.sub(r"\\([\\\"n])", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def _parse_labels(text, where):
    """'{a="x",b="y"}' -> {"a": "x", "b": "y"}; a trailing comma is allowed, nothing else."""
    body = text[1:-1]
    labels = {}
    pos = 0
    while pos < len(body):
        m = LABEL_RE.match(body, pos)
        if not m:
            raise ExpositionError("%s: bad label syntax at %r" % (where, body[pos:pos + 40]))
        name, value = m.group(1), _unescape(m.group(2))
        if name in labels:
            raise ExpositionError("%s: label %s given twice" % (where, name))
        if name.startswith("__"):
            raise ExpositionError("%s: label %s is reserved" % (where, name))
        labels[name] = value
        pos = m.end()
        if pos < len(body):
            if body[pos] != ",":
                raise ExpositionError("%s: expected ',' between labels at %r"
                                      % (where, body[pos:pos + 40]))
            pos += 1
    return labels


def _family_of(sample_name, types):
    """The declared family a sample belongs to, or None."""
    if sample_name in types and types[sample_name] not in ("histogram",):
        return sample_name
    for family, kind in types.items():
        for suffix in SUFFIXES.get(kind, ()):
            if suffix and sample_name == family + suffix:
                return family
    return None


def parse_exposition(text):
    """Parses @text strictly. Returns (families, samples): families maps a name to
    {"type", "help"}; samples is a list of (name, labels dict, float value), in order.
    Raises ExpositionError on anything the format does not allow, and on what Prometheus would
    reject from a scrape: a sample of an undeclared family, a family split into two groups, a
    repeated series, a counter that is negative or NaN."""
    if text and not text.endswith("\n"):
        raise ExpositionError("the text does not end with a line feed")
    helps, types, samples = {}, {}, []
    seen_series = set()
    with_samples = set()    # families that have samples
    finished = set()        # families whose group of lines has ended
    current = None
    for number, line in enumerate(text.split("\n")[:-1] if text else [], 1):
        where = "line %d %r" % (number, line[:120])
        if line.strip() == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 2)
            if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                m = (HELP_RE if parts[1] == "HELP" else TYPE_RE).match(line)
                if not m:
                    raise ExpositionError("%s: malformed %s line" % (where, parts[1]))
                name = m.group(1)
                if name in finished:
                    raise ExpositionError("%s: family %s is declared again after its group "
                                          "ended" % (where, name))
                if current is not None and current != name:
                    finished.add(current)
                current = name
                if parts[1] == "HELP":
                    if name in helps:
                        raise ExpositionError("%s: second HELP for %s" % (where, name))
                    if not re.fullmatch(r"(?:[^\\]|\\[\\n])*", m.group(2)):
                        raise ExpositionError("%s: bad escape in HELP" % where)
                    helps[name] = m.group(2)
                else:
                    if name in types:
                        raise ExpositionError("%s: second TYPE for %s" % (where, name))
                    if m.group(2) not in TYPES:
                        raise ExpositionError("%s: unknown type %r" % (where, m.group(2)))
                    if name in with_samples:
                        raise ExpositionError("%s: TYPE after samples of %s" % (where, name))
                    types[name] = m.group(2)
            continue   # any other comment is allowed
        m = SAMPLE_RE.match(line)
        if not m:
            raise ExpositionError("%s: not a sample line" % where)
        name, label_text, value_text = m.group(1), m.group(2), m.group(3)
        family = _family_of(name, types)
        if family is None:
            raise ExpositionError("%s: sample of %s, whose family has no TYPE line"
                                  % (where, name))
        if family != current:
            raise ExpositionError("%s: sample of %s outside its family's group"
                                  % (where, family))
        with_samples.add(family)
        labels = _parse_labels(label_text, where) if label_text else {}
        value = float(value_text.replace("Inf", "inf"))
        if types[family] == "counter" and (math.isnan(value) or value < 0):
            raise ExpositionError("%s: counter %s is %s" % (where, name, value_text))
        series = (name, tuple(sorted(labels.items())))
        if series in seen_series:
            raise ExpositionError("%s: series given twice" % where)
        seen_series.add(series)
        samples.append((name, labels, value))
    families = {name: {"type": types.get(name), "help": helps.get(name)}
                for name in helps.keys() | types.keys()}
    for name, fam in families.items():
        if fam["type"] is None:
            raise ExpositionError("family %s has HELP but no TYPE" % name)
    return families, samples


class Metrics:
    """One parsed scrape."""

    def __init__(self, text):
        self.text = text
        self.families, self.samples = parse_exposition(text)

    def values(self, metric, **labels):
        return [v for n, lab, v in self.samples
                if n == metric and all(lab.get(k) == x for k, x in labels.items())]

    def value(self, metric, **labels):
        """The one sample of @metric whose labels include @labels; fails if not exactly one."""
        found = self.values(metric, **labels)
        if len(found) != 1:
            raise AssertionError("%d samples of %s%s, expected 1:\n%s"
                                 % (len(found), metric, labels, self.text))
        return found[0]

    def total(self, metric):
        return sum(self.values(metric))

    def label_values(self, label):
        return {lab[label] for _, lab, _ in self.samples if label in lab}


# ---- the parser is strict: its own specification ---------------------------------------------

GOOD = """\
# HELP a_total Things, with a \\\\ backslash and a \\n newline.
# TYPE a_total counter
a_total{source="rtsp://h/x\\"y\\\\z\\n",name=""} 3
a_total{source="other",} 1.5e3
# a free comment
# TYPE g gauge
g NaN
g{x="1"} +Inf
g{x="2"} -Inf 1712345678000
# TYPE h histogram
h_bucket{le="1"} 1
h_bucket{le="+Inf"} 2
h_sum 3
h_count 2
"""

BAD = {
    "undeclared family": "x 1\n",
    "bad metric name": "# TYPE 1x gauge\n1x 1\n",
    "unknown type": "# TYPE x meter\nx 1\n",
    "bad value": "# TYPE x gauge\nx one\n",
    "lowercase nan": "# TYPE x gauge\nx nan\n",
    "missing value": "# TYPE x gauge\nx\n",
    "unquoted label": "# TYPE x gauge\nx{a=b} 1\n",
    "bad escape": '# TYPE x gauge\nx{a="\\t"} 1\n',
    "raw quote": '# TYPE x gauge\nx{a="""} 1\n',
    "bad label name": '# TYPE x gauge\nx{1a="b"} 1\n',
    "duplicate label": '# TYPE x gauge\nx{a="1",a="2"} 1\n',
    "duplicate series": '# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n',
    "split family": "# TYPE x gauge\n# TYPE y gauge\nx 1\ny 1\nx{a=\"1\"} 2\n",
    "TYPE after sample": "# TYPE x gauge\nx 1\n# TYPE x gauge\n",
    "two TYPE lines": "# TYPE x gauge\n# TYPE x counter\nx 1\n",
    "negative counter": "# TYPE x_total counter\nx_total -1\n",
    "no final newline": "# TYPE x gauge\nx 1",
    "space before value missing": "# TYPE x gauge\nx{a=\"1\"}1\n",
    "help without type": "# HELP x Text\n# TYPE y gauge\ny 1\n",
}


class ParserIsStrict(unittest.TestCase):
    def test_parser_accepts_every_form_the_format_allows(self):
        families, samples = parse_exposition(GOOD)
        self.assertEqual(families["a_total"]["type"], "counter")
        self.assertEqual(samples[0][1]["source"], 'rtsp://h/x"y\\z\n', "unescaped label value")
        self.assertEqual(samples[1][2], 1500.0)
        self.assertTrue(math.isnan(samples[2][2]))
        self.assertEqual(len(samples), 9)

    def test_parser_rejects_what_the_format_does_not_allow(self):
        for what, text in BAD.items():
            with self.subTest(what):
                with self.assertRaises(ExpositionError, msg="accepted: %s" % what):
                    parse_exposition(text)


# ---- camstream's /metrics ----------------------------------------------------------------------

class MetricsTestCase(CamTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_rtsp(fps=FPS)

    def scrape(self, cam):
        r = http_get(cam.port, "/metrics")
        self.assertEqual(r.status, 200, "GET /metrics status (body %r)" % r.body[:300])
        try:
            text = r.body.decode("utf-8")
        except UnicodeDecodeError as e:
            self.fail("GET /metrics is not UTF-8: %s" % e)
        try:
            return Metrics(text)
        except ExpositionError as e:
            self.fail("GET /metrics is not valid Prometheus text: %s\n--- body:\n%s"
                      % (e, text[:4000]))

    def wait_metrics(self, cam, predicate, timeout=10.0):
        """Scrapes until @predicate(metrics) holds; returns the last scrape either way."""
        last = [None]

        def check():
            last[0] = self.scrape(cam)
            return predicate(last[0])
        wait_until(check, timeout, interval=0.1)
        return last[0]

    def watch(self, cam, url, n=1, frames=3, **opts):
        viewers = [self.viewer(cam, stream_path(url, **opts)).start() for _ in range(n)]
        for i, v in enumerate(viewers):
            self.assertGreaterEqual(v.wait_frames(frames, timeout=20), frames,
                                    "viewer %d of %s gets no frames: %s" % (i, url,
                                                                            v.describe()))
        return viewers


class Format(MetricsTestCase):
    def test_metrics_answers_the_text_format_content_type(self):
        cam = self.start_camstream()
        r = http_get(cam.port, "/metrics")
        self.assertEqual(r.status, 200)
        self.assertEqual(re.sub(r"\s*;\s*", ";", r.headers.get("content-type", "")).lower(),
                         CONTENT_TYPE.replace("; ", ";"), "GET /metrics content type")

    def test_metrics_of_an_idle_server_parse(self):
        m = self.scrape(self.start_camstream())
        self.assertEqual(m.value("camstream_sources"), 0)
        self.assertEqual(m.value("camstream_clients"), 0)
        self.assertEqual(m.values("camstream_frames_decoded_total"), [], "samples without "
                         "a source")

    def test_metrics_while_streaming_parse_and_declare_every_family(self):
        cam = self.start_camstream()
        self.watch(cam, self.rtsp.url("h264"))
        self.watch(cam, "demo:")
        m = self.scrape(cam)
        for name, kind in (("camstream_frames_decoded_total", "counter"),
                           ("camstream_frames_encoded_total", "counter"),
                           ("camstream_encode_seconds_total", "counter"),
                           ("camstream_bytes_received_total", "counter"),
                           ("camstream_bytes_sent_total", "counter"),
                           ("camstream_packets_received_total", "counter"),
                           ("camstream_frames_dropped_total", "counter"),
                           ("camstream_frames_late_total", "counter"),
                           ("camstream_reconnects_total", "counter"),
                           ("camstream_viewers", "gauge"),
                           ("camstream_seconds_since_last_frame", "gauge"),
                           ("camstream_source_up", "gauge"),
                           ("camstream_clients", "gauge"),
                           ("camstream_sources", "gauge"),
                           ("camstream_rtsp_sessions", "gauge"),
                           ("camstream_heap_bytes", "gauge"),
                           ("camstream_uptime_seconds", "gauge"),
                           ("camstream_build_info", "gauge")):
            self.assertIn(name, m.families, "no %s family" % name)
            self.assertEqual(m.families[name]["type"], kind, "type of %s" % name)
            self.assertTrue(m.families[name]["help"], "%s has no HELP text" % name)
        self.assertEqual(m.label_values("source"), {self.rtsp.url("h264"), "demo:"},
                         "source labels")
        for name, labels, _ in m.samples:
            if name.startswith("camstream_") and "source" in labels:
                self.assertEqual(set(labels), {"source", "name"}, "labels of %s" % name)

    def test_build_info_carries_the_version(self):
        m = self.scrape(self.start_camstream())
        (version,) = m.label_values("version")
        self.assertRegex(version, r"^\d+\.\d+", "build_info version label")
        self.assertEqual(m.value("camstream_build_info"), 1)

    def test_build_info_labels_are_what_version_prints(self):
        rc, out, err = run_camstream("--version")
        self.assertEqual(rc, 0, "--version exit code (stderr %r)" % err)
        printed = {line.split(" ", 1)[0]: line.split(" ")[1] for line in out.splitlines()}
        m = self.scrape(self.start_camstream())
        samples = [lab for name, lab, _ in m.samples if name == "camstream_build_info"]
        self.assertEqual(len(samples), 1, "camstream_build_info samples:\n%s" % m.text)
        self.assertEqual(samples[0], {
            "version": printed["camstream"], "lws": printed["libwebsockets"],
            "ffmpeg": printed["FFmpeg"], "libjpeg_turbo": printed["libjpeg-turbo"]},
            "build_info labels against --version:\n%s" % out)

    def test_uptime_grows(self):
        cam = self.start_camstream()
        first = self.scrape(cam).value("camstream_uptime_seconds")
        time.sleep(1.1)
        second = self.scrape(cam).value("camstream_uptime_seconds")
        self.assertGreaterEqual(second - first, 1.0, "uptime %.3f -> %.3f" % (first, second))


class Counters(MetricsTestCase):
    COUNTERS = ("camstream_frames_decoded_total", "camstream_frames_encoded_total",
                "camstream_encode_seconds_total", "camstream_bytes_received_total",
                "camstream_bytes_sent_total", "camstream_packets_received_total")

    def test_counters_move_while_a_source_streams(self):
        cam = self.start_camstream()
        url = self.rtsp.url("h264")
        (v,) = self.watch(cam, url)
        before = self.scrape(cam)
        v.wait_frames(len(v.frame_times) + FPS, timeout=5)
        after = self.scrape(cam)
        for name in self.COUNTERS:
            b, a = before.value(name, source=url), after.value(name, source=url)
            self.assertGreater(a, b, "%s did not move while streaming: %s -> %s" % (name, b, a))

    def test_frames_and_bytes_match_what_the_viewer_got(self):
        cam = self.start_camstream()
        url = self.rtsp.url("h264")
        (v,) = self.watch(cam, url, frames=2 * FPS)
        got = len(v.frame_times)
        m = self.scrape(cam)
        encoded = m.value("camstream_frames_encoded_total", source=url)
        self.assertGreaterEqual(encoded, got, "encoded %d frames, the viewer got %d"
                                % (encoded, got))
        self.assertGreaterEqual(m.value("camstream_frames_decoded_total", source=url), encoded)
        self.assertGreater(m.value("camstream_bytes_sent_total", source=url),
                           got * 1000, "bytes sent for %d JPEG frames" % got)

    def test_a_playing_source_is_up_with_a_fresh_frame_and_its_size(self):
        cam = self.start_camstream()
        url = self.rtsp.url("h264")
        self.watch(cam, url)
        m = self.scrape(cam)
        self.assertEqual(m.value("camstream_source_up", source=url), 1)
        age = m.value("camstream_seconds_since_last_frame", source=url)
        self.assertTrue(0 <= age < 1.0, "seconds since the last frame of a 25 fps source: %s"
                        % age)
        self.assertEqual(m.value("camstream_frame_width", source=url), 320)
        self.assertEqual(m.value("camstream_frame_height", source=url), 240)

    def test_an_opening_source_is_down_and_has_no_frame_age(self):
        silent = self.silent_listener()
        cam = self.start_camstream("--open-timeout", 10)
        url = "rtsp://127.0.0.1:%d/never" % silent.port
        self.viewer(cam, stream_path(url)).start()
        m = self.wait_metrics(cam, lambda m: m.values("camstream_source_up", source=url))
        self.assertEqual(m.value("camstream_source_up", source=url), 0, "up while opening")
        self.assertEqual(m.values("camstream_seconds_since_last_frame", source=url), [],
                         "a frame age before the first frame")
        self.assertEqual(m.value("camstream_rtsp_sessions"), 0, "RTSP sessions while opening")
        self.assertEqual(m.value("camstream_viewers", source=url), 1)

    def test_a_slow_viewer_counts_dropped_frames(self):
        cam = self.start_camstream()
        slow = self.viewer(cam, stream_path("demo:"),
                           sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
        slow.frames(1, timeout=15)
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:   # one frame every 0.3 s of a 25 fps source
            time.sleep(0.3)
            slow.frames(1, timeout=10)
        dropped = self.scrape(cam).value("camstream_frames_dropped_total", source="demo:")
        self.note("dropped %d" % dropped)
        self.assertGreater(dropped, 0, "a viewer reading 3 frames/s of a 25 fps source skipped "
                           "nothing")


class KeyPicturesOnly(MetricsTestCase):
    """Viewers at fps <= 1 of a camera with a key picture every second (the fixture's GOP is
    1 s) need only the key pictures: the decoder skips the rest, and goes back to every
    picture once a viewer needs more. Seen through camstream_frames_decoded_total."""

    def decoded(self, cam, url):
        return self.scrape(cam).value("camstream_frames_decoded_total", source=url)

    def decode_rate(self, cam, url, v, frames):
        """Pictures decoded per second while @v receives @frames more frames."""
        d0, t0 = self.decoded(cam, url), time.monotonic()
        want = len(v.frame_times) + frames
        self.assertGreaterEqual(v.wait_frames(want, timeout=frames * 3 + 10), want,
                                v.describe())
        return (self.decoded(cam, url) - d0) / (time.monotonic() - t0)

    def test_fps_1_decodes_key_pictures_only_until_a_viewer_wants_more(self):
        cam = self.start_camstream()
        url = self.rtsp.url("h264")
        (tile,) = self.watch(cam, url, frames=3, fps=1)
        # two key pictures measure the interval; from then on only key pictures
        rate = self.decode_rate(cam, url, tile, 3)
        self.note("fps=1 only: %.1f pictures decoded per second" % rate)
        self.assertLess(rate, 4, "a viewer at fps=1 of a 25 fps camera: %.1f pictures "
                        "decoded per second" % rate)
        full = self.viewer(cam, stream_path(url)).start()
        self.assertGreaterEqual(full.wait_frames(1, timeout=10), 1, full.describe())
        rate = self.decode_rate(cam, url, full, 2 * FPS)
        self.note("with a full-rate viewer: %.1f pictures decoded per second" % rate)
        self.assertGreater(rate, FPS * 0.6, "a full-rate viewer joined: %.1f pictures "
                           "decoded per second" % rate)
        self.assertIsNone(tile.closed, tile.describe())

    def test_fps_2_decodes_every_picture(self):
        cam = self.start_camstream()
        url = self.rtsp.url("h264")
        (tile,) = self.watch(cam, url, frames=3, fps=2)
        rate = self.decode_rate(cam, url, tile, 4)
        self.note("fps=2: %.1f pictures decoded per second" % rate)
        self.assertGreater(rate, FPS * 0.6, "key pictures (one a second) are too few for "
                           "fps=2: %.1f pictures decoded per second" % rate)


class CatchingUp(MetricsTestCase):
    def test_a_worker_that_fell_behind_skips_encoding_until_it_caught_up(self):
        """camstream stopped for 1.5 s while the camera goes on: the pictures queued meanwhile
        are decoded but not encoded (counted in camstream_frames_late_total), and then the
        viewer gets every frame again."""
        cam = self.start_camstream()
        url = self.rtsp.url("h264")
        (v,) = self.watch(cam, url, frames=FPS)
        self.assertEqual(self.scrape(cam).value("camstream_frames_late_total", source=url), 0,
                         "late pictures while keeping up")
        cam.send_signal(signal.SIGSTOP)
        try:
            time.sleep(1.5)  # the stall under test, not a wait for an event
        finally:
            cam.send_signal(signal.SIGCONT)
        m = self.wait_metrics(cam, lambda m: m.value("camstream_frames_late_total",
                                                     source=url) >= 10, timeout=10)
        late = m.value("camstream_frames_late_total", source=url)
        self.note("%d of the ~%d pictures queued during the stall were not encoded"
                  % (late, int(1.5 * FPS)))
        self.assertGreaterEqual(late, 10, "pictures queued during a 1.5 s stall were all "
                                "encoded")
        # caught up: within 10 s, a second's worth of frames reaches the viewer with no
        # picture counted late meanwhile
        deadline = time.monotonic() + 10
        while True:
            before = self.scrape(cam).value("camstream_frames_late_total", source=url)
            n = len(v.frame_times)
            self.assertGreaterEqual(v.wait_frames(n + FPS, timeout=10), n + FPS, v.describe())
            after = self.scrape(cam).value("camstream_frames_late_total", source=url)
            if after == before:
                break
            self.assertLess(time.monotonic(), deadline, "still skipping pictures 10 s after "
                            "the stall: %d late so far" % after)


class Totals(MetricsTestCase):
    def setUp(self):
        stats = self.rtsp.wait_sessions(lambda s: s["sessions"] == 0, 5.0)
        self.assertEqual(stats["sessions"], 0, "RTSP sessions left over: %s" % stats)

    def test_totals_match_the_viewers_connected(self):
        cam = self.start_camstream()
        url = self.rtsp.url("h264")
        shared = self.watch(cam, url, n=3)
        demo = self.watch(cam, "demo:", n=2)
        m = self.scrape(cam)
        self.assertEqual(m.value("camstream_clients"), 5, "clients with 5 viewers")
        self.assertEqual(m.total("camstream_viewers"), 5, "viewers summed over the sources")
        self.assertEqual(m.value("camstream_viewers", source=url), 3)
        self.assertEqual(m.value("camstream_viewers", source="demo:"), 2)
        self.assertEqual(m.value("camstream_sources"), 2, "sources")
        self.assertEqual(m.value("camstream_rtsp_sessions"), 1, "RTSP sessions")
        self.assertEqual(m.value("camstream_rtsp_sessions"), self.rtsp.stats()["sessions"],
                         "RTSP sessions according to the camera")

        shared[0].close()
        demo[0].close()
        m = self.wait_metrics(cam, lambda m: m.value("camstream_clients") == 3)
        self.assertEqual(m.value("camstream_clients"), 3, "clients after 2 of 5 left")
        self.assertEqual(m.total("camstream_viewers"), 3, "viewers after 2 of 5 left")

        for v in shared[1:] + demo[1:]:
            v.close()
        m = self.wait_metrics(cam, lambda m: m.value("camstream_sources") == 0)
        self.assertEqual(m.value("camstream_clients"), 0, "clients after all left")
        self.assertEqual(m.value("camstream_sources"), 0, "sources after all viewers left")
        self.assertEqual(m.value("camstream_rtsp_sessions"), 0, "RTSP sessions after all left")

    def test_isolated_workers_of_one_url_are_one_series(self):
        cam = self.start_camstream("--isolate")
        url = self.rtsp.url("h264")
        self.watch(cam, url, n=2)
        m = self.scrape(cam)   # the parser refuses a repeated series
        self.assertEqual(m.value("camstream_sources"), 2)
        self.assertEqual(m.value("camstream_viewers", source=url), 2)
        self.assertEqual(m.value("camstream_rtsp_sessions"), 2)

    def test_an_rtmp_source_is_up_but_not_an_rtsp_session(self):
        rtmp = start_rtmp(self, fps=FPS)
        cam = self.start_camstream()
        self.watch(cam, rtmp.url())
        m = self.scrape(cam)
        self.assertEqual(m.value("camstream_source_up", source=rtmp.url()), 1)
        self.assertEqual(m.value("camstream_rtsp_sessions"), 0)
        self.assertGreater(m.value("camstream_frames_decoded_total", source=rtmp.url()), 0)


class Credentials(MetricsTestCase):
    def assertNoCredentials(self, m, *secrets):
        for secret in secrets:
            self.assertNotIn(secret, m.text, "/metrics shows %r:\n%s" % (secret, m.text))

    def test_labels_never_carry_rtsp_credentials(self):
        cam = self.start_camstream()
        url = self.rtsp.secure_url("%s:%s" % (SECURE_USER, SECURE_PASSWORD))
        self.watch(cam, url)
        m = self.scrape(cam)
        self.assertNoCredentials(m, SECURE_PASSWORD, SECURE_USER + ":")
        (source,) = m.label_values("source")
        self.assertNotIn(SECURE_USER, source, "source label %r" % source)
        self.assertIn("127.0.0.1:%d/secure" % self.rtsp.secure_port, source,
                      "source label %r does not name the camera" % source)
        self.assertEqual(m.value("camstream_source_up", source=source), 1,
                         "the secure source is not playing")
        self.assertEqual(m.value("camstream_rtsp_sessions"), 1)

    def test_labels_never_carry_rtmp_credentials_or_secret_query_values(self):
        rtmp = start_rtmp(self, fps=FPS)
        cam = self.start_camstream()
        url = rtmp.url(userinfo="alice:Hunter2pw") + "?token=T0kenValue&password=Pa55word"
        self.watch(cam, url)
        m = self.scrape(cam)
        self.assertNoCredentials(m, "Hunter2pw", "alice", "T0kenValue", "Pa55word")
        (source,) = m.label_values("source")
        self.assertIn("127.0.0.1:%d/live/test" % rtmp.port, source, "source label %r" % source)

    def test_a_named_stream_is_labelled_by_name_without_its_credentials(self):
        folder = tempfile.mkdtemp(prefix="camstream-cfg-")
        self.addCleanup(shutil.rmtree, folder, True)
        config = os.path.join(folder, "streams.json")
        with open(config, "w") as f:
            json.dump({"streams": [{"name": "door", "rtsp_url": self.rtsp.secure_url(),
                                    "username": SECURE_USER, "password": SECURE_PASSWORD,
                                    "enabled": True, "always_on": True}]}, f)
        os.chmod(config, 0o600)
        cam = self.start_camstream("--config", config)
        m = self.wait_metrics(cam, lambda m: m.values("camstream_frames_decoded_total",
                                                      name="door") not in ([], [0]), 15)
        self.assertNoCredentials(m, SECURE_PASSWORD, SECURE_USER + ":")
        self.assertEqual(m.value("camstream_source_up", name="door"), 1, "always-on stream")
        self.assertEqual(m.value("camstream_viewers", name="door"), 0, "no viewer yet")
        self.assertEqual(m.value("camstream_clients"), 0)
        self.assertEqual(m.value("camstream_rtsp_sessions"), 1, "the always-on camera session")

"""Named streams (seeds 000 and 001): the REST API under /api/streams and /api/config/streams,
the --config file at start, --config-write across a restart, always-on capture with no viewer,
WebSocket viewers by name, and credentials that never reach a reply or the log."""

import http.client
import json
import os
import shutil
import stat
import tempfile
import time

from camtest import (SECURE_PASSWORD, SECURE_USER, CamTestCase, HttpResponse, run_camstream,
                     wait_until)

STATUS_FIELDS = {
    "name", "rtsp_url", "enabled", "always_on", "transport", "idle_fps", "channel", "subtype",
    "username", "password", "state", "connected", "playing", "is_online", "packets_received",
    "frames_received", "frames_encoded", "capture_count", "bytes_received", "last_frame_time",
    "last_update", "viewers", "width", "height", "codec", "fps", "fps_nominal", "reconnects",
    "frames_decoded", "error",
    "error_code", "publish", "declared",
}
STATES = {"stopped", "idle", "connecting", "playing", "reconnecting", "failed", "ended"}


class Reply(HttpResponse):
    """camtest's HttpResponse, with a clear failure when the body is not JSON."""

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            raise AssertionError("the reply is not JSON: %r" % self.body[:300]) from None


def request(port, method, path, body=None, headers=None, timeout=10.0):
    """One HTTP request; @body may be a dict (sent as JSON), str or bytes."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


class StreamsCase(CamTestCase):
    """Helpers shared by the API tests; every reply is kept to check for credentials."""

    def setUp(self):
        self.replies = []

    def call(self, cam, method, path, body=None, expect=None, **kw):
        r = request(cam.port, method, path, body, **kw)
        self.replies.append(r)
        if expect is not None:
            self.assertEqual(r.status, expect, "%s %s: status (body %r)"
                             % (method, path, r.body[:300]))
            self.assertEqual(r.content_type, "application/json",
                             "%s %s: content type" % (method, path))
        return r

    def status(self, cam, name):
        return self.call(cam, "GET", "/api/streams/" + name, expect=200).json()

    def wait_status(self, cam, name, predicate, timeout, what):
        last = {}

        def check():
            last.clear()
            last.update(self.status(cam, name))
            return predicate(last)
        self.assertTrue(wait_until(check, timeout, interval=0.2),
                        "%s within %.0f s; last status %r" % (what, timeout, last))
        return dict(last)

    def write_config(self, doc, mode=0o600):
        folder = tempfile.mkdtemp(prefix="camstream-cfg-")
        self.addCleanup(shutil.rmtree, folder, True)
        path = os.path.join(folder, "streams.json")
        with open(path, "w") as f:
            json.dump(doc, f, indent=2)
        os.chmod(path, mode)
        return path

    def assertNoSecret(self, cam, secrets):
        for r in self.replies:
            for s in secrets:
                self.assertNotIn(s.encode(), r.body, "a reply holds a credential: %r"
                                 % r.body[:400])
                for v in r.headers.values():
                    self.assertNotIn(s, v, "a reply header holds a credential")
        log = cam.log_text()
        for s in secrets:
            self.assertNotIn(s, log, "the log holds a credential")


class StreamsApi(StreamsCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_rtsp()

    def setUp(self):
        super().setUp()
        self.cam = self.start_camstream()

    def add(self, name, url=None, expect=201, **fields):
        body = {"name": name, "rtsp_url": url or self.rtsp.url("h264")}
        body.update(fields)
        return self.call(self.cam, "POST", "/api/streams", body, expect=expect)

    def test_the_list_is_empty_without_a_config_file(self):
        r = self.call(self.cam, "GET", "/api/streams", expect=200)
        self.assertEqual(r.json(), {"total": 0, "streams": []})

    def test_post_adds_a_stream_with_201_and_its_status(self):
        r = self.add("cam1", channel=1, subtype=0)
        doc = r.json()
        self.assertEqual(r.headers.get("location"), "/api/streams/cam1", "Location header")
        self.assertEqual(set(doc), STATUS_FIELDS, "status fields")
        self.assertEqual(doc["name"], "cam1")
        self.assertEqual(doc["rtsp_url"], self.rtsp.url("h264"))
        self.assertEqual((doc["enabled"], doc["always_on"], doc["transport"]),
                         (True, False, "tcp"), "defaults")
        self.assertEqual((doc["channel"], doc["subtype"]), (1, 0), "channel and subtype kept")
        self.assertEqual(doc["state"], "idle", "an on-demand stream with no viewer")
        self.assertEqual(doc["viewers"], 0)
        self.assertIsNone(doc["last_update"])
        listed = self.call(self.cam, "GET", "/api/streams", expect=200).json()
        self.assertEqual(listed["total"], 1)
        self.assertEqual(listed["streams"][0]["name"], "cam1")
        self.assertEqual(self.status(self.cam, "cam1")["name"], "cam1")

    def test_a_name_that_exists_is_409(self):
        self.add("cam1")
        r = self.add("cam1", url="demo:", expect=None)
        self.assertJsonError(r, 409, "already_exists", "POST of an existing name")
        self.assertEqual(self.status(self.cam, "cam1")["rtsp_url"], self.rtsp.url("h264"),
                         "the 409 replaced the stream")

    def test_malformed_json_bodies_are_400(self):
        bodies = ['{', '{"name": "a", "rtsp_url": "demo:",}', '[]', '"cam"', '42', '',
                  '{"name": "a", "name": "b", "rtsp_url": "demo:"}', b'{"name": "\xff"}',
                  '{"name": "a", "rtsp_url": "demo:"} trailing']
        for body in bodies:
            for path in ("/api/streams", "/api/config/streams"):
                r = self.call(self.cam, "POST", path, body)
                self.assertJsonError(r, 400, "bad_request", "POST %s with %r" % (path, body))
        self.assertEqual(self.call(self.cam, "GET", "/api/streams", expect=200).json()["total"],
                         0, "a malformed body added something")
        self.assertTrue(self.cam.alive())

    def test_invalid_fields_are_400_saying_what_is_wrong(self):
        cases = [
            ({"rtsp_url": "demo:"}, "name"),
            ({"name": "a"}, "rtsp_url"),
            ({"name": "a/b", "rtsp_url": "demo:"}, "name"),
            ({"name": "a", "rtsp_url": "demo:", "colour": "red"}, "colour"),
            ({"name": "a", "rtsp_url": "demo:", "transport": "quic"}, "transport"),
            ({"name": "a", "rtsp_url": "demo:", "enabled": "yes"}, "enabled"),
            ({"name": "a", "rtsp_url": "demo:", "idle_fps": -1}, "idle_fps"),
            ({"name": "a", "rtsp_url": "rtsp://"}, "rtsp_url"),
            ({"name": "a", "rtsp_url": self.rtsp.url("h264"), "password": "x"}, "username"),
        ]
        for body, word in cases:
            r = self.call(self.cam, "POST", "/api/streams", body)
            doc = self.assertJsonError(r, 400, "bad_request", "POST %r" % (body,))
            self.assertIn(word, doc["error"], "the message for %r does not say what is wrong"
                          % (body,))

    def test_a_refused_scheme_is_403(self):
        r = self.add("f", url="file:///etc/passwd", expect=None)
        self.assertJsonError(r, 403, "scheme_not_allowed", "POST with a file: URL")

    def test_unknown_names_are_404_on_every_endpoint(self):
        for method, path in (("GET", "/api/streams/nope"), ("DELETE", "/api/streams/nope"),
                             ("POST", "/api/streams/nope/start"),
                             ("POST", "/api/streams/nope/stop")):
            r = self.call(self.cam, method, path)
            doc = self.assertJsonError(r, 404, "not_found", "%s %s" % (method, path))
            self.assertIn("nope", doc["error"])

    def test_wrong_methods_are_405_with_allow(self):
        self.add("cam1")
        for method, path, allow in (("PUT", "/api/streams/cam1", "GET, DELETE"),
                                    ("GET", "/api/streams/cam1/start", "POST"),
                                    ("DELETE", "/api/streams", "GET, POST"),
                                    ("GET", "/api/config/streams", "POST"),
                                    ("POST", "/api/streams/cam1/snapshot", "GET")):
            r = self.call(self.cam, method, path)
            self.assertJsonError(r, 405, "bad_request", "%s %s" % (method, path))
            self.assertEqual(r.headers.get("allow"), allow, "Allow of %s %s" % (method, path))

    def test_unknown_subpaths_are_404(self):
        self.add("cam1")
        for path in ("/api/streams/cam1/frames", "/api/streams/cam1/start/now",
                     "/api/config", "/api/config/other"):
            self.assertJsonError(self.call(self.cam, "GET", path), 404, "not_found", path)

    def test_a_body_over_64_kib_is_413(self):
        body = json.dumps({"name": "big", "rtsp_url": "demo:", "pad": "x" * 70000})
        r = self.call(self.cam, "POST", "/api/streams", body)
        self.assertJsonError(r, 413, "bad_request", "POST of 70 kB")
        self.assertTrue(self.cam.alive())
        self.call(self.cam, "GET", "/api/streams", expect=200)

    def test_several_requests_on_one_connection(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.cam.port, timeout=10)
        self.addCleanup(conn.close)
        for method, path, body, status in (
                ("POST", "/api/streams", {"name": "k", "rtsp_url": "demo:"}, 201),
                ("POST", "/api/streams", "{", 400),
                ("POST", "/api/streams/k/stop", None, 200),
                ("GET", "/api/streams/k", None, 200),
                ("DELETE", "/api/streams/k", None, 200),
                ("GET", "/api/streams", None, 200)):
            conn.request(method, path, body=json.dumps(body) if isinstance(body, dict) else body)
            r = conn.getresponse()
            self.assertEqual(r.status, status, "%s %s on a kept-alive connection: %r"
                             % (method, path, r.read()[:200]))
            r.read()

    def test_delete_removes_the_stream(self):
        self.add("cam1")
        r = self.call(self.cam, "DELETE", "/api/streams/cam1", expect=200)
        self.assertEqual(r.json().get("deleted"), "cam1")
        self.assertJsonError(self.call(self.cam, "GET", "/api/streams/cam1"), 404, "not_found",
                             "GET after DELETE")

    def test_start_captures_with_no_viewer_and_stop_ends_the_camera_session(self):
        self.add("cam1")
        before = self.rtsp.stats()["sessions_total"]
        doc = self.call(self.cam, "POST", "/api/streams/cam1/start", expect=200).json()
        self.assertIn(doc["state"], ("connecting", "playing"), "state after start")
        doc = self.wait_status(self.cam, "cam1", lambda s: s["frames_encoded"] >= 2
                               and s["playing"], 20, "frames captured after start")
        self.assertTrue(doc["connected"] and doc["is_online"], "status %r" % doc)
        self.assertEqual(doc["viewers"], 0)
        self.assertEqual(doc["capture_count"], doc["frames_encoded"])
        self.assertEqual((doc["width"], doc["height"], doc["codec"]), (320, 240, "h264"))
        self.assertGreater(doc["bytes_received"], 0)
        self.assertGreaterEqual(doc["frames_received"], doc["frames_encoded"])
        self.assertRegex(doc["last_update"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertLess(abs(doc["last_frame_time"] - time.time()), 10)
        self.assertGreater(self.rtsp.stats()["sessions_total"], before, "no RTSP session")

        doc = self.call(self.cam, "POST", "/api/streams/cam1/stop", expect=200).json()
        self.assertEqual((doc["state"], doc["enabled"]), ("stopped", False))
        stats = self.rtsp.wait_sessions(lambda s: s["sessions"] == 0, 10)
        self.assertEqual(stats["sessions"], 0, "the camera session outlived stop")
        self.call(self.cam, "POST", "/api/streams/cam1/stop", expect=200)  # idempotent

    def test_a_viewer_by_name_gets_frames_and_source_ended_on_stop(self):
        self.add("cam1")
        v = self.viewer(self.cam, "/ws/stream?name=cam1").start()
        self.assertGreaterEqual(v.wait_frames(3, timeout=20), 3, "viewer by name: %s"
                                % v.describe())
        doc = self.wait_status(self.cam, "cam1", lambda s: s["viewers"] == 1, 5, "one viewer")
        self.assertEqual(doc["state"], "playing")
        self.call(self.cam, "POST", "/api/streams/cam1/stop", expect=200)
        closed = v.wait_closed(10)
        self.assertIsNotNone(closed, "viewer not closed by stop: %s" % v.describe())
        err, code = v.error_and_code(closed)
        self.assertEqual((err.get("code"), code), ("source_ended", 1000), "error %r" % err)
        # a stopped stream refuses viewers the same way
        self.expect_ws_error(self.cam, "/ws/stream?name=cam1", "source_ended", 1000)

    def test_a_viewer_of_an_unknown_name_gets_not_found(self):
        self.expect_ws_error(self.cam, "/ws/stream?name=nobody", "not_found", 1008)

    def test_delete_closes_the_viewers(self):
        self.add("cam1")
        v = self.viewer(self.cam, "/ws/stream?name=cam1").start()
        self.assertGreaterEqual(v.wait_frames(2, timeout=20), 2, v.describe())
        self.call(self.cam, "DELETE", "/api/streams/cam1", expect=200)
        closed = v.wait_closed(10)
        self.assertIsNotNone(closed, "viewer not closed by DELETE: %s" % v.describe())
        err, code = v.error_and_code(closed)
        self.assertEqual((err.get("code"), code), ("source_ended", 1000), "error %r" % err)

    def test_config_streams_adds_replaces_and_keeps(self):
        self.add("a", url="demo:")
        self.add("b", url="demo:")
        body = {"streams": [{"name": "a", "rtsp_url": "demo:"},
                            {"name": "b", "rtsp_url": self.rtsp.url("h264")},
                            {"name": "c", "rtsp_url": self.rtsp.url("h264"), "channel": 2}]}
        doc = self.call(self.cam, "POST", "/api/config/streams", body, expect=200).json()
        self.assertEqual(doc, {"added": ["c"], "replaced": ["b"], "unchanged": ["a"],
                               "total": 3})
        self.assertEqual(self.status(self.cam, "b")["rtsp_url"], self.rtsp.url("h264"))
        # one bad entry: nothing changes
        bad = {"streams": [{"name": "d", "rtsp_url": "demo:"}, {"name": "e"}]}
        r = self.call(self.cam, "POST", "/api/config/streams", bad)
        doc = self.assertJsonError(r, 400, "bad_request", "a list with an invalid entry")
        self.assertIn("streams[1]", doc["error"])
        self.assertEqual(self.call(self.cam, "GET", "/api/streams").json()["total"], 3)
        r = self.call(self.cam, "POST", "/api/config/streams", {"cameras": []})
        self.assertJsonError(r, 400, "bad_request", "a body without streams")

    def test_credentials_reach_the_camera_but_no_reply_or_log(self):
        self.add("sec", url=self.rtsp.secure_url(), username=SECURE_USER,
                 password=SECURE_PASSWORD, always_on=True)
        doc = self.wait_status(self.cam, "sec", lambda s: s["frames_encoded"] >= 1, 20,
                               "the protected camera plays with the given credentials")
        self.assertEqual((doc["username"], doc["password"]), ("***", "***"))
        # the same with the credentials inside the URL
        inline = self.rtsp.secure_url("%s:%s" % (SECURE_USER, SECURE_PASSWORD))
        self.add("sec2", url=inline, always_on=True)
        self.wait_status(self.cam, "sec2", lambda s: s["frames_encoded"] >= 1, 20,
                         "the protected camera plays with credentials in rtsp_url")
        self.call(self.cam, "GET", "/api/streams", expect=200)
        self.call(self.cam, "POST", "/api/config/streams",
                  {"streams": [{"name": "sec3", "rtsp_url": inline}]}, expect=200)
        self.call(self.cam, "POST", "/api/streams", {"name": "sec4", "rtsp_url": inline,
                                                     "username": "x"})
        self.call(self.cam, "POST", "/api/streams", '{"name": "s", "password": %s}'
                  % SECURE_PASSWORD)
        self.call(self.cam, "POST", "/api/streams/sec/stop", expect=200)
        self.call(self.cam, "DELETE", "/api/streams/sec2", expect=200)
        self.assertNoSecret(self.cam, [SECURE_PASSWORD])


class ConfigFile(StreamsCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_rtsp()

    def test_streams_of_the_config_file_are_there_at_start(self):
        path = self.write_config({"server": {"note": "kept"}, "streams": [
            {"name": "camera_1", "rtsp_url": self.rtsp.url("h264"), "channel": 1, "subtype": 0,
             "username": None, "password": None, "enabled": True},
            {"name": "off", "rtsp_url": self.rtsp.url("h264"), "enabled": False}]})
        cam = self.start_camstream("--config", path)
        listed = self.call(cam, "GET", "/api/streams", expect=200).json()
        self.assertEqual([s["name"] for s in listed["streams"]], ["camera_1", "off"])
        self.assertEqual(listed["total"], 2)
        self.assertEqual(self.status(cam, "camera_1")["state"], "idle")
        self.assertEqual(self.status(cam, "off")["state"], "stopped")
        self.expect_ws_error(cam, "/ws/stream?name=off", "source_ended", 1000)

    def test_an_always_on_stream_captures_with_no_viewer(self):
        path = self.write_config({"streams": [
            {"name": "yard", "rtsp_url": self.rtsp.url("h264"), "always_on": True,
             "idle_fps": 2}]})
        cam = self.start_camstream("--config", path)
        first = self.wait_status(cam, "yard", lambda s: s["frames_encoded"] >= 1, 20,
                                 "an always-on stream captures with no viewer")
        later = self.wait_status(cam, "yard",
                                 lambda s: s["frames_encoded"] >= first["frames_encoded"] + 3, 10,
                                 "frames_encoded grows")
        self.assertEqual(later["viewers"], 0)
        self.assertTrue(later["is_online"] and later["playing"], "status %r" % later)
        t0, n0 = time.monotonic(), later["frames_encoded"]
        time.sleep(2.0)
        n1 = self.status(cam, "yard")["frames_encoded"]
        rate = (n1 - n0) / (time.monotonic() - t0)
        self.note("idle capture %.1f frames/s at idle_fps 2" % rate)
        self.assertLess(rate, 6, "idle_fps 2 is not honoured with no viewer")
        v = self.viewer(cam, "/ws/stream?name=yard").start()
        self.assertGreaterEqual(v.wait_frames(3, timeout=10), 3, v.describe())

    def test_a_bad_config_file_stops_the_start_naming_the_file_and_line(self):
        path = self.write_config({})
        with open(path, "w") as f:
            f.write('{\n  "streams": [\n    {"name": "a", "rtsp_url": }\n  ]\n}\n')
        rc, out, err = run_camstream("--port", "0", "--host", "127.0.0.1", "--config", path)
        self.assertNotEqual(rc, 0, "camstream started with a broken config file")
        self.assertIn(path, err, "the error does not name the file: %r" % err)
        self.assertIn("line 3", err, "the error does not give the line: %r" % err)

        path = self.write_config({"streams": [{"name": "a", "rtsp_url": "demo:", "x": 1}]})
        rc, out, err = run_camstream("--port", "0", "--host", "127.0.0.1", "--config", path)
        self.assertNotEqual(rc, 0, "camstream started with an unknown stream key")
        self.assertIn('"x"', err)

        rc, out, err = run_camstream("--port", "0", "--host", "127.0.0.1", "--config",
                                     "/nonexistent/streams.json")
        self.assertNotEqual(rc, 0, "camstream started with a missing config file")
        self.assertIn("/nonexistent/streams.json", err)

    def test_config_write_persists_changes_across_a_restart(self):
        path = self.write_config({"server": {"note": "kept"}, "streams": [
            {"name": "a", "rtsp_url": "demo:"}, {"name": "b", "rtsp_url": "demo:"}]},
            mode=0o644)
        cam = self.start_camstream("--config", path, "--config-write")
        self.call(cam, "POST", "/api/streams", {"name": "sec", "rtsp_url":
                  self.rtsp.secure_url(), "username": SECURE_USER,
                  "password": SECURE_PASSWORD}, expect=201)
        self.call(cam, "POST", "/api/streams/a/stop", expect=200)
        self.call(cam, "DELETE", "/api/streams/b", expect=200)
        self.call(cam, "POST", "/api/config/streams",
                  {"streams": [{"name": "c", "rtsp_url": "demo:", "always_on": True}]},
                  expect=200)
        rc, _ = self.stop_camstream(cam)
        self.assertEqual(rc, 0)

        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600, "config file mode")
        self.assertEqual(os.listdir(os.path.dirname(path)), ["streams.json"],
                         "a temporary file was left behind")
        with open(path) as f:
            doc = json.load(f)
        self.assertEqual(doc.get("server"), {"note": "kept"}, "server settings lost")
        self.assertEqual([s["name"] for s in doc["streams"]], ["a", "sec", "c"])

        cam2 = self.start_camstream("--config", path)
        listed = {s["name"]: s for s in self.call(cam2, "GET", "/api/streams",
                                                  expect=200).json()["streams"]}
        self.assertEqual(sorted(listed), ["a", "c", "sec"])
        self.assertFalse(listed["a"]["enabled"], "stop was not saved")
        self.assertTrue(listed["c"]["always_on"])
        v = self.viewer(cam2, "/ws/stream?name=sec").start()
        self.assertGreaterEqual(v.wait_frames(2, timeout=20), 2,
                                "the saved credentials do not open the camera: %s"
                                % v.describe())
        self.assertNoSecret(cam, [SECURE_PASSWORD])
        self.assertNoSecret(cam2, [SECURE_PASSWORD])

    def test_without_config_write_the_file_is_left_alone(self):
        doc = {"streams": [{"name": "a", "rtsp_url": "demo:"}]}
        path = self.write_config(doc)
        with open(path) as f:
            before = f.read()
        cam = self.start_camstream("--config", path)
        self.call(cam, "POST", "/api/streams", {"name": "b", "rtsp_url": "demo:"}, expect=201)
        self.call(cam, "DELETE", "/api/streams/a", expect=200)
        with open(path) as f:
            self.assertEqual(f.read(), before, "the file changed without --config-write")

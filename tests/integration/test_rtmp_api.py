"""Seed 000's API on named streams: GET /rtmp/snapshot/{key} (the first request registers the
key, which is then captured once a second until DELETE; later requests answer from memory),
GET /rtmp/status/{key}, GET /rtmp/list, DELETE /rtmp/remove/{key}. JSON exactly as the seed:
{"success":true,"data":...} / {"success":false,"message":...} with the HTTP status. A stream
that stops or whose camera is down stays registered (offline, its count kept) and is captured
again once it is back."""

import datetime
import http.client
import json
import re
import shutil
import signal
import socket
import subprocess
import time

from camtest import (SECURE_PASSWORD, SECURE_USER, CamTestCase, HttpResponse,
                     SessionCountingCase, _log_path, jpeg_size, pixels_differ, wait_until)

AT_ONCE = 0.3             # seconds: "answered at once, from memory"
ONLINE_S = 10             # is_online: a picture within this (seed 000; RTMP_API_ONLINE_S)
STATUS_FIELDS = {"stream_key", "capture_count", "is_online", "last_update"}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
TOKEN = "t0ken-for-rtmp-api"


def request(port, method, path, headers=None, body=None, timeout=20.0):
    """One request on its own connection: (HttpResponse, seconds it took)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        resp = HttpResponse(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        return resp, time.monotonic() - t0
    finally:
        conn.close()


def parse_utc(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


class RtmpApiCase(CamTestCase):
    """Helpers: every reply is kept (to look for credentials) and checked for its shape."""

    def setUp(self):
        super().setUp()
        self.replies = []

    def call(self, cam, method, path, headers=None, timeout=20.0):
        r, elapsed = request(cam.port, method, path, headers, timeout=timeout)
        self.replies.append(r)
        return r, elapsed

    def ok_json(self, cam, method, path, headers=None):
        """A 200 {"success": true, ...} reply's document."""
        r, _ = self.call(cam, method, path, headers)
        self.assertEqual(r.status, 200, "%s %s: status (body %r)" % (method, path, r.body[:300]))
        self.assertEqual(r.content_type, "application/json", "%s %s: type" % (method, path))
        doc = r.json()
        self.assertIs(doc.get("success"), True, "%s %s: %r" % (method, path, doc))
        return doc

    def fail_json(self, cam, method, path, status, headers=None):
        """A {"success": false, "message": text} reply with @status; returns (doc, reply)."""
        r, _ = self.call(cam, method, path, headers)
        self.assertEqual(r.status, status, "%s %s: status (body %r)"
                         % (method, path, r.body[:300]))
        self.assertEqual(r.content_type, "application/json", "%s %s: type" % (method, path))
        doc = r.json()
        self.assertEqual(set(doc), {"success", "message"}, "%s %s: %r" % (method, path, doc))
        self.assertIs(doc["success"], False, "%s %s: %r" % (method, path, doc))
        self.assertIsInstance(doc["message"], str)
        self.assertTrue(doc["message"].strip(), "%s %s: empty message" % (method, path))
        return doc, r

    def snapshot(self, cam, key, query="", headers=None):
        """A 200 JPEG of /rtmp/snapshot/@key: (body, seconds, reply)."""
        path = "/rtmp/snapshot/" + key + query
        r, elapsed = self.call(cam, "GET", path, headers)
        self.assertEqual(r.status, 200, "GET %s: status %s, body %r" % (path, r.status,
                                                                         r.body[:300]))
        self.assertEqual(r.content_type, "image/jpeg", "GET %s: type" % path)
        self.assertEqual(int(r.headers.get("content-length", -1)), len(r.body))
        self.assertJpeg(r.body, "GET %s" % path)
        return r.body, elapsed, r

    def status(self, cam, key):
        data = self.ok_json(cam, "GET", "/rtmp/status/" + key)["data"]
        self.assertStatusShape(data, key)
        return data

    def assertStatusShape(self, data, key):
        self.assertEqual(set(data), STATUS_FIELDS, "status fields: %r" % data)
        self.assertEqual(data["stream_key"], key)
        self.assertIs(type(data["capture_count"]), int, "capture_count %r" % data)
        self.assertGreaterEqual(data["capture_count"], 0)
        self.assertIs(type(data["is_online"]), bool, "is_online %r" % data)
        if data["last_update"] is not None:
            self.assertRegex(data["last_update"], ISO_UTC, "last_update %r" % data)

    def wait_status(self, cam, key, predicate, timeout, what):
        last = {}

        def check():
            last.clear()
            last.update(self.status(cam, key))
            return predicate(last)
        self.assertTrue(wait_until(check, timeout, interval=0.2),
                        "%s within %.0f s; last status %r" % (what, timeout, last))
        return dict(last)

    def stream(self, cam, name):
        """/api/streams/@name (the named stream's own status)."""
        r, _ = self.call(cam, "GET", "/api/streams/" + name)
        self.assertEqual(r.status, 200, "GET /api/streams/%s: %r" % (name, r.body[:300]))
        return r.json()

    def wait_stream(self, cam, name, predicate, timeout, what):
        last = {}

        def check():
            last.clear()
            last.update(self.stream(cam, name))
            return predicate(last)
        self.assertTrue(wait_until(check, timeout, interval=0.1),
                        "%s within %.0f s; last /api/streams/%s %r" % (what, timeout, name, last))
        return dict(last)


class RtmpApi(SessionCountingCase, RtmpApiCase):
    """Config streams of the class-wide RTSP camera (320x240, 25 fps)."""

    def setUp(self):
        SessionCountingCase.setUp(self)
        self.replies = []

    def start(self, *args, streams=None):
        streams = streams or [{"name": "cam1", "rtsp_url": self.rtsp.url("h264")},
                              {"name": "cam2", "rtsp_url": self.rtsp.url("smpte")}]
        path = self.write_streams_config(streams)
        return self.start_camstream("--config", path, *args)

    def test_first_snapshot_registers_the_key_and_is_a_jpeg_of_the_stream_size(self):
        cam = self.start()
        self.assertEqual(self.ok_json(cam, "GET", "/rtmp/list")["data"], [])
        body, elapsed, _ = self.snapshot(cam, "cam1")
        self.note("first snapshot after %.2f s" % elapsed)
        self.assertEqual(jpeg_size(body), (320, 240), "size of the snapshot")
        st = self.status(cam, "cam1")
        self.assertGreaterEqual(st["capture_count"], 1, st)
        self.assertTrue(st["is_online"], st)
        self.assertIsNotNone(st["last_update"], st)
        self.assertEqual([d["stream_key"] for d in self.ok_json(cam, "GET", "/rtmp/list")["data"]],
                         ["cam1"])

    def test_later_snapshots_answer_at_once_from_memory_without_a_new_subscription(self):
        cam = self.start()
        first, _, _ = self.snapshot(cam, "cam1")
        info = self.stream(cam, "cam1")
        self.assertEqual((info["state"], info["viewers"]), ("playing", 1),
                         "the registration is the stream's one subscriber: %r" % info)
        # seed 000's page adds ?t=Date.now() to defeat caches: the query is ignored
        times = []
        for i in range(5):
            _, elapsed, _ = self.snapshot(cam, "cam1", "?t=%d" % (1700000000000 + i))
            times.append(elapsed)
        self.note("later snapshots: %s s" % ", ".join("%.3f" % t for t in times))
        self.assertLess(max(times), AT_ONCE, "later snapshots are not answered at once")
        self.assertEqual(self.new_sessions(), 1, "RTSP sessions opened for six snapshots")
        info = self.stream(cam, "cam1")
        self.assertEqual(info["viewers"], 1, "a snapshot subscribed again: %r" % info)
        # from memory, yet the picture moves on: once a second
        n = self.status(cam, "cam1")["capture_count"]
        self.wait_status(cam, "cam1", lambda s: s["capture_count"] >= n + 2, 6,
                         "two more captures")
        later, _, r = self.snapshot(cam, "cam1")
        self.assertGreater(pixels_differ(first, later), 0.0, "the snapshot did not change")
        self.assertGreaterEqual(int(r.headers["x-capture-count"]), n + 2)

    def test_capture_count_grows_about_once_a_second(self):
        cam = self.start()
        self.snapshot(cam, "cam1")
        # the time between two changes of the count, four captures apart
        c = self.status(cam, "cam1")["capture_count"]
        marks = []
        for n in (c + 1, c + 5):
            self.assertTrue(wait_until(lambda: self.status(cam, "cam1")["capture_count"] >= n,
                                       8, interval=0.05), "capture %d did not come" % n)
            marks.append((time.monotonic(), self.status(cam, "cam1")))
        (t0, s0), (t1, s1) = marks
        rate = (s1["capture_count"] - s0["capture_count"]) / (t1 - t0)
        self.note("%.2f captures/s" % rate)
        self.assertGreaterEqual(rate, 0.75, "captures per second")
        self.assertLessEqual(rate, 1.35, "captures per second (fps_max 1)")
        self.assertTrue(s1["is_online"], s1)
        last = parse_utc(s1["last_update"])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - last).total_seconds()), 3, "last_update %s, now %s"
                        % (s1["last_update"], now))

    def test_list_holds_every_registered_key_in_registration_order(self):
        cam = self.start()
        self.snapshot(cam, "cam2")
        self.snapshot(cam, "cam1")
        data = self.ok_json(cam, "GET", "/rtmp/list")["data"]
        self.assertIsInstance(data, list)
        self.assertEqual([d["stream_key"] for d in data], ["cam2", "cam1"])
        for d in data:
            self.assertStatusShape(d, d["stream_key"])
            self.assertGreaterEqual(d["capture_count"], 1, d)

    def test_remove_stops_the_capture_and_forgets_the_key(self):
        cam = self.start()
        self.snapshot(cam, "cam1")
        self.wait_stream(cam, "cam1", lambda s: s["state"] == "playing", 5, "capturing")
        doc = self.ok_json(cam, "DELETE", "/rtmp/remove/cam1")
        self.assertEqual(doc, {"success": True, "message": "stream cam1 removed"})
        info = self.wait_stream(cam, "cam1", lambda s: s["state"] == "idle", 5,
                                "the source stops once nothing holds it")
        self.assertEqual(info["viewers"], 0, info)
        stats = self.rtsp.wait_sessions(lambda s: s["sessions"] == 0, 5)
        self.assertEqual(stats["sessions"], 0, "the camera session ended: %s" % stats)
        self.fail_json(cam, "GET", "/rtmp/status/cam1", 404)
        self.fail_json(cam, "DELETE", "/rtmp/remove/cam1", 404)
        self.assertEqual(self.ok_json(cam, "GET", "/rtmp/list")["data"], [])
        # a new first request registers it afresh
        self.snapshot(cam, "cam1")
        self.assertEqual(len(self.ok_json(cam, "GET", "/rtmp/list")["data"]), 1)

    def test_remove_leaves_other_viewers_of_the_stream_alone(self):
        cam = self.start()
        self.snapshot(cam, "cam1")
        v = self.viewer(cam, "/ws/stream?name=cam1").start()
        self.assertGreaterEqual(v.wait_frames(3, timeout=10), 3, v.describe())
        self.ok_json(cam, "DELETE", "/rtmp/remove/cam1")
        n = len(v.frame_times)
        self.assertGreaterEqual(v.wait_frames(n + 10, timeout=10), n + 10, v.describe())
        self.assertIsNone(v.closed, v.describe())

    def test_unknown_keys_are_404_and_not_registered(self):
        cam = self.start()
        doc, _ = self.fail_json(cam, "GET", "/rtmp/snapshot/nope", 404)
        self.assertIn("nope", doc["message"])
        self.fail_json(cam, "GET", "/rtmp/status/nope", 404)
        self.fail_json(cam, "DELETE", "/rtmp/remove/nope", 404)
        # a known stream that was never asked for is not registered either
        self.fail_json(cam, "GET", "/rtmp/status/cam1", 404)
        self.assertEqual(self.ok_json(cam, "GET", "/rtmp/list")["data"], [])
        self.assertEqual(self.new_sessions(), 0)

    def test_a_stopped_stream_is_404_until_started(self):
        cam = self.start(streams=[{"name": "off", "rtsp_url": self.rtsp.url("h264"),
                                   "enabled": False}])
        self.fail_json(cam, "GET", "/rtmp/snapshot/off", 404)
        self.assertEqual(self.ok_json(cam, "GET", "/rtmp/list")["data"], [])

    def test_bad_keys_are_400(self):
        cam = self.start()
        for key in ("bad%20key", "a$b", "x" * 65, "a/b", "..."):
            for method, route in (("GET", "snapshot"), ("GET", "status"), ("DELETE", "remove")):
                doc, _ = self.fail_json(cam, method, "/rtmp/%s/%s" % (route, key), 400)
                self.assertIn("key", doc["message"])
        self.fail_json(cam, "GET", "/rtmp/snapshot", 400)
        self.fail_json(cam, "GET", "/rtmp/snapshot/", 400)
        self.assertEqual(self.ok_json(cam, "GET", "/rtmp/list")["data"], [])

    def test_wrong_methods_are_405_with_allow_and_unknown_paths_404(self):
        cam = self.start()
        for method, path, allow in (("POST", "/rtmp/snapshot/cam1", "GET"),
                                    ("DELETE", "/rtmp/snapshot/cam1", "GET"),
                                    ("PUT", "/rtmp/status/cam1", "GET"),
                                    ("DELETE", "/rtmp/list", "GET"),
                                    ("GET", "/rtmp/remove/cam1", "DELETE"),
                                    ("POST", "/rtmp/remove/cam1", "DELETE")):
            _, r = self.fail_json(cam, method, path, 405)
            self.assertEqual(r.headers.get("allow"), allow, "%s %s: Allow" % (method, path))
        for path in ("/rtmp", "/rtmp/", "/rtmp/snap/cam1", "/rtmp/lists", "/rtmp/list/x"):
            self.fail_json(cam, "GET", path, 404)
        self.assertEqual(self.ok_json(cam, "GET", "/rtmp/list")["data"], [],
                         "a refused request registered a key")
        self.assertEqual(self.new_sessions(), 0)

    def test_requests_on_one_keep_alive_connection(self):
        cam = self.start()
        conn = http.client.HTTPConnection("127.0.0.1", cam.port, timeout=20)
        self.addCleanup(conn.close)
        for method, path, status, ctype in (
                ("GET", "/rtmp/snapshot/cam1", 200, "image/jpeg"),
                ("GET", "/rtmp/status/cam1", 200, "application/json"),
                ("GET", "/rtmp/snapshot/cam1", 200, "image/jpeg"),
                ("GET", "/rtmp/status/nope", 404, "application/json"),
                ("GET", "/rtmp/list", 200, "application/json"),
                ("DELETE", "/rtmp/remove/cam1", 200, "application/json")):
            conn.request(method, path)
            r = conn.getresponse()
            body = r.read()
            self.assertEqual((r.status, r.getheader("content-type")), (status, ctype),
                             "%s %s: %r" % (method, path, body[:200]))
            if ctype == "image/jpeg":
                self.assertJpeg(body)

    def test_token_is_required_with_token(self):
        cam = self.start("--token", TOKEN)
        for method, path in (("GET", "/rtmp/snapshot/cam1"), ("GET", "/rtmp/status/cam1"),
                             ("GET", "/rtmp/list"), ("DELETE", "/rtmp/remove/cam1")):
            r, _ = self.call(cam, method, path)
            self.assertEqual(r.status, 401, "%s %s without the token: %r"
                             % (method, path, r.body[:200]))
            r, _ = self.call(cam, method, path, {"Authorization": "Bearer wrong"})
            self.assertEqual(r.status, 401, "%s %s with a wrong token" % (method, path))
        bearer = {"Authorization": "Bearer " + TOKEN}
        self.assertEqual(self.ok_json(cam, "GET", "/rtmp/list", bearer)["data"], [],
                         "a refused snapshot registered its key")
        self.snapshot(cam, "cam1", headers=bearer)
        self.snapshot(cam, "cam1", query="?token=" + TOKEN)
        self.assertEqual(self.ok_json(cam, "GET", "/rtmp/status/cam1?token=" + TOKEN)["data"]
                         ["stream_key"], "cam1")
        self.ok_json(cam, "DELETE", "/rtmp/remove/cam1", bearer)
        for r in self.replies:
            self.assertNotIn(TOKEN.encode(), r.body)

    def test_credentials_are_in_no_reply_and_no_log_line(self):
        cam = self.start(streams=[{"name": "sec", "rtsp_url": self.rtsp.secure_url(),
                                   "username": SECURE_USER, "password": SECURE_PASSWORD}])
        self.snapshot(cam, "sec")
        self.status(cam, "sec")
        self.ok_json(cam, "GET", "/rtmp/list")
        self.fail_json(cam, "GET", "/rtmp/snapshot/nope", 404)
        self.ok_json(cam, "DELETE", "/rtmp/remove/sec")
        for r in self.replies:
            self.assertNotIn(SECURE_PASSWORD.encode(), r.body)
            for v in r.headers.values():
                self.assertNotIn(SECURE_PASSWORD, v)
        self.assertNotIn(SECURE_PASSWORD, cam.log_text())

    def test_a_stopped_stream_stays_registered_and_is_captured_again_once_started(self):
        cam = self.start()
        self.snapshot(cam, "cam1")
        self.wait_status(cam, "cam1", lambda s: s["capture_count"] >= 2, 5, "two captures")
        r, _ = self.call(cam, "POST", "/api/streams/cam1/stop")
        self.assertEqual(r.status, 200, r.body[:300])
        stats = self.rtsp.wait_sessions(lambda s: s["sessions"] == 0, 5)
        self.assertEqual(stats["sessions"], 0, "the camera session ended: %s" % stats)
        held = self.status(cam, "cam1")["capture_count"]
        # still registered, and the last picture is still served
        self.snapshot(cam, "cam1")
        self.assertEqual(self.status(cam, "cam1")["capture_count"], held)
        self.assertEqual([d["stream_key"] for d in self.ok_json(cam, "GET", "/rtmp/list")["data"]],
                         ["cam1"])
        r, _ = self.call(cam, "POST", "/api/streams/cam1/start")
        self.assertEqual(r.status, 200, r.body[:300])
        self.wait_status(cam, "cam1", lambda s: s["capture_count"] >= held + 2, 10,
                         "captures resume once the stream is started again")
        # start makes it always on too: the registration is one of its subscribers
        self.assertGreaterEqual(self.stream(cam, "cam1")["viewers"], 1)

    def test_a_deleted_and_re_added_stream_is_captured_again(self):
        cam = self.start()
        self.snapshot(cam, "cam1")
        held = self.wait_status(cam, "cam1", lambda s: s["capture_count"] >= 2, 5,
                                "two captures")["capture_count"]
        r, _ = self.call(cam, "DELETE", "/api/streams/cam1")
        self.assertEqual(r.status, 200, r.body[:300])
        stats = self.rtsp.wait_sessions(lambda s: s["sessions"] == 0, 5)
        self.assertEqual(stats["sessions"], 0, "the camera session ended: %s" % stats)
        st = self.status(cam, "cam1")
        self.assertGreaterEqual(st["capture_count"], held, st)
        body = json.dumps({"name": "cam1", "rtsp_url": self.rtsp.url("h264")})
        r, _ = request(cam.port, "POST", "/api/streams", {"Content-Type": "application/json"},
                       body)
        self.assertEqual(r.status, 201, r.body[:300])
        self.wait_status(cam, "cam1", lambda s: s["capture_count"] >= st["capture_count"] + 2,
                         10, "captures resume once the stream exists again")

    def test_registrations_are_bounded(self):
        # 257 streams of a camera that never answers: the first requests wait for a picture
        # (their registration is made at once), the 257th is refused 503 at once
        silent = self.silent_listener()
        url = "rtsp://127.0.0.1:%d/x" % silent.port
        streams = [{"name": "k%03d" % i, "rtsp_url": url} for i in range(257)]
        cam = self.start("--max-clients", "0", "--open-timeout", "60", streams=streams)
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for i in range(256):
            s = socket.create_connection(("127.0.0.1", cam.port), timeout=10)
            s.sendall(b"GET /rtmp/snapshot/k%03d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            socks.append(s)
        self.assertTrue(wait_until(lambda: len(self.ok_json(cam, "GET", "/rtmp/list")["data"])
                                   == 256, 20), "256 keys registered")
        doc, _ = self.fail_json(cam, "GET", "/rtmp/snapshot/k256", 503)
        self.assertIn("256", doc["message"])
        self.fail_json(cam, "GET", "/rtmp/status/k256", 404)
        for s in socks:
            s.close()
        self.ok_json(cam, "DELETE", "/rtmp/remove/k000")
        # one slot free again: the request registers (and waits for its picture)
        s = socket.create_connection(("127.0.0.1", cam.port), timeout=10)
        socks.append(s)
        s.sendall(b"GET /rtmp/snapshot/k256 HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(wait_until(lambda: self.call(cam, "GET", "/rtmp/status/k256")[0].status
                                   == 200, 10), "k256 registered once a slot was free")
        self.assertCleanExit(cam)

    def test_first_snapshot_of_a_silent_camera_is_504_and_the_key_stays_registered(self):
        silent = self.silent_listener()
        cam = self.start("--open-timeout", "1", streams=[
            {"name": "mute", "rtsp_url": "rtsp://127.0.0.1:%d/x" % silent.port}])
        t0 = time.monotonic()
        doc, _ = self.fail_json(cam, "GET", "/rtmp/snapshot/mute", 504)
        elapsed = time.monotonic() - t0
        self.note("504 after %.2f s" % elapsed)
        self.assertLess(elapsed, 6, "the wait is bounded by --open-timeout plus a grace")
        st = self.status(cam, "mute")
        self.assertEqual((st["capture_count"], st["is_online"], st["last_update"]),
                         (0, False, None), st)
        # registered but without a picture: the next request waits again, and fails the same
        self.fail_json(cam, "GET", "/rtmp/snapshot/mute", 504)
        # stopped: still registered, and without a picture to show the answer is 404 at once
        r, _ = self.call(cam, "POST", "/api/streams/mute/stop")
        self.assertEqual(r.status, 200, r.body[:300])

        def offline_404():
            r, elapsed = self.call(cam, "GET", "/rtmp/snapshot/mute")
            return r.status == 404 and elapsed < AT_ONCE and r
        r = wait_until(offline_404, 5, interval=0.2)
        self.assertTrue(r, "a stopped registered key without a picture is not 404 at once")
        self.assertIn("offline", r.json()["message"])
        self.assertEqual(self.status(cam, "mute")["capture_count"], 0)

    def test_shutdown_with_registrations_and_a_waiting_request_is_clean(self):
        silent = self.silent_listener()
        cam = self.start("--open-timeout", "30", streams=[
            {"name": "cam1", "rtsp_url": self.rtsp.url("h264")},
            {"name": "mute", "rtsp_url": "rtsp://127.0.0.1:%d/x" % silent.port}])
        self.snapshot(cam, "cam1")
        s = socket.create_connection(("127.0.0.1", cam.port), timeout=10)
        self.addCleanup(s.close)
        s.sendall(b"GET /rtmp/snapshot/mute HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(wait_until(lambda: self.call(cam, "GET", "/rtmp/status/mute")[0].status
                                   == 200, 10), "mute registered")
        t0 = time.monotonic()
        self.assertCleanExit(cam)
        self.assertLess(time.monotonic() - t0, 5, "shutdown took too long")
        s.settimeout(5)
        answer = s.recv(4096)
        self.assertTrue(answer.startswith(b"HTTP/1.1 503"), "the waiting request: %r"
                        % answer[:200])


class CameraDown(RtmpApiCase):
    """A registered camera that goes away: is_online false after 10 s, count kept, the last
    picture still served; capture resumes when it is back."""

    def test_a_camera_down_goes_offline_after_10_s_and_comes_back(self):
        rtsp = self.start_rtsp()
        port = rtsp.port
        path = self.write_streams_config([{"name": "cam1", "rtsp_url": rtsp.url("h264")}])
        cam = self.start_camstream("--config", path, "--read-timeout", "2")
        self.snapshot(cam, "cam1")
        self.wait_status(cam, "cam1", lambda s: s["capture_count"] >= 2, 5, "two captures")
        rtsp.kill()
        killed_at = time.monotonic()
        held = self.status(cam, "cam1")["capture_count"]
        st = self.wait_status(cam, "cam1", lambda s: not s["is_online"], ONLINE_S + 5,
                              "is_online false once the camera is gone")
        went_offline = time.monotonic() - killed_at
        self.note("is_online false %.1f s after the kill" % went_offline)
        self.assertGreaterEqual(went_offline, ONLINE_S - 1.5,
                                "is_online went false before 10 s without a picture")
        self.assertLessEqual(st["capture_count"], held + 1, "captures without a camera: %r" % st)
        self.assertIsNotNone(st["last_update"])
        self.snapshot(cam, "cam1")   # the last picture, from memory
        self.assertEqual([d["stream_key"] for d in self.ok_json(cam, "GET", "/rtmp/list")["data"]],
                         ["cam1"])
        back = self.start_rtsp(port=port)
        self.assertEqual(back.port, port)
        self.wait_status(cam, "cam1", lambda s: s["is_online"] and
                         s["capture_count"] >= st["capture_count"] + 2, 40,
                         "captures resume once the camera is back")


class RtmpPublish(RtmpApiCase):
    """The key is an RTMP publish to camstream itself (its ingest, --rtmp-port 0)."""

    GRACE = 1             # --rtmp-grace: how long a key outlives its publisher

    def publish(self, cam, key):
        """ffmpeg publishing testsrc2 640x360 at 25 fps (H.264, a key picture a second) to
        @key; returns the process once camstream lists the key as a live stream."""
        ffmpeg = shutil.which("ffmpeg")
        if not ffmpeg:
            self.skipTest("no ffmpeg")
        log_path = _log_path("ffmpeg-publish-" + key)
        argv = [ffmpeg, "-hide_banner", "-nostats", "-nostdin", "-loglevel", "warning", "-re",
                "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-c:v", "libx264",
                "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt",
                "yuv420p", "-f", "flv", cam.rtmp_url(key)]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=log, start_new_session=True)
        self.addCleanup(self._stop, proc)
        live = wait_until(lambda: proc.poll() is not None or request(
            cam.port, "GET", "/api/streams/" + key)[0].status == 200, 15, interval=0.1)
        if not live or proc.poll() is not None:
            with open(log_path, "rb") as f:
                self.fail("%s not published (ffmpeg exit %s): %s" % (key, proc.poll(),
                                                                     f.read()[-2000:]))
        return proc

    @staticmethod
    def _stop(proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)

    def test_a_published_key_is_captured_survives_its_publisher_and_resumes(self):
        cam = self.start_camstream("--rtmp-port", 0, "--rtmp-grace", self.GRACE)
        self.fail_json(cam, "GET", "/rtmp/snapshot/pub1", 404)   # not published yet
        self.assertEqual(self.ok_json(cam, "GET", "/rtmp/list")["data"], [])
        publisher = self.publish(cam, "pub1")
        body, elapsed, _ = self.snapshot(cam, "pub1")
        self.note("first snapshot of the publish after %.2f s" % elapsed)
        self.assertEqual(jpeg_size(body), (640, 360), "size of the snapshot")
        st = self.wait_status(cam, "pub1", lambda s: s["capture_count"] >= 3, 6,
                              "captures of the published key")
        self.assertTrue(st["is_online"], st)
        _, elapsed, _ = self.snapshot(cam, "pub1")
        self.assertLess(elapsed, AT_ONCE, "a later snapshot is not answered at once")
        self.assertEqual(self.stream(cam, "pub1")["viewers"], 1, "one subscription")

        # the publisher goes, and after the grace the key with it: the registration stays
        self._stop(publisher)
        self.assertTrue(wait_until(lambda: self.call(cam, "GET", "/api/streams/pub1")[0].status
                                   == 404, self.GRACE + 10), "the key outlived its grace")
        held = self.status(cam, "pub1")["capture_count"]
        self.assertGreaterEqual(held, st["capture_count"])
        self.snapshot(cam, "pub1")   # the last picture, from memory
        self.assertEqual([d["stream_key"] for d in self.ok_json(cam, "GET", "/rtmp/list")["data"]],
                         ["pub1"])

        # a publisher again: the once-a-second check subscribes again
        self.publish(cam, "pub1")
        st = self.wait_status(cam, "pub1", lambda s: s["capture_count"] >= held + 2, 10,
                              "captures resume with the new publisher")
        self.assertTrue(st["is_online"], st)
        self.assertEqual(self.stream(cam, "pub1")["viewers"], 1, "one subscription again")

        # removed: the subscription goes (the publish itself goes on)
        self.ok_json(cam, "DELETE", "/rtmp/remove/pub1")
        info = self.wait_stream(cam, "pub1", lambda s: s["viewers"] == 0, 5,
                                "the registration let go of the published key")
        self.assertEqual(info["state"], "playing", info)
        self.fail_json(cam, "GET", "/rtmp/status/pub1", 404)

"""GET /snapshot?rtsp_url= (alias cam_url, or name=) and GET /api/streams/{name}/snapshot answer one
JPEG. From a running source: at once, with no new RTSP session, with headers giving the frame's
age. From a cold one: the first picture, then the worker stays warm for --keep-warm seconds so a
polling page does not reopen the camera. Failures are JSON {"error","code"} with 400, 403, 404,
502 or 504."""

import datetime
import http.client
import json
import os
import socket
import tempfile
import threading
import time

from camtest import SessionCountingCase, http_get, jpeg_size, stream_path

FPS = 25
OPEN_TIMEOUT = 3.0
SESSION_END_TIMEOUT = 5.0
AT_ONCE = 0.5          # seconds: "answered at once" from a running source


def snapshot_path(rtsp_url=None, encode=True, prefix="/snapshot", **opts):
    """/snapshot?rtsp_url=<percent-encoded>&opt=value..."""
    return prefix + stream_path(rtsp_url, encode, **opts)[len("/ws/stream"):]


class SnapshotCase(SessionCountingCase):
    RTSP_FPS = FPS

    def get(self, cam, path, timeout=20.0):
        """(response, seconds it took)"""
        t0 = time.monotonic()
        r = http_get(cam.port, path, timeout=timeout)
        return r, time.monotonic() - t0

    def snapshot(self, cam, path, timeout=20.0):
        """A successful snapshot: checks status, type, length and JPEG validity."""
        r, elapsed = self.get(cam, path, timeout)
        self.assertEqual(r.status, 200, "GET %s: status %s, body %r" % (path, r.status,
                                                                         r.body[:300]))
        self.assertEqual(r.content_type, "image/jpeg", "GET %s: content type" % path)
        self.assertEqual(int(r.headers.get("content-length", -1)), len(r.body),
                         "GET %s: content-length" % path)
        self.assertJpeg(r.body, "GET %s" % path)
        return r, elapsed

    def expect_error(self, cam, path, status, code, timeout=20.0):
        """A JSON error {"error": text, "code": @code} with @status; returns (doc, seconds)."""
        r, elapsed = self.get(cam, path, timeout)
        self.assertEqual(r.status, status, "GET %s: status (body %r)" % (path, r.body[:300]))
        self.assertEqual(r.content_type, "application/json", "GET %s: error content type" % path)
        doc = r.json()
        self.assertEqual(doc.get("code"), code, "GET %s: error %r" % (path, doc))
        self.assertIsInstance(doc.get("error"), str, "GET %s: error %r" % (path, doc))
        self.assertTrue(doc["error"].strip(), "GET %s: empty error message %r" % (path, doc))
        return doc, elapsed


class ColdSource(SnapshotCase):
    def test_snapshot_of_a_cold_source_is_one_jpeg_of_the_source_size(self):
        cam = self.start_camstream()
        r, elapsed = self.snapshot(cam, snapshot_path(self.rtsp.url("h264")))
        self.note("first picture after %.2f s" % elapsed)
        self.assertEqual(jpeg_size(r.body), (320, 240), "size of the snapshot")

    def test_snapshot_headers_give_age_capture_time_and_sequence(self):
        cam = self.start_camstream()
        before = datetime.datetime.now(datetime.timezone.utc)
        r, _ = self.snapshot(cam, snapshot_path(self.rtsp.url("h264")))
        after = datetime.datetime.now(datetime.timezone.utc)
        age = int(r.headers["x-frame-age-ms"])
        self.assertGreaterEqual(age, 0, "x-frame-age-ms")
        self.assertLess(age, 2000, "x-frame-age-ms of a fresh picture")
        captured = datetime.datetime.strptime(r.headers["x-frame-captured"],
                                              "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                                                  tzinfo=datetime.timezone.utc)
        slack = datetime.timedelta(seconds=1)
        self.assertTrue(before - slack <= captured <= after + slack,
                        "x-frame-captured %s is not between %s and %s"
                        % (captured, before, after))
        self.assertGreaterEqual(int(r.headers["x-frame-seq"]), 1, "x-frame-seq")

    def test_width_option_scales_the_snapshot(self):
        cam = self.start_camstream()
        r, _ = self.snapshot(cam, snapshot_path(self.rtsp.url("h264"), width=160))
        self.assertEqual(jpeg_size(r.body), (160, 120), "size with width=160")

    def test_width_and_height_give_that_size(self):
        cam = self.start_camstream()
        r, _ = self.snapshot(cam, snapshot_path(self.rtsp.url("h264"), width=200, height=100))
        self.assertEqual(jpeg_size(r.body), (200, 100), "size with width=200&height=100")

    def test_lower_quality_gives_a_smaller_jpeg(self):
        cam = self.start_camstream()
        low, _ = self.snapshot(cam, snapshot_path(self.rtsp.url("smpte"), quality=10))
        high, _ = self.snapshot(cam, snapshot_path(self.rtsp.url("smpte"), quality=95))
        self.note("quality 10: %d bytes, 95: %d bytes" % (len(low.body), len(high.body)))
        self.assertLess(len(low.body), len(high.body), "quality=10 is not smaller than 95")

    def test_cam_url_alias_is_accepted(self):
        cam = self.start_camstream()
        path = snapshot_path(self.rtsp.url("h264")).replace("rtsp_url=", "cam_url=")
        self.snapshot(cam, path)

    def test_simultaneous_cold_snapshots_share_one_rtsp_session(self):
        cam = self.start_camstream()
        path = snapshot_path(self.rtsp.url("h264"))
        results = [None] * 3

        def one(i):
            results[i] = self.get(cam, path)[0]
        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(results))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(25)
        for i, r in enumerate(results):
            self.assertIsNotNone(r, "snapshot %d did not finish" % i)
            self.assertEqual(r.status, 200, "snapshot %d: %s %r" % (i, r.status, r.body[:200]))
            self.assertJpeg(r.body, "snapshot %d" % i)
        self.assertEqual(self.new_sessions(), 1, "3 simultaneous snapshots: RTSP sessions %s"
                         % self.rtsp.stats())

    def test_demo_source_snapshot(self):
        cam = self.start_camstream()
        r, _ = self.snapshot(cam, snapshot_path("demo:", width=320))
        self.assertEqual(jpeg_size(r.body)[0], 320)


class RunningSource(SnapshotCase):
    def start_viewer(self, cam, url, **opts):
        v = self.viewer(cam, stream_path(url, **opts)).start()
        self.assertGreaterEqual(v.wait_frames(3, timeout=20), 3, "WebSocket viewer: %s"
                                % v.describe())
        return v

    def test_snapshot_next_to_a_viewer_is_immediate_and_opens_no_session(self):
        cam = self.start_camstream()
        url = self.rtsp.url("h264")
        self.start_viewer(cam, url)
        before = self.rtsp.stats()
        r, elapsed = self.snapshot(cam, snapshot_path(url))
        self.note("answered in %.3f s, frame %s ms old" % (elapsed, r.headers["x-frame-age-ms"]))
        self.assertLess(elapsed, AT_ONCE, "snapshot of a running source took %.2f s" % elapsed)
        self.assertLess(int(r.headers["x-frame-age-ms"]), 1000, "age of the newest frame")
        after = self.rtsp.stats()
        self.assertEqual(after["sessions_total"], before["sessions_total"],
                         "the snapshot opened an RTSP session: %s -> %s" % (before, after))
        self.assertEqual(after["sessions"], 1, "RTSP sessions: %s" % after)

    def test_snapshot_with_another_size_next_to_a_viewer_opens_no_session(self):
        cam = self.start_camstream()
        url = self.rtsp.url("h264")
        self.start_viewer(cam, url)
        before = self.rtsp.stats()
        r, elapsed = self.snapshot(cam, snapshot_path(url, width=160))
        self.note("answered in %.3f s" % elapsed)
        self.assertEqual(jpeg_size(r.body), (160, 120), "size with width=160")
        # the picture comes from the next decoded frame of the running session
        self.assertLess(elapsed, 1.0, "snapshot with another size took %.2f s" % elapsed)
        after = self.rtsp.stats()
        self.assertEqual(after["sessions_total"], before["sessions_total"],
                         "a snapshot with another size opened an RTSP session: %s -> %s"
                         % (before, after))

    def test_two_snapshots_a_second_apart_use_one_session(self):
        cam = self.start_camstream()
        path = snapshot_path(self.rtsp.url("h264"))
        first, t_first = self.snapshot(cam, path)
        time.sleep(1.0)   # a page polling once a second: the behaviour under test
        second, t_second = self.snapshot(cam, path)
        self.note("first %.2f s, second %.3f s" % (t_first, t_second))
        self.assertEqual(self.new_sessions(), 1, "two snapshots 1 s apart: RTSP sessions %s"
                         % self.rtsp.stats())
        self.assertLess(t_second, AT_ONCE, "the second snapshot (warm worker) took %.2f s"
                        % t_second)
        # the warm worker decodes all along: the answer is a current picture, not the first one
        self.assertLess(int(second.headers["x-frame-age-ms"]), 500, "age of the second snapshot")
        self.assertGreater(second.headers["x-frame-captured"], first.headers["x-frame-captured"],
                           "the second snapshot is not a newer picture")

    def test_warm_worker_stops_after_keep_warm(self):
        keep_warm = 3.0
        cam = self.start_camstream("--keep-warm", keep_warm)
        self.snapshot(cam, snapshot_path(self.rtsp.url("h264")))
        t0 = time.monotonic()
        self.assertEqual(self.rtsp.stats()["sessions"], 1, "the worker is not kept warm")
        stats = self.rtsp.wait_sessions(lambda s: s["sessions"] == 0,
                                        keep_warm + SESSION_END_TIMEOUT)
        elapsed = time.monotonic() - t0
        self.note("session ended %.1f s after the snapshot" % elapsed)
        self.assertEqual(stats["sessions"], 0, "%.0f s after the snapshot with --keep-warm %.0f: "
                         "%s" % (elapsed, keep_warm, stats))
        self.assertGreaterEqual(elapsed, keep_warm - 1.0, "the warm worker stopped early")

    def test_keep_warm_zero_releases_the_session_after_the_snapshot(self):
        cam = self.start_camstream("--keep-warm", 0)
        self.snapshot(cam, snapshot_path(self.rtsp.url("h264")))
        stats = self.rtsp.wait_sessions(lambda s: s["sessions"] == 0, SESSION_END_TIMEOUT)
        self.assertEqual(stats["sessions"], 0, "--keep-warm 0: the session stayed: %s" % stats)

    def test_snapshots_on_one_keep_alive_connection(self):
        cam = self.start_camstream()
        conn = http.client.HTTPConnection("127.0.0.1", cam.port, timeout=20)
        self.addCleanup(conn.close)
        path = snapshot_path(self.rtsp.url("h264"))
        for i in range(3):
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200, "request %d on one connection: %r" % (i, body[:200]))
            self.assertJpeg(body, "request %d on one connection" % i)
        conn.request("GET", "/api/health")
        r = conn.getresponse()
        self.assertEqual((r.status, json.loads(r.read()).get("status")), (200, "ok"),
                         "/api/health after snapshots on the same connection")


class Errors(SnapshotCase):
    def setUp(self):
        super().setUp()
        self.cam = self.start_camstream("--open-timeout", OPEN_TIMEOUT)

    def test_missing_url_is_400(self):
        self.expect_error(self.cam, "/snapshot", 400, "bad_request")

    def test_bad_width_is_400(self):
        self.expect_error(self.cam, snapshot_path("demo:", width="abc"), 400, "bad_request")

    def test_unknown_parameter_is_400(self):
        self.expect_error(self.cam, snapshot_path("demo:", colour="blue"), 400, "bad_request")

    def test_fps_does_not_apply_to_a_snapshot(self):
        self.expect_error(self.cam, snapshot_path("demo:", fps=5), 400, "bad_request")

    def test_url_and_name_together_are_400(self):
        self.expect_error(self.cam, snapshot_path("demo:", name="cam1"), 400, "bad_request")

    def test_file_url_is_403(self):
        self.expect_error(self.cam, snapshot_path("file:/etc/passwd"), 403, "scheme_not_allowed")

    def test_missing_rtsp_path_is_404(self):
        self.expect_error(self.cam, snapshot_path(self.rtsp.url("no/such/mount")), 404,
                          "not_found")

    def test_closed_port_is_502(self):
        port = self.closed_port().port
        self.expect_error(self.cam, snapshot_path("rtsp://127.0.0.1:%d/x" % port), 502,
                          "open_failed")

    def test_refused_credentials_are_502(self):
        self.expect_error(self.cam, snapshot_path(self.rtsp.secure_url()), 502, "unauthorized")

    def test_audio_only_source_is_502(self):
        self.expect_error(self.cam, snapshot_path(self.rtsp.url("audio")), 502,
                          "unsupported_codec")

    def test_silent_listener_is_504_within_the_open_timeout(self):
        listener = self.silent_listener()
        _, elapsed = self.expect_error(self.cam,
                                       snapshot_path("rtsp://127.0.0.1:%d/x" % listener.port),
                                       504, "timeout", timeout=OPEN_TIMEOUT + 10)
        self.note("504 after %.2f s" % elapsed)
        self.assertLessEqual(elapsed, OPEN_TIMEOUT + 3.0, "504 after %.1f s with --open-timeout "
                             "%.0f" % (elapsed, OPEN_TIMEOUT))

    def test_client_leaving_during_the_wait_is_harmless(self):
        listener = self.silent_listener()
        sock = socket.create_connection(("127.0.0.1", self.cam.port), timeout=5)
        path = snapshot_path("rtsp://127.0.0.1:%d/x" % listener.port)
        sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode())
        time.sleep(0.5)   # the request is waiting for the camera
        sock.close()
        # past the moment the abandoned request's deadline would have fired
        time.sleep(OPEN_TIMEOUT + 2.5)
        self.assertTrue(self.cam.alive(), "camstream died after a waiting client left")
        r, _ = self.snapshot(self.cam, snapshot_path(self.rtsp.url("h264")))
        self.assertEqual(jpeg_size(r.body), (320, 240))

    def test_post_is_405(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.cam.port, timeout=10)
        self.addCleanup(conn.close)
        conn.request("POST", snapshot_path("demo:"), body=b"{}",
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        body = r.read()
        self.assertEqual(r.status, 405, "POST /snapshot: %r" % body[:200])
        self.assertEqual(json.loads(body).get("code"), "bad_request")

    def test_server_serves_snapshots_after_errors(self):
        port = self.closed_port().port
        self.expect_error(self.cam, snapshot_path("rtsp://127.0.0.1:%d/x" % port), 502,
                          "open_failed")
        self.expect_error(self.cam, "/snapshot", 400, "bad_request")
        r, _ = self.snapshot(self.cam, snapshot_path(self.rtsp.url("h264")))
        self.assertEqual(jpeg_size(r.body), (320, 240))


class NamedStreams(SnapshotCase):
    def start_named(self, *args):
        fd, path = tempfile.mkstemp(prefix="camstream-snapshot-", suffix=".json")
        self.addCleanup(os.unlink, path)
        with os.fdopen(fd, "w") as f:
            json.dump({"streams": [{"name": "cam1", "rtsp_url": self.rtsp.url("h264"),
                                    "enabled": True}]}, f)
        return self.start_camstream("--config", path, "--open-timeout", OPEN_TIMEOUT, *args)

    def test_api_snapshot_of_a_named_stream(self):
        cam = self.start_named()
        r, _ = self.snapshot(cam, "/api/streams/cam1/snapshot")
        self.assertEqual(jpeg_size(r.body), (320, 240))

    def test_api_snapshot_takes_size_options(self):
        cam = self.start_named()
        r, _ = self.snapshot(cam, "/api/streams/cam1/snapshot?width=160")
        self.assertEqual(jpeg_size(r.body), (160, 120))

    def test_snapshot_by_name_query(self):
        cam = self.start_named()
        self.snapshot(cam, "/snapshot?name=cam1")

    def test_unknown_name_is_404(self):
        cam = self.start_named()
        self.expect_error(cam, "/api/streams/nosuch/snapshot", 404, "not_found")
        self.expect_error(cam, "/snapshot?name=nosuch", 404, "not_found")

    def test_two_named_snapshots_share_one_session(self):
        cam = self.start_named()
        self.snapshot(cam, "/api/streams/cam1/snapshot")
        self.snapshot(cam, "/api/streams/cam1/snapshot")
        self.assertEqual(self.new_sessions(), 1, "two named snapshots: RTSP sessions %s"
                         % self.rtsp.stats())

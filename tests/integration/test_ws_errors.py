"""The failure contract of /ws/stream: exactly one text message {"error": ..., "code": ...}, then a
close with 1008 (bad request), 1011 (source failure) or 1013 (busy). Credentials never leak."""

import time

from camtest import (SECURE_PASSWORD, SECURE_USER, CamTestCase, b64_credentials, jpeg_size,
                     stream_path)

BAD_REQUEST = ("bad_request", 1008)
SCHEME_NOT_ALLOWED = ("scheme_not_allowed", 1008)
OPEN_TIMEOUT = 3.0


class BadRequests(CamTestCase):
    def setUp(self):
        self.cam = self.start_camstream()

    def expect(self, path, code_close):
        return self.expect_ws_error(self.cam, path, *code_close, timeout=10)

    def demo(self, **opts):
        return stream_path("demo:", **opts)

    def test_missing_rtsp_url_is_bad_request(self):
        self.expect("/ws/stream", BAD_REQUEST)

    def test_missing_rtsp_url_with_other_options_is_bad_request(self):
        self.expect(stream_path(None, fps=10), BAD_REQUEST)

    def test_empty_rtsp_url_is_bad_request(self):
        self.expect("/ws/stream?rtsp_url=", BAD_REQUEST)

    def test_fps_zero_is_bad_request(self):
        self.expect(self.demo(fps=0), BAD_REQUEST)

    def test_fps_not_a_number_is_bad_request(self):
        self.expect(self.demo(fps="abc"), BAD_REQUEST)

    def test_negative_width_is_bad_request(self):
        self.expect(self.demo(width=-1), BAD_REQUEST)

    def test_quality_above_100_is_bad_request(self):
        self.expect(self.demo(quality=101), BAD_REQUEST)

    def test_quality_zero_is_bad_request(self):
        self.expect(self.demo(quality=0), BAD_REQUEST)

    def test_unknown_transport_is_bad_request(self):
        self.expect(self.demo(transport="xyz"), BAD_REQUEST)

    def test_unknown_parameter_is_bad_request(self):
        self.expect(self.demo(colour="blue"), BAD_REQUEST)

    def test_malformed_url_is_bad_request(self):
        self.expect(stream_path("rtsp://[::1/x"), BAD_REQUEST)

    def test_file_url_is_scheme_not_allowed(self):
        self.expect(stream_path("file:/etc/passwd"), SCHEME_NOT_ALLOWED)

    def test_percent_encoded_file_url_is_scheme_not_allowed(self):
        self.expect(stream_path("file%3A%2F%2F%2Fetc%2Fpasswd", encode=False), SCHEME_NOT_ALLOWED)

    def test_uppercase_file_scheme_is_not_allowed(self):
        self.expect(stream_path("FILE:///etc/passwd"), SCHEME_NOT_ALLOWED)

    def test_http_url_is_scheme_not_allowed_by_default(self):
        self.expect(stream_path("http://127.0.0.1:1/video.mjpg"), SCHEME_NOT_ALLOWED)

    def test_bare_path_is_refused(self):
        v = self.viewer(self.cam, stream_path("/etc/passwd"))
        err, code = v.error_and_code(v.until_closed(10))
        self.assertIn(err.get("code"), ("bad_request", "scheme_not_allowed"),
                      "a URL without a scheme: %r" % (err,))
        self.assertEqual(code, 1008, "close code for a URL without a scheme (error %r)" % (err,))
        self.assertNotIn("root:", err.get("error", ""), "the error shows file contents")

    def test_server_survives_a_burst_of_bad_requests(self):
        for q in ("/ws/stream", self.demo(fps=0), stream_path("file:/etc/passwd")):
            self.expect_ws_error(self.cam, q, *(SCHEME_NOT_ALLOWED if "file" in q
                                                else BAD_REQUEST))
        v = self.viewer(self.cam, self.demo())
        self.assertJpeg(v.frames(1, timeout=15)[0], "demo frame after bad requests")


class SchemePolicy(CamTestCase):
    def test_allowed_http_scheme_reaches_the_source(self):
        cam = self.start_camstream("--allow-schemes", "http", "--open-timeout", OPEN_TIMEOUT)
        port = self.closed_port().port
        self.expect_ws_error(cam, stream_path("http://127.0.0.1:%d/video.mjpg" % port),
                             "open_failed", 1011, timeout=OPEN_TIMEOUT + 10)

    def test_allow_schemes_from_the_environment(self):
        cam = self.start_camstream("--open-timeout", OPEN_TIMEOUT,
                                   env={"CAMSTREAM_ALLOW_SCHEMES": "http"})
        port = self.closed_port().port
        self.expect_ws_error(cam, stream_path("http://127.0.0.1:%d/video.mjpg" % port),
                             "open_failed", 1011, timeout=OPEN_TIMEOUT + 10)

    def test_file_scheme_can_never_be_allowed(self):
        # Either camstream refuses to start with --allow-schemes file, or files stay refused.
        from camtest import run_camstream
        try:
            rc, out, _ = run_camstream("--allow-schemes", "file", "--port", "0", "--host",
                                       "127.0.0.1", timeout=3)
        except Exception:  # noqa: BLE001 - it started and kept running: check the policy
            rc = None
        if rc is not None:
            self.assertNotEqual(rc, 0, "--allow-schemes file: exited 0 (stdout %r)" % out)
            return
        cam = self.start_camstream("--allow-schemes", "file")
        self.expect_ws_error(cam, stream_path("file:/etc/passwd"), *SCHEME_NOT_ALLOWED)


class SourceErrors(CamTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_rtsp()

    def setUp(self):
        self.cam = self.start_camstream("--open-timeout", OPEN_TIMEOUT, "--read-timeout", 3)

    def test_closed_port_is_open_failed(self):
        port = self.closed_port().port
        self.expect_ws_error(self.cam, stream_path("rtsp://127.0.0.1:%d/x" % port),
                             "open_failed", 1011, timeout=OPEN_TIMEOUT + 10)

    def test_silent_listener_is_timeout_within_open_timeout(self):
        listener = self.silent_listener()
        _, elapsed, _ = self.expect_ws_error(
            self.cam, stream_path("rtsp://127.0.0.1:%d/x" % listener.port), "timeout", 1011,
            timeout=OPEN_TIMEOUT + 10)
        self.note("timeout after %.2f s" % elapsed)
        self.assertLessEqual(elapsed, OPEN_TIMEOUT + 1.5, "timeout reported after %.1f s with "
                             "--open-timeout %.0f" % (elapsed, OPEN_TIMEOUT))
        self.assertGreaterEqual(elapsed, OPEN_TIMEOUT - 0.5, "timeout reported after only %.1f s "
                                "with --open-timeout %.0f" % (elapsed, OPEN_TIMEOUT))

    def test_missing_rtsp_path_is_not_found(self):
        self.expect_ws_error(self.cam, stream_path(self.rtsp.url("no/such/mount")),
                             "not_found", 1011, timeout=OPEN_TIMEOUT + 10)

    def test_missing_credentials_are_unauthorized(self):
        self.expect_ws_error(self.cam, stream_path(self.rtsp.secure_url()), "unauthorized", 1011,
                             timeout=OPEN_TIMEOUT + 10)

    def test_wrong_credentials_are_unauthorized(self):
        err, _, _ = self.expect_ws_error(
            self.cam, stream_path(self.rtsp.secure_url(SECURE_USER + ":wrongPass9")),
            "unauthorized", 1011, timeout=OPEN_TIMEOUT + 10)
        self.assertNotIn("wrongPass9", err["error"], "the error shows the password")

    def test_audio_only_source_is_unsupported_codec(self):
        self.expect_ws_error(self.cam, stream_path(self.rtsp.url("audio")), "unsupported_codec",
                             1011, timeout=OPEN_TIMEOUT + 10)

    def test_server_serves_new_viewers_after_source_errors(self):
        port = self.closed_port().port
        self.expect_ws_error(self.cam, stream_path("rtsp://127.0.0.1:%d/x" % port),
                             "open_failed", 1011, timeout=OPEN_TIMEOUT + 10)
        v = self.viewer(self.cam, stream_path(self.rtsp.url("h264")))
        self.assertEqual(jpeg_size(v.frames(2, timeout=15)[-1]), (320, 240))


class Credentials(CamTestCase):
    """Passwords never reach an error message or the log, even at --log-level debug."""

    @classmethod
    def setUpClass(cls):
        cls.start_class_rtsp()

    def setUp(self):
        self.cam = self.start_camstream("--log-level", "debug", "--open-timeout", OPEN_TIMEOUT)

    def assertLogClean(self, *secrets):
        rc, _ = self.stop_camstream(self.cam)   # the whole log, flushed
        self.assertEqual(rc, 0, "camstream exit code on SIGTERM")
        log = self.cam.log_text()
        for s in secrets:
            self.assertNotIn(s, log, "the log (%s) contains %r" % (self.cam.log_path, s))

    def test_password_of_an_unreachable_source_never_appears(self):
        port = self.closed_port().port
        err, _, _ = self.expect_ws_error(
            self.cam, stream_path("rtsp://admin:s3cr3tPass@127.0.0.1:%d/x" % port),
            "open_failed", 1011, timeout=OPEN_TIMEOUT + 10)
        self.assertNotIn("s3cr3tPass", err["error"], "the error shows the password")
        self.assertNotIn("admin", err["error"], "the error shows the user name")
        self.assertLogClean("s3cr3tPass", b64_credentials("admin", "s3cr3tPass"))

    def test_password_of_a_refused_login_never_appears(self):
        err, _, _ = self.expect_ws_error(
            self.cam, stream_path(self.rtsp.secure_url("admin:Wr0ngS3cret")), "unauthorized",
            1011, timeout=OPEN_TIMEOUT + 10)
        self.assertNotIn("Wr0ngS3cret", err["error"], "the error shows the password")
        self.assertLogClean("Wr0ngS3cret", b64_credentials("admin", "Wr0ngS3cret"))

    def test_password_of_a_working_source_never_appears_in_the_log(self):
        url = self.rtsp.secure_url("%s:%s" % (SECURE_USER, SECURE_PASSWORD))
        v = self.viewer(self.cam, stream_path(url))
        v.frames(5, timeout=15)
        v.close()
        self.assertLogClean(SECURE_PASSWORD, b64_credentials(SECURE_USER, SECURE_PASSWORD))


class Limits(CamTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_rtsp()

    def check_busy(self, cam):
        first = self.viewer(cam, stream_path(self.rtsp.url("h264"))).start()
        self.assertGreaterEqual(first.wait_frames(3, timeout=15), 3,
                                "the first viewer gets no frames: %s" % first.describe())
        self.expect_ws_error(cam, stream_path(self.rtsp.url("h264")), "server_busy", 1013)
        n = len(first.frame_times)
        got = first.wait_frames(n + 10, timeout=5)
        self.assertGreaterEqual(got, n + 10, "the first viewer stopped receiving after the "
                                "second was refused: %s" % first.describe())
        self.assertIsNone(first.closed, "the first viewer was closed: %s" % first.describe())

    def test_max_clients_refuses_the_extra_viewer_as_busy(self):
        self.check_busy(self.start_camstream("--max-clients", 1))

    def test_max_clients_from_the_environment(self):
        self.check_busy(self.start_camstream(env={"CAMSTREAM_MAX_CLIENTS": "1"}))

    def test_a_freed_slot_can_be_used_again(self):
        cam = self.start_camstream("--max-clients", 1)
        first = self.viewer(cam, stream_path("demo:"))
        first.frames(2, timeout=15)
        first.close()
        # The slot frees when the server has seen the close: poll with a deadline.
        deadline = time.monotonic() + 5
        while True:
            v = self.viewer(cam, stream_path("demo:"))
            kind, data = v.recv(15)
            if kind == "binary" or time.monotonic() > deadline:
                break
            v.close()
        self.assertEqual(kind, "binary", "a viewer after the only one left still gets %s %r"
                         % (kind, data))

"""HTTP endpoints and the command line: /, /api/health, 404, --help, --version, options from the
environment, the listening line and where the log goes."""

import os
import re
import socket

from camtest import (LISTEN_RE, WEB_ROOT, CamTestCase, Camstream, http_get, run_camstream,
                     stream_path)

STATUS_JSON = {"status": "ok", "message": "Video Streaming Server is running."}
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


class HttpEndpoints(CamTestCase):
    def setUp(self):
        self.cam = self.start_camstream()

    def test_root_answers_status_json(self):
        r = http_get(self.cam.port, "/")
        self.assertEqual(r.status, 200, "GET / status (body %r)" % r.body[:200])
        self.assertEqual(r.content_type, "application/json", "GET / content type")
        self.assertEqual(r.json(), STATUS_JSON, "GET / body")

    def test_root_answers_exactly_the_status_document(self):
        r = http_get(self.cam.port, "/")
        self.assertEqual(r.body.strip(), b'{"status":"ok","message":"Video Streaming Server is '
                         b'running."}', "GET / body, byte for byte")

    def test_root_with_browser_accept_serves_index_html(self):
        index = os.path.join(WEB_ROOT, "index.html")
        self.assertTrue(os.path.isfile(index), "no web page to serve: %s is missing" % index)
        r = http_get(self.cam.port, "/", headers={"Accept": BROWSER_ACCEPT})
        self.assertEqual(r.status, 200, "GET / as a browser: status (body %r)" % r.body[:200])
        self.assertEqual(r.content_type, "text/html", "GET / as a browser: content type")
        with open(index, "rb") as f:
            self.assertEqual(r.body, f.read(), "GET / as a browser: body is not web/index.html")

    def test_api_health_answers_status_json(self):
        r = http_get(self.cam.port, "/api/health")
        self.assertEqual(r.status, 200, "GET /api/health status")
        self.assertEqual(r.content_type, "application/json", "GET /api/health content type")
        self.assertEqual(r.json(), STATUS_JSON, "GET /api/health body")

    def test_api_health_answers_json_even_to_a_browser(self):
        r = http_get(self.cam.port, "/api/health", headers={"Accept": BROWSER_ACCEPT})
        self.assertEqual(r.status, 200, "GET /api/health as a browser: status")
        self.assertEqual(r.content_type, "application/json",
                         "GET /api/health as a browser: content type")
        self.assertEqual(r.json(), STATUS_JSON, "GET /api/health as a browser: body")

    def test_unknown_path_is_404_with_json_error(self):
        r = http_get(self.cam.port, "/no/such/page")
        self.assertEqual(r.status, 404, "GET /no/such/page status (body %r)" % r.body[:200])
        self.assertEqual(r.content_type, "application/json", "404 content type")
        doc = r.json()
        self.assertIsInstance(doc, dict, "404 body is not a JSON object: %r" % (doc,))
        self.assertIn("error", doc, "404 body has no 'error': %r" % (doc,))
        self.assertIn("code", doc, "404 body has no 'code': %r" % (doc,))

    def test_plain_http_get_of_ws_stream_is_not_a_crash(self):
        # A browser typing the WebSocket path into the address bar must get an HTTP answer.
        r = http_get(self.cam.port, stream_path("demo:"))
        self.assertGreaterEqual(r.status, 200, "GET /ws/stream without Upgrade: status")
        self.assertTrue(self.cam.alive(), "camstream died on GET /ws/stream without Upgrade")

    def test_listening_line_names_the_bound_port(self):
        self.assertEqual(self.cam.host, "127.0.0.1", "host in the listening line")
        self.assertNotEqual(self.cam.port, 0, "--port 0 must print the port actually bound")
        with socket.create_connection(("127.0.0.1", self.cam.port), timeout=5):
            pass


class CommandLine(CamTestCase):
    def test_version_prints_a_version_and_exits_0(self):
        rc, out, err = run_camstream("--version")
        self.assertEqual(rc, 0, "--version exit code (stderr %r)" % err)
        self.assertRegex(out + err, r"\d+\.\d+", "--version prints no version number")

    def test_version_names_camstream_then_each_library_it_runs_with(self):
        rc, out, err = run_camstream("--version")
        self.assertEqual(rc, 0, "--version exit code (stderr %r)" % err)
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^camstream \d+\.\d+\.\d+$", "--version first line")
        names = [line.split(" ", 1)[0] for line in lines[1:]]
        self.assertEqual(names, ["libwebsockets", "FFmpeg", "libjpeg-turbo", "OpenSSL",
                                 "libsrtp2", "libxml2", "libcurl", "jansson"],
                         "--version libraries, in order:\n%s" % out)
        for line in lines[1:]:
            self.assertRegex(line, r"^\S+ \d+\.\d+", "--version line without a version")

    def test_help_names_the_default_web_root(self):
        rc, out, err = run_camstream("--help")
        self.assertEqual(rc, 0, "--help exit code (stderr %r)" % err)
        m = re.search(r"^Default web root: (.+)$", out, re.M)
        self.assertIsNotNone(m, "--help does not name the default web root:\n%s" % out)
        # the binary under test is the one in its build directory: the source tree's page
        self.assertEqual(os.path.realpath(m.group(1)), os.path.realpath(WEB_ROOT),
                         "default web root of the build directory's binary")

    def test_binary_in_its_build_directory_serves_the_source_page_without_web_root(self):
        cam = self.start_camstream("--port", "0", "--host", "127.0.0.1", "--rtmp-port", "off",
                                   "--webrtc-port", "off", default_args=False)
        r = http_get(cam.port, "/", headers={"Accept": BROWSER_ACCEPT})
        self.assertEqual(r.status, 200, "GET / as a browser: status (body %r)" % r.body[:200])
        with open(os.path.join(WEB_ROOT, "index.html"), "rb") as f:
            self.assertEqual(r.body, f.read(), "GET / as a browser: not the source's index.html")

    def test_help_lists_the_options_and_exits_0(self):
        rc, out, err = run_camstream("--help")
        self.assertEqual(rc, 0, "--help exit code (stderr %r)" % err)
        for opt in ("--host", "--port", "--web-root", "--allow-schemes", "--open-timeout",
                    "--read-timeout", "--isolate", "--max-clients", "--log-level", "--version"):
            self.assertIn(opt, out, "--help does not mention %s" % opt)

    def test_bad_port_value_is_refused_at_start(self):
        rc, out, err = run_camstream("--port", "abc", "--host", "127.0.0.1")
        self.assertNotEqual(rc, 0, "--port abc must not start (stdout %r)" % out)
        self.assertTrue(err.strip(), "--port abc: no message on stderr")
        self.assertNotIn("listening", out, "--port abc: printed a listening line")

    def test_bad_log_level_is_refused_at_start(self):
        rc, out, err = run_camstream("--log-level", "loud", "--port", "0", "--host", "127.0.0.1")
        self.assertNotEqual(rc, 0, "--log-level loud must not start (stdout %r)" % out)
        self.assertTrue(err.strip(), "--log-level loud: no message on stderr")

    def test_unknown_option_is_refused_at_start(self):
        rc, out, err = run_camstream("--no-such-option", "--port", "0", "--host", "127.0.0.1")
        self.assertNotEqual(rc, 0, "--no-such-option must not start (stdout %r)" % out)
        self.assertTrue(err.strip(), "--no-such-option: no message on stderr")

    def test_options_come_from_the_environment(self):
        cam = self.start_camstream(default_args=False, env={
            "CAMSTREAM_HOST": "127.0.0.1", "CAMSTREAM_PORT": "0", "CAMSTREAM_WEB_ROOT": WEB_ROOT})
        self.assertEqual(cam.host, "127.0.0.1", "CAMSTREAM_HOST not used")
        self.assertNotEqual(cam.port, 0, "CAMSTREAM_PORT=0 not used")
        self.assertEqual(http_get(cam.port, "/api/health").status, 200)

    def test_command_line_wins_over_the_environment(self):
        # The environment names a port that is taken; the command line's --port 0 must win.
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        cam = self.start_camstream(env={"CAMSTREAM_PORT": str(taken.getsockname()[1]),
                                        "CAMSTREAM_HOST": "203.0.113.1"})
        self.assertNotEqual(cam.port, taken.getsockname()[1], "CAMSTREAM_PORT beat --port")
        self.assertEqual(cam.host, "127.0.0.1", "CAMSTREAM_HOST beat --host")

    def test_bad_environment_value_is_refused_at_start(self):
        rc, out, err = run_camstream("--host", "127.0.0.1", "--port", "0",
                                     env={"CAMSTREAM_OPEN_TIMEOUT": "soon"})
        self.assertNotEqual(rc, 0, "CAMSTREAM_OPEN_TIMEOUT=soon must not start (stdout %r)" % out)

    def test_log_goes_to_stderr_and_stdout_has_only_the_listening_line(self):
        cam = self.start_camstream("--log-level", "debug")
        v = self.viewer(cam, stream_path("demo:"))
        v.frames(3, timeout=15)
        v.close()
        http_get(cam.port, "/api/health")
        rc, _ = self.stop_camstream(cam)
        self.assertEqual(rc, 0, "exit code on SIGTERM")
        lines = [line for line in cam.stdout.lines if line.strip()]
        self.assertEqual(len(lines), 1, "stdout should hold only the listening line: %r" % lines)
        self.assertRegex(lines[0], LISTEN_RE, "stdout")
        log = cam.log_text()
        self.assertGreater(len(re.sub(r"^#.*\n", "", log).strip()), 0,
                           "--log-level debug wrote nothing to stderr")

    def test_log_level_error_keeps_a_healthy_session_quiet(self):
        cam = self.start_camstream("--log-level", "error")
        v = self.viewer(cam, stream_path("demo:"))
        v.frames(3, timeout=15)
        v.close()
        http_get(cam.port, "/api/health")
        rc, _ = self.stop_camstream(cam)
        self.assertEqual(rc, 0, "exit code on SIGTERM")
        lines = [line for line in cam.log_text().splitlines() if not line.startswith("# ")]
        self.assertEqual(lines, [], "--log-level error: a healthy session logged something")

    def test_port_in_use_is_a_start_error(self):
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        cam = Camstream("--port", str(taken.getsockname()[1]), default_args=False,
                        env={"CAMSTREAM_HOST": "127.0.0.1"})
        cam._spawn(cam.argv, cam.env)
        self.addCleanup(cam.close_pipes)
        self.addCleanup(cam.kill)
        rc = cam.wait(10)
        self.assertIsNotNone(rc, "camstream kept running on a port that is in use")
        self.assertNotEqual(rc, 0, "camstream exited 0 on a port that is in use")

"""ONVIF (issue 15): POST /api/onvif/probe, GET /api/onvif/discover and seed 004's
/openapi/onvif/device and /openapi/source/{id}, against onvif_fake.FakeOnvif, a device of our
own whose clock is an hour ahead (so a WS-Security Created in our clock is refused), and
against the contract in /work/onvif-contract.md.

The device's stream URIs point at rtsp_server.py, so what a probe suggests is played for real
(/ws/stream, /live/{id}.flv). npm onvif 0.8.3 (onvif_npm_check.mjs) reads the same fake and
must find the URIs camstream found: the fake speaks ONVIF as a real client knows it.
Credentials: the device's are rtsp_server.py's /secure ones; they must appear in no reply, no
log line, and never in plain in a request to the device.
Discovery multicasts, so it runs in a network namespace of its own (unshare -n; root only),
camstream and the fake's WS-Discovery responder both inside; the test process re-executes this
file there (--netns-discovery) and reads the result as JSON."""

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

from camtest import (GI_PYTHON, HERE, LOG_DIR, SECURE_PASSWORD, SECURE_USER, Camstream,
                     CamTestCase, http_get, stream_path)
from flvtags import FLAG_VIDEO, HttpFlv
from onvif_fake import ELSEWHERE, FakeOnvif, default_profiles, h265_profile
from test_streams_api import request

USER, PASSWORD = SECURE_USER, SECURE_PASSWORD
TOKEN = "onvif-token-0123456789"
SKEW = 3600
STALL_TIMEOUT = 2           # the "timeout" of probes of a stalled device, seconds
SLACK = 2.0                 # what a deadline may be late by
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
PROFILE_FIELDS = {"name", "token", "encoding", "width", "height", "fps", "uri"}
NPM_CHECK = os.path.join(HERE, "onvif_npm_check.mjs")
NPM_ONVIF = os.path.join(os.path.dirname(HERE), "browser", "node_modules", "onvif")
PASSWD_MARKERS = (b"root:x:0:0", b"/bin/bash", b"/usr/sbin/nologin", b"/bin/sh")


def redacted_forms(url, user):
    """How a reply may show @url (no userinfo) had it been given with @user and a password:
    the contract's "user:***@" or camstream's house redaction "***@" (all the userinfo)."""
    scheme, rest = url.split("://", 1)
    return {"%s://%s:***@%s" % (scheme, user, rest), "%s://***@%s" % (scheme, rest)}


class Call:
    """A request in a thread: .reply (an HttpResponse) and .elapsed once joined."""

    def __init__(self, port, method, path, body=None, timeout=15.0):
        self.reply, self.error, self.elapsed = None, None, None
        self._args = (port, method, path, body)
        self._timeout = timeout
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        t0 = time.monotonic()
        try:
            self.reply = request(*self._args, timeout=self._timeout)
        except Exception as e:  # noqa: BLE001 - reported by join()
            self.error = e
        self.elapsed = time.monotonic() - t0

    def join(self, timeout):
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError("%s %s: no answer within %.0f s" % (self._args[1], self._args[2],
                                                                     timeout))
        if self.error is not None:
            raise AssertionError("%s %s failed: %r" % (self._args[1], self._args[2], self.error))
        return self.reply


class OnvifCase(CamTestCase):
    """One camstream for the class (CAM_ARGS), checked for a clean exit when the class ends;
    a fake device per test. Every reply is kept to look for credentials. A camstream that
    died during a test is replaced before the next one (that test failed already), so one
    crash fails one test, and the class's end reports it too."""

    CAM_ARGS = ()
    cam = None

    @classmethod
    def setUpClass(cls):
        cls.dead = []
        cls.addClassCleanup(cls._stop_class_cams)
        cls._start_class_cam()

    @classmethod
    def _start_class_cam(cls):
        cls.cam = Camstream(*cls.CAM_ARGS)
        cls.cam.start()

    @classmethod
    def _stop_class_cams(cls):
        problems = ["camstream died during the class (exit code %s); log %s"
                    % (cam.proc.returncode, cam.log_path) for cam in cls.dead]
        cam = cls.cam
        if cam is not None and cam.proc is not None:
            was_alive = cam.alive()
            rc, _ = cam.stop(timeout=30.0)
            cam.close_pipes()
            reports = cam.sanitizer_reports()
            if reports:
                problems.append("sanitizer report at exit (log %s):\n%s"
                                % (cam.log_path, "\n".join(reports[:20])))
            if not was_alive or rc != 0:
                problems.append("alive at the end %s, exit code %s after SIGTERM (None = "
                                "killed); log %s" % (was_alive, rc, cam.log_path))
        for dead in cls.dead:
            dead.close_pipes()
        if problems:
            raise AssertionError("%s's camstream: %s" % (cls.__name__, "; ".join(problems)))

    def setUp(self):
        self.replies = []
        cls = type(self)
        if not cls.cam.alive():
            cls.dead.append(cls.cam)
            cls._start_class_cam()

    def fake(self, **kw):
        kw.setdefault("username", USER)
        kw.setdefault("password", PASSWORD)
        kw.setdefault("skew_s", SKEW)
        kw.setdefault("rtsp_uris", ["rtsp://127.0.0.1:554/main", "rtsp://127.0.0.1:554/sub"])
        f = FakeOnvif(**kw).start()
        self.addCleanup(f.stop)
        return f

    def call(self, method, path, body=None, headers=None, timeout=15.0):
        r = request(self.cam.port, method, path, body, headers=headers, timeout=timeout)
        self.replies.append(r)
        return r

    def probe(self, fake=None, expect=200, path="/api/onvif/probe", **fields):
        body = {}
        if fake is not None:
            body = {"host": "127.0.0.1", "port": fake.port, "username": USER,
                    "password": PASSWORD, "timeout": 5}
        body.update(fields)
        body = {k: v for k, v in body.items() if v is not None}
        r = self.call("POST", path, body)
        if expect is not None:
            self.assertEqual(r.status, expect, "POST %s %r: status (body %r)"
                             % (path, {k: v for k, v in body.items() if k != "password"},
                                r.body[:600]))
        if expect == 200:
            self.assertEqual(r.content_type, "application/json")
        return r

    def assertNoPassword(self, fake=None):
        """The password is in no reply (body or header), not in camstream's log, and never went
        to the device in plain."""
        secret = PASSWORD.encode()
        for r in self.replies:
            self.assertNotIn(secret, r.body, "a reply holds the password: %r" % r.body[:600])
            for k, v in r.headers.items():
                self.assertNotIn(PASSWORD, v, "reply header %s holds the password" % k)
        self.assertNotIn(PASSWORD, self.cam.log_text(), "camstream's log holds the password (%s)"
                         % self.cam.log_path)
        if fake is not None:
            self.assertEqual(fake.plain_password_seen, 0, "requests to the device that carried "
                             "the password in plain: %d" % fake.plain_password_seen)

    def assertProfiles(self, doc, fake, service):
        """@doc's profiles are the fake's of @service, each with its URI and a stream."""
        want = [p for p in fake.profiles if service == "media2" or p["media1"]]
        got = doc["profiles"]
        self.assertEqual([p.get("token") for p in got], [p["token"] for p in want],
                         "profile tokens in %r" % got)
        for g, w in zip(got, want):
            for key in ("name", "encoding", "width", "height", "fps", "uri"):
                self.assertEqual(g.get(key), w[key], "profile %s: %s (profile %r)"
                                 % (w["token"], key, g))
            self.assertIsInstance(g["fps"], int, "a whole frame rate as an integer: %r" % g)
        return got


class Probe(OnvifCase):
    """Probes of a device that behaves: what the reply holds, and how the device was asked."""

    def test_probe_through_a_skewed_clock_gives_device_profiles_and_uris(self):
        fake = self.fake()
        doc = self.probe(fake).json()
        self.assertEqual(doc["device"], {
            "xaddr": fake.xaddr, "manufacturer": "FakeVendor", "model": "FakeCam 100",
            "firmware": "1.2.3", "serial": "FC100-0001", "hardware": "FC-100"})
        self.assertIsInstance(doc["clock_offset"], int, "clock_offset is an integer")
        self.assertLessEqual(abs(doc["clock_offset"] - SKEW), 2, "clock_offset %r"
                             % doc["clock_offset"])
        self.assertEqual((doc["auth"], doc["media"]), ("ws-security", "media2"))
        for p in self.assertProfiles(doc, fake, "media2"):
            s = p.get("stream")
            self.assertIsInstance(s, dict, "profile %s has no stream suggestion" % p["token"])
            self.assertEqual((s.get("rtsp_url"), s.get("username"), s.get("password"),
                              s.get("transport")), (p["uri"], USER, "***", "tcp"),
                             "stream of %s: %r" % (p["token"], s))
            self.assertTrue(0 < len(s["name"]) <= 64 and set(s["name"]) <= NAME_CHARS
                            and s["name"].strip("."), "stream name %r" % s["name"])
            self.assertIn(p["name"], s["name"], "the stream name has the profile's name")
        self.assertNotEqual(doc["profiles"][0]["stream"]["name"],
                            doc["profiles"][1]["stream"]["name"], "two profiles, one name")
        self.assertNoPassword(fake)
        self.assertEqual(fake.auth_failures, 0, "requests the device refused: %r"
                         % fake.requests)

    def test_clock_behind_ours_is_a_negative_offset(self):
        fake = self.fake(skew_s=-7200)
        doc = self.probe(fake).json()
        self.assertLessEqual(abs(doc["clock_offset"] + 7200), 2, "clock_offset %r"
                             % doc["clock_offset"])
        self.assertEqual(fake.auth_failures, 0, "requests the device refused")

    def test_probe_asks_the_clock_first_without_credentials_then_media2(self):
        fake = self.fake()
        self.probe(fake)
        actions = fake.actions()
        self.assertEqual(actions[0], "device:GetSystemDateAndTime", "first request: %r"
                         % actions)
        self.assertTrue(fake.requests[0]["authorised"], "GetSystemDateAndTime was refused")
        for want in ("device:GetDeviceInformation", "device:GetServices",
                     "media2:GetProfiles"):
            self.assertIn(want, actions)
        self.assertEqual(fake.count("GetStreamUri", "media2"), 2, "GetStreamUri per profile: %r"
                         % actions)
        self.assertEqual(fake.count("GetProfiles", "media"), 0, "Media1 used with Media2 there")

    def test_host_may_be_the_device_service_url_as_host_xaddr_or_url(self):
        fake = self.fake()
        for key in ("host", "xaddr", "url"):
            with self.subTest(key=key):
                body = {"host": None, "port": None, key: fake.xaddr}
                doc = self.probe(fake, **body).json()
                self.assertEqual(doc["device"]["xaddr"], fake.xaddr)
                self.assertEqual(len(doc["profiles"]), 2)

    def test_wrong_password_is_401_unauthorized(self):
        fake = self.fake()
        r = self.probe(fake, expect=None, password="not-the-password")
        self.assertJsonError(r, 401, "unauthorized", "a probe with a wrong password")
        self.assertNotIn("www-authenticate", r.headers, "a 401 of ours with a challenge")
        self.assertGreater(fake.auth_failures, 0, "the device refused nothing")

    def test_no_credentials_for_a_device_that_wants_them_is_401(self):
        fake = self.fake()
        r = self.probe(fake, expect=None, username=None, password=None)
        self.assertJsonError(r, 401, "unauthorized", "a probe without credentials")

    def test_http_digest_device_is_probed_with_digest(self):
        fake = self.fake(auth_mode="http-digest")
        doc = self.probe(fake).json()
        self.assertEqual(doc["auth"], "http-digest")
        self.assertLessEqual(abs(doc["clock_offset"] - SKEW), 2)
        self.assertProfiles(doc, fake, "media2")
        self.assertEqual(doc["profiles"][0]["stream"]["password"], "***")
        self.assertNoPassword(fake)

    def test_http_digest_wrong_password_is_401(self):
        fake = self.fake(auth_mode="http-digest")
        r = self.probe(fake, expect=None, password="not-the-password")
        self.assertJsonError(r, 401, "unauthorized", "a Digest probe with a wrong password")
        self.assertNotIn("www-authenticate", r.headers)

    def test_device_without_authentication_and_no_credentials(self):
        fake = self.fake(auth_mode="none")
        doc = self.probe(fake, username=None, password=None).json()
        self.assertEqual(doc["auth"], "none")
        for p in self.assertProfiles(doc, fake, "media2"):
            self.assertNotIn("username", p["stream"], "no credentials, yet %r" % p["stream"])
            self.assertNotIn("password", p["stream"], "no credentials, yet %r" % p["stream"])

    def test_without_media2_profiles_and_uris_come_from_media1(self):
        fake = self.fake(media2=False)
        doc = self.probe(fake).json()
        self.assertEqual(doc["media"], "media1")
        self.assertProfiles(doc, fake, "media")
        self.assertEqual(fake.count("GetStreamUri", "media"), 2)
        self.assertEqual(fake.count("GetProfiles", "media2"), 0)

    def test_h265_profile_of_media2_is_listed_with_its_encoding(self):
        uris = ["rtsp://127.0.0.1:554/a", "rtsp://127.0.0.1:554/b"]
        fake = self.fake(profiles=default_profiles(uris) + [h265_profile(
            "rtsp://127.0.0.1:554/hevc")])
        doc = self.probe(fake).json()
        self.assertEqual(doc["media"], "media2")
        got = self.assertProfiles(doc, fake, "media2")
        self.assertEqual([p["encoding"] for p in got], ["H264", "H264", "H265"])

    def test_device_credentials_in_a_stream_uri_are_redacted(self):
        uris = ["rtsp://%s:%s@127.0.0.1:554/main" % (USER, PASSWORD), "rtsp://127.0.0.1:554/s"]
        fake = self.fake(rtsp_uris=uris)
        doc = self.probe(fake).json()
        p = doc["profiles"][0]
        self.assertIn(p["uri"], redacted_forms("rtsp://127.0.0.1:554/main", USER), "uri %r" % p)
        self.assertEqual(p["stream"]["rtsp_url"], "rtsp://127.0.0.1:554/main",
                         "the suggestion's URL keeps the device's userinfo: %r" % p["stream"])
        self.assertNoPassword()

    def test_npm_onvif_reads_the_same_uris_from_the_fake(self):
        if not os.path.isdir(NPM_ONVIF):
            self.skipTest("npm onvif is not installed (npm ci --prefix tests/browser): %s"
                          % NPM_ONVIF)
        node = shutil.which("node")
        if node is None:
            self.skipTest("node is not installed")
        uris = ["rtsp://127.0.0.1:554/a", "rtsp://127.0.0.1:554/b"]
        for media2 in (True, False):
            with self.subTest(media2=media2):
                fake = self.fake(media2=media2, profiles=default_profiles(uris) + [
                    h265_profile("rtsp://127.0.0.1:554/hevc")])
                p = subprocess.run([node, NPM_CHECK, "--host", "127.0.0.1", "--port",
                                    str(fake.port), "--username", USER, "--password",
                                    PASSWORD], capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 0, "onvif_npm_check: %s" % p.stderr[-2000:])
                npm = json.loads(p.stdout.strip().splitlines()[-1])
                doc = self.probe(fake).json()
                self.assertEqual(npm["media2"], media2)
                self.assertLessEqual(abs(npm["clock_offset"] - SKEW), 2)
                self.assertEqual(
                    [(p["token"], p["encoding"], p["width"], p["height"], p["uri"])
                     for p in npm["profiles"]],
                    [(p["token"], p["encoding"], p["width"], p["height"], p["uri"])
                     for p in doc["profiles"]], "npm onvif and camstream disagree")
                self.assertEqual(npm["device"]["model"], doc["device"]["model"])
                self.assertEqual(fake.auth_failures, 0, "the device refused a request")
                self.assertEqual(fake.plain_password_seen, 0)


class Faults(OnvifCase):
    """Devices that misbehave: each ends in its error, in time, with camstream serving on."""

    def test_stalled_device_is_504_in_time_while_others_are_served(self):
        stalled = self.fake(fault="stall")
        good = self.fake()
        call = Call(self.cam.port, "POST", "/api/onvif/probe", {
            "host": "127.0.0.1", "port": stalled.port, "username": USER, "password": PASSWORD,
            "timeout": STALL_TIMEOUT})
        self.assertEqual(stalled.wait_stalled(1, 5), 1, "the probe did not reach the device")
        t0 = time.monotonic()
        self.assertEqual(http_get(self.cam.port, "/api/health", timeout=5).status, 200)
        self.probe(good)
        meanwhile = time.monotonic() - t0
        self.assertIsNone(call.reply, "the stalled probe answered before the other requests")
        r = call.join(STALL_TIMEOUT + 10)
        self.replies.append(r)
        self.assertJsonError(r, 504, "timeout", "a probe of a stalled device")
        self.assertLessEqual(call.elapsed, STALL_TIMEOUT + SLACK, "504 after %.1f s"
                             % call.elapsed)
        self.note("504 after %.2f s; health and a probe meanwhile %.2f s" % (call.elapsed,
                                                                            meanwhile))
        self.assertNoPassword(stalled)

    def test_stall_after_the_clock_is_504_in_time(self):
        fake = self.fake(fault="stall", fault_actions={"GetProfiles"})
        t0 = time.monotonic()
        r = self.probe(fake, expect=None, timeout=STALL_TIMEOUT)
        elapsed = time.monotonic() - t0
        self.assertJsonError(r, 504, "timeout", "a device that stalls at GetProfiles")
        self.assertLessEqual(elapsed, STALL_TIMEOUT + SLACK)

    def test_huge_answer_is_502(self):
        fake = self.fake(fault="huge")
        t0 = time.monotonic()
        r = self.probe(fake, expect=None)
        self.assertJsonError(r, 502, "open_failed", "a 10 MB answer")
        self.note("502 after %.2f s" % (time.monotonic() - t0))
        self.assertTrue(self.cam.alive())

    def test_huge_chunked_answer_is_502_before_it_ends(self):
        fake = self.fake(fault="huge_chunked")
        t0 = time.monotonic()
        r = self.probe(fake, expect=None)
        self.assertJsonError(r, 502, "open_failed", "a 10 MB chunked answer")
        self.note("502 after %.2f s" % (time.monotonic() - t0))

    def test_client_that_leaves_cancels_its_probe(self):
        fake = self.fake(fault="stall")
        conn = http.client.HTTPConnection("127.0.0.1", self.cam.port, timeout=10)
        conn.request("POST", "/api/onvif/probe", json.dumps(
            {"host": "127.0.0.1", "port": fake.port, "timeout": 30}))
        self.assertEqual(fake.wait_stalled(1, 5), 1, "the probe did not reach the device")
        t0 = time.monotonic()
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        self.assertTrue(fake.wait_released(5), "the device's connection is still open 5 s "
                        "after the client left")
        self.note("the device's connection closed %.2f s after the client left"
                  % (time.monotonic() - t0))
        self.assertEqual(fake.stalls_abandoned, 1)
        self.probe(self.fake())
        self.assertTrue(self.cam.alive())

    def test_malformed_answer_is_502(self):
        r = self.probe(self.fake(fault="malformed"), expect=None)
        self.assertJsonError(r, 502, "open_failed", "an answer that is not well-formed XML")

    def test_malformed_media_answer_is_502(self):
        fake = self.fake(fault="malformed", fault_actions={"GetProfiles"})
        r = self.probe(fake, expect=None)
        self.assertJsonError(r, 502, "open_failed", "a GetProfiles answer not well-formed")

    def test_external_entity_is_refused_with_502_and_read_nowhere(self):
        for actions in (None, {"GetDeviceInformation"}, {"GetProfiles"}):
            with self.subTest(fault_actions=actions):
                fake = self.fake(fault="xxe", fault_actions=actions)
                r = self.probe(fake, expect=None)
                self.assertJsonError(r, 502, "open_failed", "an answer with an external entity")
                self.assertPasswdNowhere(r)

    def test_external_entity_in_stream_uris_is_refused_and_read_nowhere(self):
        # The contract gives 502 for a DTD; camstream treats a GetStreamUri that fails as that
        # profile's failure (as a refused URI). Either way nothing of the entity is read.
        fake = self.fake(fault="xxe", fault_actions={"GetStreamUri"})
        r = self.probe(fake, expect=None)
        self.assertPasswdNowhere(r)
        if r.status == 200:
            for p in r.json()["profiles"]:
                self.assertIsNone(p["uri"], "a URI from an answer with a DTD: %r" % p)
                self.assertEqual(p["error"]["code"], "open_failed", "%r" % p)
                self.assertNotIn("stream", p)
        else:
            self.assertJsonError(r, 502, "open_failed", "stream URIs with an external entity")

    def assertPasswdNowhere(self, r):
        for marker in PASSWD_MARKERS:
            self.assertNotIn(marker, r.body, "/etc/passwd in the reply")
            self.assertNotIn(marker.decode(), self.cam.log_text(), "/etc/passwd in the log")

    def test_refused_connection_is_502(self):
        port = self.closed_port()
        r = self.probe(expect=None, host="127.0.0.1", port=port.port, timeout=3)
        self.assertJsonError(r, 502, "open_failed", "a probe of a closed port")

    def test_bad_bodies_are_400(self):
        bodies = ["{", "[]", '"x"', "", "{}", '{"port": 80}',
                  {"host": "127.0.0.1", "port": 0}, {"host": "127.0.0.1", "port": 65536},
                  {"host": "127.0.0.1", "port": "eighty"}, {"host": "127.0.0.1", "port": -1},
                  {"host": "127.0.0.1", "port": 8.5}, {"host": "127.0.0.1", "timeout": 0},
                  {"host": "127.0.0.1", "timeout": 31}, {"host": "127.0.0.1", "timeout": "5"},
                  {"host": "a host"}, {"host": 42}, {"host": ""},
                  {"host": "ftp://127.0.0.1/onvif/device_service"},
                  {"host": "http://u:p@127.0.0.1/onvif/device_service"}]
        for body in bodies:
            with self.subTest(body=body):
                r = self.call("POST", "/api/onvif/probe", body)
                self.assertJsonError(r, 400, "bad_request", "POST /api/onvif/probe %r" % (body,))
                r = self.call("POST", "/openapi/onvif/device", body)
                self.assertEqual(r.status, 400, "POST /openapi/onvif/device %r" % (body,))
        self.assertTrue(self.cam.alive())


class Busy(OnvifCase):
    """More than four ONVIF jobs at once: the fifth is refused at once with 503."""

    def test_a_fifth_concurrent_probe_is_503_server_busy(self):
        fake = self.fake(fault="stall")
        body = {"host": "127.0.0.1", "port": fake.port, "timeout": 3}
        calls = [Call(self.cam.port, "POST", "/api/onvif/probe", body) for _ in range(4)]
        self.assertEqual(fake.wait_stalled(4, 5), 4, "four probes did not reach the device")
        t0 = time.monotonic()
        r = self.probe(fake, expect=None, timeout=3)
        refused_in = time.monotonic() - t0
        self.assertJsonError(r, 503, "server_busy", "a fifth probe")
        self.assertLess(refused_in, 1.0, "the refusal waited for something")
        r = self.call("POST", "/openapi/onvif/device", {"url": "127.0.0.1", "port": fake.port})
        self.assertJsonError(r, 503, "server_busy", "seed 004's device probe as a fifth job")
        for c in calls:
            self.assertJsonError(c.join(15), 504, "timeout", "one of the four stalled probes")
        self.assertEqual(fake.stalled_total, 4, "the refused probes reached the device")
        self.probe(self.fake())   # the slots are free again


class Policy(OnvifCase):
    """--allow-hosts 127.0.0.0/8: devices, XAddrs and stream URIs outside are refused."""

    CAM_ARGS = ("--allow-hosts", "127.0.0.0/8")

    def test_stream_uris_outside_allow_hosts_are_null_with_host_not_allowed(self):
        fake = self.fake(fault="uri_elsewhere")
        doc = self.probe(fake).json()
        self.assertEqual(len(doc["profiles"]), 2)
        for p in doc["profiles"]:
            self.assertIn("uri", p, "profile %r" % p)
            self.assertIsNone(p["uri"], "a refused URI shown: %r" % p)
            self.assertNotIn("stream", p, "a stream suggested for a refused URI: %r" % p)
            self.assertEqual(p.get("error", {}).get("code"), "host_not_allowed", "%r" % p)
            self.assertTrue(p["error"].get("error"), "no error text in %r" % p)
            self.assertEqual((p["token"], p["encoding"]), (p["token"], "H264"),
                             "the profile is still described")

    def test_only_the_profile_whose_uri_is_outside_loses_it(self):
        fake = self.fake(rtsp_uris=["rtsp://127.0.0.1:554/main", "rtsp://%s/sub" % ELSEWHERE])
        doc = self.probe(fake).json()
        main, sub = doc["profiles"]
        self.assertEqual(main["uri"], "rtsp://127.0.0.1:554/main")
        self.assertIn("stream", main)
        self.assertIsNone(sub["uri"])
        self.assertEqual(sub["error"]["code"], "host_not_allowed")

    def test_media_xaddr_outside_allow_hosts_is_403(self):
        fake = self.fake(fault="xaddr_elsewhere")
        r = self.probe(fake, expect=None)
        self.assertJsonError(r, 403, "host_not_allowed", "media XAddrs on %s" % ELSEWHERE)

    def test_device_outside_allow_hosts_is_403_at_once(self):
        t0 = time.monotonic()
        r = self.probe(expect=None, host=ELSEWHERE, port=80, timeout=10)
        self.assertJsonError(r, 403, "host_not_allowed", "a probe of %s" % ELSEWHERE)
        self.assertLess(time.monotonic() - t0, 2.0, "the refusal waited for something")
        r = self.probe(expect=None, host="http://%s/onvif/device_service" % ELSEWHERE)
        self.assertJsonError(r, 403, "host_not_allowed", "a device URL on %s" % ELSEWHERE)
        r = self.call("POST", "/openapi/onvif/device", {"url": ELSEWHERE, "port": 80})
        self.assertJsonError(r, 403, "host_not_allowed", "seed 004's probe of %s" % ELSEWHERE)


class PolicyOneAddress(OnvifCase):
    """--allow-hosts 127.0.0.1/32, and a listener on 127.0.0.2 that must never be reached."""

    CAM_ARGS = ("--allow-hosts", "127.0.0.1/32")

    def test_media_xaddr_with_an_at_past_its_host_is_refused_unreached(self):
        # http://127.0.0.2:P/x@127.0.0.1:Q/...: libcurl connects to 127.0.0.2, a cut at the
        # last '@' (FFmpeg's, the policy's) reads 127.0.0.1: such an address is refused unread
        trap = socket.socket()
        self.addCleanup(trap.close)
        trap.bind(("127.0.0.2", 0))
        trap.listen(4)
        trap.settimeout(0.5)
        fake = self.fake(fault="xaddr_at")
        fake.at_target = "127.0.0.2:%d" % trap.getsockname()[1]
        r = self.probe(fake, expect=None, timeout=5)
        self.assertJsonError(r, 502, "open_failed", "media XAddrs http://127.0.0.2/x@...")
        try:
            conn, _ = trap.accept()
            conn.close()
            self.fail("camstream connected to 127.0.0.2, outside --allow-hosts")
        except socket.timeout:
            pass


class BehindProxy(OnvifCase):
    """--trusted-proxy: a proxy that ends TLS says so with X-Forwarded-Proto, and the play
    addresses /openapi/source answers are https and wss; from anyone else it is ignored."""

    CAM_ARGS = ("--trusted-proxy", "127.0.0.1")

    def test_forwarded_proto_from_a_trusted_proxy_gives_tls_addresses(self):
        body = {"source": "rtsp://127.0.0.1:554/x"}
        doc = self.call("POST", "/openapi/source/px1", body,
                        headers={"X-Forwarded-Proto": "https"}).json()
        self.assertTrue(doc["flv"].startswith("https://") and doc["ws"].startswith("wss://")
                        and doc["webrtc"].startswith("https://"), doc)
        doc = self.call("POST", "/openapi/source/px1", body).json()
        self.assertTrue(doc["flv"].startswith("http://") and doc["ws"].startswith("ws://"), doc)

    def test_forwarded_proto_from_an_untrusted_peer_is_ignored(self):
        sock = socket.create_connection(("127.0.0.1", self.cam.port), timeout=10,
                                        source_address=("127.0.0.2", 0))
        self.addCleanup(sock.close)
        payload = json.dumps({"source": "rtsp://127.0.0.1:554/x"}).encode()
        sock.sendall(b"POST /openapi/source/px2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
                     b"X-Forwarded-Proto: https\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload))
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b" 201 ", head.split(b"\r\n")[0], data[:300])
        self.assertIn(b'"flv":"http://h/live/px2.flv"', body, body[:400])


class Token(OnvifCase):
    """--token: the ONVIF endpoints answer 401 invalid_token without it."""

    CAM_ARGS = ("--token", TOKEN)

    def test_endpoints_without_the_token_are_401(self):
        fake = self.fake()
        for method, path, body in (
                ("POST", "/api/onvif/probe", {"host": "127.0.0.1", "port": fake.port}),
                ("GET", "/api/onvif/discover?timeout=0.2", None),
                ("POST", "/openapi/onvif/device", {"url": "127.0.0.1", "port": fake.port}),
                ("POST", "/openapi/source/t1", {"source": "rtsp://127.0.0.1:554/x"}),
                ("DELETE", "/openapi/source/t1", None)):
            with self.subTest(path=path):
                r = self.call(method, path, body)
                self.assertJsonError(r, 401, "invalid_token", "%s %s" % (method, path))
        self.assertEqual(fake.count("GetSystemDateAndTime"), 0, "the device was asked")

    def test_probe_with_the_token_works(self):
        fake = self.fake()
        r = self.call("POST", "/api/onvif/probe", {
            "host": "127.0.0.1", "port": fake.port, "username": USER, "password": PASSWORD},
            headers={"Authorization": "Bearer " + TOKEN})
        self.assertEqual(r.status, 200, "probe with the bearer token: %r" % r.body[:400])
        r = self.call("POST", "/api/onvif/probe?token=" + TOKEN, {
            "host": "127.0.0.1", "port": fake.port, "username": USER, "password": PASSWORD})
        self.assertEqual(r.status, 200, "probe with ?token=: %r" % r.body[:400])


class Play(OnvifCase):
    """What a probe suggests plays: the device's URIs are rtsp_server.py's mounts, the main
    one behind rtsp_server.py's Basic credentials, which are the device's too."""

    @classmethod
    def setUpClass(cls):
        cls.start_class_rtsp()
        super().setUpClass()

    def play_fake(self):
        return self.fake(rtsp_uris=[self.rtsp.secure_url(), self.rtsp.url("h264")])

    def test_suggested_stream_with_the_password_put_back_plays(self):
        fake = self.play_fake()
        doc = self.probe(fake).json()
        stream = dict(doc["profiles"][0]["stream"])
        self.assertEqual(stream["rtsp_url"], self.rtsp.secure_url())
        stream["password"] = PASSWORD
        r = self.call("POST", "/api/streams", stream)
        self.assertEqual(r.status, 201, "POST /api/streams of the suggestion: %r" % r.body[:400])
        v = self.viewer(self.cam, "/ws/stream?name=" + urllib.parse.quote(stream["name"]))
        for frame in v.frames(3, 20):
            self.assertJpeg(frame)
        self.assertNoPassword(fake)
        self.call("DELETE", "/api/streams/" + urllib.parse.quote(stream["name"]))

    def test_probed_uri_plays_as_rtsp_url(self):
        doc = self.probe(self.play_fake()).json()
        uri = doc["profiles"][1]["uri"]
        self.assertEqual(uri, self.rtsp.url("h264"))
        v = self.viewer(self.cam, stream_path(uri))
        for frame in v.frames(3, 20):
            self.assertJpeg(frame)

    def test_openapi_device_gives_main_and_sub(self):
        fake = self.play_fake()
        r = self.call("POST", "/openapi/onvif/device", {"url": "127.0.0.1", "port": fake.port,
                                                        "username": USER, "pwd": PASSWORD})
        self.assertEqual(r.status, 200, "POST /openapi/onvif/device: %r" % r.body[:600])
        doc = r.json()
        self.assertEqual(doc["device"]["xaddr"], fake.xaddr)
        self.assertEqual(doc["main"]["token"], "Profile_1", "main: the largest picture")
        self.assertEqual(doc["sub"]["token"], "Profile_2", "sub: the next")
        for key in ("main", "sub"):
            self.assertEqual(doc[key]["rtsp"], doc[key]["uri"], "%s: rtsp is uri" % key)
        self.assertEqual(doc["main"]["uri"], self.rtsp.secure_url())
        self.assertEqual([p["token"] for p in doc["profiles"]], ["Profile_1", "Profile_2"])
        r = self.call("POST", "/openapi/onvif/device", {"url": fake.xaddr, "username": USER,
                                                        "pwd": PASSWORD})
        self.assertEqual(r.status, 200, "url as the device service URL: %r" % r.body[:600])
        r = self.call("POST", "/openapi/onvif/device", {"url": "127.0.0.1", "port": fake.port,
                                                        "username": USER, "pwd": "wrong"})
        self.assertJsonError(r, 401, "unauthorized", "seed 004 probe with a wrong pwd")
        self.assertNoPassword(fake)

    def test_openapi_device_with_one_profile_has_no_sub(self):
        fake = self.fake(profiles=default_profiles([self.rtsp.url("h264")])[:1])
        doc = self.call("POST", "/openapi/onvif/device", {
            "url": "127.0.0.1", "port": fake.port, "username": USER, "pwd": PASSWORD}).json()
        self.assertEqual(doc["main"]["token"], "Profile_1")
        self.assertIsNone(doc["sub"])

    def test_openapi_source_registers_plays_flv_and_deletes(self):
        host = "127.0.0.1:%d" % self.cam.port
        source = self.rtsp.secure_url("%s:%s" % (USER, PASSWORD))
        r = self.call("POST", "/openapi/source/cam7", {"source": source, "transport": "tcp"})
        self.assertEqual(r.status, 201, "POST /openapi/source/cam7: %r" % r.body[:600])
        doc = r.json()
        self.assertIn(doc.get("source"), redacted_forms(self.rtsp.secure_url(), USER),
                      "source shown: %r" % doc)
        doc["source"] = "redacted"
        self.assertEqual(doc, {
            "id": "cam7", "source": "redacted", "transport": "tcp",
            "flv": "http://%s/live/cam7.flv" % host, "ws_flv": "ws://%s/ws/flv?name=cam7" % host,
            "ws": "ws://%s/ws/stream?name=cam7" % host, "mjpeg": "http://%s/mjpeg?name=cam7" % host,
            "snapshot": "http://%s/api/streams/cam7/snapshot" % host,
            "hls": "http://%s/live/cam7.m3u8" % host,
            "webrtc": "http://%s/api/streams/cam7/whep" % host})
        r = self.call("POST", "/openapi/source/cam7", {"source": source, "transport": "tcp"})
        self.assertEqual(r.status, 200, "the same source again: %r" % r.body[:300])
        flv = HttpFlv(self.cam.port, "/live/cam7.flv")
        self.addCleanup(flv.close)
        self.assertEqual(flv.read_head(), 200, "GET /live/cam7.flv: %r" % flv.body[:300])
        flv.read_pictures(2, 20)   # the strict parser: an FLV header, then tags
        self.assertTrue(flv.header_flags & FLAG_VIDEO, "no video flag in the FLV header")
        flv.close()
        r = self.call("DELETE", "/openapi/source/cam7")
        self.assertEqual((r.status, r.json()), (200, {"ok": True, "id": "cam7"}))
        self.assertJsonError(self.call("DELETE", "/openapi/source/cam7"), 404, "not_found",
                             "DELETE of a removed source")
        self.assertEqual(self.call("GET", "/api/streams/cam7").status, 404)
        self.assertNoPassword()

    def test_openapi_source_with_another_source_replaces_it(self):
        r = self.call("POST", "/openapi/source/cam8", {"source": self.rtsp.url("h264")})
        self.assertEqual(r.status, 201, r.body[:300])
        self.assertEqual(r.json()["transport"], "tcp", "the default transport")
        r = self.call("POST", "/openapi/source/cam8", {"source": self.rtsp.url("h264"),
                                                      "transport": "udp"})
        self.assertEqual(r.status, 200, "replaced: %r" % r.body[:300])
        self.assertEqual(r.json()["transport"], "udp")
        status = self.call("GET", "/api/streams/cam8").json()
        self.assertEqual(status["transport"], "udp", "the stream was not replaced")
        self.assertEqual(self.call("DELETE", "/openapi/source/cam8").status, 200)

    def test_openapi_source_refusals(self):
        cases = [("/openapi/source/bad:id", {"source": self.rtsp.url("h264")}, 400,
                  "bad_request"),
                 ("/openapi/source/" + "x" * 65, {"source": self.rtsp.url("h264")}, 400,
                  "bad_request"),
                 ("/openapi/source/ok1", {"transport": "tcp"}, 400, "bad_request"),
                 ("/openapi/source/ok1", {"source": self.rtsp.url("h264"), "transport": "quic"},
                  400, "bad_request"),
                 ("/openapi/source/ok1", "{", 400, "bad_request"),
                 ("/openapi/source/ok1", {"source": "file:///etc/passwd"}, 403,
                  "scheme_not_allowed")]
        for path, body, status, code in cases:
            with self.subTest(path=path, body=body):
                self.assertJsonError(self.call("POST", path, body), status, code,
                                     "POST %s %r" % (path, body))
        r = self.call("PUT", "/openapi/source/ok1", {"source": self.rtsp.url("h264")})
        self.assertEqual(r.status, 405, "PUT /openapi/source/ok1")
        self.assertEqual(self.call("DELETE", "/openapi/source/never").status, 404)


class DiscoveryOff(OnvifCase):
    CAM_ARGS = ("--onvif-discovery", "off")

    def test_discover_is_404_and_probe_still_works(self):
        r = self.call("GET", "/api/onvif/discover")
        doc = self.assertJsonError(r, 404, "not_found", "discovery off")
        self.assertIn("--onvif-discovery", doc["error"])
        self.probe(self.fake())


def _netns_setup():
    """In a fresh network namespace: lo up with multicast, and multicast routed through it."""
    for argv in (["ip", "link", "set", "lo", "up"], ["ip", "link", "set", "lo", "multicast", "on"],
                 ["ip", "route", "add", "224.0.0.0/4", "dev", "lo"]):
        subprocess.run(argv, check=True, capture_output=True, timeout=10)


def netns_discovery_main():
    """Runs inside `unshare -n`: a fake device answering WS-Discovery on lo, camstream's
    discovery of it (and its refusals), the result as one JSON line on stdout."""
    _netns_setup()
    out = {}
    fake = FakeOnvif(rtsp_uris=["rtsp://127.0.0.1:554/x"], name="Fake Cam", location="lab")
    fake.start()
    fake.start_discovery("127.0.0.1")
    cams = []
    try:
        cam = Camstream()
        cams.append(cam)
        cam.start()
        t0 = time.monotonic()
        r = request(cam.port, "GET", "/api/onvif/discover?timeout=1", timeout=15)
        out["found"] = {"status": r.status, "body": r.body.decode("utf-8", "replace"),
                        "elapsed": time.monotonic() - t0}
        out["bad"] = {}
        for q in ("0.1", "11", "abc", "-1"):
            r = request(cam.port, "GET", "/api/onvif/discover?timeout=" + q, timeout=15)
            out["bad"][q] = {"status": r.status, "body": r.body.decode("utf-8", "replace")}
        r = request(cam.port, "GET", "/api/onvif/discover", timeout=15)
        out["default"] = {"status": r.status, "body": r.body.decode("utf-8", "replace")}
        # a GET with a body (lws reads it after the GET was taken): one answer, one job
        r = request(cam.port, "GET", "/api/onvif/discover?timeout=0.3", b"x" * 100, timeout=15)
        out["with_body"] = {"status": r.status, "health": request(
            cam.port, "GET", "/api/health", timeout=5).status}
        out["probe"] = {"status": request(cam.port, "POST", "/api/onvif/probe", {
            "host": fake.xaddr, "username": "admin", "password": fake.password}).status}
        cam2 = Camstream("--allow-hosts", "10.0.0.0/8")
        cams.append(cam2)
        cam2.start()
        r = request(cam2.port, "GET", "/api/onvif/discover?timeout=0.5", timeout=15)
        out["refused"] = {"status": r.status, "body": r.body.decode("utf-8", "replace")}
        out["fake"] = {"xaddr": fake.xaddr, "endpoint": fake.endpoint,
                       "probes": fake.discovery_probes, "answers": fake.discovery_answers}
    finally:
        for cam in cams:
            rc, _ = cam.stop(timeout=30)
            cam.close_pipes()
            out.setdefault("exit", []).append({"rc": rc, "log": cam.log_path,
                                               "sanitizer": cam.sanitizer_reports()})
        fake.stop()
    print(json.dumps(out), flush=True)
    return 0


class Discovery(CamTestCase):
    """WS-Discovery in a network namespace of its own (the runner above), run once for the
    class; each test reads its part of the result."""

    result = None

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("discovery needs a network namespace: run as root "
                                    "(unshare -n); not root here")
        for tool in ("unshare", "ip"):
            if shutil.which(tool) is None:
                raise unittest.SkipTest("discovery needs a network namespace: %s is not "
                                        "installed" % tool)
        env = dict(os.environ, CAMTEST_LOG_DIR=LOG_DIR)
        try:
            p = subprocess.run(["unshare", "-n", GI_PYTHON, os.path.abspath(__file__),
                                "--netns-discovery"], capture_output=True, text=True,
                               timeout=60, env=env, cwd=HERE)
        except subprocess.TimeoutExpired as e:
            raise AssertionError("the discovery runner did not end within 60 s: %s"
                                 % (e.stderr or "")[-2000:]) from None
        if p.returncode != 0 and "Operation not permitted" in p.stderr and \
                "unshare" in p.stderr:
            raise unittest.SkipTest("unshare -n is not permitted here: %s" % p.stderr.strip())
        if p.returncode != 0 or not p.stdout.strip():
            raise AssertionError("the discovery runner failed (exit %s):\n%s"
                                 % (p.returncode, p.stderr[-3000:]))
        cls.result = json.loads(p.stdout.strip().splitlines()[-1])

    def test_fake_device_is_found_with_its_scopes(self):
        res = self.result
        self.assertEqual(res["found"]["status"], 200, res["found"]["body"][:600])
        doc = json.loads(res["found"]["body"])
        self.assertIn("127.0.0.1", doc["interfaces"])
        self.assertEqual(doc["timeout"], 1)
        devices = [d for d in doc["devices"] if d.get("endpoint") == res["fake"]["endpoint"]]
        self.assertEqual(len(devices), 1, "the fake (%s) among %r" % (res["fake"], doc))
        d = devices[0]
        self.assertEqual(d["xaddrs"], [res["fake"]["xaddr"]])
        port = int(res["fake"]["xaddr"].split(":")[2].split("/")[0])
        self.assertEqual((d["host"], d["port"]), ("127.0.0.1", port))
        self.assertEqual(d["types"], "dn:NetworkVideoTransmitter tds:Device")
        self.assertEqual((d["name"], d["hardware"], d["location"]), ("Fake Cam", "FC-100", "lab"))
        self.assertIn("onvif://www.onvif.org/name/Fake%20Cam", d["scopes"])
        self.assertEqual(d["from"], "127.0.0.1")
        self.assertEqual(doc["refused"], 0)
        self.assertGreaterEqual(res["fake"]["probes"], 1)
        self.assertLess(res["found"]["elapsed"], 1 + SLACK, "discover?timeout=1 took %.1f s"
                        % res["found"]["elapsed"])
        self.note("discover?timeout=1 answered in %.2f s" % res["found"]["elapsed"])

    def test_a_get_with_a_body_is_answered_once_and_the_server_goes_on(self):
        self.assertEqual(self.result["with_body"], {"status": 200, "health": 200})

    def test_default_timeout_is_2(self):
        self.assertEqual(self.result["default"]["status"], 200, self.result["default"]["body"])
        self.assertEqual(json.loads(self.result["default"]["body"])["timeout"], 2)

    def test_timeouts_out_of_range_are_400(self):
        for q, r in self.result["bad"].items():
            with self.subTest(timeout=q):
                self.assertEqual(r["status"], 400, r["body"])
                self.assertEqual(json.loads(r["body"]).get("code"), "bad_request", r["body"])

    def test_xaddrs_outside_allow_hosts_are_dropped_and_counted(self):
        r = self.result["refused"]
        self.assertEqual(r["status"], 200, r["body"])
        doc = json.loads(r["body"])
        self.assertEqual(doc["devices"], [], "a device outside 10.0.0.0/8 listed")
        self.assertGreaterEqual(doc["refused"], 1)

    def test_discovered_xaddr_can_be_probed(self):
        self.assertEqual(self.result["probe"]["status"], 200)

    def test_camstreams_of_the_namespace_exit_cleanly(self):
        for e in self.result["exit"]:
            self.assertEqual(e["sanitizer"], [], "sanitizer report, log %s" % e["log"])
            self.assertEqual(e["rc"], 0, "exit code after SIGTERM, log %s" % e["log"])


if __name__ == "__main__":
    if sys.argv[1:] == ["--netns-discovery"]:
        sys.exit(netns_discovery_main())
    sys.exit("test_onvif is a test module; run it with run.py test_onvif")

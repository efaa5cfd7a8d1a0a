"""WebRTC (issue 14): WHEP, `POST /whep?rtsp_url=` and `POST /api/streams/{name}/whep` with an
SDP offer answer 201 with an ICE-lite, DTLS-passive SDP answer and a Location whose DELETE hangs
up; the camera's H.264 goes out as SRTP on one UDP port (--webrtc-port, 0 in the tests).

The client is python3-aiortc (whep_client.WhepClient), an implementation independent of
camstream's: it decodes the pictures, and its size must be the camera's. Loss goes through
whep_client.LossProxy (every 20th SRTP media packet to the client dropped): NACKs must bring
them back (the same SSRC and sequence number again, camstream_webrtc_retransmits_total). Faults
come as raw datagrams: garbage, a STUN flood with bad integrity and unknown names, a DTLS
ClientHello never followed up, 100 sessions never contacted, a client that goes silent; each
with another client playing on meanwhile, and camstream's sessions, fds and memory back where
they were after the contract's deadlines (10 s for ICE and DTLS, 30 s for consent).

The contract is the README's "WebRTC (WHEP)" section.
Cameras: rtsp_server.py, 320x240 at 25 frames/s, a key picture every second."""

import json
import os
import re
import socket
import threading
import time
import urllib.parse

from camtest import SessionCountingCase, http_get, wait_until
from test_metrics import Metrics
from test_rtmp_ingest import Tool, ffmpeg_lavfi_argv
from whep_client import (SDP_TYPE, SESSION_RE, ConsentChecker, LossProxy, WhepClient,
                         WhepError, binding_request, candidates, dtls_client_hello,
                         media_sections, offer_sdp, parse_stun, post_offer, request,
                         rtcp_nack, sdp_attr, section, stun_integrity_ok, stun_is_success)

FPS = 25
SIZE = (320, 240)
OPEN_TIMEOUT = 3.0
FIRST_FRAME = 15.0          # camera start + answer + ICE + DTLS + first decoded picture
ICE_DEADLINE = 10.0         # no binding request this long after the answer: the session ends
DTLS_DEADLINE = 10.0        # handshake not done this long after the first binding request
CONSENT = 30.0              # no binding request for this long: the session ends
SLACK = 3.0
MAX_BODY = 64 * 1024
TOKEN = "whep-token-0123456789"
ABANDONED = int(os.environ.get("CAMSTREAM_WEBRTC_ABANDONED", "100"))


def udp_drops(port):
    """Datagrams the kernel dropped for the UDP socket bound to 127.0.0.1:@port (a full
    receive buffer), from /proc/net/udp."""
    want = "0100007F:%04X" % port
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == want:
                return int(fields[-1])
    raise AssertionError("no UDP socket on 127.0.0.1:%d in /proc/net/udp" % port)


def whep_path(rtsp_url=None, **opts):
    parts = []
    if rtsp_url is not None:
        parts.append("rtsp_url=" + urllib.parse.quote(rtsp_url, safe=""))
    parts += ["%s=%s" % (k, urllib.parse.quote(str(v), safe="")) for k, v in opts.items()]
    return "/whep" + ("?" + "&".join(parts) if parts else "")


class WebrtcCase(SessionCountingCase):
    """One RTSP fixture for the class; camstream with --webrtc-port 0 unless told otherwise."""

    RTSP_FPS = FPS

    def start_camstream(self, *args, **kw):
        extra = [] if "--webrtc-port" in args else ["--webrtc-port", "0"]
        cam = super().start_camstream("--open-timeout", OPEN_TIMEOUT, *extra, *args, **kw)
        if "--webrtc-port" not in args:
            self.assertTrue(cam.webrtc_port, "no webrtc port line: %r" % cam.stdout.lines)
        return cam

    def camera(self, mount="h264"):
        return self.rtsp.url(mount)

    def client(self, cam, path, **kw):
        c = WhepClient(cam.port, path, **kw)
        self.addCleanup(c.close)
        return c

    def playing(self, cam, path, frames=10, **kw):
        """A client of @path that has decoded @frames pictures of the camera's size."""
        c = self.client(cam, path, **kw)
        try:
            c.connect()
        except WhepError as e:
            self.fail(str(e))
        got = c.wait_frames(frames, FIRST_FRAME)
        self.assertGreaterEqual(got, frames, "no pictures: %s" % c.describe())
        self.assertEqual(c.sizes, {SIZE}, c.describe())
        return c

    def assertPlaysOn(self, c, seconds=1.0, minimum_rate=FPS * 0.6, what="the client"):
        """@c decodes at least @minimum_rate pictures a second for @seconds."""
        got = c.wait_more_frames(int(seconds * minimum_rate), seconds * 2 + SLACK)
        self.assertGreaterEqual(got, int(seconds * minimum_rate), "%s stalled: %s"
                                % (what, c.describe()))

    def assertError(self, r, status, code=None, what=""):
        self.assertEqual(r.status, status, "%s %r" % (what, r))
        self.assertEqual(r.content_type, "application/json", "%s %r" % (what, r))
        got, message = r.error()
        if code is not None:
            self.assertEqual(got, code, "%s %r" % (what, r))
        else:
            self.assertTrue(isinstance(got, str) and got, "%s: no code %r" % (what, r))
        self.assertTrue(isinstance(message, str) and message.strip(), "%s: no message %r"
                        % (what, r))

    def metrics(self, cam):
        r = http_get(cam.port, "/metrics", {"Authorization": "Bearer " + TOKEN})
        self.assertEqual(r.status, 200, r.body[:300])
        return Metrics(r.body.decode("utf-8"))

    def metric(self, cam, name):
        m = self.metrics(cam)
        values = m.values(name)
        self.assertTrue(values, "no %s in /metrics:\n%s" % (name, "\n".join(
            line for line in m.text.splitlines() if "webrtc" in line)))
        return sum(values)

    def wait_metric(self, cam, name, predicate, timeout):
        """Polls @name until @predicate(value) holds: (held, last value, seconds waited)."""
        last = [None]
        t0 = time.monotonic()

        def check():
            last[0] = self.metric(cam, name)
            return predicate(last[0])
        ok = wait_until(check, timeout, interval=0.1)
        return bool(ok), last[0], time.monotonic() - t0

    def webrtc_metrics(self, cam):
        m = self.metrics(cam)
        return {n: sum(m.values(n)) for n in sorted({s[0] for s in m.samples})
                if n.startswith("camstream_webrtc_")}


# ---- the answer and playing -----------------------------------------------------------------

class Play(WebrtcCase):
    def assertContractAnswer(self, cam, c):
        r = c.reply
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.content_type, SDP_TYPE, r)
        self.assertRegex(r.headers.get("location", ""), SESSION_RE, r.headers)
        sdp = c.answer
        self.assertIn("a=ice-lite", sdp.splitlines(), sdp)
        self.assertIn("passive", sdp_attr(sdp, "setup"), sdp)
        self.assertTrue(sdp_attr(sdp, "fingerprint") and all(
            re.match(r"^sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$", f)
            for f in sdp_attr(sdp, "fingerprint")), sdp)
        self.assertTrue(any(g.startswith("BUNDLE ") for g in sdp_attr(sdp, "group")), sdp)
        cands = candidates(sdp)
        self.assertTrue(cands, "no candidate in the answer:\n" + sdp)
        for transport, addr, port, typ in cands:
            self.assertEqual((transport, addr, port, typ),
                             ("udp", "127.0.0.1", cam.webrtc_port, "host"), sdp)
        sections = media_sections(sdp)
        video = [s for s in sections if s[0].startswith("m=video")]
        self.assertEqual(len(video), 1, sdp)
        vlines = video[0][1]
        self.assertIn("a=sendonly", vlines, sdp)
        h264 = [line for line in vlines if re.match(r"^a=rtpmap:\d+ H264/90000$", line)]
        self.assertEqual(len(h264), 1, "one H.264 format in the video answer:\n" + sdp)
        pt = h264[0].split(":")[1].split()[0]
        fmtp = [line for line in vlines if line.startswith("a=fmtp:%s " % pt)]
        self.assertTrue(fmtp and "packetization-mode=1" in fmtp[0], sdp)
        self.assertRegex(fmtp[0], r"profile-level-id=[0-9a-fA-F]{6}", sdp)
        for m, lines in sections:
            if m.startswith("m=audio"):
                self.assertTrue(m.split()[1] == "0" or "a=inactive" in lines or
                                "a=sendonly" in lines, "audio answered neither inactive nor "
                                "port 0 (nor sendonly):\n" + sdp)
        return sdp

    def test_adhoc_camera_answer_and_frames_of_the_camera_size(self):
        cam = self.start_camstream()
        c = self.playing(cam, whep_path(self.camera()))
        self.assertContractAnswer(cam, c)
        self.note("answer after %.2f s" % c.reply.took)
        t0 = time.monotonic()
        self.assertPlaysOn(c, 2.0, FPS * 0.8)
        rate = c.count_between(t0, time.monotonic()) / (time.monotonic() - t0)
        self.note("%.1f pictures/s decoded by aiortc" % rate)
        self.assertEqual(self.metric(cam, "camstream_webrtc_sessions"), 1)
        self.assertGreater(self.metric(cam, "camstream_webrtc_packets_sent_total"), 0)
        self.assertGreater(self.metric(cam, "camstream_webrtc_bytes_sent_total"), 0)

    def test_cam_url_alias_transport_and_name_parameter(self):
        config = self.write_streams_config([{"name": "cam1", "rtsp_url": self.camera()}])
        cam = self.start_camstream("--config", config)
        self.playing(cam, "/whep?cam_url=%s&transport=tcp"
                     % urllib.parse.quote(self.camera(), safe=""))
        self.playing(cam, "/whep?name=cam1")

    def test_named_stream_is_one_viewer_while_playing(self):
        config = self.write_streams_config([{"name": "cam1", "rtsp_url": self.camera()}])
        cam = self.start_camstream("--config", config)
        c = self.playing(cam, "/api/streams/cam1/whep")
        r = http_get(cam.port, "/api/streams/cam1")
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(r.json().get("viewers"), 1, r.json())
        self.assertEqual(c.delete().status, 200)
        ok = wait_until(lambda: http_get(cam.port, "/api/streams/cam1").json().get("viewers")
                        == 0, 5.0, interval=0.1)
        self.assertTrue(ok, "still a viewer after DELETE: %s"
                        % http_get(cam.port, "/api/streams/cam1").body[:300])

    def test_stream_added_through_the_api(self):
        cam = self.start_camstream()
        r = request(cam.port, "POST", "/api/streams",
                    json.dumps({"name": "door", "rtsp_url": self.camera()}),
                    {"Content-Type": "application/json"})
        self.assertEqual(r.status, 201, r)
        self.playing(cam, "/api/streams/door/whep")

    def test_rtmp_publish_plays(self):
        cam = self.start_camstream("--rtmp-port", "0")
        tool = Tool("ffmpeg-publish", ffmpeg_lavfi_argv(cam.rtmp_url("k1"))).start()
        self.addCleanup(tool.close_pipes)
        self.addCleanup(tool.stop)
        last = {}

        def live():   # 404 until the publisher is live
            c = WhepClient(cam.port, "/api/streams/k1/whep")
            last["r"] = c.post()
            if last["r"].status == 201:
                last["c"] = c
                return True
            c.close()
            return False
        self.assertTrue(wait_until(live, 20.0, interval=0.3), "never 201: %r" % last.get("r"))
        c = last["c"]
        self.addCleanup(c.close)
        c.apply_answer()
        self.assertGreaterEqual(c.wait_frames(25, FIRST_FRAME), 25, c.describe())
        self.assertEqual(c.sizes, {SIZE}, c.describe())
        self.assertPlaysOn(c, 2.0)

    def test_two_clients_of_one_camera_share_its_session(self):
        cam = self.start_camstream()
        a = self.playing(cam, whep_path(self.camera()))
        b = self.playing(cam, whep_path(self.camera()))
        self.assertNotEqual(a.session_id, b.session_id)
        self.assertEqual(self.new_sessions(), 1, "one RTSP session for two WebRTC viewers")
        self.assertEqual(self.metric(cam, "camstream_webrtc_sessions"), 2)
        self.assertPlaysOn(a, 1.0)
        self.assertPlaysOn(b, 1.0)

    def test_new_client_starts_from_the_cached_key_picture(self):
        # the camera's key pictures come every second: a client that waited for the next
        # one would see its first picture 0.5 s after connecting on average, up to 1 s
        cam = self.start_camstream()
        self.playing(cam, whep_path(self.camera()))
        waits = []
        for _ in range(5):
            c = self.client(cam, whep_path(self.camera()))
            r = c.post()
            self.assertEqual(r.status, 201, r)
            c.apply_answer()
            applied = time.monotonic()
            self.assertGreaterEqual(c.wait_frames(1, 5.0), 1, c.describe())
            waits.append(c.first_frame_at - applied)
            c.delete()
            c.close()
        self.note("first picture %s s after the answer was applied"
                  % ", ".join("%.3f" % w for w in waits))
        self.assertLess(max(waits), 0.4, "a client waited for the camera's next key picture")

    def test_client_without_audio_section(self):
        cam = self.start_camstream()
        self.playing(cam, whep_path(self.camera()), audio=False)

    def audio_answer(self, c):
        """(m= line, lines) of the answer's audio section."""
        audio = [s for s in media_sections(c.answer) if s[0].startswith("m=audio")]
        self.assertEqual(len(audio), 1, c.answer)
        return audio[0]

    def test_g711_and_opus_cameras_send_their_sound(self):
        cam = self.start_camstream()
        for mount, codec in (("h264-pcmu", "PCMU/8000"), ("h264-pcma", "PCMA/8000"),
                             ("h264-opus", "opus/48000/2")):
            with self.subTest(mount):
                c = self.playing(cam, whep_path(self.camera(mount)))
                m, lines = self.audio_answer(c)
                self.assertIn("a=sendonly", lines, c.answer)
                rtpmaps = [line for line in lines if line.startswith("a=rtpmap:")]
                self.assertEqual(len(rtpmaps), 1, c.answer)
                self.assertTrue(rtpmaps[0].lower().endswith(codec.lower()), c.answer)
                self.assertEqual(m.split()[3:], [rtpmaps[0].split(":")[1].split()[0]], m)
                # aiortc decodes 20 ms frames: 50 a second
                ok = wait_until(lambda: c.audio_frames >= 50, 5.0)
                self.assertTrue(ok, "no sound: %s" % c.describe())
                c.delete()

    def test_aac_camera_plays_video_with_the_audio_inactive(self):
        cam = self.start_camstream()
        c = self.playing(cam, whep_path(self.camera("h264-aac")))
        m, lines = self.audio_answer(c)
        self.assertTrue(m.split()[1] == "0" or "a=inactive" in lines, c.answer)
        self.assertPlaysOn(c, 1.0)
        self.assertEqual(c.audio_frames, 0, c.describe())

    def test_webrtc_host_addresses_are_the_candidates(self):
        cam = self.start_camstream("--webrtc-host", "192.0.2.10,198.51.100.20")
        c = self.client(cam, whep_path(self.camera()), via=("127.0.0.1", cam.webrtc_port))
        r = c.post()
        self.assertEqual(r.status, 201, r)
        self.assertEqual(sorted({(a, p) for _, a, p, _ in candidates(c.answer)}),
                         [("192.0.2.10", cam.webrtc_port), ("198.51.100.20", cam.webrtc_port)],
                         c.answer)
        # the addresses are announced, not bound: through 127.0.0.1 it plays as well
        c.apply_answer()
        self.assertGreaterEqual(c.wait_frames(10, FIRST_FRAME), 10, c.describe())

    def test_cors_exposes_the_location(self):
        cam = self.start_camstream()
        c = self.client(cam, whep_path(self.camera()), headers={"Origin": "http://127.0.0.1:9"})
        r = c.post()
        self.assertEqual(r.status, 201, r)
        exposed = [h.strip().lower() for h in
                   r.headers.get("access-control-expose-headers", "").split(",")]
        self.assertIn("location", exposed, r.headers)
        self.assertTrue(r.headers.get("access-control-allow-origin"), r.headers)


    def test_live_path_whep_is_the_named_streams(self):
        # MediaMTX's URL for the stream at path live/{name}
        config = self.write_streams_config([{"name": "cam1", "rtsp_url": self.camera()}])
        cam = self.start_camstream("--config", config)
        c = self.playing(cam, "/live/cam1/whep")
        self.assertContractAnswer(cam, c)
        self.assertEqual(c.location, "/whep/session/%s?name=cam1" % c.session_id, c.reply)
        self.assertError(post_offer(cam.port, "/live/nosuch/whep", offer_sdp()[0]), 404,
                         "not_found", "an unknown name")
        codes = {}
        for path in ("/live/cam1/whep", "/api/streams/cam1/whep"):
            r = request(cam.port, "GET", path)
            self.assertError(r, 405, None, "GET " + path)
            codes[path] = r.error()[0]
        self.assertEqual(len(set(codes.values())), 1, codes)
        preflight = {"Origin": "http://127.0.0.1:9", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "content-type"}
        live = request(cam.port, "OPTIONS", "/live/cam1/whep", headers=preflight)
        api = request(cam.port, "OPTIONS", "/api/streams/cam1/whep", headers=preflight)
        self.assertEqual(live.status, 204, live)
        methods = [m.strip() for m in
                   live.headers.get("access-control-allow-methods", "").split(",")]
        self.assertIn("POST", methods, live.headers)
        for h in ("access-control-allow-methods", "access-control-allow-origin",
                  "access-control-allow-headers"):
            self.assertEqual(live.headers.get(h), api.headers.get(h), h)
        self.assertEqual(c.delete().status, 200)
        ok, value, _ = self.wait_metric(cam, "camstream_webrtc_sessions", lambda v: v == 0,
                                        5.0)
        self.assertTrue(ok, "camstream_webrtc_sessions %s after DELETE" % value)


class Hangup(WebrtcCase):
    def test_delete_ends_the_session_and_the_sending(self):
        cam = self.start_camstream()
        total0 = self.metric(cam, "camstream_webrtc_sessions_total")
        c = self.playing(cam, whep_path(self.camera()))
        self.assertEqual(self.metric(cam, "camstream_webrtc_sessions"), 1)
        self.assertEqual(self.metric(cam, "camstream_webrtc_sessions_total"), total0 + 1)
        r = c.delete()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"ok": True}, r)
        ok, value, _ = self.wait_metric(cam, "camstream_webrtc_sessions", lambda v: v == 0, 5.0)
        self.assertTrue(ok, "camstream_webrtc_sessions %s after DELETE" % value)
        # nothing is sent to it any more: the packet counter stands still
        sent = self.metric(cam, "camstream_webrtc_packets_sent_total")
        frames = c.wait_more_frames(50, 1.0)
        self.assertEqual(self.metric(cam, "camstream_webrtc_packets_sent_total"), sent)
        self.assertLessEqual(frames, 3, "pictures still coming after DELETE: %s" % c.describe())
        self.assertError(c.delete(), 404, "not_found", "a second DELETE")
        stats = self.rtsp.wait_sessions(lambda s: s["sessions"] == 0, 15)
        self.assertEqual(stats["sessions"], 0, "the camera session is still open: %s" % stats)

    def assertHungUp(self, c, what, since, within=3.0):
        """@c's DTLS transport goes "closed" within @within s of @since (camstream's
        close_notify), after an RTCP BYE naming every SSRC it received RTP from. Returns the
        seconds."""
        sent = set(c.rtp_ssrcs)
        closed = c.wait_for(lambda c: "closed" in c.dtls_states,
                            max(0.0, since + within - time.monotonic()))
        took = time.monotonic() - since
        self.assertTrue(closed, "%s: the client's DTLS not closed %.1f s after: %s"
                        % (what, within, c.describe()))
        byes = {ssrc for _, sources in c.byes for ssrc in sources}
        self.assertTrue(sent <= byes, "%s: no RTCP BYE for %s: %s"
                        % (what, sorted(sent - byes), c.describe()))
        return took

    def test_hangup_is_signalled_with_bye_and_close_notify(self):
        # a DELETE, a stream removed and a shutdown each end a session whose DTLS was up:
        # the client hears of it at once (its own consent timeout would take 30 s)
        config = self.write_streams_config([{"name": "cam1",
                                             "rtsp_url": self.camera("h264-pcmu")}])
        cam = self.start_camstream("--config", config)
        a = self.playing(cam, "/api/streams/cam1/whep", frames=1)
        b = self.playing(cam, "/api/streams/cam1/whep", frames=1)
        for c in (a, b):
            self.assertTrue(c.wait_for(lambda c: len(c.rtp_ssrcs) >= 2, 5.0),
                            "no video and sound RTP: %s" % c.describe())
        t0 = time.monotonic()
        self.assertEqual(a.delete().status, 200)
        took_a = self.assertHungUp(a, "DELETE of the session", t0)
        self.assertPlaysOn(b, 0.5, what="the other client")
        self.assertNotIn("closed", b.dtls_states, b.describe())
        t0 = time.monotonic()
        r = request(cam.port, "DELETE", "/api/streams/cam1")
        self.assertEqual(r.status, 200, r)
        took_b = self.assertHungUp(b, "DELETE of the stream", t0)
        ok, value, _ = self.wait_metric(cam, "camstream_webrtc_sessions", lambda v: v == 0,
                                        5.0)
        self.assertTrue(ok, "camstream_webrtc_sessions %s" % value)
        c = self.playing(cam, whep_path(self.camera("h264-pcmu")), frames=1)
        self.assertTrue(c.wait_for(lambda c: len(c.rtp_ssrcs) >= 2, 5.0), c.describe())
        t0 = time.monotonic()
        self.assertCleanExit(cam)
        took_c = self.assertHungUp(c, "SIGTERM", t0)
        self.note("DTLS closed %.2f s after the DELETE of the session, %.2f s after the "
                  "stream's, %.2f s after SIGTERM" % (took_a, took_b, took_c))

    def test_unknown_or_malformed_session_delete_is_404(self):
        cam = self.start_camstream()
        c = self.playing(cam, whep_path(self.camera()), frames=1)
        other = "f" * 32 if c.session_id != "f" * 32 else "e" * 32
        for path in ("/whep/session/" + other, "/whep/session/" + c.session_id[:-1],
                     "/whep/session/" + c.session_id.upper(), "/whep/session/",
                     "/whep/session/" + c.session_id + "0"):
            self.assertError(request(cam.port, "DELETE", path), 404, "not_found", path)
        self.assertEqual(self.metric(cam, "camstream_webrtc_sessions"), 1)
        self.assertPlaysOn(c, 1.0)

    def test_patch_is_405(self):
        cam = self.start_camstream()
        c = self.playing(cam, whep_path(self.camera()), frames=1)
        r = request(cam.port, "PATCH", c.location)
        self.assertEqual(r.status, 405, r)
        # what a trickling client sends (RFC 9725 §4.3.1): a fragment with a body
        r = request(cam.port, "PATCH", c.location,
                    "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\nm=video 9 "
                    "UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 1 127.0.0.1 9 typ "
                    "host\r\n", {"Content-Type": "application/trickle-ice-sdpfrag"})
        self.assertEqual(r.status, 405, r)
        self.assertPlaysOn(c, 1.0)

    def test_session_ids_are_new_each_time(self):
        cam = self.start_camstream()
        ids = set()
        for _ in range(5):
            r = post_offer(cam.port, whep_path(self.camera()), offer_sdp()[0])
            self.assertEqual(r.status, 201, r)
            ids.add(SESSION_RE.match(r.headers["location"]).group(1))
        self.assertEqual(len(ids), 5)

    def test_max_clients_counts_sessions(self):
        cam = self.start_camstream("--max-clients", "1")
        a = self.playing(cam, whep_path(self.camera()), frames=1)
        self.assertError(post_offer(cam.port, whep_path(self.camera()), offer_sdp()[0]), 503,
                         None, "a second session over --max-clients 1")
        self.assertEqual(a.delete().status, 200)
        ok, _, _ = self.wait_metric(cam, "camstream_webrtc_sessions", lambda v: v == 0, 5.0)
        self.assertTrue(ok)
        self.playing(cam, whep_path(self.camera()), frames=1)


# ---- refusals -------------------------------------------------------------------------------

class Errors(WebrtcCase):
    def setUp(self):
        super().setUp()
        self.cam = self.start_camstream()
        self.path = whep_path(self.camera())

    def post(self, body, path=None, content_type=SDP_TYPE, **kw):
        return post_offer(self.cam.port, path or self.path, body, content_type, **kw)

    def test_wrong_content_type_is_415(self):
        good = offer_sdp()[0]
        for ct in ("text/plain", "application/json", "application/sdpx", None):
            self.assertError(self.post(good, content_type=ct), 415, None,
                             "Content-Type %r" % ct)

    def test_content_type_parameters_are_accepted(self):
        r = self.post(offer_sdp()[0], content_type="application/sdp; charset=utf-8")
        self.assertEqual(r.status, 201, r)

    def test_body_over_64_kib_is_413(self):
        sdp = offer_sdp()[0]
        big = sdp + "".join("a=x-pad:%s\r\n" % ("p" * 1000) for _ in range(70))
        self.assertGreater(len(big), MAX_BODY)
        self.assertError(self.post(big), 413, None, "%d bytes" % len(big))

    def test_malformed_offers_are_400(self):
        sdp, _, _ = offer_sdp()
        for what, body in (("empty", ""), ("garbage", "hello\r\nworld\r\n"),
                           ("binary", os.urandom(300)),
                           ("no media", sdp.split("m=video")[0]),
                           ("no ice-ufrag", re.sub(r"a=ice-ufrag:[^\r]*\r\n", "", sdp)),
                           ("no fingerprint", re.sub(r"a=fingerprint:[^\r]*\r\n", "", sdp)),
                           ("truncated", sdp[:len(sdp) // 3])):
            with self.subTest(what):
                self.assertError(self.post(body), 400, "bad_request", what)

    def test_offer_without_h264_packetization_mode_1_is_400(self):
        for what, video in (
                ("VP8 only", ((96, "VP8", None),)),
                ("H.264 mode 0", ((102, "H264", "packetization-mode=0;profile-level-id=42e01f"),)),
                ("H.264 without fmtp", ((102, "H264", None),)),
                ("VP9 and AV1", ((98, "VP9", "profile-id=0"), (45, "AV1", None)))):
            with self.subTest(what):
                self.assertError(self.post(offer_sdp(video=video)[0]), 400, "bad_request",
                                 what)

    def test_offer_with_h264_among_others_is_answered_h264(self):
        video = ((96, "VP8", None), (98, "VP9", "profile-id=0"),
                 (106, "H264", "level-asymmetry-allowed=1;packetization-mode=0;"
                  "profile-level-id=42e01f"),
                 (102, "H264", "level-asymmetry-allowed=1;packetization-mode=1;"
                  "profile-level-id=42e01f"))
        r = self.post(offer_sdp(video=video)[0])
        self.assertEqual(r.status, 201, r)
        m = [s for s in media_sections(r.text()) if s[0].startswith("m=video")][0]
        self.assertEqual(m[0].split()[3:], ["102"], "the answer's video formats: " + m[0])

    def test_missing_url_is_400(self):
        self.assertError(self.post(offer_sdp()[0], path="/whep"), 400, "bad_request")

    def test_file_url_is_403(self):
        self.assertError(self.post(offer_sdp()[0], path=whep_path("file:/etc/passwd")), 403,
                         "scheme_not_allowed")

    def test_unknown_name_is_404(self):
        for path in ("/api/streams/nosuch/whep", "/whep?name=nosuch"):
            self.assertError(self.post(offer_sdp()[0], path=path), 404, "not_found", path)

    def test_h265_camera_is_415_unsupported_codec(self):
        self.assertError(self.post(offer_sdp()[0], path=whep_path(self.camera("h265"))), 415,
                         "unsupported_codec")

    def test_camera_that_refuses_the_connection_is_502(self):
        port = self.closed_port().port
        self.assertError(self.post(offer_sdp()[0],
                                   path=whep_path("rtsp://127.0.0.1:%d/x" % port)), 502,
                         "open_failed")

    def test_silent_camera_is_504_within_the_open_timeout(self):
        listener = self.silent_listener()
        r = self.post(offer_sdp()[0], path=whep_path("rtsp://127.0.0.1:%d/x" % listener.port))
        self.assertError(r, 504, "timeout")
        self.assertLessEqual(r.took, OPEN_TIMEOUT + SLACK, r)

    def test_offer_waiting_for_a_key_picture_at_shutdown_is_answered_503(self):
        # the camera says nothing, so the offer waits for its key picture; SIGTERM must answer
        # it (503, our JSON) rather than close the connection with nothing
        listener = self.silent_listener()
        cam = self.start_camstream("--open-timeout", 30)
        got = {}

        def post():
            try:
                got["r"] = post_offer(cam.port, whep_path("rtsp://127.0.0.1:%d/x"
                                                          % listener.port), offer_sdp()[0],
                                      timeout=20.0)
            except Exception as e:  # noqa: BLE001  (a connection closed with no answer)
                got["e"] = e
        t = threading.Thread(target=post, daemon=True)
        t.start()
        ok, value, _ = self.wait_metric(cam, "camstream_webrtc_sessions", lambda v: v == 1,
                                        5.0)
        self.assertTrue(ok, "the offer's session is not waiting: %s" % value)
        self.assertCleanExit(cam)
        t.join(20.0)
        self.assertFalse(t.is_alive(), "the POST was not answered after the exit")
        self.assertNotIn("e", got, "the POST was not answered: %r" % got.get("e"))
        self.assertError(got["r"], 503, "server_busy")
        self.assertIn("shutting down", got["r"].error()[1], got["r"])

    def test_refusals_leave_no_session(self):
        self.post("garbage")
        self.post(offer_sdp()[0], content_type="text/plain")
        self.post(offer_sdp(video=((96, "VP8", None),))[0])
        self.assertEqual(self.metric(self.cam, "camstream_webrtc_sessions"), 0)
        self.assertEqual(self.metric(self.cam, "camstream_webrtc_sessions_total"), 0)


class Policies(WebrtcCase):
    def test_token_is_needed_to_post_not_to_delete(self):
        config = self.write_streams_config([{"name": "cam1", "rtsp_url": self.camera()}])
        cam = self.start_camstream("--token", TOKEN, "--config", config)
        sdp = offer_sdp()[0]
        for path in (whep_path(self.camera()), "/api/streams/cam1/whep", "/whep?name=cam1"):
            self.assertError(post_offer(cam.port, path, sdp), 401, "invalid_token", path)
            sep = "&" if "?" in path else "?"
            self.assertError(post_offer(cam.port, path + sep + "token=wrong", sdp), 401,
                             "invalid_token", path + " with a wrong token")
        c = self.playing(cam, whep_path(self.camera(), token=TOKEN), frames=1)
        self.playing(cam, "/api/streams/cam1/whep",
                     headers={"Authorization": "Bearer " + TOKEN}, frames=1)
        for secret in (TOKEN, "rtsp://"):
            self.assertNotIn(secret, c.answer)
            self.assertNotIn(secret, c.reply.headers.get("location", ""))
        r = c.delete()   # no token: the session id is the capability
        self.assertEqual(r.status, 200, r)

    def test_named_only_refuses_an_adhoc_url_with_403(self):
        config = self.write_streams_config([{"name": "cam1", "rtsp_url": self.camera()}])
        cam = self.start_camstream("--named-only", "--config", config)
        self.assertError(post_offer(cam.port, whep_path(self.camera()), offer_sdp()[0]), 403,
                         "named_only")
        self.playing(cam, "/api/streams/cam1/whep", frames=1)

    def test_allow_hosts_refuses_a_camera_outside_with_403_before_connecting(self):
        cam = self.start_camstream("--allow-hosts", "10.0.0.0/8")
        self.assertError(post_offer(cam.port, whep_path(self.camera()), offer_sdp()[0]), 403,
                         "host_not_allowed")
        self.assertEqual(self.new_sessions(), 0, "an RTSP session was opened")

    def test_refused_posts_start_no_session(self):
        # camstream_webrtc_sessions_total counts the sessions that started, no refusal
        config = self.write_streams_config([{"name": "cam1", "rtsp_url": self.camera()}])
        cam = self.start_camstream("--token", TOKEN, "--named-only", "--max-clients", "1",
                                   "--config", config)
        auth = {"Authorization": "Bearer " + TOKEN}
        good = offer_sdp()[0]
        refusals = [
            ("no token", "/api/streams/cam1/whep", good, {}, 401),
            ("an ad-hoc URL with --named-only", whep_path(self.camera()), good, auth, 403),
            ("an unknown name", "/api/streams/nosuch/whep", good, auth, 404),
            ("an unknown name, /whep?name=", "/whep?name=nosuch", good, auth, 404),
            ("an offer without H.264", "/api/streams/cam1/whep",
             offer_sdp(video=((96, "VP8", None),))[0], auth, 400),
            ("a video section without a=mid", "/api/streams/cam1/whep",
             offer_sdp(sections=[section("video", None), section("audio", "1")])[0], auth,
             400),
        ]

        def total():
            return self.metric(cam, "camstream_webrtc_sessions_total")
        for what, path, body, headers, status in refusals:
            self.assertError(post_offer(cam.port, path, body, headers=headers), status, None,
                             what)
        self.assertEqual(total(), 0, "sessions counted for refused POSTs")
        self.playing(cam, "/api/streams/cam1/whep", headers=auth, frames=1)
        self.assertEqual(total(), 1)
        self.assertError(post_offer(cam.port, "/api/streams/cam1/whep", good, headers=auth),
                         503, None, "over --max-clients 1")
        for what, path, body, headers, _ in refusals:
            r = post_offer(cam.port, path, body, headers=headers)
            self.assertGreaterEqual(r.status, 400, "%s: %r" % (what, r))
        self.assertEqual(total(), 1, "sessions counted for refused POSTs")

    def test_webrtc_port_off_refuses(self):
        cam = self.start_camstream("--webrtc-port", "off")
        self.assertIsNone(cam.webrtc_port)
        r = post_offer(cam.port, whep_path(self.camera()), offer_sdp()[0])
        self.assertGreaterEqual(r.status, 400, r)


# ---- offers as browsers write them ----------------------------------------------------------

class Offers(WebrtcCase):
    """Hand-made offers: Firefox's max-bundle (bundle-only), directions, no BUNDLE, no mid.
    Answers only: no ICE agent behind these offers."""

    def setUp(self):
        super().setUp()
        self.cam = self.start_camstream()
        self.path = whep_path(self.camera("h264-pcmu"))

    def answer(self, sections, bundle=True, status=201):
        """POSTs an offer of @sections; the answer as [(kind, port, lines)] (@status 201)."""
        r = post_offer(self.cam.port, self.path,
                       offer_sdp(sections=sections, bundle=bundle)[0])
        if status != 201:
            self.assertError(r, status, "bad_request")
            return r
        self.assertEqual(r.status, 201, r)
        self.last = r.text()
        return [(m.split()[0][2:], int(m.split()[1]), [m] + lines)
                for m, lines in media_sections(self.last)]

    def assertAccepted(self, sec, codecs):
        kind, port, lines = sec
        self.assertNotEqual(port, 0, "%s rejected:\n%s" % (kind, self.last))
        self.assertIn("a=sendonly", lines, self.last)
        names = [line.split()[1].split("/")[0].lower() for line in lines
                 if line.startswith("a=rtpmap:")]
        self.assertTrue(names and set(names) <= codecs, "%s formats %s:\n%s"
                        % (kind, names, self.last))

    def assertSendsNothing(self, sec, what):
        kind, port, lines = sec
        self.assertTrue(port == 0 or "a=inactive" in lines, "%s: %s answered:\n%s"
                        % (what, kind, self.last))
        self.assertNotIn("a=sendonly", lines, self.last)

    def test_bundle_only_sections_count_as_offered(self):
        # video first, audio bundle-only: what the dashboard's Firefox sends
        secs = self.answer([section("video", "0"), section("audio", "1", bundle_only=True)])
        self.assertEqual([k for k, _, _ in secs], ["video", "audio"], self.last)
        self.assertAccepted(secs[0], {"h264"})
        self.assertAccepted(secs[1], {"pcmu", "pcma", "opus"})
        self.assertIn("BUNDLE 0 1", sdp_attr(self.last, "group"), self.last)
        # audio first, video bundle-only
        secs = self.answer([section("audio", "0"), section("video", "1", bundle_only=True)])
        self.assertEqual([k for k, _, _ in secs], ["audio", "video"], self.last)
        self.assertAccepted(secs[1], {"h264"})

    def test_video_that_cannot_receive_is_skipped(self):
        for direction in ("sendonly", "inactive"):
            with self.subTest(direction):
                r = self.answer([section("video", "0", direction), section("audio", "1")],
                                status=400)
                message = r.error()[1] or ""
                self.assertIn("recvonly", message, r)
                self.assertIn("sendrecv", message, r)
        # a sendonly video section, then a recvonly one: the second is answered
        secs = self.answer([section("video", "0", "sendonly"), section("video", "1"),
                            section("audio", "2")])
        self.assertSendsNothing(secs[0], "a sendonly video section")
        self.assertAccepted(secs[1], {"h264"})
        self.assertAccepted(self.answer([section("video", "0", "sendrecv")])[0], {"h264"})

    def test_audio_that_cannot_receive_is_answered_inactive(self):
        for direction in ("sendonly", "inactive"):
            with self.subTest(direction):
                secs = self.answer([section("video", "0"), section("audio", "1", direction)])
                self.assertAccepted(secs[0], {"h264"})
                self.assertIn("a=inactive", secs[1][2], self.last)
                self.assertNotIn("a=sendonly", secs[1][2], self.last)

    def test_offer_without_bundle_gets_the_first_usable_video_only(self):
        secs = self.answer([section("video", "0"), section("video", "1"),
                            section("audio", "2")], bundle=False)
        self.assertEqual(sdp_attr(self.last, "group"), [], self.last)
        self.assertAccepted(secs[0], {"h264"})
        self.assertEqual([p for _, p, _ in secs[1:]], [0, 0], self.last)
        # the first usable: a VP8-only section first
        secs = self.answer([section("video", "0", video=((96, "VP8", None),)),
                            section("video", "1")], bundle=False)
        self.assertEqual(sdp_attr(self.last, "group"), [], self.last)
        self.assertEqual(secs[0][1], 0, self.last)
        self.assertAccepted(secs[1], {"h264"})

    def test_video_without_mid_is_400(self):
        for bundle in (True, False):
            with self.subTest(bundle=bundle):
                self.answer([section("video", None), section("audio", "1")], bundle=bundle,
                            status=400)
        self.assertEqual(self.metric(self.cam, "camstream_webrtc_sessions"), 0)


# ---- loss -----------------------------------------------------------------------------------

class Loss(WebrtcCase):
    def test_dropped_packets_are_recovered_by_nack(self):
        cam = self.start_camstream()
        proxy = LossProxy(cam.webrtc_port, every=0)
        self.addCleanup(proxy.close)
        c = self.playing(cam, whep_path(self.camera("smpte")), via=("127.0.0.1", proxy.port),
                         frames=25)
        rtx = "rtx/90000" in c.answer
        before = self.webrtc_metrics(cam)
        proxy.set_every(20)
        t0 = time.monotonic()
        elapsed = 6.0
        c.wait_frames(10 ** 9, elapsed)    # a window of 6 s with 5 % loss
        proxy.set_every(0)
        # the last losses get their chance to come back
        wait_until(lambda: len(proxy.resent) >= len(proxy.dropped), 2.0)
        after = self.webrtc_metrics(cam)
        st = proxy.stats()
        rate = c.count_between(t0, t0 + elapsed) / elapsed
        d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        self.note("%d of %d media packets dropped, %d came again; NACKed %d, retransmitted %d, "
                  "PLI %d, key resends %d; %.1f pictures/s" % (
                      st["dropped"], st["media"], st["resent"],
                      d.get("camstream_webrtc_nacks_received_total", 0),
                      d.get("camstream_webrtc_retransmits_total", 0),
                      d.get("camstream_webrtc_plis_received_total", 0),
                      d.get("camstream_webrtc_key_resends_total", 0), rate))
        self.assertGreaterEqual(st["dropped"], 10, "the proxy dropped too little: %s" % st)
        self.assertGreaterEqual(d.get("camstream_webrtc_nacks_received_total", 0),
                                st["dropped"] * 0.8, d)
        self.assertGreaterEqual(d.get("camstream_webrtc_retransmits_total", 0),
                                st["dropped"] * 0.8, d)
        if not rtx:
            self.assertGreaterEqual(st["resent"], st["dropped"] * 0.9,
                                    "dropped packets that never came again: %s" % st)
        self.assertGreaterEqual(rate, FPS * 0.8)
        self.assertEqual(c.sizes, {SIZE})

    def test_nack_flood_is_bounded_by_the_retransmit_budget(self):
        # one packet is resent once per NACK packet at most, only for the session's video
        # SSRC, and no more than the originals sent plus 512 over any window; the proxy
        # drops nothing: it sees each packet's SSRC and sequence number on the wire
        cam = self.start_camstream()
        proxy = LossProxy(cam.webrtc_port, every=0)
        self.addCleanup(proxy.close)
        c = self.playing(cam, whep_path(self.camera("smpte")), via=("127.0.0.1", proxy.port),
                         audio=False, frames=25)
        ssrc = c.video_ssrc()
        seqs = proxy.sequence(ssrc, older_than=0.2)
        self.assertGreaterEqual(len(seqs), 20, proxy.stats())
        # 1: a NACK naming another media SSRC, then one naming packet x twice
        x = seqs[-1]
        before = self.webrtc_metrics(cam)
        repeats = len(proxy.repeats)
        c.send_rtcp(rtcp_nack(ssrc ^ 0x5A5A5A5A, [(q, 0xFFFF) for q in seqs[-20::17]]),
                    rtcp_nack(ssrc, [(x, 0), (x, 0)]))
        self.assertTrue(wait_until(lambda: (ssrc, x) in proxy.repeats[repeats:], 3.0),
                        "packet %d never came again: %s" % (x, proxy.stats()))
        ok, _, _ = self.wait_metric(cam, "camstream_webrtc_retransmits_refused_total",
                                    lambda v: v >= before.get(
                                        "camstream_webrtc_retransmits_refused_total", 0) + 1,
                                    2.0)
        after = self.webrtc_metrics(cam)
        self.assertEqual(proxy.repeats[repeats:], [(ssrc, x)],
                         "resent: a NACK of another SSRC, or x twice")
        self.assertEqual(after["camstream_webrtc_retransmits_total"]
                         - before["camstream_webrtc_retransmits_total"], 1, after)
        self.assertTrue(ok, "x named twice in one packet: no refusal counted %s" % after)
        # 2: a flood: every 40 ms a NACK of 300 entries naming the last ~1000 packets five
        # times over, for 2.4 s, while /api/health is asked on another thread
        health, stop = [], threading.Event()

        def probe():
            while not stop.is_set():
                t = time.monotonic()
                try:
                    status = http_get(cam.port, "/api/health", timeout=5.0).status
                except OSError as e:
                    status = repr(e)
                health.append((status, time.monotonic() - t))
                stop.wait(0.05)
        prober = threading.Thread(target=probe, daemon=True)
        before = self.webrtc_metrics(cam)
        wire0 = proxy.stats()
        prober.start()
        self.addCleanup(stop.set)
        t0 = time.monotonic()
        for _ in range(60):
            last = proxy.sequence(ssrc)[-1]
            fci = [((last - 16 - 17 * k) & 0xFFFF, 0xFFFF) for k in range(60)] * 5
            c.send_rtcp(rtcp_nack(ssrc, fci))
            time.sleep(0.04)   # pacing, past the 30 ms a packet is not resent again in
        flood = time.monotonic() - t0
        # RTCP is handled in order: once the PLI sent after the flood is counted, so is the
        # flood
        plis = before["camstream_webrtc_plis_received_total"]
        c.send_pli()
        ok, _, _ = self.wait_metric(cam, "camstream_webrtc_plis_received_total",
                                    lambda v: v >= plis + 1, 5.0)
        self.assertTrue(ok, "the PLI after the flood was never counted")
        after = self.webrtc_metrics(cam)
        wire1 = proxy.stats()
        stop.set()
        prober.join(10.0)
        d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        rtx = d.get("camstream_webrtc_retransmits_total", 0)
        refused = d.get("camstream_webrtc_retransmits_refused_total", 0)
        # packets_sent_total counts the retransmits too (its HELP says so); no sound here
        sent = d.get("camstream_webrtc_packets_sent_total", 0) - rtx
        # and on the wire, as the proxy saw them in its own window
        wire_sent = wire1["originals"] - wire0["originals"]
        wire_resent = wire1["repeats"] - wire0["repeats"]
        slow = max(t for _, t in health) if health else None
        self.note("60 NACKs (300 entries, 18000 names) in %.1f s: %d originals sent, %d "
                  "retransmits, %d refused, %d send failures; on the wire %d and %d; "
                  "/api/health %d times, the slowest %.0f ms" % (
                      flood, sent, rtx, refused,
                      d.get("camstream_webrtc_send_failures_total", 0), wire_sent,
                      wire_resent, len(health), 1000 * (slow or 0)))
        self.assertGreater(rtx, 0, "no retransmit at all: the test measures nothing")
        self.assertLessEqual(rtx, sent + 512, "retransmits over the budget: %s" % d)
        self.assertLessEqual(wire_resent, wire_sent + 512, "packets seen again on the wire")
        self.assertGreater(refused, 0, d)
        self.assertGreaterEqual(len(health), 10, health)
        self.assertEqual({st for st, _ in health}, {200}, health)
        self.assertPlaysOn(c, 1.0)
        self.assertEqual(c.sizes, {SIZE})

    def test_pli_is_answered_with_the_cached_key_picture(self):
        cam = self.start_camstream()
        c = self.playing(cam, whep_path(self.camera()))
        before = self.webrtc_metrics(cam)
        for _ in range(3):
            c.send_pli()
            self.assertGreaterEqual(c.wait_more_frames(3, 5.0), 3, c.describe())
        ok, value, _ = self.wait_metric(cam, "camstream_webrtc_plis_received_total",
                                        lambda v: v >= before["camstream_webrtc_plis_received_total"]
                                        + 3, 5.0)
        self.assertTrue(ok, "PLIs counted: %s" % value)
        after = self.webrtc_metrics(cam)
        self.note("3 PLIs: key resends +%d" % (after["camstream_webrtc_key_resends_total"]
                                                - before["camstream_webrtc_key_resends_total"]))
        self.assertGreaterEqual(after["camstream_webrtc_key_resends_total"],
                                before["camstream_webrtc_key_resends_total"] + 1, after)
        self.assertPlaysOn(c, 1.0)
        self.assertEqual(c.sizes, {SIZE})

    def test_client_gone_silent_ends_after_consent_freshness(self):
        # and (RFC 7675) checks from another address without USE-CANDIDATE, with the right
        # credentials, are answered but do not keep it alive: only its media address does
        cam = self.start_camstream()
        other = self.playing(cam, whep_path(self.camera()))
        proxy = LossProxy(cam.webrtc_port, every=0)
        self.addCleanup(proxy.close)
        silent = self.playing(cam, whep_path(self.camera()), via=("127.0.0.1", proxy.port))
        timeouts = self.metric(cam, "camstream_webrtc_timeouts_total")
        self.assertEqual(self.metric(cam, "camstream_webrtc_sessions"), 2)
        proxy.blackhole()
        gone = time.monotonic()
        checker = ConsentChecker(
            cam.webrtc_port, "%s:%s" % (sdp_attr(silent.answer, "ice-ufrag")[0],
                                        sdp_attr(silent.offer, "ice-ufrag")[0]),
            sdp_attr(silent.answer, "ice-pwd")[0], host="127.0.0.2", interval=2.0)
        self.addCleanup(checker.close)
        ok, value, _ = self.wait_metric(cam, "camstream_webrtc_sessions", lambda v: v <= 1,
                                        CONSENT + SLACK + 2)
        took = time.monotonic() - gone
        checker.close()
        self.note("silent client's session ended %.1f s after it went silent; %d checks from "
                  "%s:%d meanwhile, %d answered" % (took, checker.sent, *checker.address,
                                                    checker.successes))
        self.assertGreaterEqual(checker.successes, min(5, checker.sent - 1),
                                "the checks from another address were not answered")
        self.assertTrue(ok, "camstream_webrtc_sessions %s %.0f s after a client went silent"
                        % (value, took))
        self.assertGreaterEqual(took, CONSENT - 5 - 1, "ended before the consent deadline")
        self.assertEqual(self.metric(cam, "camstream_webrtc_timeouts_total"), timeouts + 1)
        self.assertPlaysOn(other, 1.0, what="the other client")


# ---- faults ---------------------------------------------------------------------------------

class Faults(WebrtcCase):
    def udp(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        self.addCleanup(s.close)
        return s

    def wait_dropped(self, cam, at_least):
        self.wait_metric(cam, "camstream_webrtc_dropped_total", lambda v: v >= at_least, 2.0)

    def drain(self, sock, timeout=0.5):
        """Datagrams that came to @sock until none came for @timeout."""
        out = []
        sock.settimeout(timeout)
        while True:
            try:
                out.append(sock.recv(65536))
            except socket.timeout:
                return out

    def test_garbage_datagrams_are_dropped_and_counted(self):
        cam = self.start_camstream()
        c = self.playing(cam, whep_path(self.camera()))
        dropped = self.metric(cam, "camstream_webrtc_dropped_total")
        kernel = udp_drops(cam.webrtc_port)
        s = self.udp()
        sent = 0
        for i in range(3000):
            first = i % 256
            size = (1, 2, 12, 20, 21, 100, 1200, 1500, 4000)[i % 9]
            data = bytes([first]) + os.urandom(size - 1)
            s.sendto(data, ("127.0.0.1", cam.webrtc_port))
            sent += 1
            if sent % 50 == 0:
                # in bursts the socket's buffer holds: what the kernel drops is not counted
                self.wait_dropped(cam, dropped + sent - (udp_drops(cam.webrtc_port) - kernel))
            if sent % 500 == 0:
                self.assertGreaterEqual(c.wait_more_frames(1, 2.0), 1, c.describe())
        s.sendto(b"", ("127.0.0.1", cam.webrtc_port))
        sent += 1
        ok, value, _ = self.wait_metric(
            cam, "camstream_webrtc_dropped_total",
            lambda v: v >= dropped + sent - (udp_drops(cam.webrtc_port) - kernel), 5.0)
        lost = udp_drops(cam.webrtc_port) - kernel
        self.note("%d datagrams sent, %d lost in the kernel, dropped_total +%d"
                  % (sent, lost, value - dropped))
        self.assertTrue(ok, "dropped_total grew by %d for %d garbage datagrams (%d of them lost "
                        "in the kernel)" % (value - dropped, sent, lost))
        self.assertLess(lost, sent / 10, "the kernel dropped most: the test measures nothing")
        self.assertEqual(self.drain(s, 0.3), [], "camstream answered garbage")
        self.assertPlaysOn(c, 1.0)
        self.assertEqual(self.metric(cam, "camstream_webrtc_sessions"), 1)

    def test_stun_flood_with_bad_integrity_and_unknown_names_gets_no_success(self):
        cam = self.start_camstream()
        c = self.playing(cam, whep_path(self.camera()))
        # a session of our own: its ufrag is known, its password not to the flood
        r = post_offer(cam.port, whep_path(self.camera()), offer_sdp()[0])
        self.assertEqual(r.status, 201, r)
        server_ufrag = sdp_attr(r.text(), "ice-ufrag")[0]
        dropped = self.metric(cam, "camstream_webrtc_dropped_total")
        kernel = udp_drops(cam.webrtc_port)
        s = self.udp()
        kinds = [
            lambda: binding_request(server_ufrag + ":x", "not-the-password"),
            lambda: binding_request("nosuchufrag:x", "whatever-password"),
            lambda: binding_request(server_ufrag + ":x", None),
            lambda: binding_request("", "pw"),
            lambda: binding_request("x" * 500 + ":y", "pw"),
        ]
        sent = 0
        t0 = time.monotonic()
        for i in range(5000):
            data, _ = kinds[i % len(kinds)]()
            s.sendto(data, ("127.0.0.1", cam.webrtc_port))
            sent += 1
            if sent % 250 == 0:
                self.wait_dropped(cam, dropped + sent - (udp_drops(cam.webrtc_port) - kernel))
        took = time.monotonic() - t0
        answers = self.drain(s, 0.5)
        successes = [a for a in answers if stun_is_success(parse_stun(a))]
        self.assertEqual(successes, [], "binding successes for bad requests")
        lost = udp_drops(cam.webrtc_port) - kernel
        ok, value, _ = self.wait_metric(cam, "camstream_webrtc_dropped_total",
                                        lambda v: v >= dropped + sent - lost, 5.0)
        self.note("%d bad binding requests in %.2f s, %d lost in the kernel; %d answers, "
                  "dropped_total +%d" % (sent, took, lost, len(answers), value - dropped))
        self.assertTrue(ok, "dropped_total grew by %d for %d bad requests"
                        % (value - dropped, sent))
        self.assertPlaysOn(c, 1.0)

    def test_dtls_handshake_never_finished_ends_by_the_deadline(self):
        cam = self.start_camstream()
        c = self.playing(cam, whep_path(self.camera()))
        hello, fingerprint = dtls_client_hello()
        sdp, ufrag, _ = offer_sdp(fingerprint=fingerprint)
        r = post_offer(cam.port, whep_path(self.camera()), sdp)
        self.assertEqual(r.status, 201, r)
        answer = r.text()
        server_ufrag = sdp_attr(answer, "ice-ufrag")[0]
        server_pwd = sdp_attr(answer, "ice-pwd")[0]
        timeouts = self.metric(cam, "camstream_webrtc_timeouts_total")
        s = self.udp()
        req, tid = binding_request(server_ufrag + ":" + ufrag, server_pwd)
        s.sendto(req, ("127.0.0.1", cam.webrtc_port))
        first_check = time.monotonic()
        s.settimeout(2.0)
        data = s.recv(65536)
        msg = parse_stun(data)
        self.assertTrue(stun_is_success(msg) and msg.transaction_id == tid,
                        "no binding success: %r" % data[:100])
        self.assertTrue(stun_integrity_ok(data, server_pwd), "the success's integrity")
        self.assertEqual(msg.attributes.get("XOR-MAPPED-ADDRESS"), s.getsockname())
        for d in hello:
            s.sendto(d, ("127.0.0.1", cam.webrtc_port))
        reply = self.drain(s, 1.0)
        self.assertTrue(reply and 20 <= reply[0][0] <= 63, "no DTLS answer to the ClientHello: "
                        "%r" % [a[:16] for a in reply])
        self.assertEqual(self.metric(cam, "camstream_webrtc_sessions"), 2)
        ok, value, _ = self.wait_metric(cam, "camstream_webrtc_sessions", lambda v: v <= 1,
                                        DTLS_DEADLINE + SLACK)
        took = time.monotonic() - first_check
        self.note("session with an unfinished handshake ended %.1f s after its first binding "
                  "request" % took)
        self.assertTrue(ok, "camstream_webrtc_sessions %s %.1f s after the first binding "
                        "request" % (value, took))
        self.assertGreaterEqual(took, DTLS_DEADLINE - 1.0, "ended before the deadline")
        self.assertEqual(self.metric(cam, "camstream_webrtc_timeouts_total"), timeouts + 1)
        self.assertPlaysOn(c, 1.0)

    def abandon(self, cam, c, n):
        """Opens @n sessions nobody contacts and waits until the ICE deadline ended them all,
        while @c plays on. Returns (fds, RssAnon kB) at the peak."""
        timeouts = self.metric(cam, "camstream_webrtc_timeouts_total")
        t0 = time.monotonic()
        for i in range(n):
            r = post_offer(cam.port, "/api/streams/cam1/whep", offer_sdp()[0])
            self.assertEqual(r.status, 201, "session %d: %r" % (i, r))
        posted = time.monotonic()
        self.assertEqual(self.metric(cam, "camstream_webrtc_sessions"), n + 1)
        peak = cam.fd_count(), cam.rss_kb("RssAnon")
        self.assertPlaysOn(c, 1.0, what="the client playing meanwhile")
        ok, value, _ = self.wait_metric(cam, "camstream_webrtc_sessions", lambda v: v == 1,
                                        ICE_DEADLINE + SLACK + (posted - t0))
        gone = time.monotonic()
        self.note("%d sessions posted in %.1f s, the last gone %.1f s after" % (
            n, posted - t0, gone - posted))
        self.assertTrue(ok, "camstream_webrtc_sessions %s after the ICE deadline" % value)
        self.assertGreaterEqual(gone - t0, ICE_DEADLINE - 1.0, "ended before the deadline")
        self.assertEqual(self.metric(cam, "camstream_webrtc_timeouts_total"), timeouts + n)
        return peak

    def test_abandoned_sessions_end_by_the_deadline_fds_and_memory_back(self):
        config = self.write_streams_config([{"name": "cam1", "rtsp_url": self.camera()}])
        cam = self.start_camstream("--config", config, "--max-clients", str(ABANDONED + 20))
        c = self.playing(cam, "/api/streams/cam1/whep", frames=25)
        fds0, rss0 = cam.fd_count(), cam.rss_kb("RssAnon")
        # the first round: the allocator keeps some of what it got back (glibc's arenas)
        peak1 = self.abandon(cam, c, ABANDONED)
        self.assertTrue(wait_until(lambda: cam.fd_count() <= fds0, 5.0),
                        "fds %d, %d before" % (cam.fd_count(), fds0))
        fds1, rss1 = cam.fd_count(), cam.rss_kb("RssAnon")
        # the second round reuses that memory: it must end where the first ended
        peak2 = self.abandon(cam, c, ABANDONED)
        self.assertTrue(wait_until(lambda: cam.fd_count() <= fds0, 5.0),
                        "fds %d, %d before" % (cam.fd_count(), fds0))
        rss2 = cam.rss_kb("RssAnon")
        self.note("fds %d -> %d -> %d -> %d -> %d; RssAnon %d -> %d -> %d -> %d -> %d kB" % (
            fds0, peak1[0], fds1, peak2[0], cam.fd_count(), rss0, peak1[1], rss1, peak2[1],
            rss2))
        if cam.sanitized():
            # ASan keeps freed memory in quarantine: RSS says nothing there; LeakSanitizer
            # reports at exit what was never freed, and the exit code says so
            self.note("AddressSanitizer: RSS not compared")
        else:
            self.assertLessEqual(rss2, rss1 + 1024, "memory grew by %d kB over a second round "
                                 "of %d abandoned sessions" % (rss2 - rss1, ABANDONED))
        self.assertPlaysOn(c, 1.0, what="the client playing meanwhile")
        self.assertEqual(c.sizes, {SIZE})

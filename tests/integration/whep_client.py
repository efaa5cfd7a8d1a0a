"""whep_client: a WHEP client (WebRTC-HTTP Egress Protocol) on Debian's python3-aiortc 1.4, an
independent implementation of everything camstream's WebRTC output speaks (ICE, DTLS-SRTP,
RTP/RTCP with NACK and PLI, H.264 depacketising and decoding through PyAV), plus the pieces the
fault tests need without aiortc: a hand-made SDP offer, STUN binding requests, a UDP proxy
that loses packets.

    c = WhepClient(port, "/whep?rtsp_url=...").connect()   # POST the offer, apply the answer
    c.wait_frames(25, timeout=15)                          # decoded pictures
    c.width, c.height, c.frames
    c.delete()                                             # DELETE the Location
    c.close()

aiortc runs on one asyncio loop in a background thread shared by every client of the process;
the methods here are synchronous and every wait has a deadline. Use /usr/bin/python3 (the
Debian python that has python3-aiortc).
"""

import asyncio
import datetime
import hashlib
import http.client
import json
import os
import re
import selectors
import socket
import struct
import threading
import time

import aioice.ice
import aioice.stun
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.codecs import CODECS
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtcpByePacket, RtcpPacket
from aiortc.rtcrtpparameters import RTCRtcpFeedback, RTCRtpCodecParameters
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto

SDP_TYPE = "application/sdp"
SESSION_RE = re.compile(r"^/whep/session/([0-9a-f]{32})(?:\?(?:name|rtsp_url)=[^&\s]+)?$")


# ---- aiortc's set-up ------------------------------------------------------------------------

def _loopback_only(use_ipv4=True, use_ipv6=False):
    # aioice leaves 127.0.0.1 out of its host candidates; camstream runs on 127.0.0.1 in the
    # tests, and a candidate on another interface would only make the checks depend on routing
    return ["127.0.0.1"] if use_ipv4 else []


aioice.ice.get_host_addresses = _loopback_only


def _offer_high_profile():
    """aiortc offers H.264 Constrained Baseline only (42001f, 42e01f); browsers offer Main and
    High as well, and a camera's High stream is answered with its own profile. Add High
    (64001f) so the client accepts what a browser would."""
    if any(c.parameters.get("profile-level-id") == "64001f" for c in CODECS["video"]):
        return
    used = {c.payloadType for c in CODECS["video"]}
    pt = next(p for p in range(120, 128) if p not in used and p + 1 not in used)
    CODECS["video"] += [
        RTCRtpCodecParameters(
            mimeType="video/H264", clockRate=90000, payloadType=pt,
            rtcpFeedback=[RTCRtcpFeedback(type="nack"),
                          RTCRtcpFeedback(type="nack", parameter="pli"),
                          RTCRtcpFeedback(type="goog-remb")],
            parameters={"level-asymmetry-allowed": "1", "packetization-mode": "1",
                        "profile-level-id": "64001f"}),
        RTCRtpCodecParameters(mimeType="video/rtx", clockRate=90000, payloadType=pt + 1,
                              parameters={"apt": pt}),
    ]


class _Loop:
    """One asyncio loop in a daemon thread; run(coro, timeout) from any other thread."""

    _instance = None
    _lock = threading.Lock()

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="aiortc", daemon=True)
        self.thread.start()

    @classmethod
    def get(cls):
        with cls._lock:
            if cls._instance is None:
                _offer_high_profile()
                cls._instance = cls()
            return cls._instance

    def run(self, coro, timeout):
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except TimeoutError:
            fut.cancel()
            raise AssertionError("aiortc: %s did not finish within %.1f s"
                                 % (getattr(coro, "__name__", coro), timeout)) from None

    def call(self, fn, *args):
        self.loop.call_soon_threadsafe(fn, *args)


# ---- HTTP -----------------------------------------------------------------------------------

class Reply:
    """An HTTP answer: status, headers (lower-case names), body, and how long it took."""

    def __init__(self, method, path, status, headers, body, took):
        self.method, self.path = method, path
        self.status, self.headers, self.body, self.took = status, headers, body, took

    @property
    def content_type(self):
        return (self.headers.get("content-type") or "").split(";")[0].strip().lower()

    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def error(self):
        """(code, message) of a JSON error, the nested {"error": {"code", "message"}} or the
        flat {"error": text, "code": code}; (None, None) if the body is neither."""
        try:
            doc = self.json()
        except ValueError:
            return None, None
        if not isinstance(doc, dict):
            return None, None
        err = doc.get("error")
        if isinstance(err, dict):
            return err.get("code"), err.get("message")
        return doc.get("code"), err

    def __repr__(self):
        return "%s %s -> %s %s (%d bytes in %.2f s) %r" % (
            self.method, self.path, self.status, self.content_type, len(self.body), self.took,
            self.body[:400])


def request(port, method, path, body=None, headers=None, timeout=20.0, host="127.0.0.1"):
    """One request on its own connection."""
    if isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Reply(method, path, r.status, {k.lower(): v for k, v in r.getheaders()}, data,
                     time.monotonic() - t0)
    finally:
        conn.close()


def post_offer(port, path, sdp, content_type=SDP_TYPE, headers=None, timeout=20.0):
    """POST @sdp to @path with @content_type (None: no Content-Type header)."""
    h = dict(headers or {})
    if content_type is not None:
        h["Content-Type"] = content_type
    return request(port, "POST", path, sdp, h, timeout)


# ---- SDP ------------------------------------------------------------------------------------

def random_token(n):
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
    return "".join(alphabet[b % 64] for b in os.urandom(n))


def fake_fingerprint():
    return ":".join("%02X" % b for b in os.urandom(32))


H264_CB = ("video/H264", "level-asymmetry-allowed=1;packetization-mode=1;"
           "profile-level-id=42e01f")
H264_CB_PT = (102, "H264", H264_CB[1])


def offer_sdp(ufrag=None, pwd=None, fingerprint=None, video=((102, "H264", "level-asymmetry-"
              "allowed=1;packetization-mode=1;profile-level-id=42e01f"),), audio=True,
              sections=None, bundle=True):
    """A browser-like recvonly offer written by hand (no ICE agent behind it): BUNDLE of a
    video section with @video codecs [(pt, name, fmtp or None)] and, with @audio, an Opus and
    PCMU audio section. @sections (made by section()) replaces that pair: any kinds, order,
    directions, mids and bundle-only; without @bundle no a=group:BUNDLE line. Returns (sdp,
    ufrag, pwd)."""
    ufrag = ufrag or random_token(8)
    pwd = pwd or random_token(24)
    fingerprint = fingerprint or fake_fingerprint()
    if sections is None:
        sections = [section("video", "0", video=video)]
        if audio:
            sections.append(section("audio", "1"))
    mids = [s["mid"] for s in sections if s["mid"] is not None]
    lines = ["v=0", "o=- %d 2 IN IP4 127.0.0.1" % int.from_bytes(os.urandom(6), "big"), "s=-",
             "t=0 0"]
    if bundle:
        lines.append("a=group:BUNDLE " + " ".join(mids))
    lines.append("a=msid-semantic: WMS")
    for sec in sections:
        lines += _offer_section(sec, ufrag, pwd, fingerprint)
    return "\r\n".join(lines) + "\r\n", ufrag, pwd


def section(kind, mid, direction="recvonly", bundle_only=False, video=(H264_CB_PT,)):
    """One media section of offer_sdp(sections=...): @kind "video" (with @video codecs) or
    "audio" (Opus and PCMU); @mid None leaves a=mid out; @bundle_only: port 0 and
    a=bundle-only, as Firefox's max-bundle offers the sections after the first."""
    return {"kind": kind, "mid": mid, "direction": direction, "bundle_only": bundle_only,
            "video": video}


def _offer_section(sec, ufrag, pwd, fingerprint):
    port = 0 if sec["bundle_only"] else 9
    if sec["kind"] == "video":
        fmts = " ".join(str(pt) for pt, _, _ in sec["video"])
    else:
        fmts = "111 0"
    lines = ["m=%s %d UDP/TLS/RTP/SAVPF %s" % (sec["kind"], port, fmts),
             "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0", "a=ice-ufrag:" + ufrag,
             "a=ice-pwd:" + pwd, "a=ice-options:trickle",
             "a=fingerprint:sha-256 " + fingerprint, "a=setup:actpass"]
    if sec["mid"] is not None:
        lines.append("a=mid:" + sec["mid"])
    if sec["bundle_only"]:
        lines.append("a=bundle-only")
    lines += ["a=" + sec["direction"], "a=rtcp-mux"]
    if sec["kind"] == "video":
        lines.append("a=rtcp-rsize")
        for pt, name, fmtp in sec["video"]:
            lines.append("a=rtpmap:%d %s/90000" % (pt, name))
            lines += ["a=rtcp-fb:%d nack" % pt, "a=rtcp-fb:%d nack pli" % pt,
                      "a=rtcp-fb:%d ccm fir" % pt]
            if fmtp:
                lines.append("a=fmtp:%d %s" % (pt, fmtp))
    else:
        lines += ["a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1",
                  "a=rtpmap:0 PCMU/8000"]
    return lines


def sdp_attr(sdp, name):
    """Values of a=@name: lines, in order."""
    prefix = "a=%s:" % name
    return [line[len(prefix):].strip() for line in sdp.splitlines() if line.startswith(prefix)]


def media_sections(sdp):
    """[(m= line, [lines of the section])]"""
    out = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            out.append((line, []))
        elif out:
            out[-1][1].append(line)
    return out


def candidates(sdp):
    """[(transport, address, port, type)] of the a=candidate lines."""
    out = []
    for value in sdp_attr(sdp, "candidate"):
        f = value.split()
        if len(f) >= 8 and f[6] == "typ":
            out.append((f[2].lower(), f[4], int(f[5]), f[7]))
    return out


def rewrite_candidates(sdp, host, port):
    """@sdp with every candidate's address and port replaced (to send through a proxy)."""
    def fix(m):
        f = m.group(1).split(" ")
        f[4], f[5] = host, str(port)
        return "a=candidate:" + " ".join(f)
    return re.sub(r"(?m)^a=candidate:([^\r\n]*)", fix, sdp)


# ---- the client -----------------------------------------------------------------------------

class WhepError(AssertionError):
    def __init__(self, reply):
        super().__init__("WHEP POST refused: %r" % reply)
        self.reply = reply


class WhepClient:
    """A recvonly peer of camstream's WHEP endpoint @path on 127.0.0.1:@port.

    connect() makes the offer (video and, with @audio, audio), POSTs it and applies the answer,
    its candidates rewritten to @via (host, port) when given (a proxy). Decoded video frames
    are counted as they come (frames, frame_times, width, height, sizes)."""

    def __init__(self, port, path, audio=True, headers=None, via=None, timeout=20.0):
        self.port, self.path, self.audio = port, path, audio
        self.headers = headers or {}
        self.via = via
        self.timeout = timeout
        self.loop = _Loop.get()
        self.pc = None
        self.offer = None
        self.reply = None          # the POST's Reply
        self.answer = None         # the answer as received
        self.location = None
        self.session_id = None
        self.frames = 0
        self.frame_times = []
        self.sizes = set()
        self.width = self.height = None
        self.first_frame_at = None
        self.audio_frames = 0
        self.states = []           # connectionState changes, in order
        self.dtls_states = []      # the DTLS transport's state changes, in order
        self.byes = []             # (monotonic, [SSRCs]) of each RTCP BYE received
        self.rtp_ssrcs = {}        # SSRC -> RTP packets received (decrypted)
        self.errors = []
        self._cond = threading.Condition()
        self._tasks = []
        self.closed = False

    # -- on the loop

    async def _make_offer(self):
        pc = RTCPeerConnection()
        self.pc = pc
        pc.addTransceiver("video", direction="recvonly")
        if self.audio:
            pc.addTransceiver("audio", direction="recvonly")

        @pc.on("connectionstatechange")
        def on_state():
            with self._cond:
                self.states.append(pc.connectionState)
                self._cond.notify_all()

        @pc.on("track")
        def on_track(track):
            self._tasks.append(asyncio.ensure_future(self._consume(track)))

        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp

    async def _consume(self, track):
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            except Exception as e:  # noqa: BLE001 - kept for the report
                with self._cond:
                    self.errors.append(repr(e))
                    self._cond.notify_all()
                return
            now = time.monotonic()
            with self._cond:
                if track.kind == "video":
                    self.frames += 1
                    self.frame_times.append(now)
                    self.width, self.height = frame.width, frame.height
                    self.sizes.add((frame.width, frame.height))
                    if self.first_frame_at is None:
                        self.first_frame_at = now
                else:
                    self.audio_frames += 1
                self._cond.notify_all()

    async def _apply(self, sdp):
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        # the transports left after BUNDLE; DTLS starts on the loop's next turn, so nothing
        # has happened on them yet
        for dtls in {t._transport for t in self.pc.getTransceivers()}:
            self._watch(dtls)

    def _watch(self, dtls):
        """Records @dtls's state changes, the RTCP BYEs and the RTP SSRCs it receives.
        aiortc 1.4 ends its DTLS transport on a close_notify (state "closed") but its
        connectionState stays "connected" while ICE is: the DTLS state is what says so."""
        @dtls.on("statechange")
        def on_dtls_state():
            with self._cond:
                self.dtls_states.append(dtls.state)
                self._cond.notify_all()

        rtcp, rtp = dtls._handle_rtcp_data, dtls._handle_rtp_data

        async def on_rtcp(data):
            try:
                byes = [p for p in RtcpPacket.parse(data) if isinstance(p, RtcpByePacket)]
            except ValueError:
                byes = []
            if byes:
                with self._cond:
                    self.byes.append((time.monotonic(), [x for p in byes for x in p.sources]))
                    self._cond.notify_all()
            await rtcp(data)

        async def on_rtp(data, arrival_time_ms):
            if len(data) >= 12:
                ssrc = int.from_bytes(data[8:12], "big")
                with self._cond:
                    self.rtp_ssrcs[ssrc] = self.rtp_ssrcs.get(ssrc, 0) + 1
            await rtp(data, arrival_time_ms=arrival_time_ms)
        dtls._handle_rtcp_data, dtls._handle_rtp_data = on_rtcp, on_rtp

    async def _close(self):
        if self.pc is not None:
            await self.pc.close()
        for t in self._tasks:
            t.cancel()

    async def _pli(self):
        for t in self.pc.getTransceivers():
            if t.kind == "video":
                ssrcs = [s.source for s in t.receiver.getSynchronizationSources()]
                if not ssrcs:
                    raise AssertionError("no video SSRC seen yet")
                await t.receiver._send_rtcp_pli(ssrcs[0])
                return ssrcs[0]
        raise AssertionError("no video transceiver")

    def send_pli(self):
        """Sends a PLI (RTCP picture loss indication) for the video, as a decoder that lost
        its reference would; returns the SSRC it names."""
        return self.loop.run(self._pli(), 5.0)

    async def _send_rtcp(self, packets):
        dtls = next(iter({t._transport for t in self.pc.getTransceivers()}))
        for data in packets:
            await dtls._send_rtp(data)   # SRTCP-protected, as aiortc's own RTCP

    def send_rtcp(self, *packets):
        """Sends RTCP packets made by hand (e.g. rtcp_nack()) through the client's SRTP
        context, one datagram each."""
        self.loop.run(self._send_rtcp(packets), 5.0)

    def video_ssrc(self):
        """The SSRC of the video the client receives (aiortc's synchronization sources)."""
        for t in self.pc.getTransceivers():
            if t.kind == "video":
                ssrcs = [s.source for s in t.receiver.getSynchronizationSources()]
                assert ssrcs, "no video SSRC seen yet: %s" % self.describe()
                return ssrcs[0]
        raise AssertionError("no video transceiver")

    # -- the steps

    def make_offer(self):
        self.offer = self.loop.run(self._make_offer(), self.timeout)
        return self.offer

    def post(self, content_type=SDP_TYPE, body=None):
        """POSTs the offer (or @body); keeps the Reply, and the Location if 201."""
        if self.offer is None and body is None:
            self.make_offer()
        self.reply = post_offer(self.port, self.path, body if body is not None else self.offer,
                                content_type, self.headers, self.timeout)
        if self.reply.status == 201:
            self.answer = self.reply.text()
            self.location = self.reply.headers.get("location")
            m = SESSION_RE.match(self.location or "")
            self.session_id = m.group(1) if m else None
        return self.reply

    def apply_answer(self, sdp=None):
        sdp = sdp or self.answer
        if self.via is not None:
            sdp = rewrite_candidates(sdp, self.via[0], self.via[1])
        self.loop.run(self._apply(sdp), self.timeout)

    def connect(self):
        """Offer, POST, answer; raises WhepError unless the POST answered 201."""
        r = self.post()
        if r.status != 201:
            raise WhepError(r)
        self.apply_answer()
        return self

    # -- waiting

    def wait_frames(self, n, timeout):
        """Waits until @n video frames in total were decoded; returns the count."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.frames < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self.frames

    def wait_more_frames(self, n, timeout):
        """Waits for @n more frames than now; returns how many came."""
        with self._cond:
            start = self.frames
        return self.wait_frames(start + n, timeout) - start

    def wait_state(self, states, timeout):
        """Waits until connectionState is one of @states; returns it (or the last one)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not (self.states and self.states[-1] in states):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self.states[-1] if self.states else "new"

    def wait_for(self, predicate, timeout):
        """Waits until @predicate(self) holds (checked whenever the client records
        something); returns whether it did."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def count_between(self, t0, t1):
        with self._cond:
            return sum(1 for t in self.frame_times if t0 <= t < t1)

    def describe(self):
        with self._cond:
            return ("WHEP %s: POST %s, session %s, %d video frames %s, %d audio frames, "
                    "states %s, DTLS %s, BYEs %s, RTP SSRCs %s, errors %s" % (
                        self.path, self.reply.status if self.reply else None, self.session_id,
                        self.frames, sorted(self.sizes), self.audio_frames, self.states,
                        self.dtls_states, [b for _, b in self.byes], self.rtp_ssrcs,
                        self.errors))

    # -- ending

    def delete(self, headers=None):
        """DELETE of the Location: the Reply."""
        assert self.location, "no session to delete (%s)" % self.describe()
        return request(self.port, "DELETE", self.location, headers=headers, timeout=10.0)

    def close(self):
        """Closes the peer connection (aiortc sends nothing to say so: no DELETE)."""
        if self.closed:
            return
        self.closed = True
        if self.pc is not None:
            try:
                self.loop.run(self._close(), 10.0)
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass


# ---- STUN by hand ---------------------------------------------------------------------------

def binding_request(username, password=None, controlling=True, use_candidate=True,
                    fingerprint=True):
    """A Binding request as an ICE agent sends it (RFC 8445 §7.1.1): USERNAME, PRIORITY,
    ICE-CONTROLLING, USE-CANDIDATE, MESSAGE-INTEGRITY with @password and FINGERPRINT (without
    @password: no MESSAGE-INTEGRITY, and FINGERPRINT if @fingerprint). Returns (bytes,
    transaction id)."""
    msg = aioice.stun.Message(message_method=aioice.stun.Method.BINDING,
                              message_class=aioice.stun.Class.REQUEST)
    msg.attributes["USERNAME"] = username
    msg.attributes["PRIORITY"] = 0x6E0001FF
    if controlling:
        msg.attributes["ICE-CONTROLLING"] = int.from_bytes(os.urandom(8), "big")
    if use_candidate:
        msg.attributes["USE-CANDIDATE"] = None
    if password is not None:
        msg.add_message_integrity(password.encode())   # adds FINGERPRINT after it too
    elif fingerprint:
        msg.attributes["FINGERPRINT"] = aioice.stun.message_fingerprint(bytes(msg))
    return bytes(msg), msg.transaction_id


def parse_stun(data):
    """The aioice Message in @data, or None if it is not STUN."""
    try:
        return aioice.stun.parse_message(data)
    except ValueError:
        return None


def stun_is_success(msg):
    return (msg is not None and msg.message_method == aioice.stun.Method.BINDING
            and msg.message_class == aioice.stun.Class.RESPONSE)


def stun_integrity_ok(data, password):
    """Whether the MESSAGE-INTEGRITY of the STUN message @data verifies with @password."""
    try:
        aioice.stun.parse_message(data, integrity_key=password.encode())
    except ValueError:
        return False
    return True


class ConsentChecker:
    """Consent checks from an address of its own (@host, a port of its own): an authenticated
    binding request (@username "server:client", the server's @password) every @interval
    seconds, in a thread, without USE-CANDIDATE unless told: what a second ICE agent, or an
    attacker who learnt the credentials, would send. Counts the requests sent and the binding
    successes that come back (their integrity checked)."""

    def __init__(self, server_port, username, password, host="127.0.0.2", interval=2.0,
                 use_candidate=False, server_host="127.0.0.1"):
        self.server = (server_host, server_port)
        self.username, self.password = username, password
        self.interval, self.use_candidate = interval, use_candidate
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.address = self.sock.getsockname()
        self.sent = 0
        self.successes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="consent-checker", daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            data, tid = binding_request(self.username, self.password,
                                        use_candidate=self.use_candidate)
            self.sock.sendto(data, self.server)
            self.sent += 1
            deadline = time.monotonic() + self.interval
            while not self._stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.sock.settimeout(remaining)
                try:
                    answer = self.sock.recv(65536)
                except socket.timeout:
                    break
                except OSError:
                    return
                msg = parse_stun(answer)
                if (stun_is_success(msg) and msg.transaction_id == tid
                        and stun_integrity_ok(answer, self.password)):
                    self.successes += 1
            # the rest of the interval (the request's answer came early)
            self._stop.wait(max(0.0, deadline - time.monotonic()))

    def close(self):
        self._stop.set()
        self._thread.join(self.interval + 2)
        self.sock.close()


# ---- RTCP by hand ---------------------------------------------------------------------------

def rtcp_nack(media_ssrc, fci, sender_ssrc=1):
    """A generic NACK (RFC 4585 §6.2.1, RTPFB FMT 1) naming @media_ssrc with the FCI entries
    @fci [(packet id, bitmask of the 16 following)]."""
    body = struct.pack("!II", sender_ssrc, media_ssrc) + b"".join(
        struct.pack("!HH", pid & 0xFFFF, blp & 0xFFFF) for pid, blp in fci)
    return struct.pack("!BBH", 0x80 | 1, 205, len(body) // 4) + body


# ---- DTLS by hand ---------------------------------------------------------------------------

def dtls_client_hello():
    """The first flight of an OpenSSL DTLS client offering SRTP (a ClientHello record), made
    with pyOpenSSL in memory: (the datagrams to send, the certificate's SHA-256 fingerprint
    as an offer writes it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "whep-test")])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    ctx = SSL.Context(SSL.DTLS_METHOD)
    ctx.use_certificate(crypto.X509.from_cryptography(cert))
    ctx.use_privatekey(crypto.PKey.from_cryptography_key(key))
    ctx.set_tlsext_use_srtp(b"SRTP_AES128_CM_SHA1_80")
    conn = SSL.Connection(ctx, None)
    conn.set_connect_state()
    try:
        conn.do_handshake()
    except SSL.WantReadError:
        pass
    out = []
    while True:
        try:
            out.append(conn.bio_read(65536))
        except SSL.WantReadError:
            break
    fp = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return out, ":".join(fp[i:i + 2] for i in range(0, len(fp), 2))


# ---- a UDP proxy that loses packets ---------------------------------------------------------

def is_rtp_family(data):
    """RFC 7983: first byte 128..191 is RTP or RTCP."""
    return len(data) >= 2 and 128 <= data[0] <= 191


def is_rtcp(data):
    """RFC 5761 §4: RTCP when the second byte (marker and payload type) is 192..223."""
    return is_rtp_family(data) and 192 <= data[1] <= 223


class LossProxy:
    """Relays UDP between one client (the first sender on its front port) and camstream's
    WebRTC port. Of the SRTP media packets (not RTCP) going to the client it drops every
    @every-th while dropping is on (@every 0: none); with blackhole() it relays nothing at all
    from then on. The RTP header is not encrypted in SRTP, so what was dropped and what came
    again afterwards (a retransmission of the same SSRC and sequence number) are recorded."""

    def __init__(self, server_port, server_host="127.0.0.1", every=20):
        self.server = (server_host, server_port)
        self.every = every
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", 0))
        self.back.connect(self.server)
        self.port = self.front.getsockname()[1]
        self.client = None
        self.to_server = 0
        self.to_client = 0
        self.media = 0
        self.dropped = []          # (ssrc, seq, monotonic) of each dropped packet
        self.resent = set()        # (ssrc, seq) dropped and then seen again
        self.originals = 0         # media packets whose (ssrc, seq) came for the first time
        self.repeats = []          # (ssrc, seq) of each media packet that came again
        self.recent = {}           # ssrc -> [(monotonic, seq)] of its last 2048 originals
        self._seen = set()
        self._dropped_keys = set()
        self._lock = threading.Lock()
        self._black = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loss-proxy", daemon=True)
        self._thread.start()

    def set_every(self, every):
        with self._lock:
            self.every = every

    def blackhole(self):
        self._black.set()

    def _run(self):
        sel = selectors.DefaultSelector()
        sel.register(self.front, selectors.EVENT_READ, "front")
        sel.register(self.back, selectors.EVENT_READ, "back")
        while not self._stop.is_set():
            for key, _ in sel.select(0.2):
                try:
                    if key.data == "front":
                        data, addr = self.front.recvfrom(65536)
                        self.client = addr
                        if not self._black.is_set():
                            self.back.send(data)
                            self.to_server += 1
                    else:
                        data = self.back.recv(65536)
                        self._from_server(data)
                except OSError:
                    continue
        sel.close()

    def _from_server(self, data):
        if self.client is None or self._black.is_set():
            return
        if is_rtp_family(data) and not is_rtcp(data) and len(data) >= 12:
            seq = int.from_bytes(data[2:4], "big")
            ssrc = int.from_bytes(data[8:12], "big")
            with self._lock:
                self.media += 1
                key = (ssrc, seq)
                if key in self._seen:
                    self.repeats.append(key)
                else:
                    self._seen.add(key)
                    self.originals += 1
                    recent = self.recent.setdefault(ssrc, [])
                    recent.append((time.monotonic(), seq))
                    if len(recent) > 4096:
                        del recent[:2048]
                if key in self._dropped_keys:
                    self.resent.add(key)
                elif self.every and self.media % self.every == 0:
                    self._dropped_keys.add(key)
                    self.dropped.append((ssrc, seq, time.monotonic()))
                    return
        self.front.sendto(data, self.client)
        self.to_client += 1

    def stats(self):
        with self._lock:
            return {"to_server": self.to_server, "to_client": self.to_client,
                    "media": self.media, "dropped": len(self.dropped),
                    "resent": len(self.resent), "originals": self.originals,
                    "repeats": len(self.repeats)}

    def sequence(self, ssrc, older_than=0.0):
        """[seq] of the originals of @ssrc relayed (oldest first, up to the last 2048),
        those relayed more than @older_than seconds ago."""
        limit = time.monotonic() - older_than
        with self._lock:
            return [seq for t, seq in self.recent.get(ssrc, []) if t <= limit]

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.front.close()
        self.back.close()

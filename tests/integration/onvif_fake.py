#!/usr/bin/python3
"""onvif_fake: a fake ONVIF device for camstream's integration tests (Python stdlib only).

SOAP 1.2 over HTTP on /onvif/device_service (device, ver10), /onvif/media_service (Media,
ver10) and /onvif/media2_service (Media2, ver20); an action sent to the wrong service's path
is answered with the fault ter:ActionNotSupported (so a client must use the XAddrs it got).

Device: GetSystemDateAndTime (never needs authentication; answers the device's SKEWED clock,
real UTC + skew_s), GetDeviceInformation, GetServices (device, media ver10 and, unless
media2=False, media ver20), GetCapabilities, GetServiceCapabilities, GetScopes, GetHostname.
Media: GetProfiles, GetVideoSources, GetVideoSourceConfigurations, GetStreamUri.
Media2: GetProfiles, GetVideoSourceConfigurations, GetStreamUri. Anything else: a SOAP fault
(Code Receiver, Subcode ter:ActionNotSupported, HTTP 500).

Profiles: dicts {name, token, encoding, width, height, fps, uri[, media1]}; by default two,
MainStream 1280x720 H264 25 fps and SubStream 640x360 H264 15 fps. A profile with media1
False (the default for H265) is listed by Media2 only, as on real Profile T devices.

Authentication (auth_mode):
  "ws-security" (default): every request but GetSystemDateAndTime needs a WS-Security
      UsernameToken with a PasswordDigest = Base64(SHA-1(nonce + Created + password)) whose
      Created is within 5 s of the device's own (skewed) clock and whose nonce is new;
      otherwise the SOAP 1.2 fault Code s:Sender, Subcode ter:NotAuthorized, HTTP 400.
  "http-digest": every request but GetSystemDateAndTime needs an RFC 2617 Digest
      Authorization (MD5, qop=auth, a nonce this device issued); otherwise HTTP 401 with
      WWW-Authenticate: Digest realm, nonce, qop="auth".
  "none": nothing is checked.
Every request is recorded (service, action, path, whether it was authorised); a request that
carries the plain password anywhere (request line, headers, body, or inside a Basic
Authorization) is counted in plain_password_seen.

Faults (fault=..., for the actions in fault_actions, default every action):
  "stall"            accepts the request, never answers (until stop() or the client leaves:
                     stalled_now counts the requests held, stalls_abandoned the clients gone)
  "huge"             answers a 10 MB body (with its Content-Length)
  "huge_chunked"     answers a 10 MB body in chunks (no length known in advance)
  "malformed"        answers XML that is not well-formed
  "xxe"              answers with a DOCTYPE declaring an external entity (file:///etc/passwd)
                     used in the answer's fields
  "uri_elsewhere"    stream URIs on rtsp://10.255.255.1/... (outside a loopback allow-list)
  "xaddr_elsewhere"  GetServices and GetCapabilities give media XAddrs on 10.255.255.1
  "xaddr_at"         ... media XAddrs http://AT/x@<its own host:port>/...: the host is AT
                     (.at_target, default 10.255.255.1) to libcurl, its own to a cut at the
                     last '@' 

WS-Discovery: start_discovery(bind_addr) joins 239.255.255.250:3702 on the interface of
@bind_addr and answers a Probe for NetworkVideoTransmitter (or with no Types) unicast to its
sender with a ProbeMatches (RelatesTo = the probe's MessageID).

Use:
    fake = FakeOnvif(rtsp_uris=["rtsp://127.0.0.1:8554/h264"], password="pw").start()
    fake.xaddr, fake.port, fake.count("GetProfiles", "media2"), fake.plain_password_seen
    fake.stop()
Standalone:  /usr/bin/python3 onvif_fake.py --port 8080 --rtsp rtsp://... [--discovery IP]
"""

import argparse
import base64
import collections
import datetime
import hashlib
import os
import re
import select
import signal
import socket
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_DEVICE = "http://www.onvif.org/ver10/device/wsdl"
NS_MEDIA = "http://www.onvif.org/ver10/media/wsdl"
NS_MEDIA2 = "http://www.onvif.org/ver20/media/wsdl"
NS_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
NS_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_DIGEST = ("http://docs.oasis-open.org/wss/2004/01/"
                   "oasis-200401-wss-username-token-profile-1.0#PasswordDigest")
NS_WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"

PATHS = {"/onvif/device_service": "device", "/onvif/media_service": "media",
         "/onvif/media2_service": "media2"}
SERVICE_OF_NS = {NS_DEVICE: "device", NS_MEDIA: "media", NS_MEDIA2: "media2"}
OPEN_ACTIONS = {"GetSystemDateAndTime"}     # answered without authentication
ELSEWHERE = "10.255.255.1"                   # an address outside 127.0.0.0/8
CREATED_WINDOW_S = 5.0
MAX_REQUEST = 1 << 20
HUGE_BYTES = 10 * 1000 * 1000
DIGEST_REALM = "FakeOnvif"
WSD_GROUP = "239.255.255.250"
WSD_PORT = 3702
FAULTS = ("stall", "huge", "huge_chunked", "malformed", "xxe", "uri_elsewhere",
          "xaddr_elsewhere", "xaddr_at")

ENVELOPE_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tt="http://www.onvif.org/ver10/schema" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
    'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" '
    'xmlns:tr2="http://www.onvif.org/ver20/media/wsdl" '
    'xmlns:ter="http://www.onvif.org/ver10/error">'
    '<s:Body>')
ENVELOPE_CLOSE = '</s:Body></s:Envelope>'


def default_profiles(rtsp_uris):
    """MainStream 1280x720 H264 25 fps on @rtsp_uris[0], SubStream 640x360 H264 15 fps on
    @rtsp_uris[1] (or [0] when only one is given)."""
    uris = list(rtsp_uris) or ["rtsp://127.0.0.1:554/none"]
    return [
        {"name": "MainStream", "token": "Profile_1", "encoding": "H264", "width": 1280,
         "height": 720, "fps": 25, "uri": uris[0]},
        {"name": "SubStream", "token": "Profile_2", "encoding": "H264", "width": 640,
         "height": 360, "fps": 15, "uri": uris[1] if len(uris) > 1 else uris[0]},
    ]


def h265_profile(uri, token="Profile_3", name="H265Stream"):
    """A 1920x1080 H265 profile, listed by Media2 only."""
    return {"name": name, "token": token, "encoding": "H265", "width": 1920, "height": 1080,
            "fps": 25, "uri": uri, "media1": False}


def parse_created(text):
    """wsu:Created ("2024-05-01T10:00:00Z", fractions and +hh:mm allowed) as POSIX seconds,
    or None."""
    m = re.fullmatch(r"\s*(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?"
                     r"(Z|[+-]\d\d:\d\d)?\s*", text or "")
    if not m:
        return None
    try:
        dt = datetime.datetime(*(int(g) for g in m.groups()[:6]), tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    t = dt.timestamp() + (float(m.group(7)) if m.group(7) else 0.0)
    tz = m.group(8)
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        t -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return t


def password_digest(nonce, created, password):
    """Base64(SHA-1(nonce bytes + Created + password)), the UsernameToken PasswordDigest."""
    return base64.b64encode(hashlib.sha1(nonce + created.encode() +
                                         password.encode()).digest()).decode()


def soap_fault(code, subcode, reason):
    return (ENVELOPE_OPEN + '<s:Fault><s:Code><s:Value>s:%s</s:Value><s:Subcode><s:Value>%s'
            '</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">%s</s:Text>'
            '</s:Reason></s:Fault>' % (code, subcode, escape(reason)) + ENVELOPE_CLOSE)


def _t(value):
    return escape(str(value))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class FakeOnvif:
    """The fake device. Counters and records are safe to read from any thread (under .lock)."""

    def __init__(self, rtsp_uris=(), profiles=None, username="admin", password="Fake-Pa55!",
                 skew_s=3600.0, auth_mode="ws-security", media2=True, fault=None,
                 fault_actions=None, host="127.0.0.1", port=0, manufacturer="FakeVendor",
                 model="FakeCam 100", firmware="1.2.3", serial="FC100-0001",
                 hardware="FC-100", name="Fake Cam", location="lab"):
        if auth_mode not in ("ws-security", "http-digest", "none"):
            raise ValueError("auth_mode: ws-security, http-digest or none")
        if fault is not None and fault not in FAULTS:
            raise ValueError("fault: one of %s" % (FAULTS,))
        self.profiles = [dict(p) for p in (profiles or default_profiles(rtsp_uris))]
        for p in self.profiles:
            p.setdefault("media1", p["encoding"] != "H265")
        self.username, self.password = username, password
        self.skew_s = float(skew_s)
        self.auth_mode = auth_mode
        self.media2 = media2
        self.fault = fault
        self.fault_actions = set(fault_actions) if fault_actions else None
        self.host, self._want_port = host, port
        self.info = {"Manufacturer": manufacturer, "Model": model, "FirmwareVersion": firmware,
                     "SerialNumber": serial, "HardwareId": hardware}
        self.name, self.location = name, location
        self.endpoint = "urn:uuid:%s" % uuid.uuid4()
        self.lock = threading.Condition()
        self.requests = []          # {"service", "action", "path", "authorised", "status"}
        self.counts = collections.Counter()   # "service:action" -> requests
        self.auth_failures = 0
        self.plain_password_seen = 0
        self.stalled_now = 0        # requests held by the stall fault right now
        self.stalled_total = 0
        self.stalls_abandoned = 0   # stalled requests whose client closed the connection
        self.discovery_probes = 0   # WS-Discovery Probes received
        self.discovery_answers = 0
        self._nonces_seen = set()
        self._digest_nonces = set()
        self._stop = threading.Event()
        self._server = None
        self._thread = None
        self._wsd_sock = None
        self._wsd_thread = None
        self.port = None

    # -- life

    def start(self):
        self._server = _Server((self.host, self._want_port), _make_handler(self))
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        with self.lock:
            self.lock.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None
        if self._wsd_sock is not None:
            self._wsd_thread.join(5)
            self._wsd_sock.close()
            self._wsd_sock = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def base(self):
        return "http://%s:%d" % (self.host, self.port)

    @property
    def xaddr(self):
        return self.base + "/onvif/device_service"

    def device_now(self):
        """The device's clock: real UTC + skew_s (POSIX seconds)."""
        return time.time() + self.skew_s

    # -- records

    def count(self, action, service=None):
        """Requests of @action (on @service: device, media or media2, or any)."""
        with self.lock:
            return sum(n for key, n in self.counts.items()
                       if key.split(":")[1] == action and
                       (service is None or key.split(":")[0] == service))

    def actions(self):
        """"service:action" of every request, in order."""
        with self.lock:
            return ["%s:%s" % (r["service"], r["action"]) for r in self.requests]

    def wait_stalled(self, n, timeout):
        """Waits until @n requests are held by the stall fault; returns how many are."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.stalled_now < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.lock.wait(remaining)
            return self.stalled_now

    def wait_released(self, timeout):
        """Waits until no request is held by the stall fault; True if none is."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.stalled_now > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.lock.wait(remaining)
            return self.stalled_now == 0

    def _record(self, **rec):
        with self.lock:
            self.requests.append(rec)
            self.counts["%s:%s" % (rec["service"], rec["action"])] += 1
            if not rec["authorised"]:
                self.auth_failures += 1
            self.lock.notify_all()

    def _saw_plain_password(self, raw):
        if not self.password:
            return False
        if self.password.encode() in raw:
            return True
        for m in re.finditer(rb"Basic\s+([A-Za-z0-9+/=]+)", raw):
            try:
                if self.password.encode() in base64.b64decode(m.group(1)):
                    return True
            except ValueError:
                pass
        return False

    def _fault_applies(self, action):
        return self.fault is not None and (self.fault_actions is None or
                                           action in self.fault_actions)

    # -- authentication

    def check_ws_security(self, root):
        """None if the request's UsernameToken is good, else why not."""
        token = root.find("{%s}Header/{%s}Security/{%s}UsernameToken" % (NS_SOAP, NS_WSSE,
                                                                          NS_WSSE))
        if token is None:
            return "no UsernameToken"
        user = token.findtext("{%s}Username" % NS_WSSE)
        pw = token.find("{%s}Password" % NS_WSSE)
        nonce_text = token.findtext("{%s}Nonce" % NS_WSSE)
        created = token.findtext("{%s}Created" % NS_WSU)
        if user != self.username:
            return "unknown user"
        if pw is None or pw.get("Type") != PASSWORD_DIGEST:
            return "not a PasswordDigest"
        if not nonce_text or not created:
            return "no Nonce or Created"
        try:
            nonce = base64.b64decode(nonce_text.strip(), validate=True)
        except ValueError:
            return "Nonce is not Base64"
        t = parse_created(created)
        if t is None:
            return "Created is not a time"
        if abs(t - self.device_now()) > CREATED_WINDOW_S:
            return "Created %s is %.0f s off the device clock" % (created,
                                                                   t - self.device_now())
        if password_digest(nonce, created, self.password) != (pw.text or "").strip():
            return "wrong digest"
        with self.lock:
            if nonce in self._nonces_seen:
                return "nonce replayed"
            self._nonces_seen.add(nonce)
        return None

    def new_digest_nonce(self):
        nonce = os.urandom(16).hex()
        with self.lock:
            self._digest_nonces.add(nonce)
        return nonce

    def check_http_digest(self, method, path, header):
        """None if @header (Authorization) is a good Digest answer, else why not."""
        if not header or not header.startswith("Digest "):
            return "no Digest Authorization"
        fields = dict((k.lower(), v1 if v1 else v2) for k, v1, v2 in
                      re.findall(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))', header[7:]))
        with self.lock:
            known = fields.get("nonce") in self._digest_nonces
        if not known:
            return "unknown nonce"
        if fields.get("username") != self.username or fields.get("realm") != DIGEST_REALM:
            return "unknown user or realm"
        if fields.get("uri") != path:
            return "uri is not the request's"
        if fields.get("algorithm", "MD5").upper() != "MD5":
            return "algorithm"

        def md5(s):
            return hashlib.md5(s.encode()).hexdigest()
        ha1 = md5("%s:%s:%s" % (self.username, DIGEST_REALM, self.password))
        ha2 = md5("%s:%s" % (method, fields["uri"]))
        if fields.get("qop"):
            if fields["qop"] != "auth" or "nc" not in fields or "cnonce" not in fields:
                return "qop"
            want = md5("%s:%s:%s:%s:%s:%s" % (ha1, fields["nonce"], fields["nc"],
                                              fields["cnonce"], fields["qop"], ha2))
        else:
            want = md5("%s:%s:%s" % (ha1, fields["nonce"], ha2))
        if fields.get("response") != want:
            return "wrong response"
        return None

    # -- answers

    def answer(self, service, action, root):
        """(HTTP status, SOAP body text) of a good request."""
        body = root.find("{%s}Body" % NS_SOAP)
        req = body[0] if body is not None and len(body) else None
        handler = getattr(self, "_%s_%s" % (service, action), None)
        if handler is None:
            return 500, soap_fault("Receiver", "ter:ActionNotSupported",
                                   "%s is not supported by the %s service" % (action, service))
        return handler(req)

    def _ok(self, inner):
        return 200, ENVELOPE_OPEN + inner + ENVELOPE_CLOSE

    def _media_xaddr(self, service):
        path = "/onvif/%s_service" % service
        if self._fault_applies("GetServices") and self.fault == "xaddr_elsewhere":
            return "http://%s%s" % (ELSEWHERE, path)
        if self._fault_applies("GetServices") and self.fault == "xaddr_at":
            return "http://%s/x@%s%s" % (getattr(self, "at_target", ELSEWHERE),
                                         self.base.split("://", 1)[1], path)
        return self.base + path

    def _device_GetSystemDateAndTime(self, req):
        now = datetime.datetime.fromtimestamp(self.device_now(), datetime.timezone.utc)

        def dt(tag):
            return ('<tt:%s><tt:Time><tt:Hour>%d</tt:Hour><tt:Minute>%d</tt:Minute><tt:Second>%d'
                    '</tt:Second></tt:Time><tt:Date><tt:Year>%d</tt:Year><tt:Month>%d</tt:Month>'
                    '<tt:Day>%d</tt:Day></tt:Date></tt:%s>'
                    % (tag, now.hour, now.minute, now.second, now.year, now.month, now.day,
                       tag))
        return self._ok('<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>'
                        '<tt:DateTimeType>Manual</tt:DateTimeType>'
                        '<tt:DaylightSavings>false</tt:DaylightSavings>'
                        '<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>%s%s'
                        '</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>'
                        % (dt("UTCDateTime"), dt("LocalDateTime")))

    def _device_GetDeviceInformation(self, req):
        return self._ok('<tds:GetDeviceInformationResponse>%s</tds:GetDeviceInformationResponse>'
                        % "".join("<tds:%s>%s</tds:%s>" % (k, _t(v), k)
                                  for k, v in self.info.items()))

    def _device_GetServices(self, req):
        services = [(NS_DEVICE, self.xaddr, 2, 60), (NS_MEDIA, self._media_xaddr("media"), 2, 60)]
        if self.media2:
            services.append((NS_MEDIA2, self._media_xaddr("media2"), 20, 12))
        return self._ok('<tds:GetServicesResponse>%s</tds:GetServicesResponse>' % "".join(
            '<tds:Service><tds:Namespace>%s</tds:Namespace><tds:XAddr>%s</tds:XAddr>'
            '<tds:Version><tt:Major>%d</tt:Major><tt:Minor>%d</tt:Minor></tds:Version>'
            '</tds:Service>' % (ns, _t(xaddr), major, minor)
            for ns, xaddr, major, minor in services))

    def _device_GetCapabilities(self, req):
        return self._ok(
            '<tds:GetCapabilitiesResponse><tds:Capabilities>'
            '<tt:Device><tt:XAddr>%s</tt:XAddr></tt:Device>'
            '<tt:Media><tt:XAddr>%s</tt:XAddr><tt:StreamingCapabilities>'
            '<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>'
            '<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>'
            '</tds:Capabilities></tds:GetCapabilitiesResponse>'
            % (_t(self.xaddr), _t(self._media_xaddr("media"))))

    def _device_GetServiceCapabilities(self, req):
        return self._ok('<tds:GetServiceCapabilitiesResponse><tds:Capabilities>'
                        '<tds:Network/><tds:Security UsernameToken="true" HttpDigest="%s"/>'
                        '<tds:System/></tds:Capabilities></tds:GetServiceCapabilitiesResponse>'
                        % ("true" if self.auth_mode == "http-digest" else "false"))

    def _device_GetScopes(self, req):
        return self._ok('<tds:GetScopesResponse>%s</tds:GetScopesResponse>' % "".join(
            '<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>%s</tt:ScopeItem>'
            '</tds:Scopes>' % _t(s) for s in self.scopes()))

    def _device_GetHostname(self, req):
        return self._ok('<tds:GetHostnameResponse><tds:HostnameInformation>'
                        '<tt:FromDHCP>false</tt:FromDHCP><tt:Name>fakecam</tt:Name>'
                        '</tds:HostnameInformation></tds:GetHostnameResponse>')

    def scopes(self):
        return ["onvif://www.onvif.org/type/video_encoder",
                "onvif://www.onvif.org/Profile/Streaming",
                "onvif://www.onvif.org/name/" + self.name.replace(" ", "%20"),
                "onvif://www.onvif.org/hardware/" + self.info["HardwareId"],
                "onvif://www.onvif.org/location/" + self.location]

    def _profiles_of(self, service):
        return [p for p in self.profiles if service == "media2" or p["media1"]]

    @staticmethod
    def _vsc(tag, p):
        return ('<%s token="VSC_1"><tt:Name>VideoSourceConfig</tt:Name><tt:UseCount>%d'
                '</tt:UseCount><tt:SourceToken>VS_1</tt:SourceToken><tt:Bounds x="0" y="0" '
                'width="%d" height="%d"/></%s>' % (tag, 2, p["width"], p["height"], tag))

    def _media_GetProfiles(self, req):
        out = []
        for i, p in enumerate(self._profiles_of("media"), 1):
            out.append(
                '<trt:Profiles token="%s" fixed="true"><tt:Name>%s</tt:Name>%s'
                '<tt:VideoEncoderConfiguration token="VEC_%d"><tt:Name>VideoEncoder_%d</tt:Name>'
                '<tt:UseCount>1</tt:UseCount><tt:Encoding>%s</tt:Encoding><tt:Resolution>'
                '<tt:Width>%d</tt:Width><tt:Height>%d</tt:Height></tt:Resolution>'
                '<tt:Quality>5</tt:Quality><tt:RateControl><tt:FrameRateLimit>%d'
                '</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval>'
                '<tt:BitrateLimit>2048</tt:BitrateLimit></tt:RateControl><tt:H264>'
                '<tt:GovLength>50</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>'
                '<tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration>'
                '</trt:Profiles>'
                % (_t(p["token"]), _t(p["name"]), self._vsc("tt:VideoSourceConfiguration", p),
                   i, i, _t(p["encoding"]), p["width"], p["height"], p["fps"]))
        return self._ok('<trt:GetProfilesResponse>%s</trt:GetProfilesResponse>' % "".join(out))

    def _media2_GetProfiles(self, req):
        out = []
        for i, p in enumerate(self._profiles_of("media2"), 1):
            out.append(
                '<tr2:Profiles token="%s" fixed="true"><tr2:Name>%s</tr2:Name>'
                '<tr2:Configurations>%s<tr2:VideoEncoder token="VEC_%d" GovLength="50" '
                'Profile="Main"><tt:Name>VideoEncoder_%d</tt:Name><tt:UseCount>1</tt:UseCount>'
                '<tt:Encoding>%s</tt:Encoding><tt:Resolution><tt:Width>%d</tt:Width>'
                '<tt:Height>%d</tt:Height></tt:Resolution><tt:RateControl '
                'ConstantBitRate="false"><tt:FrameRateLimit>%d</tt:FrameRateLimit>'
                '<tt:BitrateLimit>2048</tt:BitrateLimit></tt:RateControl>'
                '<tt:Quality>5</tt:Quality></tr2:VideoEncoder></tr2:Configurations>'
                '</tr2:Profiles>'
                % (_t(p["token"]), _t(p["name"]), self._vsc("tr2:VideoSource", p), i, i,
                   _t(p["encoding"]), p["width"], p["height"], p["fps"]))
        return self._ok('<tr2:GetProfilesResponse>%s</tr2:GetProfilesResponse>' % "".join(out))

    def _media_GetVideoSources(self, req):
        p = self.profiles[0]
        return self._ok('<trt:GetVideoSourcesResponse><trt:VideoSources token="VS_1">'
                        '<tt:Framerate>%d</tt:Framerate><tt:Resolution><tt:Width>%d</tt:Width>'
                        '<tt:Height>%d</tt:Height></tt:Resolution></trt:VideoSources>'
                        '</trt:GetVideoSourcesResponse>' % (p["fps"], p["width"], p["height"]))

    def _media_GetVideoSourceConfigurations(self, req):
        return self._ok('<trt:GetVideoSourceConfigurationsResponse>%s'
                        '</trt:GetVideoSourceConfigurationsResponse>'
                        % self._vsc("trt:Configurations", self.profiles[0]))

    def _media2_GetVideoSourceConfigurations(self, req):
        return self._ok('<tr2:GetVideoSourceConfigurationsResponse>%s'
                        '</tr2:GetVideoSourceConfigurationsResponse>'
                        % self._vsc("tr2:Configurations", self.profiles[0]))

    def _stream_uri(self, service, req):
        token = req.findtext("{%s}ProfileToken" % SERVICE_NS[service]) if req is not None \
            else None
        for i, p in enumerate(self._profiles_of(service)):
            if p["token"] == token:
                if self._fault_applies("GetStreamUri") and self.fault == "uri_elsewhere":
                    return "rtsp://%s:554/Streaming/Channels/%d01" % (ELSEWHERE, i + 1)
                return p["uri"]
        return None

    def _media_GetStreamUri(self, req):
        uri = self._stream_uri("media", req)
        if uri is None:
            return 400, soap_fault("Sender", "ter:InvalidArgVal", "no such profile")
        return self._ok('<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>%s</tt:Uri>'
                        '<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>'
                        '<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>'
                        '<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>'
                        % _t(uri))

    def _media2_GetStreamUri(self, req):
        uri = self._stream_uri("media2", req)
        if uri is None:
            return 400, soap_fault("Sender", "ter:InvalidArgVal", "no such profile")
        return self._ok('<tr2:GetStreamUriResponse><tr2:Uri>%s</tr2:Uri>'
                        '</tr2:GetStreamUriResponse>' % _t(uri))

    def faulty(self, status, text):
        """The answer @text (status @status) spoilt by the xxe or malformed fault."""
        if self.fault == "malformed":
            return status, text.replace("</s:Body>", "<tt:Open><tt:Unclosed></s:Body>", 1)
        if self.fault == "xxe":
            text = text.replace(
                '<?xml version="1.0" encoding="UTF-8"?>\n',
                '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE s:Envelope [\n'
                '  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n', 1)
            for tag in ("tt:TZ", "tds:Manufacturer", "tds:XAddr", "tt:Name", "tr2:Name",
                        "tt:Uri", "tr2:Uri"):
                text = re.sub(r"(<%s>)[^<]*" % tag, r"\1&xxe;", text)
        return status, text

    # -- WS-Discovery

    def start_discovery(self, bind_addr="127.0.0.1"):
        """Joins 239.255.255.250:3702 on the interface of @bind_addr and answers Probes."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((WSD_GROUP, WSD_PORT))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                     socket.inet_aton(WSD_GROUP) + socket.inet_aton(bind_addr))
        s.settimeout(0.1)
        self._wsd_sock = s
        self._wsd_thread = threading.Thread(target=self._wsd_run, daemon=True)
        self._wsd_thread.start()
        return self

    def probe_matches(self, relates_to):
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<s:Envelope xmlns:s="%s" xmlns:a="%s" xmlns:d="%s" '
            'xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="%s">'
            '<s:Header><a:MessageID>urn:uuid:%s</a:MessageID><a:RelatesTo>%s</a:RelatesTo>'
            '<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>'
            '<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action>'
            '</s:Header><s:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference>'
            '<a:Address>%s</a:Address></a:EndpointReference>'
            '<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>'
            '<d:Scopes>%s</d:Scopes><d:XAddrs>%s</d:XAddrs>'
            '<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches>'
            '</s:Body></s:Envelope>'
            % (NS_SOAP, NS_WSA, NS_WSD, NS_DEVICE, uuid.uuid4(), _t(relates_to),
               _t(self.endpoint), _t(" ".join(self.scopes())), _t(self.xaddr)))

    def _wsd_run(self):
        while not self._stop.is_set():
            try:
                data, sender = self._wsd_sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                root = ET.fromstring(data)
            except ET.ParseError:
                continue
            probe = root.find("{%s}Body/{%s}Probe" % (NS_SOAP, NS_WSD))
            message_id = root.findtext("{%s}Header/{%s}MessageID" % (NS_SOAP, NS_WSA))
            if probe is None or not message_id:
                continue
            with self.lock:
                self.discovery_probes += 1
            types = probe.findtext("{%s}Types" % NS_WSD) or ""
            if types.strip() and "NetworkVideoTransmitter" not in types:
                continue
            try:
                self._wsd_sock.sendto(self.probe_matches(message_id.strip()).encode(), sender)
            except OSError:
                continue
            with self.lock:
                self.discovery_answers += 1
                self.lock.notify_all()


SERVICE_NS = {v: k for k, v in SERVICE_OF_NS.items()}


def _make_handler(fake):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeOnvif/1.0"

        def log_message(self, fmt, *args):   # quiet: the tests read the records instead
            pass

        def do_GET(self):
            self._send(405, b"", "text/plain", {"Allow": "POST"})

        def do_POST(self):
            self.connection.settimeout(10)
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if length < 0 or length > MAX_REQUEST:
                self.close_connection = True
                return self._send(413, b"", "text/plain")
            raw_body = self.rfile.read(length)
            raw = (self.requestline + "\r\n" + str(self.headers)).encode("latin-1", "replace") \
                + raw_body
            if fake._saw_plain_password(raw):
                with fake.lock:
                    fake.plain_password_seen += 1
            path = self.path.split("?")[0]
            path_service = PATHS.get(path)
            try:
                root = ET.fromstring(raw_body)
                body = root.find("{%s}Body" % NS_SOAP)
                first = body[0] if body is not None and len(body) else None
            except ET.ParseError:
                root, first = None, None
            if path_service is None:
                return self._send(404, b"not found", "text/plain")
            if first is None or not first.tag.startswith("{"):
                fake._record(service=path_service, action="?", path=path, authorised=False,
                             status=400)
                return self._soap(400, soap_fault("Sender", "ter:WellFormed",
                                                  "not a SOAP 1.2 request"))
            ns, action = first.tag[1:].split("}", 1)
            service = SERVICE_OF_NS.get(ns, "?")

            def record(authorised, status):
                fake._record(service=service, action=action, path=path, authorised=authorised,
                             status=status)

            if service != path_service:
                record(True, 500)
                return self._soap(500, soap_fault("Receiver", "ter:ActionNotSupported",
                                                  "%s is not an action of %s" % (action, path)))
            if action not in OPEN_ACTIONS and fake.auth_mode == "http-digest":
                why = fake.check_http_digest("POST", self.path, self.headers.get("Authorization"))
                if why:
                    record(False, 401)
                    return self._send(401, b"", "text/plain", {
                        "WWW-Authenticate": 'Digest realm="%s", nonce="%s", qop="auth", '
                        'algorithm=MD5' % (DIGEST_REALM, fake.new_digest_nonce())})
            elif action not in OPEN_ACTIONS and fake.auth_mode == "ws-security":
                why = fake.check_ws_security(root)
                if why:
                    record(False, 400)
                    return self._soap(400, soap_fault("Sender", "ter:NotAuthorized",
                                                      "Sender not Authorized (%s)" % why))
            if fake._fault_applies(action) and fake.fault == "stall":
                record(True, None)
                return self._stall()
            if fake._fault_applies(action) and fake.fault in ("huge", "huge_chunked"):
                record(True, 200)
                return self._huge(chunked=fake.fault == "huge_chunked")
            status, text = fake.answer(service, action, root)
            if fake._fault_applies(action):
                status, text = fake.faulty(status, text)
            record(True, status)
            self._soap(status, text)

        def _stall(self):
            with fake.lock:
                fake.stalled_now += 1
                fake.stalled_total += 1
                fake.lock.notify_all()
            gone = False
            try:
                # held until stop(), or until the client closes its end (EOF on the socket)
                while not fake._stop.is_set() and not gone:
                    readable, _, _ = select.select([self.connection], [], [], 0.1)
                    if not readable:
                        continue
                    try:
                        gone = not self.connection.recv(1, socket.MSG_PEEK)
                    except OSError:
                        gone = True
                    if not gone:
                        fake._stop.wait(0.1)   # a pipelined request: not answered either
            finally:
                with fake.lock:
                    fake.stalled_now -= 1
                    fake.stalls_abandoned += gone
                    fake.lock.notify_all()
            self.close_connection = True

        def _huge(self, chunked):
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(HUGE_BYTES))
            self.end_headers()
            head = (ENVELOPE_OPEN + "<tds:GetSystemDateAndTimeResponse><tt:Padding>").encode()
            chunk = b"A" * 65536
            sent = 0

            def write(data):
                if chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                else:
                    self.wfile.write(data)
            try:
                write(head)
                sent += len(head)
                while sent < HUGE_BYTES and not fake._stop.is_set():
                    piece = chunk[:HUGE_BYTES - sent]
                    write(piece)
                    sent += len(piece)
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
            except (OSError, socket.timeout):
                pass

        def _soap(self, status, text):
            self._send(status, text.encode(), "application/soap+xml; charset=utf-8")

        def _send(self, status, body, ctype, headers=None):
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                self.close_connection = True

    return Handler


def main():
    ap = argparse.ArgumentParser(description="A fake ONVIF device (see the module's doc).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--rtsp", nargs="+", default=[], help="stream URIs: main [sub]")
    ap.add_argument("--username", default="admin")
    ap.add_argument("--password", default="Fake-Pa55!")
    ap.add_argument("--skew", type=float, default=3600.0, help="device clock - UTC, seconds")
    ap.add_argument("--auth", default="ws-security", choices=("ws-security", "http-digest",
                                                             "none"))
    ap.add_argument("--no-media2", action="store_true")
    ap.add_argument("--h265", metavar="URI", help="add an H265 profile (Media2 only)")
    ap.add_argument("--fault", choices=FAULTS)
    ap.add_argument("--discovery", metavar="IP", help="answer WS-Discovery on this interface")
    args = ap.parse_args()
    profiles = default_profiles(args.rtsp)
    if args.h265:
        profiles.append(h265_profile(args.h265))
    fake = FakeOnvif(profiles=profiles, username=args.username, password=args.password,
                     skew_s=args.skew, auth_mode=args.auth, media2=not args.no_media2,
                     fault=args.fault, host=args.host, port=args.port).start()
    if args.discovery:
        fake.start_discovery(args.discovery)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    print("READY port=%d xaddr=%s" % (fake.port, fake.xaddr), flush=True)
    done.wait()
    fake.stop()
    with fake.lock:
        print("requests: %s" % dict(fake.counts), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

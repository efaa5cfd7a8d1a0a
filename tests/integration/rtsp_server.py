#!/usr/bin/python3
"""A real RTSP server for camstream's integration tests (gst-rtsp-server through python3-gi).

Mounts on the main port (all live; each RTSP session gets its own pipeline):
  /h264   moving ball, H.264 (x264, zerolatency, a key frame every second)
  /h265   moving ball, H.265 (x265)
  /mjpeg  moving ball, RTP/JPEG
  /black  all-black picture, H.264 (for the limited->full range check)
  /white  all-white picture, H.264
  /smpte  SMPTE colour bars scrolling sideways, H.264
  /eos    moving ball, H.264, ends after --eos-seconds (the source ends cleanly)
  /audio  audio only (PCMU): a source without video
  /resize moving ball, H.264, switching between WxH and W/2xH/2 every --resize-seconds (new
          parameter sets in band, as a camera whose resolution is changed mid-stream)
  /snow   random noise, H.264 at 8 Mbit/s (about 1 MB/s): a camera that fills buffers fast
Video with audio (moving ball at WxH; a 440 Hz sine from audiotestsrc, live, mono, as pay1):
  /h264-aac   H.264 + AAC-LC 16 kHz (avenc_aac, RTP mpeg4-generic)
  /h264-pcma  H.264 + G.711 A-law 8 kHz (PCMA, payload type 8)
  /h264-pcmu  H.264 + G.711 mu-law 8 kHz (PCMU, payload type 0)
  /h264-opus  H.264 + Opus 48 kHz (opusenc; its SDP says 2 channels, as RFC 7587 has it)
  /h264-g722  H.264 + G.722 16 kHz (avenc_g722, payload type 9)
  /h265-aac   H.265 + AAC-LC 16 kHz
A second port serves /secure (moving ball, H.264) only with the Basic credentials
viewer:s3cr3tPass and answers 401 with a challenge otherwise. Both ports share one session pool.

On stdout, once listening:  READY rtsp_port=N control_port=M
Control: a tiny HTTP server on 127.0.0.1:M.
  GET /stats -> {"sessions": RTSP sessions in the pool, "clients": connected RTSP clients (TCP
                 connections), "clients_total", "sessions_total": created since start,
                 "media": prepared media pipelines, "media_total": prepared since start,
                 "by_path": {"/h264?cam=3": live sessions whose client asked DESCRIBE for that
                 path and query, ...}: a query picks nothing (any query reaches the mount), so
                 URLs that differ only in it are distinct cameras that can be counted apart}
  GET /info  -> {"rtsp_port": N, "secure_port": K, "width", "height", "fps"}
A client's sessions end when its TCP connection closes (TEARDOWN or not), so the counts drop
whether FFmpeg tears down or just drops the connection.
SIGTERM or SIGINT stops it with exit code 0.

Usage: /usr/bin/python3 rtsp_server.py [--port 0] [--width 320] [--height 240] [--fps 25]
"""

import argparse
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

SECURE_USER = "viewer"
SECURE_PASSWORD = "s3cr3tPass"


def _h264(key_int):
    return (f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={key_int} threads=1 "
            "! rtph264pay name=pay0 pt=96 config-interval=1")


def _sine(rate, encode):
    """A live 440 Hz mono sine at @rate Hz through @encode (an encoder and payloader as pay1)."""
    return (f"audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample "
            f"! audio/x-raw,rate={rate},channels=1 ! {encode}")


AUDIO = {
    "aac": _sine(16000, "avenc_aac ! rtpmp4gpay name=pay1 pt=97"),
    "pcma": _sine(8000, "alawenc ! rtppcmapay name=pay1 pt=8"),
    "pcmu": _sine(8000, "mulawenc ! rtppcmupay name=pay1 pt=0"),
    "opus": _sine(48000, "opusenc ! rtpopuspay name=pay1 pt=98"),
    "g722": _sine(16000, "avenc_g722 ! rtpg722pay name=pay1 pt=9"),
}


def mount_launches(width, height, fps, eos_seconds):
    """Launch lines of the open mounts: path -> gst-launch syntax."""
    caps = f"video/x-raw,format=I420,width={width},height={height},framerate={fps}/1"
    key = max(1, fps)
    ball = f"videotestsrc is-live=true pattern=ball ! {caps}"
    h265 = (f"x265enc tune=zerolatency speed-preset=ultrafast key-int-max={key} "
            "! rtph265pay name=pay0 pt=96 config-interval=1")
    with_audio = {f"/h264-{kind}": f"{ball} ! {_h264(key)}  {audio}"
                  for kind, audio in AUDIO.items()}
    with_audio["/h265-aac"] = f"{ball} ! {h265}  {AUDIO['aac']}"
    return {
        "/h264": f"{ball} ! {_h264(key)}",
        "/h265": f"{ball} ! {h265}",
        "/mjpeg": f"{ball} ! jpegenc quality=85 ! rtpjpegpay name=pay0 pt=26",
        "/black": f"videotestsrc is-live=true pattern=black ! {caps} ! {_h264(key)}",
        "/white": f"videotestsrc is-live=true pattern=white ! {caps} ! {_h264(key)}",
        "/smpte": (f"videotestsrc is-live=true pattern=smpte horizontal-speed=4 ! {caps} "
                   f"! {_h264(key)}"),
        "/eos": (f"videotestsrc is-live=true pattern=ball num-buffers={max(1, eos_seconds * fps)} "
                 f"! {caps} ! {_h264(key)}"),
        "/resize": (f"videotestsrc is-live=true pattern=ball "
                    f"! video/x-raw,format=I420,framerate={fps}/1 ! videoscale "
                    f"! capsfilter name=size caps=video/x-raw,width={width},height={height} "
                    f"! {_h264(key)}"),
        "/snow": (f"videotestsrc is-live=true pattern=snow ! {caps} "
                  f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={key} threads=1 "
                  "bitrate=8000 vbv-buf-capacity=1000 ! rtph264pay name=pay0 pt=96 "
                  "config-interval=1"),
        "/audio": ("audiotestsrc is-live=true ! audioconvert ! audioresample "
                   "! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay name=pay0 pt=0"),
    } | with_audio


class Counters:
    """Client, session and pipeline counts. Written on the GLib main thread, read by the control
    thread under the lock. Only session ids are kept, never session objects, so sessions can be
    finalized."""

    def __init__(self, pool):
        self._lock = threading.Lock()
        self._pool = pool
        self._paths = {}      # session id -> the path and query its client described
        self.clients = 0
        self.clients_total = 0
        self.sessions_total = 0
        self.media = 0
        self.media_total = 0

    def client_connected(self, _server, client):
        with self._lock:
            self.clients += 1
            self.clients_total += 1
        ids = []
        described = [""]     # the path and query of the client's latest DESCRIBE
        client.connect("describe-request", self.describe_request, described)
        client.connect("new-session", self.new_session, ids, described)
        client.connect("closed", self.client_closed, ids)

    @staticmethod
    def describe_request(_client, ctx, described):
        url = ctx.uri
        described[0] = url.abspath + ("?" + url.query if url.query else "")

    def new_session(self, _client, session, ids, described):
        sid = session.get_sessionid()
        ids.append(sid)
        with self._lock:
            self.sessions_total += 1
            self._paths[sid] = described[0]

    def client_closed(self, _client, ids):
        # As many cameras do: the connection's sessions end with the connection. Without this,
        # a session whose client dropped TCP without TEARDOWN would live until its timeout.
        with self._lock:
            self.clients -= 1
        for sid in ids:
            session = self._pool.find(sid)
            if session is not None:
                self._pool.remove(session)
        with self._lock:
            for sid in ids:
                self._paths.pop(sid, None)
        ids.clear()

    def media_constructed(self, _factory, media):
        media.connect("prepared", self._media_prepared)
        media.connect("unprepared", self._media_unprepared)

    def _media_prepared(self, _media):
        with self._lock:
            self.media += 1
            self.media_total += 1

    def _media_unprepared(self, _media):
        with self._lock:
            self.media -= 1

    def snapshot(self):
        n_sessions = self._pool.get_n_sessions()  # the pool has its own lock
        with self._lock:
            paths = dict(self._paths)
            doc = {"sessions": n_sessions, "clients": self.clients,
                   "clients_total": self.clients_total, "sessions_total": self.sessions_total,
                   "media": self.media, "media_total": self.media_total}
        by_path = {}
        for sid, path in paths.items():
            if self._pool.find(sid) is not None:   # not yet expired by the pool's sweep
                by_path[path] = by_path.get(path, 0) + 1
        doc["by_path"] = by_path
        return doc


def make_factory(launch, counters):
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(f"( {launch} )")
    # one pipeline per session: with shared media, two sessions starting at once can trip an
    # assertion in gst-rtsp-server 1.22 (gst_rtsp_media_get_rates) and abort the fixture
    factory.set_shared(False)
    factory.connect("media-constructed", counters.media_constructed)
    return factory


def resize_periodically(factory, sizes, seconds):
    """Every @seconds, sets the next of @sizes ((w, h) pairs) on the capsfilter named "size" of
    each media @factory constructs, while that media is prepared (GLib main thread only)."""
    def constructed(_factory, media):
        state = {"timer": None, "next": 1}

        def step():
            w, h = sizes[state["next"] % len(sizes)]
            state["next"] += 1
            size = media.get_element().get_by_name("size")
            if size is not None:
                size.set_property("caps", Gst.Caps.from_string(
                    f"video/x-raw,width={w},height={h}"))
            return True

        def prepared(_media):
            if state["timer"] is None:
                state["timer"] = GLib.timeout_add(int(seconds * 1000), step)

        def unprepared(_media):
            if state["timer"] is not None:
                GLib.source_remove(state["timer"])
                state["timer"] = None
        media.connect("prepared", prepared)
        media.connect("unprepared", unprepared)
    factory.connect("media-constructed", constructed)


def make_server(port, pool, counters):
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    server.set_session_pool(pool)
    server.connect("client-connected", counters.client_connected)
    return server


def protect(server, factory):
    """Everything on @server needs the Basic credentials: 401 with a challenge otherwise."""
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", "user")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(SECURE_USER, SECURE_PASSWORD), token)
    server.set_auth(auth)
    perms = GstRtspServer.RTSPPermissions()
    perms.add_role_from_structure(Gst.Structure.new_empty("user"))
    perms.add_permission_for_role("user", "media.factory.access", True)
    perms.add_permission_for_role("user", "media.factory.construct", True)
    factory.set_permissions(perms)


def make_control_server(counters, info):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server naming)
            if self.path == "/stats":
                doc = counters.snapshot()
            elif self.path == "/info":
                doc = info
            else:
                self.send_error(404)
                return
            body = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    return httpd


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0, help="RTSP port, 0 = any free port")
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--eos-seconds", type=int, default=3, help="length of the /eos stream")
    ap.add_argument("--resize-seconds", type=float, default=2.0,
                    help="how long /resize keeps each size")
    args = ap.parse_args()

    Gst.init(None)
    loop = GLib.MainLoop()
    pool = GstRtspServer.RTSPSessionPool()
    counters = Counters(pool)

    server = make_server(args.port, pool, counters)
    mounts = server.get_mount_points()
    for path, launch in mount_launches(args.width, args.height, args.fps,
                                       args.eos_seconds).items():
        factory = make_factory(launch, counters)
        if path == "/resize":
            resize_periodically(factory, [(args.width, args.height),
                                          (args.width // 2 // 2 * 2, args.height // 2 // 2 * 2)],
                                args.resize_seconds)
        mounts.add_factory(path, factory)

    secure = make_server(0, pool, counters)
    secure_factory = make_factory(mount_launches(args.width, args.height, args.fps,
                                                 args.eos_seconds)["/h264"], counters)
    protect(secure, secure_factory)
    secure.get_mount_points().add_factory("/secure", secure_factory)

    for s, port in ((server, args.port), (secure, 0)):
        if s.attach(None) == 0:
            print(f"rtsp_server: cannot listen on port {port}", file=sys.stderr, flush=True)
            return 1

    # Sessions of UDP clients that vanished keep their timeout; sweep expired ones.
    GLib.timeout_add_seconds(1, lambda: (pool.cleanup(), True)[1])

    info = {"rtsp_port": server.get_bound_port(), "secure_port": secure.get_bound_port(),
            "width": args.width, "height": args.height, "fps": args.fps}
    control = make_control_server(counters, info)
    threading.Thread(target=control.serve_forever, name="control", daemon=True).start()

    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, lambda *_: (loop.quit(), False)[1])

    print(f"READY rtsp_port={server.get_bound_port()} control_port={control.server_address[1]}",
          flush=True)
    loop.run()
    control.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""camera: a test RTSP camera whose every frame carries its creation time (bench/barcode.py).

A Python thread fills I420 frames with numpy (a scrolling picture, so the encoder has real
work), stamps the top rows with CLOCK_REALTIME microseconds taken just before the frame is handed
to appsrc, and pushes it; GStreamer encodes and serves it:
    appsrc -> x264enc tune=zerolatency speed-preset=ultrafast key-int-max=FPS -> rtph264pay
at rtsp://127.0.0.1:PORT/cam (shared media: one encoder for every client). The path's query
string is ignored, so `/cam?tile=3` is the same picture under another URL: a client that keys
sources by URL (camstream) sees distinct sources while the machine pays for one encoder.

The camera runs from start to exit, viewers or not, as a real one does: it holds one RTSP
session to itself (a depayloader into a fakesink) so the media stays prepared and a new viewer
joins a live stream (waits for the next key frame) instead of starting the pipeline.

Usage: /usr/bin/python3 camera.py [--mode 720p25|1080p30] [--port 0] [--fps N]
On stdout, once a frame has been served:  READY rtsp://127.0.0.1:PORT/cam
Once a second on stderr with --verbose: frames pushed, late ticks. SIGINT/SIGTERM: exit 0.
"""

import argparse
import os
import signal
import sys
import threading
import time

import numpy as np

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import barcode  # noqa: E402

MODES = {"720p25": (1280, 720, 25), "1080p30": (1920, 1080, 30)}


class Picture:
    """The moving part of the frame: a wide texture scrolled 8 px a frame (so the encoder has
    motion to search), smooth gradients and hard-edged shapes, plus a little fixed texture."""

    def __init__(self, w, h):
        self.w, self.h = w, h
        rng = np.random.default_rng(1)
        tw = 2 * w
        yy, xx = np.mgrid[0:h, 0:tw].astype(np.float32)
        tex = 128 + 60 * np.sin(xx / 57.0) * np.cos(yy / 41.0) + 30 * np.sin((xx + yy) / 13.0)
        for _ in range(40):   # rectangles
            x0, y0 = rng.integers(0, tw - 160), rng.integers(0, h - 120)
            v = rng.integers(20, 235)
            rh, rw = rng.integers(20, 120), rng.integers(20, 160)
            tex[y0:y0 + rh, x0:x0 + rw] = v
        tex += rng.normal(0, 4, tex.shape)   # fine texture: residuals to code every frame
        self.tex_y = np.clip(tex, 16, 235).astype(np.uint8)
        self.tex_y = np.concatenate([self.tex_y, self.tex_y[:, :w]], axis=1)  # wrap-around
        cu = 128 + 40 * np.sin(xx[::2, ::2] / 90.0)
        cv = 128 + 40 * np.cos(yy[::2, ::2] / 70.0 + xx[::2, ::2] / 150.0)
        self.tex_u = np.concatenate([cu, cu[:, :w // 2]], axis=1).astype(np.uint8)
        self.tex_v = np.concatenate([cv, cv[:, :w // 2]], axis=1).astype(np.uint8)
        strip = barcode.strip_height(w) // 2   # no colour under the stamp: plain black/white
        self.tex_u[:strip] = 128
        self.tex_v[:strip] = 128
        self.ysz = w * h
        self.csz = (w // 2) * (h // 2)

    def frame(self, n):
        """A fresh I420 buffer (numpy uint8, flat) for frame number @n, without the stamp."""
        w, h = self.w, self.h
        buf = np.empty(self.ysz + 2 * self.csz, dtype=np.uint8)
        off = (n * 8) % (2 * w)
        y = buf[:self.ysz].reshape(h, w)
        y[:] = self.tex_y[:, off:off + w]
        co = off // 2
        buf[self.ysz:self.ysz + self.csz].reshape(h // 2, w // 2)[:] = \
            self.tex_u[:, co:co + w // 2]
        buf[self.ysz + self.csz:].reshape(h // 2, w // 2)[:] = self.tex_v[:, co:co + w // 2]
        return buf, y


class OneMediaFactory(GstRtspServer.RTSPMediaFactory):
    """A shared factory whose media key ignores the URL's query: gst-rtsp-server's default key
    includes it, which would start one encoder per distinct URL."""

    def do_gen_key(self, url):
        return url.abspath


class Feeder:
    """Pushes stamped frames into one media's appsrc at the frame rate, from its own thread.
    Ticks it could not make in time are skipped, never bunched: a late frame is a frame the
    camera did not take, as with a real sensor."""

    def __init__(self, appsrc, w, h, fps, verbose):
        self.appsrc, self.fps, self.verbose = appsrc, fps, verbose
        self.picture = Picture(w, h)
        self.stop = threading.Event()
        self.pushed = 0
        self.late = 0
        self.thread = threading.Thread(target=self.run, name="feeder", daemon=True)

    def run(self):
        period = 1.0 / self.fps
        t0 = time.monotonic()
        k = 0
        last_report = t0
        while not self.stop.is_set():
            due = t0 + k * period
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)
            elif now - due > period:   # a whole tick late: skip to the current one
                missed = int((now - due) / period)
                self.late += missed
                k += missed
                continue
            buf, y = self.picture.frame(k)
            ts_us = time.time_ns() // 1000
            barcode.draw(y, ts_us, np)
            gbuf = Gst.Buffer.new_wrapped(buf.tobytes())
            if self.appsrc.emit("push-buffer", gbuf) != Gst.FlowReturn.OK:
                break
            self.pushed += 1
            k += 1
            if self.verbose and now - last_report >= 1.0:
                last_report = now
                print("camera: pushed %d late %d" % (self.pushed, self.late),
                      file=sys.stderr, flush=True)


def launch_line(w, h, fps, bitrate_kbps):
    caps = "video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1" % (w, h, fps)
    return ("( appsrc name=src is-live=true do-timestamp=true format=time block=false "
            "max-bytes=0 caps=%s "
            "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%d bitrate=%d "
            "! rtph264pay name=pay0 pt=96 config-interval=1 )" % (caps, fps, bitrate_kbps))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=sorted(MODES), default="720p25")
    ap.add_argument("--port", type=int, default=0, help="RTSP port, 0 = any free port")
    ap.add_argument("--fps", type=int, default=0,
                    help="override the mode's frame rate (experiments: latency vs interval)")
    ap.add_argument("--bitrate", type=int, default=0,
                    help="x264 kbit/s (default: 4000 at 720p, 8000 at 1080p)")
    ap.add_argument("--no-keeper", action="store_true",
                    help="do not hold the media open: the pipeline starts with the first viewer")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    w, h, fps = MODES[args.mode]
    fps = args.fps or fps
    bitrate = args.bitrate or (4000 if h <= 720 else 8000)

    Gst.init(None)
    loop = GLib.MainLoop()
    feeders = []

    def media_configure(_factory, media):
        src = media.get_element().get_by_name("src")
        f = Feeder(src, w, h, fps, args.verbose)
        feeders.append(f)
        media.connect("unprepared", lambda *_: f.stop.set())
        f.thread.start()

    factory = OneMediaFactory()
    factory.set_launch(launch_line(w, h, fps, bitrate))
    factory.set_shared(True)
    factory.set_suspend_mode(GstRtspServer.RTSPSuspendMode.NONE)
    factory.connect("media-configure", media_configure)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print("camera: cannot listen on port %d" % args.port, file=sys.stderr, flush=True)
        return 1
    pool = server.get_session_pool()
    GLib.timeout_add_seconds(1, lambda: (pool.cleanup(), True)[1])
    url = "rtsp://127.0.0.1:%d/cam" % server.get_bound_port()

    keeper = None
    ready_printed = [False]

    def ready(*_):
        if not ready_printed[0]:
            ready_printed[0] = True
            print("READY %s" % url, flush=True)
        return Gst.PadProbeReturn.REMOVE

    if not args.no_keeper:
        keeper = Gst.parse_launch(
            "rtspsrc name=rs location=%s protocols=tcp latency=0 "
            "! rtph264depay name=dp ! fakesink name=sink sync=false async=false" % url)
        keeper.get_by_name("sink").get_static_pad("sink").add_probe(
            Gst.PadProbeType.BUFFER, ready)
        GLib.idle_add(lambda: (keeper.set_state(Gst.State.PLAYING), False)[1])
        GLib.timeout_add_seconds(10, lambda: (None if ready_printed[0] else
                                              (print("camera: no frame within 10 s",
                                                     file=sys.stderr, flush=True),
                                               loop.quit()), False)[1])
    else:
        ready()

    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, lambda *_: (loop.quit(), False)[1])
    loop.run()
    for f in feeders:
        f.stop.set()
    if keeper is not None:
        keeper.set_state(Gst.State.NULL)
    return 0 if ready_printed[0] else 1


if __name__ == "__main__":
    sys.exit(main())

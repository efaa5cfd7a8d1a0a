#!/usr/bin/python3
"""client: the measuring side of camstream's benchmark: scenarios and figures.

The receivers (WebSocket, MJPEG and snapshot clients of camstream, the ffmpeg CLI reference)
live in bench/receivers.py, all in one thread around one selector; this file starts them, opens
the measuring window and turns what they recorded into figures.

Figures (per run): time to first frame, frames/s per viewer, distinct source frames/s, latency
(receive wall time - stamp wall time, both CLOCK_REALTIME on this machine) p50/p95, bytes/s, and
the measured process's CPU seconds per second (utime+stime from /proc/PID/stat over the window)
and memory (VmRSS at the end of the window, VmHWM).

Command line (each prints one JSON object):
  client.py ws       --server HOST:PORT --rtsp URL [--viewers N] [--query 'fps=1&width=320']
                     [--slow SECONDS] [--sources N] [--pid PID] [--warmup S] [--window S]
  client.py mjpeg    --server HOST:PORT --rtsp URL [--viewers N] ...
  client.py snapshot --server HOST:PORT --rtsp URL [--interval S] ...
  client.py ttff     --server HOST:PORT --rtsp URL [--joins N]
  client.py ffmpeg   --rtsp URL [--sources N] [--query ...] [--slow S] ...
  client.py gst      --rtsp URL ...   (GStreamer rtspsrc latency=0 + avdec_h264: the floor)
"""

import argparse
import json
import os
import signal
import statistics
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import barcode  # noqa: E402
from receivers import (STAMPS, Conn, FfmpegReader, Loop, MjpegViewer,  # noqa: E402
                       Snapshot, WsViewer, die_with_parent, now_us)

CLK_TCK = os.sysconf("SC_CLK_TCK")
FIRST_TIMEOUT = 15.0      # a receiver's first frame
__all__ = ["die_with_parent", "proc_cpu", "machine_busy", "run_ws", "run_snapshot", "run_ttff",
           "run_ffmpeg", "run_ffmpeg_ttff", "run_gst"]


# ---------------------------------------------------------------- process figures

def proc_cpu(pid):
    """utime+stime of @pid (all its threads, live and exited) in seconds, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_mem(pid):
    """{'rss_kib': VmRSS, 'hwm_kib': VmHWM} of @pid, or {}."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    out["rss_kib"] = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    out["hwm_kib"] = int(line.split()[1])
    except OSError:
        pass
    return out


def machine_busy():
    """CPU seconds spent by everything on the machine (all cores, not idle/iowait)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0.0
    return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK


class CpuMeter:
    """CPU seconds of a set of processes (and of this client) between start() and stop()."""

    def __init__(self, pids):
        self.pids = [p for p in pids if p]

    def _sample(self):
        t = os.times()
        return (time.monotonic(), [proc_cpu(p) for p in self.pids], t.user + t.system,
                machine_busy())

    def start(self):
        self.a = self._sample()

    def stop(self):
        b = self._sample()
        wall = b[0] - self.a[0]
        cpus = [(y - x) if (x is not None and y is not None) else None
                for x, y in zip(self.a[1], b[1])]
        mem = [proc_mem(p) for p in self.pids]
        valid = [c for c in cpus if c is not None]
        return {"wall_s": wall,
                "cpu_s_per_s": (sum(valid) / wall) if valid and wall > 0 else None,
                "rss_mib": sum(m.get("rss_kib", 0) for m in mem) / 1024 if mem else None,
                "hwm_mib": sum(m.get("hwm_kib", 0) for m in mem) / 1024 if mem else None,
                "client_cpu_s_per_s": (b[2] - self.a[2]) / wall if wall > 0 else None,
                "machine_busy_cores": (b[3] - self.a[3]) / wall if wall > 0 else None}


# ---------------------------------------------------------------- figures

def pct(vals, p):
    if not vals:
        return None
    s = sorted(vals)
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summarize(conns, t0_us, t1_us, src_fps=None):
    """Figures over the receive window [t0_us, t1_us) for a group of receivers."""
    win = (t1_us - t0_us) / 1e6
    lat, per_fps, per_bytes, per_p50 = [], [], [], []
    uniq = set()
    undecoded = 0
    for c in conns:
        fr = [f for f in c.frames if t0_us <= f[0] < t1_us]
        per_fps.append(len(fr) / win)
        per_bytes.append(sum(f[1] for f in fr) / win)
        ls = [(f[0] - f[2]) / 1000.0 for f in fr if f[2]]
        undecoded += sum(1 for f in fr if not f[2])
        lat += ls
        if ls:
            per_p50.append(pct(ls, 50))
        uniq.update(f[2] for f in fr if f[2])
    ttff = [c.t_first - c.t_connect for c in conns if c.t_first is not None]
    out = {
        "receivers": len(conns),
        "errors": [c.label + ": " + c.error for c in conns if c.error][:5],
        "n_errors": sum(1 for c in conns if c.error),
        "fps_min": min(per_fps) if per_fps else 0.0,
        "fps_median": statistics.median(per_fps) if per_fps else 0.0,
        "unique_fps": len(uniq) / win,
        "lat_p50_ms": pct(lat, 50),
        "lat_p95_ms": pct(lat, 95),
        "lat_max_ms": max(lat) if lat else None,
        "lat_viewer_p50_max_ms": max(per_p50) if per_p50 else None,
        "bytes_per_s": sum(per_bytes),
        "frames": sum(1 for c in conns for f in c.frames if t0_us <= f[0] < t1_us),
        "undecoded": undecoded,
        "ttff_s_median": statistics.median(ttff) if ttff else None,
    }
    if src_fps:
        out["frac_frames_min"] = out["fps_min"] / src_fps
    return out


def wait_first(loop, conns, timeout=FIRST_TIMEOUT):
    """Until every receiver has its first frame (or failed), at most @timeout seconds: the
    window then measures the steady state, not the start."""
    loop.run_until(time.monotonic() + timeout,
                   lambda: all(c.t_first is not None or c.closed for c in conns))


def measure(loop, conns, pids, warmup, window, src_fps=None, groups=None):
    """Start @conns, wait @warmup seconds, measure @window seconds. @groups: name -> subset of
    conns summarised separately (e.g. normal and slow viewers)."""
    for c in conns:
        loop.add(c)
    wait_first(loop, conns)
    loop.run_until(time.monotonic() + warmup)
    meter = CpuMeter(pids)
    meter.start()
    t0 = now_us()
    loop.run_until(time.monotonic() + window)
    t1 = now_us()
    res = meter.stop()
    groups = groups or {"all": conns}
    for name, g in groups.items():
        res[name] = summarize(g, t0, t1, src_fps)
    res["stamps_decoded"] = STAMPS.decoded
    res["stamps_failed"] = STAMPS.failed
    return res


def ws_path(rtsp, query="", endpoint="/ws/stream"):
    q = "rtsp_url=" + urllib.parse.quote(rtsp, safe="")
    if query:
        q += "&" + query
    return endpoint + "?" + q


def source_url(rtsp, i, tag="src"):
    """The @i-th distinct URL of the same camera (the camera ignores the query)."""
    return "%s?%s=%d" % (rtsp, tag, i)


# ---------------------------------------------------------------- scenario runners

def run_ws(host, port, rtsp, viewers=1, query="", slow=0.0, sources=1, pid=None, warmup=2.0,
           window=10.0, src_fps=None, kind="ws"):
    """@viewers normal viewers spread over @sources distinct URLs (+ slow viewers if
    @slow > 0, each reading one message every @slow seconds: "slow" with the system's receive
    buffer, which its kernel fills and acknowledges, out of the server's sight; "slowlink"
    with a 64 KiB one, so what it has not taken waits on the server's side, as behind a slow
    link; and for WebSocket "slowpull", which sends "next" each time it can take a frame)."""
    loop = Loop()
    cls = {"ws": WsViewer, "mjpeg": MjpegViewer}[kind]
    ep = {"ws": "/ws/stream", "mjpeg": "/mjpeg"}[kind]
    normal = []
    for i in range(viewers):
        url = rtsp if sources <= 1 else source_url(rtsp, i % sources)
        normal.append(cls("%s%d" % (kind, i), host, port, ws_path(url, query, ep)))
    groups = {"all": normal}
    conns = list(normal)
    if slow > 0:
        s = cls("slow", host, port, ws_path(rtsp, query, ep))
        s.slow = slow
        conns.append(s)
        groups["slow"] = [s]
        s = cls("slowlink", host, port, ws_path(rtsp, query, ep))
        s.slow = slow
        s.rcvbuf = 65536
        conns.append(s)
        groups["slowlink"] = [s]
        if cls is WsViewer:
            s = cls("slowpull", host, port, ws_path(rtsp, query, ep))
            s.slow = slow
            s.pull = True
            conns.append(s)
            groups["slowpull"] = [s]
    try:
        return measure(loop, conns, [pid], warmup, window, src_fps, groups)
    finally:
        loop.close_all()


def run_snapshot(host, port, rtsp, interval=0.5, pid=None, warmup=2.0, window=10.0,
                 query=""):
    """A viewer keeps the source running (as a page would); snapshots are taken every
    @interval seconds. Figures: response time (request to whole picture) and picture age."""
    loop = Loop()
    keep = WsViewer("keeper", host, port, ws_path(rtsp, query))
    loop.add(keep)
    loop.run_until(time.monotonic() + warmup)
    meter = CpuMeter([pid])
    meter.start()
    shots = []
    end = time.monotonic() + window
    try:
        while time.monotonic() < end:
            s = Snapshot("snap%d" % len(shots), host, port, ws_path(rtsp, query, "/snapshot"))
            loop.add(s)
            shots.append(s)
            loop.run_until(min(end, time.monotonic() + 5), lambda: s.closed)
            loop.run_until(s.t_connect + interval)
    finally:
        res = meter.stop()
        loop.close_all()
    ok = [s for s in shots if s.t_done is not None]
    resp = [(s.t_done - s.t_connect) * 1000 for s in ok]
    age = [(s.frames[0][0] - s.frames[0][2]) / 1000 for s in ok if s.frames and s.frames[0][2]]
    res["snapshot"] = {"requests": len(shots), "ok": len(ok),
                       "errors": [s.error for s in shots if s.error][:3],
                       "response_p50_ms": pct(resp, 50), "response_p95_ms": pct(resp, 95),
                       "lat_p50_ms": pct(age, 50), "lat_p95_ms": pct(age, 95)}
    return res


def run_ttff(host, port, rtsp, joins=5, tag="ttff", timeout=10.0, query=""):
    """Time to first frame: one viewer opens a source nobody watches (a fresh URL), then
    @joins viewers join it one after another while it streams."""
    loop = Loop()
    first = WsViewer("new", host, port, ws_path(source_url(rtsp, int(time.time() * 1000) % 10**9,
                                                           tag), query))
    res = {"new_s": None, "join_s": [], "errors": []}
    try:
        loop.add(first)
        loop.run_until(time.monotonic() + timeout, lambda: first.t_first or first.closed)
        if first.t_first is None:
            res["errors"].append(first.error or "no frame within %.0f s" % timeout)
            return res
        res["new_s"] = first.t_first - first.t_connect
        loop.run_until(time.monotonic() + 0.5)
        path = first.request.split(b" ")[1].decode()
        for j in range(joins):
            v = WsViewer("join%d" % j, host, port, path)
            loop.add(v)
            loop.run_until(time.monotonic() + timeout, lambda: v.t_first or v.closed)
            if v.t_first is None:
                res["errors"].append(v.error or "no frame")
            else:
                res["join_s"].append(v.t_first - v.t_connect)
            v.close()
            loop.run_until(time.monotonic() + 0.2)
    finally:
        loop.close_all()
    return res


def run_ffmpeg(rtsp, sources=1, fps=None, width=None, slow=0.0, warmup=2.0, window=10.0,
               src_fps=None, q=5):
    loop = Loop()
    readers = []
    for i in range(sources):
        r = FfmpegReader("ffmpeg%d" % i, rtsp if sources <= 1 else source_url(rtsp, i),
                         fps=fps, width=width, quality_q=q)
        r.slow = slow
        readers.append(r)
    # The pids are known only once started: measure() starts them, so start them here first.
    for r in readers:
        loop.add(r)
    try:
        wait_first(loop, readers)
        loop.run_until(time.monotonic() + warmup)
        meter = CpuMeter([r.proc.pid for r in readers])
        meter.start()
        t0 = now_us()
        loop.run_until(time.monotonic() + window)
        t1 = now_us()
        res = meter.stop()
        res["all"] = summarize(readers, t0, t1, src_fps)
        return res
    finally:
        loop.close_all()


def run_ffmpeg_ttff(rtsp, reps=1, timeout=10.0):
    out = []
    for _ in range(reps):
        loop = Loop()
        r = FfmpegReader("ffmpeg-ttff", source_url(rtsp, int(time.time() * 1000) % 10**9, "ff"))
        try:
            loop.add(r)
            loop.run_until(time.monotonic() + timeout, lambda: r.t_first or r.closed)
            out.append(r.t_first - r.t_connect if r.t_first else None)
        finally:
            loop.close_all()
    return out


def gst_pull(launch, warmup, window, take):
    """Plays the GStreamer pipeline @launch, whose appsink is named "sink", from now until
    @warmup + @window seconds later; hands each sample it pulls meanwhile to
    take(recv_us, sample, data), data its buffer's bytes (mapped for the call). Returns
    (cpu0, t0, t1, cpu1): os.times() and now_us() when the window opened, now_us() when it
    closed, os.times() before the pipeline stops; t0 and t1 None if the window never opened or
    closed (an error)."""
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)
    pipe = Gst.parse_launch(launch)
    sink = pipe.get_by_name("sink")
    pipe.set_state(Gst.State.PLAYING)
    t_start = time.monotonic()
    cpu0 = t0 = t1 = None
    try:
        while True:
            t = time.monotonic()
            if cpu0 is None and t - t_start >= warmup:
                cpu0, t0 = os.times(), now_us()
            if t0 is not None and t - t_start >= warmup + window:
                t1 = now_us()
                break
            sample = sink.emit("try-pull-sample", int(0.2 * Gst.SECOND))
            if sample is None:
                continue
            recv = now_us()
            buf = sample.get_buffer()
            ok, info = buf.map(Gst.MapFlags.READ)
            if not ok:
                continue
            try:
                take(recv, sample, info.data)
            finally:
                buf.unmap(info)
    finally:
        cpu1 = os.times()
        pipe.set_state(Gst.State.NULL)
    return cpu0, t0, t1, cpu1


def run_gst(rtsp, warmup=2.0, window=10.0):
    """The floor: GStreamer's RTSP client (which ends a frame on the RTP marker bit) and the
    same libavcodec decoder, stamps read straight from the decoded luma. Runs in this process:
    call it from a child process so its CPU is its own (client.py gst)."""
    import numpy as np
    frames = []

    def take(recv, sample, data):
        caps = sample.get_caps().get_structure(0)
        w, h = caps.get_value("width"), caps.get_value("height")
        rows = barcode.strip_height(w)
        y = np.frombuffer(data, dtype=np.uint8, count=w * rows).reshape(rows, w)
        frames.append((recv, w * h, barcode.read_array(y)))

    cpu0, t0, t1, _ = gst_pull(
        "rtspsrc location=%s protocols=tcp latency=0 ! rtph264depay ! avdec_h264 "
        "! video/x-raw,format=I420 ! appsink name=sink emit-signals=false sync=false "
        "max-buffers=2 drop=true" % rtsp, warmup, window, take)
    c = Conn("gst")
    c.frames = frames
    cpu1 = os.times()          # after the pipeline stopped: its teardown counts here
    res = summarize([c], t0 or now_us(), t1 or now_us())
    wall = ((t1 or 0) - (t0 or 0)) / 1e6
    return {"wall_s": wall,
            "cpu_s_per_s": ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / wall
            if cpu0 and wall > 0 else None,
            "all": res}


# ---------------------------------------------------------------- command line

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["ws", "mjpeg", "snapshot", "ttff", "ffmpeg", "gst"])
    ap.add_argument("--server", help="camstream HOST:PORT")
    ap.add_argument("--rtsp", required=True, help="the camera URL")
    ap.add_argument("--viewers", type=int, default=1)
    ap.add_argument("--sources", type=int, default=1, help="distinct URLs of the camera")
    ap.add_argument("--query", default="", help="extra viewer options, e.g. 'fps=1&width=320'")
    ap.add_argument("--slow", type=float, default=0.0,
                    help="add a viewer that takes one frame every SLOW seconds")
    ap.add_argument("--interval", type=float, default=0.5, help="snapshot interval")
    ap.add_argument("--joins", type=int, default=5)
    ap.add_argument("--pid", type=int, help="camstream's pid, for CPU and memory")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--src-fps", type=float)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    host, port = None, None
    if args.server:
        host, _, p = args.server.rpartition(":")
        port = int(p)
    if args.what in ("ws", "mjpeg", "snapshot", "ttff") and not args.server:
        ap.error("--server is needed")
    qs = dict(urllib.parse.parse_qsl(args.query))
    if args.what in ("ws", "mjpeg"):
        res = run_ws(host, port, args.rtsp, args.viewers, args.query, args.slow, args.sources,
                     args.pid, args.warmup, args.window, args.src_fps, kind=args.what)
    elif args.what == "snapshot":
        res = run_snapshot(host, port, args.rtsp, args.interval, args.pid, args.warmup,
                           args.window, args.query)
    elif args.what == "ttff":
        res = run_ttff(host, port, args.rtsp, args.joins, query=args.query)
    elif args.what == "ffmpeg":
        res = run_ffmpeg(args.rtsp, args.sources, qs.get("fps"),
                         int(qs["width"]) if "width" in qs else None, args.slow, args.warmup,
                         args.window, args.src_fps)
    else:
        res = run_gst(args.rtsp, args.warmup, args.window)
    json.dump(res, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

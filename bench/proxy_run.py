#!/usr/bin/python3
"""proxy_run: camstream behind nginx, and how much one instance holds (bench/run.sh --proxy).

docs/PERFORMANCE.md "Behind nginx" and docs/DEPLOY.md "Sizing" quote what this prints.
nginx is Debian's, run unprivileged in the foreground with a configuration generated from the
shipped deploy/nginx/nginx.conf and camstream.conf (the upstream's server lines become the
camstream measured, the listen line a free loopback port), as tests/integration/test_cluster.py
runs it. One test camera (bench/camera.py, 720p25, GOP 1 s); distinct cameras are distinct URLs
of it (`?cam=N`), which camstream opens as distinct sources while the machine pays for one
encoder.

Scenarios:
  lat       the same camera read directly from camstream and through nginx at once, in one
            window: a WebSocket JPEG viewer (/ws/stream) and an HTTP-FLV viewer (/flv) each way,
            all four of the one shared source, so every picture reaches both ways and the
            difference per picture is what the proxy adds. Which way connects first alternates
            from run to run. JPEG stamps are read after the window (not while timing reads).
  cpu       100 MJPEG viewers, then 100 HTTP-FLV viewers, of one camera through nginx; before
            each, 1 viewer through nginx: nginx's CPU (master + workers, /proc/PID/stat) and
            camstream's in the same windows, so nginx's cost is a ratio to camstream's.
  jpegcams  sizing: N cameras with 1 full-rate WebSocket JPEG viewer each (decode + encode per
            camera), N raised step by step in one camstream until a viewer gets < 90% of the
            pictures or the machine is saturated; camstream's own CPU at each step.
  thumbcams the same with fps=1&width=320 viewers (key-picture thumbnails: only key pictures
            are decoded).
  flvcams   the same with 1 HTTP-FLV viewer per camera (nothing decoded: the coded pictures).

  bench/run.sh --proxy                 # every scenario (about 9 minutes)
  bench/run.sh --proxy --quick         # lat and cpu, 1 run, 3 s windows, short curves
  bench/run.sh --proxy --scenarios lat --runs 5
  bench/run.sh --proxy --scenarios jpegcams --jpeg-steps 1,2,4,8 --curve-runs 3
"""

import argparse
import os
import statistics
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import client  # noqa: E402
import flv  # noqa: E402
import flv_run  # noqa: E402
import receivers  # noqa: E402
from nginx_front import NGINX, Nginx  # noqa: E402
import run  # noqa: E402
from receivers import Loop, MjpegViewer, WsViewer, now_us  # noqa: E402

SCENARIOS = {
    "lat": "720p25, one camera read directly and through nginx at once (WS JPEG + HTTP-FLV)",
    "cpu": "720p25, 1 then N viewers of one camera through nginx (MJPEG, then HTTP-FLV)",
    "jpegcams": "sizing: N cameras at 720p25, 1 full-rate WS JPEG viewer each",
    "thumbcams": "sizing: N cameras at 720p25, 1 thumbnail viewer each (key pictures)",
    "flvcams": "sizing: N cameras at 720p25, 1 HTTP-FLV viewer each (no decode)",
}
DEFAULT = ["lat", "cpu", "jpegcams", "thumbcams", "flvcams"]
QUICK = ["lat", "cpu"]
CURVES = ("jpegcams", "thumbcams", "flvcams")
FPS, WIDTH = 25, 1280
HOLD_SHARE = 0.9          # a step holds when every viewer gets >= 90% of the pictures asked for
                          # (misses at most 1 picture when that is more)
SATURATED = 1.9           # ... and camstream + camera + client use fewer cores than this (the
                          # rest of a shared machine is reported, not judged: other work)


class Meters:
    """CPU of several named process groups over the same window, plus the client and the
    machine: {name: cpu_s_per_s}, client_cpu_s_per_s, machine_busy_cores, wall_s."""

    def __init__(self, groups):
        self.m = {k: client.CpuMeter(pids) for k, pids in groups.items()}

    def start(self):
        for m in self.m.values():
            m.start()

    def stop(self):
        res = {k: m.stop() for k, m in self.m.items()}
        any_ = next(iter(res.values()))
        out = {"wall_s": any_["wall_s"], "client_cpu_s_per_s": any_["client_cpu_s_per_s"],
               "machine_busy_cores": any_["machine_busy_cores"]}
        for k, r in res.items():
            out[k + "_cpu"] = r["cpu_s_per_s"]
            out[k + "_rss_mib"] = r["rss_mib"]
        return out


_SCRATCH = bytearray(receivers.RECV_CHUNK)   # shared by the counters: one thread, nothing kept


class MjpegCounter(MjpegViewer):
    """An MJPEG viewer that only counts pictures: a part begins at each boundary line, found
    with bytes.find in the read buffer (no copy, no parse), so a hundred of them at 3 MB/s each
    cost the client little; the stamps are read by one full MjpegViewer beside them."""

    def __init__(self, label, host, port, path):
        super().__init__(label, host, port, path)
        self.scratch = _SCRATCH
        self.tail = b""
        self.bytes = 0

    def on_body(self, mv, t):
        self.bytes += len(mv)
        delim = b"--" + self.boundary
        buf, n, k = mv.obj, len(mv), len(delim)
        # a boundary split between two reads
        if self.tail and delim in self.tail + bytes(mv[:k - 1]):
            self.frame(t, 0, b"")
        i = buf.find(delim, 0, n)
        while i >= 0:
            self.frame(t, 0, b"")
            i = buf.find(delim, i + k, n)
        self.tail = bytes(mv[max(0, n - k + 1):])

    def frame(self, recv_us, size, prefix):
        if self.t_first is None:
            self.t_first = time.monotonic()
        self.frames.append((recv_us, size, None))
        return False


class DeferredStamps:
    """Stands in for receivers.STAMPS while latency is timed: keeps each JPEG's prefix (one
    copy per distinct prefix) instead of decoding its stamp at once, so no read waits for a
    decode; resolve() reads the stamps after the window."""

    def __init__(self):
        self.keys = {}
        self.decoded = self.failed = 0

    def stamp(self, prefix):
        k = bytes(prefix)
        return self.keys.setdefault(k, k)

    @staticmethod
    def resolve(conns, real):
        for c in conns:
            c.frames = [(f[0], f[1], real.stamp(f[2]) if f[2] else None) for f in c.frames]


# ---------------------------------------------------------------- figures

pct = client.pct


def ws_lat(c, t0, t1):
    return [(f[0] - f[2]) / 1000.0 for f in c.frames if f[2] and t0 <= f[0] < t1]


def flv_lat(v, t0, t1):
    return flv_run.lat_of(v, t0, t1)


def lat_figs(lat, n_pics, win):
    return {"lat_p50_ms": pct(lat, 50), "lat_p90_ms": pct(lat, 90), "lat_p95_ms": pct(lat, 95),
            "lat_n": len(lat), "pics_per_s": n_pics / win if win else None}


def paired(direct, proxied):
    """proxied - direct receive time (ms) of every stamp both received: what the hop adds,
    picture by picture. @direct, @proxied: {stamp: recv_us}."""
    return [(proxied[s] - direct[s]) / 1000.0 for s in direct if s in proxied]


def fps_of(conns, t0, t1, kind):
    """Pictures per second of each receiver in [t0, t1)."""
    win = (t1 - t0) / 1e6
    if kind == "flv":
        return [sum(1 for p in v.flv.pics if t0 <= p[0] < t1) / win for v in conns]
    return [sum(1 for f in c.frames if t0 <= f[0] < t1) / win for c in conns]


def step_holds(s):
    """A sizing step holds when the worst viewer missed at most 10% of the pictures asked for,
    or one picture where that is more (at 1 fps over 10 s, a picture on the window's edge may
    fall either side), no viewer failed, and camstream + camera + client stayed below
    SATURATED cores."""
    expect = s["want_fps"] * s["wall_s"]
    missed = expect - s["fps_min"] * s["wall_s"]
    ours = sum(s.get(k) or 0 for k in ("camstream_cpu", "camera_cpu", "client_cpu_s_per_s"))
    return (missed <= max(1.5, (1 - HOLD_SHARE) * expect) and not s["n_errors"] and
            ours < SATURATED)


def bytes_of(conns):
    """Body bytes received so far by @conns (a full MjpegViewer: its pictures' sizes)."""
    return sum(c.bytes if hasattr(c, "bytes") else sum(f[1] for f in c.frames) for c in conns)


def errors(conns):
    return ["%s: %s" % (c.label, c.error) for c in conns if c.error][:3]


# ---------------------------------------------------------------- the bench

class ProxyBench(run.Bench):

    def q(self, url):
        return "rtsp_url=" + urllib.parse.quote(url, safe="")

    def up(self):
        """A fresh camstream and an nginx in front of it."""
        cs, _host, port = self.start_camstream()
        try:
            ng = Nginx(self.logdir, [port], self.a.nginx_extra)
        except Exception:
            run.stop(cs)
            raise
        return cs, port, ng

    def wait_first(self, loop, conns, timeout=20.0):
        loop.run_until(time.monotonic() + timeout, lambda: all(
            c.closed or (c.flv.first_key_mono is not None if isinstance(c, flv.FlvViewer)
                         else c.t_first is not None) for c in conns))

    # -- lat

    def latency(self, rep):
        a = self.a
        cs, port, ng = self.up()
        loop = Loop()
        real, deferred = receivers.STAMPS, DeferredStamps()
        q = self.q(self.rtsp)
        ways = [("direct", port), ("nginx", ng.port)]
        if rep % 2:
            ways.reverse()           # who connects first alternates from run to run
        v = {}
        try:
            receivers.STAMPS = deferred
            for way, p in ways:
                v["ws_" + way] = WsViewer("ws-" + way, "127.0.0.1", p, "/ws/stream?" + q)
                v["flv_" + way] = flv.FlvViewer("flv-" + way, "127.0.0.1", p, "/flv?" + q,
                                                "http", keep=True)
            for k in ("ws_", "flv_"):
                for way, _p in ways:
                    loop.add(v[k + way])
            self.wait_first(loop, list(v.values()))
            loop.run_until(time.monotonic() + a.warmup)
            meters = Meters({"camstream": [cs.pid], "nginx": [ng.proc.pid] + ng.workers()})
            meters.start()
            t0 = now_us()
            loop.run_until(time.monotonic() + a.window)
            t1 = now_us()
            res = meters.stop()
        finally:
            receivers.STAMPS = real
            loop.close_all()
            ng.stop()
            run.stop(cs)
        win = (t1 - t0) / 1e6
        DeferredStamps.resolve([v["ws_direct"], v["ws_nginx"]], real)
        res["flv_stamps"] = flv.resolve_stamps([v["flv_direct"], v["flv_nginx"]], WIDTH)
        res["first"] = ways[0][0]
        recv = {}
        for way, _p in ways:
            c = v["ws_" + way]
            res["ws_" + way] = lat_figs(ws_lat(c, t0, t1),
                                        sum(1 for f in c.frames if t0 <= f[0] < t1), win)
            res["ws_" + way]["errors"] = errors([c])
            recv["ws_" + way] = {f[2]: f[0] for f in c.frames if f[2] and t0 <= f[0] < t1}
            f_ = v["flv_" + way]
            res["flv_" + way] = lat_figs(flv_lat(f_, t0, t1),
                                         sum(1 for p in f_.flv.pics if t0 <= p[0] < t1), win)
            res["flv_" + way]["errors"] = errors([f_])
            recv["flv_" + way] = {s: p[0] for p, s in zip(f_.flv.pics, f_.stamps or [])
                                  if s and t0 <= p[0] < t1}
        for k in ("ws", "flv"):
            d = paired(recv[k + "_direct"], recv[k + "_nginx"])
            res[k + "_added"] = {"p50_ms": pct(d, 50), "p90_ms": pct(d, 90), "n": len(d),
                                 "mean_ms": statistics.mean(d) if d else None}
        return res

    # -- cpu

    def viewers_cpu(self, kind, n):
        """1 viewer through nginx, window; then @n in all, window; then (those closed) @n
        straight to camstream, window: what camstream pays for them without the proxy."""
        a = self.a
        cs, port, ng = self.up()
        loop = Loop()
        path = ("/mjpeg?" if kind == "mjpeg" else "/flv?") + self.q(self.rtsp)
        def make(i, to):
            if kind == "mjpeg":
                return (MjpegViewer if i == 0 else MjpegCounter)("mjpeg%d" % i, "127.0.0.1",
                                                                 to, path)
            return flv.FlvViewer("flv%d" % i, "127.0.0.1", to, path, "http")
        res = {}
        conns = []
        try:
            for step, count in (("one", 1), ("many", n), ("direct", n)):
                if step == "direct":
                    for c in conns:
                        c.close()
                    loop.run_until(time.monotonic() + 0.5)
                    loop.close_all()
                    conns = []
                while len(conns) < count:
                    c = make(len(conns), port if step == "direct" else ng.port)
                    c.connect_timeout = 30
                    conns.append(c)
                    loop.add(c)
                    if len(conns) % 25 == 0:
                        loop.run_until(time.monotonic() + 0.05)
                self.wait_first(loop, conns)
                loop.run_until(time.monotonic() + a.warmup)
                meters = Meters({"camstream": [cs.pid], "nginx": [ng.proc.pid] + ng.workers(),
                                 "nginx_workers": ng.workers(), "camera": [self.camera.pid]})
                meters.start()
                b0 = bytes_of(conns)
                t0 = now_us()
                loop.run_until(time.monotonic() + a.window)
                t1 = now_us()
                r = meters.stop()
                fps = fps_of(conns, t0, t1, "flv" if kind == "flv" else "jpeg")
                r["mb_per_s"] = (bytes_of(conns) - b0) / ((t1 - t0) / 1e6) / 1e6
                r.update({"viewers": len(conns), "fps_min": min(fps),
                          "fps_median": statistics.median(fps),
                          "n_errors": sum(1 for c in conns if c.error),
                          "errors": errors(conns),
                          "workers": len(ng.workers())})
                if kind != "flv":
                    lat = ws_lat(conns[0], t0, t1)
                    r["lat_p50_ms"] = pct(lat, 50)
                res[step] = r
        finally:
            loop.close_all()
            ng.stop()
            run.stop(cs)
        return res

    # -- sizing curves

    def curve(self, name):
        a = self.a
        steps = {"jpegcams": a.jpeg_steps, "thumbcams": a.thumb_steps,
                 "flvcams": a.flv_steps}[name]
        want = a.thumb_fps if name == "thumbcams" else FPS
        cs, _host, port = self.start_camstream()
        loop = Loop()
        conns, out = [], []
        try:
            for n in steps:
                new = []
                while len(conns) < n:
                    url = client.source_url(self.rtsp, len(conns), "cam")
                    if name == "flvcams":
                        c = flv.FlvViewer("cam%d" % len(conns), "127.0.0.1", port,
                                          "/flv?" + self.q(url), "http")
                    else:
                        c = WsViewer("cam%d" % len(conns), "127.0.0.1", port,
                                     client.ws_path(url, a.thumb_query
                                                    if name == "thumbcams" else ""))
                    c.connect_timeout = 30
                    conns.append(c)
                    new.append(c)
                    loop.add(c)
                    if len(new) % 8 == 0:
                        loop.run_until(time.monotonic() + 0.1)
                self.wait_first(loop, new, 20 + len(new) / 10)
                loop.run_until(time.monotonic() + a.step_warmup)
                meters = Meters({"camstream": [cs.pid], "camera": [self.camera.pid]})
                meters.start()
                t0 = now_us()
                # thumbnails come once a second: a window of 10 of them at least
                loop.run_until(time.monotonic() + max(a.step_window, 10.0 / want))
                t1 = now_us()
                r = meters.stop()
                fps = fps_of(conns, t0, t1, "flv" if name == "flvcams" else "jpeg")
                r.update({"cameras": n, "want_fps": want, "fps_min": min(fps),
                          "fps_median": statistics.median(fps),
                          "share_min": min(fps) / want, "n_errors": sum(1 for c in conns
                                                                         if c.error),
                          "errors": errors(conns), "rss_mib": r["camstream_rss_mib"]})
                r["cpu_per_camera"] = r["camstream_cpu"] / n if r["camstream_cpu"] else None
                if name != "flvcams":
                    lat = [x for c in conns for x in ws_lat(c, t0, t1)]
                    r["lat_p50_ms"], r["lat_p95_ms"] = pct(lat, 50), pct(lat, 95)
                # what this benchmark itself runs: camstream, the camera and the client
                r["ours_cores"] = sum(x or 0 for x in (r["camstream_cpu"], r["camera_cpu"],
                                                      r["client_cpu_s_per_s"]))
                expect = want * (t1 - t0) / 1e6
                r["missed_max"] = expect - min(fps) * (t1 - t0) / 1e6
                r["holds"] = step_holds(r)
                out.append(r)
                print("    %-9s %3d cameras: camstream %.2f s/s (%.3f a camera), fps min %.2f,"
                      " ours %.2f, machine %.2f cores%s" % (
                          name, n, r["camstream_cpu"] or 0, r["cpu_per_camera"] or 0,
                          r["fps_min"], r["ours_cores"], r["machine_busy_cores"] or 0,
                                                 "" if r["holds"] else "  <- does not hold"),
                      file=sys.stderr, flush=True)
                if not r["holds"]:
                    break
        finally:
            loop.close_all()
            run.stop(cs)
        return {"steps": out}

    def scenario(self, name, rep):
        try:
            if name == "lat":
                return self.latency(rep)
            if name == "cpu":
                kinds = self.a.cpu_kinds if rep % 2 == 0 else self.a.cpu_kinds[::-1]
                return {k: self.viewers_cpu(k, self.a.viewers) for k in kinds}
            return self.curve(name)
        except RuntimeError as e:
            return {"error": str(e)}

    def run(self):
        self.use_camera("720p25")
        self.run_scenarios(runs_of=lambda n: self.a.curve_runs if n in CURVES else self.a.runs,
                           err_len=300)


# ---------------------------------------------------------------- the table

g = run.g
fmt = run.fmt


def med_of(runs, *path):
    return run.med([g(r, *path) for r in runs])


def curve_rows(runs):
    """Per camera count: medians over the curve runs that reached it."""
    by_n = {}
    for r in runs:
        for s in g(r, "steps") or []:
            by_n.setdefault(s["cameras"], []).append(s)
    return [(n, by_n[n]) for n in sorted(by_n)]


def holds_up_to(runs):
    """The largest camera count that held in the median run (by count)."""
    best = [max([s["cameras"] for s in g(r, "steps") or [] if step_holds(s)] or [0])
            for r in runs]
    return run.med(best)


def summary(results, a):
    """The figures docs/DEPLOY.md's sizing table is made of."""
    out = {}
    for name in CURVES:
        runs = results.get(name) or []
        rows = [(n, ss) for n, ss in curve_rows(runs)
                if all(step_holds(s) for s in ss)]
        if not rows:
            continue
        n, ss = rows[-1]
        per = run.med([s["cpu_per_camera"] for s in ss])
        first, last = rows[0], rows[-1]
        rss = None
        if last[0] > first[0]:
            rss = (run.med([s["rss_mib"] for s in last[1]]) -
                   run.med([s["rss_mib"] for s in first[1]])) / (last[0] - first[0])
        out[name] = {"held": holds_up_to(runs), "cpu_per_camera_at_held": per,
                     "cameras_per_core": 1 / per if per else None, "rss_mib_per_camera": rss}
    return out


def print_table(results, a, out=sys.stdout):
    p = lambda *x: print(*x, file=out)  # noqa: E731
    for name in a.scenarios:
        runs = results.get(name) or []
        p("%s - %s (%d run%s)" % (name, SCENARIOS[name], len(runs), "" if len(runs) == 1
                                   else "s"))
        for r in runs:
            if isinstance(r, dict) and r.get("error"):
                p("   ! %s" % r["error"].splitlines()[0][:200])
        if name == "lat":
            p("  %-34s %10s %10s %10s %10s" % ("", "p50 ms", "p90 ms", "p95 ms", "pics/s"))
            for k, label in (("ws", "WS JPEG"), ("flv", "HTTP-FLV")):
                for way in ("direct", "nginx"):
                    p("  %-34s %10s %10s %10s %10s" % (
                        "%s %s" % (label, "direct" if way == "direct" else "through nginx"),
                        fmt(med_of(runs, k + "_" + way, "lat_p50_ms")),
                        fmt(med_of(runs, k + "_" + way, "lat_p90_ms")),
                        fmt(med_of(runs, k + "_" + way, "lat_p95_ms")),
                        fmt(med_of(runs, k + "_" + way, "pics_per_s"))))
                d50 = run.med([(g(r, k + "_nginx", "lat_p50_ms") or 0) -
                               (g(r, k + "_direct", "lat_p50_ms") or 0) for r in runs
                               if g(r, k + "_nginx", "lat_p50_ms") is not None and
                               g(r, k + "_direct", "lat_p50_ms") is not None])
                a50 = med_of(runs, k + "_added", "p50_ms")
                p("  %-34s %10s %10s %10s %10s  %s" % (
                    "%s added by nginx (per picture)" % label, fmt(a50),
                    fmt(med_of(runs, k + "_added", "p90_ms")), "", "",
                    "target <= 1 ms p50 %s" % run.judge(a50, 1.0)))
                p("  %-34s %10s" % ("%s p50 nginx - p50 direct" % label, fmt(d50)))
                for r in runs:
                    for way in ("direct", "nginx"):
                        for e in g(r, k + "_" + way, "errors") or []:
                            p("   ! " + e[:200])
            p("  %-34s %10s %10s   [machine busy cores %s]" % (
                "CPU s/s: camstream, nginx", fmt(med_of(runs, "camstream_cpu")),
                fmt(med_of(runs, "nginx_cpu")), fmt(med_of(runs, "machine_busy_cores"))))
        elif name == "cpu":
            p("  %-14s %-6s %7s %7s %7s %9s %9s %9s %9s %8s %8s %8s" % (
                "viewers", "", "fps min", "fps med", "MB/s", "camstream", "nginx", "nginx/cs",
                "ng s/GB", "camera", "client", "machine"))
            for kind in ("mjpeg", "flv"):
                if not any(g(r, kind) for r in runs):
                    continue
                for step in ("one", "many", "direct"):
                    rs = [g(r, kind, step) for r in runs if g(r, kind, step)]
                    ratio = run.med([x["nginx_cpu"] / x["camstream_cpu"] for x in rs
                                     if x.get("nginx_cpu") is not None and x.get("camstream_cpu")])
                    gb = run.med([x["nginx_cpu"] / x["mb_per_s"] * 1000 for x in rs
                                  if x.get("nginx_cpu") is not None and x.get("mb_per_s")])
                    p("  %-14s %-6s %7s %7s %7s %9s %9s %9s %9s %8s %8s %8s" % (
                        "%s x%d" % (kind.upper(), run.med([x["viewers"] for x in rs]) or 0),
                        "direct" if step == "direct" else "nginx",
                        fmt(run.med([x["fps_min"] for x in rs])),
                        fmt(run.med([x["fps_median"] for x in rs])),
                        fmt(run.med([x.get("mb_per_s") for x in rs])),
                        fmt(run.med([x["camstream_cpu"] for x in rs])),
                        fmt(run.med([x["nginx_cpu"] for x in rs])) if step != "direct" else "-",
                        fmt(ratio) if step != "direct" else "-",
                        fmt(gb) if step != "direct" else "-",
                        fmt(run.med([x["camera_cpu"] for x in rs])),
                        fmt(run.med([x["client_cpu_s_per_s"] for x in rs])),
                        fmt(run.med([x["machine_busy_cores"] for x in rs]))))
                    for x in rs:
                        for e in x.get("errors") or []:
                            p("   ! " + e[:200])
                pn = run.med([g(r, kind, "many", "nginx_cpu") / g(r, kind, "many", "viewers")
                              * 100 for r in runs if g(r, kind, "many", "nginx_cpu") is not None])
                pc = run.med([(g(r, kind, "direct", "camstream_cpu") -
                               g(r, kind, "one", "camstream_cpu")) /
                              (g(r, kind, "direct", "viewers") - 1) for r in runs
                              if g(r, kind, "direct", "camstream_cpu") is not None and
                              g(r, kind, "one", "camstream_cpu") is not None])
                p("  => %s: nginx %s CPU s/s per 100 viewers; camstream %s s/s per extra viewer "
                  "(N direct - 1)/(N-1)" % (kind.upper(), fmt(pn), fmt(pc)))
            p("  (CPU s/s = (utime+stime)/window from /proc/PID/stat; nginx = master + workers;"
              " ng s/GB = nginx CPU seconds per GB relayed; MB/s = body bytes received)")
        else:
            p("  %8s %10s %9s %9s %8s %8s %8s %8s %8s %8s %6s" % (
                "cameras", "camstream", "per cam", "fps min", "fps med", "p50 ms", "RSS MiB",
                "camera", "client", "machine", "holds"))
            for n, ss in curve_rows(runs):
                p("  %8d %10s %9s %9s %8s %8s %8s %8s %8s %8s %6s" % (
                    n, fmt(run.med([s["camstream_cpu"] for s in ss])),
                    fmt(run.med([s["cpu_per_camera"] for s in ss])),
                    fmt(run.med([s["fps_min"] for s in ss])),
                    fmt(run.med([s["fps_median"] for s in ss])),
                    fmt(run.med([s.get("lat_p50_ms") for s in ss])),
                    fmt(run.med([s.get("rss_mib") for s in ss])),
                    fmt(run.med([s["camera_cpu"] for s in ss])),
                    fmt(run.med([s["client_cpu_s_per_s"] for s in ss])),
                    fmt(run.med([s["machine_busy_cores"] for s in ss])),
                    "%d/%d" % (sum(1 for s in ss if step_holds(s)), len(ss))))
                for s in ss:
                    for e in s.get("errors") or []:
                        p("   ! " + e[:200])
            sm = summary(results, a).get(name)
            if sm:
                p("  => held up to %s cameras beside the camera and the client; camstream %s "
                  "CPU s/s a camera there: %s cameras per core of camstream's own; RSS %s MiB "
                  "a camera" % (fmt(sm["held"]), fmt(sm["cpu_per_camera_at_held"]),
                                fmt(sm["cameras_per_core"]), fmt(sm["rss_mib_per_camera"])))
        p()


def print_header(m):
    print(run.header_start(m))
    print("# camstream: %s; nginx: %s; medians of %d runs (curves: %d); window %g s after %g s "
          "warm-up (curve steps: %g s after %g s)"
          % (m["bin"], m.get("nginx"), m["runs"], m.get("curve_runs", 1), m["window_s"],
             m["warmup_s"], m.get("step_window", 0), m.get("step_warmup", 0)))


def steps_arg(text):
    return sorted({int(x) for x in text.split(",") if x.strip()})


def main(argv):
    ap = argparse.ArgumentParser(prog="bench/run.sh --proxy",
                                 description=__doc__.splitlines()[0])
    run.mode_args(ap, "proxy", DEFAULT, QUICK)
    ap.add_argument("--viewers", type=int, default=100, help="viewers in 'cpu' (100)")
    ap.add_argument("--cpu-kinds", type=lambda t: [k for k in t.split(",") if k],
                    default=["mjpeg", "flv"], help="viewers of 'cpu': mjpeg,flv (both)")
    ap.add_argument("--curve-runs", type=int, help="runs of each sizing curve (1)")
    ap.add_argument("--jpeg-steps", type=steps_arg, default=None,
                    help="camera counts of jpegcams (1,2,4,6,8,10,12,14)")
    ap.add_argument("--thumb-steps", type=steps_arg, default=None,
                    help="camera counts of thumbcams (8,16,32,48,64,96)")
    ap.add_argument("--flv-steps", type=steps_arg, default=None,
                    help="camera counts of flvcams (8,16,32,64,96,128)")
    ap.add_argument("--thumb-query", default="fps=1&width=320",
                    help="the thumbnail viewers' options (fps=1&width=320)")
    ap.add_argument("--nginx-extra", default="",
                    help="directives added to nginx's server block (experiments), e.g. "
                    "'proxy_buffer_size 64k;'")
    ap.add_argument("--step-window", type=float, help="seconds measured per curve step (5)")
    ap.add_argument("--step-warmup", type=float, help="seconds before each step's window (2)")
    run.mode_tail_args(ap)
    a = ap.parse_args(argv)
    run.mode_settle(ap, a, SCENARIOS, DEFAULT, QUICK)
    a.thumb_fps = float(dict(urllib.parse.parse_qsl(a.thumb_query)).get("fps", 1))
    a.curve_runs = a.curve_runs or 1
    a.jpeg_steps = a.jpeg_steps or ([1, 2, 4] if a.quick else [1, 2, 4, 6, 8, 10, 12, 14])
    a.thumb_steps = a.thumb_steps or ([8, 16] if a.quick else [8, 16, 32, 48, 64, 96])
    a.flv_steps = a.flv_steps or ([8, 16] if a.quick else [8, 16, 32, 64, 96, 128])
    a.step_window = a.step_window or (3.0 if a.quick else 5.0)
    a.step_warmup = a.step_warmup if a.step_warmup is not None else (1.0 if a.quick else 2.0)
    a.many = a.viewers
    for k in a.cpu_kinds:
        if k not in ("mjpeg", "flv"):
            ap.error("--cpu-kinds: mjpeg, flv")
    if a.from_json:
        return run.mode_replay(a, print_header, print_table)
    a.bin = run.mode_bin(ap)
    if not os.access(NGINX, os.X_OK) and any(s in a.scenarios for s in ("lat", "cpu")):
        ap.error("nginx is missing (Debian: apt-get install nginx-light or nginx)")
    run.prepare_process(max(a.viewers, max(a.flv_steps + a.thumb_steps)), 4096)
    return run.mode_run("proxy", a, argv, ProxyBench(a), {
        "nginx": NGINX, "viewers": a.viewers, "curve_runs": a.curve_runs,
        "jpeg_steps": a.jpeg_steps, "thumb_steps": a.thumb_steps, "flv_steps": a.flv_steps,
        "thumb_query": a.thumb_query, "nginx_extra": a.nginx_extra, "step_window": a.step_window,
        "step_warmup": a.step_warmup}, print_header, print_table)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

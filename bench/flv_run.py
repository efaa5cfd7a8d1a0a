#!/usr/bin/python3
"""flv_run: the FLV benchmark (bench/run.sh --flv; docs/PERFORMANCE.md, "FLV").

camstream's HTTP-FLV (`/flv?rtsp_url=`) and WS-FLV (`/ws/flv?rtsp_url=`) measured against two
peers in the same run, each started fresh for every measurement:
  ffv  one `ffmpeg -rtsp_transport tcp -i URL -c copy -f flv -listen 1 http://...` per viewer
       (seed 003's model);
  nms  node-media-server 4.4.3 (bench/peers/, installed by bench/peers/install.sh) fed by
       `ffmpeg -rtsp_transport tcp -i URL -c copy -f flv rtmp://.../live/cam`, viewers on its
       HTTP-FLV /live/cam.flv (the SRS model: one relay, a GOP cache, fan-out).
The order of the systems rotates from run to run; ratios are medians of per-run ratios.

  bench/run.sh --flv --quick       # flv1, flvjoin, flv10: 1 run, 3 s windows (about 2 minutes)
  bench/run.sh --flv               # every FLV scenario, 3 runs (about 30 minutes)
  bench/run.sh --flv --scenarios flv1000,flvslow --runs 5
"""

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import client  # noqa: E402
import flv  # noqa: E402
import run  # noqa: E402
from receivers import Loop, die_with_parent, now_us  # noqa: E402

NMS_APP = os.path.join(HERE, "peers", "node_modules", "node-media-server", "bin", "app.js")
SYSTEMS = ["cs", "csws", "nms", "ffv"]
LABEL = {"cs": "camstream HTTP-FLV", "csws": "camstream WS-FLV", "nms": "node-media-server",
         "ffv": "ffmpeg per viewer"}
SCENARIOS = {
    "flv1": "720p25, 1 viewer each",
    "flv10": "720p25, 10 viewers of one camera each",
    "flvjoin": "join a running camera: connect -> first key-picture tag",
    "flv1000": "720p25, 1000 viewers of one camera",
    "flvslow": "1 viewer + 1 slow viewer (64 KiB/s, 16 KiB SO_RCVBUF)",
    "flvmem": "camstream's memory: per source, per viewer, per stalled viewer",
}
DEFAULT = ["flv1", "flv10", "flvjoin", "flv1000", "flvslow", "flvmem"]
QUICK = ["flv1", "flvjoin", "flv10"]
FPS, WIDTH = 25, 1280


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_logged(cmd, log_path, ready=None, timeout=15.0):
    """Start @cmd with stdout and stderr to @log_path (never a pipe nobody reads); with @ready,
    wait until the log has that text (at most @timeout s)."""
    log = open(log_path, "ab")
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                         preexec_fn=die_with_parent)
    log.close()
    run._children.append(p)
    if ready is None:
        return p
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and p.poll() is None:
        with open(log_path, "rb") as f:
            if ready.encode() in f.read():
                return p
        time.sleep(0.05)
    run.stop(p)
    with open(log_path, "rb") as f:
        tail = f.read()[-1500:].decode("utf-8", "replace")
    raise RuntimeError("%s: no %r within %.0f s\n%s" % (cmd[0], ready, timeout, tail))


class Env:
    """One system, up: makes viewers, knows the processes to measure, stops them."""

    def __init__(self, kind, bench):
        self.kind, self.b = kind, bench
        self.procs = []
        self.port = None
        q = "rtsp_url=" + urllib.parse.quote(bench.rtsp, safe="")
        if kind in ("cs", "csws"):
            p, host, port = bench.start_camstream()
            self.procs.append(p)
            self.port = port
            self.path = ("/flv?" if kind == "cs" else "/ws/flv?") + q
        elif kind == "nms":
            self.port, rtmp = free_port(), free_port()
            d = tempfile.mkdtemp(prefix="nms-", dir=bench.logdir)
            cfg = os.path.join(d, "config.json")
            with open(cfg, "w") as f:
                json.dump({"bind": "127.0.0.1", "rtmp": {"port": rtmp},
                           "http": {"port": self.port}, "webadmin": {"enable": False},
                           "store": {"path": os.path.join(d, "data")}}, f)
            log = os.path.join(d, "nms.log")      # fresh: the ready line is looked for
            self.procs.append(start_logged(["node", NMS_APP, "-c", cfg, "--no-admin"], log,
                                           "HTTP server listening", timeout=20))
            self.procs.append(start_logged(
                ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
                 "-rtsp_transport", "tcp", "-i", bench.rtsp, "-c", "copy", "-f", "flv",
                 "rtmp://127.0.0.1:%d/live/cam" % rtmp],
                os.path.join(d, "relay.log")))
            self.path = "/live/cam.flv"

    def viewer(self, label, keep=False):
        if self.kind == "ffv":
            port = free_port()
            v = flv.FlvViewer(label, "127.0.0.1", port, "/", "http", keep)
            v.t_connect = time.monotonic()     # the viewer's wait starts with its ffmpeg
            v.retry_until = v.t_connect + 15
            v.proc = subprocess.Popen(
                ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
                 "-rtsp_transport", "tcp", "-i", self.b.rtsp, "-c", "copy", "-f", "flv",
                 "-listen", "1", "http://127.0.0.1:%d/" % port],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
            return v
        return flv.FlvViewer(label, "127.0.0.1", self.port, self.path,
                             "ws" if self.kind == "csws" else "http", keep)

    def pids(self, viewers=()):
        return [p.pid for p in self.procs] + [v.proc.pid for v in viewers if v.proc]

    def metrics(self):
        """camstream's /metrics for this camera: {name: value}."""
        if self.kind not in ("cs", "csws"):
            return None
        try:
            text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port,
                                          timeout=3).read().decode()
        except OSError:
            return None
        out = {}
        for line in text.splitlines():
            if line.startswith("camstream_") and self.b.rtsp in line:
                name = line.split("{", 1)[0]
                try:
                    out[name] = float(line.rsplit(" ", 1)[1])
                except ValueError:
                    pass
        return out

    def down(self):
        for p in reversed(self.procs):
            run.stop(p)


# ---------------------------------------------------------------- figures

def pct(vals, p):
    return client.pct(vals, p)


def lat_of(v, t0, t1):
    """Tag latencies (ms) of @v's pictures that arrived in [t0, t1)."""
    if not v.stamps:
        return []
    return [(p[0] - s) / 1000.0 for p, s in zip(v.flv.pics, v.stamps)
            if s and t0 <= p[0] < t1]


def gaps(v, t0, t1):
    """Pictures missing between consecutive tags (by tag timestamp) in the window."""
    ts = [p[2] for p in v.flv.pics if t0 <= p[0] < t1]
    iv = 1000.0 / FPS
    return sum(max(0, round((b - a) / iv) - 1) for a, b in zip(ts, ts[1:]))


def summarize(viewers, t0, t1):
    win = (t1 - t0) / 1e6
    counts = [sum(1 for p in v.flv.pics if t0 <= p[0] < t1) for v in viewers]
    best = max(counts) if counts else 0
    lat = [x for v in viewers for x in lat_of(v, t0, t1)]
    keys = [p[3] for v in viewers[:1] for p in v.flv.pics if p[1] and t0 <= p[0] < t1]
    others = [p[3] for v in viewers[:1] for p in v.flv.pics if not p[1] and t0 <= p[0] < t1]
    return {
        "key_kb": statistics.median(keys) / 1000 if keys else None,
        "other_kb": statistics.median(others) / 1000 if others else None,
        "viewers": len(viewers),
        "n_errors": sum(1 for v in viewers if v.error),
        "errors": ["%s: %s" % (v.label, v.error) for v in viewers if v.error][:3],
        "pics_per_s_min": min(counts) / win if counts else None,
        "pics_per_s_median": statistics.median(counts) / win if counts else None,
        "pics_per_s_best": best / win if counts else None,
        # shares of the camera's pictures (FPS a second): a client or machine that cannot
        # keep up shows here, where a share of the best viewer's would hide it
        "share_min": min(counts) / (FPS * win) if counts else None,
        "share_median": statistics.median(counts) / (FPS * win) if counts else None,
        "share_of_best_min": min(counts) / best if best else None,
        "gaps_total": sum(gaps(v, t0, t1) for v in viewers),
        "lat_n": len(lat),
        "lat_p50_ms": pct(lat, 50), "lat_p95_ms": pct(lat, 95),
        "lat_max_ms": max(lat) if lat else None,
        "bytes_per_s": sum(v.bytes - v.bytes_t0 for v in viewers) / win,
    }


def wait_keys(loop, viewers, timeout):
    loop.run_until(time.monotonic() + timeout,
                   lambda: all(v.flv.first_key_mono is not None or v.closed for v in viewers))


# ---------------------------------------------------------------- scenarios

class FlvBench(run.Bench):

    def measure(self, kind, n, keep=1, batch=50):
        """@n viewers of one camera on system @kind: window figures."""
        a = self.a
        env = Env(kind, self)
        loop = Loop()
        try:
            viewers = []
            for i in range(n):
                v = env.viewer("%s%d" % (kind, i), keep=i < keep)
                v.connect_timeout = 30
                viewers.append(v)
                loop.add(v)
                if i % batch == batch - 1:
                    loop.run_until(time.monotonic() + 0.05)
            wait_keys(loop, viewers, 20 + n / 50)
            loop.run_until(time.monotonic() + a.warmup)
            meter = client.CpuMeter(env.pids(viewers))
            meter.start()
            for v in viewers:
                v.bytes_t0 = v.bytes
            t0 = now_us()
            loop.run_until(time.monotonic() + a.window)
            t1 = now_us()
            res = meter.stop()
            res["metrics"] = env.metrics()
        finally:
            loop.close_all()
            env.down()
        res["stamps"] = flv.resolve_stamps(viewers, WIDTH)
        res["all"] = summarize(viewers, t0, t1)
        res["join_s_median"] = statistics.median(
            [v.join_s() for v in viewers if v.join_s() is not None] or [0]) or None
        return res

    def joins(self, kind, count):
        env = Env(kind, self)
        loop = Loop()
        out = {"join_s": [], "errors": []}
        try:
            if kind != "ffv":       # a viewer keeps the camera running in the server
                keeper = env.viewer("keeper")
                loop.add(keeper)
                wait_keys(loop, [keeper], 20)
                if keeper.flv.first_key_mono is None:
                    raise RuntimeError("keeper: %s" % (keeper.error or "no key picture"))
                loop.run_until(time.monotonic() + 1.0)
            rng = random.Random(count)
            for j in range(count):
                # a random phase against the camera's 1 s GOP
                loop.run_until(time.monotonic() + 0.2 + rng.random() * 0.5)
                v = env.viewer("join%d" % j)
                loop.add(v)
                loop.run_until(time.monotonic() + 20,
                               lambda: v.flv.first_key_mono is not None or v.closed)
                if v.join_s() is None:
                    out["errors"].append(v.error or "no key picture")
                else:
                    out["join_s"].append(v.join_s())
                v.close()
        finally:
            loop.close_all()
            env.down()
        out["join_p50_s"] = statistics.median(out["join_s"]) if out["join_s"] else None
        return out

    def slow(self, kind):
        """A normal viewer and a slow one (reads 64 KiB/s, 16 KiB receive buffer) for
        --slow-window seconds from the slow one's connect: how far behind it is then."""
        a = self.a
        env = Env(kind, self)
        loop = Loop()
        try:
            normal = env.viewer("normal", keep=True)
            loop.add(normal)
            wait_keys(loop, [normal], 20)
            loop.run_until(time.monotonic() + 1.0)
            s = env.viewer("slow", keep=True)
            s.rate, s.rcvbuf = a.slow_rate, 16384
            loop.add(s)
            t0 = now_us()
            loop.run_until(time.monotonic() + a.slow_window)
            t1 = now_us()
            metrics = env.metrics()
        finally:
            loop.close_all()
            env.down()
        flv.resolve_stamps([normal, s], WIDTH)
        last = [(p[0], st) for p, st in zip(s.flv.pics, s.stamps or []) if st]
        tail = [x for x in lat_of(s, t1 - 5_000_000, t1)]
        return {"normal": summarize([normal], t0, t1),
                "slow": summarize([s], t0, t1),
                "slow_behind_end_ms": (t1 - last[-1][1]) / 1000.0 if last else None,
                "slow_last5s_p50_ms": pct(tail, 50), "slow_last5s_max_ms":
                max(tail) if tail else None,
                "slow_bytes_per_s": s.bytes / ((t1 - t0) / 1e6),
                "slow_error": s.error, "metrics": metrics}

    def memory(self):
        """camstream alone: RSS with no source, with one viewer, with 100 more reading
        viewers, and with 100 stalled viewers instead (connected, never reading)."""
        env = Env("cs", self)
        pid = env.procs[0].pid
        loop = Loop()
        out = {}
        try:
            time.sleep(1.0)
            out["rss0_kib"] = client.proc_mem(pid).get("rss_kib")
            first = env.viewer("first")
            loop.add(first)
            wait_keys(loop, [first], 20)
            b0, t0 = first.bytes, time.monotonic()
            loop.run_until(time.monotonic() + 3.0)
            out["rss1_kib"] = client.proc_mem(pid).get("rss_kib")
            # the camera's GOP is 1 s: its size is a second's worth of bytes
            out["gop_kib"] = (first.bytes - b0) / (time.monotonic() - t0) / 1024
            # 4 more sources (distinct URLs of the same camera), one viewer each
            more = [flv.FlvViewer("src%d" % i, "127.0.0.1", env.port, "/flv?rtsp_url=" +
                                  urllib.parse.quote(client.source_url(self.rtsp, i),
                                                     safe=""))
                    for i in range(1, 5)]
            for v in more:
                loop.add(v)
            wait_keys(loop, more, 20)
            loop.run_until(time.monotonic() + 3.0)
            out["rss5_kib"] = client.proc_mem(pid).get("rss_kib")
            out["sources_errors"] = sum(1 for v in more if v.error)
            for v in more:
                v.close()
            loop.run_until(time.monotonic() + 3.0)
            out["rss1b_kib"] = client.proc_mem(pid).get("rss_kib")
            for label, stall in (("read", False), ("stall", True)):
                out["rss_before_%s_kib" % label] = client.proc_mem(pid).get("rss_kib")
                vs = []
                for i in range(100):
                    v = env.viewer("%s%d" % (label, i))
                    v.stall = stall
                    vs.append(v)
                    loop.add(v)
                loop.run_until(time.monotonic() + 20,
                               lambda: all(v.state == "body" or v.closed for v in vs))
                loop.run_until(time.monotonic() + 3.0)
                out["rss_%s_kib" % label] = client.proc_mem(pid).get("rss_kib")
                out["%s_errors" % label] = sum(1 for v in vs if v.error)
                out["metrics_%s" % label] = env.metrics()
                for v in vs:
                    v.close()
                loop.run_until(time.monotonic() + 2.0)
            out["hwm_kib"] = client.proc_mem(pid).get("hwm_kib")
            out["first_pics"] = len(first.flv.pics)
        finally:
            loop.close_all()
            env.down()
        return out

    def floor(self):
        cmd = [run.PY, os.path.join(HERE, "flv.py"), "gstdepay", "--rtsp", self.rtsp,
               "--warmup", str(self.a.warmup), "--window", str(self.a.window)]
        try:
            out = subprocess.run(cmd, capture_output=True, timeout=self.a.window + 90,
                                 preexec_fn=die_with_parent)
            d = json.loads(out.stdout)
        except (subprocess.TimeoutExpired, ValueError) as e:
            return {"error": str(e)}
        lat = d.pop("lat_ms")
        d["all"] = {"lat_p50_ms": pct(lat, 50), "lat_p95_ms": pct(lat, 95), "lat_n": len(lat)}
        return d

    def scenario(self, name, rep):
        a = self.a
        kinds = SYSTEMS[rep % len(SYSTEMS):] + SYSTEMS[:rep % len(SYSTEMS)]
        r = {}
        for k in kinds:
            try:
                if name == "flv1":
                    r[k] = self.measure(k, 1)
                elif name == "flv10":
                    r[k] = self.measure(k, 10, keep=2)
                elif name == "flvjoin":
                    r[k] = self.joins(k, a.joins)
                elif name == "flv1000":
                    if k in ("cs", "csws") or (k == "nms" and a.nms_1000):
                        r[k] = self.measure(k, a.many, keep=3)
                elif name == "flvslow" and k != "csws":
                    r[k] = self.slow(k)
                elif name == "flvmem" and k == "cs":
                    r[k] = self.memory()
            except RuntimeError as e:
                r[k] = {"error": str(e)}
        if name == "flv1" and not a.no_floor:
            r["gst"] = self.floor()
        return r

    def run(self):
        self.use_camera("720p25")
        self.run_scenarios(err_len=160)


# ---------------------------------------------------------------- the table

g = run.g


def rows_for(name, runs, a):
    """[(figure, {system: value}, target, limit, higher_is_better, floor)]"""
    out = []

    def row(label, get, target="", limit=None, hib=False, floor=None, systems=SYSTEMS):
        vals = {k: run.med([get(r.get(k)) for r in runs]) for k in systems}
        ratios = {}
        for peer in ("nms", "ffv"):
            rs = [get(r.get("cs")) / get(r.get(peer)) for r in runs
                  if get(r.get("cs")) is not None and get(r.get(peer))]
            ratios[peer] = run.med(rs)
        fl = run.med([floor(r.get("gst")) for r in runs]) if floor else None
        out.append((label, vals, ratios, fl, target, limit, hib))

    if name in ("flv1", "flv10", "flv1000"):
        fl = (lambda d: g(d, "all", "lat_p50_ms")) if name == "flv1" else None
        floor_p50 = run.med([g(r.get("gst"), "all", "lat_p50_ms") for r in runs])
        lim = floor_p50 + 3 if (floor_p50 is not None and name == "flv1") else None
        row("tag latency p50 ms", lambda d: g(d, "all", "lat_p50_ms"),
            target="<= floor + 3 = %.1f" % lim if lim else "", limit=lim, floor=fl)
        row("tag latency p95 ms", lambda d: g(d, "all", "lat_p95_ms"),
            floor=(lambda d: g(d, "all", "lat_p95_ms")) if name == "flv1" else None)
        row("pictures/s per viewer (min)", lambda d: g(d, "all", "pics_per_s_min"))
        if name == "flv1000":
            row("share of the camera's pictures, min", lambda d: g(d, "all", "share_min"),
                target=">= 0.95", limit=0.95, hib=True)
            row("share of the camera's pictures, median",
                lambda d: g(d, "all", "share_median"))
            row("share of the best viewer's, min", lambda d: g(d, "all", "share_of_best_min"))
            row("best viewer pictures/s", lambda d: g(d, "all", "pics_per_s_best"))
        row("pictures missing (tag ts gaps), all", lambda d: g(d, "all", "gaps_total"))
        if name == "flv1":
            row("key picture tag KB (median)", lambda d: g(d, "all", "key_kb"))
            row("other picture tag KB (median)", lambda d: g(d, "all", "other_kb"))
        cpu_lim = {"flv1": 0.01, "flv1000": 0.5}.get(name)
        row("CPU s/s (server + relay)", lambda d: g(d, "cpu_s_per_s"),
            target=("<= %g" % cpu_lim) if cpu_lim else "", limit=cpu_lim,
            floor=(lambda d: g(d, "cpu_s_per_s")) if name == "flv1" else None)
        row("RSS MiB (all its processes)", lambda d: g(d, "rss_mib"),
            target="< node-media-server" if name == "flv10" else "")
        row("bytes/s received, MB/s", lambda d: (g(d, "all", "bytes_per_s") or 0) / 1e6
            if g(d, "all", "bytes_per_s") is not None else None)
        row("[frames decoded, camstream]",
            lambda d: g(d, "metrics", "camstream_frames_decoded_total"),
            target="0", limit=0, systems=["cs", "csws"])
        row("[coded skipped, camstream]",
            lambda d: g(d, "metrics", "camstream_coded_skipped_total"), systems=["cs", "csws"])
        row("[client CPU s/s]", lambda d: g(d, "client_cpu_s_per_s"))
        row("[machine busy cores]", lambda d: g(d, "machine_busy_cores"))
    elif name == "flvjoin":
        row("join p50 ms", lambda d: g(d, "join_p50_s") * 1000 if g(d, "join_p50_s") is not None
            else None, target="<= 20", limit=20)
        row("join max ms", lambda d: max(g(d, "join_s")) * 1000 if g(d, "join_s") else None)
        row("joins that failed", lambda d: float(len(g(d, "errors") or []))
            if d and "join_s" in d else None)
    elif name == "flvslow":
        sy = ["cs", "nms", "ffv"]
        row("slow: behind at the end ms", lambda d: g(d, "slow_behind_end_ms"),
            target="<= ~1000", limit=1100, systems=sy)
        row("slow: latency p50, last 5 s ms", lambda d: g(d, "slow_last5s_p50_ms"), systems=sy)
        row("slow: latency max, last 5 s ms", lambda d: g(d, "slow_last5s_max_ms"), systems=sy)
        row("slow: pictures/s taken", lambda d: g(d, "slow", "pics_per_s_min"), systems=sy)
        row("slow: bytes/s read, KiB/s", lambda d: g(d, "slow_bytes_per_s") / 1024
            if g(d, "slow_bytes_per_s") is not None else None, systems=sy)
        row("key picture tag KB (normal viewer)", lambda d: g(d, "normal", "key_kb"),
            systems=sy)
        row("time to read one key picture ms", lambda d: g(d, "normal", "key_kb") * 1e6
            / a.slow_rate if g(d, "normal", "key_kb") else None, systems=sy)
        row("normal viewer beside it: p50 ms", lambda d: g(d, "normal", "lat_p50_ms"),
            systems=sy)
        row("normal viewer: pictures/s", lambda d: g(d, "normal", "pics_per_s_min"), systems=sy)
        row("[coded skipped, camstream]",
            lambda d: g(d, "metrics", "camstream_coded_skipped_total"), systems=["cs"])
    elif name == "flvmem":
        sy = ["cs"]
        row("RSS, no source MiB", lambda d: g(d, "rss0_kib") / 1024
            if g(d, "rss0_kib") else None, systems=sy)
        row("RSS, 1 viewer (source open) MiB", lambda d: g(d, "rss1_kib") / 1024
            if g(d, "rss1_kib") else None, systems=sy)
        row("per source (1 viewer - none) KiB", lambda d: g(d, "rss1_kib") - g(d, "rss0_kib")
            if g(d, "rss1_kib") and g(d, "rss0_kib") else None,
            systems=sy)
        gop = run.med([g(r.get("cs"), "gop_kib") for r in runs]) or a.gop_kib
        row("the camera's GOP (1 s of bytes) KiB", lambda d: g(d, "gop_kib"), systems=sy)
        row("per further source (5 vs 1)/4 KiB",
            lambda d: (g(d, "rss5_kib") - g(d, "rss1_kib")) / 4
            if g(d, "rss5_kib") and g(d, "rss1_kib") else None,
            target="<= GOP + 64 = %d" % (gop + 64), limit=gop + 64, systems=sy)
        row("RSS after those 4 left MiB", lambda d: g(d, "rss1b_kib") / 1024
            if g(d, "rss1b_kib") else None, systems=sy)
        for lab, key in (("reading", "rss_read_kib"), ("stalled", "rss_stall_kib")):
            before = key.replace("rss_", "rss_before_")
            row("per %s viewer (101 vs 1)/100 KiB" % lab,
                lambda d, key=key, before=before: (g(d, key) - g(d, before)) / 100
                if g(d, key) and g(d, before) else None,
                target="<= 16", limit=16, systems=sy)
        row("peak RSS (VmHWM) MiB", lambda d: g(d, "hwm_kib") / 1024
            if g(d, "hwm_kib") else None, systems=sy)
    return out


def print_table(results, a, out=sys.stdout):
    cols = [LABEL[k] for k in SYSTEMS] + ["cs/nms", "cs/ffv", "gst floor", "target", ""]
    w0, w = 41, 12
    head = "figure".ljust(w0) + "".join(c[:w - 1].ljust(w) for c in cols[:4]) + \
        "".join(c.ljust(8) for c in cols[4:6]) + cols[6].ljust(10) + cols[7]
    print(head, file=out)
    print("-" * len(head), file=out)
    for name in a.scenarios:
        runs = results.get(name) or []
        print("%s - %s (%d runs)" % (name, SCENARIOS[name], len(runs)), file=out)
        for label, vals, ratios, fl, target, limit, hib in rows_for(name, runs, a):
            cs = vals.get("cs")
            line = label.ljust(w0) + "".join(run.fmt(vals.get(k)).ljust(w) if k in vals
                                             else "".ljust(w) for k in SYSTEMS)
            line += "".join(("-" if ratios.get(p) is None else "%.2f" % ratios[p]).ljust(8)
                            for p in ("nms", "ffv"))
            line += run.fmt(fl).ljust(10) + (target or "").ljust(22)
            line += run.judge(cs, limit, hib)
            print(line.rstrip(), file=out)
        errs = []
        for r in runs:
            for k, v in r.items():
                if isinstance(v, dict):
                    e = v.get("error") or (g(v, "all", "errors") or [None])[0] or \
                        v.get("slow_error")
                    if e and "%s: %s" % (k, e[:150]) not in errs:
                        errs.append("%s: %s" % (k, e[:150]))
        for e in errs[:4]:
            print("   ! " + e, file=out)
        print(file=out)


def print_header(m):
    print(run.header_start(m))
    print("# camstream: %s; medians of %d runs; window %g s after %g s warm-up; cs/nms, cs/ffv: "
          "median of per-run ratios camstream HTTP-FLV / peer" % (m["bin"], m["runs"],
                                                                   m["window_s"], m["warmup_s"]))


def main(argv):
    ap = argparse.ArgumentParser(prog="bench/run.sh --flv", description=__doc__.splitlines()[0])
    run.mode_args(ap, "flv", DEFAULT, QUICK)
    ap.add_argument("--joins", type=int, help="joins per system in flvjoin (10, quick 3)")
    ap.add_argument("--many", type=int, default=1000, help="viewers in flv1000")
    ap.add_argument("--nms-1000", action="store_true",
                    help="also run node-media-server in flv1000")
    ap.add_argument("--slow-rate", type=float, default=65536, help="slow viewer, bytes/s")
    ap.add_argument("--slow-window", type=float, default=20.0)
    ap.add_argument("--gop-kib", type=int, default=500,
                    help="the camera's GOP in KiB, for the per-source memory target when "
                    "flvmem did not measure it")
    ap.add_argument("--no-floor", action="store_true")
    run.mode_tail_args(ap)
    a = ap.parse_args(argv)
    run.mode_settle(ap, a, SCENARIOS, DEFAULT, QUICK)
    a.joins = a.joins or (3 if a.quick else 10)
    if a.from_json:
        with open(a.from_json) as f:
            doc = json.load(f)
        a.scenarios = [s for s in doc["meta"]["scenarios"] if s in doc["results"]]
        a.gop_kib = doc["meta"].get("gop_kib", a.gop_kib)
        print_header(doc["meta"])
        print_table(doc["results"], a)
        return 0
    a.bin = run.mode_bin(ap)
    if not os.path.exists(NMS_APP):
        ap.error("node-media-server is not installed: run bench/peers/install.sh")
    run.prepare_process(a.many, 8192)
    return run.mode_run("flv", a, argv, FlvBench(a), {
        "gop_kib": a.gop_kib, "slow_rate": a.slow_rate, "slow_window": a.slow_window},
        print_header, print_table)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/python3
"""run: camstream's benchmark in one command (docs/PERFORMANCE.md explains every figure).

Starts the test camera (bench/camera.py), then for every scenario and every run starts a fresh
camstream ($CAMSTREAM_BIN, default build/src/camstream), measures it with bench/client.py, and
measures the ffmpeg CLI doing the same decode + JPEG encode in the same run (the order of the two
alternates from run to run, so a drift of the machine's load hits both). Prints one table:
medians over the runs, the ratio camstream / ffmpeg (median of the per-run ratios) and the
issue's target. Raw results go to a JSON file.

  bench/run.sh                      # every scenario, 3 runs, 10 s windows (15-20 minutes)
  bench/run.sh --quick              # 720p25x1 and ttff, 3 s windows (about a minute)
  bench/run.sh --scenarios 720p25x1,slow --runs 5 --window 20
  bench/run.sh --flv [--quick]      # the FLV benchmark with its peers (bench/flv_run.py)
  bench/run.sh --rtmp [--quick]     # RTMP ingest against node-media-server (bench/rtmp_run.py)
  bench/run.sh --hls [--quick]      # HLS in hls.js and 100 clients, against ffmpeg + nginx
  bench/run.sh --webrtc [--quick]   # WebRTC: latency vs WS-JPEG and FLV in Chromium, 50 viewers
  bench/run.sh --onvif [--runs N]   # ONVIF: a probe's time and CPU, against npm onvif
  bench/run.sh --proxy [--quick]    # behind nginx: latency and CPU added; sizing curves

Every wait has a deadline; every process started is stopped on exit, Ctrl-C included (and gets
SIGTERM from the kernel if this script is killed outright).
"""

import argparse
import atexit
import json
import os
import resource
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import client  # noqa: E402

PY = "/usr/bin/python3"   # Debian's python, the one with python3-gi

# name: (camera mode, description)
SCENARIOS = {
    "720p25x1": ("720p25", "720p25, 1 viewer"),
    "1080p30x1": ("1080p30", "1080p30, 1 viewer"),
    "1080p30x10": ("1080p30", "1080p30, 10 viewers of one source"),
    "720p25x100": ("720p25", "720p25, 100 viewers of one source"),
    "slow": ("720p25", "720p25, 4 viewers + 3 slow viewers (kernel buffer, 64 KiB, asking)"),
    "tiles": ("720p25", "small tiles: distinct sources at fps=F&width=320 (--tiles-fps)"),
    "ttff": ("720p25", "time to first frame"),
    "mjpeg": ("720p25", "720p25, 1 MJPEG viewer (/mjpeg)"),
    "snapshot": ("720p25", "720p25, /snapshot every 0.5 s (a WebSocket viewer keeps it live)"),
}
DEFAULT = ["720p25x1", "1080p30x1", "1080p30x10", "720p25x100", "slow", "tiles", "ttff",
           "mjpeg", "snapshot"]
QUICK = ["720p25x1", "ttff"]
FPS = {"720p25": 25, "1080p30": 30}

_children = []     # Popen objects started by this script, stopped at exit


def die_with_parent():
    client.die_with_parent()


def stop(p, timeout=5.0):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=timeout)
    if p in _children:
        _children.remove(p)


def stop_all():
    for p in list(_children):
        stop(p)


def start_lines(cmd, ready_prefix, log_path, timeout=15.0, env=None):
    """Start @cmd; return (Popen, every stdout line up to the first whole one starting with
    @ready_prefix, that one last)."""
    log = open(log_path, "ab")
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                         preexec_fn=die_with_parent, env=env)
    log.close()
    _children.append(p)
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([p.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        chunk = os.read(p.stdout.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
        lines = buf.decode("utf-8", "replace").splitlines()
        for i, line in enumerate(lines):
            if line.startswith(ready_prefix) and (buf.endswith(b"\n") or i < len(lines) - 1):
                return p, [x.strip() for x in lines[:i + 1]]
    stop(p)
    with open(log_path, "rb") as f:
        tail = f.read()[-1500:].decode("utf-8", "replace")
    raise RuntimeError("%s: no %r line within %.0f s\n%s" % (cmd[0], ready_prefix, timeout, tail))


def start(cmd, ready_prefix, log_path, timeout=15.0, env=None):
    """Start @cmd; return (Popen, the first stdout line starting with @ready_prefix)."""
    p, lines = start_lines(cmd, ready_prefix, log_path, timeout, env)
    return p, lines[-1]


class Bench:
    def __init__(self, args):
        self.a = args
        self.logdir = tempfile.mkdtemp(prefix="camstream-bench-")
        self.camera = None
        self.camera_mode = None
        self.rtsp = None
        self.results = {}        # scenario -> list of per-run dicts

    # ------------------------------------------------------------ processes

    def use_camera(self, mode):
        if self.camera_mode == mode and self.camera.poll() is None:
            return
        if self.camera is not None:
            stop(self.camera)
        self.camera, line = start([PY, os.path.join(HERE, "camera.py"), "--mode", mode],
                                  "READY ", os.path.join(self.logdir, "camera-%s.log" % mode),
                                  timeout=20)
        self.camera_mode = mode
        self.rtsp = line.split()[1]
        time.sleep(1.0)    # let the encoder reach its steady rate

    def start_camstream(self, extra=()):
        cmd = [self.a.bin, "--port", "0", "--host", "127.0.0.1", "--max-clients", "0",
               "--log-level", "warn"] + self.limit_opts() + list(extra)
        p, line = start(cmd, "camstream listening on http://",
                        os.path.join(self.logdir, "camstream.log"), timeout=10)
        hostport = line.rsplit("http://", 1)[1].strip("/")
        host, _, port = hostport.rpartition(":")
        return p, host, int(port)

    def limit_opts(self):
        """Lift the limits a benchmark exceeds on purpose (16 sessions to one camera host, ...),
        for the options this build has."""
        if not hasattr(self, "_limits"):
            try:
                text = subprocess.run([self.a.bin, "--help"], capture_output=True, timeout=5,
                                      text=True).stdout
            except (OSError, subprocess.TimeoutExpired):
                text = ""
            self._limits = []
            for opt in ("--max-sessions-per-host", "--max-sources"):
                if opt in text:
                    self._limits += [opt, "0"]
        return self._limits

    def camstream_run(self, fn):
        """fn(host, port, pid) with a fresh camstream; the process is stopped afterwards."""
        p, host, port = self.start_camstream()
        try:
            return fn(host, port, p.pid)
        finally:
            stop(p)

    def gst_floor(self):
        cmd = [PY, os.path.join(HERE, "client.py"), "gst", "--rtsp", self.rtsp,
               "--warmup", str(self.a.warmup), "--window", str(self.a.window)]
        try:
            out = subprocess.run(cmd, capture_output=True, timeout=self.a.window + 30,
                                 preexec_fn=die_with_parent)
            return json.loads(out.stdout)
        except (subprocess.TimeoutExpired, ValueError) as e:
            return {"error": str(e)}

    # ------------------------------------------------------------ scenarios

    def run_scenarios(self, runs_of=None, quiet=True, err_len=200):
        """Every scenario of --scenarios, --runs times each (@runs_of(name) when given): each
        run waits for a quiet machine first (when a camera runs and @quiet), then scenario()
        gives its dict; a line on stderr per run, with the errors it holds."""
        for name in self.a.scenarios:
            self.results[name] = []
            runs = runs_of(name) if runs_of else self.a.runs
            for rep in range(runs):
                t = time.monotonic()
                others = self.wait_quiet() if quiet and self.camera is not None else None
                r = self.scenario(name, rep)
                r["others_cores_before"] = others
                self.results[name].append(r)
                errs = ["%s: %s" % (k, v["error"][:err_len]) for k, v in r.items()
                        if isinstance(v, dict) and "error" in v]
                print("  %-8s run %d/%d done in %.0f s%s" % (
                    name, rep + 1, runs, time.monotonic() - t,
                    "".join("  ERROR " + e for e in errs)), file=sys.stderr, flush=True)
        if self.camera is not None:
            stop(self.camera)

    def wait_quiet(self):
        """Until the rest of the machine (everything but the camera) uses at most --max-busy
        cores over a 1 s sample, or --max-wait seconds have passed. Returns the last sample."""
        if self.a.max_wait <= 0:
            return None
        deadline = time.monotonic() + self.a.max_wait
        while True:
            c0, m0, t0 = client.proc_cpu(self.camera.pid) or 0.0, client.machine_busy(), \
                time.monotonic()
            time.sleep(1.0)
            c1, m1, t1 = client.proc_cpu(self.camera.pid) or 0.0, client.machine_busy(), \
                time.monotonic()
            others = max(0.0, ((m1 - m0) - (c1 - c0)) / (t1 - t0))
            if others <= self.a.max_busy or time.monotonic() >= deadline:
                return others

    def pair(self, rep, cs, ff):
        """Both measurements of one run, in alternating order."""
        if rep % 2 == 0:
            a = self.camstream_run(cs)
            b = ff() if ff else None
        else:
            b = ff() if ff else None
            a = self.camstream_run(cs)
        return a, b

    def scenario(self, name, rep):
        a = self.a
        w, wu = a.window, a.warmup
        fps = FPS[SCENARIOS[name][0]]
        rtsp = self.rtsp
        run = {}
        if name in ("720p25x1", "1080p30x1", "1080p30x10", "720p25x100"):
            n = {"720p25x1": 1, "1080p30x1": 1, "1080p30x10": 10, "720p25x100": a.viewers}[name]
            run["cs"], run["ff"] = self.pair(
                rep,
                lambda h, p, pid: client.run_ws(h, p, rtsp, viewers=n, pid=pid, warmup=wu,
                                                window=w, src_fps=fps),
                lambda: client.run_ffmpeg(rtsp, warmup=wu, window=w, src_fps=fps))
            if name.endswith("x1") and not a.no_floor:
                run["gst"] = self.gst_floor()
        elif name == "slow":
            run["cs"], run["ff"] = self.pair(
                rep,
                lambda h, p, pid: client.run_ws(h, p, rtsp, viewers=4, slow=a.slow, pid=pid,
                                                warmup=wu, window=w, src_fps=fps),
                lambda: client.run_ffmpeg(rtsp, slow=a.slow, warmup=wu, window=w, src_fps=fps))
        elif name == "tiles":
            q = "fps=%g&width=320" % a.tiles_fps
            run["cs"], run["ff"] = self.pair(
                rep,
                lambda h, p, pid: client.run_ws(h, p, rtsp, viewers=a.tiles, sources=a.tiles,
                                                query=q, pid=pid, warmup=wu, window=w,
                                                src_fps=a.tiles_fps),
                lambda: client.run_ffmpeg(rtsp, sources=a.tiles, fps=a.tiles_fps, width=320,
                                          warmup=wu, window=w, src_fps=a.tiles_fps))
        elif name == "ttff":
            run["cs"], ff = self.pair(
                rep, lambda h, p, pid: client.run_ttff(h, p, rtsp, joins=a.joins),
                lambda: client.run_ffmpeg_ttff(rtsp, reps=1))
            run["ff"] = {"new_s": ff[0]}
        elif name == "mjpeg":
            run["cs"], run["ff"] = self.pair(
                rep,
                lambda h, p, pid: client.run_ws(h, p, rtsp, viewers=1, pid=pid, warmup=wu,
                                                window=w, src_fps=fps, kind="mjpeg"),
                lambda: client.run_ffmpeg(rtsp, warmup=wu, window=w, src_fps=fps))
        elif name == "snapshot":
            run["cs"], run["ff"] = self.pair(
                rep,
                lambda h, p, pid: client.run_snapshot(h, p, rtsp, interval=0.5, pid=pid,
                                                      warmup=wu, window=w), None)
        return run

    def run(self):
        order = sorted(self.a.scenarios, key=lambda s: (SCENARIOS[s][0] != "720p25",
                                                        self.a.scenarios.index(s)))
        for name in order:
            self.use_camera(SCENARIOS[name][0])
            self.results[name] = []
            for rep in range(self.a.runs):
                t = time.monotonic()
                others = self.wait_quiet()
                try:
                    r = self.scenario(name, rep)
                except RuntimeError as e:
                    r = {"error": str(e)}
                r["others_cores_before"] = others
                self.results[name].append(r)
                print("  %-11s run %d/%d done in %.0f s%s%s" % (
                    name, rep + 1, self.a.runs, time.monotonic() - t,
                    "" if others is None else " (others used %.1f cores before)" % others,
                    ("  ERROR " + r["error"][:200]) if "error" in r else ""),
                    file=sys.stderr, flush=True)
        if self.camera is not None:
            stop(self.camera)


# ---------------------------------------------------------------- the table

def g(d, *path):
    for k in path:
        if not isinstance(d, dict) or d.get(k) is None:
            return None
        d = d[k]
    return d


def med(vals):
    v = [x for x in vals if isinstance(x, (int, float)) and not isinstance(x, bool)]
    return statistics.median(v) if v else None


def ratio_med(runs, get):
    rs = []
    for r in runs:
        a, b = get(r.get("cs")), get(r.get("ff"))
        if a is not None and b:
            rs.append(a / b)
    return med(rs)


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if unit == "MB":
        return "%.1f" % (v / 1e6)
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    if abs(v) >= 1:
        return "%.2f" % v
    return "%.3f" % v


def judge(value, limit, higher_is_better=False):
    if value is None or limit is None:
        return ""
    ok = value >= limit if higher_is_better else value <= limit
    return "ok" if ok else "MISS"


def failed(d):
    """A measurement whose receivers all failed before a frame: its figures mean nothing."""
    return not d or (g(d, "all", "frames") == 0 and (g(d, "all", "n_errors") or 0) > 0)


def rows_for(name, runs, all_results, args):
    """[(figure, camstream, ffmpeg, ratio, floor, target, verdict)]"""
    out = []
    runs = [{k: (None if failed(v) else v) for k, v in r.items() if k != "error"}
            for r in runs]

    def row(label, get, unit="", target=None, limit=None, hib=False, ffget=None, floor=None,
            ratio=True):
        cs = med([get(r.get("cs")) for r in runs])
        fg = ffget or get
        ff = med([fg(r.get("ff")) for r in runs]) if ffget is not False else None
        rt = ratio_med(runs, lambda d, _g=get: _g(d)) if (ratio and ffget is None) else None
        if ratio and ffget not in (None, False):
            rs = [get(r.get("cs")) / fg(r.get("ff")) for r in runs
                  if get(r.get("cs")) is not None and fg(r.get("ff"))]
            rt = med(rs)
        fl = med([floor(r.get("gst")) for r in runs]) if floor else None
        out.append((label, fmt(cs, unit), fmt(ff, unit), "-" if rt is None else "%.2f" % rt,
                    fmt(fl), target or "",
                    judge(cs, limit, hib)))
        return cs

    lat_target = {"720p25x1": 55, "1080p30x1": 50}.get(name)
    if name in ("720p25x1", "1080p30x1", "1080p30x10", "720p25x100", "mjpeg"):
        p50 = row("latency p50 ms", lambda d: g(d, "all", "lat_p50_ms"),
                  target=("<= %d" % lat_target) if lat_target else "", limit=lat_target,
                  floor=lambda d: g(d, "all", "lat_p50_ms"))
        interval = 1000.0 / FPS[SCENARIOS[name][0]]
        row("latency p50 - 1 frame interval ms",
            lambda d: (g(d, "all", "lat_p50_ms") - interval)
            if g(d, "all", "lat_p50_ms") is not None else None, ratio=False)
        p95_lim = 1.3 * p50 if (p50 is not None and lat_target) else None
        row("latency p95 ms", lambda d: g(d, "all", "lat_p95_ms"),
            target="<= 1.3 x p50" if lat_target else "", limit=p95_lim,
            floor=lambda d: g(d, "all", "lat_p95_ms"))
        row("fps per viewer (min)", lambda d: g(d, "all", "fps_min"),
            target=">= 90% of source" if name == "720p25x100" else "",
            limit=0.9 * FPS["720p25"] if name == "720p25x100" else None, hib=True,
            floor=lambda d: g(d, "all", "fps_min"))
        row("source frames/s (distinct)", lambda d: g(d, "all", "unique_fps"))
        row("bytes/s sent, MB/s (all viewers)", lambda d: g(d, "all", "bytes_per_s"), unit="MB")
        row("bytes per frame, KB",
            lambda d: (g(d, "all", "bytes_per_s") / g(d, "all", "fps_median")
                       / g(d, "all", "receivers") / 1000)
            if g(d, "all", "fps_median") and g(d, "all", "receivers") else None)
        cpu_lim = {"720p25x1": 0.10, "1080p30x10": 0.35}.get(name)
        cpu_target = ("<= %.2f" % cpu_lim) if cpu_lim else ""
        if name == "720p25x100":
            # "<= 1.5 x the CPU of 1 viewer plus the bytes sent": the cost of a sent byte is
            # the slope between 1080p30x1 and 1080p30x10 of this run (one decode and encode,
            # 10 x the bytes), when both ran
            def cs_med(scn, *path):
                return med([g(r.get("cs"), *path) for r in all_results.get(scn, [])])
            one = cs_med("720p25x1", "cpu_s_per_s")
            b1, b100 = cs_med("720p25x1", "all", "bytes_per_s"), med(
                [g(r.get("cs"), "all", "bytes_per_s") for r in runs])
            c1, c10 = cs_med("1080p30x1", "cpu_s_per_s"), cs_med("1080p30x10", "cpu_s_per_s")
            k1, k10 = (cs_med("1080p30x1", "all", "bytes_per_s"),
                       cs_med("1080p30x10", "all", "bytes_per_s"))
            per_byte = ((c10 - c1) / (k10 - k1) if None not in (c1, c10, k1, k10)
                        and k10 > k1 and c10 > c1 else None)
            cpu_lim = 1.5 * one if one else None
            cpu_target = "<= 1.5 x 720p25x1"
            if cpu_lim and per_byte is not None and None not in (b1, b100):
                extra = per_byte * (b100 - b1)
                cpu_lim += extra
                cpu_target = "<= 1.5 x 720p25x1 + %.3f for bytes = %.2f" % (extra, cpu_lim)
        row("CPU s/s", lambda d: g(d, "cpu_s_per_s"), target=cpu_target,
            limit=cpu_lim, floor=lambda d: g(d, "cpu_s_per_s"))
        row("RSS MiB (end of window)", lambda d: g(d, "rss_mib"),
            target="<= 40" if name == "1080p30x10" else "",
            limit=40 if name == "1080p30x10" else None)
        row("peak RSS (VmHWM) MiB", lambda d: g(d, "hwm_mib"))
        if name == "720p25x100":
            one = med([g(r.get("cs"), "rss_mib") for r in all_results.get("720p25x1", [])])
            n = args.viewers
            row("RSS per extra viewer KiB (vs 720p25x1)",
                lambda d: (g(d, "rss_mib") - one) * 1024 / (n - 1)
                if (one is not None and g(d, "rss_mib") is not None and n > 1) else None,
                ffget=False, target="<= 64 (idle viewer)")
        row("time to first frame s (new source)", lambda d: g(d, "all", "ttff_s_median"))
        row("[client's own CPU s/s]", lambda d: g(d, "client_cpu_s_per_s"), ratio=False)
        row("[machine busy cores, everyone]", lambda d: g(d, "machine_busy_cores"), ratio=False)
    elif name == "slow":
        row("normal viewers: latency p50 ms", lambda d: g(d, "all", "lat_p50_ms"), ffget=False)
        row("normal viewers: latency p95 ms", lambda d: g(d, "all", "lat_p95_ms"), ffget=False)
        row("normal viewers: fps (min)", lambda d: g(d, "all", "fps_min"), ffget=False,
            target=">= 24", limit=24, hib=True)
        lim = args.slow * 1000 + 150
        row("slow viewer: latency p50 ms", lambda d: g(d, "slow", "lat_p50_ms"),
            ffget=lambda d: g(d, "all", "lat_p50_ms"))
        row("slow viewer: latency p95 ms", lambda d: g(d, "slow", "lat_p95_ms"),
            ffget=lambda d: g(d, "all", "lat_p95_ms"),
            target="<= %d (interval + 150)" % lim, limit=lim)
        row("slow viewer: latency max ms", lambda d: g(d, "slow", "lat_max_ms"),
            ffget=lambda d: g(d, "all", "lat_max_ms"))
        row("slow viewer: frames/s taken", lambda d: g(d, "slow", "fps_min"),
            ffget=lambda d: g(d, "all", "fps_min"))
        for label, grp in (("slow link (64 KiB rcvbuf)", "slowlink"),
                           ("slow, asking (\"next\")", "slowpull")):
            row(label + ": p50 ms", lambda d, grp=grp: g(d, grp, "lat_p50_ms"), ffget=False)
            row(label + ": p95 ms", lambda d, grp=grp: g(d, grp, "lat_p95_ms"), ffget=False,
                target="<= %d (interval + 150)" % lim, limit=lim)
            row(label + ": frames/s", lambda d, grp=grp: g(d, grp, "fps_min"), ffget=False)
        row("CPU s/s", lambda d: g(d, "cpu_s_per_s"))
    elif name == "tiles":
        full = med([g(r.get("cs"), "cpu_s_per_s") for r in all_results.get("720p25x1", [])])
        row("sources", lambda d: float(g(d, "all", "receivers") or 0), ratio=False)
        row("fps per tile (min)", lambda d: g(d, "all", "fps_min"))
        row("latency p50 ms", lambda d: g(d, "all", "lat_p50_ms"))
        row("CPU s/s (all tiles)", lambda d: g(d, "cpu_s_per_s"),
            target="< 1.0 (16 tiles at fps=2)" if args.tiles >= 16 and args.tiles_fps >= 2
            else "", limit=1.0 if args.tiles >= 16 and args.tiles_fps >= 2 else None)
        lim = 0.2 * full if full else None
        row("CPU s/s per tile", lambda d: (g(d, "cpu_s_per_s") / g(d, "all", "receivers"))
            if g(d, "cpu_s_per_s") is not None else None,
            target=("<= 0.2 x 720p25x1 = %.3f" % lim) if lim else "<= 0.2 x full decode",
            limit=lim)
        row("RSS MiB", lambda d: g(d, "rss_mib"))
    elif name == "ttff":
        row("new source, p50 s", lambda d: g(d, "new_s"), target="<= 0.8", limit=0.8)
        row("join a running source, p50 s", lambda d: med(g(d, "join_s") or []), ffget=False,
            target="<= 0.1", limit=0.1)
    elif name == "snapshot":
        row("response time p50 ms", lambda d: g(d, "snapshot", "response_p50_ms"), ffget=False)
        row("response time p95 ms", lambda d: g(d, "snapshot", "response_p95_ms"), ffget=False)
        row("picture age p50 ms", lambda d: g(d, "snapshot", "lat_p50_ms"), ffget=False)
        row("requests answered with a picture", lambda d: g(d, "snapshot", "ok"), ffget=False,
            ratio=False)
        row("requests sent", lambda d: g(d, "snapshot", "requests"), ffget=False, ratio=False)
        row("CPU s/s", lambda d: g(d, "cpu_s_per_s"), ffget=False)
    return out


def errors_of(runs):
    errs = []
    for r in runs:
        if "error" in r:
            errs.append(r["error"])
        for side in ("cs", "ff"):
            d = r.get(side) or {}
            for grp in ("all", "slow", "slowlink", "slowpull"):
                errs += g(d, grp, "errors") or []
            errs += g(d, "errors") or []
            errs += g(d, "snapshot", "errors") or []
    seen = []
    for e in errs:
        e = e.splitlines()[0][:160] if e else e
        if e and e not in seen:
            seen.append(e)
    return seen[:3]


def print_table(results, args, out=sys.stdout):
    head = ("figure", "camstream", "ffmpeg", "cs/ff", "gst floor", "target", "")
    widths = [38, 11, 9, 7, 9, 34, 4]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip()
    print(line, file=out)
    print("-" * len(line), file=out)
    for name in args.scenarios:
        runs = results.get(name) or []
        title = SCENARIOS[name][1]
        if name == "tiles":
            title = title.replace("fps=F", "fps=%g" % args.tiles_fps)
        print("%s - %s (%d runs)" % (name, title, len(runs)), file=out)
        for r in rows_for(name, runs, results, args):
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip(), file=out)
        for e in errors_of(runs):
            print("   ! " + e, file=out)
        busy = [g(r.get(side), "machine_busy_cores") for r in runs for side in ("cs", "ff")]
        busy = [b for b in busy if b is not None]
        sat = sum(1 for b in busy if b >= 1.9)
        if sat:
            print("   ! the machine was saturated (>= 1.9 of 2 cores busy) in %d of %d windows: "
                  "queues grow, figures measure the machine as much as the program"
                  % (sat, len(busy)), file=out)
        print(file=out)


def mode_args(ap, mode, scenarios, quick):
    """The options the --flv and --rtmp modes share, before their own."""
    ap.add_argument("--" + mode, action="store_true", help="(this mode)")
    ap.add_argument("--scenarios", help="comma-separated, from: " + ",".join(scenarios))
    ap.add_argument("--quick", action="store_true",
                    help="%s, 1 run, 3 s windows, no waiting for a quiet machine" %
                    ",".join(quick))
    ap.add_argument("--runs", type=int)
    ap.add_argument("--window", type=float, help="seconds measured (default 10, quick 3)")
    ap.add_argument("--warmup", type=float, help="seconds after the first key picture (2)")


def mode_tail_args(ap):
    """... and after them."""
    ap.add_argument("--max-busy", type=float, default=0.6)
    ap.add_argument("--max-wait", type=float)
    ap.add_argument("--json", help="raw results (default: in the log folder)")
    ap.add_argument("--from-json", metavar="PATH", help="print the table of a results file")


def mode_settle(ap, a, known, default, quick):
    """The shared options' defaults, which --quick changes; the scenarios checked."""
    a.scenarios = a.scenarios.split(",") if a.scenarios else (quick if a.quick else default)
    for s in a.scenarios:
        if s not in known:
            ap.error("unknown scenario %r" % s)
    a.runs = a.runs or (1 if a.quick else 3)
    a.window = a.window or (3.0 if a.quick else 10.0)
    a.warmup = a.warmup if a.warmup is not None else (1.0 if a.quick else 2.0)
    if a.max_wait is None:
        a.max_wait = 0.0 if a.quick else 30.0


def mode_bin(ap):
    """The camstream measured: CAMSTREAM_BIN, or the build folder's."""
    path = os.environ.get("CAMSTREAM_BIN") or os.path.join(ROOT, "build", "src", "camstream")
    if not os.access(path, os.X_OK):
        ap.error("no camstream binary at %s (set CAMSTREAM_BIN)" % path)
    return path


def mode_replay(a, print_header, print_table):
    """--from-json: the table of results saved by an earlier run; 0."""
    with open(a.from_json) as f:
        doc = json.load(f)
    a.scenarios = [s for s in doc["meta"]["scenarios"] if s in doc["results"]]
    print_header(doc["meta"])
    print_table(doc["results"], a)
    return 0


def child_pids(pid):
    """The processes whose parent is @pid (an nginx master's workers)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def mode_run(mode, a, argv, bench, meta_extra, print_header, print_table):
    """Runs @bench, then writes its results (JSON) and prints the table."""
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    load0 = os.getloadavg()
    print("camstream %s benchmark: %s, runs %d, window %g s; logs in %s"
          % (mode.upper(), a.bin, a.runs, a.window, bench.logdir), file=sys.stderr, flush=True)
    try:
        bench.run()
    except KeyboardInterrupt:
        print("interrupted: partial results", file=sys.stderr)
    finally:
        stop_all()
    flag = "--" + mode
    meta = {"started": started, "bin": a.bin, "argv": [flag] + [x for x in argv if x != flag],
            "runs": a.runs, "window_s": a.window, "warmup_s": a.warmup,
            "cores": os.cpu_count(), "loadavg_start": load0, "loadavg_end": os.getloadavg(),
            "scenarios": a.scenarios, "many": a.many}
    meta.update(meta_extra)
    path = a.json or os.path.join(bench.logdir, "results.json")
    with open(path, "w") as f:
        json.dump({"meta": meta, "results": bench.results}, f, indent=1)
    print_header(meta)
    print_table(bench.results, a)
    print("# raw results: %s (bench/run.sh %s --from-json PATH prints this table again)"
          % (path, flag))
    return 0


def header_start(m):
    """The first line of a mode's table header: when, the command, the machine."""
    return ("# %s  %s  (%d cores, load average %.1f at start, %.1f at end)"
            % (m["started"], " ".join(["bench/run.sh"] + m["argv"]), m["cores"],
               m["loadavg_start"][0], m["loadavg_end"][0]))


def prepare_process(viewers, at_least):
    """Before a benchmark of up to @viewers: the soft RLIMIT_NOFILE raised to 4 descriptors a
    viewer and 256 more (at least @at_least) where it is lower; the servers stopped at exit;
    SIGTERM and SIGHUP end it as Ctrl-C does."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 4 * viewers + 256
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, at_least)), hard))
    atexit.register(stop_all)
    # Ctrl-C even where SIGINT was inherited ignored (a background job of a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))


def main():
    if "--flv" in sys.argv[1:]:     # the FLV benchmark: its own scenarios and table
        import flv_run
        return flv_run.main(sys.argv[1:])
    if "--rtmp" in sys.argv[1:]:    # the RTMP ingest benchmark (bench/rtmp_run.py)
        import rtmp_run
        return rtmp_run.main(sys.argv[1:])
    if "--hls" in sys.argv[1:]:     # HLS / LL-HLS against ffmpeg's hls muxer + nginx
        import hls_run
        return hls_run.main(sys.argv[1:])
    if "--onvif" in sys.argv[1:]:  # ONVIF: a probe's time and cost, against npm onvif
        import onvif_run
        return onvif_run.main(sys.argv[1:])
    if "--webrtc" in sys.argv[1:]:  # WebRTC (WHEP): Chromium's latency, whep_load's viewers
        import webrtc_run
        return webrtc_run.main(sys.argv[1:])
    if "--proxy" in sys.argv[1:]:   # behind nginx (deploy/nginx/), and the sizing curves
        import proxy_run
        return proxy_run.main(sys.argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", help="comma-separated, from: " + ",".join(DEFAULT))
    ap.add_argument("--quick", action="store_true",
                    help="%s, 3 s windows, 0.5 s warm-up, no floor, no waiting for a quiet "
                    "machine (about a minute)"
                    % ",".join(QUICK))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--window", type=float, help="seconds measured per run (default 10)")
    ap.add_argument("--warmup", type=float, help="seconds after the first frame (default 2)")
    ap.add_argument("--viewers", type=int, default=100, help="viewers in 720p25x100")
    ap.add_argument("--slow", type=float, default=0.5, help="slow viewer: seconds per frame")
    ap.add_argument("--tiles", type=int, default=16, help="distinct sources in 'tiles'")
    ap.add_argument("--tiles-fps", type=float, default=1.0)
    ap.add_argument("--max-busy", type=float, default=0.6,
                    help="before each run, wait until other processes use at most this many "
                    "cores (the machine is shared)")
    ap.add_argument("--max-wait", type=float,
                    help="...but wait at most this many seconds (default 30, 0 with --quick)")
    ap.add_argument("--no-floor", action="store_true",
                    help="skip the GStreamer floor runs (implied by --quick)")
    ap.add_argument("--json", help="write raw results here (default: in the log folder)")
    ap.add_argument("--from-json", metavar="PATH",
                    help="measure nothing: print the table of a results file written before")
    a = ap.parse_args()
    a.scenarios = a.scenarios.split(",") if a.scenarios else (QUICK if a.quick else DEFAULT)
    for s in a.scenarios:
        if s not in SCENARIOS:
            ap.error("unknown scenario %r" % s)
    a.window = a.window or (3.0 if a.quick else 10.0)
    a.joins = 3 if a.quick else 5
    a.no_floor = a.no_floor or a.quick
    if a.max_wait is None:
        a.max_wait = 0.0 if a.quick else 30.0
    a.warmup = a.warmup if a.warmup is not None else (0.5 if a.quick else 2.0)
    if a.from_json:
        with open(a.from_json) as f:
            doc = json.load(f)
        m = doc["meta"]
        for k in ("runs", "viewers", "slow", "tiles", "tiles_fps"):
            if k in m:
                setattr(a, k, m[k])
        a.scenarios = [s for s in (m.get("scenarios") or DEFAULT) if s in doc["results"]]
        print_header(m)
        print_table(doc["results"], a)
        return 0
    a.bin = os.environ.get("CAMSTREAM_BIN") or os.path.join(ROOT, "build", "src", "camstream")
    if not os.access(a.bin, os.X_OK):
        ap.error("no camstream binary at %s (set CAMSTREAM_BIN)" % a.bin)

    prepare_process(a.viewers, 4096)

    b = Bench(a)
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    load0 = os.getloadavg()
    print("camstream benchmark: %s, runs %d, window %g s, warm-up %g s; logs in %s"
          % (a.bin, a.runs, a.window, a.warmup, b.logdir), file=sys.stderr, flush=True)
    try:
        b.run()
    except KeyboardInterrupt:
        print("interrupted: partial results", file=sys.stderr)
    finally:
        stop_all()
    load1 = os.getloadavg()
    meta = {"started": started, "bin": a.bin, "argv": sys.argv[1:], "runs": a.runs,
            "window_s": a.window, "warmup_s": a.warmup, "cores": os.cpu_count(),
            "loadavg_start": load0, "loadavg_end": load1, "scenarios": a.scenarios,
            "viewers": a.viewers, "slow": a.slow, "tiles": a.tiles, "tiles_fps": a.tiles_fps}
    path = a.json or os.path.join(b.logdir, "results.json")
    with open(path, "w") as f:
        json.dump({"meta": meta, "results": b.results}, f, indent=1)
    print_header(meta)
    print_table(b.results, a)
    print("# raw results: %s (bench/run.sh --from-json PATH prints this table again)" % path)
    return 0


def print_header(m):
    print("# %s  %s  (%d cores, load average %.1f at start, %.1f at end)"
          % (m["started"], " ".join(["bench/run.sh"] + m["argv"]), m["cores"],
             m["loadavg_start"][0], m["loadavg_end"][0]))
    print("# camstream: %s; medians of %d runs; window %g s after %g s warm-up; "
          "cs/ff = median of per-run ratios camstream/ffmpeg"
          % (m["bin"], m["runs"], m["window_s"], m["warmup_s"]))


if __name__ == "__main__":
    sys.exit(main())

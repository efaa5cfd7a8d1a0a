#!/usr/bin/python3
"""rtmp_run: the RTMP ingest benchmark (bench/run.sh --rtmp; docs/PERFORMANCE.md, "RTMP ingest").

A publisher pushes 720p25 H.264 (GOP 1 s) over RTMP to a server, viewers read it back, in the
same run from two servers doing the same job, each started fresh for every measurement:
  cs   camstream (`--rtmp-port 0`, the port read from its `camstream rtmp on` line), viewers
       on /live/KEY.flv;
  nms  node-media-server 4.4.3 (bench/peers/, installed by bench/peers/install.sh), viewers
       on its HTTP-FLV /live/KEY.flv.
The publisher (bench/rtmp_pub.py) loops a pre-encoded FLV file recorded from the test camera at
the start of the run (no decode, no encode: a few ms of CPU a second, the same for both servers)
and logs when each picture's last byte was handed to the kernel; a viewer's tag latency is its
arrival minus that send time. The order of the two servers alternates from run to run; ratios
are medians of per-run ratios.

  bench/run.sh --rtmp --quick        # rtmp1, rtmp10, rtmpjpeg: 1 run, 3 s windows (~1 minute)
  bench/run.sh --rtmp                # every scenario, 3 runs, 10 s windows (10-20 minutes)
  bench/run.sh --rtmp --scenarios rtmp100,rtmpcg --runs 5
"""

import argparse
import bisect
import json
import os
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
import flv_run  # noqa: E402
import run  # noqa: E402
from receivers import Loop, WsViewer, die_with_parent, now_us  # noqa: E402

PUB = os.path.join(HERE, "rtmp_pub.py")
SYSTEMS = ["cs", "nms"]
LABEL = {"cs": "camstream", "nms": "node-media-server"}
KEY = "cam"
SCENARIOS = {
    "rtmp0": "720p25 published, no viewer: the ingest alone",
    "rtmp1": "720p25 published, 1 FLV viewer",
    "rtmp10": "720p25 published, 10 FLV viewers",
    "rtmp100": "720p25 published, 100 FLV viewers",
    "rtmpjpeg": "camstream: WS-JPEG of the camera published over RTMP vs pulled over RTSP",
    "rtmpcg": "camstream under callgrind: instructions per published picture, alone and with "
              "1 viewer",
}
DEFAULT = ["rtmp0", "rtmp1", "rtmp10", "rtmp100", "rtmpjpeg", "rtmpcg"]
QUICK = ["rtmp1", "rtmp10", "rtmpjpeg"]
FPS, WIDTH = 25, 1280


def read_sent(path):
    """The publisher's log: [(send_us, ts, key, (crc, len))]."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) == 5:
                    out.append((int(p[0]), int(p[1]), p[2] == "1", (int(p[3]), int(p[4]))))
    except OSError:
        pass
    return out


def match_sends(viewers, sent):
    """Each kept viewer's `stamps`: per picture, the send time of the latest message with the
    same picture key sent before the tag arrived (the file loops, so a key recurs once a
    loop), or None."""
    by_key = {}
    for s in sent:
        by_key.setdefault(s[3], []).append(s[0])
    for v in viewers:
        if not v.keep:
            continue
        keys = flv._keys(v.flv)
        st = []
        for pic, k in zip(v.flv.pics, keys):
            ts = by_key.get(k)
            j = bisect.bisect_right(ts, pic[0]) if ts else 0
            st.append(ts[j - 1] if j else None)
        v.stamps = st


start_lines = run.start_lines


class Env:
    """One server up, a publisher on it; makes FLV viewers, knows what to measure."""

    def __init__(self, kind, bench):
        self.kind, self.b = kind, bench
        self.procs = []
        self.pub = None
        d = tempfile.mkdtemp(prefix="%s-" % kind, dir=bench.logdir)
        self.dir = d
        self.sent_path = os.path.join(d, "sent.txt")
        if kind == "cs":
            p, self.port, self.rtmp = bench.start_camstream_rtmp(d)
            self.procs.append(p)
        elif kind == "nms":
            self.port, rport = flv_run.free_port(), flv_run.free_port()
            cfg = os.path.join(d, "config.json")
            with open(cfg, "w") as f:
                json.dump({"bind": "127.0.0.1", "rtmp": {"port": rport},
                           "http": {"port": self.port}, "webadmin": {"enable": False},
                           "store": {"path": os.path.join(d, "data")}}, f)
            self.procs.append(flv_run.start_logged(
                ["node", flv_run.NMS_APP, "-c", cfg, "--no-admin"], os.path.join(d, "nms.log"),
                "HTTP server listening", timeout=20))
            self.rtmp = "rtmp://127.0.0.1:%d/live/" % rport
        self.path = "/live/%s.flv" % KEY

    def publish(self, rtsp=None, dump=None):
        a = self.b.a
        url = self.rtmp + KEY
        if rtsp is None and a.publisher == "ffmpeg":
            self.pub = flv_run.start_logged(
                ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
                 "-stream_loop", "-1", "-i", self.b.file, "-c", "copy", "-f", "flv", url],
                os.path.join(self.dir, "publisher.log"))
            time.sleep(2.0)     # no readiness line: give it the connect and publish
            if self.pub.poll() is not None:
                raise RuntimeError("ffmpeg publisher exited: see %s" % self.dir)
            return
        cmd = [run.PY, PUB, "--url", url, "--log", self.sent_path]
        cmd += ["--rtsp", rtsp] if rtsp else ["--file", self.b.file]
        if dump:
            cmd += ["--dump", dump]
        self.pub, _ = run.start(cmd, "PUBLISHING", os.path.join(self.dir, "publisher.log"),
                                timeout=20)
        time.sleep(0.3)

    def viewer(self, label, keep=False):
        return flv.FlvViewer(label, "127.0.0.1", self.port, self.path, "http", keep)

    def server_pids(self):
        return [p.pid for p in self.procs]

    def metrics(self):
        if self.kind != "cs":
            return None
        try:
            text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port,
                                          timeout=3).read().decode()
        except OSError:
            return None
        out = {}
        for line in text.splitlines():
            if not line.startswith("camstream_"):
                continue
            name = line.split("{", 1)[0].split(" ", 1)[0]
            if "{" in line and ('name="%s"' % KEY) not in line:
                continue
            try:
                out[name] = out.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
            except ValueError:
                pass
        return out

    def down(self):
        if self.pub is not None:
            run.stop(self.pub)
        for p in reversed(self.procs):
            run.stop(p)


class RtmpBench(run.Bench):

    def start_camstream_rtmp(self, logdir, extra=(), prefix=()):
        """camstream with --rtmp-port 0: (Popen, HTTP port, "rtmp://HOST:PORT/live/")."""
        cmd = list(prefix) + [self.a.bin, "--port", "0", "--host", "127.0.0.1",
                              "--max-clients", "0", "--log-level", "warn",
                              "--rtmp-port", "0"] + self.limit_opts() + list(extra)
        p, lines = start_lines(cmd, "camstream rtmp on rtmp://",
                               os.path.join(logdir, "camstream.log"),
                               timeout=60 if prefix else 10)
        rtmp = lines[-1].split(" on ", 1)[1].strip()
        http = [x for x in lines if x.startswith("camstream listening on http://")]
        if not http:
            run.stop(p)
            raise RuntimeError("camstream: no 'listening on' line before the rtmp one")
        port = int(http[0].rsplit("http://", 1)[1].strip("/").rpartition(":")[2])
        return p, port, rtmp

    # ------------------------------------------------------------ the file

    def prepare_file(self):
        """The publisher's input: --file, or 12 s of the test camera copied into an FLV."""
        if self.a.file:
            self.file = self.a.file
            return
        self.use_camera("720p25")
        self.file = os.path.join(self.logdir, "camera-720p25.flv")
        subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
                        "-rtsp_transport", "tcp", "-i", self.rtsp, "-t", "12", "-an",
                        "-c", "copy", "-f", "flv", self.file],
                       timeout=40, check=True, preexec_fn=die_with_parent)

    # ------------------------------------------------------------ FLV viewers

    def measure(self, kind, n, keep=1, batch=50):
        a = self.a
        env = Env(kind, self)
        loop = Loop()
        viewers = []
        try:
            env.publish()
            for i in range(n):
                v = env.viewer("%s%d" % (kind, i), keep=i < keep)
                v.connect_timeout = 30
                viewers.append(v)
                loop.add(v)
                if i % batch == batch - 1:
                    loop.run_until(time.monotonic() + 0.05)
            flv_run.wait_keys(loop, viewers, 20 + n / 50)
            loop.run_until(time.monotonic() + (a.warmup if n else a.warmup + 1.0))
            meter = client.CpuMeter(env.server_pids())
            pmeter = client.CpuMeter([env.pub.pid])
            meter.start()
            pmeter.start()
            for v in viewers:
                v.bytes_t0 = v.bytes
            t0 = now_us()
            loop.run_until(time.monotonic() + a.window)
            t1 = now_us()
            res = meter.stop()
            res["publisher_cpu_s_per_s"] = pmeter.stop()["cpu_s_per_s"]
            res["metrics"] = env.metrics()
            res["publisher_alive"] = env.pub.poll() is None
        finally:
            loop.close_all()
            env.down()
        sent = read_sent(env.sent_path)
        res["sent_pictures"] = len(sent)
        match_sends(viewers, sent)
        res["all"] = flv_run.summarize(viewers, t0, t1) if viewers else {}
        return res

    # ------------------------------------------------------------ WS-JPEG

    def ws_window(self, port, path, pids):
        loop = Loop()
        v = WsViewer("ws", "127.0.0.1", port, path)
        try:
            loop.add(v)
            client.wait_first(loop, [v])
            loop.run_until(time.monotonic() + self.a.warmup)
            meter = client.CpuMeter(pids)
            meter.start()
            t0 = now_us()
            loop.run_until(time.monotonic() + self.a.window)
            t1 = now_us()
            res = meter.stop()
        finally:
            loop.close_all()
        res["all"] = client.summarize([v], t0, t1, FPS)
        res["frames"] = [f for f in v.frames if t0 <= f[0] < t1]
        return res

    def jpeg(self, rep):
        """One camstream; the camera relayed to it over RTMP; a WS-JPEG viewer of the published
        key and one of the camera pulled over RTSP, one after the other (order alternating)."""
        env = Env("cs", self)
        dump = os.path.join(env.dir, "sent.flv")
        out = {}
        try:
            env.publish(rtsp=self.rtsp, dump=dump)
            paths = {"rtmp": "/ws/stream?name=%s" % KEY,
                     "rtsp": client.ws_path(self.rtsp)}
            order = ["rtmp", "rtsp"] if rep % 2 == 0 else ["rtsp", "rtmp"]
            for k in order:
                out[k] = self.ws_window(env.port, paths[k], env.server_pids())
                out[k]["metrics"] = env.metrics()
            out["publisher_alive"] = env.pub.poll() is None
        finally:
            env.down()
        # the relay's pictures: stamps decoded from what it sent, in the order of its log
        sent = read_sent(env.sent_path)
        reader = flv.FlvReader(keep=True)
        with open(dump, "rb") as f:
            reader.feed(memoryview(f.read()), 0)
        stamps = flv.decode_stamps(reader, WIDTH) or []
        send_of = {}
        relay = []
        for s, st in zip(sent, stamps):
            if st:
                send_of[st] = s[0]
                relay.append((s[0] - st) / 1000.0)
        out["relay_pictures"] = len(sent)
        out["relay_stamped"] = len(relay)
        out["relay_p50_ms"] = client.pct(relay, 50)
        fr = out["rtmp"].pop("frames")
        out["rtsp"].pop("frames")
        pj = [(f[0] - send_of[f[2]]) / 1000.0 for f in fr if f[2] in send_of]
        out["pub_to_jpeg_p50_ms"] = client.pct(pj, 50)
        out["pub_to_jpeg_p95_ms"] = client.pct(pj, 95)
        out["pub_to_jpeg_n"] = len(pj)
        return out

    # ------------------------------------------------------------ callgrind

    def callgrind(self):
        """camstream (--cg-bin) under valgrind --tool=callgrind, collecting nothing until the
        publisher runs; then two phases of --cg-seconds each, each dumped on its own: "ingest"
        (no viewer: the RTMP connection, the parse, the coded-picture log) and "viewer" (one
        HTTP-FLV viewer added). Per phase: instructions per published picture and the top
        functions by their own instructions."""
        a = self.a
        d = tempfile.mkdtemp(prefix="cg-", dir=self.logdir)
        out_file = os.path.join(d, "callgrind.out")
        prefix = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                  "--callgrind-out-file=" + out_file]
        saved, self.a.bin = self.a.bin, a.cg_bin
        try:
            p, port, rtmp = self.start_camstream_rtmp(d, prefix=prefix)
        finally:
            self.a.bin = saved
        env = Env.__new__(Env)
        env.kind, env.b, env.procs, env.pub, env.dir = "cs", self, [p], None, d
        env.sent_path = os.path.join(d, "sent.txt")
        env.port, env.rtmp, env.path = port, rtmp, "/live/%s.flv" % KEY
        loop = Loop()
        res = {"phases": {}}

        def ctl(*args):
            r = subprocess.run(["callgrind_control"] + list(args) + [str(p.pid)], timeout=60,
                               capture_output=True, text=True)
            if r.returncode != 0 or "No active" in r.stdout:
                raise RuntimeError("callgrind_control %s: %s" % (" ".join(args),
                                                                 (r.stdout + r.stderr)[-300:]))

        def phase(name, viewer):
            n0, s0 = (len(viewer.flv.pics) if viewer else 0), len(read_sent(env.sent_path))
            c0, t0 = client.proc_cpu(p.pid), time.monotonic()
            ctl("-z")
            loop.run_until(time.monotonic() + a.cg_seconds)
            ctl("-d", name)
            wall = time.monotonic() - t0
            res["phases"][name] = {
                "wall_s": wall, "cpu_s_per_s_under_valgrind":
                (client.proc_cpu(p.pid) - c0) / wall,
                "sent_pictures": len(read_sent(env.sent_path)) - s0,
                "viewer_pictures": (len(viewer.flv.pics) - n0) if viewer else None}
        try:
            env.publish()
            loop.run_until(time.monotonic() + 2.0)
            ctl("-i", "on")
            phase("ingest", None)
            v = env.viewer("cg", keep=False)
            v.connect_timeout = 30
            loop.add(v)
            flv_run.wait_keys(loop, [v], 30)
            loop.run_until(time.monotonic() + 2.0)
            phase("viewer", v)
            ctl("-i", "off")
            res["viewer_error"] = v.error
        finally:
            loop.close_all()
            env.down()
        for f in sorted(os.listdir(d)):
            if not f.startswith("callgrind.out"):
                continue
            fpath = os.path.join(d, f)
            with open(fpath, errors="replace") as fh:
                head = fh.read(4096)
            trig = next((ln for ln in head.splitlines() if "Trigger:" in ln), "")
            name = next((ph for ph in res["phases"] if ph in trig), None)
            if name is None:
                continue
            try:
                txt = subprocess.run(["callgrind_annotate", "--threshold=99", fpath],
                                     capture_output=True, text=True, timeout=120).stdout
            except (OSError, subprocess.TimeoutExpired):
                continue
            total, rows = parse_annotate(txt)
            ph = res["phases"][name]
            ph["profile"] = fpath
            ph["ir_total"] = total
            ph["ir_per_picture"] = total / ph["sent_pictures"] if ph["sent_pictures"] else None
            ph["top"] = rows[:25]
        return res

    # ------------------------------------------------------------ the runs

    def scenario(self, name, rep):
        a = self.a
        kinds = SYSTEMS[rep % len(SYSTEMS):] + SYSTEMS[:rep % len(SYSTEMS)]
        r = {}
        if name == "rtmpjpeg":
            try:
                r["cs"] = self.jpeg(rep)
            except RuntimeError as e:
                r["cs"] = {"error": str(e)}
            return r
        if name == "rtmpcg":
            try:
                r["cs"] = self.callgrind()
            except RuntimeError as e:
                r["cs"] = {"error": str(e)}
            return r
        n = {"rtmp0": 0, "rtmp1": 1, "rtmp10": 10, "rtmp100": a.many}[name]
        for k in kinds:
            try:
                r[k] = self.measure(k, n, keep={0: 0, 1: 1, 10: 2}.get(n, 3))
            except RuntimeError as e:
                r[k] = {"error": str(e)}
        return r

    def run(self):
        self.prepare_file()
        if any(s == "rtmpjpeg" for s in self.a.scenarios):
            self.use_camera("720p25")
        self.run_scenarios(runs_of=lambda name: 1 if name == "rtmpcg" else self.a.runs)


def parse_annotate(txt):
    """(program total Ir, [(Ir, function)]) from callgrind_annotate's output."""
    total, rows, body = 0, [], False
    for line in txt.splitlines():
        s = line.strip()
        if s.endswith("PROGRAM TOTALS"):
            total = int(s.split()[0].replace(",", ""))
            continue
        if s.startswith("Ir") and "file:function" in s:
            body = True
            continue
        if body and s and s[0].isdigit():
            parts = s.split(None, 1)
            try:
                ir = int(parts[0].replace(",", ""))
            except ValueError:
                continue
            fn = parts[1] if len(parts) > 1 else ""
            if fn.startswith("("):                   # "(12.34%)  file:function"
                fn = fn.split(")", 1)[1].strip()
            rows.append((ir, fn))
    return total, rows


# ---------------------------------------------------------------- the table

g = run.g


def rows_for(name, runs, a):
    """[(figure, {system: value}, ratio cs/nms, target, limit, higher_is_better)]"""
    out = []

    def row(label, get, target="", limit=None, hib=False, systems=SYSTEMS, ratio=True):
        vals = {k: run.med([get(r.get(k)) for r in runs]) for k in systems}
        rs = [get(r.get("cs")) / get(r.get("nms")) for r in runs
              if ratio and get(r.get("cs")) is not None and get(r.get("nms"))]
        out.append((label, vals, run.med(rs), target, limit, hib))

    if name in ("rtmp0", "rtmp1", "rtmp10", "rtmp100"):
        if name != "rtmp0":
            row("tag latency above arrival p50 ms", lambda d: g(d, "all", "lat_p50_ms"),
                target="<= 3", limit=3)
            row("tag latency above arrival p95 ms", lambda d: g(d, "all", "lat_p95_ms"))
            row("pictures/s per viewer (min)", lambda d: g(d, "all", "pics_per_s_min"),
                target=">= 24" if name == "rtmp100" else "",
                limit=24 if name == "rtmp100" else None, hib=True)
            row("pictures/s per viewer (median)", lambda d: g(d, "all", "pics_per_s_median"))
            row("pictures missing (tag ts gaps), all", lambda d: g(d, "all", "gaps_total"),
                ratio=False)
        lim = 0.01 if name in ("rtmp0", "rtmp1", "rtmp10") else None
        row("server CPU s/s", lambda d: g(d, "cpu_s_per_s"),
            target="<= 0.01" if lim else "", limit=lim)
        row("RSS MiB", lambda d: g(d, "rss_mib"))
        if name != "rtmp0":
            row("bytes/s received, MB/s", lambda d: (g(d, "all", "bytes_per_s") or 0) / 1e6
                if g(d, "all", "bytes_per_s") is not None else None)
        row("[pictures published in the run]", lambda d: g(d, "sent_pictures"), ratio=False)
        row("[frames decoded, camstream]",
            lambda d: g(d, "metrics", "camstream_frames_decoded_total"),
            target="0", limit=0, systems=["cs"], ratio=False)
        row("[publisher CPU s/s]", lambda d: g(d, "publisher_cpu_s_per_s"))
        row("[client CPU s/s]", lambda d: g(d, "client_cpu_s_per_s"))
        row("[machine busy cores]", lambda d: g(d, "machine_busy_cores"))
    elif name == "rtmpjpeg":
        sy = ["cs"]
        row("WS-JPEG latency p50 ms, published (RTMP)", lambda d: g(d, "rtmp", "all",
                                                                    "lat_p50_ms"), systems=sy)
        row("WS-JPEG latency p50 ms, pulled (RTSP)", lambda d: g(d, "rtsp", "all",
                                                                 "lat_p50_ms"), systems=sy)
        row("RTMP - RTSP, p50 ms (per run)",
            lambda d: g(d, "rtmp", "all", "lat_p50_ms") - g(d, "rtsp", "all", "lat_p50_ms")
            if g(d, "rtmp", "all", "lat_p50_ms") is not None and
            g(d, "rtsp", "all", "lat_p50_ms") is not None else None,
            target="<= 15", limit=15, systems=sy)
        row("RTMP / RTSP, p50 (per run)",
            lambda d: g(d, "rtmp", "all", "lat_p50_ms") / g(d, "rtsp", "all", "lat_p50_ms")
            if g(d, "rtmp", "all", "lat_p50_ms") is not None and
            g(d, "rtsp", "all", "lat_p50_ms") else None, systems=sy)
        row("WS-JPEG latency p95 ms, published (RTMP)", lambda d: g(d, "rtmp", "all",
                                                                    "lat_p95_ms"), systems=sy)
        row("WS-JPEG latency p95 ms, pulled (RTSP)", lambda d: g(d, "rtsp", "all",
                                                                 "lat_p95_ms"), systems=sy)
        row("publish (message sent) -> JPEG p50 ms", lambda d: g(d, "pub_to_jpeg_p50_ms"),
            systems=sy)
        row("publish (message sent) -> JPEG p95 ms", lambda d: g(d, "pub_to_jpeg_p95_ms"),
            systems=sy)
        row("relay: stamp -> message sent p50 ms", lambda d: g(d, "relay_p50_ms"), systems=sy)
        row("frames/s, published", lambda d: g(d, "rtmp", "all", "fps_min"), systems=sy)
        row("frames/s, pulled", lambda d: g(d, "rtsp", "all", "fps_min"), systems=sy)
        row("CPU s/s, published (ingest + decode + JPEG)", lambda d: g(d, "rtmp",
                                                                       "cpu_s_per_s"),
            systems=sy)
        row("CPU s/s, pulled (RTSP + decode + JPEG)", lambda d: g(d, "rtsp", "cpu_s_per_s"),
            systems=sy)
    elif name == "rtmpcg":
        sy = ["cs"]
        for ph in ("ingest", "viewer"):
            row("%s: instructions per published picture" % ph,
                lambda d, ph=ph: g(d, "phases", ph, "ir_per_picture"), systems=sy)
            row("%s: pictures published in the phase" % ph,
                lambda d, ph=ph: g(d, "phases", ph, "sent_pictures"), systems=sy)
            row("%s: [CPU s/s under valgrind]" % ph,
                lambda d, ph=ph: g(d, "phases", ph, "cpu_s_per_s_under_valgrind"), systems=sy)
    return out


def print_table(results, a, out=sys.stdout):
    w0, w = 44, 12
    head = "figure".ljust(w0) + "".join(LABEL[k][:w - 1].ljust(w) for k in SYSTEMS) + \
        "cs/nms".ljust(8) + "target"
    print(head, file=out)
    print("-" * (len(head) + 16), file=out)
    for name in a.scenarios:
        runs = results.get(name) or []
        print("%s - %s (%d runs)" % (name, SCENARIOS[name], len(runs)), file=out)
        for label, vals, ratio, target, limit, hib in rows_for(name, runs, a):
            line = label.ljust(w0) + "".join(run.fmt(vals.get(k)).ljust(w) if k in vals
                                             else "".ljust(w) for k in SYSTEMS)
            line += ("-" if ratio is None else "%.2f" % ratio).ljust(8)
            line += (target or "").ljust(12) + run.judge(vals.get("cs"), limit, hib)
            print(line.rstrip(), file=out)
        if name == "rtmpcg":
            for r in runs:
                for ph in ("ingest", "viewer"):
                    top = g(r.get("cs"), "phases", ph, "top") or []
                    tot = g(r.get("cs"), "phases", ph, "ir_total") or 0
                    if top:
                        print("  %s phase, top functions by own instructions:" % ph, file=out)
                    for ir, fn in top[:12]:
                        print("    %5.1f%%  %s" % (100.0 * ir / tot if tot else 0, fn[:96]),
                              file=out)
        errs = []
        for r in runs:
            for k, v in r.items():
                if isinstance(v, dict):
                    e = v.get("error") or (g(v, "all", "errors") or [None])[0]
                    for sub in ("rtmp", "rtsp"):
                        e = e or (g(v, sub, "all", "errors") or [None])[0]
                    if e and "%s: %s" % (k, e[:150]) not in errs:
                        errs.append("%s: %s" % (k, e[:150]))
                    if v.get("publisher_alive") is False:
                        errs.append("%s: the publisher had exited before the end" % k)
        for e in errs[:4]:
            print("   ! " + e, file=out)
        print(file=out)


def print_header(m):
    print(run.header_start(m))
    print("# camstream: %s; publisher: %s; medians of %d runs; window %g s after %g s warm-up; "
          "cs/nms: median of per-run ratios" % (m["bin"], m.get("publisher", "py"), m["runs"],
                                                 m["window_s"], m["warmup_s"]))


def main(argv):
    ap = argparse.ArgumentParser(prog="bench/run.sh --rtmp", description=__doc__.splitlines()[0])
    run.mode_args(ap, "rtmp", DEFAULT, QUICK)
    ap.add_argument("--many", type=int, default=100, help="viewers in rtmp100")
    ap.add_argument("--publisher", choices=["py", "ffmpeg"], default="py",
                    help="py: bench/rtmp_pub.py, which logs send times (latency); ffmpeg: "
                    "`ffmpeg -re -stream_loop -1 -i FILE -c copy -f flv` (no latency figures)")
    ap.add_argument("--file", help="the FLV (H.264) to publish (default: 12 s of the camera)")
    ap.add_argument("--cg-seconds", type=float, default=10.0,
                    help="rtmpcg: seconds of publishing counted per phase")
    ap.add_argument("--cg-bin", help="rtmpcg's camstream (default: build-small/src/camstream "
                    "when built by tools/ffmpeg-small.sh, else the one measured; valgrind "
                    "3.19 stops on an instruction in a library Debian's libavcodec loads)")
    run.mode_tail_args(ap)
    a = ap.parse_args(argv)
    run.mode_settle(ap, a, SCENARIOS, DEFAULT, QUICK)
    if a.from_json:
        return run.mode_replay(a, print_header, print_table)
    a.bin = run.mode_bin(ap)
    small = os.path.join(run.ROOT, "build-small", "src", "camstream")
    a.cg_bin = a.cg_bin or (small if os.access(small, os.X_OK) else a.bin)
    if not os.path.exists(flv_run.NMS_APP):
        ap.error("node-media-server is not installed: run bench/peers/install.sh")
    if "rtmpcg" in a.scenarios and not all(
            subprocess.run(["sh", "-c", "command -v " + t], capture_output=True).returncode == 0
            for t in ("valgrind", "callgrind_control", "callgrind_annotate")):
        ap.error("rtmpcg needs valgrind (Debian: valgrind); leave it out of --scenarios")
    run.prepare_process(a.many, 4096)
    return run.mode_run("rtmp", a, argv, RtmpBench(a), {"publisher": a.publisher},
                        print_header, print_table)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

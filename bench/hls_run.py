#!/usr/bin/python3
"""hls_run: the HLS benchmark (bench/run.sh --hls; docs/PERFORMANCE.md, "HLS").

camstream's LL-HLS (`/hls/index.m3u8?rtsp_url=`, and `/live/cam.m3u8` for a named stream of the
same camera) measured against ffmpeg's hls muxer served by nginx, in the same run, each system
started fresh for every measurement:
  cs   camstream, ad-hoc camera: /hls/index.m3u8?rtsp_url=URL (LL-HLS, 200 ms parts);
  csl  camstream, the camera as the named stream "cam" of a --config file: /live/cam.m3u8;
  ffh  `ffmpeg -rtsp_transport tcp -i URL -c copy -f hls -hls_time 1 -hls_segment_type fmp4
       -hls_list_size 6 -hls_flags delete_segments DIR/index.m3u8` (DIR on /dev/shm), served by
       Debian's nginx in the foreground with a config of its own (`nginx -p DIR -c CONF -g
       'daemon off;'`, 1 worker, 127.0.0.1 on a free port). Plain HLS: no parts.
Scenarios:
  hlslat     hls.js (bench/peers, pinned) in Debian's headless Chromium (bench/hls_page.mjs):
             latency = the page's wall clock when a frame is presented - the frame's barcode
             (bench/hls_page.js reads it from the <video>); first picture of a new source and
             of a second page joining; the server's CPU with that one player.
  hlscpu1    1 hls.js-like client (bench/hls_clients.py): the server's CPU s/s and RSS.
  hlscpu100  --many (100) such clients of one camera.
The order of the systems rotates from run to run; cs/ffh is the median of per-run ratios.

  bench/run.sh --hls --quick     # every scenario, 1 run, short windows (~3 minutes)
  bench/run.sh --hls             # 3 runs (~20 minutes)
  bench/run.sh --hls --scenarios hlslat --systems cs,ffh --runs 5
"""

import argparse
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import client  # noqa: E402
import run  # noqa: E402
from flv_run import free_port  # noqa: E402
from receivers import die_with_parent, now_us  # noqa: E402

PAGE = os.path.join(HERE, "hls_page.mjs")
CLIENTS = os.path.join(HERE, "hls_clients.py")
PEERS = os.path.join(HERE, "peers", "node_modules")
SYSTEMS = ["cs", "csl", "ffh"]
LABEL = {"cs": "camstream /hls", "csl": "camstream /live", "ffh": "ffmpeg+nginx"}
SCENARIOS = {
    "hlslat": "hls.js in Chromium: latency, first picture (720p25, GOP 1 s)",
    "hlscpu1": "1 hls.js-like client (bench/hls_clients.py): the server's CPU",
    "hlscpu100": "--many (100) hls.js-like clients of one camera: the server's CPU",
}
SYSTEMS_OF = {"hlslat": ["cs", "csl", "ffh"], "hlscpu1": ["cs", "ffh"],
              "hlscpu100": ["cs", "ffh"]}
DEFAULT = ["hlslat", "hlscpu1", "hlscpu100"]
QUICK = DEFAULT
NGINX_CONF = """worker_processes 1;
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi;
  scgi_temp_path {d}/tmp/scgi;
  types {{ application/vnd.apple.mpegurl m3u8; video/mp4 mp4 m4s; }}
  default_type application/octet-stream;
  sendfile on;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port};
    root {d}/www;
    add_header Access-Control-Allow-Origin * always;
    location ~ \\.m3u8$ {{
      add_header Cache-Control no-cache always;
      add_header Access-Control-Allow-Origin * always;
    }}
  }}
}}
"""


def wait_port(port, timeout):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Lines:
    """A child's stdout read as lines, each wait with a deadline."""

    def __init__(self, p):
        self.p, self.buf = p, b""

    def wait(self, prefixes, timeout):
        """The first line starting with one of @prefixes (or 'ERROR'): (prefix, rest)."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                text = line.decode("utf-8", "replace")
                for pre in tuple(prefixes) + ("ERROR",):
                    if text.startswith(pre):
                        if pre == "ERROR" and "ERROR" not in prefixes:
                            raise RuntimeError(text[:600])
                        return pre, text[len(pre):].strip()
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("no %s line within %.0f s" % ("/".join(prefixes), timeout))
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 1 << 16)
                if not chunk:
                    raise RuntimeError("%s ended (exit %s) before a %s line" % (
                        os.path.basename(self.p.args[1]), self.p.poll(), "/".join(prefixes)))
                self.buf += chunk

    def send(self, line):
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()


def start_piped(cmd, log_path):
    log = open(log_path, "ab")
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                         preexec_fn=die_with_parent)
    log.close()
    run._children.append(p)
    return p


class Env:
    """One system, up: its playlist URL, its processes, stopped by down()."""

    def __init__(self, kind, bench):
        self.kind, self.b = kind, bench
        self.procs = []
        self.spawn_ms = None          # ffh: when its ffmpeg was started (wall clock, ms)
        self.port = None
        if kind == "cs":
            p, host, self.port = bench.start_camstream()
            self.procs.append(p)
            self.url = "http://127.0.0.1:%d/hls/index.m3u8?rtsp_url=%s" % (
                self.port, urllib.parse.quote(bench.rtsp, safe=""))
        elif kind == "csl":
            cfg = os.path.join(bench.logdir, "streams.json")
            with open(cfg, "w") as f:
                json.dump({"streams": [{"name": "cam", "rtsp_url": bench.rtsp}]}, f)
            p, host, self.port = bench.start_camstream(["--config", cfg])
            self.procs.append(p)
            self.url = "http://127.0.0.1:%d/live/cam.m3u8" % self.port
        elif kind == "ffh":
            self.dir = tempfile.mkdtemp(prefix="hls-ffh-",
                                        dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
            os.chmod(self.dir, 0o755)             # nginx's worker runs as nobody
            os.makedirs(os.path.join(self.dir, "www"), mode=0o755)
            os.makedirs(os.path.join(self.dir, "tmp"))
            self.port = free_port()
            conf = os.path.join(self.dir, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(d=self.dir, port=self.port))
            log = os.path.join(bench.logdir, "nginx.log")
            p = subprocess.Popen(["nginx", "-p", self.dir, "-e", os.path.join(self.dir,
                                                                            "error.log"),
                                  "-c", conf, "-g", "daemon off;"],
                                 stdin=subprocess.DEVNULL, stdout=open(log, "ab"),
                                 stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
            run._children.append(p)
            self.procs.append(p)
            if not wait_port(self.port, 10):
                self.down()
                raise RuntimeError("nginx: not listening on %d within 10 s (%s)" %
                                   (self.port, log))
            self.url = "http://127.0.0.1:%d/index.m3u8" % self.port

    def start_source(self):
        """ffh: start ffmpeg's segmenter (the others start theirs on the first request)."""
        if self.kind != "ffh":
            return
        self.spawn_ms = time.time() * 1000
        log = open(os.path.join(self.b.logdir, "ffmpeg-hls.log"), "ab")
        p = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
             "-rtsp_transport", "tcp", "-i", self.b.rtsp, "-c", "copy", "-f", "hls",
             "-hls_time", "1", "-hls_segment_type", "fmp4", "-hls_list_size", "6",
             "-hls_flags", "delete_segments", os.path.join(self.dir, "www", "index.m3u8")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=die_with_parent)
        log.close()
        run._children.append(p)
        self.procs.append(p)
        deadline = time.monotonic() + 20
        while not os.path.exists(os.path.join(self.dir, "www", "index.m3u8")):
            if time.monotonic() > deadline or p.poll() is not None:
                raise RuntimeError("ffmpeg hls: no playlist within 20 s (exit %s)" % p.poll())
            time.sleep(0.05)

    def pids(self):
        out = [p.pid for p in self.procs]
        if self.kind == "ffh":
            out += run.child_pids(self.procs[0].pid)       # nginx's worker
        return out

    def metrics(self):
        """camstream's camstream_hls_* and the camera's frames decoded: {name: value}."""
        if self.kind == "ffh":
            return None
        try:
            text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port,
                                          timeout=3).read().decode()
        except OSError:
            return None
        out = {}
        for line in text.splitlines():
            if line.startswith("camstream_hls_") or (
                    line.startswith("camstream_frames_decoded_total") and
                    self.b.rtsp in line):
                name, _, val = line.rpartition(" ")
                try:
                    out[name if name.startswith("camstream_hls_") else
                        name.split("{", 1)[0]] = float(val)
                except ValueError:
                    pass
        return out

    def down(self):
        for p in reversed(self.procs):
            run.stop(p)
        if self.kind == "ffh":
            shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- scenarios

def join_latency(join, play_s):
    """The joining page's latency p50 (ms) over the second half of its --join-play seconds."""
    samples = join.pop("samples", None) or []
    if not samples or play_s <= 0:
        return None
    t_end = samples[-1][0]
    lat = [(x[0] - x[1]) / 1000.0 for x in samples
           if x[1] and x[0] >= t_end - play_s / 2 * 1e6]
    return client.pct(lat, 50)


def pdt_jumps(pdt):
    """[(sn, PROGRAM-DATE-TIME(sn) - PROGRAM-DATE-TIME(sn - 1) - EXTINF(sn - 1) in ms, when the
    page saw segment sn, wall ms)] for the segments hls.js loaded: 0 when the dates follow
    the media's durations, as hls.js expects when it aligns playlists by date."""
    by = {int(k): v for k, v in pdt.items()}
    return [(sn, by[sn][0] - by[sn - 1][0] - by[sn - 1][1] * 1000, by[sn][2])
            for sn in sorted(by) if sn - 1 in by]


class HlsBench(run.Bench):

    def latency(self, kind):
        """hls.js in Chromium plays @kind's playlist: latency over the window, first pictures,
        and the server's CPU with that one player."""
        a = self.a
        env = None
        page = None
        try:
            ll = "0" if kind == "ffh" else "1"
            page_log = os.path.join(self.logdir, "hls_page.log")
            env = Env(kind, self)
            # the browser before the source (ffh: before its ffmpeg), so the browser's start
            # counts in no first-picture time
            page = start_piped(["node", PAGE, "--src", env.url, "--ll", ll,
                                "--timeout", str(a.first_timeout),
                                "--join-play", str(a.join_play)], page_log)
            lines = Lines(page)
            lines.wait(["LAUNCHED"], 60)
            env.start_source()
            lines.send("GO")
            first = json.loads(lines.wait(["FIRST"], a.first_timeout + 15)[1])
            time.sleep(a.warmup)
            meter = client.CpuMeter(env.pids())
            meter.start()
            t0 = now_us()
            time.sleep(a.window)
            t1 = now_us()
            res = meter.stop()
            res["metrics"] = env.metrics()
            lines.send("STOP")
            page_res = json.loads(lines.wait(["SAMPLES"], 30)[1])
            lines.send("JOIN")
            try:
                join = json.loads(lines.wait(["JOIN"], a.first_timeout + a.join_play + 15)[1])
            except RuntimeError as e:
                join = {"error": str(e)}
            lines.send("QUIT")
        finally:
            if page is not None:
                run.stop(page, timeout=10)
            if env is not None:
                env.down()
        samples = page_res.pop("samples")
        lat = [(x[0] - x[1]) / 1000.0 for x in samples if x[1] and t0 <= x[0] < t1]
        n_win = sum(1 for x in samples if t0 <= x[0] < t1)
        ahead = [x[3] for x in samples if t0 <= x[0] < t1]
        stalls = [w for w in page_res.get("waitingAt", []) if t0 <= w * 1000 < t1]
        cold_from = env.spawn_ms if kind == "ffh" else first["navStartMs"]
        res.update({
            "lat_n": len(lat),
            "lat_p50_ms": client.pct(lat, 50), "lat_p90_ms": client.pct(lat, 90),
            "lat_min_ms": min(lat) if lat else None, "lat_max_ms": max(lat) if lat else None,
            "frames_per_s": n_win / ((t1 - t0) / 1e6),
            "ahead_p50_s": client.pct(ahead, 50), "ahead_min_s": min(ahead) if ahead else None,
            "stalls_in_window": len(stalls),
            # latency of the frames before the first stall (after the first picture)
            "lat_before_stall_p50_ms": client.pct(
                [(x[0] - x[1]) / 1000.0 for x in samples if x[1] and (
                    not page_res.get("waitingAt") or x[0] < page_res["waitingAt"][0] * 1000)],
                50),
            "samples": samples,
            "pdt_jumps": pdt_jumps(page_res.get("pdt") or {}),
            "first": first, "join": join, "page": page_res,
            "first_cold_ms": first["firstFrameMs"] - cold_from,
            "first_page_ms": first["firstFrameMs"] - first["navStartMs"],
            "first_join_ms": (join["firstFrameMs"] - join["navStartMs"])
            if "firstFrameMs" in join else None,
            # the joining page's latency over the second half of its --join-play s (it
            # joined a session that was running: the first page started it)
            "join_lat_p50_ms": join_latency(join, a.join_play),
            "join_stalls": len(join.get("waitingAt") or []) if "firstFrameMs" in join else None,
        })
        jumps = [abs(j[1]) for j in res["pdt_jumps"]]
        res["pdt_jump_max_ms"] = max(jumps) if jumps else None
        res["pdt_jumps_over_40ms"] = sum(1 for j in jumps if j > 40) if jumps else None
        if page_res.get("errors"):
            res["hls_errors"] = page_res["errors"][:5]
        return res

    def clients(self, kind, n):
        """@n hls_clients.py clients of one camera on @kind: the server's CPU and RSS."""
        a = self.a
        env = Env(kind, self)
        cl = None
        try:
            env.start_source()
            cl = start_piped([run.PY, CLIENTS, "--url", env.url, "--clients", str(n),
                              "--start-timeout", str(20 + n / 10)],
                             os.path.join(self.logdir, "hls_clients.log"))
            lines = Lines(cl)
            started = int(lines.wait(["STARTED"], 40 + n / 10)[1])
            time.sleep(a.warmup)
            meter = client.CpuMeter(env.pids())
            c0 = client.proc_cpu(cl.pid)
            meter.start()
            lines.send("MARK")
            time.sleep(a.window)
            lines.send("STOP")
            res = meter.stop()
            c1 = client.proc_cpu(cl.pid)
            res["metrics"] = env.metrics()
            res["clients"] = json.loads("{" + lines.wait(["{"], 30)[1])
            res["clients"]["started"] = started
            res["clients_cpu_s_per_s"] = (c1 - c0) / res["wall_s"] if None not in (c0, c1) \
                else None
        finally:
            if cl is not None:
                run.stop(cl)
            env.down()
        return res

    def scenario(self, name, rep):
        kinds = [k for k in SYSTEMS if k in SYSTEMS_OF[name] and k in self.a.systems]
        kinds = kinds[rep % len(kinds):] + kinds[:rep % len(kinds)] if kinds else []
        r = {}
        for k in kinds:
            try:
                if name == "hlslat":
                    r[k] = self.latency(k)
                elif name == "hlscpu1":
                    r[k] = self.clients(k, 1)
                elif name == "hlscpu100":
                    r[k] = self.clients(k, self.a.many)
            except RuntimeError as e:
                r[k] = {"error": str(e)}
        return r

    def run(self):
        self.use_camera("720p25")
        self.run_scenarios(err_len=300)


# ---------------------------------------------------------------- the table

g = run.g


def rows_for(name, runs, a):
    """[(figure, {system: value}, cs/ffh ratio, target, limit, higher_is_better)]"""
    out = []

    def row(label, get, target="", limit=None, hib=False, systems=SYSTEMS):
        vals = {k: run.med([get(r.get(k)) for r in runs]) for k in systems
                if k in SYSTEMS_OF[name]}
        rs = [get(r.get("cs")) / get(r.get("ffh")) for r in runs
              if get(r.get("cs")) is not None and get(r.get("ffh"))]
        out.append((label, vals, run.med(rs), target, limit, hib))

    def c(*path):
        return lambda d: g(d, "clients", *path)

    if name == "hlslat":
        row("latency p50 ms", lambda d: g(d, "lat_p50_ms"), "<= 1500", 1500)
        row("latency p90 ms", lambda d: g(d, "lat_p90_ms"))
        row("latency min ms", lambda d: g(d, "lat_min_ms"))
        row("latency max ms", lambda d: g(d, "lat_max_ms"))
        row("frames presented/s (read)", lambda d: g(d, "frames_per_s"))
        row("first picture, new source ms", lambda d: g(d, "first_cold_ms"))
        row("first picture, page joining ms", lambda d: g(d, "first_join_ms"))
        row("  joining page: latency p50 ms", lambda d: g(d, "join_lat_p50_ms"))
        row("  joining page: stalls", lambda d: g(d, "join_stalls"))
        row("  join: page -> playlist parsed ms",
            lambda d: g(d, "join", "manifestMs") - g(d, "join", "navStartMs")
            if g(d, "join", "manifestMs") else None)
        row("stalls ('waiting' after 1st frame)", lambda d: g(d, "page", "waiting"))
        row("  of which in the window", lambda d: g(d, "stalls_in_window"))
        row("|PDT step - EXTINF| max ms", lambda d: g(d, "pdt_jump_max_ms"),
            systems=["cs", "csl"])
        row("  segments where it is > 40 ms", lambda d: g(d, "pdt_jumps_over_40ms"),
            systems=["cs", "csl"])
        row("latency before the 1st stall p50 ms", lambda d: g(d, "lat_before_stall_p50_ms"))
        row("buffer ahead p50 s", lambda d: g(d, "ahead_p50_s"))
        row("hls.js latency estimate s", lambda d: g(d, "page", "stats", "hls_latency"))
        row("hls.js target latency s", lambda d: g(d, "page", "stats", "hls_target_latency"))
        row("parts / segments buffered", lambda d: (g(d, "page", "partsLoaded") or 0) +
            (g(d, "page", "fragsLoaded") or 0) if g(d, "page") else None)
        row("CPU s/s (server, 1 hls.js)", lambda d: g(d, "cpu_s_per_s"))
        row("RSS MiB", lambda d: g(d, "rss_mib"))
        row("[frames dropped by Chromium]", lambda d: g(d, "page", "stats", "dropped"))
        row("[barcode misreads]", lambda d: g(d, "page", "misreads"))
        row("[hls.js errors]", lambda d: float(len(g(d, "page", "errors") or []))
            if g(d, "page") else None)
        row("[machine busy cores]", lambda d: g(d, "machine_busy_cores"))
    else:
        lim = 0.02 if name == "hlscpu1" else 0.2
        row("CPU s/s (server)", lambda d: g(d, "cpu_s_per_s"), "<= %g" % lim, lim)
        row("RSS MiB", lambda d: g(d, "rss_mib"))
        row("media items/s per client (min)", c("media_per_s_min"))
        row("media items/s per client (median)", c("media_per_s_median"))
        row("media KB/s per client", lambda d: g(d, "clients", "media_bytes_per_s_per_client")
            / 1000 if g(d, "clients", "media_bytes_per_s_per_client") is not None else None)
        row("requests/s (all clients)", c("requests_per_s"))
        row("blocking reload held p50 ms", c("held_p50_ms"))
        row("blocking reload held max ms", c("held_max_ms"))
        row("part listed - its end (by PDT) p50 ms", c("part_lag_p50_ms"), systems=["cs"])
        row("part listed - its end (by PDT) p90 ms", c("part_lag_p90_ms"), systems=["cs"])
        row("client errors", c("errors"))
        row("client resyncs", c("resyncs"))
        row("clients started", c("started"))
        row("[hls sessions, camstream]", lambda d: g(d, "metrics", "camstream_hls_sessions"),
            systems=["cs"])
        row("[held timeouts, camstream]",
            lambda d: g(d, "metrics", "camstream_hls_held_timeouts_total"), systems=["cs"])
        row("[frames decoded, camstream]",
            lambda d: g(d, "metrics", "camstream_frames_decoded_total"), systems=["cs"])
        row("[clients' CPU s/s]", lambda d: g(d, "clients_cpu_s_per_s"))
        row("[machine busy cores]", lambda d: g(d, "machine_busy_cores"))
    return out


def print_table(results, a, out=sys.stdout):
    w0, w = 40, 16
    head = "figure".ljust(w0) + "".join(LABEL[k].ljust(w) for k in SYSTEMS) + \
        "cs/ffh".ljust(8) + "target"
    print(head, file=out)
    print("-" * (len(head) + 14), file=out)
    for name in a.scenarios:
        runs = results.get(name) or []
        print("%s - %s (%d runs)" % (name, SCENARIOS[name].replace("--many (100)",
                                                                   str(a.many)), len(runs)),
              file=out)
        for label, vals, ratio, target, limit, hib in rows_for(name, runs, a):
            line = label.ljust(w0) + "".join(run.fmt(vals.get(k)).ljust(w) if k in vals
                                             else "".ljust(w) for k in SYSTEMS)
            line += ("-" if ratio is None else "%.2f" % ratio).ljust(8)
            line += (target or "").ljust(10) + run.judge(vals.get("cs"), limit, hib)
            print(line.rstrip(), file=out)
        errs = []
        for r in runs:
            for k, v in r.items():
                if not isinstance(v, dict):
                    continue
                why = g(v, "clients", "resyncs_why") or {}
                for e in [v.get("error")] + (v.get("hls_errors") or [])[:2] + \
                        (g(v, "clients", "last_errors") or [])[:1] + \
                        (["client resyncs since the start: %s" % json.dumps(why)] if why else []):
                    if e and "%s: %s" % (k, e[:200]) not in errs:
                        errs.append("%s: %s" % (k, e[:200]))
        for e in errs[:6]:
            print("   ! " + e, file=out)
        print(file=out)


def print_header(m):
    print(run.header_start(m))
    print("# camstream: %s; hls.js %s; medians of %d runs; window %g s after %g s warm-up "
          "(hlslat: after the first picture; hlscpu: after every client's first media); "
          "cs/ffh: median of per-run ratios" % (m["bin"], m.get("hlsjs", "?"), m["runs"],
                                                m["window_s"], m["warmup_s"]))


def hlsjs_version():
    try:
        with open(os.path.join(PEERS, "hls.js", "package.json")) as f:
            return json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        return None


def main(argv):
    ap = argparse.ArgumentParser(prog="bench/run.sh --hls", description=__doc__.splitlines()[0])
    run.mode_args(ap, "hls", DEFAULT, QUICK)
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help="comma-separated, from: " + ",".join(SYSTEMS))
    ap.add_argument("--many", type=int, default=100, help="clients in hlscpu100 (100)")
    ap.add_argument("--first-timeout", type=float, default=30.0,
                    help="s for a page's first picture")
    ap.add_argument("--join-play", type=float,
                    help="s the joining page plays after its first picture (10, quick 4)")
    run.mode_tail_args(ap)
    a = ap.parse_args(argv)
    window, warmup = a.window, a.warmup
    run.mode_settle(ap, a, SCENARIOS, DEFAULT, QUICK)
    # HLS plays seconds behind: longer windows than the other modes' defaults
    a.window = window or (6.0 if a.quick else 20.0)
    a.warmup = warmup if warmup is not None else (3.0 if a.quick else 5.0)
    a.join_play = a.join_play if a.join_play is not None else (4.0 if a.quick else 10.0)
    a.systems = a.systems.split(",")
    for s in a.systems:
        if s not in SYSTEMS:
            ap.error("unknown system %r" % s)
    if a.from_json:
        with open(a.from_json) as f:
            doc = json.load(f)
        a.scenarios = [s for s in doc["meta"]["scenarios"] if s in doc["results"]]
        a.many = doc["meta"].get("many", a.many)
        print_header(doc["meta"])
        print_table(doc["results"], a)
        return 0
    if any(k.startswith("cs") for k in a.systems):
        a.bin = run.mode_bin(ap)
    else:
        a.bin = "(not run)"
    for tool in ("node", "ffmpeg", "nginx"):
        if not shutil.which(tool):
            ap.error("%s is missing (Debian: apt-get install %s)" % (tool, {
                "node": "nodejs"}.get(tool, tool)))
    if not os.path.exists(os.path.join(PEERS, "hls.js")) or \
            not os.path.exists(os.path.join(PEERS, "playwright-core")):
        ap.error("hls.js / playwright-core are not installed: run bench/peers/install.sh")
    run.prepare_process(a.many, 4096)
    return run.mode_run("hls", a, argv, HlsBench(a), {
        "hlsjs": hlsjs_version(), "systems": a.systems}, print_header, print_table)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

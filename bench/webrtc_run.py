#!/usr/bin/python3
"""webrtc_run: the WebRTC benchmark (bench/run.sh --webrtc; docs/PERFORMANCE.md, "WebRTC").

Scenarios:
  rtlat   latency in Debian's headless Chromium, 720p25 (bench/camera.py), three ways of
          watching the same camera through camstream, in the same run, each with a fresh
          camstream (--webrtc-port 0) serving the page (bench/webrtc_page.*, same origin):
            wr   WebRTC: WHEP POST /whep?rtsp_url=, the <video> plays the track (no library)
            ws   WebSocket-JPEG: /ws/stream, each picture decoded and drawn into a canvas
            flv  mpegts.js on /ws/flv (the dashboard's FLV mode)
          latency = the page's wall clock when a picture is shown (requestVideoFrameCallback;
          JPEG: the animation frame after the draw) - the picture's barcode; plus the first
          picture (page opened -> first barcode read) and the server's CPU with that one viewer.
  rtcpu   the light C load client (bench/whep_load.c, build/tests/whep_load): 1 session, then
          --many (50) sessions of one camera, each with a fresh camstream: the server's CPU
          s/s and the CPU per viewer ((CPU with N - CPU with 1) / (N - 1)), every session's
          frame rate, sequence gaps, answer time and first picture.
The order of the systems rotates from run to run.

  bench/run.sh --webrtc --quick     # both scenarios, 1 run, short windows (about 2 minutes)
  bench/run.sh --webrtc             # 3 runs (about 8 minutes)
  bench/run.sh --webrtc --scenarios rtcpu --many 100
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import client  # noqa: E402
import run  # noqa: E402
from hls_run import Lines, start_piped  # noqa: E402
from receivers import now_us  # noqa: E402

PAGE = os.path.join(HERE, "webrtc_page.mjs")
SYSTEMS = ["wr", "ws", "flv", "wr1", "wrN"]
LABEL = {"wr": "WebRTC", "ws": "WS-JPEG", "flv": "mpegts.js FLV", "wr1": "1 session",
         "wrN": "N sessions"}
SCENARIOS = {
    "rtlat": "Chromium, 720p25: WebRTC vs WS-JPEG vs mpegts.js FLV, latency and first picture",
    "rtcpu": "whep_load: 1 and --many (50) WebRTC sessions of one camera, the server's CPU",
}
SYSTEMS_OF = {"rtlat": ["wr", "ws", "flv"], "rtcpu": ["wr1", "wrN"]}
DEFAULT = ["rtlat", "rtcpu"]
QUICK = DEFAULT
PEERS = [os.path.join(HERE, "peers", "node_modules", "playwright-core"),
         os.path.join(ROOT, "tests", "browser", "node_modules", "playwright-core")]


def webrtc_metrics(port):
    """camstream's camstream_webrtc_* figures: {name: value}, or None."""
    try:
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                      timeout=3).read().decode()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        if line.startswith("camstream_webrtc_"):
            name, _, val = line.rpartition(" ")
            try:
                out[name] = float(val)
            except ValueError:
                pass
    return out


class WebrtcBench(run.Bench):

    def __init__(self, a):
        super().__init__(a)
        self.web = None      # the page's web root (index.html and js/), made once

    def web_root(self):
        if self.web is None:
            self.web = tempfile.mkdtemp(prefix="webrtc-bench-web-", dir=self.logdir)
            js = os.path.join(self.web, "js")
            os.makedirs(js)
            shutil.copy(os.path.join(HERE, "webrtc_page.html"), os.path.join(self.web,
                                                                              "index.html"))
            for name in ("webrtc_page.js", "hls_barcode.js"):
                shutil.copy(os.path.join(HERE, name), js)
            shutil.copy(os.path.join(ROOT, "web", "js", "vendor", "mpegts.js"), js)
        return self.web

    def webrtc_opts(self):
        """--webrtc-port 0 (any free port), where this build has the option (a build
        without WebRTC still measures WS-JPEG and FLV)."""
        if not hasattr(self, "_webrtc_opts"):
            self.limit_opts()
            import subprocess
            try:
                text = subprocess.run([self.a.bin, "--help"], capture_output=True, timeout=5,
                                      text=True).stdout
            except (OSError, subprocess.TimeoutExpired):
                text = ""
            self._webrtc_opts = ["--webrtc-port", "0"] if "--webrtc-port" in text else []
        return self._webrtc_opts

    def page(self):
        """The browser, launched once for the run (bench/webrtc_page.mjs)."""
        if getattr(self, "_page", None) is None or self._page.poll() is not None:
            self._page = start_piped(["node", PAGE, "--timeout", str(self.a.first_timeout)],
                                     os.path.join(self.logdir, "webrtc_page.log"))
            self._lines = Lines(self._page)
            self._lines.wait(["LAUNCHED"], 60)
        return self._lines

    def latency(self, kind):
        a = self.a
        lines = self.page()
        p, host, port = self.start_camstream(["--web-root", self.web_root()] +
                                             self.webrtc_opts())
        try:
            url = "http://127.0.0.1:%d/?kind=%s&cam=%s%s" % (
                port, {"wr": "webrtc", "ws": "jpeg", "flv": "flv"}[kind],
                urllib.parse.quote(self.rtsp, safe=""), "&hint=0" if a.hint else "")
            lines.send("OPEN " + url)
            first = json.loads(lines.wait(["FIRST"], a.first_timeout + 15)[1])
            time.sleep(a.warmup)
            meter = client.CpuMeter([p.pid])
            meter.start()
            t0 = now_us()
            time.sleep(a.window)
            t1 = now_us()
            res = meter.stop()
            res["metrics"] = webrtc_metrics(port)
            lines.send("STOP")
            page = json.loads(lines.wait(["SAMPLES"], 30)[1])
            res["metrics_after"] = webrtc_metrics(port)
        finally:
            run.stop(p)
        samples = page.pop("samples")
        lat = [(x[0] - x[1]) / 1000.0 for x in samples if x[1] and t0 <= x[0] < t1]
        n_win = sum(1 for x in samples if t0 <= x[0] < t1)
        res.update({
            "lat_n": len(lat),
            "lat_p50_ms": client.pct(lat, 50), "lat_p90_ms": client.pct(lat, 90),
            "lat_min_ms": min(lat) if lat else None, "lat_max_ms": max(lat) if lat else None,
            "frames_per_s": n_win / ((t1 - t0) / 1e6),
            "first_ms": first["firstStampMs"] - first["navStartMs"],
            "first": first, "page": page,
        })
        return res

    def load(self, n):
        a = self.a
        p, host, port = self.start_camstream(self.webrtc_opts())
        cl = None
        try:
            url = "http://127.0.0.1:%d/whep?rtsp_url=%s" % (
                port, urllib.parse.quote(self.rtsp, safe=""))
            cl = start_piped([a.whep_load, "--url", url, "--sessions", str(n),
                              "--seconds", str(a.window), "--warmup", str(a.warmup),
                              "--connect-timeout", str(20 + n / 10)],
                             os.path.join(self.logdir, "whep_load.log"))
            lines = Lines(cl)
            live = int(lines.wait(["READY"], 40 + n / 10 + a.warmup)[1])
            meter = client.CpuMeter([p.pid])
            c0 = client.proc_cpu(cl.pid)
            meter.start()
            metrics = webrtc_metrics(port)      # in the window: every session up
            out = json.loads(lines.wait(["RESULT"], a.window + 30)[1])
            res = meter.stop()
            c1 = client.proc_cpu(cl.pid)
            res["metrics"] = metrics
            res["metrics_end"] = webrtc_metrics(port)
            res["load"] = out
            res["load"]["ready"] = live
            res["load_cpu_s_per_s"] = (c1 - c0) / res["wall_s"] if None not in (c0, c1) \
                else None
            cl.wait(timeout=30)
            res["metrics_after"] = webrtc_metrics(port)
        finally:
            if cl is not None:
                run.stop(cl)
            run.stop(p)
        return res

    def scenario(self, name, rep):
        kinds = list(SYSTEMS_OF[name])
        kinds = kinds[rep % len(kinds):] + kinds[:rep % len(kinds)]
        r = {}
        for k in kinds:
            try:
                if name == "rtlat":
                    r[k] = self.latency(k)
                elif k == "wr1":
                    r[k] = self.load(1)
                else:
                    r[k] = self.load(self.a.many)
            except RuntimeError as e:
                r[k] = {"error": str(e)}
        return r

    def run(self):
        self.use_camera("720p25")
        try:
            self.run_scenarios(err_len=300)
        finally:
            if getattr(self, "_page", None) is not None:
                try:
                    self._lines.send("QUIT")
                except OSError:
                    pass
                run.stop(self._page, timeout=10)


# ---------------------------------------------------------------- the table

g = run.g


def per_viewer(r, many):
    """(CPU with N sessions - CPU with 1) / (N - 1) of one run, s/s."""
    one, n = g(r.get("wr1"), "cpu_s_per_s"), g(r.get("wrN"), "cpu_s_per_s")
    if one is None or n is None or many <= 1:
        return None
    return (n - one) / (many - 1)


def rows_for(name, runs, a):
    """[(figure, {system: value}, target, limit, the system judged, higher_is_better)]"""
    out = []

    def row(label, get, target="", limit=None, judged=None, hib=False):
        vals = {k: run.med([get(r.get(k)) for r in runs]) for k in SYSTEMS_OF[name]}
        out.append((label, vals, target, limit, judged, hib))

    if name == "rtlat":
        row("latency p50 ms", lambda d: g(d, "lat_p50_ms"), "WebRTC <= 60", 60, "wr")
        row("latency p90 ms", lambda d: g(d, "lat_p90_ms"))
        row("latency min ms", lambda d: g(d, "lat_min_ms"))
        row("latency max ms", lambda d: g(d, "lat_max_ms"))
        row("pictures shown/s (read)", lambda d: g(d, "frames_per_s"))
        row("first picture ms (page -> 1st barcode)", lambda d: g(d, "first_ms"))
        row("CPU s/s (server, this 1 viewer)", lambda d: g(d, "cpu_s_per_s"))
        row("RSS MiB", lambda d: g(d, "rss_mib"))
        row("WebRTC jitter buffer ms (getStats)", lambda d: g(d, "page", "rtc", "jitterBufferMs"))
        row("WebRTC decode ms/frame (getStats)", lambda d: g(d, "page", "rtc", "decodeMsPerFrame"))
        row("WebRTC packets lost (getStats)", lambda d: g(d, "page", "rtc", "packetsLost"))
        row("WebRTC NACKs sent (getStats)", lambda d: g(d, "page", "rtc", "nackCount"))
        row("WebRTC PLIs sent (getStats)", lambda d: g(d, "page", "rtc", "pliCount"))
        row("[frames dropped by the <video>]", lambda d: g(d, "page", "videoDropped"))
        row("[JPEG pictures replaced before decoding]", lambda d: g(d, "page", "dropped"))
        row("[barcode misreads]", lambda d: g(d, "page", "misreads"))
        row("[page errors]", lambda d: float(len(g(d, "page", "errors") or []))
            if g(d, "page") else None)
        row("[machine busy cores]", lambda d: g(d, "machine_busy_cores"))
    else:
        row("CPU s/s (server)", lambda d: g(d, "cpu_s_per_s"))
        out.append(("CPU s/s per extra viewer (N vs 1)",
                    {"wrN": run.med([per_viewer(r, a.many) for r in runs])},
                    "<= 0.005", 0.005, "wrN", False))
        row("RSS MiB", lambda d: g(d, "rss_mib"))
        row("sessions with pictures", lambda d: float(g(d, "load", "live") or 0)
            if g(d, "load") else None)
        row("fps per session (min)", lambda d: g(d, "load", "fps_min"), ">= 24", 24, "wrN",
            True)
        row("fps per session (median)", lambda d: g(d, "load", "fps_median"))
        row("packets/s (all sessions)", lambda d: g(d, "load", "packets_per_s"))
        row("kbit/s per session", lambda d: g(d, "load", "kbit_per_s") / g(d, "load", "live")
            if g(d, "load", "live") else None)
        row("sequence gaps (packets, all)", lambda d: g(d, "load", "lost"))
        row("longest gap between pictures ms", lambda d: g(d, "load", "max_gap_ms"))
        row("answer ms (median)", lambda d: g(d, "load", "answer_ms_median"))
        row("answer ms (max)", lambda d: g(d, "load", "answer_ms_max"))
        row("first picture after the answer ms (med)",
            lambda d: g(d, "load", "first_picture_ms_median"))
        row("all sessions up s (POSTs to last 1st pic)",
            lambda d: g(d, "load", "connect_all_s"))
        row("[camstream_webrtc_sessions]", lambda d: g(d, "metrics", "camstream_webrtc_sessions"))
        row("[retransmits, camstream]",
            lambda d: g(d, "metrics_end", "camstream_webrtc_retransmits_total"))
        row("[key picture replays, camstream]",
            lambda d: g(d, "metrics_end", "camstream_webrtc_key_resends_total"))
        row("[datagrams dropped, camstream]",
            lambda d: g(d, "metrics_end", "camstream_webrtc_dropped_total"))
        row("[packets not sent, camstream]",
            lambda d: g(d, "metrics_end", "camstream_webrtc_send_failures_total"))
        row("[sessions after the DELETEs]",
            lambda d: g(d, "metrics_after", "camstream_webrtc_sessions"))
        row("[whep_load's CPU s/s]", lambda d: g(d, "load_cpu_s_per_s"))
        row("[machine busy cores]", lambda d: g(d, "machine_busy_cores"))
    return out


def print_table(results, a, out=sys.stdout):
    w0, w = 42, 16
    for name in a.scenarios:
        runs = results.get(name) or []
        cols = SYSTEMS_OF[name]
        labels = [LABEL[k].replace("N sessions", "%d sessions" % a.many) for k in cols]
        head = "figure".ljust(w0) + "".join(x.ljust(w) for x in labels) + "target"
        print(head, file=out)
        print("-" * (len(head) + 10), file=out)
        print("%s - %s (%d runs)" % (name, SCENARIOS[name].replace("--many (50)", str(a.many)),
                                     len(runs)), file=out)
        for label, vals, target, limit, judged, hib in rows_for(name, runs, a):
            line = label.ljust(w0) + "".join(run.fmt(vals.get(k)).ljust(w) for k in cols)
            line += (target or "").ljust(14)
            if judged:
                line += run.judge(vals.get(judged), limit, hib)
            print(line.rstrip(), file=out)
        errs = []
        for r in runs:
            for k, v in r.items():
                if not isinstance(v, dict):
                    continue
                for e in [v.get("error"), g(v, "load", "error")] + \
                        (g(v, "page", "errors") or [])[:2] + (g(v, "page", "pageErrors") or [])[:1]:
                    if e and "%s: %s" % (k, e[:200]) not in errs:
                        errs.append("%s: %s" % (k, e[:200]))
        for e in errs[:6]:
            print("   ! " + e, file=out)
        print(file=out)


def print_header(m):
    print(run.header_start(m))
    print("# camstream: %s; medians of %d runs; window %g s after %g s warm-up (rtlat: after "
          "the first barcode read; rtcpu: after every session's first picture)%s"
          % (m["bin"], m["runs"], m["window_s"], m["warmup_s"],
             "; WebRTC page with --hint" if m.get("hint") else ""))


def main(argv):
    ap = argparse.ArgumentParser(prog="bench/run.sh --webrtc",
                                 description=__doc__.splitlines()[0])
    run.mode_args(ap, "webrtc", DEFAULT, QUICK)
    ap.add_argument("--many", type=int, default=50, help="sessions in rtcpu's N (50)")
    ap.add_argument("--first-timeout", type=float, default=30.0,
                    help="s for a page's first picture")
    ap.add_argument("--hint", action="store_true",
                    help="WebRTC page: jitterBufferTarget and playoutDelayHint 0 on the receiver")
    run.mode_tail_args(ap)
    a = ap.parse_args(argv)
    run.mode_settle(ap, a, SCENARIOS, DEFAULT, QUICK)
    if a.from_json:
        with open(a.from_json) as f:
            doc = json.load(f)
        a.scenarios = [s for s in doc["meta"]["scenarios"] if s in doc["results"]]
        a.many = doc["meta"].get("many", a.many)
        print_header(doc["meta"])
        print_table(doc["results"], a)
        return 0
    a.bin = run.mode_bin(ap)
    a.whep_load = os.environ.get("WHEP_LOAD") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(a.bin))), "tests", "whep_load")
    if "rtcpu" in a.scenarios and not os.access(a.whep_load, os.X_OK):
        ap.error("no whep_load at %s (built by meson next to the tests; or set WHEP_LOAD)"
                 % a.whep_load)
    if "rtlat" in a.scenarios:
        if not shutil.which("node"):
            ap.error("node is missing (Debian: apt-get install nodejs)")
        if not any(os.path.exists(p) for p in PEERS):
            ap.error("playwright-core is not installed: run bench/peers/install.sh")
    run.prepare_process(a.many, 4096)
    return run.mode_run("webrtc", a, argv, WebrtcBench(a), {"systems": SYSTEMS, "hint": a.hint},
                        print_header, print_table)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

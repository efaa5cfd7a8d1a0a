"""ONVIF benchmark: how long a probe takes and what it costs, camstream against npm onvif 0.8.3
reading the same device in the same run.

  bench/run.sh --onvif [--runs N]

The device is tests/integration/onvif_fake.py on loopback (WS-Security, a clock an hour off,
Media2, two H.264 profiles), so both clients wait on the same Python server: the difference is
the clients' own work and round trips. camstream: N probes through POST /api/onvif/probe one
after another (each a job on a thread of its own: GetSystemDateAndTime, GetDeviceInformation,
GetServices, GetProfiles, GetStreamUri per profile); its CPU time from /proc, its RSS and thread
count before and after. npm onvif: N Cam.connect() + GetStreamUri per profile in one node
process (bench/onvif_npm_probe.mjs), so node's start-up is not counted.
"""
import argparse
import resource
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from onvif_fake import FakeOnvif  # noqa: E402

USER, PASSWORD = "admin", "bench-Pa55"


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def start_camstream(binary):
    p = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", "0", "--rtmp-port", "off",
                          "--webrtc-port", "off", "--log-level", "warn"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    port = int(line.rsplit(":", 1)[1])
    return p, port


def probe(port, device_port):
    body = json.dumps({"host": "127.0.0.1", "port": device_port, "username": USER,
                       "password": PASSWORD}).encode()
    req = urllib.request.Request("http://127.0.0.1:%d/api/onvif/probe" % port, data=body,
                                 method="POST")
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=15) as r:
        doc = json.loads(r.read())
    return (time.perf_counter() - t0) * 1000, doc


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--onvif", action="store_true", help="(this mode)")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "src", "camstream"))
    args = ap.parse_args(argv)

    fake = FakeOnvif(rtsp_uris=("rtsp://127.0.0.1:8554/main", "rtsp://127.0.0.1:8554/sub"),
                     username=USER, password=PASSWORD).start()
    cam, port = start_camstream(args.bin)
    rows = []
    try:
        probe(port, fake.port)  # warm: first thread, first connection
        rss0, thr0 = proc_status(cam.pid, "VmRSS"), proc_status(cam.pid, "Threads")
        cpu0 = proc_cpu_s(cam.pid)
        ms = []
        for _ in range(args.runs):
            t, doc = probe(port, fake.port)
            assert len([p for p in doc["profiles"] if p.get("uri")]) == 2, doc
            ms.append(t)
        cpu = proc_cpu_s(cam.pid) - cpu0
        rss1, thr1 = proc_status(cam.pid, "VmRSS"), proc_status(cam.pid, "Threads")
        rows.append(("camstream POST /api/onvif/probe", ms, cpu / args.runs * 1000,
                     "RSS %d -> %d kB, threads %d -> %d" % (rss0, rss1, thr0, thr1)))

        npm = os.path.join(ROOT, "tests", "browser", "node_modules", "onvif")
        if os.path.isdir(npm):
            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            out = subprocess.run(["node", os.path.join(HERE, "onvif_npm_probe.mjs"), "--port",
                                  str(fake.port), "--username", USER, "--password", PASSWORD,
                                  "--runs", str(args.runs + 1)],
                                 capture_output=True, text=True, timeout=120, check=True)
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            res = json.loads(out.stdout)
            node_cpu = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) * 1000
            rows.append(("npm onvif 0.8.3 (node %s)" % subprocess.run(
                ["node", "--version"], capture_output=True, text=True).stdout.strip(),
                res["ms"][1:], node_cpu / (args.runs + 1),
                "%d URIs a run; times in-process after a first run, CPU incl. node's start-up"
                % res["uris"]))
        else:
            print("# npm onvif is not installed (npm ci --prefix tests/browser): peer skipped")
    finally:
        cam.terminate()
        cam.wait(timeout=10)
        fake.stop()

    print("ONVIF probe of one device (2 profiles) on loopback, %d runs each, same run:"
          % args.runs)
    print("%-40s %9s %9s %12s  %s" % ("client", "p50 ms", "p90 ms", "CPU ms/probe", "notes"))
    for name, ms, cpu, note in rows:
        q = statistics.quantiles(ms, n=10)
        print("%-40s %9.1f %9.1f %12s  %s" % (name, statistics.median(ms), q[8],
                                               "%.1f" % cpu if cpu is not None else "-", note))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""1000 WebSocket viewers at once on one shared source, small frames (width=160, fps=2): every
one completes its handshake and gets frames, all stay open while held, and /api/health keeps
answering within a second throughout. The clients are one thread of non-blocking sockets
(rawws.Swarm), so the load is camstream's, not the test's.

CAMSTREAM_MANY_CLIENTS changes the number (default 1000)."""

import os
import resource
import subprocess
import sys
import time

import rawws
from camtest import (CamTestCase, http_get, jpeg_problem, raise_nofile, stream_path,
                     wait_until)

N = int(os.environ.get("CAMSTREAM_MANY_CLIENTS", "1000"))
HOLD_SECONDS = 10.0
HEALTH_LIMIT = 1.0       # seconds for one /api/health answer, at any moment
HEALTH_INTERVAL = 0.1
CONNECT_TIMEOUT = 30.0
FIRST_FRAME_TIMEOUT = 20.0
OPTIONS = {"width": 160, "fps": 2}


# The probe runs in a process of its own so that its timings are camstream's, not the wait of
# this process' client thread for the GIL. It prints "monotonic-time latency status" per probe
# and stops when its stdin closes.
PROBE = r"""
import http.client, sys, threading, time
port, interval = int(sys.argv[1]), float(sys.argv[2])
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
while not done.is_set():
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/api/health")
        r = c.getresponse()
        r.read()
        c.close()
        status = str(r.status)
    except Exception as e:
        status = type(e).__name__
    print("%.3f %.4f %s" % (t0, time.monotonic() - t0, status), flush=True)
    done.wait(interval)
"""


class HealthProbe:
    """GET /api/health every HEALTH_INTERVAL from a separate process; keeps every answer as
    (start time, latency, status)."""

    def __init__(self, port):
        self.port = port
        self.samples = []
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([sys.executable, "-c", PROBE, str(self.port),
                                      str(HEALTH_INTERVAL)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        return self

    def stop(self):
        try:
            out, _ = self.proc.communicate(input="", timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        for line in out.splitlines():
            t, latency, status = line.split()
            self.samples.append((float(t), float(latency), status))

    @property
    def latencies(self):
        return [lat for _, lat, _ in self.samples]

    @property
    def failures(self):
        return ["%s at %.1f" % (st, t) for t, _, st in self.samples if st != "200"]

    def slowest(self, t0=float("-inf"), t1=float("inf")):
        return max((lat for t, lat, _ in self.samples if t0 <= t < t1), default=0.0)

    def summary(self):
        lat = sorted(self.latencies)
        if not lat:
            return "no answers"
        return "%d answers, median %.0f ms, p99 %.0f ms, max %.0f ms" % (
            len(lat), 1000 * lat[len(lat) // 2], 1000 * lat[min(len(lat) - 1,
                                                                  int(len(lat) * 0.99))],
            1000 * lat[-1])


class ManyClients(CamTestCase):
    @classmethod
    def setUpClass(cls):
        cls._nofile = raise_nofile(N, "clients")

    @classmethod
    def tearDownClass(cls):
        resource.setrlimit(resource.RLIMIT_NOFILE, cls._nofile)

    def metric(self, cam, name):
        r = http_get(cam.port, "/metrics", timeout=10)
        for line in r.body.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def hold_many(self, cam, path):
        """Opens N viewers of @path, checks they all get frames and stay open for HOLD_SECONDS
        while /api/health is probed, then closes them. Returns the swarm."""
        probe = HealthProbe(cam.port).start()
        swarm = rawws.Swarm(cam.port, path, N)
        t_hold = float("inf")
        try:
            t0 = time.monotonic()
            opened = swarm.connect(CONNECT_TIMEOUT)
            t_open = time.monotonic() - t0
            refused = [(c.index, c.ended, c.texts) for c in swarm.clients if c.state != "open"]
            self.assertEqual(opened, N, "%d of %d handshakes completed in %.1f s; first failures "
                             "%s" % (opened, N, t_open, refused[:5]))
            all_framed = swarm.pump_until(
                lambda: all(c.messages >= 1 or c.state == "ended" for c in swarm.clients),
                FIRST_FRAME_TIMEOUT)
            t_frames = time.monotonic() - t0
            without = [c for c in swarm.clients if c.messages == 0]
            self.assertTrue(all_framed and not without, "%d of %d viewers got no frame within "
                            "%.0f s; e.g. %s" % (len(without), N, FIRST_FRAME_TIMEOUT,
                                                 [(c.index, c.state, c.ended, c.close_code,
                                                   c.texts) for c in without[:5]]))
            bad = [(c.index, jpeg_problem(c.parser.first_binary)) for c in swarm.clients[::50]]
            bad = [b for b in bad if b[1]]
            self.assertEqual(bad, [], "first frames that are not valid JPEGs")
            n0 = sum(c.messages for c in swarm.clients)
            t_hold = time.monotonic()
            swarm.pump(HOLD_SECONDS / 2)
            counted = self.metric(cam, "camstream_clients")
            swarm.pump(HOLD_SECONDS / 2)
            held = sum(c.messages for c in swarm.clients) - n0
            ended = [(c.index, c.ended, c.close_code, c.texts) for c in swarm.clients
                     if c.state == "ended"]
            self.assertEqual(ended, [], "viewers closed while held")
            self.assertEqual(counted, N, "camstream_clients while %d viewers are open" % N)
            per_viewer = held / N / HOLD_SECONDS
            self.note("%d viewers: handshakes %.1f s, every first frame %.1f s; held %.0f s at "
                      "%.2f frames/s each, %.1f MB received; fds %d, VmRSS %d kB"
                      % (N, t_open, t_frames, HOLD_SECONDS, per_viewer,
                         swarm.bytes_received / 1e6, cam.fd_count(), cam.rss_kb()))
            self.assertGreaterEqual(per_viewer, 0.5 * OPTIONS["fps"],
                                    "frames per second per viewer while held")
        finally:
            swarm.close()
            probe.stop()
        self.note("/api/health: %s; slowest while connecting %.0f ms, while held %.0f ms"
                  % (probe.summary(), 1000 * probe.slowest(t1=t_hold),
                     1000 * probe.slowest(t0=t_hold)))
        self.assertEqual(probe.failures, [], "/api/health failed")
        self.assertGreater(len(probe.latencies), 10, "too few /api/health probes")
        self.assertLess(max(probe.latencies), HEALTH_LIMIT, "slowest /api/health: %s"
                        % probe.summary())
        gone = wait_until(lambda: self.metric(cam, "camstream_clients") == 0, 15, 0.2)
        self.assertTrue(gone, "camstream_clients %s after every viewer left"
                        % self.metric(cam, "camstream_clients"))
        return swarm

    def assertServesAfterwards(self, cam):
        v = self.viewer(cam, stream_path("demo:", width=320))
        self.assertJpeg(v.frames(1, timeout=15)[0], "a new viewer's first frame")

    def test_thousand_viewers_of_the_demo_source(self):
        cam = self.start_camstream("--max-clients", 2 * N)
        self.hold_many(cam, stream_path("demo:", **OPTIONS))
        self.assertServesAfterwards(cam)

    def test_thousand_viewers_of_one_rtsp_camera_share_one_session(self):
        rtsp = self.start_rtsp(fps=10)
        cam = self.start_camstream("--max-clients", 2 * N)
        self.hold_many(cam, stream_path(rtsp.url("h264"), **OPTIONS))
        self.assertEqual(rtsp.stats()["sessions_total"], 1, "RTSP sessions opened for %d "
                         "viewers: %s" % (N, rtsp.stats()))
        self.assertServesAfterwards(cam)

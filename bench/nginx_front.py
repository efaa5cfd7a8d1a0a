"""nginx_front: Debian's nginx in front of camstream for the benchmark (bench/proxy_run.py).

nginx runs unprivileged in the foreground (daemon off) with a configuration generated from the
shipped deploy/nginx/nginx.conf and camstream.conf, as tests/integration/test_cluster.py runs
it: the upstream's server lines point at the camstream measured, the listen line at a free
loopback port, the temp paths and the access log into a folder of the run's logs.
"""

import os
import re
import shutil
import socket
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
import flv_run  # noqa: E402
import run  # noqa: E402

DEPLOY = os.path.join(ROOT, "deploy", "nginx")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_config(folder, upstream_ports, port, extra=""):
    """Writes nginx.conf + camstream.conf into @folder from the shipped files: the upstream's
    server lines become 127.0.0.1:@upstream_ports (the shipped first line's parameters), the
    listen line 127.0.0.1:@port, the access log and temp paths files in @folder. Returns the
    path of nginx.conf. (The same edits as tests/integration/test_cluster.py's Nginx.) @extra:
    directives added to the server block (experiments: --nginx-extra)."""
    with open(os.path.join(DEPLOY, "camstream.conf")) as f:
        text = f.read()
    server_re = re.compile(r"^(\s*)server\s+[\w.\[\]:-]+:\d+(\s[^;]*)?;\s*$", re.M)
    found = server_re.findall(text)
    if not found:
        raise RuntimeError("deploy/nginx/camstream.conf: no 'server HOST:PORT ...;' line")
    indent, params = found[0]
    lines = "".join("%sserver 127.0.0.1:%d%s;\n" % (indent, p, params or "")
                    for p in upstream_ports).rstrip("\n")
    seen = []

    def replace(_m):
        seen.append(1)
        return lines if len(seen) == 1 else ""
    text = server_re.sub(replace, text)
    text, n = re.subn(r"^(\s*)listen\s+80;", lambda m: "%slisten 127.0.0.1:%d;%s" % (
        m.group(1), port, (" " + extra) if extra else ""), text, flags=re.M)
    if n != 1:
        raise RuntimeError("deploy/nginx/camstream.conf: no 'listen 80;' line")
    text, n = re.subn(r"access_log\s+\S+\s+camstream;",
                      "access_log %s camstream;" % os.path.join(folder, "access.log"), text)
    if n != 1:
        raise RuntimeError("deploy/nginx/camstream.conf: no 'access_log ... camstream;' line")
    with open(os.path.join(folder, "camstream.conf"), "w") as f:
        f.write(text)
    with open(os.path.join(DEPLOY, "nginx.conf")) as f:
        main = f.read()
    temp = "".join(" %s_temp_path %s;" % (k, os.path.join(folder, k))
                   for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main, n = re.subn(r"^http \{$", "http {\n   " + temp, main, flags=re.M)
    if n != 1:
        raise RuntimeError("deploy/nginx/nginx.conf: no 'http {' line")
    conf = os.path.join(folder, "nginx.conf")
    with open(conf, "w") as f:
        f.write(main)
    return conf


class Nginx:
    """Debian's nginx in the foreground (daemon off), unprivileged, its error log to a file in
    the bench's log folder; `worker_processes auto` as shipped (one worker per core)."""

    def __init__(self, logdir, upstream_ports, extra=""):
        self.dir = tempfile.mkdtemp(prefix="nginx-", dir=logdir)
        self.port = free_port()
        conf = nginx_config(self.dir, upstream_ports, self.port, extra)
        if os.geteuid() == 0:
            os.chmod(self.dir, 0o755)     # workers run as nobody
        self.proc = flv_run.start_logged(
            [NGINX, "-p", self.dir + "/", "-e", os.path.join(self.dir, "error.log"), "-c", conf,
             "-g", "daemon off; pid %s;" % os.path.join(self.dir, "nginx.pid")],
            os.path.join(self.dir, "stderr.log"))
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx exited: %s" % self._tail())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("nginx: no listener within 10 s: %s" % self._tail())
                time.sleep(0.05)
        deadline = time.monotonic() + 5      # its workers, whose CPU is the figure
        while not self.workers() and time.monotonic() < deadline:
            time.sleep(0.05)

    def _tail(self):
        out = ""
        for name in ("stderr.log", "error.log"):
            try:
                with open(os.path.join(self.dir, name), "rb") as f:
                    out += f.read()[-800:].decode("utf-8", "replace")
            except OSError:
                pass
        return out

    def workers(self):
        """The master's children (its worker processes)."""
        pid = self.proc.pid
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            pass
        return run.child_pids(pid)

    def stop(self):
        run.stop(self.proc)

"""`meson install` (into a scratch DESTDIR, from the build under test): every file where
docs/camstream.1 says, the installed binary's default web root, the page served from the
installed copy, the example configuration accepted as it stands, and the systemd unit (with
its low-port drop-in) through `systemd-analyze verify`."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import camtest
from camtest import SOURCE_ROOT, CamTestCase, http_get, run_camstream

MESON = os.environ.get("INSTALL_TEST_MESON", "")
BUILD_DIR = os.environ.get("INSTALL_TEST_BUILD_DIR", "")
LAYOUT = json.loads(os.environ.get("INSTALL_TEST_LAYOUT", "{}"))
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


class Installed(CamTestCase):
    """One `meson install --destdir` for the whole class; each test reads what it left."""

    @classmethod
    def setUpClass(cls):
        if not (MESON and BUILD_DIR and LAYOUT):
            raise unittest.SkipTest("run by meson test (INSTALL_TEST_* unset, or no meson)")
        cls.destdir = tempfile.mkdtemp(prefix="camstream-install-")
        p = subprocess.run([MESON, "install", "-C", BUILD_DIR, "--no-rebuild", "--quiet",
                            "--destdir", cls.destdir], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=90)
        if p.returncode != 0:
            shutil.rmtree(cls.destdir, ignore_errors=True)
            raise AssertionError("meson install failed (%d): %s" % (
                p.returncode, (p.stdout + p.stderr).decode(errors="replace")[-3000:]))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.destdir, ignore_errors=True)

    def staged(self, key, *parts):
        """The path, under DESTDIR, of LAYOUT[key]/parts."""
        return os.path.join(self.destdir + LAYOUT[key], *parts)

    def test_every_file_is_installed_in_its_place(self):
        binary = self.staged("bindir", "camstream")
        self.assertTrue(os.access(binary, os.X_OK), "no executable %s" % binary)
        web = os.path.join(SOURCE_ROOT, "web")
        for dirpath, _, files in os.walk(web):
            for name in files:
                rel = os.path.relpath(os.path.join(dirpath, name), web)
                self.assertEqual(read(self.staged("datadir", "camstream", "web", rel)),
                                 read(os.path.join(web, rel)), "installed web/%s" % rel)
        for installed, source in (
                (self.staged("mandir", "man1", "camstream.1"), "docs/camstream.1"),
                (self.staged("sysconfdir", "camstream", "camstream.conf"),
                 "deploy/camstream.conf"),
                (self.staged("datadir", "doc", "camstream", "examples", "streams.json"),
                 "deploy/streams.example.json"),
                (self.staged("datadir", "doc", "camstream", "examples", "low-port.conf"),
                 "deploy/systemd/low-port.conf")):
            self.assertTrue(os.path.isfile(installed), "not installed: %s" % installed)
            self.assertEqual(read(installed), read(os.path.join(SOURCE_ROOT, source)),
                             "%s is not %s" % (installed, source))
        streams = self.staged("sysconfdir", "camstream", "streams.json")
        self.assertEqual(read(streams), read(os.path.join(SOURCE_ROOT, "deploy/streams.json")))
        self.assertEqual(os.stat(streams).st_mode & 0o777, 0o600,
                         "the service's streams file may hold camera passwords: root's alone")
        self.assertTrue(os.path.isfile(self.staged("unitdir", "camstream.service")),
                        "no camstream.service in %s" % LAYOUT["unitdir"])

    def test_installing_again_keeps_the_user_s_settings(self):
        streams = self.staged("sysconfdir", "camstream", "streams.json")
        conf = self.staged("sysconfdir", "camstream", "camstream.conf")
        before = {p: read(p) for p in (streams, conf)}
        self.addCleanup(lambda: [open(p, "wb").write(b) for p, b in before.items()])
        mine = {streams: b'{"streams":[{"name":"mine","rtsp_url":"demo:"}]}\n',
                conf: b"CAMSTREAM_PORT=8123\n"}
        for p, b in mine.items():
            with open(p, "wb") as f:
                f.write(b)
        p = subprocess.run([MESON, "install", "-C", BUILD_DIR, "--no-rebuild", "--quiet",
                            "--destdir", self.destdir], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=90)
        self.assertEqual(p.returncode, 0, (p.stdout + p.stderr).decode(errors="replace"))
        for path, content in mine.items():
            self.assertEqual(read(path), content, "meson install overwrote %s" % path)

    def test_installed_binary_defaults_to_the_installed_page(self):
        p = subprocess.run([self.staged("bindir", "camstream"), "--help"], capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=30)
        m = re.search(r"^Default web root: (.+)$", p.stdout.decode(), re.M)
        self.assertIsNotNone(m, "--help of the installed binary names no web root")
        self.assertEqual(m.group(1), os.path.join(LAYOUT["datadir"], "camstream", "web"),
                         "the installed binary's default web root")

    def test_installed_binary_serves_the_installed_page(self):
        web = self.staged("datadir", "camstream", "web")
        cam = self.start_installed("--web-root", web)
        for path, file in (("/", "index.html"), ("/js/dashboard.js", "js/dashboard.js"),
                           ("/css/camstream.css", "css/camstream.css")):
            r = http_get(cam.port, path, headers={"Accept": BROWSER_ACCEPT})
            self.assertEqual(r.status, 200, "GET %s: status (body %r)" % (path, r.body[:200]))
            self.assertEqual(r.body, read(os.path.join(web, file)), "GET %s" % path)

    def start_installed(self, *args):
        """The installed binary, as start_camstream starts the one under test."""
        saved = camtest.CAMSTREAM_BIN
        camtest.CAMSTREAM_BIN = self.staged("bindir", "camstream")
        try:
            return self.start_camstream("--port", "0", "--host", "127.0.0.1", "--rtmp-port",
                                        "off", "--webrtc-port", "off", *args,
                                        default_args=False)
        finally:
            camtest.CAMSTREAM_BIN = saved

    def test_example_configuration_is_accepted_with_every_line_uncommented(self):
        conf = read(self.staged("sysconfdir", "camstream", "camstream.conf"), "r")
        env = dict(re.findall(r"^#(CAMSTREAM_[A-Z0-9_]+)=(.*)$", conf, re.M))
        self.assertGreater(len(env), 10, "hardly any settings in camstream.conf")
        # config_load reads the environment before the command line: --help after a clean read
        rc, out, err = run_camstream("--help", env=env)
        self.assertEqual(rc, 0, "camstream refused the example's defaults: %s" % err)

    def test_unit_runs_the_installed_binary_with_the_installed_settings(self):
        unit = read(self.staged("unitdir", "camstream.service"), "r")
        self.assertIn("ExecStart=%s\n" % os.path.join(LAYOUT["bindir"], "camstream"), unit)
        self.assertIn("LoadCredential=streams.json:%s\n" % os.path.join(
            LAYOUT["sysconfdir"], "camstream", "streams.json"), unit)
        self.assertIn("EnvironmentFile=-%s\n" % os.path.join(LAYOUT["sysconfdir"], "camstream",
                                                            "camstream.conf"), unit)
        self.assertNotRegex(unit, r"@[a-z]+@", "a placeholder left in the unit")
        for line in ("DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes",
                     "Restart=on-failure", "CapabilityBoundingSet=\n"):
            self.assertIn(line, unit, "the unit lacks %s" % line.strip())

    def test_unit_and_its_low_port_drop_in_pass_systemd_analyze_verify(self):
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed")
        units = tempfile.mkdtemp(prefix="camstream-units-")
        self.addCleanup(shutil.rmtree, units, True)
        # the binary where this test staged it (verify checks that ExecStart's is executable)
        unit = read(self.staged("unitdir", "camstream.service"), "r").replace(
            "ExecStart=" + os.path.join(LAYOUT["bindir"], "camstream"),
            "ExecStart=" + self.staged("bindir", "camstream"))
        with open(os.path.join(units, "camstream.service"), "w") as f:
            f.write(unit)
        os.mkdir(os.path.join(units, "camstream.service.d"))
        shutil.copy(self.staged("datadir", "doc", "camstream", "examples", "low-port.conf"),
                    os.path.join(units, "camstream.service.d"))
        # Our folder first, then systemd's own (the trailing ':'), for the targets it names;
        # MANPATH: Documentation=man:camstream(1) is looked up in the installed man page.
        env = dict(os.environ, SYSTEMD_UNIT_PATH=units + ":",
                   MANPATH=self.staged("mandir") + ":")
        p = subprocess.run([analyze, "verify", os.path.join(units, "camstream.service")],
                           env=env, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
        out = (p.stdout + p.stderr).decode(errors="replace")
        self.assertEqual(p.returncode, 0, "systemd-analyze verify:\n%s" % out)
        self.assertEqual([line for line in out.splitlines() if "camstream" in line], [],
                         "systemd-analyze verify complains about camstream:\n%s" % out)

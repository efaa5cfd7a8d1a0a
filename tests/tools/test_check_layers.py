#!/usr/bin/python3
"""TAP self-test of tools/check_layers.py.

    /usr/bin/python3 tests/tools/test_check_layers.py [SCRIPT]

Builds small src/ trees in a temporary directory and runs the checker (SCRIPT, by default
tools/check_layers.py of this checkout) on each with the Python running this test. Prints
"1..N", then "ok N - name" / "not ok N - name" with the failure on "# " lines, which also go to
stderr. Exit status 1 if any test failed. Standard library only.
"""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tools", "check_layers.py")
TIMEOUT = 60

FAMILY_LINE = {"folders": 1, "upward": 2, "library": 3, "unknown": 4, "cycles": 5}

# A tree that follows every rule: each folder includes what it may, every library is used where
# it is allowed, includes under #if, a .c and its own .h, a diamond (no cycle).
CLEAN = {
    "base/log.h": '#pragma once\n#include <stdarg.h>\n#include <jansson.h>\n',
    "base/log.c": '#include "log.h"\n#include <stdio.h>\n',
    "base/error.h": '#pragma once\n#include "log.h"\n',
    "url/url.h": '#pragma once\n#include "error.h"\n',
    "url/url.c": '#include "url.h"\n#include "log.h"\n#include <uriparser/Uri.h>\n',
    "config/config.h": '#pragma once\n#include "url.h"\n#include "log.h"\n',
    "config/config.c": '#include "config.h"\n#include <jansson.h>\n',
    "media/frame.h": '#pragma once\n#include "error.h"\n#include <libavutil/frame.h>\n',
    "media/frame.c": ('#include "frame.h"\n#include "url.h"\n#include <turbojpeg.h>\n'
                      '#include <jpeglib.h>\n#include <libswscale/swscale.h>\n'),
    "media/hub.h": '#pragma once\n#include "frame.h"\n',
    "inputs/cam.h": '#pragma once\n#include "hub.h"\n',
    "inputs/cam.c": ('#include "cam.h"\n#include "url.h"\n#include <libavformat/avformat.h>\n'
                     '#if defined(HAVE_SWR)\n#include <libswresample/swresample.h>\n#endif\n'),
    "streams/streams.h": '#pragma once\n#include "hub.h"\n#include "url.h"\n',
    "streams/streams.c": '#include "streams.h"\n#include <jansson.h>\n',
    "onvif/onvif.c": ('#include "frame.h"\n#include "url.h"\n#include <libxml/parser.h>\n'
                      '#include <curl/curl.h>\n'),
    "web/viewer.h": '#pragma once\n#include "streams.h"\n#include "config.h"\n',
    "web/viewer.c": '#include "viewer.h"\n#include <libwebsockets.h>\n#include <jansson.h>\n',
    "outputs/ws_jpeg.h": '#pragma once\n#include "viewer.h"\n',
    "outputs/ws_jpeg.c": '#include "ws_jpeg.h"\n#include "frame.h"\n#include <libwebsockets.h>\n',
    "api/site.c": ('#include "ws_jpeg.h"\n#include "streams.h"\n#include "config.h"\n'
                   '#include <libwebsockets.h>\n#include <jansson.h>\n'),
    "server.h": '#pragma once\n#include "config.h"\n',
    "server.c": ('#include "server.h"\n#include "ws_jpeg.h"\n#include "cam.h"\n'
                 '#include <libwebsockets.h>\n#include <signal.h>\n'),
    "main.c": '#include "server.h"\n#include "log.h"\n#include "streams.h"\n',
}


class Failed(Exception):
    pass


def run_checker(files, script):
    """Writes files (path under src/ -> text) into a temporary src/ and runs the checker on it.
    Returns (exit status, stdout, stderr)."""
    with tempfile.TemporaryDirectory(prefix="check_layers.") as tmp:
        src = os.path.join(tmp, "src")
        os.mkdir(src)
        for rel, text in files.items():
            path = os.path.join(src, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        try:
            p = subprocess.run([sys.executable, script, src], stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Failed("checker did not finish within %d s" % TIMEOUT)
        return p.returncode, p.stdout, p.stderr


def with_files(extra):
    files = dict(CLEAN)
    files.update(extra)
    return files


def family_status(out):
    """family -> True (ok) / False (not ok), from the checker's TAP lines."""
    status = {}
    for fam, n in FAMILY_LINE.items():
        if ("\nok %d - %s" % (n, fam)) in "\n" + out:
            status[fam] = True
        elif ("\nnot ok %d - %s" % (n, fam)) in "\n" + out:
            status[fam] = False
    return status


def expect_only(out, failing):
    """Every family is reported; exactly those in failing are 'not ok'."""
    status = family_status(out)
    if set(status) != set(FAMILY_LINE):
        raise Failed("missing TAP lines for %s" % sorted(set(FAMILY_LINE) - set(status)))
    wrong = {f for f, ok in status.items() if ok == (f in failing)}
    if wrong:
        raise Failed("families with the wrong result: %s (expected not ok: %s)"
                     % (sorted(wrong), sorted(failing) or "none"))


def expect_fail(files, script, failing, details):
    rc, out, err = run_checker(files, script)
    if rc == 0:
        raise Failed("exit status 0, expected a failure\n" + out)
    expect_only(out, failing)
    for d in details:
        if d not in _comments(out):
            raise Failed("stdout lacks %r\n%s" % (d, out))
        if d not in err:
            raise Failed("stderr lacks %r\n%s" % (d, err))
    return out, err


def _comments(out):
    return "\n".join(line[2:] for line in out.splitlines() if line.startswith("# "))


def expect_pass(files, script):
    rc, out, err = run_checker(files, script)
    if rc != 0:
        raise Failed("exit status %d, expected 0\n%s%s" % (rc, out, err))
    if not out.startswith("1..%d\n" % len(FAMILY_LINE)):
        raise Failed("no TAP plan 1..%d first\n%s" % (len(FAMILY_LINE), out))
    expect_only(out, set())
    if "not ok" in out or err.strip():
        raise Failed("a failure reported on a passing tree\n%s%s" % (out, err))
    return out


# --- the tests -------------------------------------------------------------------------------

def t_clean(script):
    expect_pass(CLEAN, script)


def t_upward(script):
    files = with_files({"media/frame.c": '#include "frame.h"\n\n#include "viewer.h"\n'})
    expect_fail(files, script, {"upward"},
                ["media/frame.c:3 includes web's viewer.h: "
                 "media may include only base, url, media"])


def t_upward_from_header_under_if(script):
    files = with_files({"url/url.h": ('#pragma once\n#include "error.h"\n#ifdef WITH_HUB\n'
                                      '#  include "hub.h"\n#endif\n')})
    expect_fail(files, script, {"upward"},
                ["url/url.h:4 includes media's hub.h: url may include only base, url"])


def t_sibling(script):
    files = with_files({
        "inputs/cam.c": CLEAN["inputs/cam.c"] + '#include "streams.h"\n',
        "streams/streams.c": '#include "streams.h"\n#include "cam.h"\n',
    })
    expect_fail(files, script, {"upward"}, [
        "inputs/cam.c:7 includes streams's streams.h: inputs may include only base, url, media, "
        "inputs",
        "streams/streams.c:2 includes inputs's cam.h: streams may include only base, url, media, "
        "streams",
    ])


def t_top_level_from_api(script):
    files = with_files({"api/site.c": '#include "config.h"\n#include "server.h"\n'})
    expect_fail(files, script, {"upward"},
                ["api/site.c:2 includes top-level server.h: api may include only base, url, "
                 "config, media, streams, onvif, webrtc, web, outputs, ingest, api"])


def t_ffmpeg_in_web(script):
    files = with_files({"web/viewer.c": CLEAN["web/viewer.c"]
                        + '#include <libavcodec/avcodec.h>\n'})
    expect_fail(files, script, {"library"},
                ["web/viewer.c:4 includes <libavcodec/avcodec.h>: FFmpeg headers are allowed "
                 "only in media, inputs"])


def t_lws_in_media(script):
    files = with_files({"media/hub.h": ('#pragma once\n#include "frame.h"\n'
                                        '#include <libwebsockets.h>\n')})
    expect_fail(files, script, {"library"},
                ["media/hub.h:3 includes <libwebsockets.h>: libwebsockets headers are allowed only "
                 "in web, outputs, ingest, api, top-level"])


def t_other_libraries(script):
    files = with_files({
        "media/hub.h": '#pragma once\n#include "frame.h"\n#include <jansson.h>\n',
        "config/config.c": '#include "config.h"\n#include <uriparser/Uri.h>\n',
        "api/site.c": CLEAN["api/site.c"] + '#include <libxml/tree.h>\n',
        "web/viewer.c": CLEAN["web/viewer.c"] + '#include <turbojpeg.h>\n',
        "server.c": CLEAN["server.c"] + '#include <curl/curl.h>\n',
    })
    expect_fail(files, script, {"library"}, [
        "media/hub.h:3 includes <jansson.h>: jansson headers are allowed only in base, config, "
        "streams, web, outputs, api",
        "config/config.c:2 includes <uriparser/Uri.h>: uriparser headers are allowed only in url",
        "api/site.c:6 includes <libxml/tree.h>: libxml2 headers are allowed only in onvif",
        "web/viewer.c:4 includes <turbojpeg.h>: libjpeg-turbo headers are allowed only in media",
        "server.c:6 includes <curl/curl.h>: libcurl headers are allowed only in onvif",
    ])


def t_cycle_two(script):
    files = with_files({
        "base/a.h": '#pragma once\n#include "b.h"\n',
        "base/b.h": '#pragma once\n\n#include "a.h"\n',
    })
    expect_fail(files, script, {"cycles"}, ["cycle: base/a.h -> base/b.h -> base/a.h"])


def t_cycle_three(script):
    # media/hub.h -> media/frame.h -> media/ring.h -> media/hub.h, across .h files of one folder
    files = with_files({
        "media/frame.h": CLEAN["media/frame.h"] + '#include "ring.h"\n',
        "media/ring.h": '#pragma once\n#include "hub.h"\n',
    })
    out, _ = expect_fail(files, script, {"cycles"},
                         ["cycle: media/frame.h -> media/ring.h -> media/hub.h -> media/frame.h"])
    if out.count("# cycle: ") != 1:
        raise Failed("expected exactly one cycle\n" + out)


def t_every_cycle(script):
    # two cycles sharing base/a.h, plus a header that includes itself
    files = with_files({
        "base/a.h": '#pragma once\n#include "b.h"\n#include "c.h"\n',
        "base/b.h": '#pragma once\n#include "a.h"\n',
        "base/c.h": '#pragma once\n#include "a.h"\n',
        "base/d.h": '#pragma once\n#include "d.h"\n',
    })
    out, _ = expect_fail(files, script, {"cycles"}, [
        "cycle: base/a.h -> base/b.h -> base/a.h",
        "cycle: base/a.h -> base/c.h -> base/a.h",
        "cycle: base/d.h -> base/d.h",
    ])
    if out.count("# cycle: ") != 3:
        raise Failed("expected exactly three cycles\n" + out)


def t_commented_out(script):
    media = ('#include "frame.h"\n'
             '// #include "viewer.h"\n'
             '/* #include <libwebsockets.h> */\n'
             '/* a comment over lines\n#include "server.h"\n*/\n'
             '  /**/ // #include "lgo.h"\n'
             'static const char *s = "#include \\"viewer.h\\"";\n'
             'static const char q = \'"\'; /* a quote in a char literal opens no string */\n'
             '#if 0 /* a comment on an #if line */\n#endif\n'
             'static const char *u = "/* not a comment */ #include <libwebsockets.h>";\n'
             '#define X 1 // \\\n#include "viewer.h"\n')
    expect_pass(with_files({"media/frame.c": media}), script)
    # The same lines, uncommented, are caught: the ignored text was really checkable.
    live = ('#include "frame.h"\n#include "viewer.h"\n#include <libwebsockets.h>\n'
            '#include "server.h"\n#include "lgo.h"\n')
    _, out, _ = run_checker(with_files({"media/frame.c": live}), script)
    for d in ("media/frame.c:2 includes web's viewer.h",
              "media/frame.c:3 includes <libwebsockets.h>",
              "media/frame.c:4 includes top-level server.h", 'media/frame.c:5 includes "lgo.h"'):
        if d not in out:
            raise Failed("control: uncommented include not reported: %r\n%s" % (d, out))


def t_literals_open_no_comment(script):
    # "/*" in a string, or after a '"' character literal, must not hide the include below it.
    media = ('#include "frame.h"\n'
             'static const char *glob = "src/*.c";\n'
             "static const char quote = '\"', *open = \"/*\";\n"
             '#include "viewer.h"\n'
             'static const char *close = "*/";\n')
    expect_fail(with_files({"media/frame.c": media}), script, {"upward"},
                ["media/frame.c:4 includes web's viewer.h: "
                 "media may include only base, url, media"])


def t_unknown_header(script):
    files = with_files({"url/url.c": '#include "url.h"\n#include "lgo.h"\n'})
    expect_fail(files, script, {"unknown"},
                ['url/url.c:2 includes "lgo.h", which is not a first-party header under src/'])


def t_folder_prefix(script):
    files = with_files({"url/url.c": '#include "url.h"\n#include "base/log.h"\n'})
    expect_fail(files, script, {"unknown"},
                ['url/url.c:2 includes "base/log.h": first-party headers are included by name'])


def t_unknown_folder(script):
    files = with_files({"misc/x.c": '#include "log.h"\n'})
    expect_fail(files, script, {"folders"}, ["misc/x.c: unknown folder misc/"])


def t_duplicate_header(script):
    files = with_files({"web/log.h": '#pragma once\n'})
    expect_fail(files, script, {"folders"},
                ["header name log.h is not unique: base/log.h, web/log.h"])


def t_missing_dir(script):
    with tempfile.TemporaryDirectory(prefix="check_layers.") as tmp:
        missing = os.path.join(tmp, "nosuch")
        empty = os.path.join(tmp, "empty")
        os.mkdir(empty)
        for d in (missing, empty):
            p = subprocess.run([sys.executable, script, d], stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=TIMEOUT)
            if p.returncode == 0 or "Bail out!" not in p.stdout or not p.stderr.strip():
                raise Failed("%s: exit %d, expected a bail-out\n%s%s"
                             % (d, p.returncode, p.stdout, p.stderr))


TESTS = [
    ("a clean tree passes", t_clean),
    ("an upward include fails, naming file and line", t_upward),
    ("an upward include in a header under #ifdef fails", t_upward_from_header_under_if),
    ("sibling includes inputs -> streams and streams -> inputs fail", t_sibling),
    ("api including top-level server.h fails", t_top_level_from_api),
    ("an FFmpeg header in web fails", t_ffmpeg_in_web),
    ("libwebsockets in media fails", t_lws_in_media),
    ("jansson, uriparser, libxml2, turbojpeg, curl outside their folders fail", t_other_libraries),
    ("a two-file cycle is reported with its path", t_cycle_two),
    ("a three-file cycle is reported with its path", t_cycle_three),
    ("every cycle is reported, a self-include too", t_every_cycle),
    ("commented-out includes and string contents are ignored", t_commented_out),
    ("string and character literals open no comment", t_literals_open_no_comment),
    ("an unknown header fails", t_unknown_header),
    ("a first-party include with a folder prefix fails", t_folder_prefix),
    ("a file in an unknown folder fails", t_unknown_folder),
    ("a header name used twice fails", t_duplicate_header),
    ("a missing or empty SRC_DIR bails out", t_missing_dir),
]


def main(argv):
    script = os.path.abspath(argv[1]) if len(argv) > 1 else SCRIPT
    print("1..%d" % len(TESTS), flush=True)
    failed = 0
    for n, (name, fn) in enumerate(TESTS, 1):
        try:
            fn(script)
        except Exception as e:  # a Failed, or a bug in the test: both fail this test
            failed += 1
            detail = str(e) if isinstance(e, Failed) else "%s: %s" % (type(e).__name__, e)
            print("not ok %d - %s" % (n, name))
            text = "\n".join("# " + line for line in detail.rstrip("\n").splitlines())
            print(text, flush=True)
            print("not ok %d - %s\n%s" % (n, name, text), file=sys.stderr, flush=True)
        else:
            print("ok %d - %s" % (n, name), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/python3
"""Checks the #include layering of src/ and prints TAP.

    tools/check_layers.py [SRC_DIR]        (default: the src/ next to tools/)

src/ is split into folders by layer. A file may include first-party headers only from its own
folder and the folders ALLOWED lists for it; files directly in src/ ("top": main.c, server.c,
server.h) may include anything, and nothing in a folder may include them. First-party headers are
included as "name.h" without a folder (header names are unique across src/, so the name says the
folder); a quoted name that is no header under src/ is an error. System headers of the libraries
in LIBRARIES are allowed only in the folders listed there. The graph of file -> included
first-party header (a .c and its .h are separate nodes) must have no cycle.

Every #include counts, also one under #if (even #if 0); commented-out ones and text inside string
literals do not. A file in a nested folder (src/media/x/y.c) belongs to its top folder (media).

Prints one TAP line per rule family, each failure on "# " lines, and the failures on stderr too.
Exit status: 0 all rules hold, 1 a rule failed, 2 SRC_DIR could not be checked.
Python 3 standard library only.
"""

import os
import re
import sys
from collections import defaultdict

TOP = "top"  # files directly in src/

# Layer order, lowest first. Only used to list folders in a stable order in messages.
ORDER = ["base", "url", "config", "media", "inputs", "streams", "onvif", "webrtc", "web",
         "outputs", "ingest", "api"]

# Folder -> the other folders whose first-party headers it may include (itself is always allowed).
# inputs, streams and onvif are siblings: none may include another. Top may include everything.
ALLOWED = {
    "base": set(),
    "url": {"base"},
    "config": {"base", "url"},
    "media": {"base", "url"},
    "inputs": {"base", "url", "media"},
    "streams": {"base", "url", "media"},
    "onvif": {"base", "url", "media"},
    # WebRTC's pure parts (SDP, STUN, RTP, RTCP, DTLS-SRTP): bytes in, bytes out
    "webrtc": {"base"},
    "web": {"base", "url", "config", "media", "streams"},
    "outputs": {"base", "url", "config", "media", "streams", "webrtc", "web"},
    # the RTMP ingest: a listener (lws) that feeds inputs' push sources
    "ingest": {"base", "url", "config", "media", "inputs", "streams", "web"},
    "api": {"base", "url", "config", "media", "streams", "onvif", "webrtc", "web", "outputs",
            "ingest"},
    TOP: set(ORDER),
}

# System headers, by library: (library, header patterns, folders that may include them).
# A pattern ending in "/" matches every header under that directory, any other the exact name.
# System headers of no library here (libc, POSIX, Linux) are allowed everywhere.
LIBRARIES = [
    ("FFmpeg",
     ("libavformat/", "libavcodec/", "libavutil/", "libswscale/", "libswresample/",
      "libavfilter/", "libavdevice/", "libpostproc/"),
     {"media", "inputs"}),
    ("libwebsockets", ("libwebsockets.h", "libwebsockets/", "lws_config.h"),
     {"web", "outputs", "ingest", "api", TOP}),
    ("libjpeg-turbo", ("turbojpeg.h", "jpeglib.h", "jerror.h", "jmorecfg.h", "jconfig.h"),
     {"media"}),
    ("uriparser", ("uriparser/",), {"url"}),
    ("jansson", ("jansson.h", "jansson_config.h"),
     {"base", "config", "streams", "api", "web", "outputs"}),
    ("libxml2", ("libxml/",), {"onvif"}),
    # OpenSSL: DTLS-SRTP (webrtc), SHA-1 for ONVIF's WS-Security digest (onvif)
    ("OpenSSL", ("openssl/",), {"webrtc", "onvif"}),
    ("libsrtp2", ("srtp2/",), {"webrtc"}),
    ("libcurl", ("curl/",), {"onvif"}),
]

MAX_CYCLES = 200  # cycles listed at most; a tangle beyond that needs untangling anyway

FAMILIES = [
    ("folders", "every file is directly in src/ or in a known layer folder; header names unique"),
    ("upward", "no upward, sibling or top-level first-party include"),
    ("library", "library headers only in their layers"),
    ("unknown", "every quoted include names a first-party header"),
    ("cycles", "no include cycle"),
]

SOURCE_EXTS = (".c", ".h")


def layer_label(layer):
    return "top-level" if layer == TOP else layer + "'s"


def ordered(layers):
    rank = {name: i for i, name in enumerate(ORDER + [TOP])}
    return sorted(layers, key=lambda x: (rank.get(x, len(rank)), x))


def allowed_text(layer):
    if layer == TOP:
        return "top may include anything"
    return "%s may include only %s" % (layer, ", ".join(ordered(ALLOWED[layer] | {layer})))


# --- reading includes ---------------------------------------------------------------------------

_DIRECTIVE = re.compile(r"\s*#\s*include(?:_next)?\b\s*(.*)$")
_INCLUDE_SO_FAR = re.compile(r"\s*#\s*include(?:_next)?\s*$")


def logical_lines(text):
    """Yields (line number, text) per logical line of C source, as the preprocessor sees it:
    backslash-newlines spliced, each comment replaced by one space. String and character
    literals are kept whole (a comment opener inside one is not a comment)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Translation phase 2: splice lines, remembering each kept character's physical line.
    chars, lines = [], []
    line, i, n = 1, 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] == "\n":
            line += 1
            i += 2
            continue
        chars.append(c)
        lines.append(line)
        if c == "\n":
            line += 1
        i += 1
    t = "".join(chars)
    n = len(t)

    buf, first = [], [None]

    def add(s, pos):
        buf.append(s)
        if first[0] is None and s.strip():
            first[0] = lines[pos]

    i = 0
    while i < n:
        c = t[i]
        if c == "\n":
            if first[0] is not None:
                yield first[0], "".join(buf)
            buf, first = [], [None]
            i += 1
        elif t.startswith("//", i):
            j = t.find("\n", i)
            i = n if j < 0 else j
            buf.append(" ")
        elif t.startswith("/*", i):
            j = t.find("*/", i + 2)
            i = n if j < 0 else j + 2
            buf.append(" ")
        elif c in "\"'":
            j = i + 1
            while j < n and t[j] != c and t[j] != "\n":
                j += 2 if t[j] == "\\" else 1
            end = j + 1 if j < n and t[j] == c else min(j, n)
            add(t[i:end], i)
            i = end
        elif c == "<" and _INCLUDE_SO_FAR.match("".join(buf)):
            # <header-name>: taken literally, so "//" or "/*" in it start no comment.
            j = i + 1
            while j < n and t[j] not in ">\n":
                j += 1
            end = j + 1 if j < n and t[j] == ">" else j
            add(t[i:end], i)
            i = end
        else:
            add(c, i)
            i += 1
    if first[0] is not None:
        yield first[0], "".join(buf)


def includes(text):
    """Yields (line, kind, name) per #include: kind is '"', '<' or '?' (a computed include,
    name is then the macro text)."""
    for line, code in logical_lines(text):
        m = _DIRECTIVE.match(code)
        if not m:
            continue
        arg = m.group(1).strip()
        q = re.match(r'"([^"]*)"', arg)
        a = re.match(r"<([^>]*)>", arg)
        if q:
            yield line, '"', q.group(1)
        elif a:
            yield line, "<", a.group(1)
        else:
            yield line, "?", arg


# --- the include graph ---------------------------------------------------------------------------

def strongly_connected(graph):
    """Tarjan's algorithm, iterative. graph: node -> iterable of nodes. Returns a list of sets."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = set()
                while True:
                    v = stack.pop()
                    on_stack.discard(v)
                    comp.add(v)
                    if v == node:
                        break
                result.append(comp)
    return result


def simple_cycles(graph):
    """Every elementary cycle of graph (node -> set of nodes), each as a list of nodes starting
    at its smallest node (Johnson's algorithm, iterative)."""
    graph = {v: set(ws) for v, ws in graph.items()}
    for v in sorted(graph):
        if v in graph[v]:
            yield [v]
            graph[v].discard(v)

    def sub(nodes):
        return {v: graph[v] & nodes for v in nodes}

    pending = [c for c in strongly_connected(graph) if len(c) > 1]
    while pending:
        scc = pending.pop()
        g = sub(scc)
        start = min(scc)
        path, blocked, closed = [start], {start}, set()
        B = defaultdict(set)
        stack = [(start, sorted(g[start], reverse=True))]
        while stack:
            node, nbrs = stack[-1]
            if nbrs:
                nxt = nbrs.pop()
                if nxt == start:
                    yield list(path)
                    closed.update(path)
                elif nxt not in blocked:
                    path.append(nxt)
                    stack.append((nxt, sorted(g[nxt], reverse=True)))
                    closed.discard(nxt)
                    blocked.add(nxt)
                    continue
            if not nbrs:
                if node in closed:
                    todo = {node}
                    while todo:
                        u = todo.pop()
                        if u in blocked:
                            blocked.discard(u)
                            todo.update(B[u])
                            B[u].clear()
                else:
                    for w in g[node]:
                        B[w].add(node)
                stack.pop()
                path.pop()
        rest = scc - {start}
        pending.extend(c for c in strongly_connected(sub(rest)) if len(c) > 1)


# --- the check -----------------------------------------------------------------------------------

def library_of(name):
    for lib, patterns, folders in LIBRARIES:
        for p in patterns:
            if (name.startswith(p) if p.endswith("/") else name == p):
                return lib, folders
    return None, None


def scan(src):
    """Returns {relative path: layer} of every .c/.h file under src (hidden folders skipped)."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            if fn.endswith(SOURCE_EXTS):
                rel = os.path.relpath(os.path.join(dirpath, fn), src).replace(os.sep, "/")
                files[rel] = rel.split("/")[0] if "/" in rel else TOP
    return files


def check(src):
    failures = {key: [] for key, _ in FAMILIES}
    files = scan(src)
    if not files:
        return None, files

    known = set(ALLOWED) - {TOP}
    for rel, layer in files.items():
        if layer != TOP and layer not in known:
            failures["folders"].append(
                "%s: unknown folder %s/ (known: %s, and files directly in src/)"
                % (rel, layer, ", ".join(ordered(known))))

    headers = defaultdict(list)  # header name -> [relative paths]
    for rel in files:
        if rel.endswith(".h"):
            headers[rel.rsplit("/", 1)[-1]].append(rel)
    for name, paths in sorted(headers.items()):
        if len(paths) > 1:
            failures["folders"].append("header name %s is not unique: %s"
                                       % (name, ", ".join(sorted(paths))))

    def resolve(name, layer):
        paths = headers.get(name)
        if not paths:
            return None
        same = [p for p in paths if files[p] == layer]
        return (same or sorted(paths))[0]

    graph = {rel: set() for rel in files}
    edge_line = {}
    for rel, layer in files.items():
        try:
            with open(os.path.join(src, rel), encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError as e:
            failures["unknown"].append("%s: cannot read: %s" % (rel, e))
            continue
        for line, kind, name in includes(text):
            where = "%s:%d" % (rel, line)
            target = None
            if kind == "?":
                failures["unknown"].append(
                    "%s includes %s: a computed include cannot be checked; write \"name.h\""
                    % (where, name or "nothing"))
                continue
            if kind == '"':
                base = name.rsplit("/", 1)[-1]
                target = resolve(name, layer) if "/" not in name else None
                if target is None and "/" in name and base in headers:
                    target = resolve(base, layer)
                    failures["unknown"].append(
                        "%s includes \"%s\": first-party headers are included by name without a "
                        "folder (\"%s\", which is in %s)"
                        % (where, name, base, files[target] if files[target] != TOP else "src/"))
                elif target is None:
                    lib, _ = library_of(name)
                    hint = (": %s is a %s header; write <%s>" % (name, lib, name) if lib else
                            ", which is not a first-party header under src/")
                    failures["unknown"].append("%s includes \"%s\"%s" % (where, name, hint))
            if target is None:
                lib, folders = library_of(name)
                if lib and layer not in folders:
                    failures["library"].append(
                        "%s includes <%s>: %s headers are allowed only in %s"
                        % (where, name, lib, ", ".join(ordered(folders)).replace(TOP, "top-level")))
                continue

            graph[rel].add(target)
            edge_line.setdefault((rel, target), line)
            dest = files[target]
            if layer == TOP or layer not in ALLOWED or dest == layer or dest in ALLOWED[layer]:
                continue
            failures["upward"].append("%s includes %s %s: %s"
                                      % (where, layer_label(dest), target.rsplit("/", 1)[-1],
                                         allowed_text(layer)))

    count = 0
    for cyc in simple_cycles(graph):
        if count == MAX_CYCLES:
            failures["cycles"].append("(stopped listing after %d cycles)" % MAX_CYCLES)
            break
        count += 1
        ring = cyc + [cyc[0]]
        at = ", ".join("%s:%d" % (a, edge_line[(a, b)]) for a, b in zip(ring, ring[1:]))
        failures["cycles"].append("cycle: %s (includes at %s)" % (" -> ".join(ring), at))
    return failures, files


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__.strip())
        return 0 if len(argv) == 2 else 2
    here = os.path.dirname(os.path.abspath(__file__))
    src = argv[1] if len(argv) == 2 else os.path.join(os.path.dirname(here), "src")
    if not os.path.isdir(src):
        msg = "Bail out! %s is not a directory" % src
        print(msg)
        print("check_layers: " + msg, file=sys.stderr)
        return 2
    failures, files = check(src)
    if failures is None:
        msg = "Bail out! no .c or .h file under %s" % src
        print(msg)
        print("check_layers: " + msg, file=sys.stderr)
        return 2

    print("1..%d" % len(FAMILIES))
    print("# %s: %d files" % (src, len(files)))
    bad = 0
    for n, (key, title) in enumerate(FAMILIES, 1):
        items = failures[key]
        print("%s %d - %s: %s" % ("not ok" if items else "ok", n, key, title))
        for item in items:
            print("# " + item)
            print("check_layers: %s: %s" % (key, item), file=sys.stderr)
        bad += len(items)
    if bad:
        print("check_layers: %d failure(s) in %s" % (bad, src), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/python3
"""hls_clients: light HLS clients that request what hls.js requests, many in one process
(bench/hls_run.py's hlscpu; docs/PERFORMANCE.md, "HLS").

Each client holds one keep-alive HTTP/1.1 connection and does, in order, what hls.js' loaders
do, without decoding anything:
  LL-HLS (a playlist with EXT-X-PART and CAN-BLOCK-RELOAD=YES): the playlist, the init segment
    (EXT-X-MAP), then from the last independent part at least 3 parts behind the newest (hls.js'
    start at PART-HOLD-BACK) every part in order; after the newest part it knows, a blocking
    reload `?_HLS_msn=M&_HLS_part=P` for the next one, then the parts that reload lists.
  plain HLS (no parts): the playlist, the init segment, the segments from the third-newest on
    (hls.js' liveSyncDurationCount 3), then a reload every target duration (half of it when
    the playlist had not changed) and the new segments.
Nothing is kept: bytes are counted. A client that falls out of the window starts again from the
newest parts ("resyncs").

  hls_clients.py --url http://127.0.0.1:PORT/hls/index.m3u8?rtsp_url=... --clients 100

Prints "STARTED n" once every client has its first media (or after --start-timeout s with
however many have), then reads stdin: "MARK" opens a window, "STOP" prints one JSON line with
the window's figures (per kind of request: count, bytes; media items a client; errors) and
exits. End of input: exits as STOP does.
"""

import argparse
import asyncio
import datetime
import json
import statistics
import sys
import time
import urllib.parse


class HttpError(Exception):
    pass


class Conn:
    """One keep-alive HTTP/1.1 connection to host:port; reconnects when the server closed it."""

    def __init__(self, host, port, host_header):
        self.host, self.port, self.hh = host, port, host_header
        self.r = self.w = None

    async def _open(self):
        self.r, self.w = await asyncio.open_connection(self.host, self.port, limit=1 << 20)

    def close(self):
        if self.w is not None:
            self.w.close()
        self.r = self.w = None

    async def get(self, path, timeout):
        for attempt in (0, 1):
            fresh = self.w is None
            if fresh:
                await asyncio.wait_for(self._open(), timeout)
            try:
                return await asyncio.wait_for(self._get(path), timeout)
            except (ConnectionError, asyncio.IncompleteReadError, HttpError) as e:
                self.close()
                if fresh or attempt:       # a new connection failed: give up
                    raise HttpError("%s: %s" % (path[:60], e))
            except asyncio.TimeoutError:
                self.close()
                raise HttpError("%s: timed out after %g s" % (path[:60], timeout))

    async def _get(self, path):
        self.w.write(("GET %s HTTP/1.1\r\nHost: %s\r\nAccept: */*\r\n\r\n"
                      % (path, self.hh)).encode())
        head = await self.r.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise HttpError("bad status line %r" % lines[0][:80])
        status = int(parts[1])
        hdr = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            if k:
                hdr[k.strip().lower()] = v.strip()
        if "content-length" in hdr:
            body = await self.r.readexactly(int(hdr["content-length"]))
        elif hdr.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                n = int((await self.r.readuntil(b"\r\n")).split(b";")[0], 16)
                if n == 0:
                    await self.r.readuntil(b"\r\n")
                    break
                chunks.append(await self.r.readexactly(n))
                await self.r.readexactly(2)
            body = b"".join(chunks)
        else:
            body = await self.r.read()      # close-delimited
            self.close()
        if hdr.get("connection", "").lower() == "close":
            self.close()
        return status, body


def parse_pdt(value):
    """EXT-X-PROGRAM-DATE-TIME's value -> wall clock ms, or None."""
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000
    except ValueError:
        return None


def parse_playlist(text):
    """A media playlist: {'msn0', 'td', 'part_target', 'can_block', 'map', 'segs': [(msn, uri)],
    'parts': [(msn, idx, uri, independent, end_ms)], 'endlist'}; a part's end_ms is its
    segment's EXT-X-PROGRAM-DATE-TIME + the durations of the parts up to its end (None without
    a date)."""
    pl = {"msn0": 0, "td": 1.0, "part_target": None, "can_block": False, "map": None,
          "segs": [], "parts": [], "endlist": False}
    msn = None
    idx = 0
    seg_ms = None       # the current segment's start, wall clock ms
    part_end = 0.0      # s into the current segment
    extinf = 0.0
    gap = False
    for ln in text.splitlines():
        ln = ln.strip()
        if not ln:
            continue
        if ln.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            pl["msn0"] = int(ln.split(":", 1)[1])
            msn = pl["msn0"]
        elif ln.startswith("#EXT-X-TARGETDURATION:"):
            pl["td"] = float(ln.split(":", 1)[1])
        elif ln.startswith("#EXT-X-PART-INF:"):
            pl["part_target"] = float(_attrs(ln)["PART-TARGET"])
        elif ln.startswith("#EXT-X-SERVER-CONTROL:"):
            pl["can_block"] = _attrs(ln).get("CAN-BLOCK-RELOAD") == "YES"
        elif ln.startswith("#EXT-X-MAP:"):
            pl["map"] = _attrs(ln)["URI"]
        elif ln.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            seg_ms = parse_pdt(ln.split(":", 1)[1])
        elif ln.startswith("#EXTINF:"):
            extinf = float(ln.split(":", 1)[1].split(",")[0])
        elif ln.startswith("#EXT-X-PART:"):
            a = _attrs(ln)
            if msn is None:
                msn = pl["msn0"]
            part_end += float(a.get("DURATION", 0))
            pl["parts"].append((msn, idx, a["URI"], a.get("INDEPENDENT") == "YES",
                                seg_ms + part_end * 1000 if seg_ms is not None else None))
            idx += 1
        elif ln.startswith("#EXT-X-GAP"):
            gap = True
        elif ln.startswith("#EXT-X-ENDLIST"):
            pl["endlist"] = True
        elif not ln.startswith("#"):
            if msn is None:
                msn = pl["msn0"]
            if not gap:         # hls.js loads no EXT-X-GAP segment
                pl["segs"].append((msn, ln))
            gap = False
            msn += 1
            idx = 0
            part_end = 0.0
            if seg_ms is not None:
                seg_ms += extinf * 1000
    return pl


def _attrs(line):
    out = {}
    rest = line.split(":", 1)[1]
    i = 0
    while i < len(rest):
        eq = rest.find("=", i)
        if eq < 0:
            break
        key = rest[i:eq].strip()
        if rest[eq + 1:eq + 2] == '"':
            end = rest.find('"', eq + 2)
            out[key] = rest[eq + 2:end]
            i = rest.find(",", end) + 1 or len(rest)
        else:
            end = rest.find(",", eq + 1)
            end = len(rest) if end < 0 else end
            out[key] = rest[eq + 1:end]
            i = end + 1
    return out


KINDS = ("playlist", "blocking", "init", "part", "segment")


class Client:
    def __init__(self, n, url, timeout, started):
        u = urllib.parse.urlsplit(url)
        self.n = n
        self.conn = Conn(u.hostname, u.port or 80, u.netloc)
        self.base_path = u.path
        self.query = u.query
        self.timeout = timeout
        self.started = started            # an asyncio.Event set by the first media
        self.count = {k: 0 for k in KINDS}
        self.bytes = {k: 0 for k in KINDS}
        self.held_s = []                  # time each blocking reload took
        self.lag_ms = []                  # newest part listed - its end by PROGRAM-DATE-TIME
        self.errors = 0
        self.last_error = None
        self.resyncs = 0
        self.resync_why = {}
        self.have_media = False
        self.map_uri = None

    def _path(self, uri):
        if uri.startswith("http://") or uri.startswith("https://"):
            return urllib.parse.urlsplit(uri)._replace(scheme="", netloc="").geturl()
        if uri.startswith("/"):
            return uri
        return self.base_path.rsplit("/", 1)[0] + "/" + uri

    async def fetch(self, kind, path):
        t = time.monotonic()
        status, body = await self.conn.get(path, self.timeout)
        if kind == "blocking":
            self.held_s.append(time.monotonic() - t)
        self.count[kind] += 1
        self.bytes[kind] += len(body)
        if status != 200:
            self.errors += 1
            self.last_error = "%s %d %s" % (kind, status, body[:120].decode("utf-8", "replace"))
            return None
        if kind in ("part", "segment") and not self.have_media:
            self.have_media = True
            self.started(self)
        return body

    async def playlist(self, msn=None, part=None):
        q = self.query
        if msn is not None:
            q += ("&" if q else "") + "_HLS_msn=%d" % msn
            if part is not None:
                q += "&_HLS_part=%d" % part
        body = await self.fetch("playlist" if msn is None else "blocking",
                                self.base_path + ("?" + q if q else ""))
        return parse_playlist(body.decode("utf-8", "replace")) if body is not None else None

    async def init(self, pl):
        if pl["map"] and pl["map"] != self.map_uri:
            self.map_uri = pl["map"]
            await self.fetch("init", self._path(pl["map"]))

    async def run(self, mode):
        while True:
            try:
                pl = await self.playlist()
                if pl is None:
                    await asyncio.sleep(1.0)
                    continue
                await self.init(pl)
                if pl["part_target"] and pl["can_block"] and mode != "plain":
                    if not pl["parts"]:     # no part yet: as hls.js, reload a bit later
                        await asyncio.sleep(pl["part_target"])
                        continue
                    why = await self.run_ll(pl)
                else:
                    why = await self.run_plain(pl)
            except HttpError as e:
                self.errors += 1
                self.last_error = str(e)[:200]
                why = "HTTP error"
                await asyncio.sleep(0.5)
            self.resyncs += 1
            self.resync_why[why] = self.resync_why.get(why, 0) + 1

    async def run_ll(self, pl):
        parts = pl["parts"]
        # the start: the last independent part at least 3 parts behind the newest
        start = 0
        for i in range(max(0, len(parts) - 3), -1, -1):
            if parts[i][3]:
                start = i
                break
        last = None
        todo = parts[start:]
        while True:
            for msn, idx, uri, _, _ in todo:
                if await self.fetch("part", self._path(uri)) is None:
                    return "part not served"    # start again from a fresh playlist
                last = (msn, idx)
            if pl["endlist"]:
                await asyncio.sleep(pl["td"])
                return "endlist"
            # the next part: the next segment's first when the last one's segment is complete
            complete = any(m == last[0] for m, _ in pl["segs"])
            nxt = (last[0] + 1, 0) if complete and not any(
                p[0] == last[0] and p[1] == last[1] + 1 for p in pl["parts"]) else \
                (last[0], last[1] + 1)
            pl = await self.playlist(*nxt)
            if pl is None:
                return "playlist not served"
            if pl["parts"] and pl["parts"][-1][4] is not None and \
                    pl["parts"][-1][:2] == nxt:
                self.lag_ms.append(time.time() * 1000 - pl["parts"][-1][4])
            await self.init(pl)
            if not any(p[:2] == last for p in pl["parts"]):
                return "last part left the playlist"    # fell behind: start again
            todo = [p for p in pl["parts"] if p[:2] > last]

    async def run_plain(self, pl):
        segs = pl["segs"]
        last = None
        todo = segs[max(0, len(segs) - 3):]
        prev_text = None
        while True:
            for msn, uri in todo:
                if await self.fetch("segment", self._path(uri)) is None:
                    return "segment not served"
                last = msn
            if pl["endlist"]:
                await asyncio.sleep(pl["td"])
                return "endlist"
            changed = pl["segs"] != prev_text
            prev_text = pl["segs"]
            await asyncio.sleep(pl["td"] if changed else pl["td"] / 2)
            pl = await self.playlist()
            if pl is None:
                return "playlist not served"
            await self.init(pl)
            if last is not None and pl["segs"] and pl["segs"][0][0] > last + 1:
                return "fell out of the window"
            todo = [s for s in pl["segs"] if last is None or s[0] > last]

    def snapshot(self):
        return {"count": dict(self.count), "bytes": dict(self.bytes), "errors": self.errors,
                "resyncs": self.resyncs, "held": len(self.held_s), "lag": len(self.lag_ms)}


def pct(vals, p):
    if not vals:
        return None
    s = sorted(vals)
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def window_figures(clients, marks, t0, t1):
    win = max(1e-6, t1 - t0)
    out = {"clients": len(clients), "window_s": win, "requests": {}, "bytes_per_s": {},
           "errors": 0, "resyncs": 0}
    per_client_media = []
    for k in KINDS:
        out["requests"][k] = sum(c.count[k] - m["count"][k] for c, m in zip(clients, marks))
        out["bytes_per_s"][k] = sum(c.bytes[k] - m["bytes"][k]
                                    for c, m in zip(clients, marks)) / win
    for c, m in zip(clients, marks):
        per_client_media.append((c.count["part"] - m["count"]["part"] +
                                 c.count["segment"] - m["count"]["segment"]) / win)
        out["errors"] += c.errors - m["errors"]
        out["resyncs"] += c.resyncs - m["resyncs"]
    out["requests_per_s"] = sum(out["requests"].values()) / win
    out["media_per_s_min"] = min(per_client_media) if per_client_media else None
    out["media_per_s_median"] = statistics.median(per_client_media) if per_client_media else None
    out["media_bytes_per_s_per_client"] = (out["bytes_per_s"]["part"] +
                                           out["bytes_per_s"]["segment"]) / max(1, len(clients))
    held = [h for c, m in zip(clients, marks) for h in c.held_s[m["held"]:]]
    out["held_p50_ms"] = statistics.median(held) * 1000 if held else None
    out["held_max_ms"] = max(held) * 1000 if held else None
    lag = [x for c, m in zip(clients, marks) for x in c.lag_ms[m["lag"]:]]
    out["part_lag_p50_ms"] = pct(lag, 50)
    out["part_lag_p90_ms"] = pct(lag, 90)
    errs = [c.last_error for c in clients if c.last_error]
    out["last_errors"] = errs[:3]
    out["clients_with_errors"] = sum(1 for c in clients if c.errors)
    why = {}
    for c in clients:       # since the start, not only in the window
        for k, v in c.resync_why.items():
            why[k] = why.get(k, 0) + v
    out["resyncs_why"] = why
    return out


async def main_async(a):
    loop = asyncio.get_running_loop()
    have = set()
    all_started = asyncio.Event()

    def started(c):
        have.add(c.n)
        if len(have) == a.clients:
            all_started.set()

    clients = [Client(i, a.url, a.timeout, started) for i in range(a.clients)]
    tasks = []
    for c in clients:
        tasks.append(asyncio.create_task(c.run(a.mode)))
        if a.stagger > 0:
            await asyncio.sleep(a.stagger)
    try:
        await asyncio.wait_for(all_started.wait(), a.start_timeout)
    except asyncio.TimeoutError:
        pass
    print("STARTED %d" % len(have), flush=True)

    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    marks = [c.snapshot() for c in clients]
    t0 = time.monotonic()
    while True:
        line = (await reader.readline()).decode().strip()
        if line == "MARK":
            marks = [c.snapshot() for c in clients]
            t0 = time.monotonic()
        elif line in ("STOP", ""):
            break
    t1 = time.monotonic()
    out = window_figures(clients, marks, t0, t1)
    out["started"] = len(have)
    print(json.dumps(out), flush=True)
    for t in tasks:
        t.cancel()
    for c in clients:
        c.conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="the media playlist")
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--mode", choices=("auto", "plain"), default="auto",
                    help="auto: LL-HLS when the playlist has parts; plain: segments only")
    ap.add_argument("--timeout", type=float, default=10.0, help="per request, s")
    ap.add_argument("--stagger", type=float, default=0.01, help="s between client starts")
    ap.add_argument("--start-timeout", type=float, default=30.0)
    a = ap.parse_args()
    try:
        asyncio.run(main_async(a))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""flv: the FLV side of camstream's benchmark: viewers, tag records, stamps, the floor.

Viewers of an FLV body (HTTP-FLV, WS-FLV, or an HTTP-FLV body served by a peer) run in the
receivers' one-thread selector loop (bench/receivers.py: Loop). Each parses the byte stream
incrementally and records, per video picture tag, the wall time of the read that completed
the tag's data. A viewer made with keep=True also keeps the tag's bytes: after the window,
those pictures are decoded (resolve_stamps: their Annex-B piped to one `ffmpeg -f h264`
process, the decoded stamp rows read with bench/barcode.py, pictures matched to tags in
order), so the decoding never delays a read that is being timed. Viewers of one camera receive
the same coded pictures, so a picture is known by a key (CRC-32 and length of its first slice
NAL unit) and decoded once for all of them.

Command line (prints one JSON object): the GStreamer depayloader floor
  flv.py gstdepay --rtsp URL [--warmup S] [--window S]
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import barcode  # noqa: E402
import client  # noqa: E402
from receivers import (RECV_CHUNK, HttpChunked, SockConn, _mask_frame,  # noqa: E402
                       die_with_parent)

_SCRATCH = bytearray(RECV_CHUNK)   # every viewer reads into this one: one thread, and what a
                                   # viewer keeps it copies before the next read
VIDEO, AUDIO, SCRIPT = 9, 8, 18


# ---------------------------------------------------------------- the byte stream

class FlvReader:
    """Incremental FLV parser. Records one tuple per video picture tag (AVCPacketType 1, or an
    Enhanced FLV coded-frames tag) in @pics: (recv_us, key, ts_ms, size, data-or-None).
    Sequence headers are kept (the decoder needs the avcC's parameter sets); other tags are
    skipped without a copy unless @keep."""

    def __init__(self, keep=False):
        self.keep = keep
        self.state = "head"
        self.buf = bytearray()
        self.want = 13            # FLV header (9) + PreviousTagSize0 (4)
        self.left = 0             # data bytes of the current tag still to come
        self.skip = 0             # bytes to drop (rest of a tag, PreviousTagSize)
        self.type = 0
        self.ts = 0
        self.size = 0
        self.header = None
        self.pics = []
        self.seq_headers = 0
        self.avcc = None          # latest AVC sequence header's avcC
        self.avcc_at = []         # (index in pics, avcC) from which each avcC applies
        self.tags = 0
        self.error = None
        self.first_key_mono = None

    def feed(self, mv, t_us):
        i, n = 0, len(mv)
        while i < n:
            if self.skip:
                k = min(self.skip, n - i)
                self.skip -= k
                i += k
                continue
            if self.state in ("head", "taghdr"):
                k = min(self.want - len(self.buf), n - i)
                self.buf += mv[i:i + k]
                i += k
                if len(self.buf) < self.want:
                    continue
                if self.state == "head":
                    if self.buf[:3] != b"FLV":
                        self.error = "not FLV: %r" % bytes(self.buf[:9])
                        return False
                    self.header = bytes(self.buf[:9])
                    self.state, self.want = "taghdr", 11
                    self.buf = bytearray()
                    continue
                h = self.buf
                self.type = h[0] & 0x1F
                self.size = (h[1] << 16) | (h[2] << 8) | h[3]
                self.ts = (h[7] << 24) | (h[4] << 16) | (h[5] << 8) | h[6]
                self.buf = bytearray()
                self.left = self.size
                # what is copied: a video tag whole when kept, else its first 2 bytes
                self.want = self.size if (self.type == VIDEO and self.keep) else \
                    (min(self.size, 2) if self.type == VIDEO else 0)
                self.state = "data"
                if self.size == 0:
                    self._tag_done(t_us)
                continue
            # state "data"
            k = min(self.left, n - i)
            room = self.want - len(self.buf)
            if room > 0:
                self.buf += mv[i:i + min(room, k)]
            self.left -= k
            i += k
            if self.left == 0:
                self._tag_done(t_us)
        return True

    def _tag_done(self, t_us):
        self.tags += 1
        d = self.buf
        if self.type == VIDEO and len(d) >= 2:
            b0 = d[0]
            if b0 & 0x80:      # Enhanced FLV: IsExHeader, frame type, packet type
                key = (b0 >> 4) & 0x07 == 1
                ptype = b0 & 0x0F
                is_seq, is_pic = ptype == 0, ptype in (1, 3)
            else:
                key = (b0 >> 4) == 1
                is_seq, is_pic = d[1] == 0, d[1] == 1
            if is_seq:
                self.seq_headers += 1
                if self.keep and (b0 & 0x0F) == 7:
                    self.avcc = bytes(d[5:])
                    self.avcc_at.append((len(self.pics), self.avcc))
            elif is_pic:
                if key and self.first_key_mono is None:
                    self.first_key_mono = time.monotonic()
                self.pics.append((t_us, key, self.ts, self.size,
                                  bytes(d) if self.keep else None))
        self.buf = bytearray()
        self.state, self.want = "taghdr", 11
        self.skip = 4            # PreviousTagSize


# ---------------------------------------------------------------- H.264 in FLV

def avcc_params(avcc):
    """(NAL length size, [SPS..., PPS...]) of an AVCDecoderConfigurationRecord."""
    if not avcc or len(avcc) < 7:
        return 4, []
    nls = (avcc[4] & 3) + 1
    out = []
    i = 5
    for count_mask in (0x1F, 0xFF):
        if i >= len(avcc):
            break
        cnt = avcc[i] & count_mask
        i += 1
        for _ in range(cnt):
            ln = struct.unpack("!H", avcc[i:i + 2])[0]
            out.append(avcc[i + 2:i + 2 + ln])
            i += 2 + ln
    return nls, out


def nal_units(data, nls=4):
    """The NAL units of a picture tag's data (after its 5-byte video header)."""
    i, n = 5, len(data)
    out = []
    while i + nls <= n:
        ln = int.from_bytes(data[i:i + nls], "big")
        i += nls
        if ln <= 0 or i + ln > n:
            break
        out.append(data[i:i + ln])
        i += ln
    return out


def picture_key(data, nls=4):
    """A picture's identity across viewers and servers: its first slice NAL unit."""
    for nal in nal_units(data, nls):
        if nal[0] & 0x1F in (1, 5):
            return (zlib.crc32(nal[:4096]), len(nal))
    return None


def decode_stamps(reader, width, timeout=120.0):
    """Stamps (us or None) of @reader's kept pictures, in order, or None if the decoder's
    output cannot be matched to them one to one."""
    nls, params = 4, []
    starts = dict(reader.avcc_at)
    parts = []
    for idx, pic in enumerate(reader.pics):
        if idx in starts:
            nls, params = avcc_params(starts[idx])
        if pic[4] is None:
            return None
        if pic[1]:
            for p in params:
                parts.append(b"\0\0\0\1" + p)
        for nal in nal_units(pic[4], nls):
            parts.append(b"\0\0\0\1" + nal)
    if not parts:
        return []
    strip = barcode.strip_height(width)
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "h264", "-i", "-",
           "-fps_mode", "passthrough", "-vf", "crop=iw:%d:0:0" % strip, "-pix_fmt", "gray",
           "-f", "rawvideo", "-"]
    try:
        out = subprocess.run(cmd, input=b"".join(parts), capture_output=True, timeout=timeout,
                             preexec_fn=die_with_parent).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    import numpy as np
    fsz = width * strip
    n = len(out) // fsz
    stamps = []
    for k in range(n):
        y = np.frombuffer(out, dtype=np.uint8, count=fsz, offset=k * fsz).reshape(strip, width)
        stamps.append(barcode.read_array(y))
    if n != len(reader.pics):
        return match_by_time(reader.pics, stamps)
    return stamps


def match_by_time(pics, stamps):
    """Fallback when the decoder gave more or fewer pictures than tags: pair a tag with the
    decoded stamp whose (stamp - tag timestamp) agrees with its neighbours' (to 15 ms); the
    offset between camera clock and tag clock is constant between timestamp jumps."""
    out = [None] * len(pics)
    j = 0
    off = None
    for i, p in enumerate(pics):
        while j < len(stamps) and stamps[j] is None:
            j += 1
        if j >= len(stamps):
            break
        d = stamps[j] / 1000.0 - p[2]
        if off is None or abs(d - off) <= 15:
            out[i] = stamps[j]
            off = d if off is None else off
            j += 1
        elif d < off:           # a decoded picture without a tag: drop it
            j += 1
            if j < len(stamps) and stamps[j] is not None and \
                    abs(stamps[j] / 1000.0 - p[2] - off) <= 15:
                out[i] = stamps[j]
                j += 1
        # else: a tag the decoder did not output: leave None
    return out


def resolve_stamps(viewers, width):
    """Fill each viewer's `stamps` (one per picture, us or None) for every viewer that kept
    its pictures; decodes as few streams as it can (a picture's stamp is shared by key)."""
    known = {}
    stats = {"decoded_streams": 0, "unmatched_streams": 0}
    for v in viewers:
        if not v.keep:
            continue
        keys = _keys(v.flv)
        if not all(k in known for k in keys if k is not None):
            st = decode_stamps(v.flv, width)
            stats["decoded_streams"] += 1
            if st is None:
                stats["unmatched_streams"] += 1
                st = [None] * len(keys)
            for k, s in zip(keys, st):
                if k is not None and s is not None:
                    known[k] = s
        v.stamps = [known.get(k) for k in keys]
    return stats


def _keys(reader):
    nls = 4
    starts = dict(reader.avcc_at)
    keys = []
    for idx, pic in enumerate(reader.pics):
        if idx in starts:
            nls = avcc_params(starts[idx])[0]
        keys.append(picture_key(pic[4], nls) if pic[4] is not None else None)
    return keys


# ---------------------------------------------------------------- viewers

class FlvViewer(SockConn):
    """One FLV body over HTTP (`mode` "http": a GET, body close-delimited or chunked) or a
    WebSocket (`mode` "ws": binary messages concatenated). `rate`, `rcvbuf`, `retry_until`: as
    for any SockConn (a viewer behind a slow link reads at most `rate` bytes a second with a
    small receive buffer; a peer still starting its listener is retried)."""

    def __init__(self, label, host, port, path, mode="http", keep=False):
        if mode == "ws":
            key = "dGhlIHNhbXBsZSBub25jZQ=="
            req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n" % (path, host, port, key)).encode()
        else:
            req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: */*\r\n\r\n"
                   % (path, host, port)).encode()
        super().__init__(label, host, port, req, scratch=_SCRATCH)
        self.path, self.mode = path, mode
        self.flv = FlvReader(keep)
        self.keep = keep
        self.chunked = None
        self.proc = None          # a peer process owned by this viewer (ffmpeg per viewer)
        self.bytes = 0
        self.bytes_t0 = 0         # self.bytes when the window opened
        self.ended = False        # the server ended the body
        self.texts = []
        self.stamps = None
        self.stall = False        # never read the body (an idle viewer)
        # WebSocket frame parsing
        self.whdr = bytearray()
        self.wneed = 0
        self.wop = 0
        self.ctl = bytearray()

    def on_headers(self, rest):
        if self.status != (101 if self.mode == "ws" else 200):
            self.fail("HTTP %s %s" % (self.status, rest[:200].decode("utf-8", "replace")))
            return False
        if "chunked" in self.headers.get("transfer-encoding", ""):
            self.chunked = HttpChunked()
        if self.stall:
            self.loop.unwatch(self.sock)    # connected, never reads again
            return False
        return True

    def on_eof(self, t):
        self.ended = self.state == "body"
        self.fail("connection closed by server" +
                  (": " + " ".join(self.texts)[:200] if self.texts else ""))

    def on_body(self, mv, t):
        self.bytes += len(mv)
        if self.chunked is not None:
            mv = memoryview(self.chunked.feed(mv))
        if self.mode == "ws":
            self.ws_body(mv, t)
            return
        if not self.flv.feed(mv, t):
            self.fail(self.flv.error)

    def ws_body(self, mv, t):
        i, n = 0, len(mv)
        while i < n and not self.closed:
            if self.wneed == 0 and (len(self.whdr) < 2 or len(self.whdr) < self._hdr_need()):
                k = min(self._hdr_need() - len(self.whdr), n - i)
                self.whdr += mv[i:i + k]
                i += k
                if len(self.whdr) < 2 or len(self.whdr) < self._hdr_need():
                    continue
                b0, b1 = self.whdr[0], self.whdr[1]
                op = b0 & 0x0F
                ln = b1 & 0x7F
                if ln == 126:
                    ln = struct.unpack("!H", self.whdr[2:4])[0]
                elif ln == 127:
                    ln = struct.unpack("!Q", self.whdr[2:10])[0]
                if op != 0:
                    self.wop = op
                self.whdr = bytearray()
                self.wneed = ln
                self.ctl = bytearray()
                if ln == 0:
                    self._ws_end()
                continue
            k = min(self.wneed, n - i)
            if self.wop == 2:
                if not self.flv.feed(mv[i:i + k], t):
                    self.fail(self.flv.error)
                    return
            else:
                self.ctl += mv[i:i + k]
            self.wneed -= k
            i += k
            if self.wneed == 0:
                self._ws_end()

    def _hdr_need(self):
        if len(self.whdr) < 2:
            return 2
        return 2 + {126: 2, 127: 8}.get(self.whdr[1] & 0x7F, 0) + \
            (4 if self.whdr[1] & 0x80 else 0)

    def _ws_end(self):
        op = self.wop
        if op == 1:
            self.texts.append(bytes(self.ctl).decode("utf-8", "replace"))
        elif op == 8:
            code = struct.unpack("!H", self.ctl[:2])[0] if len(self.ctl) >= 2 else None
            try:
                self.sock.send(_mask_frame(8, bytes(self.ctl[:2])))
            except OSError:
                pass
            self.ended = True
            self.fail("closed by server: %s %s" % (code, " ".join(self.texts)[:200]))
        elif op == 9:
            try:
                self.sock.send(_mask_frame(10, bytes(self.ctl)))
            except OSError:
                pass

    def close(self):
        super().close()
        if self.proc is not None:
            stop_proc(self.proc)
            self.proc = None

    # figures -----------------------------------------------------------------

    def join_s(self):
        """Connect (or, for a peer it started, the start of the peer) -> first key picture."""
        if self.flv.first_key_mono is None or self.t_connect is None:
            return None
        return self.flv.first_key_mono - self.t_connect


def stop_proc(p, timeout=3.0):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=timeout)


# ---------------------------------------------------------------- the floor

def gst_depay(rtsp, warmup=2.0, window=10.0, width=1280):
    """GStreamer's RTSP client and H.264 depayloader (rtspsrc latency=0 ! rtph264depay, whole
    access units, which it ends on the RTP marker bit): the arrival time of each picture at an
    appsink minus its stamp is the floor of a server that copies pictures. Decoding happens
    after the window. Call it in a child process (flv.py gstdepay) so its CPU is its own."""
    aus = []
    cpu0, t0, t1, cpu1 = client.gst_pull(
        "rtspsrc location=%s protocols=tcp latency=0 ! rtph264depay "
        "! video/x-h264,stream-format=byte-stream,alignment=au "
        "! appsink name=sink emit-signals=false sync=false max-buffers=100" % rtsp,
        warmup, window, lambda recv, sample, data: aus.append((recv, bytes(data))))
    # the decoder starts at an IDR picture: drop what comes before
    while aus and not _annexb_key(aus[0][1]):
        aus.pop(0)
    stamps = _decode_annexb([a[1] for a in aus], width) if aus else []
    lat = [(a[0] - s) / 1000.0 for a, s in zip(aus, stamps or [])
           if s and t0 is not None and t1 is not None and t0 <= a[0] < t1]
    wall = ((t1 or 0) - (t0 or 0)) / 1e6
    return {"wall_s": wall, "pictures": len(aus), "stamps": len([s for s in stamps or [] if s]),
            "matched": stamps is not None and len(stamps) == len(aus),
            "cpu_s_per_s": ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / wall
            if cpu0 and wall > 0 else None,
            "lat_ms": lat}


def _annexb_key(au):
    i = 0
    while True:
        i = au.find(b"\0\0\1", i)
        if i < 0 or i + 3 >= len(au):
            return False
        t = au[i + 3] & 0x1F
        if t == 5:
            return True
        if t == 1:
            return False
        i += 3


def _decode_annexb(aus, width):
    strip = barcode.strip_height(width)
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "h264", "-i", "-",
           "-fps_mode", "passthrough", "-vf", "crop=iw:%d:0:0" % strip, "-pix_fmt", "gray",
           "-f", "rawvideo", "-"]
    out = subprocess.run(cmd, input=b"".join(aus), capture_output=True, timeout=120).stdout
    import numpy as np
    fsz = width * strip
    n = len(out) // fsz
    if n != len(aus):
        return None
    return [barcode.read_array(np.frombuffer(out, dtype=np.uint8, count=fsz, offset=k * fsz)
                               .reshape(strip, width)) for k in range(n)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["gstdepay"])
    ap.add_argument("--rtsp", required=True)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--width", type=int, default=1280, help="the camera's picture width")
    a = ap.parse_args()
    json.dump(gst_depay(a.rtsp, a.warmup, a.window, a.width), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""rtmp_pub: the RTMP benchmark's publisher, which logs when each video message was sent.

A small RTMP client (simple handshake, AMF0 connect / releaseStream / FCPublish / createStream /
publish, @setDataFrame onMetaData, one chunk stream per kind of message, chunk size 4096 as
ffmpeg and OBS use) that publishes H.264 as FLV tag bodies, from one of two sources:

  file   a pre-encoded FLV file (H.264, GOP-aligned), looped from its first to its last key
         picture, paced by the tag timestamps as `ffmpeg -re` paces: the publisher decodes
         nothing, so its CPU is small and the same whatever server it feeds;
  rtsp   a live relay of an RTSP camera: GStreamer `rtspsrc latency=0 ! rtph264depay` with
         stream-format=avc, alignment=au (length-prefixed access units and the avcC, i.e.
         FLV's format), each access unit published the moment the depayloader hands it out.

For every video picture message it writes one line to --log once the message's last byte was
handed to the kernel (on loopback: the time the server can read it, "packet arrival"):
    SEND_US TS_MS KEY CRC LEN
KEY 1 for a key picture; CRC, LEN: CRC-32 (first 4096 bytes) and length of the picture's first
slice NAL unit, as bench/flv.py's picture_key, so a viewer's tag is matched to its send time
whatever the server does to the tag's header. With --dump it also writes what it sent as an FLV
file (the video tags), so the pictures' stamps can be decoded afterwards (bench/flv.py).

  rtmp_pub.py --url rtmp://127.0.0.1:1935/live/KEY --file in.flv --log sent.txt
  rtmp_pub.py --url rtmp://127.0.0.1:1935/live/KEY --rtsp rtsp://... --log sent.txt --dump sent.flv

Prints `PUBLISHING` on stdout once the server answered NetStream.Publish.Start; an RTMP refusal
or error is printed on stderr and the exit status is 1. SIGTERM/SIGINT: flushes and exits 0.
"""

import argparse
import os
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
import zlib

CHUNK = 4096
CS_CTRL, CS_CMD, CS_DATA, CS_VIDEO = 2, 3, 5, 6
VIDEO, DATA_AMF0, CMD_AMF0 = 9, 18, 20


def now_us():
    return time.time_ns() // 1000


# ---------------------------------------------------------------- AMF0

def amf_enc(v):
    if v is None:
        return b"\x05"
    if isinstance(v, bool):
        return b"\x01" + (b"\x01" if v else b"\x00")
    if isinstance(v, (int, float)):
        return b"\x00" + struct.pack("!d", float(v))
    if isinstance(v, str):
        b = v.encode()
        return b"\x02" + struct.pack("!H", len(b)) + b
    if isinstance(v, dict):
        out = b"\x03"
        for k, x in v.items():
            kb = k.encode()
            out += struct.pack("!H", len(kb)) + kb + amf_enc(x)
        return out + b"\x00\x00\x09"
    raise TypeError(type(v))


def amf_ecma(d):
    out = b"\x08" + struct.pack("!I", len(d))
    for k, x in d.items():
        kb = k.encode()
        out += struct.pack("!H", len(kb)) + kb + amf_enc(x)
    return out + b"\x00\x00\x09"


def amf_dec(b, i=0):
    """(value, next offset) of the AMF0 value at @i."""
    t = b[i]
    i += 1
    if t == 0:
        return struct.unpack("!d", b[i:i + 8])[0], i + 8
    if t == 1:
        return b[i] != 0, i + 1
    if t == 2:
        n = struct.unpack("!H", b[i:i + 2])[0]
        return b[i + 2:i + 2 + n].decode("utf-8", "replace"), i + 2 + n
    if t == 12:
        n = struct.unpack("!I", b[i:i + 4])[0]
        return b[i + 4:i + 4 + n].decode("utf-8", "replace"), i + 4 + n
    if t in (3, 8):
        if t == 8:
            i += 4
        d = {}
        while True:
            n = struct.unpack("!H", b[i:i + 2])[0]
            i += 2
            if n == 0 and b[i] == 9:
                return d, i + 1
            k = b[i:i + n].decode("utf-8", "replace")
            d[k], i = amf_dec(b, i + n)
    if t in (5, 6):
        return None, i
    if t == 10:
        n = struct.unpack("!I", b[i:i + 4])[0]
        i += 4
        arr = []
        for _ in range(n):
            x, i = amf_dec(b, i)
            arr.append(x)
        return arr, i
    raise ValueError("AMF0 type %d" % t)


def amf_all(b):
    out, i = [], 0
    while i < len(b):
        v, i = amf_dec(b, i)
        out.append(v)
    return out


# ---------------------------------------------------------------- RTMP

class RtmpError(Exception):
    pass


class Rtmp:
    """The publishing side of one RTMP connection (blocking socket)."""

    def __init__(self, url, timeout=10.0):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "rtmp":
            raise RtmpError("not an rtmp:// URL")
        parts = u.path.lstrip("/").split("/", 1)
        if len(parts) != 2:
            raise RtmpError("URL needs /APP/KEY")
        self.app, self.key = parts
        if u.query:
            self.key += "?" + u.query
        self.tc_url = "rtmp://%s/%s" % (u.netloc, self.app)
        self.sock = socket.create_connection((u.hostname, u.port or 1935), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rbuf = bytearray()
        self.in_chunk = 128
        self.in_streams = {}     # csid -> [ts, len, type, sid, data, ext]
        self.stream_id = 0
        self.txn = 0

    # -- raw I/O
    def _read(self, n, deadline):
        while len(self.rbuf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RtmpError("timeout waiting for the server")
            self.sock.settimeout(left)
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                raise RtmpError("timeout waiting for the server")
            if not d:
                raise RtmpError("connection closed by the server")
            self.rbuf += d
        out = bytes(self.rbuf[:n])
        del self.rbuf[:n]
        return out

    def handshake(self, deadline):
        c1 = struct.pack("!II", 0, 0) + os.urandom(1528)
        self.sock.sendall(b"\x03" + c1)
        s0 = self._read(1, deadline)
        if s0 != b"\x03":
            raise RtmpError("S0 version %r" % s0)
        s1 = self._read(1536, deadline)
        self._read(1536, deadline)           # S2 (echo of C1; not checked)
        self.sock.sendall(s1)                 # C2 echoes S1

    # -- messages out
    @staticmethod
    def chunks(csid, ts, mtype, sid, body):
        """One message in chunks of CHUNK bytes: a type-0 header, type-3 continuations."""
        ext = ts >= 0xFFFFFF
        hdr = bytes([csid & 0x3F]) + struct.pack("!I", min(ts, 0xFFFFFF))[1:] + \
            struct.pack("!I", len(body))[1:] + bytes([mtype]) + struct.pack("<I", sid)
        if ext:
            hdr += struct.pack("!I", ts & 0xFFFFFFFF)
        c3 = bytes([0xC0 | (csid & 0x3F)]) + (struct.pack("!I", ts & 0xFFFFFFFF) if ext
                                              else b"")
        parts = [hdr, body[:CHUNK]]
        for i in range(CHUNK, len(body), CHUNK):
            parts += [c3, body[i:i + CHUNK]]
        return b"".join(parts)

    def send(self, csid, ts, mtype, sid, body):
        self.sock.sendall(self.chunks(csid, ts, mtype, sid, body))

    def command(self, name, *args, sid=0, txn=None):
        if txn is None:
            self.txn += 1
            txn = self.txn
        body = amf_enc(name) + amf_enc(txn) + b"".join(amf_enc(a) for a in args)
        self.send(CS_CMD, 0, CMD_AMF0, sid, body)
        return txn

    # -- messages in
    def read_message(self, deadline):
        """(type, stream id, body) of the next whole message; handles Set Chunk Size."""
        while True:
            b0 = self._read(1, deadline)[0]
            fmt, csid = b0 >> 6, b0 & 0x3F
            if csid == 0:
                csid = 64 + self._read(1, deadline)[0]
            elif csid == 1:
                x = self._read(2, deadline)
                csid = 64 + x[0] + 256 * x[1]
            st = self.in_streams.setdefault(csid, [0, 0, 0, 0, bytearray(), False])
            if fmt < 3:
                h = self._read((11, 7, 3)[fmt], deadline)
                t = int.from_bytes(h[0:3], "big")
                if fmt <= 1:
                    st[1] = int.from_bytes(h[3:6], "big")
                    st[2] = h[6]
                if fmt == 0:
                    st[3] = struct.unpack("<I", h[7:11])[0]
                st[5] = t == 0xFFFFFF
                if st[5]:
                    t = struct.unpack("!I", self._read(4, deadline))[0]
                st[0] = t if fmt == 0 else st[0] + t
            elif st[5]:
                self._read(4, deadline)
            take = min(self.in_chunk, st[1] - len(st[4]))
            st[4] += self._read(take, deadline)
            if len(st[4]) < st[1]:
                continue
            body, st[4] = bytes(st[4]), bytearray()
            if st[2] == 1:
                self.in_chunk = struct.unpack("!I", body[:4])[0] & 0x7FFFFFFF
                continue
            return st[2], st[3], body

    def wait_for(self, deadline, want):
        """Read messages until want(values) of an AMF0 command returns something."""
        while True:
            mtype, _, body = self.read_message(deadline)
            if mtype == CMD_AMF0 or mtype == 17:
                vals = amf_all(body[1:] if mtype == 17 else body)
                r = want(vals)
                if r is not None:
                    return r

    # -- the publish sequence
    def publish(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        self.handshake(deadline)
        self.send(CS_CTRL, 0, 1, 0, struct.pack("!I", CHUNK))      # Set Chunk Size
        t = self.command("connect", {"app": self.app, "type": "nonprivate",
                                     "flashVer": "FMLE/3.0 (compatible; camstream-bench)",
                                     "tcUrl": self.tc_url})

        def result_of(txn):
            def f(v):
                if len(v) >= 2 and v[1] == txn and v[0] in ("_result", "_error"):
                    if v[0] == "_error":
                        info = v[3] if len(v) > 3 and isinstance(v[3], dict) else {}
                        raise RtmpError("%s: %s %s" % (v[0], info.get("code"),
                                                       info.get("description")))
                    return v
                return None
            return f
        self.wait_for(deadline, result_of(t))
        key = self.key
        self.command("releaseStream", None, key)
        self.command("FCPublish", None, key)
        r = self.wait_for(deadline, result_of(self.command("createStream", None)))
        self.stream_id = int(r[3]) if len(r) > 3 and isinstance(r[3], float) else 1
        self.command("publish", None, key, "live", sid=self.stream_id, txn=0)

        def status(v):
            if v and v[0] == "onStatus":
                info = next((x for x in v[1:] if isinstance(x, dict)), {})
                code = info.get("code", "")
                if code == "NetStream.Publish.Start":
                    return code
                if info.get("level") == "error" or "Failed" in code or "BadName" in code:
                    raise RtmpError("%s %s" % (code, info.get("description", "")))
            return None
        self.wait_for(deadline, status)
        self.sock.settimeout(None)     # publishing: sends block as long as the server lets them

    def drain(self):
        """Discard what the server sent meanwhile (acknowledgements), without blocking."""
        self.sock.setblocking(False)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    raise RtmpError("connection closed by the server")
        except (BlockingIOError, InterruptedError):
            pass
        finally:
            self.sock.setblocking(True)
            self.sock.settimeout(None)


# ---------------------------------------------------------------- FLV and H.264

def read_flv(path):
    """[(type, ts_ms, body)] of an FLV file's tags."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:3] != b"FLV":
        raise ValueError("%s: not FLV" % path)
    i = struct.unpack("!I", data[5:9])[0] + 4
    out = []
    while i + 11 <= len(data):
        t = data[i] & 0x1F
        n = int.from_bytes(data[i + 1:i + 4], "big")
        ts = int.from_bytes(data[i + 4:i + 7], "big") | (data[i + 7] << 24)
        if i + 11 + n > len(data):
            break
        out.append((t, ts, data[i + 11:i + 11 + n]))
        i += 11 + n + 4
    return out


def picture_key(body, nls=4):
    """(CRC-32, length) of the first slice NAL unit of a picture tag body (bench/flv.py)."""
    i, n = 5, len(body)
    while i + nls <= n:
        ln = int.from_bytes(body[i:i + nls], "big")
        i += nls
        if ln <= 0 or i + ln > n:
            break
        if body[i] & 0x1F in (1, 5):
            return zlib.crc32(body[i:i + min(ln, 4096)]), ln
        i += ln
    return None


def file_source(path):
    """(avcC sequence header body, [(ts_ms, key, body)] of one loop, loop duration ms)."""
    seq, pics = None, []
    for t, ts, body in read_flv(path):
        if t != VIDEO or len(body) < 5 or (body[0] & 0x0F) != 7:
            continue
        if body[1] == 0:
            seq = seq or body
        elif body[1] == 1:
            pics.append((ts, (body[0] >> 4) == 1, body))
    keys = [i for i, p in enumerate(pics) if p[1]]
    if seq is None or len(keys) < 2:
        raise ValueError("%s: needs an AVC sequence header and two key pictures" % path)
    loop = pics[keys[0]:keys[-1]]
    dur = pics[keys[-1]][0] - pics[keys[0]][0]
    t0 = loop[0][0]
    return seq, [(ts - t0, k, b) for ts, k, b in loop], dur


def nls_of(avcc):
    return (avcc[4] & 3) + 1 if len(avcc) > 4 else 4


# ---------------------------------------------------------------- the publisher

class Publisher:
    def __init__(self, args):
        self.a = args
        self.rtmp = Rtmp(args.url)
        self.log = open(args.log, "w", buffering=1) if args.log else None
        self.dump = open(args.dump, "wb") if args.dump else None
        if self.dump:
            self.dump.write(b"FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x00")
        self.nls = 4
        self.sent = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def start(self, width, height, fps):
        self.rtmp.publish()
        meta = amf_enc("@setDataFrame") + amf_enc("onMetaData") + amf_ecma(
            {"width": float(width), "height": float(height), "framerate": float(fps),
             "videocodecid": 7.0, "encoder": "camstream-bench"})
        self.rtmp.send(CS_DATA, 0, DATA_AMF0, self.rtmp.stream_id, meta)
        print("PUBLISHING", flush=True)

    def video(self, ts, body, key=False, seq=False):
        with self.lock:
            self.rtmp.send(CS_VIDEO, ts, VIDEO, self.rtmp.stream_id, body)
            t = now_us()
            if seq:
                self.nls = nls_of(body[5:])
            elif self.log:
                k = picture_key(body, self.nls)
                self.log.write("%d %d %d %d %d\n" % (t, ts, 1 if key else 0,
                                                    k[0] if k else 0, k[1] if k else 0))
            if self.dump:
                n = len(body)
                self.dump.write(bytes([VIDEO]) + n.to_bytes(3, "big") +
                                (ts & 0xFFFFFF).to_bytes(3, "big") + bytes([(ts >> 24) & 0xFF])
                                + b"\0\0\0" + body + (n + 11).to_bytes(4, "big"))
            self.sent += 1
            if self.sent % 50 == 0:
                self.rtmp.drain()

    def run_file(self):
        seq, loop, dur = file_source(self.a.file)
        self.start(self.a.width, self.a.height, self.a.fps)
        self.video(0, seq, seq=True)
        t_start = time.monotonic()
        base = 0
        while not self.stop.is_set():
            for ts, key, body in loop:
                due = t_start + (base + ts) / 1000.0
                d = due - time.monotonic()
                if d > 0 and self.stop.wait(d):
                    return
                self.video(base + ts, body, key=key)
            base += dur
            if self.a.once:
                return

    def run_rtsp(self):
        import gi
        gi.require_version("Gst", "1.0")
        from gi.repository import Gst
        Gst.init(None)
        pipe = Gst.parse_launch(
            "rtspsrc location=%s protocols=tcp latency=0 ! rtph264depay "
            "! video/x-h264,stream-format=avc,alignment=au "
            "! appsink name=sink emit-signals=false sync=false max-buffers=100" % self.a.rtsp)
        sink = pipe.get_by_name("sink")
        pipe.set_state(Gst.State.PLAYING)
        avcc, pts0, started = None, None, False
        deadline = time.monotonic() + 15
        try:
            while not self.stop.is_set():
                sample = sink.emit("try-pull-sample", int(0.2 * Gst.SECOND))
                if sample is None:
                    if not started and time.monotonic() > deadline:
                        raise RtmpError("no picture from %s within 15 s" % self.a.rtsp)
                    continue
                buf = sample.get_buffer()
                key = not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)
                if not started:
                    if not key:
                        continue
                    st = sample.get_caps().get_structure(0)
                    ok, cd = st.get_value("codec_data").map(Gst.MapFlags.READ) \
                        if st.has_field("codec_data") else (False, None)
                    if not ok:
                        continue
                    avcc = bytes(cd.data)
                    w = st.get_value("width") if st.has_field("width") else None
                    h = st.get_value("height") if st.has_field("height") else None
                    self.start(w or self.a.width, h or self.a.height, self.a.fps)
                    self.video(0, b"\x17\x00\x00\x00\x00" + avcc, seq=True)
                    pts0 = buf.pts
                    started = True
                ok, info = buf.map(Gst.MapFlags.READ)
                if not ok:
                    continue
                try:
                    data = bytes(info.data)
                finally:
                    buf.unmap(info)
                ts = int((buf.pts - pts0) // 1000000) if buf.pts != Gst.CLOCK_TIME_NONE \
                    else 0
                self.video(ts, (b"\x17\x01" if key else b"\x27\x01") + b"\0\0\0" + data,
                           key=key)
        finally:
            pipe.set_state(Gst.State.NULL)

    def close(self):
        for f in (self.log, self.dump):
            if f:
                f.close()
        try:
            self.rtmp.sock.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="rtmp://HOST:PORT/APP/KEY")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--file", help="pre-encoded FLV (H.264) to loop")
    src.add_argument("--rtsp", help="RTSP camera to relay")
    ap.add_argument("--log", help="one line per picture sent: SEND_US TS KEY CRC LEN")
    ap.add_argument("--dump", help="write the video tags sent as an FLV file")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--fps", type=float, default=25)
    ap.add_argument("--once", action="store_true", help="play the file once, then unpublish")
    a = ap.parse_args()
    try:
        p = Publisher(a)
    except (OSError, RtmpError) as e:
        print("rtmp_pub: %s" % e, file=sys.stderr, flush=True)
        return 1

    def bye(*_):
        p.stop.set()
    signal.signal(signal.SIGTERM, bye)
    signal.signal(signal.SIGINT, bye)
    try:
        if a.file:
            p.run_file()
        else:
            p.run_rtsp()
    except (OSError, RtmpError, ValueError) as e:
        if not p.stop.is_set():
            print("rtmp_pub: %s" % e, file=sys.stderr, flush=True)
            p.close()
            return 1
    finally:
        p.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""rtmp_publish: a small RTMP publisher of our own for camstream's ingest tests (stdlib only).

What real publishers do, and what they should not:
- Publisher: TCP connect, the simple handshake (C0 C1 / S0 S1 S2 / C2, S2 checked to echo C1),
  connect / releaseStream / FCPublish / createStream / publish (AMF0), then media messages.
  Every message the server sends is read by a background thread: commands are decoded (AMF0)
  and kept, so a test can wait for the `_result` / `_error` of a transaction or for an
  onStatus code (NetStream.Publish.Start, .BadName, .Denied, ...); a Ping request is answered;
  the end of the connection (EOF or reset) is recorded with its time.
- Chunking: any chunk size (Set Chunk Size is sent when it is not 128); the headers real
  publishers use (type 0 for the first message of a chunk stream, then types 1, 2 and 3 as
  the fields allow, or type 0 always); extended timestamps when a timestamp or delta is
  >= 0xFFFFFF, repeated on type-3 continuation chunks (as Adobe's and FFmpeg's peers do) or
  not (`ext_on_type3=False`, as some others do); audio and video messages interleaved chunk
  by chunk on their chunk streams; aggregate messages (type 22).
- Media: FLV tag bodies, from an FLV file (read_flv: ffmpeg -f flv makes one) or built here:
  Enhanced RTMP H.265 (hevc_from_annexb: an Annex B .hevc, as `ffmpeg -c:v libx265 -f hevc`
  writes it, becomes an hvcC SequenceStart and CodedFrames bodies).
- Hostile modes: half a handshake, garbage, Set Chunk Size with the top bit set, a 16 MB
  message length, messages started on too many chunk streams, a publisher that stalls.

Every wait has a deadline (RtmpTimeout when it passes). Used as a library by
test_rtmp_ingest.py; run alone it publishes an FLV file or an H.265 stream:
    /usr/bin/python3 rtmp_publish.py rtmp://127.0.0.1:1935/live/KEY file.flv [--loop N]
    /usr/bin/python3 rtmp_publish.py rtmp://127.0.0.1:1935/live/KEY file.hevc --fps 25
"""

import argparse
import os
import random
import select
import socket
import struct
import sys
import threading
import time

from flvtags import BitReader, unescape_rbsp

# message types
MSG_SET_CHUNK_SIZE, MSG_ABORT, MSG_ACK, MSG_USER_CONTROL, MSG_WINDOW_ACK, MSG_PEER_BW = \
    1, 2, 3, 4, 5, 6
MSG_AUDIO, MSG_VIDEO, MSG_DATA_AMF3, MSG_COMMAND_AMF3, MSG_DATA_AMF0, MSG_COMMAND_AMF0, \
    MSG_AGGREGATE = 8, 9, 15, 17, 18, 20, 22

# chunk streams, as FFmpeg uses them
CS_CONTROL, CS_COMMAND, CS_AUDIO, CS_VIDEO, CS_DATA = 2, 3, 4, 6, 5

HANDSHAKE_SIZE = 1536
EXT = 0xFFFFFF


class RtmpError(AssertionError):
    """The peer did something the publisher cannot go on with."""


class RtmpTimeout(AssertionError):
    """A wait passed its deadline."""


class Closed(RtmpError):
    """The server closed (or reset) the connection."""


# ---- AMF0 -----------------------------------------------------------------------------------

class Undefined:
    def __repr__(self):
        return "undefined"


UNDEFINED = Undefined()


class EcmaArray(dict):
    """A dict written as an AMF0 ECMA array (onMetaData's usual form)."""


def amf0(*values):
    """AMF0 bytes of @values: float/int (number), bool, str, None (null), UNDEFINED, dict
    (object), EcmaArray, list (strict array)."""
    out = bytearray()
    for v in values:
        _amf0_value(out, v)
    return bytes(out)


def _amf0_string(out, s):
    b = s.encode("utf-8")
    out += struct.pack(">H", len(b)) + b


def _amf0_pairs(out, d):
    for k, v in d.items():
        _amf0_string(out, k)
        _amf0_value(out, v)
    out += b"\x00\x00\x09"


def _amf0_value(out, v):
    if isinstance(v, bool):
        out += bytes([1, 1 if v else 0])
    elif isinstance(v, (int, float)):
        out += b"\x00" + struct.pack(">d", float(v))
    elif isinstance(v, str):
        b = v.encode("utf-8")
        if len(b) > 0xFFFF:
            out += b"\x0c" + struct.pack(">I", len(b)) + b
        else:
            out += b"\x02"
            _amf0_string(out, v)
    elif v is None:
        out += b"\x05"
    elif v is UNDEFINED:
        out += b"\x06"
    elif isinstance(v, EcmaArray):
        out += b"\x08" + struct.pack(">I", len(v))
        _amf0_pairs(out, v)
    elif isinstance(v, dict):
        out += b"\x03"
        _amf0_pairs(out, v)
    elif isinstance(v, (list, tuple)):
        out += b"\x0a" + struct.pack(">I", len(v))
        for x in v:
            _amf0_value(out, x)
    else:
        raise TypeError("no AMF0 form for %r" % (v,))


def amf0_decode(data):
    """The list of AMF0 values in @data (RtmpError when malformed)."""
    pos = 0
    out = []

    def take(n):
        nonlocal pos
        if pos + n > len(data):
            raise RtmpError("AMF0 cut at byte %d of %d" % (pos, len(data)))
        b = data[pos:pos + n]
        pos += n
        return b

    def string(long=False):
        n = struct.unpack(">I" if long else ">H", take(4 if long else 2))[0]
        return take(n).decode("utf-8", "replace")

    def pairs():
        d = {}
        while True:
            k = string()
            if k == "" and data[pos:pos + 1] == b"\x09":
                take(1)
                return d
            d[k] = value()

    def value():
        m = take(1)[0]
        if m == 0:
            return struct.unpack(">d", take(8))[0]
        if m == 1:
            return take(1)[0] != 0
        if m == 2:
            return string()
        if m == 3:
            return pairs()
        if m == 5:
            return None
        if m == 6:
            return UNDEFINED
        if m == 8:
            take(4)
            return EcmaArray(pairs())
        if m == 10:
            return [value() for _ in range(struct.unpack(">I", take(4))[0])]
        if m == 11:
            ms = struct.unpack(">d", take(8))[0]
            take(2)
            return ms
        if m == 12:
            return string(long=True)
        raise RtmpError("AMF0 marker %d at byte %d" % (m, pos - 1))

    while pos < len(data):
        out.append(value())
    return out


# ---- URLs -----------------------------------------------------------------------------------

def split_url(url):
    """rtmp://host[:port]/app[?query]/name[?query] -> (host, port, app, name, tcUrl).
    The app is the first path segment with its query, as OBS puts a token there
    (rtmp://h/live?token=T/KEY); the name is the rest (its own query kept)."""
    if not url.startswith("rtmp://"):
        raise ValueError("not an rtmp:// URL: %r" % url)
    rest = url[len("rtmp://"):]
    authority, _, path = rest.partition("/")
    host, _, port = authority.rpartition(":") if ":" in authority else (authority, "", "")
    port = int(port) if port else 1935
    # the app ends at the first "/" after it (a query in the app may hold no "/")
    app, _, name = path.partition("/")
    tc_url = "rtmp://%s/%s" % (authority, app)
    return host, port, app, name, tc_url


# ---- chunking -------------------------------------------------------------------------------

def basic_header(fmt, csid):
    if csid < 2 or csid > 65599:
        raise ValueError("chunk stream id %d" % csid)
    if csid < 64:
        return bytes([(fmt << 6) | csid])
    if csid < 320:
        return bytes([fmt << 6, csid - 64])
    return bytes([(fmt << 6) | 1, (csid - 64) & 0xFF, (csid - 64) >> 8])


class Message:
    def __init__(self, type_, payload, timestamp=0, stream_id=0, csid=CS_COMMAND):
        self.type, self.payload, self.timestamp = type_, bytes(payload), timestamp
        self.stream_id, self.csid = stream_id, csid

    def __repr__(self):
        return "<msg type %d cs %d @%d, %d B>" % (self.type, self.csid, self.timestamp,
                                                   len(self.payload))


class ChunkWriter:
    """Messages -> chunks. @compact: headers of type 1/2/3 where the previous message of the
    chunk stream allows (as FFmpeg and OBS write them); otherwise type 0 for every message.
    @ext_on_type3: type-3 continuation chunks repeat the extended timestamp."""

    def __init__(self, chunk_size=128, compact=True, ext_on_type3=True):
        self.chunk_size = chunk_size
        self.compact = compact
        self.ext_on_type3 = ext_on_type3
        self.last = {}   # csid -> (timestamp, length, type, stream_id, delta)

    def _first_header(self, m):
        prev = self.last.get(m.csid)
        length = len(m.payload)
        fmt, field = 0, m.timestamp & 0xFFFFFFFF
        if self.compact and prev is not None and m.timestamp >= prev[0] \
                and m.stream_id == prev[3]:
            delta = (m.timestamp - prev[0]) & 0xFFFFFFFF
            field = delta
            if length == prev[1] and m.type == prev[2]:
                fmt = 3 if delta == prev[4] and delta < EXT else 2
            else:
                fmt = 1
        else:
            delta = None
        self.last[m.csid] = (m.timestamp, length, m.type, m.stream_id,
                             delta if delta is not None else m.timestamp)
        ts3 = min(field, EXT)
        out = bytearray(basic_header(fmt, m.csid))
        if fmt <= 2:
            out += ts3.to_bytes(3, "big")
        if fmt <= 1:
            out += length.to_bytes(3, "big") + bytes([m.type])
        if fmt == 0:
            out += struct.pack("<I", m.stream_id)
        ext = field >= EXT
        if ext:
            out += struct.pack(">I", field)
        return bytes(out), ext, field

    def chunks(self, m):
        """The chunks of @m, as a list of bytes (one item per chunk)."""
        head, ext, field = self._first_header(m)
        out = []
        p = m.payload
        first = p[:self.chunk_size]
        out.append(head + first)
        pos = len(first)
        while pos < len(p):
            h = basic_header(3, m.csid)
            if ext and self.ext_on_type3:
                h += struct.pack(">I", field)
            out.append(h + p[pos:pos + self.chunk_size])
            pos += self.chunk_size
        return out

    def encode(self, m):
        return b"".join(self.chunks(m))


class ChunkReader:
    """Chunks from the server -> messages (the server's side of the protocol, read loosely:
    this is a test client, the server is what is under test)."""

    def __init__(self):
        self.chunk_size = 128
        self.buf = bytearray()
        self.streams = {}   # csid -> dict(ts, length, type, sid, delta, ext, data)

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            m = self._one()
            if m is None:
                return out
            if m is not True:
                out.append(m)

    def _one(self):
        b = self.buf
        if not b:
            return None
        fmt, csid, pos = b[0] >> 6, b[0] & 0x3F, 1
        if csid == 0:
            if len(b) < 2:
                return None
            csid, pos = 64 + b[1], 2
        elif csid == 1:
            if len(b) < 3:
                return None
            csid, pos = 64 + b[1] + (b[2] << 8), 3
        need = {0: 11, 1: 7, 2: 3, 3: 0}[fmt]
        if len(b) < pos + need:
            return None
        st = self.streams.setdefault(csid, dict(ts=0, length=0, type=0, sid=0, delta=0,
                                                ext=False, data=bytearray()))
        field = None
        length, type_, sid = st["length"], st["type"], st["sid"]
        if fmt <= 2:
            field = int.from_bytes(b[pos:pos + 3], "big")
        if fmt <= 1:
            length = int.from_bytes(b[pos + 3:pos + 6], "big")
            type_ = b[pos + 6]
        if fmt == 0:
            sid = struct.unpack("<I", b[pos + 7:pos + 11])[0]
        pos += need
        ext = st["ext"] if fmt == 3 else field == EXT
        if ext:
            if len(b) < pos + 4:
                return None
            if field == EXT:
                field = struct.unpack(">I", b[pos:pos + 4])[0]
            pos += 4
        starting = not st["data"]
        if fmt != 3 or starting:
            size = min(self.chunk_size, length)
        else:
            size = min(self.chunk_size, length - len(st["data"]))
        if len(b) < pos + size:
            return None
        # the chunk is whole: commit
        if fmt != 3 or starting:
            if fmt == 0:
                st["ts"] = field
                st["delta"] = 0
            elif fmt in (1, 2):
                st["delta"] = field
                st["ts"] = (st["ts"] + field) & 0xFFFFFFFF
            elif starting:
                st["ts"] = (st["ts"] + st["delta"]) & 0xFFFFFFFF
            st["length"], st["type"], st["sid"], st["ext"] = length, type_, sid, ext
            st["data"] = bytearray()
        st["data"] += b[pos:pos + size]
        del b[:pos + size]
        if len(st["data"]) < st["length"]:
            return True
        m = Message(st["type"], bytes(st["data"]), st["ts"], st["sid"], csid)
        st["data"] = bytearray()
        if m.type == MSG_SET_CHUNK_SIZE and len(m.payload) >= 4:
            self.chunk_size = struct.unpack(">I", m.payload[:4])[0] & 0x7FFFFFFF
        return m


# ---- FLV files and H.265 --------------------------------------------------------------------

class FlvTag:
    def __init__(self, type_, timestamp, body):
        self.type, self.timestamp, self.body = type_, timestamp, bytes(body)

    @property
    def is_video(self):
        return self.type == MSG_VIDEO

    @property
    def is_audio(self):
        return self.type == MSG_AUDIO

    @property
    def is_config(self):
        """A sequence header: AVC/HEVC packet type 0, Enhanced SequenceStart, AAC config."""
        b = self.body
        if self.type == MSG_VIDEO and b:
            return (b[0] & 0x0F) == 0 if b[0] & 0x80 else len(b) > 1 and b[1] == 0
        if self.type == MSG_AUDIO and len(b) > 1:
            return b[0] >> 4 == 10 and b[1] == 0
        return False

    @property
    def is_key(self):
        return self.type == MSG_VIDEO and bool(self.body) and (self.body[0] >> 4) & 7 == 1

    @property
    def is_picture(self):
        return self.type == MSG_VIDEO and not self.is_config and len(self.body) > 5

    def nal_payload(self):
        """A picture's length-prefixed NAL units (after the 5-byte legacy prefix, or the
        Enhanced one: 5 bytes, plus the SI24 composition time of CodedFrames)."""
        b = self.body
        if b[0] & 0x80 and (b[0] & 0x0F) == 1:
            return b[8:]
        return b[5:]

    def __repr__(self):
        return "<flv %d @%d %d B>" % (self.type, self.timestamp, len(self.body))


def read_flv(path):
    """The tags of an FLV file: a list of FlvTag (script tags included, type 18)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:3] != b"FLV":
        raise ValueError("%s is not FLV" % path)
    pos = struct.unpack(">I", data[5:9])[0] + 4
    tags = []
    while pos + 11 <= len(data):
        type_ = data[pos] & 0x1F
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        ts = int.from_bytes(data[pos + 4:pos + 7], "big") | (data[pos + 7] << 24)
        body = data[pos + 11:pos + 11 + size]
        if len(body) < size:
            break
        tags.append(FlvTag(type_, ts, body))
        pos += 11 + size + 4
    return tags


def write_flv(path, tags, audio=None, video=True):
    """An FLV file of @tags (what a publisher sent, for tools that read files)."""
    has_audio = any(t.is_audio for t in tags) if audio is None else audio
    with open(path, "wb") as f:
        f.write(b"FLV\x01" + bytes([(4 if has_audio else 0) | (1 if video else 0)])
                + struct.pack(">II", 9, 0))
        for t in tags:
            f.write(bytes([t.type]) + len(t.body).to_bytes(3, "big")
                    + (t.timestamp & 0xFFFFFF).to_bytes(3, "big")
                    + bytes([(t.timestamp >> 24) & 0xFF]) + b"\x00\x00\x00" + t.body
                    + struct.pack(">I", 11 + len(t.body)))


def _annexb_nals(data):
    """The NAL units of an Annex B byte stream (start codes of 3 or 4 bytes)."""
    nals, i, start = [], 0, None
    n = len(data)
    while i + 3 <= n:
        if data[i] == 0 and data[i + 1] == 0 and data[i + 2] == 1:
            if start is not None:
                end = i
                while end > start and data[end - 1] == 0:
                    end -= 1
                nals.append(data[start:end])
            i += 3
            start = i
        else:
            i += 1
    if start is not None and start < n:
        nals.append(data[start:])
    return [x for x in nals if x]


def hvcc(vps, sps, pps):
    """An HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1) of the parameter sets
    (lists of NAL units with their headers); the profile, tier, level, chroma format and bit
    depths come from the first SPS."""
    s = sps[0]
    r = BitReader(unescape_rbsp(s[2:]))
    r.u(4)
    max_sub_layers = r.u(3)
    temporal_id_nesting = r.u(1)
    ptl = r.pos
    profile_space, tier, profile_idc = r.u(2), r.u(1), r.u(5)
    compat = r.u(32)
    constraint = r.u(48)
    level = r.u(8)
    present = [(r.u(1), r.u(1)) for _ in range(max_sub_layers)]
    if max_sub_layers:
        r.u(2 * (8 - max_sub_layers))
    for pp, lp in present:
        r.u(88 if pp else 0)
        r.u(8 if lp else 0)
    del ptl
    r.ue()
    chroma = r.ue()
    if chroma == 3:
        r.u(1)
    r.ue()
    r.ue()
    if r.u(1):
        r.ue(), r.ue(), r.ue(), r.ue()
    depth_luma, depth_chroma = r.ue(), r.ue()
    out = bytearray([1, (profile_space << 6) | (tier << 5) | profile_idc])
    out += struct.pack(">I", compat) + constraint.to_bytes(6, "big") + bytes([level])
    out += struct.pack(">H", 0xF000)               # min_spatial_segmentation_idc 0
    out += bytes([0xFC, 0xFC | chroma, 0xF8 | depth_luma, 0xF8 | depth_chroma])
    out += struct.pack(">H", 0)                    # avgFrameRate
    out += bytes([(0 << 6) | ((max_sub_layers + 1) << 3) | (temporal_id_nesting << 2) | 3])
    arrays = [(32, vps), (33, sps), (34, pps)]
    out += bytes([len(arrays)])
    for kind, nals in arrays:
        out += bytes([0x80 | kind]) + struct.pack(">H", len(nals))
        for n in nals:
            out += struct.pack(">H", len(n)) + n
    return bytes(out)


def hevc_access_units(data):
    """Annex B H.265 -> a list of access units (lists of NAL units): an AU begins at a VCL
    NAL unit whose first_slice_segment_in_pic_flag is set, or at the parameter sets, SEI or
    AUD that come before such a unit."""
    aus, cur, cur_has_vcl = [], [], False
    for nal in _annexb_nals(data):
        t = (nal[0] >> 1) & 0x3F
        if t < 32:
            first_slice = len(nal) > 2 and bool(nal[2] & 0x80)
            if first_slice and cur_has_vcl:
                aus.append(cur)
                cur, cur_has_vcl = [], False
            cur.append(nal)
            cur_has_vcl = True
        else:
            if cur_has_vcl and t in (32, 33, 34, 35, 39):
                aus.append(cur)
                cur, cur_has_vcl = [], False
            cur.append(nal)
    if cur and cur_has_vcl:
        aus.append(cur)
    return aus


def hevc_tags(path, fps=25, legacy=False):
    """An Annex B .hevc file -> FLV video tags: an Enhanced RTMP SequenceStart (hvcC) at 0,
    then one CodedFrames tag per access unit (SI24 composition time 0: x265 at zerolatency or
    with -bf 0 has no reordering) at 1000/@fps ms steps; parameter sets stay in band too.
    @legacy: codec id 12 (the older, non-standard HEVC-in-FLV) instead of Enhanced RTMP."""
    with open(path, "rb") as f:
        data = f.read()
    aus = hevc_access_units(data)
    vps = sps = pps = None
    for au in aus:
        types = [(n[0] >> 1) & 0x3F for n in au]
        if 33 in types:
            vps = [n for n in au if (n[0] >> 1) & 0x3F == 32]
            sps = [n for n in au if (n[0] >> 1) & 0x3F == 33]
            pps = [n for n in au if (n[0] >> 1) & 0x3F == 34]
            break
    if not sps:
        raise ValueError("%s: no SPS" % path)
    config = hvcc(vps, sps, pps)
    tags = []
    if legacy:
        tags.append(FlvTag(MSG_VIDEO, 0, bytes([0x1C, 0, 0, 0, 0]) + config))
    else:
        tags.append(FlvTag(MSG_VIDEO, 0, bytes([0x90]) + b"hvc1" + config))
    for i, au in enumerate(aus):
        key = any(16 <= (n[0] >> 1) & 0x3F <= 21 for n in au)
        payload = b"".join(struct.pack(">I", len(n)) + n for n in au)
        ts = i * 1000 // fps
        if legacy:
            body = bytes([(0x10 if key else 0x20) | 12, 1, 0, 0, 0]) + payload
        else:
            body = bytes([0x80 | (0x10 if key else 0x20) | 1]) + b"hvc1" + b"\x00\x00\x00" \
                + payload
        tags.append(FlvTag(MSG_VIDEO, ts, body))
    return tags


# ---- the publisher --------------------------------------------------------------------------

class Publisher:
    """One RTMP connection to @host:@port. Typical use:
        p = Publisher(host, port).connect()       # TCP + handshake
        p.rtmp_connect("live")                    # -> ("_result" / "_error", info dict)
        p.create_stream()
        p.publish("KEY")                          # -> the onStatus code
        p.send_tags(tags, realtime=True)
        p.close()
    or Publisher.open(url) for all of it. Everything the server sends is in .messages (the
    decoded commands in .commands); .closed_at is the monotonic time the server ended the
    connection (None while open)."""

    def __init__(self, host, port, chunk_size=4096, compact=True, ext_on_type3=True,
                 timeout=10.0):
        self.host, self.port = host, port
        self.timeout = timeout
        self.writer = ChunkWriter(128, compact, ext_on_type3)
        self.want_chunk_size = chunk_size
        self.reader = ChunkReader()
        self.sock = None
        self.messages = []       # every message from the server
        self.commands = []       # (name, transaction id, [values...]) of AMF0 commands
        self.closed_at = None
        self.close_reason = None
        self.bytes_sent = 0
        self.stream_id = 0
        self.tx = 1
        self.s1 = None
        self._cond = threading.Condition()
        self._thread = None
        self._send_lock = threading.Lock()
        self._stop = threading.Event()

    # -- connection and handshake

    def tcp(self):
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self

    def send_raw(self, data):
        """Sends bytes as they are; Closed if the server has gone."""
        with self._send_lock:
            try:
                self.sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as e:
                self._record_close("send failed: %s" % e)
                raise Closed("the server closed the connection (%s)" % e) from None
            except socket.timeout:
                raise RtmpTimeout("send blocked for %.0f s" % self.timeout) from None
            self.bytes_sent += len(data)

    def _recv_exact(self, n, deadline):
        buf = bytearray()
        while len(buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RtmpTimeout("handshake: %d of %d bytes within the deadline"
                                  % (len(buf), n))
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(n - len(buf))
            except socket.timeout:
                continue
            except ConnectionResetError:
                data = b""
            if not data:
                self._record_close("EOF during the handshake")
                raise Closed("the server closed the connection during the handshake "
                             "(%d of %d bytes)" % (len(buf), n))
            buf += data
        return bytes(buf)

    def handshake(self, version=3):
        """C0 C1, S0 S1 S2, C2. Checks S0's version and that S2 echoes C1."""
        c1 = struct.pack(">II", int(time.monotonic() * 1000) & 0xFFFFFFFF, 0) \
            + os.urandom(HANDSHAKE_SIZE - 8)
        self.send_raw(bytes([version]) + c1)
        deadline = time.monotonic() + self.timeout
        s0 = self._recv_exact(1, deadline)
        if s0[0] != 3:
            raise RtmpError("S0 version %d" % s0[0])
        self.s1 = self._recv_exact(HANDSHAKE_SIZE, deadline)
        s2 = self._recv_exact(HANDSHAKE_SIZE, deadline)
        if s2[8:] != c1[8:]:
            raise RtmpError("S2 does not echo C1's random bytes")
        self.send_raw(self.s1)     # C2 echoes S1
        self.sock.settimeout(self.timeout)
        return self

    def connect(self):
        """TCP, handshake, the reader thread, the chunk size."""
        self.tcp().handshake()
        self.start_reader()
        if self.want_chunk_size != 128:
            self.set_chunk_size(self.want_chunk_size)
        return self

    def start_reader(self):
        self._thread = threading.Thread(target=self._read_loop, daemon=True)
        self._thread.start()
        return self

    def _record_close(self, reason):
        with self._cond:
            if self.closed_at is None:
                self.closed_at = time.monotonic()
                self.close_reason = reason
            self._cond.notify_all()

    def _read_loop(self):
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.sock], [], [], 0.25)
                if not ready:
                    continue
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (OSError, ValueError) as e:
                self._record_close("recv failed: %s" % e)
                return
            if not data:
                self._record_close("EOF")
                return
            try:
                msgs = self.reader.feed(data)
            except Exception as e:  # noqa: BLE001 - the server's bytes are under test
                self._record_close("unreadable bytes from the server: %r" % e)
                return
            for m in msgs:
                self._on_message(m)

    def _on_message(self, m):
        cmd = None
        if m.type == MSG_COMMAND_AMF0 or (m.type == MSG_COMMAND_AMF3 and m.payload[:1] == b"\0"):
            payload = m.payload if m.type == MSG_COMMAND_AMF0 else m.payload[1:]
            try:
                values = amf0_decode(payload)
            except RtmpError as e:
                values = ["(undecodable: %s)" % e]
            if values and isinstance(values[0], str):
                tx = values[1] if len(values) > 1 and isinstance(values[1], float) else None
                cmd = (values[0], tx, values[2:])
        if m.type == MSG_USER_CONTROL and len(m.payload) >= 6 and m.payload[:2] == b"\x00\x06":
            try:   # Ping request -> Ping response
                self.send_message(Message(MSG_USER_CONTROL, b"\x00\x07" + m.payload[2:6],
                                          csid=CS_CONTROL))
            except (Closed, RtmpTimeout, OSError):
                pass
        with self._cond:
            self.messages.append(m)
            if cmd is not None:
                self.commands.append(cmd)
            self._cond.notify_all()

    # -- waiting for the server

    def wait_for(self, predicate, timeout, what):
        """Waits until @predicate() (called under the lock) gives a true value; returns it.
        Closed if the connection ends first, RtmpTimeout at the deadline."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                v = predicate()
                if v:
                    return v
                if self.closed_at is not None:
                    raise Closed("the server closed the connection (%s) before %s; commands %r"
                                 % (self.close_reason, what, self.commands))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RtmpTimeout("no %s within %.1f s; commands %r"
                                      % (what, timeout, self.commands))
                self._cond.wait(remaining)

    def wait_closed(self, timeout):
        """The monotonic time the server ended the connection, or None at the deadline."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.closed_at is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return self.closed_at

    def reply_to(self, tx, timeout=None):
        """(name, values) of the `_result` / `_error` of transaction @tx."""
        def find():
            for name, t, values in self.commands:
                if t == tx and name in ("_result", "_error"):
                    return name, values
            return None
        return self.wait_for(find, timeout or self.timeout, "reply to transaction %s" % tx)

    def statuses(self):
        """The info objects of every onStatus so far."""
        with self._cond:
            return [v[1] if len(v) > 1 and isinstance(v[1], dict) else {}
                    for name, _, v in self.commands if name == "onStatus"]

    def wait_status(self, prefix="NetStream.", timeout=None):
        """The info object of the first onStatus whose code starts with @prefix."""
        def find():
            for name, _, values in self.commands:
                if name == "onStatus":
                    info = values[1] if len(values) > 1 and isinstance(values[1], dict) else {}
                    if str(info.get("code", "")).startswith(prefix):
                        return info
            return None
        return self.wait_for(find, timeout or self.timeout, "onStatus %s*" % prefix)

    # -- sending

    def send_message(self, m):
        self.send_raw(self.writer.encode(m))

    def set_chunk_size(self, n, raw_value=None):
        """Set Chunk Size @n (what this writer uses from then on). @raw_value: the 32-bit
        value sent, whatever it is (a hostile one); the writer keeps its size then."""
        value = n if raw_value is None else raw_value
        self.send_message(Message(MSG_SET_CHUNK_SIZE, struct.pack(">I", value & 0xFFFFFFFF),
                                  csid=CS_CONTROL))
        if raw_value is None:
            self.writer.chunk_size = n

    def command(self, name, *args, csid=CS_COMMAND, stream_id=0, tx=None):
        """Sends an AMF0 command; returns its transaction id."""
        if tx is None:
            self.tx += 1
            tx = self.tx
        self.send_message(Message(MSG_COMMAND_AMF0, amf0(name, tx, *args), 0, stream_id, csid))
        return tx

    def rtmp_connect(self, app, tc_url=None, extra=None):
        """connect(app); returns ("_result" or "_error", the values after the transaction id).
        """
        obj = {"app": app, "type": "nonprivate", "flashVer": "FMLE/3.0 (compatible; camtest)",
               "tcUrl": tc_url or "rtmp://%s:%d/%s" % (self.host, self.port, app)}
        obj.update(extra or {})
        self.send_message(Message(MSG_COMMAND_AMF0, amf0("connect", 1, obj), csid=CS_COMMAND))
        return self.reply_to(1.0)

    def create_stream(self, name_for_fc=None):
        """releaseStream + FCPublish (when @name_for_fc) + createStream: the stream id."""
        if name_for_fc is not None:
            self.command("releaseStream", None, name_for_fc)
            self.command("FCPublish", None, name_for_fc)
        tx = self.command("createStream", None)
        kind, values = self.reply_to(float(tx))
        if kind != "_result" or len(values) < 2 or not isinstance(values[1], float):
            raise RtmpError("createStream answered %s %r" % (kind, values))
        self.stream_id = int(values[1])
        return self.stream_id

    def publish(self, name, kind="live", wait=True, timeout=None):
        """publish(@name); with @wait, the first NetStream.Publish.* onStatus info (Start, or
        the refusal: BadName, Denied, ...)."""
        self.send_message(Message(MSG_COMMAND_AMF0, amf0("publish", 0, None, name, kind), 0,
                                  self.stream_id, 8))
        if not wait:
            return None
        return self.wait_status("NetStream.Publish.", timeout)

    def metadata(self, meta):
        """@setDataFrame onMetaData (an ECMA array)."""
        self.send_message(Message(MSG_DATA_AMF0, amf0("@setDataFrame", "onMetaData",
                                                      EcmaArray(meta)),
                                  0, self.stream_id, CS_DATA))

    def media(self, type_, timestamp, body):
        csid = CS_VIDEO if type_ == MSG_VIDEO else CS_AUDIO if type_ == MSG_AUDIO else CS_DATA
        return Message(type_, body, timestamp, self.stream_id, csid)

    def send_tag(self, tag, ts_offset=0):
        self.send_message(self.media(tag.type, tag.timestamp + ts_offset, tag.body))

    def send_tags(self, tags, realtime=True, ts_offset=0, interleave=False, stop=None,
                  on_sent=None):
        """Sends FLV tags (script tags as @setDataFrame data). @realtime paces them by their
        timestamps from now. @interleave: consecutive audio and video tags go chunk by chunk,
        alternating between their chunk streams. @stop: an Event that ends the loop early.
        @on_sent(tag): called after each tag. Returns the tags sent."""
        t0 = time.monotonic()
        base = tags[0].timestamp if tags else 0
        sent = []
        i = 0
        while i < len(tags):
            if stop is not None and stop.is_set():
                break
            t = tags[i]
            if realtime:
                wait = t0 + (t.timestamp - base) / 1000.0 - time.monotonic()
                if wait > 0:
                    if stop is not None:
                        if stop.wait(wait):
                            break
                    else:
                        time.sleep(wait)
            group = [t]
            if interleave and t.type in (MSG_AUDIO, MSG_VIDEO) and i + 1 < len(tags) \
                    and tags[i + 1].type in (MSG_AUDIO, MSG_VIDEO) \
                    and tags[i + 1].type != t.type:
                group.append(tags[i + 1])
            msgs = []
            for g in group:
                if g.type == MSG_DATA_AMF0:
                    values = amf0_decode(g.body)
                    body = amf0("@setDataFrame", *values) if values and \
                        values[0] != "@setDataFrame" else g.body
                    msgs.append(Message(MSG_DATA_AMF0, body, g.timestamp + ts_offset,
                                        self.stream_id, CS_DATA))
                else:
                    msgs.append(self.media(g.type, g.timestamp + ts_offset, g.body))
            if len(msgs) == 1:
                self.send_message(msgs[0])
            else:
                self.send_interleaved(msgs)
            for g in group:
                sent.append(g)
                if on_sent:
                    on_sent(g)
            i += len(group)
        return sent

    def send_interleaved(self, msgs):
        """The chunks of @msgs (on different chunk streams) alternating, one of each in turn."""
        lists = [self.writer.chunks(m) for m in msgs]
        out = bytearray()
        while any(lists):
            for lst in lists:
                if lst:
                    out += lst.pop(0)
        self.send_raw(bytes(out))

    def send_aggregate(self, tags, ts_offset=0):
        """One aggregate message (type 22) holding @tags as FLV tags, the message timestamp
        that of the first."""
        base = tags[0].timestamp
        out = bytearray()
        for t in tags:
            out += bytes([t.type]) + len(t.body).to_bytes(3, "big") \
                + (t.timestamp & 0xFFFFFF).to_bytes(3, "big") \
                + bytes([(t.timestamp >> 24) & 0xFF]) + b"\x00\x00\x00" + t.body \
                + struct.pack(">I", 11 + len(t.body))
        self.send_message(Message(MSG_AGGREGATE, bytes(out), base + ts_offset, self.stream_id,
                                  CS_VIDEO))

    def unpublish(self, name):
        """FCUnpublish + deleteStream, as a publisher that stops cleanly."""
        self.command("FCUnpublish", None, name)
        self.command("deleteStream", None, float(self.stream_id), tx=0)

    def close(self):
        self._stop.set()
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                self.sock.close()
            except OSError:
                pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2)

    @classmethod
    def open(cls, url, publish=True, fc=True, **kw):
        """Connects to @url (rtmp://host:port/app/name) and publishes name; returns the
        Publisher. RtmpError when connect or publish is refused (the publisher is closed)."""
        host, port, app, name, tc_url = split_url(url)
        p = cls(host, port, **kw)
        try:
            p.connect()
            kind, values = p.rtmp_connect(app, tc_url)
            if kind != "_result":
                raise RtmpError("connect refused: %r" % (values,))
            p.create_stream(name if fc else None)
            if publish:
                info = p.publish(name)
                if info.get("code") != "NetStream.Publish.Start":
                    raise RtmpError("publish refused: %r" % (info,))
        except BaseException:
            p.close()
            raise
        p.name = name
        return p


# ---- hostile clients ------------------------------------------------------------------------

def half_handshake(host, port, timeout=10.0):
    """A connection that sends C0 and half of C1, then nothing: returns the Publisher (its
    reader notices when the server gives up)."""
    p = Publisher(host, port, timeout=timeout).tcp()
    p.send_raw(b"\x03" + os.urandom(HANDSHAKE_SIZE // 2))
    p.start_reader()
    return p


def garbage(host, port, n=64 * 1024, after_handshake=False, timeout=10.0, seed=None):
    """@n random bytes (the first not 3, so not a C0) or, @after_handshake, a valid handshake
    then @n random bytes where chunks should be (the same bytes each run with @seed). Returns
    the Publisher; the send may fail once the server closed (that is fine)."""
    p = Publisher(host, port, timeout=timeout).tcp()
    if after_handshake:
        p.handshake()
    p.start_reader()
    data = bytearray(random.Random(seed).randbytes(n) if seed is not None else os.urandom(n))
    if not after_handshake:
        data[0] = 0x7F
    try:
        for i in range(0, n, 4096):
            p.send_raw(bytes(data[i:i + 4096]))
    except (Closed, RtmpTimeout):
        pass
    return p


def connected(host, port, app="live", timeout=10.0, chunk_size=128):
    """A connection through the handshake and connect(app) (_result expected)."""
    p = Publisher(host, port, chunk_size=chunk_size, timeout=timeout).connect()
    kind, values = p.rtmp_connect(app)
    if kind != "_result":
        p.close()
        raise RtmpError("connect refused: %r" % (values,))
    return p


def huge_chunk_size(p):
    """Set Chunk Size 2^31 (the top bit, which the spec says must be 0)."""
    try:
        p.set_chunk_size(0, raw_value=0x80000000)
    except Closed:
        pass


def huge_message(p, length=0xFFFFFF, send=64 * 1024):
    """A type-0 video header announcing @length bytes (16 MB), then @send bytes of it."""
    head = basic_header(0, CS_VIDEO) + b"\x00\x00\x00" + length.to_bytes(3, "big") \
        + bytes([MSG_VIDEO]) + struct.pack("<I", 1)
    try:
        p.send_raw(head)
        body = os.urandom(send)
        cs = p.writer.chunk_size
        for i in range(0, send, cs):
            p.send_raw((b"" if i == 0 else basic_header(3, CS_VIDEO)) + body[i:i + cs])
    except (Closed, RtmpTimeout):
        pass


def many_chunk_streams(p, n=20, first_csid=10, length=1000):
    """Starts a @length-byte message on each of @n chunk streams (one chunk each, with the
    chunk size at 128) and finishes none: @n messages in progress at once."""
    try:
        if p.writer.chunk_size != 128:
            p.set_chunk_size(128)
        for i in range(n):
            csid = first_csid + i
            head = basic_header(0, csid) + b"\x00\x00\x00" + length.to_bytes(3, "big") \
                + bytes([MSG_VIDEO]) + struct.pack("<I", 1)
            p.send_raw(head + b"\x17" + os.urandom(127))
    except (Closed, RtmpTimeout):
        pass


# ---- command line ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("source", help="an .flv file, or an Annex B .hevc file")
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--loop", type=int, default=1)
    ap.add_argument("--chunk-size", type=int, default=4096)
    ap.add_argument("--legacy-hevc", action="store_true")
    args = ap.parse_args()
    tags = hevc_tags(args.source, args.fps, args.legacy_hevc) \
        if args.source.endswith((".hevc", ".h265", ".265")) else read_flv(args.source)
    p = Publisher.open(args.url, chunk_size=args.chunk_size)
    print("published %s" % args.url, flush=True)
    span = (tags[-1].timestamp - tags[0].timestamp) + 40 if tags else 0
    try:
        for i in range(args.loop):
            p.send_tags(tags, ts_offset=i * span)
        p.unpublish(p.name)
    finally:
        p.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

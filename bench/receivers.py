"""receivers: the measured connections of camstream's benchmark, around one selector.

Viewers of camstream (WebSocket, MJPEG, snapshot) and the ffmpeg CLI reference run as
non-blocking connections in ONE thread around one selector (Loop), so a hundred viewers cost one
Python thread, no lock and no GIL hand-off; each message's receive time is taken when the read
that completed it returns. Only the first PREFIX bytes of a message are kept: the stamp
(bench/barcode.py) is in the first rows of the JPEG, and libjpeg decodes a truncated JPEG up to
where its data ends. Viewers of one shared source receive identical bytes, so a stamp is decoded
once per distinct JPEG (StampCache), not once per viewer.

Every receiver records (receive wall time us, size, stamp us or None) per frame, its connect
and first-frame times, and its error. A receiver with `slow` > 0 takes one frame, then pauses
that long (unregistered from the selector, so what it has not taken stays in the kernel).
"""

import base64
import errno
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import barcode  # noqa: E402

PREFIX = 24 * 1024          # bytes of each JPEG kept for the stamp
RECV_CHUNK = 1 << 20
CONNECT_TIMEOUT = 5.0


def now_us():
    return time.time_ns() // 1000


def die_with_parent():
    """preexec_fn: the child gets SIGTERM when this process dies, however it dies."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------- stamps

class StampCache:
    """Stamp of a JPEG prefix, decoded once per distinct prefix."""

    def __init__(self):
        self.cache = {}
        self.decoded = 0
        self.failed = 0

    def stamp(self, prefix):
        key = bytes(prefix)
        ts = self.cache.get(key, 0)
        if ts != 0:
            return ts
        ts = barcode.read_jpeg(key)
        self.decoded += 1
        if ts is None:
            self.failed += 1
        if len(self.cache) > 4096:
            self.cache.clear()
        self.cache[key] = ts
        return ts


STAMPS = StampCache()


# ---------------------------------------------------------------- the loop

class Loop:
    """One selector; connections register themselves. Paused connections (slow viewers) are
    unregistered until their resume time."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.conns = []
        self.paused = {}        # conn -> monotonic resume time

    def add(self, conn):
        self.conns.append(conn)
        conn.loop = self
        conn.start()

    def watch(self, fileobj, events, conn):
        try:
            self.sel.modify(fileobj, events, conn)
        except KeyError:
            self.sel.register(fileobj, events, conn)

    def unwatch(self, fileobj):
        try:
            self.sel.unregister(fileobj)
        except (KeyError, ValueError):
            pass

    def pause(self, conn, seconds):
        self.unwatch(conn.fileobj())
        self.paused[conn] = time.monotonic() + seconds

    def run_until(self, deadline, stop_when=None):
        """Serve events until monotonic @deadline (or stop_when() is true)."""
        while True:
            t = time.monotonic()
            if t >= deadline or (stop_when is not None and stop_when()):
                return
            for conn, at in list(self.paused.items()):
                if at <= t:
                    del self.paused[conn]
                    if not conn.closed:
                        conn.resume()
                    if not conn.closed and conn not in self.paused:
                        self.watch(conn.fileobj(), conn.resume_events(), conn)
            timeout = deadline - t
            if self.paused:
                timeout = min(timeout, max(0.0, min(self.paused.values()) - t))
            for key, events in self.sel.select(min(timeout, 0.25)):
                key.data.on_event(events)
            for c in self.conns:
                c.check_timeout(time.monotonic())

    def close_all(self):
        for c in self.conns:
            c.close()
        self.conns = []
        self.paused = {}


class Conn:
    """A measured receiver: records (receive wall time us, size, stamp us or None) per frame."""

    closed = False
    loop = None

    def __init__(self, label):
        self.label = label
        self.t_connect = None     # monotonic, when the connection was started
        self.t_first = None       # monotonic, when the first whole frame arrived
        self.frames = []          # (recv_us, size, ts_us)
        self.error = None
        self.slow = 0.0

    def frame(self, recv_us, size, prefix):
        if self.t_first is None:
            self.t_first = time.monotonic()
        self.frames.append((recv_us, size, STAMPS.stamp(prefix)))
        if self.slow > 0:
            self.loop.pause(self, self.slow)
            return True
        return False

    def fail(self, msg):
        if self.error is None:
            self.error = msg
        self.close()

    def check_timeout(self, t):
        pass

    def resume(self):
        """A slow receiver's pause is over: take what it had already read, if anything."""

    def resume_events(self):
        """What the loop waits for once a pause is over."""
        return selectors.EVENT_READ

    def fileobj(self):
        raise NotImplementedError

    def close(self):
        self.closed = True


class SockConn(Conn):
    """A TCP client speaking HTTP/1.1 first (a request, then the response headers). `rate` > 0
    reads at most that many bytes a second (4 KiB reads, paused in between), as a viewer behind
    a slow link. `retry_until` (monotonic): connection refusals are retried until then (a peer
    still starting its listener). It reads into @scratch, if given, else a buffer of its own."""

    def __init__(self, label, host, port, request, scratch=None):
        super().__init__(label)
        self.host, self.port, self.request = host, port, request
        self.sock = None
        self.state = "connect"
        self.hbuf = bytearray()
        self.scratch = bytearray(RECV_CHUNK) if scratch is None else scratch
        self.status = None
        self.headers = {}
        self.pending = None       # slow mode: bytes read but not yet taken
        self.rcvbuf = 0           # SO_RCVBUF to ask for; 0 = the system's autotuning
        self.rate = 0
        self.retry_until = None
        self.connect_timeout = CONNECT_TIMEOUT

    def resume(self):
        if self.state == "retry":
            self.start()
        elif self.pending:
            p, self.pending = self.pending, None
            self.on_body(memoryview(p), now_us())

    def fileobj(self):
        return self.sock

    def resume_events(self):
        return selectors.EVENT_WRITE if self.state == "connect" else selectors.EVENT_READ

    def start(self):
        if self.t_connect is None:     # a retry, or a wait started before (a peer's start)
            self.t_connect = time.monotonic()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.rcvbuf:
            # before connect, so the window it advertises is small from the start
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        try:
            self.sock.connect((self.host, self.port))
        except BlockingIOError:
            pass
        except OSError as e:
            self.fail("connect: %s" % e)
            return
        self.state = "connect"
        self.loop.watch(self.sock, selectors.EVENT_WRITE, self)

    def check_timeout(self, t):
        if self.closed:
            return
        limit = self.connect_timeout if self.retry_until is None else \
            max(self.connect_timeout, self.retry_until - self.t_connect)
        if self.state in ("connect", "headers", "retry") and t - self.t_connect > limit:
            self.fail("timeout in %s" % self.state)

    def on_event(self, events):
        if self.closed:
            return
        if self.state == "connect":
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == errno.ECONNREFUSED and self.retry_until and \
                    time.monotonic() < self.retry_until:
                self.loop.unwatch(self.sock)
                self.sock.close()
                self.state = "retry"
                self.loop.pause(self, 0.02)
                return
            if err:
                self.fail("connect: %s" % os.strerror(err))
                return
            try:
                self.sock.sendall(self.request)    # small: fits the empty send buffer
            except OSError as e:
                self.fail("send: %s" % e)
                return
            self.state = "headers"
            self.loop.watch(self.sock, selectors.EVENT_READ, self)
            return
        try:
            # A slow viewer reads 64 KiB at a time, so what it has not taken stays in the kernel;
            # one behind a slow link, 4 KiB.
            n = self.sock.recv_into(self.scratch,
                                    65536 if self.slow else 4096 if self.rate else 0)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.fail("recv: %s" % e)
            return
        t = now_us()
        if n == 0:
            self.on_eof(t)
            return
        mv = memoryview(self.scratch)[:n]
        if self.state == "headers":
            self.hbuf += mv
            end = self.hbuf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.hbuf) > 65536:
                    self.fail("response headers too long")
                return
            head = bytes(self.hbuf[:end]).decode("latin-1").split("\r\n")
            rest = bytes(self.hbuf[end + 4:])
            self.hbuf = bytearray()
            try:
                self.status = int(head[0].split()[1])
            except (IndexError, ValueError):
                self.fail("bad status line %r" % head[0])
                return
            for line in head[1:]:
                k, _, v = line.partition(":")
                self.headers[k.strip().lower()] = v.strip()
            self.state = "body"
            if not self.on_headers(rest):
                return
            if rest:
                self.on_body(memoryview(rest), t)
        else:
            self.on_body(mv, t)
        if self.rate and not self.closed:
            self.loop.pause(self, n / self.rate)

    def on_headers(self, rest):
        """The response head is read (status, headers); @rest is the body that came with it.
        False when the body is not to be read (the connection failed, or stays unread)."""
        return True

    def on_eof(self, t):
        self.fail("connection closed by server")

    def close(self):
        if self.sock is not None and not self.closed:
            if self.loop is not None:
                self.loop.unwatch(self.sock)
            try:
                self.sock.close()
            except OSError:
                pass
        self.closed = True


def _mask_frame(opcode, payload):
    """A client frame (masked, FIN) with @payload."""
    key = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    else:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + body


class WsViewer(SockConn):
    """A WebSocket viewer of /ws/stream: RFC 6455 client side, reads messages of any number of
    fragments, answers pings, records text messages (camstream's error JSON) and the close.
    With `pull`, it sends "next" when it connects and each time a slow pause ends: it asks for
    a frame when it can take one (camstream's pull mode)."""

    def __init__(self, label, host, port, path):
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % (path, host, port, key)).encode()
        super().__init__(label, host, port, req)
        self.hdr = bytearray()
        self.need = 0             # payload bytes left in the current frame
        self.fin = False
        self.opcode = 0           # of the current frame
        self.msg_op = 0           # of the current message (first fragment)
        self.msg_size = 0
        self.msg_prefix = bytearray()
        self.ctl = bytearray()
        self.texts = []
        self.close_code = None
        self.pull = False

    def on_headers(self, rest):
        if self.status != 101:
            self.fail("HTTP %s instead of 101" % self.status)
            return False
        if self.pull:
            self._ask()
        return True

    def _ask(self):
        try:
            self.sock.send(_mask_frame(1, b"next"))
        except OSError as e:
            self.fail("send: %s" % e)

    def resume(self):
        super().resume()
        if self.pull and not self.closed and self not in self.loop.paused:
            self._ask()

    def _hdr_need(self):
        if len(self.hdr) < 2:
            return 2
        n = 2 + {126: 2, 127: 8}.get(self.hdr[1] & 0x7F, 0)
        return n + (4 if self.hdr[1] & 0x80 else 0)

    def on_body(self, mv, t):
        i, n = 0, len(mv)
        while i < n and not self.closed:
            if len(self.hdr) < 2 or len(self.hdr) < self._hdr_need():   # in a frame header
                take = min(self._hdr_need() - len(self.hdr), n - i)
                self.hdr += mv[i:i + take]
                i += take
                if len(self.hdr) < 2 or len(self.hdr) < self._hdr_need():
                    continue
                b0, b1 = self.hdr[0], self.hdr[1]
                self.fin = bool(b0 & 0x80)
                self.opcode = b0 & 0x0F
                ln = b1 & 0x7F
                if ln == 126:
                    ln = struct.unpack("!H", self.hdr[2:4])[0]
                elif ln == 127:
                    ln = struct.unpack("!Q", self.hdr[2:10])[0]
                self.need = ln
                if self.opcode in (1, 2):
                    self.msg_op = self.opcode
                    self.msg_size = 0
                    self.msg_prefix = bytearray()
                if self.opcode >= 8:
                    self.ctl = bytearray()
                if ln == 0 and self._frame_end(t):
                    self.pending = bytes(mv[i:])
                    return
                continue
            take = min(self.need, n - i)
            if self.opcode >= 8:
                self.ctl += mv[i:i + take]
            else:
                self.msg_size += take
                room = (PREFIX if self.msg_op == 2 else 1 << 20) - len(self.msg_prefix)
                if room > 0:
                    self.msg_prefix += mv[i:i + min(room, take)]
            self.need -= take
            i += take
            if self.need == 0 and self._frame_end(t):
                self.pending = bytes(mv[i:])
                return

    def _frame_end(self, t):
        """End of a frame; True if the viewer took a picture and is now paused (slow mode)."""
        self.hdr = bytearray()
        op = self.opcode
        if op >= 8:
            if op == 8:
                if len(self.ctl) >= 2:
                    self.close_code = struct.unpack("!H", self.ctl[:2])[0]
                try:
                    self.sock.send(_mask_frame(8, bytes(self.ctl[:2])))
                except OSError:
                    pass
                self.fail("closed by server: %s %s" % (self.close_code,
                                                       " ".join(self.texts)[:200]))
            elif op == 9:
                try:
                    self.sock.send(_mask_frame(10, bytes(self.ctl)))
                except OSError:
                    pass
            return False
        if not self.fin:
            return False
        if self.msg_op == 1:
            self.texts.append(bytes(self.msg_prefix).decode("utf-8", "replace"))
        elif self.msg_op == 2:
            return self.frame(t, self.msg_size, self.msg_prefix)
        return False


class HttpChunked:
    """Undoes Transfer-Encoding: chunked, incrementally."""

    def __init__(self):
        self.buf = bytearray()
        self.left = 0        # data bytes left in the current chunk
        self.skip = 0        # CRLF after a chunk

    def feed(self, mv):
        out = []
        data = bytes(mv)
        i = 0
        while i < len(data):
            if self.skip:
                take = min(self.skip, len(data) - i)
                self.skip -= take
                i += take
                continue
            if self.left:
                take = min(self.left, len(data) - i)
                out.append(data[i:i + take])
                self.left -= take
                i += take
                if self.left == 0:
                    self.skip = 2
                continue
            self.buf += data[i:i + 1]
            i += 1
            if self.buf.endswith(b"\r\n"):
                line = bytes(self.buf[:-2]).split(b";")[0].strip()
                self.buf = bytearray()
                if line:
                    self.left = int(line, 16)
        return b"".join(out)


class MjpegViewer(SockConn):
    """GET /mjpeg: multipart/x-mixed-replace; parts found by Content-Length or, failing that,
    by the next boundary."""

    def __init__(self, label, host, port, path):
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: */*\r\n\r\n"
               % (path, host, port)).encode()
        super().__init__(label, host, port, req)
        self.buf = bytearray()
        self.chunked = None
        self.boundary = None

    def on_headers(self, rest):
        if self.status != 200:
            self.fail("HTTP %s" % self.status)
            return False
        ctype = self.headers.get("content-type", "")
        for p in ctype.split(";"):
            k, _, v = p.strip().partition("=")
            if k.lower() == "boundary":
                self.boundary = v.strip('"').encode()
        if not ctype.startswith("multipart/") or not self.boundary:
            self.fail("not multipart: %r" % ctype)
            return False
        if "chunked" in self.headers.get("transfer-encoding", ""):
            self.chunked = HttpChunked()
        return True

    def on_body(self, mv, t):
        self.buf += self.chunked.feed(mv) if self.chunked else mv
        delim = b"--" + self.boundary
        while True:
            start = self.buf.find(delim)
            if start < 0:
                return
            hend = self.buf.find(b"\r\n\r\n", start)
            if hend < 0:
                return
            heads = bytes(self.buf[start + len(delim):hend]).decode("latin-1").split("\r\n")
            clen = None
            for line in heads:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length":
                    clen = int(v.strip())
            body = hend + 4
            if clen is not None:
                if len(self.buf) < body + clen:
                    return
                end = body + clen
            else:
                end = self.buf.find(b"\r\n" + delim, body)
                if end < 0:
                    return
            paused = self.frame(t, end - body, self.buf[body:body + min(PREFIX, end - body)])
            del self.buf[:end]
            if paused:
                return

    def resume(self):
        if self.buf:
            self.on_body(memoryview(b""), now_us())


class Snapshot(SockConn):
    """One GET /snapshot: the response time and the age of the picture it returned."""

    def __init__(self, label, host, port, path):
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
               % (path, host, port)).encode()
        super().__init__(label, host, port, req)
        self.body = bytearray()
        self.chunked = None
        self.t_done = None

    def on_headers(self, rest):
        if self.status != 200:
            self.fail("HTTP %s" % self.status)
            return False
        if "chunked" in self.headers.get("transfer-encoding", ""):
            self.chunked = HttpChunked()
        return True

    def on_body(self, mv, t):
        self.body += self.chunked.feed(mv) if self.chunked else mv
        clen = self.headers.get("content-length")
        if clen is not None and len(self.body) >= int(clen):
            self._done(t)

    def on_eof(self, t):
        if self.state == "body" and self.body:
            self._done(t)
        else:
            self.fail("closed before a picture")

    def _done(self, t):
        if self.t_done is None:
            self.t_done = time.monotonic()
            self.frame(t, len(self.body), self.body[:PREFIX])
        self.close()


class JpegSplitter:
    """Cuts a byte stream of concatenated JPEGs (image2pipe) into pictures: marker segments up
    to SOS, then the entropy-coded data up to EOI (0xFF is stuffed there, so FFD9 is EOI)."""

    def __init__(self):
        self.buf = bytearray()
        self.scan = None       # offset where entropy-coded data starts, once known
        self.searched = 0

    def feed(self, data):
        """Returns [(size, prefix)] of the pictures completed by @data."""
        self.buf += data
        out = []
        while True:
            b = self.buf
            if self.scan is None:
                if len(b) < 4:
                    return out
                if b[0] != 0xFF or b[1] != 0xD8:
                    k = b.find(b"\xff\xd8")
                    if k < 0:
                        del b[:max(0, len(b) - 1)]
                        return out
                    del b[:k]
                    continue
                i = 2
                while True:
                    if i + 4 > len(b):
                        return out
                    if b[i] != 0xFF:
                        del b[:2]          # lost: resynchronise on the next SOI
                        break
                    marker = b[i + 1]
                    if marker == 0xFF:
                        i += 1
                        continue
                    seglen = (b[i + 2] << 8) | b[i + 3]
                    if marker == 0xDA:
                        if i + 2 + seglen > len(b):
                            return out
                        self.scan = i + 2 + seglen
                        self.searched = self.scan
                        break
                    i += 2 + seglen
                if self.scan is None:
                    continue
            e = b.find(b"\xff\xd9", self.searched)
            if e < 0:
                self.searched = max(self.scan, len(b) - 1)
                return out
            end = e + 2
            out.append((end, bytes(b[:min(PREFIX, end)])))
            del b[:end]
            self.scan = None


class FfmpegReader(Conn):
    """The reference: the ffmpeg CLI decoding the camera and encoding JPEGs to a pipe."""

    def __init__(self, label, rtsp, fps=None, width=None, quality_q=5, extra=()):
        super().__init__(label)
        vf = []
        if fps:
            vf.append("fps=%s" % fps)
        if width:
            vf.append("scale=%d:-2" % width)
        # -fps_mode passthrough -enc_time_base -1: every decoded picture once, on the 90 kHz
        # RTP clock. image2pipe would otherwise be CFR (duplicates), and with a 1/fps encoder
        # time base two jittered frames can share a pts, which the muxer refuses (ffmpeg exits).
        self.cmd = (["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
                     "-fflags", "nobuffer", "-flags", "low_delay", "-rtsp_transport", "tcp",
                     "-i", rtsp, "-an"] + (["-vf", ",".join(vf)] if vf else []) +
                    ["-fps_mode", "passthrough", "-enc_time_base", "-1",
                     "-f", "image2pipe", "-c:v", "mjpeg", "-q:v", str(quality_q)] +
                    list(extra) + ["-"])
        self.proc = None
        self.split = JpegSplitter()
        self.pending = []       # slow mode: pictures read from the pipe but not yet taken

    def fileobj(self):
        return self.proc.stdout

    def start(self):
        self.t_connect = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, bufsize=0,
                                     preexec_fn=die_with_parent)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.loop.watch(self.proc.stdout, selectors.EVENT_READ, self)

    def check_timeout(self, t):
        if not self.closed and self.t_first is None and t - self.t_connect > 15:
            self.fail("ffmpeg: no picture within 15 s")

    def on_event(self, events):
        # Slow mode reads one pipe-full (64 KiB) per wake-up, as a slow consumer of the pipe.
        try:
            data = os.read(self.proc.stdout.fileno(), 65536 if self.slow else RECV_CHUNK)
        except BlockingIOError:
            return
        t = now_us()
        if not data:
            err = self.proc.stderr.read(2000) if self.proc.stderr else b""
            self.fail("ffmpeg ended: %s" % err.decode("utf-8", "replace").strip()[-300:])
            return
        for size, prefix in self.split.feed(data):
            if self.slow:
                self.pending.append((size, prefix))
            else:
                self.frame(t, size, prefix)
        if self.slow and self.pending:
            self.resume()

    def resume(self):
        if self.pending:
            size, prefix = self.pending.pop(0)
            self.frame(now_us(), size, prefix)

    def close(self):
        if self.proc is not None and not self.closed:
            if self.loop is not None:
                self.loop.unwatch(self.proc.stdout)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=3)
            self.proc.stdout.close()
            self.proc.stderr.close()
        self.closed = True

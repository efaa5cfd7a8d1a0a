"""rawws: WebSocket by hand, for tests that must do what python3-websocket will not (send
broken or oversized frames, stop mid-handshake) or that hold too many connections for a thread
each.

- handshake(path, key) / accept_for(key): the client's upgrade request and the answer it needs
- frame(opcode, payload, ...): one client frame (masked, as RFC 6455 requires of clients)
- Parser: turns the server's bytes into messages and control frames
- Swarm: many /ws/stream clients on one thread (selectors, non-blocking sockets) that count
  the messages each receives, keep each one's first message, and note how each connection ended
"""

import base64
import errno
import hashlib
import os
import selectors
import socket
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def new_key():
    return base64.b64encode(os.urandom(16)).decode()


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def handshake(path, key, host="127.0.0.1", extra_headers=()):
    lines = ["GET %s HTTP/1.1" % path, "Host: %s" % host, "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: %s" % key,
             "Sec-WebSocket-Version: 13"] + list(extra_headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def frame(opcode, payload=b"", fin=True, mask=True, length=None):
    """One frame; @length overrides the announced payload length (to lie about it)."""
    n = len(payload) if length is None else length
    head = bytearray([(0x80 if fin else 0) | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head.append(mbit | n)
    elif n < 65536:
        head.append(mbit | 126)
        head += n.to_bytes(2, "big")
    else:
        head.append(mbit | 127)
        head += n.to_bytes(8, "big")
    if not mask:
        return bytes(head) + payload
    key = os.urandom(4)
    return bytes(head) + key + mask_bytes(payload, key)


def mask_bytes(payload, key, offset=0):
    """@payload XOR the 4-byte @key, starting at byte @offset of the frame's payload."""
    if not payload:
        return b""
    k = (key * (len(payload) // 4 + 2))[offset % 4:offset % 4 + len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(len(payload),
                                                                              "big")


def close_frame(code=1000, reason=b""):
    return frame(OP_CLOSE, code.to_bytes(2, "big") + reason)


def close_code(payload):
    return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005


class Parser:
    """Messages from the server's byte stream (unmasked frames, as servers send). feed() returns
    what the new bytes completed: (opcode, payload) for each whole message (fragments joined)
    and each control frame. With @keep_binary False, binary payloads are dropped (b"") once the
    first one was kept in first_binary, which keeps 1000 clients cheap; text is always kept."""

    def __init__(self, keep_binary=True):
        self.buf = bytearray()
        self.keep_binary = keep_binary
        self.first_binary = None    # the first complete binary message
        self._opcode = None         # opcode of the message being assembled
        self._parts = []
        self.pending = []           # open_ws: messages that came with the handshake answer

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            f = self._next_frame()
            if f is None:
                return out
            fin, opcode, payload = f
            if opcode >= OP_CLOSE:
                out.append((opcode, payload))
                continue
            if opcode != OP_CONT:
                self._opcode, self._parts = opcode, []
            if self._opcode == OP_TEXT or self.keep_binary or self.first_binary is None:
                self._parts.append(payload)
            if fin:
                message = b"".join(self._parts)
                self._parts = []
                if self._opcode == OP_BINARY and self.first_binary is None:
                    self.first_binary = message
                out.append((self._opcode, message))

    def _next_frame(self):
        b = self.buf
        if len(b) < 2:
            return None
        fin, opcode, n, pos = b[0] & 0x80, b[0] & 0x0F, b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, pos = int.from_bytes(b[2:4], "big"), 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, pos = int.from_bytes(b[2:10], "big"), 10
        if b[1] & 0x80:
            pos += 4   # servers must not mask; skip the key rather than choke
        if len(b) < pos + n:
            return None
        payload = bytes(b[pos:pos + n])
        del b[:pos + n]
        return bool(fin), opcode, payload


class RawClient:
    """One connection of a Swarm: its socket, state and what it received."""

    __slots__ = ("index", "sock", "key", "state", "inbuf", "outbuf", "parser", "messages",
                 "texts", "close_code", "ended", "connected_at", "first_message_at")

    def __init__(self, index, sock, key, request):
        self.index = index
        self.sock = sock
        self.key = key
        self.state = "connecting"   # connecting -> handshake -> open -> ended
        self.inbuf = bytearray()
        self.outbuf = bytearray(request)
        self.parser = Parser(keep_binary=False)
        self.messages = 0           # complete binary messages
        self.texts = []             # text messages (errors), decoded
        self.close_code = None      # from the server's close frame; 1006 if the TCP just ended
        self.ended = None           # why the connection is over, or None while it lasts
        self.connected_at = None
        self.first_message_at = None


class Swarm:
    """@n WebSocket clients of 127.0.0.1:@port@path, all on the calling thread. Call
    connect(timeout) to open them (a batch at a time, so the listen backlog never overflows),
    then pump(seconds) or pump_until(predicate, timeout) to read; close() sends close frames
    and closes every socket. The clients only read, as viewers should."""

    def __init__(self, port, path, n, batch=100, rcvbuf=None):
        self.port, self.path, self.n, self.batch = port, path, n, batch
        self.rcvbuf = rcvbuf
        self.sel = selectors.DefaultSelector()
        self.clients = []
        self.bytes_received = 0

    # -- opening

    def _open_one(self, i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        s.setblocking(False)
        key = new_key()
        c = RawClient(i, s, key, handshake(self.path, key))
        err = s.connect_ex(("127.0.0.1", self.port))
        if err not in (0, errno.EINPROGRESS):
            c.state, c.ended, c.close_code = "ended", "connect failed: %s" % os.strerror(err), \
                1006
            s.close()
        else:
            self.sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        self.clients.append(c)
        return c

    def connect(self, timeout):
        """Opens all @n connections and completes their handshakes (a batch at a time).
        Returns the number that are open; every wait is bounded by @timeout overall."""
        deadline = time.monotonic() + timeout
        while len(self.clients) < self.n and time.monotonic() < deadline:
            first = len(self.clients)
            for i in range(first, min(self.n, first + self.batch)):
                self._open_one(i)
            batch = self.clients[first:]
            self.pump_until(lambda: all(c.state not in ("connecting", "handshake")
                                        for c in batch), deadline - time.monotonic())
        return sum(1 for c in self.clients if c.state == "open")

    # -- the loop

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            self._step(min(remaining, 0.2))

    def pump_until(self, predicate, timeout):
        """Services the sockets until @predicate() holds or @timeout passes; returns it."""
        end = time.monotonic() + timeout
        while not predicate():
            remaining = end - time.monotonic()
            if remaining <= 0:
                return predicate()
            self._step(min(remaining, 0.2))
        return True

    def _step(self, timeout):
        if not self.sel.get_map():
            time.sleep(timeout)   # nothing to wait on; let the deadline run out
            return
        for key, events in self.sel.select(timeout):
            c = key.data
            if events & selectors.EVENT_WRITE:
                self._on_writable(c)
            if events & selectors.EVENT_READ and c.state != "ended":
                self._on_readable(c)

    def _end(self, c, why, code=None):
        if c.state == "ended":
            return
        c.state = "ended"
        c.ended = why
        if c.close_code is None:
            c.close_code = code if code is not None else 1006
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()

    def _on_writable(self, c):
        if c.state == "connecting":
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                return self._end(c, "connect failed: %s" % os.strerror(err))
            c.state = "handshake"
        try:
            sent = c.sock.send(c.outbuf)
        except BlockingIOError:
            return None
        except OSError as e:
            return self._end(c, "send failed: %s" % e)
        del c.outbuf[:sent]
        if not c.outbuf:
            self.sel.modify(c.sock, selectors.EVENT_READ, c)
        return None

    def _on_readable(self, c):
        try:
            data = c.sock.recv(262144)
        except BlockingIOError:
            return None
        except OSError as e:
            return self._end(c, "receive failed: %s" % e)
        if not data:
            return self._end(c, "connection closed by the server")
        self.bytes_received += len(data)
        if c.state == "handshake":
            c.inbuf += data
            head_end = c.inbuf.find(b"\r\n\r\n")
            if head_end < 0:
                if len(c.inbuf) > 65536:
                    return self._end(c, "no end of the handshake answer")
                return None
            head = bytes(c.inbuf[:head_end]).decode("latin-1")
            rest = bytes(c.inbuf[head_end + 4:])
            c.inbuf = bytearray()
            status = head.split("\r\n", 1)[0]
            if " 101 " not in status + " ":
                return self._end(c, "handshake refused: %s" % status)
            if ("sec-websocket-accept: %s" % accept_for(c.key)).lower() not in head.lower():
                return self._end(c, "handshake answer without the right Sec-WebSocket-Accept")
            c.state = "open"
            c.connected_at = time.monotonic()
            data = rest
            if not data:
                return None
        for opcode, payload in c.parser.feed(data):
            if opcode == OP_BINARY:
                c.messages += 1
                if c.first_message_at is None:
                    c.first_message_at = time.monotonic()
            elif opcode == OP_TEXT:
                c.texts.append(payload.decode("utf-8", "replace"))
            elif opcode == OP_CLOSE:
                return self._end(c, "close frame", close_code(payload))
            elif opcode == OP_PING:
                try:
                    c.sock.send(frame(OP_PONG, payload))
                except OSError:
                    pass
        return None

    # -- ending

    def close(self, timeout=5.0):
        """Sends a close frame on every open connection, waits (bounded) for the server's
        answers, then closes every socket."""
        for c in self.clients:
            if c.state == "open":
                try:
                    c.sock.send(close_frame(1000))
                except OSError:
                    pass
        self.pump_until(lambda: not any(c.state == "open" for c in self.clients), timeout)
        for c in self.clients:
            self._end(c, c.ended or "closed by the test", c.close_code or 1000)
        self.sel.close()


# ---- one blocking connection, for fault tests ---------------------------------------------

def open_ws(port, path, timeout=10.0, rcvbuf=None):
    """A connected, upgraded blocking socket to 127.0.0.1:@port@path: (socket, Parser holding
    any bytes that followed the answer). Raises AssertionError if the upgrade is refused."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    key = new_key()
    s.sendall(handshake(path, key))
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\r\n\r\n" not in buf:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        data = s.recv(65536)
        if not data:
            s.close()
            raise AssertionError("connection closed during the handshake of %s (got %r)"
                                 % (path, buf[:200]))
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    text = head.decode("latin-1")
    if " 101 " not in text.split("\r\n", 1)[0] + " " or \
            ("sec-websocket-accept: " + accept_for(key)).lower() not in text.lower():
        s.close()
        raise AssertionError("upgrade of %s refused: %r" % (path, text[:300]))
    parser = Parser(keep_binary=False)
    parser.pending = parser.feed(rest)
    s.settimeout(timeout)
    return s, parser


def wait_closed(sock, parser, timeout):
    """Reads until the server closes: (close code, how, messages seen). The code is the close
    frame's, 1006 when the connection ended without one; how is "close frame", "eof" or
    "reset". Returns (None, "timeout", n) if it is still open after @timeout."""
    deadline = time.monotonic() + timeout
    seen = 0
    pending, parser.pending = parser.pending, []
    while True:
        for opcode, payload in pending:
            if opcode == OP_CLOSE:
                return close_code(payload), "close frame", seen
            if opcode in (OP_TEXT, OP_BINARY):
                seen += 1
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None, "timeout", seen
        sock.settimeout(remaining)
        try:
            data = sock.recv(262144)
        except socket.timeout:
            return None, "timeout", seen
        except ConnectionResetError:
            return 1006, "reset", seen
        except OSError as e:
            return 1006, "error %s" % e, seen
        if not data:
            return 1006, "eof", seen
        pending = parser.feed(data)

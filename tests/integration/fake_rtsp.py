#!/usr/bin/python3
"""A misbehaving RTSP server for camstream's fault tests: raw sockets, no GStreamer.

FakeRtsp(mode) listens on a free port of 127.0.0.1 and serves every connection in a thread of
its own, misbehaving in one way:
  garbage             answers the first request (OPTIONS) with random binary bytes ending in a
                      blank line, and keeps the connection open
  garbled_options     answers OPTIONS with a broken reply: "RTSP/1.0" then no status code and
                      random header lines
  garbled_describe    answers OPTIONS properly and DESCRIBE with such a broken reply
  garbage_sdp         answers DESCRIBE with 200 OK and a random text body instead of SDP (so
                      no stream), and everything else properly
  close_mid_describe  answers OPTIONS properly; answers DESCRIBE with headers announcing a
                      400-byte SDP, sends a few bytes of it and closes the connection
  stall_after_setup   answers OPTIONS, DESCRIBE (H.264 over RTP) and SETUP, then never answers
                      PLAY (the connection stays open)
  stall_after_play    answers everything, PLAY included, then never sends a packet
  corrupt             relays to a real RTSP server (@upstream_port, interleaved TCP as FFmpeg's
                      transport=tcp uses) and flips random bytes in the payloads of RTP packets
                      on the way to the client: broken NAL units, slices and parameter sets
                      (and, if asked, broken RTP headers)
What was received is recorded: `requests` (first lines, in order), `connections` (count).

Every socket has a timeout and close() ends every thread, so a test cannot hang on it.

Run alone: /usr/bin/python3 fake_rtsp.py MODE [--upstream-port N] prints
"READY rtsp_port=N" and serves until SIGTERM or SIGINT.
"""

import argparse
import random
import re
import signal
import socket
import sys
import threading

SOCKET_TIMEOUT = 0.5     # how often blocked threads look at the stop flag
SESSION_ID = "5eed5eed"
MODES = ("garbage", "garbled_options", "garbled_describe", "garbage_sdp", "close_mid_describe",
         "stall_after_setup", "stall_after_play", "corrupt")

SDP_H264 = ("v=0\r\n"
            "o=- 0 0 IN IP4 127.0.0.1\r\n"
            "s=fake camera\r\n"
            "c=IN IP4 0.0.0.0\r\n"
            "t=0 0\r\n"
            "m=video 0 RTP/AVP 96\r\n"
            "a=rtpmap:96 H264/90000\r\n"
            "a=fmtp:96 packetization-mode=1\r\n"
            "a=control:track1\r\n")


class _Closed(Exception):
    pass


class FakeRtsp:
    """The server (see the module's description). @corrupt_ratio is the share of RTP packets
    mangled in mode corrupt, @corrupt_bytes the most bytes flipped in one; with
    @corrupt_headers the RTP headers (sequence numbers, timestamps, payload type) are fair game
    too. @seed makes the damage reproducible."""

    def __init__(self, mode, upstream_port=None, corrupt_ratio=0.2, corrupt_bytes=4,
                 corrupt_headers=False, seed=1):
        if mode not in MODES:
            raise ValueError("unknown mode %r (one of %s)" % (mode, ", ".join(MODES)))
        if mode == "corrupt" and not upstream_port:
            raise ValueError("mode corrupt needs upstream_port")
        self.mode = mode
        self.upstream_port = upstream_port
        self.corrupt_ratio = corrupt_ratio
        self.corrupt_bytes = corrupt_bytes
        self.corrupt_headers = corrupt_headers
        self.seed = seed
        self.requests = []        # first line of every request received, in order
        self.connections = 0
        self.rtp_packets = 0      # corrupt: RTP packets relayed, and how many were mangled
        self.rtp_mangled = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._socks = []
        self._threads = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(SOCKET_TIMEOUT)
        self.port = self.sock.getsockname()[1]
        self._accepter = threading.Thread(target=self._accept_loop, daemon=True)
        self._accepter.start()

    def url(self, path="stream"):
        return "rtsp://127.0.0.1:%d/%s" % (self.port, path)

    def close(self):
        self._stop.set()
        self._accepter.join(5)
        with self._lock:
            socks, threads = list(self._socks), list(self._threads)
        for s in socks:
            try:
                s.close()
            except OSError:
                pass
        for t in threads:
            t.join(5)
        self.sock.close()

    # -- plumbing

    def _track(self, sock):
        sock.settimeout(SOCKET_TIMEOUT)
        with self._lock:
            self._socks.append(sock)
        return sock

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            with self._lock:
                self.connections += 1
                n = self.connections
            self._track(conn)
            t = threading.Thread(target=self._serve, args=(conn, n), daemon=True)
            with self._lock:
                self._threads.append(t)
            t.start()

    def _recv(self, sock, n=65536):
        """Some bytes; raises _Closed when the peer closed or the server stops."""
        while not self._stop.is_set():
            try:
                data = sock.recv(n)
            except socket.timeout:
                continue
            except OSError:
                raise _Closed() from None
            if not data:
                raise _Closed()
            return data
        raise _Closed()

    def _send(self, sock, data):
        try:
            sock.sendall(data)
        except OSError:
            raise _Closed() from None

    def _idle(self, sock):
        """Keeps the connection open, reading and ignoring, until the peer or we close it."""
        try:
            while True:
                self._recv(sock)
        except _Closed:
            pass

    def _read_request(self, sock, buf):
        """(method, cseq, head text, rest of the buffer) of the next request in @buf + socket."""
        while b"\r\n\r\n" not in buf:
            buf += self._recv(sock)
        head, _, buf = buf.partition(b"\r\n\r\n")
        text = head.decode("latin-1")
        m = re.search(r"(?im)^content-length:\s*(\d+)", text)
        body_len = int(m.group(1)) if m else 0
        while len(buf) < body_len:
            buf += self._recv(sock)
        buf = buf[body_len:]
        first = text.split("\r\n", 1)[0]
        with self._lock:
            self.requests.append(first)
        m = re.search(r"(?im)^cseq:\s*(\d+)", text)
        return first.split(" ", 1)[0].upper(), (m.group(1) if m else "0"), text, buf

    @staticmethod
    def _reply(cseq, headers=(), body=b""):
        lines = ["RTSP/1.0 200 OK", "CSeq: %s" % cseq] + list(headers)
        if body:
            lines.append("Content-Length: %d" % len(body))
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    @staticmethod
    def _junk_text(rng, n):
        return "".join(rng.choice("abcdefghij0123456789 :;/=\r\n") for _ in range(n)) \
            .replace("\r\n\r\n", "\r\n")

    def _garbled_reply(self, rng, cseq):
        """A reply that starts like RTSP but has no status code and junk for headers."""
        return ("RTSP/1.0 ??? %s\r\nCSeq: %s\r\n%s\r\n\r\n"
                % (self._junk_text(rng, 20).replace("\r\n", " "), cseq,
                   self._junk_text(rng, 300).strip())).encode()

    def _answer(self, method, cseq, text):
        """The proper answer to a request of a well-behaved H.264 camera."""
        if method == "OPTIONS":
            return self._reply(cseq, ["Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN"])
        if method == "DESCRIBE":
            url = text.split(" ")[1]
            return self._reply(cseq, ["Content-Base: %s/" % url.rstrip("/"),
                                      "Content-Type: application/sdp"], SDP_H264.encode())
        if method == "SETUP":
            m = re.search(r"(?im)^transport:\s*(.*)$", text)
            transport = m.group(1).strip() if m else "RTP/AVP/TCP;unicast;interleaved=0-1"
            return self._reply(cseq, ["Transport: %s" % transport,
                                      "Session: %s;timeout=60" % SESSION_ID])
        if method == "PLAY":
            return self._reply(cseq, ["Session: %s" % SESSION_ID, "Range: npt=0.000-"])
        return self._reply(cseq, ["Session: %s" % SESSION_ID])

    # -- the modes

    def _serve(self, conn, n):
        try:
            if self.mode == "corrupt":
                self._relay(conn, n)
            else:
                self._misbehave(conn, n)
        except _Closed:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _misbehave(self, conn, n):
        rng = random.Random(self.seed * 1000 + n)
        buf = b""
        while True:
            method, cseq, text, buf = self._read_request(conn, buf)
            if self.mode == "garbage":
                junk = bytes(rng.randrange(256) for _ in range(2048))
                self._send(conn, junk + b"\r\n\r\n")
                return self._idle(conn)
            if (self.mode == "garbled_options" and method == "OPTIONS") or \
                    (self.mode == "garbled_describe" and method == "DESCRIBE"):
                self._send(conn, self._garbled_reply(rng, cseq))
                return self._idle(conn)
            if self.mode == "garbage_sdp" and method == "DESCRIBE":
                body = self._junk_text(rng, 400).encode()
                self._send(conn, self._reply(cseq, ["Content-Type: application/sdp"], body))
                continue   # and answer what comes next (FFmpeg goes on to PLAY)
            if self.mode == "close_mid_describe" and method == "DESCRIBE":
                head = ("RTSP/1.0 200 OK\r\nCSeq: %s\r\nContent-Type: application/sdp\r\n"
                        "Content-Length: 400\r\n\r\n" % cseq).encode()
                self._send(conn, head + SDP_H264.encode()[:30])
                conn.shutdown(socket.SHUT_RDWR)
                return None
            if self.mode == "stall_after_setup" and method == "PLAY":
                return self._idle(conn)
            self._send(conn, self._answer(method, cseq, text))
            if self.mode == "stall_after_play" and method == "PLAY":
                return self._idle(conn)

    def _relay(self, conn, n):
        up = self._track(socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5))
        try:
            t = threading.Thread(target=self._pump_up, args=(conn, up), daemon=True)
            with self._lock:
                self._threads.append(t)
            t.start()
            self._pump_down(up, conn, random.Random(self.seed * 1000 + n))
        finally:
            for s in (up, conn):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _pump_up(self, client, up):
        """Client to camera, unchanged, recording the requests' first lines."""
        try:
            while True:
                data = self._recv(client)
                for line in re.findall(rb"(?m)^([A-Z_]+ rtsp://\S+ RTSP/1\.0)\r$", data):
                    with self._lock:
                        self.requests.append(line.decode("latin-1"))
                self._send(up, data)
        except _Closed:
            pass
        try:
            up.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _pump_down(self, up, client, rng):
        """Camera to client: RTSP replies unchanged, interleaved RTP packets mangled."""
        buf = b""
        while True:
            if not buf:
                buf = self._recv(up)
            if buf[:1] == b"$":
                while len(buf) < 4:
                    buf += self._recv(up)
                channel, size = buf[1], int.from_bytes(buf[2:4], "big")
                while len(buf) < 4 + size:
                    buf += self._recv(up)
                packet, buf = bytearray(buf[4:4 + size]), buf[4 + size:]
                if channel % 2 == 0:
                    self._mangle_rtp(packet, rng)
                self._send(client, b"$" + bytes([channel]) + size.to_bytes(2, "big")
                           + bytes(packet))
            else:
                while b"\r\n\r\n" not in buf:
                    buf += self._recv(up)
                head, _, rest = buf.partition(b"\r\n\r\n")
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                body_len = int(m.group(1)) if m else 0
                while len(rest) < body_len:
                    rest += self._recv(up)
                self._send(client, head + b"\r\n\r\n" + rest[:body_len])
                buf = rest[body_len:]

    def _mangle_rtp(self, packet, rng):
        with self._lock:
            self.rtp_packets += 1
        if len(packet) < 12 or rng.random() >= self.corrupt_ratio:
            return
        start = 12 + 4 * (packet[0] & 0x0F)             # fixed header + CSRCs
        if packet[0] & 0x10 and len(packet) >= start + 4:  # header extension
            start += 4 + 4 * int.from_bytes(packet[start + 2:start + 4], "big")
        if self.corrupt_headers:
            start = 0
        if start >= len(packet):
            return
        for _ in range(rng.randint(1, self.corrupt_bytes)):
            i = rng.randrange(start, len(packet))
            packet[i] ^= rng.randint(1, 255)
        with self._lock:
            self.rtp_mangled += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=MODES)
    ap.add_argument("--upstream-port", type=int, help="mode corrupt: the real RTSP server")
    ap.add_argument("--corrupt-ratio", type=float, default=0.2)
    args = ap.parse_args()
    server = FakeRtsp(args.mode, upstream_port=args.upstream_port,
                      corrupt_ratio=args.corrupt_ratio)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print("READY rtsp_port=%d" % server.port, flush=True)
    done.wait()
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Records what a real RTMP publisher sends: nginx-rtmp (tests/integration/rtmp_server.py) on a
loopback port, a small TCP proxy in front of it that saves the client->server bytes, and a
publisher pointed at the proxy. The test data rtmp_ffmpeg.bin and rtmp_gst.bin were made so:

    /usr/bin/python3 tests/unit/data/record_rtmp.py ffmpeg tests/unit/data/rtmp_ffmpeg.bin
    /usr/bin/python3 tests/unit/data/record_rtmp.py gst tests/unit/data/rtmp_gst.bin

The recording is cut at LIMIT bytes (a whole recording of 3 s is larger than a test needs)."""
import os
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "integration"))
from rtmp_server import RtmpServer, free_port  # noqa: E402

LIMIT = 190 * 1024


def pump(src, dst, record):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            if record is not None:
                record.append(b)
            dst.sendall(b)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    kind, out = sys.argv[1], sys.argv[2]
    server = RtmpServer().start(publish=False)
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    port = free_port()
    lsock.bind(("127.0.0.1", port))
    lsock.listen(1)
    url = "rtmp://127.0.0.1:%d/live/test" % port
    if kind == "ffmpeg":
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
               "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine",
               "-t", "3", "-c:v", "libx264", "-g", "25", "-c:a", "aac", "-f", "flv", url]
    else:
        cmd = ["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=75", "is-live=true", "!",
               "video/x-raw,width=320,height=240,framerate=25/1", "!",
               "x264enc", "tune=zerolatency", "bitrate=300", "key-int-max=25", "!", "h264parse", "!", "mux.",
               "audiotestsrc", "is-live=true", "num-buffers=130", "!", "audioconvert", "!",
               "avenc_aac", "!", "aacparse", "!", "mux.",
               "flvmux", "name=mux", "streamable=true", "!", "rtmp2sink", "location=" + url]
    pub = subprocess.Popen(cmd)
    client, _ = lsock.accept()
    upstream = socket.create_connection(("127.0.0.1", server.port))
    record = []
    a = threading.Thread(target=pump, args=(client, upstream, record))
    b = threading.Thread(target=pump, args=(upstream, client, None))
    a.start()
    b.start()
    pub.wait(timeout=60)
    a.join(timeout=10)
    b.join(timeout=10)
    server.stop()
    data = b"".join(record)[:LIMIT]
    with open(out, "wb") as f:
        f.write(data)
    print("%s: %d bytes recorded, exit %s" % (out, len(data), pub.returncode))


if __name__ == "__main__":
    main()

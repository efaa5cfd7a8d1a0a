"""flvtags, the FLV reader of test_flv, has a specification of its own: it reads FFmpeg's FLV
(H.264 + AAC) and an Enhanced-FLV HEVC stream built here from FFmpeg's HEVC, fed whole or a
byte at a time, gives back elementary streams FFmpeg decodes, and refuses what the format
does not allow. No camstream here."""

import os
import shutil
import struct
import subprocess
import tempfile
import unittest

import flvtags
from flvtags import FlvError, Parser

SIZE = (320, 240)


def ffmpeg(*args, stdin=None):
    p = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y"] + list(args), input=stdin,
                       capture_output=True, timeout=60)
    if p.returncode:
        raise AssertionError("ffmpeg %s: %s" % (" ".join(args), p.stderr.decode()))
    return p.stdout


def frames_of(fmt, data):
    """(width, height, frames) ffprobe reads from the elementary stream @data."""
    p = subprocess.run(["ffprobe", "-v", "error", "-f", fmt, "-count_frames", "-show_entries",
                        "stream=width,height,nb_read_frames", "-of", "csv=p=0", "pipe:"],
                       input=data, capture_output=True, timeout=60)
    return tuple(int(x) for x in p.stdout.decode().strip().split(","))


# ---- an Enhanced-FLV HEVC writer, only to have such a stream to read ------------------------

def amf0_metadata(fields):
    out = b"\x02" + struct.pack(">H", 10) + b"onMetaData" + b"\x08" + struct.pack(">I",
                                                                                 len(fields))
    for k, v in fields.items():
        out += struct.pack(">H", len(k)) + k.encode() + b"\x00" + struct.pack(">d", v)
    return out + b"\x00\x00\x09"


def flv_tag(type_, ts, data):
    head = bytes([type_]) + len(data).to_bytes(3, "big") + (ts & 0xFFFFFF).to_bytes(3, "big") \
        + bytes([(ts >> 24) & 0xFF]) + b"\x00\x00\x00"
    return head + data + struct.pack(">I", 11 + len(data))


def nal_units(es):
    """The NAL units of an Annex B stream."""
    parts = es.split(b"\x00\x00\x01")
    return [p.rstrip(b"\x00") for p in parts[1:] if p.rstrip(b"\x00")]


def enhanced_hevc_flv(es, fps=25):
    params, pictures, pending = {}, [], []
    for nal in nal_units(es):
        t = (nal[0] >> 1) & 0x3F
        if t in (32, 33, 34):
            params.setdefault(t, nal)
        elif t < 32 and nal[2] & 0x80:            # first_slice_segment_in_pic_flag
            pictures.append(pending + [nal])
            pending = []
        elif t < 32 or t == 40:                   # more slices, suffix SEI: the same picture
            pictures[-1].append(nal)
        else:
            pending.append(nal)
    sps = params[33]
    hvcc = bytes([1]) + sps[3:15] + bytes([0xF0, 0x00, 0xFC, 0xFD, 0xF8, 0xF8, 0, 0, 0x0F, 3])
    for t in (32, 33, 34):
        hvcc += bytes([0x80 | t]) + struct.pack(">HH", 1, len(params[t])) + params[t]
    out = b"FLV\x01\x01" + struct.pack(">I", 9) + struct.pack(">I", 0)
    out += flv_tag(18, 0, amf0_metadata({"width": SIZE[0], "height": SIZE[1],
                                         "videocodecid": 12}))
    out += flv_tag(9, 0, b"\x90hvc1" + hvcc)
    for i, nals in enumerate(pictures):
        key = any(16 <= (n[0] >> 1) & 0x3F <= 23 for n in nals)
        body = b"".join(struct.pack(">I", len(n)) + n for n in nals)
        out += flv_tag(9, i * 1000 // fps, bytes([0x80 | (1 if key else 2) << 4 | 1]) + b"hvc1"
                       + b"\x00\x00\x00" + body)
    return out, len(pictures)


class Reader(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="flvtags-")
        lavfi = ["-f", "lavfi", "-i", "testsrc=size=%dx%d:rate=25" % SIZE]
        sine = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000"]
        h264 = os.path.join(cls.dir, "t.flv")
        ffmpeg(*lavfi, *sine, "-t", "2", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset",
               "ultrafast", "-g", "25", "-c:a", "aac", "-ac", "1", h264)
        with open(h264, "rb") as f:
            cls.h264_flv = f.read()
        cls.hevc_es = ffmpeg(*lavfi, "-t", "2", "-pix_fmt", "yuv420p", "-c:v", "libx265",
                             "-preset", "ultrafast", "-x265-params", "keyint=25:log-level=0",
                             "-f", "hevc", "-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def parse(self, data):
        p = Parser()
        p.feed(data)
        return p

    def test_reads_ffmpegs_h264_and_aac(self):
        p = self.parse(self.h264_flv)
        self.assertEqual(p.header_flags, 0x05)
        meta = p.tags[0]
        self.assertEqual((meta.name, meta.value["width"], meta.value["height"],
                          meta.value["videocodecid"], meta.value["audiocodecid"]),
                         ("onMetaData", 320, 240, 7, 10))
        configs = [t for t in p.tags if t.kind == "video" and t.packet == "config"]
        self.assertEqual([(c.config.size, c.config.length_size) for c in configs],
                         [(SIZE, 4)])
        self.assertEqual([t.asc for t in p.tags if t.aac_packet == "config"], [(2, 16000, 1)])
        pictures = [t for t in p.tags if t.is_picture]
        self.assertEqual(len(pictures), 50)
        self.assertTrue(pictures[0].key and flvtags.H264_IDR in pictures[0].nal_types())

    def test_annex_b_and_adts_of_the_tags_decode(self):
        p = self.parse(self.h264_flv)
        self.assertEqual(frames_of("h264", flvtags.annexb(p.tags, "avc", True)), SIZE + (50,))
        ffmpeg("-f", "aac", "-i", "pipe:", "-f", "null", "-", stdin=flvtags.adts(p.tags))

    def test_reads_enhanced_flv_hevc(self):
        flv, n = enhanced_hevc_flv(self.hevc_es)
        p = self.parse(flv)
        seq = p.tags[1]
        self.assertEqual((seq.enhanced, seq.fourcc, seq.packet, seq.config.size),
                         (True, b"hvc1", "config", SIZE))
        pictures = [t for t in p.tags if t.is_picture]
        self.assertEqual(len(pictures), n)
        self.assertTrue(pictures[0].key)
        es = flvtags.annexb(p.tags, "hevc", strip_inband_parameter_sets=True)
        self.assertEqual(frames_of("hevc", es), SIZE + (n,))

    def test_a_byte_at_a_time_gives_the_same_tags(self):
        p = Parser()
        for i in range(len(self.h264_flv)):
            p.feed(self.h264_flv[i:i + 1])
        whole = self.parse(self.h264_flv)
        self.assertEqual([(t.type, t.timestamp, t.size) for t in p.tags],
                         [(t.type, t.timestamp, t.size) for t in whole.tags])

    def test_reads_the_extended_timestamp_byte(self):
        flv = b"FLV\x01\x01" + struct.pack(">II", 9, 0) + flv_tag(18, 0x01000005,
                                                                  amf0_metadata({}))
        self.assertEqual(self.parse(flv).tags[0].timestamp, 0x01000005)

    def test_refuses_what_the_format_does_not_allow(self):
        good = self.h264_flv
        first_tag = 13
        size0 = int.from_bytes(good[first_tag + 1:first_tag + 4], "big")
        prev0 = first_tag + 11 + size0                 # PreviousTagSize1
        video = prev0 + 4                              # the AVC sequence header tag
        avcc = video + 11 + 5

        def at(pos, value):
            return good[:pos] + bytes([value]) + good[pos + 1:]
        bad = {
            "signature": b"FLX" + good[3:],
            "version 2": at(3, 2),
            "reserved header flag": at(4, 0x0D),
            "data offset 10": good[:8] + b"\x0a" + good[9:],
            "PreviousTagSize0 1": good[:12] + b"\x01" + good[13:],
            "PreviousTagSize off by one": at(prev0 + 3, good[prev0 + 3] + 1),
            "tag type 7": at(first_tag, 7),
            "filter bit": at(first_tag, 0x20 | 18),
            "stream id 1": at(first_tag + 10, 1),
            "avcC version 2": at(avcc, 2),
            "avcC reserved bits": at(avcc + 4, good[avcc + 4] & 0x03),
            "codec id 2": at(video + 11, 0x12),
        }
        for what, data in bad.items():
            with self.subTest(what):
                self.assertEqual(good[video], 9, "the test's offsets are off")
                with self.assertRaises(FlvError, msg="accepted: %s" % what):
                    self.parse(data)

    def test_refuses_nal_lengths_that_do_not_fill_the_tag(self):
        pic = flv_tag(9, 0, b"\x17\x01\x00\x00\x00" + struct.pack(">I", 10) + b"\x65" * 5)
        flv = b"FLV\x01\x01" + struct.pack(">II", 9, 0) + pic
        with self.assertRaises(FlvError):
            self.parse(flv)

"""flvtags: a strict FLV reader for the HTTP-FLV and WS-FLV tests (issue 11).

- Parser: FLV bytes in, Tag objects out, fed incrementally. It fails (FlvError) on anything the
  format does not allow: a header other than "FLV", version 1, flags of only video 0x01 and
  audio 0x04, data offset 9 and PreviousTagSize0 0; a PreviousTagSize that is not the size of
  the tag before it; a tag type other than 8, 9, 18, the filter bit, a stream id other than 0;
  AMF0 that does not decode to its end; an AVC or Enhanced-FLV HEVC video tag or an AAC audio
  tag that is cut or malformed (decoder configuration records with their reserved bits, NAL
  units whose lengths do not fill the tag exactly). It does not judge order or timing: the
  tests do, with messages that say what came.
- sps_size(codec, nal): the picture size an H.264 or H.265 sequence parameter set gives.
- annexb(tags, codec): an Annex B elementary stream of the tags' parameter sets and pictures,
  for a decoder (FFmpeg 5.1 cannot read Enhanced-FLV HEVC); adts(tags): the AAC as ADTS.
- HttpFlv and WsFlv: clients of /flv... and /ws/flv... that read incrementally, with a deadline
  on every wait (FlvTimeout when it passes), and record when each tag was complete.
"""

import json
import struct
import time

import rawws
from camtest import StreamClient

TAG_AUDIO, TAG_VIDEO, TAG_SCRIPT = 8, 9, 18
FLAG_AUDIO, FLAG_VIDEO = 0x04, 0x01
AVC_CODEC_ID, HEVC_CODEC_ID, AAC_FORMAT = 7, 12, 10

AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000,
             7350)
H264_SPS, H264_PPS, H264_IDR = 7, 8, 5
H265_VPS, H265_SPS, H265_PPS = 32, 33, 34


class FlvError(AssertionError):
    """The bytes are not valid FLV (or not what this reader can read)."""


class FlvTimeout(AssertionError):
    """A wait of a client passed its deadline."""


# ---- bit-level helpers ----------------------------------------------------------------------

def u24(b):
    return (b[0] << 16) | (b[1] << 8) | b[2]


def si24(b):
    v = u24(b)
    return v - (1 << 24) if v & 0x800000 else v


def unescape_rbsp(nal):
    """@nal without its emulation-prevention bytes (00 00 03 -> 00 00)."""
    out = bytearray()
    zeros = 0
    for byte in nal:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


class BitReader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def u(self, n):
        v = 0
        for _ in range(n):
            if self.pos >= 8 * len(self.data):
                raise FlvError("parameter set ends early (bit %d)" % self.pos)
            v = (v << 1) | ((self.data[self.pos >> 3] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def ue(self):
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise FlvError("Exp-Golomb code longer than 32 bits")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self):
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


# ---- parameter sets -------------------------------------------------------------------------

def nal_type(codec, nal):
    return (nal[0] >> 1) & 0x3F if codec == "hevc" else nal[0] & 0x1F


def _h264_scaling_list(r, size):
    last = nxt = 8
    for _ in range(size):
        if nxt:
            nxt = (last + r.se() + 256) % 256
        last = nxt or last


def h264_sps_size(nal):
    """(width, height) of an H.264 SPS NAL unit (with its header byte)."""
    r = BitReader(unescape_rbsp(nal[1:]))
    profile = r.u(8)
    r.u(16)                      # constraint flags, level
    r.ue()                       # seq_parameter_set_id
    chroma = 1
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        chroma = r.ue()
        if chroma == 3:
            r.u(1)               # separate_colour_plane_flag
        r.ue()
        r.ue()                   # bit depths
        r.u(1)
        if r.u(1):               # seq_scaling_matrix_present_flag
            for i in range(8 if chroma != 3 else 12):
                if r.u(1):
                    _h264_scaling_list(r, 16 if i < 6 else 64)
    r.ue()                       # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()
    elif poc_type == 1:
        r.u(1)
        r.se()
        r.se()
        for _ in range(r.ue()):
            r.se()
    r.ue()                       # max_num_ref_frames
    r.u(1)
    width_mbs = r.ue() + 1
    height_units = r.ue() + 1
    frame_mbs_only = r.u(1)
    if not frame_mbs_only:
        r.u(1)
    r.u(1)                       # direct_8x8_inference_flag
    crop = (0, 0, 0, 0)
    if r.u(1):
        crop = (r.ue(), r.ue(), r.ue(), r.ue())
    sub_w, sub_h = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}[chroma]
    unit_x = 1 if chroma == 0 else sub_w
    unit_y = (2 - frame_mbs_only) * (1 if chroma == 0 else sub_h)
    width = width_mbs * 16 - unit_x * (crop[0] + crop[1])
    height = (2 - frame_mbs_only) * height_units * 16 - unit_y * (crop[2] + crop[3])
    return width, height


def h265_sps_size(nal):
    """(width, height) of an H.265 SPS NAL unit (with its two header bytes)."""
    r = BitReader(unescape_rbsp(nal[2:]))
    r.u(4)                       # sps_video_parameter_set_id
    sub_layers = r.u(3)          # sps_max_sub_layers_minus1
    r.u(1)
    r.u(96)                      # general profile, tier, level
    present = [(r.u(1), r.u(1)) for _ in range(sub_layers)]
    if sub_layers:
        r.u(2 * (8 - sub_layers))
    for profile_present, level_present in present:
        r.u(88 if profile_present else 0)
        r.u(8 if level_present else 0)
    r.ue()                       # sps_seq_parameter_set_id
    chroma = r.ue()
    if chroma == 3:
        r.u(1)
    width, height = r.ue(), r.ue()
    if r.u(1):                   # conformance_window_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        sub_w, sub_h = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}[chroma]
        width -= sub_w * (left + right)
        height -= sub_h * (top + bottom)
    return width, height


def sps_size(codec, nal):
    return h265_sps_size(nal) if codec == "hevc" else h264_sps_size(nal)


class DecoderConfig:
    """An avcC or hvcC record: codec ("avc"/"hevc"), length_size (NAL length bytes), the
    parameter sets as NAL units (vps, sps, pps lists) and the size the first SPS gives."""

    def __init__(self, codec, length_size, vps, sps, pps, raw):
        self.codec, self.length_size = codec, length_size
        self.vps, self.sps, self.pps, self.raw = vps, sps, pps, raw
        self.size = sps_size(codec, sps[0])

    def parameter_sets(self):
        return self.vps + self.sps + self.pps

    def __repr__(self):
        return "%s config %dx%d, %d-byte lengths" % (self.codec, self.size[0], self.size[1],
                                                     self.length_size)


def _take(data, pos, n, what):
    if pos + n > len(data):
        raise FlvError("%s: needs %d bytes at %d, record has %d" % (what, n, pos, len(data)))
    return data[pos:pos + n], pos + n


def parse_avcc(data):
    """An AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1)."""
    if len(data) < 7:
        raise FlvError("avcC of %d bytes" % len(data))
    if data[0] != 1:
        raise FlvError("avcC configurationVersion %d, not 1" % data[0])
    if data[4] & 0xFC != 0xFC or data[5] & 0xE0 != 0xE0:
        raise FlvError("avcC reserved bits not set: %02x %02x" % (data[4], data[5]))
    length_size = (data[4] & 3) + 1
    if length_size == 3:
        raise FlvError("avcC lengthSizeMinusOne 2 (3-byte lengths) is not allowed")
    pos, sps, pps = 6, [], []
    for _ in range(data[5] & 0x1F):
        n, pos = _take(data, pos, 2, "avcC SPS length")
        nal, pos = _take(data, pos, struct.unpack(">H", n)[0], "avcC SPS")
        sps.append(nal)
    n, pos = _take(data, pos, 1, "avcC numOfPictureParameterSets")
    for _ in range(n[0]):
        n2, pos = _take(data, pos, 2, "avcC PPS length")
        nal, pos = _take(data, pos, struct.unpack(">H", n2)[0], "avcC PPS")
        pps.append(nal)
    if not sps or not pps:
        raise FlvError("avcC with %d SPS and %d PPS" % (len(sps), len(pps)))
    for kind, want, nals in (("SPS", H264_SPS, sps), ("PPS", H264_PPS, pps)):
        for nal in nals:
            if not nal or nal[0] & 0x80 or nal[0] & 0x1F != want:
                raise FlvError("avcC %s list holds a NAL unit of type %s" % (
                    kind, nal[0] & 0x1F if nal else "(empty)"))
    if bytes(data[1:4]) != bytes(sps[0][1:4]):
        raise FlvError("avcC profile/compatibility/level %s differ from the SPS's %s"
                       % (data[1:4].hex(), sps[0][1:4].hex()))
    rest = data[pos:]
    if rest and data[1] not in (100, 110, 122, 144, 244):
        raise FlvError("%d bytes after the PPS list of a profile-%d avcC" % (len(rest), data[1]))
    return DecoderConfig("avc", length_size, [], sps, pps, bytes(data))


def parse_hvcc(data):
    """An HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1)."""
    if len(data) < 23:
        raise FlvError("hvcC of %d bytes" % len(data))
    if data[0] != 1:
        raise FlvError("hvcC configurationVersion %d, not 1" % data[0])
    reserved = [(13, 0xF0), (15, 0xFC), (16, 0xFC), (17, 0xF8), (18, 0xF8)]
    for i, bits in reserved:
        if data[i] & bits != bits:
            raise FlvError("hvcC reserved bits of byte %d not set: %02x" % (i, data[i]))
    length_size = (data[21] & 3) + 1
    if length_size == 3:
        raise FlvError("hvcC lengthSizeMinusOne 2 (3-byte lengths) is not allowed")
    pos, arrays = 23, {H265_VPS: [], H265_SPS: [], H265_PPS: []}
    for _ in range(data[22]):
        head, pos = _take(data, pos, 3, "hvcC array header")
        kind = head[0] & 0x3F
        for _ in range(struct.unpack(">H", head[1:3])[0]):
            n, pos = _take(data, pos, 2, "hvcC NAL length")
            nal, pos = _take(data, pos, struct.unpack(">H", n)[0], "hvcC NAL unit")
            if len(nal) < 2 or nal[0] & 0x80 or (nal[0] >> 1) & 0x3F != kind:
                raise FlvError("hvcC array of type %d holds NAL unit %s" % (kind, nal[:2].hex()))
            arrays.setdefault(kind, []).append(nal)
    if pos != len(data):
        raise FlvError("%d bytes after the hvcC arrays" % (len(data) - pos))
    if not (arrays[H265_VPS] and arrays[H265_SPS] and arrays[H265_PPS]):
        raise FlvError("hvcC without VPS, SPS and PPS: %s"
                       % {k: len(v) for k, v in arrays.items()})
    return DecoderConfig("hevc", length_size, arrays[H265_VPS], arrays[H265_SPS],
                         arrays[H265_PPS], bytes(data))


def parse_asc(data):
    """An AudioSpecificConfig: (audio object type, sample rate, channel configuration)."""
    if len(data) < 2:
        raise FlvError("AudioSpecificConfig of %d bytes" % len(data))
    r = BitReader(data)
    aot = r.u(5)
    if aot == 31:
        aot = 32 + r.u(6)
    index = r.u(4)
    rate = r.u(24) if index == 15 else (AAC_RATES[index] if index < len(AAC_RATES) else None)
    if rate is None:
        raise FlvError("AudioSpecificConfig sampling frequency index %d" % index)
    return aot, rate, r.u(4)


# ---- AMF0 -----------------------------------------------------------------------------------

class Amf0:
    """Decodes AMF0 values; every read checks the bounds."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def _bytes(self, n):
        if self.pos + n > len(self.data):
            raise FlvError("AMF0 value cut at byte %d of %d" % (self.pos, len(self.data)))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def _string(self, long=False):
        n = struct.unpack(">I" if long else ">H", self._bytes(4 if long else 2))[0]
        try:
            return self._bytes(n).decode("utf-8")
        except UnicodeDecodeError as e:
            raise FlvError("AMF0 string is not UTF-8: %s" % e) from None

    def _pairs(self):
        out = {}
        while True:
            key = self._string()
            if key == "" and self.data[self.pos:self.pos + 1] == b"\x09":
                self.pos += 1
                return out
            if key in out:
                raise FlvError("AMF0 object repeats the key %r" % key)
            out[key] = self.value()

    def value(self):
        marker = self._bytes(1)[0]
        if marker == 0:
            return struct.unpack(">d", self._bytes(8))[0]
        if marker == 1:
            return self._bytes(1)[0] != 0
        if marker == 2:
            return self._string()
        if marker == 3:
            return self._pairs()
        if marker in (5, 6):
            return None
        if marker == 8:
            self._bytes(4)       # the count is only a hint
            return self._pairs()
        if marker == 10:
            return [self.value() for _ in range(struct.unpack(">I", self._bytes(4))[0])]
        if marker == 11:
            ms = struct.unpack(">d", self._bytes(8))[0]
            self._bytes(2)
            return ms
        if marker == 12:
            return self._string(long=True)
        raise FlvError("AMF0 marker %d at byte %d" % (marker, self.pos - 1))


def parse_script(data):
    """(name, value) of a script data tag; the bytes must hold exactly the two values."""
    amf = Amf0(data)
    name = amf.value()
    if not isinstance(name, str):
        raise FlvError("script tag name is %r, not a string" % (name,))
    value = amf.value()
    if amf.pos != len(data):
        raise FlvError("script tag %r: %d bytes after its value" % (name, len(data) - amf.pos))
    return name, value


# ---- tags -----------------------------------------------------------------------------------

class Tag:
    """One FLV tag. Always: type (8/9/18), kind ("audio"/"video"/"script"), timestamp (ms, the
    extended byte included), offset (of its header in the stream), size (of its data), arrived
    (monotonic time it was complete).
    Video: codec ("avc", "hevc"), enhanced (Enhanced FLV header), first_byte, frame_type
    (1 key, 2 inter, ...), key, packet ("config", "picture", "end"), packet_type (the number
    as written), fourcc, cts, nalus (pictures), config (DecoderConfig of a sequence header).
    Audio: first_byte, sound_format (10 = AAC), aac_packet ("config"/"frame"), asc (aot, rate,
    channels), payload (the raw frame).
    Script: name, value."""

    def __init__(self, type_, timestamp, offset, size, arrived):
        self.type, self.timestamp, self.offset, self.size = type_, timestamp, offset, size
        self.arrived = arrived
        self.kind = {TAG_AUDIO: "audio", TAG_VIDEO: "video", TAG_SCRIPT: "script"}[type_]
        self.codec = self.packet = self.config = self.name = self.value = None
        self.aac_packet = self.asc = self.payload = self.fourcc = None
        self.nalus = []
        self.key = self.enhanced = False
        self.cts = self.frame_type = self.packet_type = self.first_byte = None
        self.sound_format = None

    @property
    def is_picture(self):
        return self.kind == "video" and self.packet == "picture"

    def nal_types(self):
        return [nal_type(self.codec, n) for n in self.nalus]

    def __repr__(self):
        if self.kind == "script":
            return "<script %r @%d>" % (self.name, self.timestamp)
        if self.kind == "audio":
            return "<audio %02x %s @%d, %d B>" % (self.first_byte, self.aac_packet,
                                                   self.timestamp, self.size)
        what = self.packet + (" key" if self.key and self.packet == "picture" else "")
        return "<video %02x %s %s @%d, %d B>" % (self.first_byte, self.codec, what,
                                                 self.timestamp, self.size)


def split_nalus(data, length_size, what):
    out, pos = [], 0
    while pos < len(data):
        if pos + length_size > len(data):
            raise FlvError("%s: %d bytes left, less than a NAL length" % (what, len(data) - pos))
        n = int.from_bytes(data[pos:pos + length_size], "big")
        pos += length_size
        if n == 0 or pos + n > len(data):
            raise FlvError("%s: NAL length %d at byte %d of %d" % (what, n, pos, len(data)))
        out.append(bytes(data[pos:pos + n]))
        pos += n
    return out


class Parser:
    """FLV bytes -> tags. feed(data) returns the tags the new bytes completed. header_flags is
    None until the 13-byte preamble arrived. The NAL length size of pictures is the one the
    last sequence header gave (4 before any)."""

    def __init__(self, keep=True):
        self.buf = bytearray()
        self.header_flags = None
        self.offset = 0          # stream offset of buf[0]
        self.tags = []           # every tag, when @keep
        self.count = 0
        self.keep = keep
        self.last_size = 0       # size of the last tag, for the next PreviousTagSize
        self.length_size = {"avc": 4, "hevc": 4}

    def feed(self, data, now=None):
        now = time.monotonic() if now is None else now
        self.buf += data
        out = []
        if self.header_flags is None:
            if len(self.buf) < 13:
                self._check_signature()
                return out
            self._header()
        while len(self.buf) >= 11:
            size = u24(self.buf[1:4])
            if len(self.buf) < 11 + size + 4:
                break
            tag = self._tag(size, now)
            out.append(tag)
            if self.keep:
                self.tags.append(tag)
            self.count += 1
        return out

    def _check_signature(self):
        if not b"FLV".startswith(bytes(self.buf[:3])):
            raise FlvError("the stream does not start with 'FLV': %r" % bytes(self.buf[:13]))

    def _header(self):
        b = self.buf
        self._check_signature()
        if b[3] != 1:
            raise FlvError("FLV version %d, not 1" % b[3])
        if b[4] & ~(FLAG_AUDIO | FLAG_VIDEO):
            raise FlvError("FLV header flags 0x%02x have reserved bits set" % b[4])
        if struct.unpack(">I", b[5:9])[0] != 9:
            raise FlvError("FLV header DataOffset %d, not 9" % struct.unpack(">I", b[5:9])[0])
        if struct.unpack(">I", b[9:13])[0] != 0:
            raise FlvError("PreviousTagSize0 is %d, not 0" % struct.unpack(">I", b[9:13])[0])
        self.header_flags = b[4]
        del b[:13]
        self.offset = 13

    def _tag(self, size, now):
        b = self.buf
        at = self.offset
        if b[0] & 0xE0:
            raise FlvError("tag at byte %d: reserved/filter bits set in 0x%02x" % (at, b[0]))
        type_ = b[0] & 0x1F
        if type_ not in (TAG_AUDIO, TAG_VIDEO, TAG_SCRIPT):
            raise FlvError("tag at byte %d has type %d" % (at, type_))
        ts = u24(b[4:7]) | (b[7] << 24)
        if ts & 0x80000000:
            ts -= 1 << 32
        if u24(b[8:11]) != 0:
            raise FlvError("tag at byte %d has stream id %d" % (at, u24(b[8:11])))
        data = bytes(b[11:11 + size])
        prev = struct.unpack(">I", b[11 + size:15 + size])[0]
        if prev != 11 + size:
            raise FlvError("PreviousTagSize after the tag at byte %d is %d, the tag has %d"
                           % (at, prev, 11 + size))
        del b[:15 + size]
        self.offset += 15 + size
        tag = Tag(type_, ts, at, size, now)
        if size == 0 and type_ != TAG_SCRIPT:
            raise FlvError("empty %s tag at byte %d" % (tag.kind, at))
        try:
            {TAG_AUDIO: self._audio, TAG_VIDEO: self._video, TAG_SCRIPT: self._script}[type_](
                tag, data)
        except FlvError as e:
            raise FlvError("%s tag at byte %d (@%d ms, %d bytes %s...): %s"
                           % (tag.kind, at, ts, size, data[:16].hex(), e)) from None
        return tag

    def _script(self, tag, data):
        tag.name, tag.value = parse_script(data)

    def _audio(self, tag, data):
        tag.first_byte = data[0]
        tag.sound_format = data[0] >> 4
        if tag.sound_format != AAC_FORMAT:
            return
        if len(data) < 3:
            raise FlvError("AAC tag of %d bytes" % len(data))
        if data[1] == 0:
            tag.aac_packet = "config"
            tag.asc = parse_asc(data[2:])
        elif data[1] == 1:
            tag.aac_packet = "frame"
            tag.payload = data[2:]
        else:
            raise FlvError("AACPacketType %d" % data[1])

    def _video(self, tag, data):
        tag.first_byte = b0 = data[0]
        if b0 & 0x80:
            self._video_enhanced(tag, data)
        else:
            self._video_legacy(tag, data)
        if tag.frame_type not in (1, 2, 3, 4, 5):
            raise FlvError("video frame type %d" % tag.frame_type)
        tag.key = tag.frame_type == 1

    def _video_legacy(self, tag, data):
        tag.frame_type, codec_id = data[0] >> 4, data[0] & 0x0F
        if codec_id not in (AVC_CODEC_ID, HEVC_CODEC_ID):
            raise FlvError("video codec id %d (only 7 AVC and 12 HEVC are read)" % codec_id)
        if len(data) < 5:
            raise FlvError("video tag of %d bytes" % len(data))
        tag.codec = "avc" if codec_id == AVC_CODEC_ID else "hevc"
        tag.packet_type, tag.cts = data[1], si24(data[2:5])
        self._video_body(tag, data[5:], {0: "config", 1: "picture", 2: "end"})

    def _video_enhanced(self, tag, data):
        tag.enhanced = True
        tag.frame_type, tag.packet_type = (data[0] >> 4) & 7, data[0] & 0x0F
        if len(data) < 5:
            raise FlvError("Enhanced FLV video tag of %d bytes" % len(data))
        tag.fourcc = bytes(data[1:5])
        if tag.fourcc != b"hvc1":
            raise FlvError("Enhanced FLV FourCC %r (only hvc1 is read)" % tag.fourcc)
        tag.codec = "hevc"
        body = data[5:]
        if tag.packet_type == 1:          # CodedFrames: SI24 composition time first
            if len(body) < 3:
                raise FlvError("CodedFrames tag without its composition time")
            tag.cts, body = si24(body[:3]), body[3:]
        else:
            tag.cts = 0
        self._video_body(tag, body, {0: "config", 1: "picture", 2: "end", 3: "picture"})

    def _video_body(self, tag, body, packets):
        if tag.packet_type not in packets:
            raise FlvError("video packet type %d" % tag.packet_type)
        tag.packet = packets[tag.packet_type]
        if tag.packet == "config":
            tag.config = parse_avcc(body) if tag.codec == "avc" else parse_hvcc(body)
            self.length_size[tag.codec] = tag.config.length_size
        elif tag.packet == "picture":
            tag.nalus = split_nalus(body, self.length_size[tag.codec], "picture")
            for nal in tag.nalus:
                if nal[0] & 0x80:
                    raise FlvError("NAL unit %s has its forbidden_zero_bit set" % nal[:2].hex())
        elif body:
            raise FlvError("end-of-sequence tag with %d bytes" % len(body))


# ---- re-muxing for decoders -----------------------------------------------------------------

def annexb(tags, codec, strip_inband_parameter_sets=False):
    """The elementary stream: each sequence header's parameter sets, then each picture's NAL
    units, with 4-byte start codes. With @strip_inband_parameter_sets, parameter sets inside
    pictures are left out, so a decoder sees only what the sequence headers said."""
    params = (H265_VPS, H265_SPS, H265_PPS) if codec == "hevc" else (H264_SPS, H264_PPS)
    out = bytearray()
    for t in tags:
        if t.kind != "video" or t.codec != codec:
            continue
        if t.packet == "config":
            nals = t.config.parameter_sets()
        elif t.packet == "picture":
            nals = [n for n in t.nalus if not (strip_inband_parameter_sets
                                               and nal_type(codec, n) in params)]
        else:
            continue
        for n in nals:
            out += b"\x00\x00\x00\x01" + n
    return bytes(out)


def adts(tags):
    """The AAC frames as ADTS (each with the header the last AudioSpecificConfig gives)."""
    out, asc = bytearray(), None
    for t in tags:
        if t.kind != "audio" or t.sound_format != AAC_FORMAT:
            continue
        if t.aac_packet == "config":
            asc = t.asc
            continue
        if asc is None:
            raise FlvError("an AAC frame before any AudioSpecificConfig")
        aot, rate, channels = asc
        n = len(t.payload) + 7
        index = AAC_RATES.index(rate)
        out += bytes([0xFF, 0xF1, ((aot - 1) << 6) | (index << 2) | (channels >> 2),
                      ((channels & 3) << 6) | (n >> 11), (n >> 3) & 0xFF,
                      ((n & 7) << 5) | 0x1F, 0xFC]) + t.payload
    return bytes(out)


# ---- clients --------------------------------------------------------------------------------

class FlvClient:
    """What HttpFlv and WsFlv share: the parser, the received tags, EOF. Subclasses provide
    _receive(deadline) -> bytes of FLV (b"" at the end of the stream) or None (nothing FLV in
    what came, e.g. a WebSocket control frame); it raises FlvTimeout at the deadline."""

    def __init__(self):
        self.parser = Parser()
        self.eof = False
        self.eof_at = None
        self.received = 0        # FLV bytes
        self.opened_at = time.monotonic()

    @property
    def tags(self):
        return self.parser.tags

    @property
    def header_flags(self):
        return self.parser.header_flags

    def pictures(self):
        return [t for t in self.tags if t.is_picture]

    def _pull(self, deadline):
        """Receives once; returns False at the end of the stream."""
        data = self._receive(deadline)
        if data is None:
            return True
        if not data:
            self.eof, self.eof_at = True, time.monotonic()
            return False
        self.received += len(data)
        self.parser.feed(data)
        return True

    def read_until(self, predicate, timeout, what="the condition"):
        """Reads until @predicate(self) holds; fails (FlvTimeout) if it does not within
        @timeout or the stream ends first."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if self.eof:
                raise FlvTimeout("the stream ended before %s: %s" % (what, self.describe()))
            try:
                self._pull(deadline)
            except FlvTimeout:
                raise FlvTimeout("%s not met within %.1f s: %s"
                                 % (what, timeout, self.describe())) from None
        return self

    def read_tags(self, n, timeout):
        return self.read_until(lambda c: len(c.tags) >= n, timeout, "%d tags" % n)

    def read_pictures(self, n, timeout):
        return self.read_until(lambda c: sum(1 for t in c.tags if t.is_picture) >= n, timeout,
                               "%d pictures" % n)

    def read_for(self, seconds):
        """Reads for @seconds (or until the end); returns the tags that came meanwhile."""
        first = len(self.tags)
        deadline = time.monotonic() + seconds
        while not self.eof:
            try:
                self._pull(deadline)
            except FlvTimeout:
                break
        return self.tags[first:]

    def read_until_eof(self, timeout):
        """Reads until the server ends the stream; its monotonic time, None on timeout."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            try:
                self._pull(deadline)
            except FlvTimeout:
                return None
        return self.eof_at

    def describe(self):
        tags = self.tags
        shown = tags[:6] + (["..."] if len(tags) > 9 else []) + tags[max(6, len(tags) - 3):]
        return "%d FLV bytes, %d tags %s, eof %s" % (self.received, len(tags), shown, self.eof)


class HttpFlv(FlvClient, StreamClient):
    """GET @path on 127.0.0.1:@port over a plain socket, HTTP/1.1. read_head() reads the
    status and headers (and a non-FLV answer's whole body, into body); then the FLV body is
    read incrementally, as the close-delimited body it is (a chunked one fails the parser)."""

    Timeout = FlvTimeout

    def __init__(self, port, path, rcvbuf=None, timeout=10.0, headers=None):
        FlvClient.__init__(self)
        self.port, self.path = port, path
        extra = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
        StreamClient.__init__(self, port, ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n"
                                           % (path, port, extra)).encode(), rcvbuf, timeout)
        self.raw = bytearray()   # received, not yet consumed
        self.status = None
        self.headers = {}
        self.body = b""

    def read_head(self, timeout=15.0):
        """The status; headers in .headers (lower-case names); a non-FLV body in .body."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.raw:
            data = self._recv_raw(deadline)
            if not data:
                raise AssertionError("GET %s: connection closed before the response head: %r"
                                     % (self.path, bytes(self.raw[:300])))
            self.raw += data
        head, _, rest = bytes(self.raw).partition(b"\r\n\r\n")
        self.raw = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        self.status_line = lines[0]
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        if self.headers.get("content-type", "").split(";")[0].strip() != "video/x-flv":
            self._read_whole_body(deadline)
        return self.status

    def _read_whole_body(self, deadline):
        length = self.headers.get("content-length")
        while length is None or len(self.raw) < int(length):
            data = self._recv_raw(deadline)
            if not data:
                break
            self.raw += data
        self.body = bytes(self.raw if length is None else self.raw[:int(length)])

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def _receive(self, deadline):
        if self.status is None:
            self.read_head(deadline - time.monotonic())
        if self.raw:
            data, self.raw = bytes(self.raw), bytearray()
            return data
        return self._recv_raw(deadline)

    def describe(self):
        return "GET %s: %s; %s" % (self.path, self.status_line if self.status else "no answer",
                                    super().describe())


class WsFlv(FlvClient, StreamClient):
    """A WebSocket client of /ws/flv... (rawws framing on a plain socket). Binary messages are
    the FLV byte stream; text messages are kept in texts; the close frame's code in
    close_code (1006 when the TCP connection just ended). A refused upgrade leaves its HTTP
    status and body in status and body, and the client ended."""

    Timeout = FlvTimeout

    def __init__(self, port, path, rcvbuf=None, timeout=10.0, headers=()):
        FlvClient.__init__(self)
        self.port, self.path = port, path
        self.key = rawws.new_key()
        StreamClient.__init__(self, port, rawws.handshake(path, self.key, extra_headers=headers),
                              rcvbuf, timeout)
        self.parser_ws = rawws.Parser(keep_binary=True)
        self.status = None
        self.body = b""
        self.texts = []
        self.messages = 0        # binary messages
        self.close_code = None
        self._pending = []
        self._head = bytearray()

    def close(self):
        try:
            if self.status == 101 and not self.eof:
                self.sock.send(rawws.close_frame(1000))
        except OSError:
            pass
        StreamClient.close(self)

    def open(self, timeout=15.0):
        """Reads the upgrade answer: its status (101 when upgraded)."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self._head:
            data = self._recv_raw(deadline)
            if not data:
                raise AssertionError("WS %s: connection closed during the handshake: %r"
                                     % (self.path, bytes(self._head[:300])))
            self._head += data
        head, _, rest = bytes(self._head).partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        if self.status != 101:
            body = bytearray(rest)
            length = int(self.headers.get("content-length", "-1"))
            while len(body) < length:
                data = self._recv_raw(deadline)
                if not data:
                    break
                body += data
            self.body = bytes(body)
            self.eof, self.eof_at = True, time.monotonic()
            return self.status
        if self.headers.get("sec-websocket-accept") != rawws.accept_for(self.key):
            raise AssertionError("WS %s: wrong Sec-WebSocket-Accept %r"
                                 % (self.path, self.headers.get("sec-websocket-accept")))
        self._pending = self.parser_ws.feed(rest)
        return self.status

    def _receive(self, deadline):
        if self.status is None:
            self.open(deadline - time.monotonic())
            if self.status != 101:
                return b""
        if not self._pending:
            data = self._recv_raw(deadline)
            if not data:
                if self.close_code is None:
                    self.close_code = 1006
                return b""
            self._pending = self.parser_ws.feed(data)
        out = bytearray()
        while self._pending:
            opcode, payload = self._pending.pop(0)
            if opcode == rawws.OP_BINARY:
                self.messages += 1
                out += payload
            elif opcode == rawws.OP_TEXT:
                self.texts.append(payload.decode("utf-8", "replace"))
            elif opcode == rawws.OP_PING:
                try:
                    self.sock.send(rawws.frame(rawws.OP_PONG, payload))
                except OSError:
                    pass
            elif opcode == rawws.OP_CLOSE:
                self.close_code = rawws.close_code(payload)
                try:
                    self.sock.send(rawws.close_frame(self.close_code
                                                     if self.close_code != 1005 else 1000))
                except OSError:
                    pass
                if out:
                    self.parser.feed(bytes(out))
                    self.received += len(out)
                return b""
        return bytes(out) if out else None

    def describe(self):
        return "WS %s: status %s, %d messages, texts %r, close %s; %s" % (
            self.path, self.status, self.messages, self.texts, self.close_code,
            super().describe())

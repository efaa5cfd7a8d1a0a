"""hlscheck: a checker of the LL-HLS media playlists and fMP4 (CMAF) media camstream serves
(issue 13), for the rules of RFC 8216bis we rely on; Apple's mediastreamvalidator is not
available. Pure Python standard library; its own specification is test_hlscheck.py.

Playlists (parse_playlist, check_playlist, Checker for a run of reloads):
- #EXTM3U first; EXT-X-VERSION present (>= 6 with EXT-X-MAP); EXT-X-TARGETDURATION present and
  every EXTINF, rounded to the nearest integer, <= it; HOLD-BACK (if given) >= 3 x it;
- EXT-X-PART-INF:PART-TARGET present; every EXT-X-PART DURATION <= PART-TARGET (1 ms tolerance)
  and >= 85 % of it unless INDEPENDENT=YES or the last part of its segment;
  EXT-X-SERVER-CONTROL CAN-BLOCK-RELOAD=YES and PART-HOLD-BACK >= 3 x PART-TARGET;
- the parts of a complete segment add up to its EXTINF (within a frame); the first part of each
  segment is INDEPENDENT=YES;
- EXT-X-PRELOAD-HINT TYPE=PART names the part after the last one listed (none after
  EXT-X-ENDLIST); EXT-X-MAP comes before the first segment or part; EXT-X-PROGRAM-DATE-TIME
  goes forward from segment to segment; no URI twice;
- with the contract's names (CONTRACT_NAMES: seg{MSN}.m4s, part{N}.m4s) each segment's URI
  carries its media sequence number and parts are numbered N, N+1, N+2... across segments, so
  the preload hint is part{N+1} for the last part N listed;
- across reloads (Checker): EXT-X-MEDIA-SEQUENCE and EXT-X-DISCONTINUITY-SEQUENCE never go
  back, the playlist never loses its newest segment or part, a segment or part seen before
  keeps its URI, duration, date, flags and discontinuity sequence number, and segments leave
  the window only while at least 3 target durations remain.

fMP4 (parse_init, parse_fragments, MediaTracker):
- the init segment is ftyp then moov (mvhd, a trak per track with its handler, timescale and
  sample entry: avc1+avcC or hvc1+hvcC for video, mp4a+esds for audio; empty sample tables;
  mvex with a trex per track) and nothing else;
- a part (or a segment, the concatenation of its parts) is moof+mdat pairs; each traf has tfhd,
  tfdt and trun; the samples the truns describe fill the mdat exactly (sizes and data offsets);
- MediaTracker: per track, tfdt of consecutive fragments is continuous (within one sample),
  the first video sample of a segment is a sync sample, a part is INDEPENDENT=YES exactly when
  it starts with a sync sample (a key picture inside a part does not make it one: a player
  that starts at a part decodes from its first picture); video samples are 4-byte-length NAL
  units that fill the sample exactly, without parameter sets for H.265 (hvc1: they are in
  the init segment; H.264 samples keep the camera's in-band ones, as the contract has it).

Problems are strings "rule: what is wrong"; check functions return a list of them, the
assert_* helpers and Checker.check raise HlsError with them all.
"""

import datetime
import re
import struct

TOLERANCE = 0.001          # 1 ms: the rounding of a duration written with 3 or more decimals
FRAME = 0.04               # default "within a frame" (25 frames/s)
MIN_PART_RATIO = 0.85      # RFC 8216bis 4.4.4.9: parts >= 85 % of PART-TARGET (with exceptions)


class HlsError(AssertionError):
    """A playlist or fMP4 file breaks a rule; .problems lists them all."""

    def __init__(self, problems, what=""):
        self.problems = list(problems)
        head = (what + ": " if what else "")
        super().__init__(head + "; ".join(self.problems))


# ---- playlist parsing -----------------------------------------------------------------------

_ATTR_RE = re.compile(r'([A-Z0-9-]+)=("[^"\r\n]*"|[^",\s]*)(?:,|$)')


def parse_attributes(text):
    """An attribute list (RFC 8216 4.2): {NAME: value}, quoted strings without their quotes.
    Raises ValueError on text that is not an attribute list."""
    out = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _ATTR_RE.match(text, pos)
        if not m:
            raise ValueError("not an attribute list at %r" % text[pos:pos + 40])
        name, value = m.group(1), m.group(2)
        if name in out:
            raise ValueError("attribute %s given twice" % name)
        out[name] = value[1:-1] if value.startswith('"') else value
        pos = m.end()
    return out


def parse_date(text):
    """An ISO 8601 date-time with a time zone, as EXT-X-PROGRAM-DATE-TIME has it."""
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    d = datetime.datetime.fromisoformat(t)
    if d.tzinfo is None:
        raise ValueError("no time zone in %r" % text)
    return d


class Part:
    def __init__(self, duration, uri, independent=False, gap=False, line=0):
        self.duration = duration
        self.uri = uri
        self.independent = independent
        self.gap = gap
        self.line = line
        self.msn = None       # the media sequence number of its parent segment
        self.index = None     # its place in the parent segment, from 0

    def key(self):
        return (self.msn, self.index)

    def __repr__(self):
        return "Part(%s.%s %.5f %s%s)" % (self.msn, self.index, self.duration, self.uri,
                                          " INDEPENDENT" if self.independent else "")


class Segment:
    def __init__(self, msn, duration, uri, parts, pdt, discontinuity, map_uri, line=0):
        self.msn = msn
        self.duration = duration
        self.uri = uri
        self.parts = parts
        self.pdt = pdt                    # datetime of an EXT-X-PROGRAM-DATE-TIME before it
        self.discontinuity = discontinuity
        self.map_uri = map_uri            # the EXT-X-MAP in force
        self.line = line
        self.dsn = None                   # its discontinuity sequence number
        self.gap = False                  # EXT-X-GAP: listed, never to be fetched

    def __repr__(self):
        return "Segment(%d %.5f %s, %d parts)" % (self.msn, self.duration, self.uri,
                                                  len(self.parts))


class Playlist:
    """A parsed media playlist. segments: the complete segments; pending: the parts of the
    segment in progress (listed after the last segment's URI); problems: what could not be
    parsed (check_playlist adds them to its own)."""

    def __init__(self, text):
        self.text = text
        self.version = None
        self.target_duration = None
        self.media_sequence = 0
        self.media_sequence_given = False
        self.discontinuity_sequence = 0
        self.server_control = None
        self.part_inf = None
        self.segments = []
        self.pending = []
        self.preload_hints = []
        self.endlist = False
        self.maps = []                   # (line index, URI)
        self.first_media_line = None     # the line of the first EXTINF or EXT-X-PART
        self.problems = []
        self.pending_pdt = None
        self.pending_discontinuity = False
        self.pending_gap = False
        self.gaps = []                   # the EXT-X-GAP segments in front of the real ones

    @property
    def part_target(self):
        return self.part_inf.get("PART-TARGET") if self.part_inf else None

    @property
    def next_msn(self):
        """The media sequence number of the segment in progress (after the last complete one)."""
        return self.media_sequence + len(self.segments)

    @property
    def last_msn(self):
        return self.next_msn - 1

    def all_parts(self):
        return [p for s in self.segments for p in s.parts] + list(self.pending)

    def last_part(self):
        """(msn, index) of the newest part listed, or None."""
        parts = self.all_parts()
        return parts[-1].key() if parts else None

    def part(self, msn, index):
        for p in self.all_parts():
            if p.key() == (msn, index):
                return p
        return None

    def segment(self, msn):
        for s in self.segments:
            if s.msn == msn:
                return s
        return None

    def has(self, msn, index=None):
        """True if segment @msn is complete in this playlist or (with @index) part @index of
        segment @msn, or anything later, is listed (RFC 8216bis 6.2.5.2's "or later")."""
        if self.last_msn >= msn:
            return True
        if index is None:
            return False
        last = self.last_part()
        return last is not None and last >= (msn, index)

    def hint_uri(self):
        hints = [h for h in self.preload_hints if h.get("TYPE") == "PART"]
        return hints[0].get("URI") if hints else None

    def uris(self):
        out = [m for _, m in self.maps]
        for s in self.segments:
            out += [p.uri for p in s.parts] + [s.uri]
        return out + [p.uri for p in self.pending]

    def duration(self):
        return sum(s.duration for s in self.segments)


def _number(text, what, problems, kind=float):
    try:
        v = kind(text)
    except ValueError:
        problems.append("syntax: %s is not a number: %r" % (what, text))
        return None
    return v


def parse_playlist(text):
    """Parses a media playlist; syntax problems are kept in .problems (never raises)."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "replace")
    pl = Playlist(text)
    lines = text.splitlines()
    if not lines or lines[0].rstrip("\r") != "#EXTM3U":
        pl.problems.append("extm3u: the first line is %r, not #EXTM3U"
                           % (lines[0] if lines else ""))
    parts = []
    extinf = None
    current_map = None
    seen_once = set()
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("#"):
            if extinf is None:
                pl.problems.append("syntax: line %d, URI %r without EXTINF" % (i + 1, line))
                continue
            seg = Segment(pl.media_sequence + len(pl.segments), extinf, line, parts,
                          pl.pending_pdt, pl.pending_discontinuity, current_map, i)
            seg.gap = pl.pending_gap
            for k, p in enumerate(parts):
                p.msn, p.index = seg.msn, k
            pl.segments.append(seg)
            parts, extinf = [], None
            pl.pending_pdt, pl.pending_discontinuity, pl.pending_gap = None, False, False
            continue
        if not line.startswith("#EXT"):
            continue                       # a comment
        name, _, value = line.partition(":")
        if name in ("#EXT-X-VERSION", "#EXT-X-TARGETDURATION", "#EXT-X-MEDIA-SEQUENCE",
                    "#EXT-X-DISCONTINUITY-SEQUENCE", "#EXT-X-SERVER-CONTROL",
                    "#EXT-X-PART-INF", "#EXT-X-ENDLIST"):
            if name in seen_once:
                pl.problems.append("syntax: %s appears more than once" % name)
            seen_once.add(name)
        if name == "#EXT-X-VERSION":
            pl.version = _number(value, name, pl.problems, int)
        elif name == "#EXT-X-TARGETDURATION":
            pl.target_duration = _number(value, name, pl.problems, int)
        elif name in ("#EXT-X-MEDIA-SEQUENCE", "#EXT-X-DISCONTINUITY-SEQUENCE"):
            if pl.segments or parts or extinf is not None:
                pl.problems.append("syntax: %s after the first segment" % name)
            v = _number(value, name, pl.problems, int)
            if v is not None:
                if name == "#EXT-X-MEDIA-SEQUENCE":
                    pl.media_sequence, pl.media_sequence_given = v, True
                else:
                    pl.discontinuity_sequence = v
        elif name in ("#EXT-X-SERVER-CONTROL", "#EXT-X-PART-INF", "#EXT-X-PART",
                      "#EXT-X-PRELOAD-HINT", "#EXT-X-MAP"):
            try:
                attrs = parse_attributes(value)
            except ValueError as e:
                pl.problems.append("syntax: line %d, %s: %s" % (i + 1, name, e))
                continue
            if name == "#EXT-X-SERVER-CONTROL":
                pl.server_control = attrs
                for k in ("PART-HOLD-BACK", "HOLD-BACK", "CAN-SKIP-UNTIL"):
                    if k in attrs:
                        attrs[k] = _number(attrs[k], k, pl.problems)
            elif name == "#EXT-X-PART-INF":
                pl.part_inf = attrs
                if "PART-TARGET" in attrs:
                    attrs["PART-TARGET"] = _number(attrs["PART-TARGET"], "PART-TARGET",
                                                   pl.problems)
            elif name == "#EXT-X-PART":
                if pl.first_media_line is None:
                    pl.first_media_line = i
                if "DURATION" not in attrs or "URI" not in attrs:
                    pl.problems.append("syntax: line %d, EXT-X-PART without DURATION or URI"
                                       % (i + 1))
                    continue
                d = _number(attrs["DURATION"], "DURATION", pl.problems)
                if d is None:
                    continue
                parts.append(Part(d, attrs["URI"], attrs.get("INDEPENDENT") == "YES",
                                  attrs.get("GAP") == "YES", i))
            elif name == "#EXT-X-PRELOAD-HINT":
                attrs["line"] = i
                pl.preload_hints.append(attrs)
            else:
                if "URI" not in attrs:
                    pl.problems.append("syntax: line %d, EXT-X-MAP without URI" % (i + 1))
                    continue
                current_map = attrs["URI"]
                pl.maps.append((i, current_map))
        elif name == "#EXTINF":
            if pl.first_media_line is None:
                pl.first_media_line = i
            dur, _, _title = value.partition(",")
            extinf = _number(dur, "EXTINF", pl.problems)
            if extinf is None:
                extinf = 0.0
        elif name == "#EXT-X-PROGRAM-DATE-TIME":
            try:
                pl.pending_pdt = parse_date(value)
            except ValueError as e:
                pl.problems.append("syntax: line %d, EXT-X-PROGRAM-DATE-TIME %r: %s"
                                   % (i + 1, value, e))
        elif name == "#EXT-X-DISCONTINUITY":
            pl.pending_discontinuity = True
        elif name == "#EXT-X-GAP":
            pl.pending_gap = True
        elif name == "#EXT-X-ENDLIST":
            pl.endlist = True
    if extinf is not None:
        pl.problems.append("syntax: EXTINF without a URI at the end")
    # A young playlist's gaps (the contract): only in front, no parts, never a discontinuity.
    # They count in the media sequence; the checks below see the real segments only.
    while pl.segments and pl.segments[0].gap:
        g = pl.segments.pop(0)
        if g.parts or g.discontinuity or not g.uri.split("?")[0].endswith("gap.mp4"):
            pl.problems.append("gap: segment %d (%s) has parts, a discontinuity or another URI"
                               % (g.msn, g.uri))
        pl.gaps.append(g)
        pl.media_sequence += 1
    if any(s.gap for s in pl.segments):
        pl.problems.append("gap: an EXT-X-GAP after a real segment")
    if pl.gaps and len(pl.gaps) + len(pl.segments) > 3:
        pl.problems.append("gap: %d gaps in front of %d segments (gaps only fill to three)"
                           % (len(pl.gaps), len(pl.segments)))
    dsn = pl.discontinuity_sequence
    for seg in pl.segments:
        dsn += 1 if seg.discontinuity else 0
        seg.dsn = dsn
    for k, p in enumerate(parts):
        p.msn, p.index = pl.next_msn, k
    pl.pending = parts
    return pl


# ---- the contract's names -------------------------------------------------------------------

class Names:
    """Where a playlist's URIs carry the segment's media sequence number and the part's number
    (parts numbered across segments)."""

    def __init__(self, segment, part):
        self.segment_re = re.compile(segment)
        self.part_re = re.compile(part)

    def segment_msn(self, uri):
        m = self.segment_re.search(uri)
        return int(m.group(1)) if m else None

    def part_number(self, uri):
        m = self.part_re.search(uri)
        return int(m.group(1)) if m else None

    def with_part_number(self, uri, n):
        """@uri (a part's) with part number @n."""
        m = self.part_re.search(uri)
        return uri[:m.start(1)] + str(n) + uri[m.end(1):]

    def with_segment_msn(self, uri, msn):
        """@uri (a part's or a segment's, of the same folder) for segment @msn."""
        head, sep, _ = uri.rpartition("/")
        return head + sep + "seg%d.m4s" % msn


# (a query after the name: /hls/ playlists name their camera there, docs/DEPLOY.md)
CONTRACT_NAMES = Names(r"(?:^|/)seg(\d+)\.m4s(?:\?[^#]*)?$",
                       r"(?:^|/)part(\d+)\.m4s(?:\?[^#]*)?$")


def hint_after(pl, names=CONTRACT_NAMES):
    """The URI the preload hint should have: part N+1 for the last part N listed (None when
    no part is listed)."""
    parts = pl.all_parts()
    if not parts or names.part_number(parts[-1].uri) is None:
        return None
    return names.with_part_number(parts[-1].uri, names.part_number(parts[-1].uri) + 1)


# ---- playlist rules -------------------------------------------------------------------------

def _round(d):
    return int(d + 0.5)


def check_playlist(pl, frame=FRAME, low_latency=True, names=CONTRACT_NAMES):
    """The rules a single playlist must keep; returns the problems (a list of strings)."""
    if isinstance(pl, (str, bytes, bytearray)):
        pl = parse_playlist(pl)
    p = list(pl.problems)
    # header
    if pl.version is None:
        p.append("version: no EXT-X-VERSION")
    elif pl.maps and pl.version < 6:
        p.append("version: EXT-X-MAP in a media playlist needs version 6 or more, got %d"
                 % pl.version)
    td = pl.target_duration
    if td is None:
        p.append("targetduration: no EXT-X-TARGETDURATION")
    else:
        for s in pl.segments:
            if _round(s.duration) > td:
                p.append("targetduration: segment %d lasts %.5f s, rounded %d > "
                         "TARGETDURATION %d" % (s.msn, s.duration, _round(s.duration), td))
    sc = pl.server_control or {}
    if td is not None and sc.get("HOLD-BACK") is not None and sc["HOLD-BACK"] < 3 * td - TOLERANCE:
        p.append("hold-back: HOLD-BACK %.3f < 3 x TARGETDURATION %d" % (sc["HOLD-BACK"], td))
    all_parts = pl.all_parts()
    pt = pl.part_target
    if low_latency or all_parts:
        if pt is None:
            p.append("part-inf: no EXT-X-PART-INF:PART-TARGET")
        if sc.get("CAN-BLOCK-RELOAD") != "YES":
            p.append("can-block-reload: EXT-X-SERVER-CONTROL has CAN-BLOCK-RELOAD=%s"
                     % sc.get("CAN-BLOCK-RELOAD"))
        phb = sc.get("PART-HOLD-BACK")
        if phb is None:
            p.append("hold-back: no PART-HOLD-BACK")
        elif pt is not None and phb < 3 * pt - TOLERANCE:
            p.append("hold-back: PART-HOLD-BACK %.3f < 3 x PART-TARGET %.3f" % (phb, pt))
    # parts
    if pt is not None:
        groups = [(s.parts, True) for s in pl.segments] + [(pl.pending, False)]
        for parts, complete in groups:
            for k, part in enumerate(parts):
                if part.duration > pt + TOLERANCE:
                    p.append("part-duration: part %d.%d lasts %.5f s > PART-TARGET %.5f"
                             % (part.msn, part.index, part.duration, pt))
                last = k == len(parts) - 1
                if part.duration < MIN_PART_RATIO * pt - TOLERANCE and not part.independent \
                        and not last:
                    p.append("part-short: part %d.%d lasts %.5f s < 85 %% of PART-TARGET "
                             "%.5f and is neither INDEPENDENT nor its segment's last"
                             % (part.msn, part.index, part.duration, pt))
    for s in pl.segments:
        if s.parts and abs(sum(x.duration for x in s.parts) - s.duration) > frame + TOLERANCE:
            p.append("part-sum: the parts of segment %d add up to %.5f s, its EXTINF is %.5f"
                     % (s.msn, sum(x.duration for x in s.parts), s.duration))
    for s_parts in [s.parts for s in pl.segments] + [pl.pending]:
        if s_parts and not s_parts[0].independent:
            p.append("independent-first: the first part of segment %d (%s) is not "
                     "INDEPENDENT=YES" % (s_parts[0].msn, s_parts[0].uri))
    # names
    if names is not None:
        for s in pl.segments:
            got = names.segment_msn(s.uri)
            if got != s.msn:
                p.append("naming: segment %d has the URI %r" % (s.msn, s.uri))
        numbers = [names.part_number(x.uri) for x in all_parts]
        for part, n in zip(all_parts, numbers):
            if n is None:
                p.append("naming: part %d.%d has the URI %r" % (part.msn, part.index, part.uri))
        if None not in numbers:
            for a, b, part in zip(numbers, numbers[1:], all_parts[1:]):
                if b != a + 1:
                    p.append("naming: part %d.%d is number %d after number %d (parts are "
                             "numbered one by one across segments)" % (part.msn, part.index,
                                                                      b, a))
    # preload hint
    hints = pl.preload_hints
    if pl.endlist:
        if hints:
            p.append("preload-hint: a preload hint after EXT-X-ENDLIST: %r" % hints)
    elif low_latency:
        part_hints = [h for h in hints if h.get("TYPE") == "PART"]
        if len(part_hints) != 1:
            p.append("preload-hint: %d EXT-X-PRELOAD-HINT:TYPE=PART, expected 1: %r"
                     % (len(part_hints), hints))
        for h in hints:
            if h.get("TYPE") not in ("PART", "MAP") or "URI" not in h:
                p.append("preload-hint: bad hint %r" % h)
        if part_hints:
            uri = part_hints[0].get("URI")
            if uri in [x.uri for x in all_parts]:
                p.append("preload-hint: the hint %r is a part already listed" % uri)
            if names is not None and all_parts:
                want = hint_after(pl, names)
                if want is not None and uri != want:
                    p.append("preload-hint: the hint is %r, the part after the last one listed "
                             "(%s) is %r" % (uri, pl.last_part(), want))
            if part_hints[0]["line"] < (pl.segments[-1].line if pl.segments else -1):
                p.append("preload-hint: the hint comes before the last segment")
    # the map
    if pl.first_media_line is not None:
        if not pl.maps:
            p.append("map: no EXT-X-MAP")
        elif pl.maps[0][0] > pl.first_media_line:
            p.append("map: the first EXT-X-MAP (line %d) comes after the first segment or part "
                     "(line %d)" % (pl.maps[0][0] + 1, pl.first_media_line + 1))
    # dates
    prev = None
    for s in pl.segments:
        if s.pdt is not None:
            if prev is not None and s.pdt <= prev[1]:
                p.append("pdt: segment %d's PROGRAM-DATE-TIME %s is not after segment %d's %s"
                         % (s.msn, s.pdt.isoformat(), prev[0], prev[1].isoformat()))
            prev = (s.msn, s.pdt)
    # unique URIs
    uris = [s.uri for s in pl.segments] + [x.uri for x in all_parts]
    dups = sorted({u for u in uris if uris.count(u) > 1})
    if dups:
        p.append("uri-unique: URIs listed twice: %s" % dups)
    return p


def check_reload(prev, cur, frame=FRAME):
    """The rules between two consecutive loads of the same playlist (same session)."""
    p = []
    if cur.media_sequence < prev.media_sequence:
        p.append("media-sequence-back: EXT-X-MEDIA-SEQUENCE went from %d to %d"
                 % (prev.media_sequence, cur.media_sequence))
    if cur.discontinuity_sequence < prev.discontinuity_sequence:
        p.append("discontinuity-sequence-back: from %d to %d"
                 % (prev.discontinuity_sequence, cur.discontinuity_sequence))
    if cur.last_msn < prev.last_msn:
        p.append("playlist-back: the last complete segment went from %d to %d"
                 % (prev.last_msn, cur.last_msn))
    lp, lc = prev.last_part(), cur.last_part()
    if lp is not None and lc is not None and lc < lp:
        p.append("playlist-back: the newest part went from %s to %s" % (lp, lc))
    for s in cur.segments:
        old = prev.segment(s.msn)
        if old is None:
            continue
        if old.uri != s.uri or abs(old.duration - s.duration) > 1e-6:
            p.append("segment-changed: segment %d was %s %.5f, now %s %.5f"
                     % (s.msn, old.uri, old.duration, s.uri, s.duration))
        if old.pdt is not None and s.pdt is not None and old.pdt != s.pdt:
            p.append("segment-changed: segment %d's PROGRAM-DATE-TIME was %s, now %s"
                     % (s.msn, old.pdt.isoformat(), s.pdt.isoformat()))
        if old.discontinuity != s.discontinuity and s.msn != cur.media_sequence:
            p.append("segment-changed: segment %d's EXT-X-DISCONTINUITY changed" % s.msn)
        if old.dsn != s.dsn:
            p.append("discontinuity-number: segment %d's discontinuity sequence number was %d, "
                     "now %d (RFC 8216bis 6.2.2: removing a tag increments "
                     "EXT-X-DISCONTINUITY-SEQUENCE)" % (s.msn, old.dsn, s.dsn))
    for part in cur.all_parts():
        old = prev.part(*part.key())
        if old is None:
            continue
        if (old.uri, old.independent) != (part.uri, part.independent) or \
                abs(old.duration - part.duration) > 1e-6:
            p.append("part-changed: part %d.%d was %r, now %r" % (part.msn, part.index, old,
                                                                  part))
    # a complete segment keeps its parts' count once listed complete
    for s in cur.segments:
        old = prev.segment(s.msn)
        if old is not None and old.parts and s.parts and len(old.parts) != len(s.parts):
            p.append("part-changed: segment %d had %d parts, now %d" % (s.msn, len(old.parts),
                                                                      len(s.parts)))
    # pending parts of before must be the same parts now
    for old in prev.pending:
        s = cur.segment(old.msn)
        if s is not None and s.parts and old.index < len(s.parts):
            new = s.parts[old.index]
            if new.uri != old.uri or abs(new.duration - old.duration) > 1e-6:
                p.append("part-changed: part %d.%d was %r, now %r" % (old.msn, old.index, old,
                                                                      new))
    if cur.media_sequence > prev.media_sequence and not cur.endlist and \
            cur.target_duration is not None and \
            cur.duration() < 3 * cur.target_duration - frame:
        p.append("window-short: segments were removed leaving %.3f s < 3 x TARGETDURATION"
                 % cur.duration())
    return p


class Checker:
    """Checks each load of one playlist and each against the one before. feed() returns the
    parsed playlist and its problems; check() raises HlsError on any."""

    def __init__(self, frame=FRAME, low_latency=True, names=CONTRACT_NAMES):
        self.frame = frame
        self.low_latency = low_latency
        self.names = names
        self.prev = None
        self.loads = 0

    def feed(self, text):
        pl = text if isinstance(text, Playlist) else parse_playlist(text)
        problems = check_playlist(pl, self.frame, self.low_latency, self.names)
        if self.prev is not None:
            problems += check_reload(self.prev, pl, self.frame)
        self.prev = pl
        self.loads += 1
        return pl, problems

    def check(self, text, what="playlist"):
        pl, problems = self.feed(text)
        if problems:
            raise HlsError(problems, "%s (load %d):\n%s\n" % (what, self.loads, pl.text))
        return pl


def assert_playlist(text, **kw):
    pl = parse_playlist(text)
    problems = check_playlist(pl, **kw)
    if problems:
        raise HlsError(problems, "playlist:\n%s\n" % pl.text)
    return pl


# ---- fMP4 -----------------------------------------------------------------------------------

class Fmp4Error(HlsError):
    pass


CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf",
              b"dinf", b"edts", b"udta"}
VISUAL = {b"avc1", b"avc3", b"hvc1", b"hev1"}
AUDIO = {b"mp4a"}


class Box:
    def __init__(self, type_, start, size, header, data):
        self.type = type_
        self.start = start          # offset of the box in the buffer
        self.size = size
        self.header = header        # 8 or 16
        self.data = data            # the whole buffer
        self.children = []

    @property
    def payload_start(self):
        return self.start + self.header

    @property
    def end(self):
        return self.start + self.size

    def payload(self):
        return self.data[self.payload_start:self.end]

    def find(self, *path):
        """The first descendant along @path of box types (bytes), or None."""
        box = self
        for t in path:
            box = next((c for c in box.children if c.type == t), None)
            if box is None:
                return None
        return box

    def all(self, t):
        return [c for c in self.children if c.type == t]

    def __repr__(self):
        return "Box(%s @%d +%d)" % (self.type.decode("latin-1"), self.start, self.size)


def read_boxes(data, start=0, end=None, where="file"):
    """The boxes of @data[start:end], each with its children read when it is a container (or a
    sample description / sample entry). Raises Fmp4Error on a box that does not fit."""
    end = len(data) if end is None else end
    out = []
    pos = start
    while pos < end:
        if end - pos < 8:
            raise Fmp4Error(["box: %d stray bytes at %d of %s" % (end - pos, pos, where)])
        size, type_ = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if end - pos < 16:
                raise Fmp4Error(["box: truncated largesize at %d of %s" % (pos, where)])
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise Fmp4Error(["box: %r at %d of %s has size %d, %d bytes remain"
                             % (type_, pos, where, size, end - pos)])
        box = Box(type_, pos, size, header, data)
        if type_ in CONTAINERS:
            box.children = read_boxes(data, box.payload_start, box.end, type_.decode("latin-1"))
        elif type_ == b"stsd":
            box.children = read_boxes(data, box.payload_start + 8, box.end, "stsd")
        elif type_ in VISUAL:
            box.children = read_boxes(data, box.payload_start + 78, box.end,
                                      type_.decode("latin-1"))
        elif type_ in AUDIO:
            box.children = read_boxes(data, box.payload_start + 28, box.end,
                                      type_.decode("latin-1"))
        out.append(box)
        pos += size
    return out


def _full(box):
    """(version, flags, offset of what follows) of a full box."""
    v = box.data[box.payload_start]
    flags = int.from_bytes(box.data[box.payload_start + 1:box.payload_start + 4], "big")
    return v, flags, box.payload_start + 4


class Track:
    def __init__(self, track_id):
        self.track_id = track_id
        self.handler = None          # "vide", "soun"
        self.timescale = None
        self.codec = None            # "avc1", "hvc1", "mp4a"
        self.config = None           # "avcC", "hvcC", "esds"
        self.config_bytes = b""
        self.width = self.height = None
        self.channels = self.sample_rate = None
        self.trex = None             # (default duration, size, flags)

    def __repr__(self):
        return "Track(%d %s %s %s/%s ts=%s %sx%s ch=%s rate=%s)" % (
            self.track_id, self.handler, self.codec, self.config, self.trex, self.timescale,
            self.width, self.height, self.channels, self.sample_rate)


class Init:
    def __init__(self):
        self.major_brand = None
        self.compatible_brands = []
        self.tracks = {}             # track_id -> Track

    def video(self):
        return next((t for t in self.tracks.values() if t.handler == "vide"), None)

    def audio(self):
        return next((t for t in self.tracks.values() if t.handler == "soun"), None)


def parse_init(data, video=None, audio=None):
    """Reads an init segment; with @video ("avc1"/"hvc1") and @audio ("mp4a", or False for
    none) also checks the sample entries. Raises Fmp4Error with every problem."""
    data = bytes(data)
    p = []
    boxes = read_boxes(data, where="init")
    types = [b.type for b in boxes]
    if types[:2] != [b"ftyp", b"moov"] or len([t for t in types if t in (b"moof", b"mdat")]):
        p.append("init: boxes %s, expected ftyp, moov and no media" % types)
    init = Init()
    ftyp = next((b for b in boxes if b.type == b"ftyp"), None)
    if ftyp is not None:
        pl = ftyp.payload()
        init.major_brand = pl[:4].decode("latin-1")
        init.compatible_brands = [pl[i:i + 4].decode("latin-1") for i in range(8, len(pl) - 3, 4)]
    moov = next((b for b in boxes if b.type == b"moov"), None)
    if moov is None:
        raise Fmp4Error(p or ["init: no moov"])
    if moov.find(b"mvhd") is None:
        p.append("init: no mvhd")
    for trak in moov.all(b"trak"):
        tkhd = trak.find(b"tkhd")
        if tkhd is None:
            p.append("init: a trak without tkhd")
            continue
        v, _, off = _full(tkhd)
        track_id = struct.unpack_from(">I", data, off + (16 if v == 1 else 8))[0]
        t = Track(track_id)
        init.tracks[track_id] = t
        hdlr = trak.find(b"mdia", b"hdlr")
        if hdlr is not None:
            t.handler = data[hdlr.payload_start + 8:hdlr.payload_start + 12].decode("latin-1")
        mdhd = trak.find(b"mdia", b"mdhd")
        if mdhd is not None:
            v, _, off = _full(mdhd)
            t.timescale = struct.unpack_from(">I", data, off + (16 if v == 1 else 8))[0]
        else:
            p.append("init: track %d without mdhd" % track_id)
        stbl = trak.find(b"mdia", b"minf", b"stbl")
        stsd = stbl.find(b"stsd") if stbl is not None else None
        if stsd is None or not stsd.children:
            p.append("init: track %d without a sample entry" % track_id)
            continue
        entry = stsd.children[0]
        t.codec = entry.type.decode("latin-1")
        for c in entry.children:
            if c.type in (b"avcC", b"hvcC", b"esds"):
                t.config = c.type.decode("latin-1")
                t.config_bytes = c.payload()
        if entry.type in VISUAL:
            t.width, t.height = struct.unpack_from(">HH", data, entry.payload_start + 24)
        elif entry.type in AUDIO:
            t.channels = struct.unpack_from(">H", data, entry.payload_start + 16)[0]
            t.sample_rate = struct.unpack_from(">I", data, entry.payload_start + 24)[0] >> 16
        for name in (b"stts", b"stsc", b"stsz", b"stco"):
            b = stbl.find(name)
            if b is None:
                p.append("init: track %d has no %s" % (track_id, name.decode()))
                continue
            count_at = b.payload_start + (8 if name == b"stsz" else 4)
            if struct.unpack_from(">I", data, count_at)[0] != 0:
                p.append("init: track %d's %s is not empty (a fragmented file keeps its "
                         "samples in the fragments)" % (track_id, name.decode()))
    if not init.tracks:
        p.append("init: no track")
    mvex = moov.find(b"mvex")
    if mvex is None:
        p.append("init: no mvex (not a fragmented file)")
    else:
        for trex in mvex.all(b"trex"):
            _, _, off = _full(trex)
            tid, _desc, dur, size, flags = struct.unpack_from(">IIIII", data, off)
            if tid in init.tracks:
                init.tracks[tid].trex = (dur, size, flags)
        for t in init.tracks.values():
            if t.trex is None:
                p.append("init: no trex for track %d" % t.track_id)
    for t in init.tracks.values():
        if t.handler == "vide" and t.codec not in ("avc1", "avc3", "hvc1", "hev1"):
            p.append("init: video track %d has sample entry %s" % (t.track_id, t.codec))
        if t.handler == "soun" and t.codec != "mp4a":
            p.append("init: audio track %d has sample entry %s" % (t.track_id, t.codec))
        want_config = {"avc1": "avcC", "avc3": "avcC", "hvc1": "hvcC", "hev1": "hvcC",
                       "mp4a": "esds"}.get(t.codec)
        if want_config and t.config != want_config:
            p.append("init: track %d (%s) has no %s" % (t.track_id, t.codec, want_config))
        if not t.timescale:
            p.append("init: track %d has timescale %s" % (t.track_id, t.timescale))
    if video is not None:
        v = init.video()
        if v is None or v.codec != video:
            p.append("init: video sample entry %s, expected %s" % (v and v.codec, video))
    if audio is not None:
        a = init.audio()
        if audio is False and a is not None:
            p.append("init: an audio track (%s), expected none" % a.codec)
        elif audio and (a is None or a.codec != audio):
            p.append("init: audio sample entry %s, expected %s" % (a and a.codec, audio))
    if p:
        raise Fmp4Error(p, "init segment")
    return init


SAMPLE_NON_SYNC = 0x00010000


class Sample:
    __slots__ = ("duration", "size", "flags", "cto", "offset")

    def __init__(self, duration, size, flags, cto, offset):
        self.duration, self.size, self.flags, self.cto, self.offset = \
            duration, size, flags, cto, offset

    @property
    def sync(self):
        return not self.flags & SAMPLE_NON_SYNC

    def __repr__(self):
        return "Sample(d=%d s=%d %s cto=%d)" % (self.duration, self.size,
                                                 "sync" if self.sync else "-", self.cto)


class Run:
    """The samples of one track in one fragment."""

    def __init__(self, track_id, tfdt, tfdt_version, samples):
        self.track_id = track_id
        self.tfdt = tfdt
        self.tfdt_version = tfdt_version
        self.samples = samples

    @property
    def duration(self):
        return sum(s.duration for s in self.samples)

    @property
    def end(self):
        return self.tfdt + self.duration


class Fragment:
    def __init__(self, sequence, start, runs, data):
        self.sequence = sequence
        self.start = start
        self.runs = runs             # track_id -> Run
        self.data = data             # the buffer (sample offsets are absolute in it)

    def sample_bytes(self, sample):
        return self.data[sample.offset:sample.offset + sample.size]


def parse_fragments(data, init, where="part"):
    """The moof+mdat pairs of @data (a part or a segment), checked against @init: each traf
    has tfhd, tfdt and trun with at least one sample, and the samples fill the mdat exactly.
    Raises Fmp4Error with every problem; returns [Fragment]."""
    data = bytes(data)
    p = []
    boxes = read_boxes(data, where=where)
    media = [b for b in boxes if b.type not in (b"styp", b"prft", b"sidx", b"free")]
    types = [b.type for b in media]
    if not types or len(types) % 2 or any(types[i:i + 2] != [b"moof", b"mdat"]
                                          for i in range(0, len(types), 2)):
        raise Fmp4Error(["fragment: boxes %s, expected moof+mdat pairs" % types], where)
    out = []
    for i in range(0, len(media), 2):
        moof, mdat = media[i], media[i + 1]
        mfhd = moof.find(b"mfhd")
        seq = struct.unpack_from(">I", data, mfhd.payload_start + 4)[0] if mfhd else None
        if mfhd is None:
            p.append("fragment: moof at %d without mfhd" % moof.start)
        runs = {}
        ranges = []
        next_base = moof.start
        for traf in moof.all(b"traf"):
            tfhd, tfdt, truns = traf.find(b"tfhd"), traf.find(b"tfdt"), traf.all(b"trun")
            if tfhd is None or tfdt is None or not truns:
                p.append("fragment: traf at %d lacks %s" % (traf.start, [
                    n for n, b in (("tfhd", tfhd), ("tfdt", tfdt), ("trun", truns)) if not b]))
                continue
            _, fl, off = _full(tfhd)
            track_id = struct.unpack_from(">I", data, off)[0]
            off += 4
            track = init.tracks.get(track_id)
            if track is None:
                p.append("fragment: traf of track %d, not in the init segment" % track_id)
                continue
            base = None
            if fl & 0x1:
                base = struct.unpack_from(">Q", data, off)[0]
                off += 8
            if fl & 0x2:
                off += 4
            d_dur, d_size, d_flags = track.trex
            if fl & 0x8:
                d_dur = struct.unpack_from(">I", data, off)[0]
                off += 4
            if fl & 0x10:
                d_size = struct.unpack_from(">I", data, off)[0]
                off += 4
            if fl & 0x20:
                d_flags = struct.unpack_from(">I", data, off)[0]
                off += 4
            if base is None:
                base = moof.start if fl & 0x20000 else next_base
            tfdt_version, _, off2 = _full(tfdt)
            decode_time = struct.unpack_from(">Q" if tfdt_version == 1 else ">I", data, off2)[0]
            samples = []
            pos = base
            for trun in truns:
                v, tfl, o = _full(trun)
                count = struct.unpack_from(">I", data, o)[0]
                o += 4
                if tfl & 0x1:
                    pos = base + struct.unpack_from(">i", data, o)[0]
                    o += 4
                else:
                    p.append("fragment: a trun of track %d without a data offset" % track_id)
                first_flags = None
                if tfl & 0x4:
                    first_flags = struct.unpack_from(">I", data, o)[0]
                    o += 4
                if count == 0:
                    p.append("fragment: a trun of track %d with no sample" % track_id)
                for k in range(count):
                    dur, size, flags, cto = d_dur, d_size, d_flags, 0
                    if tfl & 0x100:
                        dur = struct.unpack_from(">I", data, o)[0]
                        o += 4
                    if tfl & 0x200:
                        size = struct.unpack_from(">I", data, o)[0]
                        o += 4
                    if tfl & 0x400:
                        flags = struct.unpack_from(">I", data, o)[0]
                        o += 4
                    if tfl & 0x800:
                        cto = struct.unpack_from(">i" if v == 1 else ">I", data, o)[0]
                        o += 4
                    if k == 0 and first_flags is not None:
                        flags = first_flags
                    samples.append(Sample(dur, size, flags, cto, pos))
                    ranges.append((pos, pos + size, track_id))
                    pos += size
                if o > trun.end:
                    p.append("fragment: trun of track %d is shorter than its %d samples need"
                             % (track_id, count))
            next_base = pos
            if track_id in runs:
                p.append("fragment: two trafs of track %d in one moof" % track_id)
            runs[track_id] = Run(track_id, decode_time, tfdt_version, samples)
        if not runs:
            p.append("fragment: moof at %d has no traf" % moof.start)
        # the samples fill the mdat's payload exactly
        ranges.sort()
        at = mdat.payload_start
        for lo, hi, tid in ranges:
            if lo != at:
                p.append("fragment: %s at byte %d of the mdat payload, expected %d (track %d)"
                         % ("a gap" if lo > at else "overlapping samples",
                            lo - mdat.payload_start, at - mdat.payload_start, tid))
                break
            at = hi
        if at != mdat.end and not p:
            p.append("fragment: the samples cover %d bytes of an mdat payload of %d"
                     % (at - mdat.payload_start, mdat.size - mdat.header))
        out.append(Fragment(seq, moof.start, runs, data))
    seqs = [f.sequence for f in out if f.sequence is not None]
    if any(b <= a for a, b in zip(seqs, seqs[1:])):
        p.append("fragment: mfhd sequence numbers do not increase: %s" % seqs)
    if p:
        raise Fmp4Error(p, where)
    return out


def nal_units(sample, length_size=4):
    """The NAL units of a length-prefixed sample; raises Fmp4Error if they do not fill it."""
    out = []
    pos = 0
    while pos < len(sample):
        if pos + length_size > len(sample):
            raise Fmp4Error(["sample: %d stray bytes at its end" % (len(sample) - pos)])
        n = int.from_bytes(sample[pos:pos + length_size], "big")
        pos += length_size
        if n == 0 or pos + n > len(sample):
            raise Fmp4Error(["sample: a NAL unit of %d bytes at %d of a %d-byte sample"
                             % (n, pos, len(sample))])
        out.append(sample[pos:pos + n])
        pos += n
    return out


def nal_type(codec, nal):
    if codec in ("hvc1", "hev1"):
        return (nal[0] >> 1) & 0x3F
    return nal[0] & 0x1F


def is_key_nal(codec, t):
    return 16 <= t <= 23 if codec in ("hvc1", "hev1") else t == 5


# NAL unit types a sample must not carry: H.265's parameter sets and access unit delimiters
# (hvc1: they are in the init segment). H.264 samples keep what the camera sent (the contract:
# in-band parameter sets let ffmpeg's HLS reader follow a resolution change).
PARAMETER_SETS = {"hvc1": {32, 33, 34, 35}, "hev1": {35}}


class MediaTracker:
    """Follows the parts (or segments) of one session in order. feed() checks each against the
    ones before: per track, tfdt continues where the last fragment ended (within one sample
    duration, never back); the first video sample of a segment is a sync sample; a sample is
    flagged sync exactly when it carries a key NAL unit; a part is INDEPENDENT=YES exactly
    when its first video sample is a sync sample; video samples are 4-byte-length NAL units,
    without parameter sets or access unit delimiters in hvc1. Returns the problems; counts
    key pictures inside parts (.mid_part_keys), which the contract allows."""

    def __init__(self, init):
        self.init = init
        self.ends = {}               # track_id -> (end time, last sample duration)
        self.fragments = 0
        self.samples = {}            # track_id -> count
        self.tfdt_v0 = set()         # tracks already reported for a version-0 tfdt
        self.mid_part_keys = 0       # sync samples that are not the first of their fragment

    def reset(self):
        """After a discontinuity: the next fragment may start anywhere."""
        self.ends = {}

    def feed(self, data, where="part", segment_start=False, independent=None):
        p = []
        try:
            frags = parse_fragments(data, self.init, where)
        except Fmp4Error as e:
            return e.problems
        video = self.init.video()
        for n, f in enumerate(frags):
            for tid, run in f.runs.items():
                self.samples[tid] = self.samples.get(tid, 0) + len(run.samples)
                if run.tfdt_version != 1 and tid not in self.tfdt_v0:
                    self.tfdt_v0.add(tid)
                    p.append("tfdt: %s track %d has a version-%d tfdt (the contract has 1)"
                             % (where, tid, run.tfdt_version))
                if tid in self.ends:
                    end, last = self.ends[tid]
                    gap = run.tfdt - end
                    if gap < 0 or gap > max(last, 1):
                        p.append("tfdt: %s track %d starts at %d, the fragment before ended at "
                                 "%d (%+d, one sample is %d)" % (where, tid, run.tfdt, end, gap,
                                                                 last))
                if run.samples:
                    self.ends[tid] = (run.end, run.samples[-1].duration)
                if video is not None and tid == video.track_id:
                    for k, s in enumerate(run.samples):
                        try:
                            nals = nal_units(f.sample_bytes(s))
                        except Fmp4Error as e:
                            p.append("sample: %s video sample %d: %s" % (where, k, e.problems))
                            continue
                        types = [nal_type(video.codec, x) for x in nals]
                        bad = [t for t in types if t in PARAMETER_SETS.get(video.codec, ())]
                        if bad:
                            p.append("sample: %s video sample %d has parameter sets or "
                                     "delimiters (NAL types %s)" % (where, k, types))
                        key = any(is_key_nal(video.codec, t) for t in types)
                        if s.sync and not key:
                            p.append("sample: %s video sample %d is flagged sync but has no "
                                     "key NAL unit (types %s)" % (where, k, types))
                        if key and not s.sync:
                            p.append("sample: %s video sample %d has a key NAL unit but is "
                                     "flagged non-sync" % (where, k))
                    if n == 0 and run.samples:
                        first_sync = run.samples[0].sync
                        if segment_start and not first_sync:
                            p.append("sync: the first video sample of %s (a segment's start) "
                                     "is not a sync sample" % where)
                    self.mid_part_keys += sum(1 for s in run.samples[1:] if s.sync)
                    if independent is not None and n == 0 and run.samples and \
                            independent != run.samples[0].sync:
                        p.append("independent: %s is %sINDEPENDENT but its first video sample "
                                 "is %sa sync sample" % (where, "" if independent else "not ",
                                                         "" if run.samples[0].sync else "not "))
        self.fragments += len(frags)
        return p

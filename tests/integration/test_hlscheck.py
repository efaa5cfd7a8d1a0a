"""hlscheck, the LL-HLS playlist and fMP4 checker of test_hls, has a specification of its own:
it passes hand-written playlists that keep the rules and a CMAF file FFmpeg writes, and it names
the broken rule in each hand-written playlist and fMP4 file that breaks one (so it can fail).
No camstream here."""

import os
import re
import shutil
import struct
import subprocess
import tempfile
import unittest

import hlscheck
from hlscheck import Checker, Fmp4Error, HlsError, MediaTracker, check_playlist, \
    parse_fragments, parse_init, parse_playlist

SID = "0123456789abcdef0123456789abcdef"


# ---- playlists ------------------------------------------------------------------------------

def part_number(msn, index, parts_per=5):
    """The contract numbers parts across segments: segment MSN's part I is MSN x 5 + I here."""
    return msn * parts_per + index


def make_playlist(first=10, complete=4, parted=2, pending=2, part=0.2, parts_per=5, td=1,
                  pdt_start=0, endlist=False, hint=True, sid=SID):
    """A playlist as the contract has it: @complete segments from @first, the last @parted of
    them with their parts (part{N}.m4s, N numbering parts across segments), @pending parts of
    the segment in progress, a preload hint."""
    out = ["#EXTM3U", "#EXT-X-VERSION:9", "#EXT-X-TARGETDURATION:%d" % td,
           "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=%.3f" % (3 * part),
           "#EXT-X-PART-INF:PART-TARGET=%.3f" % part, "#EXT-X-MEDIA-SEQUENCE:%d" % first,
           '#EXT-X-MAP:URI="%s/init1.mp4"' % sid]
    for k in range(complete):
        msn = first + k
        out.append("#EXT-X-PROGRAM-DATE-TIME:2026-12-07T05:00:%06.3fZ"
                   % (pdt_start + k * parts_per * part))
        if k >= complete - parted:
            for i in range(parts_per):
                out.append('#EXT-X-PART:DURATION=%.5f,URI="%s/part%d.m4s"%s'
                           % (part, sid, part_number(msn, i, parts_per),
                              ",INDEPENDENT=YES" if i == 0 else ""))
        out += ["#EXTINF:%.5f," % (parts_per * part), "%s/seg%d.m4s" % (sid, msn)]
    msn = first + complete
    if pending or not endlist:
        out.append("#EXT-X-PROGRAM-DATE-TIME:2026-12-07T05:00:%06.3fZ"
                   % (pdt_start + complete * parts_per * part))
    for i in range(pending):
        out.append('#EXT-X-PART:DURATION=%.5f,URI="%s/part%d.m4s"%s'
                   % (part, sid, part_number(msn, i, parts_per),
                      ",INDEPENDENT=YES" if i == 0 else ""))
    if endlist:
        out.append("#EXT-X-ENDLIST")
    elif hint:
        out.append('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="%s/part%d.m4s"'
                   % (sid, part_number(msn, pending, parts_per)))
    return "\n".join(out) + "\n"


GOOD = make_playlist()


def rules(problems):
    return sorted({p.split(":", 1)[0] for p in problems})


class Parse(unittest.TestCase):
    def test_the_good_playlist_parses_as_written(self):
        pl = parse_playlist(GOOD)
        self.assertEqual(pl.problems, [])
        self.assertEqual((pl.version, pl.target_duration, pl.media_sequence, pl.part_target),
                         (9, 1, 10, 0.2))
        self.assertEqual(pl.server_control, {"CAN-BLOCK-RELOAD": "YES", "PART-HOLD-BACK": 0.6})
        self.assertEqual([s.msn for s in pl.segments], [10, 11, 12, 13])
        self.assertEqual([s.uri for s in pl.segments][-1], SID + "/seg13.m4s")
        self.assertEqual([len(s.parts) for s in pl.segments], [0, 0, 5, 5])
        self.assertEqual([p.key() for p in pl.pending], [(14, 0), (14, 1)])
        self.assertEqual((pl.next_msn, pl.last_part()), (14, (14, 1)))
        self.assertEqual(pl.hint_uri(), SID + "/part72.m4s")
        self.assertEqual(pl.maps[0][1], SID + "/init1.mp4")
        self.assertTrue(pl.segments[2].parts[0].independent)
        self.assertFalse(pl.segments[2].parts[1].independent)
        self.assertEqual(pl.segments[1].pdt.isoformat(), "2026-12-07T05:00:01+00:00")

    def test_has_follows_rfc_8216bis_or_later(self):
        pl = parse_playlist(GOOD)
        self.assertTrue(pl.has(13))
        self.assertFalse(pl.has(14))
        self.assertTrue(pl.has(14, 1))
        self.assertFalse(pl.has(14, 2))
        self.assertTrue(pl.has(13, 9), "a complete segment holds all of its parts")

    def test_attribute_lists(self):
        self.assertEqual(hlscheck.parse_attributes('A=1,B="x,y",C=YES'),
                         {"A": "1", "B": "x,y", "C": "YES"})
        for bad in ('A=1,,B=2', 'a=1', 'A="x', 'A=1,A=2'):
            with self.assertRaises(ValueError, msg=bad):
                hlscheck.parse_attributes(bad)

    def test_hint_after(self):
        self.assertEqual(hlscheck.hint_after(parse_playlist(GOOD)), SID + "/part72.m4s")
        self.assertEqual(hlscheck.hint_after(parse_playlist(make_playlist(pending=0))),
                         SID + "/part70.m4s")
        self.assertIsNone(hlscheck.hint_after(parse_playlist(make_playlist(parted=0,
                                                                           pending=0))))

    def test_names(self):
        n = hlscheck.CONTRACT_NAMES
        self.assertEqual(n.part_number("x/part12.m4s"), 12)
        self.assertIsNone(n.part_number("x/part1.2.m4s"))
        self.assertEqual(n.segment_msn("cam/%s/seg7.m4s" % SID), 7)
        self.assertEqual(n.with_part_number("cam/%s/part12.m4s" % SID, 99),
                         "cam/%s/part99.m4s" % SID)
        self.assertEqual(n.with_segment_msn("cam/%s/part12.m4s" % SID, 4),
                         "cam/%s/seg4.m4s" % SID)


class PlaylistRules(unittest.TestCase):
    def assertGood(self, text, **kw):
        problems = check_playlist(text, **kw)
        self.assertEqual(problems, [], text)

    def assertBroken(self, text, rule, **kw):
        problems = check_playlist(text, **kw)
        self.assertIn(rule, rules(problems), "expected %s among %s in\n%s" % (rule, problems,
                                                                              text))
        return problems

    def test_good_playlists_pass(self):
        self.assertGood(GOOD)
        self.assertGood(make_playlist(pending=0))
        self.assertGood(make_playlist(pending=4, parted=3, complete=7))
        self.assertGood(make_playlist(part=0.333, parts_per=3, td=1))
        self.assertGood(make_playlist(endlist=True, pending=0))

    def test_a_young_playlists_gaps_only_in_front(self):
        young = make_playlist(first=2, complete=1, parted=1)
        gap = '#EXT-X-PROGRAM-DATE-TIME:2026-12-07T04:59:59.000Z\n#EXT-X-GAP\n#EXTINF:1.00000,\n%s/gap.mp4\n' % SID
        head, _, tail = young.partition('#EXT-X-PROGRAM-DATE-TIME')
        text = head.replace("MEDIA-SEQUENCE:2", "MEDIA-SEQUENCE:0") + gap + gap + \
            '#EXT-X-PROGRAM-DATE-TIME' + tail
        self.assertGood(text)
        pl = parse_playlist(text)
        self.assertEqual((len(pl.gaps), pl.media_sequence, pl.segments[0].msn), (2, 2, 2))
        # a gap after a real segment, or gaps beyond three in all
        self.assertBroken(make_playlist(complete=2, parted=1).replace(
            "#EXTINF:1.00000,\n%s/seg11" % SID, "#EXT-X-GAP\n#EXTINF:1.00000,\n%s/seg11" % SID),
            "gap")
        self.assertBroken(text.replace(gap + gap, gap + gap + gap).replace(
            "MEDIA-SEQUENCE:0", "MEDIA-SEQUENCE:0"), "gap")

    def test_extm3u_first(self):
        self.assertBroken("\n" + GOOD, "extm3u")
        self.assertBroken(GOOD.replace("#EXTM3U\n", "#EXT-X-VERSION:9\n#EXTM3U\n", 1), "extm3u")

    def test_version(self):
        self.assertBroken(GOOD.replace("#EXT-X-VERSION:9\n", ""), "version")
        self.assertBroken(GOOD.replace("#EXT-X-VERSION:9", "#EXT-X-VERSION:5"), "version")

    def test_targetduration_present_and_above_every_rounded_extinf(self):
        self.assertBroken(GOOD.replace("#EXT-X-TARGETDURATION:1\n", ""), "targetduration")
        # seg10 has no parts: only the EXTINF changes
        self.assertGood(GOOD.replace("#EXTINF:1.00000,\n%s/seg10" % SID,
                                     "#EXTINF:1.49900,\n%s/seg10" % SID))
        self.assertBroken(GOOD.replace("#EXTINF:1.00000,\n%s/seg10" % SID,
                                       "#EXTINF:1.50000,\n%s/seg10" % SID), "targetduration")

    def test_part_inf(self):
        self.assertBroken(GOOD.replace("#EXT-X-PART-INF:PART-TARGET=0.200\n", ""), "part-inf")

    def test_part_duration_at_most_part_target_within_1_ms(self):
        ok = GOOD.replace("DURATION=0.20000,URI=\"%s/part62" % SID,
                          "DURATION=0.20090,URI=\"%s/part62" % SID)
        self.assertEqual(rules(check_playlist(ok)), [], ok)
        bad = GOOD.replace("DURATION=0.20000,URI=\"%s/part71" % SID,
                           "DURATION=0.20200,URI=\"%s/part71" % SID)
        self.assertBroken(bad, "part-duration")

    def test_short_parts_only_independent_or_last(self):
        # a short part in the middle of a segment
        bad = GOOD.replace("DURATION=0.20000,URI=\"%s/part62" % SID,
                           "DURATION=0.10000,URI=\"%s/part62" % SID)
        self.assertBroken(bad, "part-short")
        # a short last part of its segment (the EXTINF says so too)
        ok = GOOD.replace("DURATION=0.20000,URI=\"%s/part64" % SID,
                          "DURATION=0.12000,URI=\"%s/part64" % SID)
        ok = ok.replace("#EXTINF:1.00000,\n%s/seg12" % SID, "#EXTINF:0.92000,\n%s/seg12" % SID)
        self.assertGood(ok)

    def test_part_hold_back_at_least_three_part_targets(self):
        self.assertBroken(GOOD.replace("PART-HOLD-BACK=0.600", "PART-HOLD-BACK=0.500"),
                          "hold-back")
        self.assertBroken(GOOD.replace(",PART-HOLD-BACK=0.600", ""), "hold-back")
        self.assertGood(GOOD.replace("PART-HOLD-BACK=0.600", "PART-HOLD-BACK=1.000"))

    def test_can_block_reload(self):
        self.assertBroken(GOOD.replace("CAN-BLOCK-RELOAD=YES,", ""), "can-block-reload")
        self.assertBroken(GOOD.replace("CAN-BLOCK-RELOAD=YES", "CAN-BLOCK-RELOAD=NO"),
                          "can-block-reload")

    def test_parts_add_up_to_their_segment_within_a_frame(self):
        self.assertGood(GOOD.replace("#EXTINF:1.00000,\n%s/seg13" % SID,
                                     "#EXTINF:1.03000,\n%s/seg13" % SID))
        self.assertBroken(GOOD.replace("#EXTINF:1.00000,\n%s/seg13" % SID,
                                       "#EXTINF:0.90000,\n%s/seg13" % SID), "part-sum")

    def test_first_part_of_a_segment_is_independent(self):
        self.assertBroken(GOOD.replace('part65.m4s",INDEPENDENT=YES', 'part65.m4s"'),
                          "independent-first")
        self.assertBroken(GOOD.replace('part70.m4s",INDEPENDENT=YES', 'part70.m4s"'),
                          "independent-first")

    def test_preload_hint_names_the_next_part(self):
        self.assertBroken(GOOD.replace("part72.m4s\"\n", "part73.m4s\"\n"), "preload-hint")
        self.assertBroken(GOOD.replace("part72.m4s\"\n", "part71.m4s\"\n"), "preload-hint")
        self.assertBroken(GOOD.replace("part72.m4s\"\n", "part75.m4s\"\n"), "preload-hint")
        self.assertBroken(make_playlist(hint=False), "preload-hint")
        self.assertBroken(GOOD.replace("TYPE=PART", "TYPE=MAP"), "preload-hint")
        after_segment = make_playlist(pending=0)
        self.assertBroken(after_segment.replace("part70.m4s\"\n", "part69.m4s\"\n"),
                          "preload-hint")

    def test_no_preload_hint_after_endlist(self):
        ended = make_playlist(endlist=True, pending=0)
        self.assertBroken(ended + '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="%s/part70.m4s"\n' % SID,
                          "preload-hint")

    def test_map_before_the_first_segment(self):
        no_map = GOOD.replace('#EXT-X-MAP:URI="%s/init1.mp4"\n' % SID, "")
        self.assertBroken(no_map, "map")
        late = no_map.replace("%s/seg10.m4s\n" % SID,
                              '%s/seg10.m4s\n#EXT-X-MAP:URI="%s/init1.mp4"\n' % (SID, SID))
        self.assertBroken(late, "map")

    def test_program_date_time_goes_forward(self):
        self.assertBroken(GOOD.replace("05:00:01.000Z", "05:00:00.000Z"), "pdt")
        self.assertBroken(GOOD.replace("05:00:02.000Z", "04:59:59.000Z"), "pdt")
        self.assertBroken(GOOD.replace("05:00:02.000Z", "not-a-date"), "syntax")

    def test_names_carry_the_media_sequence_number(self):
        self.assertBroken(GOOD.replace("/seg12.m4s", "/seg22.m4s"), "naming")
        self.assertBroken(GOOD.replace("/part63.m4s", "/part67.m4s"), "naming")
        self.assertBroken(GOOD.replace("/part71.m4s", "/part14.1.m4s"), "naming")
        # numbered across segments: a segment's first part follows the last one before it
        self.assertBroken(GOOD.replace("/part65.m4s", "/part66.m4s"), "naming")
        self.assertEqual(check_playlist(GOOD.replace("/seg12.m4s", "/x.m4s"), names=None), [],
                         "without names the URIs are free")

    def test_uris_are_unique(self):
        self.assertBroken(GOOD.replace("/seg12.m4s", "/seg11.m4s"), "uri-unique", names=None)

    def test_syntax(self):
        self.assertBroken(GOOD.replace("#EXTINF:1.00000,\n%s/seg11" % SID,
                                       "#EXTINF:one,\n%s/seg11" % SID), "syntax")
        self.assertBroken(GOOD.replace("PART-TARGET=0.200", "PART-TARGET=0.200,,X=1"), "syntax")
        self.assertBroken(GOOD + "#EXTINF:1.0,\n", "syntax")
        self.assertBroken(GOOD.replace("#EXTINF:1.00000,\n%s/seg11" % SID,
                                       "%s/seg11" % SID), "syntax")
        self.assertBroken(GOOD.replace("#EXT-X-MEDIA-SEQUENCE:10\n", "") + "\n#EXT-X-MEDIA-"
                          "SEQUENCE:10\n", "syntax")


class Reloads(unittest.TestCase):
    def feed_all(self, *texts):
        c = Checker()
        out = []
        for t in texts:
            out.append(c.feed(t)[1])
        return out

    def test_a_playlist_that_grows_part_by_part_passes(self):
        texts = [make_playlist(first=10, complete=4, pending=2),
                 make_playlist(first=10, complete=4, pending=3),
                 make_playlist(first=10, complete=4, pending=4),
                 make_playlist(first=10, complete=5, pending=0, pdt_start=0),
                 make_playlist(first=10, complete=5, pending=1),
                 make_playlist(first=11, complete=6, pending=1, pdt_start=1),
                 make_playlist(first=11, complete=6, pending=1, pdt_start=1)]
        for i, problems in enumerate(self.feed_all(*texts)):
            self.assertEqual(problems, [], "load %d:\n%s" % (i, texts[i]))

    def test_media_sequence_never_goes_back(self):
        a = make_playlist(first=11, complete=3, pdt_start=1)
        b = make_playlist(first=10, complete=4)
        self.assertIn("media-sequence-back", rules(self.feed_all(a, b)[1]))

    def test_the_newest_part_is_never_lost(self):
        a = make_playlist(pending=3)
        b = make_playlist(pending=2)
        self.assertIn("playlist-back", rules(self.feed_all(a, b)[1]))
        c = make_playlist(complete=3, pending=4)
        self.assertIn("playlist-back", rules(self.feed_all(a, c)[1]))

    def test_segments_and_parts_do_not_change(self):
        a = GOOD
        b = GOOD.replace("#EXTINF:1.00000,\n%s/seg11" % SID, "#EXTINF:0.98000,\n%s/seg11" % SID)
        self.assertIn("segment-changed", rules(self.feed_all(a, b)[1]))
        c = GOOD.replace("05:00:01.000Z", "05:00:01.500Z")
        self.assertIn("segment-changed", rules(self.feed_all(a, c)[1]))
        d = GOOD.replace('part71.m4s"', 'part71.m4s",INDEPENDENT=YES')
        self.assertIn("part-changed", rules(self.feed_all(a, d)[1]))

    def test_a_pending_part_closes_into_its_segment_unchanged(self):
        a = make_playlist(complete=4, pending=4)
        b = make_playlist(complete=5, pending=0).replace(
            'DURATION=0.20000,URI="%s/part71' % SID, 'DURATION=0.19000,URI="%s/part71' % SID)
        self.assertIn("part-changed", rules(self.feed_all(a, b)[1]))

    def test_discontinuity_numbers_stay(self):
        a = make_playlist(first=10, complete=4).replace(
            "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T05:00:01.000Z",
            "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-12-07T05:00:01.000Z")
        self.assertEqual([s.dsn for s in parse_playlist(a).segments], [0, 1, 1, 1])
        # segment 10 leaves; the tag of 11 may go with it if the sequence counts it
        b = make_playlist(first=11, complete=3, pdt_start=1)
        with_seq = b.replace("#EXT-X-MEDIA-SEQUENCE:11\n",
                             "#EXT-X-MEDIA-SEQUENCE:11\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n")
        self.assertEqual(self.feed_all(a, with_seq)[1], [])
        self.assertIn("discontinuity-number", rules(self.feed_all(a, b)[1]))

    def test_window_keeps_three_target_durations(self):
        a = make_playlist(first=10, complete=3, parted=2)
        b = make_playlist(first=12, complete=2, parted=2, pending=3, pdt_start=2)
        self.assertIn("window-short", rules(self.feed_all(a, b)[1]))

    def test_check_raises_with_every_problem(self):
        c = Checker()
        c.check(GOOD)
        with self.assertRaises(HlsError) as cm:
            c.check(GOOD.replace("PART-HOLD-BACK=0.600", "PART-HOLD-BACK=0.100")
                    .replace("CAN-BLOCK-RELOAD=YES", "CAN-BLOCK-RELOAD=NO"))
        self.assertEqual(rules(cm.exception.problems), ["can-block-reload", "hold-back"])


# ---- fMP4: a small writer, only to have files to read ---------------------------------------

def box(t, *payload):
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), t) + body


def full(t, version, flags, *payload):
    return box(t, bytes([version]) + flags.to_bytes(3, "big"), *payload)


def init_segment(video=b"avc1", audio=False, size=(320, 240), stts_entries=0):
    def trak(track_id, handler, timescale, entry):
        tkhd = full(b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, track_id, 0, 0), bytes(60))
        mdhd = full(b"mdhd", 0, 0, struct.pack(">IIII", 0, 0, timescale, 0), bytes(4))
        hdlr = full(b"hdlr", 0, 0, bytes(4), handler, bytes(12), b"h\x00")
        stts = full(b"stts", 0, 0, struct.pack(">I", stts_entries),
                    bytes(8 * stts_entries))
        stbl = box(b"stbl", full(b"stsd", 0, 0, struct.pack(">I", 1), entry), stts,
                   full(b"stsc", 0, 0, bytes(4)), full(b"stsz", 0, 0, bytes(8)),
                   full(b"stco", 0, 0, bytes(4)))
        return box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, box(b"minf", stbl)))

    config = {b"avc1": b"avcC", b"hvc1": b"hvcC"}[video]
    visual = box(video, bytes(6), struct.pack(">H", 1), bytes(16), struct.pack(">HH", *size),
                 bytes(50), box(config, b"\x01\x64\x00\x1f"))
    traks = [trak(1, b"vide", 90000, visual)]
    trex = [full(b"trex", 0, 0, struct.pack(">IIIII", 1, 1, 0, 0, 0))]
    if audio:
        mp4a = box(b"mp4a", bytes(6), struct.pack(">H", 1), bytes(8),
                   struct.pack(">HHHHI", 1, 16, 0, 0, 16000 << 16),
                   full(b"esds", 0, 0, b"\x03\x00"))
        traks.append(trak(2, b"soun", 16000, mp4a))
        trex.append(full(b"trex", 0, 0, struct.pack(">IIIII", 2, 1, 0, 0, 0)))
    return box(b"ftyp", b"iso6", bytes(4), b"iso6cmfcisomiso5dashmp41") + \
        box(b"moov", full(b"mvhd", 0, 0, bytes(96)), *traks, box(b"mvex", *trex))


SYNC, NON_SYNC = 0x02000000, 0x01010000


def picture(key, n=120, codec="avc1"):
    if codec == "hvc1":
        head = b"\x26\x01" if key else b"\x02\x01"
    else:
        head = b"\x65" if key else b"\x41"
    nal = head + bytes(range(n % 256))[:n] + b"\x55" * n
    return len(nal).to_bytes(4, "big") + nal


def fragment(seq, tracks, size_error=0, omit_tfdt=False, trun_version=1, tfdt_version=1):
    """moof+mdat: @tracks is [(track_id, tfdt, [(duration, flags, payload)])]."""
    def moof(offsets):
        trafs = []
        for (tid, tfdt, samples), off in zip(tracks, offsets):
            entries = b"".join(struct.pack(">IIII", d, len(pl) + (size_error if k == 0 else 0),
                                           fl, 0) for k, (d, fl, pl) in enumerate(samples))
            trun = full(b"trun", trun_version, 0x1 | 0x100 | 0x200 | 0x400 | 0x800,
                        struct.pack(">Ii", len(samples), off), entries)
            tfhd = full(b"tfhd", 0, 0x20000, struct.pack(">I", tid))
            tfdt_box = b"" if omit_tfdt else (
                full(b"tfdt", 1, 0, struct.pack(">Q", tfdt)) if tfdt_version == 1
                else full(b"tfdt", 0, 0, struct.pack(">I", tfdt)))
            trafs.append(box(b"traf", tfhd, tfdt_box, trun))
        return box(b"moof", full(b"mfhd", 0, 0, struct.pack(">I", seq)), *trafs)

    payloads = [b"".join(pl for _, _, pl in samples) for _, _, samples in tracks]
    size = len(moof([0] * len(tracks)))
    offsets, at = [], size + 8
    for pl in payloads:
        offsets.append(at)
        at += len(pl)
    return moof(offsets) + box(b"mdat", *payloads)


def video_part(seq, tfdt, n=5, key=True, codec="avc1", dur=3600):
    samples = [(dur, SYNC if key and k == 0 else NON_SYNC, picture(key and k == 0, 100 + k,
                                                                  codec)) for k in range(n)]
    return fragment(seq, [(1, tfdt, samples)])


class InitReader(unittest.TestCase):
    def test_reads_the_tracks_of_an_init_segment(self):
        init = parse_init(init_segment(audio=True), video="avc1", audio="mp4a")
        self.assertEqual((init.major_brand, init.compatible_brands),
                         ("iso6", ["iso6", "cmfc", "isom", "iso5", "dash", "mp41"]))
        v, a = init.video(), init.audio()
        self.assertEqual((v.track_id, v.codec, v.config, v.timescale, v.width, v.height),
                         (1, "avc1", "avcC", 90000, 320, 240))
        self.assertEqual((a.track_id, a.codec, a.config, a.timescale, a.channels,
                          a.sample_rate), (2, "mp4a", "esds", 16000, 1, 16000))

    def test_refuses_the_wrong_sample_entry(self):
        with self.assertRaises(Fmp4Error):
            parse_init(init_segment(b"avc1"), video="hvc1")
        parse_init(init_segment(b"hvc1"), video="hvc1", audio=False)

    def test_refuses_a_missing_or_unexpected_audio_track(self):
        with self.assertRaises(Fmp4Error):
            parse_init(init_segment(), video="avc1", audio="mp4a")
        with self.assertRaises(Fmp4Error):
            parse_init(init_segment(audio=True), video="avc1", audio=False)

    def test_refuses_sample_tables_with_samples_and_media_in_the_init(self):
        with self.assertRaises(Fmp4Error):
            parse_init(init_segment(stts_entries=1))
        with self.assertRaises(Fmp4Error):
            parse_init(init_segment() + video_part(1, 0))

    def test_refuses_a_truncated_box(self):
        data = init_segment()
        with self.assertRaises(Fmp4Error):
            parse_init(data[:-3])


class FragmentReader(unittest.TestCase):
    def setUp(self):
        self.init = parse_init(init_segment(audio=True))

    def test_reads_samples_of_both_tracks(self):
        audio = [(1024, SYNC, b"\x21" * 30) for _ in range(3)]
        video = [(3600, SYNC, picture(True)), (3600, NON_SYNC, picture(False))]
        frags = parse_fragments(fragment(7, [(1, 9000, video), (2, 6000, audio)]), self.init)
        self.assertEqual(len(frags), 1)
        f = frags[0]
        self.assertEqual(f.sequence, 7)
        self.assertEqual((f.runs[1].tfdt, f.runs[1].duration, f.runs[2].tfdt, f.runs[2].end),
                         (9000, 7200, 6000, 6000 + 3 * 1024))
        self.assertEqual([s.sync for s in f.runs[1].samples], [True, False])
        self.assertEqual(f.sample_bytes(f.runs[1].samples[0]), picture(True))

    def test_refuses_sizes_that_do_not_fill_the_mdat(self):
        video = [(3600, SYNC, picture(True)), (3600, NON_SYNC, picture(False))]
        for err in (1, -1):
            with self.assertRaises(Fmp4Error, msg="size error %d" % err):
                parse_fragments(fragment(1, [(1, 0, video)], size_error=err), self.init)

    def test_refuses_other_boxes_than_moof_mdat_pairs(self):
        part = video_part(1, 0)
        with self.assertRaises(Fmp4Error):
            parse_fragments(part[:-10], self.init)
        with self.assertRaises(Fmp4Error):
            parse_fragments(box(b"mdat", b"x") + part, self.init)
        with self.assertRaises(Fmp4Error):
            parse_fragments(fragment(1, [(1, 0, [(3600, SYNC, picture(True))])],
                                     omit_tfdt=True), self.init)

    def test_sequence_numbers_increase(self):
        with self.assertRaises(Fmp4Error):
            parse_fragments(video_part(2, 0) + video_part(2, 18000, key=False), self.init)


class Tracker(unittest.TestCase):
    def setUp(self):
        self.init = parse_init(init_segment())

    def test_continuous_parts_pass(self):
        t = MediaTracker(self.init)
        self.assertEqual(t.feed(video_part(1, 0), segment_start=True, independent=True), [])
        self.assertEqual(t.feed(video_part(2, 18000, key=False), independent=False), [])
        self.assertEqual(t.feed(video_part(3, 36000 + 1, key=False)), [], "within a sample")
        self.assertEqual(t.samples[1], 15)

    def test_tfdt_gap_or_step_back_is_a_problem(self):
        t = MediaTracker(self.init)
        t.feed(video_part(1, 0))
        self.assertIn("tfdt", rules(t.feed(video_part(2, 18000 + 3601, key=False))))
        t = MediaTracker(self.init)
        t.feed(video_part(1, 0))
        self.assertIn("tfdt", rules(t.feed(video_part(2, 17999, key=False))))

    def test_tfdt_version_is_the_tfdts_not_the_truns(self):
        samples = [(3600, SYNC, picture(True))]
        t = MediaTracker(self.init)
        self.assertEqual(t.feed(fragment(1, [(1, 0, samples)], trun_version=0)), [])
        t = MediaTracker(self.init)
        self.assertIn("tfdt", rules(t.feed(fragment(1, [(1, 0, samples)], tfdt_version=0))))

    def test_segment_starts_with_a_sync_sample(self):
        t = MediaTracker(self.init)
        self.assertIn("sync", rules(t.feed(video_part(1, 0, key=False), segment_start=True)))

    def test_independent_flag_matches_the_sync_sample(self):
        t = MediaTracker(self.init)
        self.assertIn("independent", rules(t.feed(video_part(1, 0, key=True),
                                                  independent=False)))
        t = MediaTracker(self.init)
        self.assertIn("independent", rules(t.feed(video_part(1, 0, key=False),
                                                  independent=True)))

    def test_key_picture_in_the_middle_of_a_part_is_counted_not_independent(self):
        # the contract: a key picture inside a part stays there; the part is not INDEPENDENT
        samples = [(3600, NON_SYNC, picture(False)), (3600, SYNC, picture(True))]
        t = MediaTracker(self.init)
        self.assertEqual(t.feed(fragment(1, [(1, 0, samples)]), independent=False), [])
        self.assertEqual(t.mid_part_keys, 1)
        t = MediaTracker(self.init)
        self.assertIn("independent", rules(t.feed(fragment(1, [(1, 0, samples)]),
                                                  independent=True)))

    def test_sync_flag_and_nal_units_agree(self):
        samples = [(3600, SYNC, picture(False))]
        self.assertIn("sample", rules(MediaTracker(self.init).feed(fragment(1, [(1, 0,
                                                                                samples)]))))
        samples = [(3600, NON_SYNC, picture(True))]
        self.assertIn("sample", rules(MediaTracker(self.init).feed(fragment(1, [(1, 0,
                                                                                samples)]))))

    def test_parameter_sets_in_samples_only_for_h264(self):
        # H.264 keeps the camera's in-band SPS/PPS (the contract); hvc1 must not carry them
        sps = b"\x00\x00\x00\x04\x67\x64\x00\x1f"
        samples = [(3600, SYNC, sps + picture(True))]
        self.assertEqual(MediaTracker(self.init).feed(fragment(1, [(1, 0, samples)])), [])
        init = parse_init(init_segment(b"hvc1"), video="hvc1")
        vps = b"\x00\x00\x00\x03\x40\x01\x0c"
        samples = [(3600, SYNC, vps + picture(True, codec="hvc1"))]
        self.assertIn("sample", rules(MediaTracker(init).feed(fragment(1, [(1, 0, samples)]))))
        aud = b"\x00\x00\x00\x03\x46\x01\x50"
        samples = [(3600, SYNC, aud + picture(True, codec="hvc1"))]
        self.assertIn("sample", rules(MediaTracker(init).feed(fragment(1, [(1, 0, samples)]))))

    def test_bad_lengths_in_samples(self):
        samples = [(3600, SYNC, b"\x00\x00\x10\x00" + picture(True))]
        self.assertIn("sample", rules(MediaTracker(self.init).feed(fragment(1, [(1, 0,
                                                                                samples)]))))

    def test_hevc_key_pictures(self):
        init = parse_init(init_segment(b"hvc1"), video="hvc1")
        t = MediaTracker(init)
        self.assertEqual(t.feed(video_part(1, 0, codec="hvc1"), segment_start=True,
                                independent=True), [])
        self.assertEqual(t.feed(video_part(2, 18000, key=False, codec="hvc1")), [])


# ---- what FFmpeg's own CMAF muxer writes passes -----------------------------------------

def split_cmaf(data):
    """(init, [fragments]) of a fragmented MP4: ftyp+moov, then each moof+mdat."""
    boxes = hlscheck.read_boxes(data)
    moov = next(b for b in boxes if b.type == b"moov")
    init = data[:moov.end]
    frags, cur = [], None
    for b in boxes:
        if b.type == b"moof":
            cur = b.start
        elif b.type == b"mdat" and cur is not None:
            frags.append(data[cur:b.end])
            cur = None
    return init, frags


class FfmpegCmaf(unittest.TestCase):
    def cmaf(self, *codec_args, audio=True):
        d = tempfile.mkdtemp(prefix="hlscheck-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "out.mp4")
        args = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                "testsrc2=size=320x240:rate=25"]
        if audio:
            args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-map", "0:v",
                     "-map", "1:a", "-c:a", "aac", "-ac", "1"]
        args += ["-t", "3"] + list(codec_args) + [
            "-g", "25", "-pix_fmt", "yuv420p", "-movflags",
            "cmaf+frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "200000",
            "-f", "mp4", path]
        p = subprocess.run(args, capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr.decode()[-2000:])
        with open(path, "rb") as f:
            return split_cmaf(f.read())

    def check(self, codec, *codec_args, audio=True):
        init_bytes, frags = self.cmaf(*codec_args, audio=audio)
        init = parse_init(init_bytes, video=codec, audio="mp4a" if audio else False)
        self.assertGreaterEqual(len(frags), 10)
        t = MediaTracker(init)
        for i, f in enumerate(frags):
            frag = parse_fragments(f, init)[0]
            first_sync = frag.runs[init.video().track_id].samples[0].sync
            self.assertEqual(t.feed(f, "fragment %d" % i, independent=first_sync), [])
        self.assertEqual(t.samples[init.video().track_id], 75)
        return init

    def test_h264_and_aac(self):
        init = self.check("avc1", "-c:v", "libx264", "-preset", "ultrafast", "-tune",
                          "zerolatency")
        self.assertEqual((init.video().width, init.video().height), (320, 240))
        self.assertEqual(init.audio().sample_rate, 16000)

    def test_h265(self):
        self.check("hvc1", "-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
                   "keyint=25:bframes=0:log-level=error", "-tag:v", "hvc1", audio=False)


if __name__ == "__main__":
    unittest.main()

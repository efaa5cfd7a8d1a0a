/* hls_check: a media playlist read back and held to the rules of RFC 8216bis (LL-HLS) and of
 * the README's "HLS and Low-Latency HLS" section, for test_hls_mux.c and fuzz_hls_mux.c.
 * Header-only, test code.
 *
 * hls_parse() reads the text into segments and parts; hls_rules() says which rule a parsed
 * playlist breaks, or NULL. The rules (the RFC's section in brackets):
 * - #EXTM3U first; VERSION, TARGETDURATION, SERVER-CONTROL, PART-INF, MEDIA-SEQUENCE once
 *   each, before the first segment; every line a known tag or the URI after an EXTINF.
 * - CAN-BLOCK-RELOAD=YES; PART-HOLD-BACK at least 3 x PART-TARGET [4.4.3.8].
 * - Segments numbered from MEDIA-SEQUENCE without a gap (EXT-X-GAP segments, URI "gap.mp4",
 *   count as they stand); each EXTINF, rounded, at most
 *   TARGETDURATION [4.4.3.1]; each part's DURATION at most PART-TARGET [4.4.4.9].
 * - An EXT-X-MAP before the first segment and after every DISCONTINUITY [4.4.4.5].
 * - PROGRAM-DATE-TIME before each segment (the contract).
 * - Parts numbered across segments without a gap; a complete segment's parts add up to its
 *   EXTINF (within 1.5 ms: both are rounded); parts listed for the last HLS_PART_SEGMENTS
 *   complete segments and the one in progress only. (A segment's first part is INDEPENDENT
 *   unless the mux had to cut a segment without a key picture: test_hls_mux.c checks it.)
 * - At most HLS_WINDOW complete segments.
 * - ENDLIST, or a PRELOAD-HINT naming the part after the last one listed, not both. */
#ifndef CAMSTREAM_TEST_HLS_CHECK_H
#define CAMSTREAM_TEST_HLS_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HLS_CHECK_MAX_SEGS 64
#define HLS_CHECK_MAX_PARTS 1024

struct hls_part {
	uint64_t number;        /* part{N}.m4s */
	double dur;
	bool independent;
};

struct hls_seg {
	bool complete;          /* has its EXTINF (the last one may be in progress) */
	bool gap;               /* an EXT-X-GAP segment: {prefix}gap.mp4, never fetched */
	uint64_t msn;           /* seg{MSN}.m4s; for the one in progress: the one before + 1 */
	double dur;
	bool discontinuity;
	char map[64];           /* the EXT-X-MAP URI in force */
	bool dated;
	char date[40];
	size_t first_part, n_parts; /* into hls_playlist.parts */
};

struct hls_playlist {
	int version;
	long target;
	bool can_block;
	double hold_back, part_target;
	uint64_t media_seq, disc_seq;
	bool has_disc_seq, endlist;
	bool has_hint;
	uint64_t hint;          /* the hinted part's number */
	char prefix[64];        /* what every URI starts with (before init, seg, part) */
	struct hls_seg segs[HLS_CHECK_MAX_SEGS];
	size_t n_segs;          /* complete ones, and the one in progress when it has parts */
	struct hls_part parts[HLS_CHECK_MAX_PARTS];
	size_t n_parts;
	char why[160];          /* what did not parse */
};

/* The number in @uri after @prefix and @word ("seg", "part"), followed by ".m4s". */
static inline bool hls_uri_number(const char *uri, const char *prefix, const char *word,
	uint64_t *n)
{
	size_t lp = strlen(prefix), lw = strlen(word);
	if (strncmp(uri, prefix, lp) || strncmp(uri + lp, word, lw))
		return false;
	char *end;
	const char *digits = uri + lp + lw;
	if (*digits < '0' || *digits > '9')
		return false;
	*n = strtoull(digits, &end, 10);
	return !strcmp(end, ".m4s");
}

/* The quoted value of @attr= in the attribute list @line, into @out. */
static inline bool hls_attr_str(const char *line, const char *attr, char *out, size_t cap)
{
	char key[32];
	snprintf(key, sizeof(key), "%s=\"", attr);
	const char *p = strstr(line, key);
	if (!p || (p > line && p[-1] != ',' && p[-1] != ':'))
		return false;
	p += strlen(key);
	const char *q = strchr(p, '"');
	if (!q || (size_t)(q - p) >= cap)
		return false;
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
	return true;
}

static inline bool hls_attr_num(const char *line, const char *attr, double *v)
{
	char key[32];
	snprintf(key, sizeof(key), "%s=", attr);
	const char *p = strstr(line, key);
	if (!p || (p > line && p[-1] != ',' && p[-1] != ':'))
		return false;
	char *end;
	*v = strtod(p + strlen(key), &end);
	return end != p + strlen(key) && (*end == ',' || *end == '\0');
}

#define HLS_FAIL(...) (snprintf(pl->why, sizeof(pl->why), __VA_ARGS__), false)

/* Parses @text with URIs under @prefix. false, and pl->why, when it does not parse. */
static inline bool hls_parse(const char *text, const char *prefix, struct hls_playlist *pl)
{
	memset(pl, 0, sizeof(*pl));
	snprintf(pl->prefix, sizeof(pl->prefix), "%s", prefix);
	if (!text || strncmp(text, "#EXTM3U\n", 8))
		return HLS_FAIL("no #EXTM3U first");
	int seen_version = 0, seen_target = 0, seen_control = 0, seen_inf = 0, seen_seq = 0;
	bool disc = false, dated = false, want_uri = false, after_hint = false, gap = false;
	char map[64] = "", date[40] = "";
	double extinf = 0;
	size_t first_part = 0;
	char line[512];
	for (const char *p = text + 8; *p;) {
		const char *nl = strchr(p, '\n');
		if (!nl)
			return HLS_FAIL("the last line has no newline");
		if ((size_t)(nl - p) >= sizeof(line))
			return HLS_FAIL("a line of %zu bytes", (size_t)(nl - p));
		memcpy(line, p, (size_t)(nl - p));
		line[nl - p] = '\0';
		p = nl + 1;
		if (after_hint)
			return HLS_FAIL("a line after the preload hint: %.100s", line);
		if (want_uri) {
			uint64_t msn = pl->n_segs ? pl->segs[pl->n_segs - 1].msn + 1 : pl->media_seq;
			if (gap && (strncmp(line, prefix, strlen(prefix)) ||
				strcmp(line + strlen(prefix), "gap.mp4") || pl->n_parts > first_part))
				return HLS_FAIL("a gap that is not gap.mp4, or with parts: %.100s", line);
			if (!gap && !hls_uri_number(line, prefix, "seg", &msn))
				return HLS_FAIL("not a segment URI after EXTINF: %.100s", line);
			if (pl->n_segs == HLS_CHECK_MAX_SEGS)
				return HLS_FAIL("too many segments");
			pl->segs[pl->n_segs++] = (struct hls_seg){ true, gap, msn, extinf, disc, "", dated,
				"", first_part, pl->n_parts - first_part };
			snprintf(pl->segs[pl->n_segs - 1].map, sizeof(map), "%s", map);
			snprintf(pl->segs[pl->n_segs - 1].date, sizeof(date), "%s", date);
			first_part = pl->n_parts;
			disc = dated = want_uri = gap = false;
			continue;
		}
		double v;
		char uri[128];
		if (!strncmp(line, "#EXT-X-VERSION:", 15)) {
			seen_version++;
			pl->version = atoi(line + 15);
		} else if (!strncmp(line, "#EXT-X-TARGETDURATION:", 22)) {
			seen_target++;
			pl->target = strtol(line + 22, NULL, 10);
		} else if (!strncmp(line, "#EXT-X-SERVER-CONTROL:", 22)) {
			seen_control++;
			pl->can_block = strstr(line, "CAN-BLOCK-RELOAD=YES") != NULL;
			if (!hls_attr_num(line + 21, "PART-HOLD-BACK", &pl->hold_back))
				return HLS_FAIL("no PART-HOLD-BACK");
		} else if (!strncmp(line, "#EXT-X-PART-INF:", 16)) {
			seen_inf++;
			if (!hls_attr_num(line + 15, "PART-TARGET", &pl->part_target))
				return HLS_FAIL("no PART-TARGET");
		} else if (!strncmp(line, "#EXT-X-MEDIA-SEQUENCE:", 22)) {
			seen_seq++;
			pl->media_seq = strtoull(line + 22, NULL, 10);
		} else if (!strncmp(line, "#EXT-X-DISCONTINUITY-SEQUENCE:", 30)) {
			if (pl->n_segs || pl->n_parts || pl->has_disc_seq)
				return HLS_FAIL("DISCONTINUITY-SEQUENCE late or twice");
			pl->has_disc_seq = true;
			pl->disc_seq = strtoull(line + 30, NULL, 10);
		} else if (!strcmp(line, "#EXT-X-DISCONTINUITY")) {
			disc = true;
		} else if (!strcmp(line, "#EXT-X-GAP")) {
			gap = true;
		} else if (!strncmp(line, "#EXT-X-MAP:", 11)) {
			if (!hls_attr_str(line + 10, "URI", map, sizeof(map)))
				return HLS_FAIL("a MAP without URI");
		} else if (!strncmp(line, "#EXT-X-PROGRAM-DATE-TIME:", 25)) {
			dated = true;
			snprintf(date, sizeof(date), "%.39s", line + 25);
		} else if (!strncmp(line, "#EXT-X-PART:", 12)) {
			uint64_t n;
			if (!hls_attr_str(line + 11, "URI", uri, sizeof(uri)) ||
				!hls_uri_number(uri, prefix, "part", &n) ||
				!hls_attr_num(line + 11, "DURATION", &v))
				return HLS_FAIL("a part line: %.100s", line);
			if (pl->n_parts == HLS_CHECK_MAX_PARTS)
				return HLS_FAIL("too many parts");
			pl->parts[pl->n_parts++] = (struct hls_part){ n, v,
				strstr(line, ",INDEPENDENT=YES") != NULL };
		} else if (!strncmp(line, "#EXTINF:", 8)) {
			char *end;
			extinf = strtod(line + 8, &end);
			if (end == line + 8 || strcmp(end, ","))
				return HLS_FAIL("an EXTINF: %.100s", line);
			want_uri = true;
		} else if (!strncmp(line, "#EXT-X-PRELOAD-HINT:", 20)) {
			if (!strstr(line, "TYPE=PART") ||
				!hls_attr_str(line + 19, "URI", uri, sizeof(uri)) ||
				!hls_uri_number(uri, prefix, "part", &pl->hint))
				return HLS_FAIL("a preload hint: %.100s", line);
			pl->has_hint = after_hint = true;
		} else if (!strcmp(line, "#EXT-X-ENDLIST")) {
			pl->endlist = true;
		} else {
			return HLS_FAIL("an unknown line: %.100s", line);
		}
		bool header = !strncmp(line, "#EXT-X-VERSION", 14) ||
			!strncmp(line, "#EXT-X-TARGETDURATION", 21) ||
			!strncmp(line, "#EXT-X-SERVER-CONTROL", 21) ||
			!strncmp(line, "#EXT-X-PART-INF", 15) || !strncmp(line, "#EXT-X-MEDIA-SEQ", 16);
		if (header && (pl->n_segs || pl->n_parts || map[0]))
			return HLS_FAIL("a header tag after the first segment: %.100s", line);
	}
	if (want_uri)
		return HLS_FAIL("an EXTINF without its URI");
	if (seen_version != 1 || seen_target != 1 || seen_control != 1 || seen_inf != 1 ||
		seen_seq != 1)
		return HLS_FAIL("a header tag missing or twice");
	if (pl->n_parts > first_part) { /* the segment in progress */
		if (pl->n_segs == HLS_CHECK_MAX_SEGS)
			return HLS_FAIL("too many segments");
		uint64_t msn = pl->n_segs ? pl->segs[pl->n_segs - 1].msn + 1 : pl->media_seq;
		if (gap)
			return HLS_FAIL("a gap with parts");
		pl->segs[pl->n_segs++] = (struct hls_seg){ false, false, msn, 0, disc, "", dated, "",
			first_part, pl->n_parts - first_part };
		snprintf(pl->segs[pl->n_segs - 1].map, sizeof(map), "%s", map);
		snprintf(pl->segs[pl->n_segs - 1].date, sizeof(date), "%s", date);
	}
	return true;
}

/* The rule @pl breaks (its text in a static buffer), or NULL. @window and @part_segments:
 * HLS_WINDOW and HLS_PART_SEGMENTS. */
static inline const char *hls_rules(const struct hls_playlist *pl, size_t window,
	size_t part_segments)
{
	static char why[200];
#define HLS_BROKE(...) return (snprintf(why, sizeof(why), __VA_ARGS__), why)
	if (pl->version < 9)
		HLS_BROKE("VERSION %d: LL-HLS wants 9 (or 6 at least)", pl->version);
	if (pl->target < 1)
		HLS_BROKE("TARGETDURATION %ld", pl->target);
	if (!pl->can_block)
		HLS_BROKE("no CAN-BLOCK-RELOAD=YES");
	if (!(pl->part_target > 0) || pl->hold_back < 3 * pl->part_target - 1e-9)
		HLS_BROKE("PART-HOLD-BACK %.3f < 3 x PART-TARGET %.3f", pl->hold_back,
			pl->part_target);
	if (pl->endlist == pl->has_hint)
		HLS_BROKE(pl->endlist ? "ENDLIST and a preload hint" : "neither ENDLIST nor hint");
	size_t complete = 0;
	for (size_t i = 0; i < pl->n_segs; i++) {
		const struct hls_seg *s = &pl->segs[i];
		complete += s->complete;
		if (s->msn != pl->media_seq + i)
			HLS_BROKE("segment %zu is seg%llu, MEDIA-SEQUENCE %llu", i,
				(unsigned long long)s->msn, (unsigned long long)pl->media_seq);
		if (s->complete && (long)(s->dur + 0.5) > pl->target)
			HLS_BROKE("seg%llu of %.5f s over TARGETDURATION %ld",
				(unsigned long long)s->msn, s->dur, pl->target);
		if (!s->map[0])
			HLS_BROKE("seg%llu without a MAP", (unsigned long long)s->msn);
		if (s->discontinuity && i > 0 && !strcmp(s->map, pl->segs[i - 1].map))
			HLS_BROKE("seg%llu after a discontinuity keeps the MAP %s",
				(unsigned long long)s->msn, s->map);
		if (!s->dated)
			HLS_BROKE("seg%llu without PROGRAM-DATE-TIME", (unsigned long long)s->msn);
		double sum = 0;
		for (size_t k = 0; k < s->n_parts; k++)
			sum += pl->parts[s->first_part + k].dur;
		if (s->complete && s->n_parts && (sum - s->dur > 0.0015 || s->dur - sum > 0.0015))
			HLS_BROKE("seg%llu of %.5f s, its parts %.5f s", (unsigned long long)s->msn,
				s->dur, sum);
	}
	if (complete > window)
		HLS_BROKE("%zu complete segments listed", complete);
	/* parts: the last part_segments complete segments and the one in progress */
	size_t with_parts = 0;
	for (size_t i = pl->n_segs; i-- > 0;) {
		const struct hls_seg *s = &pl->segs[i];
		if (s->gap)
			continue;
		if (s->complete && ++with_parts > part_segments && s->n_parts)
			HLS_BROKE("parts listed for seg%llu, %zu complete segments from the end",
				(unsigned long long)s->msn, with_parts);
		if (s->complete && with_parts <= part_segments && !s->n_parts)
			HLS_BROKE("no parts listed for seg%llu", (unsigned long long)s->msn);
	}
	for (size_t k = 0; k < pl->n_parts; k++) {
		const struct hls_part *p = &pl->parts[k];
		if (k && p->number != pl->parts[k - 1].number + 1)
			HLS_BROKE("part%llu after part%llu", (unsigned long long)p->number,
				(unsigned long long)pl->parts[k - 1].number);
		if (p->dur > pl->part_target + 1e-9)
			HLS_BROKE("part%llu of %.5f s over PART-TARGET %.3f",
				(unsigned long long)p->number, p->dur, pl->part_target);
		if (!(p->dur > 0))
			HLS_BROKE("part%llu of %.5f s", (unsigned long long)p->number, p->dur);
	}
	if (pl->has_hint && pl->n_parts && pl->hint != pl->parts[pl->n_parts - 1].number + 1)
		HLS_BROKE("hint part%llu after part%llu", (unsigned long long)pl->hint,
			(unsigned long long)pl->parts[pl->n_parts - 1].number);
#undef HLS_BROKE
	return NULL;
}

#endif

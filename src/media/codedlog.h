/* codedlog: a source's coded pictures and audio frames, kept for the readers that send them
 * on as they are (FLV, HLS, WebRTC, raw frames): docs/DESIGN.md, "Two kinds of readers of a
 * source".
 *
 * The source's worker thread is the one writer: it appends each access unit (with its key
 * flag and timestamps) and each audio frame. The log keeps everything since the newest video
 * key picture (a GOP cache), bounded in bytes and in entries. Readers, on the service thread
 * or any other, each hold a cursor: a new reader starts at once at the cached key picture;
 * one that falls behind jumps to the next key picture it can have, and the skip is counted in
 * its cursor.
 *
 * Entries and parameters are refcounted and immutable once appended, so a reader only takes
 * the log's mutex to take a reference, and nothing is copied per reader. Refcounts are atomic:
 * the last reference may be dropped on any thread.
 *
 * Pure: libc and pthreads, nal.c for the bytes. */
#ifndef CAMSTREAM_MEDIA_CODEDLOG_H
#define CAMSTREAM_MEDIA_CODEDLOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum coded_kind {
	CODED_VIDEO = 0,
	CODED_AUDIO = 1,   /* AAC: the camera's, or its sound transcoded */
	/* The camera's sound as it came, beside its AAC form, when it is a codec WebRTC carries
	 * (G.711, Opus): for readers that send it as it is. FLV and HLS read the AAC and skip
	 * these. */
	CODED_SOUND = 2,
};
#define CODED_KINDS 3

/* The log's audio is AAC only (coded_feed transcodes what else it can); the other audio
 * codecs name what a camera sends. */
enum coded_codec {
	CODED_NONE = 0,
	CODED_H264,
	CODED_H265,
	CODED_AAC,
	CODED_PCMA,
	CODED_PCMU,
	CODED_OPUS,
	CODED_G722,
	CODED_G726,
	CODED_MP3,
};

/* How to decode a run of entries. Immutable once appended; made by the writer. */
struct coded_params {
	atomic_uint refs;
	enum coded_kind kind;
	enum coded_codec codec;
	unsigned width, height;             /* video: pixels, from the SPS */
	unsigned sample_rate, channels;     /* audio */
	/* Given by the log when these parameters become its current ones for their kind: 1, 2,
	 * ... per kind, one more at each change. 0 until then. A params object that comes back
	 * after another keeps the version it had (readers compare for inequality). */
	uint64_t version;
	/* Decoder configuration record: avcC or hvcC (lengths of 4 bytes) for video, the
	 * AudioSpecificConfig for AAC (the camera's, or the transcoder's encoder's), as given for
	 * other audio. Points into this object. */
	const uint8_t *config;
	size_t config_len;
	/* Video: the parameter sets (VPS, SPS, PPS in that order) as NAL units with 4-byte
	 * big-endian lengths, for writers that put them in front of a key picture. */
	const uint8_t *sets;
	size_t sets_len;
};

/* Parameters from the parameter-set NAL units @sets (@lens bytes each; header included, no
 * start code or length) of an H.264 or H.265 stream: the config record is built and the size
 * read from the first SPS. Units that are not parameter sets are ignored. NULL when a set is
 * missing (SPS and PPS; VPS too for H.265), the SPS does not parse, or memory ran out. The
 * caller owns the one reference. */
struct coded_params *coded_params_video(enum coded_codec codec, const uint8_t *const *sets,
	const size_t *lens, size_t n);

/* Parameters of an audio stream. @config (copied) is required for AAC (2 bytes at least).
 * NULL on a video codec, a zero rate or channel count, or out of memory. */
struct coded_params *coded_params_audio(enum coded_codec codec, unsigned sample_rate,
	unsigned channels, const uint8_t *config, size_t config_len);
/* The same for the camera's own sound (kind CODED_SOUND): G.711 A-law or mu-law, or Opus. */
struct coded_params *coded_params_sound(enum coded_codec codec, unsigned sample_rate,
	unsigned channels);

struct coded_params *coded_params_ref(struct coded_params *p);   /* NULL ok; returns p */
void coded_params_unref(struct coded_params *p);                 /* NULL ok */

/* Whether @a and @b describe the same stream: kind, codec, audio format, config and
 * parameter-set bytes. The version is not compared. Two NULLs are the same. */
bool coded_params_same(const struct coded_params *a, const struct coded_params *b);

/* Room before every entry's data for a writer that sends the data with a header of its own
 * in front (an FLV tag header, a WebSocket frame header) in one write. */
#define CODED_HEADROOM 64

/* One coded picture or audio frame. The writer fills it between coded_entry_create() and
 * coded_log_append(); from then on nobody changes it, except the headroom, which belongs to
 * the service thread: it writes a reader's header there just before sending (the bytes are
 * scratch, overwritten by the next reader; no other thread reads them). */
struct coded_entry {
	atomic_uint refs;
	uint64_t seq;               /* given by coded_log_append: 1, 2, ... per log, no gaps */
	enum coded_kind kind;
	bool key;                   /* video: an IDR or IRAP picture (a GOP starts here) */
	int64_t pts_us, dts_us;     /* the camera's clock */
	int64_t t_wall_us;          /* CLOCK_REALTIME when the source read it */
	struct coded_params *params; /* one reference, dropped with the entry */
	size_t len;
	uint8_t headroom[CODED_HEADROOM];
	/* video: NAL units with 4-byte big-endian lengths; audio: one raw AAC frame (no ADTS
	 * header) */
	uint8_t data[];
};

/* An entry with room for @len bytes of data and one reference, the caller's: every field
 * zeroed, the data not (the caller writes all of it). NULL when memory ran out. */
struct coded_entry *coded_entry_create(size_t len);
struct coded_entry *coded_entry_ref(struct coded_entry *e);    /* NULL ok; returns e */
void coded_entry_unref(struct coded_entry *e);                 /* NULL ok */

/* Makes the entry for one access unit of @codec (H.264 or H.265) in Annex B
 * (@nal_length_size 0) or with 1, 2 or 4-byte lengths. The entry's data has every unit with
 * 4-byte lengths, in-band parameter sets included as they came; its key flag comes from the
 * unit types. @current is the writer's present video parameters (NULL if none yet).
 * When the unit carries parameter sets that differ from @current (a new resolution, a new
 * PPS), new parameters are made from them (types it lacks are taken from @current),
 * *@changed gets the caller's reference to them and the entry refers to them; otherwise
 * *@changed is NULL and the entry refers to @current.
 * The caller sets the timestamps, then appends the entry (*@entry: its reference).
 * Returns 0, -EINVAL for malformed bytes, no units, or in-band parameter sets that do not
 * make a usable whole with @current's (an SPS that does not parse, a PPS and no SPS
 * anywhere), -ENODATA when there are no parameters at all (nobody could decode the
 * picture), -ENOMEM. */
int coded_entry_from_au(enum coded_codec codec, const uint8_t *au, size_t len,
	unsigned nal_length_size, struct coded_params *current, struct coded_entry **entry,
	struct coded_params **changed);

struct coded_log;

/* A log keeping at most @max_bytes of entry data and @max_entries entries (both > 0), except
 * that the newest entry is always kept whatever its size. NULL on bad bounds or out of
 * memory. */
struct coded_log *coded_log_create(size_t max_bytes, size_t max_entries);

/* Drops the log's references; entries and params readers still hold stay valid. NULL ok. */
void coded_log_destroy(struct coded_log *log);

/* What a key picture leaves of the GOP before it: the entries the source read this shortly
 * before it. A reader that had not read them yet (they came in the same batch as the key
 * picture: the last audio frames, the last picture) still gets them rather than a jump. */
#define CODED_TAIL_US 300000

/* Writer thread only. Takes the caller's reference to @entry and gives it the next seq.
 * A video key picture starts a new GOP: the entries before it leave the log but for the tail
 * (CODED_TAIL_US), and the log keeps a reference to it as its newest key picture even after
 * it leaves the window. Then the oldest entries leave until the bounds hold (a key picture
 * too: new readers then wait for the next one). When @entry's params differ from the log's current ones of that kind they
 * become current and get a version; byte-equal params are swapped for the current object, so
 * readers can compare pointers. */
void coded_log_append(struct coded_log *log, struct coded_entry *entry);

/* Writer thread only: a discontinuity (the source reconnected). Every entry and the newest
 * key picture are dropped; readers wait for the next key picture and re-join there. The
 * current params stay (a version changes only when the params do). */
void coded_log_reset(struct coded_log *log);

/* Writer thread only. Makes @params (of @kind; NULL: none) the current params of @kind before
 * any entry refers to them, so that a reader starting now knows of a stream whose first entry
 * is still to come: an FLV header says audio only when audio will follow. Byte-equal params
 * keep the current object and its version. The log takes a reference of its own. */
void coded_log_set_params(struct coded_log *log, enum coded_kind kind,
	struct coded_params *params);

/* A new reference to the current params of @kind, or NULL. */
struct coded_params *coded_log_params(struct coded_log *log, enum coded_kind kind);

/* A reader's place in a log. Zero-initialise it (not started); it belongs to its reader. */
struct coded_cursor {
	bool started;
	uint64_t next_seq;      /* the entry to read next */
	uint64_t epoch;         /* the log's reset count when it joined: a change means a
	                         * discontinuity before the next entry read */
	uint64_t skipped;       /* entries passed over by jumps */
	uint64_t jumps;         /* jumps that passed over at least one entry */
};

/* Any thread. The next entry for @cur: true and a new reference in *@entry (the caller
 * unrefs it), or false when there is nothing to read yet.
 * - A cursor not started yet, or after a reset, starts at the key picture of the window;
 *   there is none, it waits (never starts mid-GOP).
 * - A cursor whose next entry left the window jumps to the key picture of the window, or
 *   waits for the next one.
 * - With @max_lag_us > 0, a cursor whose next entry is more than @max_lag_us older (on
 *   t_wall_us) than the newest entry gets nothing more of this GOP: it waits for the next
 *   key picture, which is the newest it can jump to, since the window starts at the newest
 *   key picture. The key picture a reader joins or jumps to is always given.
 * Skips are counted in @cur when the cursor jumps. */
bool coded_log_read(struct coded_log *log, struct coded_cursor *cur, int64_t max_lag_us,
	struct coded_entry **entry);

/* Any thread. A new reference to the newest video key picture (with its params), even one
 * that left the window; false if there is none (none yet, or since a reset). */
bool coded_log_newest_key(struct coded_log *log, struct coded_entry **entry);

struct coded_log_stats {
	size_t entries, bytes;      /* in the window now */
	uint64_t appended;          /* entries appended, ever */
	uint64_t keys;              /* video key pictures appended, ever */
	uint64_t dropped_by_bound;  /* entries that left for max_bytes or max_entries */
	uint64_t resets;
};

/* Any thread: the counters, for metrics. */
void coded_log_get_stats(struct coded_log *log, struct coded_log_stats *stats);

#endif

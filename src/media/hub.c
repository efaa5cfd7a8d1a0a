#include "hub.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

/* One encode setting inside a source, and the viewers that take its frames.
 * Service thread only. */
struct hub_output {
	struct hub_output *next;     /* in entry->outputs */
	struct hub_entry *entry;
	struct output_params params;
	struct output *so;           /* in the source's outputs; removed together with this */
	struct hub_sub *subs;        /* not owned: each lives in its viewer's state */
	int n_subs;
	int n_busy;                  /* subscribers in the middle of sending a frame */
	bool internal;               /* an always-on stream's capture output: needs no viewer */
};

/* Where an entry is in its life. Only OPEN and ALWAYS_ON entries take new subscribers; the
 * others are "detached" from their key, so the next viewer of that camera starts afresh,
 * and are reaped once their worker exited and their last subscriber left. */
enum entry_state {
	ENTRY_OPEN = 0,              /* running for its subscribers (and its warm time) */
	ENTRY_ALWAYS_ON,             /* running with no subscriber too (a named stream) */
	ENTRY_STOPPING,              /* asked to stop: nobody left, warm time over, shutdown */
	ENTRY_FAILED,                /* the worker failed or the stream ended: see its error */
	ENTRY_STOPPED,               /* stopped through the API: subscribers get stop_msg */
};

/* One camera session (a running or stopping source). Service thread only. */
struct hub_entry {
	struct hub_entry *next;      /* in hub->entries */
	char *key;                   /* sharing key; holds the full URL, so never logged (owned) */
	char *name;                  /* named stream, NULL for an ad-hoc URL (owned) */
	char *display_url;           /* redacted URL for log lines and metrics (owned) */
	char *hostport;              /* "host:port" of the camera, "" for demo: (owned) */
	struct source *src;          /* owned: destroyed when reaped */
	struct hub_output *outputs;  /* owned */
	struct hub_sub *coded;       /* coded readers (not owned) */
	int n_subs;                  /* over all outputs, and the coded readers */
	int n_coded;
	enum entry_state state;
	bool isolated;               /* --isolate: nobody else can ever join it */
	bool pinned;                 /* fed by a publisher: runs with no subscriber until stopped */
	char stop_msg[160];          /* ENTRY_STOPPED: why */
	int64_t warm_until_us;       /* monotonic: with no subscriber, keep running until then */
	uint64_t frames_dropped;
	uint64_t coded_skipped;
	uint64_t bytes_sent;
};

struct hub {
	struct hub_config cfg;
	source_notify_fn wake;
	void *wake_arg;
	struct hub_entry *entries;   /* owned */
	uint64_t isolate_serial;     /* makes every key unique under --isolate */
};

static bool joinable(const struct hub_entry *e)
{
	return e->state == ENTRY_OPEN || e->state == ENTRY_ALWAYS_ON;
}

/* Tells every subscriber of @e, picture viewers and coded readers, that something changed.
 * on_news only asks for a writable callback: the lists cannot change meanwhile. */
static void notify_subs(struct hub_entry *e)
{
	for (struct hub_output *o = e->outputs; o; o = o->next)
		for (struct hub_sub *s = o->subs; s; s = s->next)
			s->on_news(s);
	for (struct hub_sub *s = e->coded; s; s = s->next)
		s->on_news(s);
}

struct hub *hub_create(const struct hub_config *cfg, source_notify_fn wake, void *wake_arg)
{
	struct hub *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->cfg = *cfg;
	h->wake = wake;
	h->wake_arg = wake_arg;
	return h;
}

static void detach_subs(struct hub_sub *list)
{
	for (struct hub_sub *s = list; s; s = s->next) {
		s->entry = NULL; /* readers closed later find themselves detached */
		s->out = NULL;
	}
}

static void entry_free(struct hub_entry *e)
{
	/* source_destroy frees the outputs the hub_outputs point at (NULL: abandoned) */
	source_destroy(e->src);
	while (e->outputs) {
		struct hub_output *o = e->outputs;
		e->outputs = o->next;
		detach_subs(o->subs);
		free(o);
	}
	detach_subs(e->coded);
	free(e->key);
	free(e->name);
	free(e->display_url);
	free(e->hostport);
	free(e);
}

static bool all_exited(const struct hub *h)
{
	for (const struct hub_entry *e = h->entries; e; e = e->next)
		if (!source_exited(e->src))
			return false;
	return true;
}

void hub_destroy(struct hub *h, int64_t grace_us)
{
	if (!h)
		return;
	hub_stop_all(h);
	int64_t deadline = clock_mono_us() + grace_us;
	while (!all_exited(h) && clock_mono_us() < deadline) {
		struct timespec step = { 0, 10 * 1000 * 1000 };
		nanosleep(&step, NULL);
	}
	while (h->entries) {
		struct hub_entry *e = h->entries;
		h->entries = e->next;
		if (e->n_subs)
			log_debug("source %s: %d reader(s) still attached at exit", e->display_url,
				e->n_subs);
		if (!source_exited(e->src)) {
			log_warn("source %s did not stop in time: leaving it behind", e->display_url);
			source_abandon(e->src);
			e->src = NULL; /* its memory stays with the abandoned worker */
		}
		entry_free(e);
	}
	free(h);
}

static void stop_entry(struct hub_entry *e, enum entry_state state, const char *why)
{
	if (!joinable(e))
		return;
	e->state = state;
	source_stop(e->src);
	/* the worker exits within ~100 ms; hub_poll reaps it when its exit is news */
	log_info("source %s: %s", e->display_url, why);
}

static struct hub_entry *find_entry(struct hub *h, const char *key)
{
	for (struct hub_entry *e = h->entries; e; e = e->next)
		if (joinable(e) && !strcmp(e->key, key))
			return e;
	return NULL;
}

static int sessions_at(const struct hub *h, const char *hostport)
{
	int n = 0;
	for (const struct hub_entry *e = h->entries; e; e = e->next)
		n += joinable(e) && !strcmp(e->hostport, hostport);
	return n;
}

static struct hub_entry *start_entry(struct hub *h, const char *key, const char *name,
	const struct source_params *p, int port, struct cs_error *err)
{
	char hostport[300] = "";
	if (p->host && p->host[0])
		snprintf(hostport, sizeof(hostport), "%s:%d", p->host, port);
	if (h->cfg.max_sources && hub_source_count(h) >= h->cfg.max_sources) {
		cs_fail(err, CS_SERVER_BUSY, "the server is running its maximum of %d sources",
			h->cfg.max_sources);
		return NULL;
	}
	if (h->cfg.max_sessions_per_host && hostport[0] &&
		sessions_at(h, hostport) >= h->cfg.max_sessions_per_host) {
		cs_fail(err, CS_SERVER_BUSY, "this camera already has the %d session(s) this server "
			"may open to it (--max-sessions-per-host)", h->cfg.max_sessions_per_host);
		return NULL;
	}
	struct hub_entry *e = calloc(1, sizeof(*e));
	if (!e)
		goto fail;
	e->key = strdup(key);
	e->display_url = strdup(p->display_url);
	e->hostport = strdup(hostport);
	e->name = name ? strdup(name) : NULL;
	if (!e->key || !e->display_url || !e->hostport || (name && !e->name))
		goto fail_entry;
	e->src = source_start(p, h->wake, h->wake_arg);
	if (!e->src)
		goto fail_entry;
	e->next = h->entries;
	h->entries = e;
	log_info("source %s started (%d running)", e->display_url, hub_source_count(h));
	return e;

fail_entry:
	free(e->key);
	free(e->name);
	free(e->display_url);
	free(e->hostport);
	free(e);
fail:
	cs_fail(err, CS_SERVER_BUSY, "the server could not start a worker for this source");
	return NULL;
}

static void update_wanted(struct hub_output *o)
{
	output_set_wanted(o->so, o->internal || o->n_busy < o->n_subs);
}

static bool same_params(const struct output_params *a, const struct output_params *b)
{
	return a->fps_max == b->fps_max && a->width == b->width && a->height == b->height &&
		a->quality == b->quality;
}

/* The entry's output with @p, created if needed. */
static struct hub_output *get_output(struct hub_entry *e, const struct output_params *p)
{
	for (struct hub_output *o = e->outputs; o; o = o->next)
		if (same_params(&o->params, p))
			return o;
	struct hub_output *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->so = output_add(source_outputs(e->src), p);
	if (!o->so) {
		free(o);
		return NULL;
	}
	o->entry = e;
	o->params = *p;
	o->next = e->outputs;
	e->outputs = o;
	return o;
}

static void remove_output(struct hub_entry *e, struct hub_output *o)
{
	for (struct hub_output **pp = &e->outputs; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	output_remove(source_outputs(e->src), o->so);
	free(o);
}

static void unlink_sub(struct hub_sub **list, struct hub_sub *sub)
{
	for (struct hub_sub **pp = list; *pp; pp = &(*pp)->next) {
		if (*pp == sub) {
			*pp = sub->next;
			break;
		}
	}
}

static enum cs_err attach(struct hub_entry *e, struct hub_sub *sub,
	const struct output_params *pic, struct cs_error *err)
{
	sub->busy = false;
	sub->last_seq = 0;
	memset(&sub->cursor, 0, sizeof(sub->cursor));
	sub->entry = e;
	if (!pic) {
		sub->out = NULL;
		sub->next = e->coded;
		e->coded = sub;
		e->n_coded++;
		e->n_subs++;
		source_set_coded_wanted(e->src, true);
		return CS_OK;
	}
	struct hub_output *o = get_output(e, pic);
	if (!o) {
		sub->entry = NULL;
		if (e->n_subs == 0 && e->state == ENTRY_OPEN)
			stop_entry(e, ENTRY_STOPPING, "could not add a viewer");
		return cs_fail_oom(err);
	}
	sub->out = o;
	sub->next = o->subs;
	o->subs = sub;
	o->n_subs++;
	e->n_subs++;
	update_wanted(o);
	return CS_OK;
}

/* What every source of this hub is started with; the caller adds what it is. */
static struct source_params source_params_of(const struct hub *h, bool demo,
	enum transport transport)
{
	return (struct source_params){
		.input = demo ? h->cfg.demo_input : h->cfg.pull_input,
		.input_ctx = NULL,
		.transport = transport,
		.open_timeout_us = h->cfg.open_timeout_us,
		.read_timeout_us = h->cfg.read_timeout_us,
		.no_slice_release = h->cfg.no_slice_release,
		.decoder_linger_us = h->cfg.decoder_linger_us,
	};
}

enum cs_err hub_subscribe_url(struct hub *h, struct hub_sub *sub, const struct cam_url *url,
	enum transport transport, const struct output_params *pic, struct cs_error *err)
{
	char prefix[64];
	int n = snprintf(prefix, sizeof(prefix), "url|%s|%" PRIu64 "|", transport_name(transport),
		h->cfg.isolate ? ++h->isolate_serial : 0);
	size_t ulen = strlen(url->text);
	char *key = malloc((size_t)n + ulen + 1);
	if (!key)
		return cs_fail_oom(err);
	memcpy(key, prefix, (size_t)n);
	memcpy(key + n, url->text, ulen + 1);

	struct hub_entry *e = find_entry(h, key);
	if (!e) {
		struct source_params p = source_params_of(h, url->is_demo, transport);
		p.url = url->text;
		p.display_url = url->redacted;
		p.host = url->host;
		p.hosts = h->cfg.hosts; /* --allow-hosts applies to ad-hoc cameras */
		e = start_entry(h, key, NULL, &p, url->port, err);
		if (e)
			e->isolated = h->cfg.isolate;
	}
	free(key);
	return e ? attach(e, sub, pic, err) : CS_SERVER_BUSY;
}

static struct hub_entry *stream_entry(struct hub *h, const struct hub_stream_def *def,
	struct cs_error *err)
{
	char key[160];
	snprintf(key, sizeof(key), "name|%s", def->name);
	struct hub_entry *e = find_entry(h, key);
	if (e)
		return e;
	struct source_params p = source_params_of(h, def->is_demo, def->transport);
	p.url = def->url;
	p.display_url = def->display_url;
	p.host = def->host;
	/* a publisher's source ends when the publisher is gone for good (the ingest says when) */
	p.reconnect = !def->is_push && !def->once;
	if (def->is_push) {
		if (!h->cfg.push_input) {
			cs_fail(err, CS_NOT_FOUND, "stream %s is published, and this server takes no "
				"publishers (--rtmp-port off)", def->name);
			return NULL;
		}
		p.input = h->cfg.push_input;
		p.input_ctx = h->cfg.push_ctx;
	}
	e = start_entry(h, key, def->name, &p, def->port, err);
	if (e)
		e->pinned = def->is_push;
	return e;
}

enum cs_err hub_subscribe_stream(struct hub *h, struct hub_sub *sub,
	const struct hub_stream_def *def, const struct output_params *pic,
	struct cs_error *err)
{
	struct hub_entry *e = stream_entry(h, def, err);
	return e ? attach(e, sub, pic, err) : err->code;
}

void hub_unsubscribe(struct hub *h, struct hub_sub *sub)
{
	(void)h;
	struct hub_entry *e = sub->entry;
	if (!e)
		return;
	struct hub_output *o = sub->out;
	if (o) {
		unlink_sub(&o->subs, sub);
		if (sub->busy)
			o->n_busy--;
		o->n_subs--;
		if (o->n_subs == 0 && !o->internal)
			remove_output(e, o);
		else
			update_wanted(o);
	} else {
		unlink_sub(&e->coded, sub);
		e->n_coded--;
		e->coded_skipped += sub->cursor.skipped;
		source_set_coded_wanted(e->src, e->n_coded > 0);
	}
	e->n_subs--;
	sub->entry = NULL;
	sub->out = NULL;
	sub->next = NULL;
	sub->busy = false;
	if (e->n_subs == 0 && e->state == ENTRY_OPEN && !e->pinned &&
		e->warm_until_us <= clock_mono_us())
		stop_entry(e, ENTRY_STOPPING, "last viewer left, stopping");
}

struct frame *hub_sub_latest(struct hub_sub *sub, bool fresh)
{
	if (!sub->out)
		return NULL;
	struct frame *f = output_latest(sub->out->so, sub->last_seq, fresh);
	if (f) {
		if (sub->last_seq && f->seq > sub->last_seq + 1)
			sub->entry->frames_dropped += f->seq - sub->last_seq - 1;
		sub->last_seq = f->seq;
	}
	return f;
}

struct frame *hub_sub_newest(struct hub_sub *sub)
{
	return sub->out ? output_latest(sub->out->so, 0, false) : NULL;
}

struct coded_entry *hub_sub_coded_next(struct hub_sub *sub, int64_t max_lag_us)
{
	if (!sub->entry)
		return NULL;
	struct coded_entry *ce = NULL;
	coded_log_read(source_log(sub->entry->src), &sub->cursor, max_lag_us, &ce);
	return ce;
}

struct coded_entry *hub_sub_newest_key(struct hub_sub *sub)
{
	if (!sub->entry)
		return NULL;
	struct coded_entry *ce = NULL;
	coded_log_newest_key(source_log(sub->entry->src), &ce);
	return ce;
}

struct coded_params *hub_sub_coded_params(struct hub_sub *sub, enum coded_kind kind)
{
	return sub->entry ? coded_log_params(source_log(sub->entry->src), kind) : NULL;
}

enum cs_err hub_sub_error(struct hub_sub *sub, struct cs_error *out)
{
	struct hub_entry *e = sub->entry;
	if (!e)
		return cs_fail(out, CS_SOURCE_ENDED, "the source is gone");
	if (e->state == ENTRY_STOPPED) {
		cs_fail(out, CS_SOURCE_ENDED, "%s", e->stop_msg);
		out->clean = true;
		return CS_SOURCE_ENDED;
	}
	enum cs_err code = source_error(e->src, out);
	if (code == CS_OK && sub->out)
		code = source_picture_error(e->src, out);
	return code;
}

void hub_sub_set_busy(struct hub_sub *sub, bool busy)
{
	struct hub_output *o = sub->out;
	if (!o || sub->busy == busy)
		return;
	sub->busy = busy;
	o->n_busy += busy ? 1 : -1;
	update_wanted(o);
}

void hub_sub_count_sent(struct hub_sub *sub, size_t bytes)
{
	if (sub->entry)
		sub->entry->bytes_sent += bytes;
}

void hub_sub_keep_warm(struct hub_sub *sub, double seconds)
{
	struct hub_entry *e = sub->entry;
	if (!e || seconds <= 0 || e->isolated)
		return; /* an isolated source could never be reused: keeping it only costs */
	int64_t until = clock_mono_us() + (int64_t)(seconds * 1e6);
	if (until > e->warm_until_us)
		e->warm_until_us = until;
}

bool hub_sub_stats(struct hub_sub *sub, struct source_stats *out)
{
	if (!sub->entry)
		return false;
	source_get_stats(sub->entry->src, out);
	return true;
}

enum cs_err hub_stream_start(struct hub *h, const struct hub_stream_def *def,
	struct cs_error *err)
{
	struct hub_entry *e = stream_entry(h, def, err);
	if (!e)
		return err->code;
	if (e->state == ENTRY_ALWAYS_ON)
		return CS_OK;
	struct output_params p = { .fps_max = def->idle_fps, .quality = 80 };
	struct hub_output *o = get_output(e, &p);
	if (!o) {
		if (e->n_subs == 0)
			stop_entry(e, ENTRY_STOPPING, "could not start capturing");
		return cs_fail_oom(err);
	}
	o->internal = true;
	update_wanted(o);
	e->state = ENTRY_ALWAYS_ON;
	return CS_OK;
}

enum cs_err hub_stream_run(struct hub *h, const struct hub_stream_def *def,
	struct cs_error *err)
{
	return stream_entry(h, def, err) ? CS_OK : err->code;
}

void hub_stream_stop(struct hub *h, const char *name, const char *why)
{
	for (struct hub_entry *e = h->entries; e; e = e->next) {
		if (!joinable(e) || !e->name || strcmp(e->name, name))
			continue;
		snprintf(e->stop_msg, sizeof(e->stop_msg), "%s", why);
		stop_entry(e, ENTRY_STOPPED, why);
		notify_subs(e);
	}
}

static void fill_info(struct hub_entry *e, struct hub_source_info *out)
{
	memset(out, 0, sizeof(*out));
	out->name = e->name;
	out->display_url = e->display_url;
	out->viewers = e->n_subs;
	out->coded_readers = e->n_coded;
	for (struct hub_output *o = e->outputs; o; o = o->next)
		out->outputs++;
	out->always_on = e->state == ENTRY_ALWAYS_ON;
	out->push = e->pinned;
	out->frames_dropped = e->frames_dropped;
	out->coded_skipped = e->coded_skipped;
	for (struct hub_sub *s = e->coded; s; s = s->next)
		out->coded_skipped += s->cursor.skipped;
	out->bytes_sent = e->bytes_sent;
	source_get_stats(e->src, &out->stats);
}

bool hub_stream_info(struct hub *h, const char *name, struct hub_source_info *out)
{
	for (struct hub_entry *e = h->entries; e; e = e->next) {
		if (joinable(e) && e->name && !strcmp(e->name, name)) {
			fill_info(e, out);
			return true;
		}
	}
	return false;
}

void hub_foreach(struct hub *h, void (*fn)(const struct hub_source_info *info, void *arg),
	void *arg)
{
	struct hub_source_info info;
	for (struct hub_entry *e = h->entries; e; e = e->next) {
		if (source_exited(e->src) && e->n_subs == 0)
			continue;
		fill_info(e, &info);
		fn(&info, arg);
	}
}

/* Frees entries whose worker has exited and that nobody uses any more. */
static void reap(struct hub *h)
{
	struct hub_entry **pp = &h->entries;
	while (*pp) {
		struct hub_entry *e = *pp;
		if (e->n_subs == 0 && !joinable(e) && source_exited(e->src)) {
			*pp = e->next;
			log_debug("source %s reaped", e->display_url);
			entry_free(e);
			continue;
		}
		pp = &e->next;
	}
}

void hub_poll(struct hub *h)
{
	for (struct hub_entry *e = h->entries; e; e = e->next) {
		unsigned news = source_take_news(e->src);
		if (news & SOURCE_NEWS) {
			/* a failed source is detached at once: a new viewer of its URL gets a fresh one */
			if (joinable(e) && source_error(e->src, NULL) != CS_OK)
				e->state = ENTRY_FAILED;
			notify_subs(e);
		} else if (news & SOURCE_NEWS_CODED) {
			for (struct hub_sub *s = e->coded; s; s = s->next)
				s->on_news(s);
		}
	}
	reap(h);
}

void hub_tick(struct hub *h)
{
	int64_t now = clock_mono_us();
	for (struct hub_entry *e = h->entries; e; e = e->next) {
		if (e->state == ENTRY_OPEN && e->n_subs == 0 && !e->pinned && e->warm_until_us <= now)
			stop_entry(e, ENTRY_STOPPING, "kept warm long enough, stopping");
	}
	/* a worker whose exit was news before its last viewer left is freed here */
	reap(h);
}

void hub_notify_all(struct hub *h)
{
	for (struct hub_entry *e = h->entries; e; e = e->next)
		notify_subs(e);
}

void hub_stop_all(struct hub *h)
{
	for (struct hub_entry *e = h->entries; e; e = e->next) {
		if (joinable(e))
			e->state = ENTRY_STOPPING;
		source_stop(e->src);
	}
}

int hub_source_count(const struct hub *h)
{
	int n = 0;
	for (const struct hub_entry *e = h->entries; e; e = e->next)
		n += joinable(e) || !source_exited(e->src);
	return n;
}

int hub_sub_count(const struct hub *h)
{
	int n = 0;
	for (const struct hub_entry *e = h->entries; e; e = e->next)
		n += e->n_subs;
	return n;
}

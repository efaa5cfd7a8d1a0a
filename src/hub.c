#include "hub.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* One running (or stopping) source and the viewers attached to it. Service thread only. */
struct hub_entry {
	struct hub_entry *next;  /* in hub->entries */
	char *key;               /* sharing key; holds the full URL, so never logged (owned) */
	char *display_url;       /* redacted URL for log lines (owned) */
	struct source *src;      /* owned: destroyed when reaped */
	struct hub_sub *subs;    /* not owned: each lives in its viewer's state */
	int n_subs;
	int n_busy;              /* subscribers in the middle of sending a frame */
	bool detached;           /* failed, ended or stopping: no new subscriber may join */
};

struct hub {
	struct hub_config cfg;
	source_notify_fn wake;
	void *wake_arg;
	struct hub_entry *entries;
	uint64_t isolate_serial;  /* makes every key unique under --isolate */
};

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

static void entry_free(struct hub_entry *e)
{
	source_destroy(e->src);
	free(e->key);
	free(e->display_url);
	free(e);
}

void hub_destroy(struct hub *h)
{
	if (!h)
		return;
	hub_stop_all(h);
	while (h->entries) {
		struct hub_entry *e = h->entries;
		h->entries = e->next;
		if (e->n_subs)
			log_warn("hub: %d viewer(s) of %s still attached at exit", e->n_subs,
				e->display_url);
		/* viewers closed later by lws must find themselves unsubscribed */
		for (struct hub_sub *s = e->subs; s; s = s->next)
			s->entry = NULL;
		entry_free(e);
	}
	free(h);
}

/* The sharing key: everything that makes two viewers' JPEGs identical. */
static char *make_key(struct hub *h, const struct cam_url *url, const struct stream_opts *o)
{
	char prefix[160];
	int n = snprintf(prefix, sizeof(prefix), "%s|fps=%.3f|w=%d|h=%d|q=%d|iso=%" PRIu64 "|",
		opts_transport_name(o->transport), o->fps, o->width, o->height, o->quality,
		h->cfg.isolate ? ++h->isolate_serial : 0);
	size_t ulen = strlen(url->text);
	char *key = malloc((size_t)n + ulen + 1);
	if (!key)
		return NULL;
	memcpy(key, prefix, (size_t)n);
	memcpy(key + n, url->text, ulen + 1);
	return key;
}

static void update_wanted(struct hub_entry *e)
{
	source_set_wanted(e->src, e->n_busy < e->n_subs);
}

static struct hub_entry *start_entry(struct hub *h, char *key, const struct cam_url *url,
	const struct stream_opts *o, char *err, size_t errlen)
{
	struct hub_entry *e = calloc(1, sizeof(*e));
	if (!e)
		goto fail;
	e->display_url = strdup(url->redacted);
	if (!e->display_url)
		goto fail_entry;
	struct source_params p = {
		.url = url->text,
		.display_url = url->redacted,
		.is_demo = url->is_demo,
		.transport = o->transport,
		.open_timeout_us = h->cfg.open_timeout_us,
		.read_timeout_us = h->cfg.read_timeout_us,
		.fps_max = o->fps,
		.width = o->width,
		.height = o->height,
		.quality = o->quality,
	};
	e->src = source_start(&p, h->wake, h->wake_arg);
	if (!e->src)
		goto fail_url;
	e->key = key;
	e->next = h->entries;
	h->entries = e;
	log_info("source %s started (%d running)", e->display_url, hub_source_count(h));
	return e;

fail_url:
	free(e->display_url);
fail_entry:
	free(e);
fail:
	free(key);
	snprintf(err, errlen, "the server could not start a worker for this source");
	return NULL;
}

enum cs_err hub_subscribe(struct hub *h, struct hub_sub *sub, const struct cam_url *url,
	const struct stream_opts *opts, char *err, size_t errlen)
{
	char *key = make_key(h, url, opts);
	if (!key) {
		snprintf(err, errlen, "out of memory");
		return CS_SERVER_BUSY;
	}
	struct hub_entry *e = h->entries;
	while (e && (e->detached || strcmp(e->key, key) != 0))
		e = e->next;
	if (e) {
		free(key);
	} else {
		if (h->cfg.max_sources && hub_source_count(h) >= h->cfg.max_sources) {
			free(key);
			snprintf(err, errlen, "the server is running its maximum of %d sources",
				h->cfg.max_sources);
			return CS_SERVER_BUSY;
		}
		e = start_entry(h, key, url, opts, err, errlen);
		if (!e)
			return CS_SERVER_BUSY;
	}
	sub->entry = e;
	sub->busy = false;
	sub->next = e->subs;
	e->subs = sub;
	e->n_subs++;
	update_wanted(e);
	return CS_OK;
}

void hub_unsubscribe(struct hub *h, struct hub_sub *sub)
{
	(void)h;
	struct hub_entry *e = sub->entry;
	if (!e)
		return;
	for (struct hub_sub **pp = &e->subs; *pp; pp = &(*pp)->next) {
		if (*pp == sub) {
			*pp = sub->next;
			break;
		}
	}
	if (sub->busy)
		e->n_busy--;
	e->n_subs--;
	sub->entry = NULL;
	sub->next = NULL;
	sub->busy = false;
	if (e->n_subs == 0) {
		/* the worker exits within ~100 ms; hub_poll reaps it when it says so */
		e->detached = true;
		source_stop(e->src);
		log_info("source %s: last viewer left, stopping", e->display_url);
	} else {
		update_wanted(e);
	}
}

struct source *hub_sub_source(const struct hub_sub *sub)
{
	return sub->entry ? sub->entry->src : NULL;
}

void hub_sub_set_busy(struct hub_sub *sub, bool busy)
{
	struct hub_entry *e = sub->entry;
	if (!e || sub->busy == busy)
		return;
	sub->busy = busy;
	e->n_busy += busy ? 1 : -1;
	update_wanted(e);
}

void hub_poll(struct hub *h)
{
	struct hub_entry **pp = &h->entries;
	while (*pp) {
		struct hub_entry *e = *pp;
		if (source_take_news(e->src)) {
			int clean;
			char msg[8];
			if (!e->detached && source_error(e->src, msg, sizeof(msg), &clean) != CS_OK)
				e->detached = true; /* a new viewer of this URL gets a fresh worker */
			/* on_news only asks for a writable callback: the list cannot change under us */
			for (struct hub_sub *s = e->subs; s; s = s->next)
				s->on_news(s);
		}
		if (e->n_subs == 0 && source_exited(e->src)) {
			*pp = e->next;
			log_debug("source %s reaped", e->display_url);
			entry_free(e);
			continue;
		}
		pp = &e->next;
	}
}

void hub_notify_all(struct hub *h)
{
	for (struct hub_entry *e = h->entries; e; e = e->next)
		for (struct hub_sub *s = e->subs; s; s = s->next)
			s->on_news(s);
}

void hub_stop_all(struct hub *h)
{
	for (struct hub_entry *e = h->entries; e; e = e->next) {
		e->detached = true;
		source_stop(e->src);
	}
}

int hub_source_count(const struct hub *h)
{
	int n = 0;
	for (const struct hub_entry *e = h->entries; e; e = e->next)
		n += e->n_subs > 0 || !source_exited(e->src);
	return n;
}

int hub_sub_count(const struct hub *h)
{
	int n = 0;
	for (const struct hub_entry *e = h->entries; e; e = e->next)
		n += e->n_subs;
	return n;
}

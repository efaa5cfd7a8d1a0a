/* streams: the named streams (seeds 000 and 001). Their definitions come from the JSON config
 * file and the REST API; this room keeps them, starts the always-on ones through the hub, and
 * writes changes back to the file atomically when asked to. Service thread only. */
#ifndef CAMSTREAM_STREAMS_H
#define CAMSTREAM_STREAMS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "cluster.h"
#include "error.h"
#include "hub.h"
#include "url.h"

struct streams;

/* @policy is the URL scheme policy (kept by reference: it lives in the config). */
struct streams *streams_create(struct hub *hub, const struct url_policy *policy);
void streams_destroy(struct streams *s); /* NULL is fine */

/* Loads @path ({"streams":[...]}, seed 001's shape) and starts the always-on streams.
 * @write_back: later API changes are saved to @path (which need not exist yet). false with a
 * message in @err (for a start-up error) if the file cannot be read or a stream in it is
 * invalid. Call once, before any API change. */
bool streams_load_file(struct streams *s, const char *path, bool write_back,
	struct cs_error *err);

/* Makes this room instance @c->self of the cluster @c (kept by reference; NULL or fewer than
 * 2 instances: none). In a cluster, only a stream's owner (cluster_owner) runs it always on or
 * takes its publisher; the API's changes are refused (CS_CLUSTER_CONFIG: every instance reads
 * the same config file); statuses carry "owner", "owner_url" and "local". @token (kept by
 * reference, may be NULL) is given to an owner when relaying from it. */
void streams_set_cluster(struct streams *s, const struct cluster *c, const char *token);

/* @name's owner in the cluster, 1-based, with its base URL in *@url; 0 (and NULL) without a
 * cluster. */
int streams_owner(struct streams *s, const char *name, const char **url);

/* What a viewer of @name subscribes with (valid until the next call into this room or the
 * hub). A key published without being declared resolves while it is live. In a cluster, an
 * always-on or published stream (declared or not) another instance owns resolves to the
 * owner's /live/NAME.flv; @relayed_for is the instance asking (relay=N), 0 for a viewer: a
 * relay request for a name this instance does not own is CS_CLUSTER_CONFIG (no loops). CS_OK, or
 * CS_NOT_FOUND for an unknown name, or CS_SOURCE_ENDED for a stopped one, with a message
 * in @err. */
enum cs_err streams_resolve(struct streams *s, const char *name, int relayed_for,
	struct hub_stream_def *def, struct cs_error *err);

/* Whether a publisher may feed @name, as the config says: a key it does not declare, one it
 * declares as published (*@secret: its publish secret, or NULL for none), the name of a
 * pulled stream, or a published stream stopped through the API. The ingest decides the
 * rest (the token, --named-only, a key already live). */
enum publish_right { PUBLISH_UNDECLARED, PUBLISH_DECLARED, PUBLISH_PULLED, PUBLISH_STOPPED,
	PUBLISH_ELSEWHERE /* another instance of the cluster owns the key */ };
enum publish_right streams_publish_right(struct streams *s, const char *name,
	const char **secret);

/* ---- the REST API (http_streams) ----
 * Each change is all or nothing: with write-back on, the file is saved before the change
 * takes effect, and a failed save leaves everything as it was. A refusal's code gives its HTTP
 * status (cs_err_http_status: 400, 403, 404, 409, 500 not saved, 503). */

/* Status of one stream (seed 000 and 001 fields; credentials redacted; "declared": false for
 * a key published without a definition), NULL if unknown.
 * {"total":N,"streams":[status...]} for streams_list_json. Caller decrefs. */
json_t *streams_status_json(struct streams *s, const char *name);
json_t *streams_list_json(struct streams *s);

/* Adds the stream @def (one object); 409 if its name exists. */
bool streams_add(struct streams *s, const json_t *def, struct cs_error *e);
/* Deletes @name: its capture stops and its viewers are closed. */
bool streams_remove(struct streams *s, const char *name, struct cs_error *e);
/* start: enabled, and capturing now even with no viewer, until stop. stop: disabled, capture
 * stopped, viewers closed with source_ended. Both idempotent. */
bool streams_start(struct streams *s, const char *name, struct cs_error *e);
bool streams_stop(struct streams *s, const char *name, struct cs_error *e);
/* Loads several ({"streams":[...]}): new names are added, existing ones replaced by the new
 * definition (restarted if it differs). Invalid entries refuse the whole document. Returns
 * {"added":[...],"replaced":[...],"unchanged":[...],"total":N}, or NULL with @e. */
json_t *streams_load_json(struct streams *s, const json_t *doc, struct cs_error *e);

#endif

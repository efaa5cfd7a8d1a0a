/* streams: definitions from the config file and the API, credentials, write-back. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "av_pull.h"
#include "check.h"
#include "demo.h"
#include "hub.h"
#include "log.h"
#include "streams.h"

static struct url_policy policy;
static struct hub *hub;
static char dir[64];

static void no_wake(void *arg)
{
	(void)arg;
}

/* Writes @text to @name in the test folder; returns its path (static buffer). */
static const char *write_file(const char *name, const char *text, mode_t mode)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

static char *read_file(const char *path)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static struct streams *load(const char *path, bool write_back, char *err, size_t errlen)
{
	struct streams *s = streams_create(hub, &policy);
	struct cs_error e;
	if (!streams_load_file(s, path, write_back, &e)) {
		snprintf(err, errlen, "%s", e.msg);
		streams_destroy(s);
		return NULL;
	}
	return s;
}

static struct streams *load_text(const char *text, bool write_back)
{
	char err[512];
	struct streams *s = load(write_file("c.json", text, 0600), write_back, err, sizeof(err));
	if (!s)
		printf("#   load failed: %s\n", err);
	return s;
}

/* POST /api/streams with @json; the status on refusal (0 on success). */
static unsigned int add(struct streams *s, const char *json, struct cs_error *e)
{
	json_t *j = json_loads(json, 0, NULL);
	bool ok = streams_add(s, j, e);
	json_decref(j);
	return ok ? 0 : cs_err_http_status(e->code);
}

static char *status_text(struct streams *s, const char *name)
{
	static char buf[4096];
	json_t *j = streams_status_json(s, name);
	char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
	snprintf(buf, sizeof(buf), "%s", t ? t : "(null)");
	free(t);
	json_decref(j);
	return buf;
}

static const char *status_str(struct streams *s, const char *name, const char *key)
{
	static char buf[256];
	json_t *j = streams_status_json(s, name);
	const json_t *v = json_object_get(j, key);
	snprintf(buf, sizeof(buf), "%s", json_is_string(v) ? json_string_value(v) :
		json_is_null(v) ? "null" : json_is_true(v) ? "true" : json_is_false(v) ? "false" :
		"(other)");
	json_decref(j);
	return buf;
}

static void test_a_stream_from_the_file_gets_the_documented_defaults(void)
{
	struct streams *s = load_text("{\"streams\":[{\"name\":\"cam_1\",\"rtsp_url\":"
		"\"rtsp://192.0.2.1/x\"}]}", false);
	CHECK(s);
	CHECK_STR(status_str(s, "cam_1", "enabled"), "true");
	CHECK_STR(status_str(s, "cam_1", "always_on"), "false");
	CHECK_STR(status_str(s, "cam_1", "transport"), "tcp");
	CHECK_STR(status_str(s, "cam_1", "state"), "idle");
	CHECK_STR(status_str(s, "cam_1", "last_update"), "null");
	json_t *st = streams_status_json(s, "cam_1");
	CHECK(json_real_value(json_object_get(st, "idle_fps")) == 1.0);
	CHECK(json_integer_value(json_object_get(st, "frames_encoded")) == 0);
	CHECK(json_is_integer(json_object_get(st, "capture_count")));
	json_decref(st);
	streams_destroy(s);
}

static void test_seed_001_config_loads_as_written(void)
{
	struct streams *s = load_text("{\"streams\":[{\"name\":\"camera_1\",\"rtsp_url\":"
		"\"rtsp://192.168.1.108:554/cam/realmonitor?channel=1&subtype=0\",\"channel\":1,"
		"\"subtype\":0,\"username\":null,\"password\":null,\"enabled\":true}]}", false);
	CHECK(s);
	json_t *list = s ? streams_list_json(s) : NULL;
	CHECK(json_integer_value(json_object_get(list, "total")) == 1);
	json_t *st = json_array_get(json_object_get(list, "streams"), 0);
	CHECK(json_integer_value(json_object_get(st, "channel")) == 1);
	CHECK(json_integer_value(json_object_get(st, "subtype")) == 0);
	CHECK(json_is_null(json_object_get(st, "password")));
	json_decref(list);
	streams_destroy(s);
}

static void test_credentials_go_into_the_url_percent_encoded(void)
{
	struct streams *s = load_text("{\"streams\":[{\"name\":\"c\",\"rtsp_url\":"
		"\"rtsp://192.0.2.1:554/live?ch=1\",\"username\":\"ad min\",\"password\":"
		"\"p@ss:w/rd#1\"}]}", false);
	struct hub_stream_def def;
	CHECK(s && streams_resolve(s, "c", 0, &def, NULL) == CS_OK);
	CHECK_STR(def.url, "rtsp://ad%20min:p%40ss%3Aw%2Frd%231@192.0.2.1:554/live?ch=1");
	CHECK_NOT_CONTAINS(def.display_url, "p%40ss");
	CHECK_NOT_CONTAINS(def.display_url, "min");
	CHECK_STR(def.name, "c");
	streams_destroy(s);
}

static void test_a_username_alone_is_put_in_the_url(void)
{
	struct streams *s = load_text("{\"streams\":[{\"name\":\"c\",\"rtsp_url\":"
		"\"rtmp://192.0.2.1/live/key\",\"username\":\"bob\"}]}", false);
	struct hub_stream_def def;
	CHECK(s && streams_resolve(s, "c", 0, &def, NULL) == CS_OK);
	CHECK_STR(def.url, "rtmp://bob@192.0.2.1/live/key");
	streams_destroy(s);
}

static void test_status_never_shows_credentials(void)
{
	struct streams *s = load_text("{\"streams\":[{\"name\":\"a\",\"rtsp_url\":"
		"\"rtsp://192.0.2.1/x\",\"username\":\"admin\",\"password\":\"Sekr1t\"},"
		"{\"name\":\"b\",\"rtsp_url\":\"rtsp://root:Hidd3n@192.0.2.2/y\"}]}", false);
	CHECK(s);
	const char *a = status_text(s, "a");
	CHECK_NOT_CONTAINS(a, "Sekr1t");
	CHECK_NOT_CONTAINS(a, "admin");
	CHECK_STR(status_str(s, "a", "password"), "***");
	CHECK_STR(status_str(s, "a", "username"), "***");
	CHECK_STR(status_str(s, "a", "rtsp_url"), "rtsp://***@192.0.2.1/x");
	const char *b = status_text(s, "b");
	CHECK_NOT_CONTAINS(b, "Hidd3n");
	CHECK_NOT_CONTAINS(b, "root");
	json_t *list = streams_list_json(s);
	char *t = json_dumps(list, 0);
	CHECK_NOT_CONTAINS(t, "Sekr1t");
	CHECK_NOT_CONTAINS(t, "Hidd3n");
	free(t);
	json_decref(list);
	streams_destroy(s);
}

static void test_credentials_in_both_places_are_refused(void)
{
	struct streams *s = load_text("{\"streams\":[]}", false);
	struct cs_error e;
	CHECK(add(s, "{\"name\":\"c\",\"rtsp_url\":\"rtsp://u:p@192.0.2.1/x\",\"username\":\"v\"}",
		&e) == 400);
	CHECK(strstr(e.msg, "not both") != NULL);
	CHECK_NOT_CONTAINS(e.msg, "u:p");
	streams_destroy(s);
}

static void test_a_password_needs_a_username(void)
{
	struct streams *s = load_text("{\"streams\":[]}", false);
	struct cs_error e;
	CHECK(add(s, "{\"name\":\"c\",\"rtsp_url\":\"rtsp://192.0.2.1/x\",\"password\":\"pw\"}",
		&e) == 400);
	CHECK(strstr(e.msg, "username") != NULL);
	CHECK(add(s, "{\"name\":\"c\",\"rtsp_url\":\"rtsp://192.0.2.1/x\",\"username\":\"a:b\"}",
		&e) == 400);
	streams_destroy(s);
}

static void test_unknown_keys_are_refused_with_the_allowed_ones(void)
{
	struct streams *s = load_text("{\"streams\":[]}", false);
	struct cs_error e;
	CHECK(add(s, "{\"name\":\"c\",\"rtsp_url\":\"demo:\",\"colour\":1}", &e) == 400);
	CHECK(strstr(e.msg, "\"colour\"") != NULL);
	CHECK(strstr(e.msg, "allowed: name, rtsp_url") != NULL);
	CHECK(e.code == CS_BAD_REQUEST);
	streams_destroy(s);
}

static void test_bad_names_are_refused(void)
{
	struct streams *s = load_text("{\"streams\":[]}", false);
	struct cs_error e;
	const char *bad[] = { "\"\"", "\"a/b\"", "\"..\"", "\"a b\"", "12", "null",
		"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char json[256];
		snprintf(json, sizeof(json), "{\"name\":%s,\"rtsp_url\":\"demo:\"}", bad[i]);
		CHECK(add(s, json, &e) == 400);
	}
	CHECK(add(s, "{\"name\":\"Cam-1.main_2\",\"rtsp_url\":\"demo:\"}", &e) == 0);
	streams_destroy(s);
}

static void test_field_types_and_ranges_are_checked(void)
{
	struct streams *s = load_text("{\"streams\":[]}", false);
	struct cs_error e;
	CHECK(add(s, "{\"name\":\"c\"}", &e) == 400);
	CHECK(strstr(e.msg, "rtsp_url") != NULL);
	CHECK(add(s, "{\"name\":\"c\",\"rtsp_url\":\"demo:\",\"transport\":\"quic\"}", &e) == 400);
	CHECK(add(s, "{\"name\":\"c\",\"rtsp_url\":\"demo:\",\"enabled\":\"yes\"}", &e) == 400);
	CHECK(add(s, "{\"name\":\"c\",\"rtsp_url\":\"demo:\",\"idle_fps\":-1}", &e) == 400);
	CHECK(add(s, "{\"name\":\"c\",\"rtsp_url\":\"demo:\",\"channel\":\"1\"}", &e) == 400);
	CHECK(add(s, "{\"name\":\"c\",\"rtsp_url\":\"demo:\",\"transport\":\"UDP\","
		"\"idle_fps\":0.5}", &e) == 0);
	CHECK_STR(status_str(s, "c", "transport"), "udp");
	streams_destroy(s);
}

static void test_a_refused_scheme_is_403(void)
{
	struct streams *s = load_text("{\"streams\":[]}", false);
	struct cs_error e;
	CHECK(add(s, "{\"name\":\"c\",\"rtsp_url\":\"file:///etc/passwd\"}", &e) == 403);
	CHECK(e.code == CS_SCHEME_NOT_ALLOWED);
	CHECK(add(s, "{\"name\":\"c\",\"rtsp_url\":\"rtsp://\"}", &e) == 400);
	streams_destroy(s);
}

static void test_an_existing_name_is_409(void)
{
	struct streams *s = load_text("{\"streams\":[{\"name\":\"c\",\"rtsp_url\":\"demo:\"}]}",
		false);
	struct cs_error e;
	CHECK(add(s, "{\"name\":\"c\",\"rtsp_url\":\"rtsp://192.0.2.1/x\"}", &e) == 409);
	CHECK_STR(status_str(s, "c", "rtsp_url"), "demo:");
	streams_destroy(s);
}

static void test_file_errors_name_the_file_and_the_position(void)
{
	char err[512];
	const char *path = write_file("bad.json", "{\n  \"streams\": [\n    {\"name\": x}\n", 0600);
	CHECK(load(path, false, err, sizeof(err)) == NULL);
	CHECK(strstr(err, path) != NULL);
	CHECK(strstr(err, "line 3") != NULL);
	CHECK_NOT_CONTAINS(err, "near");

	path = write_file("dup.json", "{\"streams\":[{\"name\":\"a\",\"rtsp_url\":\"demo:\"},"
		"{\"name\":\"a\",\"rtsp_url\":\"demo:\"}]}", 0600);
	CHECK(load(path, false, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "streams[1]") != NULL);

	path = write_file("arr.json", "[]", 0600);
	CHECK(load(path, false, err, sizeof(err)) == NULL);
	path = write_file("inv.json", "{\"streams\":[{\"name\":\"a\",\"rtsp_url\":\"ftp://x\"}]}",
		0600);
	CHECK(load(path, false, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "streams[0]") != NULL);
}

static void test_a_missing_file_is_an_error_unless_it_is_to_be_written(void)
{
	char err[512], path[128];
	snprintf(path, sizeof(path), "%s/new.json", dir);
	CHECK(load(path, false, err, sizeof(err)) == NULL);
	CHECK(strstr(err, path) != NULL);
	struct streams *s = load(path, true, err, sizeof(err));
	CHECK(s);
	struct cs_error e;
	CHECK(s && add(s, "{\"name\":\"n\",\"rtsp_url\":\"demo:\"}", &e) == 0);
	CHECK(read_file(path) && strstr(read_file(path), "\"n\""));
	streams_destroy(s);
	unlink(path);
}

static void test_server_settings_and_other_keys_are_ignored(void)
{
	struct streams *s = load_text("{\"server\":{\"port\":9000},\"comment\":\"x\",\"streams\":"
		"[{\"name\":\"c\",\"rtsp_url\":\"demo:\"}]}", false);
	CHECK(s);
	streams_destroy(s);
	s = load_text("{\"server\":{\"port\":9000}}", false);
	CHECK(s);
	json_t *list = s ? streams_list_json(s) : NULL;
	CHECK(json_integer_value(json_object_get(list, "total")) == 0);
	json_decref(list);
	streams_destroy(s);
}

static bool no_temp_files_left(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool clean = true;
	while ((de = readdir(d)))
		if (de->d_name[0] == '.' && strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			clean = false;
	closedir(d);
	return clean;
}

static void test_write_back_round_trip_keeps_settings_secrets_and_mode_0600(void)
{
	char err[512];
	const char *path = write_file("rt.json", "{\"server\":{\"port\":9000},\"streams\":["
		"{\"name\":\"a\",\"rtsp_url\":\"rtsp://192.0.2.1/a\",\"username\":\"u\","
		"\"password\":\"pw\",\"channel\":2}]}", 0644);
	char saved[128];
	snprintf(saved, sizeof(saved), "%s", path);
	struct streams *s = load(saved, true, err, sizeof(err));
	struct cs_error e;
	CHECK(s && add(s, "{\"name\":\"b\",\"rtsp_url\":\"demo:\",\"always_on\":false,"
		"\"idle_fps\":2}", &e) == 0);
	struct stat sb;
	CHECK(stat(saved, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	CHECK(no_temp_files_left());
	streams_destroy(s);

	json_t *doc = json_load_file(saved, 0, NULL);
	CHECK(json_integer_value(json_object_get(json_object_get(doc, "server"), "port")) == 9000);
	json_t *a = json_array_get(json_object_get(doc, "streams"), 0);
	CHECK_STR(json_string_value(json_object_get(a, "password")), "pw"); /* kept to reconnect */
	CHECK_STR(json_string_value(json_object_get(a, "rtsp_url")), "rtsp://192.0.2.1/a");
	json_decref(doc);

	s = load(saved, false, err, sizeof(err));
	CHECK(s);
	struct hub_stream_def def;
	CHECK(s && streams_resolve(s, "a", 0, &def, NULL) == CS_OK);
	CHECK_STR(def.url, "rtsp://u:pw@192.0.2.1/a");
	CHECK(s && streams_resolve(s, "b", 0, &def, NULL) == CS_OK);
	CHECK(def.idle_fps == 2);
	json_t *st = s ? streams_status_json(s, "a") : NULL;
	CHECK(json_integer_value(json_object_get(st, "channel")) == 2);
	json_decref(st);
	streams_destroy(s);
}

static void test_without_write_back_the_file_is_untouched(void)
{
	const char *text = "{\"streams\":[{\"name\":\"a\",\"rtsp_url\":\"demo:\"}]}";
	struct streams *s = load_text(text, false);
	struct cs_error e;
	CHECK(s && add(s, "{\"name\":\"b\",\"rtsp_url\":\"demo:\"}", &e) == 0);
	char path[128];
	snprintf(path, sizeof(path), "%s/c.json", dir);
	CHECK_STR(read_file(path), text);
	streams_destroy(s);
}

static void test_a_failed_save_changes_nothing(void)
{
	char err[512], sub[96], path[128];
	snprintf(sub, sizeof(sub), "%s/gone", dir);
	mkdir(sub, 0700);
	snprintf(path, sizeof(path), "%s/c.json", sub);
	FILE *f = fopen(path, "w");
	fputs("{\"streams\":[{\"name\":\"a\",\"rtsp_url\":\"demo:\"}]}", f);
	fclose(f);
	struct streams *s = load(path, true, err, sizeof(err));
	CHECK(s);
	unlink(path);
	rmdir(sub); /* the next save cannot create its temporary file */
	struct cs_error e;
	CHECK(add(s, "{\"name\":\"b\",\"rtsp_url\":\"demo:\"}", &e) == 500);
	CHECK(streams_status_json(s, "b") == NULL);
	CHECK(!streams_remove(s, "a", &e) && cs_err_http_status(e.code) == 500);
	CHECK(!streams_stop(s, "a", &e) && cs_err_http_status(e.code) == 500);
	CHECK_STR(status_str(s, "a", "enabled"), "true");
	struct hub_stream_def def;
	CHECK(streams_resolve(s, "a", 0, &def, NULL) == CS_OK);
	streams_destroy(s);
}

static void test_stop_disables_and_viewers_are_told_it_is_stopped(void)
{
	struct streams *s = load_text("{\"streams\":[{\"name\":\"a\",\"rtsp_url\":\"demo:\"}]}",
		true);
	struct cs_error e;
	struct hub_stream_def def;
	char path[128];
	snprintf(path, sizeof(path), "%s/c.json", dir);
	CHECK(s && streams_stop(s, "a", &e));
	CHECK_STR(status_str(s, "a", "state"), "stopped");
	CHECK(streams_resolve(s, "a", 0, &def, &e) == CS_SOURCE_ENDED);
	CHECK(strstr(e.msg, "stopped") != NULL);
	CHECK(strstr(read_file(path), "\"enabled\": false") != NULL);
	CHECK(streams_stop(s, "a", &e)); /* idempotent */
	CHECK(streams_start(s, "a", &e));
	CHECK_STR(status_str(s, "a", "enabled"), "true");
	CHECK(streams_resolve(s, "a", 0, &def, NULL) == CS_OK);
	CHECK(strstr(read_file(path), "\"enabled\": true") != NULL);
	CHECK(!streams_start(s, "zz", &e) && cs_err_http_status(e.code) == 404);
	streams_destroy(s);
}

static void test_unknown_names_are_not_found(void)
{
	struct streams *s = load_text("{\"streams\":[]}", false);
	struct cs_error e;
	struct hub_stream_def def;
	CHECK(streams_resolve(s, "nope", 0, &def, &e) == CS_NOT_FOUND);
	CHECK(strstr(e.msg, "nope") != NULL);
	CHECK(!streams_remove(s, "nope", &e) && cs_err_http_status(e.code) == 404 && e.code == CS_NOT_FOUND);
	CHECK(!streams_stop(s, "nope", &e) && cs_err_http_status(e.code) == 404);
	CHECK(streams_status_json(s, "nope") == NULL);
	streams_destroy(s);
}

static void test_remove_deletes_from_the_file(void)
{
	struct streams *s = load_text("{\"streams\":[{\"name\":\"a\",\"rtsp_url\":\"demo:\"},"
		"{\"name\":\"b\",\"rtsp_url\":\"demo:\"}]}", true);
	struct cs_error e;
	char path[128];
	snprintf(path, sizeof(path), "%s/c.json", dir);
	CHECK(s && streams_remove(s, "a", &e));
	CHECK(streams_status_json(s, "a") == NULL);
	CHECK(strstr(read_file(path), "\"a\"") == NULL);
	CHECK(strstr(read_file(path), "\"b\"") != NULL);
	streams_destroy(s);
}

static json_t *load_json(struct streams *s, const char *json, struct cs_error *e)
{
	json_t *doc = json_loads(json, 0, NULL);
	json_t *r = streams_load_json(s, doc, e);
	json_decref(doc);
	return r;
}

static void test_loading_several_adds_replaces_and_keeps_the_same(void)
{
	struct streams *s = load_text("{\"streams\":[{\"name\":\"a\",\"rtsp_url\":\"demo:\"},"
		"{\"name\":\"b\",\"rtsp_url\":\"demo:\"}]}", false);
	struct cs_error e;
	json_t *r = load_json(s, "{\"streams\":[{\"name\":\"a\",\"rtsp_url\":\"demo:\"},"
		"{\"name\":\"b\",\"rtsp_url\":\"rtsp://192.0.2.1/b\"},{\"name\":\"c\",\"rtsp_url\":"
		"\"demo:\"}]}", &e);
	CHECK(r);
	CHECK_STR(json_string_value(json_array_get(json_object_get(r, "added"), 0)), "c");
	CHECK_STR(json_string_value(json_array_get(json_object_get(r, "replaced"), 0)), "b");
	CHECK_STR(json_string_value(json_array_get(json_object_get(r, "unchanged"), 0)), "a");
	CHECK(json_integer_value(json_object_get(r, "total")) == 3);
	CHECK_STR(status_str(s, "b", "rtsp_url"), "rtsp://192.0.2.1/b");
	json_decref(r);
	streams_destroy(s);
}

static void test_loading_several_with_one_invalid_changes_nothing(void)
{
	struct streams *s = load_text("{\"streams\":[{\"name\":\"a\",\"rtsp_url\":\"demo:\"}]}",
		false);
	struct cs_error e;
	CHECK(load_json(s, "{\"streams\":[{\"name\":\"a\",\"rtsp_url\":\"rtsp://192.0.2.1/a\"},"
		"{\"name\":\"z\",\"rtsp_url\":\"demo:\"},{\"name\":\"y\"}]}", &e) == NULL);
	CHECK(cs_err_http_status(e.code) == 400);
	CHECK(strstr(e.msg, "streams[2]") != NULL);
	CHECK_STR(status_str(s, "a", "rtsp_url"), "demo:");
	CHECK(streams_status_json(s, "z") == NULL);
	CHECK(load_json(s, "{\"streams\":{}}", &e) == NULL && cs_err_http_status(e.code) == 400);
	CHECK(load_json(s, "[]", &e) == NULL && cs_err_http_status(e.code) == 400);
	streams_destroy(s);
}

static void test_a_published_stream_needs_no_url_and_hides_its_secret(void)
{
	struct streams *s = load_text("{\"streams\":[{\"name\":\"pub\",\"publish\":true,"
		"\"publish_secret\":\"S3cret-key\"},{\"name\":\"open\",\"publish\":true},"
		"{\"name\":\"cam\",\"rtsp_url\":\"rtsp://192.0.2.1/x\"}]}", false);
	CHECK(s);
	const char *t = status_text(s, "pub");
	CHECK_NOT_CONTAINS(t, "S3cret");
	CHECK_STR(status_str(s, "pub", "publish"), "true");
	CHECK_STR(status_str(s, "pub", "publish_secret"), "***");
	CHECK_STR(status_str(s, "pub", "rtsp_url"), "null");
	CHECK_STR(status_str(s, "pub", "declared"), "true");
	CHECK_STR(status_str(s, "cam", "publish"), "false");
	const char *secret = NULL;
	CHECK(streams_publish_right(s, "pub", &secret) == PUBLISH_DECLARED);
	CHECK(secret && !strcmp(secret, "S3cret-key"));
	CHECK(streams_publish_right(s, "open", &secret) == PUBLISH_DECLARED);
	CHECK(secret == NULL);
	CHECK(streams_publish_right(s, "cam", &secret) == PUBLISH_PULLED);
	CHECK(streams_publish_right(s, "nosuch", &secret) == PUBLISH_UNDECLARED);
	struct cs_error e;
	CHECK(streams_stop(s, "open", &e));
	CHECK(streams_publish_right(s, "open", &secret) == PUBLISH_STOPPED);
	/* a published stream is not started through the API: its publisher starts it */
	CHECK(!streams_start(s, "pub", &e));
	CHECK(strstr(e.msg, "publish") != NULL);
	/* nobody publishes: no source runs for it */
	CHECK_STR(status_str(s, "pub", "state"), "idle");
	streams_destroy(s);
}

static void test_publish_fields_are_checked(void)
{
	struct streams *s = load_text("{\"streams\":[]}", false);
	struct cs_error e;
	CHECK(add(s, "{\"name\":\"a\",\"publish\":true,\"rtsp_url\":\"rtsp://192.0.2.1/x\"}",
		&e) == 400);
	CHECK(strstr(e.msg, "not both") != NULL);
	CHECK(add(s, "{\"name\":\"a\",\"rtsp_url\":\"rtsp://192.0.2.1/x\",\"publish_secret\":"
		"\"zz\"}", &e) == 400);
	CHECK(add(s, "{\"name\":\"a\",\"publish\":true,\"always_on\":true}", &e) == 400);
	CHECK(strstr(e.msg, "always_on") != NULL);
	CHECK(add(s, "{\"name\":\"a\",\"publish\":\"yes\"}", &e) == 400);
	CHECK(add(s, "{\"name\":\"a\"}", &e) == 400);
	CHECK(strstr(e.msg, "publish") != NULL); /* the message names both ways */
	CHECK(add(s, "{\"name\":\"a\",\"publish\":true,\"publish_secret\":\"k\"}", &e) == 0);
	streams_destroy(s);
}

static void test_a_published_stream_round_trips_through_the_file(void)
{
	const char *path = write_file("p.json", "{\"streams\":[]}", 0600);
	char err[256];
	struct streams *s = load(path, true, err, sizeof(err));
	CHECK(s);
	struct cs_error e;
	CHECK(add(s, "{\"name\":\"door\",\"publish\":true,\"publish_secret\":\"Kx9\"}", &e) == 0);
	const char *text = read_file(path);
	CHECK(text && strstr(text, "\"publish\": true") && strstr(text, "\"publish_secret\": \"Kx9\""));
	CHECK(text && !strstr(text, "rtsp_url"));
	streams_destroy(s);
	s = load(path, false, err, sizeof(err));
	CHECK(s);
	const char *secret = NULL;
	CHECK(s && streams_publish_right(s, "door", &secret) == PUBLISH_DECLARED);
	CHECK(secret && !strcmp(secret, "Kx9"));
	streams_destroy(s);
}

/* A cluster of three (hall is instance 2's, door instance 1's, cam3 instance 3's: see
 * test_cluster's pinned owners). */
static struct streams *load_in_cluster(struct cluster *c, int self, const char *token)
{
	char why[160];
	memset(c, 0, sizeof(*c));
	if (!cluster_parse_peers(c, "http://127.0.0.1:8101,http://127.0.0.1:8102,"
		"http://127.0.0.1:8103", why, sizeof(why)))
		return NULL;
	c->self = self;
	struct streams *s = streams_create(hub, &policy);
	streams_set_cluster(s, c, token);
	struct cs_error e;
	const char *path = write_file("cluster.json", "{\"streams\":["
		"{\"name\":\"hall\",\"rtsp_url\":\"demo:\",\"always_on\":true},"
		"{\"name\":\"door\",\"publish\":true},"
		"{\"name\":\"cam3\",\"rtsp_url\":\"rtsp://cam3.local/s\"}]}", 0600);
	if (!streams_load_file(s, path, false, &e)) {
		printf("#   load failed: %s\n", e.msg);
		streams_destroy(s);
		return NULL;
	}
	return s;
}

static void test_cluster_always_on_runs_only_on_its_owner(void)
{
	struct cluster c1, c2;
	struct streams *s1 = load_in_cluster(&c1, 1, NULL);
	struct hub_source_info info;
	CHECK(s1 && !hub_stream_info(hub, "hall", &info));
	streams_destroy(s1);
	struct streams *s2 = load_in_cluster(&c2, 2, NULL);
	CHECK(s2 && hub_stream_info(hub, "hall", &info));
	hub_stream_stop(hub, "hall", "test over");
	streams_destroy(s2);
}

static void test_cluster_relays_what_the_owner_runs(void)
{
	struct cluster c;
	struct streams *s = load_in_cluster(&c, 1, "t0k&n");
	struct hub_stream_def def;
	struct cs_error e;
	/* always on, owned by 2: from 2's FLV, with the token encoded */
	CHECK(s && streams_resolve(s, "hall", 0, &def, &e) == CS_OK);
	CHECK_STR(def.url, "http://127.0.0.1:8102/live/hall.flv?relay=1&token=t0k%26n");
	CHECK_STR(def.display_url, "http://127.0.0.1:8102/live/hall.flv");
	CHECK_STR(def.host, "127.0.0.1");
	CHECK(def.port == 8102 && !def.is_push);
	/* an undeclared key another instance owns may be published there: from the owner */
	CHECK(streams_resolve(s, "lobby2", 0, &def, &e) == CS_OK);
	CHECK(cluster_owner(&c, "lobby2") == 1 || strstr(def.url, "/live/lobby2.flv?relay=1"));
	/* on demand: pulled here, whoever owns it */
	CHECK(streams_resolve(s, "cam3", 0, &def, &e) == CS_OK);
	CHECK_STR(def.url, "rtsp://cam3.local/s");
	/* owned here: itself */
	CHECK(streams_resolve(s, "door", 0, &def, &e) == CS_OK);
	CHECK(def.is_push);
	/* a relay request for a stream another instance owns: the configs disagree */
	CHECK(streams_resolve(s, "hall", 3, &def, &e) == CS_CLUSTER_CONFIG);
	CHECK(streams_resolve(s, "door", 3, &def, &e) == CS_OK);
	const char *secret;
	CHECK(streams_publish_right(s, "door", &secret) == PUBLISH_DECLARED);
	CHECK(streams_publish_right(s, "hall", &secret) == PUBLISH_ELSEWHERE);
	const char *url;
	CHECK(streams_owner(s, "hall", &url) == 2);
	CHECK_STR(url, "http://127.0.0.1:8102");
	streams_destroy(s);
}

static void test_cluster_lists_owners_and_refuses_changes(void)
{
	struct cluster c;
	struct streams *s = load_in_cluster(&c, 3, NULL);
	json_t *list = s ? streams_list_json(s) : NULL;
	CHECK(list && json_integer_value(json_object_get(json_object_get(list, "cluster"),
		"self")) == 3);
	CHECK(json_integer_value(json_object_get(json_object_get(list, "cluster"), "size")) == 3);
	json_t *arr = json_object_get(list, "streams");
	CHECK(json_array_size(arr) == 3);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *st = json_array_get(arr, i);
		const char *name = json_string_value(json_object_get(st, "name"));
		json_int_t owner = json_integer_value(json_object_get(st, "owner"));
		CHECK(owner == (!strcmp(name, "hall") ? 2 : !strcmp(name, "door") ? 1 : 3));
		CHECK(json_is_true(json_object_get(st, "local")) == (owner == 3));
		CHECK(json_is_string(json_object_get(st, "owner_url")));
	}
	json_decref(list);
	struct cs_error e;
	CHECK(add(s, "{\"name\":\"new\",\"rtsp_url\":\"demo:\"}", &e) == 409);
	CHECK(e.code == CS_CLUSTER_CONFIG);
	CHECK(!streams_remove(s, "cam3", &e) && e.code == CS_CLUSTER_CONFIG);
	CHECK(!streams_start(s, "cam3", &e) && e.code == CS_CLUSTER_CONFIG);
	CHECK(!streams_stop(s, "cam3", &e) && e.code == CS_CLUSTER_CONFIG);
	json_t *doc = json_loads("{\"streams\":[]}", 0, NULL);
	CHECK(!streams_load_json(s, doc, &e) && e.code == CS_CLUSTER_CONFIG);
	json_decref(doc);
	streams_destroy(s);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_streams.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	log_set_level(LOG_ERROR); /* the expected save failures still show */
	struct hub_config hc = { .open_timeout_us = 1000000, .read_timeout_us = 1000000,
		.pull_input = &av_pull_input, .demo_input = &demo_input };
	hub = hub_create(&hc, no_wake, NULL);

	RUN(test_a_stream_from_the_file_gets_the_documented_defaults);
	RUN(test_seed_001_config_loads_as_written);
	RUN(test_credentials_go_into_the_url_percent_encoded);
	RUN(test_a_username_alone_is_put_in_the_url);
	RUN(test_status_never_shows_credentials);
	RUN(test_credentials_in_both_places_are_refused);
	RUN(test_a_password_needs_a_username);
	RUN(test_unknown_keys_are_refused_with_the_allowed_ones);
	RUN(test_bad_names_are_refused);
	RUN(test_field_types_and_ranges_are_checked);
	RUN(test_a_refused_scheme_is_403);
	RUN(test_an_existing_name_is_409);
	RUN(test_file_errors_name_the_file_and_the_position);
	RUN(test_a_missing_file_is_an_error_unless_it_is_to_be_written);
	RUN(test_server_settings_and_other_keys_are_ignored);
	RUN(test_write_back_round_trip_keeps_settings_secrets_and_mode_0600);
	RUN(test_without_write_back_the_file_is_untouched);
	RUN(test_a_failed_save_changes_nothing);
	RUN(test_stop_disables_and_viewers_are_told_it_is_stopped);
	RUN(test_unknown_names_are_not_found);
	RUN(test_remove_deletes_from_the_file);
	RUN(test_loading_several_adds_replaces_and_keeps_the_same);
	RUN(test_loading_several_with_one_invalid_changes_nothing);
	RUN(test_a_published_stream_needs_no_url_and_hides_its_secret);
	RUN(test_publish_fields_are_checked);
	RUN(test_a_published_stream_round_trips_through_the_file);
	RUN(test_cluster_always_on_runs_only_on_its_owner);
	RUN(test_cluster_relays_what_the_owner_runs);
	RUN(test_cluster_lists_owners_and_refuses_changes);

	hub_destroy(hub, 1000 * 1000);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return CHECK_DONE();
}

/*
 * check_export: the OTLP/HTTP JSON and console encodings, and the exporter
 * against a tiny HTTP server forked by the test (answers 200, 500, or
 * never), driven the way the stats child drives it: exporter_pollfds, poll,
 * exporter_run.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <json-c/json.h>

#include "corad/config.h"
#include "corad/export.h"
#include "corad/trace.h"
#include "tap_main.h"

static const uint8_t	trace_id[16] = {
	0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
	0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
};
static const uint8_t	proxy_span[8] = { 0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7 };
static const uint8_t	server_span[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
static const uint8_t	handler_span[8] = { 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18 };

#define T_START	UINT64_C(1700000000123456789)
#define T_END	UINT64_C(1700000000987654321)

static void
server_span_fill(struct span *s)
{
	memset(s, 0, sizeof(*s));
	s->kind = SPAN_KIND_SERVER;
	s->status = SPAN_STATUS_UNSET;
	s->flags = TRACE_FLAG_SAMPLED;
	s->has_parent = 1;
	memcpy(s->trace_id, trace_id, 16);
	memcpy(s->span_id, server_span, 8);
	memcpy(s->parent_span_id, proxy_span, 8);
	s->start_ns = T_START;
	s->end_ns = T_END;
	s->http_status = 201;
	snprintf(s->name, sizeof(s->name), "POST /actors");
	snprintf(s->http_method, sizeof(s->http_method), "POST");
	snprintf(s->http_route, sizeof(s->http_route), "/actors");
	snprintf(s->url_path, sizeof(s->url_path), "/actors");
}

static void
internal_span_fill(struct span *s)
{
	memset(s, 0, sizeof(*s));
	s->kind = SPAN_KIND_INTERNAL;
	s->status = SPAN_STATUS_ERROR;
	s->flags = TRACE_FLAG_SAMPLED;
	s->has_parent = 0;
	memcpy(s->trace_id, trace_id, 16);
	memcpy(s->span_id, handler_span, 8);
	memcpy(s->parent_span_id, server_span, 8);
	s->start_ns = T_START + 1000;
	s->end_ns = T_END - 1000;
	snprintf(s->name, sizeof(s->name), "access.command.RegisterActor");
	snprintf(s->cora_bc, sizeof(s->cora_bc), "access");
	snprintf(s->cora_op_key, sizeof(s->cora_op_key), "cora.command");
	snprintf(s->cora_op_name, sizeof(s->cora_op_name), "RegisterActor");
	snprintf(s->cora_principal_id, sizeof(s->cora_principal_id),
	    "0190a1f4-7c3e-7d2a-9b1c-2f3e4d5a6b7c");
	snprintf(s->status_message, sizeof(s->status_message), "conflict");
}

/* Strict JSON with valid UTF-8, or NULL. */
static json_object *
parse_strict(const char *s)
{
	json_tokener	*tok = json_tokener_new();
	json_object	*o;

	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, s, (int)strlen(s));
	if (o != NULL && json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* o[key] of the given type (fails the test otherwise). */
static json_object *
get(json_object *o, const char *key, json_type type)
{
	json_object *v = NULL;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no \"%s\" in %s", key,
	    json_object_to_json_string(o));
	ck_assert_msg(json_object_is_type(v, type), "\"%s\" has type %s", key,
	    json_type_to_name(json_object_get_type(v)));
	return v;
}

static const char *
get_str(json_object *o, const char *key)
{
	return json_object_get_string(get(o, key, json_type_string));
}

static json_object *
idx(json_object *a, size_t i)
{
	ck_assert_uint_gt(json_object_array_length(a), i);
	return json_object_array_get_idx(a, i);
}

/* The value object of the OTLP attribute `key` (NULL when absent). */
static json_object *
otlp_attr(json_object *attrs, const char *key)
{
	json_object *found = NULL;

	for (size_t i = 0; i < json_object_array_length(attrs); i++) {
		json_object *kv = json_object_array_get_idx(attrs, i);

		if (strcmp(get_str(kv, "key"), key) == 0) {
			ck_assert_msg(found == NULL, "attribute %s twice", key);
			found = get(kv, "value", json_type_object);
		}
	}
	return found;
}

static void
assert_attr_str(json_object *attrs, const char *key, const char *want)
{
	json_object *v = otlp_attr(attrs, key);

	ck_assert_msg(v != NULL, "no attribute %s", key);
	ck_assert_int_eq(json_object_object_length(v), 1);
	ck_assert_str_eq(get_str(v, "stringValue"), want);
}

/* The spans array of a body (one resource, one scope), checking both. */
static json_object *
otlp_spans(json_object *root, const char *service)
{
	json_object *rs, *res, *ss, *scope;

	rs = get(root, "resourceSpans", json_type_array);
	ck_assert_uint_eq(json_object_array_length(rs), 1);
	res = get(idx(rs, 0), "resource", json_type_object);
	assert_attr_str(get(res, "attributes", json_type_array), "service.name", service);
	ss = get(idx(rs, 0), "scopeSpans", json_type_array);
	ck_assert_uint_eq(json_object_array_length(ss), 1);
	scope = get(idx(ss, 0), "scope", json_type_object);
	ck_assert_str_eq(get_str(scope, "name"), "corad");
	ck_assert_str_eq(get_str(scope, "version"), PACKAGE_VERSION);
	return get(idx(ss, 0), "spans", json_type_array);
}

static bool
is_lower_hex(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* --- otlp_encode ------------------------------------------------------------ */

START_TEST(test_otlp_encode)
{
	struct span	 sp[2];
	char		*body;
	json_object	*root, *spans, *s, *attrs, *st, *v;

	server_span_fill(&sp[0]);
	internal_span_fill(&sp[1]);
	body = otlp_encode(sp, 2, "cora-test");
	ck_assert_ptr_nonnull(body);
	ck_assert_msg(strchr(body, '\n') == NULL, "not one line");
	root = parse_strict(body);
	ck_assert_msg(root != NULL, "not JSON: %s", body);
	ck_assert_int_eq(json_object_object_length(root), 1);
	spans = otlp_spans(root, "cora-test");
	ck_assert_uint_eq(json_object_array_length(spans), 2);

	/* SERVER */
	s = idx(spans, 0);
	ck_assert(is_lower_hex(get_str(s, "traceId"), 32));
	ck_assert_str_eq(get_str(s, "traceId"), "4bf92f3577b34da6a3ce929d0e0e4736");
	ck_assert(is_lower_hex(get_str(s, "spanId"), 16));
	ck_assert_str_eq(get_str(s, "spanId"), "1122334455667788");
	ck_assert_str_eq(get_str(s, "parentSpanId"), "00f067aa0ba902b7");
	ck_assert_str_eq(get_str(s, "name"), "POST /actors");
	ck_assert_int_eq(json_object_get_int(get(s, "kind", json_type_int)), 2);
	ck_assert_str_eq(get_str(s, "startTimeUnixNano"), "1700000000123456789");
	ck_assert_str_eq(get_str(s, "endTimeUnixNano"), "1700000000987654321");
	if (json_object_object_get_ex(s, "flags", &v)) {
		ck_assert(json_object_is_type(v, json_type_int));
		ck_assert_int_eq(json_object_get_int64(v) & 0xff, 1);
	}
	attrs = get(s, "attributes", json_type_array);
	ck_assert_uint_eq(json_object_array_length(attrs), 4);
	assert_attr_str(attrs, "http.request.method", "POST");
	assert_attr_str(attrs, "url.path", "/actors");
	assert_attr_str(attrs, "http.route", "/actors");
	v = otlp_attr(attrs, "http.response.status_code");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(get_str(v, "intValue"), "201");
	st = get(s, "status", json_type_object);
	ck_assert_int_eq(json_object_get_int(get(st, "code", json_type_int)), 0);
	ck_assert(!json_object_object_get_ex(st, "message", NULL));

	/* INTERNAL */
	s = idx(spans, 1);
	ck_assert_str_eq(get_str(s, "traceId"), "4bf92f3577b34da6a3ce929d0e0e4736");
	ck_assert_str_eq(get_str(s, "spanId"), "a1b2c3d4e5f60718");
	ck_assert_str_eq(get_str(s, "parentSpanId"), "1122334455667788");
	ck_assert_str_eq(get_str(s, "name"), "access.command.RegisterActor");
	ck_assert_int_eq(json_object_get_int(get(s, "kind", json_type_int)), 1);
	ck_assert_str_eq(get_str(s, "startTimeUnixNano"), "1700000000123457789");
	ck_assert_str_eq(get_str(s, "endTimeUnixNano"), "1700000000987653321");
	attrs = get(s, "attributes", json_type_array);
	ck_assert_uint_eq(json_object_array_length(attrs), 3);
	assert_attr_str(attrs, "cora.bc", "access");
	assert_attr_str(attrs, "cora.command", "RegisterActor");
	assert_attr_str(attrs, "cora.principal_id", "0190a1f4-7c3e-7d2a-9b1c-2f3e4d5a6b7c");
	ck_assert_ptr_null(otlp_attr(attrs, "http.route"));
	st = get(s, "status", json_type_object);
	ck_assert_int_eq(json_object_get_int(get(st, "code", json_type_int)), 2);
	ck_assert_str_eq(get_str(st, "message"), "conflict");

	json_object_put(root);
	free(body);
}
END_TEST

/* A root SERVER span has no parentSpanId; an empty route is left out; a
 * 5xx span carries ERROR; a query span uses cora.query. */
START_TEST(test_otlp_encode_root_and_query)
{
	struct span	 sp[2];
	char		*body;
	json_object	*root, *spans, *s, *attrs;

	server_span_fill(&sp[0]);
	sp[0].has_parent = 0;
	memset(sp[0].parent_span_id, 0, 8);
	sp[0].http_route[0] = '\0';
	sp[0].http_status = 503;
	sp[0].status = SPAN_STATUS_ERROR;
	snprintf(sp[0].name, sizeof(sp[0].name), "GET");
	internal_span_fill(&sp[1]);
	snprintf(sp[1].cora_op_key, sizeof(sp[1].cora_op_key), "cora.query");
	snprintf(sp[1].cora_op_name, sizeof(sp[1].cora_op_name), "GetActor");
	sp[1].status = SPAN_STATUS_OK;
	sp[1].status_message[0] = '\0';

	body = otlp_encode(sp, 2, "svc");
	root = parse_strict(body);
	ck_assert_msg(root != NULL, "not JSON: %s", body);
	spans = otlp_spans(root, "svc");
	s = idx(spans, 0);
	ck_assert(!json_object_object_get_ex(s, "parentSpanId", NULL));
	attrs = get(s, "attributes", json_type_array);
	ck_assert_ptr_null(otlp_attr(attrs, "http.route"));
	ck_assert_str_eq(get_str(otlp_attr(attrs, "http.response.status_code"), "intValue"), "503");
	ck_assert_int_eq(json_object_get_int(get(get(s, "status", json_type_object), "code",
	    json_type_int)), 2);
	s = idx(spans, 1);
	attrs = get(s, "attributes", json_type_array);
	assert_attr_str(attrs, "cora.query", "GetActor");
	ck_assert_ptr_null(otlp_attr(attrs, "cora.command"));
	ck_assert_int_eq(json_object_get_int(get(get(s, "status", json_type_object), "code",
	    json_type_int)), 1);
	json_object_put(root);
	free(body);

	body = otlp_encode(sp, 0, "svc");
	root = parse_strict(body);
	ck_assert_ptr_nonnull(root);
	ck_assert_uint_eq(json_object_array_length(otlp_spans(root, "svc")), 0);
	json_object_put(root);
	free(body);
}
END_TEST

/* Strings from requests: escaped, and made valid UTF-8 (a cut sequence or
 * a raw byte would make a collector reject the whole batch). */
START_TEST(test_otlp_encode_strings)
{
	struct span	 sp;
	char		*body;
	json_object	*root, *attrs;

	server_span_fill(&sp);
	snprintf(sp.url_path, sizeof(sp.url_path), "/a\"b\\c\n\x01/\xff/\xc3\xa9/\xe2\x82");
	body = otlp_encode(&sp, 1, "svc \"q\"");
	root = parse_strict(body);
	ck_assert_msg(root != NULL, "not strict UTF-8 JSON: %s", body);
	attrs = get(idx(otlp_spans(root, "svc \"q\""), 0), "attributes", json_type_array);
	assert_attr_str(attrs, "url.path",
	    "/a\"b\\c\n\x01/\xef\xbf\xbd/\xc3\xa9/\xef\xbf\xbd\xef\xbf\xbd");
	json_object_put(root);
	free(body);

	/* A field filled to the last byte without a NUL is cut, not overrun. */
	memset(sp.url_path, 'p', sizeof(sp.url_path));
	memset(sp.name, 'n', sizeof(sp.name));
	body = otlp_encode(&sp, 1, "svc");
	root = parse_strict(body);
	ck_assert_ptr_nonnull(root);
	ck_assert_uint_eq(strlen(get_str(idx(otlp_spans(root, "svc"), 0), "name")),
	    sizeof(sp.name));
	json_object_put(root);
	free(body);
}
END_TEST

/* --- console_encode ----------------------------------------------------------- */

START_TEST(test_console_encode)
{
	struct span	 sp;
	char		*line;
	json_object	*o, *a, *v;

	server_span_fill(&sp);
	line = console_encode(&sp, "cora-e2e");
	ck_assert_ptr_nonnull(line);
	ck_assert_msg(strchr(line, '\n') == NULL, "newline in %s", line);
	o = parse_strict(line);
	ck_assert_msg(o != NULL, "not JSON: %s", line);
	ck_assert_str_eq(get_str(o, "name"), "POST /actors");
	ck_assert_str_eq(get_str(o, "kind"), "SERVER");
	ck_assert_str_eq(get_str(o, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
	ck_assert_str_eq(get_str(o, "span_id"), "1122334455667788");
	ck_assert_str_eq(get_str(o, "parent_span_id"), "00f067aa0ba902b7");
	ck_assert_str_eq(get_str(o, "trace_flags"), "01");
	/* 1700000000 s is 2023-11-14T22:13:20Z */
	ck_assert_str_eq(get_str(o, "start_time"), "2023-11-14T22:13:20.123456Z");
	ck_assert_str_eq(get_str(o, "end_time"), "2023-11-14T22:13:20.987654Z");
	ck_assert_str_eq(get_str(o, "status"), "UNSET");
	ck_assert(!json_object_object_get_ex(o, "status_message", NULL));
	a = get(o, "attributes", json_type_object);
	ck_assert_int_eq(json_object_object_length(a), 4);
	ck_assert_str_eq(get_str(a, "http.request.method"), "POST");
	ck_assert_str_eq(get_str(a, "url.path"), "/actors");
	ck_assert_str_eq(get_str(a, "http.route"), "/actors");
	ck_assert_int_eq(json_object_get_int(get(a, "http.response.status_code", json_type_int)), 201);
	v = get(o, "resource", json_type_object);
	ck_assert_int_eq(json_object_object_length(v), 1);
	ck_assert_str_eq(get_str(v, "service.name"), "cora-e2e");
	json_object_put(o);
	free(line);

	/* a root span: parent_span_id null, flags 00 */
	sp.has_parent = 0;
	memset(sp.parent_span_id, 0, 8);
	sp.flags = 0;
	line = console_encode(&sp, "cora-e2e");
	o = parse_strict(line);
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_object_get_ex(o, "parent_span_id", &v));
	ck_assert_ptr_null(v);
	ck_assert_str_eq(get_str(o, "trace_flags"), "00");
	json_object_put(o);
	free(line);

	internal_span_fill(&sp);
	line = console_encode(&sp, "cora-e2e");
	o = parse_strict(line);
	ck_assert_msg(o != NULL, "not JSON: %s", line);
	ck_assert_str_eq(get_str(o, "kind"), "INTERNAL");
	ck_assert_str_eq(get_str(o, "name"), "access.command.RegisterActor");
	ck_assert_str_eq(get_str(o, "parent_span_id"), "1122334455667788");
	ck_assert_str_eq(get_str(o, "status"), "ERROR");
	ck_assert_str_eq(get_str(o, "status_message"), "conflict");
	a = get(o, "attributes", json_type_object);
	ck_assert_int_eq(json_object_object_length(a), 3);
	ck_assert_str_eq(get_str(a, "cora.bc"), "access");
	ck_assert_str_eq(get_str(a, "cora.command"), "RegisterActor");
	ck_assert_str_eq(get_str(a, "cora.principal_id"), "0190a1f4-7c3e-7d2a-9b1c-2f3e4d5a6b7c");
	json_object_put(o);
	free(line);
}
END_TEST

/* --- helpers: config, time, stderr ------------------------------------------- */

static void
cfg_init(struct config *c, enum otel_exporter kind)
{
	memset(c, 0, sizeof(*c));
	c->otel_exporter = kind;
	c->otel_service_name = (char *)"cora-test";
	c->otel_sampler_ratio = 1.0;
	c->otlp_timeout_ms = 10000;
}

static uint64_t
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

struct capture {
	int	 saved;
	char	 path[64];
};

static void
capture_begin(struct capture *c)
{
	int fd;

	snprintf(c->path, sizeof(c->path), "/tmp/check_export_err.XXXXXX");
	fd = mkstemp(c->path);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	c->saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

static char *
read_file(const char *path, size_t *lenp)
{
	FILE	*f = fopen(path, "rb");
	char	*buf;
	long	 len;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	if (lenp != NULL)
		*lenp = (size_t)len;
	return buf;
}

/* Restores stderr; returns what was written meanwhile (malloc'd). */
static char *
capture_end(struct capture *c)
{
	char *s;

	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	s = read_file(c->path, NULL);
	unlink(c->path);
	return s;
}

static int
count_substr(const char *s, const char *needle)
{
	int n = 0;

	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return n;
}

/* --- a tiny HTTP server in a child process ------------------------------------- */

enum srv_mode {
	SRV_OK,		/* 200 {} */
	SRV_500,	/* 500 */
	SRV_SILENT,	/* reads the request, never answers */
};

struct srv {
	pid_t	 pid;
	int	 port;
	char	 url[64];	/* http://127.0.0.1:port */
	char	 path[64];	/* the requests, as received */
};

/* One request from fd: headers and a Content-Length body; false on EOF. */
static bool
srv_read_request(int fd, char **out, size_t *outlen)
{
	size_t	 cap = 65536, len = 0, need = 0;
	char	*buf = malloc(cap), *hend = NULL;

	for (;;) {
		ssize_t r;

		if (hend != NULL && len >= need)
			break;
		if (len + 4096 > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r <= 0) {
			free(buf);
			return false;
		}
		len += (size_t)r;
		buf[len] = '\0';
		if (hend == NULL && (hend = strstr(buf, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(buf, "\r\ncontent-length:");

			need = (size_t)(hend - buf) + 4;
			if (cl != NULL && cl < hend)
				need += strtoul(cl + 17, NULL, 10);
		}
	}
	*out = buf;
	*outlen = len;
	return true;
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void
srv_child(int ls, int rec, enum srv_mode mode)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	    "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
	static const char err[] = "HTTP/1.1 500 Internal Server Error\r\n"
	    "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";

	alarm(60);	/* never outlives the test for long */
	for (;;) {
		int	 c = accept(ls, NULL, NULL);
		char	*req, hdr[64];
		size_t	 len;

		if (c < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (!srv_read_request(c, &req, &len)) {
			close(c);
			continue;
		}
		/* record: "REQ <length>\n" then the bytes */
		snprintf(hdr, sizeof(hdr), "REQ %zu\n", len);
		write_all(rec, hdr, strlen(hdr));
		write_all(rec, req, len);
		free(req);
		if (mode == SRV_SILENT)
			continue;	/* the connection stays open, unanswered */
		if (mode == SRV_OK)
			write_all(c, ok, sizeof(ok) - 1);
		else
			write_all(c, err, sizeof(err) - 1);
		close(c);
	}
}

static void
srv_start(struct srv *sv, enum srv_mode mode)
{
	struct sockaddr_in	 a;
	socklen_t		 alen = sizeof(a);
	int			 ls, rec, one = 1;

	ls = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(ls, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = 0;
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(ls, 16), 0);
	ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&a, &alen), 0);
	sv->port = ntohs(a.sin_port);
	snprintf(sv->url, sizeof(sv->url), "http://127.0.0.1:%d", sv->port);
	snprintf(sv->path, sizeof(sv->path), "/tmp/check_export_srv.XXXXXX");
	rec = mkstemp(sv->path);
	ck_assert_int_ge(rec, 0);
	fflush(NULL);
	sv->pid = fork();
	ck_assert_int_ge(sv->pid, 0);
	if (sv->pid == 0) {
		srv_child(ls, rec, mode);
		_exit(0);
	}
	close(ls);
	close(rec);
}

/* The OTLP exporter's configuration, sending to the server. */
static void
srv_config(struct config *c, const struct srv *sv)
{
	cfg_init(c, OTEL_OTLP);
	c->otlp_endpoint = (char *)sv->url;
}

struct request {
	char	*head;		/* request line and headers */
	char	*body;
};

/* Stops the server; returns the requests it received (n in *np). */
static struct request *
srv_stop(struct srv *sv, size_t *np)
{
	struct request	*reqs = NULL;
	size_t		 n = 0, len, off = 0;
	char		*all;

	kill(sv->pid, SIGKILL);
	waitpid(sv->pid, NULL, 0);
	all = read_file(sv->path, &len);
	unlink(sv->path);
	while (off < len) {
		size_t	 rlen;
		char	*nl, *raw, *sep;

		ck_assert(strncmp(all + off, "REQ ", 4) == 0);
		rlen = strtoul(all + off + 4, &nl, 10);
		ck_assert_int_eq(*nl, '\n');
		off = (size_t)(nl + 1 - all);
		ck_assert_uint_le(off + rlen, len);
		raw = strndup(all + off, rlen);
		off += rlen;
		sep = strstr(raw, "\r\n\r\n");
		ck_assert_ptr_nonnull(sep);
		reqs = realloc(reqs, (n + 1) * sizeof(*reqs));
		reqs[n].body = strdup(sep + 4);
		sep[2] = '\0';	/* keep the last header's CRLF */
		reqs[n].head = raw;
		n++;
	}
	free(all);
	*np = n;
	return reqs;
}

static void
requests_free(struct request *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].head);
		free(r[i].body);
	}
	free(r);
}

/* A header line present in the request head (name case-insensitive). */
static bool
has_header(const struct request *r, const char *name, const char *value)
{
	char want[256];

	snprintf(want, sizeof(want), "\r\n%s: %s\r\n", name, value);
	return strcasestr(r->head, want) != NULL;
}

/*
 * The stats child's loop in miniature: until `total` spans are accounted
 * for (exported + dropped) or max_ms passes. Returns the longest
 * exporter_run() took, in ms.
 */
static uint64_t
drive(struct exporter *x, uint64_t total, int max_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)max_ms, longest = 0;

	while (exporter_exported(x) + exporter_dropped(x) < total) {
		struct pollfd	 pf[16];
		int		 to = 250;
		size_t		 n;
		uint64_t	 now = now_ms(), t0;

		if (now >= deadline)
			break;
		n = exporter_pollfds(x, pf, 16, &to);
		ck_assert_uint_le(n, 16);
		if (to < 0 || (uint64_t)to > deadline - now)
			to = (int)(deadline - now);
		poll(pf, n, to);
		t0 = now_ms();
		exporter_run(x, pf, n);
		if (now_ms() - t0 > longest)
			longest = now_ms() - t0;
	}
	return longest;
}

static void
add_pairs(struct exporter *x, size_t pairs)
{
	struct span s, i;

	server_span_fill(&s);
	internal_span_fill(&i);
	for (size_t k = 0; k < pairs; k++) {
		s.span_id[7] = (uint8_t)k;
		exporter_add(x, &s);
		exporter_add(x, &i);
	}
}

/* --- the exporter ------------------------------------------------------------ */

START_TEST(test_exporter_none)
{
	struct config	 c;
	struct pollfd	 pf[4];
	int		 to = 7;
	struct span	 s;

	cfg_init(&c, OTEL_NONE);
	ck_assert_ptr_null(exporter_new(&c));
	/* every entry point takes NULL (OTEL_EXPORTER=none) */
	server_span_fill(&s);
	exporter_add(NULL, &s);
	ck_assert_uint_eq(exporter_pollfds(NULL, pf, 4, &to), 0);
	ck_assert_int_eq(to, 7);
	exporter_run(NULL, NULL, 0);
	ck_assert_uint_eq(exporter_dropped(NULL), 0);
	ck_assert_uint_eq(exporter_exported(NULL), 0);
	exporter_free(NULL);
}
END_TEST

START_TEST(test_exporter_console)
{
	struct config	 c;
	struct exporter	*x;
	struct capture	 cap;
	struct pollfd	 pf[4];
	int		 to = -1;
	char		*out, *line, *save = NULL;
	int		 lines = 0;

	cfg_init(&c, OTEL_CONSOLE);
	c.otel_service_name = (char *)"cora-console";
	x = exporter_new(&c);
	ck_assert_ptr_nonnull(x);
	capture_begin(&cap);
	add_pairs(x, 2);
	out = capture_end(&cap);
	ck_assert_uint_eq(exporter_exported(x), 4);
	ck_assert_uint_eq(exporter_dropped(x), 0);
	ck_assert_uint_eq(exporter_pollfds(x, pf, 4, &to), 0);
	ck_assert_int_eq(to, -1);
	exporter_run(x, pf, 0);
	ck_assert_uint_gt(strlen(out), 0);
	ck_assert_int_eq(out[strlen(out) - 1], '\n');
	for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		json_object *o = parse_strict(line);

		ck_assert_msg(o != NULL, "not JSON: %s", line);
		ck_assert_str_eq(get_str(o, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
		ck_assert_str_eq(get_str(get(o, "resource", json_type_object), "service.name"),
		    "cora-console");
		ck_assert_str_eq(get_str(o, "kind"), lines % 2 == 0 ? "SERVER" : "INTERNAL");
		json_object_put(o);
		lines++;
	}
	ck_assert_int_eq(lines, 4);
	free(out);
	exporter_free(x);
}
END_TEST

/* Spans wait up to EXPORT_DELAY_MS, then go in one POST with the configured
 * headers; OTEL_EXPORTER_OTLP_ENDPOINT gets /v1/traces (no double slash). */
START_TEST(test_exporter_otlp_ok)
{
	struct config	 c;
	struct exporter	*x;
	struct srv	 sv;
	struct request	*r;
	size_t		 n;
	char		 url[64];
	uint64_t	 t0, longest;
	json_object	*root, *spans;

	srv_start(&sv, SRV_OK);
	cfg_init(&c, OTEL_OTLP);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", sv.port);
	c.otlp_endpoint = url;
	c.otlp_headers = (char *)" x-test = yes ,, x-enc=a%20b%2Cc%3D ,  ,Authorization=Bearer tok";
	x = exporter_new(&c);
	ck_assert_ptr_nonnull(x);

	t0 = now_ms();
	add_pairs(x, 2);
	ck_assert_uint_eq(exporter_exported(x) + exporter_dropped(x), 0);
	/* not yet: the batch is neither full nor old */
	drive(x, 1, EXPORT_DELAY_MS / 2);
	ck_assert_uint_eq(exporter_exported(x), 0);
	longest = drive(x, 4, 5000);
	ck_assert_uint_eq(exporter_exported(x), 4);
	ck_assert_uint_eq(exporter_dropped(x), 0);
	ck_assert_uint_ge(now_ms() - t0, EXPORT_DELAY_MS - 50);
	ck_assert_uint_lt(now_ms() - t0, EXPORT_DELAY_MS + 2000);
	ck_assert_uint_lt(longest, 250);
	exporter_free(x);

	r = srv_stop(&sv, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_msg(strncmp(r[0].head, "POST /v1/traces HTTP/1.1\r\n", 26) == 0, "%s", r[0].head);
	ck_assert_msg(has_header(&r[0], "Content-Type", "application/json"), "%s", r[0].head);
	ck_assert_msg(has_header(&r[0], "x-test", "yes"), "%s", r[0].head);
	ck_assert_msg(has_header(&r[0], "x-enc", "a b,c="), "%s", r[0].head);
	ck_assert_msg(has_header(&r[0], "Authorization", "Bearer tok"), "%s", r[0].head);
	ck_assert_msg(strcasestr(r[0].head, "Expect:") == NULL, "%s", r[0].head);
	root = parse_strict(r[0].body);
	ck_assert_msg(root != NULL, "not JSON: %s", r[0].body);
	spans = otlp_spans(root, "cora-test");
	ck_assert_uint_eq(json_object_array_length(spans), 4);
	ck_assert_str_eq(get_str(idx(spans, 0), "spanId"), "1122334455667700");
	ck_assert_str_eq(get_str(idx(spans, 2), "spanId"), "1122334455667701");
	ck_assert_str_eq(get_str(idx(spans, 3), "name"), "access.command.RegisterActor");
	json_object_put(root);
	requests_free(r, n);
}
END_TEST

/* A full batch goes at once; more than one batch's worth goes in several
 * POSTs of at most EXPORT_BATCH spans. The traces endpoint is used as given. */
START_TEST(test_exporter_otlp_batches)
{
	struct config	 c;
	struct exporter	*x;
	struct srv	 sv;
	struct request	*r;
	size_t		 n, total = 0;
	char		 url[80];
	uint64_t	 t0;

	srv_start(&sv, SRV_OK);
	cfg_init(&c, OTEL_OTLP);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/custom/traces", sv.port);
	c.otlp_traces_endpoint = url;
	c.otlp_endpoint = (char *)"http://127.0.0.1:1/ignored";
	x = exporter_new(&c);
	ck_assert_ptr_nonnull(x);

	t0 = now_ms();
	add_pairs(x, 300);	/* 600 spans: 256 + 256 + 88 */
	drive(x, 2 * EXPORT_BATCH, 3000);
	ck_assert_uint_ge(exporter_exported(x), 2 * EXPORT_BATCH);
	ck_assert_uint_lt(now_ms() - t0, EXPORT_DELAY_MS - 100);	/* full: no waiting */
	drive(x, 600, 5000);
	ck_assert_uint_eq(exporter_exported(x), 600);
	ck_assert_uint_eq(exporter_dropped(x), 0);
	exporter_free(x);

	r = srv_stop(&sv, &n);
	ck_assert_uint_eq(n, 3);
	for (size_t i = 0; i < n; i++) {
		json_object	*root = parse_strict(r[i].body);
		size_t		 k;

		ck_assert_msg(strncmp(r[i].head, "POST /custom/traces HTTP/1.1\r\n", 30) == 0,
		    "%s", r[i].head);
		ck_assert_ptr_nonnull(root);
		k = json_object_array_length(otlp_spans(root, "cora-test"));
		ck_assert_uint_eq(k, i < 2 ? EXPORT_BATCH : 600 - 2 * EXPORT_BATCH);
		total += k;
		json_object_put(root);
	}
	ck_assert_uint_eq(total, 600);
	requests_free(r, n);
}
END_TEST

/* A 500 drops the batch: counted, and logged once per failed request. */
START_TEST(test_exporter_otlp_500)
{
	struct config	 c;
	struct exporter	*x;
	struct srv	 sv;
	struct request	*r;
	struct capture	 cap;
	size_t		 n;
	char		*err;

	srv_start(&sv, SRV_500);
	srv_config(&c, &sv);
	x = exporter_new(&c);
	ck_assert_ptr_nonnull(x);
	capture_begin(&cap);
	add_pairs(x, 150);	/* 300 spans: two requests */
	drive(x, 300, 5000);
	err = capture_end(&cap);
	ck_assert_uint_eq(exporter_exported(x), 0);
	ck_assert_uint_eq(exporter_dropped(x), 300);
	ck_assert_msg(count_substr(err, "\"event\":\"export.failed\"") == 2, "%s", err);
	ck_assert_msg(count_substr(err, "\"status\":500") == 2, "%s", err);
	ck_assert_msg(strstr(err, "\"spans\":256") != NULL && strstr(err, "\"spans\":44") != NULL,
	    "%s", err);
	ck_assert_msg(strstr(err, "\"endpoint\":\"http://127.0.0.1:") != NULL, "%s", err);
	free(err);
	exporter_free(x);
	r = srv_stop(&sv, &n);
	ck_assert_uint_eq(n, 2);
	requests_free(r, n);
}
END_TEST

/* A collector that never answers: the request times out after
 * OTEL_EXPORTER_OTLP_TIMEOUT, the batch is dropped, nothing ever blocks. */
START_TEST(test_exporter_otlp_timeout)
{
	struct config	 c;
	struct exporter	*x;
	struct srv	 sv;
	struct request	*r;
	struct capture	 cap;
	size_t		 n;
	char		*err;
	uint64_t	 t0, longest, took;

	srv_start(&sv, SRV_SILENT);
	srv_config(&c, &sv);
	c.otlp_timeout_ms = 300;
	x = exporter_new(&c);
	ck_assert_ptr_nonnull(x);
	capture_begin(&cap);
	add_pairs(x, 128);	/* one full batch: sent at once */
	t0 = now_ms();
	longest = drive(x, 256, 5000);
	took = now_ms() - t0;
	err = capture_end(&cap);
	ck_assert_uint_eq(exporter_exported(x), 0);
	ck_assert_uint_eq(exporter_dropped(x), 256);
	ck_assert_uint_ge(took, 250);
	ck_assert_uint_lt(took, 2000);
	ck_assert_uint_lt(longest, 250);
	ck_assert_msg(count_substr(err, "\"event\":\"export.failed\"") == 1, "%s", err);
	ck_assert_msg(strstr(err, "\"spans\":256") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "\"error\":") != NULL, "%s", err);
	free(err);
	exporter_free(x);
	r = srv_stop(&sv, &n);
	ck_assert_uint_eq(n, 1);
	requests_free(r, n);
}
END_TEST

/* Nothing listens: the connection error drops the batch. */
START_TEST(test_exporter_otlp_refused)
{
	struct config		 c;
	struct exporter		*x;
	struct capture		 cap;
	struct sockaddr_in	 a;
	socklen_t		 alen = sizeof(a);
	char			 url[64], *err;
	int			 s;

	/* a port that was free a moment ago */
	s = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(s, (struct sockaddr *)&a, &alen);
	close(s);

	cfg_init(&c, OTEL_OTLP);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/traces", ntohs(a.sin_port));
	c.otlp_traces_endpoint = url;
	x = exporter_new(&c);
	ck_assert_ptr_nonnull(x);
	capture_begin(&cap);
	add_pairs(x, 128);
	drive(x, 256, 5000);
	err = capture_end(&cap);
	ck_assert_uint_eq(exporter_dropped(x), 256);
	ck_assert_uint_eq(exporter_exported(x), 0);
	ck_assert_msg(count_substr(err, "\"event\":\"export.failed\"") == 1, "%s", err);
	free(err);
	exporter_free(x);
}
END_TEST

/* exporter_add never does I/O: past EXPORT_QUEUE_MAX spans are dropped
 * (and logged in one line); the queue drains once the loop runs. */
START_TEST(test_exporter_queue_full)
{
	struct config	 c;
	struct exporter	*x;
	struct srv	 sv;
	struct request	*r;
	struct capture	 cap;
	struct span	 s;
	size_t		 n, total = 0;
	char		*err;
	uint64_t	 t0;

	srv_start(&sv, SRV_OK);
	srv_config(&c, &sv);
	x = exporter_new(&c);
	ck_assert_ptr_nonnull(x);
	server_span_fill(&s);
	capture_begin(&cap);
	t0 = now_ms();
	for (int i = 0; i < 3000; i++)
		exporter_add(x, &s);
	ck_assert_uint_lt(now_ms() - t0, 500);
	ck_assert_uint_eq(exporter_dropped(x), 3000 - EXPORT_QUEUE_MAX);
	ck_assert_uint_eq(exporter_exported(x), 0);
	drive(x, 3000, 10000);
	err = capture_end(&cap);
	ck_assert_uint_eq(exporter_exported(x), EXPORT_QUEUE_MAX);
	ck_assert_uint_eq(exporter_dropped(x), 3000 - EXPORT_QUEUE_MAX);
	ck_assert_msg(count_substr(err, "\"event\":\"export.failed\"") == 1, "%s", err);
	ck_assert_msg(strstr(err, "\"spans\":952") != NULL, "%s", err);
	free(err);
	exporter_free(x);
	r = srv_stop(&sv, &n);
	ck_assert_uint_eq(n, EXPORT_QUEUE_MAX / EXPORT_BATCH);
	for (size_t i = 0; i < n; i++) {
		json_object *root = parse_strict(r[i].body);

		ck_assert_ptr_nonnull(root);
		total += json_object_array_length(otlp_spans(root, "cora-test"));
		json_object_put(root);
	}
	ck_assert_uint_eq(total, EXPORT_QUEUE_MAX);
	requests_free(r, n);
}
END_TEST

/* exporter_pollfds lowers the timeout to when a batch is due, never raises it. */
/*
 * A transfer in flight whose sockets poll found quiet, with curl's timer
 * still far off, is left alone: the stats child wakes for every batch of
 * worker records, and a collector that never answers would otherwise cost
 * a curl call at each wake-up. The answer waiting on the socket is read
 * only when exporter_run is told the socket is ready.
 */
START_TEST(test_exporter_quiet_transfer)
{
	struct config	 c;
	struct exporter	*x;
	struct srv	 sv;
	struct request	*r;
	struct pollfd	 pf[8], quiet[8];
	size_t		 n, nreq;
	int		 to;
	bool		 answered = false;
	uint64_t	 deadline = now_ms() + 5000;

	srv_start(&sv, SRV_OK);
	srv_config(&c, &sv);
	x = exporter_new(&c);
	ck_assert_ptr_nonnull(x);
	add_pairs(x, EXPORT_BATCH / 2);	/* a full batch: sent at once */
	/* Until the collector's answer waits on the transfer's socket. */
	while (!answered) {
		ck_assert_msg(now_ms() < deadline, "no answer within 5 s");
		to = -1;
		n = exporter_pollfds(x, pf, 8, &to);
		if (n > 0 && poll(pf, n, 250) > 0)
			for (size_t i = 0; i < n; i++)
				answered = answered || (pf[i].revents & POLLIN) != 0;
		if (!answered)
			exporter_run(x, pf, n);
	}
	/* curl waits for the socket; its timer is some way off (libcurl keeps
	 * one of about 200 ms while it waits), so the call below comes first. */
	ck_assert_int_gt(to, 20);
	memcpy(quiet, pf, n * sizeof(pf[0]));
	for (size_t i = 0; i < n; i++)
		quiet[i].revents = 0;
	exporter_run(x, quiet, n);
	ck_assert_uint_eq(exporter_exported(x), 0);
	exporter_run(x, pf, n);
	drive(x, EXPORT_BATCH, 5000);
	ck_assert_uint_eq(exporter_exported(x), EXPORT_BATCH);
	ck_assert_uint_eq(exporter_dropped(x), 0);
	exporter_free(x);
	r = srv_stop(&sv, &nreq);
	ck_assert_uint_eq(nreq, 1);
	requests_free(r, nreq);
}
END_TEST

START_TEST(test_exporter_pollfds_timeout)
{
	struct config	 c;
	struct exporter	*x;
	struct pollfd	 pf[8];
	struct span	 s;
	int		 to;

	cfg_init(&c, OTEL_OTLP);
	c.otlp_endpoint = (char *)"http://127.0.0.1:9";
	x = exporter_new(&c);
	ck_assert_ptr_nonnull(x);
	to = -1;
	ck_assert_uint_eq(exporter_pollfds(x, pf, 8, &to), 0);
	ck_assert_int_eq(to, -1);	/* nothing queued: no timer */
	server_span_fill(&s);
	exporter_add(x, &s);
	to = -1;
	exporter_pollfds(x, pf, 8, &to);
	ck_assert_int_gt(to, EXPORT_DELAY_MS - 200);
	ck_assert_int_le(to, EXPORT_DELAY_MS);
	to = 5;
	exporter_pollfds(x, pf, 8, &to);
	ck_assert_int_eq(to, 5);
	for (int i = 1; i < EXPORT_BATCH; i++)
		exporter_add(x, &s);
	to = 1000;
	exporter_pollfds(x, pf, 8, &to);
	ck_assert_int_eq(to, 0);	/* a full batch is due now */
	exporter_free(x);	/* nothing was sent: freed with spans queued */
}
END_TEST

static Suite *
make_suite(void)
{
	Suite	*s = suite_create("export");
	TCase	*tc;

	tc = tcase_create("encode");
	tcase_add_test(tc, test_otlp_encode);
	tcase_add_test(tc, test_otlp_encode_root_and_query);
	tcase_add_test(tc, test_otlp_encode_strings);
	tcase_add_test(tc, test_console_encode);
	suite_add_tcase(s, tc);

	tc = tcase_create("exporter");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_exporter_none);
	tcase_add_test(tc, test_exporter_console);
	tcase_add_test(tc, test_exporter_otlp_ok);
	tcase_add_test(tc, test_exporter_otlp_batches);
	tcase_add_test(tc, test_exporter_otlp_500);
	tcase_add_test(tc, test_exporter_otlp_timeout);
	tcase_add_test(tc, test_exporter_otlp_refused);
	tcase_add_test(tc, test_exporter_queue_full);
	tcase_add_test(tc, test_exporter_pollfds_timeout);
	tcase_add_test(tc, test_exporter_quiet_transfer);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return run_suite(make_suite());
}

/*
 * export: the span exporters of the stats child (doc/design.md, "Metrics,
 * status, logs and traces").
 *
 * console writes one JSON line per span to stderr as it arrives. otlp keeps
 * a bounded queue and POSTs batches as OTLP/HTTP JSON through one libcurl
 * multi handle that the stats child's own poll loop drives
 * (exporter_pollfds, exporter_run): nothing here ever waits, so a slow or
 * dead collector costs dropped spans, never a stalled stats child.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "corad/alloc.h"
#include "corad/export.h"
#include "corad/ids.h"
#include "corad/strutil.h"
#include "corad/log.h"
#include "corad/url.h"

#define EXPORT_TIMEOUT_DEFAULT_MS	10000	/* OTel's OTEL_EXPORTER_OTLP_TIMEOUT default */
#define EXPORT_DROP_LOG_MS	1000	/* queue-full drops: one log line per second at most */
#define EXPORT_DEFAULT_ENDPOINT	"http://localhost:4318/v1/traces"

struct exporter {
	enum otel_exporter	 kind;
	char			*service_name;
	char			*endpoint;	/* otlp: the full URL */
	char			*log_endpoint;	/* the same without credentials or query */
	struct curl_slist	*headers;	/* otlp: Content-Type, Expect and the configured ones */
	long			 timeout_ms;

	/* The queue: a ring of spans and the monotonic time each arrived. */
	struct span		*queue;
	uint64_t		*queued_ms;
	size_t			 head, count;
	struct span		*batch;		/* EXPORT_BATCH spans, made contiguous for otlp_encode */

	/* The request in flight (at most one). */
	CURLM			*multi;
	CURL			*easy;		/* kept between requests: connection reuse */
	bool			 in_flight;
	uint64_t		 perform_at_ms;	/* curl's timer for it (UINT64_MAX: none) */
	char			*body;
	size_t			 body_spans;
	char			 errbuf[CURL_ERROR_SIZE];

	uint64_t		 dropped, exported;
	unsigned		 failures;	/* failed requests in a row */
	uint64_t		 retry_at_ms;	/* after a failure: no request before */
	bool			 saturated;	/* the queue filled up; until half empty */
	uint64_t		 drops_unlogged;	/* queue-full drops not logged yet */
	uint64_t		 drops_logged_ms;
};

/* --- encoding ------------------------------------------------------------- */

/*
 * The strings of a span come from requests (url.path is the decoded path)
 * and are cut to fit their fields, possibly inside a UTF-8 sequence. A
 * collector rejects a whole batch over one invalid string, so each string
 * is made valid UTF-8 here: a bad byte becomes U+FFFD.
 */
#define CLEAN_MAX	(3 * 160 + 1)

static json_object *
json_string_field(const char *s, size_t size)
{
	char		 out[CLEAN_MAX];
	const uint8_t	*p = (const uint8_t *)s;
	size_t		 n = strnlen(s, size), i = 0, o = 0;

	if (n > (CLEAN_MAX - 1) / 3)
		n = (CLEAN_MAX - 1) / 3;
	while (i < n) {
		uint8_t		 c = p[i];
		size_t		 need;
		uint32_t	 cp;

		if (c < 0x80) {
			out[o++] = (char)c;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else
			goto bad;
		if (i + need >= n)	/* cut short */
			goto bad;
		for (size_t k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				goto bad;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		/* overlong, surrogates, beyond U+10FFFF */
		if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			goto bad;
		memcpy(out + o, p + i, need + 1);
		o += need + 1;
		i += need + 1;
		continue;
bad:
		memcpy(out + o, "\xef\xbf\xbd", 3);
		o += 3;
		i++;
	}
	return json_object_new_string_len(out, (int)o);
}

#define JSTR(field)	json_string_field((field), sizeof(field))

static bool
span_has_parent(const struct span *s)
{
	/* A SERVER span has a (remote) parent when a traceparent came in; an
	 * INTERNAL span's parent is the SERVER span. Either way the id is
	 * non-zero when there is one. */
	return !mem_all_zero(s->parent_span_id, sizeof(s->parent_span_id));
}

static json_object *
hex_string(const uint8_t *in, size_t n)
{
	char buf[33];

	trace_hex(in, n, buf);
	return json_object_new_string(buf);
}

static json_object *
u64_string(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return json_object_new_string(buf);
}

/* OTLP KeyValue with a string value. */
static void
otlp_attr_str(json_object *attrs, const char *key, json_object *str)
{
	json_object *kv = json_object_new_object(), *v = json_object_new_object();

	json_object_object_add(v, "stringValue", str);
	json_object_object_add(kv, "key", json_object_new_string(key));
	json_object_object_add(kv, "value", v);
	json_object_array_add(attrs, kv);
}

/* OTLP KeyValue with an int value (int64 is a string in the JSON mapping). */
static void
otlp_attr_int(json_object *attrs, const char *key, int64_t i)
{
	json_object	*kv = json_object_new_object(), *v = json_object_new_object();
	char		 buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, i);
	json_object_object_add(v, "intValue", json_object_new_string(buf));
	json_object_object_add(kv, "key", json_object_new_string(key));
	json_object_object_add(kv, "value", v);
	json_object_array_add(attrs, kv);
}

static json_object *
otlp_span(const struct span *s)
{
	json_object	*o = json_object_new_object(), *attrs, *st;
	uint32_t	 flags;

	json_object_object_add(o, "traceId", hex_string(s->trace_id, 16));
	json_object_object_add(o, "spanId", hex_string(s->span_id, 8));
	if (span_has_parent(s))
		json_object_object_add(o, "parentSpanId", hex_string(s->parent_span_id, 8));
	/*
	 * Span.flags (fixed32, a JSON number): bits 0-7 are the W3C trace
	 * flags; bit 8 says bit 9 is known, bit 9 that the parent is remote
	 * (only a SERVER span that continues a received traceparent).
	 */
	flags = s->flags | 0x100u;
	if (s->kind == SPAN_KIND_SERVER && s->has_parent)
		flags |= 0x200u;
	json_object_object_add(o, "flags", json_object_new_int64(flags));
	json_object_object_add(o, "name", JSTR(s->name));
	json_object_object_add(o, "kind", json_object_new_int(s->kind));
	json_object_object_add(o, "startTimeUnixNano", u64_string(s->start_ns));
	json_object_object_add(o, "endTimeUnixNano", u64_string(s->end_ns));

	attrs = json_object_new_array();
	if (s->kind == SPAN_KIND_SERVER) {
		otlp_attr_str(attrs, "http.request.method", JSTR(s->http_method));
		otlp_attr_str(attrs, "url.path", JSTR(s->url_path));
		if (s->http_route[0] != '\0')
			otlp_attr_str(attrs, "http.route", JSTR(s->http_route));
		otlp_attr_int(attrs, "http.response.status_code", s->http_status);
	} else {
		otlp_attr_str(attrs, "cora.bc", JSTR(s->cora_bc));
		if (s->cora_op_key[0] != '\0') {
			char key[sizeof(s->cora_op_key)];

			memcpy(key, s->cora_op_key, sizeof(key));
			key[sizeof(key) - 1] = '\0';
			otlp_attr_str(attrs, key, JSTR(s->cora_op_name));
		}
		otlp_attr_str(attrs, "cora.principal_id", JSTR(s->cora_principal_id));
	}
	json_object_object_add(o, "attributes", attrs);

	st = json_object_new_object();
	json_object_object_add(st, "code", json_object_new_int(s->status));
	if (s->status_message[0] != '\0')
		json_object_object_add(st, "message", JSTR(s->status_message));
	json_object_object_add(o, "status", st);
	return o;
}

/* Serialises and frees `o`; returns a malloc'd string. */
static char *
json_take_string(json_object *o)
{
	const char	*s;
	char		*dup;

	s = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	dup = xstrdup(s != NULL ? s : "null");
	json_object_put(o);
	return dup;
}

char *
otlp_encode(const struct span *spans, size_t n, const char *service_name)
{
	json_object *root, *rs_list, *rs, *res, *res_attrs, *ss_list, *ss, *scope, *list;

	res_attrs = json_object_new_array();
	otlp_attr_str(res_attrs, "service.name",
	    json_object_new_string(service_name != NULL ? service_name : "cora-api"));
	res = json_object_new_object();
	json_object_object_add(res, "attributes", res_attrs);

	scope = json_object_new_object();
	json_object_object_add(scope, "name", json_object_new_string("corad"));
	json_object_object_add(scope, "version", json_object_new_string(PACKAGE_VERSION));

	list = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++)
		json_object_array_add(list, otlp_span(&spans[i]));

	ss = json_object_new_object();
	json_object_object_add(ss, "scope", scope);
	json_object_object_add(ss, "spans", list);
	ss_list = json_object_new_array();
	json_object_array_add(ss_list, ss);

	rs = json_object_new_object();
	json_object_object_add(rs, "resource", res);
	json_object_object_add(rs, "scopeSpans", ss_list);
	rs_list = json_object_new_array();
	json_object_array_add(rs_list, rs);

	root = json_object_new_object();
	json_object_object_add(root, "resourceSpans", rs_list);
	return json_take_string(root);
}

/* RFC 3339 UTC with microseconds and Z, as the log lines write times. */
static json_object *
rfc3339(uint64_t ns)
{
	struct timespec	 t;
	char		 buf[40];

	t.tv_sec = (time_t)(ns / 1000000000u);
	t.tv_nsec = (long)(ns % 1000000000u);
	log_format_time(&t, buf, sizeof(buf));
	return json_object_new_string(buf);
}

char *
console_encode(const struct span *s, const char *service_name)
{
	static const char *const statuses[] = { "UNSET", "OK", "ERROR" };
	json_object	*o, *attrs, *res;
	char		 flags[3];

	o = json_object_new_object();
	json_object_object_add(o, "name", JSTR(s->name));
	json_object_object_add(o, "kind",
	    json_object_new_string(s->kind == SPAN_KIND_SERVER ? "SERVER" : "INTERNAL"));
	json_object_object_add(o, "trace_id", hex_string(s->trace_id, 16));
	json_object_object_add(o, "span_id", hex_string(s->span_id, 8));
	json_object_object_add(o, "parent_span_id",
	    span_has_parent(s) ? hex_string(s->parent_span_id, 8) : NULL);
	trace_hex(&s->flags, 1, flags);
	json_object_object_add(o, "trace_flags", json_object_new_string(flags));
	json_object_object_add(o, "start_time", rfc3339(s->start_ns));
	json_object_object_add(o, "end_time", rfc3339(s->end_ns));
	json_object_object_add(o, "status", json_object_new_string(
	    s->status < sizeof(statuses) / sizeof(statuses[0]) ? statuses[s->status] : "UNSET"));
	if (s->status_message[0] != '\0')
		json_object_object_add(o, "status_message", JSTR(s->status_message));

	attrs = json_object_new_object();
	if (s->kind == SPAN_KIND_SERVER) {
		json_object_object_add(attrs, "http.request.method", JSTR(s->http_method));
		json_object_object_add(attrs, "url.path", JSTR(s->url_path));
		if (s->http_route[0] != '\0')
			json_object_object_add(attrs, "http.route", JSTR(s->http_route));
		json_object_object_add(attrs, "http.response.status_code",
		    json_object_new_int(s->http_status));
	} else {
		json_object_object_add(attrs, "cora.bc", JSTR(s->cora_bc));
		if (s->cora_op_key[0] != '\0') {
			char key[sizeof(s->cora_op_key)];

			memcpy(key, s->cora_op_key, sizeof(key));
			key[sizeof(key) - 1] = '\0';
			json_object_object_add(attrs, key, JSTR(s->cora_op_name));
		}
		json_object_object_add(attrs, "cora.principal_id", JSTR(s->cora_principal_id));
	}
	json_object_object_add(o, "attributes", attrs);

	res = json_object_new_object();
	json_object_object_add(res, "service.name",
	    json_object_new_string(service_name != NULL ? service_name : "cora-api"));
	json_object_object_add(o, "resource", res);
	return json_take_string(o);
}

/* --- configuration ------------------------------------------------------- */

/* Trims spaces and tabs around [*s, *e). */
static void
trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

/*
 * One "key=value" entry of OTEL_EXPORTER_OTLP_HEADERS as a "Key: value"
 * header line (value percent-decoded), or NULL when the entry is empty or
 * malformed. A header name must be a token and a value must not hold CR,
 * LF or NUL, so nothing configured can inject another header.
 */
static char *
header_line(const char *s, const char *e)
{
	const char	*eq, *ks, *ke, *vs, *ve;
	char		*line, *o;

	trim(&s, &e);
	if (s == e)
		return NULL;
	if ((eq = memchr(s, '=', (size_t)(e - s))) == NULL)
		return NULL;
	ks = s;
	ke = eq;
	vs = eq + 1;
	ve = e;
	trim(&ks, &ke);
	trim(&vs, &ve);
	if (ks == ke)
		return NULL;
	for (const char *p = ks; p < ke; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", *p) != NULL)
			return NULL;
	o = line = xmalloc((size_t)(ke - ks) + 2 + (size_t)(ve - vs) + 1);
	memcpy(o, ks, (size_t)(ke - ks));
	o += ke - ks;
	*o++ = ':';
	*o++ = ' ';
	for (const char *p = vs; p < ve; p++) {
		int	 hi, lo;
		char	 c = *p;

		if (c == '%' && ve - p >= 3 && (hi = hex_value(p[1])) >= 0 &&
		    (lo = hex_value(p[2])) >= 0) {
			c = (char)(hi << 4 | lo);
			p += 2;
		}
		if (c == '\r' || c == '\n' || c == '\0') {
			free(line);
			return NULL;
		}
		*o++ = c;
	}
	*o = '\0';
	return line;
}

/* Appends the configured headers; a malformed entry is skipped and logged. */
static bool
add_configured_headers(struct curl_slist **list, const char *spec)
{
	const char *s = spec, *e;

	while (s != NULL && *s != '\0') {
		char			*line;
		struct curl_slist	*l;

		e = strchr(s, ',');
		if (e == NULL)
			e = s + strlen(s);
		line = header_line(s, e);
		if (line != NULL) {
			l = curl_slist_append(*list, line);
			free(line);
			if (l == NULL)
				return false;
			*list = l;
		} else {
			const char *a = s, *b = e;

			trim(&a, &b);
			if (a != b)
				log_warning("export.bad_header",
				    LF_STR("variable", "OTEL_EXPORTER_OTLP_HEADERS"),
				    LF_INT("offset", s - spec));
		}
		s = *e == ',' ? e + 1 : e;
	}
	return true;
}

static char *
make_endpoint(const struct config *cfg)
{
	const char	*base;
	size_t		 len;
	char		*url;

	if (cfg->otlp_traces_endpoint != NULL && cfg->otlp_traces_endpoint[0] != '\0')
		return xstrdup(cfg->otlp_traces_endpoint);
	if (cfg->otlp_endpoint == NULL || cfg->otlp_endpoint[0] == '\0')
		return xstrdup(EXPORT_DEFAULT_ENDPOINT);
	base = cfg->otlp_endpoint;
	len = strlen(base);
	while (len > 0 && base[len - 1] == '/')
		len--;
	url = xmalloc(len + sizeof("/v1/traces"));
	memcpy(url, base, len);
	memcpy(url + len, "/v1/traces", sizeof("/v1/traces"));
	return url;
}

/* --- the exporter ---------------------------------------------------------- */

static uint64_t
mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* Collector answers are not read; curl must not print them to stdout. */
static size_t
discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static int
otlp_setup(struct exporter *x, const struct config *cfg)
{
	static bool		 curl_ready;
	struct curl_slist	*l;

	/* Once per process; libcurl keeps its globals until exit. */
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -1;
		curl_ready = true;
	}
	x->endpoint = make_endpoint(cfg);
	x->log_endpoint = url_redact(x->endpoint);
	/*
	 * OTEL_EXPORTER_OTLP_TIMEOUT=0: libcurl would read 0 as "no limit",
	 * and one hung request would then stop every later batch (one request
	 * at a time). We use the OTel default of 10 s instead.
	 */
	x->timeout_ms = cfg->otlp_timeout_ms > 0 ? cfg->otlp_timeout_ms : EXPORT_TIMEOUT_DEFAULT_MS;

	/* "Expect:" keeps curl from waiting for a 100 Continue on big bodies. */
	if ((l = curl_slist_append(NULL, "Content-Type: application/json")) == NULL)
		return -1;
	x->headers = l;
	if ((l = curl_slist_append(x->headers, "Expect:")) == NULL)
		return -1;
	x->headers = l;
	if (!add_configured_headers(&x->headers, cfg->otlp_headers))
		return -1;

	x->queue = xcalloc(EXPORT_QUEUE_MAX, sizeof(*x->queue));
	x->queued_ms = xcalloc(EXPORT_QUEUE_MAX, sizeof(*x->queued_ms));
	x->batch = xcalloc(EXPORT_BATCH, sizeof(*x->batch));

	if ((x->multi = curl_multi_init()) == NULL || (x->easy = curl_easy_init()) == NULL)
		return -1;
	curl_easy_setopt(x->easy, CURLOPT_URL, x->endpoint);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(x->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, x->timeout_ms);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	/* Only HTTP(S), whatever the URL says (configure accepts libcurl 7.68;
	 * CURLOPT_PROTOCOLS_STR replaced the bit mask in 7.85). */
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "corad/" PACKAGE_VERSION);
	return 0;
}

struct exporter *
exporter_new(const struct config *cfg)
{
	struct exporter *x;

	if (cfg->otel_exporter == OTEL_NONE)
		return NULL;
	x = xcalloc(1, sizeof(*x));
	x->kind = cfg->otel_exporter;
	x->service_name = xstrdup(cfg->otel_service_name != NULL ?
	    cfg->otel_service_name : "cora-api");
	if (x->kind == OTEL_OTLP && otlp_setup(x, cfg) != 0)
		goto err;
	return x;
err:
	log_error("export.init_failed", LF_STR("error", "libcurl could not be set up"));
	exporter_free(x);
	return NULL;
}

/* Ends the request in flight, if any (the body goes with it). */
static void
request_end(struct exporter *x)
{
	if (!x->in_flight)
		return;
	curl_multi_remove_handle(x->multi, x->easy);
	free(x->body);
	x->body = NULL;
	x->body_spans = 0;
	x->in_flight = false;
}

void
exporter_free(struct exporter *x)
{
	if (x == NULL)
		return;
	request_end(x);
	if (x->easy != NULL)
		curl_easy_cleanup(x->easy);
	if (x->multi != NULL)
		curl_multi_cleanup(x->multi);
	curl_slist_free_all(x->headers);
	free(x->endpoint);
	free(x->log_endpoint);
	free(x->service_name);
	free(x->queue);
	free(x->queued_ms);
	free(x->batch);
	free(x);
}

static void
console_write(struct exporter *x, const struct span *s)
{
	char	*line;
	size_t	 len;
	ssize_t	 w;

	line = console_encode(s, x->service_name);
	/* One write(2) per line (encoded with its newline), so span lines and
	 * log lines of other processes never interleave. */
	len = strlen(line);
	line[len] = '\n';	/* replaces the NUL; the buffer is not a string now */
	do
		w = write(STDERR_FILENO, line, len + 1);
	while (w < 0 && errno == EINTR);
	if (w == (ssize_t)(len + 1))
		x->exported++;
	else
		x->dropped++;
	free(line);
}

void
exporter_add(struct exporter *x, const struct span *s)
{
	size_t tail;

	if (x == NULL || s == NULL)
		return;
	if (x->kind == OTEL_CONSOLE) {
		console_write(x, s);
		return;
	}
	if (x->count == EXPORT_QUEUE_MAX) {
		x->saturated = true;
		x->dropped++;
		x->drops_unlogged++;	/* logged by exporter_run, at most once a second */
		return;
	}
	tail = (x->head + x->count) % EXPORT_QUEUE_MAX;
	x->queue[tail] = *s;
	x->queued_ms[tail] = mono_ms();
	x->count++;
}

/* Whether a batch should go now; otherwise *wait_ms is the time left. */
static bool
batch_due(const struct exporter *x, uint64_t now, uint64_t *wait_ms)
{
	uint64_t due;

	*wait_ms = UINT64_MAX;
	if (x->count == 0)
		return false;
	if (now < x->retry_at_ms) {
		*wait_ms = x->retry_at_ms - now;
		return false;
	}
	if (x->count >= EXPORT_BATCH)
		return true;
	due = x->queued_ms[x->head] + EXPORT_DELAY_MS;
	if (now >= due)
		return true;
	*wait_ms = due - now;
	return false;
}

static void
lower_timeout(int *timeout_ms, uint64_t ms)
{
	if (ms > INT32_MAX)
		return;
	if (*timeout_ms < 0 || (uint64_t)*timeout_ms > ms)
		*timeout_ms = (int)ms;
}

size_t
exporter_pollfds(struct exporter *x, struct pollfd *pf, size_t max, int *timeout_ms)
{
	uint64_t	 now, wait;
	size_t		 n = 0;

	if (x == NULL || x->kind != OTEL_OTLP)
		return 0;
	now = mono_ms();
	if (x->drops_unlogged > 0)
		lower_timeout(timeout_ms, x->drops_logged_ms + EXPORT_DROP_LOG_MS > now ?
		    x->drops_logged_ms + EXPORT_DROP_LOG_MS - now : 0);
	if (!x->in_flight) {
		if (batch_due(x, now, &wait))
			lower_timeout(timeout_ms, 0);
		else if (wait != UINT64_MAX)
			lower_timeout(timeout_ms, wait);
		return 0;
	}

	/*
	 * curl 7.88 has no curl_multi_waitfds (8.8); curl_multi_fdset gives
	 * the sockets of the transfer. fd_set holds fds below FD_SETSIZE only,
	 * which the stats child, with a handful of fds, stays far below; a
	 * socket curl cannot put in the set is still driven by the timeout.
	 */
	{
		fd_set	 r, w, e;
		int	 maxfd = -1;
		long	 ct = -1;

		FD_ZERO(&r);
		FD_ZERO(&w);
		FD_ZERO(&e);
		if (curl_multi_fdset(x->multi, &r, &w, &e, &maxfd) != CURLM_OK)
			maxfd = -1;
		for (int fd = 0; fd <= maxfd && n < max; fd++) {
			short ev = 0;

			if (FD_ISSET(fd, &r))
				ev |= POLLIN;
			if (FD_ISSET(fd, &w))
				ev |= POLLOUT;
			if (FD_ISSET(fd, &e))
				ev |= POLLPRI;
			if (ev == 0)
				continue;
			pf[n].fd = fd;
			pf[n].events = ev;
			pf[n].revents = 0;
			n++;
		}
		if (curl_multi_timeout(x->multi, &ct) != CURLM_OK)
			ct = -1;
		/* No socket and no timer (e.g. while resolving): curl's own advice
		 * is to look again soon. */
		if (n == 0 && ct < 0)
			ct = 100;
		x->perform_at_ms = ct >= 0 ? now + (uint64_t)ct : UINT64_MAX;
		if (ct >= 0)
			lower_timeout(timeout_ms, (uint64_t)ct);
	}
	return n;
}

/* Takes up to EXPORT_BATCH spans off the queue and starts their POST. */
static void
request_start(struct exporter *x)
{
	size_t		 n = x->count < EXPORT_BATCH ? x->count : EXPORT_BATCH;
	CURLMcode	 mc;

	for (size_t i = 0; i < n; i++)
		x->batch[i] = x->queue[(x->head + i) % EXPORT_QUEUE_MAX];
	x->head = (x->head + n) % EXPORT_QUEUE_MAX;
	x->count -= n;

	x->body = otlp_encode(x->batch, n, x->service_name);
	x->errbuf[0] = '\0';
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(x->body));
	if ((mc = curl_multi_add_handle(x->multi, x->easy)) != CURLM_OK) {
		x->dropped += n;
		log_error("export.failed", LF_STR("endpoint", x->log_endpoint),
		    LF_STR("error", curl_multi_strerror(mc)), LF_INT("spans", n));
		free(x->body);
		x->body = NULL;
		return;
	}
	x->body_spans = n;
	x->in_flight = true;
}

/* Counts and logs the outcome of the finished request, then ends it. */
static void
request_done(struct exporter *x, CURLcode rc)
{
	long status = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK && status >= 200 && status <= 299) {
		x->exported += x->body_spans;
		x->failures = 0;
		x->retry_at_ms = 0;
		request_end(x);
		return;
	}
	/* A collector that fails is asked again after about 1 s, doubling to 30 s:
	 * meanwhile the queue fills, and workers stop sending (saturated). */
	x->retry_at_ms = mono_ms() + (uint64_t)ids_backoff_ms(x->failures++,
	    EXPORT_RETRY_FIRST_MS, EXPORT_RETRY_MAX_MS);
	if (rc == CURLE_OK) {
		x->dropped += x->body_spans;
		log_warning("export.failed", LF_STR("endpoint", x->log_endpoint),
		    LF_INT("status", status), LF_INT("spans", x->body_spans));
	} else {
		x->dropped += x->body_spans;
		log_warning("export.failed", LF_STR("endpoint", x->log_endpoint),
		    LF_STR("error", x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(rc)),
		    LF_INT("spans", x->body_spans));
	}
	request_end(x);
}

void
exporter_run(struct exporter *x, const struct pollfd *pf, size_t n)
{
	uint64_t	 now, wait;
	int		 running, left;
	CURLMsg		*m;
	bool		 ready = false;

	if (x == NULL || x->kind != OTEL_OTLP)
		return;
	now = mono_ms();
	if (x->drops_unlogged > 0 && now >= x->drops_logged_ms + EXPORT_DROP_LOG_MS) {
		log_warning("export.failed", LF_STR("endpoint", x->log_endpoint),
		    LF_STR("error", "queue full"), LF_INT("spans", x->drops_unlogged));
		x->drops_unlogged = 0;
		x->drops_logged_ms = now;
	}
	/* A request in flight whose sockets are quiet and whose timer has not
	 * come: nothing for curl to do. The stats child wakes for every batch
	 * of records, and a collector that never answers keeps a request in
	 * flight for the whole timeout. */
	for (size_t i = 0; i < n; i++)
		ready = ready || pf[i].revents != 0;
	if (x->in_flight && !ready && now < x->perform_at_ms)
		return;
	/* At most two rounds: finish the request in flight, then start the
	 * next batch at once when one is due (perform never waits). */
	for (int round = 0; round < 2; round++) {
		if (!x->in_flight) {
			if (!batch_due(x, mono_ms(), &wait))
				return;
			request_start(x);
			if (!x->in_flight)
				continue;
		}
		curl_multi_perform(x->multi, &running);
		while ((m = curl_multi_info_read(x->multi, &left)) != NULL)
			if (m->msg == CURLMSG_DONE && m->easy_handle == x->easy)
				request_done(x, m->data.result);
		if (x->in_flight)
			return;
	}
}

bool
exporter_saturated(struct exporter *x)
{
	if (x == NULL || x->kind != OTEL_OTLP)
		return false;
	if (x->saturated && x->count <= EXPORT_QUEUE_MAX / 2)
		x->saturated = false;
	return x->saturated;
}

uint64_t
exporter_dropped(const struct exporter *x)
{
	return x != NULL ? x->dropped : 0;
}

uint64_t
exporter_exported(const struct exporter *x)
{
	return x != NULL ? x->exported : 0;
}

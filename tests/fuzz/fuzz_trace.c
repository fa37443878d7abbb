/*
 * fuzz_trace: W3C trace context, trace_begin() and
 * trace_parse_traceparent() (trace.h), as a worker runs them on the
 * HTTP_TRACEPARENT and HTTP_TRACESTATE parameters of every request.
 *
 * Input: "<traceparent>\n<tracestate>", split at the first newline; with no
 * newline the whole input is the traceparent and tracestate is absent
 * (NULL). Each is a NUL-terminated string (cut at a NUL byte). The context
 * is begun with sampling ratios 1, 0 and 0.5. Invariants: the trace id is
 * never all zeros and its UUID form (trace_id_uuid) is 36 characters of
 * canonical lowercase 8-4-4-4-12 that parse back (uuid_parse_text) to the
 * same bytes; a traceparent that parses gives a context with its trace id,
 * parent id and sampled flag whatever the ratio, with the tracestate kept
 * as a prefix of at most 255 bytes that ends on a list member; one that
 * does not parse gives a new trace without parent and tracestate, sampled
 * by the ratio. abort() otherwise.
 *
 * Seeds: tests/fuzz/corpus/fuzz_trace/. Run: tests/fuzz/run.sh, or by hand
 *   fuzz-build/tests/fuzz/fuzz_trace -max_len=600 CORPUS_DIR
 */
#include "config.h"

#include <stdbool.h>

#include "corad/ids.h"
#include "corad/strutil.h"
#include "corad/trace.h"
#include "fuzz.h"

static void
check_uuid_form(const uint8_t id[16])
{
	char out[40], again[UUID_STR_LEN];
	uint8_t back[16];
	struct uuid_error err;

	memset(out, 'x', sizeof(out));
	trace_id_uuid(id, out);
	FUZZ_CHECK(memchr(out, '\0', sizeof(out)) == out + 36);
	FUZZ_CHECK(fuzz_canonical_uuid(out));
	FUZZ_CHECK(uuid_parse_text(out, back, &err));
	FUZZ_CHECK(memcmp(back, id, 16) == 0);
	uuid_format(id, again);
	FUZZ_CHECK(strcmp(again, out) == 0);
}

static void
check_begin(const char *tp, const char *ts, double ratio)
{
	struct trace_ctx t, p;
	bool parsed;
	size_t n;

	memset(&t, 0xa5, sizeof(t));
	trace_begin(&t, tp, ts, NULL, ratio);
	FUZZ_CHECK(!mem_all_zero(t.trace_id, sizeof(t.trace_id)));
	FUZZ_CHECK(t.flags == 0 || t.flags == TRACE_FLAG_SAMPLED);
	FUZZ_CHECK(memchr(t.tracestate, '\0', sizeof(t.tracestate)) != NULL);
	check_uuid_form(t.trace_id);

	memset(&p, 0x5a, sizeof(p));
	parsed = trace_parse_traceparent(tp, &p);
	FUZZ_CHECK(parsed == t.has_parent);
	if (!parsed) {
		FUZZ_CHECK(mem_all_zero(t.parent_span_id, sizeof(t.parent_span_id)));
		FUZZ_CHECK(t.tracestate[0] == '\0');
		if (ratio >= 1.0)
			FUZZ_CHECK(t.flags == TRACE_FLAG_SAMPLED);
		else if (ratio <= 0.0)
			FUZZ_CHECK(t.flags == 0);
		return;
	}
	/* A valid traceparent: 55 characters at least, lowercase hex fields. */
	FUZZ_CHECK(strlen(tp) >= 55);
	FUZZ_CHECK(memcmp(t.trace_id, p.trace_id, 16) == 0);
	FUZZ_CHECK(memcmp(t.parent_span_id, p.parent_span_id, 8) == 0);
	FUZZ_CHECK(!mem_all_zero(t.parent_span_id, sizeof(t.parent_span_id)));
	FUZZ_CHECK(t.flags == p.flags);
	{
		char hex[33];

		trace_hex(t.trace_id, 16, hex);
		FUZZ_CHECK(memcmp(hex, tp + 3, 32) == 0);
		trace_hex(t.parent_span_id, 8, hex);
		FUZZ_CHECK(memcmp(hex, tp + 36, 16) == 0);
	}
	n = strlen(t.tracestate);
	FUZZ_CHECK(n <= 255);
	if (ts == NULL) {
		FUZZ_CHECK(n == 0);
		return;
	}
	/* What is kept is a prefix of what was sent, cut on a member. */
	FUZZ_CHECK(strncmp(t.tracestate, ts, n) == 0);
	if (n > 0)
		FUZZ_CHECK(t.tracestate[n - 1] != ',' && t.tracestate[n - 1] != ' ' &&
		    t.tracestate[n - 1] != '\t');
	if (n > 0 && strlen(ts) > 255)
		FUZZ_CHECK(ts[n] == ',' || ts[n] == ' ' || ts[n] == '\t');
	if (strlen(ts) <= 255) {
		size_t m = strlen(ts);

		while (m > 0 && (ts[m - 1] == ',' || ts[m - 1] == ' ' || ts[m - 1] == '\t'))
			m--;
		FUZZ_CHECK(n == m);
	}
}

/* The proxy's request id: the trace id when it is 32 lowercase hex digits,
 * not all zero, and no traceparent came; else a random one. */
static void
check_request_id(const char *id)
{
	struct trace_ctx t;
	char hex[33];
	bool valid = strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32 &&
	    strspn(id, "0") != 32;

	memset(&t, 0xa5, sizeof(t));
	trace_begin(&t, NULL, NULL, id, 1.0);
	FUZZ_CHECK(!t.has_parent && t.flags == TRACE_FLAG_SAMPLED);
	FUZZ_CHECK(!mem_all_zero(t.trace_id, sizeof(t.trace_id)));
	trace_hex(t.trace_id, 16, hex);
	FUZZ_CHECK((strcmp(hex, id) == 0) == valid);
	check_uuid_form(t.trace_id);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = size > 0 ? memchr(data, '\n', size) : NULL;
	size_t tplen = nl != NULL ? (size_t)(nl - data) : size;
	char *tp = fuzz_cstring(data, tplen);
	char *ts = nl != NULL ? fuzz_cstring(nl + 1, size - tplen - 1) : NULL;

	check_begin(tp, ts, 1.0);
	check_begin(tp, ts, 0.0);
	check_begin(tp, ts, 0.5);
	check_begin(NULL, ts, 1.0);
	check_request_id(tp);
	free(tp);
	free(ts);
	return 0;
}

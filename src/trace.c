/* trace: W3C trace context, sampling and span ids (doc/design.md, "Metrics,
 * status, logs and traces"). */
#include "config.h"

#include <string.h>
#include <time.h>

#include "corad/ids.h"
#include "corad/log.h"
#include "corad/strutil.h"
#include "corad/trace.h"

/* Field lengths of a traceparent: version, trace id, parent id, flags. */
#define TP_VERSION_LEN	2
#define TP_TRACE_ID_LEN	32
#define TP_PARENT_LEN	16
#define TP_FLAGS_LEN	2
/* "vv-" + 32 + "-" + 16 + "-" + "ff": the whole of a version 00 value. */
#define TP_LEN_V00	55

/* Lowercase hex only: W3C Trace Context forbids uppercase in traceparent. */
static int
lowerhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes exactly 2n lowercase hex digits into n bytes. */
static bool
unhex(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = lowerhex(s[2 * i]), lo;

		if (hi < 0 || (lo = lowerhex(s[2 * i + 1])) < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

bool
trace_parse_traceparent(const char *s, struct trace_ctx *out)
{
	uint8_t version, flags, trace_id[16], parent[8];
	size_t len;

	if (s == NULL)
		return false;
	/* strnlen: only whether the value is longer than 55 matters. */
	len = strnlen(s, TP_LEN_V00 + 1);
	if (len < TP_LEN_V00)
		return false;
	if (s[2] != '-' || s[35] != '-' || s[52] != '-')
		return false;
	if (!unhex(s, 1, &version) || !unhex(s + 3, 16, trace_id) ||
	    !unhex(s + 36, 8, parent) || !unhex(s + 53, 1, &flags))
		return false;
	if (version == 0xff)
		return false;
	/* Version 00 is exactly 55 characters; a later version may append
	 * fields, but only after a '-' that follows the flags. */
	if (version == 0x00 ? len != TP_LEN_V00 : len > TP_LEN_V00 && s[55] != '-')
		return false;
	if (mem_all_zero(trace_id, sizeof(trace_id)) || mem_all_zero(parent, sizeof(parent)))
		return false;

	memset(out, 0, sizeof(*out));
	memcpy(out->trace_id, trace_id, sizeof(out->trace_id));
	memcpy(out->parent_span_id, parent, sizeof(out->parent_span_id));
	out->has_parent = true;
	/* Only the sampled bit is defined for the versions we understand;
	 * unknown flags are not propagated (W3C: set them to zero). */
	out->flags = flags & TRACE_FLAG_SAMPLED;
	return true;
}

/*
 * Random bytes from the per-process pool of ids.c. uuid_make_v4() fixes the
 * version nibble (byte 6) and the variant bits (byte 8); the other 14 bytes
 * of each UUID are random, and we take 13 of them (0-5 and 9-15).
 */
static void
random_fill(uint8_t *out, size_t n)
{
	static const uint8_t	 take[] = { 0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14, 15 };
	uint8_t			 u[16];
	size_t			 got = 0;

	while (got < n) {
		uuid_make_v4(u);
		for (size_t i = 0; i < sizeof(take) && got < n; i++)
			out[got++] = u[take[i]];
	}
	memset(u, 0, sizeof(u));
}

static void
new_trace_id(uint8_t out[16])
{
	do
		random_fill(out, 16);
	while (mem_all_zero(out, 16));
}

void
trace_new_span_id(uint8_t out[8])
{
	do
		random_fill(out, 8);
	while (mem_all_zero(out, 8));
}

/* TraceIdRatioBased: the low 8 bytes, big-endian, against ratio * 2^64. */
static bool
ratio_samples(const uint8_t trace_id[16], double ratio)
{
	uint64_t low = 0, bound;

	if (!(ratio > 0.0))	/* also NaN */
		return false;
	if (ratio >= 1.0)
		return true;
	for (int i = 8; i < 16; i++)
		low = low << 8 | trace_id[i];
	/* ratio < 1, so the product is below 2^64 and fits. */
	bound = (uint64_t)(ratio * 18446744073709551616.0);
	return low < bound;
}

/*
 * tracestate longer than 255 bytes: W3C says to drop whole list members
 * from the end rather than cut one in half, so we keep the longest prefix
 * that ends before a ',' (and nothing when the first member alone is too
 * long).
 */
static void
copy_tracestate(char dst[256], const char *src)
{
	size_t len = strnlen(src, 256);

	dst[0] = '\0';
	if (len > 255) {
		len = 255;
		while (len > 0 && src[len] != ',')
			len--;
	}
	while (len > 0 && (src[len - 1] == ' ' || src[len - 1] == '\t' ||
	    src[len - 1] == ','))
		len--;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

void
trace_begin(struct trace_ctx *t, const char *traceparent, const char *tracestate,
    const char *request_id, double ratio)
{
	if (traceparent != NULL && trace_parse_traceparent(traceparent, t)) {
		/* Parent-based: the parent's sampled flag decides. */
		if (tracestate != NULL)
			copy_tracestate(t->tracestate, tracestate);
		return;
	}
	memset(t, 0, sizeof(*t));
	/* The proxy's id for the request, so that its own error pages and
	 * corad's answer name the same correlation id (doc/design.md,
	 * "Metrics, status, logs and traces"). */
	if (request_id == NULL || strnlen(request_id, 33) != 32 ||
	    !unhex(request_id, 16, t->trace_id) || mem_all_zero(t->trace_id, 16))
		new_trace_id(t->trace_id);
	t->has_parent = false;
	t->flags = ratio_samples(t->trace_id, ratio) ? TRACE_FLAG_SAMPLED : 0;
}

void
trace_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

void
trace_id_uuid(const uint8_t id[16], char out[37])
{
	char hex[33];
	size_t o = 0;

	trace_hex(id, 16, hex);
	for (size_t i = 0; i < 32; i++) {
		if (i == 8 || i == 12 || i == 16 || i == 20)
			out[o++] = '-';
		out[o++] = hex[i];
	}
	out[o] = '\0';
}

uint64_t
trace_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
trace_log_span(const struct trace_ctx *t, const uint8_t span_id[8])
{
	char trace[33], span[17], flags[3];

	trace_hex(t->trace_id, 16, trace);
	trace_hex(span_id, 8, span);
	trace_hex(&t->flags, 1, flags);
	log_set_span(trace, span, flags);
}

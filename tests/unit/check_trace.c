/* check_trace: traceparent parsing, sampling, ids and tracestate. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "corad/strutil.h"
#include "corad/trace.h"
#include "tap_main.h"

#define TP_OK	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static const uint8_t tp_trace_id[16] = {
	0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
	0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
};
static const uint8_t tp_parent[8] = { 0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7 };

START_TEST(test_parse_valid)
{
	struct trace_ctx t;

	memset(&t, 0xaa, sizeof(t));
	ck_assert(trace_parse_traceparent(TP_OK, &t));
	ck_assert_mem_eq(t.trace_id, tp_trace_id, 16);
	ck_assert_mem_eq(t.parent_span_id, tp_parent, 8);
	ck_assert(t.has_parent);
	ck_assert_uint_eq(t.flags, TRACE_FLAG_SAMPLED);
	ck_assert_str_eq(t.tracestate, "");

	ck_assert(trace_parse_traceparent(
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", &t));
	ck_assert_uint_eq(t.flags, 0);
	/* Flags other than sampled are not propagated. */
	ck_assert(trace_parse_traceparent(
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", &t));
	ck_assert_uint_eq(t.flags, TRACE_FLAG_SAMPLED);
	ck_assert(trace_parse_traceparent(
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe", &t));
	ck_assert_uint_eq(t.flags, 0);
}
END_TEST

/* Values a later version may carry (W3C forward compatibility). */
static const char *const tp_future_valid[] = {
	"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz",
	"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like",
	"fe-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
};

START_TEST(test_parse_future_version)
{
	struct trace_ctx t;

	ck_assert_msg(trace_parse_traceparent(tp_future_valid[_i], &t),
	    "rejected \"%s\"", tp_future_valid[_i]);
	ck_assert_mem_eq(t.trace_id, tp_trace_id, 16);
	ck_assert_mem_eq(t.parent_span_id, tp_parent, 8);
	ck_assert_uint_eq(t.flags, TRACE_FLAG_SAMPLED);
}
END_TEST

static const char *const tp_invalid[] = {
	"",
	"garbage",
	/* uppercase hex anywhere */
	"00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
	"00-4bf92f3577b34da6a3ce929d0e0e473A-00f067aa0ba902b7-01",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
	"0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	/* wrong lengths */
	"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
	"00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b77-01",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011",
	"000-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	"0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	/* version ff */
	"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	/* all-zero ids */
	"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
	"01-00000000000000000000000000000000-00f067aa0ba902b7-01",
	/* version 00 is exactly 55 characters */
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
	/* a later version: more only after a '-' */
	"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01xyz",
	"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.",
	/* missing fields */
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-",
	"00-4bf92f3577b34da6a3ce929d0e0e4736",
	"4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	"-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-0",
	/* non-hex, wrong separators, whitespace */
	"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
	"zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	"00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7+01",
	" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	"00-4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7-01",
	"00--4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
};

START_TEST(test_parse_invalid)
{
	struct trace_ctx t;

	memset(&t, 0x5a, sizeof(t));
	ck_assert_msg(!trace_parse_traceparent(tp_invalid[_i], &t),
	    "accepted \"%s\"", tp_invalid[_i]);
}
END_TEST

START_TEST(test_parse_null)
{
	struct trace_ctx t;

	ck_assert(!trace_parse_traceparent(NULL, &t));
}
END_TEST

/* An invalid traceparent starts a new trace: never an error, never its id. */
START_TEST(test_begin_invalid_starts_new_trace)
{
	struct trace_ctx t;

	trace_begin(&t, "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
	    "k=v", NULL, 1.0);
	ck_assert(!t.has_parent);
	ck_assert(mem_all_zero(t.parent_span_id, 8));
	ck_assert(!mem_all_zero(t.trace_id, 16));
	ck_assert(memcmp(t.trace_id, tp_trace_id, 16) != 0);
	ck_assert_uint_eq(t.flags, TRACE_FLAG_SAMPLED);
	ck_assert_str_eq(t.tracestate, "");
}
END_TEST

START_TEST(test_begin_valid_parent)
{
	struct trace_ctx t;

	trace_begin(&t, TP_OK, NULL, NULL, 1.0);
	ck_assert(t.has_parent);
	ck_assert_mem_eq(t.trace_id, tp_trace_id, 16);
	ck_assert_mem_eq(t.parent_span_id, tp_parent, 8);
	ck_assert_uint_eq(t.flags, TRACE_FLAG_SAMPLED);
	ck_assert_str_eq(t.tracestate, "");
}
END_TEST

START_TEST(test_sample_ratio_zero)
{
	struct trace_ctx t;

	for (int i = 0; i < 500; i++) {
		trace_begin(&t, NULL, NULL, NULL, 0.0);
		ck_assert_uint_eq(t.flags & TRACE_FLAG_SAMPLED, 0);
		ck_assert(!t.has_parent);
		ck_assert(!mem_all_zero(t.trace_id, 16));
	}
}
END_TEST

START_TEST(test_sample_ratio_one)
{
	struct trace_ctx t;

	for (int i = 0; i < 500; i++) {
		trace_begin(&t, NULL, NULL, NULL, 1.0);
		ck_assert_uint_eq(t.flags, TRACE_FLAG_SAMPLED);
	}
}
END_TEST

/*
 * Root traces get random ids, so the decision is checked against each id
 * made: TraceIdRatioBased samples exactly when the low 8 bytes (big-endian)
 * are below ratio * 2^64. For 0.5 the threshold is 0x8000000000000000, for
 * 0.25 0x4000000000000000. Enough draws land on both sides.
 */
START_TEST(test_sample_ratio_threshold)
{
	static const struct {
		double	 ratio;
		uint64_t threshold;
	} cases[] = {
		{ 0.5, UINT64_C(0x8000000000000000) },
		{ 0.25, UINT64_C(0x4000000000000000) },
		{ 0.75, UINT64_C(0xc000000000000000) },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		int below = 0, above = 0;

		for (int i = 0; i < 400; i++) {
			struct trace_ctx	 t;
			uint64_t		 low = 0;
			bool			 expect;

			trace_begin(&t, NULL, NULL, NULL, cases[c].ratio);
			for (int b = 8; b < 16; b++)
				low = low << 8 | t.trace_id[b];
			expect = low < cases[c].threshold;
			ck_assert_msg(((t.flags & TRACE_FLAG_SAMPLED) != 0) == expect,
			    "ratio %g, low 0x%016llx: sampled %d", cases[c].ratio,
			    (unsigned long long)low, t.flags);
			if (expect)
				below++;
			else
				above++;
		}
		ck_assert_int_gt(below, 0);
		ck_assert_int_gt(above, 0);
	}
}
END_TEST

/* Parent-based: the parent's flag decides, whatever the ratio. The trace
 * ids are crafted on both sides of the 0.5 threshold. */
START_TEST(test_sample_parent_overrides)
{
	struct trace_ctx t;

	/* low 8 bytes 0x000...1: below every threshold, but not sampled */
	trace_begin(&t, "00-ffffffffffffffff0000000000000001-00f067aa0ba902b7-00", NULL, NULL, 1.0);
	ck_assert(t.has_parent);
	ck_assert_uint_eq(t.flags & TRACE_FLAG_SAMPLED, 0);
	trace_begin(&t, "00-ffffffffffffffff0000000000000001-00f067aa0ba902b7-00", NULL, NULL, 0.5);
	ck_assert_uint_eq(t.flags & TRACE_FLAG_SAMPLED, 0);
	/* low 8 bytes 0xfff...: above every threshold, but sampled */
	trace_begin(&t, "00-0000000000000001ffffffffffffffff-00f067aa0ba902b7-01", NULL, NULL, 0.0);
	ck_assert_uint_eq(t.flags & TRACE_FLAG_SAMPLED, TRACE_FLAG_SAMPLED);
	trace_begin(&t, "00-0000000000000001ffffffffffffffff-00f067aa0ba902b7-01", NULL, NULL, 0.5);
	ck_assert_uint_eq(t.flags & TRACE_FLAG_SAMPLED, TRACE_FLAG_SAMPLED);
	ck_assert_uint_eq(t.trace_id[15], 0xff);
}
END_TEST

START_TEST(test_trace_id_uuid)
{
	char	 u[37];
	uint8_t	 z[16] = { 0 };

	trace_id_uuid(tp_trace_id, u);
	ck_assert_str_eq(u, "4bf92f35-77b3-4da6-a3ce-929d0e0e4736");
	memset(z, 0xab, sizeof(z));
	trace_id_uuid(z, u);
	ck_assert_str_eq(u, "abababab-abab-abab-abab-abababababab");
}
END_TEST

START_TEST(test_trace_id_uuid_random)
{
	struct trace_ctx	 t;
	char			 u[37];

	trace_begin(&t, NULL, NULL, NULL, 1.0);
	memset(u, 'X', sizeof(u));
	trace_id_uuid(t.trace_id, u);
	ck_assert_uint_eq(strlen(u), 36);
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			ck_assert_int_eq(u[i], '-');
		else
			ck_assert_msg((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f'),
			    "bad character in %s", u);
	}
}
END_TEST

/* The proxy's request id is the trace id when no traceparent came. */
START_TEST(test_request_id)
{
	static const char *const bad[] = {
		"4BF92F3577B34DA6A3CE929D0E0E4736",	/* uppercase */
		"4bf92f3577b34da6a3ce929d0e0e473",	/* 31 digits */
		"4bf92f3577b34da6a3ce929d0e0e47360",	/* 33 */
		"00000000000000000000000000000000",	/* all zero */
		"4bf92f3577b34da6a3ce929d0e0e473g", "",
	};
	struct trace_ctx	 t;
	char			 u[37];

	trace_begin(&t, NULL, NULL, "4bf92f3577b34da6a3ce929d0e0e4736", 1.0);
	trace_id_uuid(t.trace_id, u);
	ck_assert_str_eq(u, "4bf92f35-77b3-4da6-a3ce-929d0e0e4736");
	ck_assert(!t.has_parent);
	ck_assert_uint_eq(t.flags, TRACE_FLAG_SAMPLED);
	/* Sampled by the ratio, as a new trace id: its low 8 bytes are
	 * 0xa3ce929d0e0e4736, about 0.64 of 2^64. */
	trace_begin(&t, NULL, NULL, "4bf92f3577b34da6a3ce929d0e0e4736", 0.6);
	ck_assert_uint_eq(t.flags, 0);
	trace_begin(&t, NULL, NULL, "4bf92f3577b34da6a3ce929d0e0e4736", 0.7);
	ck_assert_uint_eq(t.flags, TRACE_FLAG_SAMPLED);
	/* A valid traceparent wins. */
	trace_begin(&t, TP_OK, NULL, "11111111111111111111111111111111", 1.0);
	ck_assert(t.has_parent);
	ck_assert_mem_eq(t.trace_id, tp_trace_id, 16);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char hex[33];

		trace_begin(&t, NULL, NULL, bad[i], 1.0);
		trace_hex(t.trace_id, 16, hex);
		ck_assert_str_ne(hex, "4bf92f3577b34da6a3ce929d0e0e4736");
		ck_assert(!mem_all_zero(t.trace_id, 16));
	}
}
END_TEST

START_TEST(test_hex)
{
	char	 out[33];
	uint8_t	 in[3] = { 0x00, 0xab, 0xf0 };

	trace_hex(in, 3, out);
	ck_assert_str_eq(out, "00abf0");
	trace_hex(tp_parent, 8, out);
	ck_assert_str_eq(out, "00f067aa0ba902b7");
	trace_hex(in, 0, out);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_ids_random)
{
	uint8_t			 a[8], b[8];
	struct trace_ctx	 t1, t2;

	for (int i = 0; i < 200; i++) {
		trace_new_span_id(a);
		trace_new_span_id(b);
		ck_assert(!mem_all_zero(a, 8));
		ck_assert(!mem_all_zero(b, 8));
		ck_assert(memcmp(a, b, 8) != 0);
		trace_begin(&t1, NULL, NULL, NULL, 1.0);
		trace_begin(&t2, NULL, NULL, NULL, 1.0);
		ck_assert(memcmp(t1.trace_id, t2.trace_id, 16) != 0);
	}
}
END_TEST

/* Random ids use every bit: UUID version/variant bits must not leak in. */
START_TEST(test_ids_no_fixed_bits)
{
	uint8_t			 or6 = 0, and6 = 0xff, or8 = 0, and8 = 0xff;
	struct trace_ctx	 t;

	for (int i = 0; i < 400; i++) {
		trace_begin(&t, NULL, NULL, NULL, 1.0);
		or6 |= t.trace_id[6];
		and6 &= t.trace_id[6];
		or8 |= t.trace_id[8];
		and8 &= t.trace_id[8];
	}
	ck_assert_uint_eq(or6, 0xff);
	ck_assert_uint_eq(and6, 0x00);
	ck_assert_uint_eq(or8, 0xff);
	ck_assert_uint_eq(and8, 0x00);
}
END_TEST

START_TEST(test_tracestate)
{
	struct trace_ctx	 t;
	char			 longts[400];
	size_t			 o = 0;

	trace_begin(&t, TP_OK, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", NULL, 1.0);
	ck_assert_str_eq(t.tracestate, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
	/* not kept without a valid traceparent */
	trace_begin(&t, NULL, "congo=t61rcWkgMzE", NULL, 1.0);
	ck_assert_str_eq(t.tracestate, "");
	trace_begin(&t, "garbage", "congo=t61rcWkgMzE", NULL, 1.0);
	ck_assert_str_eq(t.tracestate, "");
	trace_begin(&t, "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	    "congo=t61rcWkgMzE", NULL, 1.0);
	ck_assert_str_eq(t.tracestate, "");
	/* exactly 255 bytes: kept whole */
	memset(longts, 'a', 255);
	longts[0] = 'k';
	longts[1] = '=';
	longts[255] = '\0';
	trace_begin(&t, TP_OK, longts, NULL, 1.0);
	ck_assert_str_eq(t.tracestate, longts);
	/* longer: whole members are dropped from the end */
	for (int i = 0; i < 30; i++)
		o += (size_t)snprintf(longts + o, sizeof(longts) - o, "%sk%02d=vvvvvvvv",
		    i ? "," : "", i);
	ck_assert_uint_gt(strlen(longts), 255);
	trace_begin(&t, TP_OK, longts, NULL, 1.0);
	ck_assert_uint_le(strlen(t.tracestate), 255);
	ck_assert_uint_gt(strlen(t.tracestate), 200);
	ck_assert(strncmp(t.tracestate, longts, strlen(t.tracestate)) == 0);
	ck_assert_int_eq(longts[strlen(t.tracestate)], ',');
	/* one member too long: nothing kept */
	memset(longts, 'b', 300);
	longts[0] = 'k';
	longts[1] = '=';
	longts[300] = '\0';
	trace_begin(&t, TP_OK, longts, NULL, 1.0);
	ck_assert_str_eq(t.tracestate, "");
}
END_TEST

START_TEST(test_now_ns)
{
	struct timespec	 ts;
	uint64_t	 a, b, wall;

	a = trace_now_ns();
	clock_gettime(CLOCK_REALTIME, &ts);
	b = trace_now_ns();
	wall = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	ck_assert_uint_le(a, wall);
	ck_assert_uint_le(wall, b);
	ck_assert_uint_gt(a, UINT64_C(1600000000) * 1000000000u);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite	*s = suite_create("trace");
	TCase	*tc;

	tc = tcase_create("traceparent");
	tcase_add_test(tc, test_parse_valid);
	tcase_add_loop_test(tc, test_parse_future_version, 0,
	    (int)(sizeof(tp_future_valid) / sizeof(tp_future_valid[0])));
	tcase_add_loop_test(tc, test_parse_invalid, 0,
	    (int)(sizeof(tp_invalid) / sizeof(tp_invalid[0])));
	tcase_add_test(tc, test_parse_null);
	tcase_add_test(tc, test_begin_invalid_starts_new_trace);
	tcase_add_test(tc, test_begin_valid_parent);
	tcase_add_test(tc, test_tracestate);
	suite_add_tcase(s, tc);

	tc = tcase_create("sampling");
	tcase_add_test(tc, test_sample_ratio_zero);
	tcase_add_test(tc, test_sample_ratio_one);
	tcase_add_test(tc, test_sample_ratio_threshold);
	tcase_add_test(tc, test_sample_parent_overrides);
	suite_add_tcase(s, tc);

	tc = tcase_create("ids");
	tcase_add_test(tc, test_trace_id_uuid);
	tcase_add_test(tc, test_trace_id_uuid_random);
	tcase_add_test(tc, test_request_id);
	tcase_add_test(tc, test_hex);
	tcase_add_test(tc, test_ids_random);
	tcase_add_test(tc, test_ids_no_fixed_bits);
	tcase_add_test(tc, test_now_ns);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return run_suite(make_suite());
}

/* check_fcgi_head: a request's head, checked before libfcgi reads it. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "corad/fcgi_head.h"
#include "tap_main.h"

/* A connection's bytes, built a record at a time. */
struct wire {
	unsigned char	b[4 * FCGI_HEAD_MAX];
	size_t		len;
};

static void
record(struct wire *w, unsigned char version, unsigned char type, unsigned id,
    const void *content, size_t clen, unsigned char padding)
{
	unsigned char h[8] = { version, type, (unsigned char)(id >> 8), (unsigned char)id,
	    (unsigned char)(clen >> 8), (unsigned char)clen, padding, 0 };

	ck_assert_uint_le(w->len + sizeof(h) + clen + padding, sizeof(w->b));
	memcpy(w->b + w->len, h, sizeof(h));
	memcpy(w->b + w->len + sizeof(h), content, clen);
	memset(w->b + w->len + sizeof(h) + clen, 0, padding);
	w->len += sizeof(h) + clen + padding;
}

static void
begin(struct wire *w, unsigned id)
{
	static const unsigned char body[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };	/* responder */

	record(w, 1, 1, id, body, sizeof(body), 0);
}

static void
params(struct wire *w, unsigned id, const void *content, size_t clen)
{
	record(w, 1, 4, id, content, clen, (unsigned char)((8 - clen % 8) % 8));
}

/* A name-value pair into out, with 1- or 4-byte lengths; its size. */
static size_t
pair(unsigned char *out, const char *name, size_t nlen, const char *value, size_t vlen)
{
	size_t n = 0;
	const size_t lens[2] = { nlen, vlen };

	for (int i = 0; i < 2; i++)
		if (lens[i] < 128)
			out[n++] = (unsigned char)lens[i];
		else {
			out[n++] = (unsigned char)(0x80 | lens[i] >> 24);
			out[n++] = (unsigned char)(lens[i] >> 16);
			out[n++] = (unsigned char)(lens[i] >> 8);
			out[n++] = (unsigned char)lens[i];
		}
	memcpy(out + n, name, nlen);
	memcpy(out + n + nlen, value, vlen);
	return n + nlen + vlen;
}

static enum fcgi_head
check(const struct wire *w, size_t len, const char **why)
{
	static unsigned char scratch[FCGI_HEAD_MAX];

	return fcgi_head_check(w->b, len, scratch, why);
}

/* A request as nginx sends it: whole only once the empty PARAMS record is
 * there; every shorter prefix waits for more. */
START_TEST(test_whole_head)
{
	static struct wire w;
	unsigned char p[256];
	size_t n = pair(p, "REQUEST_METHOD", 14, "GET", 3);
	const char *why;

	w.len = 0;
	begin(&w, 1);
	n += pair(p + n, "REQUEST_URI", 11, "/health", 7);
	params(&w, 1, p, n);
	params(&w, 1, "", 0);
	record(&w, 1, 5, 1, "", 0, 0);	/* STDIN: the head is complete before it */
	ck_assert_int_eq(check(&w, w.len, &why), FCGI_HEAD_OK);
	ck_assert_ptr_null(why);
	for (size_t len = 0; len < w.len - 8; len++)
		ck_assert_msg(check(&w, len, &why) == FCGI_HEAD_MORE, "a prefix of %zu bytes", len);
}
END_TEST

/* A pair may span records, and a long name or value takes 4-byte lengths. */
START_TEST(test_pairs_across_records)
{
	static struct wire w;
	static char big[1000];
	unsigned char p[1200];
	size_t n;
	const char *why;

	memset(big, 'x', sizeof(big));
	n = pair(p, "HTTP_X_LONG", 11, big, sizeof(big));
	w.len = 0;
	begin(&w, 7);
	params(&w, 7, p, 5);
	params(&w, 7, p + 5, n - 5);
	params(&w, 7, "", 0);
	ck_assert_int_eq(check(&w, w.len, &why), FCGI_HEAD_OK);
}
END_TEST

/* Records before BEGIN_REQUEST (management, request id 0) and those of
 * another request are libfcgi's; a record of another version too. */
START_TEST(test_other_records)
{
	static struct wire w;
	unsigned char p[64];
	size_t n = pair(p, "A", 1, "b", 1);
	const char *why;

	w.len = 0;
	record(&w, 1, 9, 0, p, n, 0);		/* GET_VALUES */
	begin(&w, 2);
	params(&w, 3, "\x7f\x7f", 2);		/* another request's: not ours to judge */
	params(&w, 2, p, n);
	params(&w, 2, "", 0);
	ck_assert_int_eq(check(&w, w.len, &why), FCGI_HEAD_OK);

	w.len = 0;
	record(&w, 2, 1, 1, "", 0, 0);
	ck_assert_int_eq(check(&w, w.len, &why), FCGI_HEAD_OK);

	w.len = 0;				/* an abort after the head: libfcgi's */
	begin(&w, 1);
	params(&w, 1, p, n);
	params(&w, 1, "", 0);
	record(&w, 1, 2, 1, "", 0, 0);
	ck_assert_int_eq(check(&w, w.len, &why), FCGI_HEAD_OK);
}
END_TEST

static const struct {
	const char	*what;
	const char	*why;
} refusals[] = {
	{ "lengths of 2^30 each", "a parameter's lengths run past the parameters" },
	{ "a value one byte longer than the stream", "a parameter's lengths run past the parameters" },
	{ "a length field cut by the stream's end", "a parameter's lengths run past the parameters" },
	{ "a NUL in a value", "a parameter holds a NUL byte" },
	{ "a NUL in a name", "a parameter holds a NUL byte" },
	{ "STDIN before the parameters end", "the request's records start before its parameters end" },
	{ "parameters over 64 kB", "the parameters exceed 65536 bytes" },
	/* libfcgi took such a request in and waited for the rest of it */
	{ "an abort before the parameters end", "the request's records start before its parameters end" },
};

START_TEST(test_refused)
{
	static struct wire w;
	static unsigned char p[FCGI_HEAD_MAX];
	size_t n = 0;
	const char *why = NULL;

	w.len = 0;
	begin(&w, 1);
	switch (_i) {
	case 0:		/* libfcgi would add them in an int and abort the worker */
		memcpy(p, "\xc0\x00\x00\x00\xc0\x00\x00\x00" "ab", 10);
		params(&w, 1, p, 10);
		break;
	case 1:
		n = pair(p, "A", 1, "bc", 2);
		params(&w, 1, p, n - 1);
		break;
	case 2:
		params(&w, 1, "\x01\x80\x00", 3);
		break;
	case 3:
		n = pair(p, "HTTP_IDEMPOTENCY_KEY", 20, "a\0b", 3);
		params(&w, 1, p, n);
		break;
	case 4:
		n = pair(p, "DOCUMENT_URI\0X", 14, "/health", 7);
		params(&w, 1, p, n);
		break;
	case 5:
		n = pair(p, "A", 1, "b", 1);
		params(&w, 1, p, n);
		record(&w, 1, 5, 1, "{}", 2, 0);
		break;
	case 6:
		memset(p, 'x', sizeof(p));
		for (int i = 0; i < 2; i++)	/* 2 x 40000 bytes */
			params(&w, 1, p, 40000);
		break;
	case 7:
		n = pair(p, "A", 1, "b", 1);
		params(&w, 1, p, n);
		record(&w, 1, 2, 1, "", 0, 0);
		break;
	}
	if (_i != 5 && _i != 6 && _i != 7)
		params(&w, 1, "", 0);
	ck_assert_msg(check(&w, w.len, &why) == FCGI_HEAD_BAD, "%s", refusals[_i].what);
	ck_assert_str_eq(why, refusals[_i].why);
}
END_TEST

/* The largest head that fits passes. */
START_TEST(test_largest)
{
	static struct wire w;
	static char value[FCGI_HEAD_MAX];
	static unsigned char p[FCGI_HEAD_MAX];
	size_t n, vlen = FCGI_HEAD_MAX - 4 - 1 - 1;	/* lengths 1 + 4, a 1-byte name */
	const char *why;

	memset(value, 'v', sizeof(value));
	n = pair(p, "A", 1, value, vlen);
	ck_assert_uint_eq(n, FCGI_HEAD_MAX);
	w.len = 0;
	begin(&w, 1);
	for (size_t off = 0; off < n; off += 65528)
		params(&w, 1, p + off, n - off < 65528 ? n - off : 65528);
	params(&w, 1, "", 0);
	ck_assert_int_eq(check(&w, w.len, &why), FCGI_HEAD_OK);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("fcgi_head");
	TCase *tc = tcase_create("head");

	tcase_add_test(tc, test_whole_head);
	tcase_add_test(tc, test_pairs_across_records);
	tcase_add_test(tc, test_other_records);
	tcase_add_loop_test(tc, test_refused, 0, sizeof(refusals) / sizeof(refusals[0]));
	tcase_add_test(tc, test_largest);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return run_suite(make_suite());
}

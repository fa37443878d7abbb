/* check_log: every line is one JSON object, valid UTF-8, and short enough
 * to be written atomically to a pipe the processes share. */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corad/log.h"
#include "corad/utf8.h"
#include "tap_main.h"

#define PIPE_BUF_LINUX	4096

/* What log_emit wrote to stderr for these fields: one line, its newline
 * included, in buf. */
static size_t
emit(const struct log_field *fields, char *buf, size_t cap)
{
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	ck_assert_ptr_nonnull(f);
	dup2(fileno(f), STDERR_FILENO);
	log_emit(LOG_ERROR, "test.event", fields);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	ck_assert_msg(n > 0 && buf[n - 1] == '\n' && memchr(buf, '\n', n - 1) == NULL,
	    "not one line: %s", buf);
	return n;
}

static json_object *
parsed(const char *line, size_t n)
{
	json_object *o = json_tokener_parse(line);

	ck_assert_msg(o != NULL && json_object_is_type(o, json_type_object), "not JSON: %s", line);
	ck_assert(utf8_valid(line, n));
	return o;
}

START_TEST(test_short_line_unchanged)
{
	static char buf[1 << 16];
	size_t n = emit(LOG_FIELDS(LF_STR("path", "/actors")), buf, sizeof(buf));
	json_object *o = parsed(buf, n), *v;

	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "path")), "/actors");
	ck_assert(!json_object_object_get_ex(o, "truncated", &v));
	json_object_put(o);
}
END_TEST

/* A path of 6,000 bytes (nginx passes up to 8 kB), a long error, bytes that
 * are not UTF-8 and characters JSON escapes six bytes long. */
START_TEST(test_long_lines_fit)
{
	static char buf[1 << 16], path[6001], err[3001], ctl[2001], bad[3001], utf[4001];
	struct { const char *a, *b, *c; } cases[] = {
		{ path, NULL, NULL }, { path, err, NULL }, { ctl, NULL, NULL },
		{ bad, ctl, path }, { utf, utf, utf },
	};

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	memset(err, 'e', sizeof(err) - 1);
	memset(ctl, '\x01', sizeof(ctl) - 1);
	memset(bad, '\xff', sizeof(bad) - 1);
	for (size_t i = 0; i + 2 < sizeof(utf) - 1; i += 3)
		memcpy(utf + i, "\xe2\x82\xac", 3);	/* the euro sign */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = emit(LOG_FIELDS(LF_STR("path", cases[i].a), LF_STR("error", cases[i].b),
		    LF_STR("reason", cases[i].c), LF_INT("status", 414)), buf, sizeof(buf));
		json_object *o = parsed(buf, n), *v;

		ck_assert_msg(n <= PIPE_BUF_LINUX, "case %zu: a line of %zu bytes", i, n);
		ck_assert(json_object_object_get_ex(o, "truncated", &v) && json_object_get_boolean(v));
		ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "status")), 414);
		ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "event")),
		    "test.event");
		json_object_put(o);
	}
	/* twelve fields of a hundred bytes JSON writes six bytes long each */
	{
		static char c100[101];
		size_t n;
		json_object *o, *v;

		memset(c100, '\x01', sizeof(c100) - 1);
		n = emit(LOG_FIELDS(LF_STR("a", c100), LF_STR("b", c100), LF_STR("c", c100),
		    LF_STR("d", c100), LF_STR("e", c100), LF_STR("f", c100), LF_STR("g", c100),
		    LF_STR("h", c100), LF_STR("i", c100), LF_STR("j", c100), LF_STR("k", c100),
		    LF_STR("l", c100)), buf, sizeof(buf));
		o = parsed(buf, n);
		ck_assert_msg(n <= PIPE_BUF_LINUX, "twelve escaped fields: a line of %zu bytes", n);
		ck_assert(json_object_object_get_ex(o, "truncated", &v));
		json_object_put(o);
	}
	/* a cut falls between characters: whole euro signs, then U+2026 */
	emit(LOG_FIELDS(LF_STR("path", utf)), buf, sizeof(buf));
	{
		json_object *o = parsed(buf, strlen(buf));
		const char *p = json_object_get_string(json_object_object_get(o, "path"));
		size_t len = strlen(p);

		ck_assert_ptr_null(strstr(p, "\xef\xbf\xbd"));	/* no U+FFFD */
		ck_assert(len > 3 && strcmp(p + len - 3, "\xe2\x80\xa6") == 0);
		for (size_t i = 0; i + 3 < len; i += 3)
			ck_assert(memcmp(p + i, "\xe2\x82\xac", 3) == 0);
		ck_assert_uint_eq((len - 3) % 3, 0);
		json_object_put(o);
	}
	/* bytes that are not UTF-8 count as written (U+FFFD, three bytes):
	 * the field they fill is the one cut, not a longer-looking valid one */
	{
		static char half[3001];
		size_t n, len;
		json_object *o;
		const char *p;

		memset(half, 'a', sizeof(half) - 1);
		half[0] = '/';
		n = emit(LOG_FIELDS(LF_STR("path", half), LF_STR("error", bad)), buf, sizeof(buf));
		o = parsed(buf, n);
		ck_assert_msg(n <= PIPE_BUF_LINUX, "a line of %zu bytes", n);
		ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "path")), half);
		p = json_object_get_string(json_object_object_get(o, "error"));
		len = strlen(p);
		ck_assert(len > 3 && strcmp(p + len - 3, "\xe2\x80\xa6") == 0);
		ck_assert_msg(len > 600, "the error kept only %zu bytes", len);
		json_object_put(o);
	}
	/* the kept part is the start, ending in U+2026 */
	emit(LOG_FIELDS(LF_STR("path", path)), buf, sizeof(buf));
	{
		json_object *o = parsed(buf, strlen(buf));
		const char *p = json_object_get_string(json_object_object_get(o, "path"));
		size_t len = strlen(p);

		ck_assert(strncmp(p, "/aaaa", 5) == 0);
		ck_assert(len > 3000 && strcmp(p + len - 3, "\xe2\x80\xa6") == 0);
		json_object_put(o);
	}
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("lines");

	tcase_add_test(tc, test_short_line_unchanged);
	tcase_add_test(tc, test_long_lines_fit);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return run_suite(make_suite());
}

/* check_alloc: the out-of-memory policy, and URLs made fit for logs. */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corad/alloc.h"
#include "corad/log.h"
#include "corad/url.h"
#include "tap_main.h"

/* Runs fn in a child whose stderr is captured; returns its wait status and
 * what it wrote. */
static int
in_child(void (*fn)(void), char *out, size_t outlen)
{
	int p[2], status;
	pid_t pid;
	ssize_t n, got = 0;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		close(p[0]);
		fn();
		_exit(0);
	}
	close(p[1]);
	while ((n = read(p[0], out + got, outlen - 1 - (size_t)got)) > 0)
		got += n;
	out[got] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static void
huge_malloc(void)
{
	log_set_logger("corad.test");
	(void)xmalloc(SIZE_MAX / 2);
}

static void
huge_realloc(void)
{
	(void)xrealloc(xmalloc(16), SIZE_MAX / 2);
}

static void
fine(void)
{
	char *s = xasprintf("%s-%d", "x", 7);

	if (strcmp(s, "x-7") != 0)
		_exit(3);
	free(s);
	s = xstrndup("abcdef", 3);
	if (strcmp(s, "abc") != 0)
		_exit(4);
	free(s);
	free(xcalloc(0, 0));	/* zero sizes still give a pointer */
}

START_TEST(test_oom_aborts_with_a_log_line)
{
	char out[1024];
	int status = in_child(huge_malloc, out, sizeof(out));

	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
	    "status %d, stderr: %s", status, out);
	ck_assert_msg(strstr(out, "\"event\":\"process.out_of_memory\"") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "\"logger\":\"corad.test\"") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "\"level\":\"error\"") != NULL, "%s", out);
	status = in_child(huge_realloc, out, sizeof(out));
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	ck_assert(strstr(out, "process.out_of_memory") != NULL);
}
END_TEST

START_TEST(test_alloc_ok)
{
	char out[256];
	int status = in_child(fine, out, sizeof(out));

	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_str_eq(out, "");
}
END_TEST

static const struct {
	const char	*in;
	const char	*out;
} urls[] = {
	{ "http://collector:4318/v1/traces", "http://collector:4318/v1/traces" },
	{ "https://user:s3cret@collector.example/v1/traces?token=abc#x",
	  "https://collector.example/v1/traces" },
	{ "http://onlyuser@127.0.0.1:9/v1/traces", "http://127.0.0.1:9/v1/traces" },
	{ "postgresql://cora_app:pw@db.example:5432/cora?sslmode=require",
	  "postgresql://db.example:5432/cora" },
	{ "not a url at all", "(not a URL)" },
};

START_TEST(test_url_redact)
{
	char *r = url_redact(urls[_i].in);

	ck_assert_str_eq(r, urls[_i].out);
	ck_assert(strstr(r, "s3cret") == NULL && strstr(r, "pw@") == NULL);
	free(r);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("alloc");
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, test_oom_aborts_with_a_log_line);
	tcase_add_test(tc, test_alloc_ok);
	suite_add_tcase(s, tc);
	tc = tcase_create("url");
	tcase_add_loop_test(tc, test_url_redact, 0, (int)(sizeof(urls) / sizeof(urls[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return run_suite(make_suite());
}

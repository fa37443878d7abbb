/* check_proc: the scoreboard's consistent copies (torn ones refused) and
 * the crash-storm guard. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corad/proc.h"
#include "corad/scoreboard.h"
#include "tap_main.h"

START_TEST(test_read_consistent)
{
	struct scoreboard *sb = scoreboard_create();
	struct sb_slot *sl, out;

	ck_assert_ptr_nonnull(sb);
	sl = &sb->slots[3];
	sb_write_begin(sl);
	sl->pid = 4242;
	sl->state = SB_BUSY;
	strcpy(sl->method, "POST");
	sb_write_end(sl);
	memset(&out, 0xaa, sizeof(out));
	ck_assert(sb_read(sl, &out));
	ck_assert_int_eq(out.pid, 4242);
	ck_assert_int_eq(out.state, SB_BUSY);
	ck_assert_str_eq(out.method, "POST");
}
END_TEST

/* A writer that died between begin and end leaves the count odd: the read
 * reports it instead of handing out a half-written record. */
START_TEST(test_read_torn)
{
	struct scoreboard *sb = scoreboard_create();
	struct sb_slot *sl = &sb->slots[5], out;
	pid_t pid;
	int status;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		sb_write_begin(sl);
		sl->pid = 77;
		sl->state = 200;	/* garbage a caller must never index with */
		_exit(0);		/* dies mid-write */
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_uint_eq(atomic_load(&sl->seq) & 1, 1);
	ck_assert(!sb_read(sl, &out));
	/* Once the master resets the count, the slot reads again. */
	atomic_store(&sl->seq, 0);
	sl->state = SB_FREE;
	ck_assert(sb_read(sl, &out));
	ck_assert_int_eq(out.state, SB_FREE);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(sb_state_name(SB_BUSY), "busy");
	ck_assert_str_eq(sb_state_name((enum sb_state)200), "unknown");
	ck_assert_str_eq(sb_restart_name(SB_RESTART_RECYCLE), "recycle");
}
END_TEST

static int64_t
death(enum child_kind kind, bool ready, bool sigkilled, int64_t uptime, unsigned *fast)
{
	const struct child_death d = { .kind = kind, .ready = ready, .sigkilled = sigkilled,
	    .uptime_ms = uptime };

	return proc_restart_delay(&d, fast);
}

/* Workers that die on their own before accepting: a crash loop, backed off. */
START_TEST(test_crash_loop_backs_off)
{
	unsigned fast = 0;
	const int64_t want[] = { 1000, 2000, 4000, 8000, 16000, 30000, 30000 };

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_int_eq(death(CHILD_WORKER, false, false, 5, &fast), want[i]);
	ck_assert_uint_eq(fast, 7);
	/* One that served resets the count and comes back at once. */
	ck_assert_int_eq(death(CHILD_WORKER, true, false, 20, &fast), 0);
	ck_assert_uint_eq(fast, 0);
	ck_assert_int_eq(death(CHILD_WORKER, false, false, 5, &fast), 1000);
}
END_TEST

/* A worker that had accepted is replaced at once however young it was, and
 * SIGKILL (the OOM killer, an operator) never counts: a kill every 200 ms
 * must not empty the pool. */
START_TEST(test_kills_restart_at_once)
{
	unsigned fast = 0;

	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(death(CHILD_WORKER, true, true, 3, &fast), 0);
	ck_assert_uint_eq(fast, 0);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(death(CHILD_WORKER, false, true, 1, &fast), 0);
	ck_assert_uint_eq(fast, 0);
	ck_assert_int_eq(death(CHILD_WORKER, true, false, 1, &fast), 0);	/* SIGSEGV after ready */
}
END_TEST

/* The stats child and the projector have no ready report: a second of
 * life is what shows they started. */
START_TEST(test_other_children)
{
	unsigned fast = 0;

	ck_assert_int_eq(death(CHILD_STATS, false, false, 10, &fast), 1000);
	ck_assert_int_eq(death(CHILD_STATS, false, false, 10, &fast), 2000);
	ck_assert_int_eq(death(CHILD_STATS, false, false, 1500, &fast), 0);
	ck_assert_uint_eq(fast, 0);
	ck_assert_int_eq(death(CHILD_PROJECTOR, false, true, 10, &fast), 0);
	ck_assert_int_eq(death(CHILD_PROJECTOR, false, false, 10, &fast), 1000);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("proc");
	TCase *tc = tcase_create("seqlock");

	tcase_add_test(tc, test_read_consistent);
	tcase_add_test(tc, test_read_torn);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	tc = tcase_create("restart");
	tcase_add_test(tc, test_crash_loop_backs_off);
	tcase_add_test(tc, test_kills_restart_at_once);
	tcase_add_test(tc, test_other_children);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return run_suite(make_suite());
}

/* deadline: the request deadline of a worker (SIGALRM and PQcancel). */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <time.h>

#include "corad/deadline.h"

/* A timer of its own on a real-time signal, not setitimer's SIGALRM: no
 * library's or tool's alarm (libFuzzer's -timeout, for one) can collide. */
#define DEADLINE_SIGNAL		SIGRTMIN

static timer_t			 timer;
static bool			 have_timer;
static volatile sig_atomic_t	 expired;
static PGcancel *volatile	 cancel_obj;	/* the running statement's */
static struct timespec		 started;	/* CLOCK_MONOTONIC */
static double			 limit;		/* seconds; 0: none */
static bool			 armed;

static void
deadline_on_alarm(int sig)
{
	char err[64];
	PGcancel *c = cancel_obj;

	(void)sig;
	expired = 1;
	if (c != NULL)
		(void)PQcancel(c, err, sizeof(err));
}

bool
deadline_install(void)
{
	/* SA_RESTART: reads and writes of the request go on; poll() (a connect
	 * in progress) and the listen socket's accept are interrupted anyway. */
	struct sigaction sa = { .sa_handler = deadline_on_alarm, .sa_flags = SA_RESTART };
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL };

	sigemptyset(&sa.sa_mask);
	sigaction(DEADLINE_SIGNAL, &sa, NULL);
	sev.sigev_signo = DEADLINE_SIGNAL;
	have_timer = timer_create(CLOCK_MONOTONIC, &sev, &timer) == 0;
	return have_timer;
}

void
deadline_start(double seconds)
{
	clock_gettime(CLOCK_MONOTONIC, &started);
	limit = seconds;
	expired = 0;
}

double
deadline_left(void)
{
	struct timespec now;

	if (limit <= 0)
		return 1e9;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return limit - ((double)(now.tv_sec - started.tv_sec) +
	    (double)(now.tv_nsec - started.tv_nsec) / 1e9);
}

int64_t
deadline_at_ms(void)
{
	if (limit <= 0)
		return -1;
	return (int64_t)started.tv_sec * 1000 + started.tv_nsec / 1000000 +
	    (int64_t)(limit * 1000);
}

bool
deadline_arm(void)
{
	struct itimerspec it = { 0 };
	double left;

	if (limit <= 0 || !have_timer)
		return false;
	if (armed)
		return true;
	left = deadline_left();
	if (left > 0) {
		it.it_value.tv_sec = (time_t)left;
		it.it_value.tv_nsec = (long)((left - (double)(time_t)left) * 1e9);
	}
	if (it.it_value.tv_sec == 0 && it.it_value.tv_nsec == 0)
		it.it_value.tv_nsec = 1;	/* already over: fire at once */
	armed = true;
	timer_settime(timer, 0, &it, NULL);
	return true;
}

void
deadline_set_cancel(PGcancel *c)
{
	cancel_obj = c;
}

bool
deadline_expired(void)
{
	return expired != 0;
}

bool
deadline_finish(void)
{
	struct itimerspec off = { 0 };
	bool was = expired != 0;

	if (armed)
		timer_settime(timer, 0, &off, NULL);
	armed = false;
	cancel_obj = NULL;
	expired = 0;
	return was;
}

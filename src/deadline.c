/* deadline: the request deadline of a worker (a timer signal and PQcancel). */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "corad/deadline.h"

/* A timer of its own on a real-time signal, not setitimer's SIGALRM: no
 * library's or tool's alarm (libFuzzer's -timeout, for one) can collide. */
#define DEADLINE_SIGNAL		SIGRTMIN

/* Seconds a cancelled statement has to end before its session is cut. */
#define DEADLINE_GRACE_S	1

static timer_t			 timer;
static bool			 have_timer;
static volatile sig_atomic_t	 expired;
static PGcancel *volatile	 cancel_obj;	/* the running statement's */
static volatile sig_atomic_t	 session_fd = -1;	/* its connection's socket */
static volatile sig_atomic_t	 canceller;	/* the child sending the cancel */
static struct timespec		 started;	/* CLOCK_MONOTONIC */
static double			 limit;		/* seconds; 0: none */
static bool			 armed;

/*
 * At the deadline: cancels the running statement. PQcancel waits for the
 * server's answer, which a server that is stopped or cut off by the network
 * never sends, so a child of its own (_Fork is safe here) sends it, and the
 * timer fires once more DEADLINE_GRACE_S later. A statement still running
 * then loses its session (shutdown of its socket), and the worker answers
 * 504 instead of waiting until the master kills it.
 */
static void
deadline_on_alarm(int sig)
{
	PGcancel *c = cancel_obj;
	int saved = errno;

	(void)sig;
	if (expired) {		/* the grace is over */
		if (session_fd >= 0)
			(void)shutdown(session_fd, SHUT_RDWR);
	} else if (c == NULL)
		expired = 1;
	else {
		struct itimerspec grace = { .it_value = { DEADLINE_GRACE_S, 0 } };
		pid_t pid;

		expired = 1;
		if ((pid = _Fork()) == 0) {
			char err[64];

			(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
			(void)PQcancel(c, err, sizeof(err));
			_exit(0);
		}
		canceller = pid > 0 ? pid : 0;
		timer_settime(timer, 0, &grace, NULL);
	}
	errno = saved;
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
deadline_set_cancel(PGcancel *c, int fd)
{
	cancel_obj = c;
	session_fd = c != NULL ? fd : -1;
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
	session_fd = -1;
	/* A canceller the server has not answered yet is done with. */
	if (canceller > 0) {
		if (waitpid(canceller, NULL, WNOHANG) == 0) {
			kill(canceller, SIGKILL);
			(void)waitpid(canceller, NULL, 0);
		}
		canceller = 0;
	}
	expired = 0;
	return was;
}

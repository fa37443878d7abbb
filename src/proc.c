/* proc: what every child process does first, and the ipc datagram sender. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "corad/alloc.h"
#include "corad/config.h"
#include "corad/ids.h"
#include "corad/ipc.h"
#include "corad/log.h"
#include "corad/proc.h"

static const char *const kind_names[CHILD__MAX] = {
	[CHILD_WORKER] = "worker",
	[CHILD_STATS] = "stats",
	[CHILD_PROJECTOR] = "projector",
	[CHILD_STATUS] = "status",
};

const char *
child_kind_name(enum child_kind kind)
{
	return (unsigned)kind < CHILD__MAX ? kind_names[kind] : "unknown";
}

int64_t
proc_restart_delay(const struct child_death *d, unsigned *fast_deaths)
{
	bool started_fine = d->kind == CHILD_WORKER ? d->ready :
	    d->uptime_ms >= PROC_FAST_DEATH_MS;
	int64_t delay = PROC_BACKOFF_FIRST_MS;

	if (started_fine)
		*fast_deaths = 0;
	if (started_fine || d->sigkilled)
		return 0;
	++*fast_deaths;
	for (unsigned i = 1; i < *fast_deaths && delay < PROC_BACKOFF_MAX_MS; i++)
		delay *= 2;
	return delay > PROC_BACKOFF_MAX_MS ? PROC_BACKOFF_MAX_MS : delay;
}

void
proc_child_init(pid_t master, enum child_kind kind)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t none;
	char name[16];

	ids_after_fork();
	snprintf(name, sizeof(name), "corad-%s", child_kind_name(kind));
	prctl(PR_SET_NAME, name);

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	/* Writes to a closed proxy connection or stats socket must fail with
	 * EPIPE, not kill the process; set before FCGX_Init, which then leaves
	 * SIGPIPE alone. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* A reload is the master's to do, and corad has no log file to reopen:
	 * `systemctl kill -s HUP` (every process of the unit) or a SIGUSR1
	 * out of habit must not kill a child in the middle of its work. */
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	/* No orphans: if the master dies, every child is told to stop. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master)	/* it died before prctl took effect */
		_exit(0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

void
proc_master_signals(sigset_t *set)
{
	/* SIGUSR2: a worker asks to be recycled (its scoreboard slot says so). */
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2 };

	sigemptyset(set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(set, sigs[i]);
}

/* Puts name=value in the environment; true when that changes it. */
static bool
put_env(const char *name, const char *value)
{
	const char *now = getenv(name);

	if (now != NULL && strcmp(now, value) == 0)
		return false;
	setenv(name, value, 1);
	return true;
}

/*
 * glibc reads its tunables and GnuTLS its switch when a process starts, so
 * serve puts them in its environment (the operator's values, from the
 * environment or --env-file, else corad's) and executes itself again, once,
 * keeping its PID (doc/design.md, "Processes").
 */
void
proc_exec_tuned(char *const argv[], const char *env_file)
{
	struct env_source *src;
	const char *t, *g;
	char self[PATH_MAX], err[256], *v;
	bool again;
	ssize_t n;

	/* Executed already: it takes back the name it was started by (the
	 * exec named it after its binary, which may be a link's target). */
	if (getenv(TUNED_MARK) != NULL) {
		const char *base = strrchr(argv[0], '/');

		prctl(PR_SET_NAME, base != NULL ? base + 1 : argv[0]);
		return;
	}
	/* In secure mode (setuid, file capabilities) glibc drops the
	 * tunables: the exec would change nothing. */
	if (getauxval(AT_SECURE) != 0)
		return;
	src = env_file != NULL ? env_source_new(env_file, err, sizeof(err)) : NULL;
	t = env_source_lookup(src, "GLIBC_TUNABLES");
	g = env_source_lookup(src, "GNUTLS_NO_IMPLICIT_INIT");
	v = t != NULL && strstr(t, TUNED_TCACHE) != NULL ? xstrdup(t) :
	    t != NULL && *t != '\0' ? xasprintf("%s:%s0", t, TUNED_TCACHE) :
	    xasprintf("%s0", TUNED_TCACHE);
	again = put_env("GLIBC_TUNABLES", v);
	again |= put_env("GNUTLS_NO_IMPLICIT_INIT", g != NULL ? g : "1");
	free(v);
	env_source_free(src);
	if (!again)
		return;
	log_info("startup.exec", LF_STR("glibc_tunables", getenv("GLIBC_TUNABLES")),
	    LF_STR("gnutls_no_implicit_init", getenv("GNUTLS_NO_IMPLICIT_INIT")));
	setenv(TUNED_MARK, "1", 1);
	/* By its path, not /proc/self/exe: the process's name comes from it. */
	n = readlink("/proc/self/exe", self, sizeof(self));
	if (n > 0 && (size_t)n < sizeof(self)) {
		self[n] = '\0';
		execv(self, argv);
	} else if (n > 0)
		errno = ENAMETOOLONG;
	log_warning("startup.exec_failed", LF_STR("error", strerror(errno)),
	    LF_STR("reason", "serving as started: glibc's thread cache and GnuTLS's"
	    " initialisation at load may stay on, and each worker take up to 0.5 MB more"));
}

bool
ipc_send(int fd, const void *msg, size_t len)
{
	ssize_t n;

	do
		n = send(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len;
}

/*
 * master: forks the children, replaces the ones that die, reloads and stops
 * them.
 *
 * Signal handlers only write the signal number to a self-pipe; the loop
 * below does the work. Children are forked with every signal blocked, so
 * none runs a master handler in the child before proc_child_init() resets
 * them.
 *
 * Reload (SIGHUP) rolls the pool: the new configuration is loaded and
 * checked like at start-up (a bad one is refused and nothing changes), then
 * one new worker is started at a time and, once it reports that it accepts
 * (a byte on its ready pipe), one old worker is told to finish its request
 * and leave. The pool never has fewer accepting workers than configured.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "corad/authz.h"
#include "corad/clock.h"
#include "corad/log.h"
#include "corad/proc.h"
#include "corad/scoreboard.h"
#include "corad/startup.h"

#define BACKOFF_FIRST_MS	1000	/* fork failed: try again after this */
#define MAX_CHILDREN		SB_SLOTS	/* children[i] writes scoreboard slot i */
#define DEADLINE_GRACE_MS	5000	/* past the request deadline: SIGKILL */
#define SCAN_EVERY_MS		1000	/* how often busy workers are checked */

struct child {
	bool		 in_use;	/* the slot is part of the pool */
	enum child_kind	 kind;
	pid_t		 pid;		/* 0: not running */
	unsigned	 generation;	/* configuration it was started with */
	bool		 retiring;	/* told to leave: not restarted */
	enum sb_restart	 retire_reason;
	bool		 recycling;	/* asked to be replaced (CORA_MAX_REQUESTS) */
	bool		 killed;	/* past its request deadline: SIGKILLed */
	uint64_t	 slow_logged;	/* busy_since_ns of the request (step) logged as
					 * slow, or wake_by_ns of a projector's late wait */
	bool		 reloading;	/* stopped by a reload, to start again at once */
	int		 ready_fd;	/* worker's ready pipe until it reports, else -1 */
	bool		 ready;		/* the worker reported that it accepts */
	int64_t		 started_ms;
	int64_t		 restart_at_ms;	/* when to fork again */
	unsigned	 fast_deaths;	/* crash-loop deaths in a row (proc.h) */
};

enum master_state {
	MASTER_RUNNING,
	MASTER_STOPPING,	/* graceful: workers finish, then the others */
};

struct master {
	struct runtime	*rt;
	struct child	 children[MAX_CHILDREN];
	unsigned	 generation;
	enum master_state state;
	int64_t		 deadline_ms;	/* graceful stop: SIGKILL after */
	int		 pipe[2];	/* self-pipe: signal numbers */
	bool		 ready_sent;	/* READY=1 told for this generation */
	size_t		 accepting;	/* workers of this generation accepting */
	size_t		 accepting_old;	/* and of older ones, while they are replaced */
	uint64_t	 watchdog_usec;	/* WATCHDOG_USEC, 0: none */
	int64_t		 next_watchdog_ms;
};

static int sig_pipe_wr = -1;

static int (*const child_main[CHILD__MAX])(struct runtime *) = {
	[CHILD_WORKER] = worker_main,
	[CHILD_STATS] = stats_main,
	[CHILD_PROJECTOR] = projector_main,
	[CHILD_STATUS] = worker_main,	/* with the status socket, its routes only */
};

/* "SIGKILL" for the logs. */
static const char *
signal_name(int sig, char *buf, size_t len)
{
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev == NULL)
		snprintf(buf, len, "SIG%d", sig);
	else
		snprintf(buf, len, "SIG%s", abbrev);
	return buf;
}

static void
master_on_signal(int sig)
{
	unsigned char b = (unsigned char)sig;
	int saved = errno;

	(void)!write(sig_pipe_wr, &b, 1);
	errno = saved;
}

static void
master_fork(struct master *m, struct child *c)
{
	sigset_t all, old;
	int ready[2] = { -1, -1 };
	pid_t pid;

	if (c->kind == CHILD_WORKER && pipe2(ready, O_CLOEXEC) != 0) {
		log_error("master.fork_failed", LF_STR("kind", "worker"), LF_STR("error", strerror(errno)));
		c->restart_at_ms = mono_ms() + BACKOFF_FIRST_MS;
		return;
	}
	if (c->kind != CHILD_WORKER)
		c->generation = m->generation;	/* it reads the current configuration */
	/* The slot is the master's until the fork, then the child's (it
	 * writes its pid) until the master reaps it. */
	{
		struct sb_slot *sl = &m->rt->sb->slots[c - m->children];

		sb_write_begin(sl);
		sl->pid = 0;
		sl->kind = (uint8_t)c->kind;
		sl->state = SB_STARTING;
		sl->generation = c->generation;
		sl->requests = 0;
		sl->recycle = 0;
		sl->method[0] = sl->route[0] = sl->principal[0] = sl->correlation_id[0] = '\0';
		sb_write_end(sl);
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		int rc;

		close(m->pipe[0]);
		close(m->pipe[1]);
		for (size_t i = 0; i < MAX_CHILDREN; i++)
			if (m->children[i].ready_fd >= 0)
				close(m->children[i].ready_fd);
		if (ready[0] >= 0)
			close(ready[0]);
		m->rt->ready_fd = ready[1];
		m->rt->slot = (int)(c - m->children);
		if (c->kind == CHILD_STATUS) {
			m->rt->listen_fd = m->rt->status_fd;
			m->rt->status_only = true;
		}
		proc_child_init(getppid(), c->kind);
		{
			struct sb_slot *sl = &m->rt->sb->slots[m->rt->slot];

			sb_write_begin(sl);
			sl->pid = getpid();
			sb_write_end(sl);
		}
		rc = child_main[c->kind](m->rt);
		/* exit(), not _exit(): nothing is left in stdio buffers from the
		 * master (logs go out with write(2)), and the sanitizers' leak
		 * check runs at exit. */
		exit(rc);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (ready[1] >= 0)
		close(ready[1]);
	if (pid < 0) {
		log_error("master.fork_failed", LF_STR("kind", child_kind_name(c->kind)),
		    LF_STR("error", strerror(errno)));
		if (ready[0] >= 0)
			close(ready[0]);
		c->restart_at_ms = mono_ms() + BACKOFF_FIRST_MS;
		return;
	}
	c->pid = pid;
	c->recycling = false;
	c->killed = false;
	c->ready_fd = ready[0];
	c->ready = false;
	c->started_ms = mono_ms();
	c->restart_at_ms = 0;
	log_info("master.child_started", LF_INT("pid", pid),
	    LF_STR("kind", child_kind_name(c->kind)), LF_INT("generation", c->generation));
}

/* Takes a free slot for a new child of `kind` in the current generation. */
static struct child *
slot_new(struct master *m, enum child_kind kind)
{
	for (size_t i = 0; i < MAX_CHILDREN; i++) {
		struct child *c = &m->children[i];

		if (!c->in_use) {
			memset(c, 0, sizeof(*c));
			c->in_use = true;
			c->kind = kind;
			c->generation = m->generation;
			c->ready_fd = -1;
			return c;
		}
	}
	return NULL;
}

static void
slot_free(struct child *c)
{
	if (c->ready_fd >= 0)
		close(c->ready_fd);
	c->ready_fd = -1;
	c->in_use = false;
}

static struct child *
child_by_pid(struct master *m, pid_t pid)
{
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (m->children[i].in_use && m->children[i].pid == pid)
			return &m->children[i];
	return NULL;
}

/* Decides when a dead child comes back (proc_restart_delay). */
static void
schedule_restart(struct child *c, int64_t died_ms, bool sigkilled)
{
	const struct child_death d = { .kind = c->kind, .ready = c->ready,
	    .sigkilled = sigkilled, .uptime_ms = died_ms - c->started_ms };
	int64_t delay = proc_restart_delay(&d, &c->fast_deaths);

	c->restart_at_ms = died_ms + delay;
	if (delay > 0)
		log_warning("master.restart_delayed", LF_STR("kind", child_kind_name(c->kind)),
		    LF_INT("delay_ms", delay), LF_INT("fast_deaths", c->fast_deaths),
		    LF_STR("reason", c->kind == CHILD_WORKER ? "worker died before it accepted" :
		    "child died within 1 s of its start"));
}

/* cora_worker_restarts_total{reason}: every worker that leaves while the
 * pool runs is replaced, for one of these reasons. */
static void
master_count_restart(struct master *m, const struct child *c, bool sig, int code)
{
	enum sb_restart why;

	if (c->kind != CHILD_WORKER || m->state != MASTER_RUNNING)
		return;
	if (c->retiring)
		why = c->retire_reason;
	else if (c->killed)
		why = SB_RESTART_TIMEOUT;
	else if (sig || code != 0)
		why = SB_RESTART_CRASH;
	else
		why = SB_RESTART_EXIT;
	atomic_fetch_add(&m->rt->sb->restarts[why], 1);
}

/* master.child_exited; for a worker that died in a request, which one, so
 * that the proxy's 502 for it can be found (its correlation id). */
static void
log_child_exited(struct master *m, const struct child *c, pid_t pid, int status,
    enum log_level lvl)
{
	bool sig = WIFSIGNALED(status), busy, mid, step;
	struct sb_slot last;
	char sname[24];

	/* A worker in a request, or the projector in a step it abandoned. */
	busy = sb_read(&m->rt->sb->slots[c - m->children], &last) && last.state == SB_BUSY;
	mid = busy && (c->kind == CHILD_WORKER || c->kind == CHILD_STATUS) &&
	    last.correlation_id[0] != '\0';
	step = mid || (busy && c->kind == CHILD_PROJECTOR);
	log_emit(lvl, "master.child_exited", LOG_FIELDS(
	    LF_INT("pid", pid), LF_STR("kind", child_kind_name(c->kind)),
	    sig ? LF_NULL("exit_code") : LF_INT("exit_code", WEXITSTATUS(status)),
	    sig ? LF_STR("signal", signal_name(WTERMSIG(status), sname, sizeof(sname))) :
	    LF_NULL("signal"),
	    LF_BOOL("core_dumped", sig && WCOREDUMP(status)),
	    LF_INT("uptime_ms", mono_ms() - c->started_ms),
	    LF_BOOL("retired", c->retiring),
	    mid ? LF_STR("correlation_id", last.correlation_id) : LF_SKIP,
	    mid ? LF_STR("method", last.method) : LF_SKIP,
	    mid && last.route[0] ? LF_STR("route", last.route) : LF_SKIP,
	    step ? LF_STR("doing", last.doing) : LF_SKIP));
}

static void
master_reap(struct master *m)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child *c = child_by_pid(m, pid);
		int64_t t = mono_ms();
		bool sig = WIFSIGNALED(status);
		enum log_level lvl = LOG_INFO;

		if (c == NULL)
			continue;
		if ((m->state == MASTER_RUNNING && !c->retiring && !c->reloading) || sig ||
		    WEXITSTATUS(status) != 0)
			lvl = LOG_WARNING;
		log_child_exited(m, c, pid, status, lvl);
		c->pid = 0;
		if (c->ready_fd >= 0) {
			char b;

			/* Its ready byte may still be unread in the pipe. */
			if (read(c->ready_fd, &b, 1) == 1)
				c->ready = true;
			close(c->ready_fd);
			c->ready_fd = -1;
		}
		master_count_restart(m, c, sig, sig ? 0 : WEXITSTATUS(status));
		{
			struct sb_slot *sl = &m->rt->sb->slots[c - m->children];

			/* A worker killed mid-write leaves the count odd: reset it. */
			atomic_store(&sl->seq, 0);
			sl->state = SB_FREE;
			sl->pid = 0;
		}
		/* Retired workers and workers of an older configuration leave
		 * for good; the rolling below starts their successors. */
		if (m->state != MASTER_RUNNING || c->retiring ||
		    (c->kind == CHILD_WORKER && c->generation != m->generation))
			slot_free(c);
		else if (c->reloading) {
			c->reloading = false;
			c->restart_at_ms = t;
		} else
			schedule_restart(c, t, sig && WTERMSIG(status) == SIGKILL);
	}
}

static void
signal_children(struct master *m, enum child_kind kind, int sig)
{
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (m->children[i].in_use && m->children[i].kind == kind && m->children[i].pid > 0)
			kill(m->children[i].pid, sig);
}

static size_t
running(struct master *m, enum child_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < MAX_CHILDREN; i++)
		n += m->children[i].in_use && m->children[i].kind == kind && m->children[i].pid > 0;
	return n;
}

/* Children of any kind alive. */
static size_t
running_all(struct master *m)
{
	size_t n = 0;

	for (int k = 0; k < CHILD__MAX; k++)
		n += running(m, (enum child_kind)k);
	return n;
}

/* Reads the ready byte of workers that reported; the pipe closes either
 * way (a worker that dies before it is ready closes it too). */
static void
master_collect_ready(struct master *m, const struct pollfd *pf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct child *c;
		char b;

		if (pf[i].revents == 0)
			continue;
		for (size_t j = 0; j < MAX_CHILDREN; j++) {
			c = &m->children[j];
			if (!c->in_use || c->ready_fd != pf[i].fd)
				continue;
			if (read(c->ready_fd, &b, 1) == 1) {
				c->ready = true;
				log_debug("master.worker_ready", LF_INT("pid", c->pid),
				    LF_INT("generation", c->generation));
			}
			close(c->ready_fd);
			c->ready_fd = -1;
		}
	}
}

/* Tells a worker to finish its request and leave; it is not restarted. */
static void
master_retire(struct child *c, enum sb_restart why)
{
	c->retiring = true;
	c->retire_reason = why;
	kill(c->pid, SIGTERM);
}

/*
 * Brings the pool to the configuration: restarts what is due, then replaces
 * workers of an older generation (a reload) and workers that asked to be
 * recycled (CORA_MAX_REQUESTS) one at a time: a successor starts, and only
 * once it accepts does one of them leave, so the pool never has fewer
 * accepting workers than CORA_WORKERS. Finally it trims a smaller pool.
 */
static void
master_converge(struct master *m)
{
	size_t current = 0, old = 0, target = (size_t)m->rt->cfg->workers;
	struct child *pending = NULL, *leaving = NULL, *c;
	int64_t t = mono_ms();

	for (size_t i = 0; i < MAX_CHILDREN; i++) {
		c = &m->children[i];
		if (!c->in_use)
			continue;
		if (c->pid == 0 && !c->retiring && c->restart_at_ms <= t)
			master_fork(m, c);
		if (c->kind != CHILD_WORKER || c->retiring)
			continue;
		if (c->pid > 0 && m->rt->sb->slots[i].recycle)
			c->recycling = true;
		if (c->generation == m->generation && !c->recycling) {
			current++;
			if (c->pid == 0 || c->ready_fd >= 0)
				pending = c;
		} else {
			old++;
			if (leaving == NULL && c->pid > 0)
				leaving = c;
		}
	}
	if (old == 0) {
		/* Nothing to replace: start what is missing at once. */
		for (; current < target; current++)
			if ((c = slot_new(m, CHILD_WORKER)) != NULL)
				master_fork(m, c);
	} else if (pending == NULL) {
		if (current + old > target && current > 0 && leaving != NULL)
			master_retire(leaving, leaving->recycling ? SB_RESTART_RECYCLE :
			    SB_RESTART_RELOAD);
		else if (current < target && (c = slot_new(m, CHILD_WORKER)) != NULL)
			master_fork(m, c);
	}
	/* A smaller pool: the surplus of the current generation leaves. */
	for (size_t i = 0; i < MAX_CHILDREN && current > target; i++) {
		c = &m->children[i];
		if (c->in_use && c->kind == CHILD_WORKER && !c->retiring && !c->recycling &&
		    c->generation == m->generation && c->pid > 0) {
			master_retire(c, SB_RESTART_RELOAD);
			current--;
		}
	}
}

/*
 * The busy children, on the master's one-second scan. A worker still busy
 * DEADLINE_GRACE_MS after its request deadline did not stop at the 504 its
 * own timer produces (stuck outside the database, in a loop, in a write to
 * a stalled proxy): it is killed, and what it was doing goes to the log.
 * One past CORA_SLOW_REQUEST_SECONDS is logged once, while it runs, with
 * what it is doing (PHP-FPM's slowlog). So is a step of the projector
 * past PROC_PROJECTOR_STALL_MS (a lock, a server that does not answer).
 */
static void
master_scan_busy(struct master *m)
{
	const struct config *cfg = m->rt->cfg;
	uint64_t now_ns = mono_ns(), kill_ns = UINT64_MAX, slow_ns = UINT64_MAX;

	if (cfg->request_timeout > 0)
		kill_ns = (uint64_t)(cfg->request_timeout * 1e9) + DEADLINE_GRACE_MS * 1000000ull;
	if (cfg->slow_request > 0)
		slow_ns = (uint64_t)(cfg->slow_request * 1e9);
	for (size_t i = 0; i < MAX_CHILDREN; i++) {
		struct child *c = &m->children[i];
		struct sb_slot sl;
		uint64_t elapsed;
		double late;

		if (!c->in_use || c->kind == CHILD_STATS || c->pid <= 0 || c->killed)
			continue;
		/* A torn copy is skipped: the next scan, a second later, looks again. */
		if (!sb_read(&m->rt->sb->slots[i], &sl))
			continue;
		/* A projector that does not wake up from its sleep (stopped, or
		 * hung outside a step) is as stalled as one stuck in a step. */
		late = c->kind == CHILD_PROJECTOR ? sb_late_seconds(&sl, now_ns) : 0;
		if (late * 1000 >= PROC_PROJECTOR_STALL_MS && c->slow_logged != sl.wake_by_ns) {
			c->slow_logged = sl.wake_by_ns;
			log_warning("projector.stalled", LF_INT("pid", c->pid),
			    LF_STR("doing", "not waking up from its wait"),
			    LF_DBL("late_seconds", late));
		}
		if (sl.state != SB_BUSY || now_ns < sl.busy_since_ns)
			continue;
		elapsed = now_ns - sl.busy_since_ns;
		if (c->kind == CHILD_PROJECTOR) {
			/* Never killed: a statement that waits holds no request. */
			if (elapsed >= PROC_PROJECTOR_STALL_MS * 1000000ull &&
			    c->slow_logged != sl.busy_since_ns) {
				c->slow_logged = sl.busy_since_ns;
				log_warning("projector.stalled", LF_INT("pid", c->pid),
				    LF_STR("doing", sl.doing),
				    LF_DBL("elapsed_seconds", (double)elapsed / 1e9));
			}
		} else if (elapsed >= kill_ns) {
			kill(c->pid, SIGKILL);
			c->killed = true;
			log_error("master.worker_killed", LF_INT("pid", c->pid), LF_STR("method", sl.method),
			    LF_STR("route", sl.route[0] ? sl.route : NULL),
			    LF_STR("principal_id", sl.principal[0] ? sl.principal : NULL),
			    LF_STR("correlation_id", sl.correlation_id), LF_STR("doing", sl.doing),
			    LF_DBL("elapsed_seconds", (double)elapsed / 1e9),
			    LF_DBL("timeout_seconds", cfg->request_timeout));
		} else if (elapsed >= slow_ns && c->slow_logged != sl.busy_since_ns) {
			c->slow_logged = sl.busy_since_ns;
			log_warning("worker.slow_request", LF_INT("pid", c->pid), LF_STR("method", sl.method),
			    LF_STR("route", sl.route[0] ? sl.route : NULL),
			    LF_STR("principal_id", sl.principal[0] ? sl.principal : NULL),
			    LF_STR("correlation_id", sl.correlation_id), LF_STR("doing", sl.doing),
			    LF_DBL("elapsed_seconds", (double)elapsed / 1e9),
			    LF_DBL("slow_seconds", cfg->slow_request));
		}
	}
}

/*
 * systemd (Type=notify): READY=1 once every worker of the generation
 * accepts (at start and after a reload), STATUS= with a summary when it
 * changes, WATCHDOG=1 at half the interval. Without NOTIFY_SOCKET these
 * are no-ops.
 */
static void
master_notify(struct master *m)
{
	size_t current = 0, other = 0;
	int64_t t = mono_ms();

	for (size_t i = 0; i < MAX_CHILDREN; i++) {
		const struct child *c = &m->children[i];

		if (!c->in_use || c->kind != CHILD_WORKER || c->pid <= 0 || c->retiring ||
		    c->ready_fd >= 0)
			continue;
		if (c->generation == m->generation && !c->recycling)
			current++;
		else
			other++;	/* an older generation, still serving */
	}
	if (current != m->accepting || other != m->accepting_old) {
		m->accepting = current;
		m->accepting_old = other;
		if (other > 0)
			sd_notifyf(0, "STATUS=%zu workers accepting; replacing: %zu of %ld new "
			    "(generation %u)", current + other, current, m->rt->cfg->workers,
			    m->generation);
		else
			sd_notifyf(0, "STATUS=%zu of %ld workers accepting (generation %u)",
			    current, m->rt->cfg->workers, m->generation);
	}
	if (!m->ready_sent && other == 0 && current >= (size_t)m->rt->cfg->workers) {
		m->ready_sent = true;
		sd_notify(0, "READY=1");
		log_info("master.ready", LF_INT("pid", getpid()), LF_INT("workers", (int64_t)current),
		    LF_INT("generation", m->generation));
	}
	if (m->watchdog_usec > 0 && t >= m->next_watchdog_ms) {
		sd_notify(0, "WATCHDOG=1");
		m->next_watchdog_ms = t + (int64_t)(m->watchdog_usec / 2000);
	}
}

static bool
differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

/* Whether the stats child would work otherwise under the new configuration:
 * it builds the span exporter and its log level once, when it starts. */
static bool
stats_settings_differ(const struct config *a, const struct config *b)
{
	return a->log_level != b->log_level || a->otel_exporter != b->otel_exporter ||
	    differ(a->otel_service_name, b->otel_service_name) ||
	    differ(a->otlp_endpoint, b->otlp_endpoint) ||
	    differ(a->otlp_traces_endpoint, b->otlp_traces_endpoint) ||
	    differ(a->otlp_headers, b->otlp_headers) || a->otlp_timeout_ms != b->otlp_timeout_ms;
}

/* SIGHUP: a new configuration, checked like at start-up, or none at all. */
static void
master_reload(struct master *m)
{
	struct config ncfg;
	struct authz_policy *npolicy = NULL;
	struct config *cfg = m->rt->cfg;
	unsigned unreachable;
	bool stats_restart;
	int gates;

	log_info("master.reloading", LF_INT("generation", m->generation + 1));
	sd_notify(0, "RELOADING=1");
	if (startup_config(m->rt->env_file, &ncfg) != 0) {
		log_init(cfg->log_level, NULL);
		log_error("master.reload_refused",
		    LF_STR("reason", "the new configuration is invalid; the pool keeps serving"));
		sd_notify(0, "READY=1");
		return;
	}
	gates = startup_gates(&ncfg, &npolicy, &unreachable);
	/* Outside production an unreachable database is a warning at start;
	 * a reload to one that the running pool does not use would replace
	 * working workers with ones that answer 503 (doc/design.md,
	 * "Start-up gates"). */
	if (gates > 0 || ((unreachable & GATE_UNREACHABLE_APP) &&
	    differ(ncfg.database_url, cfg->database_url)) ||
	    ((unreachable & GATE_UNREACHABLE_PROJECTOR) &&
	    differ(ncfg.projector_database_url, cfg->projector_database_url))) {
		log_init(cfg->log_level, NULL);
		log_error("master.reload_refused", LF_STR("reason", gates > 0 ?
		    "a start-up gate refused the new configuration; the pool keeps serving" :
		    "the new configuration's database cannot be reached; the pool keeps serving"));
		authz_free(npolicy);
		config_free(&ncfg);
		sd_notify(0, "READY=1");
		return;
	}
	/* The sockets stay: where they are needs a restart to change. */
	if (differ(ncfg.listen, cfg->listen) || differ(ncfg.status_listen, cfg->status_listen) ||
	    strcmp(ncfg.runtime_dir, cfg->runtime_dir) != 0)
		log_warning("master.reload_partial", LF_STR("reason",
		    "CORA_LISTEN, CORA_STATUS_LISTEN and CORA_RUNTIME_DIR change only on restart"));
	{
		char *listen = cfg->listen, *status = cfg->status_listen, *dir = cfg->runtime_dir;

		cfg->listen = cfg->status_listen = cfg->runtime_dir = NULL;
		free(ncfg.listen);
		free(ncfg.status_listen);
		free(ncfg.runtime_dir);
		ncfg.listen = listen;
		ncfg.status_listen = status;
		ncfg.runtime_dir = dir;
	}
	stats_restart = stats_settings_differ(cfg, &ncfg);
	config_free(cfg);
	*cfg = ncfg;
	authz_free(m->rt->policy);
	m->rt->policy = npolicy;
	m->generation++;
	m->ready_sent = false;	/* READY=1 again once the new workers accept */
	/* The projector and the status child read the configuration too: they
	 * start again with the new one. The stats child keeps running (spans
	 * in its queue) unless its exporter or log level changed. */
	for (size_t i = 0; i < MAX_CHILDREN; i++) {
		struct child *c = &m->children[i];

		if (c->in_use && c->pid > 0 && (c->kind == CHILD_PROJECTOR ||
		    c->kind == CHILD_STATUS || (c->kind == CHILD_STATS && stats_restart))) {
			c->reloading = true;
			kill(c->pid, SIGTERM);
		}
	}
	log_info("master.reloaded", LF_INT("generation", m->generation),
	    LF_INT("workers", cfg->workers));
}

/* No new connection can reach a socket path that is gone; those who
 * accept on fd drain what is already queued, then leave on EAGAIN (see
 * worker.c). */
static void
master_close_socket(int fd, const char *path)
{
	int fl = fcntl(fd, F_GETFL);

	if (path[0] != '\0')
		unlink(path);
	if (fl >= 0 && !(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void
master_begin_stop(struct master *m, int sig)
{
	char sname[24];

	if (m->state == MASTER_STOPPING)
		return;
	m->state = MASTER_STOPPING;
	sd_notify(0, "STOPPING=1");
	m->deadline_ms = mono_ms() + (int64_t)(m->rt->cfg->graceful_timeout * 1000);
	log_info("master.stopping", LF_STR("signal", signal_name(sig, sname, sizeof(sname))),
	    LF_DBL("graceful_timeout_seconds", m->rt->cfg->graceful_timeout));
	master_close_socket(m->rt->listen_fd, m->rt->listen_path);
	signal_children(m, CHILD_WORKER, SIGTERM);
	/* The status child answers until the workers are gone. */
}

/* Once the workers are gone: the status child drains what is queued on its
 * socket, as the workers did, and leaves. */
static void
master_stop_status(struct master *m)
{
	if (m->rt->status_fd < 0 || running(m, CHILD_STATUS) == 0)
		return;
	master_close_socket(m->rt->status_fd, m->rt->status_path);
	signal_children(m, CHILD_STATUS, SIGTERM);
}

/* SIGQUIT, or the graceful stop's time is up: each child killed is logged,
 * a worker with the request it was in (whose outcome the client never
 * learns: a write in it may have been committed). */
static void
master_kill_all(struct master *m)
{
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (m->children[i].in_use && m->children[i].pid > 0)
			kill(m->children[i].pid, SIGKILL);
	for (size_t i = 0; i < MAX_CHILDREN; i++) {
		struct child *c = &m->children[i];
		int status;

		if (!c->in_use || c->pid <= 0)
			continue;
		if (waitpid(c->pid, &status, 0) == c->pid)
			log_child_exited(m, c, c->pid, status, LOG_WARNING);
		c->pid = 0;
	}
}

/* Milliseconds until the next timed action, or -1 for none. */
static int
master_next_timeout(struct master *m)
{
	int64_t next = -1, t = mono_ms();

	if (m->state == MASTER_STOPPING)
		next = m->deadline_ms;
	else
		for (size_t i = 0; i < MAX_CHILDREN; i++) {
			struct child *c = &m->children[i];

			if (c->in_use && c->pid == 0 && !c->retiring &&
			    (next < 0 || c->restart_at_ms < next))
				next = c->restart_at_ms;
		}
	if (m->state == MASTER_RUNNING && (next < 0 || next > t + SCAN_EVERY_MS))
		next = t + SCAN_EVERY_MS;	/* busy workers are checked every second */
	if (m->watchdog_usec > 0 && m->next_watchdog_ms < next)
		next = m->next_watchdog_ms;
	if (next < 0)
		return -1;
	return next <= t ? 0 : (int)(next - t);
}

static void
install_master_signals(int pipe_wr)
{
	struct sigaction sa = { .sa_handler = master_on_signal, .sa_flags = SA_RESTART };
	sigset_t set;

	sig_pipe_wr = pipe_wr;
	proc_master_signals(&set);
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&set, sig) == 1)
			sigaction(sig, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* What came during start-up (main.c blocked it) arrives now. */
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* Handles the signals the self-pipe carried; false after SIGQUIT. */
static bool
master_signals(struct master *m)
{
	unsigned char sigs[64];
	ssize_t n;

	while ((n = read(m->pipe[0], sigs, sizeof(sigs))) > 0) {
		/* A stop that came with a reload (both sent during start-up)
		 * goes first: the reload is then not done. */
		for (ssize_t i = 0; i < n; i++)
			if (sigs[i] == SIGTERM || sigs[i] == SIGINT)
				master_begin_stop(m, sigs[i]);
		for (ssize_t i = 0; i < n; i++) {
			switch (sigs[i]) {
			case SIGCHLD:
				master_reap(m);
				break;
			case SIGQUIT:
				log_info("master.stopping", LF_STR("signal", "SIGQUIT"),
				    LF_BOOL("immediate", true));
				master_kill_all(m);
				return false;
			case SIGHUP:
				if (m->state == MASTER_RUNNING)
					master_reload(m);
				break;
			case SIGUSR1:	/* others' "reopen the logs": none here */
				log_info("master.signal_ignored", LF_STR("signal", "SIGUSR1"),
				    LF_STR("reason", "the log goes to standard error; "
				    "there is no file to reopen"));
				break;
			}
		}
	}
	return true;
}

int
master_run(struct runtime *rt)
{
	static struct master m;	/* large: not on the stack */
	bool quit;

	memset(&m, 0, sizeof(m));
	m.rt = rt;
	m.state = MASTER_RUNNING;
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		m.children[i].ready_fd = -1;
	if (pipe2(m.pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		log_error("master.init_failed", LF_STR("error", strerror(errno)));
		return 1;
	}
	install_master_signals(m.pipe[1]);

	/* A stop sent during start-up starts no child. */
	quit = !master_signals(&m);
	if (!quit && m.state == MASTER_RUNNING) {
		/* Stats first, so the first requests are counted. */
		master_fork(&m, slot_new(&m, CHILD_STATS));
		master_fork(&m, slot_new(&m, CHILD_PROJECTOR));
		if (rt->status_fd >= 0)
			master_fork(&m, slot_new(&m, CHILD_STATUS));
		master_converge(&m);
	}
	if (sd_watchdog_enabled(0, &m.watchdog_usec) <= 0)
		m.watchdog_usec = 0;

	while (!quit) {
		struct pollfd pf[1 + MAX_CHILDREN];
		size_t n = 1;

		/* Stopping: workers first, then the status child (it asks the
		 * stats child), then the others, so the last requests are
		 * counted; done when none is left. */
		if (m.state == MASTER_STOPPING) {
			if (running(&m, CHILD_WORKER) == 0)
				master_stop_status(&m);
			if (running(&m, CHILD_WORKER) + running(&m, CHILD_STATUS) == 0) {
				signal_children(&m, CHILD_STATS, SIGTERM);
				signal_children(&m, CHILD_PROJECTOR, SIGTERM);
			}
			if (running_all(&m) == 0)
				break;
			if (mono_ms() >= m.deadline_ms) {
				log_warning("master.graceful_timeout",
				    LF_INT("workers_left", running(&m, CHILD_WORKER)));
				master_kill_all(&m);
				break;
			}
		}
		pf[0] = (struct pollfd){ .fd = m.pipe[0], .events = POLLIN };
		for (size_t i = 0; i < MAX_CHILDREN; i++)
			if (m.children[i].in_use && m.children[i].ready_fd >= 0)
				pf[n++] = (struct pollfd){ .fd = m.children[i].ready_fd, .events = POLLIN };
		if (poll(pf, n, master_next_timeout(&m)) < 0 && errno != EINTR)
			break;
		if (!master_signals(&m))
			break;
		master_collect_ready(&m, pf + 1, n - 1);
		if (m.state == MASTER_RUNNING) {
			master_scan_busy(&m);
			master_converge(&m);
			master_notify(&m);
		}
	}
	log_info("master.stopped", LF_INT("pid", getpid()));
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (m.children[i].in_use)
			slot_free(&m.children[i]);
	close(m.pipe[0]);
	close(m.pipe[1]);
	return 0;
}

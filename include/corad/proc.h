/* proc: the process tree of `corad serve` and what every child receives. */
#ifndef CORAD_PROC_H
#define CORAD_PROC_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "corad/config.h"

enum child_kind {
	CHILD_WORKER,		/* serves requests: worker.c */
	CHILD_STATS,		/* aggregates request records: stats.c */
	CHILD_PROJECTOR,	/* keeps the projections current: projector.c */
	CHILD_STATUS,		/* serves /status and /metrics on a socket of their own */
	CHILD__MAX
};

enum exit_reason {
	EXIT_REASON_CLEAN,	/* exited 0 when asked to */
	EXIT_REASON_ERROR,	/* non-zero exit code */
	EXIT_REASON_SIGNAL,	/* killed by a signal */
};

struct authz_policy;
struct scoreboard;

/* What the master sets up before forking; inherited by every child. */
struct runtime {
	struct config	*cfg;
	struct authz_policy *policy;	/* AUTHZ_POLICY_FILE, NULL when unset */
	const char	*env_file;	/* --env-file, read again on SIGHUP */
	int		 ready_fd;	/* in a worker: write one byte once accepting */
	struct scoreboard *sb;		/* shared by the whole tree */
	int		 slot;		/* in a child: its scoreboard slot */
	int		 listen_fd;	/* FastCGI listen socket */
	char		 listen_path[108];/* its path when we created it, else "" */
	int		 status_fd;	/* CORA_STATUS_LISTEN's socket, or -1 */
	char		 status_path[108];/* its path when we created it, else "" */
	bool		 status_only;	/* in the status child: its routes only */
	int		 report_rd;	/* ipc datagrams: read end (stats child) */
	int		 report_wr;	/* ipc datagrams: write end (everyone) */
	int		 wake_rd;	/* projector wake-ups: read end (projector) */
	int		 wake_wr;	/* ... write end (workers, after a commit) */
	int		 query_fd;	/* stats query listen socket (stats child) */
	char		 query_path[108];/* its path, for workers to connect to */
};

const char	*child_kind_name(enum child_kind kind);

/* The environment serve runs in (the tunable's name as GLIBC_TUNABLES
 * spells it); returns only when it is already there or exec failed. */
#define TUNED_TCACHE	"glibc.malloc.tcache_count="
#define TUNED_MARK	"CORAD_EXECUTED_TUNED"	/* set for the executed process */
void		 proc_exec_tuned(char *const argv[], const char *env_file);

/* The signals the master acts on. serve blocks them from its first step
 * (the mask survives the exec) until the master's handlers are in place,
 * so that one sent during start-up waits for them instead of killing the
 * process. */
void		 proc_master_signals(sigset_t *set);

/* How a child died, for the crash-storm guard. */
struct child_death {
	enum child_kind	 kind;
	bool		 ready;		/* a worker that had reported it accepts */
	bool		 sigkilled;	/* SIGKILL: from outside (OOM killer, operator) */
	int64_t		 uptime_ms;
};

#define PROC_FAST_DEATH_MS	1000	/* stats or projector dying sooner: crashing */
#define PROC_BACKOFF_FIRST_MS	1000
#define PROC_BACKOFF_MAX_MS	30000

/*
 * The crash-storm guard: how long to wait before starting the child again.
 * Only a child that dies on its own before it could serve is evidence of a
 * crash loop (a worker before it reported that it accepts; the stats child
 * or the projector within PROC_FAST_DEATH_MS of its start): it waits 1 s,
 * then 2, 4, ... up to 30 s as such deaths follow each other (counted in
 * *fast_deaths). Anything else comes back at once: a worker that served
 * (which also resets the count), or any child killed with SIGKILL, so that
 * a storm of kills never leaves the pool empty longer than one restart.
 */
int64_t		 proc_restart_delay(const struct child_death *d, unsigned *fast_deaths);

/* A step of the projector (a batch, a prune, a connection) busy this long
 * is logged by the master, once (projector.stalled). */
#define PROC_PROJECTOR_STALL_MS	10000

/* Entry points of the children: each returns the process exit code. */
int	worker_main(struct runtime *rt);
int	stats_main(struct runtime *rt);
int	projector_main(struct runtime *rt);
/* Every statement the projector's session prepares (`corad statements`). */
json_object	*projector_statements(void);

/* The master: forks and supervises the children until told to stop. */
int	master_run(struct runtime *rt);

/*
 * In a freshly forked child: default signal dispositions, an empty signal
 * mask, SIGPIPE ignored, SIGTERM when the master dies, and the process name
 * ("corad-worker") that ps, top and the tests see.
 */
void	proc_child_init(pid_t master, enum child_kind kind);

/* Non-blocking send of one datagram of ipc records; false when it was
 * dropped. */
bool	ipc_send(int fd, const void *msg, size_t len);

#endif

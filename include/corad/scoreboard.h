/*
 * scoreboard: what every process of the tree is doing, in one shared memory
 * region the master maps before the first fork (doc/design.md, "Processes").
 *
 * Each slot has one writer: a worker or the projector writes its own slot,
 * the master writes slot ownership and the restart counters, the stats
 * child its aggregates, the projector its lag. Readers (the stats child for /status and
 * /metrics, the master for its logs) take a consistent copy of a slot with
 * its sequence counter (a seqlock): the writer makes it odd while writing.
 * Keeping the aggregates here means counters survive a restart of the stats
 * child as well as the death of the worker that produced them.
 */
#ifndef CORAD_SCOREBOARD_H
#define CORAD_SCOREBOARD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "corad/proc.h"
#include "corad/route.h"

#define SB_SLOTS		(2 * 1024 + 3)	/* two worker generations, stats, projector, status */

enum sb_state {
	SB_FREE = 0,	/* no process */
	SB_STARTING,	/* forked, not accepting yet */
	SB_IDLE,	/* waiting in accept (the projector: for events) */
	SB_BUSY,	/* serving a request (the projector: a step) */
	SB_EXITING,	/* told to stop, finishing */
	SB__MAX
};

struct sb_slot {
	_Atomic uint32_t	 seq;		/* odd while the owner writes */
	int32_t			 pid;
	uint8_t			 kind;		/* enum child_kind */
	uint8_t			 state;		/* enum sb_state */
	uint8_t			 recycle;	/* the worker asks to be replaced */
	uint8_t			 uncounted;	/* when BUSY: a scrape, not in the metrics */
	uint8_t			 leader;	/* the projector holds the advisory lock */
	uint32_t		 generation;
	uint64_t		 requests;	/* served by this process */
	uint64_t		 busy_since_ns;	/* CLOCK_MONOTONIC, when BUSY */
	uint64_t		 wake_by_ns;	/* when IDLE and sleeping: by when it
						 * wakes up (0: no bound) */
	char			 method[16];
	char			 route[48];
	char			 principal[40];
	char			 correlation_id[40];
	char			 doing[160];	/* when BUSY: "database: list_cautions",
						 * "projecting access_actor_summary", ... */
};

/* Restart reasons: cora_worker_restarts_total{reason}. */
enum sb_restart {
	SB_RESTART_CRASH,	/* died by a signal or a non-zero exit */
	SB_RESTART_EXIT,	/* exited 0 without being asked */
	SB_RESTART_RELOAD,	/* retired by a reload */
	SB_RESTART_RECYCLE,	/* CORA_MAX_REQUESTS reached */
	SB_RESTART_TIMEOUT,	/* killed past its request deadline */
	SB_RESTART__MAX
};

#define SB_HR_BUCKETS	21	/* http_request_duration_highr_seconds */
#define SB_BUCKETS	3	/* http_request_duration_seconds */
#define SB_METHODS	8	/* bit positions of enum http_method */
#define SB_CLASSES	6	/* other, 1xx .. 5xx */
#define SB_IDEM__MAX	4	/* claimed, cache_hit, conflict, claim_lost */

/* The stats child's aggregates (it alone writes them). */
struct sb_stats {
	uint64_t	requests[ROUTES_MAX + 1][SB_METHODS][SB_CLASSES];
	uint64_t	duration_buckets[ROUTES_MAX + 1][SB_METHODS][SB_BUCKETS + 1];
	double		duration_sum[ROUTES_MAX + 1][SB_METHODS];
	uint64_t	highr_buckets[SB_HR_BUCKETS + 1];
	double		highr_sum;
	uint64_t	highr_count;
	uint64_t	request_size_count[ROUTES_MAX + 1];
	double		request_size_sum[ROUTES_MAX + 1];
	uint64_t	response_size_count[ROUTES_MAX + 1];
	double		response_size_sum[ROUTES_MAX + 1];
	uint64_t	body_rejected;
	uint64_t	idempotency[SB_IDEM__MAX];
	uint64_t	db_errors;
	uint64_t	spans_dropped;
	uint64_t	spans_exported;
	uint64_t	stats_restarts;	/* the stats child's own restarts */
};

struct scoreboard {
	pid_t			 master_pid;
	_Atomic uint64_t	 restarts[SB_RESTART__MAX];	/* master */
	_Atomic int64_t		 projection_lag;		/* projector; -1 unknown */
	_Atomic bool		 export_saturated;	/* stats child: shed spans */
	struct sb_stats		 stats;				/* stats child */
	struct sb_slot		 slots[SB_SLOTS];
};

/* Maps the region (MAP_SHARED | MAP_ANONYMOUS); NULL on failure. */
struct scoreboard	*scoreboard_create(void);

/* The slot owner's writes happen between begin and end. */
void	sb_write_begin(struct sb_slot *s);
void	sb_write_end(struct sb_slot *s);

/* The owner's slot busy with `doing` since now and no request's fields
 * (a worker awaiting a head, a step of the projector), or idle when
 * `doing` is NULL. */
void	sb_set_doing(struct sb_slot *s, const char *doing);

/* The owner's slot idle, sleeping for ms at most (the projector between
 * rounds); and how late a copy of such a slot is in waking up, in seconds,
 * once past SB_LATE_MS (0 otherwise): a stopped or hung process. */
#define SB_LATE_MS	1000
void	sb_set_sleeping(struct sb_slot *s, int64_t ms);
double	sb_late_seconds(const struct sb_slot *s, uint64_t now_ns);
/*
 * A consistent copy of a slot. False when none could be taken within
 * SB_READ_TRIES attempts (its writer died mid-write, or is being
 * preempted): `out` is then unspecified, and the caller skips the slot.
 */
#define SB_READ_TRIES	1000
bool	sb_read(const struct sb_slot *s, struct sb_slot *out);

const char	*sb_state_name(enum sb_state st);
const char	*sb_restart_name(enum sb_restart r);

#endif

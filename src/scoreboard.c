/* scoreboard: what every process of the tree is doing, in shared memory. */
#include "config.h"

#include <string.h>
#include <sys/mman.h>

#include "corad/clock.h"
#include "corad/scoreboard.h"
#include "corad/utf8.h"

struct scoreboard *
scoreboard_create(void)
{
	void *p = mmap(NULL, sizeof(struct scoreboard), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, sizeof(struct scoreboard));
	atomic_store(&((struct scoreboard *)p)->projection_lag, -1);
	return p;
}

void
sb_write_begin(struct sb_slot *s)
{
	atomic_fetch_add_explicit(&s->seq, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

void
sb_write_end(struct sb_slot *s)
{
	atomic_thread_fence(memory_order_release);
	atomic_fetch_add_explicit(&s->seq, 1, memory_order_relaxed);
}

void
sb_set_doing(struct sb_slot *s, const char *doing)
{
	sb_write_begin(s);
	s->state = doing != NULL ? SB_BUSY : SB_IDLE;
	s->wake_by_ns = 0;
	if (doing != NULL) {
		s->busy_since_ns = mono_ns();
		s->method[0] = s->route[0] = s->principal[0] = s->correlation_id[0] = '\0';
		s->uncounted = 0;
		utf8_copy(s->doing, sizeof(s->doing), doing);
	}
	sb_write_end(s);
}

void
sb_set_sleeping(struct sb_slot *s, int64_t ms)
{
	sb_write_begin(s);
	s->state = SB_IDLE;
	s->wake_by_ns = mono_ns() + (uint64_t)(ms > 0 ? ms : 0) * 1000000u;
	sb_write_end(s);
}

double
sb_late_seconds(const struct sb_slot *s, uint64_t now_ns)
{
	if (s->state != SB_IDLE || s->wake_by_ns == 0 ||
	    now_ns < s->wake_by_ns + SB_LATE_MS * 1000000ull)
		return 0;
	return (double)(now_ns - s->wake_by_ns) / 1e9;
}

bool
sb_read(const struct sb_slot *s, struct sb_slot *out)
{
	for (int tries = 0; tries < SB_READ_TRIES; tries++) {
		uint32_t before = atomic_load_explicit(&s->seq, memory_order_acquire), after;

		if (before & 1)
			continue;
		memcpy((char *)out + sizeof(out->seq), (const char *)s + sizeof(s->seq),
		    sizeof(*s) - sizeof(s->seq));
		atomic_thread_fence(memory_order_acquire);
		after = atomic_load_explicit(&s->seq, memory_order_relaxed);
		if (before == after) {
			atomic_store_explicit(&out->seq, after, memory_order_relaxed);
			return true;
		}
	}
	/* A writer that died mid-write leaves the slot odd until the master
	 * reaps it and clears the count; a copy taken meanwhile may be torn.
	 * Whatever `out` holds now must not be used. */
	return false;
}

const char *
sb_state_name(enum sb_state st)
{
	static const char *const names[SB__MAX] = {
		[SB_FREE] = "free", [SB_STARTING] = "starting", [SB_IDLE] = "idle",
		[SB_BUSY] = "busy", [SB_EXITING] = "exiting",
	};

	return (unsigned)st < SB__MAX ? names[st] : "unknown";
}

const char *
sb_restart_name(enum sb_restart r)
{
	static const char *const names[SB_RESTART__MAX] = {
		[SB_RESTART_CRASH] = "crash", [SB_RESTART_EXIT] = "exit",
		[SB_RESTART_RELOAD] = "reload", [SB_RESTART_RECYCLE] = "recycle",
		[SB_RESTART_TIMEOUT] = "timeout",
	};

	return (unsigned)r < SB_RESTART__MAX ? names[r] : "unknown";
}

/*
 * stats: the stats child. Aggregates the records that workers send after
 * their requests, answers /metrics and /status, and exports spans
 * (doc/design.md, "Processes").
 *
 * None of the model daemons has this process: it exists so that a worker
 * never waits on a lock or another process to report, and so that the
 * aggregation and the span export (HTTP to a collector) run off the request
 * path. Its aggregates live in the scoreboard's shared memory, so they
 * survive the workers that produced them and a restart of this process.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "corad/alloc.h"
#include "corad/clock.h"
#include "corad/export.h"
#include "corad/ipc.h"
#include "corad/log.h"
#include "corad/proc.h"
#include "corad/route.h"
#include "corad/scoreboard.h"

static volatile sig_atomic_t stats_stopping;

/* http_request_duration_seconds and the high-resolution variant. */
static const double buckets[SB_BUCKETS] = { 0.1, 0.5, 1 };
static const double highr[SB_HR_BUCKETS] = {
	0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5,
	5, 7.5, 10, 30, 60,
};

static const char *const classes[SB_CLASSES] = { "other", "1xx", "2xx", "3xx", "4xx", "5xx" };
static const char *const idem_outcomes[SB_IDEM__MAX] = { "claimed", "cache_hit", "conflict",
	"claim_lost" };

static void
stats_on_term(int sig)
{
	(void)sig;
	stats_stopping = 1;
}

static int
method_index(unsigned m)
{
	for (int i = 0; i < SB_METHODS; i++)
		if (m == (1u << i))
			return i;
	return SB_METHODS - 1;	/* METHOD_OTHER */
}

static void
stats_request(struct sb_stats *st, const struct ipc_request_done *d)
{
	unsigned route = d->route <= ROUTE_NONE ? d->route : ROUTE_NONE;
	int m = method_index(d->method), b;
	double secs = (double)d->duration_ns / 1e9;

	st->requests[route][m][d->status >= 100 && d->status < 600 ? d->status / 100 : 0]++;
	for (b = 0; b < SB_BUCKETS && secs > buckets[b]; b++)
		;
	st->duration_buckets[route][m][b]++;	/* cumulated when rendered */
	st->duration_sum[route][m] += secs;
	for (b = 0; b < SB_HR_BUCKETS && secs > highr[b]; b++)
		;
	st->highr_buckets[b]++;
	st->highr_sum += secs;
	st->highr_count++;
	st->request_size_count[route]++;
	st->request_size_sum[route] += (double)d->request_bytes;
	st->response_size_count[route]++;
	st->response_size_sum[route] += (double)d->response_bytes;
	st->body_rejected += d->body_rejected != 0;
	st->spans_dropped += d->spans_lost;
	st->db_errors += d->db_errors;
	for (int i = 0; i < SB_IDEM__MAX; i++)
		st->idempotency[i] += (d->idem_events >> i) & 1;
}

/* Everything that arrives on the report socket. */
union stats_datagram {
	uint32_t		type;
	struct ipc_request_done	requests[IPC_MAX_RECORDS];
	struct span		spans[IPC_MAX_SPANS];
};

/* The exporter, NULL for OTEL_EXPORTER=none (spans are then not sent). */
static struct exporter *exporter;

/* One datagram holds one or more records of the same type. */
static void
stats_datagram(struct sb_stats *st, const union stats_datagram *dg, size_t len)
{
	if (len >= sizeof(dg->requests[0]) && dg->type == IPC_REQUEST_DONE)
		for (size_t i = 0; i < len / sizeof(dg->requests[0]); i++)
			stats_request(st, &dg->requests[i]);
	else if (len >= sizeof(dg->spans[0]) && dg->type == IPC_SPAN && exporter != NULL)
		for (size_t i = 0; i < len / sizeof(dg->spans[0]); i++)
			exporter_add(exporter, &dg->spans[i]);
}

/* Drains every queued record: called before answering a query too, so a
 * scrape sees all requests that were reported before it was asked. */
static void
stats_drain(struct sb_stats *st, int fd)
{
	union stats_datagram dg;
	ssize_t n;

	while ((n = recv(fd, &dg, sizeof(dg), MSG_DONTWAIT)) > 0)
		stats_datagram(st, &dg, (size_t)n);
}

/* The exporter's own counts join the aggregates (which outlive it). */
static void
stats_exporter_counts(struct sb_stats *st)
{
	static uint64_t dropped, exported;	/* already added */

	if (exporter == NULL)
		return;
	st->spans_dropped += exporter_dropped(exporter) - dropped;
	st->spans_exported += exporter_exported(exporter) - exported;
	dropped = exporter_dropped(exporter);
	exported = exporter_exported(exporter);
}

/* --- /metrics ------------------------------------------------------------ */

struct text {
	char	*s;
	size_t	 len, cap;
};

static void __attribute__((format(printf, 2, 3)))
text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->s == NULL ? NULL : t->s + t->len, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		{
			size_t ncap = (t->cap == 0 ? 16384 : t->cap * 2) + (size_t)n;
			t->s = xrealloc(t->s, ncap);
			t->cap = ncap;
		}
	}
}

static void
help(struct text *t, const char *name, const char *type, const char *what)
{
	text_add(t, "# HELP %s %s\n# TYPE %s %s\n", name, what, name, type);
}

/* Resident set size of a process from /proc, 0 when it is gone. */
static uint64_t
rss_bytes(pid_t pid)
{
	char path[64], buf[128];
	unsigned long size, resident;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%lu %lu", &size, &resident) != 2)
		return 0;
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* A bucket's bound as the original's client labels it (Python's repr of a
 * float: 0.1, 1.0, 60.0), so that a query for le="1.0" finds it. */
static const char *
le_label(double bound, char buf[24])
{
	int n = snprintf(buf, 24, "%g", bound);

	if (n > 0 && n < 21 && strpbrk(buf, ".e") == NULL)
		memcpy(buf + n, ".0", 3);
	return buf;
}

static void
render_requests(const struct sb_stats *st, struct text *t)
{
	char le[24];

	help(t, "http_requests_total", "counter", "Total number of requests by method, status and handler.");
	for (int r = 0; r <= ROUTE_NONE; r++)
		for (int m = 0; m < SB_METHODS; m++)
			for (int c = 0; c < SB_CLASSES; c++)
				if (st->requests[r][m][c] != 0)
					text_add(t, "http_requests_total{method=\"%s\",status=\"%s\",handler=\"%s\"} %llu\n",
					    http_method_name((enum http_method)(1u << m)), classes[c],
					    route_template(r),
					    (unsigned long long)st->requests[r][m][c]);

	help(t, "http_request_size_bytes", "summary", "Content length of incoming requests by handler.");
	for (int r = 0; r <= ROUTE_NONE; r++)
		if (st->request_size_count[r] != 0)
			text_add(t, "http_request_size_bytes_sum{handler=\"%s\"} %.15g\n"
			    "http_request_size_bytes_count{handler=\"%s\"} %llu\n",
			    route_template(r), st->request_size_sum[r],
			    route_template(r), (unsigned long long)st->request_size_count[r]);
	help(t, "http_response_size_bytes", "summary", "Content length of outgoing responses by handler.");
	for (int r = 0; r <= ROUTE_NONE; r++)
		if (st->response_size_count[r] != 0)
			text_add(t, "http_response_size_bytes_sum{handler=\"%s\"} %.15g\n"
			    "http_response_size_bytes_count{handler=\"%s\"} %llu\n",
			    route_template(r), st->response_size_sum[r],
			    route_template(r), (unsigned long long)st->response_size_count[r]);

	help(t, "http_request_duration_seconds", "histogram", "Latency by method and handler.");
	for (int r = 0; r <= ROUTE_NONE; r++)
		for (int m = 0; m < SB_METHODS; m++) {
			const uint64_t *b = st->duration_buckets[r][m];
			const char *h = route_template(r);
			const char *mn = http_method_name((enum http_method)(1u << m));
			uint64_t cum = 0;

			for (int i = 0; i <= SB_BUCKETS; i++)
				cum += b[i];
			if (cum == 0)
				continue;
			cum = 0;
			for (int i = 0; i < SB_BUCKETS; i++) {
				cum += b[i];
				text_add(t, "http_request_duration_seconds_bucket{method=\"%s\",handler=\"%s\",le=\"%s\"} %llu\n",
				    mn, h, le_label(buckets[i], le), (unsigned long long)cum);
			}
			cum += b[SB_BUCKETS];
			text_add(t, "http_request_duration_seconds_bucket{method=\"%s\",handler=\"%s\",le=\"+Inf\"} %llu\n"
			    "http_request_duration_seconds_sum{method=\"%s\",handler=\"%s\"} %.15g\n"
			    "http_request_duration_seconds_count{method=\"%s\",handler=\"%s\"} %llu\n",
			    mn, h, (unsigned long long)cum, mn, h, st->duration_sum[r][m], mn, h,
			    (unsigned long long)cum);
		}

	help(t, "http_request_duration_highr_seconds", "histogram", "Latency with many buckets, no labels.");
	{
		uint64_t cum = 0;

		for (int i = 0; i < SB_HR_BUCKETS; i++) {
			cum += st->highr_buckets[i];
			text_add(t, "http_request_duration_highr_seconds_bucket{le=\"%s\"} %llu\n",
			    le_label(highr[i], le), (unsigned long long)cum);
		}
		cum += st->highr_buckets[SB_HR_BUCKETS];
		text_add(t, "http_request_duration_highr_seconds_bucket{le=\"+Inf\"} %llu\n"
		    "http_request_duration_highr_seconds_sum %.15g\n"
		    "http_request_duration_highr_seconds_count %llu\n",
		    (unsigned long long)cum, st->highr_sum, (unsigned long long)st->highr_count);
	}
}

static void
render_pool(const struct scoreboard *sb, struct text *t)
{
	uint64_t states[SB__MAX] = { 0 }, rss[CHILD__MAX] = { 0 }, scrapes = 0, now_ns = mono_ns();
	double projector_busy = 0;
	int projector_leader = 0;

	for (size_t i = 0; i < SB_SLOTS; i++) {
		struct sb_slot s;

		if (atomic_load(&sb->slots[i].seq) == 0 && sb->slots[i].state == SB_FREE)
			continue;
		if (!sb_read(&sb->slots[i], &s) || s.state == SB_FREE || s.state >= SB__MAX ||
		    s.pid <= 0)
			continue;
		if (s.kind == CHILD_WORKER)
			states[s.state]++;
		if (s.kind == CHILD_WORKER && s.state == SB_BUSY && s.uncounted)
			scrapes++;
		if (s.kind == CHILD_PROJECTOR && s.state == SB_BUSY && now_ns > s.busy_since_ns)
			projector_busy = (double)(now_ns - s.busy_since_ns) / 1e9;
		else if (s.kind == CHILD_PROJECTOR)
			projector_busy = sb_late_seconds(&s, now_ns);
		if (s.kind == CHILD_PROJECTOR)
			projector_leader = s.leader != 0;
		if (s.kind < CHILD__MAX)
			rss[s.kind] += rss_bytes(s.pid);
	}
	help(t, "cora_workers", "gauge", "Worker processes by state.");
	for (int s = SB_STARTING; s < SB__MAX; s++)
		text_add(t, "cora_workers{state=\"%s\"} %llu\n", sb_state_name((enum sb_state)s),
		    (unsigned long long)states[s]);
	help(t, "cora_requests_in_flight", "gauge", "Requests being served right now.");
	/* Not the scrape that asks: /metrics is not counted in itself. */
	text_add(t, "cora_requests_in_flight %llu\n",
	    (unsigned long long)(states[SB_BUSY] - scrapes));
	help(t, "cora_worker_restarts_total", "counter", "Workers replaced, by reason.");
	for (int r = 0; r < SB_RESTART__MAX; r++)
		text_add(t, "cora_worker_restarts_total{reason=\"%s\"} %llu\n",
		    sb_restart_name((enum sb_restart)r), (unsigned long long)atomic_load(&sb->restarts[r]));
	/* The lag is counted between the projector's steps: a step that hangs
	 * (a lock, a server that does not answer) shows here instead. */
	help(t, "cora_projector_busy_seconds", "gauge",
	    "How long the projector has been in its current step, or late in waking up "
	    "from its wait (0: waiting, on time).");
	text_add(t, "cora_projector_busy_seconds %.3f\n", projector_busy);
	/* Summed over the hosts that share a database: 1, or none advances. */
	help(t, "cora_projector_leader", "gauge",
	    "1 when this host's projector advances the projections (holds the lock).");
	text_add(t, "cora_projector_leader %d\n", projector_leader);
	help(t, "process_resident_memory_bytes", "gauge", "Resident memory by process kind.");
	text_add(t, "process_resident_memory_bytes{kind=\"master\"} %llu\n",
	    (unsigned long long)rss_bytes(sb->master_pid));
	for (int k = 0; k < CHILD__MAX; k++)
		text_add(t, "process_resident_memory_bytes{kind=\"%s\"} %llu\n",
		    child_kind_name((enum child_kind)k), (unsigned long long)rss[k]);
}

static void
render_metrics(const struct scoreboard *sb, struct text *t)
{
	const struct sb_stats *st = &sb->stats;
	int64_t lag = atomic_load(&sb->projection_lag);

	render_requests(st, t);
	render_pool(sb, t);
	help(t, "cora_body_size_rejected_total", "counter", "Requests refused for their body size.");
	text_add(t, "cora_body_size_rejected_total %llu\n", (unsigned long long)st->body_rejected);
	help(t, "cora_idempotency_total", "counter", "Idempotency-Key outcomes.");
	for (int i = 0; i < SB_IDEM__MAX; i++)
		text_add(t, "cora_idempotency_total{outcome=\"%s\"} %llu\n", idem_outcomes[i],
		    (unsigned long long)st->idempotency[i]);
	help(t, "cora_db_errors_total", "counter", "Failed database calls in workers.");
	text_add(t, "cora_db_errors_total %llu\n", (unsigned long long)st->db_errors);
	help(t, "cora_projection_lag_events", "gauge", "Events not yet projected (-1: unknown).");
	text_add(t, "cora_projection_lag_events %lld\n", (long long)lag);
	help(t, "cora_spans_dropped_total", "counter", "Spans not exported (queue full or export failed).");
	text_add(t, "cora_spans_dropped_total %llu\n", (unsigned long long)st->spans_dropped);
	help(t, "cora_build_info", "gauge", "corad build information.");
	text_add(t, "cora_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
}

/* --- /status ------------------------------------------------------------- */

static json_object *
status_process(const struct sb_slot *s, uint64_t now_ns)
{
	json_object *o = json_object_new_object();
	bool busy = s->state == SB_BUSY;

	json_object_object_add(o, "pid", json_object_new_int(s->pid));
	json_object_object_add(o, "state", json_object_new_string(sb_state_name((enum sb_state)s->state)));
	if (s->kind == CHILD_PROJECTOR) {
		double late = sb_late_seconds(s, now_ns);

		json_object_object_add(o, "leader", json_object_new_boolean(s->leader != 0));
		/* null, or how long past its wait's end it has not woken up */
		json_object_object_add(o, "late_seconds", late > 0 ? json_object_new_double(late) :
		    NULL);
	}
	if (s->kind == CHILD_WORKER || s->kind == CHILD_STATUS) {
		json_object_object_add(o, "generation", json_object_new_int64(s->generation));
		json_object_object_add(o, "requests", json_object_new_int64((int64_t)s->requests));
		json_object_object_add(o, "method", busy && s->method[0] ?
		    json_object_new_string(s->method) : NULL);
		json_object_object_add(o, "route", busy && s->route[0] ?
		    json_object_new_string(s->route) : NULL);
		json_object_object_add(o, "principal", busy && s->principal[0] ?
		    json_object_new_string(s->principal) : NULL);
		json_object_object_add(o, "correlation_id", busy && s->correlation_id[0] ?
		    json_object_new_string(s->correlation_id) : NULL);
	}
	if (busy && now_ns > s->busy_since_ns) {
		double e = (double)(now_ns - s->busy_since_ns) / 1e9;
		char text[32];

		/* Microseconds, not the seventeen digits a double prints. */
		snprintf(text, sizeof(text), "%.6f", e);
		json_object_object_add(o, "elapsed_seconds", json_object_new_double_s(e, text));
	} else
		json_object_object_add(o, "elapsed_seconds", NULL);
	json_object_object_add(o, "doing", busy && s->doing[0] ? json_object_new_string(s->doing) :
	    NULL);
	json_object_object_add(o, "rss_bytes", json_object_new_int64((int64_t)rss_bytes(s->pid)));
	return o;
}

static void
render_status(const struct scoreboard *sb, struct text *t)
{
	json_object *root = json_object_new_object(), *pool = json_object_new_object();
	json_object *workers = json_object_new_array(), *others = json_object_new_object();
	uint64_t now_ns = mono_ns(), idle = 0, busy = 0, restarts = 0;
	const char *s;

	for (size_t i = 0; i < SB_SLOTS; i++) {
		struct sb_slot sl;

		if (sb->slots[i].state == SB_FREE)
			continue;
		if (!sb_read(&sb->slots[i], &sl) || sl.state == SB_FREE || sl.state >= SB__MAX ||
		    sl.pid <= 0)
			continue;
		if (sl.kind == CHILD_WORKER) {
			idle += sl.state == SB_IDLE;
			busy += sl.state == SB_BUSY;
			json_object_array_add(workers, status_process(&sl, now_ns));
		} else
			json_object_object_add(others, child_kind_name((enum child_kind)sl.kind),
			    status_process(&sl, now_ns));
	}
	for (int r = 0; r < SB_RESTART__MAX; r++)
		restarts += atomic_load(&sb->restarts[r]);
	json_object_object_add(pool, "size", json_object_new_int64((int64_t)json_object_array_length(workers)));
	json_object_object_add(pool, "idle", json_object_new_int64((int64_t)idle));
	json_object_object_add(pool, "busy", json_object_new_int64((int64_t)busy));
	json_object_object_add(pool, "restarts", json_object_new_int64((int64_t)restarts));
	json_object_object_add(root, "version", json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(root, "master_pid", json_object_new_int(sb->master_pid));
	json_object_object_add(root, "pool", pool);
	json_object_object_add(root, "workers", workers);
	json_object_object_add(root, "processes", others);
	s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	text_add(t, "%s", s);
	json_object_put(root);
}

static void
stats_answer(struct scoreboard *sb, int lfd, int report_fd)
{
	struct timeval tv = { .tv_sec = 2 };
	struct stats_query q;
	struct text t = { 0 };
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* A stuck client must not stall the aggregation for long. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (read(fd, &q, sizeof(q)) == (ssize_t)sizeof(q)) {
		stats_drain(&sb->stats, report_fd);
		stats_exporter_counts(&sb->stats);
		if (q.type == STATS_QUERY_METRICS)
			render_metrics(sb, &t);
		else if (q.type == STATS_QUERY_STATUS)
			render_status(sb, &t);
		for (size_t off = 0; off < t.len;) {
			ssize_t w = write(fd, t.s + off, t.len - off);

			if (w <= 0)
				break;
			off += (size_t)w;
		}
	}
	free(t.s);
	close(fd);
}

int
stats_main(struct runtime *rt)
{
	struct sigaction sa = { .sa_handler = stats_on_term };
	struct scoreboard *sb = rt->sb;

	log_set_logger("corad.stats");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sb_set_doing(&sb->slots[rt->slot], NULL);

	exporter = exporter_new(rt->cfg);
	while (!stats_stopping) {
		struct pollfd pf[2 + 16] = {
			{ .fd = rt->report_rd, .events = POLLIN },
			{ .fd = rt->query_fd, .events = POLLIN },
		};
		int timeout = -1;
		size_t n = 2;

		if (exporter != NULL)
			n += exporter_pollfds(exporter, pf + 2, 16, &timeout);
		if (poll(pf, n, timeout) < 0 && errno != EINTR) {
			log_error("stats.poll_failed", LF_STR("error", strerror(errno)));
			break;
		}
		if (pf[0].revents & POLLIN)
			stats_drain(&sb->stats, rt->report_rd);
		if (pf[1].revents & POLLIN)
			stats_answer(sb, rt->query_fd, rt->report_rd);
		if (exporter != NULL) {
			exporter_run(exporter, pf + 2, n - 2);
			stats_exporter_counts(&sb->stats);
			atomic_store(&sb->export_saturated, exporter_saturated(exporter));
		}
	}
	/* What the workers sent before they left still counts. */
	stats_drain(&sb->stats, rt->report_rd);
	stats_exporter_counts(&sb->stats);
	exporter_free(exporter);
	exporter = NULL;
	return 0;
}

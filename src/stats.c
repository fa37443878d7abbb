/*
 * stats: the stats child. Aggregates the records that workers send after
 * every request and answers /metrics queries (SPEC sections 1 and 11).
 *
 * None of the model daemons has this process: it exists so that counters
 * survive the workers that produced them, and so that a worker never waits
 * on shared memory locks or on another worker to report.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "corad/ipc.h"
#include "corad/log.h"
#include "corad/proc.h"
#include "corad/route.h"

#define N_METHODS	8	/* bit positions of enum http_method */
#define N_CLASSES	6	/* 1xx..5xx and anything else */

static volatile sig_atomic_t stats_stopping;

struct stats {
	uint64_t	requests[ROUTE__MAX + 1][N_METHODS][N_CLASSES];
};

static void
stats_on_term(int sig)
{
	(void)sig;
	stats_stopping = 1;
}

static int
method_index(unsigned m)
{
	for (int i = 0; i < N_METHODS; i++)
		if (m == (1u << i))
			return i;
	return N_METHODS - 1;	/* METHOD_OTHER */
}

static int
status_class(unsigned status)
{
	return status >= 100 && status < 600 ? (int)(status / 100) : 0;
}

/* One datagram holds one or more records of the same type. */
static void
stats_record(struct stats *st, const void *buf, size_t len)
{
	const struct ipc_request_done *d = buf;

	for (; len >= sizeof(*d) && d->type == IPC_REQUEST_DONE; d++, len -= sizeof(*d)) {
		unsigned route = d->route <= ROUTE__MAX ? d->route : ROUTE_NONE;

		st->requests[route][method_index(d->method)][status_class(d->status)]++;
	}
}

/* Appends to a growing text buffer; the buffer is freed by the caller. */
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
			size_t ncap = (t->cap == 0 ? 8192 : t->cap * 2) + (size_t)n;
			char *ns = realloc(t->s, ncap);

			if (ns == NULL)
				return;
			t->s = ns;
			t->cap = ncap;
		}
	}
}

static void
stats_render(const struct stats *st, struct text *t)
{
	static const char *const classes[N_CLASSES] = { "other", "1xx", "2xx", "3xx", "4xx", "5xx" };

	text_add(t, "# HELP http_requests_total Total number of requests by method, status and handler.\n"
	    "# TYPE http_requests_total counter\n");
	for (int r = 0; r <= ROUTE__MAX; r++)
		for (int m = 0; m < N_METHODS; m++)
			for (int c = 0; c < N_CLASSES; c++)
				if (st->requests[r][m][c] != 0)
					text_add(t, "http_requests_total{method=\"%s\",status=\"%s\",handler=\"%s\"} %llu\n",
					    http_method_name((enum http_method)(1u << m)), classes[c],
					    route_template((enum route_id)r),
					    (unsigned long long)st->requests[r][m][c]);
	text_add(t, "# HELP cora_build_info corad build information.\n"
	    "# TYPE cora_build_info gauge\n"
	    "cora_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
}

/* Drains every queued record: called before answering a query too, so a
 * scrape sees all requests that finished before it was asked. */
static void
stats_drain(struct stats *st, int fd)
{
	struct ipc_request_done buf[IPC_MAX_RECORDS];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		stats_record(st, buf, (size_t)n);
}

static void
stats_answer(struct stats *st, int lfd, int report_fd)
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
	if (read(fd, &q, sizeof(q)) == (ssize_t)sizeof(q) && q.type == STATS_QUERY_METRICS) {
		stats_drain(st, report_fd);
		stats_render(st, &t);
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
	struct stats *st = calloc(1, sizeof(*st));

	log_set_logger("corad.stats");
	if (st == NULL)
		return 1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	while (!stats_stopping) {
		struct pollfd pf[2] = {
			{ .fd = rt->report_rd, .events = POLLIN },
			{ .fd = rt->query_fd, .events = POLLIN },
		};

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("stats.poll_failed", LF_STR("error", strerror(errno)));
			free(st);
			return 1;
		}
		if (pf[0].revents & POLLIN)
			stats_drain(st, rt->report_rd);
		if (pf[1].revents & POLLIN)
			stats_answer(st, rt->query_fd, rt->report_rd);
	}
	free(st);
	return 0;
}

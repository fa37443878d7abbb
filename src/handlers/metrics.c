/* GET /metrics and GET /status: relay the stats child's answer. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "corad/alloc.h"
#include "corad/handlers.h"
#include "corad/ipc.h"
#include "corad/proc.h"
#include "corad/request.h"
#include "corad/report.h"

#define METRICS_TIMEOUT_SEC	2
#define METRICS_MAX_BYTES	(4 << 20)

/* Asks the stats child; returns a malloc'd text or NULL when it is away. */
static char *
stats_fetch(const char *path, enum stats_query_type type, size_t *len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = METRICS_TIMEOUT_SEC };
	struct stats_query q = { .type = type };
	char *buf = NULL;
	size_t cap = 0, n = 0;
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return NULL;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    write(fd, &q, sizeof(q)) != (ssize_t)sizeof(q))
		goto fail;
	for (;;) {
		ssize_t got;

		if (n == cap) {
			char *nb;

			cap = cap == 0 ? 16384 : cap * 2;
			if (cap > METRICS_MAX_BYTES)
				goto fail;
			buf = nb = xrealloc(buf, cap);
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			goto fail;
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	*len = n;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

static enum cora_err
stats_relay(struct request *r, enum stats_query_type type, const char *ctype, const char *what)
{
	size_t len = 0;
	char *text;

	/* This worker's own records first, so its requests are counted. */
	report_flush(r->rt);
	if ((text = stats_fetch(r->rt->query_path, type, &len)) == NULL)
		return request_fail(r, CORA_ERR_UNAVAILABLE, "%s unavailable", what);
	reply_text(r, 200, ctype, text, len);
	free(text);
	return CORA_OK;
}

enum cora_err
handle_metrics(struct request *r)
{
	return stats_relay(r, STATS_QUERY_METRICS, "text/plain; version=0.0.4; charset=utf-8",
	    "Metrics");
}

enum cora_err
handle_status(struct request *r)
{
	return stats_relay(r, STATS_QUERY_STATUS, "application/json", "Status");
}

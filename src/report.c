/*
 * report: request records and spans from a worker to the stats child.
 *
 * Records go in batches: one datagram per REPORT_BATCH requests, or sooner
 * when the oldest waited REPORT_MAX_AGE_MS or the worker has nothing to do
 * (its accept timed out), or before it exits. A system call and a wake-up
 * of the stats child per request would cost more than the request itself.
 * Spans go IPC_MAX_SPANS to a datagram. A full socket loses a sample,
 * never a request; lost and shed spans are counted in the next record.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "corad/ipc.h"
#include "corad/proc.h"
#include "corad/report.h"
#include "corad/request.h"
#include "corad/route.h"
#include "corad/utf8.h"

#define REPORT_BATCH		32
#define REPORT_MAX_AGE_MS	250

static struct ipc_request_done	report_buf[REPORT_BATCH];
static size_t			report_n;
static int64_t			report_first_ms;

static pid_t			report_pid;	/* a worker's, cached: no syscall a request */
static struct span		span_buf[IPC_MAX_SPANS];
static size_t			span_n;
static unsigned			spans_lost;	/* not handed to the stats child */

static void
report_flush_spans(const struct runtime *rt)
{
	if (span_n == 0)
		return;
	if (!ipc_send(rt->report_wr, span_buf, span_n * sizeof(span_buf[0])))
		spans_lost += (unsigned)span_n;
	span_n = 0;
}

void
report_flush(const struct runtime *rt)
{
	report_flush_spans(rt);
	if (report_n == 0)
		return;
	ipc_send(rt->report_wr, report_buf, report_n * sizeof(report_buf[0]));
	report_n = 0;
}

static struct span *
span_new(struct request *r, enum span_kind kind, const uint8_t id[8], uint64_t start_ns)
{
	struct span *s;

	if (span_n == IPC_MAX_SPANS)
		report_flush_spans(r->rt);
	s = &span_buf[span_n++];
	memset(s, 0, sizeof(*s));
	s->type = IPC_SPAN;
	s->kind = (uint8_t)kind;
	s->flags = r->trace.flags;
	memcpy(s->trace_id, r->trace.trace_id, sizeof(s->trace_id));
	memcpy(s->span_id, id, sizeof(s->span_id));
	s->start_ns = start_ns;
	s->end_ns = trace_now_ns();
	return s;
}

void
report_span_operation(struct request *r, const uint8_t id[8], uint64_t start_ns,
    enum cora_err e)
{
	const struct operation *op = r->op;
	const char *kind = op->kind == OP_COMMAND ? "command" : "query";
	struct span *s;

	/* The exporter is saturated: the span would be dropped anyway. */
	spans_lost += r->spans_shed;
	if (!r->export_spans)
		return;
	s = span_new(r, SPAN_KIND_INTERNAL, id, start_ns);
	memcpy(s->parent_span_id, r->server_span, sizeof(s->parent_span_id));
	s->has_parent = 1;
	snprintf(s->name, sizeof(s->name), "%s.%s.%s", op->context, kind, op->name);
	snprintf(s->cora_bc, sizeof(s->cora_bc), "%s", op->context);
	snprintf(s->cora_op_key, sizeof(s->cora_op_key), "cora.%s", kind);
	snprintf(s->cora_op_name, sizeof(s->cora_op_name), "%s", op->name);
	snprintf(s->cora_principal_id, sizeof(s->cora_principal_id), "%s", r->principal_id);
	if (e != CORA_OK) {
		s->status = SPAN_STATUS_ERROR;
		snprintf(s->status_message, sizeof(s->status_message), "%s", cora_err_name(e));
	}
}

void
report_span_server(struct request *r)
{
	const char *route = r->match.route != ROUTE_NONE ? route_template(r->match.route) : NULL;
	struct span *s;

	spans_lost += r->spans_shed;
	if (!r->export_spans)
		return;
	s = span_new(r, SPAN_KIND_SERVER, r->server_span, r->start_ns);
	if (r->trace.has_parent) {
		memcpy(s->parent_span_id, r->trace.parent_span_id, sizeof(s->parent_span_id));
		s->has_parent = 1;
	}
	s->http_status = (uint16_t)r->status;
	if (r->status >= 500)
		s->status = SPAN_STATUS_ERROR;
	utf8_copy(s->http_method, sizeof(s->http_method), r->method_name);
	utf8_copy(s->url_path, sizeof(s->url_path), r->path);
	if (route != NULL)
		utf8_copy(s->http_route, sizeof(s->http_route), route);
	snprintf(s->name, sizeof(s->name), "%s%s%s", s->http_method, route != NULL ? " " : "",
	    route != NULL ? route : "");
}

void
report_request(struct request *r)
{
	struct timespec now;
	/* What was read: a declared length refused unread is no size (any
	 * number can be declared, and one would swamp the sum for good). */
	long long bytes = (long long)r->body_len;
	int64_t now_ms;

	if (r->op != NULL && r->op->uncounted)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	if (report_n == 0)
		report_first_ms = now_ms;
	if (report_pid == 0)
		report_pid = getpid();
	report_buf[report_n++] = (struct ipc_request_done){
		.type = IPC_REQUEST_DONE,
		.pid = (int32_t)report_pid,
		.route = (uint16_t)r->match.route,
		.method = (uint16_t)r->method,
		.status = (uint16_t)r->status,
		.idem_events = r->idem_events,
		.body_rejected = r->body_rejected,
		.db_errors = r->db_errors,
		.spans_lost = (uint16_t)(spans_lost > 65535 ? 65535 : spans_lost),
		.request_bytes = (uint64_t)bytes,
		.response_bytes = r->response_bytes,
		.duration_ns = (uint64_t)((now.tv_sec - r->started.tv_sec) * 1000000000LL +
		    (now.tv_nsec - r->started.tv_nsec)),
	};
	spans_lost = 0;
	if (report_n == REPORT_BATCH || now_ms - report_first_ms >= REPORT_MAX_AGE_MS)
		report_flush(r->rt);
}

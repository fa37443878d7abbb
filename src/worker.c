/*
 * worker: one blocking FCGX_Accept_r loop, one request at a time, through
 * the steps of doc/design.md, "The request pipeline".
 *
 * Accepting: the worker accepts each connection itself and hands it to
 * libfcgi (FCGX_Request.ipcFd), whose own accept path is never used: it
 * waits in select() for a Unix connection's first bytes and closes the
 * connection, unanswered, when a signal interrupts that wait, which is how
 * a retiring worker dropped requests (doc/design.md, "Processes").
 * libfcgi's listen descriptor is a socket that does not listen, so should
 * it ever try to accept by itself (after a connection that brought no
 * request) it fails at once and hands control back.
 *
 * Stopping: SIGTERM sets a flag and never interrupts a request (SA_RESTART).
 * What the next accept does decides how the worker leaves:
 *  - a full stop: the master has put the shared listen socket in
 *    non-blocking mode first, so the worker keeps accepting what is already
 *    queued and leaves on EAGAIN: nothing nginx handed over is dropped;
 *  - this worker alone (the master died, or a retire): the handler swaps
 *    this process's listen descriptor for a socket that is not listening,
 *    so the next accept fails at once, even when the signal arrived just
 *    before the accept call. A connection already accepted is served.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "corad/activity.h"
#include "corad/alloc.h"
#include "corad/body.h"
#include "corad/clock.h"
#include "corad/deadline.h"
#include "corad/dispatch.h"
#include "corad/fcgi_head.h"
#include "corad/handlers.h"
#include "corad/ipc.h"
#include "corad/listen.h"
#include "corad/log.h"
#include "corad/proc.h"
#include "corad/report.h"
#include "corad/request.h"
#include "corad/route.h"
#include "corad/scoreboard.h"
#include "corad/store.h"
#include "corad/strutil.h"
#include "corad/trace.h"
#include "corad/utf8.h"
#include "corad/worker.h"

static volatile sig_atomic_t	worker_stopping;
static int			worker_listen_fd = -1;
static int			worker_dead_fd = -1;

static const char system_principal[] = "00000000-0000-0000-0000-000000000000";

static void
worker_on_term(int sig)
{
	int fl;

	(void)sig;
	worker_stopping = 1;
	fl = fcntl(worker_listen_fd, F_GETFL);
	if (fl >= 0 && !(fl & O_NONBLOCK))
		dup2(worker_dead_fd, worker_listen_fd);
}

/* The FastCGI connection as the request's I/O. */
static ssize_t
fcgi_read(struct request *r, char *buf, size_t n)
{
	int got = FCGX_GetStr(buf, n > INT_MAX ? INT_MAX : (int)n, r->fcgi->in);

	if (got <= 0 && FCGX_GetError(r->fcgi->in) != 0)
		return -1;
	return got;
}

static void
fcgi_write(struct request *r, const char *buf, size_t n)
{
	while (n > 0) {
		int chunk = n > INT_MAX ? INT_MAX : (int)n;

		if (FCGX_PutStr(buf, chunk, r->fcgi->out) < 0)
			return;	/* the proxy went away: nothing to tell it */
		buf += chunk;
		n -= (size_t)chunk;
	}
}

static const struct request_io fcgi_io = { fcgi_read, fcgi_write };

/* body_read_limited's reader: the request's I/O. */
static ssize_t
body_read(void *ctx, char *buf, size_t n)
{
	struct request *r = ctx;

	return r->io->read(r, buf, n);
}

/* Step 1: the body limit, on the declared length and on the bytes read. */
static enum cora_err
step_body(struct request *r)
{
	const struct config *cfg = r->rt->cfg;
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", r->fcgi->envp);
	long long declared, size;
	enum body_verdict v;

	v = body_check_length(cl, cfg->max_body, &declared);
	r->content_length = declared;
	if (v == BODY_BAD_LENGTH)
		return request_fail(r, CORA_ERR_BAD_REQUEST, "Invalid Content-Length header");
	size = declared;
	if (v == BODY_OK) {
		v = body_read_limited(body_read, r, cfg->max_body, &r->body, &r->body_len);
		if (v == BODY_IO_ERROR)
			return request_fail(r, CORA_ERR_BAD_REQUEST, "Request body could not be read");
		/* What the proxy declared is what came, or the body is not the
		 * one the client sent (cut short, or more than declared). */
		if (v == BODY_OK && declared >= 0 && (long long)r->body_len != declared)
			return request_fail(r, CORA_ERR_BAD_REQUEST,
			    "Request body of %zu bytes does not match Content-Length %lld",
			    r->body_len, declared);
		size = (long long)r->body_len;
	}
	if (v != BODY_TOO_LARGE)
		return CORA_OK;
	r->body_rejected = true;
	log_warning("body_size_limit.rejected",
	    LF_STR("correlation_id", r->correlation_id),
	    LF_STR("path", r->path), LF_STR("method", r->method_name),
	    declared >= 0 && declared < LLONG_MAX ? LF_INT("content_length", declared) :
	    LF_NULL("content_length"),
	    LF_INT("limit", cfg->max_body));
	/* A length past long long (LLONG_MAX) is quoted as declared. */
	if (size == LLONG_MAX && cl != NULL)
		return request_fail(r, CORA_ERR_TOO_LARGE,
		    "Request body of %s bytes exceeds limit of %ld bytes", cl, cfg->max_body);
	return request_fail(r, CORA_ERR_TOO_LARGE,
	    "Request body of %lld bytes exceeds limit of %ld bytes", size, cfg->max_body);
}

/* Step 3: the principal from the parameter the proxy sets. */
static enum cora_err
step_principal(struct request *r)
{
	const struct config *cfg = r->rt->cfg;
	const char *p = FCGX_GetParam(cfg->principal_param, r->fcgi->envp);
	struct uuid_error uerr;
	uint8_t id[16];

	if (p == NULL || p[0] == '\0') {
		/* nginx passes an absent header as an empty parameter. */
		if (cfg->require_principal)
			return CORA_ERR_UNAUTHENTICATED;
		memcpy(r->principal_id, system_principal, sizeof(system_principal));
		return CORA_OK;
	}
	if (!uuid_parse_text(p, id, &uerr)) {
		char msg[200];

		snprintf(msg, sizeof(msg), "Input should be a valid UUID, %s", uerr.msg);
		r->error_validation = json_object_new_array();
		validation_add(r->error_validation, "uuid_parsing", "header",
		    "X-Principal-Id", msg, json_object_new_string(p));
		return CORA_ERR_VALIDATION;
	}
	uuid_format(id, r->principal_id);
	return CORA_OK;
}

/* The request path: nginx's normalised DOCUMENT_URI, else REQUEST_URI's
 * path, percent-decoded like DOCUMENT_URI, else SCRIPT_NAME. */
static const char *
request_path(struct request *r)
{
	const char *p = FCGX_GetParam("DOCUMENT_URI", r->fcgi->envp);

	if (p != NULL && p[0] != '\0')
		return p;
	p = FCGX_GetParam("REQUEST_URI", r->fcgi->envp);
	if (p != NULL) {
		r->path_buf = xstrndup(p, strcspn(p, "?"));
		str_percent_decode(r->path_buf, 0);
		return r->path_buf;
	}
	p = FCGX_GetParam("SCRIPT_NAME", r->fcgi->envp);
	return p != NULL ? p : "";
}

/* The request being served, for the activity hook. */
static const struct request *current;

/* The store's failed calls the stats child has been told of. */
static unsigned db_errors_reported;

/* activity.h's hook: what the request is doing, in the slot's "doing"; no
 * `what` means back to the operation itself. */
static void
worker_doing(const char *what, const char *detail)
{
	const struct request *r = current;
	struct sb_slot *sl;
	char buf[sizeof(sl->doing)];

	if (r == NULL)
		return;
	sl = &r->rt->sb->slots[r->rt->slot];
	if (what != NULL)
		snprintf(buf, sizeof(buf), "%s%s%s", what, detail != NULL ? ": " : "",
		    detail != NULL ? detail : "");
	else if (r->op != NULL)
		snprintf(buf, sizeof(buf), "running %s", r->op->name);
	else
		snprintf(buf, sizeof(buf), "answering");
	sb_write_begin(sl);
	utf8_copy(sl->doing, sizeof(sl->doing), buf);
	sb_write_end(sl);
}

/* This worker's scoreboard slot: what /status and the master see. */
static void
worker_board(const struct request *r, enum sb_state state)
{
	struct sb_slot *sl = &r->rt->sb->slots[r->rt->slot];

	sb_write_begin(sl);
	sl->state = (uint8_t)state;
	if (state == SB_BUSY) {
		sl->busy_since_ns = (uint64_t)r->started.tv_sec * 1000000000u +
		    (uint64_t)r->started.tv_nsec;
		utf8_copy(sl->method, sizeof(sl->method), r->method_name);
		str_copy(sl->route, sizeof(sl->route),
		    r->match.route == ROUTE_NONE ? "" : route_template(r->match.route));
		str_copy(sl->principal, sizeof(sl->principal), r->principal_id);
		str_copy(sl->correlation_id, sizeof(sl->correlation_id), r->correlation_id);
		str_copy(sl->doing, sizeof(sl->doing), "reading the request");
		sl->uncounted = r->op != NULL && r->op->uncounted;
	} else if (state == SB_IDLE && r->status != 0)
		sl->requests++;
	sb_write_end(sl);
}

static enum cora_err
worker_pipeline(struct request *r)
{
	enum cora_err e, principal = CORA_OK;
	bool matched = route_match(r->path, &r->match);

	/* Route and principal are known before the body is read, so /status
	 * shows them during a slow upload; their errors still come after the
	 * body limit's, in the pipeline's order (doc/design.md). */
	r->op = matched ? route_op(r->match.route, r->method) : NULL;
	if (r->op != NULL && r->op->principal)
		principal = step_principal(r);
	worker_board(r, SB_BUSY);
	if ((e = step_body(r)) != CORA_OK)
		return e;
	if (!matched)
		return CORA_ERR_NOT_FOUND;
	/* The status socket serves /status and /metrics alone; another
	 * method on them is still a 405. */
	if (r->rt->status_only && !route_status_socket(r->match.route)) {
		r->match.route = ROUTE_NONE;	/* counted as no route */
		return CORA_ERR_NOT_FOUND;
	}
	if (r->op == NULL)
		return CORA_ERR_METHOD;
	if (principal != CORA_OK)
		return principal;
	worker_doing(NULL, NULL);
	return dispatch_http(r);
}

/* CORA_ACCESS_LOG: one line a request, whatever LOG_LEVEL says. */
static void
worker_access_log(const struct request *r)
{
	struct timespec now;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(now.tv_sec - r->started.tv_sec) * 1e3 +
	    (double)(now.tv_nsec - r->started.tv_nsec) / 1e6;
	log_emit_always(LOG_INFO, "http.request", LOG_FIELDS(LF_STR("method", r->method_name),
	    LF_STR("path", r->path),
	    LF_STR("route", r->match.route == ROUTE_NONE ? NULL : route_template(r->match.route)),
	    LF_INT("status", r->status), LF_INT("bytes", r->response_bytes),
	    LF_DBL("duration_ms", ms), LF_STR("correlation_id", r->correlation_id),
	    LF_STR("principal_id", r->principal_id[0] != '\0' ? r->principal_id : NULL)));
}

#define LET_GO_SECONDS		1.0	/* a reply's rollback and key release */

/*
 * The reply is written: a transaction left open is rolled back and the
 * Idempotency-Key's lock released before it is sent. Each is a round trip,
 * with a deadline of its own, the request's being over: a server that
 * stops answering right after a commit delays the answer by that second
 * and the cancel's, and then loses the session (which releases the lock
 * too), instead of holding the reply and the worker for good
 * (doc/design.md, "Idempotency"). The request was measured and logged
 * before: this is not its time. /status shows the statements.
 */
static void
worker_let_go(struct request *r)
{
	struct store *s = r->store;
	bool sends = s->conn != NULL &&
	    (r->idem.locked || PQtransactionStatus(s->conn) != PQTRANS_IDLE);

	/* Most requests hold nothing: no timer for them. */
	if (sends) {
		deadline_start(LET_GO_SECONDS);
		if (deadline_arm())
			deadline_set_cancel(s->cancel, PQsocket(s->conn));
	}
	dispatch_release(r);
	/* Past the deadline the cancel that was sent may reach a later
	 * statement, or have cost the release: the session goes. */
	if (sends && deadline_finish() && s->conn != NULL)
		store_drop(s, "releasing what the request held took longer than 1 s");
}

void
worker_serve_one(struct request *r)
{
	const struct config *cfg = r->rt->cfg;
	enum cora_err e;

	clock_gettime(CLOCK_MONOTONIC, &r->started);
	current = r;
	deadline_start(cfg->request_timeout);
	trace_begin(&r->trace, FCGX_GetParam("HTTP_TRACEPARENT", r->fcgi->envp),
	    FCGX_GetParam("HTTP_TRACESTATE", r->fcgi->envp),
	    FCGX_GetParam("CORA_REQUEST_ID", r->fcgi->envp), cfg->otel_sampler_ratio);
	trace_id_uuid(r->trace.trace_id, r->correlation_id);
	trace_new_span_id(r->server_span);
	r->export_spans = cfg->otel_exporter != OTEL_NONE && (r->trace.flags & TRACE_FLAG_SAMPLED);
	/* The exporter is saturated: its spans would be dropped anyway. */
	if (r->export_spans && atomic_load_explicit(&r->rt->sb->export_saturated,
	    memory_order_relaxed)) {
		r->export_spans = false;
		r->spans_shed = true;
	}
	if (r->export_spans)
		r->start_ns = trace_now_ns();
	trace_log_span(&r->trace, r->server_span);
	r->method_name = FCGX_GetParam("REQUEST_METHOD", r->fcgi->envp);
	if (r->method_name == NULL)
		r->method_name = "";
	r->method = http_method_parse(r->method_name);
	r->path = request_path(r);
	r->query = FCGX_GetParam("QUERY_STRING", r->fcgi->envp);
	if (r->query == NULL)
		r->query = "";

	e = worker_pipeline(r);
	if (deadline_finish() && r->status == 0)
		e = dispatch_timeout(r);
	if (e == CORA_OK && (r->status == 0 || (r->idem.active && !r->idem.settled))) {
		log_error("worker.no_reply", LF_STR("path", r->path),
		    LF_STR("correlation_id", r->correlation_id));
		e = CORA_ERR_INTERNAL;
	}
	if (e != CORA_OK && r->status == 0)
		reply_error(r, e);
	/* Since the previous request: the warm-up's failures count too. */
	r->db_errors = r->store->errors - db_errors_reported;
	db_errors_reported = r->store->errors;
	report_span_server(r);
	report_request(r);
	if (cfg->access_log)
		worker_access_log(r);
	worker_let_go(r);
	worker_board(r, SB_IDLE);
	current = NULL;
	log_clear_span();
}

/* CORA_MAX_REQUESTS reached: the master starts a successor and retires
 * this worker once the successor accepts; until then it keeps serving. */
static void
worker_ask_recycle(const struct runtime *rt)
{
	struct sb_slot *sl = &rt->sb->slots[rt->slot];

	sb_write_begin(sl);
	sl->recycle = 1;
	sb_write_end(sl);
	log_info("worker.recycle", LF_INT("pid", getpid()), LF_INT("requests", sl->requests));
	kill(getppid(), SIGUSR2);
}

/* CORA_MAX_REQUESTS plus up to 10 % jitter, so workers started together do
 * not all recycle together; 0: never. */
static uint64_t
worker_recycle_after(long max)
{
	uint8_t r[16];

	if (max <= 0)
		return 0;
	uuid_make_v4(r);
	return (uint64_t)max + (max >= 10 ? (uint64_t)(r[0] << 8 | r[1]) % (uint64_t)(max / 10 + 1) : 0);
}

static struct listen_allow	worker_allow;	/* FCGI_WEB_SERVER_ADDRS */
static int			worker_conn_unix;	/* the connection is a Unix socket */

#define WARM_UP_SECONDS		1.0		/* a new worker's connect and prepare */
#define TRIM_AFTER_BYTES	(256 * 1024)	/* heap growth that a request hands back */
#define TRIM_AFTER_IO		(32 * 1024)	/* ... or a body in or out this large */

/* A peer FCGI_WEB_SERVER_ADDRS does not name: one line a second at most,
 * with the number of refusals it stands for. */
static void
worker_log_refused(const struct sockaddr_storage *peer, socklen_t len)
{
	static struct timespec last;
	static unsigned suppressed;
	struct timespec now;
	char addr[INET6_ADDRSTRLEN] = "?";

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (last.tv_sec != 0 && now.tv_sec == last.tv_sec) {
		suppressed++;
		return;
	}
	last = now;
	if (peer->ss_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)peer)->sin_addr,
		    addr, sizeof(addr));
	else if (peer->ss_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr,
		    addr, sizeof(addr));
	log_warning("worker.connection_refused", LF_STR("peer", addr),
	    LF_STR("reason", "not listed in FCGI_WEB_SERVER_ADDRS"),
	    LF_INT("refused", suppressed + 1));
	suppressed = 0;
}

/*
 * A request that read or wrote a large body (the OpenAPI document, a large
 * command) or grew the heap by more than TRIM_AFTER_BYTES hands its memory
 * back once it is answered: glibc keeps freed heap for the next allocation,
 * so every worker would keep its largest request's memory for life
 * (doc/design.md, "Processes"). malloc_trim also returns the free pages
 * below live data, which the heap's top cannot.
 */
static void
worker_trim(bool large)
{
	static uintptr_t mark;
	uintptr_t top = (uintptr_t)sbrk(0);

	if (mark != 0 && (large || (top > mark && top - mark > TRIM_AFTER_BYTES))) {
		malloc_trim(0);
		mark = (uintptr_t)sbrk(0);
	} else if (mark == 0 || top < mark) {
		mark = top;
	}
}

/*
 * Ends the request: libfcgi flushes the answer and closes the connection
 * unless the proxy asked to keep it. libfcgi's close lingers (doc/design.md,
 * "Processes"): it waits up to 2 s for the peer to close first. A Unix
 * connection whose stdin the worker read to its end (step 1 reads every body
 * it does not reject) is closed at once instead, and the worker goes to its
 * next accept. A peer whose body was rejected unread or half read may still
 * be sending it, and gets the lingering close: its write must not fail
 * before it has read the answer.
 */
static void
worker_finish(FCGX_Request *fcgi)
{
	int fd = fcgi->ipcFd;

	if (!worker_conn_unix || fcgi->keepConnection || !FCGX_HasSeenEOF(fcgi->in)) {
		FCGX_Finish_r(fcgi);
		return;
	}
	fcgi->keepConnection = 1;	/* flush, but leave the descriptor to us */
	FCGX_Finish_r(fcgi);
	if (fcgi->ipcFd == fd) {
		close(fd);
		fcgi->ipcFd = -1;
	}
}

/*
 * The next connection on the listen socket, or -errno: -EAGAIN when the
 * accept timed out (nothing to do) or the queue is drained in a full stop,
 * -EINVAL once this worker's descriptor was retired. A TCP peer that
 * FCGI_WEB_SERVER_ADDRS does not name is closed and logged.
 */
static int
worker_accept(void)
{
	static const struct timeval no_timeout = { 0, 0 };

	for (;;) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(worker_listen_fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);

		if (fd >= 0) {
			if (listen_peer_allowed(&worker_allow, (struct sockaddr *)&peer, len)) {
				/* A TCP connection inherits the listen socket's
				 * receive timeout (listen.c): a request that pauses
				 * longer must not fail for it. */
				worker_conn_unix = peer.ss_family == AF_UNIX;
				if (!worker_conn_unix)
					setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &no_timeout,
					    sizeof(no_timeout));
				return fd;
			}
			worker_log_refused(&peer, len);
			close(fd);
			continue;
		}
		/* EINTR: a signal (the listen socket's receive timeout keeps
		 * accept from being restarted); the flag it set is seen by the
		 * next accept. The others: the connection died in the queue. */
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO ||
		    errno == EPERM)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

/* What a head may take with its records' framing: twice the parameters'
 * bound, so that only a peer that splits them into tiny records finds it
 * too small. The first look takes HEAD_PEEK_FIRST: a head from nginx or
 * Apache is a few kilobytes, and a longer look would copy the body behind
 * it, and make the worker keep the pages it was copied to. */
#define HEAD_PEEK_MAX	131072
#define HEAD_PEEK_FIRST	16384
#define STATUS_HEAD_WAIT_MS	1000

/*
 * Waits until the connection holds the request's head (fcgi_head.h), for
 * at most the request deadline, so that libfcgi's blocking reads of it
 * return at once and never meet a head it would choke on (doc/design.md,
 * "Processes"). The bytes are looked at with MSG_PEEK and left for libfcgi.
 * false, for the caller to close: a refused head, one that was not whole in
 * time (both logged), or nothing at all on a connection kept from the
 * previous request. A stopping worker still waits for a connection it
 * accepted: the proxy may not have written yet.
 */
static bool
worker_await_head(const struct runtime *rt, int fd, bool kept)
{
	static unsigned char *peek, *scratch;
	/* The status child serves one connection at a time: a peer that holds
	 * it back may delay /status by a second, not the request deadline. */
	int64_t wait_ms = (int64_t)(rt->cfg->request_timeout * 1000);
	int64_t until = mono_ms() + (rt->status_only && wait_ms > STATUS_HEAD_WAIT_MS ?
	    STATUS_HEAD_WAIT_MS : wait_ms);
	int nap_ms = 1;
	size_t look = HEAD_PEEK_FIRST;
	const char *why = NULL;
	ssize_t n = 0;
	bool ok = false, shown = false, closed = false;

	if (peek == NULL) {
		/* Mapped, so that the pages a long look used can be given back. */
		peek = mmap(NULL, HEAD_PEEK_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
		if (peek == MAP_FAILED)
			alloc_failed(HEAD_PEEK_MAX);
		scratch = xmalloc(FCGI_HEAD_MAX);
	}
	for (;;) {
		int64_t left;

		n = recv(fd, peek, look, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			ok = true;	/* closed or failed: libfcgi sees it */
			break;
		}
		if (n > 0) {
			enum fcgi_head h = fcgi_head_check(peek, (size_t)n, scratch, &why);

			if (h != FCGI_HEAD_MORE) {
				ok = h == FCGI_HEAD_OK;
				break;
			}
			if ((size_t)n == look && look < HEAD_PEEK_MAX) {
				look = HEAD_PEEK_MAX;	/* more is there: look again at once */
				continue;
			}
			if (n == HEAD_PEEK_MAX) {
				why = "the request's head exceeds " STR(HEAD_PEEK_MAX) " bytes";
				break;
			}
			if (closed) {
				why = "the peer closed before its head was whole";
				break;
			}
		}
		if (worker_stopping && n <= 0 && kept)
			break;	/* an idle connection: nothing lost */
		if ((left = until - mono_ms()) <= 0) {
			if (n > 0 || !kept)
				why = n <= 0 ? "nothing came in time" :
				    "the request's head was not whole in time";
			break;
		}
		/* /status shows a head awaited, so that one a peer holds up is
		 * seen; a head already there never gets here. */
		if (!shown && !kept) {
			sb_set_doing(&rt->sb->slots[rt->slot], "waiting for the request's head");
			shown = true;
		}
		/* Until the first byte, the socket says when it comes; after it,
		 * unread bytes keep it readable, so naps wait for the rest, or
		 * for the peer to close its side: then one more look decides. */
		if (n <= 0) {
			struct pollfd pf = { .fd = fd, .events = POLLIN };

			(void)poll(&pf, 1, left > INT_MAX ? INT_MAX : (int)left);
		} else {
			struct pollfd pf = { .fd = fd, .events = POLLRDHUP };

			closed = poll(&pf, 1, (int)(nap_ms < left ? nap_ms : left)) > 0 &&
			    (pf.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
			nap_ms = nap_ms < 64 ? nap_ms * 2 : 64;
		}
	}
	if (look > HEAD_PEEK_FIRST) {
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		size_t from = (HEAD_PEEK_FIRST + page - 1) / page * page;

		if (from < HEAD_PEEK_MAX)
			(void)madvise(peek + from, HEAD_PEEK_MAX - from, MADV_DONTNEED);
	}
	if (shown)
		sb_set_doing(&rt->sb->slots[rt->slot], NULL);
	if (why != NULL)
		log_warning("worker.head_refused", LF_STR("reason", why),
		    LF_INT("bytes", n > 0 ? n : 0));
	return ok;
}

/*
 * A worker is woken by the proxy with a request and by PostgreSQL with a
 * result; under SCHED_BATCH neither wake-up preempts the process that sent
 * it, which finishes its turn first (doc/design.md, "Processes").
 */
static void
worker_schedule(bool batch)
{
	struct sched_param sp = { .sched_priority = 0 };

	if (batch && sched_setscheduler(0, SCHED_BATCH, &sp) != 0)
		log_warning("worker.scheduling_failed", LF_STR("policy", "SCHED_BATCH"),
		    LF_STR("error", strerror(errno)));
}

int
worker_main(struct runtime *rt)
{
	struct sigaction sa = { .sa_handler = worker_on_term, .sa_flags = SA_RESTART };
	FCGX_Request fcgi;
	struct store store;
	/* The status child is never recycled. */
	uint64_t served = 0, recycle_after = rt->status_only ? 0 :
	    worker_recycle_after(rt->cfg->max_requests);
	struct request req = { .rt = rt, .fcgi = &fcgi, .io = &fcgi_io, .store = &store,
	    .policy = rt->policy };
	int rc, status = 0;
	bool large, kept = false;

	/* The status child keeps the master's policy: it answers when the
	 * workers cannot. */
	log_set_logger(rt->status_only ? "corad.status" : "corad.worker");
	worker_schedule(rt->cfg->worker_batch && !rt->status_only);
	worker_listen_fd = rt->listen_fd;
	worker_dead_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (worker_dead_fd < 0) {
		log_error("worker.init_failed", LF_STR("error", strerror(errno)));
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (!deadline_install())
		log_warning("worker.no_deadline", LF_STR("error", strerror(errno)),
		    LF_STR("reason", "no timer for CORA_REQUEST_TIMEOUT_SECONDS"));
	/* libfcgi installs a SIGUSR1 handler that makes accept fail; we stop
	 * through SIGTERM only, so SIGUSR1 is ignored before FCGX_Init. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGUSR1, &sa, NULL);
	/* A signal from before the handler existed would have killed us;
	 * one that arrives from here on is seen by the accept below. */
	if (listen_allow_parse(rt->cfg->web_server_addrs, &worker_allow, NULL, 0) != 0 ||
	    FCGX_Init() != 0 || FCGX_InitRequest(&fcgi, worker_dead_fd, 0) != 0) {
		log_error("worker.init_failed", LF_STR("error", "FCGX_Init"));
		return 1;
	}
	handlers_init();
	activity_hook(worker_doing);
	store_init(&store, rt->cfg->database_url, rt->cfg->pool_transaction, rt->wake_wr);
	request_reset(&req);
	/* The session first (doc/design.md, "Processes"): a successor takes
	 * over with its statements prepared. The status child needs none. */
	if (!rt->status_only)
		store_warm_up(&store, WARM_UP_SECONDS);
	worker_trim(false);
	/* Tells the master this worker accepts: during a reload, an old worker
	 * retires only after its successor has said so. */
	worker_board(&req, SB_IDLE);
	if (rt->ready_fd >= 0) {
		(void)!write(rt->ready_fd, "1", 1);
		close(rt->ready_fd);
		rt->ready_fd = -1;
	}
	log_debug("worker.ready", LF_INT("pid", getpid()));

	for (;;) {
		/* A connection the proxy keeps open (fastcgi_keep_conn) brings
		 * its next request on the same descriptor. */
		if (fcgi.ipcFd < 0) {
			if ((rc = worker_accept()) == -EAGAIN && !worker_stopping) {
				report_flush(rt);
				continue;
			}
			if (rc < 0)
				break;
			fcgi.ipcFd = rc;
			/* FCGX_Accept_r starts by finishing the previous request,
			 * which closes the descriptor unless the connection is to be
			 * kept; the request it reads next sets this again. */
			fcgi.keepConnection = 1;
			kept = false;
		}
		if (!worker_await_head(rt, fcgi.ipcFd, kept)) {
			close(fcgi.ipcFd);
			fcgi.ipcFd = -1;
			continue;
		}
		kept = true;	/* until the next accept */
		if (FCGX_Accept_r(&fcgi) < 0)
			continue;	/* no request came: libfcgi closed it */
		worker_serve_one(&req);	/* what the request held let go too */
		large = req.body_len + req.response_bytes >= TRIM_AFTER_IO;
		request_reset(&req);
		/* The response is flushed and the connection closed (or kept)
		 * now, before the next accept. The status child keeps none: one
		 * held open would keep the next scrape waiting. */
		if (rt->status_only)
			fcgi.keepConnection = 0;
		worker_finish(&fcgi);
		worker_trim(large);
		if (++served == recycle_after)
			worker_ask_recycle(rt);
	}
	report_flush(rt);
	worker_board(&req, SB_EXITING);
	/* EAGAIN when stopping: the queue is drained in a full stop; EINVAL:
	 * this worker's descriptor was retired by the handler. Both are a
	 * clean exit. */
	if (!worker_stopping || (rc != -EAGAIN && rc != -EINVAL)) {
		log_error("worker.accept_failed", LF_INT("code", rc),
		    LF_STR("error", rc < 0 && rc > -4096 ? strerror(-rc) : "libfcgi"));
		status = 1;
	}
	FCGX_Finish_r(&fcgi);
	FCGX_Free(&fcgi, 1);
	store_close(&store);
	log_debug("worker.exiting", LF_INT("pid", getpid()));
	return status;
}

/* request: one FastCGI request and everything allocated for it. */
#ifndef CORAD_REQUEST_H
#define CORAD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "corad/ids.h"
#include "corad/op.h"
#include "corad/reply.h"
#include "corad/route.h"
#include "corad/trace.h"

struct runtime;
struct store;
struct authz_policy;

struct request;

/* The Idempotency-Key claim a request holds (idempotency.h). */
struct idem_claim {
	bool		 active;	/* a key was sent and claimed */
	bool		 settled;	/* the result is stored (or the claim dropped) */
	bool		 locked;	/* our session holds the key's advisory lock */
	const char	*command;	/* RegisterActor, ForgetActor */
	const char	*surface;
	char		*key;		/* owned */
	char		 hash[65];
	char		 token[48];	/* locked_at as text: the fencing token */
};

/* Where a request's body comes from and its answer goes: the FastCGI
 * connection in a worker, memory in the fuzzers. */
struct request_io {
	ssize_t	(*read)(struct request *r, char *buf, size_t n);	/* -1: error */
	void	(*write)(struct request *r, const char *buf, size_t n);
};

/*
 * Owned by the worker and reused for every request; request_reset() frees
 * what the last request allocated. Handlers fill `error_*` and return an
 * enum cora_err, or reply themselves and return CORA_OK.
 */
struct request {
	FCGX_Request		*fcgi;		/* parameters: fcgi->envp */
	const struct request_io	*io;
	void			*io_ctx;	/* for io's own use */
	struct runtime		*rt;
	struct store		*store;		/* the worker's database session */
	const struct authz_policy *policy;	/* NULL: everything allowed */

	enum http_method	 method;
	const char		*method_name;	/* as sent by the proxy */
	const char		*path;		/* decoded, without query string */
	char			*path_buf;	/* owns path when it was copied */
	const char		*query;		/* raw query string or "" */
	struct route_match	 match;
	const struct operation	*op;		/* what the route and method name */

	/* The operation's inputs once validated (dispatch.h): path and query
	 * parameters, and the body; defaults filled in. */
	json_object		*params;	/* an object, or NULL */
	json_object		*input;		/* the body's object, or NULL */
	char			 verdict[256];	/* the allowing verdict's reason */

	char			 correlation_id[UUID_STR_LEN];
	char			 principal_id[UUID_STR_LEN];

	long long		 content_length;	/* -1 when not sent */
	char			*body;			/* NUL-terminated */
	size_t			 body_len;

	struct timespec		 started;	/* CLOCK_MONOTONIC */
	int			 status;	/* sent status, 0 before reply */
	size_t			 response_bytes;

	/* Set by a step or handler that fails; rendered by reply_error(). */
	char			*error_detail;		/* {"detail": text} */
	json_object		*error_validation;	/* array for 422 */
	int			 retry_after;		/* seconds; 0: no header */

	/* For the stats child's record of this request. */
	uint8_t			 idem_events;	/* enum ipc_idem_event bits */
	bool			 body_rejected;
	bool			 end_logged;	/* the operation's last line is out */
	unsigned		 db_errors;

	struct idem_claim	 idem;		/* Idempotency-Key, when sent */

	/* MCP runs a route's handler inside its own request: the handler's
	 * reply is kept here instead of being sent (reply_send). */
	bool			 capture;
	char			*captured_body;		/* NUL-terminated, or NULL */
	const char		*idem_key;		/* MCP: the tool's key */
	const char		*idem_surface;		/* NULL: HTTP */

	/* Tracing: correlation_id is the trace id as a UUID. */
	struct trace_ctx	 trace;
	uint8_t			 server_span[8];
	uint64_t		 start_ns;	/* Unix epoch, for spans */
	bool			 export_spans;	/* sampled, and an exporter is set */
	bool			 spans_shed;	/* would be, but the exporter is saturated */
};

void	request_reset(struct request *r);

/* Frees and clears what one operation left in r (its inputs, its error,
 * its captured reply, its Idempotency-Key claim), for the next operation
 * of the same request (a batch of MCP tool calls); the request itself
 * (path, body, trace) stays. dispatch_done() calls it, after releasing
 * the claim's lock and ending the transaction. */
void	request_end_operation(struct request *r);

/* Sets error_detail from a format; returns `e` for `return request_fail()`. */
enum cora_err	request_fail(struct request *r, enum cora_err e, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));

/* Sends a complete response: status, JSON content type, X-Correlation-Id,
 * extra headers ("Name: value\r\n..." or NULL) and body (NULL: none). */
void	reply_send(struct request *r, int status, const char *extra_headers,
	    const char *body, size_t len);
/* Sends a non-JSON body (only /metrics has one). */
void	reply_text(struct request *r, int status, const char *ctype,
	    const char *body, size_t len);
/* Sends `body` (json-c) with `status`; does not take over body. */
void	reply_json(struct request *r, int status, json_object *body);
/* The same with extra headers ("" for none). */
void	reply_json_headers(struct request *r, int status, const char *extra, json_object *body);

/*
 * What an error code becomes with what the request holds: returns the
 * status; extra headers (Allow, Retry-After) go to extra, the body to
 * *body (the caller puts it). dispatch.c settles a claimed
 * Idempotency-Key with it before sending.
 */
int	reply_error_render(struct request *r, enum cora_err e, char extra[128], json_object **body);
/* Renders and sends an error code (no Idempotency-Key is involved). */
void	reply_error(struct request *r, enum cora_err e);

/* A validated input (path or query parameter, or body field), or NULL. */
json_object	*request_value(const struct request *r, const char *name);
/* The same as text (a number or a boolean as JSON text). */
const char	*request_text(const struct request *r, const char *name);

/*
 * Whether the body is JSON by its Content-Type, as the original decides:
 * none (or empty), application/json or application/<anything>+json, any
 * case, parameters aside. Any other type (text/plain, a form: what a page
 * of another site may post without asking) is not (doc/design.md, "The
 * request pipeline").
 */
bool	request_body_is_json(const struct request *r);

#endif

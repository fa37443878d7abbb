/*
 * dispatch: one operation run for a request, the same way whether it came
 * as an HTTP route or as an MCP tool (doc/design.md, "The request
 * pipeline"): its inputs validated against the operation's declaration,
 * its Idempotency-Key claimed, <verb>.start logged, the handler run inside
 * its span, and an error answered, after the claim has been settled.
 */
#ifndef CORAD_DISPATCH_H
#define CORAD_DISPATCH_H

#include <json-c/json.h>

#include "corad/ids.h"
#include "corad/log.h"
#include "corad/op.h"
#include "corad/reply.h"

struct request;

/* Runs r->op on the matched path parameters, the query string and the
 * body of the HTTP request. */
enum cora_err	dispatch_http(struct request *r);

/* Runs `op` as an MCP tool: its parameters and body fields are the
 * tool's arguments (an object). The answer is captured (r->capture). */
enum cora_err	dispatch_tool(struct request *r, const struct operation *op, json_object *args);

/* After an operation (a request, or one tool call of an MCP batch): its
 * transaction rolled back if a failure left it open and its
 * Idempotency-Key claim released (dispatch_release: the round trips, which
 * a worker makes once a request's reply is written), and with
 * dispatch_done its inputs and reply freed, so that nothing of it reaches
 * the next one. */
void		dispatch_release(struct request *r);
void		dispatch_done(struct request *r);

/*
 * Step 5, for handlers: authorizes r->op by its name. A deny is logged
 * (<verb>.denied), written to entries_access_verdicts and returned as 403
 * with the reason; on allow r->verdict holds the reason, which a command
 * records in its own transaction.
 */
enum cora_err	dispatch_authorize(struct request *r);

/*
 * The start of a command that creates a stream: authorizes (a denied
 * principal learns nothing of the command's validity), then answers the
 * domain's own error `invalid` with `detail` (CORA_OK: none), then makes
 * sure of the database, then names the new stream with a fresh UUIDv7.
 */
enum cora_err	dispatch_create(struct request *r, enum cora_err invalid, const char *detail,
		    char id[UUID_STR_LEN]);

/* The request's deadline passed: logs worker.deadline and returns the
 * 504 (CORA_ERR_TIMEOUT) with its detail set. */
enum cora_err	dispatch_timeout(struct request *r);

/* <verb>.<what> of r->op with the fields every handler line carries
 * (correlation, causation for commands, principal, the name, the path
 * parameters) and `extra` (LOG_FIELDS(...), or NULL). */
void		dispatch_log(struct request *r, enum log_level lvl, const char *what,
		    const struct log_field *extra);

#endif

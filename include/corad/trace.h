/*
 * trace: W3C trace context, sampling and spans (doc/design.md, "Metrics,
 * status, logs and traces").
 *
 * Workers build spans as fixed-size records (struct span) and hand them to
 * the stats child, which exports them (console or OTLP/HTTP JSON) off the
 * request path.
 */
#ifndef CORAD_TRACE_H
#define CORAD_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACE_FLAG_SAMPLED	0x01

/* The context of one request. */
struct trace_ctx {
	uint8_t	 trace_id[16];
	uint8_t	 parent_span_id[8];	/* the proxy's span; zero when none */
	bool	 has_parent;		/* a valid traceparent was received */
	uint8_t	 flags;			/* trace-flags; bit 0: sampled */
	char	 tracestate[256];	/* passed through as received ("" if none) */
};

/*
 * Parses a traceparent header value: "00-<32 hex>-<16 hex>-<2 hex>",
 * lowercase hex only, trace id and parent id not all zeros, version "ff"
 * invalid; a higher version than 00 is accepted when its first four fields
 * parse and the value is longer only after a '-' (W3C forward
 * compatibility). Returns false for anything malformed (the caller then
 * starts a new trace, never an error).
 */
bool	trace_parse_traceparent(const char *s, struct trace_ctx *out);

/*
 * Sets up the context of a request: from `traceparent` (may be NULL) and
 * `tracestate` (may be NULL; kept only with a valid traceparent and only up
 * to 255 bytes), else the proxy's `request_id` (32 lowercase hex digits, not
 * all zero; may be NULL) as the trace id, else a new random one. Sampling is parent-based: with
 * a parent, its sampled flag decides; without one, the trace id decides
 * against `ratio` (0..1), TraceIdRatioBased style: sampled when the low 8
 * bytes of the trace id, read big-endian, are below ratio * 2^64.
 */
void	trace_begin(struct trace_ctx *t, const char *traceparent, const char *tracestate,
	    const char *request_id, double ratio);

/* The trace id written as a UUID (8-4-4-4-12, lowercase): the correlation id. */
void	trace_id_uuid(const uint8_t id[16], char out[37]);
/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void	trace_hex(const uint8_t *in, size_t n, char *out);
/* A new random span id (never all zeros). */
void	trace_new_span_id(uint8_t out[8]);

/* Clock for span times: nanoseconds since the Unix epoch. */
uint64_t	trace_now_ns(void);

/* Makes span_id of this trace the span of the log lines that follow. */
void	trace_log_span(const struct trace_ctx *t, const uint8_t span_id[8]);

enum span_kind {
	SPAN_KIND_INTERNAL = 1,	/* OTLP enum values */
	SPAN_KIND_SERVER = 2,
};

enum span_status {
	SPAN_STATUS_UNSET = 0,
	SPAN_STATUS_OK = 1,
	SPAN_STATUS_ERROR = 2,
};

/*
 * One finished span, as a fixed-size record that crosses from a worker to
 * the stats child (ipc.h). Strings are NUL-terminated and truncated to fit.
 * A SERVER span carries http_* and url_path; an INTERNAL (handler) span
 * carries cora_bc, cora_op_key ("cora.command" or "cora.query"),
 * cora_op_name and cora_principal_id.
 */
struct span {
	uint32_t	type;		/* IPC_SPAN */
	uint8_t		kind;		/* enum span_kind */
	uint8_t		status;		/* enum span_status */
	uint8_t		flags;		/* trace-flags */
	uint8_t		has_parent;
	uint8_t		trace_id[16];
	uint8_t		span_id[8];
	uint8_t		parent_span_id[8];
	uint64_t	start_ns;	/* Unix epoch */
	uint64_t	end_ns;
	uint16_t	http_status;	/* SERVER: http.response.status_code */
	char		name[64];	/* "GET /actors/{actor_id}", "access.command.RegisterActor" */
	char		http_method[16];	/* http.request.method */
	char		http_route[48];		/* http.route ("" when unmatched) */
	char		url_path[160];		/* url.path */
	char		cora_bc[16];		/* cora.bc: "access" */
	char		cora_op_key[16];	/* "cora.command" or "cora.query" */
	char		cora_op_name[32];	/* RegisterActor ... */
	char		cora_principal_id[40];	/* cora.principal_id */
	char		status_message[64];	/* on ERROR: what failed */
};

#endif

/*
 * export: the span exporters of the stats child (doc/design.md, "Metrics,
 * status, logs and traces"): console
 * (one JSON span per line on stderr) and OTLP/HTTP JSON sent in batches
 * with libcurl's multi interface, so a slow or dead collector never blocks
 * the stats child's loop (and so never a worker).
 */
#ifndef CORAD_EXPORT_H
#define CORAD_EXPORT_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "corad/config.h"
#include "corad/trace.h"

#define EXPORT_QUEUE_MAX	2048	/* spans waiting; more are dropped */
#define EXPORT_BATCH		256	/* spans per request at most */
#define EXPORT_DELAY_MS		1000	/* oldest waiting span sent by then */
#define EXPORT_RETRY_FIRST_MS	1000	/* after a failed request, jittered */
#define EXPORT_RETRY_MAX_MS	30000

struct exporter;

/* NULL for OTEL_EXPORTER=none. For otlp, the endpoint is
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, else
 * OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces", else
 * http://localhost:4318/v1/traces; OTEL_EXPORTER_OTLP_HEADERS is
 * "k=v,k2=v2" (values URL-decoded); OTEL_EXPORTER_OTLP_TIMEOUT in ms. */
struct exporter	*exporter_new(const struct config *cfg);
void		 exporter_free(struct exporter *x);

/* Queues one span (copied). Console: written at once. OTLP: sent when the
 * batch holds EXPORT_BATCH spans or is EXPORT_DELAY_MS old; when the
 * queue is full (EXPORT_QUEUE_MAX) the span is dropped and counted. */
void		 exporter_add(struct exporter *x, const struct span *s);

/* For the stats child's poll loop: fills up to max pollfds the exporter
 * waits on and returns how many; *timeout_ms is lowered to when the
 * exporter next needs exporter_run (never raised). */
size_t		 exporter_pollfds(struct exporter *x, struct pollfd *pf, size_t max,
		    int *timeout_ms);
/* Advances transfers and timers; call after every poll wake-up with the
 * pollfds exporter_pollfds filled (their revents set by poll). */
void		 exporter_run(struct exporter *x, const struct pollfd *pf, size_t n);

/*
 * Whether workers should stop sending spans: the queue filled up (the
 * collector is slow, dead or failing) and has not drained to half since.
 * The stats child publishes it in the scoreboard; a worker then counts its
 * spans as dropped instead of building and sending them, so a dead
 * collector costs the request path nothing.
 */
bool		 exporter_saturated(struct exporter *x);

/* Spans dropped (queue full, export failed or timed out) and exported. */
uint64_t	 exporter_dropped(const struct exporter *x);
uint64_t	 exporter_exported(const struct exporter *x);

/* The OTLP/HTTP JSON body for n spans (malloc'd). Exposed for tests. */
char		*otlp_encode(const struct span *spans, size_t n, const char *service_name);
/* The console line for one span (malloc'd, no newline). */
char		*console_encode(const struct span *s, const char *service_name);

#endif

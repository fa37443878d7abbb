/* config: the environment variables, parsed and checked (doc/design.md,
 * "Configuration"). */
#ifndef CORAD_CONFIG_H
#define CORAD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "corad/log.h"

enum otel_exporter {
	OTEL_NONE,
	OTEL_CONSOLE,
	OTEL_OTLP,
};

/* Every string is owned by the config and freed by config_free(). */
struct config {
	char			*app_env;
	bool			 production;	/* APP_ENV in prod/production/staging */
	enum log_level		 log_level;
	char			*database_url;
	char			*database_owner_url;
	char			*database_admin_url;	/* corad init-db only */
	bool			 pool_transaction;	/* DATABASE_POOL_MODE=transaction */
	char			*projector_database_url;	/* PROJECTOR_DATABASE_URL */
	long			 max_body;	/* MAX_REQUEST_BODY_SIZE_BYTES */
	bool			 require_principal;
	char			*principal_param;
	char			*authz_policy_file;	/* NULL when unset */
	bool			 allow_permissive_authz;
	enum otel_exporter	 otel_exporter;
	char			*otel_service_name;
	double			 otel_sampler_ratio;
	char			*otlp_endpoint;
	char			*otlp_traces_endpoint;
	char			*otlp_headers;
	long			 otlp_timeout_ms;
	long			 idempotency_ttl_hours;
	long			 idempotency_lock_stale_seconds;
	bool			 projection_listen_notify;
	double			 projection_poll_interval;
	char			*listen;	/* CORA_LISTEN; NULL: inherited or default */
	char			*status_listen;	/* CORA_STATUS_LISTEN; NULL: default; "off" */
	long			 workers;
	long			 max_requests;
	double			 request_timeout;
	bool			 worker_batch;		/* CORA_WORKER_BATCH_SCHEDULING */
	bool			 access_log;		/* CORA_ACCESS_LOG: http.request lines */
	double			 slow_request;		/* CORA_SLOW_REQUEST_SECONDS; 0: off */
	double			 graceful_timeout;
	char			*runtime_dir;
	char			*web_server_addrs;	/* FCGI_WEB_SERVER_ADDRS; NULL: any peer */
	char			*mcp_allowed_origins;	/* CORA_MCP_ALLOWED_ORIGINS; NULL: none */
};

/* Looks a variable up; returns NULL when unset. */
typedef const char *(*config_lookup_fn)(void *ctx, const char *name);

/*
 * Fills `cfg` from the lookup function (defaults for unset variables).
 * On a bad value returns -1 and writes one line naming the variable, the
 * value and what is allowed into err; `cfg` is then already freed.
 */
int	config_load(struct config *cfg, config_lookup_fn lookup, void *ctx,
	    char *err, size_t errlen);

struct config_error {
	char	variable[64];
	char	value[256];
	char	allowed[256];
	char	message[640];	/* the three above as one sentence */
};

/* config_load() with the parts of the error kept apart, for the log line. */
int	config_load_detailed(struct config *cfg, config_lookup_fn lookup, void *ctx,
	    struct config_error *err);

/*
 * Environment plus an optional KEY=VALUE file (`--env-file`). Variables set in
 * the environment win over the file, as with systemd and dotenv. Returns -1
 * with a message in err when the file cannot be read or a line is malformed.
 */
struct env_source;
struct env_source	*env_source_new(const char *env_file, char *err, size_t errlen);
const char		*env_source_lookup(void *src, const char *name);
void			 env_source_free(struct env_source *src);

void	config_free(struct config *cfg);

/* Booleans: true/false/1/0/yes/no/on/off, case-insensitive. */
int	config_parse_bool(const char *s, bool *out);

/* APP_ENV's tier (case-insensitive, trimmed): 1 for prod, production and
 * staging; 0 for local, dev, development, test, testing and ci; -1 for
 * anything else, which configuration refuses (a typo must not turn the
 * production gates off). */
int	config_env_tier(const char *app_env);
/* Whether APP_ENV names the production tier. */
bool	config_env_is_production(const char *app_env);

/* Whether CORA_MCP_ALLOWED_ORIGINS lists this Origin (any case). */
bool	config_origin_allowed(const struct config *cfg, const char *origin);

#endif

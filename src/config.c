/* config: the environment variables, parsed and checked (doc/design.md,
 * "Configuration"). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "corad/config.h"
#include "corad/alloc.h"
#include "corad/listen.h"
#include "corad/url.h"

enum var_type {
	V_STR,		/* any string, "" allowed */
	V_APPENV,	/* a tier name (config_env_tier) */
	V_NONEMPTY,	/* non-empty string */
	V_OPTSTR,	/* "" or unset: NULL */
	V_PARAM,	/* FastCGI parameter name: [A-Za-z0-9_]+ */
	V_DBURL,	/* postgresql://, postgres:// or libpq key=value */
	V_BOOL,
	V_LONG,		/* integer in [min, max] */
	V_DOUBLE,	/* number in [min, max] */
	V_LOGLEVEL,
	V_POOLMODE,	/* session / transaction */
	V_EXPORTER,
	V_LISTEN,	/* CORA_LISTEN; unset: NULL */
	V_STATUS_LISTEN,/* as V_LISTEN, or "off" */
	V_ABSPATH,	/* absolute path */
	V_ADDRS,	/* FCGI_WEB_SERVER_ADDRS: IP addresses; "" or unset: NULL */
	V_HTTPURL,	/* an http:// or https:// URL with a host; "" or unset: NULL */
	V_ORIGINS,	/* comma-separated http(s)://host[:port]; "" or unset: NULL */
};

struct var {
	const char	*name;
	enum var_type	 type;
	size_t		 offset;
	const char	*def;	/* default, parsed like a given value; NULL: none */
	double		 min, max;
};

#define OFF(f)	offsetof(struct config, f)

/* The order matters only for DATABASE_OWNER_URL and PROJECTOR_DATABASE_URL,
 * whose default is the DATABASE_URL parsed before them. */
static const struct var vars[] = {
	{ "APP_ENV", V_APPENV, OFF(app_env), "local", 0, 0 },
	{ "LOG_LEVEL", V_LOGLEVEL, OFF(log_level), "INFO", 0, 0 },
	{ "DATABASE_URL", V_DBURL, OFF(database_url),
	    "postgresql://cora:cora@localhost:5432/cora", 0, 0 },
	{ "DATABASE_OWNER_URL", V_DBURL, OFF(database_owner_url), NULL, 0, 0 },
	{ "DATABASE_ADMIN_URL", V_DBURL, OFF(database_admin_url),
	    "postgresql:///postgres?host=/run/postgresql", 0, 0 },
	{ "DATABASE_POOL_MODE", V_POOLMODE, OFF(pool_transaction), "session", 0, 0 },
	{ "PROJECTOR_DATABASE_URL", V_DBURL, OFF(projector_database_url), NULL, 0, 0 },
	{ "MAX_REQUEST_BODY_SIZE_BYTES", V_LONG, OFF(max_body), "1048576", 1, INT_MAX },
	{ "REQUIRE_AUTHENTICATED_PRINCIPAL", V_BOOL, OFF(require_principal), "false", 0, 0 },
	{ "CORA_PRINCIPAL_PARAM", V_PARAM, OFF(principal_param), "CORA_PRINCIPAL_ID", 0, 0 },
	{ "AUTHZ_POLICY_FILE", V_OPTSTR, OFF(authz_policy_file), NULL, 0, 0 },
	{ "ALLOW_PERMISSIVE_AUTHZ", V_BOOL, OFF(allow_permissive_authz), "false", 0, 0 },
	{ "OTEL_EXPORTER", V_EXPORTER, OFF(otel_exporter), "none", 0, 0 },
	{ "OTEL_SERVICE_NAME", V_NONEMPTY, OFF(otel_service_name), "cora-api", 0, 0 },
	{ "OTEL_SAMPLER_RATIO", V_DOUBLE, OFF(otel_sampler_ratio), "1.0", 0, 1 },
	{ "OTEL_EXPORTER_OTLP_ENDPOINT", V_HTTPURL, OFF(otlp_endpoint), NULL, 0, 0 },
	{ "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", V_HTTPURL, OFF(otlp_traces_endpoint), NULL, 0, 0 },
	{ "OTEL_EXPORTER_OTLP_HEADERS", V_OPTSTR, OFF(otlp_headers), NULL, 0, 0 },
	{ "OTEL_EXPORTER_OTLP_TIMEOUT", V_LONG, OFF(otlp_timeout_ms), "10000", 0, 600000 },
	{ "IDEMPOTENCY_TTL_HOURS", V_LONG, OFF(idempotency_ttl_hours), "24", 0, 87600 },
	{ "IDEMPOTENCY_LOCK_STALE_SECONDS", V_LONG, OFF(idempotency_lock_stale_seconds), "60", 1, 86400 },
	{ "PROJECTION_USE_LISTEN_NOTIFY", V_BOOL, OFF(projection_listen_notify), "true", 0, 0 },
	{ "PROJECTION_POLL_INTERVAL_SECONDS", V_DOUBLE, OFF(projection_poll_interval), "5.0", 0.1, 3600 },
	{ "CORA_LISTEN", V_LISTEN, OFF(listen), NULL, 0, 0 },
	{ "CORA_STATUS_LISTEN", V_STATUS_LISTEN, OFF(status_listen), NULL, 0, 0 },
	{ "CORA_WORKERS", V_LONG, OFF(workers), NULL, 1, 1024 },
	{ "CORA_MAX_REQUESTS", V_LONG, OFF(max_requests), "0", 0, (double)LONG_MAX },
	{ "CORA_REQUEST_TIMEOUT_SECONDS", V_DOUBLE, OFF(request_timeout), "30", 0.1, 86400 },
	{ "CORA_WORKER_BATCH_SCHEDULING", V_BOOL, OFF(worker_batch), "true", 0, 0 },
	{ "CORA_ACCESS_LOG", V_BOOL, OFF(access_log), "false", 0, 0 },
	{ "CORA_SLOW_REQUEST_SECONDS", V_DOUBLE, OFF(slow_request), "0", 0, 86400 },
	{ "CORA_GRACEFUL_TIMEOUT_SECONDS", V_DOUBLE, OFF(graceful_timeout), "30", 0, 86400 },
	{ "CORA_RUNTIME_DIR", V_ABSPATH, OFF(runtime_dir), NULL, 0, 0 },
	{ "FCGI_WEB_SERVER_ADDRS", V_ADDRS, OFF(web_server_addrs), NULL, 0, 0 },
	{ "CORA_MCP_ALLOWED_ORIGINS", V_ORIGINS, OFF(mcp_allowed_origins), NULL, 0, 0 },
};

int
config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "1", "yes", "on" };
	static const char *const no[] = { "false", "0", "no", "off" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* Copies s without leading and trailing ASCII whitespace. */
static char *
trimmed_dup(const char *s)
{
	const char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	return xstrndup(s, (size_t)(end - s));
}

int
config_env_tier(const char *app_env)
{
	static const char *const production[] = { "prod", "production", "staging", NULL };
	static const char *const development[] = { "local", "dev", "development", "test",
	    "testing", "ci", NULL };
	char *t = trimmed_dup(app_env);
	int tier = -1;

	for (size_t i = 0; production[i] != NULL; i++)
		if (strcasecmp(t, production[i]) == 0)
			tier = 1;
	for (size_t i = 0; development[i] != NULL; i++)
		if (strcasecmp(t, development[i]) == 0)
			tier = 0;
	free(t);
	return tier;
}

bool
config_env_is_production(const char *app_env)
{
	return config_env_tier(app_env) == 1;
}

static bool
is_param_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

static bool
is_db_url(const char *s)
{
	if (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0)
		return true;
	/* libpq key=value: a keyword, '=' and no "://" scheme. */
	return strchr(s, '=') != NULL && strstr(s, "://") == NULL &&
	    isalpha((unsigned char)*s);
}

/* An OTLP endpoint: libcurl's own parser must find an http or https scheme
 * (none is guessed) and a host, so that the exporter never fails on every
 * batch for a typo. */
static bool
is_http_url(const char *s)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	bool ok;

	if (u == NULL)
		alloc_failed(0);
	ok = curl_url_set(u, CURLUPART_URL, s, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) && host[0] != '\0';
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

/* One origin as a browser sends it: http:// or https://, a host (a name,
 * an IPv4 address or an [IPv6] one) and an optional :port, n bytes. */
static bool
origin_valid(const char *s, size_t n)
{
	size_t i = strncasecmp(s, "https://", 8) == 0 ? 8 :
	    strncasecmp(s, "http://", 7) == 0 ? 7 : 0, host;

	if (i == 0)
		return false;
	host = i;
	if (i < n && s[i] == '[') {
		while (i < n && s[i] != ']' && (isxdigit((unsigned char)s[i]) || s[i] == ':' ||
		    s[i] == '[' || s[i] == '.'))
			i++;
		if (i >= n || s[i++] != ']')
			return false;
	} else
		while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '.'))
			i++;
	if (i == host)
		return false;
	if (i < n && s[i] == ':') {
		size_t port = ++i;

		while (i < n && isdigit((unsigned char)s[i]))
			i++;
		if (i == port || i - port > 5)
			return false;
	}
	return i == n;
}

/* The next entry of the comma-separated list at *s, without the blanks
 * around it: *entry and *len; false past the last. "a," ends with "". */
static bool
list_next(const char **s, const char **entry, size_t *len)
{
	size_t n, a = 0, b;

	if (*s == NULL)
		return false;
	n = strcspn(*s, ",");
	b = n;
	while (a < b && isspace((unsigned char)(*s)[a]))
		a++;
	while (b > a && isspace((unsigned char)(*s)[b - 1]))
		b--;
	*entry = *s + a;
	*len = b - a;
	*s = (*s)[n] == ',' ? *s + n + 1 : NULL;
	return true;
}

/* A CORA_MCP_ALLOWED_ORIGINS value: origins separated by commas, blanks
 * around each allowed; "" is none. */
static bool
origins_valid(const char *list)
{
	const char *e;
	size_t n;

	if (*list == '\0')
		return true;
	while (list_next(&list, &e, &n))
		if (!origin_valid(e, n))
			return false;
	return true;
}

bool
config_origin_allowed(const struct config *cfg, const char *origin)
{
	const char *list = cfg->mcp_allowed_origins, *e;
	size_t n;

	while (list_next(&list, &e, &n))
		if (n == strlen(origin) && strncasecmp(e, origin, n) == 0)
			return true;
	return false;
}

/*
 * Parses one value into the config. Returns NULL on success, or what is
 * allowed (for the error line).
 */
static const char *
parse_var(const struct var *v, const char *value, struct config *cfg,
    char *allowed, size_t alen)
{
	void *dst = (char *)cfg + v->offset;
	char *t = NULL, *end;
	const char *bad = NULL;

	switch (v->type) {
	case V_STR:
		*(char **)dst = xstrdup(value);
		break;
	case V_NONEMPTY:
	case V_OPTSTR:
	case V_HTTPURL:	/* checked once the exporter is known */
		t = trimmed_dup(value);
		if (v->type == V_NONEMPTY && t[0] == '\0')
			bad = "a non-empty string";
		else if (t[0] != '\0') {
			*(char **)dst = t;
			t = NULL;
		}
		break;
	case V_PARAM:
		t = trimmed_dup(value);
		if (!is_param_name(t))
			bad = "a FastCGI parameter name of letters, digits and _";
		else {
			*(char **)dst = t;
			t = NULL;
		}
		break;
	case V_DBURL:
		t = trimmed_dup(value);
		if (!is_db_url(t))
			bad = "a postgresql:// or postgres:// URL or a libpq key=value string";
		else {
			*(char **)dst = t;
			t = NULL;
		}
		break;
	case V_BOOL:
		t = trimmed_dup(value);
		if (config_parse_bool(t, (bool *)dst) != 0)
			bad = "true/false/1/0/yes/no/on/off";
		break;
	case V_LONG: {
		long n;

		t = trimmed_dup(value);
		errno = 0;
		n = strtol(t, &end, 10);
		if (t[0] == '\0' || *end != '\0' || errno != 0 || n < v->min || n > v->max) {
			if (v->max >= (double)LONG_MAX)
				snprintf(allowed, alen, "an integer >= %.0f", v->min);
			else
				snprintf(allowed, alen, "an integer from %.0f to %.0f", v->min, v->max);
			bad = allowed;
		} else
			*(long *)dst = n;
		break;
	}
	case V_DOUBLE: {
		double d;

		t = trimmed_dup(value);
		errno = 0;
		d = strtod(t, &end);
		if (t[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(d) ||
		    d < v->min || d > v->max) {
			snprintf(allowed, alen, "a number from %g to %g", v->min, v->max);
			bad = allowed;
		} else
			*(double *)dst = d;
		break;
	}
	case V_APPENV:
		if (config_env_tier(value) < 0)
			bad = "prod, production or staging (the production tier), or local, dev, "
			    "development, test, testing or ci";
		else
			*(char **)dst = trimmed_dup(value);
		break;
	case V_LOGLEVEL: {
		int l;

		t = trimmed_dup(value);
		if ((l = log_level_parse(t)) < 0)
			bad = "DEBUG, INFO, WARNING or ERROR";
		else
			*(enum log_level *)dst = (enum log_level)l;
		break;
	}
	case V_POOLMODE:
		t = trimmed_dup(value);
		if (strcasecmp(t, "session") == 0)
			*(bool *)dst = false;
		else if (strcasecmp(t, "transaction") == 0)
			*(bool *)dst = true;
		else
			bad = "session or transaction (a PgBouncer pool in transaction mode)";
		break;
	case V_EXPORTER:
		t = trimmed_dup(value);
		if (strcasecmp(t, "none") == 0)
			*(enum otel_exporter *)dst = OTEL_NONE;
		else if (strcasecmp(t, "console") == 0)
			*(enum otel_exporter *)dst = OTEL_CONSOLE;
		else if (strcasecmp(t, "otlp") == 0)
			*(enum otel_exporter *)dst = OTEL_OTLP;
		else
			bad = "none, console or otlp";
		break;
	case V_LISTEN:
	case V_STATUS_LISTEN: {
		struct listen_addr la;
		char why[160];

		t = trimmed_dup(value);
		if (v->type == V_STATUS_LISTEN && strcasecmp(t, "off") == 0) {
			*(char **)dst = xstrdup("off");
		} else if (listen_parse(t, &la, why, sizeof(why)) != 0) {
			snprintf(allowed, alen, "%sunix:/absolute/path or host:port (%s)",
			    v->type == V_STATUS_LISTEN ? "off, " : "", why);
			bad = allowed;
		} else {
			*(char **)dst = t;
			t = NULL;
		}
		break;
	}
	case V_ADDRS: {
		struct listen_allow la;
		char why[160];

		t = trimmed_dup(value);
		if (listen_allow_parse(t, &la, why, sizeof(why)) != 0) {
			snprintf(allowed, alen, "comma-separated IPv4 or IPv6 addresses (%s)", why);
			bad = allowed;
		} else if (t[0] != '\0') {
			*(char **)dst = t;
			t = NULL;
		}
		break;
	}
	case V_ORIGINS:
		t = trimmed_dup(value);
		if (!origins_valid(t))
			bad = "comma-separated origins, each http:// or https:// and a host, "
			    "with an optional :port and nothing after it";
		else if (t[0] != '\0') {
			*(char **)dst = t;
			t = NULL;
		}
		break;
	case V_ABSPATH:
		t = trimmed_dup(value);
		if (t[0] != '/' || strlen(t) > 80)
			bad = "an absolute directory path of at most 80 characters";
		else {
			*(char **)dst = t;
			t = NULL;
		}
		break;
	}
	free(t);
	return bad;
}

static long
default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	return n * 2 > 1024 ? 1024 : n * 2;
}

/* Fills err for a refused value, without what may be a secret in it, and
 * frees what was loaded; returns -1. */
static int
reject(struct config *cfg, struct config_error *err, const struct var *v, const char *value,
    const char *bad)
{
	snprintf(err->variable, sizeof(err->variable), "%s", v->name);
	if ((v->type == V_DBURL || v->type == V_HTTPURL) && strstr(value, "://") != NULL) {
		/* A connection URL may hold a password. */
		char *shown = url_redact(value);

		snprintf(err->value, sizeof(err->value), "%s", shown);
		free(shown);
	} else if (v->type == V_DBURL && strcasestr(value, "password") != NULL)
		snprintf(err->value, sizeof(err->value), "(not shown: it holds a password)");
	else if (v->type == V_HTTPURL && strchr(value, '@') != NULL)
		snprintf(err->value, sizeof(err->value), "(not shown: it may hold a password)");
	else
		snprintf(err->value, sizeof(err->value), "%s", value);
	snprintf(err->allowed, sizeof(err->allowed), "%s", bad);
	snprintf(err->message, sizeof(err->message),
	    "%s='%s' is invalid: allowed is %s", v->name, err->value, bad);
	config_free(cfg);
	return -1;
}

int
config_load(struct config *cfg, config_lookup_fn lookup, void *ctx,
    char *err, size_t errlen)
{
	struct config_error e;

	if (config_load_detailed(cfg, lookup, ctx, &e) == 0)
		return 0;
	snprintf(err, errlen, "%s", e.message);
	return -1;
}

int
config_load_detailed(struct config *cfg, config_lookup_fn lookup, void *ctx,
    struct config_error *err)
{
	char allowed[256];

	memset(cfg, 0, sizeof(*cfg));
	cfg->workers = default_workers();

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const struct var *v = &vars[i];
		const char *value = lookup(ctx, v->name);
		const char *bad;
		bool given = value != NULL;

		if (!given)
			value = v->def;
		if (!given && (strcmp(v->name, "DATABASE_OWNER_URL") == 0 ||
		    strcmp(v->name, "PROJECTOR_DATABASE_URL") == 0))
			value = cfg->database_url;
		if (!given && strcmp(v->name, "CORA_RUNTIME_DIR") == 0) {
			/* systemd's RuntimeDirectory= sets this. */
			value = lookup(ctx, "RUNTIME_DIRECTORY");
			if (value == NULL || value[0] != '/')
				value = "/run/corad";
		}
		if (value == NULL)
			continue;
		if ((bad = parse_var(v, value, cfg, allowed, sizeof(allowed))) != NULL)
			return reject(cfg, err, v, value, bad);
	}
	/* The OTLP endpoints matter only to the OTLP exporter: other software
	 * on the host may set these standard variables for exporters of its
	 * own (gRPC's host:port among them). */
	for (size_t i = 0; cfg->otel_exporter == OTEL_OTLP && i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *url = vars[i].type == V_HTTPURL ?
		    *(char **)((char *)cfg + vars[i].offset) : NULL;

		if (url != NULL && !is_http_url(url))
			return reject(cfg, err, &vars[i], url,
			    "an http:// or https:// URL with a host (OTEL_EXPORTER=otlp)");
	}
	/* The status child's socket is one of its own. */
	if (cfg->status_listen != NULL && cfg->listen != NULL &&
	    strcmp(cfg->status_listen, cfg->listen) == 0) {
		for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
			if (vars[i].type == V_STATUS_LISTEN)
				return reject(cfg, err, &vars[i], cfg->status_listen,
				    "off, or a socket other than CORA_LISTEN's");
	}
	cfg->production = config_env_is_production(cfg->app_env);
	return 0;
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		switch (vars[i].type) {
		case V_STR: case V_APPENV: case V_NONEMPTY: case V_OPTSTR: case V_PARAM:
		case V_DBURL: case V_LISTEN: case V_STATUS_LISTEN: case V_ABSPATH: case V_ADDRS:
		case V_HTTPURL:
		case V_ORIGINS: {
			char **p = (char **)((char *)cfg + vars[i].offset);

			free(*p);
			*p = NULL;
			break;
		}
		default:
			break;
		}
	}
}

/* --- the environment and --env-file ------------------------------------ */

struct env_pair {
	char	*key;
	char	*value;
};

struct env_source {
	struct env_pair	*pairs;
	size_t		 n;
};

static bool
is_env_key(const char *s, size_t len)
{
	if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

static int
env_source_add_line(struct env_source *src, char *line)
{
	char *p = line, *eq, *val, *end;
	struct env_pair *np;

	while (isspace((unsigned char)*p))
		p++;
	end = p + strlen(p);
	while (end > p && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (*p == '\0' || *p == '#')
		return 0;
	if (strncmp(p, "export ", 7) == 0)
		for (p += 7; isspace((unsigned char)*p); p++)
			;
	if ((eq = strchr(p, '=')) == NULL)
		return -1;
	end = eq;
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	if (!is_env_key(p, (size_t)(end - p)))
		return -1;
	*end = '\0';
	val = eq + 1;
	while (isspace((unsigned char)*val))
		val++;
	{
		size_t vl = strlen(val);

		if (vl >= 2 && (val[0] == '"' || val[0] == '\'') && val[vl - 1] == val[0]) {
			val[vl - 1] = '\0';
			val++;
		}
	}
	np = src->pairs = xrealloc(src->pairs, (src->n + 1) * sizeof(*np));
	np[src->n].key = xstrdup(p);
	np[src->n].value = xstrdup(val);
	src->n++;
	return 0;
}

struct env_source *
env_source_new(const char *env_file, char *err, size_t errlen)
{
	struct env_source *src = xcalloc(1, sizeof(*src));
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;

	if (env_file == NULL)
		return src;
	if ((f = fopen(env_file, "r")) == NULL) {
		snprintf(err, errlen, "--env-file %s: %s", env_file, strerror(errno));
		env_source_free(src);
		return NULL;
	}
	while (getline(&line, &cap, f) != -1) {
		lineno++;
		if (env_source_add_line(src, line) != 0) {
			snprintf(err, errlen, "--env-file %s line %u: expected KEY=VALUE",
			    env_file, lineno);
			env_source_free(src);
			src = NULL;
			break;
		}
	}
	free(line);
	fclose(f);
	return src;
}

const char *
env_source_lookup(void *ctx, const char *name)
{
	struct env_source *src = ctx;
	const char *v = getenv(name);

	if (v != NULL || src == NULL)
		return v;
	/* The last assignment in the file wins, as in a shell. */
	for (size_t i = src->n; i > 0; i--)
		if (strcmp(src->pairs[i - 1].key, name) == 0)
			return src->pairs[i - 1].value;
	return NULL;
}

void
env_source_free(struct env_source *src)
{
	if (src == NULL)
		return;
	for (size_t i = 0; i < src->n; i++) {
		free(src->pairs[i].key);
		free(src->pairs[i].value);
	}
	free(src->pairs);
	free(src);
}

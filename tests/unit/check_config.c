/* check_config: the environment variables and the --env-file reader. */
#include <check.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corad/config.h"
#include "corad/log.h"
#include "tap_main.h"

#define MAX_VARS	8
#define DEFAULT_DB	"postgresql://cora:cora@localhost:5432/cora"

/* The lookup table a test hands to config_load(). */
struct vars {
	const char	*name[MAX_VARS];
	const char	*value[MAX_VARS];
	size_t		 n;
	unsigned	 lookups;
};

static const char *
vars_lookup(void *ctx, const char *name)
{
	struct vars	*v = ctx;
	size_t		 i;

	v->lookups++;
	for (i = 0; i < v->n; i++)
		if (strcmp(v->name[i], name) == 0)
			return v->value[i];
	return NULL;
}

static void
vars_set(struct vars *v, const char *name, const char *value)
{
	ck_assert_uint_lt(v->n, MAX_VARS);
	v->name[v->n] = name;
	v->value[v->n] = value;
	v->n++;
}

/* Loads with one variable set; fails the test unless the load succeeds. */
static void
load_ok1(struct config *cfg, const char *name, const char *value)
{
	struct vars	v;
	char		err[512] = "";

	memset(&v, 0, sizeof v);
	vars_set(&v, name, value);
	ck_assert_msg(config_load(cfg, vars_lookup, &v, err, sizeof err) == 0,
	    "%s=\"%s\" rejected: %s", name, value, err);
}

static void
load_ok2(struct config *cfg, const char *n1, const char *v1, const char *n2,
    const char *v2)
{
	struct vars	v;
	char		err[512] = "";

	memset(&v, 0, sizeof v);
	vars_set(&v, n1, v1);
	vars_set(&v, n2, v2);
	ck_assert_msg(config_load(cfg, vars_lookup, &v, err, sizeof err) == 0,
	    "%s=\"%s\" %s=\"%s\" rejected: %s", n1, v1, n2, v2, err);
}

/* Case-insensitive strstr, without relying on _GNU_SOURCE. */
static bool
contains_ci(const char *hay, const char *needle)
{
	size_t	i, n = strlen(needle);

	for (; *hay != '\0'; hay++) {
		for (i = 0; i < n; i++)
			if (hay[i] == '\0' || tolower((unsigned char)hay[i]) !=
			    tolower((unsigned char)needle[i]))
				break;
		if (i == n)
			return true;
	}
	return n == 0;
}

/* ---- defaults ---- */

START_TEST(test_defaults)
{
	struct vars	v;
	struct config	cfg;
	char		err[512] = "";
	long		ncpu;

	memset(&v, 0, sizeof v);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	ck_assert_int_gt(ncpu, 0);
	ck_assert_msg(config_load(&cfg, vars_lookup, &v, err, sizeof err) == 0,
	    "defaults rejected: %s", err);
	ck_assert_uint_gt(v.lookups, 0);
	ck_assert_str_eq(cfg.app_env, "local");
	ck_assert(!cfg.production);
	ck_assert_int_eq(cfg.log_level, LOG_INFO);
	ck_assert_str_eq(cfg.database_url, DEFAULT_DB);
	ck_assert_str_eq(cfg.database_owner_url, DEFAULT_DB);
	ck_assert_int_eq(cfg.max_body, 1048576);
	ck_assert(!cfg.require_principal);
	ck_assert_str_eq(cfg.principal_param, "CORA_PRINCIPAL_ID");
	ck_assert_ptr_null(cfg.authz_policy_file);
	ck_assert(!cfg.allow_permissive_authz);
	ck_assert_int_eq(cfg.otel_exporter, OTEL_NONE);
	ck_assert_str_eq(cfg.otel_service_name, "cora-api");
	ck_assert_double_eq_tol(cfg.otel_sampler_ratio, 1.0, 1e-9);
	ck_assert_int_eq(cfg.idempotency_ttl_hours, 24);
	ck_assert_int_eq(cfg.idempotency_lock_stale_seconds, 60);
	ck_assert(cfg.projection_listen_notify);
	ck_assert_double_eq_tol(cfg.projection_poll_interval, 5.0, 1e-9);
	ck_assert_ptr_null(cfg.listen);
	ck_assert_int_eq(cfg.workers, 2 * ncpu);
	ck_assert_int_eq(cfg.max_requests, 0);
	ck_assert_double_eq_tol(cfg.request_timeout, 30.0, 1e-9);
	ck_assert_double_eq_tol(cfg.graceful_timeout, 30.0, 1e-9);
	config_free(&cfg);
}
END_TEST

/* ---- accepted values ---- */

START_TEST(test_app_env_production)
{
	static const char *const prod[] = { "prod", "production", "staging",
	    "PROD", "Production", "STAGING", "  PROD ", "\tstaging\n" };
	static const char *const other[] = { "development", "local", "test",
	    "dev", "Testing", " CI " };
	static const char *const refused[] = { "prodd", "prods", "pre-production", "",
	    "stage", "production2" };
	struct config	cfg;
	size_t		i;

	for (i = 0; i < sizeof prod / sizeof prod[0]; i++) {
		load_ok1(&cfg, "APP_ENV", prod[i]);
		ck_assert_msg(cfg.production, "APP_ENV=\"%s\" not production",
		    prod[i]);
		config_free(&cfg);
	}
	for (i = 0; i < sizeof other / sizeof other[0]; i++) {
		load_ok1(&cfg, "APP_ENV", other[i]);
		ck_assert_msg(!cfg.production, "APP_ENV=\"%s\" is production",
		    other[i]);
		config_free(&cfg);
	}
	/* A typo is an error, not a quiet way out of the production gates. */
	for (i = 0; i < sizeof refused / sizeof refused[0]; i++)
		ck_assert_int_eq(config_env_tier(refused[i]), -1);
}
END_TEST

START_TEST(test_env_is_production)
{
	ck_assert(config_env_is_production("prod"));
	ck_assert(config_env_is_production("production"));
	ck_assert(config_env_is_production("staging"));
	ck_assert(config_env_is_production("PrOd"));
	ck_assert(config_env_is_production("  PROD "));
	ck_assert(config_env_is_production(" Staging"));
	ck_assert(!config_env_is_production("development"));
	ck_assert(!config_env_is_production("local"));
	ck_assert(!config_env_is_production(""));
	ck_assert(!config_env_is_production("   "));
	ck_assert(!config_env_is_production("pro"));
	ck_assert(!config_env_is_production("prod1"));
	ck_assert(!config_env_is_production("p rod"));
	ck_assert(!config_env_is_production("productionx"));
}
END_TEST

START_TEST(test_parse_bool)
{
	static const char *const yes[] = { "true", "TRUE", "True", "1", "yes",
	    "YES", "Yes", "on", "ON", "On" };
	static const char *const no[] = { "false", "FALSE", "False", "0", "no",
	    "NO", "No", "off", "OFF", "Off" };
	static const char *const bad[] = { "maybe", "", "2", "tru", "truex",
	    "yess", "onn", "of", "-1", "01", "y", "n" };
	bool	b;
	size_t	i;

	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		b = false;
		ck_assert_msg(config_parse_bool(yes[i], &b) == 0,
		    "\"%s\" rejected", yes[i]);
		ck_assert_msg(b, "\"%s\" parsed as false", yes[i]);
	}
	for (i = 0; i < sizeof no / sizeof no[0]; i++) {
		b = true;
		ck_assert_msg(config_parse_bool(no[i], &b) == 0,
		    "\"%s\" rejected", no[i]);
		ck_assert_msg(!b, "\"%s\" parsed as true", no[i]);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(config_parse_bool(bad[i], &b) != 0,
		    "\"%s\" accepted as a boolean", bad[i]);
}
END_TEST

START_TEST(test_bool_vars)
{
	struct config	cfg;

	load_ok2(&cfg, "REQUIRE_AUTHENTICATED_PRINCIPAL", "YES",
	    "PROJECTION_USE_LISTEN_NOTIFY", "Off");
	ck_assert(cfg.require_principal);
	ck_assert(!cfg.projection_listen_notify);
	config_free(&cfg);

	load_ok2(&cfg, "REQUIRE_AUTHENTICATED_PRINCIPAL", "on",
	    "ALLOW_PERMISSIVE_AUTHZ", "1");
	ck_assert(cfg.require_principal);
	ck_assert(cfg.allow_permissive_authz);
	config_free(&cfg);

	load_ok2(&cfg, "REQUIRE_AUTHENTICATED_PRINCIPAL", "false",
	    "PROJECTION_USE_LISTEN_NOTIFY", "0");
	ck_assert(!cfg.require_principal);
	ck_assert(!cfg.projection_listen_notify);
	config_free(&cfg);
}
END_TEST

START_TEST(test_log_level)
{
	struct config	cfg;

	load_ok1(&cfg, "LOG_LEVEL", "debug");
	ck_assert_int_eq(cfg.log_level, LOG_DEBUG);
	config_free(&cfg);
	load_ok1(&cfg, "LOG_LEVEL", "WARNING");
	ck_assert_int_eq(cfg.log_level, LOG_WARNING);
	config_free(&cfg);
	load_ok1(&cfg, "LOG_LEVEL", "Error");
	ck_assert_int_eq(cfg.log_level, LOG_ERROR);
	config_free(&cfg);
	load_ok1(&cfg, "LOG_LEVEL", "INFO");
	ck_assert_int_eq(cfg.log_level, LOG_INFO);
	config_free(&cfg);
}
END_TEST

START_TEST(test_otel)
{
	struct config	cfg;

	load_ok2(&cfg, "OTEL_EXPORTER", "otlp", "OTEL_SERVICE_NAME", "svc");
	ck_assert_int_eq(cfg.otel_exporter, OTEL_OTLP);
	ck_assert_str_eq(cfg.otel_service_name, "svc");
	config_free(&cfg);
	load_ok1(&cfg, "OTEL_EXPORTER", "console");
	ck_assert_int_eq(cfg.otel_exporter, OTEL_CONSOLE);
	config_free(&cfg);
	load_ok1(&cfg, "OTEL_EXPORTER", "none");
	ck_assert_int_eq(cfg.otel_exporter, OTEL_NONE);
	config_free(&cfg);

	load_ok2(&cfg, "OTEL_EXPORTER_OTLP_ENDPOINT", " HTTPS://collector.example:4318/ ",
	    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://[::1]:4318/v1/traces");
	ck_assert_str_eq(cfg.otlp_endpoint, "HTTPS://collector.example:4318/");
	ck_assert_str_eq(cfg.otlp_traces_endpoint, "http://[::1]:4318/v1/traces");
	config_free(&cfg);
	load_ok1(&cfg, "OTEL_EXPORTER_OTLP_ENDPOINT", "");
	ck_assert_ptr_null(cfg.otlp_endpoint);
	config_free(&cfg);

	load_ok1(&cfg, "OTEL_SAMPLER_RATIO", "0");
	ck_assert_double_eq_tol(cfg.otel_sampler_ratio, 0.0, 1e-12);
	config_free(&cfg);
	load_ok1(&cfg, "OTEL_SAMPLER_RATIO", "1");
	ck_assert_double_eq_tol(cfg.otel_sampler_ratio, 1.0, 1e-12);
	config_free(&cfg);
	load_ok1(&cfg, "OTEL_SAMPLER_RATIO", "0.25");
	ck_assert_double_eq_tol(cfg.otel_sampler_ratio, 0.25, 1e-12);
	config_free(&cfg);
}
END_TEST

/* With OTEL_EXPORTER=otlp an endpoint is an http(s) URL with a host, no
 * scheme guessed; with another exporter it is not looked at (other
 * software sets these variables for exporters of its own). */
static const struct {
	const char	*name;
	const char	*value;
	const char	*shown;		/* in the message */
} bad_endpoints[] = {
	{ "OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318", "'localhost:4318'" },
	{ "OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector", "'ftp://collector/'" },
	{ "OTEL_EXPORTER_OTLP_ENDPOINT", "http://", "'(not a URL)'" },
	{ "OTEL_EXPORTER_OTLP_ENDPOINT", "//collector:4318", "'//collector:4318'" },
	{ "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector/v1/traces", "'collector/v1/traces'" },
	{ "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "grpc://collector:4317", "'grpc://collector:4317/'" },
	{ "OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://u:s3cret@collector/", "'ftp://collector/'" },
	{ "OTEL_EXPORTER_OTLP_ENDPOINT", "apikey:s3cret@collector:4318",
	  "'(not shown: it may hold a password)'" },
};

START_TEST(test_otlp_endpoints)
{
	struct config cfg;
	char err[512];
	struct vars v;

	memset(&v, 0, sizeof v);
	vars_set(&v, "OTEL_EXPORTER", "otlp");
	vars_set(&v, bad_endpoints[_i].name, bad_endpoints[_i].value);
	ck_assert_int_eq(config_load(&cfg, vars_lookup, &v, err, sizeof err), -1);
	ck_assert_msg(strstr(err, bad_endpoints[_i].name) != NULL, "%s", err);
	ck_assert_msg(strstr(err, bad_endpoints[_i].shown) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "http:// or https:// URL with a host") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "s3cret") == NULL, "a password in the message: %s", err);

	memset(&v, 0, sizeof v);
	vars_set(&v, "OTEL_EXPORTER", "console");
	vars_set(&v, bad_endpoints[_i].name, bad_endpoints[_i].value);
	ck_assert_msg(config_load(&cfg, vars_lookup, &v, err, sizeof err) == 0, "%s", err);
	config_free(&cfg);
}
END_TEST

/* CORA_MCP_ALLOWED_ORIGINS: which browser origins may call the tools. */
START_TEST(test_mcp_origins)
{
	struct config cfg;

	load_ok1(&cfg, "CORA_MCP_ALLOWED_ORIGINS",
	    " https://app.example , http://localhost:8080,https://[::1]:4430 ");
	ck_assert(config_origin_allowed(&cfg, "https://app.example"));
	ck_assert(config_origin_allowed(&cfg, "HTTPS://APP.example"));
	ck_assert(config_origin_allowed(&cfg, "http://localhost:8080"));
	ck_assert(config_origin_allowed(&cfg, "https://[::1]:4430"));
	ck_assert(!config_origin_allowed(&cfg, "https://app.example:443"));
	ck_assert(!config_origin_allowed(&cfg, "http://app.example"));
	ck_assert(!config_origin_allowed(&cfg, "https://evil.example"));
	ck_assert(!config_origin_allowed(&cfg, "null"));
	ck_assert(!config_origin_allowed(&cfg, ""));
	config_free(&cfg);
	load_ok1(&cfg, "CORA_MCP_ALLOWED_ORIGINS", "");
	ck_assert_ptr_null(cfg.mcp_allowed_origins);
	ck_assert(!config_origin_allowed(&cfg, "https://app.example"));
	config_free(&cfg);
}
END_TEST

START_TEST(test_numbers)
{
	struct config	cfg;

	load_ok1(&cfg, "CORA_WORKERS", "8");
	ck_assert_int_eq(cfg.workers, 8);
	config_free(&cfg);
	load_ok1(&cfg, "CORA_WORKERS", "1");
	ck_assert_int_eq(cfg.workers, 1);
	config_free(&cfg);
	load_ok1(&cfg, "CORA_WORKERS", "1024");
	ck_assert_int_eq(cfg.workers, 1024);
	config_free(&cfg);

	load_ok1(&cfg, "MAX_REQUEST_BODY_SIZE_BYTES", "10");
	ck_assert_int_eq(cfg.max_body, 10);
	config_free(&cfg);
	load_ok1(&cfg, "MAX_REQUEST_BODY_SIZE_BYTES", "1");
	ck_assert_int_eq(cfg.max_body, 1);
	config_free(&cfg);

	load_ok2(&cfg, "IDEMPOTENCY_TTL_HOURS", "0",
	    "IDEMPOTENCY_LOCK_STALE_SECONDS", "1");
	ck_assert_int_eq(cfg.idempotency_ttl_hours, 0);
	ck_assert_int_eq(cfg.idempotency_lock_stale_seconds, 1);
	config_free(&cfg);

	load_ok1(&cfg, "PROJECTION_POLL_INTERVAL_SECONDS", "0.1");
	ck_assert_double_eq_tol(cfg.projection_poll_interval, 0.1, 1e-12);
	config_free(&cfg);
	load_ok1(&cfg, "PROJECTION_POLL_INTERVAL_SECONDS", "2.5");
	ck_assert_double_eq_tol(cfg.projection_poll_interval, 2.5, 1e-12);
	config_free(&cfg);

	load_ok2(&cfg, "CORA_MAX_REQUESTS", "1000",
	    "CORA_REQUEST_TIMEOUT_SECONDS", "2.5");
	ck_assert_int_eq(cfg.max_requests, 1000);
	ck_assert_double_eq_tol(cfg.request_timeout, 2.5, 1e-12);
	config_free(&cfg);
	load_ok1(&cfg, "CORA_GRACEFUL_TIMEOUT_SECONDS", "5");
	ck_assert_double_eq_tol(cfg.graceful_timeout, 5.0, 1e-12);
	config_free(&cfg);
}
END_TEST

START_TEST(test_database_urls)
{
	struct config	cfg;

	load_ok1(&cfg, "DATABASE_URL", "postgres://u:p@db:5433/x");
	ck_assert_str_eq(cfg.database_url, "postgres://u:p@db:5433/x");
	ck_assert_str_eq(cfg.database_owner_url, "postgres://u:p@db:5433/x");
	config_free(&cfg);

	load_ok1(&cfg, "DATABASE_URL", "host=/tmp dbname=cora");
	ck_assert_str_eq(cfg.database_url, "host=/tmp dbname=cora");
	ck_assert_str_eq(cfg.database_owner_url, "host=/tmp dbname=cora");
	config_free(&cfg);

	load_ok2(&cfg, "DATABASE_URL", "postgresql://app@h/cora",
	    "DATABASE_OWNER_URL", "postgresql://owner@h/cora");
	ck_assert_str_eq(cfg.database_url, "postgresql://app@h/cora");
	ck_assert_str_eq(cfg.database_owner_url, "postgresql://owner@h/cora");
	config_free(&cfg);
}
END_TEST

START_TEST(test_listen_accepted)
{
	static const char *const ok[] = { "unix:/tmp/x.sock", "127.0.0.1:9000",
	    "[::1]:9000", "localhost:9000", "0.0.0.0:1", "127.0.0.1:65535" };
	struct config	cfg;
	size_t		i;

	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		load_ok1(&cfg, "CORA_LISTEN", ok[i]);
		ck_assert_pstr_eq(cfg.listen, ok[i]);
		config_free(&cfg);
		load_ok1(&cfg, "CORA_STATUS_LISTEN", ok[i]);
		ck_assert_pstr_eq(cfg.status_listen, ok[i]);
		config_free(&cfg);
	}
	/* Not the pool's own socket. */
	{
		struct vars v = { 0 };
		struct config_error err;

		vars_set(&v, "CORA_LISTEN", "unix:/tmp/x.sock");
		vars_set(&v, "CORA_STATUS_LISTEN", "unix:/tmp/x.sock");
		ck_assert_int_ne(config_load_detailed(&cfg, vars_lookup, &v, &err), 0);
		ck_assert_str_eq(err.variable, "CORA_STATUS_LISTEN");
		ck_assert_ptr_nonnull(strstr(err.allowed, "other than CORA_LISTEN"));
	}
	/* The status socket may be turned off; unset, serve makes its own. */
	load_ok1(&cfg, "CORA_STATUS_LISTEN", " OFF ");
	ck_assert_pstr_eq(cfg.status_listen, "off");
	config_free(&cfg);
	load_ok1(&cfg, "LOG_LEVEL", "INFO");
	ck_assert_ptr_null(cfg.status_listen);
	config_free(&cfg);
}
END_TEST

START_TEST(test_principal_param)
{
	struct config	cfg;

	load_ok1(&cfg, "CORA_PRINCIPAL_PARAM", "CORA_PRINCIPAL_ID");
	ck_assert_str_eq(cfg.principal_param, "CORA_PRINCIPAL_ID");
	config_free(&cfg);
}
END_TEST

START_TEST(test_strings_are_copies)
{
	struct vars	v;
	struct config	cfg;
	char		err[256] = "";
	char		url[64], name[32];

	strcpy(url, "postgresql://a@b/c");
	strcpy(name, "svc-a");
	memset(&v, 0, sizeof v);
	vars_set(&v, "DATABASE_URL", url);
	vars_set(&v, "OTEL_SERVICE_NAME", name);
	ck_assert_int_eq(config_load(&cfg, vars_lookup, &v, err, sizeof err), 0);
	memset(url, 'X', sizeof url - 1);
	memset(name, 'X', sizeof name - 1);
	ck_assert_str_eq(cfg.database_url, "postgresql://a@b/c");
	ck_assert_str_eq(cfg.otel_service_name, "svc-a");
	config_free(&cfg);
}
END_TEST

/* ---- rejected values ---- */

struct reject_case {
	const char	*name;
	const char	*value;
	const char	*allowed[5];	/* words the message must contain */
};

static const struct reject_case rejects[] = {
	{ "CORA_WORKERS", "abc", { "1024" } },
	{ "CORA_WORKERS", "0", { "1024" } },
	{ "CORA_WORKERS", "100000", { "1024" } },
	{ "CORA_WORKERS", "12abc", { "1024" } },
	{ "CORA_WORKERS", "-3", { "1024" } },
	{ "CORA_WORKERS", "", { "1024" } },
	{ "MAX_REQUEST_BODY_SIZE_BYTES", "0", { NULL } },
	{ "MAX_REQUEST_BODY_SIZE_BYTES", "-5", { NULL } },
	{ "MAX_REQUEST_BODY_SIZE_BYTES", "1k", { NULL } },
	{ "MAX_REQUEST_BODY_SIZE_BYTES", "99999999999999999999999", { NULL } },
	{ "OTEL_SAMPLER_RATIO", "1.5", { NULL } },
	{ "OTEL_SAMPLER_RATIO", "-0.1", { NULL } },
	{ "OTEL_SAMPLER_RATIO", "0.5x", { NULL } },
	{ "OTEL_SAMPLER_RATIO", "abc", { NULL } },
	{ "APP_ENV", "prodd", { "prod", "production", "staging", "local", "ci" } },
	{ "APP_ENV", "", { "prod", "local" } },
	{ "LOG_LEVEL", "TRACE", { "DEBUG", "INFO", "WARNING", "ERROR" } },
	{ "LOG_LEVEL", "", { "DEBUG", "INFO", "WARNING", "ERROR" } },
	{ "OTEL_EXPORTER", "jaeger", { "none", "console", "otlp" } },
	{ "IDEMPOTENCY_LOCK_STALE_SECONDS", "0", { NULL } },
	{ "IDEMPOTENCY_LOCK_STALE_SECONDS", "x", { NULL } },
	{ "IDEMPOTENCY_TTL_HOURS", "abc", { NULL } },
	{ "PROJECTION_POLL_INTERVAL_SECONDS", "0.05", { "0.1" } },
	{ "PROJECTION_POLL_INTERVAL_SECONDS", "fast", { "0.1" } },
	{ "DATABASE_URL", "mysql://x", { "postgres" } },
	{ "DATABASE_URL", "postgres:/db", { "postgres" } },
	{ "DATABASE_URL", "postgresx://h/db", { "postgres" } },
	{ "DATABASE_URL", "cora", { "postgres" } },
	{ "DATABASE_URL", "http://h/db", { "postgres" } },
	{ "DATABASE_OWNER_URL", "mysql://x", { "postgres" } },
	{ "CORA_LISTEN", "unix:relative", { NULL } },
	{ "CORA_LISTEN", "127.0.0.1:0", { NULL } },
	{ "CORA_LISTEN", "127.0.0.1:70000", { NULL } },
	{ "CORA_LISTEN", "nonsense", { NULL } },
	{ "CORA_LISTEN", "off", { NULL } },
	{ "CORA_STATUS_LISTEN", "unix:relative", { "off", "unix:" } },
	{ "CORA_STATUS_LISTEN", "no", { "off", "unix:" } },
	{ "CORA_PRINCIPAL_PARAM", "", { NULL } },
	{ "REQUIRE_AUTHENTICATED_PRINCIPAL", "maybe", { "true", "false" } },
	{ "REQUIRE_AUTHENTICATED_PRINCIPAL", "", { "true", "false" } },
	{ "PROJECTION_USE_LISTEN_NOTIFY", "maybe", { "true", "false" } },
	{ "ALLOW_PERMISSIVE_AUTHZ", "2", { "true", "false" } },
	{ "CORA_MAX_REQUESTS", "abc", { NULL } },
	{ "CORA_REQUEST_TIMEOUT_SECONDS", "abc", { NULL } },
	{ "CORA_GRACEFUL_TIMEOUT_SECONDS", "abc", { NULL } },
	/* Origins as browsers send them: a scheme, a host, a port, no more. */
	{ "CORA_MCP_ALLOWED_ORIGINS", "app.example", { "http://", "https://" } },
	{ "CORA_MCP_ALLOWED_ORIGINS", "https://app.example/", { "nothing after" } },
	{ "CORA_MCP_ALLOWED_ORIGINS", "https://app.example, ", { "comma-separated" } },
	{ "CORA_MCP_ALLOWED_ORIGINS", "https://u@app.example", { "origins" } },
	{ "CORA_MCP_ALLOWED_ORIGINS", "ftp://app.example", { "origins" } },
	{ "CORA_MCP_ALLOWED_ORIGINS", "https://app.example:123456", { "port" } },
	{ "CORA_MCP_ALLOWED_ORIGINS", "null", { "origins" } },
};

START_TEST(test_reject)
{
	const struct reject_case	*c = &rejects[_i];
	struct vars			 v;
	struct config			 cfg;
	char				 err[512];
	size_t				 i;
	int				 rc;

	memset(&v, 0, sizeof v);
	vars_set(&v, c->name, c->value);
	memset(err, 0, sizeof err);
	rc = config_load(&cfg, vars_lookup, &v, err, sizeof err);
	if (rc == 0) {
		config_free(&cfg);
		ck_abort_msg("%s=\"%s\" accepted", c->name, c->value);
	}
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(err[0] != '\0', "%s=\"%s\": empty message", c->name,
	    c->value);
	ck_assert_msg(strchr(err, '\n') == NULL, "message is not one line: %s",
	    err);
	ck_assert_msg(strstr(err, c->name) != NULL,
	    "message does not name %s: %s", c->name, err);
	ck_assert_msg(strstr(err, c->value) != NULL,
	    "message does not quote \"%s\": %s", c->value, err);
	for (i = 0; i < sizeof c->allowed / sizeof c->allowed[0] &&
	    c->allowed[i] != NULL; i++)
		ck_assert_msg(contains_ci(err, c->allowed[i]),
		    "message does not say \"%s\" is allowed: %s",
		    c->allowed[i], err);
}
END_TEST

START_TEST(test_reject_small_errbuf)
{
	struct vars	v;
	struct config	cfg;
	struct {
		char	err[8];
		char	guard[64];
	} s;
	size_t		i;

	memset(&v, 0, sizeof v);
	vars_set(&v, "CORA_WORKERS", "abc");
	memset(&s, 'G', sizeof s);
	ck_assert_int_eq(config_load(&cfg, vars_lookup, &v, s.err,
	    sizeof s.err), -1);
	ck_assert_msg(memchr(s.err, '\0', sizeof s.err) != NULL,
	    "err not NUL-terminated within errlen");
	for (i = 0; i < sizeof s.guard; i++)
		ck_assert_msg(s.guard[i] == 'G', "config_load wrote past errlen");
}
END_TEST

START_TEST(test_reject_after_good_values)
{
	struct vars	v;
	struct config	cfg;
	char		err[512] = "";

	/* strings already copied must be released, and no error hidden */
	memset(&v, 0, sizeof v);
	vars_set(&v, "APP_ENV", "staging");
	vars_set(&v, "DATABASE_URL", "postgresql://a@b/c");
	vars_set(&v, "OTEL_SERVICE_NAME", "svc");
	vars_set(&v, "CORA_LISTEN", "unix:/tmp/x.sock");
	vars_set(&v, "CORA_GRACEFUL_TIMEOUT_SECONDS", "soon");
	ck_assert_int_eq(config_load(&cfg, vars_lookup, &v, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "CORA_GRACEFUL_TIMEOUT_SECONDS") != NULL,
	    "wrong variable blamed: %s", err);
}
END_TEST

/* ---- env file ---- */

/* Writes `content` to a new temporary file; its name goes to path. */
static void
write_temp(char *path, size_t len, const char *content)
{
	const char	*dir;
	int		 fd;
	size_t		 n;
	ssize_t		 w;

	dir = getenv("TMPDIR");
	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	ck_assert_int_lt(snprintf(path, len, "%s/corad-envXXXXXX", dir),
	    (int)len);
	fd = mkstemp(path);
	ck_assert_msg(fd >= 0, "mkstemp %s failed", path);
	n = strlen(content);
	w = write(fd, content, n);
	ck_assert_int_eq(w, (ssize_t)n);
	ck_assert_int_eq(close(fd), 0);
}

/*
 * Whether `err` names line `line`: some run of digits outside the file name
 * equals it.
 */
static bool
names_line(const char *err, const char *path, long line)
{
	char	 buf[1024], *p;
	size_t	 plen = strlen(path);
	long	 n;

	snprintf(buf, sizeof buf, "%s", err);
	while ((p = strstr(buf, path)) != NULL)
		memset(p, ' ', plen);
	for (p = buf; *p != '\0'; ) {
		if (!isdigit((unsigned char)*p)) {
			p++;
			continue;
		}
		n = strtol(p, &p, 10);
		if (n == line)
			return true;
	}
	return false;
}

#define KEY_PREFIX	"CORAD_CHECK_"

START_TEST(test_env_file_values)
{
	static const char content[] =
	    "# comment line\n"
	    "\n"
	    KEY_PREFIX "PLAIN=bar\n"
	    "export " KEY_PREFIX "EXPORTED=yes\n"
	    KEY_PREFIX "DQ=\"double quoted\"\n"
	    KEY_PREFIX "SQ='single # quoted'\n"
	    KEY_PREFIX "EQ=host=/tmp dbname=cora\n"
	    KEY_PREFIX "_x9=under\n"
	    KEY_PREFIX "EMPTY=\n"
	    KEY_PREFIX "URL=postgresql://a:b@c/d?x=1\n"
	    KEY_PREFIX "INNER=it's\n"
	    KEY_PREFIX "MIXED=\"mixed'\n"
	    KEY_PREFIX "LAST=no newline at end";
	char			 path[512], err[512] = "";
	struct env_source	*src;

	unsetenv(KEY_PREFIX "PLAIN");
	unsetenv(KEY_PREFIX "MISSING");
	write_temp(path, sizeof path, content);
	src = env_source_new(path, err, sizeof err);
	unlink(path);
	ck_assert_msg(src != NULL, "env_source_new failed: %s", err);
	ck_assert_pstr_eq(env_source_lookup(src, KEY_PREFIX "PLAIN"), "bar");
	ck_assert_pstr_eq(env_source_lookup(src, KEY_PREFIX "EXPORTED"), "yes");
	ck_assert_pstr_eq(env_source_lookup(src, KEY_PREFIX "DQ"),
	    "double quoted");
	ck_assert_pstr_eq(env_source_lookup(src, KEY_PREFIX "SQ"),
	    "single # quoted");
	ck_assert_pstr_eq(env_source_lookup(src, KEY_PREFIX "EQ"),
	    "host=/tmp dbname=cora");
	ck_assert_pstr_eq(env_source_lookup(src, KEY_PREFIX "_x9"), "under");
	ck_assert_pstr_eq(env_source_lookup(src, KEY_PREFIX "EMPTY"), "");
	ck_assert_pstr_eq(env_source_lookup(src, KEY_PREFIX "URL"),
	    "postgresql://a:b@c/d?x=1");
	ck_assert_pstr_eq(env_source_lookup(src, KEY_PREFIX "INNER"), "it's");
	/* only a matching pair of quotes is removed */
	ck_assert_pstr_eq(env_source_lookup(src, KEY_PREFIX "MIXED"),
	    "\"mixed'");
	ck_assert_pstr_eq(env_source_lookup(src, KEY_PREFIX "LAST"),
	    "no newline at end");
	ck_assert_ptr_null(env_source_lookup(src, KEY_PREFIX "MISSING"));
	ck_assert_ptr_null(env_source_lookup(src, "export " KEY_PREFIX
	    "EXPORTED"));
	env_source_free(src);
}
END_TEST

START_TEST(test_env_file_environment_wins)
{
	char			 path[512], err[512] = "";
	struct env_source	*src;

	write_temp(path, sizeof path,
	    KEY_PREFIX "A=from-file\n" KEY_PREFIX "B=file-only\n");
	src = env_source_new(path, err, sizeof err);
	unlink(path);
	ck_assert_msg(src != NULL, "env_source_new failed: %s", err);

	ck_assert_int_eq(setenv(KEY_PREFIX "A", "from-env", 1), 0);
	ck_assert_int_eq(setenv(KEY_PREFIX "C", "env-only", 1), 0);
	unsetenv(KEY_PREFIX "B");
	ck_assert_pstr_eq(env_source_lookup(src, KEY_PREFIX "A"), "from-env");
	ck_assert_pstr_eq(env_source_lookup(src, KEY_PREFIX "B"), "file-only");
	ck_assert_pstr_eq(env_source_lookup(src, KEY_PREFIX "C"), "env-only");
	unsetenv(KEY_PREFIX "A");
	ck_assert_pstr_eq(env_source_lookup(src, KEY_PREFIX "A"), "from-file");
	unsetenv(KEY_PREFIX "C");
	ck_assert_ptr_null(env_source_lookup(src, KEY_PREFIX "C"));
	env_source_free(src);
}
END_TEST

START_TEST(test_env_without_file)
{
	char			 err[512] = "";
	struct env_source	*src;

	/* config.h: the file is optional; without one only the environment */
	src = env_source_new(NULL, err, sizeof err);
	ck_assert_msg(src != NULL, "env_source_new(NULL) failed: %s", err);
	ck_assert_int_eq(setenv(KEY_PREFIX "ONLY", "v", 1), 0);
	ck_assert_pstr_eq(env_source_lookup(src, KEY_PREFIX "ONLY"), "v");
	unsetenv(KEY_PREFIX "ONLY");
	ck_assert_ptr_null(env_source_lookup(src, KEY_PREFIX "ONLY"));
	env_source_free(src);
}
END_TEST

START_TEST(test_env_file_feeds_config)
{
	char			 path[512], err[512] = "";
	struct env_source	*src;
	struct config		 cfg;

	unsetenv("CORA_WORKERS");
	unsetenv("APP_ENV");
	unsetenv("LOG_LEVEL");
	write_temp(path, sizeof path,
	    "CORA_WORKERS=3\nexport APP_ENV=\"staging\"\nLOG_LEVEL='debug'\n");
	src = env_source_new(path, err, sizeof err);
	unlink(path);
	ck_assert_msg(src != NULL, "env_source_new failed: %s", err);

	ck_assert_msg(config_load(&cfg, env_source_lookup, src, err,
	    sizeof err) == 0, "config_load failed: %s", err);
	ck_assert_int_eq(cfg.workers, 3);
	ck_assert(cfg.production);
	ck_assert_int_eq(cfg.log_level, LOG_DEBUG);
	config_free(&cfg);

	ck_assert_int_eq(setenv("CORA_WORKERS", "5", 1), 0);
	ck_assert_msg(config_load(&cfg, env_source_lookup, src, err,
	    sizeof err) == 0, "config_load failed: %s", err);
	ck_assert_int_eq(cfg.workers, 5);
	config_free(&cfg);
	unsetenv("CORA_WORKERS");
	env_source_free(src);
}
END_TEST

struct bad_file_case {
	const char	*content;
	long		 line;		/* the line the error must name */
};

static const struct bad_file_case bad_files[] = {
	{ "A=1\nB=2\n\n# c\nNOEQUALS\nC=3\n", 5 },
	{ "A=1\n1ABC=x\n", 2 },
	{ "A=1\nB=2\nBAD-KEY=x\n", 3 },
	{ "=x\n", 1 },
	{ "# c\n\n\n\nA=1\nB=2\nBAD KEY=x\n", 7 },
	{ "A=1\nexport\n", 2 },
	{ "A=1\nB=2\nC=3\nD=4\nE=5\nF=6\nG=7\nH=8\nI=9\nJ=10\nK=11\nL.M=12\n",
	    12 },
};

START_TEST(test_env_file_bad_line)
{
	const struct bad_file_case	*c = &bad_files[_i];
	char				 path[512], err[512] = "";
	struct env_source		*src;

	write_temp(path, sizeof path, c->content);
	src = env_source_new(path, err, sizeof err);
	unlink(path);
	if (src != NULL) {
		env_source_free(src);
		ck_abort_msg("malformed line %ld accepted", c->line);
	}
	ck_assert_msg(strstr(err, path) != NULL, "error does not name %s: %s",
	    path, err);
	ck_assert_msg(names_line(err, path, c->line),
	    "error does not name line %ld: %s", c->line, err);
	ck_assert_msg(strchr(err, '\n') == NULL, "error not one line: %s", err);
}
END_TEST

START_TEST(test_env_file_missing)
{
	char			 err[512] = "";
	struct env_source	*src;

	src = env_source_new("/nonexistent-corad-dir/corad.env", err,
	    sizeof err);
	ck_assert_ptr_null(src);
	ck_assert_msg(err[0] != '\0', "no error message");
}
END_TEST

/* A rejected connection string is quoted without what may be a secret. */
static const struct {
	const char	*value;
	const char	*shown;
} redacted[] = {
	{ "http://h/db?sslmode=require", "DATABASE_URL='http://h/db' is invalid" },
	{ "mysql://u:s3cret@h/db?password=s3cret", "DATABASE_URL='mysql://h/db' is invalid" },
	{ "1host=h password=s3cret", "DATABASE_URL='(not shown: it holds a password)' is invalid" },
};

START_TEST(test_reject_redacted)
{
	struct vars v;
	struct config cfg;
	char err[512];

	memset(&v, 0, sizeof v);
	vars_set(&v, "DATABASE_URL", redacted[_i].value);
	ck_assert_int_eq(config_load(&cfg, vars_lookup, &v, err, sizeof err), -1);
	ck_assert_msg(strstr(err, redacted[_i].shown) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "s3cret") == NULL, "a password in the message: %s", err);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("config");

	tc = tcase_create("load");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_app_env_production);
	tcase_add_test(tc, test_env_is_production);
	tcase_add_test(tc, test_parse_bool);
	tcase_add_test(tc, test_bool_vars);
	tcase_add_test(tc, test_log_level);
	tcase_add_test(tc, test_otel);
	tcase_add_test(tc, test_mcp_origins);
	tcase_add_loop_test(tc, test_otlp_endpoints, 0,
	    (int)(sizeof bad_endpoints / sizeof bad_endpoints[0]));
	tcase_add_test(tc, test_numbers);
	tcase_add_test(tc, test_database_urls);
	tcase_add_test(tc, test_listen_accepted);
	tcase_add_test(tc, test_principal_param);
	tcase_add_test(tc, test_strings_are_copies);
	suite_add_tcase(s, tc);

	tc = tcase_create("reject");
	tcase_add_loop_test(tc, test_reject, 0,
	    (int)(sizeof rejects / sizeof rejects[0]));
	tcase_add_test(tc, test_reject_small_errbuf);
	tcase_add_test(tc, test_reject_after_good_values);
	tcase_add_loop_test(tc, test_reject_redacted, 0,
	    (int)(sizeof redacted / sizeof redacted[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("env_file");
	tcase_add_test(tc, test_env_file_values);
	tcase_add_test(tc, test_env_file_environment_wins);
	tcase_add_test(tc, test_env_without_file);
	tcase_add_test(tc, test_env_file_feeds_config);
	tcase_add_loop_test(tc, test_env_file_bad_line, 0,
	    (int)(sizeof bad_files / sizeof bad_files[0]));
	tcase_add_test(tc, test_env_file_missing);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return run_suite(make_suite());
}

/* startup: loading the configuration and the start-up gates (doc/design.md,
 * "Start-up gates"),
 * at start and again when the master reloads on SIGHUP. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "corad/authz.h"
#include "corad/clock.h"
#include "corad/config.h"
#include "corad/db.h"
#include "corad/listen.h"
#include "corad/log.h"
#include "corad/startup.h"
#include "corad/strutil.h"

/* How long the role and schema gates' statements may take together, after
 * the connect (which has its own 5 s). Each statement's own timeout is
 * shorter (4 s), so that behind a lock the server's message comes first. */
#define GATE_QUERIES_MS	5000

static struct startup_report report;

const struct startup_report *
startup_report(void)
{
	return &report;
}

/* Counts a problem for corad check's summary line; the first of the worst
 * kind is the one it names. */
static void
note(bool refused, const char *reason)
{
	if (refused && report.refused++ == 0)
		str_copy(report.first, sizeof(report.first), reason);
	if (!refused && report.warnings++ == 0 && report.refused == 0)
		str_copy(report.first, sizeof(report.first), reason);
}

int
startup_config(const char *env_file, struct config *cfg)
{
	struct env_source *env;
	struct config_error cerr;
	char err[512];
	int rc;

	if ((env = env_source_new(env_file, err, sizeof(err))) == NULL) {
		log_error("config.invalid", LF_STR("reason", err), LF_STR("env_file", env_file));
		note(true, err);
		return -1;
	}
	rc = config_load_detailed(cfg, env_source_lookup, env, &cerr);
	env_source_free(env);
	if (rc != 0) {
		log_error("config.invalid", LF_STR("variable", cerr.variable),
		    LF_STR("value", cerr.value), LF_STR("allowed", cerr.allowed),
		    LF_STR("reason", cerr.message));
		note(true, cerr.message);
		return -1;
	}
	log_init(cfg->log_level, NULL);
	return 0;
}

/* One failing gate: refused in the production tier, a warning outside it. */
static void
gate_fail(const struct config *cfg, int *failed, const char *gate, const char *reason)
{
	if (cfg->production) {
		log_error("startup.refused", LF_STR("gate", gate), LF_STR("reason", reason),
		    LF_STR("app_env", cfg->app_env));
		(*failed)++;
	} else
		log_warning("startup.warning", LF_STR("gate", gate), LF_STR("reason", reason),
		    LF_STR("app_env", cfg->app_env));
	note(cfg->production, reason);
}

/* Gates 3 and 4: the role a connection string (the variable `var`) logs
 * in as, and the schema it finds; the projector's (`projector`) need not
 * append events. The connection is closed before any child starts. */
static void
run_db_gates(const struct config *cfg, const char *var, const char *url, bool projector,
    int *failed, unsigned *unreachable)
{
	bool pooled = !projector && cfg->pool_transaction;
	struct role_report rep = { .nproblems = 0 };
	char err[512], reason[600];
	PGresult *set = NULL;
	int64_t until;
	int rc = 0;
	PGconn *c = db_open(url, "corad-check", err, sizeof(err));
	int v;

	if (c == NULL) {
		snprintf(reason, sizeof(reason), "cannot connect to %s to check the "
		    "role and the schema: %s", var, err);
		gate_fail(cfg, failed, "database", reason);
		*unreachable |= projector ? GATE_UNREACHABLE_PROJECTOR : GATE_UNREACHABLE_APP;
		return;
	}
	/* A reload runs these in the master, which must not wait for good
	 * (its watchdog and its children wait on it): behind a lock, nor on a
	 * server or pooler that takes the statement and never answers. A
	 * session setting would outlive this connection behind PgBouncer in
	 * transaction mode (`pooled`), so there only the wait is bounded. */
	until = mono_ms() + GATE_QUERIES_MS;
	if (!pooled && (set = db_exec_until(c, "SET statement_timeout = '4s'", until, err,
	    sizeof(err))) == NULL)
		rc = -1;
	PQclear(set);
	if (rc != 0 || db_check_role(c, !projector, until, &rep, err, sizeof(err)) != 0) {
		snprintf(reason, sizeof(reason), "cannot check the database role of %s: %s",
		    var, err);
		gate_fail(cfg, failed, "app_role", reason);
		if (PQstatus(c) != CONNECTION_OK || PQisBusy(c)) {
			PQfinish(c);	/* no answer: the session cannot take another */
			return;
		}
	}
	for (int i = 0; i < rep.nproblems; i++) {
		snprintf(reason, sizeof(reason), "database role %s (%s) %s: it must be the "
		    "restricted app role (cora_app)", rep.role, var, rep.problems[i]);
		gate_fail(cfg, failed, "app_role", reason);
	}
	if ((v = migrations_applied_version(c, until, err, sizeof(err))) < 0) {
		snprintf(reason, sizeof(reason), "cannot read the schema version through %s: %s",
		    var, err);
		gate_fail(cfg, failed, "schema", reason);
	} else if (v < CORAD_SCHEMA_VERSION) {
		snprintf(reason, sizeof(reason), "the schema %s reaches is at version %d, this "
		    "binary ships %d: run corad migrate", var, v, CORAD_SCHEMA_VERSION);
		gate_fail(cfg, failed, "schema", reason);
	} else if (v > CORAD_SCHEMA_VERSION) {
		/* A rollback of the binary: its migrations only ever add, so it
		 * runs, but an operator should know. */
		snprintf(reason, sizeof(reason), "the schema is at version %d, newer than the %d "
		    "this binary ships (a rollback?)", v, CORAD_SCHEMA_VERSION);
		note(false, reason);
		log_warning("startup.warning", LF_STR("gate", "schema"), LF_STR("reason", reason),
		    LF_STR("variable", var), LF_INT("schema_version", v),
		    LF_INT("binary_schema_version", CORAD_SCHEMA_VERSION));
	}
	PQfinish(c);
}

int
startup_check_listen(const struct config *cfg)
{
	char err[512], reason[600];
	bool tcp;

	if (listen_check(cfg->listen, cfg->runtime_dir, &tcp, err, sizeof(err)) != 0) {
		/* serve would stop there in any tier */
		snprintf(reason, sizeof(reason), "the listen socket: %s", err);
		note(true, reason);
		log_error("startup.refused", LF_STR("gate", "listen"), LF_STR("reason", reason),
		    LF_STR("app_env", cfg->app_env));
		return 1;
	}
	if (cfg->status_listen != NULL && strcmp(cfg->status_listen, "off") != 0) {
		bool status_tcp;

		if (listen_check(cfg->status_listen, cfg->runtime_dir, &status_tcp, err,
		    sizeof(err)) != 0) {
			snprintf(reason, sizeof(reason), "the status socket (CORA_STATUS_LISTEN): %s",
			    err);
			note(true, reason);
			log_error("startup.refused", LF_STR("gate", "listen"),
			    LF_STR("reason", reason), LF_STR("app_env", cfg->app_env));
			return 1;
		}
		tcp = tcp || status_tcp;
	}
	if (tcp)
		startup_warn_open_tcp(cfg);
	return 0;
}

void
startup_warn_open_tcp(const struct config *cfg)
{
	if (cfg->web_server_addrs != NULL)
		return;
	note(false, "a TCP listen socket without FCGI_WEB_SERVER_ADDRS");
	log_warning("startup.warning", LF_STR("setting", "FCGI_WEB_SERVER_ADDRS"),
	    LF_STR("reason", "a TCP listen socket without FCGI_WEB_SERVER_ADDRS accepts "
	    "FastCGI from any host that reaches it, and FastCGI carries the principal: "
	    "list the proxy's addresses"));
}

/* A CORA_PRINCIPAL_PARAM a client can reach: allowed, and said at every
 * start. */
static void
warn_principal_param(const struct config *cfg, const char *summary, const char *reason)
{
	note(false, summary);
	log_warning("startup.warning", LF_STR("setting", "CORA_PRINCIPAL_PARAM"),
	    LF_STR("reason", reason), LF_STR("value", cfg->principal_param));
}

/* A CGI parameter the proxy derives from the request itself. */
static bool
from_request(const char *name)
{
	static const char *const names[] = { "REMOTE_USER", "AUTH_TYPE", "QUERY_STRING",
		"REQUEST_URI", "DOCUMENT_URI", "SCRIPT_NAME", "PATH_INFO", "CONTENT_TYPE",
		"REQUEST_METHOD", NULL };

	for (size_t i = 0; names[i] != NULL; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

/*
 * The start-up gates, every one of them (corad check
 * reports them all). Returns how many refused start-up; *policy receives
 * the loaded AUTHZ_POLICY_FILE. An invalid policy file refuses in any tier.
 */
int
startup_gates(const struct config *cfg, struct authz_policy **policy, unsigned *unreachable)
{
	unsigned none;
	int failed = 0;
	char err[512];

	*policy = NULL;
	if (unreachable == NULL)
		unreachable = &none;
	*unreachable = 0;
	/* Not gates: settings that are allowed but that a careful operator
	 * wants to hear about at every start. */
	if (strncmp(cfg->principal_param, "HTTP_", 5) == 0)
		warn_principal_param(cfg, "CORA_PRINCIPAL_PARAM is in the HTTP_* namespace",
		    "the principal parameter is in the HTTP_* namespace that nginx and Apache "
		    "fill from client headers: a location that sets a fastcgi_param of its own "
		    "silently lets a client choose its principal; use a name outside HTTP_* "
		    "such as CORA_PRINCIPAL_ID");
	else if (from_request(cfg->principal_param))
		warn_principal_param(cfg, "CORA_PRINCIPAL_PARAM is a parameter the proxy derives "
		    "from the request", "the proxy fills this parameter from the request: "
		    "nginx's $remote_user comes from the client's Authorization header even "
		    "where no auth_basic checks it; set the principal from your authentication "
		    "step into a name of its own such as CORA_PRINCIPAL_ID");
	if (!cfg->require_principal)
		gate_fail(cfg, &failed, "authenticated_principal",
		    "REQUIRE_AUTHENTICATED_PRINCIPAL is not true: any client without a "
		    "principal would act as the system principal");
	if (cfg->authz_policy_file != NULL) {
		if ((*policy = authz_load(cfg->authz_policy_file, err, sizeof(err))) == NULL) {
			log_error("startup.refused", LF_STR("gate", "authz_policy"),
			    LF_STR("reason", err), LF_STR("app_env", cfg->app_env));
			note(true, err);
			failed++;
		}
	} else if (!cfg->allow_permissive_authz)
		gate_fail(cfg, &failed, "authz_policy",
		    "neither AUTHZ_POLICY_FILE nor ALLOW_PERMISSIVE_AUTHZ=true is set: "
		    "every principal could run every command");
	run_db_gates(cfg, "DATABASE_URL", cfg->database_url, false, &failed, unreachable);
	/* The projector's own session (behind PgBouncer, a direct one) passes
	 * the same gates: it writes the projections with that role. */
	if (strcmp(cfg->projector_database_url, cfg->database_url) != 0)
		run_db_gates(cfg, "PROJECTOR_DATABASE_URL", cfg->projector_database_url, true,
		    &failed, unreachable);
	return failed;
}


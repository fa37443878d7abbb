/*
 * corad: CORA's API runtime as a prefork FastCGI application server.
 *
 * main is linear: parse the command line, load the configuration, run the
 * start-up gates, open the sockets, hand over to the master.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "corad/alloc.h"
#include "corad/authz.h"
#include "corad/config.h"
#include "corad/context.h"
#include "corad/db.h"
#include "corad/initdb.h"
#include "corad/listen.h"
#include "corad/log.h"
#include "corad/openapi.h"
#include "corad/proc.h"
#include "corad/scoreboard.h"
#include "corad/startup.h"

/* Exit codes (corad(8), EXIT STATUS). */
enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,	/* a start-up gate, or a runtime failure */
	EXIT_USAGE = 2,
	EXIT_CONFIG = 78,	/* EX_CONFIG: a bad configuration value */
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: corad serve [--env-file FILE]   run the server (foreground, logs on stderr)\n"
	    "       corad init-db [--env-file FILE] create the roles and the database as DATABASE_ADMIN_URL\n"
	    "       corad migrate [--env-file FILE] apply pending sql/ migrations as DATABASE_OWNER_URL\n"
	    "       corad check [--env-file FILE]   run every start-up gate; exit 0 only if serve would start\n"
	    "       corad openapi                   print the OpenAPI document of the API\n"
	    "       corad statements                print the SQL the sessions prepare, by name\n"
	    "       corad version                   print the version\n"
	    "       corad --help                    this text\n"
	    "\n"
	    "Every setting is an environment variable (see corad(8)), e.g.\n"
	    "  CORA_LISTEN=unix:/run/corad/corad.sock  CORA_WORKERS=4  LOG_LEVEL=INFO\n"
	    "  APP_ENV=production  REQUIRE_AUTHENTICATED_PRINCIPAL=true\n"
	    "  MAX_REQUEST_BODY_SIZE_BYTES=1048576  CORA_GRACEFUL_TIMEOUT_SECONDS=30\n"
	    "--env-file reads KEY=VALUE lines; variables already in the environment win.\n");
}

/* Prints a document for `corad openapi` and `corad statements`, and frees it. */
static int
print_json(json_object *doc)
{
	printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
	return EXIT_OK;
}

static void
print_line(const char *line, void *ctx)
{
	fprintf(ctx, "%s\n", line);
	fflush(ctx);
}

/* corad init-db: the roles and the database, from an administrator's
 * connection, before the first corad migrate. */
static int
init_db(const struct config *cfg)
{
	char err[1024];

	if (initdb_run(cfg->database_admin_url, cfg->database_owner_url, cfg->database_url,
	    print_line, stdout, err, sizeof(err)) != 0) {
		log_error("init_db.failed", LF_STR("reason", err));
		printf("corad: init-db failed: %s\n", err);
		return EXIT_REFUSED;
	}
	printf("ready: run corad migrate as the owner (DATABASE_OWNER_URL)\n");
	log_info("init_db.done");
	return EXIT_OK;
}

/* corad migrate: as the owner, each pending migration in its transaction. */
static int
migrate(const struct config *cfg)
{
	struct migration_set set;
	char err[1024];
	PGconn *c;
	int n;

	if (migrations_load(&set, err, sizeof(err)) != 0) {
		log_error("migrate.failed", LF_STR("reason", err));
		return EXIT_REFUSED;
	}
	if ((c = db_open(cfg->database_owner_url, "corad-migrate", err, sizeof(err))) == NULL) {
		log_error("migrate.failed", LF_STR("reason", err));
		migrations_free(&set);
		return EXIT_REFUSED;
	}
	n = migrations_apply(c, &set, print_line, stdout, err, sizeof(err));
	if (n < 0)
		log_error("migrate.failed", LF_STR("reason", err), LF_STR("dir", set.dir));
	else {
		printf("schema at version %d (%d applied)\n", migrations_latest(&set), n);
		log_info("migrate.done", LF_INT("applied", n),
		    LF_INT("version", migrations_latest(&set)), LF_STR("dir", set.dir));
	}
	PQfinish(c);
	migrations_free(&set);
	return n < 0 ? EXIT_REFUSED : EXIT_OK;
}

/* Query sockets of masters that are gone (a SIGKILL, an OOM kill) would
 * pile up in the runtime dir: those whose pid no longer runs go. */
static void
remove_stale_query_sockets(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char *end, path[PATH_MAX];
		long pid;

		if (strncmp(e->d_name, "stats-", 6) != 0)
			continue;
		pid = strtol(e->d_name + 6, &end, 10);
		if (pid <= 0 || strcmp(end, ".sock") != 0 || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path))
			unlink(path);
	}
	closedir(d);
}

/* The stats child's query socket: one per master, in the runtime dir. */
static int
open_query_socket(struct runtime *rt, const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, n;

	remove_stale_query_sockets(dir);
	n = snprintf(rt->query_path, sizeof(rt->query_path), "%s/stats-%ld.sock",
	    dir, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, rt->query_path);
	unlink(sa.sun_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(sa.sun_path, 0600) != 0 || listen(fd, 64) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
serve(struct config *cfg, struct authz_policy *policy, const char *env_file)
{
	struct runtime rt = { .cfg = cfg, .policy = policy, .env_file = env_file, .ready_fd = -1,
	    .status_fd = -1, .query_fd = -1 };
	char err[256], *status_spec = NULL;
	int pair[2] = { -1, -1 }, wake[2] = { -1, -1 }, rc = EXIT_REFUSED;

	if (mkdir(cfg->runtime_dir, 0750) != 0 && errno != EEXIST) {
		log_error("startup.failed", LF_STR("reason", "cannot create CORA_RUNTIME_DIR"),
		    LF_STR("path", cfg->runtime_dir), LF_STR("error", strerror(errno)));
		return EXIT_REFUSED;
	}
	rt.listen_fd = listen_open(cfg->listen, cfg->runtime_dir, rt.listen_path,
	    sizeof(rt.listen_path), err, sizeof(err));
	if (rt.listen_fd < 0) {
		log_error("startup.failed", LF_STR("reason", "cannot open the listen socket"),
		    LF_STR("error", err));
		return EXIT_REFUSED;
	}
	/* The status child's socket (doc/design.md, "Processes"): never the
	 * inherited one, which is the pool's. The default one taken (another
	 * server shares the runtime directory) costs the status child only. */
	if (cfg->status_listen == NULL || strcmp(cfg->status_listen, "off") != 0) {
		status_spec = cfg->status_listen != NULL ? xstrdup(cfg->status_listen) :
		    xasprintf("unix:%s/status.sock", cfg->runtime_dir);
		rt.status_fd = listen_open(status_spec, cfg->runtime_dir, rt.status_path,
		    sizeof(rt.status_path), err, sizeof(err));
		if (rt.status_fd < 0 && cfg->status_listen != NULL) {
			log_error("startup.failed", LF_STR("reason",
			    "cannot open the status socket (CORA_STATUS_LISTEN)"), LF_STR("error", err));
			goto refused;
		}
		if (rt.status_fd < 0)
			log_warning("startup.warning", LF_STR("setting", "CORA_STATUS_LISTEN"),
			    LF_STR("reason", "cannot open the default status socket: no status child, "
			    "and /status and /metrics wait for a worker"), LF_STR("error", err));
	}
	/* Both kept by the master, so a restarted child finds the same ones. */
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) != 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, wake) != 0 ||
	    (rt.query_fd = open_query_socket(&rt, cfg->runtime_dir)) < 0) {
		log_error("startup.failed", LF_STR("reason", "cannot create the stats sockets"),
		    LF_STR("path", cfg->runtime_dir), LF_STR("error", strerror(errno)));
		goto refused;
	}
	if (listen_is_tcp(rt.listen_fd) || (rt.status_fd >= 0 && listen_is_tcp(rt.status_fd)))
		startup_warn_open_tcp(cfg);
	rt.report_rd = pair[0];
	rt.report_wr = pair[1];
	rt.wake_rd = wake[0];
	rt.wake_wr = wake[1];
	if ((rt.sb = scoreboard_create()) == NULL) {
		log_error("startup.failed", LF_STR("reason", "cannot map the scoreboard"),
		    LF_STR("error", strerror(errno)));
		goto refused;
	}
	rt.sb->master_pid = getpid();
	log_info("startup.listening", LF_STR("listen", cfg->listen != NULL ? cfg->listen :
	    rt.listen_path[0] != '\0' ? rt.listen_path : "inherited"),
	    LF_STR("status_listen", rt.status_fd < 0 ? NULL : status_spec),
	    LF_STR("version", PACKAGE_VERSION),
	    LF_INT("workers", cfg->workers), LF_STR("app_env", cfg->app_env));

	rc = master_run(&rt);
refused:
	if (rt.listen_path[0] != '\0')
		unlink(rt.listen_path);
	if (rt.status_path[0] != '\0')
		unlink(rt.status_path);
	close(rt.listen_fd);
	if (rt.status_fd >= 0)
		close(rt.status_fd);
	if (rt.query_fd >= 0) {
		unlink(rt.query_path);
		close(rt.query_fd);
	}
	for (int i = 0; i < 2; i++) {
		if (pair[i] >= 0)
			close(pair[i]);
		if (wake[i] >= 0)
			close(wake[i]);
	}
	free(status_spec);
	authz_free(rt.policy);	/* the master may have replaced it on reload */
	return rc;
}

/*
 * corad check's one line for a person, as nginx -t gives one, on stdout
 * (the JSON log lines stay on stderr for machines): "configuration ok" or
 * what is wrong first. cfg is NULL when the configuration did not load.
 */
static void
check_summary(const struct config *cfg)
{
	const struct startup_report *r = startup_report();
	char first[sizeof(r->first)];
	size_t n = 0;

	/* One line: libpq's messages carry a newline and a tab-indented hint. */
	for (const char *p = r->first; *p != '\0' && n + 1 < sizeof(first); p++)
		if (*p != '\n' && *p != '\t')
			first[n++] = *p;
		else if (n > 0 && first[n - 1] != ' ')
			first[n++] = ' ';
	first[n] = '\0';
	if (cfg == NULL)
		printf("corad: configuration invalid: %s\n", first);
	else if (r->refused > 0)
		printf("corad: start-up refused (APP_ENV=%s): %s%s\n", cfg->app_env, first,
		    r->refused > 1 ? " (and more: see the log)" : "");
	else if (r->warnings > 0)
		printf("corad: configuration ok (APP_ENV=%s, %s), with %d warning%s: %s\n",
		    cfg->app_env, cfg->production ? "production tier" : "not the production tier",
		    r->warnings,
		    r->warnings == 1 ? "" : "s", first);
	else
		printf("corad: configuration ok (APP_ENV=%s%s)\n", cfg->app_env,
		    cfg->production ? ", production tier" : "");
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL, *env_file = NULL;
	struct config cfg;
	struct authz_policy *policy = NULL;
	int rc;

	log_init(LOG_INFO, "corad.master");
	{
		char err[256];

		/* Every route, statement and projection, before anything runs. */
		if (contexts_register(err, sizeof(err)) != 0) {
			log_error("startup.failed", LF_STR("reason", err));
			return EXIT_REFUSED;
		}
	}
	if (cmd == NULL) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("corad %s\n", PACKAGE_VERSION);
		return EXIT_OK;
	}
	if (strcmp(cmd, "openapi") == 0)
		return print_json(openapi_document());
	if (strcmp(cmd, "statements") == 0) {
		json_object *doc = json_object_new_object();

		json_object_object_add(doc, "worker", store_statements());
		json_object_object_add(doc, "projector", projector_statements());
		return print_json(doc);
	}
	if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "check") != 0 &&
	    strcmp(cmd, "migrate") != 0 && strcmp(cmd, "init-db") != 0) {
		fprintf(stderr, "corad: unknown command '%s'\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--env-file") == 0 && i + 1 < argc)
			env_file = argv[++i];
		else if (strncmp(argv[i], "--env-file=", 11) == 0)
			env_file = argv[i] + 11;
		else {
			fprintf(stderr, "corad: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}

	if (strcmp(cmd, "serve") == 0) {
		sigset_t early;

		proc_master_signals(&early);
		sigprocmask(SIG_BLOCK, &early, NULL);
	}
	if (startup_config(env_file, &cfg) != 0) {
		if (strcmp(cmd, "check") == 0)
			check_summary(NULL);
		return EXIT_CONFIG;
	}
	if (strcmp(cmd, "serve") == 0)
		proc_exec_tuned(argv, env_file);

	if (strcmp(cmd, "init-db") == 0) {
		rc = init_db(&cfg);
		config_free(&cfg);
		return rc;
	}
	if (strcmp(cmd, "migrate") == 0) {
		rc = migrate(&cfg);
		config_free(&cfg);
		return rc;
	}
	rc = startup_gates(&cfg, &policy, NULL);
	if (strcmp(cmd, "check") == 0)
		rc += startup_check_listen(&cfg);
	if (rc > 0) {
		if (strcmp(cmd, "check") == 0)
			check_summary(&cfg);
		authz_free(policy);
		rc = EXIT_REFUSED;
	} else if (strcmp(cmd, "check") == 0) {
		log_info("check.ok", LF_STR("app_env", cfg.app_env),
		    LF_BOOL("production", cfg.production));
		check_summary(&cfg);
		authz_free(policy);
		rc = EXIT_OK;
	} else
		rc = serve(&cfg, policy, env_file);	/* owns policy from here */
	config_free(&cfg);
	return rc;
}

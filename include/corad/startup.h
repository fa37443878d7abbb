/* startup: loading the configuration and the start-up gates (doc/design.md,
 * "Start-up gates"). */
#ifndef CORAD_STARTUP_H
#define CORAD_STARTUP_H

struct config;
struct authz_policy;

/* Environment plus --env-file into cfg; logs config.invalid and returns -1
 * on a bad value. Sets the log level. */
int	startup_config(const char *env_file, struct config *cfg);

/*
 * Every start-up gate (corad check reports them all). Returns how
 * many refused start-up, each logged startup.refused; outside the
 * production tier failures are startup.warning and do not count. *policy
 * receives the loaded AUTHZ_POLICY_FILE (NULL when unset); an invalid
 * policy refuses in every tier.
 */
/* The gates' count of refusals; *unreachable (may be NULL) gets the
 * databases it could not connect to. */
#define GATE_UNREACHABLE_APP		1u	/* DATABASE_URL */
#define GATE_UNREACHABLE_PROJECTOR	2u	/* a PROJECTOR_DATABASE_URL of its own */
int	startup_gates(const struct config *cfg, struct authz_policy **policy, unsigned *unreachable);

/*
 * corad check's look at the listen socket and the runtime directory
 * (listen_check), which serve opens itself: 1 when serve would stop there
 * (startup.refused, gate listen, in any tier), else 0; a TCP socket
 * without FCGI_WEB_SERVER_ADDRS is a warning, as serve gives it.
 */
int	startup_check_listen(const struct config *cfg);

/* The warning serve and corad check give for a TCP listen socket that
 * FCGI_WEB_SERVER_ADDRS does not restrict (none when it does). */
void	startup_warn_open_tcp(const struct config *cfg);

/* What the checks found, for corad check's one human line. */
struct startup_report {
	int	refused;	/* problems that refuse start-up */
	int	warnings;	/* problems logged as startup.warning */
	char	first[512];	/* the first refusal, else the first warning */
};
const struct startup_report	*startup_report(void);

#endif

/*
 * fuzz_request_common.h: the in-memory worker that fuzz_request and
 * fuzz_mcp drive, one request per input, through worker_serve_one()
 * (worker.h): every pipeline step, the handler, the reply, the span and
 * the stats record, up to the database, which is away.
 *
 * Set up once (fuzz_server_init, from LLVMFuzzerInitialize):
 *  - the configuration from config_load() with every variable at its
 *    default except DATABASE_URL, a Unix socket directory that does not
 *    exist, so each store call fails at once (503), and those a harness
 *    sets itself (fuzz_request: the body limit, span export); then
 *    request_timeout is set to 0 (no deadline: nothing here waits, and
 *    the 504 is the end-to-end tests' business);
 *  - the operations of every context registered, as the daemon does;
 *  - a struct runtime with a scoreboard of its own (slot 0), no policy
 *    (everything allowed), no stats child (report_wr -1; /metrics and
 *    /status find no socket and answer 503);
 *  - a struct store (store_init), handlers_init(), and a struct request
 *    whose io reads the body from memory (a few bytes at a time, so the
 *    body reader loops) and appends the response to a buffer;
 *  - logs at ERROR only, and stderr to /dev/null: libFuzzer does that
 *    itself (-close_fd_mask=2, added to its arguments here) so that its own
 *    output and the sanitizers' reports still reach the terminal; FUZZ_CHECK
 *    writes to a copy of stderr. FUZZ_VERBOSE=1 in the environment keeps
 *    stderr (corad's log lines) and prints each response, for looking at
 *    one input.
 *
 * After each request (fuzz_serve) the response is checked: "Status: NNN"
 * first, the status worker_serve_one recorded, never 500 (no handler may
 * leave a request unanswered or fail without the database) nor 501, an
 * X-Correlation-Id, a blank line, then a body that is valid UTF-8 and one
 * JSON document, of the length Content-Length says, sent with
 * "Content-Type: application/json" (except /metrics, which is text).
 * Then request_reset(), as in worker_main() (worker_serve_one has let go
 * of the transaction and the Idempotency-Key), so the next input starts
 * from a clean request; the leak checker sees anything a request left
 * allocated.
 */
#ifndef CORAD_FUZZ_REQUEST_COMMON_H
#define CORAD_FUZZ_REQUEST_COMMON_H

#include <fcntl.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/types.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "corad/config.h"
#include "corad/context.h"
#include "corad/handlers.h"
#include "corad/log.h"
#include "corad/proc.h"
#include "corad/request.h"
#include "corad/route.h"
#include "corad/scoreboard.h"
#include "corad/store.h"
#include "corad/utf8.h"
#include "corad/worker.h"
#include "fuzz.h"

#define FUZZ_DATABASE_URL	"postgresql:///cora?host=/nonexistent-fuzz"
#define FUZZ_STATS_SOCKET	"/nonexistent-fuzz/stats.sock"
#define FUZZ_READ_CHUNK		613	/* bytes per read: the reader loops */
#define FUZZ_MAX_PARAMS		24

/* The request's memory I/O: r->io_ctx. */
struct fuzz_io {
	const char	*body;
	size_t		 body_len, pos;
	char		*out;
	size_t		 out_len, out_cap;
};

struct fuzz_server {
	struct config	 cfg;
	struct runtime	 rt;
	struct store	 store;
	FCGX_Request	 fcgi;
	struct request	 req;
	struct fuzz_io	 io;
	const char *const *env;	/* "NAME=value" settings besides DATABASE_URL */
	bool		 verbose;	/* FUZZ_VERBOSE: stderr kept, responses shown */
};

static inline struct fuzz_server *
fuzz_server(void)
{
	static struct fuzz_server s;

	return &s;
}

static inline ssize_t
fuzz_io_read(struct request *r, char *buf, size_t n)
{
	struct fuzz_io *io = r->io_ctx;
	size_t left = io->body_len - io->pos;

	if (n > left)
		n = left;
	if (n > FUZZ_READ_CHUNK)
		n = FUZZ_READ_CHUNK;
	if (n > 0)
		memcpy(buf, io->body + io->pos, n);
	io->pos += n;
	return (ssize_t)n;
}

static inline void
fuzz_io_write(struct request *r, const char *buf, size_t n)
{
	struct fuzz_io *io = r->io_ctx;

	if (io->out_len + n + 1 > io->out_cap) {
		size_t cap = (io->out_len + n + 1) * 2;
		char *p = realloc(io->out, cap);

		if (p == NULL)
			abort();
		io->out = p;
		io->out_cap = cap;
	}
	if (n > 0)
		memcpy(io->out + io->out_len, buf, n);
	io->out_len += n;
	io->out[io->out_len] = '\0';
}

static inline const struct request_io *
fuzz_io_ops(void)
{
	static const struct request_io ops = { fuzz_io_read, fuzz_io_write };

	return &ops;
}

static inline const char *
fuzz_lookup(void *ctx, const char *name)
{
	const struct fuzz_server *s = ctx;
	size_t n = strlen(name);

	if (strcmp(name, "DATABASE_URL") == 0)
		return FUZZ_DATABASE_URL;
	for (size_t i = 0; s->env != NULL && s->env[i] != NULL; i++)
		if (strncmp(s->env[i], name, n) == 0 && s->env[i][n] == '=')
			return s->env[i] + n + 1;
	return NULL;
}

/* libFuzzer parses its flags after LLVMFuzzerInitialize: appending
 * -close_fd_mask=2 makes it keep stderr for itself and the sanitizers and
 * point fd 2 (corad's log) at /dev/null. */
static inline void
fuzz_quiet_stderr(int *argc, char ***argv)
{
	char **nargv;
	const char *v = getenv("FUZZ_VERBOSE");

	*fuzz_report_fd() = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (*fuzz_report_fd() < 0)
		*fuzz_report_fd() = STDERR_FILENO;
	fuzz_server()->verbose = v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
	if (fuzz_server()->verbose || argc == NULL || argv == NULL)
		return;
	for (int i = 1; i < *argc; i++)
		if (strncmp((*argv)[i], "-close_fd_mask=", 15) == 0)
			return;
	nargv = calloc((size_t)*argc + 2, sizeof(*nargv));
	if (nargv == NULL)
		abort();
	memcpy(nargv, *argv, (size_t)*argc * sizeof(*nargv));
	nargv[(*argc)++] = (char *)"-close_fd_mask=2";
	nargv[*argc] = NULL;
	*argv = nargv;	/* lives as long as the process */
}

/* Once per process; env: more settings ("NAME=value", NULL-terminated)
 * or NULL for the defaults. */
static inline void
fuzz_server_init(const char *const *env, int *argc, char ***argv)
{
	struct fuzz_server *s = fuzz_server();
	char err[512];

	fuzz_quiet_stderr(argc, argv);
	log_init(LOG_ERROR, "corad.fuzz");
	if (contexts_register(err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz: contexts_register: %s\n", err);
		abort();
	}
	s->env = env;
	if (config_load(&s->cfg, fuzz_lookup, s, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz: config_load: %s\n", err);
		abort();
	}
	s->cfg.request_timeout = 0;	/* no deadline: see above */
	s->rt = (struct runtime){
		.cfg = &s->cfg,
		.policy = NULL,
		.ready_fd = -1,
		.sb = scoreboard_create(),
		.slot = 0,
		.listen_fd = -1,
		.report_rd = -1,
		.report_wr = -1,
		.wake_rd = -1,
		.wake_wr = -1,
		.query_fd = -1,
	};
	if (s->rt.sb == NULL) {
		fprintf(stderr, "fuzz: scoreboard_create failed\n");
		abort();
	}
	snprintf(s->rt.query_path, sizeof(s->rt.query_path), "%s", FUZZ_STATS_SOCKET);
	store_init(&s->store, s->cfg.database_url, false, -1);
	handlers_init();
	memset(&s->fcgi, 0, sizeof(s->fcgi));
	s->req = (struct request){
		.fcgi = &s->fcgi,
		.io = fuzz_io_ops(),
		.io_ctx = &s->io,
		.rt = &s->rt,
		.store = &s->store,
		.policy = NULL,
	};
	request_reset(&s->req);
}

/* The value of header `name` in the head (up to the blank line), or NULL. */
static inline const char *
fuzz_header(const char *head, size_t head_len, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);

	for (const char *p = head; p < head + head_len;) {
		const char *eol = memchr(p, '\n', (size_t)(head + head_len - p));
		size_t llen = eol != NULL ? (size_t)(eol - p) : (size_t)(head + head_len - p);

		if (llen > nlen + 1 && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1;

			while (*v == ' ')
				v++;
			*vlen = (size_t)(p + llen - v);
			if (*vlen > 0 && v[*vlen - 1] == '\r')
				(*vlen)--;
			return v;
		}
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	return NULL;
}

/* Checks the response the last request wrote. */
static inline void
fuzz_check_response(const struct fuzz_server *s, bool metrics)
{
	const char *out = s->io.out, *sep, *body, *v;
	size_t len = s->io.out_len, head_len, body_len, vlen;
	int status;

	FUZZ_CHECK(out != NULL && len > 12);
	FUZZ_CHECK(strncmp(out, "Status: ", 8) == 0);
	FUZZ_CHECK(out[8] >= '1' && out[8] <= '5' && out[9] >= '0' && out[9] <= '9' &&
	    out[10] >= '0' && out[10] <= '9' && out[11] == ' ');
	status = (out[8] - '0') * 100 + (out[9] - '0') * 10 + (out[10] - '0');
	FUZZ_CHECK(status == s->req.status);
	FUZZ_CHECK(status != 500 && status != 501);
	sep = memmem(out, len, "\r\n\r\n", 4);
	FUZZ_CHECK(sep != NULL);
	head_len = (size_t)(sep - out) + 2;
	body = sep + 4;
	body_len = len - (size_t)(body - out);
	FUZZ_CHECK(memchr(out, '\0', head_len) == NULL);
	v = fuzz_header(out, head_len, "X-Correlation-Id", &vlen);
	FUZZ_CHECK(v != NULL && vlen == 36);
	FUZZ_CHECK(strncmp(v, s->req.correlation_id, 36) == 0);
	v = fuzz_header(out, head_len, "Content-Length", &vlen);
	if (v != NULL) {
		char n[32];

		snprintf(n, sizeof(n), "%zu", body_len);
		FUZZ_CHECK(vlen == strlen(n) && strncmp(v, n, vlen) == 0);
	} else
		FUZZ_CHECK(body_len == 0);
	FUZZ_CHECK(s->req.response_bytes == body_len);
	if (body_len == 0)
		return;	/* 202, 204: no body, no type */
	v = fuzz_header(out, head_len, "Content-Type", &vlen);
	FUZZ_CHECK(v != NULL);
	if (!metrics)
		FUZZ_CHECK(vlen == 16 && strncmp(v, "application/json", 16) == 0);
	FUZZ_CHECK(utf8_valid(body, body_len));
	if (!metrics || strncmp(v, "application/json", 16) == 0) {
		json_tokener *tok = json_tokener_new();
		json_object *doc;

		if (tok == NULL)
			abort();
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
		doc = json_tokener_parse_ex(tok, body, (int)body_len);
		FUZZ_CHECK(json_tokener_get_error(tok) == json_tokener_success);
		FUZZ_CHECK(json_tokener_get_parse_end(tok) == body_len);
		json_tokener_free(tok);
		json_object_put(doc);
	}
}

/*
 * Serves one request: `params` are the FastCGI parameters ("NAME=value",
 * NULL-terminated), `body` its bytes. Checks the response (and has `extra`,
 * when not NULL, check the response body), then cleans up as worker_main()
 * does between requests.
 */
typedef void (*fuzz_check_fn)(const struct fuzz_server *s, const char *body, size_t len);

static inline void
fuzz_serve(char **params, const char *body, size_t body_len, fuzz_check_fn extra)
{
	struct fuzz_server *s = fuzz_server();
	bool metrics;

	s->fcgi.envp = params;
	s->io.body = body;
	s->io.body_len = body_len;
	s->io.pos = 0;
	s->io.out_len = 0;
	worker_serve_one(&s->req);
	metrics = s->req.op != NULL && s->req.op->content_type != NULL;	/* not JSON */
	if (s->verbose && s->io.out_len > 0) {
		(void)!write(*fuzz_report_fd(), s->io.out, s->io.out_len);
		(void)!write(*fuzz_report_fd(), "\n", 1);
	}
	fuzz_check_response(s, metrics);
	if (extra != NULL) {
		const char *b = memmem(s->io.out, s->io.out_len, "\r\n\r\n", 4) + 4;

		extra(s, b, s->io.out_len - (size_t)(b - s->io.out));
	}
	request_reset(&s->req);
	s->fcgi.envp = NULL;
	s->io.body = NULL;
	s->io.out_len = 0;
}

/* Builds "NAME=value" (value: n bytes, cut at a NUL) into params[*np]. */
static inline void
fuzz_param(char **params, size_t *np, const char *name, const char *value, size_t n)
{
	size_t nl = strlen(name), vl = strnlen(value, n);
	char *p;

	if (*np >= FUZZ_MAX_PARAMS)
		return;
	p = malloc(nl + 1 + vl + 1);
	if (p == NULL)
		abort();
	memcpy(p, name, nl);
	p[nl] = '=';
	memcpy(p + nl + 1, value, vl);
	p[nl + 1 + vl] = '\0';
	params[(*np)++] = p;
	params[*np] = NULL;
}

static inline void
fuzz_params_free(char **params)
{
	for (size_t i = 0; params[i] != NULL; i++)
		free(params[i]);
}

#endif

/*
 * fuzz_request: the whole request pipeline of a worker up to the database,
 * worker_serve_one() (worker.h) on one request per input, served from
 * memory (fuzz_request_common.h: set-up, checks of the response).
 *
 * Input: an HTTP-like text, so that seeds are readable and mutations stay
 * meaningful:
 *
 *   METHOD SP TARGET LF        target "/path?query": DOCUMENT_URI=/path
 *   METHOD TAB TARGET LF       REQUEST_URI=TARGET (percent-decoded by corad)
 *   NAME=value LF ...          more FastCGI parameters, verbatim (at most
 *                              16): HTTP_IDEMPOTENCY_KEY, HTTP_TRACEPARENT,
 *                              HTTP_TRACESTATE, CORA_PRINCIPAL_ID,
 *                              CONTENT_LENGTH, ...
 *   LF                         a blank line, then
 *   BODY                       raw bytes to the end (NUL bytes allowed)
 *
 * REQUEST_METHOD is METHOD; QUERY_STRING is what follows the first '?' of
 * the target; without a CONTENT_LENGTH line, CONTENT_LENGTH is the body's
 * length (absent for no body), so a line of its own can disagree with the
 * body. Two settings differ from the defaults: MAX_REQUEST_BODY_SIZE_BYTES
 * is 2048 (not 1 MiB), so that inputs reach the body limit, on the declared
 * length and on the bytes read; and OTEL_EXPORTER=console, so that every
 * request (sampled: ratio 1, or its traceparent's flag) builds its SERVER
 * and handler spans from the fuzzed method, path and principal (sent
 * nowhere: there is no stats child). Every route has seeds: GET /health, /ready, /metrics,
 * /status, GET /actors with limit, status and cursors, POST /actors with
 * bodies and Idempotency-Keys, GET /actors/<uuid>, POST .../deactivate,
 * DELETE .../profile, POST /mcp with each JSON-RPC method and tool.
 *
 * Seeds: tests/fuzz/corpus/fuzz_request/; dictionary tests/fuzz/json.dict.
 * Run: tests/fuzz/run.sh, or by hand
 *   fuzz-build/tests/fuzz/fuzz_request -max_len=4096 \
 *       -dict=tests/fuzz/json.dict CORPUS_DIR
 * (FUZZ_VERBOSE=1 shows corad's log lines and the responses when replaying
 * inputs.)
 */
#include "config.h"

#include "fuzz_request_common.h"

#define FUZZ_MAX_LINES	16

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const env[] = {
		"MAX_REQUEST_BODY_SIZE_BYTES=2048",
		"OTEL_EXPORTER=console",
		NULL,
	};

	fuzz_server_init(env, argc, argv);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *end = in + size, *p, *eol, *target, *q;
	char *params[FUZZ_MAX_PARAMS + 1] = { NULL };
	char *body = NULL, num[32];
	size_t np = 0, mlen, tlen, body_len = 0;
	bool request_uri, have_cl = false;

	/* The request line. */
	eol = memchr(in, '\n', size);
	if (eol == NULL)
		eol = end;
	for (mlen = 0; in + mlen < eol && in[mlen] != ' ' && in[mlen] != '\t'; mlen++)
		;
	fuzz_param(params, &np, "REQUEST_METHOD", in, mlen);
	if (in + mlen < eol) {
		request_uri = in[mlen] == '\t';
		target = in + mlen + 1;
		tlen = (size_t)(eol - target);
		q = memchr(target, '?', tlen);
		if (request_uri)
			fuzz_param(params, &np, "REQUEST_URI", target, tlen);
		else
			fuzz_param(params, &np, "DOCUMENT_URI", target,
			    q != NULL ? (size_t)(q - target) : tlen);
		if (q != NULL)
			fuzz_param(params, &np, "QUERY_STRING", q + 1, (size_t)(eol - q - 1));
	}

	/* Parameter lines up to a blank line, then the body. */
	p = eol < end ? eol + 1 : end;
	for (int lines = 0; p < end; lines++) {
		const char *eq;

		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if (eol == p) {		/* the blank line */
			body_len = eol < end ? (size_t)(end - eol - 1) : 0;
			if (body_len > 0) {
				body = malloc(body_len);
				if (body == NULL)
					abort();
				memcpy(body, eol + 1, body_len);
			}
			break;
		}
		eq = memchr(p, '=', (size_t)(eol - p));
		if (lines < FUZZ_MAX_LINES && eq != NULL && eq > p) {
			char name[64];
			size_t nlen = (size_t)(eq - p) < sizeof(name) - 1 ?
			    (size_t)(eq - p) : sizeof(name) - 1;

			memcpy(name, p, nlen);
			name[nlen] = '\0';
			if (strlen(name) == nlen) {	/* no NUL in the name */
				if (strcmp(name, "CONTENT_LENGTH") == 0)
					have_cl = true;
				fuzz_param(params, &np, name, eq + 1, (size_t)(eol - eq - 1));
			}
		}
		p = eol < end ? eol + 1 : end;
	}
	if (!have_cl && body_len > 0) {
		snprintf(num, sizeof(num), "%zu", body_len);
		fuzz_param(params, &np, "CONTENT_LENGTH", num, strlen(num));
	}

	fuzz_serve(params, body, body_len, NULL);
	fuzz_params_free(params);
	free(body);
	return 0;
}

/*
 * fuzz_mcp: POST /mcp, the MCP server's JSON-RPC 2.0 (handle_mcp), through
 * the whole worker pipeline like fuzz_request (fuzz_request_common.h:
 * set-up, checks of the response), with the input as the body so that
 * libFuzzer mutates JSON-RPC messages directly.
 *
 * Input: the request body, raw bytes (NUL bytes allowed); the request is
 * REQUEST_METHOD=POST, DOCUMENT_URI=/mcp, CONTENT_TYPE=application/json and
 * CONTENT_LENGTH the input's length, with the default body limit (1 MiB).
 * Tools run their routes' handlers inside the request (worker_call); every
 * tool, with or without an idempotency_key, stops at the database (503,
 * which MCP answers as a JSON-RPC internal error). Besides the response
 * checks of fuzz_request_common.h, every answer must be 202 without a body
 * (a notification) or 200 with a JSON-RPC response: an object with
 * "jsonrpc":"2.0", an "id", and either "result" or an "error" with an
 * integer "code" (for a batch, each of its array).
 *
 * Seeds: tests/fuzz/corpus/fuzz_mcp/ (initialize, ping, tools/list, a
 * tools/call per tool, notifications, batches, bad messages); dictionary
 * tests/fuzz/json.dict. Run: tests/fuzz/run.sh, or by hand
 *   fuzz-build/tests/fuzz/fuzz_mcp -max_len=4096 \
 *       -dict=tests/fuzz/json.dict CORPUS_DIR
 */
#include "config.h"

#include "fuzz_request_common.h"

/* One JSON-RPC response. */
static void
check_response(json_object *doc)
{
	json_object *v;

	FUZZ_CHECK(json_object_is_type(doc, json_type_object));
	FUZZ_CHECK(json_object_object_get_ex(doc, "jsonrpc", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), "2.0") == 0);
	FUZZ_CHECK(json_object_object_get_ex(doc, "id", NULL));
	FUZZ_CHECK(json_object_object_get_ex(doc, "result", NULL) !=
	    json_object_object_get_ex(doc, "error", NULL));
	if (json_object_object_get_ex(doc, "error", &v)) {
		json_object *code;

		FUZZ_CHECK(json_object_object_get_ex(v, "code", &code) &&
		    json_object_is_type(code, json_type_int));
	}
}

/* Every answer of POST /mcp is a JSON-RPC response, an array of them for a
 * batch (never an empty one), or 202 when nothing needs one. */
static void
check_rpc(const struct fuzz_server *s, const char *body, size_t len)
{
	json_object *doc;

	FUZZ_CHECK(s->req.status == 200 || s->req.status == 202);
	if (s->req.status == 202) {
		FUZZ_CHECK(len == 0);
		return;
	}
	FUZZ_CHECK(len > 0);
	doc = json_tokener_parse(body);	/* NUL-terminated by fuzz_io_write */
	if (json_object_is_type(doc, json_type_array)) {
		FUZZ_CHECK(json_object_array_length(doc) > 0);
		for (size_t i = 0; i < json_object_array_length(doc); i++)
			check_response(json_object_array_get_idx(doc, i));
	} else
		check_response(doc);
	json_object_put(doc);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_server_init(NULL, argc, argv);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *params[FUZZ_MAX_PARAMS + 1] = { NULL };
	char *body = NULL, num[32];
	size_t np = 0;

	if (size > 0) {
		body = malloc(size);
		if (body == NULL)
			abort();
		memcpy(body, data, size);
	}
	snprintf(num, sizeof(num), "%zu", size);
	fuzz_param(params, &np, "REQUEST_METHOD", "POST", 4);
	fuzz_param(params, &np, "DOCUMENT_URI", "/mcp", 4);
	fuzz_param(params, &np, "QUERY_STRING", "", 0);
	fuzz_param(params, &np, "CONTENT_TYPE", "application/json", 16);
	fuzz_param(params, &np, "CONTENT_LENGTH", num, strlen(num));
	fuzz_serve(params, body, size, check_rpc);
	fuzz_params_free(params);
	free(body);
	return 0;
}

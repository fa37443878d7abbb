/*
 * fuzz_register: the POST /actors body through register_parse()
 * (access_input.h), the pure validation of the RegisterActor command.
 *
 * Input: the raw body bytes (JSON or not, NUL bytes allowed), passed with
 * their exact length in a buffer of exactly that size, so reading past it
 * is an ASan report. Checks the function's contract: which outputs are set
 * for which result, a registered name that is valid UTF-8, 1-200
 * characters, trimmed and NUL-free, a kind other than agent, and error
 * lists that render (reply_body_string) as valid UTF-8 JSON. Everything
 * returned is freed, so the leak checker sees any leak of the parser.
 *
 * Seeds: tests/fuzz/corpus/fuzz_register/; dictionary tests/fuzz/json.dict.
 * Run: tests/fuzz/run.sh (or `make fuzz-run`), or by hand
 *   fuzz-build/tests/fuzz/fuzz_register -max_len=4096 \
 *       -dict=tests/fuzz/json.dict CORPUS_DIR
 */
#include "config.h"

#include <stdbool.h>

#include <json-c/json.h>

#include "access/input.h"
#include "corad/reply.h"
#include "corad/utf8.h"
#include "fuzz.h"

/* A name pointer register_parse() must overwrite on entry. */
static char poison[] = "not a name";

/* A rendered body must be valid UTF-8 and parse back as JSON. */
static void
check_renders(json_object *body)
{
	size_t len;
	const char *s = reply_body_string(body, &len);
	json_object *back;

	FUZZ_CHECK(s != NULL && strlen(s) == len);
	FUZZ_CHECK(utf8_valid(s, len));
	back = json_tokener_parse(s);
	FUZZ_CHECK(back != NULL);
	json_object_put(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct register_cmd cmd = { .name = poison, .kind = ACTOR_KIND_AGENT };
	json_object *errors = (json_object *)(void *)poison;
	char detail[160];
	char *body = NULL;
	enum cora_err e;

	/* Exactly `size` bytes, not terminated: the length is authoritative. */
	if (size > 0) {
		body = malloc(size);
		if (body == NULL)
			abort();
		memcpy(body, data, size);
	}
	memset(detail, 'x', sizeof(detail));
	e = register_parse(body, size, &cmd, &errors, detail, sizeof(detail));

	switch (e) {
	case CORA_OK: {
		size_t len, tlen, cps;
		const char *t;

		FUZZ_CHECK(errors == NULL);
		FUZZ_CHECK(cmd.name != NULL && cmd.name != poison);
		FUZZ_CHECK(detail[0] == '\0');
		len = strlen(cmd.name);
		FUZZ_CHECK(utf8_valid(cmd.name, len));
		cps = utf8_codepoints(cmd.name, len);
		FUZZ_CHECK(cps >= 1 && cps <= 200);
		/* Trimmed already: stripping again changes nothing. */
		t = utf8_strip_py(cmd.name, len, &tlen);
		FUZZ_CHECK(t == cmd.name && tlen == len);
		FUZZ_CHECK(cmd.kind == ACTOR_KIND_HUMAN || cmd.kind == ACTOR_KIND_SERVICE_ACCOUNT);
		FUZZ_CHECK(actor_kind_name(cmd.kind) != NULL);
		break;
	}
	case CORA_ERR_VALIDATION:
		FUZZ_CHECK(cmd.name == NULL);
		FUZZ_CHECK(errors != NULL && errors != (json_object *)(void *)poison);
		FUZZ_CHECK(json_object_is_type(errors, json_type_array));
		FUZZ_CHECK(json_object_array_length(errors) > 0);
		FUZZ_CHECK(detail[0] == '\0');
		/* Takes over errors; rendered as the 422 body would be. */
		{
			json_object *b = reply_validation_new(errors);

			errors = NULL;
			check_renders(b);
			json_object_put(b);
		}
		break;
	case CORA_ERR_BAD_REQUEST:
		FUZZ_CHECK(cmd.name == NULL);
		FUZZ_CHECK(errors == NULL);
		FUZZ_CHECK(memchr(detail, '\0', sizeof(detail)) != NULL);
		FUZZ_CHECK(detail[0] != '\0');
		FUZZ_CHECK(utf8_valid(detail, strlen(detail)));
		break;
	default:
		/* CORA_ERR_INTERNAL only when json-c cannot allocate. */
		FUZZ_CHECK(!"register_parse returned an unexpected code");
	}
	register_cmd_free(&cmd);
	FUZZ_CHECK(cmd.name == NULL);
	register_cmd_free(&cmd);	/* twice is safe */
	register_cmd_free(NULL);
	if (errors != NULL && errors != (json_object *)(void *)poison)
		json_object_put(errors);
	free(body);
	return 0;
}

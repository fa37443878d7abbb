/*
 * fuzz_caution: the POST /cautions body through the operation's schema
 * (schema_validate_body) and the domain's checks (caution_check_fields),
 * then the event it would write folded and rendered back; and the input's
 * first line through rfc3339_parse.
 *
 * Input: the raw body bytes, with their exact length in a buffer of that
 * size. Checks: a refused body has errors that render as valid UTF-8 JSON;
 * an accepted one either gets a 400 detail that is valid UTF-8, or fields
 * that keep the rules (text and workaround trimmed, 1-2000 characters,
 * no NUL; tags unique, sorted, 1-50 characters each; expires_at in the
 * future, with its offset); the payload folds to an Active caution whose
 * rendering is valid JSON. A date-time that parses writes back (isoformat
 * and UTC) to text that parses to the same instant. abort() otherwise.
 *
 * Seeds: tests/fuzz/corpus/fuzz_caution/; dictionary tests/fuzz/json.dict.
 * Run: tests/fuzz/run.sh (or `make fuzz-run`), or by hand
 *   fuzz-build/tests/fuzz/fuzz_caution -max_len=4096 \
 *       -dict=tests/fuzz/json.dict CORPUS_DIR
 */
#include "config.h"

#include <stdbool.h>

#include <json-c/json.h>

#include "caution/caution.h"
#include "corad/context.h"
#include "corad/log.h"
#include "corad/reply.h"
#include "corad/rfc3339.h"
#include "corad/route.h"
#include "corad/utf8.h"
#include "fuzz.h"

/* 2026-11-26T12:00:00Z: a fixed now keeps runs reproducible. */
#define NOW_US	INT64_C(1795694400000000)

static const struct schema *body_schema;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	log_init(LOG_ERROR, "corad.fuzz");
	if (contexts_register(err, sizeof(err)) != 0 || route_find_tool("register_caution") == NULL)
		abort();
	body_schema = route_find_tool("register_caution")->body;
	return 0;
}

static void
check_renders(json_object *o)
{
	size_t len;
	const char *s = reply_body_string(o, &len);
	json_object *back;

	FUZZ_CHECK(s != NULL && strlen(s) == len && utf8_valid(s, len));
	back = json_tokener_parse(s);
	FUZZ_CHECK(back != NULL);
	json_object_put(back);
}

static void
check_text(const char *s, size_t max)
{
	size_t len = strlen(s), tlen, cps = utf8_codepoints(s, len);

	FUZZ_CHECK(utf8_valid(s, len));
	FUZZ_CHECK(cps >= 1 && cps <= max);
	FUZZ_CHECK(utf8_strip_py(s, len, &tlen) == s && tlen == len);
}

static void
check_fields(const struct caution_fields *f)
{
	size_t n = json_object_array_length(f->tags);
	struct rfc3339 t;
	char why[RFC3339_WHY_LEN];

	check_text(f->text, CAUTION_TEXT_MAX);
	check_text(f->workaround, CAUTION_TEXT_MAX);
	FUZZ_CHECK(n <= CAUTION_TAGS_MAX);
	for (size_t i = 0; i < n; i++) {
		const char *tag = json_object_get_string(json_object_array_get_idx(f->tags, i));

		check_text(tag, CAUTION_TAG_MAX);
		if (i > 0)
			FUZZ_CHECK(strcmp(json_object_get_string(json_object_array_get_idx(f->tags,
			    i - 1)), tag) < 0);
	}
	if (f->expires_at[0] != '\0') {
		FUZZ_CHECK(rfc3339_parse(f->expires_at, strlen(f->expires_at), &t, why));
		FUZZ_CHECK(t.has_offset && t.unix_us > NOW_US);
	}
}

/* A date-time that parses writes back to one that parses the same. */
static void
check_date_time(const char *s, size_t len)
{
	struct rfc3339 t, back;
	char why[RFC3339_WHY_LEN], out[40];

	if (!rfc3339_parse(s, len, &t, why)) {
		FUZZ_CHECK(why[0] != '\0' && utf8_valid(why, strlen(why)));
		return;
	}
	rfc3339_utc(t.unix_us, out);
	FUZZ_CHECK(strlen(out) < sizeof(out));
	FUZZ_CHECK(rfc3339_parse(out, strlen(out), &back, why));
	FUZZ_CHECK(back.unix_us == t.unix_us && back.has_offset && back.offset_min == 0);
	if (!t.has_offset)
		return;
	rfc3339_isoformat(&t, out);
	FUZZ_CHECK(rfc3339_parse(out, strlen(out), &back, why));
	FUZZ_CHECK(back.unix_us == t.unix_us && back.offset_min == t.offset_min);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size > 0 ? size : 1), *detail = NULL;
	json_object *errs = json_object_new_array(), *input;
	struct caution_fields f;
	const uint8_t *nl = memchr(data, '\n', size);

	if (body == NULL)
		abort();
	memcpy(body, data, size);
	check_date_time(body, nl != NULL ? (size_t)(nl - data) : size);
	input = schema_validate_body(body_schema, body, size, errs);
	if (input == NULL) {
		FUZZ_CHECK(json_object_array_length(errs) > 0);
		check_renders(errs);
	} else if (caution_check_fields(input, NOW_US, &f, &detail) != CORA_OK) {
		FUZZ_CHECK(detail != NULL && utf8_valid(detail, strlen(detail)));
		free(detail);
	} else {
		struct caution_state st = { 0 };
		json_object *payload, *shown;

		check_fields(&f);
		payload = caution_registered(&f, "0190a000-0000-7000-8000-0000000000c1",
		    "0190a1f4-7c3e-7d2a-9b1c-2f3e4d5a6b7c", NULL, "2026-11-26T12:00:00.000000Z");
		check_renders(payload);
		FUZZ_CHECK(caution_fold(&st, "CautionRegistered", payload) == 0);
		FUZZ_CHECK(caution_can_change(&st) == CAUTION_OK);
		shown = caution_render(&st, "0190a000-0000-7000-8000-0000000000c1", NOW_US);
		check_renders(shown);
		json_object_put(shown);
		json_object_put(payload);
		caution_state_free(&st);
		caution_fields_free(&f);
	}
	json_object_put(input);
	json_object_put(errs);
	free(body);
	return 0;
}

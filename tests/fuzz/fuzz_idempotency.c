/*
 * fuzz_idempotency: the Idempotency-Key rules and the command hash
 * (idempotency.h), the parts of idem_claim() that need no database.
 *
 * Input: raw bytes. (1) As an Idempotency-Key (a NUL-terminated string, as
 * FCGX_GetParam gives it): the rule of idem_claim, 1 to IDEM_KEY_MAX code
 * points of valid UTF-8, through utf8_valid() and utf8_codepoints(),
 * checked against a reference decoder written here. (2) As a command: the
 * bytes read with json_read(), the reader of request bodies and MCP
 * messages; when they parse, idem_command_json() must give Python's
 * json.dumps(sort_keys=True) shape: printable ASCII only, always; and for
 * a command corad can build (strict UTF-8 strings, no numbers json-c
 * cannot hold exactly) surrogate escapes only in well-formed pairs, and
 * valid JSON that reads back as an equal value and gives the same text
 * again (json_read joins escaped pairs that json-c 0.16 alone misreads:
 * tests/fuzz/crashes/fuzz_idempotency/ keeps the inputs that found it); and
 * idem_sha256_hex() 64 lowercase hex digits, the same for the same text.
 * abort() otherwise.
 *
 * Seeds: tests/fuzz/corpus/fuzz_idempotency/; dictionary
 * tests/fuzz/json.dict. Run: tests/fuzz/run.sh, or by hand
 *   fuzz-build/tests/fuzz/fuzz_idempotency -max_len=2048 \
 *       -dict=tests/fuzz/json.dict CORPUS_DIR
 */
#include "config.h"

#include <limits.h>
#include <stdbool.h>

#include <json-c/json.h>

#include "corad/idempotency.h"
#include "corad/json.h"
#include "corad/utf8.h"
#include "fuzz.h"

/* Reference: the number of code points of strict UTF-8, or -1 when the
 * bytes are not (Unicode table 3-7). */
static long
ref_utf8_count(const unsigned char *s, size_t len)
{
	long n = 0;

	for (size_t i = 0; i < len; n++) {
		unsigned char c = s[i];
		size_t k;
		unsigned char lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return -1;
		if (i + k >= len)
			return -1;	/* cut short */
		if (s[i + 1] < lo || s[i + 1] > hi)
			return -1;
		for (size_t j = 2; j <= k; j++)
			if (s[i + j] < 0x80 || s[i + j] > 0xbf)
				return -1;
		i += k + 1;
	}
	return n;
}

/*
 * Whether v is what corad hashes: every string and key strict UTF-8 (what
 * json-c lets through, encoded surrogates for one, corad's own validation
 * refuses before a command is built), and every number held by json-c
 * exactly as JSON wrote it (commands carry strings only).
 */
static bool
hashable(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_double:
		return false;
	case json_type_int:
		return json_object_get_int64(v) != INT64_MAX ||
		    json_object_get_uint64(v) == (uint64_t)INT64_MAX;
	case json_type_string: {
		const char *str = json_object_get_string(v);
		size_t n = (size_t)json_object_get_string_len(v);

		return utf8_valid(str, n);
	}
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (!hashable(json_object_array_get_idx(v, i)))
				return false;
		return true;
	case json_type_object: {
		json_object_object_foreach(v, k, val) {
			if (!utf8_valid(k, strlen(k)) || !hashable(val))
				return false;
		}
		return true;
	}
	default:
		return true;
	}
}

/* The \uXXXX escapes of the text: a high surrogate always followed by a
 * low one, never a low one alone (json.dumps of a str never writes that). */
static void
check_escapes(const char *t)
{
	unsigned prev_high = 0;

	for (size_t i = 0; t[i] != '\0'; i++) {
		unsigned u = 0;

		if (t[i] != '\\') {
			FUZZ_CHECK(!prev_high);
			continue;
		}
		FUZZ_CHECK(t[i + 1] != '\0');
		if (t[i + 1] != 'u') {
			FUZZ_CHECK(!prev_high);
			i++;
			continue;
		}
		for (int k = 2; k < 6; k++) {
			char c = t[i + (size_t)k];

			FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
			u = u << 4 | (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
		}
		i += 5;
		if (prev_high) {
			FUZZ_CHECK(u >= 0xdc00 && u <= 0xdfff);
			prev_high = 0;
		} else if (u >= 0xd800 && u <= 0xdbff)
			prev_high = u;
		else
			FUZZ_CHECK(!(u >= 0xdc00 && u <= 0xdfff));
	}
	FUZZ_CHECK(!prev_high);
}

static void
check_key(const uint8_t *data, size_t size)
{
	char *key = fuzz_cstring(data, size);
	size_t klen = strlen(key);
	long ref = ref_utf8_count((const unsigned char *)key, klen);

	FUZZ_CHECK(utf8_valid(key, klen) == (ref >= 0));
	if (ref >= 0) {
		FUZZ_CHECK(utf8_codepoints(key, klen) == (size_t)ref);
		FUZZ_CHECK(idem_key_valid(key) == (ref >= 1 && ref <= IDEM_KEY_MAX));
	} else
		FUZZ_CHECK(!idem_key_valid(key));
	/* The raw bytes, NUL bytes included (U+0000 is valid UTF-8). */
	ref = ref_utf8_count(data, size);
	FUZZ_CHECK(utf8_valid((const char *)data, size) == (ref >= 0));
	if (ref >= 0)
		FUZZ_CHECK(utf8_codepoints((const char *)data, size) == (size_t)ref);
	free(key);
}

static void
check_command(const uint8_t *data, size_t size)
{
	json_object *cmd, *back;
	char *text, *again, hash[65], hash2[65];
	size_t len, bad;

	/* The reader of bodies and MCP messages (json.h). */
	if (!json_read((const char *)data, size, &cmd, &bad) || cmd == NULL)
		return;	/* not JSON, or JSON null: not a command */

	text = idem_command_json(cmd);
	FUZZ_CHECK(text != NULL);
	len = strlen(text);
	for (size_t i = 0; i < len; i++)
		FUZZ_CHECK(text[i] >= 0x20 && text[i] < 0x7f);
	/* Valid JSON that reads back as the same value, and the same value
	 * gives the same text: the hash is a function of the command. */
	if (hashable(cmd)) {
		check_escapes(text);
		FUZZ_CHECK(json_read(text, len, &back, &bad) && back != NULL);
		FUZZ_CHECK(json_object_equal(cmd, back));
		again = idem_command_json(back);
		FUZZ_CHECK(again != NULL && strcmp(text, again) == 0);
		free(again);
		json_object_put(back);
	}

	memset(hash, 'x', sizeof(hash));
	idem_sha256_hex(text, hash);
	FUZZ_CHECK(hash[64] == '\0' && strlen(hash) == 64);
	for (size_t i = 0; i < 64; i++)
		FUZZ_CHECK((hash[i] >= '0' && hash[i] <= '9') || (hash[i] >= 'a' && hash[i] <= 'f'));
	idem_sha256_hex(text, hash2);
	FUZZ_CHECK(strcmp(hash, hash2) == 0);

	free(text);
	json_object_put(cmd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_key(data, size);
	check_command(data, size);
	return 0;
}

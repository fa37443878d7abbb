/*
 * fuzz_cursor: the keyset cursor of every list, cursor_decode() and
 * cursor_encode() (cursor.h).
 *
 * Input: the cursor as the query string hands it over, a NUL-terminated
 * string (cut at the first NUL byte). A cursor that decodes must give a
 * created_at of the list's exact shape and a canonical actor id; encoding
 * those again and decoding the result must give the same pair (the round
 * trip), and a re-encoded cursor is itself stable. A rejected cursor must
 * come with a reason. abort() otherwise.
 *
 * Seeds: tests/fuzz/corpus/fuzz_cursor/ (valid cursors, padding, bad
 * alphabets, wrong shapes). Run: tests/fuzz/run.sh, or by hand
 *   fuzz-build/tests/fuzz/fuzz_cursor -max_len=256 CORPUS_DIR
 */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>

#include "corad/cursor.h"
#include "corad/ids.h"
#include "fuzz.h"

/* YYYY-MM-DDTHH:MM:SS.ffffffZ, as the list writes created_at: every field
 * at its full width, or the 27 characters would not all be consumed. */
static bool
cursor_time_shape(const char *s)
{
	int n = -1;

	(void)sscanf(s, "%*4[0-9]-%*2[0-9]-%*2[0-9]T%*2[0-9]:%*2[0-9]:%*2[0-9].%*6[0-9]Z%n", &n);
	return n == 27 && s[n] == '\0';
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *raw = fuzz_cstring(data, size);
	char created[40], id[UUID_STR_LEN], created2[40], id2[UUID_STR_LEN];
	char enc[256], enc2[256];
	char why[CURSOR_WHY_LEN];

	memset(created, 0x55, sizeof(created));
	memset(id, 0x55, sizeof(id));
	if (!cursor_decode(raw, "created_at", "actor_id", created, id, why)) {
		FUZZ_CHECK(why[0] != '\0');
		free(raw);
		return 0;
	}
	FUZZ_CHECK(memchr(created, '\0', sizeof(created)) != NULL);
	FUZZ_CHECK(memchr(id, '\0', sizeof(id)) != NULL);
	FUZZ_CHECK(cursor_time_shape(created));
	FUZZ_CHECK(fuzz_canonical_uuid(id));

	/* The round trip: encode what was decoded, decode that again. */
	FUZZ_CHECK(cursor_encode(created, id, enc, sizeof(enc)) == 0);
	for (const char *p = enc; *p != '\0'; p++)
		FUZZ_CHECK(isalnum((unsigned char)*p) || *p == '-' || *p == '_');
	FUZZ_CHECK(cursor_decode(enc, "created_at", "actor_id", created2, id2, why));
	FUZZ_CHECK(strcmp(created, created2) == 0);
	FUZZ_CHECK(strcmp(id, id2) == 0);
	/* A canonical cursor encodes to itself. */
	FUZZ_CHECK(cursor_encode(created2, id2, enc2, sizeof(enc2)) == 0);
	FUZZ_CHECK(strcmp(enc, enc2) == 0);
	/* An output buffer of exactly the size fits; one byte less is
	 * refused, never overrun (heap buffers of that size: ASan sees it). */
	{
		size_t n = strlen(enc);
		char *fit = malloc(n + 1), *small = malloc(n);

		if (fit == NULL || small == NULL)
			abort();
		FUZZ_CHECK(cursor_encode(created, id, fit, n + 1) == 0);
		FUZZ_CHECK(strcmp(fit, enc) == 0);
		FUZZ_CHECK(cursor_encode(created, id, small, n) == -1);
		free(fit);
		free(small);
	}
	free(raw);
	return 0;
}

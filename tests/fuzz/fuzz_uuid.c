/*
 * fuzz_uuid: UUID text, uuid_parse_text() and uuid_format() (ids.h): the
 * {actor_id} path segment, the X-Principal-Id parameter, MCP's actor_id.
 *
 * Input: the text, a NUL-terminated string (cut at a NUL byte). When it is
 * accepted, the canonical form (uuid_format) must be 36 characters of
 * lowercase 8-4-4-4-12 that parse again to the same 16 bytes; the accepted
 * text must have one of the documented shapes (32 or 36 characters, bare,
 * in braces or after "urn:uuid:"). When it is refused, the reason must be
 * a non-empty terminated string. abort() otherwise.
 *
 * Seeds: tests/fuzz/corpus/fuzz_uuid/. Run: tests/fuzz/run.sh, or by hand
 *   fuzz-build/tests/fuzz/fuzz_uuid -max_len=64 CORPUS_DIR
 */
#include "config.h"

#include <stdbool.h>

#include "corad/ids.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_cstring(data, size);
	uint8_t id[16], again[16];
	char text[UUID_STR_LEN + 8];
	struct uuid_error err;
	size_t len = strlen(in), core;

	memset(err.msg, 'x', sizeof(err.msg));
	if (!uuid_parse_text(in, id, &err)) {
		FUZZ_CHECK(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
		FUZZ_CHECK(err.msg[0] != '\0');
		free(in);
		return 0;
	}
	/* The shapes it accepts. */
	core = len;
	if (strncmp(in, "urn:uuid:", 9) == 0)
		core = len - 9;
	else if (len >= 2 && in[0] == '{' && in[len - 1] == '}')
		core = len - 2;
	FUZZ_CHECK(core == 32 || core == 36);

	memset(text, 'x', sizeof(text));
	uuid_format(id, text);
	FUZZ_CHECK(memchr(text, '\0', sizeof(text)) == text + 36);
	FUZZ_CHECK(fuzz_canonical_uuid(text));
	FUZZ_CHECK(uuid_parse_text(text, again, &err));
	FUZZ_CHECK(memcmp(id, again, sizeof(id)) == 0);
	/* Case does not matter: the input lowercased gives the same id. */
	for (char *p = in; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	FUZZ_CHECK(uuid_parse_text(in, again, &err));
	FUZZ_CHECK(memcmp(id, again, sizeof(id)) == 0);
	free(in);
	return 0;
}

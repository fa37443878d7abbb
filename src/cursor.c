/* cursor: the keyset cursor of every list (cursor.h). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base64.h>

#include "corad/cursor.h"
#include "corad/request.h"
#include "corad/rfc3339.h"
#include "corad/utf8.h"

int
cursor_encode(const char *at, const char *id, char *out, size_t len)
{
	char raw[128], b64[BASE64_ENCODE_LENGTH(sizeof(raw)) + BASE64_ENCODE_FINAL_LENGTH];
	struct base64_encode_ctx ctx;
	int n = snprintf(raw, sizeof(raw), "%s|%s", at, id);
	size_t m;

	if (n < 0 || (size_t)n >= sizeof(raw))
		return -1;
	base64url_encode_init(&ctx);
	m = base64_encode_update(&ctx, b64, (size_t)n, (const uint8_t *)raw);
	m += base64_encode_final(&ctx, b64 + m);
	while (m > 0 && b64[m - 1] == '=')	/* unpadded */
		m--;
	if (m >= len)
		return -1;
	memcpy(out, b64, m);
	out[m] = '\0';
	return 0;
}

bool
cursor_decode(const char *raw, const char *at_name, const char *id_name, char at[40],
    char id[UUID_STR_LEN], char why[CURSOR_WHY_LEN])
{
	static const char padding[] = "==";
	size_t n = strlen(raw), got, more;
	uint8_t out[BASE64_DECODE_LENGTH(160) + 1];
	struct base64_decode_ctx ctx;
	char *bar;
	uint8_t uuid[16];
	struct uuid_error ue;
	struct rfc3339 t;
	char twhy[RFC3339_WHY_LEN];

	if (n == 0 || n > 160 || n % 4 == 1)
		goto not_base64;
	/* nettle's decoder skips blanks: only the alphabet gets this far. */
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)raw[i]) && raw[i] != '-' && raw[i] != '_')
			goto not_base64;
	/* Unpadded: the padding that completes the last group follows. */
	base64url_decode_init(&ctx);
	got = sizeof(out) - 1;
	if (!base64_decode_update(&ctx, &got, out, n, raw))
		goto not_base64;
	more = sizeof(out) - 1 - got;
	if (!base64_decode_update(&ctx, &more, out + got, (4 - n % 4) % 4, padding) ||
	    !base64_decode_final(&ctx))
		goto not_base64;
	got += more;
	out[got] = '\0';
	if (memchr(out, '\0', got) != NULL || (bar = strchr((char *)out, '|')) == NULL) {
		snprintf(why, CURSOR_WHY_LEN, "expected '<%s>|<%s>'", at_name, id_name);
		return false;
	}
	*bar = '\0';
	/* Any instant with an offset: corad's own and the original's
	 * isoformat() (+00:00, no fraction when it is zero); a date the
	 * calendar does not have never reaches the database. */
	if (!rfc3339_parse((char *)out, (size_t)(bar - (char *)out), &t, twhy) ||
	    !t.has_offset) {
		snprintf(why, CURSOR_WHY_LEN, "invalid %s", at_name);
		return false;
	}
	if (!uuid_parse_text(bar + 1, uuid, &ue)) {
		snprintf(why, CURSOR_WHY_LEN, "invalid %s", id_name);
		return false;
	}
	rfc3339_utc(t.unix_us, at);
	uuid_format(uuid, id);
	return true;
not_base64:
	snprintf(why, CURSOR_WHY_LEN, "not unpadded base64url");
	return false;
}

enum cora_err
cursor_param(struct request *r, const char *at_name, const char *id_name, char at[40],
    char id[UUID_STR_LEN], bool *given)
{
	json_object *v = request_value(r, "cursor");
	const char *raw = v != NULL ? json_object_get_string(v) : NULL, *text;
	char why[CURSOR_WHY_LEN], *shown;
	enum cora_err e;
	size_t len;

	if (given != NULL)
		*given = raw != NULL;
	if (raw == NULL) {
		snprintf(at, 40, "-infinity");
		snprintf(id, UUID_STR_LEN, "00000000-0000-0000-0000-000000000000");
		return CORA_OK;
	}
	/* Read whole: a NUL (an MCP argument's \u0000) is written as U+FFFD,
	 * which is no base64url either, and shown so. */
	len = (size_t)json_object_get_string_len(v);
	text = (shown = utf8_nul_replaced(raw, len, &len)) != NULL ? shown : raw;
	if (cursor_decode(text, at_name, id_name, at, id, why))
		return CORA_OK;		/* never with shown */
	e = request_fail(r, CORA_ERR_UNPROCESSABLE, "Invalid cursor '%s': %s. "
	    "Cursors must come from a previous response's next_cursor field.", text, why);
	free(shown);
	return e;
}

void
cursor_next(json_object *page, bool more, const char *at, const char *id)
{
	char cursor[200];

	if (more && cursor_encode(at, id, cursor, sizeof(cursor)) == 0)
		json_object_object_add(page, "next_cursor", json_object_new_string(cursor));
	else
		json_object_object_add(page, "next_cursor", NULL);
}

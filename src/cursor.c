/* cursor: the keyset cursor of every list (cursor.h). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "corad/cursor.h"
#include "corad/request.h"
#include "corad/rfc3339.h"

int
cursor_encode(const char *at, const char *id, char *out, size_t len)
{
	char raw[128];
	unsigned char b64[200];
	int n = snprintf(raw, sizeof(raw), "%s|%s", at, id), m;

	if (n < 0 || (size_t)n >= sizeof(raw))
		return -1;
	m = EVP_EncodeBlock(b64, (const unsigned char *)raw, n);
	while (m > 0 && b64[m - 1] == '=')	/* unpadded */
		m--;
	if ((size_t)m >= len)
		return -1;
	for (int i = 0; i < m; i++)
		out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
	out[m] = '\0';
	return 0;
}

bool
cursor_decode(const char *raw, const char *at_name, const char *id_name, char at[40],
    char id[UUID_STR_LEN], char why[CURSOR_WHY_LEN])
{
	size_t n = strlen(raw), padded;
	unsigned char in[256], out[200];
	char *bar;
	int m;
	uint8_t uuid[16];
	struct uuid_error ue;
	struct rfc3339 t;
	char twhy[RFC3339_WHY_LEN];

	if (n == 0 || n > 160 || n % 4 == 1)
		goto not_base64;
	for (size_t i = 0; i < n; i++) {
		char c = raw[i];

		if (!isalnum((unsigned char)c) && c != '-' && c != '_')
			goto not_base64;
		in[i] = (unsigned char)(c == '-' ? '+' : c == '_' ? '/' : c);
	}
	for (padded = n; padded % 4 != 0; padded++)
		in[padded] = '=';
	if ((m = EVP_DecodeBlock(out, in, (int)padded)) < 0)
		goto not_base64;
	m -= (int)(padded - n);	/* EVP_DecodeBlock counts the padding as zeros */
	out[m] = '\0';
	if (memchr(out, '\0', (size_t)m) != NULL || (bar = strchr((char *)out, '|')) == NULL) {
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
	const char *raw = request_text(r, "cursor");
	char why[CURSOR_WHY_LEN];

	if (given != NULL)
		*given = raw != NULL;
	if (raw == NULL) {
		snprintf(at, 40, "-infinity");
		snprintf(id, UUID_STR_LEN, "00000000-0000-0000-0000-000000000000");
		return CORA_OK;
	}
	if (cursor_decode(raw, at_name, id_name, at, id, why))
		return CORA_OK;
	return request_fail(r, CORA_ERR_UNPROCESSABLE, "Invalid cursor '%s': %s. "
	    "Cursors must come from a previous response's next_cursor field.", raw, why);
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

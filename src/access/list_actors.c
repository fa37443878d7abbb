/* GET /actors: ListActors, keyset pages of the actor projection. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "access/access.h"
#include "corad/dispatch.h"
#include "corad/request.h"
#include "corad/store.h"

int
list_cursor_encode(const char *created_at, const char *actor_id, char *out, size_t len)
{
	char raw[128];
	unsigned char b64[200];
	int n = snprintf(raw, sizeof(raw), "%s|%s", created_at, actor_id), m;

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

/* YYYY-MM-DDTHH:MM:SS.ffffffZ exactly, as the list writes it. */
static bool
is_cursor_time(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";

	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i] != '\0'; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
			return false;
	return true;
}

const char *
list_cursor_decode(const char *raw, char created_at[40], char actor_id[UUID_STR_LEN])
{
	size_t n = strlen(raw), padded;
	unsigned char in[256], out[200];
	char *bar;
	int m;
	uint8_t id[16];
	struct uuid_error ue;

	if (n == 0 || n > 160 || n % 4 == 1)
		return "not unpadded base64url";
	for (size_t i = 0; i < n; i++) {
		char c = raw[i];

		if (!isalnum((unsigned char)c) && c != '-' && c != '_')
			return "not unpadded base64url";
		in[i] = (unsigned char)(c == '-' ? '+' : c == '_' ? '/' : c);
	}
	for (padded = n; padded % 4 != 0; padded++)
		in[padded] = '=';
	if ((m = EVP_DecodeBlock(out, in, (int)padded)) < 0)
		return "not unpadded base64url";
	m -= (int)(padded - n);	/* EVP_DecodeBlock counts the padding as zeros */
	out[m] = '\0';
	if (memchr(out, '\0', (size_t)m) != NULL || (bar = strchr((char *)out, '|')) == NULL)
		return "expected '<created_at>|<actor_id>'";
	*bar = '\0';
	if (!is_cursor_time((char *)out))
		return "invalid created_at";
	if (!uuid_parse_text(bar + 1, id, &ue))
		return "invalid actor_id";
	snprintf(created_at, 40, "%s", (char *)out);
	uuid_format(id, actor_id);
	return NULL;
}

static json_object *
list_page(PGresult *res, long limit)
{
	json_object *body = json_object_new_object(), *items = json_object_new_array();
	int n = PQntuples(res), shown = n > limit ? (int)limit : n;
	char cursor[200];

	for (int i = 0; i < shown; i++) {
		json_object *it = json_object_new_object();

		json_object_object_add(it, "actor_id", json_object_new_string(PQgetvalue(res, i, 0)));
		json_object_object_add(it, "name", json_object_new_string(PQgetvalue(res, i, 1)));
		json_object_object_add(it, "kind", json_object_new_string(PQgetvalue(res, i, 2)));
		json_object_object_add(it, "status", json_object_new_string(PQgetvalue(res, i, 3)));
		json_object_object_add(it, "created_at", json_object_new_string(PQgetvalue(res, i, 4)));
		json_object_array_add(items, it);
	}
	json_object_object_add(body, "items", items);
	/* One row more than asked for means there is a next page. */
	if (n > limit && list_cursor_encode(PQgetvalue(res, shown - 1, 4),
	    PQgetvalue(res, shown - 1, 0), cursor, sizeof(cursor)) == 0)
		json_object_object_add(body, "next_cursor", json_object_new_string(cursor));
	else
		json_object_object_add(body, "next_cursor", NULL);
	return body;
}

enum cora_err
handle_list_actors(struct request *r)
{
	const char *cursor = request_text(r, "cursor");
	long limit = (long)json_object_get_int64(request_value(r, "limit"));
	char after_ts[40], after_id[UUID_STR_LEN], lim[24];
	const char *p[4] = { request_text(r, "status"), NULL, NULL, lim }, *why;
	json_object *body;
	PGresult *res;
	enum cora_err e;

	if (cursor != NULL) {
		if ((why = list_cursor_decode(cursor, after_ts, after_id)) != NULL)
			return request_fail(r, CORA_ERR_UNPROCESSABLE, "Invalid cursor '%s': %s. "
			    "Cursors must come from a previous response's next_cursor field.",
			    cursor, why);
		p[1] = after_ts;
		p[2] = after_id;
	}
	snprintf(lim, sizeof(lim), "%ld", limit + 1);
	if ((e = dispatch_authorize(r)) != CORA_OK || (e = store_ready(r->store)) != CORA_OK)
		return e;
	if ((res = store_exec(r->store, "list_actors", 4, p, PGRES_TUPLES_OK, &e, NULL)) == NULL)
		return e;
	body = list_page(res, limit);
	PQclear(res);
	reply_json(r, 200, body);
	json_object_put(body);
	dispatch_log(r, LOG_INFO, "success", NULL);
	return CORA_OK;
}

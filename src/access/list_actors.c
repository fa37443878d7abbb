/* GET /actors: ListActors, keyset pages of the actor projection (SPEC 6). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "corad/alloc.h"
#include "corad/access.h"
#include "corad/handlers.h"
#include "corad/request.h"
#include "corad/store.h"
#include "corad/strutil.h"

#define LIST_DEFAULT	50
#define LIST_MAX	100

static const struct access_op op = { "list_actors", "ListActors", false };

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

struct list_query {
	char	*cursor, *limit, *status;	/* owned; NULL when absent */
};

/* Splits the query string; for a repeated name the last value wins. */
static void
list_query_parse(const char *qs, struct list_query *q)
{
	char *copy = xstrdup(qs != NULL ? qs : ""), *save = NULL;

	for (char *pair = strtok_r(copy, "&", &save); pair != NULL; pair = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(pair, '='), **slot = NULL;

		if (eq != NULL)
			*eq++ = '\0';
		str_percent_decode(pair, 1);
		if (strcmp(pair, "cursor") == 0)
			slot = &q->cursor;
		else if (strcmp(pair, "limit") == 0)
			slot = &q->limit;
		else if (strcmp(pair, "status") == 0)
			slot = &q->status;
		if (slot == NULL)
			continue;
		free(*slot);
		*slot = xstrdup(eq != NULL ? eq : "");
		str_percent_decode(*slot, 1);
	}
	free(copy);
}

static void
list_query_free(struct list_query *q)
{
	free(q->cursor);
	free(q->limit);
	free(q->status);
}

/* Step 4 for the query parameters: 422 in the validation shape. */
static enum cora_err
list_validate(struct request *r, const struct list_query *q, long *limit)
{
	json_object *errs = json_object_new_array();

	*limit = LIST_DEFAULT;
	if (q->limit != NULL) {
		char *end;
		long v;

		errno = 0;
		v = strtol(q->limit, &end, 10);
		if (q->limit[0] == '\0' || *end != '\0' || errno != 0 || isspace((unsigned char)q->limit[0]))
			validation_add(errs, "int_parsing", "query", "limit",
			    "Input should be a valid integer, unable to parse string as an integer",
			    json_object_new_string(q->limit));
		else if (v < 1)
			validation_add(errs, "greater_than_equal", "query", "limit",
			    "Input should be greater than or equal to 1", json_object_new_string(q->limit));
		else if (v > LIST_MAX)
			validation_add(errs, "less_than_equal", "query", "limit",
			    "Input should be less than or equal to 100", json_object_new_string(q->limit));
		else
			*limit = v;
	}
	if (q->status != NULL && strcmp(q->status, "active") != 0 &&
	    strcmp(q->status, "deactivated") != 0)
		validation_add(errs, "enum", "query", "status",
		    "Input should be 'active' or 'deactivated'", json_object_new_string(q->status));
	if (json_object_array_length(errs) == 0) {
		json_object_put(errs);
		return CORA_OK;
	}
	r->error_validation = errs;
	return CORA_ERR_VALIDATION;
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
	struct list_query q = { 0 };
	char reason[256], after_ts[40], after_id[UUID_STR_LEN], lim[16];
	const char *p[4] = { NULL, NULL, NULL, lim }, *why;
	json_object *body;
	PGresult *res;
	enum cora_err e;
	long limit;

	access_log(r, LOG_INFO, &op, "start", NULL, NULL);
	list_query_parse(r->query, &q);
	if ((e = list_validate(r, &q, &limit)) != CORA_OK)
		goto out;
	if (q.cursor != NULL) {
		if ((why = list_cursor_decode(q.cursor, after_ts, after_id)) != NULL) {
			e = request_fail(r, CORA_ERR_UNPROCESSABLE, "Invalid cursor '%s': %s. Cursors "
			    "must come from a previous response's next_cursor field.", q.cursor, why);
			goto out;
		}
		p[1] = after_ts;
		p[2] = after_id;
	}
	p[0] = q.status;
	snprintf(lim, sizeof(lim), "%ld", limit + 1);
	if ((e = access_authorize(r, &op, NULL, reason)) != CORA_OK ||
	    (e = store_ready(r->store)) != CORA_OK)
		goto out;
	if ((res = store_exec(r->store, "list_actors", 4, p, PGRES_TUPLES_OK, &e, NULL)) == NULL)
		goto out;
	body = list_page(res, limit);
	PQclear(res);
	reply_json(r, 200, body);
	json_object_put(body);
	access_log(r, LOG_INFO, &op, "success", NULL, NULL);
out:
	list_query_free(&q);
	return e;
}

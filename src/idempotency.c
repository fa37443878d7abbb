/*
 * idempotency: Idempotency-Key on commands (doc/design.md, "Idempotency"),
 * Stripe-style
 * two-phase: claim the key (a committed in_progress row), run, then store
 * the result in the command's own transaction (or its 4xx error alone).
 *
 * The claim's locked_at is its fencing token: completing, settling and
 * taking over all require the row to still carry the token we read, so a
 * request whose stale claim was taken over can never overwrite the result
 * of the one that took it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "corad/alloc.h"
#include "corad/idempotency.h"
#include "corad/ids.h"
#include "corad/ipc.h"
#include "corad/json.h"
#include "corad/log.h"
#include "corad/proc.h"
#include "corad/request.h"
#include "corad/store.h"
#include "corad/utf8.h"

/* --- the command hash: Python's json.dumps(sort_keys=True) -------------- */

struct buf {
	char	*s;
	size_t	 len, cap;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->cap + n + 1) * 2;
		b->s = xrealloc(b->s, cap);
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
py_string(struct buf *b, const char *s, size_t len)
{
	char esc[16];

	buf_add(b, "\"", 1);
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq_len((const unsigned char *)s + i, len - i);
		uint32_t cp;

		if (n == 0)	/* not reached: strings come from validated JSON */
			n = 1;
		cp = utf8_decode((const unsigned char *)s + i, n);
		i += n;
		switch (cp) {
		case '"': buf_str(b, "\\\""); continue;
		case '\\': buf_str(b, "\\\\"); continue;
		case '\n': buf_str(b, "\\n"); continue;
		case '\r': buf_str(b, "\\r"); continue;
		case '\t': buf_str(b, "\\t"); continue;
		case '\b': buf_str(b, "\\b"); continue;
		case '\f': buf_str(b, "\\f"); continue;
		default: break;
		}
		if (cp >= 0x20 && cp < 0x7f) {
			char c = (char)cp;

			buf_add(b, &c, 1);
		} else if (cp > 0xffff) {
			cp -= 0x10000;
			snprintf(esc, sizeof(esc), "\\u%04x\\u%04x", 0xd800 | (cp >> 10),
			    0xdc00 | (cp & 0x3ff));
			buf_str(b, esc);
		} else {
			snprintf(esc, sizeof(esc), "\\u%04x", cp);
			buf_str(b, esc);
		}
	}
	buf_add(b, "\"", 1);
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
py_value(struct buf *b, json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		buf_str(b, "null");
		break;
	case json_type_boolean:
		buf_str(b, json_object_get_boolean(v) ? "true" : "false");
		break;
	case json_type_int: {
		char n[32];

		snprintf(n, sizeof(n), "%lld", (long long)json_object_get_int64(v));
		buf_str(b, n);
		break;
	}
	case json_type_double:
		buf_str(b, json_object_to_json_string(v));
		break;
	case json_type_string:
		py_string(b, json_object_get_string(v), (size_t)json_object_get_string_len(v));
		break;
	case json_type_array:
		buf_str(b, "[");
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			if (i > 0)
				buf_str(b, ", ");
			py_value(b, json_object_array_get_idx(v, i));
		}
		buf_str(b, "]");
		break;
	case json_type_object: {
		size_t n = (size_t)json_object_object_length(v), i = 0;
		const char **keys = xcalloc(n, sizeof(*keys));

		json_object_object_foreach(v, k, val) {
			(void)val;
			keys[i++] = k;
		}
		/* Python sorts str keys by code point: byte order of UTF-8. */
		qsort(keys, n, sizeof(*keys), key_cmp);
		buf_str(b, "{");
		for (i = 0; i < n; i++) {
			if (i > 0)
				buf_str(b, ", ");
			py_string(b, keys[i], strlen(keys[i]));
			buf_str(b, ": ");
			py_value(b, json_object_object_get(v, keys[i]));
		}
		buf_str(b, "}");
		free(keys);
		break;
	}
	}
}

char *
idem_command_json(json_object *cmd)
{
	struct buf b = { 0 };

	py_value(&b, cmd);
	return b.s;
}

const struct schema idem_key_schema = { .type = SCHEMA_STRING, .min_length = 1,
	.max_length = IDEM_KEY_MAX };

bool
idem_key_valid(const char *key)
{
	size_t len = strlen(key);

	return len > 0 && utf8_valid(key, len) && utf8_codepoints(key, len) <= IDEM_KEY_MAX;
}

char *
idem_header_key(const char *raw)
{
	size_t n = strlen(raw), o = 0;
	char *key;

	if (n == 0 || n > IDEM_KEY_MAX)
		return NULL;
	key = xmalloc(2 * n + 1);
	for (const unsigned char *b = (const unsigned char *)raw; *b != '\0'; b++)
		o += utf8_encode(*b, key + o);
	key[o] = '\0';
	return key;
}

void
idem_sha256_hex(const char *s, char out[65])
{
	ids_sha256_hex(s, strlen(s), out);
}

/* --- the claim ---------------------------------------------------------- */

static void
idem_log(struct request *r, enum log_level lvl, const char *event, const char *why)
{
	static const struct {
		const char	*event;
		uint8_t		 bit;
	} outcomes[] = {
		{ "idempotency.claimed", IPC_IDEM_CLAIMED },
		{ "idempotency.cache_hit", IPC_IDEM_CACHE_HIT },
		{ "idempotency.conflict", IPC_IDEM_CONFLICT },
		{ "idempotency.claim_lost", IPC_IDEM_CLAIM_LOST },
	};

	for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
		if (strcmp(event, outcomes[i].event) == 0)
			r->idem_events |= outcomes[i].bit;
	log_emit(lvl, event, LOG_FIELDS(
	    LF_STR("correlation_id", r->correlation_id),
	    LF_STR("principal_id", r->principal_id),
	    LF_STR("command_name", r->idem.command),
	    LF_STR("key", r->idem.key),
	    why != NULL ? LF_STR("reason", why) : LF_SKIP));
}

/* Sends a stored result again, as it was first rendered: the body, or
 * {idem_result: the value kept} (the operation's). */
static void
idem_replay(struct request *r, PGresult *row)
{
	int status = atoi(PQgetvalue(row, 0, 2));

	if (PQgetisnull(row, 0, 3))
		reply_send(r, status, NULL, NULL, 0);
	else {
		json_object *body = json_parse_stored(PQgetvalue(row, 0, 3));

		if (r->op->idem_result != NULL && status < 300 &&
		    !json_object_is_type(body, json_type_object)) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, r->op->idem_result, body);
			body = o;
		}
		reply_json(r, status, body);
		json_object_put(body);
	}
	r->idem.settled = true;
	idem_log(r, LOG_INFO, "idempotency.cache_hit", NULL);
}

/*
 * The claim's liveness. A claimer holds a session advisory lock on the key
 * from before it inserts the row until its request is answered, so a retry
 * that finds the row in progress and gets the lock knows the claimer's
 * session is gone (a killed worker) and takes over at once, instead of
 * waiting IDEMPOTENCY_LOCK_STALE_SECONDS. That rule remains for a claimer
 * that is alive but stuck. Behind PgBouncer in transaction mode a session
 * lock would stay on a server connection that others then use, so there is
 * none and only the time rule applies.
 */
static bool
idem_lock(struct request *r, const char *stmt, enum cora_err *e)
{
	const char *p[] = { r->principal_id, r->idem.key, r->idem.surface };
	PGresult *res;
	bool got;

	*e = CORA_OK;
	if (r->store->unnamed)
		return false;
	if ((res = store_exec(r->store, stmt, 3, p, PGRES_TUPLES_OK, e, NULL)) == NULL)
		return false;
	got = PQntuples(res) == 1 && *PQgetvalue(res, 0, 0) == 't';
	PQclear(res);
	return got;
}

void
idem_release(struct request *r)
{
	enum cora_err e;

	if (!r->idem.locked)
		return;
	r->idem.locked = false;
	if (r->store->conn != NULL)
		(void)idem_lock(r, "idem_unlock", &e);
}

/* Ends a claim attempt that did not claim: the lock goes at once. */
static enum cora_err
idem_give_up(struct request *r, enum cora_err e)
{
	idem_release(r);
	return e;
}

enum cora_err
idem_claim(struct request *r, const char *command, json_object *cmd, bool *replayed)
{
	struct idem_claim *c = &r->idem;
	const char *key = r->idem_surface != NULL ? r->idem_key :
	    FCGX_GetParam("HTTP_IDEMPOTENCY_KEY", r->fcgi->envp);
	char *json, stale[32];
	enum cora_err e;

	*replayed = false;
	if (key == NULL)
		return CORA_OK;
	/* A tool's key is a JSON string, checked by its schema; the header's
	 * bytes are Latin-1 characters. */
	c->key = r->idem_surface == NULL ? idem_header_key(key) :
	    idem_key_valid(key) ? xstrdup(key) : NULL;
	if (c->key == NULL)
		return request_fail(r, CORA_ERR_BAD_REQUEST,
		    "Idempotency-Key must be between 1 and %d characters", IDEM_KEY_MAX);
	if ((e = store_ready(r->store)) != CORA_OK)
		return e;
	c->command = command;
	c->surface = r->idem_surface != NULL ? r->idem_surface : IDEM_SURFACE_HTTP;
	json = idem_command_json(cmd);
	idem_sha256_hex(json, c->hash);
	free(json);
	snprintf(stale, sizeof(stale), "%ld", r->rt->cfg->idempotency_lock_stale_seconds);
	c->locked = idem_lock(r, "idem_lock", &e);
	if (e != CORA_OK)
		return e;

	/* A row deleted by a failed holder between our insert and select is
	 * claimed on the next round; three rounds are plenty. */
	for (int round = 0; round < 3; round++) {
		const char *ins[] = { r->principal_id, c->key, c->surface, command, c->hash };
		const char *get[] = { r->principal_id, c->key, c->surface, stale };
		PGresult *res;
		bool stale_lock;

		if ((res = store_exec(r->store, "idem_insert", 5, ins, PGRES_TUPLES_OK, &e, NULL)) == NULL)
			return idem_give_up(r, e);
		if (PQntuples(res) == 1) {
			snprintf(c->token, sizeof(c->token), "%s", PQgetvalue(res, 0, 0));
			PQclear(res);
			c->active = true;
			idem_log(r, LOG_INFO, "idempotency.claimed", NULL);
			return CORA_OK;
		}
		PQclear(res);
		if ((res = store_exec(r->store, "idem_get", 4, get, PGRES_TUPLES_OK, &e, NULL)) == NULL)
			return idem_give_up(r, e);
		if (PQntuples(res) == 0) {
			PQclear(res);
			continue;
		}
		if (strcmp(PQgetvalue(res, 0, 0), c->hash) != 0) {
			PQclear(res);
			idem_log(r, LOG_WARNING, "idempotency.conflict", "different request body");
			return idem_give_up(r, request_fail(r, CORA_ERR_UNPROCESSABLE,
			    "Idempotency-Key '%s' was previously used with a different request body",
			    c->key));
		}
		if (strcmp(PQgetvalue(res, 0, 1), "completed") == 0) {
			idem_give_up(r, CORA_OK);
			idem_replay(r, res);
			PQclear(res);
			*replayed = true;
			return CORA_OK;
		}
		stale_lock = *PQgetvalue(res, 0, 5) == 't';
		if (c->locked || stale_lock) {
			/* Its holder's session is gone (we got the lock) or stuck
			 * past the stale time: take it over unless someone did. */
			const char *take[] = { r->principal_id, c->key, c->surface, PQgetvalue(res, 0, 4) };
			PGresult *t = store_exec(r->store, "idem_takeover", 4, take, PGRES_TUPLES_OK, &e, NULL);

			PQclear(res);
			if (t == NULL)
				return idem_give_up(r, e);
			if (PQntuples(t) == 1) {
				snprintf(c->token, sizeof(c->token), "%s", PQgetvalue(t, 0, 0));
				PQclear(t);
				c->active = true;
				idem_log(r, LOG_WARNING, "idempotency.claimed", c->locked ?
				    "took over the claim of a session that is gone" :
				    "took over a stale lock");
				return CORA_OK;
			}
			PQclear(t);
			idem_log(r, LOG_WARNING, "idempotency.claim_lost",
			    "another request took over the claim first");
		} else {
			PQclear(res);
			idem_log(r, LOG_INFO, "idempotency.conflict", "still being processed");
		}
		r->retry_after = 1;
		return idem_give_up(r, request_fail(r, CORA_ERR_CONFLICT,
		    "A request with Idempotency-Key '%s' is still being processed; retry later",
		    c->key));
	}
	return idem_give_up(r, request_fail(r, CORA_ERR_CONFLICT,
	    "Idempotency-Key '%s' is contended; retry later", c->key));
}

/* The parameters of a statement fenced on our claim (st is the caller's). */
static void
idem_fence_params(struct request *r, int status, const char *body, char st[8], const char *p[6])
{
	struct idem_claim *c = &r->idem;

	snprintf(st, 8, "%d", status);
	p[0] = r->principal_id;
	p[1] = c->key;
	p[2] = c->surface;
	p[3] = c->token;
	p[4] = st;
	p[5] = body;
}

/* Runs a fenced statement on our claim; returns rows affected or -1. */
static int
idem_fenced(struct request *r, const char *stmt, int status, const char *body, enum cora_err *e)
{
	char st[8];
	const char *p[6];
	PGresult *res;
	int n;

	idem_fence_params(r, status, body, st, p);
	if ((res = store_exec(r->store, stmt, strcmp(stmt, "idem_abandon") == 0 ? 4 : 6, p,
	    PGRES_COMMAND_OK, e, NULL)) == NULL)
		return -1;
	n = atoi(PQcmdTuples(res));
	PQclear(res);
	return n;
}

/* The completion's row count: 0 when another request took the claim over. */
static enum cora_err
idem_completed(struct request *r, int rows)
{
	r->idem.settled = true;
	if (rows == 1)
		return CORA_OK;
	idem_log(r, LOG_WARNING, "idempotency.claim_lost", "the claim was taken over while the command ran");
	r->retry_after = 1;
	return request_fail(r, CORA_ERR_CONFLICT,
	    "A request with Idempotency-Key '%s' is still being processed; retry later", r->idem.key);
}

void
idem_complete(struct request *r, int status, const char *body)
{
	char st[8];
	const char *p[6];
	json_object *o = NULL, *v;

	if (!r->idem.active)
		return;
	/* The operation's result alone, as the original keeps it. */
	if (r->op->idem_result != NULL && body != NULL && (o = json_parse_stored(body)) != NULL &&
	    json_object_object_get_ex(o, r->op->idem_result, &v))
		body = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	idem_fence_params(r, status, body, st, p);
	store_tx_fence(r->store, "idem_complete", 6, p, idem_completed);
	json_object_put(o);
}

void
idem_settle(struct request *r, int status, const char *body)
{
	enum cora_err e;
	int n;

	if (!r->idem.active || r->idem.settled)
		return;
	r->idem.settled = true;
	store_rollback(r->store);
	/* 5xx: cache nothing, so a retry runs again */
	n = status >= 400 && status < 500 ? idem_fenced(r, "idem_complete", status, body, &e) :
	    idem_fenced(r, "idem_abandon", status, NULL, &e);
	if (n == 0 && status < 500)
		idem_log(r, LOG_WARNING, "idempotency.claim_lost",
		    "the claim was taken over while the command ran");
	else if (n < 0)	/* the statement failed, or the session is gone */
		idem_log(r, LOG_WARNING, "idempotency.settle_failed",
		    "the key stays in progress until a retry takes its claim over");
}

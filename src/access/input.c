/* access_input: pure validation of the Access context's HTTP inputs (SPEC section 6). */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corad/access_input.h"

#define NAME_MAX_CHARS	200
#define NO_PROBLEM	SIZE_MAX

static const char *const kind_names[] = {
	[ACTOR_KIND_HUMAN] = "human",
	[ACTOR_KIND_SERVICE_ACCOUNT] = "service_account",
	[ACTOR_KIND_AGENT] = "agent",
};

const char *
actor_kind_name(enum actor_kind k)
{
	if ((unsigned)k >= sizeof kind_names / sizeof kind_names[0])
		return NULL;
	return kind_names[k];
}

int
actor_kind_parse(const char *s, enum actor_kind *out)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++) {
		if (strcmp(s, kind_names[i]) == 0) {
			*out = (enum actor_kind)i;
			return 0;
		}
	}
	return -1;
}

void
register_cmd_free(struct register_cmd *cmd)
{
	if (cmd == NULL)
		return;
	free(cmd->name);
	cmd->name = NULL;
}

/*
 * Length of the well-formed UTF-8 sequence at s (Unicode table 3-7), 0 when
 * the bytes there are not one.
 */
static size_t
utf8_seq_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return 0;	/* continuation byte, C0, C1, F5..FF */
	if (len < n)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* Offset of the first byte that is not strict UTF-8, or NO_PROBLEM. */
static size_t
utf8_first_invalid(const unsigned char *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_seq_len(s + i, len - i);
		if (n == 0)
			return i;
		i += n;
	}
	return NO_PROBLEM;
}

bool
utf8_valid(const char *s, size_t len)
{
	if (len == 0)
		return true;
	if (s == NULL)
		return false;
	return utf8_first_invalid((const unsigned char *)s, len) == NO_PROBLEM;
}

size_t
utf8_codepoints(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/* Python's str.isspace() for one code point. */
static bool
py_isspace(uint32_t cp)
{
	if ((cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20))
		return true;
	if (cp < 0x85)
		return false;
	switch (cp) {
	case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029:
	case 0x202f: case 0x205f: case 0x3000:
		return true;
	default:
		return cp >= 0x2000 && cp <= 0x200a;
	}
}

/* Decodes the n-byte sequence at s (already known to be well formed). */
static uint32_t
utf8_decode(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t i;

	switch (n) {
	case 1: return s[0];
	case 2: cp = s[0] & 0x1f; break;
	case 3: cp = s[0] & 0x0f; break;
	default: cp = s[0] & 0x07; break;
	}
	for (i = 1; i < n; i++)
		cp = (cp << 6) | (s[i] & 0x3f);
	return cp;
}

const char *
utf8_strip_py(const char *s, size_t len, size_t *out_len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t start = 0, end = len, n, k;

	/* leading */
	while (start < end) {
		n = utf8_seq_len(p + start, end - start);
		if (n == 0 || !py_isspace(utf8_decode(p + start, n)))
			break;
		start += n;
	}
	/* trailing: back up over at most 3 continuation bytes */
	while (end > start) {
		k = end - 1;
		while (k > start && end - k < 4 && (p[k] & 0xc0) == 0x80)
			k--;
		n = utf8_seq_len(p + k, end - k);
		if (n != end - k || !py_isspace(utf8_decode(p + k, n)))
			break;
		end = k;
	}
	*out_len = end - start;
	return s + start;
}

/* Bytes that end a bare JSON word (literal or number). */
static bool
json_delim(unsigned char c)
{
	return c == '{' || c == '}' || c == '[' || c == ']' || c == ',' ||
	    c == ':' || c == '"' || c == ' ' || c == '\t' || c == '\n' ||
	    c == '\r';
}

static bool
json_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Checks a bare word against true / false / null / the RFC 8259 number
 * grammar. Returns the offset of the first wrong byte in it (n when the word
 * ends too early), or NO_PROBLEM.
 */
static size_t
json_word_check(const unsigned char *w, size_t n)
{
	static const char *const lits[] = { "true", "false", "null" };
	size_t i = 0, k;

	if (w[0] != '-' && !is_digit(w[0])) {
		for (k = 0; k < sizeof lits / sizeof lits[0]; k++)
			if (strlen(lits[k]) == n && memcmp(w, lits[k], n) == 0)
				return NO_PROBLEM;
		return 0;
	}
	if (w[i] == '-')
		i++;
	if (i == n)
		return i;
	if (w[i] == '0')
		i++;
	else if (w[i] >= '1' && w[i] <= '9') {
		while (i < n && is_digit(w[i]))
			i++;
	} else
		return i;
	if (i < n && w[i] == '.') {
		i++;
		if (i == n || !is_digit(w[i]))
			return i;
		while (i < n && is_digit(w[i]))
			i++;
	}
	if (i < n && (w[i] == 'e' || w[i] == 'E')) {
		i++;
		if (i < n && (w[i] == '+' || w[i] == '-'))
			i++;
		if (i == n || !is_digit(w[i]))
			return i;
		while (i < n && is_digit(w[i]))
			i++;
	}
	return i == n ? NO_PROBLEM : i;
}

/*
 * What json-c accepts in strict mode but JSON (and the original's Python
 * decoder) does not: bytes that are not strict UTF-8 (json-c lets overlongs,
 * surrogates and code points above U+10FFFF through), raw control characters
 * inside strings, single-quoted strings, and literals or numbers outside the
 * RFC 8259 grammar ("1.", NaN, Infinity; json-c would also print them back
 * verbatim, which is not JSON). Returns the offset of the first such byte, or
 * NO_PROBLEM. Past a real syntax error the answer may be off, but json-c
 * reports that one at or before it, and the caller keeps the smaller offset.
 */
static size_t
json_prescan(const unsigned char *s, size_t len)
{
	size_t i = 0, start, bad, n;
	bool in_str = false, esc = false;

	while (i < len) {
		unsigned char c = s[i];

		if (c >= 0x80) {
			n = utf8_seq_len(s + i, len - i);
			if (n == 0 || !in_str)
				return i;
			esc = false;
			i += n;
			continue;
		}
		if (in_str) {
			if (c < 0x20)
				return i;
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			i++;
			continue;
		}
		if (c == '"') {
			in_str = true;
			i++;
			continue;
		}
		if (json_delim(c)) {
			i++;
			continue;
		}
		start = i;
		while (i < len && s[i] < 0x80 && !json_delim(s[i]))
			i++;
		bad = json_word_check(s + start, i - start);
		if (bad != NO_PROBLEM)
			return start + bad;
	}
	return NO_PROBLEM;
}

static void
set_detail(char *detail, size_t dlen, const char *msg)
{
	if (detail != NULL && dlen > 0)
		snprintf(detail, dlen, "%s", msg);
}

/* The one-error list for a body that is not JSON. */
static json_object *
json_invalid_list(size_t offset)
{
	json_object *list = json_object_new_array();

	if (list == NULL)
		return NULL;
	validation_add_at(list, "json_invalid", "body",
	    offset > INT_MAX ? INT_MAX : (int)offset, "JSON decode error",
	    json_object_new_object());
	return list;
}

/*
 * Decodes body[0..len) into *out (JSON null gives NULL). Returns NO_PROBLEM,
 * or the byte offset where decoding failed.
 */
static size_t
json_decode(const unsigned char *body, size_t len, json_object **out)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	json_object *v;
	size_t skip = 0, pre, fail = NO_PROBLEM, end;

	*out = NULL;
	/* a UTF-8 byte order mark is allowed, as Python's json.loads(bytes) does */
	if (len >= 3 && body[0] == 0xef && body[1] == 0xbb && body[2] == 0xbf)
		skip = 3;
	if (len - skip > INT_MAX)
		return 0;
	pre = json_prescan(body + skip, len - skip);

	tok = json_tokener_new();
	if (tok == NULL)
		return 0;
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	v = json_tokener_parse_ex(tok, (const char *)body + skip,
	    (int)(len - skip));
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* all bytes read; a final NUL ends a top-level number or literal */
		v = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len - skip;
		if (jerr != json_tokener_success)
			fail = end;
	} else if (jerr != json_tokener_success)
		fail = end;
	else {
		while (end < len - skip && json_ws(body[skip + end]))
			end++;
		if (end < len - skip)
			fail = end;	/* trailing data */
	}
	json_tokener_free(tok);

	if (pre < fail)
		fail = pre;
	if (fail != NO_PROBLEM) {
		json_object_put(v);
		return fail + skip;
	}
	*out = v;
	return NO_PROBLEM;
}

static bool
body_blank(const unsigned char *body, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!json_ws(body[i]))
			return false;
	return true;
}

/* A new reference to v for an error's "input" (NULL stays JSON null). */
static json_object *
ref(json_object *v)
{
	return json_object_get(v);
}

enum cora_err
register_parse(const char *body, size_t len, struct register_cmd *cmd,
    json_object **errors, char *detail, size_t dlen)
{
	const unsigned char *b = (const unsigned char *)body;
	json_object *root = NULL, *list = NULL, *jname = NULL, *jkind = NULL;
	enum actor_kind kind = ACTOR_KIND_HUMAN;
	const char *name = NULL, *trimmed;
	size_t name_len = 0, tlen, cps, off;
	enum cora_err ret;
	bool have_name, have_kind;

	cmd->name = NULL;
	cmd->kind = ACTOR_KIND_HUMAN;
	*errors = NULL;
	set_detail(detail, dlen, "");

	if (len == 0 || body_blank(b, len)) {
		if ((list = json_object_new_array()) == NULL)
			return CORA_ERR_INTERNAL;
		validation_add(list, "missing", "body", NULL, "Field required",
		    NULL);
		*errors = list;
		return CORA_ERR_VALIDATION;
	}

	off = json_decode(b, len, &root);
	if (off != NO_PROBLEM) {
		if ((list = json_invalid_list(off)) == NULL)
			return CORA_ERR_INTERNAL;
		*errors = list;
		return CORA_ERR_VALIDATION;
	}

	if ((list = json_object_new_array()) == NULL) {
		json_object_put(root);
		return CORA_ERR_INTERNAL;
	}
	if (!json_object_is_type(root, json_type_object)) {
		validation_add(list, "model_attributes_type", "body", NULL,
		    "Input should be a valid dictionary or object to extract "
		    "fields from", ref(root));
		goto invalid;
	}

	/* name */
	have_name = json_object_object_get_ex(root, "name", &jname);
	if (!have_name)
		validation_add(list, "missing", "body", "name", "Field required",
		    ref(root));
	else if (!json_object_is_type(jname, json_type_string))
		validation_add(list, "string_type", "body", "name",
		    "Input should be a valid string", ref(jname));
	else {
		name = json_object_get_string(jname);
		name_len = (size_t)json_object_get_string_len(jname);
		if (!utf8_valid(name, name_len)) {
			/* json-c decoded an escape into bad bytes: not JSON */
			json_object_put(list);
			json_object_put(root);
			if ((list = json_invalid_list(0)) == NULL)
				return CORA_ERR_INTERNAL;
			*errors = list;
			return CORA_ERR_VALIDATION;
		}
		cps = utf8_codepoints(name, name_len);
		if (cps < 1)
			validation_add(list, "string_too_short", "body", "name",
			    "String should have at least 1 character",
			    ref(jname));
		else if (cps > NAME_MAX_CHARS)
			validation_add(list, "string_too_long", "body", "name",
			    "String should have at most 200 characters",
			    ref(jname));
	}

	/* kind */
	have_kind = json_object_object_get_ex(root, "kind", &jkind);
	if (have_kind && (!json_object_is_type(jkind, json_type_string) ||
	    strlen(json_object_get_string(jkind)) !=
	    (size_t)json_object_get_string_len(jkind) ||
	    actor_kind_parse(json_object_get_string(jkind), &kind) != 0))
		validation_add(list, "enum", "body", "kind",
		    "Input should be 'human', 'service_account' or 'agent'",
		    ref(jkind));

	if (json_object_array_length(list) > 0)
		goto invalid;
	json_object_put(list);

	/* the domain's own rules, on the name as it will be stored */
	trimmed = utf8_strip_py(name, name_len, &tlen);
	cps = utf8_codepoints(trimmed, tlen);
	if (cps < 1 || cps > NAME_MAX_CHARS) {
		set_detail(detail, dlen,
		    "Actor name must be 1-200 chars after trimming");
		ret = CORA_ERR_BAD_REQUEST;
	} else if (memchr(trimmed, '\0', tlen) != NULL) {
		set_detail(detail, dlen,
		    "Actor name must not contain NUL characters");
		ret = CORA_ERR_BAD_REQUEST;
	} else if (kind == ACTOR_KIND_AGENT) {
		set_detail(detail, dlen,
		    "Actor kind 'agent' cannot be registered through this API");
		ret = CORA_ERR_BAD_REQUEST;
	} else if ((cmd->name = malloc(tlen + 1)) == NULL)
		ret = CORA_ERR_INTERNAL;
	else {
		memcpy(cmd->name, trimmed, tlen);
		cmd->name[tlen] = '\0';
		cmd->kind = kind;
		ret = CORA_OK;
	}
	json_object_put(root);
	return ret;

invalid:
	json_object_put(root);
	*errors = list;
	return CORA_ERR_VALIDATION;
}

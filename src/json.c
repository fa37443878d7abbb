/*
 * json: JSON input read the way the original's Python decoder reads it
 * (json.loads): strict RFC 8259, strict UTF-8, a byte order mark allowed,
 * and the position of the first error for the 422 json_invalid loc, as
 * json.loads counts it: in characters of the text after the mark.
 * json-c does the parsing; this module closes the gaps between the two.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corad/alloc.h"
#include "corad/json.h"
#include "corad/utf8.h"

#define NO_PROBLEM	SIZE_MAX

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

/* The value of \uXXXX at s (6 bytes available), or -1. */
static long
json_u_escape(const unsigned char *s)
{
	long v = 0;

	if (s[0] != '\\' || s[1] != 'u')
		return -1;
	for (int i = 2; i < 6; i++) {
		int h = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' :
		    s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10 :
		    s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 10 : -1;

		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/*
 * What json-c accepts in strict mode but JSON (and the original's Python
 * decoder) does not: bytes that are not strict UTF-8 (json-c lets overlongs,
 * surrogates and code points above U+10FFFF through), raw control characters
 * inside strings, single-quoted strings, and literals or numbers outside the
 * RFC 8259 grammar ("1.", NaN, Infinity; json-c would also print them back
 * verbatim, which is not JSON). Also an escaped surrogate that is not half of
 * a pair ("\ud800"): json-c turns it into U+FFFD, so that the text stored
 * would not be the text sent, and the original refuses it as a string that
 * is not Unicode. Returns the offset of the first such byte, or
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
			long u;

			if (c < 0x20)
				return i;
			if (esc)
				esc = false;
			else if (c == '\\' && len - i >= 6 && (u = json_u_escape(s + i)) >= 0xd800 &&
			    u <= 0xdfff) {
				if (u > 0xdbff || len - i < 12 || (u = json_u_escape(s + i + 6)) < 0xdc00 ||
				    u > 0xdfff)
					return i;
				i += 12;	/* the pair */
				continue;
			} else if (c == '\\')
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

/* Whether the string whose body starts at s[i] (after its quote) is an
 * object's key: the next character after it that is not a blank is ':'. */
static bool
json_is_key(const unsigned char *s, size_t len, size_t i)
{
	for (; i < len && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	for (i++; i < len && json_ws(s[i]); i++)
		;
	return i < len && s[i] == ':';
}

/*
 * What json-c would read differently from Python, written so that it
 * reads the same:
 * - json-c 0.16 decodes some escaped surrogate pairs wrongly
 *   ("\ud836\ude00", U+1DA00, becomes U+FFFD: every code point whose low
 *   16 bits fall in D800..DFFF). The pairs are written as the UTF-8 they
 *   stand for, which json-c reads correctly.
 * - json-c cuts an object's key at a NUL ("name\u0000x" would be the key
 *   "name", and replace the real one). In a key the NUL becomes U+0001:
 *   still a key that no schema knows, ignored as Python ignores it.
 * Returns NULL when there is nothing to write (nothing allocated);
 * otherwise the new text, its length in *olen, and in *cuts the offsets
 * (in the new text) where 8 bytes were taken out.
 */
static char *
json_rewrite(const unsigned char *s, size_t len, size_t *olen, size_t **cuts, size_t *ncuts)
{
	char *out = NULL;
	size_t o = 0, from = 0, str = 0;
	enum { UNKNOWN, KEY, VALUE } kind = UNKNOWN;
	bool in_str = false;

	*ncuts = 0;
	*cuts = NULL;
	for (size_t i = 0; i < len; i++) {
		long hi, lo;
		uint32_t cp;

		if (!in_str) {
			if ((in_str = s[i] == '"')) {
				str = i + 1;
				kind = UNKNOWN;
			}
			continue;
		}
		if (s[i] == '"') {
			in_str = false;
			continue;
		}
		if (s[i] != '\\')
			continue;
		if (i + 6 <= len && json_u_escape(s + i) == 0) {
			if (kind == UNKNOWN)
				kind = json_is_key(s, len, str) ? KEY : VALUE;
			if (kind == KEY) {
				if (out == NULL)
					out = xmalloc(len + 1);
				memcpy(out + o, s + from, i - from);
				o += i - from;
				memcpy(out + o, "\\u0001", 6);
				o += 6;
				from = i + 6;
			}
			i += 5;
			continue;
		}
		if (i + 12 > len || (hi = json_u_escape(s + i)) < 0xd800 || hi > 0xdbff ||
		    (lo = json_u_escape(s + i + 6)) < 0xdc00 || lo > 0xdfff) {
			i++;	/* skip the escaped character */
			continue;
		}
		if (out == NULL)
			out = xmalloc(len + 1);
		memcpy(out + o, s + from, i - from);
		o += i - from;
		cp = 0x10000 + (((uint32_t)hi - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
		o += utf8_encode(cp, out + o);
		*cuts = xrealloc(*cuts, (*ncuts + 1) * sizeof(**cuts));
		(*cuts)[(*ncuts)++] = o;
		i += 11;
		from = i + 1;
	}
	if (out == NULL)
		return NULL;
	memcpy(out + o, s + from, len - from);
	o += len - from;
	out[o] = '\0';
	*olen = o;
	return out;
}

/*
 * JSON nests as deep as Python's decoder takes it (about 1,000 levels: its
 * recursion limit), not json-c's 32: valid JSON nested 33 deep in a key no
 * schema reads was refused as json_invalid. Such text is rare, and a
 * tokener's stack is allocated and cleared whole: text is read at json-c's
 * depth first and again with the deeper stack only when that is too
 * shallow. A stored reply echoes what a 422 was sent, so stored text is
 * read the same way.
 */
#define JSON_MAX_DEPTH	1000

static struct json_tokener *
json_tokener_of(int depth)
{
	struct json_tokener *tok = json_tokener_new_ex(depth);

	if (tok == NULL)
		alloc_failed(sizeof(*tok));
	return tok;
}

/* Stored text (what PostgreSQL wrote, or a reply corad made) is whole and
 * valid: one tokener serves it all, and what nests deeper than it reads
 * gets a deep one for that text alone. A client's text gets a tokener of
 * its own (json_tokenize): json-c's reset does not clear all that a parse
 * leaves, and a tokener reused across hostile text read a valid command
 * differently. */
json_object *
json_parse_stored(const char *text)
{
	static struct json_tokener *tok;
	enum json_tokener_error jerr;
	json_object *v;

	if (tok == NULL)
		tok = json_tokener_of(JSON_TOKENER_DEFAULT_DEPTH);
	json_tokener_reset(tok);
	v = json_tokener_parse_ex(tok, text, -1);
	if ((jerr = json_tokener_get_error(tok)) == json_tokener_error_depth) {
		struct json_tokener *deep = json_tokener_of(JSON_MAX_DEPTH);

		v = json_tokener_parse_ex(deep, text, -1);
		jerr = json_tokener_get_error(deep);
		json_tokener_free(deep);
	}
	if (jerr != json_tokener_success) {
		json_object_put(v);
		v = NULL;
	}
	return v;
}

/* json-c on text, its stack `depth` deep; NO_PROBLEM or the offset where
 * it failed, and whether for the depth. */
static size_t
json_tokenize_at(const unsigned char *text, size_t len, int depth, json_object **out,
    bool *too_deep)
{
	struct json_tokener *tok = json_tokener_of(depth);
	enum json_tokener_error jerr;
	json_object *v;
	size_t fail = NO_PROBLEM, end;

	*out = NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	v = json_tokener_parse_ex(tok, (const char *)text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* all bytes read; a final NUL ends a top-level number or literal */
		v = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
		if (jerr != json_tokener_success)
			fail = end;
	} else if (jerr != json_tokener_success)
		fail = end;
	else {
		while (end < len && json_ws(text[end]))
			end++;
		if (end < len)
			fail = end;	/* trailing data */
	}
	*too_deep = jerr == json_tokener_error_depth;
	json_tokener_free(tok);
	if (fail != NO_PROBLEM)
		json_object_put(v);
	else
		*out = v;
	return fail;
}

static size_t
json_tokenize(const unsigned char *text, size_t len, json_object **out)
{
	bool too_deep;
	size_t fail = json_tokenize_at(text, len, JSON_TOKENER_DEFAULT_DEPTH, out, &too_deep);

	if (too_deep)
		fail = json_tokenize_at(text, len, JSON_MAX_DEPTH, out, &too_deep);
	return fail;
}

/* The characters in the first n bytes of UTF-8 text. */
static size_t
chars_in(const unsigned char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += (s[i] & 0xc0) != 0x80;
	return c;
}

bool
json_read(const char *body, size_t len, json_object **out, size_t *error_offset)
{
	const unsigned char *b = (const unsigned char *)body;
	size_t skip = 0, pre, fail, tlen = 0, *cuts, ncuts;
	char *joined;

	*out = NULL;
	/* A UTF-8 byte order mark is allowed, as Python's json.loads(bytes) does. */
	if (len >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf)
		skip = 3;
	if (len - skip > INT_MAX) {
		*error_offset = 0;
		return false;
	}
	pre = json_prescan(b + skip, len - skip);
	joined = json_rewrite(b + skip, len - skip, &tlen, &cuts, &ncuts);
	fail = joined != NULL ? json_tokenize((const unsigned char *)joined, tlen, out) :
	    json_tokenize(b + skip, len - skip, out);
	/* An offset in the joined text, back in the text as sent. */
	if (fail != NO_PROBLEM) {
		size_t before = 0;

		while (before < ncuts && cuts[before] <= fail)
			before++;
		fail += 8 * before;
	}
	free(joined);
	free(cuts);
	if (pre < fail)
		fail = pre;
	if (fail == NO_PROBLEM)
		return true;
	json_object_put(*out);
	*out = NULL;
	*error_offset = chars_in(b + skip, fail);	/* valid UTF-8 before fail */
	return false;
}

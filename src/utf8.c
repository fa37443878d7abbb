/* utf8: strict UTF-8 validation, decoding, and repair for output. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corad/alloc.h"
#include "corad/utf8.h"

/*
 * How many bytes at s (at most len) form the beginning of one well-formed
 * sequence, whose full length goes to *need: equal to *need for a complete
 * sequence, less for one that is cut short or broken, 0 for a byte that
 * cannot start one (a continuation byte, C0, C1, F5..FF).
 */
static size_t
utf8_prefix(const unsigned char *s, size_t len, size_t *need)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	*need = 1;
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
		return 0;
	*need = n;
	if (len < 2 || s[1] < lo || s[1] > hi)
		return 1;
	for (i = 2; i < n && i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			break;
	return i;
}

size_t
utf8_seq_len(const unsigned char *s, size_t len)
{
	size_t need, got = utf8_prefix(s, len, &need);

	return got == need ? need : 0;
}

uint32_t
utf8_decode(const unsigned char *s, size_t n)
{
	uint32_t cp;

	switch (n) {
	case 1: return s[0];
	case 2: cp = s[0] & 0x1fu; break;
	case 3: cp = s[0] & 0x0fu; break;
	default: cp = s[0] & 0x07u; break;
	}
	for (size_t i = 1; i < n; i++)
		cp = (cp << 6) | (s[i] & 0x3fu);
	return cp;
}

size_t
utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Offset of the first byte that does not start a valid sequence, or len. */
static size_t
utf8_valid_prefix(const unsigned char *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		uint64_t w;

		/* ASCII, the bulk of every body, eight bytes at a time. */
		if (len - i >= sizeof(w)) {
			memcpy(&w, s + i, sizeof(w));
			if ((w & 0x8080808080808080ull) == 0) {
				i += sizeof(w);
				continue;
			}
		}
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = utf8_seq_len(s + i, len - i)) == 0)
			return i;
		i += n;
	}
	return len;
}

bool
utf8_valid(const char *s, size_t len)
{
	if (len == 0)
		return true;
	return s != NULL && utf8_valid_prefix((const unsigned char *)s, len) == len;
}

size_t
utf8_codepoints(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
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

/* Unicode's White_Space: Python's isspace() but U+001C..U+001F. */
static bool
unicode_white_space(uint32_t cp)
{
	return (cp < 0x1c || cp > 0x1f) && py_isspace(cp);
}

static const char *
strip_with(const char *s, size_t len, size_t *out_len, bool (*space)(uint32_t))
{
	const unsigned char *p = (const unsigned char *)s;
	size_t start = 0, end = len, n, k;

	while (start < end) {
		n = utf8_seq_len(p + start, end - start);
		if (n == 0 || !space(utf8_decode(p + start, n)))
			break;
		start += n;
	}
	/* Trailing: back up over at most 3 continuation bytes. */
	while (end > start) {
		k = end - 1;
		while (k > start && end - k < 4 && (p[k] & 0xc0) == 0x80)
			k--;
		n = utf8_seq_len(p + k, end - k);
		if (n != end - k || !space(utf8_decode(p + k, n)))
			break;
		end = k;
	}
	*out_len = end - start;
	return s + start;
}

const char *
utf8_strip_py(const char *s, size_t len, size_t *out_len)
{
	return strip_with(s, len, out_len, py_isspace);
}

const char *
utf8_strip_white_space(const char *s, size_t len, size_t *out_len)
{
	return strip_with(s, len, out_len, unicode_white_space);
}

/*
 * Length of the maximal invalid subpart at s (which does not start a valid
 * sequence): the lead byte and the continuation bytes that could still have
 * completed it, so a cut-off euro sign "\xe2\x82" is one replacement and
 * "\xff\xff" two, as Unicode recommends and Python's errors="replace" does.
 */
static size_t
utf8_bad_len(const unsigned char *s, size_t len)
{
	size_t need, got = utf8_prefix(s, len, &need);

	return got == 0 ? 1 : got;
}

char *
utf8_sanitize(const char *s, size_t len, size_t *out_len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = utf8_valid_prefix(p, len), o;
	char *out;

	if (i == len)
		return NULL;
	/* Worst case: every byte becomes three. */
	out = xmalloc(len * 3 + 1);
	memcpy(out, s, i);
	o = i;
	while (i < len) {
		size_t n = p[i] < 0x80 ? 1 : utf8_seq_len(p + i, len - i);

		if (n > 0) {
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
			continue;
		}
		memcpy(out + o, UTF8_REPLACEMENT, 3);
		o += 3;
		i += utf8_bad_len(p + i, len - i);
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

void
utf8_copy(char *dst, size_t size, const char *src)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t len = strlen(src), i = 0, o = 0;

	while (i < len) {
		size_t n = p[i] < 0x80 ? 1 : utf8_seq_len(p + i, len - i);
		const char *piece = n > 0 ? src + i : UTF8_REPLACEMENT;
		size_t plen = n > 0 ? n : 3;

		if (o + plen >= size)
			break;
		memcpy(dst + o, piece, plen);
		o += plen;
		i += n > 0 ? n : utf8_bad_len(p + i, len - i);
	}
	dst[o] = '\0';
}

/* Whether Python's str.isprintable() refuses code point c (the classes
 * utf8_py_repr names; see utf8.h). */
static bool
py_unprintable(uint32_t c)
{
	static const uint32_t ranges[][2] = {
		{ 0x00, 0x1f }, { 0x7f, 0xa0 }, { 0xad, 0xad },		/* Cc, NBSP, SHY */
		{ 0x600, 0x605 }, { 0x61c, 0x61c }, { 0x6dd, 0x6dd }, { 0x70f, 0x70f },
		{ 0x890, 0x891 }, { 0x8e2, 0x8e2 }, { 0x1680, 0x1680 }, { 0x180e, 0x180e },
		{ 0x2000, 0x200f }, { 0x2028, 0x202f }, { 0x205f, 0x2064 }, { 0x2066, 0x206f },
		{ 0x3000, 0x3000 }, { 0xd800, 0xf8ff }, { 0xfdd0, 0xfdef }, { 0xfeff, 0xfeff },
		{ 0xfff9, 0xfffb }, { 0x110bd, 0x110bd }, { 0x110cd, 0x110cd },
		{ 0x13430, 0x1343f }, { 0x1bca0, 0x1bca3 }, { 0x1d173, 0x1d17a },
		{ 0xe0001, 0xe0001 }, { 0xe0020, 0xe007f }, { 0xf0000, 0x10ffff },
	};

	if ((c & 0xfffe) == 0xfffe)	/* U+FFFE, U+FFFF in every plane */
		return true;
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (c >= ranges[i][0] && c <= ranges[i][1])
			return true;
	return false;
}

char *
utf8_py_repr(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	char quote = memchr(s, '\'', len) != NULL && memchr(s, '"', len) == NULL ? '"' : '\'';
	/* Worst case: every byte becomes \xNN, or four bytes one \UNNNNNNNN. */
	char *out = xmalloc(len * 4 + 3), *o = out;
	size_t i = 0;

	*o++ = quote;
	while (i < len) {
		size_t n = p[i] < 0x80 ? 1 : utf8_seq_len(p + i, len - i);
		uint32_t c;

		if (n == 0) {
			o += sprintf(o, "\\x%02x", p[i++]);
			continue;
		}
		c = n == 1 ? p[i] : utf8_decode(p + i, n);
		if (c == '\\' || c == (uint32_t)quote) {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c == '\t' || c == '\n' || c == '\r') {
			*o++ = '\\';
			*o++ = c == '\t' ? 't' : c == '\n' ? 'n' : 'r';
		} else if (py_unprintable(c))
			o += sprintf(o, c < 0x100 ? "\\x%02x" : c < 0x10000 ? "\\u%04x" : "\\U%08x",
			    (unsigned)c);
		else {
			memcpy(o, s + i, n);
			o += n;
		}
		i += n;
	}
	*o++ = quote;
	*o = '\0';
	return out;
}

char *
utf8_nul_replaced(const char *s, size_t len, size_t *out_len)
{
	char *out;
	size_t o = 0;

	if (memchr(s, '\0', len) == NULL)
		return NULL;
	out = xmalloc(len * 3 + 1);
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\0') {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
		} else
			out[o++] = s[i];
	out[o] = '\0';
	*out_len = o;
	return out;
}

/*
 * fuzz_utf8: the UTF-8 safety net (utf8.h) that keeps every JSON body and
 * log line valid: utf8_sanitize(), utf8_copy(), and under them
 * utf8_valid(), utf8_seq_len(), utf8_decode() and utf8_strip_py().
 *
 * Input: raw bytes. utf8_sanitize() must return NULL exactly when the
 * bytes are valid UTF-8, and otherwise a NUL-terminated valid string equal
 * to a reference written here (each maximal invalid subpart replaced by
 * U+FFFD, Python's errors="replace"). utf8_copy() of the input as a C
 * string into heap buffers of exactly 1..9, 16, 40, 48 bytes and of ample
 * size must write a terminated valid string within the buffer: the
 * sanitized text cut at the last whole character that fits. Every
 * sequence utf8_seq_len() accepts must decode to a code point of that
 * length's range, never a surrogate. utf8_py_repr() must give a quoted,
 * valid UTF-8 text without control characters, at most 4 bytes a byte.
 * abort() otherwise.
 *
 * Seeds: tests/fuzz/corpus/fuzz_utf8/ (valid text, overlongs, surrogates,
 * cut sequences, C1 bytes). Run: tests/fuzz/run.sh, or by hand
 *   fuzz-build/tests/fuzz/fuzz_utf8 -max_len=1024 CORPUS_DIR
 */
#include "config.h"

#include <stdbool.h>

#include "corad/utf8.h"
#include "fuzz.h"

/* Length of the valid sequence at s, or 0 (Unicode table 3-7); *sub gets
 * the length of the maximal subpart when it is not valid (at least 1). */
static size_t
ref_seq(const unsigned char *s, size_t len, size_t *sub)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t k, i;

	*sub = 1;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		k = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		k = 2;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 3;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else
		return 0;
	for (i = 1; i <= k; i++) {
		unsigned char b = i < len ? s[i] : 0;

		if (i >= len || b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xbf)) {
			*sub = i;
			return 0;
		}
	}
	return k + 1;
}

/* Reference sanitizer: the output length; out must hold 3 * len + 1. */
static size_t
ref_sanitize(const unsigned char *s, size_t len, char *out, bool *valid)
{
	size_t i = 0, o = 0, n, sub;

	*valid = true;
	while (i < len) {
		if ((n = ref_seq(s + i, len - i, &sub)) > 0) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, UTF8_REPLACEMENT, 3);
			o += 3;
			i += sub;
			*valid = false;
		}
	}
	out[o] = '\0';
	return o;
}

/* Bytes of the UTF-8 character starting with lead byte c. */
static size_t
char_len(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

static void
check_copy(const char *src, const char *want, size_t want_len, size_t size)
{
	char *dst = malloc(size);
	size_t fit = 0, n;

	if (dst == NULL)
		abort();
	memset(dst, 'x', size);
	utf8_copy(dst, size, src);
	FUZZ_CHECK(memchr(dst, '\0', size) != NULL);
	n = strlen(dst);
	FUZZ_CHECK(utf8_valid(dst, n));
	/* The longest run of whole characters of `want` that fits. */
	while (fit < want_len && fit + char_len((unsigned char)want[fit]) <= size - 1)
		fit += char_len((unsigned char)want[fit]);
	FUZZ_CHECK(n == fit);
	FUZZ_CHECK(memcmp(dst, want, n) == 0);
	free(dst);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 40, 48 };
	char *ref = malloc(3 * size + 1), *src, *out;
	size_t ref_len, out_len = 0, slen;
	bool valid;

	if (ref == NULL)
		abort();
	/* utf8_sanitize on the raw bytes, NUL bytes included. */
	ref_len = ref_sanitize(data, size, ref, &valid);
	FUZZ_CHECK(utf8_valid((const char *)data, size) == valid);
	out = utf8_sanitize((const char *)data, size, &out_len);
	FUZZ_CHECK((out == NULL) == valid);
	if (out != NULL) {
		FUZZ_CHECK(out_len == ref_len && out[out_len] == '\0');
		FUZZ_CHECK(memcmp(out, ref, ref_len) == 0);
		FUZZ_CHECK(utf8_valid(out, out_len));
		FUZZ_CHECK(utf8_sanitize(out, out_len, &out_len) == NULL);
		free(out);
	}

	/* The decoder under it. */
	for (size_t i = 0; i < size;) {
		size_t n = utf8_seq_len(data + i, size - i), sub;
		uint32_t cp;

		FUZZ_CHECK(n == ref_seq(data + i, size - i, &sub));
		if (n == 0) {
			i++;
			continue;
		}
		cp = utf8_decode(data + i, n);
		FUZZ_CHECK(cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff));
		FUZZ_CHECK(n == (cp < 0x80 ? 1u : cp < 0x800 ? 2u : cp < 0x10000 ? 3u : 4u));
		i += n;
	}

	/* repr() is quoted, printable ASCII or valid UTF-8, and bounded. */
	{
		char *r = utf8_py_repr((const char *)data, size);
		size_t rlen = strlen(r);

		FUZZ_CHECK(rlen >= 2 && rlen <= 4 * size + 2);
		FUZZ_CHECK((r[0] == '\'' || r[0] == '"') && r[rlen - 1] == r[0]);
		FUZZ_CHECK(utf8_valid(r, rlen));
		for (size_t i = 0; i < rlen; i++)
			FUZZ_CHECK((unsigned char)r[i] >= 0x20 && r[i] != 0x7f);
		free(r);
	}

	/* Stripping stays inside the string. */
	{
		size_t tlen;
		const char *t = utf8_strip_py((const char *)data, size, &tlen);

		FUZZ_CHECK(t >= (const char *)data && t <= (const char *)data + size);
		FUZZ_CHECK(tlen <= size - (size_t)(t - (const char *)data));
	}

	/* utf8_copy on the input as a C string. */
	src = fuzz_cstring(data, size);
	slen = strlen(src);
	ref_len = ref_sanitize((const unsigned char *)src, slen, ref, &valid);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		check_copy(src, ref, ref_len, sizes[i]);
	check_copy(src, ref, ref_len, ref_len + 1);
	free(src);
	free(ref);
	return 0;
}

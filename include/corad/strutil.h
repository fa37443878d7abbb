/* strutil: small string helpers shared by several modules. */
#ifndef CORAD_STRUTIL_H
#define CORAD_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* A macro's value as a string literal: STR(BATCH_SIZE) is "100". */
#define STR_(x)	#x
#define STR(x)	STR_(x)

/* Copies src into dst (size bytes), cut to fit and always terminated:
 * snprintf("%s") without the format parsing. */
static inline void
str_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Whether the n bytes at p are all zero (an all-zero trace or span id is
 * invalid). */
static inline bool
mem_all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

/* The value of a hexadecimal digit of either case, -1 for anything else. */
static inline int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX in place (and '+' as a space in a query string); %00 stays
 * as it is, so the result never holds an early NUL. */
static inline void
str_percent_decode(char *s, int plus_is_space)
{
	char *w = s;

	for (; *s != '\0'; s++) {
		int hi, lo;

		if (*s == '+' && plus_is_space)
			*w++ = ' ';
		else if (*s == '%' && (hi = hex_value(s[1])) >= 0 && (lo = hex_value(s[2])) >= 0 &&
		    (hi | lo) != 0) {
			*w++ = (char)(hi << 4 | lo);
			s += 2;
		} else
			*w++ = *s;
	}
	*w = '\0';
}

#endif

/* strutil: string helpers for paths that run on every request. */
#ifndef CORAD_STRUTIL_H
#define CORAD_STRUTIL_H

#include <stddef.h>
#include <string.h>

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

#endif

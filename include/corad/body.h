/* body: the request body limit (doc/design.md, "The request pipeline"). */
#ifndef CORAD_BODY_H
#define CORAD_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum body_verdict {
	BODY_OK,		/* within the limit */
	BODY_TOO_LARGE,		/* declared or counted size over the limit */
	BODY_BAD_LENGTH,	/* CONTENT_LENGTH is not a decimal number */
	BODY_IO_ERROR,		/* the connection failed while reading */
};

/*
 * Decides from CONTENT_LENGTH alone, before reading anything. NULL or ""
 * means no length was sent (the body is still counted while read).
 * *declared receives the parsed length (or -1).
 */
enum body_verdict body_check_length(const char *content_length, long limit,
		    long long *declared);

/* Reads at most n bytes; returns 0 at end of body, -1 on error. */
typedef ssize_t	(*body_read_fn)(void *ctx, char *buf, size_t n);

/*
 * Reads the whole body, never more than limit + 1 bytes: reaching limit + 1
 * returns BODY_TOO_LARGE with *got = limit + 1. On BODY_OK *out is a
 * NUL-terminated malloc'd buffer of *got bytes (owned by the caller); on any
 * other verdict *out is NULL.
 */
enum body_verdict body_read_limited(body_read_fn fn, void *ctx, long limit,
		    char **out, size_t *got);

#endif

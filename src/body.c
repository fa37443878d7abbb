/* body: the request body limit (doc/design.md, "The request pipeline"). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "corad/alloc.h"
#include "corad/body.h"

enum body_verdict
body_check_length(const char *content_length, long limit, long long *declared)
{
	char *end;
	long long n;

	*declared = -1;
	if (content_length == NULL || content_length[0] == '\0')
		return BODY_OK;
	if (content_length[0] < '0' || content_length[0] > '9')
		return BODY_BAD_LENGTH;
	errno = 0;
	n = strtoll(content_length, &end, 10);
	/* A decimal too big for any machine is over any limit. */
	if (*end == '\0' && errno == ERANGE) {
		*declared = LLONG_MAX;
		return BODY_TOO_LARGE;
	}
	if (*end != '\0' || errno != 0)
		return BODY_BAD_LENGTH;
	*declared = n;
	return n > limit ? BODY_TOO_LARGE : BODY_OK;
}

enum body_verdict
body_read_limited(body_read_fn fn, void *ctx, long limit, char **out, size_t *got)
{
	size_t cap = 0, len = 0, max = (size_t)limit + 1;
	char *buf = NULL;

	*out = NULL;
	*got = 0;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			size_t ncap = cap == 0 ? 4096 : cap * 2;
			char *nb;

			if (ncap > max + 1)
				ncap = max + 1;	/* room for limit+1 bytes and the NUL */
			nb = xrealloc(buf, ncap);
			buf = nb;
			cap = ncap;
		}
		/* Never ask for more than reaches limit + 1 in total. */
		n = fn(ctx, buf + len, (cap - 1 < max ? cap - 1 : max) - len);
		if (n < 0) {
			free(buf);
			return BODY_IO_ERROR;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len >= max) {
			free(buf);
			*got = max;
			return BODY_TOO_LARGE;
		}
	}
	buf[len] = '\0';
	*out = buf;
	*got = len;
	return BODY_OK;
}

/* fcgi_head: a request's head checked before libfcgi reads it (fcgi_head.h). */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "corad/fcgi_head.h"
#include "corad/strutil.h"

/* The FastCGI record: an 8-byte header, content, padding. */
#define REC_HEADER		8
#define REC_VERSION		1
#define REC_BEGIN_REQUEST	1
#define REC_PARAMS		4

/* A pair's length field at p (1 byte, or 4 with the top bit set) into *n;
 * false when it does not fit before end. */
static bool
pair_length(const unsigned char **p, const unsigned char *end, size_t *n)
{
	if (*p >= end)
		return false;
	if (!(**p & 0x80)) {
		*n = *(*p)++;
		return true;
	}
	if (end - *p < 4)
		return false;
	*n = ((size_t)((*p)[0] & 0x7f) << 24) | ((size_t)(*p)[1] << 16) |
	    ((size_t)(*p)[2] << 8) | (*p)[3];
	*p += 4;
	return true;
}

/* Every pair of the whole PARAMS stream lies within it, without a NUL. */
static enum fcgi_head
pairs_check(const unsigned char *p, size_t len, const char **why)
{
	const unsigned char *end = p + len;

	while (p < end) {
		size_t name, value;

		if (!pair_length(&p, end, &name) || !pair_length(&p, end, &value) ||
		    name > (size_t)(end - p) || value > (size_t)(end - p) - name) {
			*why = "a parameter's lengths run past the parameters";
			return FCGI_HEAD_BAD;
		}
		if (memchr(p, '\0', name + value) != NULL) {
			*why = "a parameter holds a NUL byte";
			return FCGI_HEAD_BAD;
		}
		p += name + value;
	}
	return FCGI_HEAD_OK;
}

enum fcgi_head
fcgi_head_check(const unsigned char *buf, size_t len, unsigned char *scratch, const char **why)
{
	size_t off = 0, params = 0;
	long id = -1;

	*why = NULL;
	while (len - off >= REC_HEADER) {
		const unsigned char *h = buf + off;
		unsigned rid = (unsigned)h[2] << 8 | h[3];
		size_t clen = (size_t)h[4] << 8 | h[5], rec = REC_HEADER + clen + h[6];

		if (h[0] != REC_VERSION)
			return FCGI_HEAD_OK;
		if (len - off < rec)
			break;
		if (id < 0) {
			if (h[1] == REC_BEGIN_REQUEST && rid != 0)
				id = rid;
		} else if (rid == (unsigned)id) {
			/* An abort too: libfcgi would take the request in and
			 * wait for the rest of it. */
			if (h[1] != REC_PARAMS) {
				*why = "the request's records start before its parameters end";
				return FCGI_HEAD_BAD;
			}
			if (clen == 0)
				return pairs_check(scratch, params, why);
			if (clen > FCGI_HEAD_MAX - params) {
				*why = "the parameters exceed " STR(FCGI_HEAD_MAX) " bytes";
				return FCGI_HEAD_BAD;
			}
			memcpy(scratch + params, h + REC_HEADER, clen);
			params += clen;
		}
		off += rec;
	}
	return FCGI_HEAD_MORE;
}

/*
 * fcgi_head: a request's head (its BEGIN_REQUEST record and its whole
 * PARAMS stream) checked before libfcgi reads it (doc/design.md,
 * "Processes"). libfcgi reads the head with blocking reads and no time
 * limit, and allocates each parameter at the size its length fields claim,
 * summed in an int: a peer that stops halfway would hold a worker for good,
 * and one pair's lengths could make libfcgi abort the worker.
 */
#ifndef CORAD_FCGI_HEAD_H
#define CORAD_FCGI_HEAD_H

#include <stddef.h>

/* The most bytes a request's parameters may take, their length fields
 * included: far above what nginx or Apache send for the largest headers
 * they accept by default, and below what a socket holds unread. */
#define FCGI_HEAD_MAX	65536

enum fcgi_head {
	FCGI_HEAD_MORE,		/* not all there yet */
	FCGI_HEAD_OK,		/* for libfcgi to read (or to refuse itself) */
	FCGI_HEAD_BAD,		/* refused: *why says what is wrong */
};

/*
 * Looks at the first len bytes a connection brought (a request starts at
 * buf[0]) and says whether libfcgi may read them: FCGI_HEAD_OK once the
 * PARAMS stream of the request BEGIN_REQUEST opened has ended and every
 * name-value pair in it lies within it without a NUL byte; FCGI_HEAD_MORE
 * while it may still come; FCGI_HEAD_BAD, with the reason in *why, when the
 * parameters exceed FCGI_HEAD_MAX, a pair's lengths run past the stream, a
 * name or value holds a NUL, or the request's other records start before
 * its parameters end. A record of another version, and records before
 * BEGIN_REQUEST or of another request, are libfcgi's to answer or ignore.
 * scratch has room for FCGI_HEAD_MAX bytes.
 */
enum fcgi_head	fcgi_head_check(const unsigned char *buf, size_t len, unsigned char *scratch,
		    const char **why);

#endif

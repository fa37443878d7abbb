/* alloc: allocation that never returns NULL (the out-of-memory policy). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "corad/alloc.h"

static const char *alloc_logger = "corad";

void
alloc_set_logger(const char *logger)
{
	alloc_logger = logger;
}

/* The log line of log.h's shape, written without allocating (and without
 * the log module, which allocates through here). */
void
alloc_failed(size_t bytes)
{
	struct timespec now;
	struct tm tm;
	char ts[32], line[256];
	int n;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "{\"timestamp\":\"%s.%06ldZ\",\"level\":\"error\","
	    "\"event\":\"process.out_of_memory\",\"logger\":\"%s\",\"pid\":%ld,"
	    "\"bytes\":%zu}\n", ts, now.tv_nsec / 1000, alloc_logger, (long)getpid(), bytes);
	if (n > 0 && (size_t)n < sizeof(line))
		(void)!write(STDERR_FILENO, line, (size_t)n);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		alloc_failed(n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		alloc_failed(n * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n == 0 ? 1 : n);

	if (q == NULL)
		alloc_failed(n);
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		alloc_failed(n + 1);
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		alloc_failed(0);
	return s;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

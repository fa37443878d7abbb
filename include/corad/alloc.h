/*
 * alloc: corad's one out-of-memory policy (doc/design.md, "Errors"). An
 * allocation that fails ends the process: it writes one log line,
 * process.out_of_memory, without allocating, and aborts. The master
 * replaces a worker, the stats child or the projector that died this way;
 * the request in flight gets the proxy's JSON 502. Nothing limps on with a
 * truncated answer or a half-built string.
 */
#ifndef CORAD_ALLOC_H
#define CORAD_ALLOC_H

#include <stdarg.h>
#include <stddef.h>

/* Logs process.out_of_memory (asked for `bytes`) and aborts. */
_Noreturn void	 alloc_failed(size_t bytes);
/* The `logger` of that line (log.h keeps it the same as its own). */
void		 alloc_set_logger(const char *logger);

void	*xmalloc(size_t n);
void	*xcalloc(size_t n, size_t size);
void	*xrealloc(void *p, size_t n);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
char	*xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char	*xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif

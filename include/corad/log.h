/* log: one JSON object per line on stderr (doc/design.md, "Metrics,
 * status, logs and traces"). */
#ifndef CORAD_LOG_H
#define CORAD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARNING,
	LOG_ERROR,
};

enum log_field_type {
	LF_T_END,	/* terminates a field list */
	LF_T_STR,	/* string; NULL is written as JSON null */
	LF_T_INT,	/* signed 64-bit integer */
	LF_T_DBL,	/* double */
	LF_T_BOOL,
	LF_T_NULL,	/* the key with a JSON null */
	LF_T_SKIP,	/* no field: for conditional fields in a list */
};

struct log_field {
	const char		*key;
	enum log_field_type	 type;
	union {
		const char	*s;
		int64_t		 i;
		double		 d;
		bool		 b;
	} v;
};

#define LF_STR(k, x)	((struct log_field){ .key = (k), .type = LF_T_STR, .v.s = (x) })
#define LF_INT(k, x)	((struct log_field){ .key = (k), .type = LF_T_INT, .v.i = (int64_t)(x) })
#define LF_DBL(k, x)	((struct log_field){ .key = (k), .type = LF_T_DBL, .v.d = (x) })
#define LF_BOOL(k, x)	((struct log_field){ .key = (k), .type = LF_T_BOOL, .v.b = (x) })
#define LF_NULL(k)	((struct log_field){ .key = (k), .type = LF_T_NULL })
#define LF_SKIP		((struct log_field){ .type = LF_T_SKIP })

/* Process-wide settings: minimum level and the `logger` value of every line. */
void	log_init(enum log_level min, const char *logger);
void	log_set_logger(const char *logger);
bool	log_enabled(enum log_level level);

/*
 * The span the process is working in: every line written while it is set
 * carries trace_id, span_id and trace_flags. The strings
 * are copied; log_clear_span() ends it.
 */
void	log_set_span(const char *trace_id, const char *span_id, const char *trace_flags);
void	log_clear_span(void);

/* Parses DEBUG/INFO/WARNING/ERROR (case-insensitive); -1 if unknown. */
int	log_level_parse(const char *s);

/* Writes one line with a single write(2), so lines from many processes never
 * interleave. `fields` ends with LF_T_END; use the log_* macros below. */
void	log_emit(enum log_level level, const char *event, const struct log_field *fields);
/* The same whatever LOG_LEVEL says: for lines an operator asked for by name
 * (the access log). */
void	log_emit_always(enum log_level level, const char *event, const struct log_field *fields);

#define LOG_FIELDS(...)	((const struct log_field[]){ __VA_ARGS__ __VA_OPT__(,) { .type = LF_T_END } })
#define log_debug(ev, ...)	log_emit(LOG_DEBUG, (ev), LOG_FIELDS(__VA_ARGS__))
#define log_info(ev, ...)	log_emit(LOG_INFO, (ev), LOG_FIELDS(__VA_ARGS__))
#define log_warning(ev, ...)	log_emit(LOG_WARNING, (ev), LOG_FIELDS(__VA_ARGS__))
#define log_error(ev, ...)	log_emit(LOG_ERROR, (ev), LOG_FIELDS(__VA_ARGS__))

/* Formats `t` (CLOCK_REALTIME) as RFC 3339 UTC with microseconds and Z into
 * buf (at least 28 bytes). */
struct timespec;
void	log_format_time(const struct timespec *t, char *buf, unsigned long len);

#endif

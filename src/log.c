/* log: one JSON object per line on stderr (doc/design.md, "Metrics,
 * status, logs and traces"). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "corad/alloc.h"
#include "corad/log.h"
#include "corad/strutil.h"
#include "corad/utf8.h"

static enum log_level	 log_min = LOG_INFO;
static const char	*log_logger = "corad";
static char		 span_trace[33], span_id[17], span_flags[3];	/* "" when none */

void
log_set_span(const char *trace_id, const char *sid, const char *flags)
{
	str_copy(span_trace, sizeof(span_trace), trace_id);
	str_copy(span_id, sizeof(span_id), sid);
	str_copy(span_flags, sizeof(span_flags), flags);
}

void
log_clear_span(void)
{
	span_trace[0] = span_id[0] = span_flags[0] = '\0';
}

static const char *const level_names[] = {
	[LOG_DEBUG] = "debug",
	[LOG_INFO] = "info",
	[LOG_WARNING] = "warning",
	[LOG_ERROR] = "error",
};

void
log_init(enum log_level min, const char *logger)
{
	log_min = min;
	if (logger != NULL)
		log_set_logger(logger);
}

void
log_set_logger(const char *logger)
{
	log_logger = logger;
	alloc_set_logger(logger);
}

bool
log_enabled(enum log_level level)
{
	return level >= log_min;
}

int
log_level_parse(const char *s)
{
	static const char *const upper[] = { "DEBUG", "INFO", "WARNING", "ERROR" };

	if (s == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(upper) / sizeof(upper[0]); i++)
		if (strcasecmp(s, upper[i]) == 0)
			return (int)i;
	return -1;
}

void
log_format_time(const struct timespec *t, char *buf, unsigned long len)
{
	struct tm tm;
	char base[32];

	gmtime_r(&t->tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%.20s.%06uZ", base, (unsigned)(t->tv_nsec / 1000) % 1000000u);
}

static json_object *
field_value(const struct log_field *f)
{
	switch (f->type) {
	case LF_T_STR:
		return f->v.s == NULL ? NULL : json_object_new_string(f->v.s);
	case LF_T_INT:
		return json_object_new_int64(f->v.i);
	case LF_T_DBL:
		return json_object_new_double(f->v.d);
	case LF_T_BOOL:
		return json_object_new_boolean(f->v.b);
	case LF_T_NULL:
	case LF_T_SKIP:
	case LF_T_END:
		break;
	}
	return NULL;
}

/*
 * Writes one line with one write(2): atomic on pipes up to PIPE_BUF, so
 * lines from the master and every child never interleave. Bytes that are
 * not UTF-8 (a path, a header, a database message echoed in a field) are
 * replaced, so that every line is valid JSON.
 */
static void
log_write_line(const char *s, size_t len)
{
	char stackbuf[4096], *fixed, *line;
	size_t flen;

	if ((fixed = utf8_sanitize(s, len, &flen)) != NULL) {
		s = fixed;
		len = flen;
	}
	line = len + 1 <= sizeof(stackbuf) ? stackbuf : xmalloc(len + 1);
	memcpy(line, s, len);
	line[len] = '\n';
	(void)!write(STDERR_FILENO, line, len + 1);
	if (line != stackbuf)
		free(line);
	free(fixed);
}

void
log_emit(enum log_level level, const char *event, const struct log_field *fields)
{
	if (level >= log_min)
		log_emit_always(level, event, fields);
}

void
log_emit_always(enum log_level level, const char *event, const struct log_field *fields)
{
	struct timespec now;
	char ts[40];
	json_object *o;
	const char *s;
	size_t len;
	int saved = errno;

	clock_gettime(CLOCK_REALTIME, &now);
	log_format_time(&now, ts, sizeof(ts));

	o = json_object_new_object();
	json_object_object_add(o, "timestamp", json_object_new_string(ts));
	json_object_object_add(o, "level", json_object_new_string(level_names[level]));
	json_object_object_add(o, "event", json_object_new_string(event));
	json_object_object_add(o, "logger", json_object_new_string(log_logger));
	for (const struct log_field *f = fields; f != NULL && f->type != LF_T_END; f++)
		if (f->type != LF_T_SKIP)
			json_object_object_add(o, f->key, field_value(f));
	if (span_trace[0] != '\0') {
		json_object_object_add(o, "trace_id", json_object_new_string(span_trace));
		json_object_object_add(o, "span_id", json_object_new_string(span_id));
		json_object_object_add(o, "trace_flags", json_object_new_string(span_flags));
	}

	s = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	log_write_line(s, len);
	json_object_put(o);
	errno = saved;
}

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
 * A line is one write(2), atomic on a pipe (or the journal's stream, which
 * every process shares) up to PIPE_BUF bytes: lines from the master and
 * every child never interleave as long as each fits. One that would not is
 * written again with its longest strings cut (shorten_longest).
 */
#define LOG_LINE_MAX	4096	/* PIPE_BUF on Linux, the newline included */
#define LOG_FIELD_KEEP	48	/* bytes a cut string keeps at least, in the line */

/* Cuts the string field of o that takes the most bytes in the line by
 * about `excess` of them, at a character boundary, ending it with U+2026,
 * and marks the line "truncated"; false when none takes more than
 * LOG_FIELD_KEEP. Sizes are measured as written, escapes included and
 * bytes that are not UTF-8 as the three of their replacement. */
static bool
shorten_longest(json_object *o, size_t excess)
{
	const char *longest = NULL, *v;
	size_t wide = 0, n, keep, target;
	char *cut;

	json_object_object_foreach(o, k, val) {
		const char *js;
		char *fixed;
		size_t w, fw;

		if (!json_object_is_type(val, json_type_string))
			continue;
		js = json_object_to_json_string_length(val, JSON_C_TO_STRING_PLAIN, &w);
		if ((fixed = utf8_sanitize(js, w, &fw)) != NULL) {
			w = fw;
			free(fixed);
		}
		if (w > wide) {
			longest = k;
			wide = w;
		}
	}
	if (longest == NULL || wide <= LOG_FIELD_KEEP)
		return false;
	v = json_object_get_string(json_object_object_get(o, longest));
	n = (size_t)json_object_get_string_len(json_object_object_get(o, longest));
	/* 32: room for the mark and the "truncated" field */
	target = wide > excess + 32 + LOG_FIELD_KEEP ? wide - excess - 32 : LOG_FIELD_KEEP;
	keep = n * target / wide;	/* escapes spread evenly, as far as known */
	while (keep > 0 && ((unsigned char)v[keep] & 0xc0) == 0x80)
		keep--;		/* not inside a character */
	cut = xasprintf("%.*s\u2026", (int)keep, v);
	json_object_object_add(o, longest, json_object_new_string(cut));
	free(cut);
	json_object_object_add(o, "truncated", json_object_new_boolean(true));
	return true;
}

/* Writes o as one line. Bytes that are not UTF-8 (a path, a header, a
 * database message echoed in a field) are replaced, so that every line is
 * valid JSON. */
static void
log_write_line(json_object *o)
{
	char stackbuf[LOG_LINE_MAX], *fixed, *line;
	const char *s;
	size_t len, flen;

	for (int round = 0;; round++) {
		s = json_object_to_json_string_length(o,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
		if ((fixed = utf8_sanitize(s, len, &flen)) != NULL) {
			s = fixed;
			len = flen;
		}
		/* A round a field: every field cut to LOG_FIELD_KEEP fits, as
		 * long as a line has fewer than about 60 of them (ours have a
		 * dozen at most). */
		if (len + 1 <= LOG_LINE_MAX || round == 64 ||
		    !shorten_longest(o, len + 1 - LOG_LINE_MAX))
			break;
		free(fixed);
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

	log_write_line(o);
	json_object_put(o);
	errno = saved;
}

/* rfc3339: reading and writing timestamps (rfc3339.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "corad/rfc3339.h"
#include "corad/strutil.h"

#define US_PER_S	INT64_C(1000000)
/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z */
#define UTC_MIN_US	(INT64_C(-62135596800) * US_PER_S)
#define UTC_MAX_US	(INT64_C(253402300800) * US_PER_S - 1)

struct cursor {
	const char	*s;
	size_t		 len, i;
	char		*why;
};

static bool
refuse(struct cursor *c, const char *why)
{
	str_copy(c->why, RFC3339_WHY_LEN, why);
	return false;
}

/* n digits at the cursor into *v; "invalid character in <what>" or "input
 * is too short" otherwise. */
static bool
digits(struct cursor *c, size_t n, const char *what, int *v)
{
	char msg[RFC3339_WHY_LEN];

	*v = 0;
	for (size_t k = 0; k < n; k++, c->i++) {
		if (c->i >= c->len)
			return refuse(c, "input is too short");
		if (c->s[c->i] < '0' || c->s[c->i] > '9') {
			snprintf(msg, sizeof(msg), "invalid character in %s", what);
			return refuse(c, msg);
		}
		*v = *v * 10 + (c->s[c->i] - '0');
	}
	return true;
}

/* The separator `sep` at the cursor, or `why`. */
static bool
expect(struct cursor *c, char sep, const char *why)
{
	if (c->i >= c->len)
		return refuse(c, "input is too short");
	if (c->s[c->i] != sep)
		return refuse(c, why);
	c->i++;
	return true;
}

static bool
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && leap(y) ? 29 : days[m - 1];
}

static bool
parse_time(struct cursor *c, int *h, int *mi, int *sec, int *us)
{
	*sec = *us = 0;
	if (!digits(c, 2, "hour", h) ||
	    !expect(c, ':', "invalid time separator, expected `:`") ||
	    !digits(c, 2, "minute", mi))
		return false;
	if (*h > 23)
		return refuse(c, "hour value is outside expected range of 0-23");
	if (*mi > 59)
		return refuse(c, "minute value is outside expected range of 0-59");
	if (c->i >= c->len || c->s[c->i] != ':')
		return true;
	c->i++;
	if (!digits(c, 2, "second", sec))
		return false;
	if (*sec > 59)
		return refuse(c, "second value is outside expected range of 0-59");
	if (c->i < c->len && (c->s[c->i] == '.' || c->s[c->i] == ',')) {
		size_t n = 0;

		for (c->i++; c->i < c->len && c->s[c->i] >= '0' && c->s[c->i] <= '9'; c->i++, n++)
			if (n < 6)
				*us = *us * 10 + (c->s[c->i] - '0');
		if (n == 0)
			return refuse(c, c->i >= c->len ? "input is too short" :
			    "invalid character in second fraction");
		for (; n < 6; n++)
			*us *= 10;
	}
	return true;
}

static bool
parse_offset(struct cursor *c, struct rfc3339 *out)
{
	int oh, om, sign;

	if (c->s[c->i] == 'Z' || c->s[c->i] == 'z') {
		c->i++;
		out->has_offset = true;
		return true;
	}
	if (c->s[c->i] != '+' && c->s[c->i] != '-')
		return refuse(c, "invalid timezone sign");
	sign = c->s[c->i++] == '-' ? -1 : 1;
	if (!digits(c, 2, "timezone hour", &oh) ||
	    !expect(c, ':', "invalid timezone minute") ||
	    !digits(c, 2, "timezone minute", &om))
		return false;
	if (oh > 23 || om > 59)
		return refuse(c, "timezone offset must be less than 24 hours");
	out->offset_min = sign * (oh * 60 + om);
	out->has_offset = true;
	return true;
}

bool
rfc3339_parse(const char *s, size_t len, struct rfc3339 *out, char why[RFC3339_WHY_LEN])
{
	struct cursor c = { s, len, 0, why };
	struct tm tm = { 0 };
	int y, mo, d, h = 0, mi = 0, sec = 0, us = 0;

	memset(out, 0, sizeof(*out));
	why[0] = '\0';
	if (!digits(&c, 4, "year", &y) ||
	    !expect(&c, '-', "invalid date separator, expected `-`") ||
	    !digits(&c, 2, "month", &mo) ||
	    !expect(&c, '-', "invalid date separator, expected `-`") ||
	    !digits(&c, 2, "day", &d))
		return false;
	if (y < 1)
		return refuse(&c, "year value is outside expected range of 1-9999");
	if (mo < 1 || mo > 12)
		return refuse(&c, "month value is outside expected range of 1-12");
	if (d < 1 || d > month_days(y, mo))
		return refuse(&c, "day value is outside expected range");
	if (c.i < len) {
		if (s[c.i] != 'T' && s[c.i] != 't' && s[c.i] != ' ')
			return refuse(&c, "invalid datetime separator, expected `T`, `t` or space");
		c.i++;
		if (!parse_time(&c, &h, &mi, &sec, &us))
			return false;
		if (c.i < len && !parse_offset(&c, out))
			return false;
		if (c.i < len)
			return refuse(&c, "unexpected extra characters at the end of the input");
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	out->unix_us = ((int64_t)timegm(&tm) - (int64_t)out->offset_min * 60) * US_PER_S + us;
	if (out->unix_us < UTC_MIN_US || out->unix_us > UTC_MAX_US)
		return refuse(&c, "the instant is outside years 1-9999 in UTC");
	return true;
}

/* The broken-down time of unix_us + shift_min, and its microseconds. */
static void
split(int64_t unix_us, int shift_min, struct tm *tm, int *us)
{
	int64_t t = unix_us + (int64_t)shift_min * 60 * US_PER_S;
	int64_t secs = t / US_PER_S, rest = t % US_PER_S;
	time_t tt;

	if (rest < 0) {		/* floor, for instants before 1970 */
		rest += US_PER_S;
		secs--;
	}
	tt = (time_t)secs;
	gmtime_r(&tt, tm);
	*us = (int)rest;
}

void
rfc3339_isoformat(const struct rfc3339 *t, char out[40])
{
	struct tm tm;
	int us, off = t->offset_min < 0 ? -t->offset_min : t->offset_min;
	char frac[8] = "", buf[128];

	split(t->unix_us, t->offset_min, &tm, &us);
	if (us != 0)
		snprintf(frac, sizeof(frac), ".%06d", us);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d%s%c%02d:%02d", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac,
	    t->offset_min < 0 ? '-' : '+', off / 60, off % 60);
	str_copy(out, 40, buf);	/* at most 32 characters */
}

void
rfc3339_utc(int64_t unix_us, char out[40])
{
	struct tm tm;
	int us;
	char buf[128];

	split(unix_us, 0, &tm, &us);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
	str_copy(out, 40, buf);	/* at most 28 characters */
}

int64_t
rfc3339_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * US_PER_S + ts.tv_nsec / 1000;
}

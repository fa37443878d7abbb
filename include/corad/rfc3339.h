/*
 * rfc3339: timestamps from outside (doc/design.md, "Hostile input"). A
 * client's date-time is read the way the original's validator reads one,
 * with its error reasons; whether one without an offset is refused (corad
 * never guesses a time zone) is the caller's to say.
 */
#ifndef CORAD_RFC3339_H
#define CORAD_RFC3339_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One instant, and the offset it was written with. */
struct rfc3339 {
	int64_t	unix_us;	/* microseconds since 1970-01-01T00:00:00Z */
	int	offset_min;	/* the writer's offset east of UTC, in minutes */
	bool	has_offset;	/* false: a naive date or date-time */
};

/* A reason text fits in this. */
#define RFC3339_WHY_LEN	96

/*
 * Parses s[0..len): YYYY-MM-DD, optionally followed by 'T', 't' or a space
 * and HH:MM[:SS[.fraction]], optionally followed by 'Z', 'z' or +HH:MM /
 * -HH:MM. Fractions beyond microseconds are cut. A date alone is midnight
 * without an offset. An instant outside years 1..9999 in UTC is refused
 * (it could not be written back). Returns false with the reason (the
 * original's words: "input is too short", "invalid character in year",
 * ...) in why.
 */
bool	rfc3339_parse(const char *s, size_t len, struct rfc3339 *out, char why[RFC3339_WHY_LEN]);

/* Python's isoformat() of the instant in the writer's offset:
 * 2030-01-01T09:30:00+02:00, with .ffffff only when not zero. */
void	rfc3339_isoformat(const struct rfc3339 *t, char out[40]);

/* The instant in UTC with six fractional digits and Z, as corad writes
 * every timestamp it answers with: 2030-01-01T07:30:00.000000Z. */
void	rfc3339_utc(int64_t unix_us, char out[40]);

/* Now, in microseconds since the epoch (the wall clock). */
int64_t	rfc3339_now_us(void);

#endif

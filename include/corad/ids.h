/* ids: UUID parsing and formatting, UUIDv7, random ids, retry delays and
 * SHA-256 digests in hex. */
#ifndef CORAD_IDS_H
#define CORAD_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UUID_STR_LEN	37	/* 36 characters and the NUL */

struct uuid_error {
	char	msg[160];	/* pydantic-style reason, e.g. "invalid length: ..." */
};

/*
 * Parses the forms Python's uuid.UUID and pydantic accept: 8-4-4-4-12 hex,
 * 32 hex digits, either one inside braces or after "urn:uuid:". Writes the
 * canonical lowercase form to out. Returns false (with a reason) otherwise.
 */
bool	uuid_parse_text(const char *in, uint8_t out[16], struct uuid_error *err);
void	uuid_format(const uint8_t in[16], char out[UUID_STR_LEN]);

/* Version 7 (RFC 9562): 48-bit Unix milliseconds, then random bits. */
void	uuid_make_v7(uint8_t out[16]);
void	uuid_make_v4(uint8_t out[16]);

/* Four random bytes from the same pool. */
uint32_t	ids_random32(void);

/*
 * A retry delay after `failures` failures in a row: first_ms doubling up to
 * max_ms, of which a random half is taken away (jitter), so that workers
 * and hosts that lost the database together do not come back in step.
 */
int64_t		ids_backoff_ms(unsigned failures, int64_t first_ms, int64_t max_ms);

/* In a freshly forked child: forget the random pool inherited from the
 * parent, so no two processes hand out the same ids. */
void	ids_after_fork(void);

/* The SHA-256 of len bytes as 64 lowercase hex digits (Idempotency-Key
 * hashes, migration checksums), by nettle (doc/design.md, "Processes"). */
void	ids_sha256_hex(const void *data, size_t len, char out[65]);

#endif

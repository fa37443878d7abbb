/* ids: UUID parsing and formatting, UUIDv7, random ids, SHA-256 in hex. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include <nettle/sha2.h>
#include <uuid/uuid.h>

#include "corad/ids.h"
#include "corad/strutil.h"

bool
uuid_parse_text(const char *in, uint8_t out[16], struct uuid_error *err)
{
	const char *s = in;
	size_t len = strlen(in), nhex = 0;
	bool hyphenated;

	if (strncmp(s, "urn:uuid:", 9) == 0) {
		s += 9;
		len -= 9;
	} else if (len >= 2 && s[0] == '{' && s[len - 1] == '}') {
		s++;
		len -= 2;
	}
	if (len != 32 && len != 36) {
		snprintf(err->msg, sizeof(err->msg),
		    "invalid length: expected length 32 for simple format, found %zu", len);
		return false;
	}
	hyphenated = len == 36;
	for (size_t i = 0; i < len; i++) {
		int h;

		if (hyphenated && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (s[i] != '-') {
				snprintf(err->msg, sizeof(err->msg),
				    "invalid group length in group %d: expected %d",
				    i == 8 ? 0 : i == 13 ? 1 : i == 18 ? 2 : 3,
				    i == 8 ? 8 : i == 23 ? 12 : 4);
				return false;
			}
			continue;
		}
		if ((h = hex_value(s[i])) < 0) {
			snprintf(err->msg, sizeof(err->msg),
			    "invalid character: expected an optional prefix of `urn:uuid:` "
			    "followed by [0-9a-fA-F-], found `%c` at %zu",
			    s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?', i + 1);
			return false;
		}
		if (nhex % 2 == 0)
			out[nhex / 2] = (uint8_t)(h << 4);
		else
			out[nhex / 2] |= (uint8_t)h;
		nhex++;
	}
	return true;
}

void
uuid_format(const uint8_t in[16], char out[UUID_STR_LEN])
{
	uuid_unparse_lower(in, out);
}

/*
 * Random bytes come from a per-process pool filled by getrandom(2): one
 * system call per 256 ids instead of one (and libuuid's five) per request.
 * A forked child must not reuse its parent's pool: proc_child_init() calls
 * ids_after_fork().
 */
static uint8_t	pool[4096];
static size_t	pool_pos = sizeof(pool);

void
ids_after_fork(void)
{
	pool_pos = sizeof(pool);
}

static void
random_bytes(uint8_t *out, size_t n)
{
	if (pool_pos + n > sizeof(pool)) {
		size_t got = 0;

		while (got < sizeof(pool)) {
			ssize_t r = getrandom(pool + got, sizeof(pool) - got, 0);

			if (r > 0)
				got += (size_t)r;
			else if (errno != EINTR)
				abort();	/* the kernel always has entropy after boot */
		}
		pool_pos = 0;
	}
	memcpy(out, pool + pool_pos, n);
	/* Bytes handed out are not kept around. */
	memset(pool + pool_pos, 0, n);
	pool_pos += n;
}

uint32_t
ids_random32(void)
{
	uint8_t b[4];

	random_bytes(b, sizeof(b));
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int64_t
ids_backoff_ms(unsigned failures, int64_t first_ms, int64_t max_ms)
{
	int64_t delay = first_ms;

	for (unsigned i = 0; i < failures && delay < max_ms; i++)
		delay *= 2;
	if (delay > max_ms)
		delay = max_ms;
	/* Half fixed, half random: processes that failed together retry apart. */
	return delay / 2 + (int64_t)(ids_random32() % (uint32_t)(delay / 2 + 1));
}

void
uuid_make_v4(uint8_t out[16])
{
	random_bytes(out, 16);
	out[6] = (uint8_t)((out[6] & 0x0f) | 0x40);
	out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}

/*
 * libuuid gained v7 only in util-linux 2.41; Debian 12 ships 2.38. The
 * counter keeps ids from one process strictly increasing within a
 * millisecond (RFC 9562 section 6.2, method 1: 12-bit rand_a as counter).
 */
void
uuid_make_v7(uint8_t out[16])
{
	static uint64_t last_ms;
	static uint16_t counter;
	struct timespec now;
	uint64_t ms;

	clock_gettime(CLOCK_REALTIME, &now);
	ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
	random_bytes(out, 16);
	if (ms > last_ms) {
		last_ms = ms;
		counter = (uint16_t)((out[6] << 8 | out[7]) & 0x07ff); /* leave headroom */
	} else {
		ms = last_ms;
		if (++counter > 0x0fff) {	/* counter exhausted: borrow the next ms */
			last_ms = ++ms;
			counter = 0;
		}
	}
	for (int i = 0; i < 6; i++)
		out[i] = (uint8_t)(ms >> (40 - 8 * i));
	out[6] = (uint8_t)(0x70 | (counter >> 8));
	out[7] = (uint8_t)(counter & 0xff);
	out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}

void
ids_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	struct sha256_ctx ctx;
	uint8_t md[SHA256_DIGEST_SIZE];

	sha256_init(&ctx);
	sha256_update(&ctx, len, data);
	sha256_digest(&ctx, sizeof(md), md);
	for (size_t i = 0; i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[64] = '\0';
}

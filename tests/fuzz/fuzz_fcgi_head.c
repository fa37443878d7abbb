/*
 * fuzz_fcgi_head: a request's head as a peer on the socket sends it,
 * fcgi_head_check() (fcgi_head.h).
 *
 * Input: the bytes a connection brought. Each verdict must be one of the
 * three, with a reason exactly when it refuses; a verdict given on a
 * prefix stands for the whole input (more bytes never change a decision
 * already made); and a head it passes has every name-value pair of its
 * PARAMS stream within the stream and free of NUL bytes, as a reference
 * parser written here finds. abort() otherwise.
 *
 * Seeds: tests/fuzz/corpus/fuzz_fcgi_head/ (a head as nginx sends it, the
 * pair whose lengths made libfcgi abort, a NUL, a split pair). Run:
 * tests/fuzz/run.sh, or by hand
 *   fuzz-build/tests/fuzz/fuzz_fcgi_head -max_len=4096 CORPUS_DIR
 */
#include "config.h"

#include <stdbool.h>

#include "corad/fcgi_head.h"
#include "fuzz.h"

static unsigned char scratch[FCGI_HEAD_MAX];

static enum fcgi_head
verdict(const uint8_t *data, size_t size, const char **why)
{
	enum fcgi_head h = fcgi_head_check(data, size, scratch, why);

	FUZZ_CHECK(h == FCGI_HEAD_MORE || h == FCGI_HEAD_OK || h == FCGI_HEAD_BAD);
	FUZZ_CHECK((h == FCGI_HEAD_BAD) == (*why != NULL));
	return h;
}

/*
 * The reference: the PARAMS stream of the first BEGIN_REQUEST's request,
 * gathered whole; true when it ended within the input. Only for inputs
 * whose records are all of version 1 and that carry no other record of that
 * request before the stream ends (otherwise the checker stops early).
 */
static bool
ref_params(const uint8_t *d, size_t n, uint8_t *out, size_t *len, bool *plain)
{
	size_t off = 0;
	long id = -1;

	*len = 0;
	*plain = true;
	while (n - off >= 8) {
		size_t clen = (size_t)d[off + 4] << 8 | d[off + 5], rec = 8 + clen + d[off + 6];
		unsigned rid = (unsigned)d[off + 2] << 8 | d[off + 3];

		if (d[off] != 1 || n - off < rec) {
			*plain = d[off] == 1;
			return false;
		}
		if (id < 0 && d[off + 1] == 1 && rid != 0)
			id = rid;
		else if (id >= 0 && rid == (unsigned)id) {
			if (d[off + 1] != 4 || *len + clen > FCGI_HEAD_MAX) {
				*plain = false;
				return false;
			}
			if (clen == 0)
				return true;
			memcpy(out + *len, d + off + 8, clen);
			*len += clen;
		}
		off += rec;
	}
	return false;
}

/* Pairs walked one length byte at a time, the long form by its top bit. */
static bool
ref_pairs_ok(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t l[2];

		for (int k = 0; k < 2; k++) {
			if (i >= n)
				return false;
			if (p[i] < 0x80)
				l[k] = p[i++];
			else {
				if (n - i < 4)
					return false;
				l[k] = (size_t)(p[i] & 0x7f) * 16777216 + (size_t)p[i + 1] * 65536 +
				    (size_t)p[i + 2] * 256 + p[i + 3];
				i += 4;
			}
		}
		for (size_t k = 0; k < l[0] + l[1]; k++)
			if (i + k >= n || p[i + k] == 0)
				return false;
		i += l[0] + l[1];
	}
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ref[FCGI_HEAD_MAX];
	const char *why, *why_half;
	enum fcgi_head whole = verdict(data, size, &why), half;
	size_t len;
	bool plain;

	/* A decision made on a prefix stands. */
	half = verdict(data, size / 2, &why_half);
	if (half != FCGI_HEAD_MORE) {
		FUZZ_CHECK(whole == half);
		FUZZ_CHECK(half != FCGI_HEAD_BAD || strcmp(why, why_half) == 0);
	}
	/* Against the reference, where it applies. */
	if (ref_params(data, size, ref, &len, &plain))
		FUZZ_CHECK(whole == (ref_pairs_ok(ref, len) ? FCGI_HEAD_OK : FCGI_HEAD_BAD));
	else if (plain && whole != FCGI_HEAD_BAD)
		FUZZ_CHECK(whole == FCGI_HEAD_MORE);
	return 0;
}

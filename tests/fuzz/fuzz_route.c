/*
 * fuzz_route: the request path, str_percent_decode() (strutil.h) as the
 * worker applies it to REQUEST_URI, then route_match() (route.h).
 *
 * Input: the path, a NUL-terminated string (cut at a NUL byte). It is
 * decoded in place twice, as a path and as a query string ('+' as a
 * space), and each result is checked against a reference decoder written
 * here: the same bytes, never longer than the input, and no NUL before its
 * end (%00 stays as it is), so a C string never ends early. The raw and
 * the decoded paths are then matched against the route table and the
 * result compared with a reference matcher over the registered routes
 * (exact templates; a {name} a non-empty segment without '/', of any
 * length; the first route in table order wins), and a matched path must be
 * the template with the captured segment put back. abort() otherwise.
 *
 * Seeds: tests/fuzz/corpus/fuzz_route/. Run: tests/fuzz/run.sh, or by hand
 *   fuzz-build/tests/fuzz/fuzz_route -max_len=512 CORPUS_DIR
 */
#include "config.h"

#include <stdbool.h>

#include "corad/context.h"
#include "corad/route.h"
#include "corad/strutil.h"
#include "fuzz.h"

/* The reference: out gets the decoded bytes, returns their number. */
static size_t
ref_decode(const char *s, bool plus, char *out)
{
	size_t n = 0, len = strlen(s);

	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] == '+' && plus)
			out[n++] = ' ';
		else if (s[i] == '%' && i + 2 < len && (hi = hex_value(s[i + 1])) >= 0 &&
		    (lo = hex_value(s[i + 2])) >= 0 && (hi != 0 || lo != 0)) {
			out[n++] = (char)(hi * 16 + lo);
			i += 2;
		} else
			out[n++] = s[i];
	}
	return n;
}

static void
check_decode(const char *in, bool plus)
{
	size_t len = strlen(in), n;
	char *buf = malloc(len + 1), *ref = malloc(len + 1);

	if (buf == NULL || ref == NULL)
		abort();
	memcpy(buf, in, len + 1);
	str_percent_decode(buf, plus ? 1 : 0);
	n = ref_decode(in, plus, ref);
	FUZZ_CHECK(n <= len);			/* never grows */
	FUZZ_CHECK(strlen(buf) == n);		/* no early NUL */
	FUZZ_CHECK(memcmp(buf, ref, n) == 0);	/* the right bytes */
	free(buf);
	free(ref);
}

/* The reference matcher; returns the route or ROUTE_NONE. Every template
 * has one {name} segment at most. */
static int
ref_match(const char *path, const char **actor_id, size_t *len)
{
	*actor_id = "";
	*len = 0;
	for (int i = 0; i < (int)route_count(); i++) {
		const char *tpl = route_template(i), *brace = strchr(tpl, '{');
		size_t pre, suf, plen = strlen(path), seg;
		const char *after;

		if (brace == NULL) {
			if (strcmp(tpl, path) == 0)
				return i;
			continue;
		}
		pre = (size_t)(brace - tpl);
		after = strchr(brace, '}') + 1;
		suf = strlen(after);
		if (plen < pre + suf || strncmp(path, tpl, pre) != 0 ||
		    strcmp(path + plen - suf, after) != 0)
			continue;
		seg = plen - pre - suf;
		if (seg == 0 || memchr(path + pre, '/', seg) != NULL)
			continue;
		*actor_id = path + pre;
		*len = seg;
		return i;
	}
	return ROUTE_NONE;
}

static void
check_match(const char *path)
{
	struct route_match m;
	const char *want_id, *got;
	size_t want_len, alen;
	int want = ref_match(path, &want_id, &want_len);
	bool ok;

	memset(&m, 0x5a, sizeof(m));
	ok = route_match(path, &m);
	FUZZ_CHECK(ok == (m.route != ROUTE_NONE));
	FUZZ_CHECK(m.route == want);
	FUZZ_CHECK(m.nparams <= 1);
	got = m.nparams == 1 ? m.params[0].value : "";
	alen = m.nparams == 1 ? m.params[0].len : 0;
	/* The segment lies inside the path. */
	FUZZ_CHECK(m.nparams == 0 || (got >= path && got + alen <= path + strlen(path)));
	if (!ok) {
		FUZZ_CHECK(strcmp(route_template(m.route), "none") == 0);
		return;
	}
	FUZZ_CHECK(alen == want_len && memcmp(got, want_id, alen) == 0);
	/* The template with the segment put back is the path. */
	{
		const char *tpl = route_template(m.route), *brace = strchr(tpl, '{');
		char allow[64];

		if (brace == NULL)
			FUZZ_CHECK(strcmp(tpl, path) == 0 && alen == 0);
		else {
			size_t pre = (size_t)(brace - tpl);
			const char *after = strchr(brace, '}') + 1;

			FUZZ_CHECK(alen > 0 && memchr(got, '/', alen) == NULL);
			FUZZ_CHECK(strncmp(path, tpl, pre) == 0);
			FUZZ_CHECK(got == path + pre);
			FUZZ_CHECK(strcmp(path + pre + alen, after) == 0);
		}
		route_allow(m.route, allow, sizeof(allow));
		FUZZ_CHECK(allow[0] != '\0' && strlen(allow) < sizeof(allow));
		route_allow(m.route, allow, 4);	/* too small: cut, terminated */
		FUZZ_CHECK(strlen(allow) < 4);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool registered;
	char *path = fuzz_cstring(data, size), err[160];

	if (!registered && contexts_register(err, sizeof(err)) != 0)
		abort();
	registered = true;
	char *decoded;

	check_decode(path, false);
	check_decode(path, true);
	check_match(path);
	/* The worker's path: REQUEST_URI up to '?', percent-decoded. */
	decoded = strndup(path, strcspn(path, "?"));
	if (decoded == NULL)
		abort();
	str_percent_decode(decoded, 0);
	check_match(decoded);
	free(decoded);
	free(path);
	return 0;
}

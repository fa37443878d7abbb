/*
 * utf8: strict UTF-8 (Unicode table 3-7) for everything corad reads from
 * outside and everything it writes: input validation, the idempotency hash,
 * and the safety net that keeps every JSON body and log line valid UTF-8
 * (doc/design.md, "Hostile input").
 */
#ifndef CORAD_UTF8_H
#define CORAD_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* U+FFFD REPLACEMENT CHARACTER, written for each invalid sequence. */
#define UTF8_REPLACEMENT	"\xef\xbf\xbd"

/*
 * Length of the well-formed sequence at s (at most len bytes are read), or 0
 * when the bytes there are not one: a continuation byte, C0, C1, F5..FF, an
 * overlong form, a surrogate, a code point above U+10FFFF or a sequence cut
 * short. len must be at least 1.
 */
size_t		 utf8_seq_len(const unsigned char *s, size_t len);

/* The code point of the n-byte sequence at s, which utf8_seq_len accepted. */
uint32_t	 utf8_decode(const unsigned char *s, size_t n);

/* Writes code point cp (at most U+10FFFF) as UTF-8 at out, which has room
 * for 4 bytes; returns how many it wrote. */
size_t		 utf8_encode(uint32_t cp, char *out);

/*
 * True when s[0..len) is strict UTF-8. NUL bytes are valid (U+0000); an
 * empty string is valid and s may then be NULL.
 */
bool		 utf8_valid(const char *s, size_t len);

/* Number of code points of s[0..len), which must be valid UTF-8. */
size_t		 utf8_codepoints(const char *s, size_t len);

/*
 * Python's str.strip() with no argument: skips the leading and trailing code
 * points for which str.isspace() is true (U+0009..U+000D, U+001C..U+001F,
 * U+0020, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F,
 * U+205F, U+3000; not U+200B nor U+FEFF). s should be valid UTF-8 (stripping
 * stops at an invalid sequence). Returns a pointer into s and the trimmed
 * byte length in *out_len.
 */
const char	*utf8_strip_py(const char *s, size_t len, size_t *out_len);

/* The same for Unicode's White_Space property (what Rust's str::trim and
 * so pydantic's number parsing strip): without U+001C..U+001F. */
const char	*utf8_strip_white_space(const char *s, size_t len, size_t *out_len);

/*
 * s[0..len) with every maximal invalid subsequence replaced by U+FFFD (the
 * Unicode "substitution of maximal subparts", which is what Python's
 * errors="replace" does). Returns NULL when s is already valid (nothing to
 * do, nothing allocated); otherwise a new NUL-terminated string the caller
 * frees, its length in *out_len. Allocation failure ends the process
 * (alloc.h).
 */
char		*utf8_sanitize(const char *s, size_t len, size_t *out_len);

/* s with each NUL (valid UTF-8, but the end of a C string) written as
 * U+FFFD, for text shown or compared whole; NULL when s holds none, as
 * utf8_sanitize. */
char		*utf8_nul_replaced(const char *s, size_t len, size_t *out_len);

/*
 * Python's repr() of the string s[0..len): in single quotes (double quotes
 * when it holds a ' and no "), with \\, \t, \n, \r and the quote escaped,
 * and the code points str.isprintable() refuses written as \xNN, \uNNNN
 * or \UNNNNNNNN: controls, separators other than the space, format
 * characters, surrogates, private use and noncharacters (code points
 * Unicode has not assigned yet are written as they are). A byte that is not
 * UTF-8 is written as \xNN. A new NUL-terminated string the caller frees.
 */
char		*utf8_py_repr(const char *s, size_t len);

/*
 * Copies the NUL-terminated src into dst (size >= 1 bytes), always
 * terminated: invalid sequences become U+FFFD and the copy is cut at a
 * character boundary when it does not fit. For fixed-size fields that end
 * up in JSON (the scoreboard, spans).
 */
void		 utf8_copy(char *dst, size_t size, const char *src);

#endif

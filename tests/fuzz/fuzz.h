/*
 * fuzz.h: what every libFuzzer harness of tests/fuzz shares: the entry
 * points' prototypes (the build's -Wmissing-prototypes wants them) and
 * FUZZ_CHECK, which reports a broken invariant and aborts, so that
 * libFuzzer keeps the input as a crash.
 */
#ifndef CORAD_FUZZ_H
#define CORAD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	LLVMFuzzerInitialize(int *argc, char ***argv);

/* Where FUZZ_CHECK writes: stderr, or a copy of it when a harness sends
 * stderr to /dev/null (fuzz_request_common.h). */
static inline int *
fuzz_report_fd(void)
{
	static int fd = STDERR_FILENO;

	return &fd;
}

_Noreturn static inline void
fuzz_fail(const char *file, int line, const char *what)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "%s:%d: invariant violated: %s\n", file, line, what);

	if (n > 0)
		(void)!write(*fuzz_report_fd(), msg,
		    (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	abort();
}

#define FUZZ_CHECK(cond) \
	do { \
		if (!(cond)) \
			fuzz_fail(__FILE__, __LINE__, #cond); \
	} while (0)

/* The input as a NUL-terminated string (cut at its first NUL byte, as a C
 * caller would see it); free() it. */
static inline char *
fuzz_cstring(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Whether s is a UUID in canonical text: 36 characters, lowercase hex in
 * groups of 8-4-4-4-12. */
static inline int
fuzz_canonical_uuid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (strlen(s) != sizeof(shape) - 1)
		return 0;
	for (size_t i = 0; shape[i] != '\0'; i++)
		if (shape[i] == '-' ? s[i] != '-' : strchr("0123456789abcdef", s[i]) == NULL)
			return 0;
	return 1;
}

#endif

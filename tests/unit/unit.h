#ifndef LKVM_TESTS_UNIT_H
#define LKVM_TESTS_UNIT_H
/*
 * A minimal unit-test harness: each test-*.c has its own main() that calls
 * RUN(test_fn) for each case and returns unit_summary().  A case fails if
 * any CHECK in it fails; the runner counts passes and failures.
 */
#include <stdio.h>
#include <string.h>
#include <inttypes.h>

static int unit_case_failed;
static int unit_passed, unit_failed;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "  %s:%d: CHECK failed: %s\n",       \
				__FILE__, __LINE__, #cond);                  \
			unit_case_failed = 1;                                \
		}                                                            \
	} while (0)

#define CHECK_EQ(a, b)                                                       \
	do {                                                                 \
		long long _a = (long long)(a), _b = (long long)(b);          \
		if (_a != _b) {                                              \
			fprintf(stderr,                                      \
				"  %s:%d: CHECK_EQ failed: %s == %s "        \
				"(%lld != %lld)\n",                          \
				__FILE__, __LINE__, #a, #b, _a, _b);         \
			unit_case_failed = 1;                                \
		}                                                            \
	} while (0)

#define CHECK_STR(a, b)                                                      \
	do {                                                                 \
		const char *_a = (a), *_b = (b);                             \
		if (!_a || !_b || strcmp(_a, _b)) {                          \
			fprintf(stderr,                                      \
				"  %s:%d: CHECK_STR failed: \"%s\" != \"%s\"\n", \
				__FILE__, __LINE__, _a ? _a : "(null)",      \
				_b ? _b : "(null)");                         \
			unit_case_failed = 1;                                \
		}                                                            \
	} while (0)

#define RUN(fn)                                                              \
	do {                                                                 \
		unit_case_failed = 0;                                        \
		fn();                                                        \
		printf("%s: %s\n", unit_case_failed ? "FAIL" : "PASS", #fn); \
		if (unit_case_failed)                                        \
			unit_failed++;                                       \
		else                                                         \
			unit_passed++;                                       \
	} while (0)

static inline int unit_summary(void)
{
	printf("unit: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif

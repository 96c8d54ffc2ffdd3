#ifndef LKVM_DEADLINE_H
#define LKVM_DEADLINE_H
/*
 * The absolute time ms milliseconds from now on clock, for a bounded
 * pthread_cond_timedwait(): CLOCK_REALTIME for a condition variable with
 * default attributes, else the clock given to pthread_condattr_setclock().
 */
#include <time.h>

static inline struct timespec deadline_after_ms(clockid_t clock, unsigned int ms)
{
	struct timespec t;

	clock_gettime(clock, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

#endif

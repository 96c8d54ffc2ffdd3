/*
 * Store-buffer litmus test: does this machine let a load pass an earlier
 * store to another address?  Two threads, each round:
 *     x = 1; barrier; r1 = y;   ||   y = 1; barrier; r2 = x;
 * r1 == r2 == 0 is only possible when the CPU reorders the store after the
 * load.  "barrier" is a compiler barrier, or with --fence a full fence.
 *
 *   sb-litmus [--rounds N] [--fence]
 * Prints "sb-litmus: N of M rounds reordered (compiler barrier|full fence)".
 * The nested order-weak case uses it to tell whether a missed lost wake-up
 * means an insensitive test or a machine that does not reorder.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int x, y, r1, r2;
static volatile unsigned long arrived[2];
static unsigned long rounds = 200000, both_zero;
static bool fence;

static inline void order(void)
{
	if (fence)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	else
		__asm__ __volatile__("" ::: "memory");
}

/* Both threads meet here for the Nth time before going on. */
static void meet(long me, unsigned long n)
{
	__atomic_store_n(&arrived[me], n, __ATOMIC_RELEASE);
	while (__atomic_load_n(&arrived[!me], __ATOMIC_ACQUIRE) < n)
		;
}

/* Thread 0 resets the round and counts its outcome; thread 1 is the other side. */
static void *side(void *arg)
{
	long me = (long)arg;
	unsigned long n = 0;

	for (unsigned long i = 0; i < rounds; i++) {
		if (me == 0)
			x = y = 0;
		meet(me, ++n);
		if (me == 0) {
			x = 1;
			order();
			r1 = y;
		} else {
			y = 1;
			order();
			r2 = x;
		}
		meet(me, ++n);
		if (me == 0)
			both_zero += !r1 && !r2;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--fence"))
			fence = true;
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = strtoul(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "usage: sb-litmus [--rounds N] [--fence]\n");
			return 2;
		}
	}
	pthread_create(&t, NULL, side, (void *)1);
	side((void *)0);
	pthread_join(t, NULL);
	printf("sb-litmus: %lu of %lu rounds reordered (%s)\n", both_zero, rounds,
	       fence ? "full fence" : "compiler barrier");
	return 0;
}

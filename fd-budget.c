/* Descriptor budgets of guest-driven consumers (see lkvm/fd-budget.h). */
#include <dirent.h>
#include <pthread.h>
#include <sys/resource.h>
#include "lkvm/fd-budget.h"

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static unsigned int pool_base;		/* descriptors open before any budget */
static unsigned int pool_used;		/* atomic: charged by all budgets */

static void count_base(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	if (!d) {
		pool_base = 64;		/* no /proc: a guess on the safe side */
		return;
	}
	while (readdir(d))
		n++;
	closedir(d);
	/* ".", ".." and the directory's own descriptor are not kept. */
	pool_base = n > 3 ? n - 3 : 0;
}

unsigned int fd_budget_pool_size(void)
{
	struct rlimit rl;
	unsigned long long limit;

	pthread_once(&pool_once, count_base);
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	limit = rl.rlim_cur == RLIM_INFINITY ? 1ULL << 20 : rl.rlim_cur;
	if (limit <= (unsigned long long)pool_base + FD_BUDGET_RESERVE)
		return 0;
	limit -= pool_base + FD_BUDGET_RESERVE;
	return limit > (1u << 30) ? 1u << 30 : (unsigned int)limit;
}

void fd_budget_raise_limit(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

void fd_budget_init(struct fd_budget *b, const char *name, unsigned int cap)
{
	b->name = name;
	b->cap = cap;
	b->used = 0;
}

/* Add n to *counter unless that passes max. */
static bool add_below(unsigned int *counter, unsigned int n, unsigned int max)
{
	unsigned int cur = __atomic_load_n(counter, __ATOMIC_RELAXED);

	do {
		if (cur > max || n > max - cur)
			return false;
	} while (!__atomic_compare_exchange_n(counter, &cur, cur + n, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return true;
}

bool fd_budget_take(struct fd_budget *b, unsigned int n)
{
	if (!add_below(&b->used, n, b->cap))
		return false;
	if (!add_below(&pool_used, n, fd_budget_pool_size())) {
		__atomic_sub_fetch(&b->used, n, __ATOMIC_RELAXED);
		return false;
	}
	return true;
}

void fd_budget_force(struct fd_budget *b, unsigned int n)
{
	pthread_once(&pool_once, count_base);
	__atomic_add_fetch(&b->used, n, __ATOMIC_RELAXED);
	__atomic_add_fetch(&pool_used, n, __ATOMIC_RELAXED);
}

void fd_budget_give(struct fd_budget *b, unsigned int n)
{
	__atomic_sub_fetch(&b->used, n, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&pool_used, n, __ATOMIC_RELAXED);
}

unsigned int fd_budget_used(const struct fd_budget *b)
{
	return __atomic_load_n(&b->used, __ATOMIC_RELAXED);
}

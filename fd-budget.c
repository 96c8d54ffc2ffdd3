/* Descriptor budgets of guest-driven consumers (see lkvm/fd-budget.h). */
#include <dirent.h>
#include <pthread.h>
#include <sys/resource.h>
#include "lkvm/fd-budget.h"

static unsigned int pool_size;		/* atomic: what all budgets may hold */
static unsigned int pool_used;		/* atomic: charged by all budgets */

int fd_count_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = -3;	/* ".", ".." and the directory's own descriptor */

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Open descriptors that no budget accounts for: lkvm's own set-up. */
static unsigned int count_unbudgeted(void)
{
	int n = fd_count_open();
	unsigned int used = __atomic_load_n(&pool_used, __ATOMIC_RELAXED);

	if (n < 0)
		return 64;		/* no /proc: a guess on the safe side */
	return (unsigned int)n > used ? (unsigned int)n - used : 0;
}

/*
 * The pool follows RLIMIT_NOFILE and what is open when set-up sizes it
 * (budgets made, limit raised): counting needs system calls that the
 * sandboxed threads drawing on the budgets may not make.
 */
void fd_budget_update_pool(void)
{
	unsigned long long limit, base = count_unbudgeted();
	struct rlimit rl;
	unsigned int size = 0;

	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		limit = rl.rlim_cur == RLIM_INFINITY ? 1ULL << 20 : rl.rlim_cur;
		if (limit > base + FD_BUDGET_RESERVE) {
			limit -= base + FD_BUDGET_RESERVE;
			size = limit > (1u << 30) ? 1u << 30 : (unsigned int)limit;
		}
	}
	__atomic_store_n(&pool_size, size, __ATOMIC_RELAXED);
}

unsigned int fd_budget_pool_size(void)
{
	return __atomic_load_n(&pool_size, __ATOMIC_RELAXED);
}

void fd_budget_raise_limit(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	fd_budget_update_pool();
}

void fd_budget_init(struct fd_budget *b, const char *name, unsigned int cap)
{
	b->name = name;
	b->cap = cap;
	b->used = 0;
	fd_budget_update_pool();
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

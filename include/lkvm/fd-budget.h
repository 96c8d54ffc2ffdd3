#ifndef LKVM_FD_BUDGET_H
#define LKVM_FD_BUDGET_H
/*
 * Descriptor budgets for the consumers a guest drives (9p fids, user-mode
 * network flows): a guest that opens files or connections without end
 * must hit its consumer's budget, never the process's RLIMIT_NOFILE, so
 * that the management server and device set-up always find descriptors.
 *
 * Every budget has its own cap, and all of them draw on one pool: the
 * descriptor limit minus what was open when the pool was first used
 * (lkvm's own set-up) minus FD_BUDGET_RESERVE.  A consumer charges a
 * descriptor before it makes one it keeps and gives it back once closed;
 * short-lived descriptors a worker holds during one request live in the
 * reserve.
 */
#include <stdbool.h>

/* Kept free for the management server, device set-up and transient use. */
#define FD_BUDGET_RESERVE 256u

struct fd_budget {
	const char *name;
	unsigned int cap;	/* this consumer's own maximum */
	unsigned int used;	/* atomic */
};

void fd_budget_init(struct fd_budget *b, const char *name, unsigned int cap);
/* Charge n descriptors; false (nothing charged) over the cap or the pool. */
bool fd_budget_take(struct fd_budget *b, unsigned int n);
void fd_budget_give(struct fd_budget *b, unsigned int n);
/* Charge n descriptors that already exist, over the limits if need be. */
void fd_budget_force(struct fd_budget *b, unsigned int n);
unsigned int fd_budget_used(const struct fd_budget *b);

/*
 * Descriptors the pool lends to all budgets together: set from
 * RLIMIT_NOFILE by fd_budget_init() and fd_budget_raise_limit(), which
 * run at set-up (the budgets' users may be sandboxed threads).
 */
unsigned int fd_budget_pool_size(void);
/* Descriptors this process has open now (from /proc/self/fd), or -1. */
int fd_count_open(void);
/* Size the pool anew after a change of RLIMIT_NOFILE (tests lower it). */
void fd_budget_update_pool(void);
/* Raise the soft RLIMIT_NOFILE to the hard one (more room for guests). */
void fd_budget_raise_limit(void);

#endif

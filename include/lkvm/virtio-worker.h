#ifndef LKVM_VIRTIO_WORKER_H
#define LKVM_VIRTIO_WORKER_H
/*
 * A queue worker: one device thread that sleeps until it is kicked and
 * then runs the device's work function.  Devices supply only what to do
 * per wake-up; the thread loop, kick bookkeeping and stop protocol live
 * here.
 *
 * Threading contract
 *  - init/destroy/start/stop run on the control path (device creation,
 *    ops->activate, ops->reset, device exit): never concurrently with
 *    each other for one worker.
 *  - post/kick may be called from any thread at any time, also while the
 *    worker is stopped (the events are then dropped by the next start).
 *    They never block on the work function.
 *  - work(opaque, events) runs only on the worker thread, one call at a
 *    time, with no lock held; events is the OR of everything posted since
 *    the previous call (never 0).  Posts that arrive while it runs make
 *    it run again: no kick is lost.
 *  - stop() asks the thread to end and joins it.  A long work function
 *    polls virtq_worker_stopping() and returns early; once stop() returns
 *    the worker touches nothing of the device, so ops->reset may let the
 *    core clear the queues.  start() after stop() begins afresh, with one
 *    VIRTQ_WORKER_KICK already pending (buffers may be queued already).
 *  - The thread runs with every signal blocked (signals are for the vCPU
 *    and main threads), names itself, and calls ops->thread_init first:
 *    the one entry point of every queue thread.  The thread is confined
 *    to its sandbox role before any of that runs.
 */
#include <stdbool.h>
#include <pthread.h>
#include "lkvm/sandbox.h"

#define VIRTQ_WORKER_KICK 0x1u	/* the guest kicked the queue */
/* Devices may post their own events with the bits above it. */

struct virtq_worker_ops {
	void (*work)(void *opaque, unsigned int events);
	void (*thread_init)(void *opaque);	/* optional */
};

struct virtq_worker {
	const struct virtq_worker_ops *ops;
	void *opaque;
	pthread_mutex_t lock;		/* pending, stop */
	pthread_cond_t cond;
	unsigned int pending;
	bool stop;			/* also read atomically by stopping() */
	bool running;			/* control path only */
	pthread_t thread;
	enum sandbox_role role;		/* the thread's seccomp role */
	char name[16];
};

/*
 * name: the thread's (at most 15 characters are kept); role: what the
 * sandbox lets the thread do (include/lkvm/sandbox.h).
 */
void virtq_worker_init(struct virtq_worker *w, const struct virtq_worker_ops *ops,
		       void *opaque, const char *name, enum sandbox_role role);
void virtq_worker_destroy(struct virtq_worker *w);
/* 0, or -errno after one log line naming the thread. */
int virtq_worker_start(struct virtq_worker *w);
/* Idempotent: returns once the thread is gone. */
void virtq_worker_stop(struct virtq_worker *w);
void virtq_worker_post(struct virtq_worker *w, unsigned int events);

static inline void virtq_worker_kick(struct virtq_worker *w)
{
	virtq_worker_post(w, VIRTQ_WORKER_KICK);
}

/* For work functions: stop() was called, return as soon as possible. */
static inline bool virtq_worker_stopping(const struct virtq_worker *w)
{
	return __atomic_load_n(&w->stop, __ATOMIC_RELAXED);
}

#endif

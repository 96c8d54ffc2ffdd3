/*
 * Helpers for a batch of synchronous requests (disk/disk-int.h).
 *
 * Why: buffered file I/O is a copy done by the calling thread, and the
 * kernel's AIO does that copy inside io_submit() too, one request after
 * the other.  A virtqueue's batch of large requests (1 MiB sequential
 * reads at a deep queue) is then limited by one thread's copy speed while
 * other host CPUs sit idle.  disk_pool_run() lets up to DISK_POOL_MAX
 * helper threads take reads of the batch while the caller takes them
 * too, and returns when all are complete: the device still sees the whole
 * batch done by the time disk_unplug() returns, so it publishes the used
 * entries and decides about one interrupt for the batch, as before.
 *
 * Only reads are shared: buffered writes to one file serialise on its
 * inode lock in the kernel (tmpfs, ext4), so a second writer would only
 * spin on it.  The caller runs a batch's writes and flushes itself, then
 * joins the helpers on its reads.
 *
 * Small batches are not worth a wake-up: they run on the caller alone.
 * One batch at a time: a second caller (another virtqueue's thread) that
 * finds the helpers busy runs its own batch by itself.  Helpers start at
 * the first batch that wants them and live until disk_pool_destroy().
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lkvm/log.h"
#include "lkvm/sandbox.h"
#include "disk/disk-int.h"

struct disk_pool {
	struct disk_image *d;
	unsigned int nr_helpers;	/* wanted; 0: never any */
	unsigned int nr_started;
	pthread_t threads[DISK_POOL_MAX];

	pthread_mutex_t run_lock;	/* one batch at a time */
	pthread_mutex_t lock;		/* everything below */
	pthread_cond_t work;		/* a batch arrived, or stop */
	pthread_cond_t idle;		/* busy reached 0 */
	struct disk_req **batch;
	unsigned int nr, next;		/* requests in the batch, first not taken */
	unsigned int busy;		/* helpers inside a request of the batch */
	bool stop;
};

/* Take the next request of the batch, or NULL; under p->lock. */
static struct disk_req *take(struct disk_pool *p)
{
	return p->next < p->nr ? p->batch[p->next++] : NULL;
}

static void *helper(void *arg)
{
	struct disk_pool *p = arg;

	pthread_setname_np(pthread_self(), "lkvm-disk-io");
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct disk_req *req;

		while (!p->stop && p->next >= p->nr)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stop)
			break;
		p->busy++;
		while ((req = take(p))) {
			pthread_mutex_unlock(&p->lock);
			disk_req_run_sync(p->d, req);
			pthread_mutex_lock(&p->lock);
		}
		if (!--p->busy)
			pthread_cond_broadcast(&p->idle);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct disk_pool *disk_pool_create(struct disk_image *d, unsigned int nr_helpers)
{
	struct disk_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->d = d;
	p->nr_helpers = MIN(nr_helpers, (unsigned int)DISK_POOL_MAX);
	pthread_mutex_init(&p->run_lock, NULL);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->idle, NULL);
	return p;
}

/* Start the helpers not yet running; fewer is fine (the caller does the rest). */
static void start_helpers(struct disk_pool *p)
{
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (p->nr_started < p->nr_helpers) {
		int ret = sandbox_thread_create(&p->threads[p->nr_started], NULL,
						SANDBOX_DISK_AIO, helper, p);

		if (ret) {
			pr_warn_ratelimited("%s: no I/O helper thread (%s): fewer parallel requests",
					    p->d->path, strerror(ret));
			p->nr_helpers = p->nr_started;
			break;
		}
		p->nr_started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The reads of batch, in order, into reads; how many there are. */
static unsigned int collect_reads(struct disk_req **batch, unsigned int n, struct disk_req **reads)
{
	unsigned int nr = 0;

	for (unsigned int i = 0; i < n; i++)
		if (batch[i]->type == DISK_REQ_READ)
			reads[nr++] = batch[i];
	return nr;
}

static bool worth_helpers(struct disk_req **reads, unsigned int n)
{
	u64 bytes = 0;

	if (n < 2)
		return false;
	for (unsigned int i = 0; i < n && bytes < DISK_POOL_MIN_BYTES; i++)
		bytes += (u64)disk_iov_length(reads[i]->iov, reads[i]->iovcnt);
	return bytes >= DISK_POOL_MIN_BYTES;
}

static void run_alone(struct disk_pool *p, struct disk_req **batch, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		disk_req_run_sync(p->d, batch[i]);
}

/* The requests of batch other than reads, in their order. */
static void run_others(struct disk_pool *p, struct disk_req **batch, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (batch[i]->type != DISK_REQ_READ)
			disk_req_run_sync(p->d, batch[i]);
}

void disk_pool_run(struct disk_pool *p, struct disk_req **batch, unsigned int n)
{
	struct disk_req **reads, *req;
	unsigned int nr_reads;

	reads = p->nr_helpers && n > 1 ? malloc(n * sizeof(*reads)) : NULL;
	if (!reads) {
		run_alone(p, batch, n);
		return;
	}
	nr_reads = collect_reads(batch, n, reads);
	if (!worth_helpers(reads, nr_reads) || pthread_mutex_trylock(&p->run_lock)) {
		free(reads);
		run_alone(p, batch, n);
		return;
	}
	start_helpers(p);
	pthread_mutex_lock(&p->lock);
	p->batch = reads;
	p->nr = nr_reads;
	p->next = 0;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	run_others(p, batch, n);
	pthread_mutex_lock(&p->lock);
	while ((req = take(p))) {
		pthread_mutex_unlock(&p->lock);
		disk_req_run_sync(p->d, req);
		pthread_mutex_lock(&p->lock);
	}
	/* All taken; the array must outlive the helpers' last look. */
	while (p->busy)
		pthread_cond_wait(&p->idle, &p->lock);
	p->batch = NULL;
	p->nr = p->next = 0;
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_unlock(&p->run_lock);
	free(reads);
}

void disk_pool_destroy(struct disk_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned int i = 0; i < p->nr_started; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->run_lock);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->idle);
	free(p);
}

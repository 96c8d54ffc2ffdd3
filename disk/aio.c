/*
 * libaio engine: requests queued by disk_aio_submit() go to the kernel in
 * one io_submit() per disk_aio_unplug() (one per virtqueue notification);
 * the kernel signals each completion on an eventfd that a completion
 * thread reads before it collects events with io_getevents() and calls
 * each request's complete().
 *
 * Flushes use IOCB_CMD_FDSYNC while the kernel accepts it (Linux >= 4.18
 * on most file systems).  Where it is refused, flushes are handed to the
 * completion thread, which runs fdatasync() itself: the guest is told a
 * flush finished only after the data is on stable storage either way.
 *
 * Anything the kernel's AIO cannot take (discard, write zeroes, O_DIRECT
 * requests that are not aligned, a full AIO ring) runs synchronously on the
 * submitting thread through disk_req_run_sync().
 */
#include <errno.h>
#include <libaio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "lkvm/log.h"
#include "disk/disk-int.h"
#include "lkvm/sandbox.h"

/* Kernel AIO slots per image; beyond that requests run synchronously. */
#define AIO_RING_SIZE 1024
#define AIO_EVENTS_BATCH 64

struct aio_req {
	struct iocb iocb;
	struct disk_req *req;
	size_t expected;	/* bytes, for reads and writes */
	struct aio_req *next;
};

struct aio_list {
	struct aio_req *head, **tail;
};

struct disk_aio {
	struct disk_image *d;
	int fd;
	unsigned int align;
	io_context_t ctx;
	int efd;
	pthread_t thread;
	bool fdsync_ok;		/* atomic: IOCB_CMD_FDSYNC not refused yet */
	bool stop;		/* atomic */

	pthread_mutex_t lock;	/* the two lists */
	struct aio_list batch;	/* submitted, waiting for unplug */
	struct aio_list flushes;	/* for the completion thread's fdatasync */
};

static void list_init(struct aio_list *l)
{
	l->head = NULL;
	l->tail = &l->head;
}

static void list_add(struct aio_list *l, struct aio_req *r)
{
	r->next = NULL;
	*l->tail = r;
	l->tail = &r->next;
}

/* Take the whole list, under aio->lock. */
static struct aio_req *list_take(struct disk_aio *aio, struct aio_list *l)
{
	struct aio_req *head;

	pthread_mutex_lock(&aio->lock);
	head = l->head;
	list_init(l);
	pthread_mutex_unlock(&aio->lock);
	return head;
}

static void wake_completion_thread(struct disk_aio *aio)
{
	u64 one = 1;

	while (write(aio->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/* ---- completion ---- */

static void finish(struct aio_req *r, ssize_t ret)
{
	struct disk_req *req = r->req;

	free(r);
	req->complete(req, ret);
}

/*
 * A short read or write (end of file, a partial write before an error):
 * do the rest synchronously so the caller sees all or an error.
 */
static ssize_t finish_short(struct disk_aio *aio, struct disk_req *req, size_t done)
{
	struct iovec *rest = malloc(req->iovcnt * sizeof(*rest));
	ssize_t skip = (ssize_t)done, n;
	int cnt = 0;

	if (!rest)
		return (ssize_t)done;
	for (int i = 0; i < req->iovcnt; i++) {
		struct iovec v = req->iov[i];

		if ((size_t)skip >= v.iov_len) {
			skip -= (ssize_t)v.iov_len;
			continue;
		}
		v.iov_base = (char *)v.iov_base + skip;
		v.iov_len -= (size_t)skip;
		skip = 0;
		rest[cnt++] = v;
	}
	if (req->type == DISK_REQ_READ)
		n = disk_read(aio->d, req->offset + done, rest, cnt);
	else
		n = disk_write(aio->d, req->offset + done, rest, cnt);
	free(rest);
	return n < 0 ? n : (ssize_t)done + n;
}

static void complete_event(struct disk_aio *aio, const struct io_event *ev)
{
	struct aio_req *r = ev->data;
	long res = (long)ev->res;

	if (res >= 0 && (size_t)res < r->expected && (res > 0 || r->req->type == DISK_REQ_WRITE))
		res = finish_short(aio, r->req, (size_t)res);
	finish(r, res);
}

static void reap_events(struct disk_aio *aio)
{
	struct io_event evs[AIO_EVENTS_BATCH];
	struct timespec now = { 0, 0 };
	int n;

	do {
		n = io_getevents(aio->ctx, 0, AIO_EVENTS_BATCH, evs, &now);
		for (int i = 0; i < n; i++)
			complete_event(aio, &evs[i]);
	} while (n == AIO_EVENTS_BATCH || n == -EINTR);
}

static void run_flushes(struct disk_aio *aio)
{
	struct aio_req *r = list_take(aio, &aio->flushes), *next;

	for (; r; r = next) {
		int ret;

		next = r->next;
		do {
			ret = fdatasync(aio->fd) ? -errno : 0;
		} while (ret == -EINTR);
		finish(r, ret);
	}
}

static void *completion_thread(void *arg)
{
	struct disk_aio *aio = arg;
	u64 count;

	pthread_setname_np(pthread_self(), "lkvm-disk-aio");
	for (;;) {
		ssize_t n = read(aio->efd, &count, sizeof(count));

		if (n < 0 && errno != EINTR && errno != EAGAIN) {
			pr_err("%s: AIO eventfd read failed: %s", aio->d->path, strerror(errno));
			return NULL;
		}
		reap_events(aio);
		run_flushes(aio);
		if (__atomic_load_n(&aio->stop, __ATOMIC_ACQUIRE))
			return NULL;
	}
}

/* ---- submission ---- */

static bool aio_aligned(struct disk_aio *aio, const struct disk_req *req, size_t len)
{
	unsigned int a = aio->align;

	if ((req->offset | len) & (a - 1))
		return false;
	for (int i = 0; i < req->iovcnt; i++)
		if (((uintptr_t)req->iov[i].iov_base | req->iov[i].iov_len) & (a - 1))
			return false;
	return true;
}

static struct aio_req *prepare(struct disk_aio *aio, struct disk_req *req)
{
	struct aio_req *r = calloc(1, sizeof(*r));
	ssize_t len;

	if (!r)
		return NULL;
	r->req = req;
	switch (req->type) {
	case DISK_REQ_READ:
	case DISK_REQ_WRITE:
		len = disk_iov_length(req->iov, req->iovcnt);
		if (len < 0 || !aio_aligned(aio, req, (size_t)len))
			goto no_aio;
		r->expected = (size_t)len;
		if (req->type == DISK_REQ_READ)
			io_prep_preadv(&r->iocb, aio->fd, req->iov, req->iovcnt, (long long)req->offset);
		else
			io_prep_pwritev(&r->iocb, aio->fd, req->iov, req->iovcnt, (long long)req->offset);
		break;
	case DISK_REQ_FLUSH:
		io_prep_fdsync(&r->iocb, aio->fd);
		break;
	default:
		goto no_aio;
	}
	io_set_eventfd(&r->iocb, aio->efd);
	r->iocb.data = r;
	return r;
no_aio:
	free(r);
	return NULL;
}

static bool is_flush(const struct aio_req *r)
{
	return r->req->type == DISK_REQ_FLUSH;
}

int disk_aio_submit(struct disk_aio *aio, struct disk_req *req)
{
	struct aio_req *r = prepare(aio, req);

	if (!r) {
		disk_req_run_sync(aio->d, req);
		return 0;
	}
	pthread_mutex_lock(&aio->lock);
	if (is_flush(r) && !__atomic_load_n(&aio->fdsync_ok, __ATOMIC_RELAXED))
		list_add(&aio->flushes, r);
	else
		list_add(&aio->batch, r);
	pthread_mutex_unlock(&aio->lock);
	return 0;
}

/* The kernel refused r: decide what becomes of it. */
static void submit_failed(struct disk_aio *aio, struct aio_req *r, int err)
{
	struct disk_req *req = r->req;

	if (is_flush(r) && err == -EINVAL) {
		/* No AIO fsync for this file: the completion thread does them. */
		if (__atomic_exchange_n(&aio->fdsync_ok, false, __ATOMIC_RELAXED))
			pr_debug("%s: no IOCB_CMD_FDSYNC, flushing with fdatasync", aio->d->path);
		pthread_mutex_lock(&aio->lock);
		list_add(&aio->flushes, r);
		pthread_mutex_unlock(&aio->lock);
		wake_completion_thread(aio);
		return;
	}
	/* A full ring (EAGAIN) or an odd refusal: do it ourselves, now. */
	free(r);
	disk_req_run_sync(aio->d, req);
}

int disk_aio_unplug(struct disk_aio *aio)
{
	struct aio_req *head = list_take(aio, &aio->batch), *r;
	struct iocb *iocbs[AIO_EVENTS_BATCH];
	bool flushes_waiting;

	while (head) {
		int n = 0, done = 0;

		for (r = head; r && n < AIO_EVENTS_BATCH; r = r->next)
			iocbs[n++] = &r->iocb;
		head = r;
		while (done < n) {
			int ret = io_submit(aio->ctx, n - done, iocbs + done);

			if (ret == -EINTR)
				continue;
			if (ret > 0) {
				done += ret;
				continue;
			}
			submit_failed(aio, iocbs[done]->data, ret ? ret : -EIO);
			done++;
		}
	}
	pthread_mutex_lock(&aio->lock);
	flushes_waiting = aio->flushes.head != NULL;
	pthread_mutex_unlock(&aio->lock);
	if (flushes_waiting)
		wake_completion_thread(aio);
	return 0;
}

/* ---- lifetime ---- */

static int start_thread(struct disk_aio *aio)
{
	sigset_t all, old;
	int ret;

	/* Signals are for the vCPU and main threads, not this one. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = sandbox_thread_create(&aio->thread, NULL, SANDBOX_DISK_AIO, completion_thread, aio);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -ret;
}

struct disk_aio *disk_aio_create(struct disk_image *d, int fd, unsigned int align)
{
	struct disk_aio *aio = calloc(1, sizeof(*aio));
	int ret;

	if (!aio)
		return NULL;
	aio->d = d;
	aio->fd = fd;
	aio->align = align ? align : 1;
	aio->fdsync_ok = true;
	pthread_mutex_init(&aio->lock, NULL);
	list_init(&aio->batch);
	list_init(&aio->flushes);
	aio->efd = eventfd(0, EFD_CLOEXEC);
	if (aio->efd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = io_setup(AIO_RING_SIZE, &aio->ctx);
	if (ret)
		goto fail;
	ret = start_thread(aio);
	if (ret) {
		io_destroy(aio->ctx);
		goto fail;
	}
	return aio;
fail:
	pr_warn("%s: no asynchronous I/O (%s); using synchronous I/O", d->path, strerror(-ret));
	if (aio->efd >= 0)
		close(aio->efd);
	pthread_mutex_destroy(&aio->lock);
	free(aio);
	return NULL;
}

void disk_aio_destroy(struct disk_aio *aio)
{
	__atomic_store_n(&aio->stop, true, __ATOMIC_RELEASE);
	wake_completion_thread(aio);
	pthread_join(aio->thread, NULL);
	io_destroy(aio->ctx);
	close(aio->efd);
	pthread_mutex_destroy(&aio->lock);
	free(aio);
}

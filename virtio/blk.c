/*
 * virtio block device (spec 5.2) on a disk image.
 *
 * Threads.  Each request queue has one I/O thread (a virtq_worker),
 * started at DRIVER_OK and joined at reset.  queue_notify (a vCPU or the
 * ioeventfd thread) only posts a kick, so a kick never waits for the disk,
 * and a kick that races with reset touches nothing but the worker.
 *
 * The used ring has ONE writer: the queue's thread.  It pops every
 * available chain, hands reads, writes and flushes to disk_submit(),
 * sends the batch with one disk_unplug(), and answers malformed requests
 * at once.  A request's completion (on the image's AIO completion thread,
 * or inside disk_unplug() for synchronous formats) only records the result
 * and moves the request to the queue's `done` list under q->lock, posting
 * BLK_WORK_DONE to the thread; the thread writes the status bytes, pushes the used entries
 * and decides about the interrupt for the whole batch.  The lock hand-off
 * orders the completion's writes to guest buffers before the thread's
 * publication of the used index.
 *
 * Reset stops the thread, then waits for every request in flight,
 * dropping results the reset made moot.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include "lkvm/disk.h"
#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "lkvm/virtio.h"
#include "lkvm/virtio-worker.h"
#include "lkvm/virtio-blk.h"
#include "lkvm/sandbox.h"

#define BLK_SEG_MAX (VIRTIO_BLK_QUEUE_SIZE - 2)	/* plus header and status */
#define BLK_SIZE_MAX (1u << 20)
/*
 * Optimal I/O size (TOPOLOGY), in sectors: an image file is fastest in
 * large requests, and every request costs the guest a kick and a share of
 * an interrupt, nested exits.  Linux sizes its readahead window at twice
 * this (2 MiB instead of 128 KiB), so a sequential buffered reader sends
 * two 1 MiB requests per batch instead of 128 KiB ones.
 */
#define BLK_OPT_IO_SECTORS ((1u << 20) / DISK_SECTOR_SIZE)
#define BLK_MAX_DISCARD_SECTORS (1u << 22)	/* 2 GiB per segment */
#define BLK_MAX_DISCARD_SEG 32u
#define BLK_DISCARD_ALIGNMENT 8u		/* sectors: a 4 KiB file block */
#define BLK_HDR_SIZE sizeof(struct virtio_blk_outhdr)
#define BLK_SEG_SIZE sizeof(struct virtio_blk_discard_write_zeroes)
/* Legacy synonym of FLUSH (spec "Legacy Interface: Device Operation"). */
#define BLK_T_FLUSH_OUT 5
/* Worker event: a request completed (see blk_req_complete). */
#define BLK_WORK_DONE 0x2u

struct virtio_blk;

struct blk_req {
	struct disk_req dreq;
	struct blk_queue *q;
	struct blk_req *next;
	u8 *status;		/* the chain's last writable byte */
	size_t expected;	/* bytes a read or write must transfer */
	u32 used_len;		/* bytes written to the chain, status included */
	u8 result;		/* VIRTIO_BLK_S_* once complete */
	struct iovec *iov;	/* the data part of the chain */
	struct virtq_elem *elem;
};

struct blk_queue {
	struct virtio_blk *blk;
	unsigned int index;
	struct virtq_worker worker;

	pthread_mutex_t lock;	/* done, inflight */
	pthread_cond_t idle;	/* inflight reached 0 */
	struct blk_req *done;	/* completed, for the thread to push */
	unsigned int inflight;	/* handed to the disk, not yet in done */

	/* The thread's own. */
	struct blk_req *free;
	unsigned int nr_reqs;
	bool starved;		/* stopped popping: all requests in flight */
};

struct virtio_blk {
	struct virtio_device vdev;
	struct virtio_device_ops ops;	/* per device: queues and features vary */
	struct virtio_blk_config config;
	struct disk_image *disk;
	char name[8];			/* "vda" */
	u64 capacity;			/* sectors */
	bool writethrough;		/* FLUSH not negotiated: every write is stable */
	bool warned_no_status;		/* atomic */
	bool warned_io_error;		/* atomic */
	unsigned int nr_queues;
	struct blk_queue *queues;
};

static struct virtio_blk *to_blk(struct virtio_device *vdev)
{
	return container_of(vdev, struct virtio_blk, vdev);
}

static struct virt_queue *queue_vq(struct blk_queue *q)
{
	return &q->blk->vdev.vqs[q->index];
}

/* ---- request pool (queue thread) ---- */

static void req_free(struct blk_req *req)
{
	if (!req)
		return;
	virtq_elem_free(req->elem);
	free(req->iov);
	free(req);
}

/*
 * At most one request per descriptor: a guest that offers one head many
 * times cannot make us allocate without bound.
 */
static struct blk_req *req_get(struct blk_queue *q)
{
	struct virt_queue *vq = queue_vq(q);
	struct blk_req *req = q->free;

	if (req) {
		q->free = req->next;
		return req;
	}
	if (q->nr_reqs >= vq->size)
		return NULL;
	req = calloc(1, sizeof(*req));
	if (!req)
		return NULL;
	req->q = q;
	req->elem = virtq_elem_alloc(vq);
	req->iov = calloc(vq->max_size, sizeof(*req->iov));
	if (!req->elem || !req->iov) {
		req_free(req);
		return NULL;
	}
	q->nr_reqs++;
	return req;
}

static void req_put(struct blk_queue *q, struct blk_req *req)
{
	req->next = q->free;
	q->free = req;
}

/* ---- chain layout ---- */

/*
 * Copy bytes [skip, skip+len) of iov[0..cnt) into buf (to_chain=false) or
 * from buf into them.  Bytes copied.
 */
static size_t chain_copy(const struct iovec *iov, unsigned int cnt, size_t skip,
			 void *buf, size_t len, bool to_chain)
{
	size_t done = 0;

	for (unsigned int i = 0; i < cnt && done < len; i++) {
		size_t c;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		c = MIN(iov[i].iov_len - skip, len - done);
		if (to_chain)
			memcpy((u8 *)iov[i].iov_base + skip, (u8 *)buf + done, c);
		else
			memcpy((u8 *)buf + done, (u8 *)iov[i].iov_base + skip, c);
		done += c;
		skip = 0;
	}
	return done;
}

/* Describe bytes [skip, skip+len) of iov[0..cnt) in out; entries used. */
static int chain_slice(const struct iovec *iov, unsigned int cnt, size_t skip, size_t len,
		       struct iovec *out)
{
	int n = 0;

	for (unsigned int i = 0; i < cnt && len; i++) {
		size_t c;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		c = MIN(iov[i].iov_len - skip, len);
		out[n].iov_base = (u8 *)iov[i].iov_base + skip;
		out[n].iov_len = c;
		n++;
		len -= c;
		skip = 0;
	}
	return n;
}

static const struct iovec *in_iov(const struct virtq_elem *e)
{
	return e->iov + e->out_num;
}

/* Writable bytes before the status byte. */
static size_t in_data_len(const struct virtq_elem *e)
{
	return e->in_len - 1;
}

/* Readable bytes after the header. */
static size_t out_data_len(const struct virtq_elem *e)
{
	return e->out_len - BLK_HDR_SIZE;
}

/* ---- completion ---- */

/* Queue thread: answer a request now.  data_written excludes the status. */
static void finish_now(struct blk_queue *q, struct blk_req *req, u8 status, size_t data_written)
{
	*req->status = status;
	virtq_add_used(queue_vq(q), req->elem->head, (u32)(data_written + 1));
	req_put(q, req);
}

/* A failing host disk (EIO, ENOSPC...) deserves one line; later ones debug. */
static void warn_io_error(struct virtio_blk *blk, const struct disk_req *dreq, ssize_t ret)
{
	const char *what = dreq->type == DISK_REQ_FLUSH ? "flush" :
			   dreq->type == DISK_REQ_WRITE ? "write" : "read";

	if (!__atomic_exchange_n(&blk->warned_io_error, true, __ATOMIC_RELAXED))
		pr_warn("virtio-blk %s: %s of %s failed: %s (further errors: --debug)",
			blk->name, what, blk->disk->path,
			ret < 0 ? strerror((int)-ret) : "short transfer");
	else
		pr_debug_ratelimited("virtio-blk %s: %s at sector %llu failed (%zd)", blk->name, what,
			 (unsigned long long)(dreq->offset / DISK_SECTOR_SIZE), ret);
}

/* Any thread: the disk is done with req. */
static void blk_req_complete(struct disk_req *dreq, ssize_t ret)
{
	struct blk_req *req = container_of(dreq, struct blk_req, dreq);
	struct blk_queue *q = req->q;
	bool ok = ret >= 0 && (size_t)ret == req->expected;

	req->result = ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
	if (!ok)
		warn_io_error(q->blk, dreq, ret);
	pthread_mutex_lock(&q->lock);
	req->next = q->done;
	q->done = req;
	if (!--q->inflight)
		pthread_cond_signal(&q->idle);
	/* Under q->lock: once quiesce() sees no request in flight, no completion touches q. */
	virtq_worker_post(&q->worker, BLK_WORK_DONE);
	pthread_mutex_unlock(&q->lock);
}

static struct blk_req *take_done(struct blk_queue *q)
{
	struct blk_req *list;

	pthread_mutex_lock(&q->lock);
	list = q->done;
	q->done = NULL;
	pthread_mutex_unlock(&q->lock);
	return list;
}

/* Queue thread: status bytes and used entries for completed requests. */
static void push_done(struct blk_queue *q, struct blk_req *list)
{
	while (list) {
		struct blk_req *next = list->next;

		*list->status = list->result;
		virtq_add_used(queue_vq(q), list->elem->head, list->used_len);
		req_put(q, list);
		list = next;
	}
}

static void submit(struct blk_queue *q, struct blk_req *req)
{
	req->dreq.complete = blk_req_complete;
	pthread_mutex_lock(&q->lock);
	q->inflight++;
	pthread_mutex_unlock(&q->lock);
	disk_submit(q->blk->disk, &req->dreq);
}

/* ---- request types ---- */

static bool sectors_ok(const struct virtio_blk *blk, u64 sector, u64 nr_sectors)
{
	return sector <= blk->capacity && nr_sectors <= blk->capacity - sector;
}

static void handle_rw(struct blk_queue *q, struct blk_req *req, u64 sector, bool write)
{
	struct virtio_blk *blk = q->blk;
	struct virtq_elem *e = req->elem;
	size_t len = write ? out_data_len(e) : in_data_len(e);
	struct disk_req *d = &req->dreq;

	if ((write && blk->disk->readonly) || len % DISK_SECTOR_SIZE ||
	    !sectors_ok(blk, sector, len / DISK_SECTOR_SIZE)) {
		finish_now(q, req, VIRTIO_BLK_S_IOERR, 0);
		return;
	}
	*d = (struct disk_req){
		.type = write ? DISK_REQ_WRITE : DISK_REQ_READ,
		.offset = sector * DISK_SECTOR_SIZE,
		.iov = req->iov,
	};
	if (write)
		d->iovcnt = chain_slice(e->iov, e->out_num, BLK_HDR_SIZE, len, req->iov);
	else
		d->iovcnt = chain_slice(in_iov(e), e->in_num, 0, len, req->iov);
	req->expected = len;
	/* A failed read may still have filled some of the buffers. */
	req->used_len = (u32)(write ? 1 : len + 1);
	if (write && blk->writethrough) {
		ssize_t n = disk_write(blk->disk, d->offset, d->iov, d->iovcnt);
		bool ok = n == (ssize_t)len && !disk_flush(blk->disk);

		finish_now(q, req, ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR, 0);
		return;
	}
	submit(q, req);
}

static void handle_flush(struct blk_queue *q, struct blk_req *req)
{
	req->dreq = (struct disk_req){ .type = DISK_REQ_FLUSH };
	req->expected = 0;
	req->used_len = 1;
	submit(q, req);
}

static void handle_get_id(struct blk_queue *q, struct blk_req *req)
{
	struct virtq_elem *e = req->elem;
	char id[VIRTIO_BLK_ID_BYTES];
	size_t n;

	/* NUL-padded, and not terminated when all 20 bytes are used. */
	memset(id, 0, sizeof(id));
	memcpy(id, q->blk->disk->serial, strnlen(q->blk->disk->serial, sizeof(id)));
	n = chain_copy(in_iov(e), e->in_num, 0, id, MIN(sizeof(id), in_data_len(e)), true);
	finish_now(q, req, VIRTIO_BLK_S_OK, n);
}

/*
 * Copy the request's segments out of guest memory once (another vCPU may
 * rewrite them at any time): they are validated and then acted on from
 * this copy only.  Their count, or 0 for a malformed segment list.
 */
static unsigned int read_segments(const struct virtq_elem *e,
				  struct virtio_blk_discard_write_zeroes *segs)
{
	size_t len = out_data_len(e);
	unsigned int nr = (unsigned int)MIN(len / BLK_SEG_SIZE, (size_t)UINT32_MAX);

	if (!len || len % BLK_SEG_SIZE || nr > BLK_MAX_DISCARD_SEG)
		return 0;
	chain_copy(e->iov, e->out_num, BLK_HDR_SIZE, segs, nr * BLK_SEG_SIZE, false);
	for (unsigned int i = 0; i < nr; i++) {
		segs[i].sector = le64toh(segs[i].sector);
		segs[i].num_sectors = le32toh(segs[i].num_sectors);
		segs[i].flags = le32toh(segs[i].flags);
	}
	return nr;
}

/* The status a discard / write-zeroes request earns before any I/O. */
static u8 check_segments(struct virtio_blk *blk, const struct virtio_blk_discard_write_zeroes *segs,
			 unsigned int nr, bool discard)
{
	u8 status = VIRTIO_BLK_S_OK;

	if (!nr)
		return VIRTIO_BLK_S_IOERR;
	for (unsigned int i = 0; i < nr; i++) {
		/* Unknown flags, or unmap on a discard: unsupported (spec). */
		if ((segs[i].flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) ||
		    (discard && segs[i].flags))
			return VIRTIO_BLK_S_UNSUPP;
		if (segs[i].num_sectors > BLK_MAX_DISCARD_SECTORS ||
		    !sectors_ok(blk, segs[i].sector, segs[i].num_sectors))
			status = VIRTIO_BLK_S_IOERR;
	}
	return status;
}

/*
 * Run on the queue thread: both are metadata operations (fallocate) that
 * the kernel's AIO cannot queue, and a request may carry several ranges.
 */
static void handle_discard_zeroes(struct blk_queue *q, struct blk_req *req, bool discard)
{
	struct virtio_blk *blk = q->blk;
	unsigned int bit = discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES;
	struct virtio_blk_discard_write_zeroes segs[BLK_MAX_DISCARD_SEG];
	unsigned int nr;
	u8 status;

	if (!virtio_has_feature(&blk->vdev, bit)) {
		finish_now(q, req, VIRTIO_BLK_S_UNSUPP, 0);
		return;
	}
	nr = read_segments(req->elem, segs);
	status = blk->disk->readonly ? VIRTIO_BLK_S_IOERR : check_segments(blk, segs, nr, discard);
	for (unsigned int i = 0; status == VIRTIO_BLK_S_OK && i < nr; i++) {
		u64 off = segs[i].sector * DISK_SECTOR_SIZE;
		u64 len = (u64)segs[i].num_sectors * DISK_SECTOR_SIZE;
		int ret;

		if (discard)
			ret = disk_discard(blk->disk, off, len);
		else
			ret = disk_write_zeroes(blk->disk, off, len,
						segs[i].flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
		if (ret)
			status = VIRTIO_BLK_S_IOERR;
	}
	finish_now(q, req, status, 0);
}

static void warn_no_status(struct virtio_blk *blk)
{
	if (!__atomic_exchange_n(&blk->warned_no_status, true, __ATOMIC_RELAXED))
		pr_warn("virtio-blk %s: request without a status byte, returned unanswered",
			blk->name);
}

static void handle_request(struct blk_queue *q, struct blk_req *req)
{
	struct virtq_elem *e = req->elem;
	const struct iovec *last;
	struct virtio_blk_outhdr hdr;

	if (!e->in_len) {
		/* Nowhere to put a status: give the chain back untouched. */
		warn_no_status(q->blk);
		virtq_add_used(queue_vq(q), e->head, 0);
		req_put(q, req);
		return;
	}
	/* Writable buffers come last in a chain: the status is the last byte. */
	last = &e->iov[e->out_num + e->in_num - 1];
	req->status = (u8 *)last->iov_base + last->iov_len - 1;
	if (e->out_len < BLK_HDR_SIZE) {
		finish_now(q, req, VIRTIO_BLK_S_IOERR, 0);
		return;
	}
	chain_copy(e->iov, e->out_num, 0, &hdr, sizeof(hdr), false);
	switch (le32toh(hdr.type)) {
	case VIRTIO_BLK_T_IN:
		handle_rw(q, req, le64toh(hdr.sector), false);
		break;
	case VIRTIO_BLK_T_OUT:
		handle_rw(q, req, le64toh(hdr.sector), true);
		break;
	case VIRTIO_BLK_T_FLUSH:
	case BLK_T_FLUSH_OUT:
		handle_flush(q, req);
		break;
	case VIRTIO_BLK_T_GET_ID:
		handle_get_id(q, req);
		break;
	case VIRTIO_BLK_T_DISCARD:
		handle_discard_zeroes(q, req, true);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		handle_discard_zeroes(q, req, false);
		break;
	default:
		finish_now(q, req, VIRTIO_BLK_S_UNSUPP, 0);
	}
}

/* ---- the queue thread ---- */

/* Pop and start what is available, while requests last. */
static void pop_requests(struct blk_queue *q, struct virt_queue *vq)
{
	q->starved = false;
	for (;;) {
		struct blk_req *req = req_get(q);

		if (!req) {
			q->starved = true;
			return;
		}
		if (!virtq_pop(vq, req->elem)) {
			req_put(q, req);
			return;
		}
		handle_request(q, req);
	}
}

/*
 * Pop everything available, send it to the disk, push what is done.  When
 * every request is in flight (starved) kicks stay off: the completions
 * wake the thread, which comes back here.
 */
static void process_queue(struct blk_queue *q)
{
	struct virt_queue *vq = queue_vq(q);

	do {
		virtq_disable_notify(vq);
		do {
			pop_requests(q, vq);
			disk_unplug(q->blk->disk);
			push_done(q, take_done(q));
			virtq_publish_used(vq);
			virtq_signal_if_needed(vq);
		} while (q->starved && q->free);	/* some came back: go on */
	} while (!q->starved && virtq_enable_notify_and_check(vq));
}

/* Reset: wait out the disk, then drop the answers nobody can take. */
static void quiesce(struct blk_queue *q)
{
	struct blk_req *list;

	pthread_mutex_lock(&q->lock);
	while (q->inflight)
		pthread_cond_wait(&q->idle, &q->lock);
	list = q->done;
	q->done = NULL;
	pthread_mutex_unlock(&q->lock);
	while (list) {
		struct blk_req *next = list->next;

		req_put(q, list);
		list = next;
	}
}

static void queue_work(void *opaque, unsigned int events)
{
	struct blk_queue *q = opaque;
	struct virt_queue *vq = queue_vq(q);
	struct blk_req *done = take_done(q);

	if (done) {
		push_done(q, done);
		virtq_publish_used(vq);
		virtq_signal_if_needed(vq);
	}
	if ((events & VIRTQ_WORKER_KICK) || (done && q->starved))
		process_queue(q);
}

static const struct virtq_worker_ops queue_worker_ops = { .work = queue_work };

/* ---- device ops ---- */

static void blk_queue_notify(struct virtio_device *vdev, struct virt_queue *vq)
{
	virtq_worker_kick(&to_blk(vdev)->queues[vq->index].worker);
}

/* Also for a queue never started: nothing is then in flight. */
static void stop_queue(struct blk_queue *q)
{
	virtq_worker_stop(&q->worker);
	quiesce(q);
}

static void blk_reset(struct virtio_device *vdev)
{
	struct virtio_blk *blk = to_blk(vdev);

	for (unsigned int i = 0; i < blk->nr_queues; i++)
		stop_queue(&blk->queues[i]);
}

static int start_queue(struct blk_queue *q)
{
	q->starved = false;
	return virtq_worker_start(&q->worker);
}

static int blk_activate(struct virtio_device *vdev)
{
	struct virtio_blk *blk = to_blk(vdev);

	/* Spec: FLUSH offered but not negotiated means writes are stable. */
	blk->writethrough = !virtio_has_feature(vdev, VIRTIO_BLK_F_FLUSH);
	for (unsigned int i = 0; i < blk->nr_queues; i++) {
		struct blk_queue *q = &blk->queues[i];
		int ret;

		if (!virtio_queue_is_ready(vdev, i))
			continue;	/* the driver uses fewer queues */
		ret = start_queue(q);
		if (ret) {
			blk_reset(vdev);
			return ret;
		}
	}
	return 0;
}

/* ---- creation ---- */

static void fill_config(struct virtio_blk *blk)
{
	struct virtio_blk_config *c = &blk->config;

	c->capacity = htole64(blk->capacity);
	c->size_max = htole32(BLK_SIZE_MAX);
	c->seg_max = htole32(BLK_SEG_MAX);
	c->blk_size = htole32(DISK_SECTOR_SIZE);
	c->min_io_size = htole16(1);
	c->opt_io_size = htole32(BLK_OPT_IO_SECTORS);
	c->num_queues = htole16((u16)blk->nr_queues);
	c->max_discard_sectors = htole32(BLK_MAX_DISCARD_SECTORS);
	c->max_discard_seg = htole32(BLK_MAX_DISCARD_SEG);
	c->discard_sector_alignment = htole32(BLK_DISCARD_ALIGNMENT);
	c->max_write_zeroes_sectors = htole32(BLK_MAX_DISCARD_SECTORS);
	c->max_write_zeroes_seg = htole32(BLK_MAX_DISCARD_SEG);
	c->write_zeroes_may_unmap = blk->disk->ops->write_zeroes != NULL;
}

static u64 blk_features(const struct disk_image *disk)
{
	u64 f = (1ULL << VIRTIO_BLK_F_FLUSH) | (1ULL << VIRTIO_BLK_F_SEG_MAX) |
		(1ULL << VIRTIO_BLK_F_SIZE_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
		(1ULL << VIRTIO_BLK_F_TOPOLOGY) | (1ULL << VIRTIO_BLK_F_MQ);

	if (disk->readonly)
		return f | (1ULL << VIRTIO_BLK_F_RO);
	return f | (1ULL << VIRTIO_BLK_F_DISCARD) | (1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
}

/* vda, vdb, ... vdz, vdaa, vdab, ... */
static void disk_name(char *buf, size_t size, unsigned int index)
{
	if (index < 26)
		snprintf(buf, size, "vd%c", 'a' + index);
	else
		snprintf(buf, size, "vd%c%c", 'a' + (index / 26 - 1) % 26, 'a' + index % 26);
}

static void blk_free(struct virtio_blk *blk)
{
	for (unsigned int i = 0; blk->queues && i < blk->nr_queues; i++) {
		struct blk_queue *q = &blk->queues[i];

		while (q->free) {
			struct blk_req *next = q->free->next;

			req_free(q->free);
			q->free = next;
		}
		virtq_worker_destroy(&q->worker);
		pthread_mutex_destroy(&q->lock);
		pthread_cond_destroy(&q->idle);
	}
	free(blk->queues);
	disk_close(blk->disk);
	free(blk);
}

static int blk_create(struct kvm *kvm, struct disk_image *disk, unsigned int index,
		      struct virtio_blk **out)
{
	struct virtio_blk *blk = calloc(1, sizeof(*blk));
	int ret;

	if (!blk)
		return -ENOMEM;
	blk->disk = disk;
	disk_name(blk->name, sizeof(blk->name), index);
	snprintf(disk->serial, sizeof(disk->serial), "lkvm-%s", blk->name);
	blk->capacity = disk->size / DISK_SECTOR_SIZE;
	blk->nr_queues = MAX(1u, MIN(kvm->nr_cpus, (unsigned int)VIRTIO_BLK_MAX_QUEUES));
	blk->queues = calloc(blk->nr_queues, sizeof(*blk->queues));
	if (!blk->queues) {
		blk->disk = NULL;	/* the caller closes it */
		blk_free(blk);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < blk->nr_queues; i++) {
		struct blk_queue *q = &blk->queues[i];
		char name[32];	/* the worker keeps 15 */

		q->blk = blk;
		q->index = i;
		pthread_mutex_init(&q->lock, NULL);
		pthread_cond_init(&q->idle, NULL);
		snprintf(name, sizeof(name), "blk-%s-q%u", blk->name, i);
		virtq_worker_init(&q->worker, &queue_worker_ops, q, name, SANDBOX_BLK);
	}
	blk->ops = (struct virtio_device_ops){
		.name = "blk",
		.device_id = VIRTIO_ID_BLOCK,
		.nr_queues = blk->nr_queues,
		.max_queue_size = VIRTIO_BLK_QUEUE_SIZE,
		.features = blk_features(disk),
		.queue_notify = blk_queue_notify,
		.reset = blk_reset,
		.activate = blk_activate,
	};
	fill_config(blk);
	ret = virtio_device_init(&blk->vdev, &blk->ops, &kvm->mem, &blk->config,
				 sizeof(blk->config));
	if (ret) {
		blk->disk = NULL;
		blk_free(blk);
		return ret;
	}
	*out = blk;
	return 0;
}

int virtio_blk_init(struct kvm *kvm, const struct disk_params *p, unsigned int index,
		    struct virtio_device **out)
{
	struct disk_image *disk;
	struct virtio_blk *blk;
	int ret;

	disk = disk_open(p, &ret);
	if (!disk)
		return ret;
	ret = blk_create(kvm, disk, index, &blk);
	if (ret) {
		pr_err("%s: cannot create its virtio-blk device: %s", p->path, strerror(-ret));
		disk_close(disk);
		return ret;
	}
	pr_debug("virtio-blk %s: %s (%s%s%s), %llu sectors, %u queues", blk->name, p->path,
		 disk->ops->name, disk->readonly ? ", ro" : "", disk->direct ? ", direct" : "",
		 (unsigned long long)blk->capacity, blk->nr_queues);
	*out = &blk->vdev;
	return 0;
}

void virtio_blk_exit(struct virtio_device *vdev)
{
	struct virtio_blk *blk = to_blk(vdev);

	virtio_device_reset(vdev);
	virtio_device_exit(vdev);
	blk_free(blk);
}

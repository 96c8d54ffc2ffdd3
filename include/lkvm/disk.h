#ifndef LKVM_DISK_H
#define LKVM_DISK_H
/*
 * Block backends and image formats.  A disk_image is what a device sees:
 * a size, flags, and request entry points.  Formats (raw, qcow2) sit on a
 * backend and never know about virtio; virtio-blk never knows the format.
 *
 * Two ways to do I/O:
 *  - synchronous: disk_read/disk_write/disk_flush/... block the caller
 *    (a device I/O thread) until done; return bytes or -errno.
 *  - asynchronous: disk_submit() queues requests, disk_unplug() sends the
 *    batch (one io_submit per queue notification), and each request's
 *    complete() callback runs later on the image's completion thread with
 *    the result.  Without a native async path (qcow2, ,sync) requests
 *    go through the generic fallback: they complete
 *    before disk_unplug() returns, run by the caller and, for a large
 *    batch on a concurrent format, by helper threads beside it.
 *    Even a native backend may complete a request inside disk_submit() or
 *    disk_unplug() (an unaligned O_DIRECT request, a full AIO ring), so a
 *    complete() callback must not take a lock its submitter holds.
 *
 * Concurrency: a virtio-blk device has one I/O thread per virtqueue, so
 * every entry point below may be called by several threads at once on the
 * same image.  A format whose ops set `concurrent` must cope with that
 * itself; for the others disk.c serialises the calls with d->io_lock.
 *
 * Every entry point checks that [off, off+len) lies inside d->size and
 * refuses a write to a read-only image (-EROFS) before the format sees it.
 */
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/uio.h>
#include "lkvm/compiler.h"

#define DISK_SECTOR_SIZE 512
#define DISK_SERIAL_LEN 20		/* VIRTIO_BLK_ID_BYTES */

enum disk_req_type {
	DISK_REQ_READ,
	DISK_REQ_WRITE,
	DISK_REQ_FLUSH,
	DISK_REQ_DISCARD,
	DISK_REQ_WRITE_ZEROES,
};

struct disk_req {
	enum disk_req_type type;
	u64 offset;			/* bytes */
	u64 len;			/* DISCARD / WRITE_ZEROES: bytes */
	const struct iovec *iov;	/* READ / WRITE */
	int iovcnt;
	bool unmap;			/* WRITE_ZEROES may deallocate */
	/*
	 * Called once with bytes transferred (or 0) or -errno.  The request
	 * is the submitter's again as soon as complete() is entered.
	 */
	void (*complete)(struct disk_req *req, ssize_t ret);
	void *opaque;			/* for the submitter */
	void *backend_priv;		/* for the backend while in flight */
};

struct disk_image;

struct disk_format_ops {
	const char *name;
	ssize_t (*read)(struct disk_image *d, u64 off, const struct iovec *iov, int iovcnt);
	ssize_t (*write)(struct disk_image *d, u64 off, const struct iovec *iov, int iovcnt);
	int (*flush)(struct disk_image *d);
	/*
	 * Optional: discard is a hint (absent: requests succeed doing
	 * nothing); without write_zeroes, disk.c writes zero buffers.
	 */
	int (*discard)(struct disk_image *d, u64 off, u64 len);
	int (*write_zeroes)(struct disk_image *d, u64 off, u64 len, bool unmap);
	/* Optional native async path (raw + libaio). */
	int (*submit)(struct disk_image *d, struct disk_req *req);
	int (*unplug)(struct disk_image *d);
	void (*close)(struct disk_image *d);
	/* The ops above are safe to call from several threads at once. */
	bool concurrent;
};

struct disk_format;

/*
 * Devices may read ops->name, ops->write_zeroes (is it native), path,
 * size, readonly and direct, and fill serial; the rest is the block
 * layer's.
 */
struct disk_image {
	const struct disk_format_ops *ops;
	char *path;
	int fd;
	u64 size;			/* bytes the guest sees */
	bool readonly;
	bool direct;			/* O_DIRECT */
	bool async;			/* libaio (raw, unless ,sync) */
	char serial[DISK_SERIAL_LEN + 1];	/* NUL-padded; the device ID */
	bool probed;			/* the format was guessed, not given */
	/*
	 * Probed as raw and writable: a write that would make the image's
	 * first bytes look like another format is refused (-EPERM), so the
	 * guest cannot turn its raw disk into, say, a qcow2 image naming a
	 * host file as its backing file for the next start.
	 */
	bool guard_head;
	bool warned_head;		/* atomic: the refusal was reported */
	pthread_mutex_t head_lock;	/* a guarded head's check + write */
	void *priv;			/* format state */
	/* Generic async fallback: requests queued until disk_unplug(). */
	struct disk_req **pending;
	unsigned int nr_pending, cap_pending;
	pthread_mutex_t pending_lock;	/* pending, nr_pending, cap_pending */
	struct disk_pool *pool;		/* helpers for those batches, or NULL */
	pthread_mutex_t io_lock;	/* serialises ops that are not concurrent */
};

struct disk_params {
	const char *path;		/* points into path_buf after parsing */
	const struct disk_format *format;	/* format=; NULL: probe */
	bool readonly;
	bool direct;
	bool sync;			/* force synchronous I/O */
	char path_buf[PATH_MAX];
};

/*
 * Parse a -d/--disk spec "path[,format=raw|qcow2][,ro][,direct][,sync]";
 * 0 or -EINVAL with *why naming the bad field (valid until the next call
 * on this thread).
 */
int disk_parse_spec(const char *spec, struct disk_params *p, const char **why);
/*
 * Open an image in p->format, or in the format its first bytes show
 * (qcow2 by its magic, else raw), and lock it.  Only regular files and
 * block devices are opened (a FIFO or a character device is refused
 * without blocking).  An image probed as raw stays raw: see guard_head.
 * Locking: a read-write open takes a write lock and is refused (-EBUSY) if
 * any other open file description holds a lock on the image; a read-only
 * open takes a read lock when it can, and when a writer holds the image it
 * still opens it (with a warning), so an image can be shared read-only.
 * NULL with *err = -errno and a message printed that names the problem.
 */
struct disk_image *disk_open(const struct disk_params *p, int *err);
void disk_close(struct disk_image *d);

ssize_t disk_read(struct disk_image *d, u64 off, const struct iovec *iov, int iovcnt);
ssize_t disk_write(struct disk_image *d, u64 off, const struct iovec *iov, int iovcnt);
/* Returns only once written data is on stable storage (fdatasync). */
int disk_flush(struct disk_image *d);
int disk_discard(struct disk_image *d, u64 off, u64 len);
int disk_write_zeroes(struct disk_image *d, u64 off, u64 len, bool unmap);

/*
 * Hand req to the image; its complete() is called exactly once, with an
 * error too (bad range, read-only image).  Returns 0; a format's submit
 * op returns 0 as well and reports failures through complete().
 */
int disk_submit(struct disk_image *d, struct disk_req *req);
/* Send what disk_submit() queued (on this thread or any other). */
int disk_unplug(struct disk_image *d);

#endif

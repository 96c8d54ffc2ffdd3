#ifndef LKVM_DISK_DISK_INT_H
#define LKVM_DISK_DISK_INT_H
/*
 * What the files in disk/ share and nothing outside disk/ may include:
 * the format table, the helpers formats build on, and the libaio engine.
 * Devices use lkvm/disk.h only.
 */
#include "lkvm/disk.h"

/*
 * Bytes at the start of an image that probing looks at: a format's probe
 * sees at most this much, and disk.c refuses guest writes to a probed raw
 * image that would change what a probe of this window says.
 */
#define DISK_PROBE_LEN 512

/*
 * An image format.  open(): d->path, d->fd (opened and locked),
 * readonly, direct, async and probed are set; fill ops, size and priv.
 * 0, or -errno after printing a message that names d->path.
 */
struct disk_format {
	const char *name;
	/*
	 * Does an image starting with head[0..len) (len <= DISK_PROBE_LEN,
	 * shorter only for a shorter file) look like this format?  NULL for
	 * raw, the format of everything no probe claims.
	 */
	bool (*probe)(const u8 *head, size_t len);
	int (*open)(struct disk_image *d);
};

/* Every format, in probe order, NULL-terminated (disk/formats.c). */
extern const struct disk_format *const disk_formats[];
extern const struct disk_format disk_format_raw;
extern const struct disk_format disk_format_qcow2;

/* The format called name, or NULL. */
const struct disk_format *disk_format_find(const char *name);

/* Run req with the synchronous entry points and call its complete(). */
void disk_req_run_sync(struct disk_image *d, struct disk_req *req);
/* Bytes an iovec array covers, or -EINVAL if the sum overflows. */
ssize_t disk_iov_length(const struct iovec *iov, int iovcnt);
/* Copy len bytes between iov (from byte `skip` on) and buf. */
void disk_iov_copy(const struct iovec *iov, int iovcnt, size_t skip, void *buf, size_t len,
		   bool to_iov);
/* Zero [off, off + len) with plain writes: a format's last resort. */
int disk_write_zero_buffers(struct disk_image *d, u64 off, u64 len);

/*
 * libaio engine (disk/aio.c) for a format that maps requests 1:1 onto a
 * file: reads, writes and flushes go to the kernel in batches; completions
 * arrive through an eventfd on a completion thread.  `fd` serves aligned
 * requests; any other request is run through disk_req_run_sync().
 */
struct disk_aio;
/* NULL (and a warning) if the kernel has no AIO for us: stay synchronous. */
struct disk_aio *disk_aio_create(struct disk_image *d, int fd, unsigned int align);
void disk_aio_destroy(struct disk_aio *aio);	/* nothing may be in flight */
int disk_aio_submit(struct disk_aio *aio, struct disk_req *req);
int disk_aio_unplug(struct disk_aio *aio);

/*
 * Helper threads for the synchronous batch path (disk/pool.c): when the
 * reads of a batch of a concurrent format cover at least
 * DISK_POOL_MIN_BYTES, up to nr_helpers threads run them beside the
 * caller; disk_pool_run() returns once every request has completed.
 */
#define DISK_POOL_MAX 3
#define DISK_POOL_MIN_BYTES (256u << 10)
struct disk_pool;
/* NULL without memory: the batches then run on the caller alone. */
struct disk_pool *disk_pool_create(struct disk_image *d, unsigned int nr_helpers);
void disk_pool_run(struct disk_pool *p, struct disk_req **batch, unsigned int n);
void disk_pool_destroy(struct disk_pool *p);	/* NULL is fine; none may run */

#endif

/*
 * Raw images: guest sector N is byte N * 512 of the file or block device.
 *
 * Synchronous I/O is preadv/pwritev; the libaio engine (aio.c) serves the
 * async path.  With O_DIRECT the kernel wants buffers, offsets and lengths
 * aligned to the device's logical block size.  Guest buffers usually are;
 * when only the memory is not, the data goes through an aligned bounce
 * buffer, and when the offset or length is not, through a second,
 * buffered descriptor of the same file (the kernel keeps the page cache
 * and direct I/O of one file coherent, and fdatasync covers both).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include "lkvm/log.h"
#include "disk/disk-int.h"

#define BOUNCE_CHUNK (1u << 20)
#define IOV_ON_STACK 64

struct raw {
	int buffered_fd;	/* d->fd unless O_DIRECT */
	unsigned int align;	/* O_DIRECT alignment; 1 without */
	bool no_punch_hole;	/* atomic: the file system refused it once */
	bool no_zero_range;	/* atomic */
	struct disk_aio *aio;
};

static struct raw *to_raw(struct disk_image *d)
{
	return d->priv;
}

/* ---- plain transfers ---- */

static ssize_t rw_once(int fd, const struct iovec *iov, int iovcnt, u64 off, bool write)
{
	ssize_t n;

	do {
		n = write ? pwritev(fd, iov, iovcnt, (off_t)off) : preadv(fd, iov, iovcnt, (off_t)off);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* Drop the first `done` bytes of a (copied) iovec array; new count. */
static int iov_advance(struct iovec *iov, int iovcnt, size_t done)
{
	int i = 0;

	while (i < iovcnt && done >= iov[i].iov_len)
		done -= iov[i++].iov_len;
	if (i < iovcnt) {
		iov[i].iov_base = (char *)iov[i].iov_base + done;
		iov[i].iov_len -= done;
	}
	memmove(iov, iov + i, (iovcnt - i) * sizeof(*iov));
	return iovcnt - i;
}

/*
 * The whole transfer, resuming after short ones; a read stops early only
 * at end of file.  Bytes done, or -errno if nothing was done.
 */
static ssize_t rw_full(int fd, const struct iovec *iov, int iovcnt, u64 off, bool write)
{
	ssize_t total = disk_iov_length(iov, iovcnt), done, n;
	struct iovec small[IOV_ON_STACK], *rest;

	done = rw_once(fd, iov, iovcnt, off, write);
	if (done < 0 || done == total || (done == 0 && !write))
		return done;
	rest = iovcnt <= IOV_ON_STACK ? small : malloc(iovcnt * sizeof(*rest));
	if (!rest)
		return done;
	memcpy(rest, iov, iovcnt * sizeof(*rest));
	iovcnt = iov_advance(rest, iovcnt, (size_t)done);
	while (done < total) {
		n = rw_once(fd, rest, iovcnt, off + (u64)done, write);
		if (n <= 0) {
			if (n == 0 && write && !done)
				done = -EIO;
			break;
		}
		done += n;
		iovcnt = iov_advance(rest, iovcnt, (size_t)n);
	}
	if (rest != small)
		free(rest);
	return done;
}

/* ---- O_DIRECT alignment ---- */

static bool is_aligned(u64 v, unsigned int align)
{
	return !(v & (align - 1));
}

static bool memory_aligned(const struct iovec *iov, int iovcnt, unsigned int align)
{
	for (int i = 0; i < iovcnt; i++)
		if (!is_aligned((uintptr_t)iov[i].iov_base, align) ||
		    !is_aligned(iov[i].iov_len, align))
			return false;
	return true;
}

/* Aligned offset and length, unaligned memory: through a bounce buffer. */
static ssize_t rw_bounce(struct disk_image *d, const struct iovec *iov, int iovcnt,
			 u64 off, size_t total, bool write)
{
	size_t done = 0;
	ssize_t ret = 0;
	void *buf;

	if (posix_memalign(&buf, MAX(to_raw(d)->align, 4096u), BOUNCE_CHUNK))
		return -ENOMEM;
	while (done < total) {
		struct iovec b = { buf, MIN(total - done, (size_t)BOUNCE_CHUNK) };

		if (write)
			disk_iov_copy(iov, iovcnt, done, buf, b.iov_len, false);
		ret = rw_full(d->fd, &b, 1, off + done, write);
		if (ret <= 0)
			break;
		if (!write)
			disk_iov_copy(iov, iovcnt, done, buf, (size_t)ret, true);
		done += (size_t)ret;
		if ((size_t)ret < b.iov_len)
			break;
	}
	free(buf);
	return done ? (ssize_t)done : ret;
}

static ssize_t raw_rw(struct disk_image *d, u64 off, const struct iovec *iov, int iovcnt,
		      bool write)
{
	struct raw *raw = to_raw(d);
	ssize_t total = disk_iov_length(iov, iovcnt);

	if (total < 0)
		return total;
	if (!is_aligned(off, raw->align) || !is_aligned((u64)total, raw->align))
		return rw_full(raw->buffered_fd, iov, iovcnt, off, write);
	if (!memory_aligned(iov, iovcnt, raw->align))
		return rw_bounce(d, iov, iovcnt, off, (size_t)total, write);
	return rw_full(d->fd, iov, iovcnt, off, write);
}

static ssize_t raw_read(struct disk_image *d, u64 off, const struct iovec *iov, int iovcnt)
{
	return raw_rw(d, off, iov, iovcnt, false);
}

static ssize_t raw_write(struct disk_image *d, u64 off, const struct iovec *iov, int iovcnt)
{
	return raw_rw(d, off, iov, iovcnt, true);
}

static int raw_flush(struct disk_image *d)
{
	/* fdatasync is per inode: it covers the buffered descriptor too. */
	return fdatasync(d->fd) ? -errno : 0;
}

/* ---- discard and write zeroes ---- */

static int raw_fallocate(struct disk_image *d, int mode, u64 off, u64 len, bool *unsupported)
{
	int ret;

	if (__atomic_load_n(unsupported, __ATOMIC_RELAXED))
		return -EOPNOTSUPP;
	do {
		ret = fallocate(d->fd, mode | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
	} while (ret && errno == EINTR);
	if (!ret)
		return 0;
	ret = -errno;
	if (ret == -EOPNOTSUPP || ret == -ENOSYS || ret == -EINVAL) {
		__atomic_store_n(unsupported, true, __ATOMIC_RELAXED);
		return -EOPNOTSUPP;
	}
	return ret;
}

/* Discard is a hint: a file system that cannot punch holes ignores it. */
static int raw_discard(struct disk_image *d, u64 off, u64 len)
{
	int ret = raw_fallocate(d, FALLOC_FL_PUNCH_HOLE, off, len, &to_raw(d)->no_punch_hole);

	return ret == -EOPNOTSUPP ? 0 : ret;
}

/*
 * Punching a hole both deallocates and reads back as zeroes; ZERO_RANGE
 * keeps the blocks allocated.  Where neither exists, plain writes.
 */
static int raw_write_zeroes(struct disk_image *d, u64 off, u64 len, bool unmap)
{
	struct raw *raw = to_raw(d);
	int ret = -EOPNOTSUPP;

	if (unmap)
		ret = raw_fallocate(d, FALLOC_FL_PUNCH_HOLE, off, len, &raw->no_punch_hole);
	if (ret == -EOPNOTSUPP)
		ret = raw_fallocate(d, FALLOC_FL_ZERO_RANGE, off, len, &raw->no_zero_range);
	if (ret == -EOPNOTSUPP)
		ret = disk_write_zero_buffers(d, off, len);
	return ret;
}

/* ---- async and lifetime ---- */

static int raw_submit(struct disk_image *d, struct disk_req *req)
{
	return disk_aio_submit(to_raw(d)->aio, req);
}

static int raw_unplug(struct disk_image *d)
{
	return disk_aio_unplug(to_raw(d)->aio);
}

static void raw_close(struct disk_image *d)
{
	struct raw *raw = to_raw(d);

	if (!raw)
		return;
	if (raw->aio)
		disk_aio_destroy(raw->aio);
	if (raw->buffered_fd != d->fd)
		close(raw->buffered_fd);
	free(raw);
	d->priv = NULL;
}

static const struct disk_format_ops raw_ops = {
	.name = "raw",
	.read = raw_read,
	.write = raw_write,
	.flush = raw_flush,
	.discard = raw_discard,
	.write_zeroes = raw_write_zeroes,
	.submit = raw_submit,
	.unplug = raw_unplug,
	.close = raw_close,
	.concurrent = true,
};

static int image_size(struct disk_image *d, u64 *size)
{
	struct stat st;

	if (fstat(d->fd, &st))
		return -errno;
	if (S_ISBLK(st.st_mode))
		return ioctl(d->fd, BLKGETSIZE64, size) ? -errno : 0;
	*size = (u64)st.st_size;
	return 0;
}

/*
 * The O_DIRECT alignment: the logical block size of a block device; for a
 * file, 512 if a read from a 512-aligned (but not 1024-aligned) buffer is
 * accepted, else the page size.
 */
static unsigned int direct_alignment(int fd)
{
	int lbs;
	char *buf;
	ssize_t n;

	if (!ioctl(fd, BLKSSZGET, &lbs) && lbs >= 512 && !(lbs & (lbs - 1)))
		return (unsigned int)lbs;
	if (posix_memalign((void **)&buf, 4096, 4096))
		return 4096;
	n = pread(fd, buf + 512, 512, 0);
	free(buf);
	return n >= 0 ? 512 : 4096;
}

/* A second open file description of the very inode d->fd refers to. */
static int reopen_buffered(struct disk_image *d)
{
	char proc[64];
	int fd;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", d->fd);
	fd = open(proc, (d->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		pr_err("%s: cannot reopen for unaligned I/O: %s", d->path, strerror(errno));
	return fd < 0 ? -errno : fd;
}

static int raw_open(struct disk_image *d)
{
	struct raw *raw = calloc(1, sizeof(*raw));
	int ret;

	if (!raw)
		return -ENOMEM;
	d->priv = raw;
	d->ops = &raw_ops;
	raw->buffered_fd = d->fd;
	raw->align = 1;
	ret = image_size(d, &d->size);
	if (ret) {
		pr_err("%s: cannot get the image size: %s", d->path, strerror(-ret));
		goto fail;
	}
	if (d->direct) {
		raw->align = direct_alignment(d->fd);
		ret = reopen_buffered(d);
		if (ret < 0)
			goto fail;
		raw->buffered_fd = ret;
	}
	/*
	 * On a buffered file Linux AIO copies inside io_submit(), one request
	 * after the other, and its completion thread adds a thread hop per
	 * batch: ,sync (the batch path, with the helpers of disk/pool.c) is
	 * faster there (bench/blk.sh).  It stays opt-in until the nested
	 * blk-soak has run it clean on L1 with 2 CPUs as often as libaio.
	 */
	if (d->async) {
		raw->aio = disk_aio_create(d, d->fd, raw->align);
		d->async = raw->aio != NULL;
	}
	return 0;
fail:
	raw_close(d);
	d->ops = NULL;
	return ret;
}

const struct disk_format disk_format_raw = {
	.name = "raw",
	.open = raw_open,
};

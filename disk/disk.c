/*
 * The format-neutral half of the block layer: -d spec parsing, opening and
 * locking an image, format detection, range checks in front of every
 * format, and the generic async fallback for formats without their own.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lkvm/disk.h"
#include "lkvm/log.h"

#define QCOW2_MAGIC "QFI\xfb"

/* ---- spec parsing ---- */

static __thread char why_buf[160];

__attribute__((format(printf, 2, 3)))
static int bad_spec(const char **why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why_buf, sizeof(why_buf), fmt, ap);
	va_end(ap);
	*why = why_buf;
	return -EINVAL;
}

static bool field_is(const char *f, size_t len, const char *name)
{
	return len == strlen(name) && !memcmp(f, name, len);
}

int disk_parse_spec(const char *spec, struct disk_params *p, const char **why)
{
	const char *comma = strchr(spec, ',');
	size_t plen = comma ? (size_t)(comma - spec) : strlen(spec);

	memset(p, 0, sizeof(*p));
	if (plen == 0)
		return bad_spec(why, "missing image path");
	if (plen >= sizeof(p->path_buf))
		return bad_spec(why, "image path too long (%zu bytes)", plen);
	memcpy(p->path_buf, spec, plen);
	p->path = p->path_buf;
	while (comma) {
		const char *f = comma + 1;
		size_t len;

		comma = strchr(f, ',');
		len = comma ? (size_t)(comma - f) : strlen(f);
		if (field_is(f, len, "ro"))
			p->readonly = true;
		else if (field_is(f, len, "direct"))
			p->direct = true;
		else if (field_is(f, len, "sync"))
			p->sync = true;
		else if (len == 0)
			return bad_spec(why, "empty option in '%s'", spec);
		else
			return bad_spec(why, "unknown option '%.*s' (known: ro, direct, sync)",
					(int)MIN(len, 64), f);
	}
	return 0;
}

/* ---- opening ---- */

static int open_error(const char *path, int err, bool readonly, bool direct)
{
	switch (err) {
	case ENOENT:
		pr_err("%s: no such file", path);
		break;
	case EACCES:
	case EPERM:
		pr_err("%s: permission denied%s", path,
		       readonly ? "" : " (opening it read-write; ,ro opens it read-only)");
		break;
	case EROFS:
		pr_err("%s: on a read-only file system: use ,ro", path);
		break;
	case EINVAL:
		if (direct) {
			pr_err("%s: the file system does not support O_DIRECT (,direct)", path);
			break;
		}
		/* fall through */
	default:
		pr_err("%s: cannot open: %s", path, strerror(err));
	}
	return -err;
}

static int ofd_lock(int fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };

	return fcntl(fd, F_OFD_SETLK, &fl) ? -errno : 0;
}

/*
 * OFD locks belong to the open file description, so they also exclude a
 * second open of the same image within one process, and go away with the
 * last close (or a SIGKILL).
 */
static int lock_image(int fd, const char *path, bool readonly)
{
	int ret = ofd_lock(fd, readonly ? F_RDLCK : F_WRLCK);

	if (ret == -EAGAIN || ret == -EACCES) {
		if (readonly) {
			pr_warn("%s: opened read-only while another process writes it: "
				"the guest may see it change", path);
			return 0;
		}
		pr_err("%s: in use by another process (locked): use ,ro to share it read-only",
		       path);
		return -EBUSY;
	}
	if (ret)	/* a file system without locks: nothing to protect with */
		pr_warn("%s: cannot lock the image (%s); not protected against other users",
			path, strerror(-ret));
	return 0;
}

static int check_file_type(int fd, const char *path)
{
	struct stat st;

	if (fstat(fd, &st))
		return open_error(path, errno, true, false);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		pr_err("%s: not a regular file or block device", path);
		return -EINVAL;
	}
	return 0;
}

/* Does the image start with the qcow2 magic?  0 = no, 1 = yes, -errno. */
static int probe_qcow2(int fd, const char *path)
{
	void *buf;
	ssize_t n;
	int ret;

	/* Aligned and a whole page, so the read also works with O_DIRECT. */
	if (posix_memalign(&buf, 4096, 4096))
		return -ENOMEM;
	n = pread(fd, buf, 4096, 0);
	if (n < 0) {
		ret = -errno;
		pr_err("%s: cannot read the image header: %s", path, strerror(errno));
	} else {
		ret = n >= 4 && !memcmp(buf, QCOW2_MAGIC, 4);
	}
	free(buf);
	return ret;
}

static int open_format(struct disk_image *d)
{
	int qcow2 = probe_qcow2(d->fd, d->path);

	if (qcow2 < 0)
		return qcow2;
	return qcow2 ? qcow2_open(d) : raw_open(d);
}

static void disk_free(struct disk_image *d)
{
	if (d->fd >= 0)
		close(d->fd);
	pthread_mutex_destroy(&d->pending_lock);
	pthread_mutex_destroy(&d->io_lock);
	free(d->pending);
	free(d->path);
	free(d);
}

struct disk_image *disk_open(const struct disk_params *p, int *err)
{
	int flags = (p->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (p->direct ? O_DIRECT : 0);
	struct disk_image *d = calloc(1, sizeof(*d));
	int ret;

	if (!d || !(d->path = strdup(p->path))) {
		free(d);
		*err = -ENOMEM;
		pr_err("%s: out of memory", p->path);
		return NULL;
	}
	pthread_mutex_init(&d->pending_lock, NULL);
	pthread_mutex_init(&d->io_lock, NULL);
	d->readonly = p->readonly;
	d->direct = p->direct;
	d->async = !p->sync;
	d->fd = open(p->path, flags);
	if (d->fd < 0)
		ret = open_error(p->path, errno, p->readonly, p->direct);
	else if (!(ret = check_file_type(d->fd, d->path)) &&
		 !(ret = lock_image(d->fd, d->path, d->readonly)))
		ret = open_format(d);
	if (ret) {
		disk_free(d);
		*err = ret;
		return NULL;
	}
	return d;
}

void disk_close(struct disk_image *d)
{
	if (!d)
		return;
	if (d->ops && d->ops->close)
		d->ops->close(d);
	disk_free(d);
}

/* ---- synchronous entry points ---- */

ssize_t disk_iov_length(const struct iovec *iov, int iovcnt)
{
	size_t total = 0;

	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > (size_t)SSIZE_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	return (ssize_t)total;
}

static bool in_range(struct disk_image *d, u64 off, u64 len)
{
	return off <= d->size && len <= d->size - off;
}

static void io_begin(struct disk_image *d)
{
	if (!d->ops->concurrent)
		pthread_mutex_lock(&d->io_lock);
}

static void io_end(struct disk_image *d)
{
	if (!d->ops->concurrent)
		pthread_mutex_unlock(&d->io_lock);
}

ssize_t disk_read(struct disk_image *d, u64 off, const struct iovec *iov, int iovcnt)
{
	ssize_t len = disk_iov_length(iov, iovcnt), ret;

	if (len < 0 || !in_range(d, off, (u64)len))
		return -EINVAL;
	io_begin(d);
	ret = d->ops->read(d, off, iov, iovcnt);
	io_end(d);
	return ret;
}

ssize_t disk_write(struct disk_image *d, u64 off, const struct iovec *iov, int iovcnt)
{
	ssize_t len = disk_iov_length(iov, iovcnt), ret;

	if (d->readonly)
		return -EROFS;
	if (len < 0 || !in_range(d, off, (u64)len))
		return -EINVAL;
	io_begin(d);
	ret = d->ops->write(d, off, iov, iovcnt);
	io_end(d);
	return ret;
}

int disk_flush(struct disk_image *d)
{
	int ret;

	io_begin(d);
	ret = d->ops->flush(d);
	io_end(d);
	return ret;
}

int disk_discard(struct disk_image *d, u64 off, u64 len)
{
	int ret = 0;

	if (d->readonly)
		return -EROFS;
	if (!in_range(d, off, len))
		return -EINVAL;
	if (!d->ops->discard || !len)
		return 0;
	io_begin(d);
	ret = d->ops->discard(d, off, len);
	io_end(d);
	return ret;
}

#define ZERO_CHUNK (1u << 20)

/* For formats without write_zeroes: plain writes from a zeroed buffer. */
static int write_zero_buffers(struct disk_image *d, u64 off, u64 len)
{
	void *zeroes;
	int ret = 0;

	/* Aligned, so an O_DIRECT format can use it without a bounce. */
	if (posix_memalign(&zeroes, 4096, ZERO_CHUNK))
		return -ENOMEM;
	memset(zeroes, 0, ZERO_CHUNK);
	while (len && !ret) {
		struct iovec iov = { zeroes, MIN(len, (u64)ZERO_CHUNK) };
		ssize_t n = d->ops->write(d, off, &iov, 1);

		if (n < 0)
			ret = (int)n;
		else if ((size_t)n != iov.iov_len)
			ret = -EIO;
		off += iov.iov_len;
		len -= iov.iov_len;
	}
	free(zeroes);
	return ret;
}

int disk_write_zeroes(struct disk_image *d, u64 off, u64 len, bool unmap)
{
	int ret;

	if (d->readonly)
		return -EROFS;
	if (!in_range(d, off, len))
		return -EINVAL;
	if (!len)
		return 0;
	io_begin(d);
	if (d->ops->write_zeroes)
		ret = d->ops->write_zeroes(d, off, len, unmap);
	else
		ret = write_zero_buffers(d, off, len);
	io_end(d);
	return ret;
}

/* ---- asynchronous entry points ---- */

void disk_req_run_sync(struct disk_image *d, struct disk_req *req)
{
	ssize_t ret;

	switch (req->type) {
	case DISK_REQ_READ:
		ret = disk_read(d, req->offset, req->iov, req->iovcnt);
		break;
	case DISK_REQ_WRITE:
		ret = disk_write(d, req->offset, req->iov, req->iovcnt);
		break;
	case DISK_REQ_FLUSH:
		ret = disk_flush(d);
		break;
	case DISK_REQ_DISCARD:
		ret = disk_discard(d, req->offset, req->len);
		break;
	case DISK_REQ_WRITE_ZEROES:
		ret = disk_write_zeroes(d, req->offset, req->len, req->unmap);
		break;
	default:
		ret = -EINVAL;
	}
	req->complete(req, ret);
}

static int queue_pending(struct disk_image *d, struct disk_req *req)
{
	int ret = 0;

	pthread_mutex_lock(&d->pending_lock);
	if (d->nr_pending == d->cap_pending) {
		unsigned int cap = d->cap_pending ? 2 * d->cap_pending : 64;
		struct disk_req **p = realloc(d->pending, cap * sizeof(*p));

		if (p) {
			d->pending = p;
			d->cap_pending = cap;
		} else {
			ret = -ENOMEM;
		}
	}
	if (!ret)
		d->pending[d->nr_pending++] = req;
	pthread_mutex_unlock(&d->pending_lock);
	return ret;
}

/* -errno if req may not reach the format at all. */
static int check_req(struct disk_image *d, const struct disk_req *req)
{
	ssize_t len;

	switch (req->type) {
	case DISK_REQ_READ:
	case DISK_REQ_WRITE:
		len = disk_iov_length(req->iov, req->iovcnt);
		if (len < 0 || !in_range(d, req->offset, (u64)len))
			return -EINVAL;
		break;
	case DISK_REQ_DISCARD:
	case DISK_REQ_WRITE_ZEROES:
		if (!in_range(d, req->offset, req->len))
			return -EINVAL;
		break;
	case DISK_REQ_FLUSH:
		return 0;
	default:
		return -EINVAL;
	}
	return req->type != DISK_REQ_READ && d->readonly ? -EROFS : 0;
}

int disk_submit(struct disk_image *d, struct disk_req *req)
{
	int err = check_req(d, req);

	if (err)
		req->complete(req, err);
	else if (d->async && d->ops->submit)
		return d->ops->submit(d, req);
	else if (queue_pending(d, req))
		disk_req_run_sync(d, req);	/* no memory to queue it: do it now */
	return 0;
}

/*
 * Runs what was queued by any thread: with one I/O thread per virtqueue a
 * request may complete on another queue's thread, which complete() allows.
 */
static void run_pending(struct disk_image *d)
{
	struct disk_req **batch;
	unsigned int n;

	pthread_mutex_lock(&d->pending_lock);
	batch = d->pending;
	n = d->nr_pending;
	d->pending = NULL;
	d->nr_pending = d->cap_pending = 0;
	pthread_mutex_unlock(&d->pending_lock);
	for (unsigned int i = 0; i < n; i++)
		disk_req_run_sync(d, batch[i]);
	free(batch);
}

int disk_unplug(struct disk_image *d)
{
	int ret = 0;

	if (d->async && d->ops->unplug)
		ret = d->ops->unplug(d);
	run_pending(d);
	return ret;
}

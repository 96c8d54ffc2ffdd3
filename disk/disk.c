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
#include "lkvm/log.h"
#include "disk/disk-int.h"

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

/* format=NAME: one of the table's names. */
static int parse_format(const char *name, size_t len, struct disk_params *p, const char **why)
{
	char known[64] = "", buf[16];
	size_t used = 0;

	if (len < sizeof(buf)) {
		memcpy(buf, name, len);
		buf[len] = 0;
		p->format = disk_format_find(buf);
		if (p->format)
			return 0;
	}
	for (const struct disk_format *const *f = disk_formats; *f; f++)
		used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s",
					 used ? ", " : "", (*f)->name);
	return bad_spec(why, "unknown format '%.*s' (known: %s)", (int)MIN(len, 64), name, known);
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
		else if (len > 7 && !memcmp(f, "format=", 7)) {
			if (parse_format(f + 7, len - 7, p, why))
				return -EINVAL;
		} else if (len == 0)
			return bad_spec(why, "empty option in '%s'", spec);
		else
			return bad_spec(why, "unknown option '%.*s' (known: format=, ro, direct, sync)",
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

static const char *file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

/*
 * Opened with O_NONBLOCK and O_NOCTTY, so that whatever the path names (an
 * image may name its backing file) the open neither hangs (a FIFO) nor
 * makes a terminal ours; then anything but a regular file or a block
 * device is refused, and the descriptor goes back to blocking I/O.
 */
static int open_image_file(const char *path, int flags, bool readonly, bool direct)
{
	struct stat st;
	int fd = open(path, flags | O_NONBLOCK | O_NOCTTY), fl, err;

	if (fd < 0)
		return open_error(path, errno, readonly, direct);
	if (fstat(fd, &st)) {
		err = open_error(path, errno, readonly, direct);
	} else if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		pr_err("%s: is %s: a disk image must be a regular file or a block device",
		       path, file_kind(st.st_mode));
		err = -EINVAL;
	} else if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK)) {
		err = open_error(path, errno, readonly, direct);
	} else {
		return fd;
	}
	close(fd);
	return err;
}

/* The format whose probe claims the image's first bytes (raw if none). */
static int probe_format(struct disk_image *d, const struct disk_format **fmt)
{
	const struct disk_format *const *f;
	void *buf;
	ssize_t n;

	/* Aligned and a whole page, so the read also works with O_DIRECT. */
	if (posix_memalign(&buf, 4096, 4096))
		return -ENOMEM;
	n = pread(d->fd, buf, 4096, 0);
	if (n < 0) {
		int err = errno;

		pr_err("%s: cannot read the image header: %s", d->path, strerror(err));
		free(buf);
		return -err;
	}
	for (f = disk_formats; (*f)->probe; f++)
		if ((*f)->probe(buf, (size_t)MIN(n, DISK_PROBE_LEN)))
			break;
	free(buf);
	*fmt = *f;
	return 0;
}

static int open_format(struct disk_image *d, const struct disk_format *fmt)
{
	int ret = 0;

	d->probed = !fmt;
	if (!fmt)
		ret = probe_format(d, &fmt);
	if (ret)
		return ret;
	d->guard_head = d->probed && !fmt->probe && !d->readonly;
	return fmt->open(d);
}

static void disk_free(struct disk_image *d)
{
	disk_pool_destroy(d->pool);
	if (d->fd >= 0)
		close(d->fd);
	pthread_mutex_destroy(&d->pending_lock);
	pthread_mutex_destroy(&d->io_lock);
	pthread_mutex_destroy(&d->head_lock);
	free(d->pending);
	free(d->path);
	free(d);
}

/*
 * Helpers for the batch path: one per further host CPU (copies of one
 * batch then run side by side), none on a single CPU where they could
 * only take turns with the caller.
 */
static unsigned int pool_helpers(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	return cpus > 1 ? (unsigned int)MIN(cpus - 1, (long)DISK_POOL_MAX) : 0;
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
	pthread_mutex_init(&d->head_lock, NULL);
	d->readonly = p->readonly;
	d->direct = p->direct;
	d->async = !p->sync;
	d->fd = open_image_file(p->path, flags, p->readonly, p->direct);
	ret = d->fd < 0 ? d->fd : lock_image(d->fd, d->path, d->readonly);
	if (!ret)
		ret = open_format(d, p->format);
	if (ret) {
		disk_free(d);
		*err = ret;
		return NULL;
	}
	if (!d->async && d->ops->concurrent)
		d->pool = disk_pool_create(d, pool_helpers());
	return d;
}

void disk_close(struct disk_image *d)
{
	if (!d)
		return;
	disk_pool_destroy(d->pool);	/* its helpers use the format */
	d->pool = NULL;
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

void disk_iov_copy(const struct iovec *iov, int iovcnt, size_t skip, void *buf, size_t len,
		   bool to_iov)
{
	char *p = buf;

	for (int i = 0; i < iovcnt && len; i++) {
		size_t c;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		c = MIN(iov[i].iov_len - skip, len);
		if (to_iov)
			memcpy((char *)iov[i].iov_base + skip, p, c);
		else
			memcpy(p, (char *)iov[i].iov_base + skip, c);
		p += c;
		len -= c;
		skip = 0;
	}
}

static bool in_range(struct disk_image *d, u64 off, u64 len)
{
	return off <= d->size && len <= d->size - off;
}

/* ---- a probed raw image stays raw ---- */

static bool touches_head(const struct disk_image *d, u64 off, u64 len)
{
	return d->guard_head && len && off < DISK_PROBE_LEN;
}

/*
 * Would the image still probe as raw once [off, off+len) holds the data
 * in iov (NULL: zeros, which is also what a discard may leave)?  0, or
 * -EPERM (reported once per image) if some format would claim it.
 * Called with head_lock held, so no other write to the head can slip in
 * between this check and the write itself.
 */
static int check_head_write(struct disk_image *d, u64 off, u64 len, const struct iovec *iov,
			    int iovcnt)
{
	size_t n = (size_t)MIN(d->size, (u64)DISK_PROBE_LEN), from = (size_t)off;
	size_t to = (size_t)MIN(off + len, (u64)n);
	struct iovec hv;
	u8 *head;
	ssize_t got = 0;
	int ret = 0;

	/* Aligned, so an O_DIRECT image can read into it directly. */
	if (posix_memalign((void **)&head, 4096, 4096))
		return -ENOMEM;
	memset(head, 0, 4096);
	hv = (struct iovec){ head, n };
	if (from > 0 || to < n)
		got = d->ops->read(d, 0, &hv, 1);
	if (got < 0) {
		ret = (int)got;
	} else if (iov) {
		disk_iov_copy(iov, iovcnt, 0, head + from, to - from, false);
	} else {
		memset(head + from, 0, to - from);
	}
	for (const struct disk_format *const *f = disk_formats; !ret && (*f)->probe; f++) {
		if (!(*f)->probe(head, n))
			continue;
		ret = -EPERM;
		if (!__atomic_exchange_n(&d->warned_head, true, __ATOMIC_RELAXED))
			pr_warn("%s: refused a guest write to sector 0 that would make this raw "
				"image look like %s (the format was guessed): give -d %s,format=raw "
				"to allow it", d->path, (*f)->name, d->path);
		else
			pr_debug("%s: refused another write to sector 0", d->path);
	}
	free(head);
	return ret;
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
	bool head;

	if (d->readonly)
		return -EROFS;
	if (len < 0 || !in_range(d, off, (u64)len))
		return -EINVAL;
	head = touches_head(d, off, (u64)len);
	if (head)
		pthread_mutex_lock(&d->head_lock);
	io_begin(d);
	ret = head ? check_head_write(d, off, (u64)len, iov, iovcnt) : 0;
	if (!ret)
		ret = d->ops->write(d, off, iov, iovcnt);
	io_end(d);
	if (head)
		pthread_mutex_unlock(&d->head_lock);
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

#define ZERO_CHUNK (1u << 20)

/*
 * Never written, so every page reads as the kernel's zero page: no
 * memory, no page faults, no set-up per request (the fuzzers spent a
 * quarter of their time zeroing fresh buffers), and page-aligned for
 * O_DIRECT.
 */
static u8 zero_chunk[ZERO_CHUNK] __attribute__((aligned(4096)));

int disk_write_zero_buffers(struct disk_image *d, u64 off, u64 len)
{
	int ret = 0;

	while (len && !ret) {
		struct iovec iov = { zero_chunk, MIN(len, (u64)ZERO_CHUNK) };
		ssize_t n = d->ops->write(d, off, &iov, 1);

		if (n < 0)
			ret = (int)n;
		else if ((size_t)n != iov.iov_len)
			ret = -EIO;
		off += iov.iov_len;
		len -= iov.iov_len;
	}
	return ret;
}

/*
 * Discard and write-zeroes leave zeros (or, for a discard that does
 * nothing, the old bytes, which probed as raw): checked as zeros.
 */
static int zero_range(struct disk_image *d, u64 off, u64 len, bool discard, bool unmap)
{
	bool head = touches_head(d, off, len);
	int ret;

	if (head)
		pthread_mutex_lock(&d->head_lock);
	io_begin(d);
	ret = head ? check_head_write(d, off, len, NULL, 0) : 0;
	if (!ret && discard)
		ret = d->ops->discard(d, off, len);
	else if (!ret && d->ops->write_zeroes)
		ret = d->ops->write_zeroes(d, off, len, unmap);
	else if (!ret)
		ret = disk_write_zero_buffers(d, off, len);
	io_end(d);
	if (head)
		pthread_mutex_unlock(&d->head_lock);
	return ret;
}

int disk_discard(struct disk_image *d, u64 off, u64 len)
{
	if (d->readonly)
		return -EROFS;
	if (!in_range(d, off, len))
		return -EINVAL;
	if (!d->ops->discard || !len)
		return 0;
	return zero_range(d, off, len, true, false);
}

int disk_write_zeroes(struct disk_image *d, u64 off, u64 len, bool unmap)
{
	if (d->readonly)
		return -EROFS;
	if (!in_range(d, off, len))
		return -EINVAL;
	if (!len)
		return 0;
	return zero_range(d, off, len, false, unmap);
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

/* Bytes a request covers (after check_req() accepted it). */
static u64 req_length(const struct disk_req *req)
{
	if (req->type == DISK_REQ_READ || req->type == DISK_REQ_WRITE)
		return (u64)disk_iov_length(req->iov, req->iovcnt);
	return req->len;
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
	else if (req->type != DISK_REQ_READ && req->type != DISK_REQ_FLUSH &&
		 touches_head(d, req->offset, req_length(req)))
		disk_req_run_sync(d, req);	/* checked and written under head_lock */
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
	if (d->pool)
		disk_pool_run(d->pool, batch, n);
	else
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

/*
 * qcow2: access to the image file, the table cache, and the one place
 * that reports a corrupt image.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lkvm/log.h"
#include "disk/qcow2-int.h"

#define QCOW2_MAX_CORRUPT_REPORTS 10

/*
 * A broken image can fail many requests in a row; the first few reports
 * say what is wrong, then the log stays quiet.
 */
int qcow2_corrupt(struct qcow2 *s, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (s->corrupt_reports >= QCOW2_MAX_CORRUPT_REPORTS)
		return -EIO;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_err("qcow2: %s: corrupt image: %s (request failed with EIO; "
	       "check it with qemu-img check)", s->path, msg);
	if (++s->corrupt_reports == QCOW2_MAX_CORRUPT_REPORTS)
		pr_err("qcow2: %s: further corruption reports suppressed", s->path);
	return -EIO;
}

bool qcow2_in_file(const struct qcow2 *s, u64 off, u64 len)
{
	u64 end = ALIGN_UP(s->file_end, s->cluster_size);

	return off < s->file_end && len <= end - off;
}

static void note_write(struct qcow2 *s, u64 off, size_t len)
{
	if (off + len > s->file_end)
		s->file_end = off + len;
}

/* Reads past the end of the file (a short last cluster) give zeros. */
int qcow2_pread(struct qcow2 *s, void *buf, size_t len, u64 off)
{
	u8 *p = buf;

	while (len) {
		ssize_t n = pread(s->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			memset(p, 0, len);
			return 0;
		}
		p += n;
		off += (u64)n;
		len -= (size_t)n;
	}
	return 0;
}

int qcow2_pwrite(struct qcow2 *s, const void *buf, size_t len, u64 off)
{
	const u8 *p = buf;
	u64 start = off;
	size_t total = len;

	while (len) {
		ssize_t n = pwrite(s->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		off += (u64)n;
		len -= (size_t)n;
	}
	note_write(s, start, total);
	return 0;
}

/* Advance an iovec array by n bytes, in place on a private copy. */
static int iov_advance(struct iovec *iov, int cnt, size_t n)
{
	int i = 0;

	while (i < cnt && n >= iov[i].iov_len) {
		n -= iov[i].iov_len;
		i++;
	}
	if (i < cnt) {
		iov[i].iov_base = (u8 *)iov[i].iov_base + n;
		iov[i].iov_len -= n;
	}
	return i;
}

/*
 * iov is the caller's scratch copy covering exactly len bytes; it is
 * consumed.  Past the end of the file reads give zeros.
 */
int qcow2_preadv(struct qcow2 *s, const struct iovec *iov, int cnt, size_t len, u64 off)
{
	struct iovec *v = (struct iovec *)iov;
	int i = 0;

	while (len) {
		ssize_t n = preadv(s->fd, v + i, MIN(cnt - i, IOV_MAX), (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			for (; i < cnt; i++)
				memset(v[i].iov_base, 0, v[i].iov_len);
			return 0;
		}
		off += (u64)n;
		len -= (size_t)n;
		i += iov_advance(v + i, cnt - i, (size_t)n);
	}
	return 0;
}

int qcow2_pwritev(struct qcow2 *s, const struct iovec *iov, int cnt, size_t len, u64 off)
{
	struct iovec *v = (struct iovec *)iov;
	u64 start = off;
	size_t total = len;
	int i = 0;

	while (len) {
		ssize_t n = pwritev(s->fd, v + i, MIN(cnt - i, IOV_MAX), (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		off += (u64)n;
		len -= (size_t)n;
		i += iov_advance(v + i, cnt - i, (size_t)n);
	}
	note_write(s, start, total);
	return 0;
}

/* ---- table cache ---- */

int qcow2_cache_init(struct qcow2_cache *c, unsigned int nr)
{
	c->slots = calloc(nr, sizeof(*c->slots));
	if (!c->slots)
		return -ENOMEM;
	c->nr = nr;
	c->clock = 0;
	return 0;
}

void qcow2_cache_free(struct qcow2_cache *c)
{
	for (unsigned int i = 0; c->slots && i < c->nr; i++)
		free(c->slots[i].buf);
	free(c->slots);
	c->slots = NULL;
	c->nr = 0;
}

static struct qcow2_cache_slot *cache_find(struct qcow2_cache *c, u64 off)
{
	for (unsigned int i = 0; i < c->nr; i++)
		if (c->slots[i].offset == off)
			return &c->slots[i];
	return NULL;
}

static struct qcow2_cache_slot *cache_victim(struct qcow2_cache *c)
{
	struct qcow2_cache_slot *v = &c->slots[0];

	for (unsigned int i = 1; i < c->nr; i++)
		if (c->slots[i].last_use < v->last_use)
			v = &c->slots[i];
	return v;
}

/* Write-through: every slot equals the file, so eviction is just reuse. */
int qcow2_cache_get(struct qcow2 *s, struct qcow2_cache *c, u64 off, bool fresh, u8 **buf)
{
	struct qcow2_cache_slot *slot = cache_find(c, off);
	int ret;

	if (!slot) {
		slot = cache_victim(c);
		slot->offset = 0;
		if (!slot->buf && !(slot->buf = malloc(s->cluster_size)))
			return -ENOMEM;
		if (fresh) {
			memset(slot->buf, 0, s->cluster_size);
		} else {
			ret = qcow2_pread(s, slot->buf, s->cluster_size, off);
			if (ret)
				return ret;
		}
		slot->offset = off;
	} else if (fresh) {
		memset(slot->buf, 0, s->cluster_size);
	}
	slot->last_use = ++c->clock;
	*buf = slot->buf;
	return 0;
}

void qcow2_cache_drop(struct qcow2_cache *c, u64 off)
{
	struct qcow2_cache_slot *slot = cache_find(c, off);

	if (slot)
		slot->offset = 0;
}

/*
 * qcow2 requests: reads, writes (with copy-on-write and cluster
 * allocation), flush, discard and write-zeroes.  A request is split at
 * guest cluster boundaries; each piece is handled under the image lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "disk/disk-int.h"
#include "disk/qcow2-int.h"

/* ---- walking the caller's iovec array ---- */

struct iov_cursor {
	const struct iovec *iov;
	int cnt;
	int i;
	size_t off;		/* into iov[i] */
};

/* The next len bytes as s->slice[0..n); the cursor moves past them. */
static int cursor_slice(struct qcow2 *s, struct iov_cursor *c, size_t len)
{
	int n = 0;

	while (len && c->i < c->cnt) {
		size_t avail = c->iov[c->i].iov_len - c->off, take = MIN(avail, len);

		if (take) {
			s->slice[n].iov_base = (u8 *)c->iov[c->i].iov_base + c->off;
			s->slice[n].iov_len = take;
			n++;
		}
		len -= take;
		c->off += take;
		if (c->off == c->iov[c->i].iov_len) {
			c->i++;
			c->off = 0;
		}
	}
	return n;
}

static void cursor_copy_out(struct qcow2 *s, struct iov_cursor *c, u8 *buf, size_t len)
{
	int n = cursor_slice(s, c, len);

	for (int i = 0; i < n; i++) {
		memcpy(buf, s->slice[i].iov_base, s->slice[i].iov_len);
		buf += s->slice[i].iov_len;
	}
}

/* buf == NULL: zeros */
static void cursor_copy_in(struct qcow2 *s, struct iov_cursor *c, const u8 *buf, size_t len)
{
	int n = cursor_slice(s, c, len);

	for (int i = 0; i < n; i++) {
		if (buf) {
			memcpy(s->slice[i].iov_base, buf, s->slice[i].iov_len);
			buf += s->slice[i].iov_len;
		} else {
			memset(s->slice[i].iov_base, 0, s->slice[i].iov_len);
		}
	}
}

static int reserve_slices(struct qcow2 *s, int iovcnt)
{
	struct iovec *v;

	if (iovcnt <= s->slice_cap)
		return 0;
	v = realloc(s->slice, (size_t)iovcnt * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->slice = v;
	s->slice_cap = iovcnt;
	return 0;
}

/* ---- reads ---- */

/* How much of [pos, pos+n) the backing file has; the rest reads as zeros. */
static u64 backing_part(struct qcow2 *s, u64 pos, u64 n)
{
	u64 bsize = s->backing ? s->backing->size : 0;

	return pos < bsize ? MIN(n, bsize - pos) : 0;
}

static int backing_read(struct qcow2 *s, u64 pos, const struct iovec *iov, int cnt, u64 n)
{
	ssize_t r = disk_read(s->backing, pos, iov, cnt);

	if (r < 0)
		return (int)r;
	return (u64)r == n ? 0 : -EIO;
}

static int read_unallocated(struct qcow2 *s, u64 pos, size_t n, struct iov_cursor *c)
{
	u64 inb = backing_part(s, pos, n);
	int ret = 0;

	if (inb) {
		int k = cursor_slice(s, c, inb);

		ret = backing_read(s, pos, s->slice, k, inb);
	}
	cursor_copy_in(s, c, NULL, n - inb);
	return ret;
}

static int read_piece(struct qcow2 *s, u64 pos, size_t n, struct iov_cursor *c)
{
	u64 in = pos & (s->cluster_size - 1);
	struct qcow2_map m;
	const u8 *data;
	int ret = qcow2_lookup(s, qcow2_cluster_of(s, pos), &m), k;

	if (ret)
		return ret;
	switch (m.type) {
	case QCOW2_UNALLOCATED:
		return read_unallocated(s, pos, n, c);
	case QCOW2_ZERO:
		cursor_copy_in(s, c, NULL, n);
		return 0;
	case QCOW2_NORMAL:
		k = cursor_slice(s, c, n);
		return qcow2_preadv(s, s->slice, k, n, m.host + in);
	case QCOW2_COMPRESSED:
		ret = qcow2_decompress(s, &m, &data);
		if (!ret)
			cursor_copy_in(s, c, data + in, n);
		return ret;
	}
	return -EIO;
}

typedef int (*piece_fn)(struct qcow2 *s, u64 pos, size_t n, struct iov_cursor *c);

/* Run fn on each cluster-sized piece of [off, off+len), under the lock. */
static ssize_t for_each_piece(struct disk_image *d, u64 off, const struct iovec *iov,
			      int iovcnt, piece_fn fn)
{
	struct qcow2 *s = d->priv;
	struct iov_cursor c = { .iov = iov, .cnt = iovcnt };
	ssize_t len = disk_iov_length(iov, iovcnt);
	u64 done = 0;
	int ret;

	if (len < 0 || off > d->size || (u64)len > d->size - off)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	ret = reserve_slices(s, iovcnt);
	while (!ret && done < (u64)len) {
		u64 pos = off + done;
		size_t n = MIN(s->cluster_size - (pos & (s->cluster_size - 1)), (u64)len - done);

		ret = fn(s, pos, n, &c);
		done += n;
	}
	pthread_mutex_unlock(&s->lock);
	return ret ? ret : len;
}

ssize_t qcow2_read(struct disk_image *d, u64 off, const struct iovec *iov, int iovcnt)
{
	return for_each_piece(d, off, iov, iovcnt, read_piece);
}

/* ---- writes ---- */

/* The whole current content of guest cluster g, for copy-on-write. */
static int cluster_content(struct qcow2 *s, const struct qcow2_map *m, u64 g, u8 *buf)
{
	u64 pos = g << s->cluster_bits, inb;
	const u8 *data;
	struct iovec v;
	int ret = 0;

	switch (m->type) {
	case QCOW2_UNALLOCATED:
		inb = backing_part(s, pos, s->cluster_size);
		v = (struct iovec){ buf, inb };
		if (inb)
			ret = backing_read(s, pos, &v, 1, inb);
		memset(buf + inb, 0, s->cluster_size - inb);
		return ret;
	case QCOW2_ZERO:
		memset(buf, 0, s->cluster_size);
		return 0;
	case QCOW2_NORMAL:
		return qcow2_pread(s, buf, s->cluster_size, m->host);
	case QCOW2_COMPRESSED:
		ret = qcow2_decompress(s, m, &data);
		if (!ret)
			memcpy(buf, data, s->cluster_size);
		return ret;
	}
	return -EIO;
}

/* A cluster without COPIED may still be ours alone: then just say so. */
static int claim_if_exclusive(struct qcow2 *s, struct qcow2_map *m)
{
	u64 rc;
	int ret = qcow2_refcount_get(s, qcow2_cluster_of(s, m->host), &rc);

	if (ret)
		return ret;
	if (rc == 0)
		return qcow2_corrupt(s, "cluster at 0x%llx is in use but has refcount 0",
				     (unsigned long long)m->host);
	if (rc > 1)
		return 0;
	m->entry |= QCOW2_L2_COPIED;
	m->copied = true;
	return qcow2_set_l2_entry(s, m, m->entry);
}

/*
 * Give guest cluster g a cluster of its own holding its old content with
 * [in, in+n) replaced from the cursor (buf: NULL = zeros), then drop the
 * old reference.  Order: data, refcount, L2 entry, release.
 */
static int write_new_cluster(struct qcow2 *s, struct qcow2_map *m, u64 g, u64 in,
			     size_t n, struct iov_cursor *c)
{
	bool reuse = m->type == QCOW2_ZERO && m->host && m->copied;
	bool whole = n == s->cluster_size;
	u64 host = m->host;
	int ret = 0, k;

	if (!whole)
		ret = cluster_content(s, m, g, s->cluster_buf);
	if (!ret && !reuse)
		ret = qcow2_alloc_cluster(s, &host);
	if (ret)
		return ret;
	if (whole) {
		k = cursor_slice(s, c, n);
		ret = qcow2_pwritev(s, s->slice, k, n, host);
	} else {
		cursor_copy_out(s, c, s->cluster_buf + in, n);
		ret = qcow2_pwrite(s, s->cluster_buf, s->cluster_size, host);
	}
	if (!ret && !reuse)
		ret = qcow2_refcount_update(s, qcow2_cluster_of(s, host), +1, NULL);
	if (!ret)
		ret = qcow2_set_l2_entry(s, m, host | QCOW2_L2_COPIED);
	if (!ret && !reuse)
		ret = qcow2_release(s, m, NULL);
	return ret;
}

static int write_piece(struct qcow2 *s, u64 pos, size_t n, struct iov_cursor *c)
{
	u64 g = qcow2_cluster_of(s, pos), in = pos & (s->cluster_size - 1);
	struct qcow2_map m;
	int ret = qcow2_lookup_for_write(s, g, &m), k;

	if (!ret && m.host && !m.copied && m.type != QCOW2_COMPRESSED)
		ret = claim_if_exclusive(s, &m);
	if (ret)
		return ret;
	if (m.type == QCOW2_NORMAL && m.copied) {
		k = cursor_slice(s, c, n);
		return qcow2_pwritev(s, s->slice, k, n, m.host + in);
	}
	return write_new_cluster(s, &m, g, in, n, c);
}

ssize_t qcow2_write(struct disk_image *d, u64 off, const struct iovec *iov, int iovcnt)
{
	if (((struct qcow2 *)d->priv)->readonly)
		return -EROFS;
	return for_each_piece(d, off, iov, iovcnt, write_piece);
}

int qcow2_flush(struct disk_image *d)
{
	struct qcow2 *s = d->priv;
	int ret = 0;

	if (s->readonly)
		return 0;
	pthread_mutex_lock(&s->lock);
	/* Metadata is written through: only the file needs syncing. */
	if (fdatasync(s->fd))
		ret = -errno;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* ---- discard and write-zeroes ---- */

enum zero_mode {
	ZERO_KEEP,		/* write-zeroes, keep the allocation */
	ZERO_UNMAP,		/* write-zeroes, may deallocate */
	ZERO_DISCARD,		/* discard: content undefined afterwards */
};

/*
 * The L2 entry that makes a whole cluster read as zeros (or, for a
 * discard, no longer hold data): unallocated where nothing shows through,
 * the v3 zero flag over a backing file.  false: no entry can do it.
 */
static bool zero_entry(struct qcow2 *s, const struct qcow2_map *m, enum zero_mode mode,
		       u64 *entry)
{
	if (mode == ZERO_KEEP && s->version >= 3 && m->type == QCOW2_NORMAL && m->copied)
		*entry = m->host | QCOW2_L2_COPIED | QCOW2_L2_ZERO;
	else if (!s->backing)
		*entry = 0;
	else if (s->version >= 3)
		*entry = QCOW2_L2_ZERO;
	else
		return false;
	return true;
}

static void punch_hole(struct qcow2 *s, u64 host)
{
	/* Giving the space back is best effort. */
	if (fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)host, (off_t)s->cluster_size))
		return;
}

/* A cursor over n bytes of zeros (n <= cluster size). */
static struct iov_cursor zero_cursor(struct qcow2 *s, struct iovec *v, size_t n)
{
	*v = (struct iovec){ s->zero_buf, n };
	return (struct iov_cursor){ .iov = v, .cnt = 1 };
}

static int zero_cluster(struct qcow2 *s, u64 g, enum zero_mode mode)
{
	struct qcow2_map m;
	struct iovec v;
	struct iov_cursor zc;
	u64 entry, rc;
	int ret = qcow2_lookup(s, g, &m);

	if (ret)
		return ret;
	/* Already reads as zeros / nothing to give back: leave L2 alone. */
	if ((m.type == QCOW2_UNALLOCATED && !s->backing) ||
	    (m.type == QCOW2_ZERO && (!m.host || mode == ZERO_KEEP)) ||
	    (mode == ZERO_DISCARD && !zero_entry(s, &m, mode, &entry)))
		return 0;
	ret = qcow2_lookup_for_write(s, g, &m);
	if (ret)
		return ret;
	if (!zero_entry(s, &m, mode, &entry)) {
		/* Version 2 over a backing file: only real zeros hide it. */
		zc = zero_cursor(s, &v, s->cluster_size);
		return write_new_cluster(s, &m, g, 0, s->cluster_size, &zc);
	}
	if (entry == m.entry)
		return 0;
	ret = qcow2_set_l2_entry(s, &m, entry);
	if (ret || (entry & QCOW2_OFFSET_MASK))
		return ret;
	ret = qcow2_release(s, &m, &rc);
	if (!ret && rc == 0 && m.type != QCOW2_COMPRESSED && mode != ZERO_KEEP)
		punch_hole(s, m.host);
	return ret;
}

static int zero_piece(struct qcow2 *s, u64 pos, size_t n, enum zero_mode mode)
{
	struct iovec v;
	struct iov_cursor zc;

	if (n == s->cluster_size)
		return zero_cluster(s, qcow2_cluster_of(s, pos), mode);
	if (mode == ZERO_DISCARD)
		return 0;
	/* Part of a cluster: an ordinary write of zeros. */
	zc = zero_cursor(s, &v, n);
	return write_piece(s, pos, n, &zc);
}

static int discard_piece(struct qcow2 *s, u64 pos, size_t n, struct iov_cursor *c)
{
	return zero_piece(s, pos, n, ZERO_DISCARD);
}

static int zero_keep_piece(struct qcow2 *s, u64 pos, size_t n, struct iov_cursor *c)
{
	return zero_piece(s, pos, n, ZERO_KEEP);
}

static int zero_unmap_piece(struct qcow2 *s, u64 pos, size_t n, struct iov_cursor *c)
{
	return zero_piece(s, pos, n, ZERO_UNMAP);
}

/* Ranges, not buffers: walk them as an iovec of no memory. */
static int zero_range(struct disk_image *d, u64 off, u64 len, piece_fn fn)
{
	struct qcow2 *s = d->priv;
	u64 done = 0;
	int ret = 0;

	if (s->readonly)
		return -EROFS;
	if (off > d->size || len > d->size - off)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	ret = reserve_slices(s, 1);
	while (!ret && done < len) {
		u64 pos = off + done;
		size_t n = MIN(s->cluster_size - (pos & (s->cluster_size - 1)), len - done);

		ret = fn(s, pos, n, NULL);
		done += n;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int qcow2_discard(struct disk_image *d, u64 off, u64 len)
{
	return zero_range(d, off, len, discard_piece);
}

int qcow2_write_zeroes(struct disk_image *d, u64 off, u64 len, bool unmap)
{
	return zero_range(d, off, len, unmap ? zero_unmap_piece : zero_keep_piece);
}

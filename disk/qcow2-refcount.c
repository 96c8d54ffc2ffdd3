/*
 * qcow2 host cluster management: refcount lookup and update, finding free
 * clusters, creating refcount blocks and moving the refcount table when
 * the file outgrows it.
 *
 * A refcount block is always placed inside the range of clusters it
 * describes (all of which are free when it is missing), so it can count
 * itself; a new refcount table is placed past everything in use together
 * with the blocks that describe it.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lkvm/log.h"
#include "disk/qcow2-int.h"

/* In-memory refcount table limit (QEMU's is 8 MiB). */
#define QCOW2_MAX_RT_BYTES	(32ull << 20)
/* Host offsets must stay below 2^56 (L2 entries have 47 offset bits). */
#define QCOW2_MAX_HOST_OFFSET	(1ull << 56)

static u64 rb_entries(const struct qcow2 *s)
{
	return 1ull << s->rb_bits;
}

static u64 max_clusters(const struct qcow2 *s)
{
	return QCOW2_MAX_HOST_OFFSET >> s->cluster_bits;
}

static u64 rb_get(const struct qcow2 *s, const u8 *b, u64 i)
{
	u32 bits = 1u << s->refcount_order;

	switch (s->refcount_order) {
	case 3:
		return b[i];
	case 4:
		return be16toh(*(const u16 *)(b + 2 * i));
	case 5:
		return be32toh(*(const u32 *)(b + 4 * i));
	case 6:
		return be64toh(*(const u64 *)(b + 8 * i));
	default:	/* sub-byte: bit 0 is the least significant bit */
		return (b[i * bits / 8] >> (i * bits % 8)) & ((1u << bits) - 1);
	}
}

/* Store v and say which bytes of the block changed. */
static void rb_set(const struct qcow2 *s, u8 *b, u64 i, u64 v, u64 *at, u32 *len)
{
	u32 bits = 1u << s->refcount_order;

	switch (s->refcount_order) {
	case 3:
		b[i] = (u8)v;
		break;
	case 4:
		*(u16 *)(b + 2 * i) = htobe16((u16)v);
		break;
	case 5:
		*(u32 *)(b + 4 * i) = htobe32((u32)v);
		break;
	case 6:
		*(u64 *)(b + 8 * i) = htobe64(v);
		break;
	default: {
		u32 shift = i * bits % 8, mask = ((1u << bits) - 1) << shift;
		u8 *p = &b[i * bits / 8];

		*p = (u8)((*p & ~mask) | ((v << shift) & mask));
		*at = i * bits / 8;
		*len = 1;
		return;
	}
	}
	*at = i * bits / 8;
	*len = bits / 8;
}

static bool block_missing(const struct qcow2 *s, u64 rti)
{
	return rti >= s->rt_entries || !s->rt[rti];
}

static int get_refblock(struct qcow2 *s, u64 rti, u8 **buf)
{
	u64 off = s->rt[rti];

	if ((off & QCOW2_RT_RESERVED) || (off & (s->cluster_size - 1)) ||
	    !qcow2_in_file(s, off, s->cluster_size))
		return qcow2_corrupt(s, "refcount table entry %llu (0x%llx) is invalid",
				     (unsigned long long)rti, (unsigned long long)off);
	return qcow2_cache_get(s, &s->rb_cache, off, false, buf);
}

/* Header, L1 and refcount table: never handed out, whatever refcounts say. */
static bool fixed_metadata(const struct qcow2 *s, u64 c)
{
	u64 cs = s->cluster_size, off = c << s->cluster_bits;

	if (c == 0)
		return true;
	if (s->l1_size && off + cs > s->l1_offset &&
	    off < s->l1_offset + (u64)s->l1_size * 8)
		return true;
	return off + cs > s->rt_offset &&
	       off < s->rt_offset + ((u64)s->rt_clusters << s->cluster_bits);
}

int qcow2_refcount_get(struct qcow2 *s, u64 cluster, u64 *rc)
{
	u64 rti = cluster >> s->rb_bits;
	u8 *b;
	int ret;

	*rc = 0;
	if (block_missing(s, rti))
		return 0;
	ret = get_refblock(s, rti, &b);
	if (ret)
		return ret;
	*rc = rb_get(s, b, cluster & (rb_entries(s) - 1));
	return 0;
}

static int write_rt_entry(struct qcow2 *s, u64 rti)
{
	u64 be = htobe64(s->rt[rti]);

	return qcow2_pwrite(s, &be, sizeof(be), s->rt_offset + rti * 8);
}

/* The first cluster past the file and past every cluster handed out. */
static u64 used_end(const struct qcow2 *s)
{
	return MAX(s->alloc_end, (s->file_end + s->cluster_size - 1) >> s->cluster_bits);
}

static void note_allocated(struct qcow2 *s, u64 c)
{
	if (c + 1 > s->alloc_end)
		s->alloc_end = c + 1;
}

/*
 * Create the missing refcount block for table index rti inside its own
 * range, skipping `avoid` (a cluster in use whose refcount is being set).
 */
static int new_refblock(struct qcow2 *s, u64 rti, u64 avoid)
{
	u64 first = rti << s->rb_bits, b, off;
	u64 at;
	u32 len;
	u8 *buf;
	int ret;

	for (b = first; b < first + rb_entries(s); b++)
		if (b != avoid && !fixed_metadata(s, b))
			break;
	if (b == first + rb_entries(s) || b >= max_clusters(s))
		return -ENOSPC;
	off = b << s->cluster_bits;
	ret = qcow2_cache_get(s, &s->rb_cache, off, true, &buf);
	if (ret)
		return ret;
	rb_set(s, buf, b - first, 1, &at, &len);
	ret = qcow2_pwrite(s, buf, s->cluster_size, off);
	if (ret) {
		qcow2_cache_drop(&s->rb_cache, off);
		return ret;
	}
	note_allocated(s, b);
	s->rt[rti] = off;
	ret = write_rt_entry(s, rti);
	if (ret)
		s->rt[rti] = 0;
	return ret;
}

/* ---- moving the refcount table ---- */

static u64 missing_blocks(const struct qcow2 *s, u64 first, u64 end)
{
	u64 n = 0;

	for (u64 r = first >> s->rb_bits; r <= (end - 1) >> s->rb_bits; r++)
		n += block_missing(s, r);
	return n;
}

/*
 * Count the clusters [first, end) (the new table and its blocks) in the
 * blocks that new_rt points to: fresh ones are built here and written
 * whole, existing ones are updated in place.
 */
static int count_new_area(struct qcow2 *s, const u64 *new_rt, u64 first, u64 end, u8 *tmp)
{
	u64 mask = rb_entries(s) - 1, at;
	u32 len;
	int ret;

	for (u64 r = first >> s->rb_bits; r <= (end - 1) >> s->rb_bits; r++) {
		u64 lo = MAX(first, r << s->rb_bits), hi = MIN(end, (r + 1) << s->rb_bits);
		bool fresh = block_missing(s, r);
		u8 *b = tmp;

		if (fresh) {
			memset(tmp, 0, s->cluster_size);
		} else {
			ret = get_refblock(s, r, &b);
			if (ret)
				return ret;
		}
		for (u64 c = lo; c < hi; c++) {
			u64 v = rb_get(s, b, c & mask);

			if (v == s->refcount_max)
				return qcow2_corrupt(s, "refcount overflow at cluster %llu",
						     (unsigned long long)c);
			rb_set(s, b, c & mask, v + 1, &at, &len);
			if (!fresh) {
				ret = qcow2_pwrite(s, b + at, len, new_rt[r] + at);
				if (ret)
					return ret;
			}
		}
		if (fresh) {
			ret = qcow2_pwrite(s, tmp, s->cluster_size, new_rt[r]);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int write_table(struct qcow2 *s, const u64 *rt, u64 entries, u64 off)
{
	u64 *be = malloc(entries * 8);
	int ret;

	if (!be)
		return -ENOMEM;
	for (u64 i = 0; i < entries; i++)
		be[i] = htobe64(rt[i]);
	ret = qcow2_pwrite(s, be, entries * 8, off);
	free(be);
	return ret;
}

/* Point the header at the new table: one 12-byte write. */
static int switch_header(struct qcow2 *s, u64 off, u32 clusters)
{
	u8 hdr[12];
	u64 o = htobe64(off);
	u32 n = htobe32(clusters);
	int ret;

	memcpy(hdr, &o, 8);
	memcpy(hdr + 8, &n, 4);
	if (fdatasync(s->fd))
		return -errno;
	ret = qcow2_pwrite(s, hdr, sizeof(hdr), QCOW2_HDR_RT_OFFSET);
	if (!ret && fdatasync(s->fd))
		ret = -errno;
	return ret;
}

/*
 * Sizes for a table of at least `want` entries placed at cluster p after
 * the nb blocks it needs: grow both until they describe themselves.
 */
static void size_new_table(struct qcow2 *s, u64 p, u64 want, u64 *nb, u64 *nt)
{
	u64 per = s->cluster_size / 8, pnb, pnt, end, entries;

	*nb = *nt = 0;
	do {
		pnb = *nb;
		pnt = *nt;
		end = p + *nb + *nt;
		entries = MAX(want, end ? ((end - 1) >> s->rb_bits) + 1 : 0);
		*nt = (entries + per - 1) / per;
		*nb = missing_blocks(s, p, p + *nb + *nt);
	} while (*nb != pnb || *nt != pnt);
}

static int grow_refcount_table(struct qcow2 *s, u64 min_entries)
{
	u64 cs = s->cluster_size, per = cs / 8;
	u64 p = used_end(s);
	u64 want = MAX(min_entries, MIN(2 * s->rt_entries, QCOW2_MAX_RT_BYTES / 8)), nb, nt, end;
	u64 entries, b;
	u64 old_off = s->rt_offset, old_len = (u64)s->rt_clusters << s->cluster_bits;
	u64 *rt;
	u8 *tmp;
	int ret;

	size_new_table(s, p, want, &nb, &nt);
	entries = nt * per;
	end = p + nb + nt;
	if (entries * 8 > QCOW2_MAX_RT_BYTES || end > max_clusters(s)) {
		pr_err("qcow2: %s: image too large: the refcount table would exceed %llu MiB",
		       s->path, QCOW2_MAX_RT_BYTES >> 20);
		return -ENOSPC;
	}
	rt = calloc(entries, 8);
	tmp = malloc(cs);
	ret = -ENOMEM;
	if (!rt || !tmp)
		goto out;
	memcpy(rt, s->rt, s->rt_entries * 8);
	b = p;
	for (u64 r = p >> s->rb_bits; r <= (end - 1) >> s->rb_bits; r++)
		if (block_missing(s, r))
			rt[r] = (b++) << s->cluster_bits;
	ret = count_new_area(s, rt, p, end, tmp);
	if (!ret)
		ret = write_table(s, rt, entries, (p + nb) << s->cluster_bits);
	if (!ret)
		ret = switch_header(s, (p + nb) << s->cluster_bits, (u32)nt);
	if (ret)
		goto out;
	free(s->rt);
	s->rt = rt;
	rt = NULL;
	s->rt_entries = entries;
	s->rt_offset = (p + nb) << s->cluster_bits;
	s->rt_clusters = (u32)nt;
	note_allocated(s, end - 1);
	ret = qcow2_refcount_update_range(s, old_off, old_len, -1);
out:
	free(rt);
	free(tmp);
	return ret;
}

/* ---- updates and allocation ---- */

static void cluster_freed(struct qcow2 *s, u64 c)
{
	u64 off = c << s->cluster_bits;

	if (c < s->free_hint)
		s->free_hint = c;
	qcow2_cache_drop(&s->l2_cache, off);
	qcow2_cache_drop(&s->rb_cache, off);
	s->cout_entry = 0;
}

int qcow2_refcount_update(struct qcow2 *s, u64 c, int delta, u64 *newrc)
{
	u64 rti = c >> s->rb_bits, idx = c & (rb_entries(s) - 1), v, at;
	u32 len;
	u8 *b;
	int ret;

	if (c >= max_clusters(s))
		return qcow2_corrupt(s, "cluster %llu is beyond the largest host offset",
				     (unsigned long long)c);
	if (block_missing(s, rti)) {
		if (delta < 0)
			return qcow2_corrupt(s, "freeing cluster %llu, which has no refcount",
					     (unsigned long long)c);
		if (rti >= s->rt_entries) {
			ret = grow_refcount_table(s, rti + 1);
			if (ret)
				return ret;
		}
		if (!s->rt[rti]) {
			ret = new_refblock(s, rti, c);
			if (ret)
				return ret;
		}
	}
	ret = get_refblock(s, rti, &b);
	if (ret)
		return ret;
	v = rb_get(s, b, idx);
	if (delta < 0 && v == 0)
		return qcow2_corrupt(s, "refcount of cluster %llu would drop below zero",
				     (unsigned long long)c);
	if (delta > 0 && v == s->refcount_max)
		return qcow2_corrupt(s, "refcount of cluster %llu overflows",
				     (unsigned long long)c);
	v = delta > 0 ? v + 1 : v - 1;
	rb_set(s, b, idx, v, &at, &len);
	ret = qcow2_pwrite(s, b + at, len, s->rt[rti] + at);
	if (ret) {
		qcow2_cache_drop(&s->rb_cache, s->rt[rti]);
		return ret;
	}
	if (delta > 0)
		note_allocated(s, c);
	else if (v == 0)
		cluster_freed(s, c);
	if (newrc)
		*newrc = v;
	return 0;
}

int qcow2_refcount_update_range(struct qcow2 *s, u64 off, u64 len, int delta)
{
	if (!len)
		return 0;
	for (u64 c = off >> s->cluster_bits; c <= (off + len - 1) >> s->cluster_bits; c++) {
		int ret = qcow2_refcount_update(s, c, delta, NULL);

		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Free clusters are looked for from the free hint up to the end of what
 * is in use (the file, and clusters handed out); past that every cluster
 * is free, so the search is bounded by the file's size however the
 * refcounts read.  A refcount that claims a cluster past the end is a
 * corrupt image.
 */
int qcow2_alloc_cluster(struct qcow2 *s, u64 *offset)
{
	u64 mask = rb_entries(s) - 1, c = s->free_hint, end = MIN(used_end(s), max_clusters(s));
	u64 rc;
	u8 *b;
	int ret;

	while (c < end) {
		u64 rti = c >> s->rb_bits;

		if (fixed_metadata(s, c)) {
			c++;
			continue;
		}
		if (block_missing(s, rti))
			goto found;
		ret = get_refblock(s, rti, &b);
		if (ret)
			return ret;
		do {
			if (!fixed_metadata(s, c) && rb_get(s, b, c & mask) == 0)
				goto found;
		} while (++c < end && (c & mask));
	}
	c = MAX(c, end);
	if (c >= max_clusters(s)) {
		pr_err("qcow2: %s: no free host cluster below 64 PiB", s->path);
		return -ENOSPC;
	}
	ret = qcow2_refcount_get(s, c, &rc);
	if (ret)
		return ret;
	if (rc)
		return qcow2_corrupt(s, "cluster %llu, past the end of the file, has refcount %llu",
				     (unsigned long long)c, (unsigned long long)rc);
found:
	/* The caller takes the reference before the next allocation. */
	s->free_hint = c;
	note_allocated(s, c);
	*offset = c << s->cluster_bits;
	return 0;
}

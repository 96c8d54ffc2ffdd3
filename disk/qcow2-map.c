/*
 * qcow2 guest-to-host mapping: L1 -> L2 -> cluster.  Every entry read
 * from the image is checked (reserved bits, alignment, inside the file)
 * before it is used; a bad one fails the request with -EIO.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include "disk/qcow2-int.h"

static int l2_table_of(struct qcow2 *s, u64 l1i, u64 *l2off)
{
	u64 e = s->l1[l1i], off = e & QCOW2_OFFSET_MASK;

	*l2off = 0;
	if (e & QCOW2_L1_RESERVED)
		return qcow2_corrupt(s, "L1 entry %llu (0x%llx) has reserved bits set",
				     (unsigned long long)l1i, (unsigned long long)e);
	if (!off)
		return 0;
	if ((off & (s->cluster_size - 1)) || !qcow2_in_file(s, off, s->cluster_size))
		return qcow2_corrupt(s, "L1 entry %llu points to 0x%llx, %s",
				     (unsigned long long)l1i, (unsigned long long)off,
				     off & (s->cluster_size - 1) ? "not cluster aligned"
								 : "past the end of the file");
	*l2off = off;
	return 0;
}

static int decode_compressed(struct qcow2 *s, u64 e, struct qcow2_map *m)
{
	u64 sectors = ((e >> s->csize_shift) & s->csize_mask) + 1;

	m->type = QCOW2_COMPRESSED;
	m->host = e & s->coffset_mask;
	m->csize = sectors * QCOW2_COMPRESSED_SECTOR - (m->host % QCOW2_COMPRESSED_SECTOR);
	if (e & QCOW2_L2_COPIED)
		return qcow2_corrupt(s, "compressed L2 entry 0x%llx has the COPIED flag",
				     (unsigned long long)e);
	if (m->host >= s->file_end)
		return qcow2_corrupt(s, "compressed cluster at 0x%llx is past the end of the file",
				     (unsigned long long)m->host);
	return 0;
}

static int decode_l2(struct qcow2 *s, u64 e, struct qcow2_map *m)
{
	u64 host = e & QCOW2_OFFSET_MASK;

	m->entry = e;
	m->copied = e & QCOW2_L2_COPIED;
	m->host = 0;
	m->csize = 0;
	if (e & QCOW2_L2_COMPRESSED)
		return decode_compressed(s, e, m);
	if ((e & QCOW2_L2_RESERVED) || (host & (s->cluster_size - 1)) ||
	    ((e & QCOW2_L2_ZERO) && s->version < 3))
		return qcow2_corrupt(s, "invalid L2 entry 0x%llx", (unsigned long long)e);
	if (host && !qcow2_in_file(s, host, s->cluster_size))
		return qcow2_corrupt(s, "L2 entry 0x%llx points past the end of the file",
				     (unsigned long long)e);
	m->host = host;
	if (e & QCOW2_L2_ZERO)
		m->type = QCOW2_ZERO;
	else if (host)
		m->type = QCOW2_NORMAL;
	else if (m->copied)
		return qcow2_corrupt(s, "L2 entry 0x%llx: COPIED without a cluster",
				     (unsigned long long)e);
	else
		m->type = QCOW2_UNALLOCATED;
	return 0;
}

static int lookup_in(struct qcow2 *s, u64 gcluster, u64 l2off, struct qcow2_map *m)
{
	u8 *buf;
	int ret;

	memset(m, 0, sizeof(*m));
	m->type = QCOW2_UNALLOCATED;
	m->l2_offset = l2off;
	m->l2_index = (u32)(gcluster & ((1ull << s->l2_bits) - 1));
	if (!l2off)
		return 0;
	ret = qcow2_cache_get(s, &s->l2_cache, l2off, false, &buf);
	if (ret)
		return ret;
	return decode_l2(s, be64toh(((const u64 *)buf)[m->l2_index]), m);
}

static int l1_index_of(struct qcow2 *s, u64 gcluster, u64 *l1i)
{
	*l1i = gcluster >> s->l2_bits;
	if (*l1i >= s->l1_size)
		return qcow2_corrupt(s, "guest cluster %llu is beyond the L1 table",
				     (unsigned long long)gcluster);
	return 0;
}

int qcow2_lookup(struct qcow2 *s, u64 gcluster, struct qcow2_map *m)
{
	u64 l1i, l2off;
	int ret = l1_index_of(s, gcluster, &l1i);

	if (!ret)
		ret = l2_table_of(s, l1i, &l2off);
	if (!ret)
		ret = lookup_in(s, gcluster, l2off, m);
	return ret;
}

static int write_l1_entry(struct qcow2 *s, u64 l1i, u64 e)
{
	u64 be = htobe64(e);
	u64 old = s->l1[l1i];
	int ret;

	s->l1[l1i] = e;
	ret = qcow2_pwrite(s, &be, sizeof(be), s->l1_offset + l1i * 8);
	if (ret)
		s->l1[l1i] = old;
	return ret;
}

/* Write a table that is new to the file and take its reference. */
static int place_table(struct qcow2 *s, const void *table, u64 *off)
{
	int ret = qcow2_alloc_cluster(s, off);

	if (!ret)
		ret = qcow2_pwrite(s, table, s->cluster_size, *off);
	if (!ret)
		ret = qcow2_refcount_update(s, qcow2_cluster_of(s, *off), +1, NULL);
	return ret;
}

static int new_l2_table(struct qcow2 *s, u64 l1i)
{
	u64 off;
	int ret = place_table(s, s->zero_buf, &off);

	if (!ret)
		ret = write_l1_entry(s, l1i, off | QCOW2_L2_COPIED);
	return ret;
}

/*
 * The L2 table is shared (a snapshot's L1 points to it too): give the
 * active L1 its own copy.  Data clusters keep their refcounts, which
 * count the L1 tables that reach them, not the L2 tables on the way.
 * None of them is ours alone, so the copy has no COPIED flags.
 */
static int copy_l2_table(struct qcow2 *s, u64 l1i, u64 old)
{
	u64 *table = (u64 *)s->cluster_buf, off, n = 1ull << s->l2_bits;
	u8 *buf;
	int ret = qcow2_cache_get(s, &s->l2_cache, old, false, &buf);

	if (ret)
		return ret;
	memcpy(table, buf, s->cluster_size);
	for (u64 i = 0; i < n; i++)
		table[i] &= ~htobe64(QCOW2_L2_COPIED);
	ret = place_table(s, table, &off);
	if (!ret)
		ret = write_l1_entry(s, l1i, off | QCOW2_L2_COPIED);
	if (!ret)
		ret = qcow2_refcount_update(s, qcow2_cluster_of(s, old), -1, NULL);
	return ret;
}

int qcow2_lookup_for_write(struct qcow2 *s, u64 gcluster, struct qcow2_map *m)
{
	u64 l1i, l2off, rc;
	int ret = l1_index_of(s, gcluster, &l1i);

	if (!ret)
		ret = l2_table_of(s, l1i, &l2off);
	if (ret)
		return ret;
	if (!l2off) {
		ret = new_l2_table(s, l1i);
	} else if (!(s->l1[l1i] & QCOW2_L2_COPIED)) {
		ret = qcow2_refcount_get(s, qcow2_cluster_of(s, l2off), &rc);
		if (!ret && rc == 0)
			ret = qcow2_corrupt(s, "L2 table at 0x%llx has refcount 0",
					    (unsigned long long)l2off);
		else if (!ret && rc == 1)
			ret = write_l1_entry(s, l1i, s->l1[l1i] | QCOW2_L2_COPIED);
		else if (!ret)
			ret = copy_l2_table(s, l1i, l2off);
	}
	if (!ret)
		ret = l2_table_of(s, l1i, &l2off);
	if (!ret)
		ret = lookup_in(s, gcluster, l2off, m);
	return ret;
}

int qcow2_set_l2_entry(struct qcow2 *s, const struct qcow2_map *m, u64 entry)
{
	u64 *table, at = m->l2_offset + (u64)m->l2_index * 8;
	int ret;

	if (!m->l2_offset)
		return -EIO;
	ret = qcow2_cache_get(s, &s->l2_cache, m->l2_offset, false, (u8 **)&table);
	if (ret)
		return ret;
	table[m->l2_index] = htobe64(entry);
	ret = qcow2_pwrite(s, &table[m->l2_index], 8, at);
	if (ret)
		qcow2_cache_drop(&s->l2_cache, m->l2_offset);
	return ret;
}

int qcow2_release(struct qcow2 *s, const struct qcow2_map *m, u64 *newrc)
{
	if (newrc)
		*newrc = 1;
	if (m->type == QCOW2_COMPRESSED)
		return qcow2_refcount_update_range(s, m->host, m->csize, -1);
	if (m->host)
		return qcow2_refcount_update(s, qcow2_cluster_of(s, m->host), -1, newrc);
	return 0;
}

#ifndef LKVM_DISK_QCOW2_INT_H
#define LKVM_DISK_QCOW2_INT_H
/*
 * State shared by the qcow2 driver's files (qcow2*.c); nothing outside
 * disk/qcow2*.c should include this.
 *
 * Locking: one mutex per image (s->lock) is held for the whole of every
 * request, so metadata, caches and the bounce buffers below are only ever
 * touched by one thread at a time.
 *
 * Metadata is written through (every change goes to the file at once, in
 * the order data -> refcounts -> L2 -> L1, frees after the unlink), and
 * fdatasync only happens on flush and when the refcount table moves.  So
 * a crash of lkvm itself leaves a consistent image at any moment (at worst
 * with leaked clusters); a host crash may lose or tear metadata written
 * since the guest's last flush, which `qemu-img check -r all` repairs.
 */
#include <pthread.h>
#include <stdbool.h>
#include <sys/uio.h>
#include "lkvm/compiler.h"
#include "disk/qcow2.h"

struct disk_image;

/* A small write-through cache of cluster-sized tables (L2 or refcount). */
struct qcow2_cache_slot {
	u64 offset;		/* host offset of the table; 0 = empty slot */
	u64 last_use;
	u8 *buf;
};

struct qcow2_cache {
	struct qcow2_cache_slot *slots;
	unsigned int nr;
	u64 clock;
};

struct qcow2 {
	pthread_mutex_t lock;
	int fd;
	const char *path;	/* for messages */
	bool readonly;
	u32 version;

	u32 cluster_bits;
	u64 cluster_size;
	u32 l2_bits;		/* log2 of entries per L2 table */
	u32 refcount_order;
	u32 rb_bits;		/* log2 of entries per refcount block */
	u64 refcount_max;
	u64 size;		/* guest-visible bytes */

	/* Compressed cluster descriptor layout. */
	u32 csize_shift;
	u64 csize_mask;
	u64 coffset_mask;

	u64 *l1;		/* host byte order */
	u32 l1_size;
	u64 l1_offset;

	u64 *rt;		/* refcount table, host byte order; NULL read-only */
	u64 rt_entries;
	u64 rt_offset;
	u32 rt_clusters;

	u64 file_end;		/* bytes in the file (grows as we write) */
	u64 alloc_end;		/* first cluster index past anything we handed out */
	u64 free_hint;		/* no free cluster below this index */

	struct qcow2_cache l2_cache;
	struct qcow2_cache rb_cache;

	/* Writable images only: */
	u8 *cluster_buf;	/* copy-on-write assembly */
	u8 *zero_buf;		/* one cluster of zeros, never written */
	/* Allocated on the first compressed read: */
	u8 *cin_buf;		/* compressed input, two clusters */
	u8 *cout_buf;		/* last decompressed cluster */
	u64 cout_entry;		/* its L2 entry; 0 = none */
	void *zstream;		/* z_stream, set up on first use */

	struct iovec *slice;	/* scratch for sub-ranges of a request */
	int slice_cap;

	struct disk_image *backing;
	unsigned int corrupt_reports;
};

/* What one guest cluster maps to. */
enum qcow2_cluster_type {
	QCOW2_UNALLOCATED,	/* backing file or zeros */
	QCOW2_ZERO,		/* reads as zeros; host may be preallocated */
	QCOW2_NORMAL,
	QCOW2_COMPRESSED,
};

struct qcow2_map {
	enum qcow2_cluster_type type;
	u64 host;		/* cluster offset, or byte offset if compressed */
	u64 csize;		/* compressed: bytes from host to its last sector's end */
	bool copied;		/* refcount known to be exactly 1 */
	u64 entry;		/* the raw L2 entry */
	u64 l2_offset;		/* 0: no L2 table yet */
	u32 l2_index;
};

/* qcow2-file.c: file access and error reporting. */
int qcow2_pread(struct qcow2 *s, void *buf, size_t len, u64 off);
int qcow2_pwrite(struct qcow2 *s, const void *buf, size_t len, u64 off);
int qcow2_preadv(struct qcow2 *s, const struct iovec *iov, int cnt, size_t len, u64 off);
int qcow2_pwritev(struct qcow2 *s, const struct iovec *iov, int cnt, size_t len, u64 off);
int qcow2_corrupt(struct qcow2 *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* nr slots; each slot's buffer is allocated when first used. */
int qcow2_cache_init(struct qcow2_cache *c, unsigned int nr);
void qcow2_cache_free(struct qcow2_cache *c);
/* The table at off, read from the file unless `fresh` (then zero-filled). */
int qcow2_cache_get(struct qcow2 *s, struct qcow2_cache *c, u64 off, bool fresh, u8 **buf);
void qcow2_cache_drop(struct qcow2_cache *c, u64 off);
/* Is the host cluster range [off, off+len) inside the file? */
bool qcow2_in_file(const struct qcow2 *s, u64 off, u64 len);

/* qcow2-refcount.c */
int qcow2_refcount_get(struct qcow2 *s, u64 cluster, u64 *rc);
/* Add delta (+1/-1) to a host cluster's refcount; *newrc may be NULL. */
int qcow2_refcount_update(struct qcow2 *s, u64 cluster, int delta, u64 *newrc);
/* Add delta to every cluster touched by [off, off+len). */
int qcow2_refcount_update_range(struct qcow2 *s, u64 off, u64 len, int delta);
/*
 * Find a free host cluster.  Its refcount is still 0: the caller writes
 * it, then takes the reference with qcow2_refcount_update(+1) before any
 * other allocation.
 */
int qcow2_alloc_cluster(struct qcow2 *s, u64 *offset);

/* qcow2-map.c */
int qcow2_lookup(struct qcow2 *s, u64 gcluster, struct qcow2_map *m);
/*
 * Like lookup, but first makes sure the L2 table for gcluster exists and
 * belongs to the active L1 alone, so the entry may be rewritten.
 */
int qcow2_lookup_for_write(struct qcow2 *s, u64 gcluster, struct qcow2_map *m);
int qcow2_set_l2_entry(struct qcow2 *s, const struct qcow2_map *m, u64 entry);
/* Drop one reference of whatever host space the mapping m points to. */
int qcow2_release(struct qcow2 *s, const struct qcow2_map *m, u64 *newrc);

/* qcow2-compress.c */
int qcow2_decompress(struct qcow2 *s, const struct qcow2_map *m, const u8 **out);
void qcow2_decompress_free(struct qcow2 *s);

/* qcow2-io.c: the format ops. */
ssize_t qcow2_read(struct disk_image *d, u64 off, const struct iovec *iov, int iovcnt);
ssize_t qcow2_write(struct disk_image *d, u64 off, const struct iovec *iov, int iovcnt);
int qcow2_flush(struct disk_image *d);
int qcow2_discard(struct disk_image *d, u64 off, u64 len);
int qcow2_write_zeroes(struct disk_image *d, u64 off, u64 len, bool unmap);

static inline u64 qcow2_cluster_of(const struct qcow2 *s, u64 off)
{
	return off >> s->cluster_bits;
}

#endif

/*
 * qcow2 images: probing, opening (header checks, tables, backing file)
 * and closing.  Requests are in qcow2-io.c, the mapping in qcow2-map.c,
 * cluster allocation in qcow2-refcount.c.
 *
 * Anything an image says is checked before use: an image this driver
 * cannot handle safely is refused with a message saying what is wrong and
 * how to convert or repair it.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lkvm/log.h"
#include "disk/disk-int.h"
#include "disk/qcow2-int.h"

_Static_assert(offsetof(struct qcow2_disk_header, refcount_table_offset) == QCOW2_HDR_RT_OFFSET,
	       "qcow2 header layout");
_Static_assert(offsetof(struct qcow2_disk_header, autoclear_features) == QCOW2_HDR_AUTOCLEAR,
	       "qcow2 header layout");
_Static_assert(offsetof(struct qcow2_disk_header, compression_type) == QCOW2_V3_HEADER_LEN,
	       "qcow2 header layout");
_Static_assert(sizeof(struct qcow2_feature_name) == 48, "qcow2 feature name layout");

/* Tables we keep whole in memory are limited to this (QEMU: L1 32 MiB). */
#define QCOW2_MAX_TABLE_BYTES	(32ull << 20)
#define QCOW2_L2_CACHE_BYTES	(4ull << 20)
#define QCOW2_RB_CACHE_BYTES	(1ull << 20)

/*
 * Metadata memory one image chain (an image and all its backing files)
 * may hold: L1 and refcount tables, table caches, bounce buffers.  Images
 * qemu-img makes need a few MiB per level; a crafted chain of sparse files
 * with huge tables would otherwise take gigabytes.
 */
#define QCOW2_CHAIN_MEM_MAX	(256ull << 20)

/* Backing files opened by qcow2_open() on this thread right now. */
static __thread unsigned int chain_depth;
/* Bytes charged so far by the chain being opened on this thread. */
static __thread u64 chain_mem;

static const struct disk_format_ops qcow2_ops;

static bool qcow2_probe(const u8 *head, size_t len)
{
	u32 magic;

	if (len < sizeof(magic))
		return false;
	memcpy(&magic, head, sizeof(magic));
	return be32toh(magic) == QCOW2_MAGIC;
}

/* What open learns from the first cluster. */
struct qcow2_open_info {
	struct qcow2_disk_header h;	/* host byte order */
	u8 *first;			/* the first cluster */
	u64 first_len;
	const char *backing_fmt;	/* NUL-terminated copy, or NULL */
	char fmt_buf[32];
	const struct qcow2_feature_name *names;
	u32 nr_names;
};

#define REFUSE(err, s, fmt, ...) \
	(pr_err("qcow2: %s: " fmt, (s)->path, ##__VA_ARGS__), (err))

static void header_to_host(struct qcow2_disk_header *h)
{
	h->magic = be32toh(h->magic);
	h->version = be32toh(h->version);
	h->backing_file_offset = be64toh(h->backing_file_offset);
	h->backing_file_size = be32toh(h->backing_file_size);
	h->cluster_bits = be32toh(h->cluster_bits);
	h->size = be64toh(h->size);
	h->crypt_method = be32toh(h->crypt_method);
	h->l1_size = be32toh(h->l1_size);
	h->l1_table_offset = be64toh(h->l1_table_offset);
	h->refcount_table_offset = be64toh(h->refcount_table_offset);
	h->refcount_table_clusters = be32toh(h->refcount_table_clusters);
	h->nb_snapshots = be32toh(h->nb_snapshots);
	h->snapshots_offset = be64toh(h->snapshots_offset);
	h->incompatible_features = be64toh(h->incompatible_features);
	h->compatible_features = be64toh(h->compatible_features);
	h->autoclear_features = be64toh(h->autoclear_features);
	h->refcount_order = be32toh(h->refcount_order);
	h->header_length = be32toh(h->header_length);
}

/* Magic, version, header length and cluster size: enough to read on. */
static int check_basics(struct qcow2 *s, struct qcow2_disk_header *h)
{
	if (h->magic != QCOW2_MAGIC)
		return REFUSE(-EINVAL, s, "not a qcow2 image (bad magic)");
	if (h->version != 2 && h->version != 3)
		return REFUSE(-ENOTSUP, s, "qcow2 version %u is not supported (only 2 and 3): "
			      "convert it with qemu-img convert -O qcow2", h->version);
	if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS || h->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return REFUSE(-EINVAL, s, "cluster_bits %u is out of range 9..21 (512 B..2 MiB "
			      "clusters): convert it with qemu-img convert -O qcow2", h->cluster_bits);
	if (h->version == 2) {
		h->incompatible_features = h->compatible_features = h->autoclear_features = 0;
		h->refcount_order = 4;
		h->header_length = QCOW2_V2_HEADER_LEN;
	} else if (h->header_length < QCOW2_V3_HEADER_LEN || h->header_length % 8 ||
		   h->header_length > (1u << h->cluster_bits)) {
		return REFUSE(-EINVAL, s, "header_length %u is invalid (a multiple of 8, at least "
			      "104, inside the first cluster): the image is damaged", h->header_length);
	}
	if (h->header_length <= QCOW2_V3_HEADER_LEN)
		h->compression_type = 0;
	return 0;
}

static int parse_extensions(struct qcow2 *s, struct qcow2_open_info *oi)
{
	u64 pos = oi->h.header_length, end = oi->first_len;

	while (pos + 8 <= end) {
		u32 type, len;

		memcpy(&type, oi->first + pos, 4);
		memcpy(&len, oi->first + pos + 4, 4);
		type = be32toh(type);
		len = be32toh(len);
		if (type == QCOW2_EXT_END)
			return 0;
		if (len > end - pos - 8)
			return REFUSE(-EINVAL, s, "header extension 0x%x runs past the first "
				      "cluster: the image is damaged", type);
		pos += 8;
		if (type == QCOW2_EXT_BACKING_FORMAT) {
			if (len == 0 || len >= sizeof(oi->fmt_buf) ||
			    memchr(oi->first + pos, 0, len))
				return REFUSE(-EINVAL, s, "backing format name is invalid");
			memcpy(oi->fmt_buf, oi->first + pos, len);
			oi->fmt_buf[len] = 0;
			oi->backing_fmt = oi->fmt_buf;
		} else if (type == QCOW2_EXT_FEATURE_NAMES) {
			oi->names = (const struct qcow2_feature_name *)(oi->first + pos);
			oi->nr_names = len / sizeof(struct qcow2_feature_name);
		}
		pos += ALIGN_UP((u64)len, 8);
	}
	return 0;
}

/* "name, name" for the set incompatible bits the image names. */
static void feature_names(const struct qcow2_open_info *oi, u64 bits, char *out, size_t n)
{
	size_t used = 0;

	out[0] = 0;
	for (u32 i = 0; i < oi->nr_names && used + 1 < n; i++) {
		const struct qcow2_feature_name *f = &oi->names[i];

		if (f->type != 0 || f->bit > 63 || !(bits & (1ull << f->bit)))
			continue;
		used += (size_t)snprintf(out + used, n - used, "%s%.*s", used ? ", " : "",
					 (int)sizeof(f->name), f->name);
	}
	if (!out[0])
		snprintf(out, n, "unnamed");
}

static int check_features(struct qcow2 *s, const struct qcow2_open_info *oi)
{
	const struct qcow2_disk_header *h = &oi->h;
	u64 known = QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_DATA_FILE |
		    QCOW2_INCOMPAT_COMPRESSION | QCOW2_INCOMPAT_EXTL2;
	u64 f = h->incompatible_features;
	char names[256];

	if (h->crypt_method)
		return REFUSE(-ENOTSUP, s, "encrypted qcow2 images (crypt_method %u) are not "
			      "supported: decrypt it with qemu-img convert -O qcow2", h->crypt_method);
	if (f & ~known) {
		feature_names(oi, f & ~known, names, sizeof(names));
		return REFUSE(-ENOTSUP, s, "unsupported incompatible features 0x%llx (%s): "
			      "convert it with qemu-img convert -O qcow2",
			      (unsigned long long)(f & ~known), names);
	}
	if (f & QCOW2_INCOMPAT_DATA_FILE)
		return REFUSE(-ENOTSUP, s, "external data files are not supported: "
			      "convert it with qemu-img convert -O qcow2");
	if (f & QCOW2_INCOMPAT_EXTL2)
		return REFUSE(-ENOTSUP, s, "extended L2 entries (subclusters) are not supported: "
			      "convert it with qemu-img convert -O qcow2 -o extended_l2=off");
	if (h->compression_type)
		return REFUSE(-ENOTSUP, s, "compression type %u is not supported (only zlib): "
			      "convert it with qemu-img convert -O qcow2 -o compression_type=zlib",
			      h->compression_type);
	if ((f & QCOW2_INCOMPAT_CORRUPT) && !s->readonly)
		return REFUSE(-EINVAL, s, "the image is marked corrupt: repair it with "
			      "qemu-img check -r all, or open it read-only (,ro)");
	if ((f & QCOW2_INCOMPAT_DIRTY) && !s->readonly)
		return REFUSE(-EINVAL, s, "the image was not closed cleanly (dirty bit: its "
			      "refcounts may be stale): repair it with qemu-img check -r all, "
			      "or open it read-only (,ro)");
	if (f & (QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_DIRTY))
		pr_warn("qcow2: %s: the image is marked %s; reading it anyway (read-only)",
			s->path, f & QCOW2_INCOMPAT_CORRUPT ? "corrupt" : "dirty");
	if (h->refcount_order > QCOW2_MAX_REFCOUNT_ORDER)
		return REFUSE(-EINVAL, s, "refcount_order %u is invalid (at most 6)",
			      h->refcount_order);
	return 0;
}

/* A table of `bytes` at `off`: cluster aligned, past the header, in the file. */
static bool table_ok(const struct qcow2_disk_header *h, u64 off, u64 bytes, u64 file_size)
{
	u64 cs = 1ull << h->cluster_bits;

	return !(off & (cs - 1)) && off >= cs && bytes <= QCOW2_MAX_TABLE_BYTES &&
	       off <= file_size && bytes <= file_size - off;
}

static int check_layout(struct qcow2 *s, const struct qcow2_open_info *oi, u64 file_size)
{
	const struct qcow2_disk_header *h = &oi->h;
	u64 cs = 1ull << h->cluster_bits, l1_bytes = (u64)h->l1_size * 8;
	u64 l1_covers = (u64)h->l1_size << (2 * h->cluster_bits - 3);

	if (h->l1_size && !table_ok(h, h->l1_table_offset, l1_bytes, file_size))
		return REFUSE(-EINVAL, s, "L1 table (offset 0x%llx, %u entries) is misaligned, "
			      "too large or outside the file: the image is damaged",
			      (unsigned long long)h->l1_table_offset, h->l1_size);
	if (h->size > l1_covers)
		return REFUSE(-EINVAL, s, "L1 table (%u entries) does not cover the virtual size "
			      "%llu: the image is damaged", h->l1_size, (unsigned long long)h->size);
	if (!h->refcount_table_clusters ||
	    !table_ok(h, h->refcount_table_offset, (u64)h->refcount_table_clusters * cs, file_size))
		return REFUSE(-EINVAL, s, "refcount table (offset 0x%llx, %u clusters) is "
			      "misaligned, too large or outside the file: the image is damaged",
			      (unsigned long long)h->refcount_table_offset,
			      h->refcount_table_clusters);
	if (h->backing_file_offset &&
	    (h->backing_file_size == 0 || h->backing_file_size > QCOW2_MAX_BACKING_NAME ||
	     h->backing_file_offset < h->header_length ||
	     h->backing_file_offset > oi->first_len ||
	     h->backing_file_size > oi->first_len - h->backing_file_offset ||
	     memchr(oi->first + h->backing_file_offset, 0, h->backing_file_size)))
		return REFUSE(-EINVAL, s, "backing file name (offset 0x%llx, %u bytes) is outside "
			      "the first cluster, empty, too long or not text: the image is damaged",
			      (unsigned long long)h->backing_file_offset, h->backing_file_size);
	return 0;
}

static int read_first_cluster(struct qcow2 *s, struct qcow2_open_info *oi, u64 file_size)
{
	u64 cs = 1ull << oi->h.cluster_bits;

	oi->first_len = MIN(cs, file_size);
	oi->first = malloc(oi->first_len);
	if (!oi->first)
		return -ENOMEM;
	return qcow2_pread(s, oi->first, oi->first_len, 0);
}

static int read_header(struct qcow2 *s, struct qcow2_open_info *oi)
{
	struct stat st;
	int ret;

	if (fstat(s->fd, &st))
		return -errno;
	s->file_end = (u64)st.st_size;
	if (s->file_end < QCOW2_V2_HEADER_LEN)
		return REFUSE(-EINVAL, s, "file too small (%llu bytes) to be a qcow2 image",
			      (unsigned long long)s->file_end);
	ret = qcow2_pread(s, &oi->h, sizeof(oi->h), 0);
	if (ret)
		return REFUSE(ret, s, "cannot read the header: %s", strerror(-ret));
	header_to_host(&oi->h);
	ret = check_basics(s, &oi->h);
	if (!ret)
		ret = read_first_cluster(s, oi, s->file_end);
	if (!ret)
		ret = parse_extensions(s, oi);
	if (!ret)
		ret = check_features(s, oi);
	if (!ret)
		ret = check_layout(s, oi, s->file_end);
	return ret;
}

static int load_table(struct qcow2 *s, u64 **table, u64 entries, u64 off)
{
	u64 *t = calloc(entries ? entries : 1, 8);
	int ret;

	if (!t)
		return -ENOMEM;
	ret = qcow2_pread(s, t, entries * 8, off);
	for (u64 i = 0; i < entries; i++)
		t[i] = be64toh(t[i]);
	*table = t;
	return ret;
}

static unsigned int cache_slots(u64 budget, u64 cs, unsigned int lo, unsigned int hi)
{
	u64 n = budget / cs;

	return (unsigned int)MIN(MAX(n, (u64)lo), (u64)hi);
}

/*
 * Count bytes against the chain's budget.  Everything an image may come
 * to hold is counted when it opens, so a chain that fits cannot run out
 * of budget later; much of it is only allocated when first needed.
 */
static int charge(struct qcow2 *s, u64 bytes)
{
	if (bytes <= QCOW2_CHAIN_MEM_MAX - chain_mem) {
		chain_mem += bytes;
		return 0;
	}
	return REFUSE(-EFBIG, s, "the metadata of this image chain (tables and caches of %u "
		      "image%s) would need more than %llu MiB: the image is damaged or "
		      "crafted; flatten it with qemu-img convert -O qcow2", chain_depth + 1,
		      chain_depth ? "s" : "", QCOW2_CHAIN_MEM_MAX >> 20);
}

static int setup_state(struct qcow2 *s, const struct qcow2_disk_header *h)
{
	u64 cs = 1ull << h->cluster_bits;
	unsigned int l2_slots = cache_slots(QCOW2_L2_CACHE_BYTES, cs, 4, 64);
	unsigned int rb_slots = cache_slots(QCOW2_RB_CACHE_BYTES, cs, 2, 16);
	/* Compressed clusters: two clusters of input, one of output. */
	u64 mem = (u64)h->l1_size * 8 + (l2_slots + 3) * cs;
	int ret;

	s->version = h->version;
	s->cluster_bits = h->cluster_bits;
	s->cluster_size = cs;
	s->l2_bits = h->cluster_bits - 3;
	s->refcount_order = h->refcount_order;
	s->rb_bits = h->cluster_bits + 3 - h->refcount_order;
	s->refcount_max = h->refcount_order == 6 ? ~0ull : (1ull << (1u << h->refcount_order)) - 1;
	s->size = h->size;
	s->csize_shift = 62 - (h->cluster_bits - 8);
	s->csize_mask = (1ull << (h->cluster_bits - 8)) - 1;
	s->coffset_mask = (1ull << s->csize_shift) - 1;
	s->l1_size = h->l1_size;
	s->l1_offset = h->l1_table_offset;
	s->rt_offset = h->refcount_table_offset;
	s->rt_clusters = h->refcount_table_clusters;
	s->alloc_end = (s->file_end + cs - 1) >> h->cluster_bits;
	/* Refcounts, and the buffers writes assemble clusters in: writers only. */
	if (!s->readonly) {
		s->rt_entries = ((u64)h->refcount_table_clusters << h->cluster_bits) / 8;
		mem += s->rt_entries * 8 + (rb_slots + 2) * cs;
	}
	ret = charge(s, mem);
	if (ret)
		return ret;
	if (!s->readonly) {
		s->cluster_buf = malloc(cs);
		s->zero_buf = calloc(1, cs);
		if (!s->cluster_buf || !s->zero_buf)
			return -ENOMEM;
		ret = qcow2_cache_init(&s->rb_cache, rb_slots);
		if (!ret)
			ret = load_table(s, &s->rt, s->rt_entries, s->rt_offset);
	}
	if (!ret)
		ret = qcow2_cache_init(&s->l2_cache, l2_slots);
	if (!ret)
		ret = load_table(s, &s->l1, s->l1_size, s->l1_offset);
	return ret;
}

/* A relative backing name is relative to the directory of the overlay. */
static int backing_path(struct qcow2 *s, const char *name, u32 len, char *out, size_t n)
{
	const char *slash = strrchr(s->path, '/');
	int dir = name[0] == '/' || !slash ? 0 : (int)(slash - s->path + 1);
	int w = snprintf(out, n, "%.*s%.*s", dir, s->path, (int)len, name);

	return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

/*
 * The backing file the header names, as disk_open() parameters: read-only,
 * in the format the header's backing format extension declares.  Without
 * one the format is probed; such a backing file may be qcow2 but may not
 * name a backing file of its own (see qcow2_open()).  false: none.
 */
static int backing_params(struct qcow2 *s, const struct qcow2_open_info *oi,
			  struct disk_params *p, bool *has)
{
	const struct qcow2_disk_header *h = &oi->h;
	const char *fmt = oi->backing_fmt;

	*p = (struct disk_params){ .readonly = true, .sync = true };
	*has = h->backing_file_offset != 0;
	if (!*has)
		return 0;
	if (fmt && !(p->format = disk_format_find(fmt)))
		return REFUSE(-ENOTSUP, s, "backing file format '%s' is not supported (raw and "
			      "qcow2 are): convert the backing file with qemu-img convert -O qcow2",
			      fmt);
	if (backing_path(s, (const char *)oi->first + h->backing_file_offset,
			 h->backing_file_size, p->path_buf, sizeof(p->path_buf)))
		return REFUSE(-ENAMETOOLONG, s, "backing file path is too long");
	p->path = p->path_buf;
	return 0;
}

static int open_backing(struct qcow2 *s, const struct disk_params *p)
{
	struct disk_image *b;
	int err;

	if (chain_depth >= QCOW2_MAX_CHAIN)
		return REFUSE(-ELOOP, s, "backing chain deeper than %d images (or a loop): "
			      "flatten it with qemu-img convert -O qcow2", QCOW2_MAX_CHAIN);
	chain_depth++;
	b = disk_open(p, &err);
	chain_depth--;
	if (!b)
		return REFUSE(err, s, "cannot open its backing file %s", p->path);
	s->backing = b;
	return 0;
}

/*
 * A backing file whose format nobody declared was probed; had a guest
 * written a qcow2 header into what is really a raw backing file, following
 * the backing file that header names would show the guest a host file.
 */
static int check_guessed_backing(struct qcow2 *s, struct disk_image *d,
				 const struct qcow2_disk_header *h)
{
	if (!chain_depth || !d->probed || !h->backing_file_offset)
		return 0;
	return REFUSE(-EINVAL, s, "a backing file with no declared format looks like qcow2 "
		      "and names a backing file of its own: refusing to follow a guessed "
		      "chain; declare its format in the image above it with "
		      "qemu-img rebase -u -F qcow2 -b FILE IMAGE");
}

/* Unknown auto-clear bits must be cleared before the first write. */
static int clear_autoclear(struct qcow2 *s, const struct qcow2_disk_header *h)
{
	u64 zero = 0;

	if (s->readonly || h->version < 3 || !h->autoclear_features)
		return 0;
	return qcow2_pwrite(s, &zero, sizeof(zero), QCOW2_HDR_AUTOCLEAR);
}

/* Metadata is read and written in small pieces: O_DIRECT cannot be kept. */
static void leave_direct_io(struct qcow2 *s, struct disk_image *d)
{
	int fl = fcntl(s->fd, F_GETFL);

	if (!d->direct || fl < 0)
		return;
	if (fcntl(s->fd, F_SETFL, fl & ~O_DIRECT) == 0)
		d->direct = false;
	pr_warn("qcow2: %s: direct I/O is not supported for qcow2 images; "
		"using the page cache", s->path);
}

static void qcow2_free(struct qcow2 *s)
{
	if (s->backing)
		disk_close(s->backing);
	qcow2_cache_free(&s->l2_cache);
	qcow2_cache_free(&s->rb_cache);
	qcow2_decompress_free(s);
	free(s->l1);
	free(s->rt);
	free(s->cluster_buf);
	free(s->zero_buf);
	free(s->cin_buf);
	free(s->cout_buf);
	free(s->slice);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int qcow2_open(struct disk_image *d)
{
	struct qcow2_open_info oi = { 0 };
	struct qcow2 *s = calloc(1, sizeof(*s));
	struct disk_params bp;
	bool has_backing = false;
	int ret;

	if (!s)
		return -ENOMEM;
	if (!chain_depth)
		chain_mem = 0;
	pthread_mutex_init(&s->lock, NULL);
	s->fd = d->fd;
	s->path = d->path;
	s->readonly = d->readonly;
	ret = read_header(s, &oi);
	if (!ret)
		ret = check_guessed_backing(s, d, &oi.h);
	if (!ret)
		ret = setup_state(s, &oi.h);
	if (!ret)
		ret = backing_params(s, &oi, &bp, &has_backing);
	/* Not held while the rest of the chain opens. */
	free(oi.first);
	if (!ret && has_backing)
		ret = open_backing(s, &bp);
	if (!ret)
		ret = clear_autoclear(s, &oi.h);
	if (ret) {
		if (ret == -ENOMEM)
			pr_err("qcow2: %s: out of memory", d->path);
		qcow2_free(s);
		return ret;
	}
	leave_direct_io(s, d);
	d->ops = &qcow2_ops;
	d->size = s->size;
	d->priv = s;
	return 0;
}

static void qcow2_close(struct disk_image *d)
{
	struct qcow2 *s = d->priv;

	if (!s)
		return;
	if (!s->readonly && fdatasync(s->fd))
		pr_warn("qcow2: %s: flush on close failed: %s", s->path, strerror(errno));
	qcow2_free(s);
	d->priv = NULL;
}

static const struct disk_format_ops qcow2_ops = {
	.name = "qcow2",
	.read = qcow2_read,
	.write = qcow2_write,
	.flush = qcow2_flush,
	.discard = qcow2_discard,
	.write_zeroes = qcow2_write_zeroes,
	.close = qcow2_close,
	/* Every op takes the image's own lock. */
	.concurrent = true,
};

const struct disk_format disk_format_qcow2 = {
	.name = "qcow2",
	.probe = qcow2_probe,
	.open = qcow2_open,
};

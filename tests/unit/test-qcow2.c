/*
 * qcow2 driver tests.  Header and corruption cases use small images made
 * by hand; the rest uses images made and checked by qemu-img (Debian
 * qemu-utils), skipped loudly when it is absent.  Everything written
 * through the driver is mirrored in an in-memory model, and the image is
 * compared with the model through the driver and through
 * `qemu-img convert -O raw`; `qemu-img check` must find no errors or leaks.
 *
 *   test-qcow2                                   run the tests
 *   test-qcow2 --exercise IMG REF OUT SEED OPS   (tests/qcow2/run.sh)
 */
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include "unit.h"
#include "qcow2-util.h"

static bool qemu_ok;

#define QRUN(fn)                                                             \
	do {                                                                 \
		if (qemu_ok)                                                 \
			RUN(fn);                                             \
		else                                                         \
			printf("SKIP: %s (qemu-img/qemu-io not installed: "  \
			       "apt-get install qemu-utils)\n", #fn);       \
	} while (0)

#define MiB_ (1ull << 20)

/* ---- header checks on hand-made images ---- */

static int open_err(const char *path, bool ro)
{
	int err;
	struct disk_image *d = t_open(path, ro, &err);

	t_close(d);
	return err;
}

typedef void (*mutate_fn)(struct himg *h);

static int open_mutated(mutate_fn fn, u32 version, bool ro)
{
	struct himg h;

	himg_build(&h, version, 12, 16 * MiB_, 0);
	if (fn)
		fn(&h);
	return open_err(himg_save(&h, "hand.qcow2"), ro);
}

static void set_incompat(struct himg *h, u64 bits)
{
	put64(HDR(h, incompatible_features), bits);
}

static void m_magic(struct himg *h) { h->buf[3] = 0xfa; }
static void m_version1(struct himg *h) { put32(HDR(h, version), 1); }
static void m_version4(struct himg *h) { put32(HDR(h, version), 4); }
static void m_aes(struct himg *h) { put32(HDR(h, crypt_method), 1); }
static void m_luks(struct himg *h) { put32(HDR(h, crypt_method), 2); }
static void m_unknown_bit(struct himg *h) { set_incompat(h, 1ull << 9); }
static void m_dirty(struct himg *h) { set_incompat(h, QCOW2_INCOMPAT_DIRTY); }
static void m_corrupt(struct himg *h) { set_incompat(h, QCOW2_INCOMPAT_CORRUPT); }
static void m_datafile(struct himg *h) { set_incompat(h, QCOW2_INCOMPAT_DATA_FILE); }
static void m_extl2(struct himg *h) { set_incompat(h, QCOW2_INCOMPAT_EXTL2); }
static void m_zstd(struct himg *h)
{
	put64(HDR(h, incompatible_features), QCOW2_INCOMPAT_COMPRESSION);
	put32(HDR(h, header_length), 112);
	*HDR(h, compression_type) = 1;
}
static void m_cb8(struct himg *h) { put32(HDR(h, cluster_bits), 8); }
static void m_cb22(struct himg *h) { put32(HDR(h, cluster_bits), 22); }
static void m_order7(struct himg *h) { put32(HDR(h, refcount_order), 7); }
static void m_hlen_short(struct himg *h) { put32(HDR(h, header_length), 96); }
static void m_hlen_odd(struct himg *h) { put32(HDR(h, header_length), 108); }
static void m_l1_misaligned(struct himg *h) { put64(HDR(h, l1_table_offset), 3 * h->cs + 8); }
static void m_l1_past_eof(struct himg *h) { put64(HDR(h, l1_table_offset), 64 * h->cs); }
static void m_l1_too_small(struct himg *h) { put32(HDR(h, l1_size), 7); }
static void m_l1_huge(struct himg *h) { put32(HDR(h, l1_size), 0x10000000); }
static void m_l1_at_header(struct himg *h) { put64(HDR(h, l1_table_offset), 0); }
static void m_rt_misaligned(struct himg *h) { put64(HDR(h, refcount_table_offset), h->cs + 512); }
static void m_rt_past_eof(struct himg *h) { put32(HDR(h, refcount_table_clusters), 100); }
static void m_rt_empty(struct himg *h) { put32(HDR(h, refcount_table_clusters), 0); }
static void m_backing_long(struct himg *h)
{
	put64(HDR(h, backing_file_offset), 512);
	put32(HDR(h, backing_file_size), 1024);
	memset(h->buf + 512, 'a', 1024);
}
static void m_backing_outside(struct himg *h)
{
	put64(HDR(h, backing_file_offset), h->cs - 4);
	put32(HDR(h, backing_file_size), 10);
}
static void m_backing_nul(struct himg *h)
{
	put64(HDR(h, backing_file_offset), 512);
	put32(HDR(h, backing_file_size), 8);
	memcpy(h->buf + 512, "ab\0cdefg", 8);
}
static void m_ext_overrun(struct himg *h)
{
	put32(h->buf + 104, 0x12345678);
	put32(h->buf + 108, 0x10000);
}
static void m_backing_vmdk(struct himg *h)
{
	put32(h->buf + 104, QCOW2_EXT_BACKING_FORMAT);
	put32(h->buf + 108, 4);
	memcpy(h->buf + 112, "vmdk", 4);
	put64(HDR(h, backing_file_offset), 512);
	put32(HDR(h, backing_file_size), 9);
	memcpy(h->buf + 512, "base.vmdk", 9);
}

static void test_header_valid(void)
{
	struct himg h;
	struct disk_image *d;
	u8 buf[8192], zero[8192] = { 0 };
	int err;
	const char *p;

	himg_build(&h, 3, 12, 16 * MiB_, 0);
	p = himg_save(&h, "valid.qcow2");
	/* Probed by its magic. */
	d = t_open_as(p, NULL, true, &err);
	CHECK(d && !strcmp(d->ops->name, "qcow2") && d->probed);
	t_close(d);
	d = t_open(p, false, &err);
	CHECK_EQ(err, 0);
	if (!d)
		return;
	CHECK_STR(d->ops->name, "qcow2");
	CHECK_EQ(d->size, 16 * MiB_);
	CHECK_EQ(t_read(d, 16 * MiB_ - sizeof(buf), buf, sizeof(buf)), sizeof(buf));
	CHECK(!memcmp(buf, zero, sizeof(buf)));
	t_close(d);
	if (qemu_ok)
		CHECK_EQ(qimg_check(p), 0);
	/* Version 2 from the same builder. */
	himg_build(&h, 2, 9, 1 * MiB_, 0);
	CHECK_EQ(open_err(himg_save(&h, "valid2.qcow2"), false), 0);
}

static void test_header_refused(void)
{
	struct himg h;
	struct disk_image *d;
	int err;

	himg_build(&h, 3, 12, 16 * MiB_, 0);
	m_magic(&h);
	/* Without the magic it probes as raw. */
	d = t_open_as(himg_save(&h, "magic.qcow2"), NULL, true, &err);
	CHECK(d && !strcmp(d->ops->name, "raw"));
	t_close(d);

	CHECK_EQ(open_mutated(m_magic, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_version1, 3, false), -ENOTSUP);
	CHECK_EQ(open_mutated(m_version4, 3, false), -ENOTSUP);
	CHECK_EQ(open_mutated(m_aes, 3, false), -ENOTSUP);
	CHECK_EQ(open_mutated(m_luks, 2, true), -ENOTSUP);
	CHECK_EQ(open_mutated(m_unknown_bit, 3, true), -ENOTSUP);
	CHECK_EQ(open_mutated(m_datafile, 3, true), -ENOTSUP);
	CHECK_EQ(open_mutated(m_extl2, 3, true), -ENOTSUP);
	CHECK_EQ(open_mutated(m_zstd, 3, true), -ENOTSUP);
	CHECK_EQ(open_mutated(m_cb8, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_cb22, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_order7, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_hlen_short, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_hlen_odd, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_l1_misaligned, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_l1_past_eof, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_l1_too_small, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_l1_huge, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_l1_at_header, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_rt_misaligned, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_rt_past_eof, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_rt_empty, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_backing_long, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_backing_outside, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_backing_nul, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_ext_overrun, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_backing_vmdk, 3, true), -ENOTSUP);
	/* Dirty and corrupt images: read-only only. */
	CHECK_EQ(open_mutated(m_dirty, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_dirty, 3, true), 0);
	CHECK_EQ(open_mutated(m_corrupt, 3, false), -EINVAL);
	CHECK_EQ(open_mutated(m_corrupt, 3, true), 0);
	/* Too short to hold a header. */
	CHECK_EQ(write_file_all(tpath("short.qcow2"), "QFI\xfb\0\0\0\3", 8), 0);
	CHECK_EQ(open_err(tpath("short.qcow2"), true), -EINVAL);
}

/* ---- corrupt tables: -EIO for the request, no crash, no stray write ---- */

/* Image with an L2 table in cluster 4 and a data cluster 5 ("DATA..."). */
static const char *corrupt_image(const char *name, u32 version, u64 l1e, u64 l2e1, u64 rt0)
{
	struct himg h;

	himg_build(&h, version, 12, 16 * MiB_, 2);
	himg_l1(&h, 0, l1e);
	himg_l2(&h, 4, 0, (5 * h.cs) | QCOW2_L2_COPIED);
	himg_l2(&h, 4, 1, l2e1);
	memset(h.buf + 5 * h.cs, 'D', h.cs);
	if (rt0 != ~0ull)
		put64(h.buf + h.cs, rt0);
	return himg_save(&h, name);
}

static void expect_eio(const char *p, u64 off, bool also_write)
{
	u8 buf[4096], *before, *after;
	u64 blen = 0, alen = 0;
	struct disk_image *d;
	int err;

	before = read_file_all(p, &blen);
	d = t_open(p, false, &err);
	CHECK_EQ(err, 0);
	if (!d) {
		free(before);
		return;
	}
	CHECK_EQ(t_read(d, off, buf, sizeof(buf)), -EIO);
	if (also_write) {
		memset(buf, 0x5a, sizeof(buf));
		CHECK_EQ(t_write(d, off, buf, sizeof(buf)), -EIO);
	}
	/* The good cluster next to it still reads. */
	CHECK_EQ(t_read(d, 0, buf, sizeof(buf)), sizeof(buf));
	CHECK_EQ(buf[100], 'D');
	t_close(d);
	after = read_file_all(p, &alen);
	CHECK(before && after && alen == blen && !memcmp(before, after, blen));
	free(before);
	free(after);
}

static void test_corrupt_entries(void)
{
	u64 cs = 4096, good_l1 = 4 * cs | QCOW2_L2_COPIED;

	/* L2 entry past the end of the file. */
	expect_eio(corrupt_image("c1.qcow2", 3, good_l1, (100 * cs) | QCOW2_L2_COPIED, ~0ull),
		   cs, true);
	/* L2 entry not cluster aligned. */
	expect_eio(corrupt_image("c2.qcow2", 3, good_l1, (5 * cs + 512) | QCOW2_L2_COPIED, ~0ull),
		   cs, true);
	/* Reserved bits. */
	expect_eio(corrupt_image("c3.qcow2", 3, good_l1, (5 * cs) | (1ull << 57), ~0ull), cs, true);
	/* Zero flag in a version 2 image. */
	expect_eio(corrupt_image("c4.qcow2", 2, good_l1, QCOW2_L2_ZERO, ~0ull), cs, true);
	/* COPIED without a cluster. */
	expect_eio(corrupt_image("c5.qcow2", 3, good_l1, QCOW2_L2_COPIED, ~0ull), cs, true);
	/* Compressed cluster of garbage ('D' bytes are not deflate data). */
	expect_eio(corrupt_image("c6.qcow2", 3, good_l1,
				 QCOW2_L2_COMPRESSED | (5 * cs + 100), ~0ull), cs, false);
	/* Compressed cluster past the end of the file. */
	expect_eio(corrupt_image("c7.qcow2", 3, good_l1,
				 QCOW2_L2_COMPRESSED | (90 * cs), ~0ull), cs, true);
}

static void test_corrupt_l1_and_refcounts(void)
{
	u64 cs = 4096;
	u8 buf[4096];
	struct disk_image *d;
	const char *p;
	int err;

	/* L1 pointing past the end, misaligned, or with reserved bits. */
	p = corrupt_image("l1a.qcow2", 3, (100 * cs) | QCOW2_L2_COPIED, 0, ~0ull);
	d = t_open(p, false, &err);
	CHECK_EQ(err, 0);
	if (d) {
		CHECK_EQ(t_read(d, 0, buf, sizeof(buf)), -EIO);
		CHECK_EQ(t_write(d, 0, buf, sizeof(buf)), -EIO);
		CHECK_EQ(t_read(d, 2 * MiB_, buf, sizeof(buf)), sizeof(buf));
		t_close(d);
	}
	p = corrupt_image("l1b.qcow2", 3, (4 * cs + 8) | QCOW2_L2_COPIED, 0, ~0ull);
	d = t_open(p, true, &err);
	if (d) {
		CHECK_EQ(t_read(d, 0, buf, sizeof(buf)), -EIO);
		t_close(d);
	}
	p = corrupt_image("l1c.qcow2", 3, (4 * cs) | (1ull << 60), 0, ~0ull);
	d = t_open(p, true, &err);
	if (d) {
		CHECK_EQ(t_read(d, 0, buf, sizeof(buf)), -EIO);
		t_close(d);
	}
	/* A bad refcount table entry: reads work, allocating writes fail. */
	p = corrupt_image("rt.qcow2", 3, 4 * cs | QCOW2_L2_COPIED, 0, 2 * cs + 16);
	d = t_open(p, false, &err);
	CHECK_EQ(err, 0);
	if (d) {
		CHECK_EQ(t_read(d, 0, buf, sizeof(buf)), sizeof(buf));
		memset(buf, 1, sizeof(buf));
		CHECK_EQ(t_write(d, 0, buf, 512), 512);	/* in place: no allocation */
		CHECK_EQ(t_write(d, 8 * cs, buf, 512), -EIO);
		t_close(d);
	}
}

/* ---- images made by qemu-img ---- */

static struct disk_image *qcreate(const char *name, const char *opts, u64 size)
{
	const char *p = tpath(name);
	struct disk_image *d;
	int err;

	if (sh("qemu-img create -q -f qcow2 %s '%s' %llu", opts, p,
	       (unsigned long long)size) != 0)
		return NULL;
	d = t_open(p, false, &err);
	CHECK_EQ(err, 0);
	return d;
}

/* Write [off, off+len) with fresh random bytes through d and the model. */
static bool model_write(struct disk_image *d, u8 *model, u64 off, u64 len)
{
	u8 *buf = malloc(len ? len : 1);
	ssize_t r;

	fill_random(buf, len);
	r = t_write(d, off, buf, len);
	if (r == (ssize_t)len)
		memcpy(model + off, buf, len);
	else
		fprintf(stderr, "  write %llu+%llu returned %zd\n", (unsigned long long)off,
			(unsigned long long)len, r);
	free(buf);
	return r == (ssize_t)len;
}

/* Close, then let qemu-img check and convert the image against the model. */
static void close_and_compare(struct disk_image *d, const u8 *model, u64 size)
{
	char path[512];

	snprintf(path, sizeof(path), "%s", d->path);
	t_close(d);
	CHECK_EQ(qimg_check(path), 0);
	CHECK(qimg_equals(path, model, size));
}

static void patterns(const char *opts)
{
	u64 size = 8 * MiB_, cs = 65536;
	u8 *model = calloc(1, size);
	struct disk_image *d = qcreate("pat.qcow2", opts, size);
	static const u64 spots[][2] = {
		{ 0, 512 }, { 512, 100 }, { 65536 - 7, 14 }, { 3 * 65536, 65536 },
		{ 5 * 65536 + 1000, 3 * 65536 }, { 2 * MiB_ - 300, 600 },
		{ 8 * MiB_ - 1, 1 }, { 4 * MiB_, 1 * MiB_ }, { 123457, 77777 },
	};

	CHECK(d != NULL);
	if (!d)
		goto out;
	for (unsigned int i = 0; i < ARRAY_SIZE(spots); i++)
		CHECK(model_write(d, model, spots[i][0], spots[i][1]));
	CHECK(t_verify(d, model, size));
	/* Overwrite in place (already allocated clusters). */
	CHECK(model_write(d, model, cs / 2, 2 * cs));
	CHECK(t_verify(d, model, size));
	close_and_compare(d, model, size);
	/* And again after reopening. */
	d = t_open(tpath("pat.qcow2"), true, &(int){ 0 });
	CHECK(d && t_verify(d, model, size));
	t_close(d);
out:
	free(model);
}

static void test_qemu_v3(void) { patterns("-o compat=1.1"); }
static void test_qemu_v2(void) { patterns("-o compat=0.10"); }
static void test_qemu_lazy_prealloc(void)
{
	patterns("-o compat=1.1,lazy_refcounts=on,preallocation=metadata");
}

static void test_readonly(void)
{
	u8 buf[512] = { 1 };
	struct disk_image *d = qcreate("ro.qcow2", "", MiB_);
	int err;

	t_close(d);
	d = t_open(tpath("ro.qcow2"), true, &err);
	CHECK_EQ(err, 0);
	if (!d)
		return;
	CHECK_EQ(t_write(d, 0, buf, sizeof(buf)), -EROFS);
	CHECK_EQ(disk_discard(d, 0, 65536), -EROFS);
	CHECK_EQ(t_read(d, MiB_ - 512, buf, sizeof(buf)), sizeof(buf));
	CHECK_EQ(t_read(d, MiB_ - 511, buf, sizeof(buf)), -EINVAL);
	t_close(d);
}

/* ---- compressed images ---- */

static u8 *mixed_source(u64 size)
{
	u8 *src = calloc(1, size);

	for (u64 off = 0; off < size; off += 65536) {
		u64 n = MIN(65536, size - off);

		switch ((off / 65536) % 4) {
		case 0:
			fill_text(src + off, n, off);
			break;
		case 1:
			fill_random(src + off, n);
			break;
		case 2:
			break;	/* zeros */
		default:	/* half compressible */
			fill_text(src + off, n / 2, off);
			fill_random(src + off + n / 2, n - n / 2);
		}
	}
	return src;
}

static void compressed(const char *opts)
{
	u64 size = 4 * MiB_ + 4096;
	u8 *model = mixed_source(size);
	const char *raw = tpath("src.raw"), *img = tpath("comp.qcow2");
	struct disk_image *d;
	int err;

	CHECK_EQ(write_file_all(raw, model, size), 0);
	CHECK_EQ(sh("qemu-img convert -q -c -O qcow2 %s '%s' '%s'", opts, raw, img), 0);
	CHECK(count_compressed(img) > 10);
	d = t_open(img, false, &err);
	CHECK_EQ(err, 0);
	if (!d)
		goto out;
	CHECK(t_verify(d, model, size));
	/* Partial writes into compressed clusters, whole-cluster overwrites. */
	for (int i = 0; i < 40; i++) {
		u64 off = rnd_below(size - 70000), len = 1 + rnd_below(70000);

		CHECK(model_write(d, model, off, len));
	}
	CHECK(t_verify(d, model, size));
	close_and_compare(d, model, size);
out:
	free(model);
}

static void test_compressed_64k(void) { compressed(""); }
static void test_compressed_4k(void) { compressed("-o cluster_size=4096"); }
static void test_compressed_512_v2(void) { compressed("-o cluster_size=512,compat=0.10"); }

/* ---- backing files ---- */

static void test_overlay(void)
{
	u64 bsize = 3 * MiB_ + 512, size = 4 * MiB_;
	u8 *model = calloc(1, size), *base_before, *base_after;
	u64 blen = 0, alen = 0;
	struct disk_image *d;
	int err;

	fill_text(model, bsize, 7);
	fill_random(model + MiB_, 100000);
	CHECK_EQ(write_file_all(tpath("base.raw"), model, bsize), 0);
	CHECK_EQ(sh("cd '%s' && qemu-img convert -q -O qcow2 -o cluster_size=4096 base.raw base.qcow2 "
		    "&& qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 ov.qcow2 %llu",
		    tdir, (unsigned long long)size), 0);
	base_before = read_file_all(tpath("base.qcow2"), &blen);
	d = t_open(tpath("ov.qcow2"), false, &err);
	CHECK_EQ(err, 0);
	if (!d)
		goto out;
	CHECK(t_verify(d, model, size));
	CHECK(model_write(d, model, 100, 200));			/* COW from base */
	CHECK(model_write(d, model, bsize - 1000, 5000));	/* across the base's end */
	CHECK(model_write(d, model, MiB_ + 65536, 65536));	/* whole cluster */
	CHECK(model_write(d, model, size - 10, 10));		/* past the base */
	CHECK(t_verify(d, model, size));
	close_and_compare(d, model, size);
	base_after = read_file_all(tpath("base.qcow2"), &alen);
	CHECK(base_before && base_after && alen == blen && !memcmp(base_before, base_after, blen));
	free(base_after);
out:
	free(base_before);
	free(model);
}

static void test_overlay_raw_base_v2(void)
{
	u64 size = 2 * MiB_;
	u8 *model = calloc(1, size);
	struct disk_image *d;
	int err;

	fill_random(model, size);
	CHECK_EQ(write_file_all(tpath("rbase.raw"), model, size), 0);
	CHECK_EQ(sh("cd '%s' && qemu-img create -q -f qcow2 -o compat=0.10 -b rbase.raw -F raw "
		    "rov.qcow2", tdir), 0);
	d = t_open(tpath("rov.qcow2"), false, &err);
	CHECK_EQ(err, 0);
	if (!d)
		goto out;
	CHECK(t_verify(d, model, size));
	CHECK(model_write(d, model, 70000, 3000));
	/* Version 2 has no zero flag: write-zeroes must write real zeros. */
	CHECK_EQ(disk_write_zeroes(d, 131072, 65536 * 2, true), 0);
	memset(model + 131072, 0, 65536 * 2);
	/* Discard over a backing file in v2 may keep the data: no check. */
	CHECK(t_verify(d, model, size));
	close_and_compare(d, model, size);
out:
	free(model);
}

static void test_backing_chain(void)
{
	u64 size = MiB_;
	u8 *model = calloc(1, size);
	struct disk_image *d;
	char name[32];
	int err;

	fill_random(model, size);
	CHECK_EQ(write_file_all(tpath("chain0"), model, size), 0);
	CHECK_EQ(sh("cd '%s' && qemu-img convert -q -O qcow2 chain0 chain1", tdir), 0);
	for (int i = 2; i <= QCOW2_MAX_CHAIN + 2; i++)
		CHECK_EQ(sh("cd '%s' && qemu-img create -q -f qcow2 -b chain%d -F qcow2 chain%d",
			    tdir, i - 1, i), 0);
	/* chainN opens N-1 backing files below it. */
	d = t_open(tpath("chain4"), true, &err);
	CHECK_EQ(err, 0);
	CHECK(d && t_verify(d, model, size));
	t_close(d);
	snprintf(name, sizeof(name), "chain%d", QCOW2_MAX_CHAIN + 1);
	d = t_open(tpath(name), true, &err);
	CHECK_EQ(err, 0);
	t_close(d);
	snprintf(name, sizeof(name), "chain%d", QCOW2_MAX_CHAIN + 2);
	CHECK_EQ(open_err(tpath(name), true), -ELOOP);
	/* A backing file that is itself: a loop. */
	CHECK_EQ(sh("cd '%s' && qemu-img create -q -f qcow2 loop.qcow2 1M && "
		    "qemu-img rebase -q -u -f qcow2 -b loop.qcow2 -F qcow2 loop.qcow2", tdir), 0);
	CHECK_EQ(open_err(tpath("loop.qcow2"), true), -ELOOP);
	/*
	 * Declared raw, but holds a qcow2 header: the declaration wins, so the
	 * overlay shows chain1's file bytes (its qcow2 header first), never
	 * what chain1 would lead to as qcow2.
	 */
	CHECK_EQ(sh("cd '%s' && qemu-img create -q -f qcow2 -b chain1 -F raw liar.qcow2", tdir), 0);
	d = t_open(tpath("liar.qcow2"), true, &err);
	CHECK_EQ(err, 0);
	if (d) {
		u64 flen = 0;
		u8 *file = read_file_all(tpath("chain1"), &flen), *got = malloc(flen);

		CHECK(file && got && t_read(d, 0, got, flen) == (ssize_t)flen &&
		      !memcmp(got, file, flen) && !memcmp(got, "QFI\xfb", 4));
		free(file);
		free(got);
		t_close(d);
	}
	free(model);
}

/* ---- snapshots: writes must copy shared L2 tables and clusters ---- */

static void test_snapshot_cow(void)
{
	u64 size = 2 * MiB_;
	u8 *model = calloc(1, size), *snap = malloc(size);
	struct disk_image *d = qcreate("snap.qcow2", "-o cluster_size=4096", size);
	const char *p = tpath("snap.qcow2");
	int err;

	if (!d)
		goto out;
	for (int i = 0; i < 30; i++)
		CHECK(model_write(d, model, rnd_below(size - 20000), 1 + rnd_below(20000)));
	t_close(d);
	memcpy(snap, model, size);
	CHECK_EQ(sh("qemu-img snapshot -c s1 '%s'", p), 0);
	d = t_open(p, false, &err);
	CHECK_EQ(err, 0);
	if (!d)
		goto out;
	CHECK(t_verify(d, model, size));
	for (int i = 0; i < 30; i++)
		CHECK(model_write(d, model, rnd_below(size - 20000), 1 + rnd_below(20000)));
	CHECK_EQ(disk_discard(d, 0, 65536), 0);
	memset(model, 0, 65536);
	CHECK(t_verify(d, model, size));
	close_and_compare(d, model, size);
	CHECK_EQ(sh("qemu-img snapshot -a s1 '%s'", p), 0);
	CHECK(qimg_equals(p, snap, size));
	CHECK_EQ(qimg_check(p), 0);
out:
	free(model);
	free(snap);
}

/* ---- discard and write-zeroes ---- */

static void zeroes(bool with_backing)
{
	u64 size = 2 * MiB_, cs = 4096;
	u8 *model = calloc(1, size);
	struct disk_image *d;
	int err;

	if (with_backing) {
		fill_random(model, size);
		CHECK_EQ(write_file_all(tpath("zbase.raw"), model, size), 0);
		CHECK_EQ(sh("cd '%s' && qemu-img create -q -f qcow2 -o cluster_size=4096 "
			    "-b zbase.raw -F raw z.qcow2", tdir), 0);
	} else {
		CHECK_EQ(sh("qemu-img create -q -f qcow2 -o cluster_size=4096 '%s' %llu",
			    tpath("z.qcow2"), (unsigned long long)size), 0);
	}
	d = t_open(tpath("z.qcow2"), false, &err);
	CHECK_EQ(err, 0);
	if (!d)
		goto out;
	CHECK(model_write(d, model, 0, MiB_));
	/* keep allocation, whole and partial clusters */
	CHECK_EQ(disk_write_zeroes(d, 10 * cs, 5 * cs, false), 0);
	memset(model + 10 * cs, 0, 5 * cs);
	CHECK_EQ(disk_write_zeroes(d, 20 * cs + 100, 3 * cs, false), 0);
	memset(model + 20 * cs + 100, 0, 3 * cs);
	/* unmap, also over unallocated clusters and the backing file */
	CHECK_EQ(disk_write_zeroes(d, 30 * cs, 300 * cs, true), 0);
	memset(model + 30 * cs, 0, 300 * cs);
	/* discard: whole clusters read as zeros afterwards here */
	CHECK_EQ(disk_discard(d, 400 * cs, 10 * cs), 0);
	memset(model + 400 * cs, 0, 10 * cs);
	CHECK(t_verify(d, model, size));
	/* Rewrite into zeroed / discarded clusters. */
	CHECK(model_write(d, model, 12 * cs + 10, 100));
	CHECK(model_write(d, model, 401 * cs + 10, 100));
	CHECK(t_verify(d, model, size));
	close_and_compare(d, model, size);
out:
	free(model);
}

static void test_zeroes(void) { zeroes(false); }
static void test_zeroes_over_backing(void) { zeroes(true); }

/* ---- random stress against the model ---- */

/* One random operation on d, mirrored in model. */
static bool random_op(struct disk_image *d, u8 *model, u64 size, u64 cs, bool zero_ops)
{
	u64 op = rnd_below(zero_ops ? 10 : 8), len, off;

	len = 1 + rnd_below(op == 0 ? 4 * cs : 2 * cs);
	if (rnd_below(3) == 0)
		len = ALIGN_UP(len, cs);
	len = MIN(len, size);
	off = rnd_below(size - len + 1);
	if (rnd_below(2))
		off = ALIGN_DOWN(off, 512);
	if (op < 7)
		return model_write(d, model, off, len);
	if (op == 7) {
		u8 *buf = malloc(len);
		bool ok = t_read(d, off, buf, len) == (ssize_t)len &&
			  same_bytes(buf, model + off, len, "random read");

		free(buf);
		return ok;
	}
	if (disk_write_zeroes(d, off, len, op == 9))
		return false;
	memset(model + off, 0, len);
	return true;
}

static bool stress(struct disk_image *d, u8 *model, u64 size, u64 cs, int ops, bool zero_ops)
{
	for (int i = 0; i < ops; i++) {
		if (!random_op(d, model, size, cs, zero_ops)) {
			fprintf(stderr, "  operation %d failed\n", i);
			return false;
		}
	}
	return t_verify(d, model, size);
}

static void stress_image(const char *opts, u64 size, u64 cs, int ops)
{
	u8 *model = calloc(1, size);
	struct disk_image *d = qcreate("stress.qcow2", opts, size);

	CHECK(d != NULL);
	if (d) {
		CHECK(stress(d, model, size, cs, ops, true));
		close_and_compare(d, model, size);
	}
	free(model);
}

/* 512-byte clusters: L2 tables hold 64 entries, refcount blocks 256. */
static void test_stress_512(void)
{
	u64 size = 24 * MiB_;
	u8 *model = calloc(1, size);
	struct disk_image *d = qcreate("s512.qcow2", "-o cluster_size=512", size);
	const char *p = tpath("s512.qcow2");
	u64 rt_at = offsetof(struct qcow2_disk_header, refcount_table_offset), rt0;

	if (!d)
		goto out;
	rt0 = file_header64(p, rt_at);
	CHECK(stress(d, model, size, 512, 3000, true));
	/* Fill it: 24 MiB of 512-byte clusters outgrow the 64-entry table. */
	CHECK(model_write(d, model, 0, size));
	CHECK(file_header64(p, rt_at) != rt0);
	CHECK(t_verify(d, model, size));
	close_and_compare(d, model, size);
out:
	free(model);
}

static void test_stress_4k(void) { stress_image("-o cluster_size=4096", 32 * MiB_, 4096, 3000); }
static void test_stress_refcount_widths(void)
{
	stress_image("-o cluster_size=512,refcount_bits=1", 4 * MiB_, 512, 800);
	stress_image("-o cluster_size=1024,refcount_bits=2", 4 * MiB_, 1024, 800);
	stress_image("-o cluster_size=4096,refcount_bits=8", 4 * MiB_, 4096, 800);
	stress_image("-o cluster_size=512,refcount_bits=32", 4 * MiB_, 512, 800);
	stress_image("-o cluster_size=512,refcount_bits=64", 4 * MiB_, 512, 800);
}

static void test_stress_v2_2m(void)
{
	stress_image("-o compat=0.10,cluster_size=2M", 16 * MiB_, 2 * MiB_, 120);
}

/* Several threads at once, each on its own region (virtio-blk queues). */
struct thread_arg {
	struct disk_image *d;
	u8 *model;
	u64 start, len;
	u64 seed;
	bool ok;
};

static void *writer(void *p)
{
	struct thread_arg *a = p;
	u64 x = a->seed;

	a->ok = true;
	for (int i = 0; i < 400 && a->ok; i++) {
		u64 len, off;
		u8 buf[3000];

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		len = 1 + x % sizeof(buf);
		off = a->start + (x >> 20) % (a->len - len);
		for (u64 j = 0; j < len; j++)
			buf[j] = (u8)(x >> (j % 56)) + (u8)j;
		struct iovec iov = { buf, len };
		if (disk_write(a->d, off, &iov, 1) != (ssize_t)len)
			a->ok = false;
		memcpy(a->model + off, buf, len);
	}
	return NULL;
}

static void test_threads(void)
{
	u64 size = 8 * MiB_;
	u8 *model = calloc(1, size);
	struct disk_image *d = qcreate("thr.qcow2", "-o cluster_size=512", size);
	struct thread_arg a[4];
	pthread_t t[4];

	if (!d)
		goto out;
	for (int i = 0; i < 4; i++) {
		a[i] = (struct thread_arg){ d, model, i * size / 4, size / 4, 0x1234567ull * (i + 1), false };
		pthread_create(&t[i], NULL, writer, &a[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK(a[i].ok);
	}
	CHECK(t_verify(d, model, size));
	close_and_compare(d, model, size);
out:
	free(model);
}

/* qemu-img itself makes images we must refuse, and a dirty one. */
static void test_qemu_refused(void)
{
	const char *p = tpath("refuse.qcow2");
	u64 dirty = htobe64(QCOW2_INCOMPAT_DIRTY);
	int fd;

	CHECK_EQ(sh("qemu-img create -q -f qcow2 -o extended_l2=on '%s' 1M", p), 0);
	CHECK_EQ(open_err(p, true), -ENOTSUP);
	if (sh("qemu-img create -q -f qcow2 -o compression_type=zstd '%s' 1M 2>/dev/null", p) == 0)
		CHECK_EQ(open_err(p, true), -ENOTSUP);
	else
		printf("  (qemu-img has no zstd: compression_type case covered by hand-made image)\n");
	/* AES: creating LUKS runs a flaky key-derivation benchmark; LUKS is hand-made above. */
	CHECK_EQ(sh("qemu-img create -q -f qcow2 -o encrypt.format=aes,encrypt.key-secret=s "
		    "--object secret,id=s,data=x '%s' 1M", p), 0);
	CHECK_EQ(open_err(p, true), -ENOTSUP);
	CHECK_EQ(sh("qemu-img create -q -f qcow2 '%s' 1M", p), 0);
	fd = open(p, O_WRONLY);
	CHECK_EQ(pwrite(fd, &dirty, 8, offsetof(struct qcow2_disk_header, incompatible_features)), 8);
	close(fd);
	CHECK_EQ(open_err(p, false), -EINVAL);
	CHECK_EQ(open_err(p, true), 0);
}

/* ---- probing: a raw image stays raw (issue 9, finding 1) ---- */

/*
 * Run fn in a child process that SIGALRM kills after secs seconds, so a
 * hang fails the case instead of blocking the suite.  The child's CHECKs
 * count through its exit status.
 */
static void in_child(void (*fn)(void), unsigned int secs)
{
	pid_t pid = fork();
	int st = 0;

	if (pid == 0) {
		alarm(secs);
		fn();
		_exit(unit_case_failed);
	}
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	if (WIFSIGNALED(st))
		fprintf(stderr, "  child killed by signal %d%s\n", WTERMSIG(st),
			WTERMSIG(st) == SIGALRM ? " (timed out: it hung)" : "");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/*
 * A complete small qcow2 image (4 clusters of 4 KiB) whose backing file is
 * `backing`, declared as backing format fmt (NULL: no declaration): what a
 * guest would write into sector 0 of its raw disk.
 */
static void attack_image(struct himg *h, const char *backing, const char *fmt, u64 size)
{
	size_t n = strlen(backing), pos = QCOW2_V3_HEADER_LEN;

	himg_build(h, 3, 12, size, 0);
	if (fmt) {
		put32(h->buf + pos, QCOW2_EXT_BACKING_FORMAT);
		put32(h->buf + pos + 4, (u32)strlen(fmt));
		memcpy(h->buf + pos + 8, fmt, strlen(fmt));
	}
	put64(HDR(h, backing_file_offset), 1024);
	put32(HDR(h, backing_file_size), (u32)n);
	memcpy(h->buf + 1024, backing, n);
}

#define SECRET "LKVM-HOST-SECRET-0123456789"

/* A raw image of 1 MiB of 0x5a, and a host file holding SECRET. */
static const char *guard_setup(const char *name)
{
	u8 *buf = malloc(MiB_);
	const char *p = tpath(name);

	memset(buf, 0x5a, MiB_);
	CHECK_EQ(write_file_all(p, buf, MiB_), 0);
	CHECK_EQ(write_file_all(tpath("secret.txt"), SECRET, strlen(SECRET)), 0);
	free(buf);
	return p;
}

static bool shows_secret(struct disk_image *d)
{
	u8 buf[4096] = { 0 };

	return t_read(d, 0, buf, sizeof(buf)) == sizeof(buf) &&
	       memmem(buf, sizeof(buf), SECRET, strlen(SECRET)) != NULL;
}

static ssize_t result;
static void on_complete(struct disk_req *req, ssize_t ret) { result = ret; }

static void test_probed_raw_refuses_qcow2_header(void)
{
	const char *p = guard_setup("guard.raw");
	u8 *before, *after, mbr[512];
	u64 blen = 0, alen = 0;
	struct disk_image *d;
	struct himg h;
	struct iovec v;
	struct disk_req req;
	int err;

	attack_image(&h, tpath("secret.txt"), "raw", MiB_);
	before = read_file_all(p, &blen);
	d = t_open_as(p, NULL, false, &err);
	CHECK(d && !strcmp(d->ops->name, "raw") && d->probed && d->guard_head);
	if (!d)
		goto out;
	/* The whole image, split into iovecs; then the magic alone. */
	CHECK_EQ(t_write(d, 0, h.buf, h.len), -EPERM);
	CHECK_EQ(t_write(d, 0, "QFI\xfb", 4), -EPERM);
	/* Unaligned: "QF" alone is harmless, "I\xfb" after it completes the magic. */
	CHECK_EQ(t_write(d, 0, "QF", 2), 2);
	CHECK_EQ(t_write(d, 2, "I\xfb", 2), -EPERM);
	CHECK_EQ(t_write(d, 1, "FI\xfb", 3), -EPERM);
	/* The asynchronous door is guarded too. */
	v = (struct iovec){ h.buf, 4096 };
	req = (struct disk_req){ .type = DISK_REQ_WRITE, .iov = &v, .iovcnt = 1,
				 .complete = on_complete };
	result = 1;
	disk_submit(d, &req);
	disk_unplug(d);
	CHECK_EQ(result, -EPERM);
	/* Zeros cannot make a header; other data is fine; so is magic elsewhere. */
	CHECK_EQ(disk_write_zeroes(d, 0, 4096, false), 0);
	CHECK_EQ(disk_discard(d, 0, 4096), 0);
	memset(mbr, 0, sizeof(mbr));
	mbr[510] = 0x55;
	mbr[511] = 0xaa;
	CHECK_EQ(t_write(d, 0, mbr, sizeof(mbr)), sizeof(mbr));
	CHECK_EQ(t_write(d, 512, h.buf, h.len), (ssize_t)h.len);
	t_close(d);
	after = read_file_all(p, &alen);
	CHECK(after && alen == blen && !memcmp(after, mbr, sizeof(mbr)));
	/* The next start (no format=) still sees a raw image without the secret. */
	d = t_open_as(p, NULL, false, &err);
	CHECK(d && !strcmp(d->ops->name, "raw") && !shows_secret(d));
	t_close(d);
	free(after);
out:
	free(before);
	free(h.buf);
}

static void test_format_raw_allows_header(void)
{
	const char *p = guard_setup("fmtraw.raw");
	struct disk_image *d;
	struct himg h;
	int err;

	attack_image(&h, tpath("secret.txt"), "raw", MiB_);
	d = t_open_as(p, "raw", false, &err);
	CHECK(d && !d->probed && !d->guard_head);
	if (d)
		CHECK_EQ(t_write(d, 0, h.buf, h.len), (ssize_t)h.len);
	t_close(d);
	/* Now it holds a qcow2 header, and format=raw still opens it raw. */
	d = t_open_as(p, "raw", true, &err);
	CHECK(d && !strcmp(d->ops->name, "raw"));
	if (d) {
		u8 buf[16];

		CHECK_EQ(d->size, MiB_);
		CHECK(t_read(d, 0, buf, 4) == 4 && !memcmp(buf, "QFI\xfb", 4));
		CHECK(!shows_secret(d));
	}
	t_close(d);
	free(h.buf);
}

static void test_format_option(void)
{
	const char *p = guard_setup("fmt.raw");
	struct disk_image *d;
	struct himg h;
	int err;

	/* format=qcow2 on a raw file: refused. */
	d = t_open_as(p, "qcow2", true, &err);
	CHECK(d == NULL);
	CHECK_EQ(err, -EINVAL);
	/* format=raw on a real qcow2 image: raw, the file's own size. */
	himg_build(&h, 3, 12, 16 * MiB_, 0);
	p = himg_save(&h, "fmt.qcow2");
	d = t_open_as(p, "raw", true, &err);
	CHECK(d && !strcmp(d->ops->name, "raw") && d->size == 4 * 4096);
	t_close(d);
	d = t_open_as(p, NULL, true, &err);
	CHECK(d && !strcmp(d->ops->name, "qcow2") && d->size == 16 * MiB_);
	t_close(d);
}

/*
 * A backing file without a declared format is probed, and may be qcow2,
 * but not a qcow2 naming a backing file of its own: that is what a guest
 * planting a header in a raw backing file would need.
 */
static void test_guessed_backing_chain_refused(void)
{
	struct himg top, planted;
	struct disk_image *d;
	int err;

	guard_setup("unused.raw");
	attack_image(&planted, tpath("secret.txt"), "raw", MiB_);
	himg_save(&planted, "planted.raw");
	attack_image(&top, tpath("planted.raw"), NULL, MiB_);
	d = t_open_as(himg_save(&top, "top.qcow2"), NULL, true, &err);
	CHECK(d == NULL);
	CHECK_EQ(err, -EINVAL);
	t_close(d);
	/* Declared raw, it is raw: the overlay shows its bytes, not the secret. */
	attack_image(&top, tpath("planted.raw"), "raw", MiB_);
	d = t_open_as(himg_save(&top, "top-raw.qcow2"), NULL, true, &err);
	CHECK(d && !shows_secret(d));
	t_close(d);
	/* Declared qcow2, the chain is followed (the user said so). */
	attack_image(&top, tpath("planted.raw"), "qcow2", MiB_);
	d = t_open_as(himg_save(&top, "top-q.qcow2"), NULL, true, &err);
	CHECK(d && shows_secret(d));
	t_close(d);
	/* A plain qcow2 without a backing file of its own is a fine guess. */
	himg_build(&planted, 3, 12, MiB_, 0);
	himg_save(&planted, "plain-base.qcow2");
	attack_image(&top, tpath("plain-base.qcow2"), NULL, MiB_);
	d = t_open_as(himg_save(&top, "top-plain.qcow2"), NULL, true, &err);
	CHECK_EQ(err, 0);
	t_close(d);
}

/* ---- backing files that are not files ---- */

static int backing_open_err(const char *backing, const char *fmt)
{
	struct himg h;
	int err;

	attack_image(&h, backing, fmt, MiB_);
	t_close(t_open_as(himg_save(&h, "odd-backing.qcow2"), NULL, true, &err));
	return err;
}

static void backing_fifo(void)
{
	const char *fifo = tpath("backing.fifo");

	unlink(fifo);
	CHECK_EQ(mkfifo(fifo, 0600), 0);
	CHECK_EQ(backing_open_err(fifo, "raw"), -EINVAL);
	CHECK_EQ(backing_open_err(fifo, NULL), -EINVAL);
}

static void backing_devices(void)
{
	CHECK_EQ(backing_open_err("/dev/zero", "raw"), -EINVAL);
	CHECK_EQ(backing_open_err("/dev/null", NULL), -EINVAL);
}

/* Opening a terminal as a backing file must not make it ours (O_NOCTTY). */
static void backing_tty(void)
{
	int master, tty;
	const char *slave;

	CHECK(setsid() > 0);
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) || unlockpt(master) || !(slave = ptsname(master))) {
		printf("  (no pseudo-terminals here: terminal case skipped)\n");
		return;
	}
	CHECK_EQ(backing_open_err(slave, "raw"), -EINVAL);
	tty = open("/dev/tty", O_RDWR | O_NOCTTY);
	CHECK(tty < 0);
	if (tty >= 0)
		fprintf(stderr, "  opening %s gave this process a controlling terminal\n", slave);
	close(master);
}

static void test_backing_not_a_file(void)
{
	in_child(backing_fifo, 5);
	in_child(backing_devices, 5);
	in_child(backing_tty, 5);
}

/* ---- crafted images: bounded memory and bounded work ---- */

static long max_rss_kib(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) ? 0 : ru.ru_maxrss;
}

/*
 * A sparse 64 MiB file with a few KiB of data: 64 KiB clusters, a 32 MiB
 * L1 table and a 32 MiB refcount table, and itself as its backing file.
 * Each level of that loop used to load both tables and its caches (about
 * 1.1 GB for the 16 levels) before the depth limit stopped it.
 */
static void huge_tables(void)
{
	u64 cs = 65536, l1 = 513 * cs, rb = 1025 * cs;
	long before = max_rss_kib(), grew;
	const char *p = tpath("huge.qcow2");
	struct disk_image *d;
	struct himg h;
	int err, fd;

	attack_image(&h, "huge.qcow2", "qcow2", 1ull << 40);
	put32(HDR(&h, cluster_bits), 16);
	put32(HDR(&h, l1_size), 4u << 20);
	put64(HDR(&h, l1_table_offset), l1);
	put64(HDR(&h, refcount_table_offset), cs);
	put32(HDR(&h, refcount_table_clusters), 512);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && pwrite(fd, h.buf, 4096, 0) == 4096);
	put64(h.buf, rb);	/* refcount table entry 0 */
	CHECK(pwrite(fd, h.buf, 8, (off_t)cs) == 8);
	CHECK(ftruncate(fd, (off_t)(rb + cs)) == 0);
	close(fd);
	free(h.buf);
	d = t_open(p, false, &err);
	CHECK(d == NULL);
	CHECK_EQ(err, -EFBIG);
	t_close(d);
	grew = (max_rss_kib() - before) / 1024;
	if (grew > 320)
		fprintf(stderr, "  opening it took %ld MiB\n", grew);
	CHECK(grew <= 320);
}

static void test_chain_memory_bounded(void)
{
	in_child(huge_tables, 60);
}

/*
 * 256 KiB, 64 KiB clusters, 1-bit refcounts, and all 8192 refcount table
 * entries point at one refcount block of all ones: every one of 2^32
 * clusters reads as in use.  The first allocating write used to scan them
 * all; now the search ends at the end of the file, where the refcount
 * claiming a cluster past it is corruption.
 */
static void all_ones(void)
{
	u64 cs = 65536;
	struct timespec t0, t1;
	struct disk_image *d;
	struct himg h;
	u8 buf[4096] = { 1 };
	ssize_t r;
	double secs;
	int err;

	himg_build(&h, 3, 16, 1ull << 30, 0);
	put32(HDR(&h, refcount_order), 0);
	for (u64 i = 0; i < cs / 8; i++)
		put64(h.buf + cs + 8 * i, 2 * cs);
	memset(h.buf + 2 * cs, 0xff, cs);
	d = t_open(himg_save(&h, "ones.qcow2"), false, &err);
	CHECK_EQ(err, 0);
	if (!d)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = t_write(d, 0, buf, sizeof(buf));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(r == -EIO || r == (ssize_t)sizeof(buf));
	if (secs >= 1.0)
		fprintf(stderr, "  the allocating write took %.1f s\n", secs);
	CHECK(secs < 1.0);
	t_close(d);
}

static void test_all_ones_refcounts(void)
{
	in_child(all_ones, 30);
}

/* ---- --exercise: one image, driven by tests/qcow2/run.sh ---- */

static int exercise(const char *img, const char *ref, const char *out, u64 seed, int ops)
{
	u64 size = 0;
	u8 *model = read_file_all(ref, &size);
	struct disk_image *d;
	int err, ret = 1;

	rng_state = seed | 1;
	d = t_open(img, false, &err);
	if (!model || !d) {
		fprintf(stderr, "exercise: cannot open %s (%d) or %s\n", img, err, ref);
		goto out;
	}
	if (d->size != size) {
		fprintf(stderr, "exercise: %s has %llu bytes, the reference %llu\n", img,
			(unsigned long long)d->size, (unsigned long long)size);
		goto out;
	}
	if (!t_verify(d, model, size) ||
	    !stress(d, model, size, 8192, ops, true))
		goto out;
	ret = write_file_all(out, model, size) ? 1 : 0;
out:
	t_close(d);
	free(model);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc == 7 && !strcmp(argv[1], "--exercise"))
		return exercise(argv[2], argv[3], argv[4], strtoull(argv[5], NULL, 0),
				atoi(argv[6]));
	setvbuf(stdout, NULL, _IOLBF, 0);
	tdir_make();
	qemu_ok = have_qemu_img();
	RUN(test_header_valid);
	RUN(test_header_refused);
	RUN(test_corrupt_entries);
	RUN(test_corrupt_l1_and_refcounts);
	RUN(test_probed_raw_refuses_qcow2_header);
	RUN(test_format_raw_allows_header);
	RUN(test_format_option);
	RUN(test_guessed_backing_chain_refused);
	RUN(test_backing_not_a_file);
	RUN(test_chain_memory_bounded);
	RUN(test_all_ones_refcounts);
	QRUN(test_qemu_v3);
	QRUN(test_qemu_v2);
	QRUN(test_qemu_lazy_prealloc);
	QRUN(test_readonly);
	QRUN(test_compressed_64k);
	QRUN(test_compressed_4k);
	QRUN(test_compressed_512_v2);
	QRUN(test_overlay);
	QRUN(test_overlay_raw_base_v2);
	QRUN(test_backing_chain);
	QRUN(test_snapshot_cow);
	QRUN(test_zeroes);
	QRUN(test_zeroes_over_backing);
	QRUN(test_stress_512);
	QRUN(test_stress_4k);
	QRUN(test_stress_refcount_widths);
	QRUN(test_stress_v2_2m);
	QRUN(test_threads);
	QRUN(test_qemu_refused);
	return unit_summary();
}

#ifndef LKVM_TESTS_QCOW2_UTIL_H
#define LKVM_TESTS_QCOW2_UTIL_H
/*
 * Helpers for the qcow2 tests: opening an image through disk_open(), I/O
 * through the block layer's entry points with split iovecs, a
 * deterministic PRNG, qemu-img wrappers, and a builder for small
 * hand-made images (for header and corruption cases).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "lkvm/disk.h"
#include "disk/qcow2.h"

static char tdir[256];		/* scratch directory, removed at exit */

static void tdir_remove(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	if (tdir[0] && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tdir);
}

static void tdir_make(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tdir, sizeof(tdir), "%s/lkvm-qcow2-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(tdir)) {
		perror("mkdtemp");
		exit(1);
	}
	atexit(tdir_remove);
}

static const char *tpath(const char *name)
{
	static char bufs[8][512];
	static int n;
	char *p = bufs[n++ % 8];

	snprintf(p, 512, "%s/%s", tdir, name);
	return p;
}

/* ---- shell commands ---- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static bool have_qemu_img(void)
{
	return sh("qemu-img --version >/dev/null 2>&1") == 0 &&
	       sh("qemu-io --version >/dev/null 2>&1") == 0;
}

/* qemu-img check: 0 only when it finds neither errors nor leaks. */
static int qimg_check(const char *img)
{
	int st = sh("qemu-img check -q '%s' > '%s/check.out' 2>&1", img, tdir);

	if (st != 0) {
		fprintf(stderr, "  qemu-img check %s exited %d:\n", img, st);
		sh("sed 's/^/    /' '%s/check.out' | head -20 >&2", tdir);
	}
	return st;
}

/* ---- files and buffers ---- */

static u8 *read_file_all(const char *path, u64 *len)
{
	struct stat st;
	u8 *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	buf = malloc(st.st_size ? st.st_size : 1);
	if (buf && pread(fd, buf, st.st_size, 0) != st.st_size) {
		free(buf);
		buf = NULL;
	}
	close(fd);
	*len = st.st_size;
	return buf;
}

static int write_file_all(const char *path, const void *buf, u64 len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (pwrite(fd, buf, len, 0) != (ssize_t)len)
		ret = -EIO;
	close(fd);
	return ret;
}

/* Does the image, converted to raw by qemu-img, equal want[0..len)? */
static bool qimg_equals(const char *img, const u8 *want, u64 len)
{
	const char *raw = tpath("converted.raw");
	u64 got_len = 0;
	u8 *got;
	bool same;

	if (sh("qemu-img convert -O raw '%s' '%s'", img, raw) != 0)
		return false;
	got = read_file_all(raw, &got_len);
	same = got && got_len == len && !memcmp(got, want, len);
	if (got && !same) {
		u64 i = 0;

		while (i < MIN(got_len, len) && got[i] == want[i])
			i++;
		fprintf(stderr, "  %s differs from the model at byte %llu (sizes %llu/%llu)\n",
			img, (unsigned long long)i, (unsigned long long)got_len,
			(unsigned long long)len);
	}
	free(got);
	return same;
}

static bool same_bytes(const u8 *got, const u8 *want, u64 len, const char *what)
{
	for (u64 i = 0; i < len; i++) {
		if (got[i] != want[i]) {
			fprintf(stderr, "  %s: byte %llu is 0x%02x, expected 0x%02x\n", what,
				(unsigned long long)i, got[i], want[i]);
			return false;
		}
	}
	return true;
}

/* ---- PRNG ---- */

static u64 rng_state = 0x9e3779b97f4a7c15ull;

static u64 rnd(void)
{
	u64 x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static u64 rnd_below(u64 n)
{
	return n ? rnd() % n : 0;
}

static void fill_random(u8 *buf, u64 len)
{
	for (u64 i = 0; i < len; i++)
		buf[i] = (u8)(rnd() >> 24);
}

/* Compressible but not trivial: text-like runs. */
static void fill_text(u8 *buf, u64 len, u64 seed)
{
	for (u64 i = 0; i < len; i++)
		buf[i] = (u8)("lkvm qcow2 test pattern "[(i + seed) % 24] + ((i / 4096 + seed) & 3));
}

/* ---- opening ---- */

/* Open path through disk_open(), format= fmt (NULL: probe). */
static struct disk_image *t_open_as(const char *path, const char *fmt, bool ro, int *err)
{
	struct disk_params p = { .readonly = ro, .sync = true };
	char spec[600];
	const char *why;

	snprintf(spec, sizeof(spec), "%s%s%s", path, fmt ? ",format=" : "", fmt ? fmt : "");
	if (disk_parse_spec(spec, &p, &why)) {
		fprintf(stderr, "  bad spec %s: %s\n", spec, why);
		*err = -EINVAL;
		return NULL;
	}
	p.readonly = ro;
	p.sync = true;
	*err = 0;
	return disk_open(&p, err);
}

/* A qcow2 image, whatever it starts with. */
static struct disk_image *t_open(const char *path, bool ro, int *err)
{
	return t_open_as(path, "qcow2", ro, err);
}

static void t_close(struct disk_image *d)
{
	disk_close(d);
}

/* Split buf into up to three iovecs at random points. */
static int split_iov(struct iovec *iov, u8 *buf, u64 len)
{
	u64 a = rnd_below(len + 1), b = rnd_below(len + 1), t;

	if (a > b) {
		t = a;
		a = b;
		b = t;
	}
	iov[0] = (struct iovec){ buf, a };
	iov[1] = (struct iovec){ buf + a, b - a };
	iov[2] = (struct iovec){ buf + b, len - b };
	return 3;
}

static ssize_t t_write(struct disk_image *d, u64 off, const void *buf, u64 len)
{
	struct iovec iov[3];
	int n = split_iov(iov, (u8 *)buf, len);

	return disk_write(d, off, iov, n);
}

static ssize_t t_read(struct disk_image *d, u64 off, void *buf, u64 len)
{
	struct iovec iov[3];
	int n = split_iov(iov, buf, len);

	return disk_read(d, off, iov, n);
}

/* Read the whole disk through the driver and compare with the model. */
static bool t_verify(struct disk_image *d, const u8 *model, u64 size)
{
	u64 chunk = 1 << 20;
	u8 *buf = malloc(chunk);
	bool ok = true;

	for (u64 off = 0; ok && off < size; off += chunk) {
		u64 n = MIN(chunk, size - off);
		ssize_t r = t_read(d, off, buf, n);

		if (r != (ssize_t)n) {
			fprintf(stderr, "  read at %llu returned %zd\n", (unsigned long long)off, r);
			ok = false;
		} else if (memcmp(buf, model + off, n)) {
			for (u64 i = 0; i < n; i++)
				if (buf[i] != model[off + i]) {
					fprintf(stderr, "  disk byte %llu is 0x%02x, model 0x%02x\n",
						(unsigned long long)(off + i), buf[i], model[off + i]);
					break;
				}
			ok = false;
		}
	}
	free(buf);
	return ok;
}

/* ---- looking inside an image file ---- */

static u64 get64(const u8 *p)
{
	u64 v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

static u32 get32(const u8 *p)
{
	u32 v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

/* Header field at byte offset `at` (8 bytes), straight from the file. */
static u64 file_header64(const char *path, size_t at)
{
	u8 b[8] = { 0 };
	int fd = open(path, O_RDONLY);

	if (fd >= 0 && pread(fd, b, 8, at) != 8)
		memset(b, 0, 8);
	if (fd >= 0)
		close(fd);
	return get64(b);
}

/* L2 entries of the active L1 with the compressed bit, read independently. */
static u64 count_compressed(const char *path)
{
	u64 len = 0, n = 0;
	u8 *f = read_file_all(path, &len);
	u32 cb = f && len >= 72 ? get32(f + 20) : 0, l1_size;
	u64 l1, cs = 1ull << cb;

	if (!f || cb < 9 || cb > 21)
		goto out;
	l1_size = get32(f + 36);
	l1 = get64(f + 40);
	for (u64 i = 0; i < l1_size && l1 + 8 * i + 8 <= len; i++) {
		u64 l2 = get64(f + l1 + 8 * i) & QCOW2_OFFSET_MASK;

		for (u64 j = 0; l2 && j < cs / 8 && l2 + 8 * j + 8 <= len; j++)
			n += !!(get64(f + l2 + 8 * j) & QCOW2_L2_COMPRESSED);
	}
out:
	free(f);
	return n;
}

/* ---- hand-made images ---- */

/*
 * A tiny valid image: cluster 0 header, 1 refcount table, 2 refcount
 * block, 3 L1 table, then `extra` clusters (all counted, zero-filled).
 */
struct himg {
	u8 *buf;
	u64 len;
	u64 cs;
};

static void put32(u8 *p, u32 v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

static void put64(u8 *p, u64 v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

#define HDR(h, field) ((h)->buf + offsetof(struct qcow2_disk_header, field))

static void himg_build(struct himg *h, u32 version, u32 cluster_bits, u64 size, u32 extra)
{
	u64 cs = 1ull << cluster_bits, clusters = 4 + extra;
	u64 l1_size = (size + (cs * cs / 8) - 1) / (cs * cs / 8);

	h->cs = cs;
	h->len = clusters * cs;
	h->buf = calloc(1, h->len);
	put32(HDR(h, magic), QCOW2_MAGIC);
	put32(HDR(h, version), version);
	put32(HDR(h, cluster_bits), cluster_bits);
	put64(HDR(h, size), size);
	put32(HDR(h, l1_size), (u32)l1_size);
	put64(HDR(h, l1_table_offset), 3 * cs);
	put64(HDR(h, refcount_table_offset), cs);
	put32(HDR(h, refcount_table_clusters), 1);
	if (version >= 3) {
		put32(HDR(h, refcount_order), 4);
		put32(HDR(h, header_length), QCOW2_V3_HEADER_LEN);
	}
	put64(h->buf + cs, 2 * cs);		/* refcount table[0] */
	for (u64 c = 0; c < clusters; c++)	/* 16-bit refcounts */
		h->buf[2 * cs + 2 * c + 1] = 1;
}

static void himg_l1(struct himg *h, u32 i, u64 e)
{
	put64(h->buf + 3 * h->cs + 8 * i, e);
}

/* L2 table in extra cluster `c` (absolute cluster index), entry i. */
static void himg_l2(struct himg *h, u64 c, u32 i, u64 e)
{
	put64(h->buf + c * h->cs + 8 * i, e);
}

static const char *himg_save(struct himg *h, const char *name)
{
	const char *p = tpath(name);

	if (write_file_all(p, h->buf, h->len))
		fprintf(stderr, "  cannot write %s\n", p);
	free(h->buf);
	h->buf = NULL;
	return p;
}

#endif

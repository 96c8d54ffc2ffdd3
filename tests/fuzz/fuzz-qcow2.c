/*
 * Fuzz target: opening a fuzzed qcow2 image (disk/qcow2.c header, tables,
 * extensions, backing file) and running requests on it (qcow2-io.c,
 * qcow2-map.c, qcow2-refcount.c, qcow2-compress.c) through disk.c's
 * entry points, exactly as virtio-blk reaches them.
 *
 * Input layout (little endian):
 *   0   u8   flags: 1 open read-only
 *   1   OPS x 12 bytes: kind u8, arg u8, len u16 (bytes - 1), off u64
 *       (taken modulo the virtual size + 1 unless arg & 0x80)
 *   97  the image file
 *
 * The image's directory also holds base.raw (64 KiB), which an image may
 * name as its backing file.  With FUZZ_QCOW2_VERIFY=1, data written and
 * read back must be the data written (off by default: on a corrupt image
 * whose clusters overlap, that is garbage in, garbage out).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lkvm/disk.h"
#include "fuzz-common.h"

#define OPS 8
#define OP_LEN 12
#define IMAGE_OFF (1 + OPS * OP_LEN)
#define BASE_SIZE 0x10000

enum op_kind {
	OP_READ,
	OP_WRITE,
	OP_FLUSH,
	OP_DISCARD,
	OP_WRITE_ZEROES,
	OP_WRITE_READ,		/* write, then read the same range back */
	OP_NR
};

static char img[600];
static bool verify;
static u8 *buf_r;
/*
 * Write data: byte i of a write with argument `arg` is arg + 13 i.  As 13
 * is odd (13 * 197 = 1 mod 256), that is pattern[i + 197 arg], so a write
 * points into one table filled at start-up instead of filling up to
 * 64 KiB per operation, which was most of the target's time.
 */
static u8 *pattern;

static void setup_once(void)
{
	const char *dir = fuzz_scratch_dir("qcow2");
	char base[600];
	u8 *b = malloc(BASE_SIZE);
	int fd;

	snprintf(img, sizeof(img), "%s/img.qcow2", dir);
	snprintf(base, sizeof(base), "%s/base.raw", dir);
	for (unsigned int i = 0; i < BASE_SIZE; i++)
		b[i] = (u8)(i * 7 + i / 512);
	fd = open(base, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (!b || fd < 0 || write(fd, b, BASE_SIZE) != BASE_SIZE) {
		perror(base);
		exit(2);
	}
	close(fd);
	free(b);
	verify = getenv("FUZZ_QCOW2_VERIFY") && atoi(getenv("FUZZ_QCOW2_VERIFY"));
	pattern = malloc(0x10000 + 256);
	buf_r = malloc(0x10000);
	if (!pattern || !buf_r)
		exit(2);
	for (unsigned int i = 0; i < 0x10000 + 256; i++)
		pattern[i] = (u8)(i * 13);
}

static bool write_image(const u8 *data, size_t len)
{
	int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	bool ok = fd >= 0 && write(fd, data, len) == (ssize_t)len;

	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * buf[0, len) as two iovecs split at `at`: the driver must walk both.
 * Writes only read through their iovecs, so buf may be the const pattern.
 */
static int split(struct iovec *iov, const u8 *data, size_t len, u8 at)
{
	u8 *buf = (u8 *)data;
	size_t cut = len * at / 255;

	iov[0] = (struct iovec){ buf, cut };
	iov[1] = (struct iovec){ buf + cut, len - cut };
	return 2;
}

static void run_op(struct disk_image *d, struct fuzz_in *in)
{
	u8 kind = fuzz_u8(in) % OP_NR, arg = fuzz_u8(in);
	size_t len = (size_t)fuzz_u16(in) + 1;
	u64 off = fuzz_u64(in);
	struct iovec iov[2];
	ssize_t w, r;

	if (!(arg & 0x80) && d->size != UINT64_MAX)
		off %= d->size + 1;	/* mostly inside the disk */
	const u8 *buf_w = pattern + (u8)(arg * 197);
	switch (kind) {
	case OP_READ:
		r = disk_read(d, off, iov, split(iov, buf_r, len, arg));
		FUZZ_ASSERT(r < 0 || (size_t)r == len, "read of %zu returned %zd", len, r);
		break;
	case OP_WRITE:
		w = disk_write(d, off, iov, split(iov, buf_w, len, arg));
		FUZZ_ASSERT(w < 0 || (size_t)w == len, "write of %zu returned %zd", len, w);
		FUZZ_ASSERT(w < 0 || !d->readonly, "a read-only image took a write");
		break;
	case OP_FLUSH:
		disk_flush(d);
		break;
	case OP_DISCARD:
		disk_discard(d, off, len * 64);
		break;
	case OP_WRITE_ZEROES:
		disk_write_zeroes(d, off, len * 64, arg & 1);
		break;
	case OP_WRITE_READ:
		w = disk_write(d, off, iov, split(iov, buf_w, len, arg));
		if (w != (ssize_t)len)
			break;
		memset(buf_r, 0xee, len);
		r = disk_read(d, off, iov, split(iov, buf_r, len, (u8)(arg * 3)));
		FUZZ_ASSERT(!verify || r != (ssize_t)len || !memcmp(buf_r, buf_w, len),
			    "%zu bytes written at %llu read back different", len,
			    (unsigned long long)off);
		break;
	}
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct disk_params p = { .sync = true };
	struct disk_image *d;
	struct fuzz_in in;
	int err;

	if (!pattern)
		setup_once();
	if (size < IMAGE_OFF || !write_image(data + IMAGE_OFF, size - IMAGE_OFF))
		return 0;
	fuzz_in_init(&in, data, IMAGE_OFF);
	p.readonly = fuzz_u8(&in) & 1;
	p.path = img;
	d = disk_open(&p, &err);
	if (fuzz_verbose())
		fprintf(stderr, "fuzz-qcow2: open: %s (%s, %llu bytes)\n",
			d ? "ok" : strerror(-err), d ? d->ops->name : "-",
			d ? (unsigned long long)d->size : 0ULL);
	if (!d)
		return 0;
	for (unsigned int i = 0; i < OPS; i++)
		run_op(d, &in);
	disk_close(d);
	return 0;
}

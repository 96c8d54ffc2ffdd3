/*
 * The block layer on temporary files: -d spec parsing, opening errors,
 * OFD locking, raw reads/writes/flush/discard/write-zeroes through the
 * synchronous entry points and through libaio, O_DIRECT with aligned and
 * unaligned buffers, and flushed data surviving a SIGKILL.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "lkvm/disk.h"
#include "unit.h"

#define IMG_SIZE (4u << 20)

static char dir[] = "/var/tmp/lkvm-test-disk.XXXXXX";
static char img[256];

/* A fresh image of IMG_SIZE bytes filled with a pattern; returns its path. */
static const char *make_image(const char *name)
{
	u8 *buf = malloc(IMG_SIZE);
	int fd;

	snprintf(img, sizeof(img), "%s/%s", dir, name);
	for (u32 i = 0; i < IMG_SIZE; i++)
		buf[i] = (u8)(i * 7 + i / 4096);
	fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, IMG_SIZE) != IMG_SIZE) {
		perror(img);
		exit(2);
	}
	fsync(fd);
	close(fd);
	free(buf);
	return img;
}

static u8 pattern(u64 off)
{
	return (u8)(off * 7 + off / 4096);
}

static struct disk_image *open_spec(const char *spec, int *err)
{
	struct disk_params p;
	const char *why;
	int e;

	if (disk_parse_spec(spec, &p, &why)) {
		fprintf(stderr, "bad spec %s: %s\n", spec, why);
		exit(2);
	}
	return disk_open(&p, err ? err : &e);
}

/* Read len bytes at off straight from the file, bypassing the layer. */
static void file_read(const char *path, u64 off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0 || pread(fd, buf, len, (off_t)off) != (ssize_t)len) {
		perror(path);
		exit(2);
	}
	close(fd);
}

static blkcnt_t file_blocks(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : st.st_blocks;
}

/* ---- spec parsing ---- */

static void test_spec_ok(void)
{
	struct disk_params p;
	const char *why = NULL;

	CHECK_EQ(disk_parse_spec("disk.img", &p, &why), 0);
	CHECK_STR(p.path, "disk.img");
	CHECK(!p.readonly && !p.direct && !p.sync);
	CHECK_EQ(disk_parse_spec("/a/b.img,ro,direct,sync", &p, &why), 0);
	CHECK_STR(p.path, "/a/b.img");
	CHECK(p.readonly && p.direct && p.sync);
	CHECK_EQ(disk_parse_spec("x,sync", &p, &why), 0);
	CHECK(!p.readonly && !p.direct && p.sync);
	CHECK(p.format == NULL);
	CHECK_EQ(disk_parse_spec("x,format=raw,ro", &p, &why), 0);
	CHECK(p.format != NULL && p.readonly);
	CHECK_EQ(disk_parse_spec("x,format=qcow2", &p, &why), 0);
	CHECK(p.format != NULL);
}

static void test_spec_bad(void)
{
	struct disk_params p;
	const char *why = NULL;
	char *huge;

	CHECK_EQ(disk_parse_spec("disk.img,rw", &p, &why), -EINVAL);
	CHECK(why && strstr(why, "'rw'"));
	CHECK_EQ(disk_parse_spec("disk.img,ro,bogus", &p, &why), -EINVAL);
	CHECK(why && strstr(why, "'bogus'"));
	CHECK_EQ(disk_parse_spec("", &p, &why), -EINVAL);
	CHECK(why && strstr(why, "path"));
	CHECK_EQ(disk_parse_spec(",ro", &p, &why), -EINVAL);
	CHECK(why && strstr(why, "path"));
	CHECK_EQ(disk_parse_spec("disk.img,,ro", &p, &why), -EINVAL);
	CHECK(why && strstr(why, "empty"));
	CHECK_EQ(disk_parse_spec("disk.img,ro,", &p, &why), -EINVAL);
	CHECK_EQ(disk_parse_spec("disk.img,format=vmdk", &p, &why), -EINVAL);
	CHECK(why && strstr(why, "'vmdk'") && strstr(why, "raw") && strstr(why, "qcow2"));
	CHECK_EQ(disk_parse_spec("disk.img,format=", &p, &why), -EINVAL);
	CHECK_EQ(disk_parse_spec("disk.img,format=qcow2x", &p, &why), -EINVAL);
	huge = malloc(PATH_MAX + 10);
	memset(huge, 'a', PATH_MAX + 9);
	huge[PATH_MAX + 9] = '\0';
	CHECK_EQ(disk_parse_spec(huge, &p, &why), -EINVAL);
	CHECK(why && strstr(why, "too long"));
	free(huge);
}

/* ---- opening ---- */

static void test_open_errors(void)
{
	struct disk_image *d;
	int err = 0;
	char path[300];

	snprintf(path, sizeof(path), "%s/missing.img", dir);
	d = open_spec(path, &err);
	CHECK(d == NULL);
	CHECK_EQ(err, -ENOENT);
	/* A directory is no image, read-only or not. */
	d = open_spec(dir, &err);
	CHECK(d == NULL);
	CHECK(err == -EISDIR || err == -EINVAL);
	snprintf(path, sizeof(path), "%s,ro", dir);
	d = open_spec(path, &err);
	CHECK(d == NULL);
	CHECK_EQ(err, -EINVAL);
}

static void test_open_raw(void)
{
	struct disk_image *d = open_spec(make_image("raw.img"), NULL);

	CHECK(d != NULL);
	if (!d)
		return;
	CHECK_STR(d->ops->name, "raw");
	CHECK_EQ(d->size, IMG_SIZE);
	CHECK(!d->readonly);
	CHECK(d->async);	/* libaio by default */
	disk_close(d);
	d = open_spec("/dev/null", NULL);	/* neither file nor block device */
	CHECK(d == NULL);
}

/* ---- locking ---- */

static void test_lock_rw_excludes_rw(void)
{
	const char *path = make_image("lock.img");
	char ro[300];
	struct disk_image *a, *b, *c;
	int err = 0;

	snprintf(ro, sizeof(ro), "%s,ro", path);
	a = open_spec(path, NULL);
	CHECK(a != NULL);
	/* A second open file description, even in this process, is refused. */
	b = open_spec(path, &err);
	CHECK(b == NULL);
	CHECK_EQ(err, -EBUSY);
	/* Read-only sharing of an image someone writes is allowed. */
	c = open_spec(ro, &err);
	CHECK(c != NULL);
	disk_close(c);
	disk_close(a);
	/* The lock goes with the close. */
	b = open_spec(path, &err);
	CHECK(b != NULL);
	disk_close(b);
}

static void test_lock_ro_excludes_rw(void)
{
	const char *path = make_image("lock-ro.img");
	char ro[300];
	struct disk_image *a, *b, *c;
	int err = 0;

	snprintf(ro, sizeof(ro), "%s,ro", path);
	a = open_spec(ro, NULL);
	b = open_spec(ro, NULL);
	CHECK(a != NULL && b != NULL);
	CHECK(a && a->readonly);
	/* Readers keep writers out. */
	c = open_spec(path, &err);
	CHECK(c == NULL);
	CHECK_EQ(err, -EBUSY);
	disk_close(a);
	c = open_spec(path, &err);
	CHECK(c == NULL);
	disk_close(b);
	c = open_spec(path, &err);
	CHECK(c != NULL);
	disk_close(c);
}

/* ---- synchronous raw I/O ---- */

static void check_rw_sync(const char *spec_suffix)
{
	char spec[300];
	struct disk_image *d;
	u8 *w = malloc(8192), *r = malloc(8192), *f = malloc(8192);
	struct iovec wv[3] = { { w, 512 }, { w + 512, 3072 }, { w + 3584, 4608 } };
	struct iovec rv[2] = { { r, 1000 }, { r + 1000, 7192 } };

	snprintf(spec, sizeof(spec), "%s%s", make_image("sync.img"), spec_suffix);
	d = open_spec(spec, NULL);
	CHECK(d != NULL);
	if (!d)
		goto out;
	for (int i = 0; i < 8192; i++)
		w[i] = (u8)(i ^ 0xa5);
	CHECK_EQ(disk_write(d, 3 * 512, wv, 3), 8192);
	CHECK_EQ(disk_flush(d), 0);
	file_read(img, 3 * 512, f, 8192);
	CHECK(!memcmp(f, w, 8192));
	CHECK_EQ(disk_read(d, 3 * 512, rv, 2), 8192);
	CHECK(!memcmp(r, w, 8192));
	/* The bytes around the write are untouched. */
	file_read(img, 0, f, 3 * 512);
	CHECK_EQ(f[3 * 512 - 1], pattern(3 * 512 - 1));
	/* The last sector can be read; one byte further cannot. */
	CHECK_EQ(disk_read(d, IMG_SIZE - 512, &(struct iovec){ r, 512 }, 1), 512);
	CHECK_EQ(disk_read(d, IMG_SIZE - 511, &(struct iovec){ r, 512 }, 1), -EINVAL);
	CHECK_EQ(disk_write(d, IMG_SIZE, &(struct iovec){ w, 512 }, 1), -EINVAL);
	CHECK_EQ(disk_read(d, UINT64_MAX - 100, &(struct iovec){ r, 512 }, 1), -EINVAL);
	disk_close(d);
out:
	free(w);
	free(r);
	free(f);
}

static void test_raw_sync_rw(void)
{
	check_rw_sync(",sync");
}

static void test_raw_readonly(void)
{
	char spec[300];
	struct disk_image *d;
	u8 buf[512] = { 0 };

	snprintf(spec, sizeof(spec), "%s,ro,sync", make_image("ro.img"));
	d = open_spec(spec, NULL);
	CHECK(d != NULL);
	if (!d)
		return;
	CHECK_EQ(disk_write(d, 0, &(struct iovec){ buf, 512 }, 1), -EROFS);
	CHECK_EQ(disk_discard(d, 0, 512), -EROFS);
	CHECK_EQ(disk_write_zeroes(d, 0, 512, false), -EROFS);
	CHECK_EQ(disk_read(d, 512, &(struct iovec){ buf, 512 }, 1), 512);
	CHECK_EQ(buf[1], pattern(513));
	CHECK_EQ(disk_flush(d), 0);
	disk_close(d);
	file_read(img, 0, buf, 1);
	CHECK_EQ(buf[0], pattern(0));
}

static bool all_zero(const u8 *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_raw_discard_and_zeroes(void)
{
	char spec[300];
	struct disk_image *d;
	u8 *f = malloc(1 << 20);
	blkcnt_t before;

	snprintf(spec, sizeof(spec), "%s,sync", make_image("zero.img"));
	d = open_spec(spec, NULL);
	CHECK(d != NULL);
	if (!d)
		goto out;
	before = file_blocks(img);
	/* Write zeroes with unmap: zeroes, and the blocks are gone. */
	CHECK_EQ(disk_write_zeroes(d, 1 << 20, 1 << 20, true), 0);
	file_read(img, 1 << 20, f, 1 << 20);
	CHECK(all_zero(f, 1 << 20));
	CHECK(file_blocks(img) <= before - (1 << 20) / 512);
	/* Without unmap: zeroes (allocated or not is the file system's choice). */
	CHECK_EQ(disk_write_zeroes(d, 512, 1024, false), 0);
	file_read(img, 0, f, 4096);
	CHECK(all_zero(f + 512, 1024));
	CHECK_EQ(f[511], pattern(511));
	CHECK_EQ(f[1536], pattern(1536));
	/* Discard deallocates (here: punches a hole). */
	before = file_blocks(img);
	CHECK_EQ(disk_discard(d, 3 << 20, 512 << 10), 0);
	CHECK(file_blocks(img) <= before - (512 << 10) / 512);
	CHECK_EQ(disk_discard(d, IMG_SIZE - 512, 1024), -EINVAL);
	CHECK_EQ(disk_write_zeroes(d, IMG_SIZE, 1, false), -EINVAL);
	/* The size never changes. */
	CHECK_EQ(d->size, IMG_SIZE);
	disk_close(d);
	{
		struct stat st;

		CHECK(!stat(img, &st) && st.st_size == IMG_SIZE);
	}
out:
	free(f);
}

/*
 * tmpfs has no FALLOC_FL_ZERO_RANGE: write-zeroes without unmap falls
 * back to plain writes from the shared zero chunk.  Over more than one
 * chunk, at an unaligned start, and nothing beside the range touched.
 */
static void test_raw_zeroes_by_writes(void)
{
	char shm[] = "/dev/shm/lkvm-test-disk.XXXXXX", path[300], spec[320];
	const u64 off = 1000, len = (2u << 20) + 4096 + 24;
	u8 *f = malloc(IMG_SIZE);
	struct disk_image *d;
	int fd;

	CHECK(f != NULL && mkdtemp(shm) != NULL);
	snprintf(path, sizeof(path), "%s/zero.img", shm);
	for (u32 i = 0; f && i < IMG_SIZE; i++)
		f[i] = pattern(i);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, f, IMG_SIZE) == IMG_SIZE);
	close(fd);
	snprintf(spec, sizeof(spec), "%s,sync", path);
	d = open_spec(spec, NULL);
	CHECK(d != NULL);
	if (d) {
		CHECK_EQ(disk_write_zeroes(d, off, len, false), 0);
		disk_close(d);
		file_read(path, 0, f, IMG_SIZE);
		CHECK(all_zero(f + off, len));
		CHECK_EQ(f[off - 1], pattern(off - 1));
		CHECK_EQ(f[off + len], pattern(off + len));
	}
	unlink(path);
	rmdir(shm);
	free(f);
}

/* ---- asynchronous I/O ---- */

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
	ssize_t results[64];
	pthread_t threads[64];
};

static struct waiter waiter = {
	.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
};

static void on_complete(struct disk_req *req, ssize_t ret)
{
	long i = (long)req->opaque;

	pthread_mutex_lock(&waiter.lock);
	waiter.results[i] = ret;
	waiter.threads[i] = pthread_self();
	waiter.done++;
	pthread_cond_signal(&waiter.cond);
	pthread_mutex_unlock(&waiter.lock);
}

static void waiter_reset(void)
{
	pthread_mutex_lock(&waiter.lock);
	waiter.done = 0;
	memset(waiter.results, 0x7f, sizeof(waiter.results));
	pthread_mutex_unlock(&waiter.lock);
}

/* Wait until n requests completed (5 s at most). */
static bool wait_done(int n)
{
	struct timespec t;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += 5;
	pthread_mutex_lock(&waiter.lock);
	while (waiter.done < n &&
	       pthread_cond_timedwait(&waiter.cond, &waiter.lock, &t) == 0)
		;
	ok = waiter.done >= n;
	pthread_mutex_unlock(&waiter.lock);
	return ok;
}

static struct disk_req make_req(enum disk_req_type type, u64 off, const struct iovec *iov,
				int cnt, long id)
{
	return (struct disk_req){
		.type = type, .offset = off, .iov = iov, .iovcnt = cnt,
		.complete = on_complete, .opaque = (void *)id,
	};
}

static void check_async(const char *suffix, bool expect_async)
{
	char spec[300];
	struct disk_image *d;
	enum { N = 16 };
	u8 *w, *r;
	struct iovec wv[N], rv[N];
	struct disk_req reqs[N + 4];

	snprintf(spec, sizeof(spec), "%s%s", make_image("async.img"), suffix);
	d = open_spec(spec, NULL);
	CHECK(d != NULL);
	if (!d)
		return;
	CHECK_EQ(d->async, expect_async);
	/* Page-aligned buffers, so the O_DIRECT variant takes the AIO path. */
	if (posix_memalign((void **)&w, 4096, N * 4096) ||
	    posix_memalign((void **)&r, 4096, N * 4096))
		exit(2);
	for (int i = 0; i < N * 4096; i++)
		w[i] = (u8)(i * 13 + 1);
	waiter_reset();
	for (int i = 0; i < N; i++) {
		wv[i] = (struct iovec){ w + i * 4096, 4096 };
		reqs[i] = make_req(DISK_REQ_WRITE, (u64)i * 8192, &wv[i], 1, i);
		CHECK_EQ(disk_submit(d, &reqs[i]), 0);
	}
	CHECK_EQ(disk_unplug(d), 0);
	CHECK(wait_done(N));
	for (int i = 0; i < N; i++)
		CHECK_EQ(waiter.results[i], 4096);
	/*
	 * Completions of the native path come from another thread (request 0
	 * excepted: a write to the first sector of a probed raw image is
	 * checked and written synchronously).
	 */
	if (expect_async)
		CHECK(!pthread_equal(waiter.threads[N - 1], pthread_self()));
	waiter_reset();
	reqs[0] = make_req(DISK_REQ_FLUSH, 0, NULL, 0, 0);
	disk_submit(d, &reqs[0]);
	disk_unplug(d);
	CHECK(wait_done(1));
	CHECK_EQ(waiter.results[0], 0);
	waiter_reset();
	for (int i = 0; i < N; i++) {
		rv[i] = (struct iovec){ r + i * 4096, 4096 };
		reqs[i] = make_req(DISK_REQ_READ, (u64)i * 8192, &rv[i], 1, i);
		disk_submit(d, &reqs[i]);
	}
	/*
	 * Out of range, and discard / write zeroes (in the gaps between the
	 * data: requests of one batch have no order) through the same door.
	 */
	reqs[N] = make_req(DISK_REQ_READ, IMG_SIZE - 2048, &rv[0], 1, N);
	reqs[N + 1] = (struct disk_req){ .type = DISK_REQ_DISCARD, .offset = 4096, .len = 4096,
					 .complete = on_complete, .opaque = (void *)(long)(N + 1) };
	reqs[N + 2] = (struct disk_req){ .type = DISK_REQ_WRITE_ZEROES, .offset = 12288,
					 .len = 4096, .complete = on_complete,
					 .opaque = (void *)(long)(N + 2) };
	for (int i = N; i < N + 3; i++)
		disk_submit(d, &reqs[i]);
	disk_unplug(d);
	CHECK(wait_done(N + 3));
	for (int i = 0; i < N; i++)
		CHECK_EQ(waiter.results[i], 4096);
	CHECK(!memcmp(r, w, N * 4096) || (fprintf(stderr, "  read back differs\n"), 0));
	CHECK_EQ(waiter.results[N], -EINVAL);
	CHECK_EQ(waiter.results[N + 1], 0);
	CHECK_EQ(waiter.results[N + 2], 0);
	disk_close(d);
	{
		u8 f[4096];

		file_read(img, 12288, f, 4096);
		CHECK(all_zero(f, 4096));
		file_read(img, 3 * 8192, f, 4096);
		CHECK(!memcmp(f, w + 3 * 4096, 4096));
	}
	free(w);
	free(r);
}

static void test_async_libaio(void)
{
	check_async("", true);
}

/* Every completion thread of the last n requests (0: all were the caller). */
static int completion_threads_other_than_caller(int n)
{
	int other = 0;

	for (int i = 0; i < n; i++)
		other += !pthread_equal(waiter.threads[i], pthread_self());
	return other;
}

/*
 * The batch path of a raw image (,sync): the reads of a large batch are
 * shared with helper threads (one per further CPU), its writes stay on
 * the caller, and every request is complete when disk_unplug() returns;
 * a small batch runs on the caller alone.
 */
static void test_batch_helpers(void)
{
	enum { N = 32, BS = 64 << 10 };
	char spec[300];
	struct disk_image *d;
	struct iovec v[N];
	struct disk_req reqs[N];
	u8 *w = malloc((size_t)N * BS), *r = malloc((size_t)N * BS);
	bool helped = false;

	snprintf(spec, sizeof(spec), "%s,sync", make_image("batch.img"));
	d = open_spec(spec, NULL);
	CHECK(d != NULL);
	if (!d || !w || !r)
		exit(2);
	CHECK(!d->async);
	CHECK_EQ(d->pool != NULL, sysconf(_SC_NPROCESSORS_ONLN) > 1);
	for (size_t i = 0; i < (size_t)N * BS; i++)
		w[i] = (u8)(i * 7 + 3);
	/* Helpers wake up at their own pace: give them a few batches. */
	for (int round = 0; round < 50 && (!helped || round < 2); round++) {
		waiter_reset();
		for (int i = 0; i < N; i++) {
			v[i] = (struct iovec){ (round & 1 ? r : w) + (size_t)i * BS, BS };
			reqs[i] = make_req(round & 1 ? DISK_REQ_READ : DISK_REQ_WRITE,
					   (u64)i * BS, &v[i], 1, i);
			CHECK_EQ(disk_submit(d, &reqs[i]), 0);
		}
		CHECK_EQ(disk_unplug(d), 0);
		CHECK_EQ(waiter.done, N);	/* no waiting: all done in unplug */
		for (int i = 0; i < N; i++)
			CHECK_EQ(waiter.results[i], BS);
		if (round & 1)
			CHECK(!memcmp(r, w, (size_t)N * BS));
		/* Writes: the caller alone (they would only share the inode lock). */
		if (round & 1)
			helped |= completion_threads_other_than_caller(N) > 0;
		else
			CHECK_EQ(completion_threads_other_than_caller(N), 0);
	}
	CHECK_EQ(helped, d->pool != NULL);
	/* Two 4 KiB reads: not worth a wake-up. */
	waiter_reset();
	for (int i = 0; i < 2; i++) {
		v[i] = (struct iovec){ r + i * 4096, 4096 };
		reqs[i] = make_req(DISK_REQ_READ, (u64)i * 4096, &v[i], 1, i);
		disk_submit(d, &reqs[i]);
	}
	disk_unplug(d);
	CHECK_EQ(waiter.done, 2);
	CHECK_EQ(completion_threads_other_than_caller(2), 0);
	CHECK(!memcmp(r, w, 8192));
	disk_close(d);
	free(w);
	free(r);
}

static void test_async_fallback_sync(void)
{
	check_async(",sync", false);
}

static void test_async_readonly(void)
{
	char spec[300];
	struct disk_image *d;
	u8 buf[512];
	struct iovec v = { buf, 512 };
	struct disk_req req = make_req(DISK_REQ_WRITE, 0, &v, 1, 0);

	snprintf(spec, sizeof(spec), "%s,ro", make_image("async-ro.img"));
	d = open_spec(spec, NULL);
	CHECK(d != NULL);
	if (!d)
		return;
	waiter_reset();
	disk_submit(d, &req);
	disk_unplug(d);
	CHECK(wait_done(1));
	CHECK_EQ(waiter.results[0], -EROFS);
	disk_close(d);
}

/*
 * A qcow2 image is recognised by its magic and served by the qcow2 format
 * (its own tests live in test-qcow2.c); async requests on it go through
 * the generic fallback.
 */
static void test_open_qcow2(void)
{
	char cmd[600], path[300];
	struct disk_image *d;
	u8 w[4096], r[4096];
	struct iovec wv = { w, sizeof(w) }, rv = { r, sizeof(r) };
	struct disk_req req;

	if (system("qemu-img --version >/dev/null 2>&1")) {
		printf("########################################\n"
		       "SKIP: qemu-img not found (apt-get install qemu-utils)\n"
		       "########################################\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/image.qcow2", dir);
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 '%s' 8M", path);
	CHECK_EQ(system(cmd), 0);
	d = open_spec(path, NULL);
	CHECK(d != NULL);
	if (!d)
		return;
	CHECK_STR(d->ops->name, "qcow2");
	CHECK_EQ(d->size, 8 << 20);
	memset(w, 0x3c, sizeof(w));
	req = (struct disk_req){ .type = DISK_REQ_WRITE, .offset = 1 << 20, .iov = &wv,
				 .iovcnt = 1, .complete = on_complete };
	waiter_reset();
	disk_submit(d, &req);
	disk_unplug(d);
	CHECK(wait_done(1));
	CHECK_EQ(waiter.results[0], 4096);
	CHECK_EQ(disk_flush(d), 0);
	CHECK_EQ(disk_read(d, 1 << 20, &rv, 1), 4096);
	CHECK(!memcmp(r, w, sizeof(r)));
	disk_close(d);
	/* And a second writer is refused here too. */
	d = open_spec(path, NULL);
	CHECK(d != NULL);
	CHECK(open_spec(path, NULL) == NULL);
	disk_close(d);
}

/* ---- O_DIRECT ---- */

static bool direct_supported(void)
{
	char path[300];
	int fd;

	snprintf(path, sizeof(path), "%s/probe", dir);
	fd = open(path, O_RDWR | O_CREAT | O_DIRECT, 0644);
	if (fd < 0) {
		printf("########################################\n"
		       "SKIP: O_DIRECT not supported in %s\n"
		       "########################################\n", dir);
		return false;
	}
	close(fd);
	return true;
}

static void test_direct_sync(void)
{
	if (direct_supported())
		check_rw_sync(",direct,sync");
}

static void test_direct_async(void)
{
	if (direct_supported())
		check_async(",direct", true);
}

/* Memory, offset and length misaligned for O_DIRECT, both paths. */
static void check_direct_unaligned(const char *suffix)
{
	char spec[300];
	struct disk_image *d;
	u8 *raw = malloc(3 * 4096 + 64), *w = raw + 3, *r = malloc(3 * 4096), *f = malloc(3 * 4096);
	struct iovec v;
	struct disk_req req;

	snprintf(spec, sizeof(spec), "%s%s", make_image("direct.img"), suffix);
	d = open_spec(spec, NULL);
	CHECK(d != NULL);
	if (!d)
		goto out;
	CHECK(d->direct);
	for (int i = 0; i < 3 * 4096; i++)
		w[i] = (u8)(i * 3 + 5);
	/* Sector-aligned offset, unaligned memory: bounce buffer. */
	v = (struct iovec){ w, 2 * 4096 };
	req = make_req(DISK_REQ_WRITE, 4096, &v, 1, 0);
	waiter_reset();
	disk_submit(d, &req);
	disk_unplug(d);
	CHECK(wait_done(1));
	CHECK_EQ(waiter.results[0], 2 * 4096);
	/* Unaligned offset and length: the buffered descriptor. */
	v = (struct iovec){ w + 8192, 100 };
	CHECK_EQ(disk_write(d, 3 * 4096 + 7, &v, 1), 100);
	CHECK_EQ(disk_flush(d), 0);
	file_read(img, 4096, f, 2 * 4096 + 107);
	CHECK(!memcmp(f, w, 2 * 4096));
	CHECK(!memcmp(f + 2 * 4096 + 7, w + 8192, 100));
	CHECK_EQ(f[2 * 4096 + 6], pattern(3 * 4096 + 6));
	/* And back, into unaligned memory. */
	v = (struct iovec){ r + 1, 4096 };
	CHECK_EQ(disk_read(d, 4096, &v, 1), 4096);
	CHECK(!memcmp(r + 1, w, 4096));
	v = (struct iovec){ r + 1, 100 };
	CHECK_EQ(disk_read(d, 3 * 4096 + 7, &v, 1), 100);
	CHECK(!memcmp(r + 1, w + 8192, 100));
	disk_close(d);
out:
	free(raw);
	free(r);
	free(f);
}

static void test_direct_unaligned(void)
{
	if (!direct_supported())
		return;
	check_direct_unaligned(",direct");
	check_direct_unaligned(",direct,sync");
}

/* ---- durability and lock release across SIGKILL ---- */

/*
 * A child writes through the async path, waits for the flush to complete,
 * tells us, and is killed.  What it flushed must be in the file, and its
 * lock must be gone with it.
 */
static void test_flushed_data_survives_sigkill(void)
{
	const char *path = make_image("kill.img");
	int pipefd[2];
	pid_t pid;
	char c = 0;
	u8 f[4096];

	if (pipe(pipefd))
		exit(2);
	pid = fork();
	if (pid == 0) {
		struct disk_image *d = open_spec(path, NULL);
		static u8 data[4096] __attribute__((aligned(4096)));
		struct iovec v = { data, sizeof(data) };
		struct disk_req w = make_req(DISK_REQ_WRITE, 65536, &v, 1, 0);
		struct disk_req fl = make_req(DISK_REQ_FLUSH, 0, NULL, 0, 1);

		if (!d)
			_exit(3);
		waiter_reset();
		memset(data, 0xee, sizeof(data));
		disk_submit(d, &w);
		disk_unplug(d);
		if (!wait_done(1) || waiter.results[0] != 4096)
			_exit(4);
		disk_submit(d, &fl);
		disk_unplug(d);
		if (!wait_done(2) || waiter.results[1] != 0)
			_exit(5);
		if (write(pipefd[1], "F", 1) != 1)
			_exit(6);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	CHECK_EQ(read(pipefd[0], &c, 1), 1);
	CHECK_EQ(c, 'F');
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(pipefd[0]);
	file_read(path, 65536, f, sizeof(f));
	CHECK(f[0] == 0xee && f[4095] == 0xee);
	{
		struct disk_image *d = open_spec(path, NULL);

		CHECK(d != NULL);
		disk_close(d);
	}
}

static void cleanup(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

int main(void)
{
	/* /var/tmp: a disk file system (tmpfs has no O_DIRECT). */
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	atexit(cleanup);
	RUN(test_spec_ok);
	RUN(test_spec_bad);
	RUN(test_open_errors);
	RUN(test_open_raw);
	RUN(test_open_qcow2);
	RUN(test_lock_rw_excludes_rw);
	RUN(test_lock_ro_excludes_rw);
	RUN(test_raw_sync_rw);
	RUN(test_raw_readonly);
	RUN(test_raw_discard_and_zeroes);
	RUN(test_raw_zeroes_by_writes);
	RUN(test_async_libaio);
	RUN(test_batch_helpers);
	RUN(test_async_fallback_sync);
	RUN(test_async_readonly);
	RUN(test_direct_sync);
	RUN(test_direct_async);
	RUN(test_direct_unaligned);
	RUN(test_flushed_data_survives_sigkill);
	return unit_summary();
}

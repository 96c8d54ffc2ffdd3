/*
 * Random block I/O with verification, for the nested blk-soak case (a
 * small stand-in for fio, which the guest does not have):
 *
 *   blk-soak DEVICE SECONDS THREADS [MIB]
 *
 * The first MIB MiB of DEVICE (default: all of it) are split into one
 * region per thread.  Each thread, pinned to CPU (i % online CPUs) so that
 * the requests go through different queues, first fills its region with
 * large sequential writes, then until SECONDS have passed does random
 * O_DIRECT reads (verified), scatter-gather writes of 4 KiB..128 KiB,
 * fdatasync, BLKZEROOUT and BLKDISCARD, and finally verifies its whole
 * region.  Every 4 KiB block holds its block number and a generation in
 * its first 16 bytes and a pattern derived from both after them, so a
 * wrong block says whether it is stale (a lost write), misplaced or
 * garbage.
 *
 * Prints "soak: t=N ops=N" every 10 s, "SOAK-STALL ..." when no request
 * completed for 30 s (a lost notification leaves a thread blocked), and
 * at the end "soak_ops=N", "soak_bad=N", "soak_mib=N" lines.  Exit status
 * 0 when every block read back as expected.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

#define BLK 4096u
#define WORDS (BLK / 8)
#define MAX_EXTENT 32		/* blocks per random request */
#define FILL_EXTENT 64		/* blocks per request of the first fill */
#define MAGIC 0x50414f53u	/* "SOAP" */
#define GEN_ZERO 0u		/* block must read as zeros */
#define GEN_UNKNOWN UINT32_MAX	/* discarded: any content is fine */

struct worker {
	pthread_t tid;
	int idx;
	int fd;
	uint64_t first;		/* first block of the region */
	uint64_t nblocks;
	uint32_t *gen;		/* expected generation per block */
	uint32_t next_gen;
	uint64_t rng;
	uint8_t *buf;		/* FILL_EXTENT blocks, aligned */
	int joined;
	long bad;
	atomic_long ops;
	atomic_long bytes;
};

static int cpus;
static volatile int stop;
static atomic_long total_ops;

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t rnd(struct worker *w, uint64_t n)
{
	w->rng = splitmix(w->rng);
	return w->rng % n;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fill_block(uint64_t *p, uint64_t blk, uint32_t gen)
{
	uint64_t seed = splitmix(blk * 0x100000001b3ULL ^ gen);

	p[0] = blk;
	p[1] = (uint64_t)MAGIC << 32 | gen;
	for (unsigned i = 2; i < WORDS; i++)
		p[i] = splitmix(seed + i);
}

static void report_bad(struct worker *w, uint64_t blk, uint32_t want, const uint64_t *p)
{
	w->bad++;
	if (w->bad > 10)
		return;
	if (want == GEN_ZERO)
		printf("SOAK-BAD thread %d block %" PRIu64 ": want zeros, found block %" PRIu64
		       " tag %#" PRIx64 "\n", w->idx, blk, p[0], p[1]);
	else if (p[1] >> 32 == MAGIC)
		printf("SOAK-BAD thread %d block %" PRIu64 ": want gen %u, found block %" PRIu64
		       " gen %u%s\n", w->idx, blk, want, p[0], (uint32_t)p[1],
		       p[0] == blk ? " (stale or mixed data)" : " (misplaced)");
	else
		printf("SOAK-BAD thread %d block %" PRIu64 ": want gen %u, found garbage %#" PRIx64
		       " %#" PRIx64 "\n", w->idx, blk, want, p[0], p[1]);
	fflush(stdout);
}

static void check_block(struct worker *w, uint64_t blk, const uint64_t *p)
{
	static const uint64_t zero[WORDS];
	uint64_t want[WORDS];
	uint32_t g = w->gen[blk - w->first];

	if (g == GEN_UNKNOWN)
		return;
	if (g == GEN_ZERO) {
		if (memcmp(p, zero, BLK))
			report_bad(w, blk, g, p);
		return;
	}
	fill_block(want, blk, g);
	if (memcmp(p, want, BLK))
		report_bad(w, blk, g, p);
}

static void io_done(struct worker *w, size_t bytes)
{
	atomic_fetch_add(&w->ops, 1);
	atomic_fetch_add(&w->bytes, bytes);
	atomic_fetch_add(&total_ops, 1);
}

static void io_fail(struct worker *w, const char *what, uint64_t blk, ssize_t got, size_t want)
{
	printf("SOAK-IOERR thread %d %s at block %" PRIu64 ": %zd of %zu bytes (%s)\n",
	       w->idx, what, blk, got, want, got < 0 ? strerror(errno) : "short");
	fflush(stdout);
	w->bad++;
}

/*
 * Up to 4 iovecs over the one buffer, each a multiple of 4 KiB, so the
 * request reaches the device with several data segments.
 */
static int split_iov(struct worker *w, struct iovec *iov, unsigned n)
{
	int cnt = 0;
	unsigned done = 0;

	while (done < n) {
		unsigned take = cnt == 3 ? n - done : 1 + (unsigned)rnd(w, n - done);

		iov[cnt].iov_base = w->buf + (size_t)done * BLK;
		iov[cnt].iov_len = (size_t)take * BLK;
		cnt++;
		done += take;
	}
	return cnt;
}

static void do_write(struct worker *w, uint64_t blk, unsigned n)
{
	struct iovec iov[4];
	int cnt = split_iov(w, iov, n);
	uint32_t g = w->next_gen++;
	ssize_t r;

	if (w->next_gen == GEN_UNKNOWN)
		w->next_gen = 1;
	for (unsigned i = 0; i < n; i++)
		fill_block((uint64_t *)(w->buf + (size_t)i * BLK), blk + i, g);
	r = pwritev(w->fd, iov, cnt, (off_t)(blk * BLK));
	if (r != (ssize_t)(n * BLK)) {
		io_fail(w, "write", blk, r, n * BLK);
		for (unsigned i = 0; i < n; i++)
			w->gen[blk + i - w->first] = GEN_UNKNOWN;
		return;
	}
	for (unsigned i = 0; i < n; i++)
		w->gen[blk + i - w->first] = g;
	io_done(w, n * BLK);
}

static void do_read(struct worker *w, uint64_t blk, unsigned n)
{
	struct iovec iov[4];
	int cnt = split_iov(w, iov, n);
	ssize_t r = preadv(w->fd, iov, cnt, (off_t)(blk * BLK));

	if (r != (ssize_t)(n * BLK)) {
		io_fail(w, "read", blk, r, n * BLK);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		check_block(w, blk + i, (const uint64_t *)(w->buf + (size_t)i * BLK));
	io_done(w, n * BLK);
}

/* BLKZEROOUT (write-zeroes) or BLKDISCARD over a range. */
static void do_range_op(struct worker *w, uint64_t blk, unsigned n, int zero)
{
	uint64_t range[2] = { blk * BLK, (uint64_t)n * BLK };

	if (ioctl(w->fd, zero ? BLKZEROOUT : BLKDISCARD, range)) {
		/* No discard on the device, or a regular file: not an error. */
		if (errno == EOPNOTSUPP || errno == ENOTTY)
			return;
		io_fail(w, zero ? "zeroout" : "discard", blk, -1, n * BLK);
	}
	for (unsigned i = 0; i < n; i++)
		w->gen[blk + i - w->first] = zero ? GEN_ZERO : GEN_UNKNOWN;
	io_done(w, 0);
}

static void random_op(struct worker *w)
{
	unsigned n = 1 + (unsigned)rnd(w, MAX_EXTENT), kind = (unsigned)rnd(w, 100);
	uint64_t blk;

	if (n > w->nblocks)
		n = (unsigned)w->nblocks;
	blk = w->first + rnd(w, w->nblocks - n + 1);
	if (kind < 45)
		do_write(w, blk, n);
	else if (kind < 90)
		do_read(w, blk, n);
	else if (kind < 95) {
		if (fdatasync(w->fd))
			io_fail(w, "fdatasync", 0, -1, 0);
		io_done(w, 0);
	} else if (kind < 98)
		do_range_op(w, blk, n, 1);
	else
		do_range_op(w, blk, n, 0);
}

/* Whole region, in FILL_EXTENT pieces: write (gen 1) or verify. */
static void sweep(struct worker *w, int write)
{
	uint64_t blk = w->first, end = w->first + w->nblocks;

	while (blk < end) {
		unsigned n = end - blk < FILL_EXTENT ? (unsigned)(end - blk) : FILL_EXTENT;
		size_t len = (size_t)n * BLK;
		ssize_t r;

		if (write) {
			for (unsigned i = 0; i < n; i++)
				fill_block((uint64_t *)(w->buf + (size_t)i * BLK), blk + i, 1);
			r = pwrite(w->fd, w->buf, len, (off_t)(blk * BLK));
			for (unsigned i = 0; i < n; i++)
				w->gen[blk + i - w->first] = r == (ssize_t)len ? 1 : GEN_UNKNOWN;
		} else {
			r = pread(w->fd, w->buf, len, (off_t)(blk * BLK));
			if (r == (ssize_t)len)
				for (unsigned i = 0; i < n; i++)
					check_block(w, blk + i,
						    (const uint64_t *)(w->buf + (size_t)i * BLK));
		}
		if (r != (ssize_t)len)
			io_fail(w, write ? "fill" : "verify", blk, r, len);
		else
			io_done(w, len);
		blk += n;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(w->idx % cpus, &set);
	sched_setaffinity(0, sizeof(set), &set);
	sweep(w, 1);
	while (!stop)
		random_op(w);
	if (fdatasync(w->fd))
		io_fail(w, "fdatasync", 0, -1, 0);
	sweep(w, 0);
	return NULL;
}

static int start_workers(struct worker *ws, int n, const char *dev, uint64_t region_blocks)
{
	uint64_t per = region_blocks / (uint64_t)n;

	for (int i = 0; i < n; i++) {
		struct worker *w = &ws[i];

		w->idx = i;
		w->first = per * (uint64_t)i;
		w->nblocks = per;
		w->next_gen = 2;
		w->rng = splitmix((uint64_t)time(NULL) * 131 + (uint64_t)i);
		w->fd = open(dev, O_RDWR | O_DIRECT);
		w->gen = calloc(per, sizeof(*w->gen));
		if (w->fd < 0 || !w->gen ||
		    posix_memalign((void **)&w->buf, BLK, (size_t)FILL_EXTENT * BLK)) {
			perror(dev);
			return -1;
		}
		if (pthread_create(&w->tid, NULL, worker_main, w)) {
			fprintf(stderr, "pthread_create failed\n");
			return -1;
		}
	}
	return 0;
}

/* Progress every 10 s; a stall warning when nothing completes for 30 s. */
static void watch(struct worker *ws, int n, double secs)
{
	double t0 = now(), last_change = t0, last_print = t0;
	long seen = 0;

	for (;;) {
		double t = now();
		long ops = atomic_load(&total_ops);
		int running = 0;

		for (int i = 0; i < n; i++) {
			if (!ws[i].joined && pthread_tryjoin_np(ws[i].tid, NULL) == 0)
				ws[i].joined = 1;
			running += !ws[i].joined;
		}
		if (t - t0 >= secs)
			stop = 1;
		if (ops != seen) {
			seen = ops;
			last_change = t;
		} else if (t - last_change >= 30) {
			printf("SOAK-STALL no request completed for %.0f s (t=%.0f s, ops=%ld)\n",
			       t - last_change, t - t0, ops);
			fflush(stdout);
			last_change = t;
		}
		if (t - last_print >= 10) {
			printf("soak: t=%.0f ops=%ld\n", t - t0, ops);
			fflush(stdout);
			last_print = t;
		}
		if (stop && !running)
			return;
		usleep(200000);
	}
}

int main(int argc, char **argv)
{
	struct worker *ws;
	uint64_t size, region;
	long bad = 0, ops = 0, bytes = 0;
	int n, fd;

	if (argc < 4) {
		fprintf(stderr, "usage: blk-soak DEVICE SECONDS THREADS [MIB]\n");
		return 2;
	}
	n = atoi(argv[3]);
	fd = open(argv[1], O_RDONLY);
	size = fd < 0 ? 0 : (uint64_t)lseek(fd, 0, SEEK_END);
	if (fd < 0 || size == (uint64_t)-1) {
		perror(argv[1]);
		return 2;
	}
	close(fd);
	region = argc > 4 ? strtoull(argv[4], NULL, 0) << 20 : size;
	if (region > size)
		region = size;
	if (n < 1 || n > 64 || region / BLK < (uint64_t)n * MAX_EXTENT) {
		fprintf(stderr, "blk-soak: bad thread count or device too small\n");
		return 2;
	}
	cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < 1)
		cpus = 1;
	ws = calloc((size_t)n, sizeof(*ws));
	if (!ws || start_workers(ws, n, argv[1], region / BLK))
		return 2;
	watch(ws, n, atof(argv[2]));
	for (int i = 0; i < n; i++) {
		bad += ws[i].bad;
		ops += atomic_load(&ws[i].ops);
		bytes += atomic_load(&ws[i].bytes);
	}
	printf("soak_ops=%ld\nsoak_bad=%ld\nsoak_mib=%ld\n", ops, bad, bytes >> 20);
	return bad ? 1 : 0;
}

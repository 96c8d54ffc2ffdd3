/*
 * Block I/O throughput for bench/blk.sh, built static for the guest (L2)
 * and for L1 (the host side of the same image):
 *
 *   blk-bench MODE PATH BS QD SECS [MIB]
 *
 * MODE seqwrite or seqread: one pass over the first MIB MiB of PATH
 * (default: all of it) in BS-byte requests, or until SECS have passed;
 * randread: BS-byte reads at random BS-aligned offsets in that span for
 * SECS seconds.  QD requests are kept in flight with Linux native AIO
 * (io_submit, called directly: the guest has no libaio).  PATH is opened
 * with O_DIRECT, or without it where the file system refuses (L1's tmpfs;
 * the line then says direct=0).
 *
 * Prints one line: "MODE bs=N qd=N direct=0|1 bytes=N ms=N mbps=N.N iops=N".
 * Exit status 0, or 1 on an I/O error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/aio_abi.h>

#define MAX_QD 64

struct job {
	int fd;
	int write;
	int random;
	uint64_t bs;
	uint64_t span;		/* bytes, a multiple of bs */
	uint64_t next;		/* sequential: next offset */
	uint64_t rng;
	double deadline;
	uint64_t bytes;
	uint64_t ios;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The offset of the next request, or -1 when the job has issued all. */
static int64_t next_offset(struct job *j)
{
	if (now() >= j->deadline)
		return -1;
	if (j->random) {
		j->rng = splitmix(j->rng);
		return (int64_t)(j->rng % (j->span / j->bs) * j->bs);
	}
	if (j->next >= j->span)
		return -1;
	j->next += j->bs;
	return (int64_t)(j->next - j->bs);
}

static int prepare(struct job *j, struct iocb *cb, void *buf)
{
	int64_t off = next_offset(j);

	if (off < 0)
		return 0;
	memset(cb, 0, sizeof(*cb));
	cb->aio_fildes = (uint32_t)j->fd;
	cb->aio_lio_opcode = j->write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
	cb->aio_buf = (uint64_t)(uintptr_t)buf;
	cb->aio_nbytes = j->bs;
	cb->aio_offset = off;
	cb->aio_data = (uint64_t)(uintptr_t)cb;
	return 1;
}

static int run(struct job *j, int qd)
{
	static struct iocb cbs[MAX_QD];
	struct iocb *list[MAX_QD];
	struct io_event ev[MAX_QD];
	aio_context_t ctx = 0;
	int inflight = 0, n = 0, ret = 0;
	uint8_t *bufs;

	if (posix_memalign((void **)&bufs, 4096, (size_t)qd * j->bs))
		return -ENOMEM;
	for (size_t i = 0; i < (size_t)qd * j->bs; i += 8)
		*(uint64_t *)(bufs + i) = splitmix(i);
	if (syscall(SYS_io_setup, qd, &ctx))
		return -errno;
	for (int i = 0; i < qd; i++)
		if (prepare(j, &cbs[i], bufs + (size_t)i * j->bs))
			list[n++] = &cbs[i];
	while (n || inflight) {
		if (n) {
			long s = syscall(SYS_io_submit, ctx, n, list);

			if (s != n) {
				ret = s < 0 ? -errno : -EIO;
				break;
			}
			inflight += n;
			n = 0;
		}
		long got = syscall(SYS_io_getevents, ctx, 1, MAX_QD, ev, NULL);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		for (long i = 0; i < got; i++) {
			struct iocb *cb = (struct iocb *)(uintptr_t)ev[i].data;

			inflight--;
			if (ev[i].res != (int64_t)j->bs) {
				fprintf(stderr, "blk-bench: request at %lld: result %lld\n",
					(long long)cb->aio_offset, (long long)ev[i].res);
				ret = -EIO;
				continue;
			}
			j->bytes += j->bs;
			j->ios++;
			if (!ret && prepare(j, cb, (void *)(uintptr_t)cb->aio_buf))
				list[n++] = cb;
		}
	}
	syscall(SYS_io_destroy, ctx);
	return ret;
}

int main(int argc, char **argv)
{
	struct job j = { 0 };
	int qd, direct = 1, flags;
	double t0, t;
	off_t size;

	if (argc < 6) {
		fprintf(stderr, "usage: blk-bench seqwrite|seqread|randread PATH BS QD SECS [MIB]\n");
		return 2;
	}
	j.write = !strcmp(argv[1], "seqwrite");
	j.random = !strcmp(argv[1], "randread");
	if (!j.write && !j.random && strcmp(argv[1], "seqread")) {
		fprintf(stderr, "blk-bench: unknown mode %s\n", argv[1]);
		return 2;
	}
	j.bs = strtoull(argv[3], NULL, 0);
	qd = atoi(argv[4]);
	if (j.bs == 0 || j.bs % 512 || qd < 1 || qd > MAX_QD) {
		fprintf(stderr, "blk-bench: bad BS or QD\n");
		return 2;
	}
	flags = j.write ? O_RDWR : O_RDONLY;
	j.fd = open(argv[2], flags | O_DIRECT);
	if (j.fd < 0 && errno == EINVAL) {
		direct = 0;
		j.fd = open(argv[2], flags);
	}
	size = j.fd < 0 ? -1 : lseek(j.fd, 0, SEEK_END);
	if (size <= 0) {
		perror(argv[2]);
		return 2;
	}
	j.span = argc > 6 ? strtoull(argv[6], NULL, 0) << 20 : (uint64_t)size;
	if (j.span > (uint64_t)size)
		j.span = (uint64_t)size;
	j.span -= j.span % j.bs;
	if (j.span == 0) {
		fprintf(stderr, "blk-bench: span smaller than BS\n");
		return 2;
	}
	j.rng = (uint64_t)getpid();
	t0 = now();
	j.deadline = t0 + atof(argv[5]);
	if (run(&j, qd)) {
		fprintf(stderr, "blk-bench: %s on %s failed\n", argv[1], argv[2]);
		return 1;
	}
	if (j.write && fdatasync(j.fd)) {
		perror("fdatasync");
		return 1;
	}
	t = now() - t0;
	printf("%s bs=%" PRIu64 " qd=%d direct=%d bytes=%" PRIu64 " ms=%.0f mbps=%.1f iops=%.0f\n",
	       argv[1], j.bs, qd, direct, j.bytes, t * 1000, j.bytes / t / 1e6, j.ios / t);
	return 0;
}

/*
 * Harness plumbing shared by the fuzz targets (see fuzz-common.h).  The
 * log functions come from the tests' one log stub, linked into every
 * target: log.o is never pulled out of the library, and die() aborts,
 * which the fuzzer reports as a crash.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lkvm/log.h"
#include "lkvm/virtio.h"
#include "fuzz-common.h"

static int verbose = -1;

bool fuzz_verbose(void)
{
	if (verbose < 0) {
		const char *v = getenv("FUZZ_VERBOSE");

		verbose = v && *v && strcmp(v, "0");
		log_debug_enabled = verbose;	/* verbose runs show pr_debug too */
	}
	return verbose;
}

static void quiet_signal_queue(struct virtio_device *vdev, struct virt_queue *vq)
{
}

static void quiet_signal_config(struct virtio_device *vdev)
{
}

const struct virtio_transport_ops fuzz_quiet_transport = {
	.name = "fuzz",
	.signal_queue = quiet_signal_queue,
	.signal_config = quiet_signal_config,
};

void fuzz_driver_setup(struct virtio_device *vdev, u64 features, const struct fuzz_queue *qs,
		       unsigned int nr)
{
	u8 st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	virtio_set_status(vdev, st);
	virtio_set_driver_features(vdev, 0, (u32)features);
	virtio_set_driver_features(vdev, 1, (u32)(features >> 32));
	virtio_set_status(vdev, st | VIRTIO_CONFIG_S_FEATURES_OK);
	for (unsigned int i = 0; i < nr; i++) {
		const struct fuzz_queue *q = &qs[i];

		virtio_queue_set_size(vdev, i, q->size);
		if (q->legacy_pfn) {
			virtio_queue_set_legacy_pfn(vdev, i, q->legacy.pfn, q->legacy.page_size,
						    q->legacy.align);
			continue;
		}
		virtio_queue_set_addr(vdev, i, VIRTQ_AREA_DESC, q->desc);
		virtio_queue_set_addr(vdev, i, VIRTQ_AREA_DRIVER, q->avail);
		virtio_queue_set_addr(vdev, i, VIRTQ_AREA_DEVICE, q->used);
		virtio_queue_enable(vdev, i);
	}
	virtio_set_status(vdev, virtio_get_status(vdev) | VIRTIO_CONFIG_S_DRIVER_OK);
}

/* The shared log stub (tests/unit/lib/log-stub.c) prints only when verbose. */
bool log_stub_quiet(void)
{
	return !fuzz_verbose();
}

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\nFUZZ ORACLE FAILED at %s:%d: %s\n  ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* ---- guest RAM ---- */

void fuzz_ram_init(struct fuzz_ram *ram, u64 gpa, u64 size)
{
	long page = sysconf(_SC_PAGESIZE);
	u8 *area = mmap(NULL, size + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (area == MAP_FAILED || mprotect(area + page, size, PROT_READ | PROT_WRITE)) {
		perror("fuzz: mmap guest RAM");
		exit(2);
	}
	memset(ram, 0, sizeof(*ram));
	ram->gpa = gpa;
	ram->size = size;
	ram->hva = area + page;
	if (guest_mem_add(&ram->mem, gpa, size, ram->hva)) {
		fprintf(stderr, "fuzz: guest_mem_add failed\n");
		exit(2);
	}
}

void fuzz_ram_clear(struct fuzz_ram *ram)
{
	memset(ram->hva, 0, ram->size);
}

void *fuzz_ram_ptr(struct fuzz_ram *ram, u64 gpa, u64 len)
{
	void *p = guest_mem_ptr(&ram->mem, gpa, len);

	if (!p) {
		fprintf(stderr, "fuzz: harness bug: 0x%llx+0x%llx is not in RAM\n",
			(unsigned long long)gpa, (unsigned long long)len);
		abort();
	}
	return p;
}

bool fuzz_ram_holds(const struct fuzz_ram *ram, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p, base = (uintptr_t)ram->hva;

	return a >= base && a - base <= ram->size && len <= ram->size - (a - base);
}

/* ---- input reader ---- */

void fuzz_in_init(struct fuzz_in *in, const u8 *data, size_t len)
{
	in->data = data;
	in->len = len;
	in->pos = 0;
}

static u64 take(struct fuzz_in *in, unsigned int bytes)
{
	u64 v = 0;

	for (unsigned int i = 0; i < bytes; i++)
		if (in->pos < in->len)
			v |= (u64)in->data[in->pos++] << (8 * i);
	return v;
}

u8 fuzz_u8(struct fuzz_in *in)
{
	return (u8)take(in, 1);
}

u16 fuzz_u16(struct fuzz_in *in)
{
	return (u16)take(in, 2);
}

u32 fuzz_u32(struct fuzz_in *in)
{
	return (u32)take(in, 4);
}

u64 fuzz_u64(struct fuzz_in *in)
{
	return take(in, 8);
}

void fuzz_skip(struct fuzz_in *in, size_t n)
{
	in->pos += MIN(n, in->len - in->pos);
}

size_t fuzz_left(const struct fuzz_in *in)
{
	return in->len - in->pos;
}

const u8 *fuzz_rest(const struct fuzz_in *in)
{
	return in->data + in->pos;
}

int fuzz_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d) {
		perror("fuzz: /proc/self/fd");
		exit(2);
	}
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* ---- scratch directories ---- */

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	int ret = type == FTW_DP ? rmdir(path) : unlink(path);

	return ret && errno != ENOENT ? -errno : 0;
}

int fuzz_rm_rf(const char *path)
{
	struct stat st;
	int ret;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	ret = nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
	return ret > 0 ? -EIO : ret;
}

static char *scratch[8];
static unsigned int nr_scratch;

static void scratch_cleanup(void)
{
	while (nr_scratch)
		fuzz_rm_rf(scratch[--nr_scratch]);
}

const char *fuzz_scratch_dir(const char *tag)
{
	const char *base = getenv("FUZZ_TMPDIR");
	char path[512];

	if (!base || !*base)
		base = access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";
	snprintf(path, sizeof(path), "%s/lkvm-fuzz-%s.XXXXXX", base, tag);
	if (!mkdtemp(path) || nr_scratch == ARRAY_SIZE(scratch)) {
		perror("fuzz: mkdtemp");
		exit(2);
	}
	if (!nr_scratch)
		atexit(scratch_cleanup);
	scratch[nr_scratch] = strdup(path);
	return scratch[nr_scratch++];
}

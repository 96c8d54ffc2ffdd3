#ifndef LKVM_FUZZ_COMMON_H
#define LKVM_FUZZ_COMMON_H
/*
 * Shared by the libFuzzer targets: quiet log stubs (a guest's bad input
 * is logged on every run, and printing it would slow fuzzing to a crawl),
 * fake guest RAM fenced by PROT_NONE pages, a byte reader over the fuzz
 * input, and scratch directories on tmpfs.
 *
 * Set FUZZ_VERBOSE=1 to see lkvm's log lines when reproducing a crash.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lkvm/compiler.h"
#include "lkvm/guest-mem.h"

/* Abort with a message: an oracle of the harness saw lkvm misbehave. */
#define FUZZ_ASSERT(cond, ...)                                       \
	do {                                                         \
		if (!(cond))                                         \
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
	__attribute__((format(printf, 4, 5))) NORETURN;

/* FUZZ_VERBOSE set: print log lines and the targets' per-input notes. */
bool fuzz_verbose(void);

/* Guest RAM: [gpa, gpa+size) with an inaccessible page on each side. */
struct fuzz_ram {
	u64 gpa;
	u64 size;
	u8 *hva;
	struct guest_mem mem;
};

/* Map once per process; fuzz_ram_clear() between inputs. */
void fuzz_ram_init(struct fuzz_ram *ram, u64 gpa, u64 size);
void fuzz_ram_clear(struct fuzz_ram *ram);
/* Host pointer for a guest range that must lie inside RAM (harness use). */
void *fuzz_ram_ptr(struct fuzz_ram *ram, u64 gpa, u64 len);
/* Is [p, p+len) wholly inside RAM's host mapping? */
bool fuzz_ram_holds(const struct fuzz_ram *ram, const void *p, size_t len);

/* Sequential reader over the input; past the end it yields zeros. */
struct fuzz_in {
	const u8 *data;
	size_t len, pos;
};

void fuzz_in_init(struct fuzz_in *in, const u8 *data, size_t len);
u8 fuzz_u8(struct fuzz_in *in);
u16 fuzz_u16(struct fuzz_in *in);
u32 fuzz_u32(struct fuzz_in *in);
u64 fuzz_u64(struct fuzz_in *in);
/* Skip n bytes (fewer if the input ends). */
void fuzz_skip(struct fuzz_in *in, size_t n);
size_t fuzz_left(const struct fuzz_in *in);
const u8 *fuzz_rest(const struct fuzz_in *in);

struct virtio_device;
struct virtio_transport_ops;

/* A transport whose interrupts go nowhere, for targets that count none. */
extern const struct virtio_transport_ops fuzz_quiet_transport;

/*
 * One queue as an input lays it out: its size, then either its three
 * areas' GPAs or, when legacy_pfn is set, what a legacy driver writes
 * instead (one PFN register, the transport's page size and alignment;
 * a legacy queue has no enable step).
 */
struct fuzz_queue {
	u16 size;
	bool legacy_pfn;
	union {
		struct {
			u64 desc, avail, used;
		};
		struct {
			u32 pfn, page_size, align;
		} legacy;
	};
};

/*
 * The driver's set-up in the spec's order with the input's values:
 * ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues [0, nr) sized,
 * placed and enabled, DRIVER_OK last (which activates the device).  No
 * step's result is looked at: refusing a bad value is the device's job.
 */
void fuzz_driver_setup(struct virtio_device *vdev, u64 features, const struct fuzz_queue *qs,
		       unsigned int nr);

/* Descriptors this process has open (to catch leaks across one input). */
int fuzz_count_fds(void);

/*
 * A fresh directory "<TMPDIR or /dev/shm>/lkvm-fuzz-<tag>.XXXXXX",
 * removed with everything in it when the process exits.
 */
const char *fuzz_scratch_dir(const char *tag);
/* rm -rf path (no symlink is followed); 0 or -errno. */
int fuzz_rm_rf(const char *path);

#endif

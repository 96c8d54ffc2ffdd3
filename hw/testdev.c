/*
 * Test device for the direct-tier guests; register map in lkvm/testdev.h.
 * It only exists with --test-device, so nothing here is visible to a
 * normal guest.  All state sits behind one mutex because vCPU threads
 * dispatch concurrently.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "lkvm/testdev.h"

struct testdev {
	struct kvm *kvm;
	pthread_mutex_t lock;
	u32 scratch;
	u8 data[8];	/* the DATA register, little-endian */
	u32 last;
	u32 count;
};

static void pattern_fill(u8 *data, u32 len, u64 offset)
{
	for (u32 i = 0; i < len; i++)
		data[i] = (u8)((offset + i) & 0xff) ^ TESTDEV_PATTERN_XOR;
}

/*
 * Introspection reads are not recorded, so that a guest can read the
 * descriptor or the counter without changing them.
 */
static void record(struct testdev *td, u64 offset, u32 len, bool is_write,
		   bool mmio)
{
	td->last = TESTDEV_LAST((u32)(offset & 0xfff), len & 0xf, (u32)is_write,
				(u32)mmio);
	td->count++;
}

/* Called with td->lock held; true if the access was to EXIT. */
static bool pio_access(struct testdev *td, u64 offset, u8 *data, u32 len,
		       bool is_write)
{
	if (!is_write && offset == TESTDEV_PIO_COUNT) {
		bus_data_put(data, len, td->count);
		return false;
	}
	if (!is_write && offset == TESTDEV_PIO_LAST) {
		bus_data_put(data, len, td->last);
		return false;
	}
	record(td, offset, len, is_write, false);

	if (offset == TESTDEV_PIO_SCRATCH) {
		if (is_write)
			td->scratch = (u32)bus_data_get(data, MIN(len, 4));
		else
			bus_data_put(data, len,
				     td->scratch ^ TESTDEV_SCRATCH_XOR);
		return false;
	}
	if (is_write)
		return offset == TESTDEV_PIO_EXIT;
	pattern_fill(data, len, offset);
	return false;
}

/* The caller checked offset + len <= 8. */
static void data_reg_access(struct testdev *td, u64 offset, u8 *data,
			    u32 len, bool is_write)
{
	if (is_write)
		memcpy(td->data + offset, data, len);
	else
		memcpy(data, td->data + offset, len);
}

/* Called with td->lock held; true if the access was to EXIT. */
static bool mmio_access(struct testdev *td, u64 offset, u8 *data, u32 len,
			bool is_write)
{
	if (!is_write && offset == TESTDEV_MMIO_COUNT) {
		bus_data_put(data, len, td->count);
		return false;
	}
	if (!is_write && offset == TESTDEV_MMIO_LAST) {
		bus_data_put(data, len, td->last);
		return false;
	}
	record(td, offset, len, is_write, true);

	if (offset + len <= TESTDEV_MMIO_DATA + 8) {
		data_reg_access(td, offset, data, len, is_write);
		return false;
	}
	if (is_write)
		return offset == TESTDEV_MMIO_EXIT;
	if (offset == TESTDEV_MMIO_NCPUS)
		bus_data_put(data, len, td->kvm->nr_cpus);
	else
		pattern_fill(data, len, offset);
	return false;
}

static void testdev_pio(void *opaque, u64 offset, u8 *data, u32 len,
			bool is_write)
{
	struct testdev *td = opaque;
	bool do_exit;

	if (len == 0 || len > 8)
		return;
	pthread_mutex_lock(&td->lock);
	do_exit = pio_access(td, offset, data, len, is_write);
	pthread_mutex_unlock(&td->lock);
	if (do_exit)
		kvm_request_guest_exit(td->kvm, (int)bus_data_get(data, len));
}

static void testdev_mmio(void *opaque, u64 offset, u8 *data, u32 len,
			 bool is_write)
{
	struct testdev *td = opaque;
	bool do_exit;

	if (len == 0 || len > 8)
		return;
	pthread_mutex_lock(&td->lock);
	do_exit = mmio_access(td, offset, data, len, is_write);
	pthread_mutex_unlock(&td->lock);
	if (do_exit)
		kvm_request_guest_exit(td->kvm, (int)bus_data_get(data, len));
}

int testdev_register(struct kvm *kvm)
{
	struct testdev *td = calloc(1, sizeof(*td));
	int ret;

	if (!td)
		return -ENOMEM;
	td->kvm = kvm;
	pthread_mutex_init(&td->lock, NULL);

	ret = bus_register(&kvm->pio_bus, TESTDEV_PIO_BASE, TESTDEV_PIO_LEN,
			   testdev_pio, td, "testdev");
	if (ret < 0)
		goto fail;
	ret = bus_register(&kvm->mmio_bus, TESTDEV_MMIO_BASE,
			   TESTDEV_MMIO_LEN, testdev_mmio, td, "testdev");
	if (ret < 0) {
		bus_unregister(&kvm->pio_bus, TESTDEV_PIO_BASE);
		goto fail;
	}
	return 0;

fail:
	pr_err("test device: cannot register its ranges: %d", ret);
	pthread_mutex_destroy(&td->lock);
	free(td);
	return ret;
}

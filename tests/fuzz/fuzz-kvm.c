/* Fake KVM interrupt and ioeventfd calls for the fuzz targets (fuzz-kvm.h). */
#include <errno.h>
#include <string.h>
#include "lkvm/ioeventfd.h"
#include "lkvm/kvm.h"
#include "fuzz-common.h"
#include "fuzz-kvm.h"

bool fuzz_kvm_no_ioeventfd, fuzz_kvm_no_irqfd;

#define FIRST_MSI_GSI 24
#define MAX_GSI 1024

static u8 line_level[MAX_GSI];
static int next_gsi = FIRST_MSI_GSI;

int kvm_irq_line(struct kvm *kvm, u32 gsi, int level)
{
	FUZZ_ASSERT(gsi < FIRST_MSI_GSI, "interrupt line on GSI %u", gsi);
	line_level[gsi] = !!level;
	return 0;
}

unsigned int fuzz_kvm_irq_lines_high(void)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FIRST_MSI_GSI; i++)
		n += line_level[i];
	return n;
}

int kvm_msi_route_add(struct kvm *kvm, u64 addr, u32 data, u32 devid)
{
	return next_gsi < MAX_GSI ? next_gsi++ : -ENOSPC;
}

int kvm_msi_route_update(struct kvm *kvm, u32 gsi, u64 addr, u32 data, u32 devid)
{
	FUZZ_ASSERT(gsi >= FIRST_MSI_GSI && (int)gsi < next_gsi, "update of unknown route %u",
		    gsi);
	return 0;
}

int kvm_signal_msi(struct kvm *kvm, u64 addr, u32 data, u32 devid)
{
	return 0;
}

int kvm_irqfd(struct kvm *kvm, u32 gsi, int fd, bool assign)
{
	FUZZ_ASSERT(!assign || fd >= 0, "irqfd with descriptor %d", fd);
	return assign && fuzz_kvm_no_irqfd ? -ENOSYS : 0;
}

/* Kick fds handed to a kernel data path (nobody here reads them). */
int kvm_ioeventfd(struct kvm *kvm, u64 addr, u32 len, bool pio, int fd,
		  bool datamatch, u64 match, bool assign)
{
	FUZZ_ASSERT(fd >= 0 && len == 2 && datamatch, "kick fd %d, len %u", fd, len);
	return assign && fuzz_kvm_no_ioeventfd ? -ENOSYS : 0;
}

struct ioevent {
	bool used;
	u64 addr;
	u32 len;
	bool pio, datamatch;
	u64 match;
	ioevent_fn fn;
	void *opaque;
};

static struct ioevent ioevents[128];
/*
 * Slots in use lie below this: every guest write scans them, and a scan
 * of all 128 was most of the transport targets' time.
 */
static unsigned int ioevents_end;

int ioevent_add(struct kvm *kvm, u64 addr, u32 len, bool pio, bool datamatch, u64 match,
		ioevent_fn fn, void *opaque, struct ioevent **out)
{
	if (fuzz_kvm_no_ioeventfd)
		return -ENOSYS;
	for (unsigned int i = 0; i < ARRAY_SIZE(ioevents); i++) {
		if (!ioevents[i].used) {
			ioevents[i] = (struct ioevent){ true, addr, len, pio, datamatch, match,
							fn, opaque };
			*out = &ioevents[i];
			ioevents_end = MAX(ioevents_end, i + 1);
			return 0;
		}
	}
	return -ENOSPC;
}

void ioevent_del(struct ioevent *ev)
{
	if (ev)
		ev->used = false;
}

void fuzz_kvm_reset(void)
{
	memset(ioevents, 0, sizeof(ioevents));
	ioevents_end = 0;
	memset(line_level, 0, sizeof(line_level));
	next_gsi = FIRST_MSI_GSI;
}

void fuzz_guest_access(struct bus *bus, bool pio, u64 addr, u32 len, bool write, u64 value)
{
	u8 data[8];

	if (write) {
		for (unsigned int i = 0; i < ioevents_end; i++) {
			struct ioevent *ev = &ioevents[i];

			if (ev->used && ev->pio == pio && ev->addr == addr && ev->len == len &&
			    (!ev->datamatch || ev->match == value)) {
				ev->fn(ev->opaque);
				return;
			}
		}
	}
	bus_data_put(data, len, value);
	bus_dispatch(bus, addr, data, len, write);
}

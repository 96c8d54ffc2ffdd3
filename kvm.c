/*
 * The VM: /dev/kvm, capability checks, guest RAM, interrupt routing and the
 * stop request that ends a run.  Architecture specifics are behind
 * include/lkvm/kvm-arch.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>
#include "lkvm/kvm.h"
#include "lkvm/kvm-arch.h"
#include "lkvm/log.h"

#define KVM_DEV "/dev/kvm"
#define MAX_GSI_ROUTES 1024

struct generic_cap {
	int cap;
	const char *name;
};

static const struct generic_cap generic_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
};

/* The routing table lives here because KVM only takes it whole. */
static struct {
	pthread_mutex_t lock;
	struct kvm_irq_routing *table;
	u32 next_msi_gsi;
} routing = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int open_kvm_device(void)
{
	int fd = open(KVM_DEV, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		die(KVM_DEV ": not found: KVM not available: load kvm-intel or kvm-amd (modprobe kvm_intel / kvm_amd)");
	if (errno == EACCES || errno == EPERM)
		die(KVM_DEV ": permission denied: add yourself to group kvm (sudo usermod -aG kvm $USER) and log in again");
	die(KVM_DEV ": %s", strerror(errno));
}

static void check_caps(int sys_fd)
{
	for (size_t i = 0; i < ARRAY_SIZE(generic_caps); i++)
		if (ioctl(sys_fd, KVM_CHECK_EXTENSION, generic_caps[i].cap) <= 0)
			die("this KVM lacks %s, which lkvm needs", generic_caps[i].name);
	for (int i = 0; kvm_arch_required_caps[i] >= 0; i++)
		if (ioctl(sys_fd, KVM_CHECK_EXTENSION, kvm_arch_required_caps[i]) <= 0)
			die("this KVM lacks %s, which lkvm needs",
			    kvm_arch_required_cap_names[i]);
}

static void map_guest_ram(struct kvm *kvm)
{
	kvm->ram_size = MiB(kvm->cfg->ram_mib);
	kvm->ram_map_size = kvm->ram_size;
	kvm->ram_start = mmap(NULL, kvm->ram_map_size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (kvm->ram_start == MAP_FAILED)
		die("cannot allocate %llu MiB of guest RAM: %s: use a smaller -m",
		    (unsigned long long)kvm->cfg->ram_mib, strerror(errno));
	madvise(kvm->ram_start, kvm->ram_map_size, MADV_MERGEABLE);
	madvise(kvm->ram_start, kvm->ram_map_size, MADV_HUGEPAGE);

	kvm_arch_layout_ram(kvm);
	for (unsigned int i = 0; i < kvm->mem.nr_regions; i++) {
		const struct guest_mem_region *r = &kvm->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (u64)(unsigned long)r->hva,
		};

		if (ioctl(kvm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			die("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	}
}

static void init_routing(void)
{
	routing.table = calloc(1, sizeof(*routing.table) +
				  MAX_GSI_ROUTES * sizeof(routing.table->entries[0]));
	if (!routing.table)
		die("out of memory");
	routing.next_msi_gsi = kvm_arch_first_msi_gsi();
}

struct kvm *kvm_create(struct lkvm_config *cfg)
{
	struct kvm *kvm = calloc(1, sizeof(*kvm));
	int api;

	if (!kvm)
		die("out of memory");
	kvm->cfg = cfg;
	kvm->nr_cpus = cfg->nr_cpus;
	pthread_mutex_init(&kvm->stop_lock, NULL);
	pthread_cond_init(&kvm->stop_cond, NULL);
	bus_init(&kvm->pio_bus, "port I/O");
	bus_init(&kvm->mmio_bus, "MMIO");
	init_routing();

	kvm->sys_fd = open_kvm_device();
	api = ioctl(kvm->sys_fd, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION)
		die("KVM API version %d, lkvm needs %d: update the kernel", api, KVM_API_VERSION);
	check_caps(kvm->sys_fd);

	kvm->vm_fd = ioctl(kvm->sys_fd, KVM_CREATE_VM, kvm_arch_vm_type(kvm));
	if (kvm->vm_fd < 0)
		die("KVM_CREATE_VM: %s", strerror(errno));
	kvm->vcpu_mmap_size = ioctl(kvm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm->vcpu_mmap_size <= 0)
		die("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	int max_cpus = ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max_cpus > 0 && kvm->nr_cpus > (unsigned int)max_cpus)
		die("-c %u: this KVM allows at most %d vCPUs", kvm->nr_cpus, max_cpus);

	map_guest_ram(kvm);
	kvm_arch_init_vm(kvm);
	/*
	 * Asked of the VM, not /dev/kvm: it holds once an ITS exists.  Asked
	 * once here, since MSIs are sent from sandboxed threads.
	 */
	kvm->msi_devid = ioctl(kvm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MSI_DEVID) > 0;
	routing.table->nr = kvm_arch_default_routes(routing.table->entries, MAX_GSI_ROUTES);
	if (ioctl(kvm->vm_fd, KVM_SET_GSI_ROUTING, routing.table) < 0)
		die("KVM_SET_GSI_ROUTING: %s", strerror(errno));
	return kvm;
}

void kvm_destroy(struct kvm *kvm)
{
	munmap(kvm->ram_start, kvm->ram_map_size);
	close(kvm->vm_fd);
	close(kvm->sys_fd);
	bus_destroy(&kvm->pio_bus);
	bus_destroy(&kvm->mmio_bus);
	free(kvm->cpus);
	free(kvm);
}

int kvm_irq_line(struct kvm *kvm, u32 gsi, int level)
{
	struct kvm_irq_level irq = { .irq = kvm_arch_irq_line_encode(gsi), .level = level };

	if (ioctl(kvm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		return -errno;
	return 0;
}

void kvm_irq_trigger(struct kvm *kvm, u32 gsi)
{
	kvm_irq_line(kvm, gsi, 1);
	kvm_irq_line(kvm, gsi, 0);
}

static bool msi_needs_devid(struct kvm *kvm)
{
	return kvm->msi_devid;
}

static void fill_msi_entry(struct kvm *kvm, struct kvm_irq_routing_entry *e, u32 gsi,
			   u64 addr, u32 data, u32 devid)
{
	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_MSI;
	e->u.msi.address_lo = (u32)addr;
	e->u.msi.address_hi = (u32)(addr >> 32);
	e->u.msi.data = data;
	if (msi_needs_devid(kvm)) {
		e->flags = KVM_MSI_VALID_DEVID;
		e->u.msi.devid = devid;
	}
}

static int commit_routes(struct kvm *kvm)
{
	return ioctl(kvm->vm_fd, KVM_SET_GSI_ROUTING, routing.table) < 0 ? -errno : 0;
}

int kvm_msi_route_add(struct kvm *kvm, u64 addr, u32 data, u32 devid)
{
	int ret;

	pthread_mutex_lock(&routing.lock);
	if (routing.table->nr >= MAX_GSI_ROUTES) {
		pthread_mutex_unlock(&routing.lock);
		return -ENOSPC;
	}
	u32 gsi = routing.next_msi_gsi++;
	fill_msi_entry(kvm, &routing.table->entries[routing.table->nr++], gsi, addr, data,
		       devid);
	ret = commit_routes(kvm);
	pthread_mutex_unlock(&routing.lock);
	return ret ? ret : (int)gsi;
}

int kvm_msi_route_update(struct kvm *kvm, u32 gsi, u64 addr, u32 data, u32 devid)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&routing.lock);
	for (u32 i = 0; i < routing.table->nr; i++) {
		struct kvm_irq_routing_entry *e = &routing.table->entries[i];

		if (e->gsi == gsi && e->type == KVM_IRQ_ROUTING_MSI) {
			fill_msi_entry(kvm, e, gsi, addr, data, devid);
			ret = commit_routes(kvm);
			break;
		}
	}
	pthread_mutex_unlock(&routing.lock);
	return ret;
}

int kvm_signal_msi(struct kvm *kvm, u64 addr, u32 data, u32 devid)
{
	struct kvm_msi msi = {
		.address_lo = (u32)addr, .address_hi = (u32)(addr >> 32), .data = data,
	};

	if (msi_needs_devid(kvm)) {
		msi.flags = KVM_MSI_VALID_DEVID;
		msi.devid = devid;
	}

	return ioctl(kvm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
}

int kvm_irqfd(struct kvm *kvm, u32 gsi, int fd, bool assign)
{
	struct kvm_irqfd irqfd = {
		.fd = fd, .gsi = gsi, .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	return ioctl(kvm->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

int kvm_ioeventfd(struct kvm *kvm, u64 addr, u32 len, bool pio, int fd,
		  bool datamatch, u64 match, bool assign)
{
	struct kvm_ioeventfd ioe = {
		.datamatch = match, .addr = addr, .len = len, .fd = fd,
	};

	if (pio)
		ioe.flags |= KVM_IOEVENTFD_FLAG_PIO;
	if (datamatch)
		ioe.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
	if (!assign)
		ioe.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	return ioctl(kvm->vm_fd, KVM_IOEVENTFD, &ioe) < 0 ? -errno : 0;
}

void kvm_request_stop(struct kvm *kvm, enum vm_stop_reason reason)
{
	pthread_mutex_lock(&kvm->stop_lock);
	if (kvm->stop_reason == VM_RUNNING) {
		kvm->stop_reason = reason;
		pthread_cond_broadcast(&kvm->stop_cond);
	}
	pthread_mutex_unlock(&kvm->stop_lock);
}

void kvm_request_guest_exit(struct kvm *kvm, int exit_code)
{
	pthread_mutex_lock(&kvm->stop_lock);
	if (kvm->stop_reason == VM_RUNNING) {
		kvm->guest_exit_code = exit_code;
		kvm->stop_reason = VM_STOP_GUEST_EXIT;
		pthread_cond_broadcast(&kvm->stop_cond);
	}
	pthread_mutex_unlock(&kvm->stop_lock);
}

bool kvm_stopping(struct kvm *kvm)
{
	return READ_ONCE(kvm->stop_reason) != VM_RUNNING;
}

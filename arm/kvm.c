/* The arm64 VM: IPA size, RAM at 2 GiB, the vGIC and its SPI routing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include "lkvm/kvm-arch.h"
#include "lkvm/log.h"
#include "arm/arm.h"

const int kvm_arch_required_caps[] = {
	KVM_CAP_ONE_REG, KVM_CAP_ARM_PSCI_0_2, KVM_CAP_DEVICE_CTRL, -1,
};
const char *const kvm_arch_required_cap_names[] = {
	"KVM_CAP_ONE_REG", "KVM_CAP_ARM_PSCI_0_2", "KVM_CAP_DEVICE_CTRL",
};

/* KVM's default IPA space is 40 bits; ask for more only when RAM needs it. */
unsigned long kvm_arch_vm_type(struct kvm *kvm)
{
	u64 end = ARM_RAM_BASE + MiB(kvm->cfg->ram_mib) - 1;
	int host = ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE);
	unsigned int bits = 64 - __builtin_clzll(end);

	if (bits <= 40)
		return 0;
	if (host <= 0 || bits > (unsigned int)host)
		die("-m %llu: guest RAM would end at 0x%llx, beyond this host's %d-bit guest "
		    "address space: use a smaller -m", (unsigned long long)kvm->cfg->ram_mib,
		    (unsigned long long)end, host > 0 ? host : 40);
	return KVM_VM_TYPE_ARM_IPA_SIZE(bits);
}

u32 kvm_arch_first_msi_gsi(void)
{
	return ARM_FIRST_MSI_GSI;
}

u32 kvm_arch_irq_line_encode(u32 gsi)
{
	return arm_irq_line_spi(gsi);
}

void kvm_arch_layout_ram(struct kvm *kvm)
{
	guest_mem_add(&kvm->mem, ARM_RAM_BASE, kvm->ram_size, kvm->ram_start);
}

void kvm_arch_init_vm(struct kvm *kvm)
{
	struct arm_vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		die("out of memory");
	kvm->arch = vm;
	vm->gic_fd = vm->its_fd = -1;
	if (ioctl(kvm->vm_fd, KVM_ARM_PREFERRED_TARGET, &vm->init) < 0)
		die("KVM_ARM_PREFERRED_TARGET: %s", strerror(errno));
	vm->hw_bps = (unsigned int)MAX(0, ioctl(kvm->vm_fd, KVM_CHECK_EXTENSION,
					       KVM_CAP_GUEST_DEBUG_HW_BPS));
	vm->hw_wps = (unsigned int)MAX(0, ioctl(kvm->vm_fd, KVM_CHECK_EXTENSION,
					       KVM_CAP_GUEST_DEBUG_HW_WPS));
	if (!arm_gic_redist_fits(kvm->nr_cpus))
		die("-c %u: lkvm's arm64 layout has room for %llu vCPUs", kvm->nr_cpus,
		    (unsigned long long)((ARM_GIC_REDIST_END - ARM_GIC_REDIST_BASE) /
					 ARM_GIC_REDIST_STRIDE));
	arm_gic_create(kvm);
}

/* GSI n drives SPI n (KVM's irqchip pin numbering is the SPI number). */
unsigned int kvm_arch_default_routes(struct kvm_irq_routing_entry *e, unsigned int max)
{
	unsigned int n = 0;

	for (u32 spi = 0; spi < ARM_NR_SPIS && n < max; spi++)
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = spi, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = 0, .pin = spi },
		};
	return n;
}

void kvm_arch_cpus_created(struct kvm *kvm)
{
	arm_boot_finish(kvm);
	arm_gic_finalize(kvm);
}

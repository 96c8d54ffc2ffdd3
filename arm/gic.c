/*
 * The in-kernel interrupt controller: a vGICv3 with an ITS for MSIs by
 * default, a plain vGICv3, or a vGICv2 on hosts without v3 (--irqchip
 * picks one; the default falls back in that order).
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include "lkvm/log.h"
#include "arm/arm.h"

static const char *const gic_names[] = {
	[ARM_GIC_V2] = "GICv2", [ARM_GIC_V3] = "GICv3", [ARM_GIC_V3_ITS] = "GICv3 with ITS",
};

static int create_device(struct kvm *kvm, u32 type)
{
	struct kvm_create_device dev = { .type = type };

	return ioctl(kvm->vm_fd, KVM_CREATE_DEVICE, &dev) < 0 ? -errno : (int)dev.fd;
}

static int set_attr(int fd, u32 group, u64 attr, const void *val)
{
	struct kvm_device_attr a = {
		.group = group, .attr = attr, .addr = (u64)(unsigned long)val,
	};

	return ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

static void set_attr_or_die(int fd, u32 group, u64 attr, const void *val, const char *what)
{
	int ret = set_attr(fd, group, attr, val);

	if (ret)
		die("vGIC %s: %s", what, strerror(-ret));
}

static int create_v3(struct kvm *kvm)
{
	static const u64 dist = ARM_GIC_DIST_BASE, redist = ARM_GIC_REDIST_BASE;
	int fd = create_device(kvm, KVM_DEV_TYPE_ARM_VGIC_V3);

	if (fd < 0)
		return fd;
	set_attr_or_die(fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist,
			"distributor address");
	set_attr_or_die(fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, &redist,
			"redistributor address");
	return fd;
}

static int create_v2(struct kvm *kvm)
{
	static const u64 dist = ARM_GIC_DIST_BASE, cpu = ARM_GIC_CPU_BASE;
	int fd = create_device(kvm, KVM_DEV_TYPE_ARM_VGIC_V2);

	if (fd < 0)
		return fd;
	set_attr_or_die(fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_DIST, &dist,
			"distributor address");
	set_attr_or_die(fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_CPU, &cpu,
			"CPU interface address");
	return fd;
}

static int create_its(struct kvm *kvm)
{
	static const u64 base = ARM_GIC_ITS_BASE;
	int fd;

	fd = create_device(kvm, KVM_DEV_TYPE_ARM_VGIC_ITS);
	if (fd < 0)
		return fd;
	set_attr_or_die(fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE, &base,
			"ITS address");
	return fd;
}

void arm_gic_create(struct kvm *kvm)
{
	struct arm_vm *vm = arm_vm(kvm);
	const char *want = kvm->cfg->irqchip;
	bool fallback = !want;
	static const u32 nr_irqs = ARM_GIC_NR_IRQS;
	int ret = -ENODEV;

	if (!want || strncmp(want, "gicv3", 5) == 0) {
		ret = vm->gic_fd = create_v3(kvm);
		vm->gic = ARM_GIC_V3;
		if (ret < 0 && !fallback)
			die("--irqchip %s: this host's KVM cannot create a vGICv3 (%s)", want,
			    strerror(-ret));
		if (ret >= 0 && (!want || !strcmp(want, "gicv3-its"))) {
			vm->its_fd = create_its(kvm);
			if (vm->its_fd >= 0)
				vm->gic = ARM_GIC_V3_ITS;
			else if (!fallback)
				die("--irqchip gicv3-its: this host's KVM has no ITS (%s): try --irqchip gicv3",
				    strerror(-vm->its_fd));
		}
	}
	if (ret < 0) {
		vm->gic = ARM_GIC_V2;
		ret = vm->gic_fd = create_v2(kvm);
		if (ret < 0)
			die("cannot create an in-kernel GIC (v3: no; v2: %s): this KVM has no vGIC",
			    strerror(-ret));
	}
	set_attr_or_die(vm->gic_fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs, "number of IRQs");
	pr_debug("interrupt controller: %s", gic_names[vm->gic]);
}

/* After every vCPU exists: the redistributors are per vCPU. */
void arm_gic_finalize(struct kvm *kvm)
{
	struct arm_vm *vm = arm_vm(kvm);

	set_attr_or_die(vm->gic_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL,
			"initialisation");
	if (vm->its_fd >= 0)
		set_attr_or_die(vm->its_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT,
				NULL, "ITS initialisation");
}

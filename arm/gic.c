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

/* A vGIC device KVM creates, and where its register frames sit in the guest. */
struct vgic_model {
	u32 type;			/* KVM_DEV_TYPE_ARM_VGIC_* */
	unsigned int nr_frames;
	struct {
		u64 addr_type;		/* KVM_VGIC_*_ADDR_TYPE_* */
		u64 base;
		const char *what;
	} frames[2];
};

static const struct vgic_model vgic_v3 = {
	KVM_DEV_TYPE_ARM_VGIC_V3, 2, {
		{ KVM_VGIC_V3_ADDR_TYPE_DIST, ARM_GIC_DIST_BASE, "distributor address" },
		{ KVM_VGIC_V3_ADDR_TYPE_REDIST, ARM_GIC_REDIST_BASE, "redistributor address" },
	},
};

static const struct vgic_model vgic_v2 = {
	KVM_DEV_TYPE_ARM_VGIC_V2, 2, {
		{ KVM_VGIC_V2_ADDR_TYPE_DIST, ARM_GIC_DIST_BASE, "distributor address" },
		{ KVM_VGIC_V2_ADDR_TYPE_CPU, ARM_GIC_CPU_BASE, "CPU interface address" },
	},
};

static const struct vgic_model vgic_its = {
	KVM_DEV_TYPE_ARM_VGIC_ITS, 1, {
		{ KVM_VGIC_ITS_ADDR_TYPE, ARM_GIC_ITS_BASE, "ITS address" },
	},
};

/* The device's fd, or -errno if this KVM cannot create it (then nothing to undo). */
static int create_vgic(struct kvm *kvm, const struct vgic_model *m)
{
	int fd = create_device(kvm, m->type);

	if (fd < 0)
		return fd;
	for (unsigned int i = 0; i < m->nr_frames; i++)
		set_attr_or_die(fd, KVM_DEV_ARM_VGIC_GRP_ADDR, m->frames[i].addr_type,
				&m->frames[i].base, m->frames[i].what);
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
		ret = vm->gic_fd = create_vgic(kvm, &vgic_v3);
		vm->gic = ARM_GIC_V3;
		if (ret < 0 && !fallback)
			die("--irqchip %s: this host's KVM cannot create a vGICv3 (%s)", want,
			    strerror(-ret));
		if (ret >= 0 && (!want || !strcmp(want, "gicv3-its"))) {
			vm->its_fd = create_vgic(kvm, &vgic_its);
			if (vm->its_fd >= 0)
				vm->gic = ARM_GIC_V3_ITS;
			else if (!fallback)
				die("--irqchip gicv3-its: this host's KVM has no ITS (%s): try --irqchip gicv3",
				    strerror(-vm->its_fd));
		}
	}
	if (ret < 0) {
		vm->gic = ARM_GIC_V2;
		ret = vm->gic_fd = create_vgic(kvm, &vgic_v2);
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

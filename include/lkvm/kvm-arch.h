#ifndef LKVM_KVM_ARCH_H
#define LKVM_KVM_ARCH_H
/*
 * What generic code asks of the architecture directory (x86/, arm/).
 * Each function is implemented once per architecture.
 */
#include <stdbool.h>
#include <stddef.h>
#include <linux/kvm.h>
#include "lkvm/kvm.h"

struct kvm_cpu;

/* Capabilities beyond the generic set that this architecture needs. */
extern const int kvm_arch_required_caps[];
extern const char *const kvm_arch_required_cap_names[];

/* The type argument of KVM_CREATE_VM (arm64: the IPA size); sys_fd is open. */
unsigned long kvm_arch_vm_type(struct kvm *kvm);
/* Guest-physical layout of RAM: fills kvm->mem from one host mapping. */
void kvm_arch_layout_ram(struct kvm *kvm);
/* irqchip, timers and anything else needed before vCPUs are created. */
void kvm_arch_init_vm(struct kvm *kvm);
/* Every vCPU exists, none runs yet (arm64: the vGIC's CTRL_INIT). */
void kvm_arch_cpus_created(struct kvm *kvm);
/* First GSI handed to MSI routes: above every irqchip pin the arch routes. */
u32 kvm_arch_first_msi_gsi(void);
/* The irq field of KVM_IRQ_LINE for interrupt line (GSI) gsi. */
u32 kvm_arch_irq_line_encode(u32 gsi);
/* The default GSI routing entries (irqchip pins); returns the count. */
unsigned int kvm_arch_default_routes(struct kvm_irq_routing_entry *e,
				     unsigned int max);
/* Load kernel/initrd/firmware and build boot data (tables, e820...). */
void kvm_arch_load_guest(struct kvm *kvm);
/* Platform devices: serial, RTC, i8042, ACPI PM... */
void kvm_arch_init_devices(struct kvm *kvm);
/* Per-vCPU set-up (CPUID, MSRs, LAPIC) and boot registers for vCPU 0. */
void kvm_cpu_arch_init(struct kvm_cpu *cpu);
/* Break + key on the console UART (lkvm debug --sysrq); 0 or -errno. */
int kvm_arch_console_sysrq(struct kvm *kvm, u8 key);
/*
 * Registers as text lines ("  name value ...\n"), for fatal exits and
 * `lkvm debug --dump`.  Runs on the vCPU's own thread; 0 or -errno.
 */
struct reg_text {
	char *buf;
	size_t size, used;
};
void reg_text_add(struct reg_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int kvm_cpu_arch_format_regs(struct kvm_cpu *cpu, struct reg_text *t);
/* An NMI to cpu (on its thread): 0, -errno, or -ENOTSUP where there is none. */
int kvm_cpu_arch_nmi(struct kvm_cpu *cpu);
/* KVM_EXIT_SYSTEM_EVENT the architecture reads itself; false: the generic meaning. */
bool kvm_cpu_arch_system_event(struct kvm_cpu *cpu);
/* Architecture-specific exit reasons; false if unhandled. */
bool kvm_cpu_arch_handle_exit(struct kvm_cpu *cpu);
/*
 * Kernel images tried, in order, when -k is not given (paths relative to
 * the current directory, NULL-terminated); /boot/vmlinuz-RELEASE follows.
 */
extern const char *const kvm_arch_default_kernels[];
/*
 * The release (uname -r) of the Linux image img[0, size) into buf: 0;
 * -ENOEXEC if it is not a Linux image this architecture boots; -ENODATA
 * if the image does not say.
 */
int kvm_arch_kernel_release(const u8 *img, size_t size, char *buf, size_t len);

#endif

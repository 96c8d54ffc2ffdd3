#ifndef LKVM_KVM_ARCH_H
#define LKVM_KVM_ARCH_H
/*
 * What generic code asks of the architecture directory (x86/, arm/).
 * Each function is implemented once per architecture.
 */
#include <stdbool.h>
#include <linux/kvm.h>
#include "lkvm/kvm.h"

struct kvm_cpu;

/* Capabilities beyond the generic set that this architecture needs. */
extern const int kvm_arch_required_caps[];
extern const char *const kvm_arch_required_cap_names[];

/* Guest-physical layout of RAM: fills kvm->mem from one host mapping. */
void kvm_arch_layout_ram(struct kvm *kvm);
/* irqchip, timers and anything else needed before vCPUs are created. */
void kvm_arch_init_vm(struct kvm *kvm);
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
/* Print registers after a fatal exit. */
void kvm_cpu_arch_dump(struct kvm_cpu *cpu);
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

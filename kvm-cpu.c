/*
 * vCPU threads: one per vCPU, each looping on KVM_RUN and dispatching
 * exits to the port-I/O and MMIO buses.  A stop is delivered by setting
 * immediate_exit and signalling the thread, so a vCPU that is about to
 * enter the guest cannot miss it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "lkvm/kvm-cpu.h"
#include "lkvm/kvm-arch.h"
#include "lkvm/log.h"

#define SIG_VCPU_KICK SIGUSR2

static void kick_handler(int sig UNUSED)
{
	/* Only here to make KVM_RUN return -EINTR. */
}

static struct kvm_cpu *kvm_cpu_create(struct kvm *kvm, unsigned int id)
{
	struct kvm_cpu *cpu = calloc(1, sizeof(*cpu));

	if (!cpu)
		die("out of memory");
	cpu->id = id;
	cpu->kvm = kvm;
	cpu->fd = ioctl(kvm->vm_fd, KVM_CREATE_VCPU, id);
	if (cpu->fd < 0)
		die("KVM_CREATE_VCPU %u: %s", id, strerror(errno));
	cpu->run = mmap(NULL, kvm->vcpu_mmap_size, PROT_READ | PROT_WRITE,
			MAP_SHARED, cpu->fd, 0);
	if (cpu->run == MAP_FAILED)
		die("mmap of vCPU %u run area: %s", id, strerror(errno));
	kvm_cpu_arch_init(cpu);
	return cpu;
}

void kvm_cpus_create(struct kvm *kvm)
{
	struct sigaction sa = { .sa_handler = kick_handler };

	sigemptyset(&sa.sa_mask);
	sigaction(SIG_VCPU_KICK, &sa, NULL);
	kvm->cpus = calloc(kvm->nr_cpus, sizeof(*kvm->cpus));
	if (!kvm->cpus)
		die("out of memory");
	for (unsigned int i = 0; i < kvm->nr_cpus; i++)
		kvm->cpus[i] = kvm_cpu_create(kvm, i);
}

static void handle_io(struct kvm_cpu *cpu)
{
	struct kvm_run *run = cpu->run;
	u8 *data = (u8 *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	/* String I/O (rep outs/ins) arrives as count consecutive items. */
	for (u32 i = 0; i < run->io.count; i++, data += run->io.size) {
		if (!bus_dispatch(&cpu->kvm->pio_bus, run->io.port, data,
				  run->io.size, is_write))
			pr_debug("unhandled port %s 0x%x size %u", is_write ? "out" : "in",
				 run->io.port, run->io.size);
	}
}

static void handle_mmio(struct kvm_cpu *cpu)
{
	struct kvm_run *run = cpu->run;
	u32 len = run->mmio.len;

	if (len > sizeof(run->mmio.data))
		len = sizeof(run->mmio.data);
	if (!bus_dispatch(&cpu->kvm->mmio_bus, run->mmio.phys_addr, run->mmio.data,
			  len, run->mmio.is_write))
		pr_debug("unhandled mmio %s 0x%llx len %u",
			 run->mmio.is_write ? "write" : "read",
			 (unsigned long long)run->mmio.phys_addr, len);
}

static void fatal_exit(struct kvm_cpu *cpu, const char *what)
{
	pr_err("vCPU %u: %s: stopping the VM", cpu->id, what);
	kvm_cpu_arch_dump(cpu);
	kvm_request_stop(cpu->kvm, VM_STOP_ERROR);
}

static void handle_system_event(struct kvm_cpu *cpu)
{
	switch (cpu->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		kvm_request_stop(cpu->kvm, VM_STOP_POWEROFF);
		break;
	case KVM_SYSTEM_EVENT_RESET:
		kvm_request_stop(cpu->kvm, VM_STOP_RESET);
		break;
	case KVM_SYSTEM_EVENT_CRASH:
		pr_err("guest reported a crash");
		kvm_request_stop(cpu->kvm, VM_STOP_PANIC);
		break;
	default:
		fatal_exit(cpu, "unknown system event");
	}
}

static void handle_exit(struct kvm_cpu *cpu)
{
	struct kvm_run *run = cpu->run;
	char what[96];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(cpu);
		break;
	case KVM_EXIT_MMIO:
		handle_mmio(cpu);
		break;
	case KVM_EXIT_INTR:
		break;
	case KVM_EXIT_SHUTDOWN:
		/* A triple fault: PCs reset, so a guest may use it to reboot. */
		pr_debug("vCPU %u: triple fault: treating as reset", cpu->id);
		kvm_request_stop(cpu->kvm, VM_STOP_RESET);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		handle_system_event(cpu);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "KVM_EXIT_FAIL_ENTRY (reason 0x%llx)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		fatal_exit(cpu, what);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(what, sizeof(what), "KVM_EXIT_INTERNAL_ERROR (suberror %u)",
			 run->internal.suberror);
		fatal_exit(cpu, what);
		break;
	default:
		if (!kvm_cpu_arch_handle_exit(cpu)) {
			snprintf(what, sizeof(what), "unhandled exit reason %u",
				 run->exit_reason);
			fatal_exit(cpu, what);
		}
	}
}

static void *vcpu_thread(void *arg)
{
	struct kvm_cpu *cpu = arg;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%u", cpu->id);
	pthread_setname_np(pthread_self(), name);
	while (!kvm_stopping(cpu->kvm)) {
		if (ioctl(cpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			pr_err("vCPU %u: KVM_RUN: %s", cpu->id, strerror(errno));
			kvm_cpu_arch_dump(cpu);
			kvm_request_stop(cpu->kvm, VM_STOP_ERROR);
			break;
		}
		handle_exit(cpu);
	}
	return NULL;
}

void kvm_cpus_start(struct kvm *kvm)
{
	sigset_t kick, old;

	/* Only vCPU threads take the kick signal. */
	sigemptyset(&kick);
	sigaddset(&kick, SIG_VCPU_KICK);
	pthread_sigmask(SIG_UNBLOCK, &kick, &old);
	for (unsigned int i = 0; i < kvm->nr_cpus; i++) {
		int err = pthread_create(&kvm->cpus[i]->thread, NULL, vcpu_thread,
					 kvm->cpus[i]);
		if (err)
			die("cannot start vCPU thread: %s", strerror(err));
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void kvm_cpus_stop(struct kvm *kvm)
{
	for (unsigned int i = 0; i < kvm->nr_cpus; i++) {
		WRITE_ONCE(kvm->cpus[i]->run->immediate_exit, 1);
		pthread_kill(kvm->cpus[i]->thread, SIG_VCPU_KICK);
	}
	for (unsigned int i = 0; i < kvm->nr_cpus; i++)
		pthread_join(kvm->cpus[i]->thread, NULL);
}

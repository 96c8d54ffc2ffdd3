/*
 * vCPU threads: one per vCPU, each looping on KVM_RUN and dispatching
 * exits to the port-I/O and MMIO buses.  A stop is delivered by setting
 * immediate_exit and signalling the thread, so a vCPU that is about to
 * enter the guest cannot miss it.
 */
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "lkvm/kvm-cpu.h"
#include "lkvm/kvm-arch.h"
#include "lkvm/boot-trace.h"
#include "lkvm/deadline.h"
#include "lkvm/gdb.h"
#include "lkvm/log.h"
#include "lkvm/run.h"
#include "lkvm/sandbox.h"

#define SIG_VCPU_KICK SIGUSR2

struct kvm_cpu_work {
	int (*fn)(struct kvm_cpu *cpu, void *arg);
	void *arg;
	int result;
	bool done;
};

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
	pthread_mutex_init(&cpu->work_lock, NULL);
	pthread_cond_init(&cpu->work_done, NULL);
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
	kvm_arch_cpus_created(kvm);
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
			pr_debug_ratelimited("unhandled port %s 0x%x size %u", is_write ? "out" : "in",
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
		pr_debug_ratelimited("unhandled mmio %s 0x%llx len %u",
			 run->mmio.is_write ? "write" : "read",
			 (unsigned long long)run->mmio.phys_addr, len);
}

void reg_text_add(struct reg_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->used >= t->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->used, t->size - t->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->used = MIN(t->size - 1, t->used + (size_t)n);
}

/* On the vCPU thread, after a fatal exit. */
static void dump_regs(struct kvm_cpu *cpu)
{
	char buf[4096];
	struct reg_text t = { .buf = buf, .size = sizeof(buf) };
	int ret = kvm_cpu_arch_format_regs(cpu, &t);

	if (ret < 0) {
		pr_err("vCPU %u: cannot read registers: %s", cpu->id, strerror(-ret));
		return;
	}
	fprintf(stderr, "vCPU %u registers:\n%s", cpu->id, buf);
}

static void fatal_exit(struct kvm_cpu *cpu, const char *what)
{
	pr_err("vCPU %u: %s: stopping the VM", cpu->id, what);
	dump_regs(cpu);
	kvm_request_stop(cpu->kvm, VM_STOP_ERROR);
}

/*
 * A triple fault (KVM_EXIT_SHUTDOWN) resets a PC, but a guest that meant
 * to reboot asks through the i8042 or PSCI: one that did not is a crashed
 * guest, which a script must not take for a clean reboot.
 */
static void handle_triple_fault(struct kvm_cpu *cpu)
{
	if (cpu->kvm->cfg->reboot_on_triple_fault) {
		pr_info("vCPU %u: triple fault: a reboot (--reboot-on-triple-fault)", cpu->id);
		kvm_request_stop(cpu->kvm, VM_STOP_RESET);
		return;
	}
	pr_err("vCPU %u: triple fault: the guest reset without asking; stopping the VM "
	       "(exit %d; --reboot-on-triple-fault takes it for a reboot)",
	       cpu->id, LKVM_EXIT_TRIPLE_FAULT);
	dump_regs(cpu);
	kvm_request_stop(cpu->kvm, VM_STOP_TRIPLE_FAULT);
}

static void handle_system_event(struct kvm_cpu *cpu)
{
	if (kvm_cpu_arch_system_event(cpu))
		return;
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
		handle_triple_fault(cpu);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		handle_system_event(cpu);
		break;
	case KVM_EXIT_DEBUG:
		if (!gdb_vcpu_debug_exit(cpu))
			fatal_exit(cpu, "KVM_EXIT_DEBUG without a debugger");
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

/*
 * A vCPU without a thread yet (a "pause" that came before kvm_cpus_start)
 * has nothing to signal: it checks the pause flag before its first
 * KVM_RUN, and kvm_cpus_start() kicks it if a pause raced with its start.
 */
static void kick(struct kvm_cpu *cpu)
{
	/* Ordered after the caller's kvm_vcpu_events_bump(): see vcpu_attend(). */
	__atomic_store_n(&cpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&cpu->started, __ATOMIC_SEQ_CST))
		pthread_kill(cpu->thread, SIG_VCPU_KICK);
}

static void do_pending_work(struct kvm_cpu *cpu)
{
	pthread_mutex_lock(&cpu->work_lock);
	if (cpu->work) {
		cpu->work->result = cpu->work->fn(cpu, cpu->work->arg);
		cpu->work->done = true;
		cpu->work = NULL;
		pthread_cond_broadcast(&cpu->work_done);
	}
	pthread_mutex_unlock(&cpu->work_lock);
}

int kvm_cpu_run_on(struct kvm_cpu *cpu, int (*fn)(struct kvm_cpu *, void *), void *arg)
{
	struct kvm_cpu_work w = { .fn = fn, .arg = arg };

	pthread_mutex_lock(&cpu->work_lock);
	while (cpu->work && !kvm_stopping(cpu->kvm))
		pthread_cond_wait(&cpu->work_done, &cpu->work_lock);
	if (kvm_stopping(cpu->kvm) || !cpu->started) {
		pthread_mutex_unlock(&cpu->work_lock);
		return -ESRCH;
	}
	/* w outlives its use: we wait below until it is done or withdrawn. */
	// cppcheck-suppress autoVariables
	cpu->work = &w;
	kvm_vcpu_events_bump(cpu->kvm);
	kick(cpu);
	while (!w.done && !kvm_stopping(cpu->kvm))
		pthread_cond_wait(&cpu->work_done, &cpu->work_lock);
	if (!w.done)
		cpu->work = NULL;
	pthread_mutex_unlock(&cpu->work_lock);
	return w.done ? w.result : -ESRCH;
}

/* Wait here while the VM is paused; work requests are still served. */
static void wait_while_paused(struct kvm_cpu *cpu)
{
	struct kvm *kvm = cpu->kvm;

	pthread_mutex_lock(&kvm->stop_lock);
	while (kvm->paused && kvm->stop_reason == VM_RUNNING) {
		struct timespec ts;

		pthread_mutex_unlock(&kvm->stop_lock);
		do_pending_work(cpu);
		pthread_mutex_lock(&kvm->stop_lock);
		ts = deadline_after_ms(CLOCK_REALTIME, 50);
		pthread_cond_timedwait(&kvm->stop_cond, &kvm->stop_lock, &ts);
	}
	pthread_mutex_unlock(&kvm->stop_lock);
}

void kvm_cpus_pause(struct kvm *kvm)
{
	pthread_mutex_lock(&kvm->stop_lock);
	__atomic_store_n(&kvm->paused, true, __ATOMIC_SEQ_CST);
	kvm_vcpu_events_bump(kvm);
	pthread_mutex_unlock(&kvm->stop_lock);
	for (unsigned int i = 0; i < kvm->nr_cpus; i++)
		kick(kvm->cpus[i]);
}

void kvm_cpus_resume(struct kvm *kvm)
{
	pthread_mutex_lock(&kvm->stop_lock);
	kvm->paused = false;
	pthread_cond_broadcast(&kvm->stop_cond);
	pthread_mutex_unlock(&kvm->stop_lock);
}

bool kvm_cpus_paused(struct kvm *kvm)
{
	return READ_ONCE(kvm->paused);
}

/*
 * Between two KVM_RUNs, when something may need this vCPU's attention
 * (kvm->vcpu_events moved, or KVM_RUN was interrupted): work, pause, stop.
 * Records the event count it acted on in *seen; false if the VM stops.
 */
static bool vcpu_attend(struct kvm_cpu *cpu, unsigned int *seen)
{
	/*
	 * Clear before looking, so a later kick is not lost: a kicker bumps
	 * the count before it sets immediate_exit, so either we see its bump
	 * below or the next KVM_RUN returns at once and brings us back here.
	 */
	__atomic_store_n(&cpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	*seen = __atomic_load_n(&cpu->kvm->vcpu_events, __ATOMIC_SEQ_CST);
	do_pending_work(cpu);
	if (READ_ONCE(cpu->kvm->paused))
		wait_while_paused(cpu);
	if (kvm_stopping(cpu->kvm))
		return false;
	boot_trace_mark(BOOT_FIRST_VCPU_RUN);
	return true;
}

static void *vcpu_thread(void *arg)
{
	struct kvm_cpu *cpu = arg;
	struct kvm *kvm = cpu->kvm;
	unsigned int seen = 0;
	bool attend = true;	/* the first pass always looks */
	char name[16];

	snprintf(name, sizeof(name), "vcpu%u", cpu->id);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		/* The common path: one load, nothing changed since last time. */
		if (attend || __atomic_load_n(&kvm->vcpu_events, __ATOMIC_ACQUIRE) != seen) {
			if (!vcpu_attend(cpu, &seen))
				break;
			attend = false;
		}
		if (ioctl(cpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				attend = true;	/* a kick, or immediate_exit */
				continue;
			}
			pr_err("vCPU %u: KVM_RUN: %s", cpu->id, strerror(errno));
			dump_regs(cpu);
			kvm_request_stop(cpu->kvm, VM_STOP_ERROR);
			break;
		}
		handle_exit(cpu);
	}
	return NULL;
}

void kvm_cpus_start(struct kvm *kvm)
{
	sigset_t kick_set, old;

	/* Only vCPU threads take the kick signal. */
	sigemptyset(&kick_set);
	sigaddset(&kick_set, SIG_VCPU_KICK);
	pthread_sigmask(SIG_UNBLOCK, &kick_set, &old);
	for (unsigned int i = 0; i < kvm->nr_cpus; i++) {
		int err = sandbox_thread_create(&kvm->cpus[i]->thread, NULL, SANDBOX_VCPU, vcpu_thread,
					 kvm->cpus[i]);
		if (err)
			die("cannot start vCPU thread: %s", strerror(err));
		pthread_mutex_lock(&kvm->cpus[i]->work_lock);
		__atomic_store_n(&kvm->cpus[i]->started, true, __ATOMIC_SEQ_CST);
		pthread_mutex_unlock(&kvm->cpus[i]->work_lock);
		/* A pause that saw this vCPU not started yet did not kick it. */
		if (__atomic_load_n(&kvm->paused, __ATOMIC_SEQ_CST))
			kick(kvm->cpus[i]);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void kvm_cpus_stop(struct kvm *kvm)
{
	for (unsigned int i = 0; i < kvm->nr_cpus; i++)
		kick(kvm->cpus[i]);
	for (unsigned int i = 0; i < kvm->nr_cpus; i++) {
		struct kvm_cpu *cpu = kvm->cpus[i];

		if (__atomic_load_n(&cpu->started, __ATOMIC_SEQ_CST))
			pthread_join(cpu->thread, NULL);
		/* Release anyone still waiting in kvm_cpu_run_on(). */
		pthread_mutex_lock(&cpu->work_lock);
		pthread_cond_broadcast(&cpu->work_done);
		pthread_mutex_unlock(&cpu->work_lock);
	}
}

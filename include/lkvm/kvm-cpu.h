#ifndef LKVM_KVM_CPU_H
#define LKVM_KVM_CPU_H

#include <pthread.h>
#include <linux/kvm.h>
#include "lkvm/kvm.h"

struct kvm_cpu_work;

struct kvm_cpu {
	unsigned int id;
	int fd;
	struct kvm_run *run;
	struct kvm *kvm;
	pthread_t thread;
	void *arch;

	/* Work other threads hand to this vCPU's thread (vCPU ioctls). */
	pthread_mutex_t work_lock;
	pthread_cond_t work_done;
	struct kvm_cpu_work *work;
	bool started;
};

/* Create all vCPUs (kvm->nr_cpus), each with its arch set-up done. */
void kvm_cpus_create(struct kvm *kvm);
/* Start one thread per vCPU. */
void kvm_cpus_start(struct kvm *kvm);
/* Kick every vCPU out of KVM_RUN and join the threads. */
void kvm_cpus_stop(struct kvm *kvm);

/*
 * Run fn(cpu, arg) on cpu's own thread, between two KVM_RUNs, and wait
 * for it: vCPU ioctls (registers, NMI) block while the vCPU runs.
 * Returns fn's result, or -ESRCH if the VM is stopping.
 */
int kvm_cpu_run_on(struct kvm_cpu *cpu, int (*fn)(struct kvm_cpu *, void *), void *arg);
/* Hold every vCPU outside the guest until resumed (lkvm pause/resume). */
void kvm_cpus_pause(struct kvm *kvm);
void kvm_cpus_resume(struct kvm *kvm);
bool kvm_cpus_paused(struct kvm *kvm);

#endif

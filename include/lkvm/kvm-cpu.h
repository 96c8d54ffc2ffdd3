#ifndef LKVM_KVM_CPU_H
#define LKVM_KVM_CPU_H

#include <pthread.h>
#include <linux/kvm.h>
#include "lkvm/kvm.h"

struct kvm_cpu {
	unsigned int id;
	int fd;
	struct kvm_run *run;
	struct kvm *kvm;
	pthread_t thread;
	void *arch;
};

/* Create all vCPUs (kvm->nr_cpus), each with its arch set-up done. */
void kvm_cpus_create(struct kvm *kvm);
/* Start one thread per vCPU. */
void kvm_cpus_start(struct kvm *kvm);
/* Kick every vCPU out of KVM_RUN and join the threads. */
void kvm_cpus_stop(struct kvm *kvm);

#endif

#ifndef LKVM_GDB_H
#define LKVM_GDB_H
/*
 * lkvm run --gdb [HOST:]PORT: a GDB remote protocol server on its own
 * thread (gdb/stub.c).  One debugger at a time; while it has the VM
 * stopped every vCPU is held through kvm_cpus_pause().
 */
#include <stdbool.h>
#include "lkvm/kvm.h"

struct kvm_cpu;

/* "[HOST:]PORT" (HOST defaults to 127.0.0.1); 0 or -EINVAL. */
int gdb_parse_addr(const char *spec, char *host, size_t host_size, unsigned int *port);
/* Listen on spec and serve from a new thread; 0, or -errno after a message. */
int gdb_stub_start(struct kvm *kvm, const char *spec);
/* A vCPU's KVM_EXIT_DEBUG, on its thread; false if no stub owns it. */
bool gdb_vcpu_debug_exit(struct kvm_cpu *cpu);

#endif

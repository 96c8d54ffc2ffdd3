/* Boot milestones for --boot-trace (see include/lkvm/boot-trace.h). */
#include <stdio.h>
#include <time.h>
#include "lkvm/boot-trace.h"

static bool enabled;
static u64 start_ns;
static u64 when[BOOT_NR_MILESTONES];	/* 0: not yet */
static u64 progress_value;
static u64 progress_writes;

static const char *const names[BOOT_NR_MILESTONES] = {
	[BOOT_VM_READY] = "VM ready",
	[BOOT_FIRST_VCPU_RUN] = "first vCPU entry",
	[BOOT_FIRST_CONSOLE] = "first console byte",
	[BOOT_PROGRESS] = "first boot-progress write",
};

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

void boot_trace_start(bool on)
{
	enabled = on;
	start_ns = now_ns();
}

void boot_trace_mark(enum boot_milestone m)
{
	u64 zero = 0, t;

	if (!enabled || __atomic_load_n(&when[m], __ATOMIC_RELAXED))
		return;
	t = now_ns() - start_ns;
	__atomic_compare_exchange_n(&when[m], &zero, t ? t : 1, false,
				    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

void boot_trace_progress(u64 value)
{
	if (!enabled)
		return;
	if (__atomic_fetch_add(&progress_writes, 1, __ATOMIC_RELAXED) == 0)
		progress_value = value;
	boot_trace_mark(BOOT_PROGRESS);
}

long long boot_trace_ns(enum boot_milestone m)
{
	u64 t = __atomic_load_n(&when[m], __ATOMIC_RELAXED);

	return t ? (long long)t : -1;
}

void boot_trace_report(void)
{
	if (!enabled)
		return;
	for (int m = 0; m < BOOT_NR_MILESTONES; m++) {
		long long t = boot_trace_ns(m);

		if (t < 0)
			fprintf(stderr, "lkvm: boot-trace: %-26s never\n", names[m]);
		else
			fprintf(stderr, "lkvm: boot-trace: %-26s %9.3f ms\n", names[m], t / 1e6);
	}
	if (progress_writes)
		fprintf(stderr, "lkvm: boot-trace: boot-progress writes: %llu, first value 0x%llx\n",
			(unsigned long long)progress_writes, (unsigned long long)progress_value);
}

/*
 * Multi-processor start-up through the in-kernel local APIC.  Run with
 * --test-device -c N (the test device tells the guest N).
 *
 * The BSP enters 32-bit mode, enables its local APIC and sends INIT, SIPI,
 * SIPI to all other CPUs; the SIPI vector points at the page-aligned
 * trampoline below.  Each AP enters 32-bit mode, takes a stack, reads its
 * APIC id from its local APIC, prints "cpu apic id N" under a spinlock,
 * counts itself in and halts.  The BSP waits (bounded by the TSC) for N-1
 * APs, prints its own id and exits 0; 2 on a time-out, 3 on a duplicate id,
 * 4 if a CPU's CPUID.1:EBX[31:24] (initial APIC id, which lkvm sets up
 * per vCPU) differs from its local APIC's id.
 */
#include "guest.h"

#define APIC(reg)	(LAPIC_BASE + (reg))
/* The trampoline sits at .org 0x1000 of .text.start: 0x11000 (guest.ld checks). */
#define SIPI_VECTOR	((LOAD_ADDR + 0x1000) >> 12)
#define ICR_ALL_BUT_SELF (3 << 18)
#define ICR_ASSERT	(1 << 14)
#define ICR_INIT	(5 << 8)
#define ICR_STARTUP	(6 << 8)
#define ICR_PENDING	(1 << 12)
/* About 3 s at 2-4 GHz; lkvm's test runner gives the whole run 20 s. */
#define AP_WAIT_CYCLES	0x300000000

	START_PMODE32
	movl	TESTDEV_MMIO_BASE + TESTDEV_MMIO_NCPUS, %eax
	movl	%eax, nr_cpus
	PUTS32	"smp: "
	call	putdec32
	PUTS32	" vCPUs; starting the APs\n"

	orl	$0x1ff, APIC(LAPIC_SVR)		/* enable, spurious vector 0xff */
	movl	$(ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_INIT), %eax
	call	send_ipi
	call	short_delay
	movl	$(ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_STARTUP), %eax
	orl	$SIPI_VECTOR, %eax
	call	send_ipi
	call	short_delay
	call	send_ipi

	call	wait_for_aps
	movl	APIC(LAPIC_ID), %eax
	shrl	$24, %eax
	call	report_cpu

	movl	ap_count, %eax
	incl	%eax
	cmpl	nr_cpus, %eax
	je	1f
	PUTS32	"smp: FAIL timed out waiting for the APs; cpus up: "
	call	putdec32
	movb	$'\n', %al
	call	putc32
	movb	$2, %al
	jmp	exit32
1:	cmpl	$0, duplicate_id
	je	2f
	PUTS32	"smp: FAIL two CPUs reported the same APIC id\n"
	movb	$3, %al
	jmp	exit32
2:	cmpl	$0, cpuid_mismatch
	je	3f
	PUTS32	"smp: FAIL CPUID initial APIC id differs from the local APIC id\n"
	movb	$4, %al
	jmp	exit32
3:	PUTS32	"smp: all "
	call	putdec32
	PUTS32	" cpus up\n"
	xorb	%al, %al
	jmp	exit32

/* Write the ICR (destination in the shorthand) and wait for delivery. */
send_ipi:
	movl	$0, APIC(LAPIC_ICR_HI)
	movl	%eax, APIC(LAPIC_ICR_LO)
1:	testl	$ICR_PENDING, APIC(LAPIC_ICR_LO)
	jz	2f
	pause
	jmp	1b
2:	ret

/* KVM needs no INIT/SIPI delays; a short one keeps real-CPU manners. */
short_delay:
	pushl	%ecx
	movl	$100000, %ecx
1:	pause
	loop	1b
	popl	%ecx
	ret

/* Until nr_cpus - 1 APs have counted in or AP_WAIT_CYCLES have passed. */
wait_for_aps:
	rdtsc
	movl	%eax, %esi
	movl	%edx, %edi
1:	movl	ap_count, %eax
	incl	%eax
	cmpl	nr_cpus, %eax
	jae	2f
	pause
	rdtsc
	subl	%esi, %eax
	sbbl	%edi, %edx
	cmpl	$(AP_WAIT_CYCLES >> 32), %edx
	jb	1b
2:	ret

/*
 * Print "cpu apic id <eax>" as one line; note a repeated id, or a CPUID
 * initial APIC id that differs.
 */
report_cpu:
	pushal
	movl	%eax, %esi
	movl	$1, %eax
	cpuid
	shrl	$24, %ebx
	cmpl	%esi, %ebx
	je	1f
	movl	$1, cpuid_mismatch
1:	popal
	call	print_lock_acquire
	PUTS32	"cpu apic id "
	call	putdec32
	pushl	%eax
	movb	$'\n', %al
	call	putc32
	popl	%eax
	call	print_lock_release
	andl	$31, %eax
	lock btsl %eax, seen_ids
	jnc	2f
	movl	$1, duplicate_id
2:	ret

/* SIPI lands here in real mode at CS:IP = (SIPI_VECTOR << 8):0. */
	.code16
	.org	0x1000
	.globl ap_trampoline
ap_trampoline:
	cli
	ljmp	$LOAD_SEG, $R(ap16)
ap16:
	movw	%cs, %ax
	movw	%ax, %ds
	ENTER_PMODE32 ap32

	.code32
ap32:
	SETUP_PMODE32 AP_STACK_TOP
	movl	$1, %eax
	lock xaddl %eax, ap_next_stack
	cmpl	$AP_MAX, %eax
	jae	ap_halt				/* no stack for it: never counts in */
	shll	$12, %eax
	subl	%eax, %esp
	movl	APIC(LAPIC_ID), %eax
	shrl	$24, %eax
	call	report_cpu
	lock incl ap_count
ap_halt:
	cli
	hlt
	jmp	ap_halt

	.bss
	.balign	4
nr_cpus:	.long	0
ap_count:	.long	0
ap_next_stack:	.long	0
seen_ids:	.long	0
duplicate_id:	.long	0
cpuid_mismatch:	.long	0

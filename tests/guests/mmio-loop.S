/*
 * 32-bit protected mode: MMIO_ITERATIONS 4-byte writes to the test
 * device's MMIO DATA register, each an MMIO exit to lkvm, then "done" and
 * exit 0.  The MMIO twin of pio-loop.S for bench/pio-exit.sh, with the same
 * baselines: MMIO_ITERATIONS=0 (start-up and the switch to protected mode)
 * and MMIO_SPIN_ONLY (the loop without its store).  Run with --test-device.
 */
#include "guest.h"

#ifndef MMIO_ITERATIONS
#error "build with -DMMIO_ITERATIONS=N"
#endif

	START_PMODE32
	movl	$MMIO_ITERATIONS, %ecx
	movl	$(TESTDEV_MMIO_BASE + TESTDEV_MMIO_DATA), %edi
	xorl	%eax, %eax
	testl	%ecx, %ecx
	jz	2f
1:
#ifndef MMIO_SPIN_ONLY
	movl	%eax, (%edi)
#endif
	incl	%eax
	decl	%ecx
	jnz	1b
2:
#if MMIO_ITERATIONS > 0 && !defined(MMIO_SPIN_ONLY)
	/* The register holds the last value stored: every store reached it. */
	movl	(%edi), %eax
	cmpl	$(MMIO_ITERATIONS - 1), %eax
	je	4f
	PUTS32	"mmio-loop: DATA does not hold the last value written\n"
	movb	$1, %al
	jmp	5f
4:
#endif
	PUTS32	"mmio-loop: done\n"
	xorb	%al, %al
5:
	movw	$(TESTDEV_PIO_BASE + TESTDEV_PIO_EXIT), %dx
	outb	%al, %dx
3:	hlt
	jmp	3b

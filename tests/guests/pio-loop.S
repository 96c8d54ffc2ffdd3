/*
 * Real mode: PIO_ITERATIONS writes to the UART scratch register, each a
 * port-I/O exit to lkvm, then "done" and exit 0.  bench/pio-exit.sh times
 * it against the zero-iteration build (lkvm start-up) and the PIO_SPIN_ONLY
 * build (the same loop without the `out`: on a software KVM that emulates
 * the guest's instructions, the loop itself is not free).
 */
#include "guest.h"

#ifndef PIO_ITERATIONS
#error "build with -DPIO_ITERATIONS=N"
#endif

	.code16
	.section .text.start
	.globl _start
_start:
	movl	$PIO_ITERATIONS, %ecx
	movw	$UART_SCR, %dx
	xorb	%al, %al
	testl	%ecx, %ecx
	jz	2f
1:
#ifndef PIO_SPIN_ONLY
	outb	%al, %dx
#endif
	incb	%al
	decl	%ecx
	jnz	1b
2:	PUTS16	"pio-loop: done\n"
	xorb	%al, %al
	movw	$(TESTDEV_PIO_BASE + TESTDEV_PIO_EXIT), %dx
	outb	%al, %dx
3:	hlt
	jmp	3b

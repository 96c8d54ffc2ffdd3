/*
 * Real mode: exit with status 42 through the test device, proving that a
 * guest's failure code reaches lkvm's exit status (the other guests rely
 * on it to report failures).
 */
#include "guest.h"

	.code16
	.section .text.start
	.globl _start
_start:
	PUTS16	"exitcode: exiting with 42\n"
	movb	$42, %al
	movw	$(TESTDEV_PIO_BASE + TESTDEV_PIO_EXIT), %dx
	outb	%al, %dx
	PUTS16	"exitcode: FAIL still running after the exit write\n"
1:	hlt
	jmp	1b

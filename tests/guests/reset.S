/*
 * Real mode: reset through the i8042.  Nothing may run after the write;
 * the line printed after it is how the runner sees a reset that failed to
 * stop the guest.
 */
#include "guest.h"

	.code16
	.section .text.start
	.globl _start
_start:
	PUTS16	"reset: writing 0xfe to port 0x64\n"
	movb	$I8042_RESET, %al
	outb	%al, $I8042_CMD
	PUTS16	"reset: FAIL still running after the reset\n"
	movb	$3, %al
	movw	$(TESTDEV_PIO_BASE + TESTDEV_PIO_EXIT), %dx
	outb	%al, %dx
1:	hlt
	jmp	1b

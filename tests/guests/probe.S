/*
 * Real mode: report whether the test device answers (it must not without
 * --test-device), then reset through the i8042.
 */
#include "guest.h"

	.code16
	.section .text.start
	.globl _start
_start:
	movw	$(TESTDEV_PIO_BASE + TESTDEV_PIO_SCRATCH), %dx
	movb	$0x12, %al
	outb	%al, %dx
	inl	%dx, %eax
	cmpl	$(0x12 ^ TESTDEV_SCRATCH_XOR), %eax
	je	1f
	cmpl	$0xffffffff, %eax
	je	2f
	PUTS16	"probe: FAIL unexpected value at the test device's port\n"
	jmp	3f
1:	PUTS16	"probe: test device present\n"
	jmp	3f
2:	PUTS16	"probe: no test device\n"
3:	movb	$I8042_RESET, %al
	outb	%al, $I8042_CMD
4:	hlt
	jmp	4b

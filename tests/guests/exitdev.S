/*
 * Real mode, no --test-device: the exit device (lkvm/exit-dev.h) answers
 * its magic byte, and a write of 7 to it ends lkvm with status 7.  The
 * port is x86's (x86/layout.h, X86_EXIT_DEV_PORT).
 */
#include "guest.h"

#define EXIT_DEV_PORT	0x500
#define EXIT_DEV_MAGIC	0x45

	.code16
	.section .text.start
	.globl _start
_start:
	movw	$EXIT_DEV_PORT, %dx
	inb	%dx, %al
	cmpb	$EXIT_DEV_MAGIC, %al
	je	1f
	PUTS16	"exitdev: FAIL no magic byte at the exit device\n"
	movb	$I8042_RESET, %al
	outb	%al, $I8042_CMD
1:	PUTS16	"exitdev: exiting with 7\n"
	movb	$7, %al
	outb	%al, %dx
	PUTS16	"exitdev: FAIL still running after the exit write\n"
2:	hlt
	jmp	2b

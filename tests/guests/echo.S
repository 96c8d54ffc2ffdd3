/*
 * Real mode: echo console input back upper-cased, forever.  The console
 * test types into lkvm's terminal and stops the guest with Ctrl-A x.
 */
#include "guest.h"

#define LSR_DR	0x01

	.code16
	.section .text.start
	.globl _start
_start:
	PUTS16	"echo: ready\n"
1:	movw	$UART_LSR, %dx
2:	inb	%dx, %al
	testb	$LSR_DR, %al
	jz	2b
	movw	$UART_THR, %dx
	inb	%dx, %al
	cmpb	$'a', %al
	jb	3f
	cmpb	$'z', %al
	ja	3f
	subb	$('a' - 'A'), %al
3:	call	putc16
	jmp	1b

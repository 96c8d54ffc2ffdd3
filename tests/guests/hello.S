/* Real mode: print a greeting, then reset through the i8042. */
#include "guest.h"

	.code16
	.section .text.start
	.globl _start
_start:
	PUTS16	"hello from lkvm guest\n"
	movb	$I8042_RESET, %al
	outb	%al, $I8042_CMD
1:	hlt
	jmp	1b

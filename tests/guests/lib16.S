/* Real-mode helpers: UART output with DS = 0x1000. */
#include "guest.h"

	.code16
	.text

/* Print the character in al once the transmitter holding register is empty. */
	.globl putc16
putc16:
	pushw	%dx
	pushw	%ax
	movw	$UART_LSR, %dx
1:	inb	%dx, %al
	testb	$LSR_THRE, %al
	jz	1b
	popw	%ax
	movw	$UART_THR, %dx
	outb	%al, %dx
	popw	%dx
	ret

/* Print the NUL-terminated string at ds:si. */
	.globl puts16
puts16:
	pushw	%ax
	pushw	%si
1:	lodsb
	testb	%al, %al
	jz	2f
	call	putc16
	jmp	1b
2:	popw	%si
	popw	%ax
	ret

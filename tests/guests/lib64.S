/* 64-bit helpers: UART output, hex printing, self-checks, exits. */
#include "guest.h"

	.code64
	.text

	.globl putc64
putc64:
	pushq	%rdx
	pushq	%rax
	movw	$UART_LSR, %dx
1:	inb	%dx, %al
	testb	$LSR_THRE, %al
	jz	1b
	popq	%rax
	movw	$UART_THR, %dx
	outb	%al, %dx
	popq	%rdx
	ret

/* Print the NUL-terminated string at rsi. */
	.globl puts64
puts64:
	pushq	%rax
	pushq	%rsi
1:	lodsb
	testb	%al, %al
	jz	2f
	call	putc64
	jmp	1b
2:	popq	%rsi
	popq	%rax
	ret

/* Print rax as 16 hex digits. */
	.globl puthex64
puthex64:
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rbx
	movq	%rax, %rdx
	movl	$16, %ecx
	movabsq	$hex_digits, %rbx
1:	rolq	$4, %rdx
	movl	%edx, %eax
	andl	$0xf, %eax
	movb	(%rbx, %rax), %al
	call	putc64
	loop	1b
	popq	%rbx
	popq	%rdx
	popq	%rcx
	popq	%rax
	ret

/* rax = value seen, rdx = value wanted, ecx = check id, rsi = name. */
	.globl check64
check64:
	cmpq	%rdx, %rax
	jne	1f
	PUTS64	"PASS: "
	call	puts64
	pushq	%rax
	movb	$'\n', %al
	call	putc64
	popq	%rax
	ret
1:	PUTS64	"FAIL: "
	call	puts64
	PUTS64	" got 0x"
	call	puthex64
	PUTS64	" want 0x"
	pushq	%rax
	movq	%rdx, %rax
	call	puthex64
	movb	$'\n', %al
	call	putc64
	popq	%rax
	pushq	%rbx
	movabsq	$first_failed_check, %rbx
	cmpl	$0, (%rbx)
	jne	2f
	movl	%ecx, (%rbx)
2:	popq	%rbx
	ret

/*
 * Print "<name at rsi>: all checks passed" or the first failing id, then
 * exit through the test device's MMIO exit register (the 32-bit helpers
 * use the port, so both exit paths get exercised).
 */
	.globl finish64
finish64:
	call	puts64
	movabsq	$first_failed_check, %rbx
	movl	(%rbx), %eax
	testl	%eax, %eax
	jnz	1f
	PUTS64	": all checks passed\n"
	jmp	exit64
1:	PUTS64	": a check failed; first failed check id 0x"
	call	puthex64
	movb	$'\n', %al
	call	putc64
	movl	(%rbx), %eax
	/* fall through */

/* Exit lkvm with status eax through the MMIO exit register. */
	.globl exit64
exit64:
	movl	$(TESTDEV_MMIO_BASE + TESTDEV_MMIO_EXIT), %edi
	movl	%eax, (%rdi)
1:	cli
	hlt
	jmp	1b

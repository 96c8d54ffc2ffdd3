/*
 * 32-bit helpers: GDT, UART output, hex/decimal printing, self-checks,
 * exit through the test device, and the long-mode page tables.
 */
#include "guest.h"

	.section .rodata
	.balign 8
gdt:
	.quad	0
	.quad	0x00cf9b000000ffff	/* SEL_CODE32: flat 4 GiB, accessed */
	.quad	0x00cf93000000ffff	/* SEL_DATA */
	.quad	0x00af9b000000ffff	/* SEL_CODE64: L = 1 */
gdt_end:
	.balign 4
	.globl gdt_desc
gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt

	.bss
	.balign 4
	.globl first_failed_check
first_failed_check:
	.long	0
failed_checks:
	.long	0
print_lock:
	.long	0

	.code32
	.text

	.globl putc32
putc32:
	pushl	%edx
	pushl	%eax
	movw	$UART_LSR, %dx
1:	inb	%dx, %al
	testb	$LSR_THRE, %al
	jz	1b
	popl	%eax
	movw	$UART_THR, %dx
	outb	%al, %dx
	popl	%edx
	ret

/* Print the NUL-terminated string at esi. */
	.globl puts32
puts32:
	pushl	%eax
	pushl	%esi
1:	lodsb
	testb	%al, %al
	jz	2f
	call	putc32
	jmp	1b
2:	popl	%esi
	popl	%eax
	ret

/* Print eax as 8 hex digits. */
	.globl puthex32
puthex32:
	pushl	%eax
	pushl	%ecx
	pushl	%edx
	movl	%eax, %edx
	movl	$8, %ecx
1:	roll	$4, %edx
	movl	%edx, %eax
	andl	$0xf, %eax
	movb	hex_digits(%eax), %al
	call	putc32
	loop	1b
	popl	%edx
	popl	%ecx
	popl	%eax
	ret

/* Print eax in decimal. */
	.globl putdec32
putdec32:
	pushal
	movl	$10, %ebx
	xorl	%ecx, %ecx
1:	xorl	%edx, %edx
	divl	%ebx
	pushl	%edx
	incl	%ecx
	testl	%eax, %eax
	jnz	1b
2:	popl	%eax
	addb	$'0', %al
	call	putc32
	loop	2b
	popal
	ret

/* A test-and-set lock around multi-vCPU output. */
	.globl print_lock_acquire
print_lock_acquire:
	pushl	%eax
1:	movl	$1, %eax
	xchgl	%eax, print_lock
	testl	%eax, %eax
	jz	2f
	pause
	jmp	1b
2:	popl	%eax
	ret

	.globl print_lock_release
print_lock_release:
	movl	$0, print_lock
	ret

/*
 * eax = value seen, edx = value wanted, ecx = check id, esi = name.
 * Prints PASS or FAIL and remembers the first failing id.
 */
	.globl check32
check32:
	pushal
	cmpl	%edx, %eax
	jne	1f
	PUTS32	"PASS: "
	call	puts32
	movb	$'\n', %al
	call	putc32
	popal
	ret
1:	PUTS32	"FAIL: "
	call	puts32
	PUTS32	" got 0x"
	call	puthex32
	PUTS32	" want 0x"
	movl	%edx, %eax
	call	puthex32
	movb	$'\n', %al
	call	putc32
	incl	failed_checks
	cmpl	$0, first_failed_check
	jne	2f
	movl	%ecx, first_failed_check
2:	popal
	ret

/* Report the checks under the guest name at esi and exit with the result. */
	.globl finish32
finish32:
	call	puts32
	cmpl	$0, failed_checks
	jne	1f
	PUTS32	": all checks passed\n"
	xorl	%eax, %eax
	jmp	exit32
1:	PUTS32	": checks failed: "
	movl	failed_checks, %eax
	call	putdec32
	PUTS32	", first failed check id "
	movl	first_failed_check, %eax
	call	putdec32
	movb	$'\n', %al
	call	putc32
	movl	first_failed_check, %eax
	/* fall through */

/* Exit lkvm with status al through the test device's exit port. */
	.globl exit32
exit32:
	movw	$(TESTDEV_PIO_BASE + TESTDEV_PIO_EXIT), %dx
	outb	%al, %dx
1:	cli
	hlt
	jmp	1b

/*
 * Identity-map the first 4 GiB with 2 MiB pages: PML4 -> one PDPT ->
 * four page directories, all at PT_BASE.
 */
	.globl build_page_tables
build_page_tables:
	pushal
	movl	$PT_BASE, %edi
	movl	$(6 * 4096 / 4), %ecx
	xorl	%eax, %eax
	cld
	rep stosl
	movl	$(PT_BASE + 0x1000 + 0x3), %eax		/* present, writable */
	movl	%eax, PT_BASE
	xorl	%ecx, %ecx
1:	movl	%ecx, %eax				/* PDPT[i] -> PD i */
	shll	$12, %eax
	addl	$(PT_BASE + 0x2000 + 0x3), %eax
	movl	%eax, PT_BASE + 0x1000(, %ecx, 8)
	incl	%ecx
	cmpl	$4, %ecx
	jne	1b
	xorl	%ecx, %ecx
2:	movl	%ecx, %eax
	shll	$21, %eax
	orl	$0x83, %eax				/* present, writable, 2 MiB */
	movl	%eax, PT_BASE + 0x2000(, %ecx, 8)
	incl	%ecx
	cmpl	$2048, %ecx
	jne	2b
	popal
	ret

	.section .rodata
	.globl hex_digits
hex_digits:
	.ascii	"0123456789abcdef"

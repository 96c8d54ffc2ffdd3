/*
 * Real mode -> 32-bit protected mode -> 64-bit long mode (PAE paging,
 * EFER.LME, CR0.PG).  From 64-bit code: check EFER.LMA, 64-bit arithmetic,
 * a store through the page tables above 1 MiB, and 8-byte MMIO on the
 * test device, then exit through its MMIO exit register.
 * Run with --test-device.  Exit status: 0 or the first failing check id.
 */
#include "guest.h"

#define MMIO(off)	(TESTDEV_MMIO_BASE + (off))

	.code16
	.section .text.start
	.globl _start
_start:
	PUTS16	"longmode: real mode\n"
	ENTER_PMODE32 start32

	.code32
start32:
	SETUP_PMODE32 STACK_TOP
	PUTS32	"longmode: 32-bit protected mode\n"
	ENTER_LONG64 start64

	.code64
start64:
	SETUP_LONG64 STACK_TOP
	PUTS64	"longmode: 64-bit long mode\n"

	movl	$MSR_EFER, %ecx
	rdmsr
	andl	$EFER_LMA, %eax
	CHECK64	1, EFER_LMA, "longmode: EFER.LMA is set"

	movabsq	$0x123456789abcdef0, %rax
	rolq	$16, %rax
	PUTS64	"longmode: 0x123456789abcdef0 rotated left by 16 = 0x"
	call	puthex64
	PUTS64	"\n"
	CHECK64	2, 0x56789abcdef01234, "longmode: 64-bit rotate"

	movl	$0xffffffff, %eax
	mulq	%rax
	movq	%rdx, %rbx
	CHECK64	3, 0xfffffffe00000001, "longmode: 64-bit multiply low half"
	movq	%rbx, %rax
	CHECK64	4, 0, "longmode: 64-bit multiply high half"

	/* A store at 2 MiB + 8 goes through the second large page. */
	movabsq	$0xfedcba9876543210, %rax
	movl	$0x200008, %edi
	movq	%rax, (%rdi)
	movl	(%rdi), %eax
	movl	4(%rdi), %edx
	shlq	$32, %rdx
	orq	%rdx, %rax
	CHECK64	5, 0xfedcba9876543210, "longmode: RAM above 1 MiB through 2 MiB pages"

	pushq	%rax
	popq	%rbx
	movq	%rbx, %rax
	CHECK64	6, 0xfedcba9876543210, "longmode: 64-bit push and pop"

	movl	$MMIO(0), %edi
	movabsq	$0x0123456789abcdef, %rax
	movq	%rax, (%rdi)
	movl	MMIO(TESTDEV_MMIO_LAST) - MMIO(0)(%rdi), %eax
	CHECK64	7, TESTDEV_LAST(0, 8, 1, 1), "longmode: last access after 8-byte MMIO write"
	movl	4(%rdi), %eax
	CHECK64	8, 0x01234567, "longmode: high half of 8-byte MMIO write"
	movl	$0x76543210, 4(%rdi)
	movq	(%rdi), %rax
	CHECK64	9, 0x7654321089abcdef, "longmode: 8-byte MMIO read"

	movabsq	$name, %rsi
	jmp	finish64

	.section .rodata
name:	.asciz	"longmode"

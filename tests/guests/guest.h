/*
 * Shared definitions for the direct-tier test guests (GNU as, through cpp).
 *
 * Memory map (guest physical):
 *   0x10000  the image (linked there; real mode sees it as 0x1000:0000)
 *   0x11000+ page-aligned SIPI trampoline in smp.S (vector 0x11)
 *   0x20000  long-mode page tables (PML4, PDPT, 4 page directories)
 *   0x60000-0x70000  AP stacks, 4 KiB each, top down
 *   0x80000  top of the BSP's 32/64-bit stack
 */
#ifndef GUEST_H
#define GUEST_H

#include "lkvm/testdev.h"

#define LOAD_ADDR	0x10000
#define LOAD_SEG	0x1000
/* A label's offset inside the real-mode segment 0x1000. */
#define R(x)		((x) - LOAD_ADDR)

#define SEL_CODE32	0x08
#define SEL_DATA	0x10
#define SEL_CODE64	0x18

#define PT_BASE		0x20000
#define AP_STACK_TOP	0x70000
#define AP_STACK_SIZE	0x1000
#define AP_MAX		16
#define STACK_TOP	0x80000

#define UART_THR	0x3f8
#define UART_LSR	0x3fd
#define UART_SCR	0x3ff
#define LSR_THRE	0x20
#define I8042_CMD	0x64
#define I8042_RESET	0xfe

#define LAPIC_BASE	0xfee00000
#define LAPIC_ID	0x020
#define LAPIC_SVR	0x0f0
#define LAPIC_ICR_LO	0x300
#define LAPIC_ICR_HI	0x310

#define MSR_EFER	0xc0000080
#define EFER_LME	(1 << 8)
#define EFER_LMA	(1 << 10)

/*
 * From real mode (DS = 0x1000) to flat 32-bit protected mode; continues at
 * target (a .code32 label) with interrupts off.  Clobbers eax.
 */
.macro ENTER_PMODE32 target
	cli
	lgdtl	%ds:R(gdt_desc)
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	$SEL_CODE32, $\target
.endm

/* First thing at a .code32 target: flat data segments and a stack. */
.macro SETUP_PMODE32 stack
	movw	$SEL_DATA, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	%ax, %fs
	movw	%ax, %gs
	movl	$\stack, %esp
.endm

/*
 * From 32-bit protected mode to 64-bit long mode with the first 4 GiB
 * identity-mapped (2 MiB pages); continues at target (a .code64 label).
 */
.macro ENTER_LONG64 target
	call	build_page_tables
	movl	%cr4, %eax
	orl	$(1 << 5), %eax			/* PAE */
	movl	%eax, %cr4
	movl	$PT_BASE, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$0x80000000, %eax		/* PG */
	movl	%eax, %cr0
	ljmpl	$SEL_CODE64, $\target
.endm

/* First thing at a .code64 target: flat data segments and a stack. */
.macro SETUP_LONG64 stack
	movw	$SEL_DATA, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movq	$\stack, %rsp
.endm

/*
 * The image's entry point, _start (real mode, DS = 0x1000), straight to
 * flat 32-bit protected mode with the stack at STACK_TOP: the code after
 * the macro runs there (.code32, interrupts off).
 */
.macro START_PMODE32
	.code16
	.section .text.start
	.globl _start
_start:
	ENTER_PMODE32 .Lpmode32\@

	.code32
.Lpmode32\@:
	SETUP_PMODE32 STACK_TOP
.endm

/* START_PMODE32, then on to 64-bit long mode: the code after runs there (.code64). */
.macro START_LONG64
	START_PMODE32
	ENTER_LONG64 .Llong64\@

	.code64
.Llong64\@:
	SETUP_LONG64 STACK_TOP
.endm

/*
 * Compare the value in eax (rax in 64-bit code) with want and print a
 * "PASS: name" or "FAIL: name got ... want ..." line; the first failing
 * id becomes the guest's exit status (see finish32 / finish64).
 * Clobbers ecx, edx and esi (rcx, rdx, rsi): reload a port number after.
 */
.macro CHECK32 id, want, name
	movl	$(\want), %edx
	movl	$\id, %ecx
	movl	$.Lcheck_name\@, %esi
	call	check32
	.pushsection .rodata
.Lcheck_name\@: .asciz "\name"
	.popsection
.endm

.macro CHECK64 id, want, name
	movabsq	$(\want), %rdx
	movl	$\id, %ecx
	movabsq	$.Lcheck_name\@, %rsi
	call	check64
	.pushsection .rodata
.Lcheck_name\@: .asciz "\name"
	.popsection
.endm

/* Print a literal string from 16-, 32- or 64-bit code. */
.macro PUTS16 str
	pushw	%si
	movw	$R(.Lputs_str\@), %si
	call	puts16
	popw	%si
	.pushsection .rodata
.Lputs_str\@: .asciz "\str"
	.popsection
.endm

.macro PUTS32 str
	pushl	%esi
	movl	$.Lputs_str\@, %esi
	call	puts32
	popl	%esi
	.pushsection .rodata
.Lputs_str\@: .asciz "\str"
	.popsection
.endm

.macro PUTS64 str
	pushq	%rsi
	movabsq	$.Lputs_str\@, %rsi
	call	puts64
	popq	%rsi
	.pushsection .rodata
.Lputs_str\@: .asciz "\str"
	.popsection
.endm

#endif

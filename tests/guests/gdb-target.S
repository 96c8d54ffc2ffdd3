/*
 * The debuggee of the direct tier's gdb test (tests/direct/gdb.sh): long
 * mode, then two labelled instructions where the debugger puts a software
 * (gdb_sw_bp) and a hardware (gdb_hw_bp) breakpoint, then a check that
 * the debugger rewrote gdb_magic through its memory write.  Without a
 * debugger the check fails with id 2 (the value is still the original).
 * Run with --test-device.  Exit status: 0, or the first failing check id.
 */
#include "guest.h"

	START_LONG64
	PUTS64	"gdb-target: in long mode\n"
	xorl	%ebx, %ebx

	.globl gdb_spin
gdb_spin:
	movabsq	$gdb_release, %rax
	cmpq	$0, (%rax)
	je	gdb_spin

	.globl gdb_sw_bp
gdb_sw_bp:
	addq	$1, %rbx
	.globl gdb_after_sw_bp
gdb_after_sw_bp:
	nop
	.globl gdb_hw_bp
gdb_hw_bp:
	addq	$2, %rbx
	nop

	movabsq	$gdb_counter, %rax
	movq	%rbx, (%rax)		/* for a write watchpoint */
	movq	%rbx, %rax
	CHECK64	1, 3, "gdb-target: both labelled instructions ran once"
	movabsq	$gdb_magic, %rax
	movq	(%rax), %rax
	CHECK64	2, 0x00000000c0ffee00, "gdb-target: gdb_magic rewritten by the debugger"

	movabsq	$name, %rsi
	jmp	finish64

	.section .rodata
name:	.asciz	"gdb-target"

	.data
	.balign	8
	.globl gdb_magic
gdb_magic:
	.quad	0x1122334455667788
	.globl gdb_release
gdb_release:
	.quad	0
	.globl gdb_counter
gdb_counter:
	.quad	0

/*
 * 32-bit protected mode: load an empty IDT and raise an exception.  The
 * exception, the #GP for its missing gate, and the double fault all miss
 * the IDT: a triple fault, which lkvm reports as a reset the guest did not
 * ask for (exit 5, with the registers), or with --reboot-on-triple-fault as
 * a reboot (exit 0).
 *
 * The exception is #UD from ud2, not int3: the software KVM on the test
 * machines cannot emulate int3 (KVM_EXIT_INTERNAL_ERROR, in 32- and 64-bit
 * code alike), and in real mode it does not check the IDT limit.
 */
#include "guest.h"

	START_PMODE32
	PUTS32	"triple: loading an empty IDT and executing ud2\n"
	lidt	empty_idt
	ud2
	PUTS32	"triple: FAIL still running after the triple fault\n"
	movb	$1, %al
	jmp	exit32

	.section .rodata
	.balign 4
empty_idt:
	.word	0
	.long	0

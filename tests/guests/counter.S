/*
 * 32-bit: print "counter N" with N = 0, 1, 2... on every tick of the
 * local APIC timer (periodic, about ten a second), forever, sleeping in
 * hlt between ticks.  The management tests watch the count: `lkvm pause`
 * must stop it and `lkvm resume` restart it.
 *
 * Interrupts are taken only in hlt, so the handler never returns with
 * iret (which the software KVM of the development machines fails to
 * emulate): it drops the interrupt frame and jumps back into the loop.
 */
#include "guest.h"

#define APIC(reg)	(LAPIC_BASE + (reg))
#define LAPIC_EOI	0x0b0
#define LAPIC_LVT_TIMER	0x320
#define LAPIC_TIMER_ICR	0x380
#define LAPIC_TIMER_DCR	0x3e0
#define TIMER_VECTOR	0x40
#define TIMER_PERIODIC	(1 << 17)
#define DIVIDE_BY_1	0xb
/* KVM's APIC timer counts at 1 GHz: 100 ms. */
#define TICK_COUNT	100000000
#define PIC1_DATA	0x21
#define PIC2_DATA	0xa1
#define IDT_ENTRIES	256
#define GATE_INT32	0x8e00	/* present, DPL 0, 32-bit interrupt gate */

	START_PMODE32
	/* Only the APIC timer may interrupt: the PICs are never programmed. */
	movb	$0xff, %al
	outb	%al, $PIC1_DATA
	outb	%al, $PIC2_DATA
	call	build_idt
	lidt	idt_desc
	orl	$0x1ff, APIC(LAPIC_SVR)		/* enable, spurious vector 0xff */
	movl	$DIVIDE_BY_1, APIC(LAPIC_TIMER_DCR)
	movl	$(TIMER_PERIODIC | TIMER_VECTOR), APIC(LAPIC_LVT_TIMER)
	movl	$TICK_COUNT, APIC(LAPIC_TIMER_ICR)
	PUTS32	"counter: ready\n"
	xorl	%ebx, %ebx
print_count:
	PUTS32	"counter "
	movl	%ebx, %eax
	call	putdec32
	movb	$'\n', %al
	call	putc32
	incl	%ebx
	/* sti's one-instruction shadow: the tick cannot slip in before hlt. */
	sti
	hlt
	cli
	jmp	print_count

/* Every vector wakes the loop (a spurious one prints an extra line). */
build_idt:
	movl	$idt, %edi
	movl	$IDT_ENTRIES, %ecx
	movl	$wake, %eax
1:	call	set_gate
	addl	$8, %edi
	loop	1b
	ret

/* Gate at edi to the handler at eax. */
set_gate:
	pushl	%eax
	movw	%ax, (%edi)
	movw	$SEL_CODE32, 2(%edi)
	movw	$GATE_INT32, 4(%edi)
	shrl	$16, %eax
	movw	%ax, 6(%edi)
	popl	%eax
	ret

/* An interrupt gate: IF is clear again here.  EOI is harmless for a spurious one. */
wake:
	movl	$0, APIC(LAPIC_EOI)
	addl	$12, %esp			/* EIP, CS, EFLAGS */
	jmp	print_count

	.section .rodata
	.balign 4
idt_desc:
	.word	IDT_ENTRIES * 8 - 1
	.long	idt

	.bss
	.balign 8
idt:
	.fill	IDT_ENTRIES * 8, 1, 0

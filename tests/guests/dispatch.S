/*
 * 32-bit protected mode: exercise the test device (lkvm/testdev.h) with
 * port I/O of widths 1/2/4 and MMIO of widths 1/2/4/8 at several offsets,
 * proving that offset, width and data reach the right handler and that
 * unmapped addresses read as all ones.  Run with --test-device -c 1.
 * Exit status: 0, or the id of the first failing check.
 */
#include "guest.h"

#define PIO(reg)	(TESTDEV_PIO_BASE + (reg))
#define MMIO(off)	(TESTDEV_MMIO_BASE + (off))
#define XOR		TESTDEV_SCRATCH_XOR
#define PAT(o)		(((o) & 0xff) ^ TESTDEV_PATTERN_XOR)

	START_PMODE32
	PUTS32	"dispatch: in 32-bit protected mode\n"
	call	pio_checks
	call	mmio_checks
	call	mmio_wide_checks
	call	unmapped_checks
	movl	$name, %esi
	jmp	finish32

pio_checks:
	/* A 1-byte write stores one byte: the upper bytes read back as 0^XOR. */
	movw	$PIO(TESTDEV_PIO_SCRATCH), %dx
	movb	$0x12, %al
	outb	%al, %dx
	inl	%dx, %eax
	CHECK32	1, 0x12 ^ XOR, "pio: outb then inl of scratch"

	movw	$PIO(TESTDEV_PIO_SCRATCH), %dx
	movw	$0x1234, %ax
	outw	%ax, %dx
	xorl	%eax, %eax
	inw	%dx, %ax
	CHECK32	2, 0x1234 ^ (XOR & 0xffff), "pio: outw then inw of scratch"
	movw	$PIO(TESTDEV_PIO_SCRATCH), %dx
	inl	%dx, %eax
	CHECK32	3, 0x1234 ^ XOR, "pio: outw then inl of scratch"

	movw	$PIO(TESTDEV_PIO_SCRATCH), %dx
	movl	$0xdeadbeef, %eax
	outl	%eax, %dx
	inl	%dx, %eax
	CHECK32	4, 0xdeadbeef ^ XOR, "pio: outl then inl of scratch"
	movw	$PIO(TESTDEV_PIO_SCRATCH), %dx
	xorl	%eax, %eax
	inb	%dx, %al
	CHECK32	5, 0xef ^ (XOR & 0xff), "pio: inb of scratch"

	/* The descriptor of that inb: offset 0, width 1, read, port I/O. */
	movw	$PIO(TESTDEV_PIO_LAST), %dx
	inl	%dx, %eax
	CHECK32	6, TESTDEV_LAST(0, 1, 0, 0), "pio: last access after inb"

	movw	$PIO(2), %dx
	movw	$0x5555, %ax
	outw	%ax, %dx
	movw	$PIO(TESTDEV_PIO_LAST), %dx
	inl	%dx, %eax
	CHECK32	7, TESTDEV_LAST(2, 2, 1, 0), "pio: last access after outw to +2"

	movw	$PIO(1), %dx
	xorl	%eax, %eax
	inb	%dx, %al
	CHECK32	8, PAT(1), "pio: inb of pattern at +1"
	movw	$PIO(2), %dx
	xorl	%eax, %eax
	inw	%dx, %ax
	CHECK32	9, PAT(2) | PAT(3) << 8, "pio: inw of pattern at +2"
	movw	$PIO(TESTDEV_PIO_LAST), %dx
	inl	%dx, %eax
	CHECK32	10, TESTDEV_LAST(2, 2, 0, 0), "pio: last access after inw at +2"

	/* Three counted accesses; reading COUNT and LAST counts nothing. */
	movw	$PIO(TESTDEV_PIO_COUNT), %dx
	inl	%dx, %eax
	movl	%eax, %ebx
	movw	$PIO(TESTDEV_PIO_SCRATCH), %dx
	outb	%al, %dx
	movw	$PIO(1), %dx
	inb	%dx, %al
	movw	$PIO(TESTDEV_PIO_SCRATCH), %dx
	outl	%eax, %dx
	movw	$PIO(TESTDEV_PIO_LAST), %dx
	inl	%dx, %eax
	movw	$PIO(TESTDEV_PIO_COUNT), %dx
	inl	%dx, %eax
	inl	%dx, %eax
	subl	%ebx, %eax
	CHECK32	11, 3, "pio: access counter"

	/* The scratch register kept the outl of the counter test. */
	movw	$PIO(TESTDEV_PIO_SCRATCH), %dx
	movl	$0x0badf00d, %eax
	outl	%eax, %dx
	movw	$PIO(1), %dx
	inl	%dx, %eax
	movw	$PIO(TESTDEV_PIO_SCRATCH), %dx
	inl	%dx, %eax
	CHECK32	12, 0x0badf00d ^ XOR, "pio: scratch survives other accesses"
	ret

mmio_checks:
	movl	$0x11223344, MMIO(0)
	movl	$0x55667788, MMIO(4)
	movl	MMIO(0), %eax
	CHECK32	20, 0x11223344, "mmio: 4-byte data at +0"
	movl	MMIO(4), %eax
	CHECK32	21, 0x55667788, "mmio: 4-byte data at +4"

	movb	$0xaa, MMIO(3)
	movl	MMIO(0), %eax
	CHECK32	22, 0xaa223344, "mmio: 1-byte write at +3"
	movl	MMIO(TESTDEV_MMIO_LAST), %eax
	CHECK32	23, TESTDEV_LAST(0, 4, 0, 1), "mmio: last access after 4-byte read"

	movw	$0xbbcc, MMIO(6)
	movl	MMIO(TESTDEV_MMIO_LAST), %eax
	CHECK32	24, TESTDEV_LAST(6, 2, 1, 1), "mmio: last access after 2-byte write at +6"
	movzwl	MMIO(6), %eax
	CHECK32	25, 0xbbcc, "mmio: 2-byte read at +6"
	movl	MMIO(4), %eax
	CHECK32	26, 0xbbcc7788, "mmio: 4-byte read at +4"
	movzbl	MMIO(5), %eax
	CHECK32	27, 0x77, "mmio: 1-byte read at +5"
	movzwl	MMIO(1), %eax
	CHECK32	28, 0x2233, "mmio: 2-byte read at +1"
	movl	MMIO(TESTDEV_MMIO_LAST), %eax
	CHECK32	29, TESTDEV_LAST(1, 2, 0, 1), "mmio: last access after 2-byte read at +1"

	movl	MMIO(0x123), %eax
	CHECK32	30, PAT(0x123) | PAT(0x124) << 8 | PAT(0x125) << 16 | PAT(0x126) << 24, "mmio: 4-byte pattern at +0x123"
	movl	MMIO(0xffc), %eax
	CHECK32	31, PAT(0xffc) | PAT(0xffd) << 8 | PAT(0xffe) << 16 | PAT(0xfff) << 24, "mmio: 4-byte pattern at +0xffc"
	movl	MMIO(TESTDEV_MMIO_LAST), %eax
	CHECK32	32, TESTDEV_LAST(0xffc, 4, 0, 1), "mmio: last access after read at +0xffc"
	movzbl	MMIO(0xfff), %eax
	CHECK32	33, PAT(0xfff), "mmio: 1-byte pattern at +0xfff"

	movl	MMIO(TESTDEV_MMIO_NCPUS), %eax
	CHECK32	34, 1, "mmio: vCPU count (run with -c 1)"

	/* One counter for both buses. */
	movl	MMIO(TESTDEV_MMIO_COUNT), %ebx
	movb	%al, MMIO(0x800)
	movw	$PIO(1), %dx
	inb	%dx, %al
	movl	MMIO(TESTDEV_MMIO_COUNT), %eax
	subl	%ebx, %eax
	CHECK32	35, 2, "mmio: access counter shared with port I/O"
	movw	$PIO(TESTDEV_PIO_COUNT), %dx
	inl	%dx, %eax
	movl	%eax, %ecx
	movl	MMIO(TESTDEV_MMIO_COUNT), %eax
	subl	%ecx, %eax
	CHECK32	36, 0, "mmio: counter equals the port-I/O view"
	ret

/*
 * 8-byte MMIO from 32-bit code needs an 8-byte instruction: MMX movq
 * between memory and %mm0 (0f 6f / 0f 7f).  On a software KVM that
 * emulates all 32-bit code, that is the form its instruction emulator
 * knows; movd between %mm0 and a general register is not.  CR0.EM and
 * CR0.TS are clear after reset.
 */
mmio_wide_checks:
	movl	MMIO(TESTDEV_MMIO_COUNT), %eax
	movl	%eax, count_before
	movq	qword_out, %mm0
	movq	%mm0, MMIO(0)
	movl	MMIO(TESTDEV_MMIO_LAST), %eax
	CHECK32	40, TESTDEV_LAST(0, 8, 1, 1), "mmio: last access after 8-byte write"
	movl	MMIO(0), %eax
	CHECK32	41, 0x89abcdef, "mmio: low half of 8-byte write"
	movl	MMIO(4), %eax
	CHECK32	42, 0x01234567, "mmio: high half of 8-byte write"

	movl	$0xcafef00d, MMIO(0)
	movq	MMIO(0), %mm1
	movl	MMIO(TESTDEV_MMIO_LAST), %eax
	CHECK32	43, TESTDEV_LAST(0, 8, 0, 1), "mmio: last access after 8-byte read"
	movq	%mm1, qword_in
	movl	qword_in, %eax
	CHECK32	44, 0xcafef00d, "mmio: low half of 8-byte read"
	movl	qword_in + 4, %eax
	CHECK32	45, 0x01234567, "mmio: high half of 8-byte read"
	movl	MMIO(TESTDEV_MMIO_COUNT), %eax
	subl	count_before, %eax
	CHECK32	46, 5, "mmio: 8-byte accesses count once each"
	/* No emms: nothing uses the x87 afterwards, and that emulator lacks it. */
	ret

/*
 * Nothing is mapped right after the test device's page or its ports:
 * reads return all ones and the device sees nothing.
 */
unmapped_checks:
	movl	MMIO(TESTDEV_MMIO_COUNT), %ebx
	movl	MMIO(TESTDEV_MMIO_LEN), %eax
	CHECK32	50, 0xffffffff, "unmapped: 4-byte MMIO read past the device page"
	movl	%eax, MMIO(TESTDEV_MMIO_LEN)
	movw	$(TESTDEV_PIO_BASE + TESTDEV_PIO_LEN), %dx
	inl	%dx, %eax
	CHECK32	51, 0xffffffff, "unmapped: 4-byte port read past the device ports"
	outl	%eax, %dx
	movl	MMIO(TESTDEV_MMIO_COUNT), %eax
	subl	%ebx, %eax
	CHECK32	52, 0, "unmapped: the device saw none of it"
	ret

	.section .rodata
name:	.asciz	"dispatch"
	.balign	8
qword_out:
	.quad	0x0123456789abcdef

	.bss
	.balign	8
qword_in:
	.quad	0
count_before:
	.long	0

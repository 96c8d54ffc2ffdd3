#ifndef LKVM_TESTDEV_H
#define LKVM_TESTDEV_H

/*
 * The test device, present only with the hidden option --test-device.
 * The direct-tier guests (tests/guests) use it to check that port-I/O and
 * MMIO exits reach the right handler with the right offset, width and
 * data, and to end a run with an exit status of their choice.
 *
 * This header is also included by the guests' assembly sources, hence the
 * __ASSEMBLER__ guard around the C part.
 *
 * Every access is recorded in a "last access" descriptor:
 *   bits 11:0  offset inside the device's range
 *   bits 15:12 width in bytes (1, 2, 4 or 8)
 *   bit  16    1 = write
 *   bit  17    1 = MMIO, 0 = port I/O
 * and counted, except reads of the descriptor and counter registers
 * themselves, so that reading them does not disturb what they report.
 *
 * Port I/O, 16 ports at TESTDEV_PIO_BASE:
 *   +0x0 SCRATCH  a write of width w stores the w data bytes, zero-extended
 *                 to 32 bits; a read returns (stored ^ 0xA5A5A5A5), low
 *                 bytes first.  A read-back proves data and width.
 *   +0x4 EXIT     write N: lkvm stops and exits with status N.
 *   +0x8 COUNT    read: number of recorded accesses so far (pio + mmio).
 *   +0xC LAST     read: descriptor of the last recorded access.
 *   anything else: reads return the pattern below, writes are recorded only.
 *
 * MMIO, one 4 KiB page at TESTDEV_MMIO_BASE:
 *   +0x000 DATA   64-bit register, byte-addressable: an access of width w
 *                 at offset o (o + w <= 8) reads or writes bytes o..o+w-1.
 *   +0x008 LAST   read: descriptor of the last recorded access.
 *   +0x010 COUNT  read: the access counter.
 *   +0x018 EXIT   write N: lkvm stops and exits with status N.
 *   +0x020 NCPUS  read: number of vCPUs the VM was created with.
 *   anything else: reads return the pattern, writes are recorded only.
 *
 * The pattern: byte i of a read at offset o is ((o + i) & 0xff) ^ 0x5A, so
 * a read anywhere proves which offset and width reached the handler.
 */

#define TESTDEV_PIO_BASE	0x700
#define TESTDEV_PIO_LEN		0x10
#define TESTDEV_PIO_SCRATCH	0x0
#define TESTDEV_PIO_EXIT	0x4
#define TESTDEV_PIO_COUNT	0x8
#define TESTDEV_PIO_LAST	0xc

#define TESTDEV_MMIO_BASE	0xfe000000
#define TESTDEV_MMIO_LEN	0x1000
#define TESTDEV_MMIO_DATA	0x000
#define TESTDEV_MMIO_LAST	0x008
#define TESTDEV_MMIO_COUNT	0x010
#define TESTDEV_MMIO_EXIT	0x018
#define TESTDEV_MMIO_NCPUS	0x020

#define TESTDEV_SCRATCH_XOR	0xa5a5a5a5
#define TESTDEV_PATTERN_XOR	0x5a

#define TESTDEV_LAST_WIDTH_SHIFT 12
#define TESTDEV_LAST_WRITE	(1 << 16)
#define TESTDEV_LAST_MMIO	(1 << 17)
/*
 * The descriptor of an access (write and mmio are 0 or 1); plain
 * arithmetic so that the guests' assembler can evaluate it too.
 */
#define TESTDEV_LAST(off, width, write, mmio)				\
	((off) | ((width) << TESTDEV_LAST_WIDTH_SHIFT) |		\
	 ((write) << 16) | ((mmio) << 17))

#ifndef __ASSEMBLER__
struct kvm;

/* Register the device's port and MMIO ranges; 0 or -errno. */
int testdev_register(struct kvm *kvm);
#endif

#endif

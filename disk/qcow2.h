#ifndef LKVM_DISK_QCOW2_H
#define LKVM_DISK_QCOW2_H
/*
 * The qcow2 image format, as described by the qcow2 specification
 * (QEMU's docs/interop/qcow2.txt).  Every number on disk is big endian.
 *
 * The driver registers itself as disk_format_qcow2 (disk/disk-int.h):
 * images that start with the magic probe as qcow2.
 */
#include "lkvm/compiler.h"

#define QCOW2_MAGIC		0x514649fbu	/* "QFI\xfb" */

/* The header as stored in the first cluster (fields big endian). */
struct qcow2_disk_header {
	u32 magic;
	u32 version;
	u64 backing_file_offset;
	u32 backing_file_size;
	u32 cluster_bits;
	u64 size;
	u32 crypt_method;
	u32 l1_size;
	u64 l1_table_offset;
	u64 refcount_table_offset;
	u32 refcount_table_clusters;
	u32 nb_snapshots;
	u64 snapshots_offset;
	/* Version 3 from here. */
	u64 incompatible_features;
	u64 compatible_features;
	u64 autoclear_features;
	u32 refcount_order;
	u32 header_length;
	/* Optional: present when header_length > 104. */
	u8 compression_type;
} PACKED;

#define QCOW2_V2_HEADER_LEN	72
#define QCOW2_V3_HEADER_LEN	104
#define QCOW2_HDR_RT_OFFSET	48	/* refcount_table_offset, then _clusters */
#define QCOW2_HDR_AUTOCLEAR	88

#define QCOW2_MIN_CLUSTER_BITS	9
#define QCOW2_MAX_CLUSTER_BITS	21
#define QCOW2_MAX_REFCOUNT_ORDER 6
#define QCOW2_MAX_BACKING_NAME	1023

/* incompatible_features */
#define QCOW2_INCOMPAT_DIRTY		(1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT		(1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE	(1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION	(1ull << 3)
#define QCOW2_INCOMPAT_EXTL2		(1ull << 4)

/* Header extension types. */
#define QCOW2_EXT_END			0x00000000u
#define QCOW2_EXT_BACKING_FORMAT	0xe2792acau
#define QCOW2_EXT_FEATURE_NAMES		0x6803f857u

/* Feature name table entry (in the extension above). */
struct qcow2_feature_name {
	u8 type;		/* 0 incompatible, 1 compatible, 2 autoclear */
	u8 bit;
	char name[46];
} PACKED;

/* Bits 9..55: where L2 tables, refcount blocks and data clusters live. */
#define QCOW2_OFFSET_MASK	0x00fffffffffffe00ull

/* L1 entry: offset | COPIED; everything else reserved. */
#define QCOW2_L1_RESERVED	0x7f000000000001ffull
/* L2 entry */
#define QCOW2_L2_COPIED		(1ull << 63)
#define QCOW2_L2_COMPRESSED	(1ull << 62)
#define QCOW2_L2_ZERO		(1ull << 0)	/* version 3 only */
#define QCOW2_L2_RESERVED	0x3f000000000001feull
/* Refcount table entry: offset only. */
#define QCOW2_RT_RESERVED	0xff000000000001ffull

/* Compressed data is counted in 512-byte sectors. */
#define QCOW2_COMPRESSED_SECTOR	512

/* Images may chain backing files this deep (a loop ends here too). */
#define QCOW2_MAX_CHAIN		16

#endif

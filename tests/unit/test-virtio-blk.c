/*
 * virtio-blk over fake guest RAM, a counting transport and a temporary
 * raw image: every request type, every malformed request and the status
 * it earns, read-only images, both the libaio and the synchronous
 * backend, multiqueue, and reset with requests in flight.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include "lkvm/disk.h"
#include "lkvm/kvm.h"
#include "lkvm/virtio.h"
#include "lkvm/virtio-blk.h"
#include "unit.h"
#include "vdriver.h"
#include "pdriver.h"

#define HDR_GPA (RAM_GPA + 0x20000)
#define STATUS_GPA (RAM_GPA + 0x21000)
#define SEG_GPA (RAM_GPA + 0x22000)
#define DATA_GPA (RAM_GPA + 0x40000)	/* 256 KiB of data buffers */
#define DATA2_GPA (RAM_GPA + 0x80000)

#define IMG_SECTORS 2048u		/* 1 MiB */
#define F_INDIRECT (1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define F(bit) (1ULL << (bit))
#define F_BLK (F(VIRTIO_BLK_F_FLUSH) | F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_SIZE_MAX) | \
	       F(VIRTIO_BLK_F_BLK_SIZE) | F(VIRTIO_BLK_F_MQ) | F(VIRTIO_BLK_F_DISCARD) | \
	       F(VIRTIO_BLK_F_WRITE_ZEROES))
#define F_ALL (F_V1 | F_EVENT_IDX | F_BLK)

#define S_NONE 0xee	/* status byte before the device answers */

/* ---- fake VM ---- */

static struct kvm kvm;
static char dir[] = "/var/tmp/lkvm-test-vblk.XXXXXX";
static char img[256];

static void vm_init(void)
{
	ram_map(&kvm.mem);
	kvm.nr_cpus = 2;
}

static u8 pattern(u64 off)
{
	return (u8)(off * 11 + off / 512);
}

static void make_image(void)
{
	u8 *buf = malloc(IMG_SECTORS * 512);
	int fd;

	snprintf(img, sizeof(img), "%s/vblk.img", dir);
	for (u32 i = 0; i < IMG_SECTORS * 512; i++)
		buf[i] = pattern(i);
	fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, IMG_SECTORS * 512) != IMG_SECTORS * 512) {
		perror(img);
		exit(2);
	}
	close(fd);
	free(buf);
}

static void file_read(u64 off, void *buf, size_t len)
{
	int fd = open(img, O_RDONLY);

	if (fd < 0 || pread(fd, buf, len, (off_t)off) != (ssize_t)len) {
		perror(img);
		exit(2);
	}
	close(fd);
}

/* ---- driver side ---- */

static struct virtio_device *dev;

static void kick(unsigned int qi)
{
	virtio_queue_notify(dev, qi);
}

static void negotiate(u64 features, unsigned int nr_queues)
{
	if (!vdriver_negotiate(dev, features, nr_queues)) {
		fprintf(stderr, "features 0x%llx refused\n", (unsigned long long)features);
		exit(2);
	}
}

static void driver_ok(void)
{
	virtio_set_status(dev, virtio_get_status(dev) | ST_DOK);
}

/* virtio_blk_init() of a -d spec, as the options and set-up code do it. */
static int blk_init_spec(const char *spec, unsigned int index, struct virtio_device **out)
{
	struct disk_params p;
	const char *why;

	if (disk_parse_spec(spec, &p, &why))
		return -EINVAL;
	return virtio_blk_init(&kvm, &p, index, out);
}

/* A device on a fresh image, driven up to DRIVER_OK. */
static void blk_up(const char *opts, unsigned int index, u64 features, unsigned int nr_queues)
{
	char spec[300];

	if (dev)
		virtio_blk_exit(dev);
	dev = NULL;
	make_image();
	snprintf(spec, sizeof(spec), "%s%s", img, opts);
	if (blk_init_spec(spec, index, &dev)) {
		fprintf(stderr, "virtio_blk_init(%s) failed\n", spec);
		exit(2);
	}
	negotiate(features, nr_queues);
	driver_ok();
}

static void blk_down(void)
{
	if (dev)
		virtio_blk_exit(dev);
	dev = NULL;
}

static void put_hdr(u32 type, u64 sector)
{
	struct virtio_blk_outhdr h = {
		.type = htole32(type), .ioprio = 0, .sector = htole64(sector),
	};

	memcpy(gpa(HDR_GPA), &h, sizeof(h));
}

/* Submit a chain on queue qi, wait for it; its used length. */
static u32 run_chain(unsigned int qi, const struct buf *b, unsigned int n)
{
	struct tq *q = &queues[qi];
	u16 head = tq_add(q, b, n);
	u16 want = ++q->used_seen;

	kick(qi);
	if (!wait_used(q, want))
		return 0xdeadbeef;
	CHECK_EQ(used_elem(q, want - 1).id, head);
	return used_elem(q, want - 1).len;
}

static u8 status(void)
{
	return *(u8 *)gpa(STATUS_GPA);
}

/* header, data (len 0: none), status; the status the device wrote. */
static u8 request(u32 type, u64 sector, u32 data_len, bool data_writable, u32 *used_len)
{
	struct buf b[3] = {
		{ HDR_GPA, sizeof(struct virtio_blk_outhdr), false },
		{ DATA_GPA, data_len, data_writable },
		{ STATUS_GPA, 1, true },
	};
	u32 len;

	put_hdr(type, sector);
	*(u8 *)gpa(STATUS_GPA) = S_NONE;
	if (data_len)
		len = run_chain(0, b, 3);
	else
		len = run_chain(0, (struct buf[]){ b[0], b[2] }, 2);
	if (used_len)
		*used_len = len;
	return status();
}

static void fill(u64 g, u32 len, u8 seed)
{
	for (u32 i = 0; i < len; i++)
		((u8 *)gpa(g))[i] = (u8)(seed + i * 3);
}

static bool file_has(u64 off, u64 g, u32 len)
{
	u8 *f = malloc(len);
	bool same;

	file_read(off, f, len);
	same = !memcmp(f, gpa(g), len);
	free(f);
	return same;
}

static bool file_is_pattern(u64 off, u32 len)
{
	u8 *f = malloc(len);
	bool ok = true;

	file_read(off, f, len);
	for (u32 i = 0; i < len && ok; i++)
		ok = f[i] == pattern(off + i);
	free(f);
	return ok;
}

static bool zero(u64 g, u32 len)
{
	for (u32 i = 0; i < len; i++)
		if (((u8 *)gpa(g))[i])
			return false;
	return true;
}

/* ---- identity ---- */

static void test_features_and_config(void)
{
	struct virtio_blk_config c;
	u64 f;

	blk_up("", 0, F_ALL, 2);
	CHECK_EQ(dev->ops->device_id, VIRTIO_ID_BLOCK);
	CHECK_EQ(dev->nr_queues, 2);	/* one per vCPU */
	f = virtio_get_device_features(dev, 0) | (u64)virtio_get_device_features(dev, 1) << 32;
	CHECK_EQ(f & F_BLK, F_BLK);
	CHECK(!(f & F(VIRTIO_BLK_F_RO)));
	CHECK(f & F_V1);
	virtio_config_read(dev, 0, &c, sizeof(c));
	CHECK_EQ(le64toh(c.capacity), IMG_SECTORS);
	CHECK_EQ(le32toh(c.seg_max), VIRTIO_BLK_QUEUE_SIZE - 2);
	CHECK(le32toh(c.size_max) >= 4096);
	CHECK_EQ(le32toh(c.blk_size), 512);
	/* Topology: 512-byte physical blocks, 1 MiB requests are best. */
	CHECK(f & F(VIRTIO_BLK_F_TOPOLOGY));
	CHECK_EQ(c.physical_block_exp, 0);
	CHECK_EQ(c.alignment_offset, 0);
	CHECK_EQ(le16toh(c.min_io_size), 1);
	CHECK_EQ(le32toh(c.opt_io_size), 2048);
	CHECK_EQ(le16toh(c.num_queues), 2);
	CHECK(le32toh(c.max_discard_sectors) > 0);
	CHECK(le32toh(c.max_discard_seg) > 0);
	CHECK(le32toh(c.max_write_zeroes_sectors) > 0);
	CHECK(le32toh(c.max_write_zeroes_seg) > 0);
	CHECK_EQ(c.write_zeroes_may_unmap, 1);
	/* Many vCPUs: the queue count is capped. */
	kvm.nr_cpus = 40;
	blk_up("", 0, F_ALL, 1);
	CHECK_EQ(dev->nr_queues, VIRTIO_BLK_MAX_QUEUES);
	kvm.nr_cpus = 2;
}

static void test_get_id(void)
{
	u32 len;
	char want[20] = "lkvm-vda";

	blk_up("", 0, F_ALL, 1);
	memset(gpa(DATA_GPA), 0x55, 64);
	CHECK_EQ(request(VIRTIO_BLK_T_GET_ID, 0, 20, true, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 21);
	CHECK(!memcmp(gpa(DATA_GPA), want, 20));	/* NUL-padded */
	CHECK_EQ(((u8 *)gpa(DATA_GPA))[20], 0x55);
	/* A short buffer gets what fits. */
	memset(gpa(DATA_GPA), 0x55, 64);
	CHECK_EQ(request(VIRTIO_BLK_T_GET_ID, 0, 4, true, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 5);
	CHECK(!memcmp(gpa(DATA_GPA), "lkvm", 4));
	CHECK_EQ(((u8 *)gpa(DATA_GPA))[4], 0x55);
	/* The second -d is vdb. */
	blk_up("", 1, F_ALL, 1);
	CHECK_EQ(request(VIRTIO_BLK_T_GET_ID, 0, 20, true, NULL), VIRTIO_BLK_S_OK);
	CHECK(!memcmp(gpa(DATA_GPA), "lkvm-vdb", 9));
}

/* ---- reads, writes, flushes ---- */

static void check_read_write(const char *opts)
{
	u32 len;

	blk_up(opts, 0, F_ALL, 1);
	fill(DATA_GPA, 4096, 1);
	CHECK_EQ(request(VIRTIO_BLK_T_OUT, 10, 4096, false, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 1);
	CHECK(file_has(10 * 512, DATA_GPA, 4096));
	CHECK(file_is_pattern(9 * 512, 512));
	CHECK(file_is_pattern(18 * 512, 512));
	CHECK_EQ(request(VIRTIO_BLK_T_FLUSH, 0, 0, false, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 1);
	memset(gpa(DATA_GPA), 0, 8192);
	CHECK_EQ(request(VIRTIO_BLK_T_IN, 9, 8192, true, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 8193);
	CHECK(file_has(9 * 512, DATA_GPA, 8192));
	/* The last sector is readable. */
	CHECK_EQ(request(VIRTIO_BLK_T_IN, IMG_SECTORS - 1, 512, true, NULL), VIRTIO_BLK_S_OK);
	CHECK(file_has((IMG_SECTORS - 1) * 512ULL, DATA_GPA, 512));
	/* The legacy synonym of FLUSH. */
	CHECK_EQ(request(5, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	CHECK(__atomic_load_n(&queue_signals, __ATOMIC_SEQ_CST) > 0);
}

static void test_read_write_libaio(void)
{
	check_read_write("");
}

static void test_read_write_sync_backend(void)
{
	check_read_write(",sync");
}

static void test_read_write_direct(void)
{
	char probe[300];
	int fd;

	snprintf(probe, sizeof(probe), "%s/probe", dir);
	fd = open(probe, O_RDWR | O_CREAT | O_DIRECT, 0644);
	if (fd < 0) {
		printf("########################################\n"
		       "SKIP: O_DIRECT not supported in %s\n"
		       "########################################\n", dir);
		return;
	}
	close(fd);
	check_read_write(",direct");
}

/* The spec lets the driver frame a request any way it likes. */
static void test_any_framing(void)
{
	u32 len;

	blk_up("", 0, F_ALL, 1);
	put_hdr(VIRTIO_BLK_T_IN, 4);
	memset(gpa(DATA_GPA), 0, 1024);
	((u8 *)gpa(DATA_GPA))[1024] = S_NONE;
	/* Header in 4 + 12 bytes; data and status in one writable buffer. */
	len = run_chain(0, (struct buf[]){ { HDR_GPA, 4, false }, { HDR_GPA + 4, 12, false },
					  { DATA_GPA, 1025, true } }, 3);
	CHECK_EQ(len, 1025);
	CHECK_EQ(((u8 *)gpa(DATA_GPA))[1024], VIRTIO_BLK_S_OK);
	CHECK(file_has(4 * 512, DATA_GPA, 1024));
	/* Header and data of a write in one readable buffer. */
	put_hdr(VIRTIO_BLK_T_OUT, 20);
	fill(HDR_GPA + 16, 512, 9);
	*(u8 *)gpa(STATUS_GPA) = S_NONE;
	len = run_chain(0, (struct buf[]){ { HDR_GPA, 16 + 512, false },
					  { STATUS_GPA, 1, true } }, 2);
	CHECK_EQ(len, 1);
	CHECK_EQ(status(), VIRTIO_BLK_S_OK);
	CHECK(file_has(20 * 512, HDR_GPA + 16, 512));
	/* Indirect descriptors. */
	blk_up("", 0, F_ALL | F_INDIRECT, 1);
	{
		struct vring_desc *t = gpa(SEG_GPA);
		struct tq *q = &queues[0];
		u16 head = q->next_desc++ % QSIZE;

		put_hdr(VIRTIO_BLK_T_IN, 30);
		*(u8 *)gpa(STATUS_GPA) = S_NONE;
		t[0] = (struct vring_desc){ htole64(HDR_GPA), htole32(16), htole16(VRING_DESC_F_NEXT), htole16(1) };
		t[1] = (struct vring_desc){ htole64(DATA_GPA), htole32(512),
					    htole16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT), htole16(2) };
		t[2] = (struct vring_desc){ htole64(STATUS_GPA), htole32(1), htole16(VRING_DESC_F_WRITE), 0 };
		tq_desc(q)[head] = (struct vring_desc){ htole64(SEG_GPA), htole32(48),
							htole16(VRING_DESC_F_INDIRECT), 0 };
		tq_offer(q, head);
		kick(0);
		CHECK(wait_used(q, ++q->used_seen));
		CHECK_EQ(status(), VIRTIO_BLK_S_OK);
		CHECK(file_has(30 * 512, DATA_GPA, 512));
	}
}

/* ---- malformed requests ---- */

static void test_bad_header_and_type(void)
{
	u32 len;
	u32 bad_types[] = { 2, 3, 6, 10, 14, 99, 0x80000000u, 0x80000001u };

	blk_up("", 0, F_ALL, 1);
	/* A header shorter than 16 bytes. */
	put_hdr(VIRTIO_BLK_T_IN, 0);
	*(u8 *)gpa(STATUS_GPA) = S_NONE;
	len = run_chain(0, (struct buf[]){ { HDR_GPA, 8, false }, { STATUS_GPA, 1, true } }, 2);
	CHECK_EQ(status(), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(len, 1);
	/* No header at all, only a status byte. */
	*(u8 *)gpa(STATUS_GPA) = S_NONE;
	run_chain(0, (struct buf[]){ { STATUS_GPA, 1, true } }, 1);
	CHECK_EQ(status(), VIRTIO_BLK_S_IOERR);
	/* Unknown or unsupported types (SCSI, lifetime, secure erase, barrier). */
	for (unsigned int i = 0; i < ARRAY_SIZE(bad_types); i++) {
		memset(gpa(DATA_GPA), 0x77, 512);
		CHECK_EQ(request(bad_types[i], 0, 512, true, &len), VIRTIO_BLK_S_UNSUPP);
		CHECK_EQ(len, 1);
		CHECK_EQ(((u8 *)gpa(DATA_GPA))[0], 0x77);
	}
	/* No writable byte for a status: returned untouched, device still fine. */
	put_hdr(VIRTIO_BLK_T_IN, 0);
	memset(gpa(DATA_GPA), 0x77, 512);
	len = run_chain(0, (struct buf[]){ { HDR_GPA, 16, false }, { DATA_GPA, 512, false } }, 2);
	CHECK_EQ(len, 0);
	CHECK_EQ(((u8 *)gpa(DATA_GPA))[0], 0x77);
	CHECK(!(virtio_get_status(dev) & VIRTIO_CONFIG_S_NEEDS_RESET));
	CHECK_EQ(request(VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
}

static void test_bad_ranges(void)
{
	u32 len;

	blk_up("", 0, F_ALL, 1);
	/* Lengths that are not whole sectors. */
	memset(gpa(DATA_GPA), 0x77, 1024);
	CHECK_EQ(request(VIRTIO_BLK_T_IN, 0, 100, true, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(((u8 *)gpa(DATA_GPA))[0], 0x77);
	fill(DATA_GPA, 1024, 3);
	CHECK_EQ(request(VIRTIO_BLK_T_OUT, 0, 1000, false, NULL), VIRTIO_BLK_S_IOERR);
	CHECK(file_is_pattern(0, 1024));
	/* Past the end, partly past the end, and sector * 512 overflowing. */
	CHECK_EQ(request(VIRTIO_BLK_T_IN, IMG_SECTORS, 512, true, &len), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(len, 1);
	CHECK_EQ(request(VIRTIO_BLK_T_IN, IMG_SECTORS - 1, 1024, true, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(request(VIRTIO_BLK_T_OUT, IMG_SECTORS - 1, 1024, false, NULL), VIRTIO_BLK_S_IOERR);
	CHECK(file_is_pattern((IMG_SECTORS - 1) * 512ULL, 512));
	CHECK_EQ(request(VIRTIO_BLK_T_IN, (1ULL << 55) + 1, 512, true, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(request(VIRTIO_BLK_T_OUT, UINT64_MAX, 512, false, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(request(VIRTIO_BLK_T_OUT, UINT64_MAX / 512 + 1, 512, false, NULL),
		 VIRTIO_BLK_S_IOERR);
	/* Zero sectors at the very end: nothing to do, nothing wrong. */
	CHECK_EQ(request(VIRTIO_BLK_T_IN, IMG_SECTORS, 0, true, NULL), VIRTIO_BLK_S_OK);
	CHECK(file_is_pattern(0, IMG_SECTORS * 512));
}

static void put_seg(unsigned int i, u64 sector, u32 num, u32 flags)
{
	struct virtio_blk_discard_write_zeroes s = {
		.sector = htole64(sector), .num_sectors = htole32(num), .flags = htole32(flags),
	};

	memcpy((u8 *)gpa(SEG_GPA) + i * sizeof(s), &s, sizeof(s));
}

/* header + segments (len bytes) + status. */
static u8 seg_request(u32 type, u32 len)
{
	put_hdr(type, 0);
	*(u8 *)gpa(STATUS_GPA) = S_NONE;
	if (len)
		run_chain(0, (struct buf[]){ { HDR_GPA, 16, false }, { SEG_GPA, len, false },
					     { STATUS_GPA, 1, true } }, 3);
	else
		run_chain(0, (struct buf[]){ { HDR_GPA, 16, false }, { STATUS_GPA, 1, true } }, 2);
	return status();
}

static void test_bad_discard_and_zeroes(void)
{
	struct virtio_blk_config c;
	u32 max;

	blk_up("", 0, F_ALL, 1);
	virtio_config_read(dev, 0, &c, sizeof(c));
	max = le32toh(c.max_discard_sectors);
	/* Flags: unmap on a discard, unknown bits on either. */
	put_seg(0, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	CHECK_EQ(seg_request(VIRTIO_BLK_T_DISCARD, 16), VIRTIO_BLK_S_UNSUPP);
	put_seg(0, 0, 8, 2);
	CHECK_EQ(seg_request(VIRTIO_BLK_T_DISCARD, 16), VIRTIO_BLK_S_UNSUPP);
	put_seg(0, 0, 8, 0x80000001u);
	CHECK_EQ(seg_request(VIRTIO_BLK_T_WRITE_ZEROES, 16), VIRTIO_BLK_S_UNSUPP);
	/* Segment framing and counts. */
	put_seg(0, 0, 8, 0);
	CHECK_EQ(seg_request(VIRTIO_BLK_T_WRITE_ZEROES, 15), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(seg_request(VIRTIO_BLK_T_DISCARD, 24), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(seg_request(VIRTIO_BLK_T_DISCARD, 0), VIRTIO_BLK_S_IOERR);
	for (unsigned int i = 0; i <= le32toh(c.max_discard_seg); i++)
		put_seg(i, i * 8, 8, 0);
	CHECK_EQ(seg_request(VIRTIO_BLK_T_DISCARD, (le32toh(c.max_discard_seg) + 1) * 16),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(seg_request(VIRTIO_BLK_T_WRITE_ZEROES, (le32toh(c.max_write_zeroes_seg) + 1) * 16),
		 VIRTIO_BLK_S_IOERR);
	/* Sizes and ranges. */
	put_seg(0, 0, max + 1, 0);
	CHECK_EQ(seg_request(VIRTIO_BLK_T_DISCARD, 16), VIRTIO_BLK_S_IOERR);
	put_seg(0, IMG_SECTORS - 4, 8, 0);
	CHECK_EQ(seg_request(VIRTIO_BLK_T_WRITE_ZEROES, 16), VIRTIO_BLK_S_IOERR);
	put_seg(0, UINT64_MAX - 2, 8, 0);
	CHECK_EQ(seg_request(VIRTIO_BLK_T_WRITE_ZEROES, 16), VIRTIO_BLK_S_IOERR);
	/* A bad second segment fails the request; nothing was zeroed. */
	put_seg(0, 0, 8, 0);
	put_seg(1, IMG_SECTORS, 1, 0);
	CHECK_EQ(seg_request(VIRTIO_BLK_T_WRITE_ZEROES, 32), VIRTIO_BLK_S_IOERR);
	CHECK(file_is_pattern(0, IMG_SECTORS * 512));
	/* Not negotiated: unsupported. */
	blk_up("", 0, F_ALL & ~(F(VIRTIO_BLK_F_DISCARD) | F(VIRTIO_BLK_F_WRITE_ZEROES)), 1);
	put_seg(0, 0, 8, 0);
	CHECK_EQ(seg_request(VIRTIO_BLK_T_DISCARD, 16), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(seg_request(VIRTIO_BLK_T_WRITE_ZEROES, 16), VIRTIO_BLK_S_UNSUPP);
	CHECK(file_is_pattern(0, IMG_SECTORS * 512));
}

/* ---- discard and write zeroes ---- */

static void test_discard_and_zeroes(void)
{
	blk_up("", 0, F_ALL, 1);
	put_seg(0, 8, 8, 0);
	put_seg(1, 100, 16, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	CHECK_EQ(seg_request(VIRTIO_BLK_T_WRITE_ZEROES, 32), VIRTIO_BLK_S_OK);
	memset(gpa(DATA_GPA), 0x77, 16 * 512);
	CHECK_EQ(request(VIRTIO_BLK_T_IN, 8, 8 * 512, true, NULL), VIRTIO_BLK_S_OK);
	CHECK(zero(DATA_GPA, 8 * 512));
	CHECK_EQ(request(VIRTIO_BLK_T_IN, 100, 16 * 512, true, NULL), VIRTIO_BLK_S_OK);
	CHECK(zero(DATA_GPA, 16 * 512));
	CHECK(file_is_pattern(7 * 512, 512));
	CHECK(file_is_pattern(16 * 512, 84 * 512));
	CHECK(file_is_pattern(116 * 512, 512));
	put_seg(0, 512, 512, 0);
	CHECK_EQ(seg_request(VIRTIO_BLK_T_DISCARD, 16), VIRTIO_BLK_S_OK);
	CHECK(file_is_pattern(1024 * 512, 512));
}

/*
 * Segments are fetched from guest memory once.  disk_write_zeroes() is
 * wrapped at link time (Makefile: UNIT_WRAP_virtio-blk): while the device
 * zeroes the first segment, the "other vCPU" rewrites the second one in
 * guest RAM to cover the whole disk.  The device must act on the segments
 * it validated, not on what guest memory says later.
 */
int __real_disk_write_zeroes(struct disk_image *d, u64 off, u64 len, bool unmap);
int __wrap_disk_write_zeroes(struct disk_image *d, u64 off, u64 len, bool unmap);

static bool rewrite_on_zeroes;
static unsigned int zeroes_calls;
static u64 zeroes_off[4], zeroes_len[4];

int __wrap_disk_write_zeroes(struct disk_image *d, u64 off, u64 len, bool unmap)
{
	if (zeroes_calls < 4) {
		zeroes_off[zeroes_calls] = off;
		zeroes_len[zeroes_calls] = len;
	}
	if (rewrite_on_zeroes && zeroes_calls++ == 0)
		put_seg(1, 0, IMG_SECTORS, 0);
	return __real_disk_write_zeroes(d, off, len, unmap);
}

static void test_segments_fetched_once(void)
{
	blk_up("", 0, F_ALL, 1);
	put_seg(0, 8, 8, 0);
	put_seg(1, 100, 16, 0);
	zeroes_calls = 0;
	rewrite_on_zeroes = true;
	CHECK_EQ(seg_request(VIRTIO_BLK_T_WRITE_ZEROES, 32), VIRTIO_BLK_S_OK);
	rewrite_on_zeroes = false;
	CHECK_EQ(zeroes_calls, 2);
	CHECK_EQ(zeroes_off[0], 8 * 512);
	CHECK_EQ(zeroes_len[0], 8 * 512);
	CHECK_EQ(zeroes_off[1], 100 * 512);
	CHECK_EQ(zeroes_len[1], 16 * 512);
	CHECK(file_is_pattern(0, 8 * 512));
	CHECK(file_is_pattern(16 * 512, 84 * 512));
	CHECK(file_is_pattern(116 * 512, (IMG_SECTORS - 116) * 512));
}

/* ---- read-only images ---- */

static void test_readonly(void)
{
	u64 f;

	blk_up(",ro", 0, F_V1 | F(VIRTIO_BLK_F_RO) | F(VIRTIO_BLK_F_FLUSH), 1);
	f = virtio_get_device_features(dev, 0);
	CHECK(f & F(VIRTIO_BLK_F_RO));
	CHECK(!(f & F(VIRTIO_BLK_F_DISCARD)));
	CHECK(!(f & F(VIRTIO_BLK_F_WRITE_ZEROES)));
	fill(DATA_GPA, 512, 5);
	CHECK_EQ(request(VIRTIO_BLK_T_OUT, 0, 512, false, NULL), VIRTIO_BLK_S_IOERR);
	CHECK(file_is_pattern(0, 1024));
	put_seg(0, 0, 8, 0);
	CHECK_EQ(seg_request(VIRTIO_BLK_T_WRITE_ZEROES, 16), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(seg_request(VIRTIO_BLK_T_DISCARD, 16), VIRTIO_BLK_S_UNSUPP);
	CHECK(file_is_pattern(0, 8 * 512));
	CHECK_EQ(request(VIRTIO_BLK_T_IN, 1, 512, true, NULL), VIRTIO_BLK_S_OK);
	CHECK(file_has(512, DATA_GPA, 512));
	CHECK_EQ(request(VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
}

/* ---- queues, drivers, lifetime ---- */

/* A full queue of reads, one kick, completions in any order. */
static void test_many_in_flight(void)
{
	struct tq *q;
	u16 heads[QSIZE / 3];
	const unsigned int n = QSIZE / 3;

	blk_up("", 0, F_ALL, 2);
	q = &queues[1];	/* the second queue, while we are at it */
	for (unsigned int i = 0; i < n; i++) {
		u64 h = HDR_GPA + i * 16, s = STATUS_GPA + i;
		struct virtio_blk_outhdr hdr = { htole32(VIRTIO_BLK_T_IN), 0, htole64(i * 16) };

		memcpy(gpa(h), &hdr, sizeof(hdr));
		*(u8 *)gpa(s) = S_NONE;
		heads[i] = tq_add(q, (struct buf[]){ { h, 16, false },
						     { DATA_GPA + i * 8192, 8192, true },
						     { s, 1, true } }, 3);
	}
	kick(1);
	CHECK(wait_used(q, n));
	for (unsigned int i = 0; i < n; i++) {
		bool found = false;

		CHECK_EQ(*(u8 *)gpa(STATUS_GPA + i), VIRTIO_BLK_S_OK);
		CHECK(file_has(i * 16 * 512ULL, DATA_GPA + i * 8192, 8192));
		for (unsigned int j = 0; j < n; j++)
			found |= used_elem(q, j).id == heads[i] && used_elem(q, j).len == 8193;
		CHECK(found);
	}
	CHECK(__atomic_load_n(&queue_signals, __ATOMIC_SEQ_CST) >= 1);
	CHECK_EQ(used_idx(&queues[0]), 0);
}

/*
 * Large requests: a ,sync raw image runs the batch on helper threads
 * (disk/pool.c) and the device still answers the whole batch with one
 * interrupt.  Without EVENT_IDX every publication of used entries that
 * the driver does not suppress is a signal, so the count is the number
 * of batches.  Writes, then reads of what was written.
 */
static void test_large_batch_one_signal(void)
{
	enum { N = 4, LEN = 64 << 10 };
	struct tq *q;

	for (int write = 1; write >= 0; write--) {
		blk_up(",sync", 0, F_V1 | F_BLK, 1);
		usleep(50 * 1000);	/* the start's own pass over the empty queue */
		q = &queues[0];
		__atomic_store_n(&queue_signals, 0, __ATOMIC_SEQ_CST);
		for (unsigned int i = 0; i < N; i++) {
			u64 h = HDR_GPA + i * 16, st = STATUS_GPA + i;
			struct virtio_blk_outhdr hdr = {
				htole32(write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN), 0,
				htole64(i * (LEN / 512)) };

			memcpy(gpa(h), &hdr, sizeof(hdr));
			*(u8 *)gpa(st) = S_NONE;
			if (write)
				fill(DATA_GPA + i * LEN, LEN, (u8)(i + 1));
			else
				memset(gpa(DATA_GPA + i * LEN), 0, LEN);
			tq_add(q, (struct buf[]){ { h, 16, false },
						 { DATA_GPA + i * LEN, LEN, !write },
						 { st, 1, true } }, 3);
		}
		kick(0);
		CHECK(wait_used(q, N));
		for (unsigned int i = 0; i < N; i++) {
			CHECK_EQ(*(u8 *)gpa(STATUS_GPA + i), VIRTIO_BLK_S_OK);
			CHECK_EQ(used_elem(q, i).len, write ? 1u : LEN + 1u);
			if (write)
				CHECK(file_has((u64)i * LEN, DATA_GPA + i * LEN, LEN));
			else
				CHECK(file_is_pattern((u64)i * LEN, LEN) &&
				      file_has((u64)i * LEN, DATA_GPA + i * LEN, LEN));
		}
		CHECK_EQ(signals(), 1);
	}
}

/* Wait up to 5 s for the device to hand a buffer back on a packed ring. */
static bool packed_wait(struct pdrv *p, u16 *id, u32 *len)
{
	for (int i = 0; i < 5000; i++) {
		if (pdrv_get_used(p, id, len))
			return true;
		usleep(1000);
	}
	return false;
}

/*
 * The whole device on a packed ring: writes and reads two at a time, 3
 * descriptors each, round a queue of 16 several times (both wrap counters
 * turn); the data must reach the image and come back.
 */
static void test_packed_ring(void)
{
	struct pdrv p;
	u16 id;
	u32 len;

	blk_up("", 0, F_ALL | F_INDIRECT | (1ULL << VIRTIO_F_RING_PACKED), 1);
	CHECK(dev->vqs[0].packed);
	pdrv_init(&p, gpa(queues[0].base), gpa(queues[0].base + 0x1000),
		  gpa(queues[0].base + 0x2000), QSIZE);
	for (unsigned int round = 0; round < 24; round++) {
		bool write = round % 2 == 0;

		for (unsigned int k = 0; k < 2; k++) {
			u64 h = HDR_GPA + k * 16, st = STATUS_GPA + k, d = DATA_GPA + k * 4096;
			u64 sector = (round / 2) * 16 + k * 8;
			struct virtio_blk_outhdr hdr = {
				htole32(write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN), 0, htole64(sector)
			};

			memcpy(gpa(h), &hdr, sizeof(hdr));
			*(u8 *)gpa(st) = S_NONE;
			if (write)
				fill(d, 4096, (u8)(round + k));
			else
				memset(gpa(d), 0, 4096);
			pdrv_add(&p, (struct pbuf[]){ { h, 16, false }, { d, 4096, !write },
						      { st, 1, true } }, 3, k);
		}
		kick(0);
		for (unsigned int k = 0; k < 2; k++) {
			CHECK(packed_wait(&p, &id, &len));
			CHECK(id < 2);
			CHECK_EQ(len, write ? 1u : 4097u);
		}
		for (unsigned int k = 0; k < 2; k++) {
			CHECK_EQ(*(u8 *)gpa(STATUS_GPA + k), VIRTIO_BLK_S_OK);
			CHECK(file_has(((round / 2) * 16 + k * 8) * 512ULL, DATA_GPA + k * 4096, 4096));
		}
	}
	CHECK(!p.used_wrap || p.next_used != 0);
	CHECK(!virtio_device_is_broken(dev));
	CHECK(__atomic_load_n(&queue_signals, __ATOMIC_SEQ_CST) > 0);
}

/* A guest offering one chain over and over cannot make us misbehave. */
static void test_same_chain_offered_repeatedly(void)
{
	struct tq *q;
	u16 head;

	blk_up("", 0, F_ALL, 1);
	q = &queues[0];
	put_hdr(VIRTIO_BLK_T_IN, 0);
	head = tq_chain(q, (struct buf[]){ { HDR_GPA, 16, false }, { DATA_GPA, 4096, true },
					   { STATUS_GPA, 1, true } }, 3);
	for (int i = 0; i < QSIZE; i++)
		tq_offer(q, head);
	kick(0);
	CHECK(wait_used(q, QSIZE));
	CHECK_EQ(status(), VIRTIO_BLK_S_OK);
	CHECK(file_has(0, DATA_GPA, 4096));
}

static void test_legacy_driver(void)
{
	blk_up("", 0, F(VIRTIO_BLK_F_FLUSH), 1);
	fill(DATA_GPA, 1024, 7);
	CHECK_EQ(request(VIRTIO_BLK_T_OUT, 2, 1024, false, NULL), VIRTIO_BLK_S_OK);
	CHECK(file_has(1024, DATA_GPA, 1024));
	CHECK_EQ(request(VIRTIO_BLK_T_GET_ID, 0, 20, true, NULL), VIRTIO_BLK_S_OK);
}

/* FLUSH offered but not negotiated: writes are write-through. */
static void test_no_flush_feature(void)
{
	blk_up("", 0, F_V1, 1);
	fill(DATA_GPA, 512, 8);
	CHECK_EQ(request(VIRTIO_BLK_T_OUT, 3, 512, false, NULL), VIRTIO_BLK_S_OK);
	CHECK(file_has(3 * 512, DATA_GPA, 512));
}

static void test_requests_before_driver_ok(void)
{
	char spec[300];

	blk_down();
	make_image();
	snprintf(spec, sizeof(spec), "%s", img);
	CHECK_EQ(blk_init_spec(spec, 0, &dev), 0);
	negotiate(F_ALL, 1);
	put_hdr(VIRTIO_BLK_T_IN, 1);
	*(u8 *)gpa(STATUS_GPA) = S_NONE;
	tq_add(&queues[0], (struct buf[]){ { HDR_GPA, 16, false }, { DATA_GPA, 512, true },
					   { STATUS_GPA, 1, true } }, 3);
	usleep(20000);
	CHECK_EQ(status(), S_NONE);
	driver_ok();
	CHECK(wait_used(&queues[0], 1));
	CHECK_EQ(status(), VIRTIO_BLK_S_OK);
}

/* Reset while requests are in flight: it waits, then the device is quiet. */
static void test_reset_with_requests_in_flight(void)
{
	for (int round = 0; round < 20; round++) {
		struct tq *q;
		u16 idx;

		blk_up(round % 2 ? ",sync" : "", 0, F_ALL, 1);
		q = &queues[0];
		for (unsigned int i = 0; i < 5; i++) {
			struct virtio_blk_outhdr hdr = { htole32(i % 2 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN),
							 0, htole64(i * 64) };

			memcpy(gpa(HDR_GPA + i * 16), &hdr, sizeof(hdr));
			tq_add(q, (struct buf[]){ { HDR_GPA + i * 16, 16, false },
						  { DATA_GPA + i * 32768, 32768, !(i % 2) },
						  { STATUS_GPA + i, 1, true } }, 3);
		}
		kick(0);
		if (round % 4 == 1)
			usleep(100);
		virtio_set_status(dev, 0);
		idx = used_idx(q);
		usleep(2000);
		CHECK_EQ(used_idx(q), idx);
		CHECK(idx <= 5);
		/* And it comes back. */
		negotiate(F_ALL, 1);
		driver_ok();
		CHECK_EQ(request(VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	}
}

/* A host-side failure (here the image shrank behind our back): IOERR. */
static void test_host_io_error(void)
{
	for (int i = 0; i < 2; i++) {
		u32 len;

		blk_up(i ? ",sync" : "", 0, F_ALL, 1);
		if (truncate(img, IMG_SECTORS * 512 / 2)) {
			perror("truncate");
			exit(2);
		}
		CHECK_EQ(request(VIRTIO_BLK_T_IN, IMG_SECTORS - 8, 4096, true, &len),
			 VIRTIO_BLK_S_IOERR);
		CHECK_EQ(len, 4097);
		/* Reads before the new end still work. */
		CHECK_EQ(request(VIRTIO_BLK_T_IN, 8, 4096, true, NULL), VIRTIO_BLK_S_OK);
		CHECK(file_has(8 * 512, DATA_GPA, 4096));
	}
}

static void test_init_errors(void)
{
	struct virtio_device *v = NULL;
	char spec[300];

	snprintf(spec, sizeof(spec), "%s/nope.img", dir);
	CHECK_EQ(blk_init_spec(spec, 0, &v), -ENOENT);
	/* The image of the running device is locked. */
	blk_up("", 0, F_ALL, 1);
	CHECK_EQ(blk_init_spec(img, 1, &v), -EBUSY);
	CHECK(v == NULL);
}

static void cleanup(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

int main(void)
{
	/* /var/tmp: a disk file system (tmpfs has no O_DIRECT). */
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	atexit(cleanup);
	vm_init();
	RUN(test_features_and_config);
	RUN(test_get_id);
	RUN(test_read_write_libaio);
	RUN(test_packed_ring);
	RUN(test_read_write_sync_backend);
	RUN(test_read_write_direct);
	RUN(test_any_framing);
	RUN(test_bad_header_and_type);
	RUN(test_bad_ranges);
	RUN(test_bad_discard_and_zeroes);
	RUN(test_discard_and_zeroes);
	RUN(test_segments_fetched_once);
	RUN(test_readonly);
	RUN(test_many_in_flight);
	RUN(test_large_batch_one_signal);
	RUN(test_same_chain_offered_repeatedly);
	RUN(test_legacy_driver);
	RUN(test_no_flush_feature);
	RUN(test_requests_before_driver_ok);
	RUN(test_reset_with_requests_in_flight);
	RUN(test_host_io_error);
	RUN(test_init_errors);
	blk_down();
	return unit_summary();
}

/*
 * Packed virtqueue data path (virtio 1.2 section 2.8) on fake guest memory,
 * through the same virtq_* calls devices use: chains, buffer ids and used
 * slots, wrap-around of both counters, indirect tables, batches, every
 * malformed-ring case, the event suppression structures both ways, queue
 * layout at enable and reset.  The guest side is tests/unit/lib/pdriver.c.
 */
#include "virtio-fake.h"
#include "pdriver.h"

#define F_PACKED (1ULL << VIRTIO_F_RING_PACKED)
#define F_PALL (F_ALL | F_PACKED)
#define USED_BITS ((1u << VRING_PACKED_DESC_F_AVAIL) | (1u << VRING_PACKED_DESC_F_USED))

static struct virtq_elem *elem;
static struct pdrv drv;

/* device_up_sized, and the driver's view of the rings it placed. */
static struct virt_queue *up_sized(u64 f, u16 size)
{
	struct virt_queue *vq = device_up_sized(f, size);

	virtq_elem_free(elem);
	elem = virtq_elem_alloc(vq);
	pdrv_init(&drv, gpa(DESC_GPA), gpa(AVAIL_GPA), gpa(USED_GPA), size);
	return vq;
}

static struct virt_queue *up(u64 f)
{
	return up_sized(f, QSIZE);
}

static struct vring_packed_desc *slot_desc(unsigned int i)
{
	return (struct vring_packed_desc *)gpa(DESC_GPA) + i;
}

static void test_packed_negotiated_on_modern_only(void)
{
	struct virt_queue *vq = up(F_PALL);

	CHECK(vq->packed);
	CHECK(virtio_has_feature(&vdev, VIRTIO_F_RING_PACKED));
	/* A legacy driver cannot ask for it: the split layout is used. */
	device_new(false);
	virtio_set_status(&vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	set_features(F_INDIRECT | F_PACKED);
	virtio_queue_set_legacy_pfn(&vdev, 0, DESC_GPA / 4096, 4096, 4096);
	virtio_set_status(&vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			  VIRTIO_CONFIG_S_DRIVER_OK);
	vq = virtio_get_queue(&vdev, 0);
	CHECK(!vq->packed);
	CHECK(!virtio_has_feature(&vdev, VIRTIO_F_RING_PACKED));
	CHECK(!virtq_is_broken(vq));
	/* Withdrawn (vhost, --virtio-ring=split): no longer offered. */
	device_new(true);
	virtio_device_no_packed(&vdev);
	CHECK_EQ(virtio_get_device_features(&vdev, 1), 1u << (VIRTIO_F_VERSION_1 - 32));
}

static void test_chain_and_used_descriptor(void)
{
	struct virt_queue *vq = up(F_PALL);
	const struct pbuf b[] = {
		{ BUF_GPA, 16, false }, { BUF_GPA + 0x100, 32, false },
		{ BUF_GPA + 0x200, 64, true }, { BUF_GPA + 0x300, 8, true },
	};
	u16 id;
	u32 len;

	CHECK(!virtq_has_avail(vq));
	CHECK(!virtq_pop(vq, elem));
	pdrv_add(&drv, b, 4, 9);
	CHECK(virtq_has_avail(vq));
	CHECK(virtq_pop(vq, elem));
	CHECK_EQ(elem->head, 9);
	CHECK_EQ(elem->out_num, 2);
	CHECK_EQ(elem->in_num, 2);
	CHECK_EQ(elem->out_len, 48);
	CHECK_EQ(elem->in_len, 72);
	CHECK(elem->iov[0].iov_base == gpa(BUF_GPA) && elem->iov[0].iov_len == 16);
	CHECK(elem->iov[3].iov_base == gpa(BUF_GPA + 0x300) && elem->iov[3].iov_len == 8);
	CHECK(!virtq_pop(vq, elem));
	CHECK_EQ(vq->avail_slot, 4);

	virtq_push_and_signal(vq, 9, 72);
	/* One used descriptor at the buffer's first slot; then skip 4. */
	CHECK_EQ(le16toh(slot_desc(0)->id), 9);
	CHECK_EQ(le32toh(slot_desc(0)->len), 72);
	CHECK_EQ(le16toh(slot_desc(0)->flags), USED_BITS | VRING_DESC_F_WRITE);
	CHECK_EQ(vq->used_slot, 4);
	CHECK(pdrv_get_used(&drv, &id, &len));
	CHECK_EQ(id, 9);
	CHECK_EQ(len, 72);
	CHECK(!pdrv_get_used(&drv, &id, &len));
	CHECK_EQ(queue_signals, 1);
	/* A zero-length completion has no WRITE flag: len means nothing. */
	pdrv_add(&drv, b, 1, 3);
	CHECK(virtq_pop(vq, elem));
	virtq_push(vq, 3, 0);
	CHECK_EQ(le16toh(slot_desc(4)->flags), USED_BITS);
	CHECK(!virtq_is_broken(vq));
}

static void test_out_of_order_completion(void)
{
	struct virt_queue *vq = up(F_PALL);
	const struct pbuf b[] = { { BUF_GPA, 8, false }, { BUF_GPA, 8, true }, { BUF_GPA, 8, true } };
	u16 id;
	u32 len;

	pdrv_add(&drv, b, 3, 1);	/* slots 0-2 */
	pdrv_add(&drv, b, 1, 2);	/* slot 3 */
	CHECK(virtq_pop(vq, elem) && elem->head == 1);
	CHECK(virtq_pop(vq, elem) && elem->head == 2);
	virtq_push(vq, 2, 5);		/* written at slot 0, skips 1 */
	CHECK_EQ(vq->used_slot, 1);
	virtq_push(vq, 1, 6);		/* written at slot 1, skips 3 */
	CHECK_EQ(vq->used_slot, 4);
	CHECK(pdrv_get_used(&drv, &id, &len) && id == 2 && len == 5);
	CHECK(pdrv_get_used(&drv, &id, &len) && id == 1 && len == 6);
	CHECK_EQ(drv.next_used, 4);
	/* Pushing an id the device does not hold is an lkvm bug: broken. */
	log_capture_begin();
	virtq_push(vq, 1, 0);
	CHECK_EQ(log_capture_end("does not hold"), 1);
	CHECK(virtq_is_broken(vq));
}

/* Many chains over a ring that is not a power of 2: both counters wrap. */
static void check_wrap(u16 size)
{
	struct virt_queue *vq = up_sized(F_PALL, size);
	unsigned int used_wraps = 0;

	for (unsigned int round = 0; round < 50; round++) {
		unsigned int n = 1 + round % MIN(3u, size);
		struct pbuf b[3];
		bool was = drv.used_wrap;
		u16 id;
		u32 len;

		for (unsigned int i = 0; i < n; i++)
			b[i] = (struct pbuf){ BUF_GPA + 0x100 * i, 8 + i, i == n - 1 };
		pdrv_add(&drv, b, n, round % size);
		CHECK(virtq_pop(vq, elem));
		CHECK_EQ(elem->head, round % size);
		CHECK_EQ(elem->out_num + elem->in_num, n);
		CHECK_EQ(elem->in_len, 8 + n - 1);
		CHECK(elem->iov[0].iov_base == gpa(BUF_GPA));
		virtq_push_and_signal(vq, elem->head, round);
		CHECK(pdrv_get_used(&drv, &id, &len));
		CHECK_EQ(id, round % size);
		CHECK_EQ(len, round);
		CHECK_EQ(vq->avail_wrap, drv.avail_wrap);
		CHECK_EQ(vq->used_wrap, drv.used_wrap);
		used_wraps += was != drv.used_wrap;
	}
	CHECK(used_wraps >= 6);
	CHECK(!virtq_is_broken(vq));
}

static void test_wrap_around_both_counters(void)
{
	check_wrap(QSIZE);
	check_wrap(10);		/* packed sizes need not be powers of 2 */
	check_wrap(1);
}

static void test_chain_across_ring_end(void)
{
	struct virt_queue *vq = up_sized(F_PALL, 5);
	const struct pbuf one = { BUF_GPA, 8, false };
	const struct pbuf three[] = { { BUF_GPA, 1, false }, { BUF_GPA, 2, false },
				      { BUF_GPA, 3, true } };
	u16 id;
	u32 len;

	for (u16 i = 0; i < 4; i++) {
		pdrv_add(&drv, &one, 1, i);
		CHECK(virtq_pop(vq, elem));
		virtq_push(vq, i, 0);
		CHECK(pdrv_get_used(&drv, &id, &len));
	}
	/* Slots 4, 0, 1: the last two in the next lap, flags with wrap 0. */
	pdrv_add(&drv, three, 3, 4);
	CHECK(virtq_pop(vq, elem));
	CHECK_EQ(elem->head, 4);
	CHECK_EQ(elem->out_len + elem->in_len, 6);
	CHECK(!vq->avail_wrap);
	CHECK_EQ(vq->avail_slot, 2);
	virtq_push(vq, 4, 3);
	CHECK(pdrv_get_used(&drv, &id, &len) && id == 4 && len == 3);
	CHECK(!drv.used_wrap && drv.next_used == 2);
	CHECK(!virtq_is_broken(vq));
}

static void test_indirect(void)
{
	struct virt_queue *vq = up(F_PALL);
	const struct pbuf t[] = { { BUF_GPA, 4, false }, { BUF_GPA + 0x100, 100, true },
				  { BUF_GPA + 0x200, 200, true } };
	struct vring_packed_desc *table = gpa(TABLE_GPA);
	u16 id;
	u32 len;

	pdrv_add_indirect(&drv, table, TABLE_GPA, t, 3, 7);
	/* NEXT inside a packed table means nothing (spec 2.8.7): ignored. */
	table[0].flags |= htole16(VRING_DESC_F_NEXT);
	CHECK(virtq_pop(vq, elem));
	CHECK_EQ(elem->head, 7);
	CHECK_EQ(elem->out_num, 1);
	CHECK_EQ(elem->in_num, 2);
	CHECK_EQ(elem->in_len, 300);
	CHECK(elem->iov[2].iov_base == gpa(BUF_GPA + 0x200));
	CHECK_EQ(vq->avail_slot, 1);	/* an indirect buffer takes one slot */
	virtq_push(vq, 7, 300);
	CHECK_EQ(vq->used_slot, 1);
	CHECK(pdrv_get_used(&drv, &id, &len) && id == 7 && len == 300);
	CHECK(!virtq_is_broken(vq));
}

static void test_batch_published_by_first_flags(void)
{
	struct virt_queue *vq = up(F_PALL);
	const struct pbuf b = { BUF_GPA, 8, true };
	u16 id;
	u32 len;

	pdrv_add(&drv, &b, 1, 0);
	pdrv_add(&drv, &b, 1, 1);
	CHECK(virtq_pop(vq, elem));
	CHECK(virtq_pop(vq, elem));
	virtq_add_used(vq, 0, 1);
	virtq_add_used(vq, 1, 2);
	/* Nothing visible until published: the first entry's flags hold it back. */
	CHECK(!pdrv_get_used(&drv, &id, &len));
	virtq_publish_used(vq);
	CHECK(pdrv_get_used(&drv, &id, &len) && id == 0 && len == 1);
	CHECK(pdrv_get_used(&drv, &id, &len) && id == 1 && len == 2);
	virtq_publish_used(vq);		/* nothing pending: no store */
	CHECK(!pdrv_get_used(&drv, &id, &len));
}

/* ---- malformed rings ---- */

static void bad_head_flags(void)
{
	/* AVAIL == USED == wrap counter: only the device writes that. */
	pdrv_put(&drv, 0, BUF_GPA, 8, 0, USED_BITS);
}

static void bad_wrap_in_chain(void)
{
	/* Second descriptor still carries the previous lap's flags. */
	pdrv_put(&drv, 1, BUF_GPA, 8, 0, pdrv_avail_bits(false));
	pdrv_put(&drv, 0, BUF_GPA, 8, 0, pdrv_avail_bits(true) | VRING_DESC_F_NEXT);
}

static void bad_id_out_of_range(void)
{
	pdrv_put(&drv, 0, BUF_GPA, 8, QSIZE, pdrv_avail_bits(true));
}

static void bad_id_of_chain_end_out_of_range(void)
{
	/* The id that counts is the last descriptor's. */
	pdrv_put(&drv, 1, BUF_GPA, 8, 0xffff, pdrv_avail_bits(true));
	pdrv_put(&drv, 0, BUF_GPA, 8, 0, pdrv_avail_bits(true) | VRING_DESC_F_NEXT);
}

static void bad_chain_too_long(void)
{
	for (int i = QSIZE - 1; i >= 0; i--)
		pdrv_put(&drv, i, BUF_GPA, 8, 0, pdrv_avail_bits(true) | VRING_DESC_F_NEXT);
}

static void bad_zero_len(void)
{
	pdrv_put(&drv, 0, BUF_GPA, 0, 0, pdrv_avail_bits(true));
}

static void bad_past_ram(void)
{
	pdrv_put(&drv, 0, RAM_END - 4, 8, 0, pdrv_avail_bits(true));
}

static void bad_below_ram(void)
{
	pdrv_put(&drv, 0, RAM_GPA - 0x1000, 8, 0, pdrv_avail_bits(true));
}

static void bad_wrapping_addr(void)
{
	pdrv_put(&drv, 0, ~0ULL - 3, 8, 0, pdrv_avail_bits(true));
}

static void bad_read_after_write(void)
{
	pdrv_put(&drv, 1, BUF_GPA, 8, 0, pdrv_avail_bits(true));
	pdrv_put(&drv, 0, BUF_GPA, 8, 0, pdrv_avail_bits(true) | VRING_DESC_F_NEXT |
		 VRING_DESC_F_WRITE);
}

static void put_table(unsigned int i, u64 addr, u32 len, u16 flags)
{
	struct vring_packed_desc *t = (struct vring_packed_desc *)gpa(TABLE_GPA) + i;

	*t = (struct vring_packed_desc){ htole64(addr), htole32(len), 0, htole16(flags) };
}

static void indirect_head(u64 addr, u32 len, u16 extra)
{
	pdrv_put(&drv, 0, addr, len, 0, pdrv_avail_bits(true) | VRING_DESC_F_INDIRECT | extra);
}

static void bad_indirect_in_indirect(void)
{
	put_table(0, BUF_GPA, 8, 0);
	put_table(1, TABLE_GPA, 16, VRING_DESC_F_INDIRECT);
	indirect_head(TABLE_GPA, 32, 0);
}

static void bad_indirect_with_next(void)
{
	put_table(0, BUF_GPA, 8, 0);
	pdrv_put(&drv, 1, BUF_GPA, 8, 0, pdrv_avail_bits(true));
	indirect_head(TABLE_GPA, 16, VRING_DESC_F_NEXT);
}

static void bad_indirect_len_24(void)
{
	put_table(0, BUF_GPA, 8, 0);
	indirect_head(TABLE_GPA, 24, 0);
}

static void bad_indirect_len_0(void)
{
	indirect_head(TABLE_GPA, 0, 0);
}

static void bad_indirect_too_big(void)
{
	indirect_head(TABLE_GPA, (QSIZE + 1) * 16, 0);
}

static void bad_indirect_table_past_ram(void)
{
	indirect_head(RAM_END - 16, 32, 0);
}

static void bad_indirect_buffer_past_ram(void)
{
	put_table(0, RAM_END - 4, 8, VRING_DESC_F_WRITE);
	indirect_head(TABLE_GPA, 16, 0);
}

static void bad_indirect_read_after_write(void)
{
	put_table(0, BUF_GPA, 8, VRING_DESC_F_WRITE);
	put_table(1, BUF_GPA, 8, 0);
	indirect_head(TABLE_GPA, 32, 0);
}

/* 10 direct + a table of 10 buffers: 20 buffers in a queue of 16. */
static void bad_chain_and_table_too_long(void)
{
	for (unsigned int i = 0; i < 10; i++)
		put_table(i, BUF_GPA, 8, 0);
	pdrv_put(&drv, 10, TABLE_GPA, 160, 0, pdrv_avail_bits(true) | VRING_DESC_F_INDIRECT);
	for (int i = 9; i >= 0; i--)
		pdrv_put(&drv, i, BUF_GPA, 8, 0, pdrv_avail_bits(true) | VRING_DESC_F_NEXT);
}

struct bad_case {
	const char *name;
	void (*build)(void);
	u64 features;
};

static const struct bad_case bad_cases[] = {
	{ "head flags AVAIL == USED == wrap", bad_head_flags, F_PALL },
	{ "wrap mismatch inside a chain", bad_wrap_in_chain, F_PALL },
	{ "buffer id out of range", bad_id_out_of_range, F_PALL },
	{ "last descriptor's id out of range", bad_id_of_chain_end_out_of_range, F_PALL },
	{ "chain longer than the queue", bad_chain_too_long, F_PALL },
	{ "zero length", bad_zero_len, F_PALL },
	{ "past RAM", bad_past_ram, F_PALL },
	{ "below RAM", bad_below_ram, F_PALL },
	{ "wrapping address", bad_wrapping_addr, F_PALL },
	{ "readable after writable", bad_read_after_write, F_PALL },
	{ "indirect in indirect", bad_indirect_in_indirect, F_PALL },
	{ "indirect with NEXT", bad_indirect_with_next, F_PALL },
	{ "indirect len 24", bad_indirect_len_24, F_PALL },
	{ "indirect len 0", bad_indirect_len_0, F_PALL },
	{ "indirect too big", bad_indirect_too_big, F_PALL },
	{ "indirect table past RAM", bad_indirect_table_past_ram, F_PALL },
	{ "indirect buffer past RAM", bad_indirect_buffer_past_ram, F_PALL },
	{ "indirect readable after writable", bad_indirect_read_after_write, F_PALL },
	{ "chain + table longer than queue", bad_chain_and_table_too_long, F_PALL },
	{ "indirect not negotiated", bad_indirect_len_24, F_V1 | F_EVENT_IDX | F_PACKED },
};

static void check_bad_case(const struct bad_case *c)
{
	struct virt_queue *vq = up(c->features);
	int before = unit_case_failed;
	struct vring_packed_desc ring[QSIZE];

	c->build();
	memcpy(ring, slot_desc(0), sizeof(ring));
	check_ring_refused(vq, elem);
	/* Nothing written to the ring. */
	CHECK(!memcmp(ring, slot_desc(0), sizeof(ring)));
	if (unit_case_failed != before)
		fprintf(stderr, "  ^ in malformed case \"%s\"\n", c->name);
}

static void test_malformed_rings_break_device(void)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(bad_cases); i++)
		check_bad_case(&bad_cases[i]);
}

static void test_id_reused_while_outstanding(void)
{
	struct virt_queue *vq = up(F_PALL);
	const struct pbuf b = { BUF_GPA, 8, false };

	pdrv_add(&drv, &b, 1, 4);
	pdrv_add(&drv, &b, 1, 4);
	log_capture_begin();
	CHECK(virtq_pop(vq, elem));
	CHECK(!virtq_pop(vq, elem));
	CHECK_EQ(log_capture_end("again while in use"), 1);
	CHECK(virtq_is_broken(vq));
}

/* Not yet available (the previous lap's flags) is no error. */
static void test_old_lap_flags_are_not_available(void)
{
	struct virt_queue *vq = up(F_PALL);

	pdrv_put(&drv, 0, BUF_GPA, 8, 0, pdrv_avail_bits(false));
	CHECK(!virtq_has_avail(vq));
	CHECK(!virtq_pop(vq, elem));
	CHECK(!virtq_is_broken(vq));
}

static void test_broken_until_reset(void)
{
	struct virt_queue *vq = up(F_PALL);
	const struct pbuf b = { BUF_GPA, 8, false };

	bad_head_flags();
	log_capture_begin();
	CHECK(!virtq_pop(vq, elem));
	CHECK_EQ(log_capture_end("device stopped"), 1);
	virtio_set_status(&vdev, 0);
	CHECK(!virtio_queue_is_ready(&vdev, 0));
	/* Reset: positions and wrap counters back to their start. */
	CHECK(vq->avail_slot == 0 && vq->used_slot == 0 && vq->avail_wrap && vq->used_wrap);
	vq = up(F_PALL);
	pdrv_add(&drv, &b, 1, 2);
	CHECK(virtq_pop(vq, elem));
	CHECK_EQ(elem->head, 2);
	CHECK(!virtq_is_broken(vq));
}

/* ---- layout at enable ---- */

static bool enable_with(u16 size, u64 desc, u64 drv_area, u64 dev_area)
{
	device_negotiate(F_PALL);
	queue_place(size, desc, drv_area, dev_area);
	log_capture_begin();
	bool ok = !virtio_queue_enable(&vdev, 0);

	log_capture_end("");
	return ok;
}

static void test_layout_checks(void)
{
	CHECK(enable_with(3, DESC_GPA, AVAIL_GPA + 4, USED_GPA + 12));
	CHECK(!enable_with(0, DESC_GPA, AVAIL_GPA, USED_GPA));
	CHECK(!enable_with(QSIZE + 1, DESC_GPA, AVAIL_GPA, USED_GPA));
	CHECK(!enable_with(QSIZE, DESC_GPA + 8, AVAIL_GPA, USED_GPA));
	CHECK(!enable_with(QSIZE, DESC_GPA, AVAIL_GPA + 2, USED_GPA));
	CHECK(!enable_with(QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA + 2));
	CHECK(!enable_with(QSIZE, RAM_END - 16 * QSIZE + 16, AVAIL_GPA, USED_GPA));
	CHECK(!enable_with(QSIZE, DESC_GPA, RAM_END - 2, USED_GPA));
	CHECK(!enable_with(QSIZE, DESC_GPA, AVAIL_GPA, RAM_END));
	CHECK(enable_with(QSIZE, DESC_GPA, AVAIL_GPA, RAM_END - 4));
}

/* A queue enabled before FEATURES_OK has the split layout: packed then breaks it. */
static void test_layout_changed_by_late_features(void)
{
	u8 st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	device_new(true);
	virtio_set_status(&vdev, st);
	queue_place(QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA);
	CHECK_EQ(virtio_queue_enable(&vdev, 0), 0);
	set_features(F_PALL);
	virtio_set_status(&vdev, st | VIRTIO_CONFIG_S_FEATURES_OK);
	log_capture_begin();
	virtio_set_status(&vdev, st | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK_EQ(log_capture_end("split ring, but the driver accepted packed"), 1);
	CHECK(virtq_is_broken(virtio_get_queue(&vdev, 0)));
}

/* ---- notifications ---- */

static void complete_one(struct virt_queue *vq, u16 id)
{
	const struct pbuf b = { BUF_GPA, 8, true };
	u16 got;
	u32 len;

	pdrv_add(&drv, &b, 1, id);
	CHECK(virtq_pop(vq, elem));
	virtq_push(vq, id, 8);
	CHECK(pdrv_get_used(&drv, &got, &len) && got == id);
}

static void test_driver_event_flags(void)
{
	struct virt_queue *vq = up(F_V1 | F_PACKED);

	complete_one(vq, 0);
	CHECK(virtq_should_signal(vq));		/* ENABLE (zeroed area) */
	CHECK(!virtq_should_signal(vq));	/* nothing new */
	pdrv_set_event(&drv, VRING_PACKED_EVENT_FLAG_DISABLE, 0);
	complete_one(vq, 1);
	CHECK(!virtq_should_signal(vq));
	pdrv_set_event(&drv, VRING_PACKED_EVENT_FLAG_ENABLE, 0);
	complete_one(vq, 2);
	CHECK(virtq_should_signal(vq));
	/* DESC without EVENT_IDX is meaningless: interrupt rather than lose one. */
	pdrv_set_event(&drv, VRING_PACKED_EVENT_FLAG_DESC, 0x7fff);
	complete_one(vq, 3);
	CHECK(virtq_should_signal(vq));
}

static void test_driver_event_desc(void)
{
	struct virt_queue *vq = up(F_PALL);
	u16 wrap = 1u << VRING_PACKED_EVENT_F_WRAP_CTR;

	complete_one(vq, 0);
	CHECK(virtq_should_signal(vq));		/* first decision always signals */
	/* Interrupt when slot 3 of this lap is used: at the 3rd next completion. */
	pdrv_set_event(&drv, VRING_PACKED_EVENT_FLAG_DESC, 3 | wrap);
	complete_one(vq, 1);			/* used slot 1 */
	CHECK(!virtq_should_signal(vq));
	complete_one(vq, 2);			/* used slot 2 */
	CHECK(!virtq_should_signal(vq));
	complete_one(vq, 3);			/* used slot 3: passed */
	CHECK(virtq_should_signal(vq));
	complete_one(vq, 4);
	CHECK(!virtq_should_signal(vq));	/* already passed before */
	/* An event in the next lap (wrap 0), slot 1: after 16 - 5 + 2 completions. */
	pdrv_set_event(&drv, VRING_PACKED_EVENT_FLAG_DESC, 1);
	for (u16 i = 5; i < QSIZE + 1; i++) {
		complete_one(vq, i % QSIZE);
		CHECK(!virtq_should_signal(vq));
	}
	complete_one(vq, 1);			/* slot 1 of the next lap */
	CHECK(virtq_should_signal(vq));
	/* A batch that jumps over the event slot signals too. */
	pdrv_set_event(&drv, VRING_PACKED_EVENT_FLAG_DESC, 3);
	complete_one(vq, 2);
	complete_one(vq, 3);
	complete_one(vq, 4);
	CHECK(virtq_should_signal(vq));
	/* The next used slot, as Linux asks: at the next completion. */
	pdrv_set_event(&drv, VRING_PACKED_EVENT_FLAG_DESC, pdrv_next_used_event(&drv));
	CHECK(!virtq_should_signal(vq));
	complete_one(vq, 5);
	CHECK(virtq_should_signal(vq));
}

static void test_device_event(void)
{
	struct virt_queue *vq = up(F_V1 | F_PACKED);
	const struct pbuf b = { BUF_GPA, 8, false };

	virtq_disable_notify(vq);
	CHECK_EQ(pdrv_device_flags(&drv), VRING_PACKED_EVENT_FLAG_DISABLE);
	CHECK(!pdrv_needs_kick(&drv, 0, true));
	CHECK(!virtq_enable_notify_and_check(vq));
	CHECK_EQ(pdrv_device_flags(&drv), VRING_PACKED_EVENT_FLAG_ENABLE);
	pdrv_add(&drv, &b, 1, 0);
	CHECK(pdrv_needs_kick(&drv, 0, true));
	virtq_disable_notify(vq);
	CHECK(virtq_enable_notify_and_check(vq));	/* arrived meanwhile */

	/* EVENT_IDX: kick me when the next slot we will read is made available. */
	vq = up(F_PALL);
	CHECK(!virtq_enable_notify_and_check(vq));
	CHECK_EQ(pdrv_device_flags(&drv), VRING_PACKED_EVENT_FLAG_DESC);
	CHECK_EQ(pdrv_device_off_wrap(&drv), 0 | (1u << VRING_PACKED_EVENT_F_WRAP_CTR));
	pdrv_add(&drv, &b, 1, 0);
	CHECK(pdrv_needs_kick(&drv, 0, true));
	CHECK(virtq_pop(vq, elem));
	virtq_disable_notify(vq);
	CHECK_EQ(pdrv_device_flags(&drv), VRING_PACKED_EVENT_FLAG_DISABLE);
	CHECK(!virtq_enable_notify_and_check(vq));
	CHECK_EQ(pdrv_device_off_wrap(&drv), 1 | (1u << VRING_PACKED_EVENT_F_WRAP_CTR));
	CHECK(!virtq_is_broken(vq));
}

int main(void)
{
	RUN(test_packed_negotiated_on_modern_only);
	RUN(test_chain_and_used_descriptor);
	RUN(test_out_of_order_completion);
	RUN(test_wrap_around_both_counters);
	RUN(test_chain_across_ring_end);
	RUN(test_indirect);
	RUN(test_batch_published_by_first_flags);
	RUN(test_malformed_rings_break_device);
	RUN(test_id_reused_while_outstanding);
	RUN(test_old_lap_flags_are_not_available);
	RUN(test_broken_until_reset);
	RUN(test_layout_checks);
	RUN(test_layout_changed_by_late_features);
	RUN(test_driver_event_flags);
	RUN(test_driver_event_desc);
	RUN(test_device_event);
	virtq_elem_free(elem);
	virtio_device_exit(&vdev);
	return unit_summary();
}

/*
 * Split virtqueue data path on fake guest memory: chain popping (direct,
 * indirect, out/in split), every malformed-ring case, used publishing and
 * the notification decisions (EVENT_IDX arithmetic, NO_INTERRUPT,
 * NO_NOTIFY, avail_event).
 */
#include "virtio-fake.h"

static struct virtq_elem *elem;

static struct virt_queue *up(u64 f)
{
	struct virt_queue *vq = device_up(f);

	virtq_elem_free(elem);
	elem = virtq_elem_alloc(vq);
	return vq;
}

static void test_direct_chain_out_in_split(void)
{
	struct virt_queue *vq = up(F_ALL);

	put_desc(2, BUF_GPA, 16, VRING_DESC_F_NEXT, 7);
	put_desc(7, BUF_GPA + 0x100, 32, VRING_DESC_F_NEXT, 4);
	put_desc(4, BUF_GPA + 0x200, 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	put_desc(0, BUF_GPA + 0x300, 8, VRING_DESC_F_WRITE, 0);
	offer(2);
	CHECK(virtq_has_avail(vq));
	CHECK(virtq_pop(vq, elem));
	CHECK_EQ(elem->head, 2);
	CHECK_EQ(elem->out_num, 2);
	CHECK_EQ(elem->in_num, 2);
	CHECK_EQ(elem->out_len, 48);
	CHECK_EQ(elem->in_len, 72);
	CHECK(elem->iov[0].iov_base == gpa(BUF_GPA) && elem->iov[0].iov_len == 16);
	CHECK(elem->iov[1].iov_base == gpa(BUF_GPA + 0x100) && elem->iov[1].iov_len == 32);
	CHECK(elem->iov[2].iov_base == gpa(BUF_GPA + 0x200) && elem->iov[2].iov_len == 64);
	CHECK(elem->iov[3].iov_base == gpa(BUF_GPA + 0x300) && elem->iov[3].iov_len == 8);
	CHECK(!virtq_pop(vq, elem));
	CHECK(!virtq_has_avail(vq));

	virtq_push_and_signal(vq, elem->head, 72);
	CHECK_EQ(le16toh(used_ring()->idx), 1);
	CHECK_EQ(le32toh(used_ring()->ring[0].id), 2);
	CHECK_EQ(le32toh(used_ring()->ring[0].len), 72);
	CHECK_EQ(queue_signals, 1);
	CHECK_EQ(virtio_isr_read_clear(&vdev), VIRTIO_ISR_QUEUE);
	CHECK_EQ(virtio_isr_read_clear(&vdev), 0);
	CHECK(!virtq_is_broken(vq));
}

static void test_only_readable_or_only_writable(void)
{
	struct virt_queue *vq = up(F_ALL);

	put_desc(0, BUF_GPA, 10, 0, 0);
	put_desc(1, BUF_GPA, 20, VRING_DESC_F_WRITE, 0);
	offer(0);
	offer(1);
	CHECK(virtq_pop(vq, elem));
	CHECK_EQ(elem->out_num, 1);
	CHECK_EQ(elem->in_num, 0);
	CHECK(virtq_pop(vq, elem));
	CHECK_EQ(elem->out_num, 0);
	CHECK_EQ(elem->in_num, 1);
	CHECK_EQ(elem->in_len, 20);
}

static void test_indirect_chain(void)
{
	struct virt_queue *vq = up(F_ALL);

	/* A direct readable header, then an indirect table visited 0, 2, 1. */
	put_desc(5, BUF_GPA, 4, VRING_DESC_F_NEXT, 9);
	put_desc(9, TABLE_GPA, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	put_desc_in(TABLE_GPA, 0, BUF_GPA + 0x100, 100, VRING_DESC_F_NEXT, 2);
	put_desc_in(TABLE_GPA, 2, BUF_GPA + 0x200, 200, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	put_desc_in(TABLE_GPA, 1, BUF_GPA + 0x400, 300, VRING_DESC_F_WRITE, 0);
	offer(5);
	CHECK(virtq_pop(vq, elem));
	CHECK_EQ(elem->head, 5);
	CHECK_EQ(elem->out_num, 2);
	CHECK_EQ(elem->in_num, 2);
	CHECK(elem->iov[0].iov_base == gpa(BUF_GPA));
	CHECK(elem->iov[1].iov_base == gpa(BUF_GPA + 0x100) && elem->iov[1].iov_len == 100);
	CHECK(elem->iov[2].iov_base == gpa(BUF_GPA + 0x200) && elem->iov[2].iov_len == 200);
	CHECK(elem->iov[3].iov_base == gpa(BUF_GPA + 0x400) && elem->iov[3].iov_len == 300);
	CHECK_EQ(elem->out_len, 104);
	CHECK_EQ(elem->in_len, 500);
	CHECK(!virtq_is_broken(vq));
}

/* Nothing requires an indirect table to be aligned: accept one at +4. */
static void test_indirect_table_unaligned(void)
{
	struct virt_queue *vq = up(F_ALL);

	put_desc(1, TABLE_GPA + 4, 2 * 16, VRING_DESC_F_INDIRECT, 0);
	memset(gpa(TABLE_GPA), 0, 64);
	{
		struct vring_desc d[2] = {
			{ htole64(BUF_GPA), htole32(8), htole16(VRING_DESC_F_NEXT), htole16(1) },
			{ htole64(BUF_GPA + 8), htole32(8), htole16(VRING_DESC_F_WRITE), 0 },
		};

		memcpy(gpa(TABLE_GPA + 4), d, sizeof(d));
	}
	offer(1);
	CHECK(virtq_pop(vq, elem));
	CHECK_EQ(elem->out_num, 1);
	CHECK_EQ(elem->in_num, 1);
	CHECK(elem->iov[1].iov_base == gpa(BUF_GPA + 8));
}

static void test_indirect_table_as_big_as_queue(void)
{
	struct virt_queue *vq = up(F_ALL);

	for (unsigned int i = 0; i < QSIZE; i++)
		put_desc_in(TABLE_GPA, i, BUF_GPA + i * 16, 16,
			    VRING_DESC_F_WRITE | (i + 1 < QSIZE ? VRING_DESC_F_NEXT : 0), i + 1);
	put_desc(0, TABLE_GPA, QSIZE * 16, VRING_DESC_F_INDIRECT, 0);
	offer(0);
	CHECK(virtq_pop(vq, elem));
	CHECK_EQ(elem->in_num, QSIZE);
	CHECK(!virtq_is_broken(vq));
}

static void test_ring_wraps_over_many_chains(void)
{
	struct virt_queue *vq = up(F_ALL);

	for (unsigned int n = 0; n < 5 * QSIZE; n++) {
		u16 head = (n * 7) % QSIZE;

		put_desc(head, BUF_GPA + n * 8, 8, VRING_DESC_F_WRITE, 0);
		offer(head);
		CHECK(virtq_pop(vq, elem));
		CHECK_EQ(elem->head, head);
		virtq_push(vq, head, n);
		CHECK_EQ(le16toh(used_ring()->idx), n + 1);
		CHECK_EQ(le32toh(used_ring()->ring[n % QSIZE].id), head);
		CHECK_EQ(le32toh(used_ring()->ring[n % QSIZE].len), n);
	}
	CHECK(!virtq_is_broken(vq));
}

/* Indices crossing 65535 -> 0 on both rings. */
static void test_index_wraparound(void)
{
	struct virt_queue *vq = up(F_ALL);
	u16 start = 65530;

	vq->last_avail_idx = vq->shadow_avail_idx = start;
	vq->used_idx = vq->signalled_used = start;
	avail_ring()->idx = htole16(start);
	used_ring()->idx = htole16(start);
	for (unsigned int n = 0; n < 12; n++) {
		put_desc(n, BUF_GPA, 8, 0, 0);
		offer(n);
	}
	for (unsigned int n = 0; n < 12; n++) {
		CHECK(virtq_pop(vq, elem));
		CHECK_EQ(elem->head, n);
		virtq_push(vq, elem->head, 0);
	}
	CHECK(!virtq_pop(vq, elem));
	CHECK_EQ(le16toh(used_ring()->idx), (u16)(start + 12));
	CHECK(!virtq_is_broken(vq));
}

/* Batches: added elements stay invisible until published. */
static void test_add_then_publish(void)
{
	struct virt_queue *vq = up(F_ALL);

	virtq_add_used(vq, 3, 1);
	virtq_add_used(vq, 4, 2);
	CHECK_EQ(le16toh(used_ring()->idx), 0);
	virtq_publish_used(vq);
	CHECK_EQ(le16toh(used_ring()->idx), 2);
	CHECK_EQ(le32toh(used_ring()->ring[1].id), 4);
}

/* ---- malformed rings: each must break the device, once, safely ---- */

static void bad_loop(void)
{
	put_desc(0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
	put_desc(1, BUF_GPA, 8, VRING_DESC_F_NEXT, 0);
}

static void bad_self_loop(void)
{
	put_desc(0, BUF_GPA, 8, VRING_DESC_F_NEXT, 0);
}

static void bad_next_out_of_table(void)
{
	put_desc(0, BUF_GPA, 8, VRING_DESC_F_NEXT, QSIZE);
}

static void bad_zero_len(void)
{
	put_desc(0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
	put_desc(1, BUF_GPA, 0, VRING_DESC_F_WRITE, 0);
}

static void bad_below_ram(void)
{
	put_desc(0, RAM_GPA - 16, 16, 0, 0);
}

static void bad_past_ram(void)
{
	put_desc(0, RAM_END, 1, VRING_DESC_F_WRITE, 0);
}

static void bad_straddles_ram_end(void)
{
	put_desc(0, RAM_END - 8, 16, VRING_DESC_F_WRITE, 0);
}

static void bad_wrapping_addr(void)
{
	put_desc(0, 0xfffffffffffffff0ULL, 0x20, 0, 0);
}

static void bad_huge_len(void)
{
	put_desc(0, RAM_GPA, 0xffffffffu, VRING_DESC_F_WRITE, 0);
}

static void bad_read_after_write(void)
{
	put_desc(0, BUF_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	put_desc(1, BUF_GPA, 8, 0, 0);
}

static void bad_head_out_of_range(void)
{
	put_desc(0, BUF_GPA, 8, 0, 0);
	avail_ring()->ring[0] = htole16(QSIZE);
	avail_ring()->idx = htole16(1);
}

static void bad_avail_idx_jump(void)
{
	put_desc(0, BUF_GPA, 8, 0, 0);
	avail_ring()->idx = htole16(QSIZE + 1);
}

static void bad_avail_idx_backwards(void)
{
	put_desc(0, BUF_GPA, 8, 0, 0);
	avail_ring()->idx = htole16(0xffff);
}

static void bad_indirect_in_indirect(void)
{
	put_desc(0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	put_desc_in(TABLE_GPA, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
	put_desc_in(TABLE_GPA, 1, TABLE_GPA + 0x100, 16, VRING_DESC_F_INDIRECT, 0);
	put_desc_in(TABLE_GPA + 0x100, 0, BUF_GPA, 8, 0, 0);
}

static void bad_indirect_with_next(void)
{
	put_desc(0, TABLE_GPA, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	put_desc(1, BUF_GPA, 8, 0, 0);
	put_desc_in(TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
}

static void bad_indirect_len_not_multiple(void)
{
	put_desc(0, TABLE_GPA, 24, VRING_DESC_F_INDIRECT, 0);
	put_desc_in(TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
}

static void bad_indirect_len_zero(void)
{
	put_desc(0, TABLE_GPA, 0, VRING_DESC_F_INDIRECT, 0);
}

static void bad_indirect_too_big(void)
{
	for (unsigned int i = 0; i <= QSIZE; i++)
		put_desc_in(TABLE_GPA, i, BUF_GPA, 8, 0, 0);
	put_desc(0, TABLE_GPA, (QSIZE + 1) * 16, VRING_DESC_F_INDIRECT, 0);
}

static void bad_indirect_table_past_ram(void)
{
	put_desc(0, RAM_END - 16, 32, VRING_DESC_F_INDIRECT, 0);
}

static void bad_indirect_loop(void)
{
	put_desc(0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	put_desc_in(TABLE_GPA, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
	put_desc_in(TABLE_GPA, 1, BUF_GPA, 8, VRING_DESC_F_NEXT, 0);
}

static void bad_indirect_next_out_of_table(void)
{
	put_desc(0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	put_desc_in(TABLE_GPA, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 2);
	put_desc_in(TABLE_GPA, 2, BUF_GPA, 8, 0, 0);
}

static void bad_indirect_read_after_write(void)
{
	put_desc(0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	put_desc_in(TABLE_GPA, 0, BUF_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	put_desc_in(TABLE_GPA, 1, BUF_GPA, 8, 0, 0);
}

static void bad_indirect_buffer_past_ram(void)
{
	put_desc(0, TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	put_desc_in(TABLE_GPA, 0, RAM_END - 4, 8, VRING_DESC_F_WRITE, 0);
}

/* 10 direct buffers + an indirect table of 10: 20 buffers > queue size 16. */
static void bad_chain_longer_than_queue(void)
{
	for (unsigned int i = 0; i < 10; i++) {
		put_desc(i, BUF_GPA, 8, VRING_DESC_F_NEXT, i + 1);
		put_desc_in(TABLE_GPA, i, BUF_GPA, 8, i < 9 ? VRING_DESC_F_NEXT : 0, i + 1);
	}
	put_desc(10, TABLE_GPA, 10 * 16, VRING_DESC_F_INDIRECT, 0);
}

struct bad_case {
	const char *name;
	void (*build)(void);
	bool offer_head0;
	u64 features;
};

static const struct bad_case bad_cases[] = {
	{ "loop", bad_loop, true, F_ALL },
	{ "self loop", bad_self_loop, true, F_ALL },
	{ "next out of table", bad_next_out_of_table, true, F_ALL },
	{ "zero length", bad_zero_len, true, F_ALL },
	{ "below RAM", bad_below_ram, true, F_ALL },
	{ "past RAM", bad_past_ram, true, F_ALL },
	{ "straddles RAM end", bad_straddles_ram_end, true, F_ALL },
	{ "wrapping address", bad_wrapping_addr, true, F_ALL },
	{ "4 GiB length", bad_huge_len, true, F_ALL },
	{ "readable after writable", bad_read_after_write, true, F_ALL },
	{ "head out of range", bad_head_out_of_range, false, F_ALL },
	{ "avail idx jump", bad_avail_idx_jump, false, F_ALL },
	{ "avail idx backwards", bad_avail_idx_backwards, false, F_ALL },
	{ "indirect in indirect", bad_indirect_in_indirect, true, F_ALL },
	{ "indirect with NEXT", bad_indirect_with_next, true, F_ALL },
	{ "indirect len 24", bad_indirect_len_not_multiple, true, F_ALL },
	{ "indirect len 0", bad_indirect_len_zero, true, F_ALL },
	{ "indirect too big", bad_indirect_too_big, true, F_ALL },
	{ "indirect table past RAM", bad_indirect_table_past_ram, true, F_ALL },
	{ "indirect loop", bad_indirect_loop, true, F_ALL },
	{ "indirect next out of table", bad_indirect_next_out_of_table, true, F_ALL },
	{ "indirect readable after writable", bad_indirect_read_after_write, true, F_ALL },
	{ "indirect buffer past RAM", bad_indirect_buffer_past_ram, true, F_ALL },
	{ "chain longer than queue", bad_chain_longer_than_queue, true, F_ALL },
	{ "indirect not negotiated", bad_indirect_len_not_multiple, true, F_V1 | F_EVENT_IDX },
};

static void check_bad_case(const struct bad_case *c)
{
	struct virt_queue *vq = up(c->features);
	int before = unit_case_failed;

	c->build();
	if (c->offer_head0)
		offer(0);
	check_ring_refused(vq, elem);
	CHECK_EQ(le16toh(used_ring()->idx), 0);
	if (unit_case_failed != before)
		fprintf(stderr, "  ^ in malformed case \"%s\"\n", c->name);
}

static void test_malformed_rings_break_device(void)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(bad_cases); i++)
		check_bad_case(&bad_cases[i]);
}

/* A good chain queued behind a bad one is not processed until reset. */
static void test_broken_until_reset(void)
{
	struct virt_queue *vq = up(F_ALL);

	bad_loop();
	put_desc(5, BUF_GPA, 8, 0, 0);
	offer(0);
	offer(5);
	log_capture_begin();
	CHECK(!virtq_pop(vq, elem));
	CHECK(!virtq_pop(vq, elem));
	CHECK_EQ(log_capture_end("device stopped"), 1);
	/* Every queue of the device is stopped, not just the offending one. */
	CHECK(virtq_is_broken(virtio_get_queue(&vdev, 1)));

	virtio_set_status(&vdev, 0);
	CHECK_EQ(virtio_get_status(&vdev), 0);
	CHECK(!virtq_is_broken(vq));
	CHECK(!virtio_queue_is_ready(&vdev, 0));

	vq = up(F_ALL);
	put_desc(5, BUF_GPA, 8, 0, 0);
	offer(5);
	CHECK(virtq_pop(vq, elem));
	CHECK_EQ(elem->head, 5);
}

/* Legacy drivers have no NEEDS_RESET: the device breaks silently for them. */
static void test_legacy_break_sets_no_needs_reset(void)
{
	struct virt_queue *vq = up(F_INDIRECT | F_EVENT_IDX);

	bad_self_loop();
	offer(0);
	log_capture_begin();
	CHECK(!virtq_pop(vq, elem));
	CHECK_EQ(log_capture_end("device stopped"), 1);
	CHECK(virtq_is_broken(vq));
	CHECK(!(virtio_get_status(&vdev) & VIRTIO_CONFIG_S_NEEDS_RESET));
	CHECK_EQ(config_signals, 0);
}

/* ---- notifications ---- */

static void test_need_event_arithmetic(void)
{
	/* event, new, old -> signal? */
	static const struct { u16 e, n, o; bool want; } t[] = {
		{ 10, 11, 10, true },	/* crossed exactly */
		{ 10, 12, 11, false },	/* already crossed before old */
		{ 10, 10, 9, false },	/* not reached: idx must pass event */
		{ 10, 15, 9, true },	/* batch crossing */
		{ 100, 12, 11, false },	/* far ahead */
		{ 5, 5, 5, false },	/* nothing new */
		{ 65535, 0, 65534, true },	/* new wrapped */
		{ 65534, 1, 65530, true },
		{ 2, 1, 65530, false },	/* event beyond the wrapped batch */
		{ 0, 1, 0xffff, true },
		{ 0xffff, 0xffff, 0xfffe, false },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(t); i++)
		if (virtq_need_event(t[i].e, t[i].n, t[i].o) != t[i].want) {
			fprintf(stderr, "  need_event(%u, %u, %u) != %d\n", t[i].e, t[i].n,
				t[i].o, t[i].want);
			unit_case_failed = 1;
		}
}

static void push_one(struct virt_queue *vq)
{
	virtq_push(vq, 0, 0);
}

static void test_event_idx_used_event(void)
{
	struct virt_queue *vq = up(F_ALL);

	avail_ring()->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);	/* ignored */
	set_used_event(0);
	push_one(vq);			/* idx 1: first decision always signals */
	CHECK(virtq_should_signal(vq));
	CHECK(!virtq_should_signal(vq));	/* nothing new */
	push_one(vq);			/* idx 2, event 0 already passed */
	CHECK(!virtq_should_signal(vq));
	set_used_event(2);
	push_one(vq);			/* idx 3 passes 2 */
	CHECK(virtq_should_signal(vq));
	set_used_event(4);
	push_one(vq);
	push_one(vq);
	push_one(vq);			/* 3 -> 6 crosses 4 */
	CHECK(virtq_should_signal(vq));
	set_used_event(10);
	push_one(vq);
	CHECK(!virtq_should_signal(vq));
}

static void test_event_idx_wraparound(void)
{
	struct virt_queue *vq = up(F_ALL);

	vq->used_idx = 65533;
	CHECK(virtq_should_signal(vq));	/* establishes old = 65533 */
	set_used_event(65535);
	push_one(vq);			/* 65534 */
	CHECK(!virtq_should_signal(vq));
	push_one(vq);
	push_one(vq);			/* 65534 -> 0 passes 65535 */
	CHECK_EQ(vq->used_idx, 0);
	CHECK(virtq_should_signal(vq));
	set_used_event(0);
	push_one(vq);			/* 0 -> 1 passes 0 */
	CHECK(virtq_should_signal(vq));
}

static void test_no_interrupt_flag(void)
{
	struct virt_queue *vq = up(F_V1 | F_INDIRECT);

	set_used_event(0);	/* meaningless without EVENT_IDX */
	avail_ring()->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	virtq_push_and_signal(vq, 0, 0);
	CHECK_EQ(queue_signals, 0);
	avail_ring()->flags = 0;
	virtq_push_and_signal(vq, 0, 0);
	CHECK_EQ(queue_signals, 1);
	virtq_push_and_signal(vq, 0, 0);
	CHECK_EQ(queue_signals, 2);
	virtq_signal_if_needed(vq);	/* nothing new since: no interrupt */
	CHECK_EQ(queue_signals, 2);
}

static void test_no_notify_flag(void)
{
	struct virt_queue *vq = up(F_V1 | F_INDIRECT);

	virtq_disable_notify(vq);
	CHECK_EQ(le16toh(used_ring()->flags), VRING_USED_F_NO_NOTIFY);
	CHECK(!virtq_enable_notify_and_check(vq));
	CHECK_EQ(le16toh(used_ring()->flags), 0);
	virtq_disable_notify(vq);
	put_desc(0, BUF_GPA, 8, 0, 0);
	offer(0);
	/* A buffer arriving while kicks were off is found by the re-check. */
	CHECK(virtq_enable_notify_and_check(vq));
	CHECK(virtq_pop(vq, elem));
}

static void test_event_idx_avail_event(void)
{
	struct virt_queue *vq = up(F_ALL);

	for (unsigned int i = 0; i < 3; i++) {
		put_desc(i, BUF_GPA, 8, 0, 0);
		offer(i);
	}
	virtq_disable_notify(vq);
	CHECK_EQ(le16toh(used_ring()->flags), 0);	/* flags unused with EVENT_IDX */
	CHECK(virtq_pop(vq, elem));
	CHECK(virtq_pop(vq, elem));
	CHECK(virtq_enable_notify_and_check(vq));	/* one left */
	CHECK_EQ(avail_event(), 2);
	CHECK(virtq_pop(vq, elem));
	CHECK(!virtq_enable_notify_and_check(vq));
	CHECK_EQ(avail_event(), 3);
}

static void test_not_ready_queue_is_inert(void)
{
	struct virt_queue *vq;

	up(F_ALL);
	vq = virtio_get_queue(&vdev, 1);	/* never enabled */
	CHECK(!virtq_pop(vq, elem));
	CHECK(!virtq_should_signal(vq));
	CHECK(!virtq_enable_notify_and_check(vq));
	virtq_push(vq, 0, 0);
	CHECK(!virtq_is_broken(vq));
}

int main(void)
{
	RUN(test_direct_chain_out_in_split);
	RUN(test_only_readable_or_only_writable);
	RUN(test_indirect_chain);
	RUN(test_indirect_table_unaligned);
	RUN(test_indirect_table_as_big_as_queue);
	RUN(test_ring_wraps_over_many_chains);
	RUN(test_index_wraparound);
	RUN(test_add_then_publish);
	RUN(test_malformed_rings_break_device);
	RUN(test_broken_until_reset);
	RUN(test_legacy_break_sets_no_needs_reset);
	RUN(test_need_event_arithmetic);
	RUN(test_event_idx_used_event);
	RUN(test_event_idx_wraparound);
	RUN(test_no_interrupt_flag);
	RUN(test_no_notify_flag);
	RUN(test_event_idx_avail_event);
	RUN(test_not_ready_queue_is_inert);
	virtq_elem_free(elem);
	virtio_device_exit(&vdev);
	return unit_summary();
}

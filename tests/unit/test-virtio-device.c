/*
 * The transport-neutral virtio device model: feature words, the status
 * state machine, reset, queue configuration and its validation at enable,
 * the legacy PFN layout, ISR and config space.
 */
#include <sys/stat.h>
#include "virtio-fake.h"

#define ST_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define ST_DRV VIRTIO_CONFIG_S_DRIVER
#define ST_FOK VIRTIO_CONFIG_S_FEATURES_OK
#define ST_DOK VIRTIO_CONFIG_S_DRIVER_OK

static void test_device_features_words(void)
{
	device_new(true);
	CHECK_EQ(virtio_get_device_features(&vdev, 0),
		 (1u << DEVICE_FEATURE_BIT) | (1u << VIRTIO_RING_F_INDIRECT_DESC) |
			 (1u << VIRTIO_RING_F_EVENT_IDX));
	CHECK_EQ(virtio_get_device_features(&vdev, 1), (1u << (VIRTIO_F_VERSION_1 - 32)) |
		 (1u << (VIRTIO_F_RING_PACKED - 32)));
	CHECK_EQ(virtio_get_device_features(&vdev, 2), 0);
	CHECK_EQ(virtio_get_device_features(&vdev, 0xffffffff), 0);
}

static void test_init_rejects_bad_ops(void)
{
	struct virtio_device d;
	struct virtio_device_ops ops = fake_ops;

	ops.max_queue_size = 12;
	CHECK_EQ(virtio_device_init(&d, &ops, &mem, NULL, 0), -EINVAL);
	ops.max_queue_size = 65536 & 0xffff;
	CHECK_EQ(virtio_device_init(&d, &ops, &mem, NULL, 0), -EINVAL);
	ops = fake_ops;
	ops.nr_queues = 0;
	CHECK_EQ(virtio_device_init(&d, &ops, &mem, NULL, 0), -EINVAL);
}

static void test_modern_negotiation(void)
{
	u64 f = F_ALL | (1ULL << DEVICE_FEATURE_BIT);

	device_new(true);
	virtio_set_status(&vdev, ST_ACK);
	virtio_set_status(&vdev, ST_ACK | ST_DRV);
	set_features(f);
	CHECK_EQ(virtio_get_driver_features(&vdev, 0), (u32)f);
	CHECK_EQ(virtio_get_driver_features(&vdev, 1), (u32)(f >> 32));
	virtio_set_status(&vdev, ST_ACK | ST_DRV | ST_FOK);
	CHECK_EQ(virtio_get_status(&vdev), ST_ACK | ST_DRV | ST_FOK);
	/* Features are frozen once FEATURES_OK is accepted. */
	virtio_set_driver_features(&vdev, 0, 0);
	CHECK_EQ(virtio_get_driver_features(&vdev, 0), (u32)f);
	CHECK_EQ(activations, 0);
	virtio_set_status(&vdev, ST_ACK | ST_DRV | ST_FOK | ST_DOK);
	CHECK_EQ(virtio_get_status(&vdev), ST_ACK | ST_DRV | ST_FOK | ST_DOK);
	CHECK_EQ(activations, 1);
	CHECK(virtio_has_feature(&vdev, VIRTIO_F_VERSION_1));
	CHECK(virtio_has_feature(&vdev, DEVICE_FEATURE_BIT));
	CHECK(!virtio_has_feature(&vdev, 200));
}

/* Each bad feature set: FEATURES_OK must not stick, DRIVER_OK neither. */
static void refuse_case(u64 f, u32 word2, bool veto, u8 first_status)
{
	device_new(true);
	veto_features = veto;
	virtio_set_status(&vdev, first_status);
	set_features(f);
	if (word2)
		virtio_set_driver_features(&vdev, 2, word2);
	log_capture_begin();
	virtio_set_status(&vdev, first_status | ST_FOK);
	log_capture_end("virtio-fake");
	CHECK(!(virtio_get_status(&vdev) & ST_FOK));
	virtio_set_status(&vdev, first_status | ST_FOK | ST_DOK);
	CHECK(!(virtio_get_status(&vdev) & (ST_FOK | ST_DOK)));
	CHECK_EQ(activations, 0);
}

static void test_features_ok_refused(void)
{
	int before;

	before = unit_case_failed;
	refuse_case(F_ALL | (1ULL << 40), 0, false, ST_ACK | ST_DRV);	/* not offered */
	refuse_case(F_ALL | (1ULL << 0), 0, false, ST_ACK | ST_DRV);	/* not offered */
	refuse_case(F_ALL, 1, false, ST_ACK | ST_DRV);		/* word 2 */
	refuse_case(F_INDIRECT, 0, false, ST_ACK | ST_DRV);	/* no VERSION_1 */
	refuse_case(F_ALL, 0, true, ST_ACK | ST_DRV);		/* device veto */
	refuse_case(F_ALL, 0, false, ST_ACK);			/* before DRIVER */
	CHECK_EQ(unit_case_failed, before);
}

static void test_driver_ok_needs_features_ok_when_modern(void)
{
	device_new(true);
	virtio_set_status(&vdev, ST_ACK | ST_DRV);
	set_features(F_ALL);
	log_capture_begin();
	virtio_set_status(&vdev, ST_ACK | ST_DRV | ST_DOK);
	log_capture_end("virtio-fake");
	CHECK_EQ(virtio_get_status(&vdev), ST_ACK | ST_DRV);
	CHECK_EQ(activations, 0);
}

static void test_legacy_negotiation(void)
{
	device_new(false);
	virtio_set_status(&vdev, ST_ACK | ST_DRV);
	/* A legacy driver writes word 0 only, maybe with a bit we never offered. */
	virtio_set_driver_features(&vdev, 0, (u32)F_EVENT_IDX | (1u << 0));
	virtio_set_status(&vdev, ST_ACK | ST_DRV | ST_DOK);
	CHECK_EQ(virtio_get_status(&vdev), ST_ACK | ST_DRV | ST_DOK);
	CHECK_EQ(activations, 1);
	CHECK(virtio_has_feature(&vdev, VIRTIO_RING_F_EVENT_IDX));
	CHECK(!virtio_has_feature(&vdev, 0));
	CHECK(!virtio_has_feature(&vdev, VIRTIO_F_VERSION_1));
	virtio_set_driver_features(&vdev, 0, 0);	/* frozen while running */
	CHECK(virtio_has_feature(&vdev, VIRTIO_RING_F_EVENT_IDX));
}

static void test_status_bits_cannot_be_cleared(void)
{
	device_new(true);
	virtio_set_status(&vdev, ST_ACK | ST_DRV);
	virtio_set_status(&vdev, ST_ACK);
	CHECK_EQ(virtio_get_status(&vdev), ST_ACK | ST_DRV);
	virtio_set_status(&vdev, ST_ACK | ST_DRV | VIRTIO_CONFIG_S_FAILED);
	CHECK_EQ(virtio_get_status(&vdev), ST_ACK | ST_DRV | VIRTIO_CONFIG_S_FAILED);
	/* NEEDS_RESET is the device's to set. */
	virtio_set_status(&vdev, ST_ACK | ST_DRV | VIRTIO_CONFIG_S_FAILED |
			  VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK(!(virtio_get_status(&vdev) & VIRTIO_CONFIG_S_NEEDS_RESET));
}

static void test_activate_failure_breaks_device(void)
{
	device_new(true);
	activate_ret = -1;
	virtio_set_status(&vdev, ST_ACK | ST_DRV);
	set_features(F_ALL);
	virtio_set_status(&vdev, ST_ACK | ST_DRV | ST_FOK);
	log_capture_begin();
	virtio_set_status(&vdev, ST_ACK | ST_DRV | ST_FOK | ST_DOK);
	CHECK_EQ(log_capture_end("activation failed"), 1);
	CHECK(virtio_device_is_broken(&vdev));
	CHECK(virtio_get_status(&vdev) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/*
 * A guest that loops on refused feature sets, and on activate-failure /
 * reset cycles (each marking the device broken), 100,000 times each: the
 * log stays a few lines long (issue 9: 100,000 status writes used to
 * give 7.7 MB of stderr).
 */
static void test_guest_cannot_flood_the_log(void)
{
	struct stat st;

	device_new(true);
	log_capture_begin();
	for (int i = 0; i < 100000; i++) {
		virtio_set_status(&vdev, 0);
		virtio_set_status(&vdev, ST_ACK | ST_DRV);
		set_features(F_ALL | (1ULL << 40));
		virtio_set_status(&vdev, ST_ACK | ST_DRV | ST_FOK);
	}
	activate_ret = -1;
	for (int i = 0; i < 100000; i++) {
		virtio_set_status(&vdev, 0);
		virtio_set_status(&vdev, ST_ACK | ST_DRV);
		set_features(F_ALL);
		virtio_set_status(&vdev, ST_ACK | ST_DRV | ST_FOK);
		virtio_set_status(&vdev, ST_ACK | ST_DRV | ST_FOK | ST_DOK);
	}
	CHECK(virtio_device_is_broken(&vdev));
	fflush(stderr);
	CHECK(!fstat(fileno(capture), &st));
	CHECK(st.st_size > 0);
	CHECK(st.st_size < 4 * LOG_RATELIMIT_BURST * 100);
	CHECK_EQ(log_capture_end("activation failed"), LOG_RATELIMIT_BURST);
}

static void test_reset_restores_initial_state(void)
{
	struct virt_queue *vq = device_up(F_ALL);

	put_desc(0, BUF_GPA, 8, 0, 0);
	offer(0);
	{
		struct virtq_elem *e = virtq_elem_alloc(vq);

		CHECK(virtq_pop(vq, e));
		virtq_push_and_signal(vq, e->head, 0);
		virtq_elem_free(e);
	}
	virtio_queue_set_size(&vdev, 1, 4);
	CHECK(virtio_isr_peek(&vdev));
	virtio_set_status(&vdev, 0);
	CHECK_EQ(resets, 1);
	CHECK_EQ(transport_resets, 1);
	CHECK_EQ(virtio_get_status(&vdev), 0);
	CHECK_EQ(virtio_isr_peek(&vdev), 0);
	CHECK_EQ(virtio_get_driver_features(&vdev, 0), 0);
	CHECK_EQ(virtio_get_driver_features(&vdev, 1), 0);
	for (u32 q = 0; q < 2; q++) {
		vq = virtio_get_queue(&vdev, q);
		CHECK(!virtio_queue_is_ready(&vdev, q));
		CHECK_EQ(virtio_queue_get_size(&vdev, q), QSIZE);
		CHECK_EQ(virtio_queue_get_addr(&vdev, q, VIRTQ_AREA_DESC), 0);
		CHECK_EQ(virtio_queue_get_addr(&vdev, q, VIRTQ_AREA_DRIVER), 0);
		CHECK_EQ(virtio_queue_get_addr(&vdev, q, VIRTQ_AREA_DEVICE), 0);
		CHECK_EQ(vq->last_avail_idx, 0);
		CHECK_EQ(vq->used_idx, 0);
		CHECK(!vq->event_idx && !vq->desc);
	}
	/* virtio_device_reset() is the same thing for the transport. */
	device_up(F_ALL);
	virtio_device_reset(&vdev);
	CHECK_EQ(virtio_get_status(&vdev), 0);
	CHECK(!virtio_queue_is_ready(&vdev, 0));
}

static void test_queue_setters(void)
{
	device_new(true);
	CHECK_EQ(virtio_queue_get_max_size(&vdev, 0), QSIZE);
	CHECK_EQ(virtio_queue_get_max_size(&vdev, 2), 0);
	CHECK(virtio_get_queue(&vdev, 2) == NULL);
	CHECK_EQ(virtio_queue_set_size(&vdev, 2, 8), -EINVAL);
	CHECK_EQ(virtio_queue_set_addr(&vdev, 7, VIRTQ_AREA_DESC, 0), -EINVAL);
	CHECK_EQ(virtio_queue_enable(&vdev, 2), -EINVAL);
	CHECK_EQ(virtio_queue_get_size(&vdev, 99), 0);

	CHECK_EQ(virtio_queue_set_size(&vdev, 0, 8), 0);
	CHECK_EQ(virtio_queue_get_size(&vdev, 0), 8);
	CHECK_EQ(virtio_queue_set_addr32(&vdev, 0, VIRTQ_AREA_DESC, false, 0x89abc000), 0);
	CHECK_EQ(virtio_queue_set_addr32(&vdev, 0, VIRTQ_AREA_DESC, true, 0x1234567), 0);
	CHECK_EQ(virtio_queue_get_addr(&vdev, 0, VIRTQ_AREA_DESC), 0x0123456789abc000ULL);
	CHECK_EQ(virtio_queue_set_addr32(&vdev, 0, VIRTQ_AREA_DESC, false, (u32)DESC_GPA), 0);
	CHECK_EQ(virtio_queue_set_addr32(&vdev, 0, VIRTQ_AREA_DESC, true, 0), 0);
	virtio_queue_set_addr(&vdev, 0, VIRTQ_AREA_DRIVER, AVAIL_GPA);
	virtio_queue_set_addr(&vdev, 0, VIRTQ_AREA_DEVICE, USED_GPA);
	CHECK_EQ(virtio_queue_enable(&vdev, 0), 0);
	CHECK(virtio_queue_is_ready(&vdev, 0));
	CHECK_EQ(virtio_get_queue(&vdev, 0)->size, 8);
	/* Locked once enabled. */
	CHECK_EQ(virtio_queue_set_size(&vdev, 0, 4), -EINVAL);
	CHECK_EQ(virtio_queue_set_addr(&vdev, 0, VIRTQ_AREA_DESC, 0), -EINVAL);
	CHECK_EQ(virtio_queue_enable(&vdev, 0), -EINVAL);
	CHECK_EQ(virtio_queue_get_size(&vdev, 0), 8);
	CHECK(!virtio_device_is_broken(&vdev));
}

/* Set queue 0 up with the given layout and try to enable it. */
static int try_enable(u32 size, u64 desc, u64 avail, u64 used)
{
	int ret, logged;

	device_negotiate(F_ALL);
	queue_place(size, desc, avail, used);
	log_capture_begin();
	ret = virtio_queue_enable(&vdev, 0);
	logged = log_capture_end("device stopped");
	if (ret == 0) {
		CHECK(virtio_queue_is_ready(&vdev, 0));
		CHECK_EQ(logged, 0);
	} else {
		CHECK(!virtio_queue_is_ready(&vdev, 0));
		CHECK(virtio_device_is_broken(&vdev));
		CHECK(virtio_get_status(&vdev) & VIRTIO_CONFIG_S_NEEDS_RESET);
		CHECK_EQ(logged, 1);
	}
	return ret;
}

static void test_enable_validation(void)
{
	u64 avail_len = 6 + 2 * QSIZE, used_len = 6 + 8 * QSIZE;

	CHECK_EQ(try_enable(QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA), 0);
	/* Exactly at the end of RAM, event words included, is fine. */
	CHECK_EQ(try_enable(QSIZE, RAM_END - 16 * QSIZE, RAM_END - avail_len - 0x800,
			    RAM_END - used_len - 2), 0);
	CHECK_EQ(try_enable(12, DESC_GPA, AVAIL_GPA, USED_GPA), -EINVAL);
	CHECK_EQ(try_enable(0, DESC_GPA, AVAIL_GPA, USED_GPA), -EINVAL);
	CHECK_EQ(try_enable(2 * QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA), -EINVAL);
	CHECK_EQ(try_enable(65536, DESC_GPA, AVAIL_GPA, USED_GPA), -EINVAL);
	CHECK_EQ(try_enable(QSIZE, DESC_GPA + 8, AVAIL_GPA, USED_GPA), -EINVAL);
	CHECK_EQ(try_enable(QSIZE, DESC_GPA, AVAIL_GPA + 1, USED_GPA), -EINVAL);
	CHECK_EQ(try_enable(QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA + 2), -EINVAL);
	CHECK_EQ(try_enable(QSIZE, 0, AVAIL_GPA, USED_GPA), -EINVAL);
	CHECK_EQ(try_enable(QSIZE, RAM_END - 16 * QSIZE + 16, AVAIL_GPA, USED_GPA), -EINVAL);
	/* used_event (last 2 bytes of the driver area) outside RAM. */
	CHECK_EQ(try_enable(QSIZE, DESC_GPA, RAM_END - avail_len + 2, USED_GPA), -EINVAL);
	/* avail_event (last 2 bytes of the device area) outside RAM. */
	CHECK_EQ(try_enable(QSIZE, DESC_GPA, AVAIL_GPA, RAM_END - used_len + 2), -EINVAL);
	CHECK_EQ(try_enable(QSIZE, DESC_GPA, AVAIL_GPA, 0xfffffffffffffff0ULL), -EINVAL);
}

static void test_legacy_pfn_layout(void)
{
	u64 base = RAM_GPA + 0x4000;
	struct virt_queue *vq;
	struct virtq_elem *e;

	device_new(false);
	virtio_set_status(&vdev, ST_ACK | ST_DRV);
	virtio_set_driver_features(&vdev, 0, (u32)F_EVENT_IDX);
	CHECK_EQ(virtio_queue_set_legacy_pfn(&vdev, 0, base >> 12, VIRTIO_LEGACY_PAGE_SIZE,
					     VIRTIO_LEGACY_ALIGN), 0);
	CHECK_EQ(virtio_queue_get_legacy_pfn(&vdev, 0), base >> 12);
	CHECK(virtio_queue_is_ready(&vdev, 0));
	/* 16 entries: desc 256 bytes, avail 6+32 bytes, used at the next page. */
	CHECK_EQ(virtio_queue_get_addr(&vdev, 0, VIRTQ_AREA_DESC), base);
	CHECK_EQ(virtio_queue_get_addr(&vdev, 0, VIRTQ_AREA_DRIVER), base + 256);
	CHECK_EQ(virtio_queue_get_addr(&vdev, 0, VIRTQ_AREA_DEVICE), base + 4096);
	virtio_set_status(&vdev, ST_ACK | ST_DRV | ST_DOK);
	CHECK_EQ(activations, 1);

	/* The driver uses that layout: one chain through it. */
	vq = virtio_get_queue(&vdev, 0);
	CHECK(vq->event_idx);
	put_desc_in(base, 3, BUF_GPA, 64, VRING_DESC_F_WRITE, 0);
	{
		struct vring_avail *a = gpa(base + 256);

		a->ring[0] = htole16(3);
		a->idx = htole16(1);
	}
	e = virtq_elem_alloc(vq);
	CHECK(virtq_pop(vq, e));
	CHECK_EQ(e->head, 3);
	CHECK(e->iov[0].iov_base == gpa(BUF_GPA));
	virtq_push(vq, 3, 64);
	CHECK_EQ(le16toh(((struct vring_used *)gpa(base + 4096))->idx), 1);
	virtq_elem_free(e);

	/* PFN 0 while running is ignored; after reset it deletes the queue. */
	CHECK_EQ(virtio_queue_set_legacy_pfn(&vdev, 0, 0, 4096, 4096), -EINVAL);
	CHECK(virtio_queue_is_ready(&vdev, 0));
	virtio_set_status(&vdev, 0);
	CHECK_EQ(virtio_queue_set_legacy_pfn(&vdev, 0, 0, 4096, 4096), 0);
	CHECK_EQ(virtio_queue_get_legacy_pfn(&vdev, 0), 0);
}

/* MMIO v1 style: guest-chosen page size, queue size and alignment. */
static void test_legacy_pfn_mmio_style(void)
{
	device_new(false);
	virtio_queue_set_size(&vdev, 0, 8);
	CHECK_EQ(virtio_queue_set_legacy_pfn(&vdev, 0, (RAM_GPA + 0x6000) >> 13, 8192, 64), 0);
	/* desc 128 bytes, avail ends at +128+6+16 = +150, used aligned to 64. */
	CHECK_EQ(virtio_queue_get_addr(&vdev, 0, VIRTQ_AREA_DRIVER), RAM_GPA + 0x6000 + 128);
	CHECK_EQ(virtio_queue_get_addr(&vdev, 0, VIRTQ_AREA_DEVICE), RAM_GPA + 0x6000 + 192);
}

static void test_legacy_pfn_bad(void)
{
	device_new(false);
	log_capture_begin();
	CHECK_EQ(virtio_queue_set_legacy_pfn(&vdev, 0, 0xfffff, 4096, 4096), -EINVAL);
	CHECK_EQ(log_capture_end("device stopped"), 1);
	CHECK(!virtio_queue_is_ready(&vdev, 0));
	CHECK(virtio_device_is_broken(&vdev));
	/* Legacy: no NEEDS_RESET bit. */
	CHECK(!(virtio_get_status(&vdev) & VIRTIO_CONFIG_S_NEEDS_RESET));

	device_new(false);
	log_capture_begin();
	CHECK_EQ(virtio_queue_set_legacy_pfn(&vdev, 0, 0xffffffff, 0x80000000u, 4096),
		 -EINVAL);
	CHECK_EQ(virtio_queue_set_legacy_pfn(&vdev, 1, 0x100, 0, 4096), -EINVAL);
	CHECK_EQ(log_capture_end("device stopped"), 1);
	CHECK_EQ(virtio_queue_set_legacy_pfn(&vdev, 5, 0x100, 4096, 4096), -EINVAL);
}

static void test_notify_only_when_running(void)
{
	device_new(true);
	virtio_queue_notify(&vdev, 0);
	CHECK_EQ(notifies, 0);
	device_up(F_ALL);
	virtio_queue_notify(&vdev, 0);
	CHECK_EQ(notifies, 1);
	virtio_queue_notify(&vdev, 1);		/* not enabled */
	virtio_queue_notify(&vdev, 2);		/* no such queue */
	virtio_queue_notify(&vdev, 0xffffffff);
	CHECK_EQ(notifies, 1);
}

static void test_isr_semantics(void)
{
	struct virt_queue *vq = device_up(F_ALL);

	virtq_push_and_signal(vq, 0, 0);
	virtio_config_changed(&vdev);
	CHECK_EQ(virtio_isr_peek(&vdev), VIRTIO_ISR_QUEUE | VIRTIO_ISR_CONFIG);
	virtio_isr_ack(&vdev, VIRTIO_ISR_QUEUE);
	CHECK_EQ(virtio_isr_peek(&vdev), VIRTIO_ISR_CONFIG);
	CHECK_EQ(virtio_isr_read_clear(&vdev), VIRTIO_ISR_CONFIG);
	CHECK_EQ(virtio_isr_peek(&vdev), 0);
}

static void test_config_space(void)
{
	u8 buf[8];
	u32 gen;

	device_new(true);
	config_space[0] = 0x11;
	config_space[7] = 0x77;
	memset(buf, 0xee, sizeof(buf));
	virtio_config_read(&vdev, 0, buf, 1);
	CHECK_EQ(buf[0], 0x11);
	virtio_config_read(&vdev, 6, buf, 4);	/* straddles the end */
	CHECK_EQ(buf[1], 0x77);
	CHECK_EQ(buf[2], 0);
	CHECK_EQ(buf[3], 0);
	virtio_config_read(&vdev, 0xfffffffe, buf, 4);
	CHECK_EQ(buf[0], 0);

	buf[0] = 0xab;
	virtio_config_write(&vdev, 2, buf, 1);
	CHECK_EQ(config_space[2], 0xab);
	CHECK_EQ(config_write_off, 2);
	config_write_len = 0;
	virtio_config_write(&vdev, 6, buf, 4);	/* out of range: dropped */
	virtio_config_write(&vdev, 0xfffffffc, buf, 8);
	CHECK_EQ(config_write_len, 0);

	/* Generation moves on every change; interrupts only once running. */
	gen = virtio_config_generation(&vdev);
	virtio_config_changed(&vdev);
	CHECK_EQ(virtio_config_generation(&vdev), gen + 1);
	CHECK_EQ(config_signals, 0);
	CHECK_EQ(virtio_isr_peek(&vdev), 0);
	device_up(F_ALL);
	virtio_config_changed(&vdev);
	CHECK_EQ(config_signals, 1);
	CHECK_EQ(virtio_isr_peek(&vdev), VIRTIO_ISR_CONFIG);
}

int main(void)
{
	RUN(test_device_features_words);
	RUN(test_init_rejects_bad_ops);
	RUN(test_modern_negotiation);
	RUN(test_features_ok_refused);
	RUN(test_driver_ok_needs_features_ok_when_modern);
	RUN(test_legacy_negotiation);
	RUN(test_status_bits_cannot_be_cleared);
	RUN(test_activate_failure_breaks_device);
	RUN(test_guest_cannot_flood_the_log);
	RUN(test_reset_restores_initial_state);
	RUN(test_queue_setters);
	RUN(test_enable_validation);
	RUN(test_legacy_pfn_layout);
	RUN(test_legacy_pfn_mmio_style);
	RUN(test_legacy_pfn_bad);
	RUN(test_notify_only_when_running);
	RUN(test_isr_semantics);
	RUN(test_config_space);
	virtio_device_exit(&vdev);
	return unit_summary();
}

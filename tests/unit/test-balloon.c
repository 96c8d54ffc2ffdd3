/*
 * virtio-balloon over fake guest RAM (fenced by PROT_NONE pages) and a
 * counting transport: inflated pages are released (read back as zeros),
 * bad PFNs are ignored, deflate and stats buffers are handled, the target
 * reaches the config space with a config interrupt.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_ids.h>
#include "lkvm/kvm.h"
#include "lkvm/virtio.h"
#include "lkvm/virtio-balloon.h"
#include "unit.h"
#include "vdriver.h"

/* RAM_SIZE: 1 MiB, 256 balloon pages. */
#define BUF_GPA (RAM_GPA + 0x10000)
#define PAGES_GPA (RAM_GPA + 0x80000)	/* pages the tests balloon */
#define INFLATEQ 0
#define DEFLATEQ 1
#define STATSQ 2

#define F_TELL (1ULL << VIRTIO_BALLOON_F_MUST_TELL_HOST)
#define F_STATS (1ULL << VIRTIO_BALLOON_F_STATS_VQ)

/* ---- fake VM ---- */

static struct kvm kvm;
static struct virtio_device *dev;

static void vm_init(void)
{
	ram_map(&kvm.mem);
	kvm.ram_size = RAM_SIZE;
}

static void negotiate(u64 features)
{
	if (!vdriver_negotiate(dev, features, 3)) {
		fprintf(stderr, "features 0x%llx refused\n", (unsigned long long)features);
		exit(2);
	}
}

static void driver_ok(void)
{
	virtio_set_status(dev, virtio_get_status(dev) | ST_DOK);
}

static void balloon_up(u64 features)
{
	negotiate(features);
	driver_ok();
}

/* Write le32 PFNs at BUF_GPA + off; returns the byte count. */
static u32 put_pfns(u64 off, const u32 *pfns, unsigned int n)
{
	u8 *p = gpa(BUF_GPA + off);

	for (unsigned int i = 0; i < n; i++) {
		u32 v = htole32(pfns[i]);

		memcpy(p + 4 * i, &v, 4);
	}
	return 4 * n;
}

static u32 pfn_of(u64 addr)
{
	return (u32)(addr >> 12);
}

static void fill_page(u64 addr, u8 v)
{
	memset(gpa(addr), v, BALLOON_PAGE_SIZE);
}

static bool page_is(u64 addr, u8 v)
{
	const u8 *p = gpa(addr);

	for (unsigned int i = 0; i < BALLOON_PAGE_SIZE; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* ---- tests ---- */

static void test_identity(void)
{
	u32 f = virtio_get_device_features(dev, 0);
	struct virtio_balloon_config cfg;

	CHECK_EQ(dev->ops->device_id, VIRTIO_ID_BALLOON);
	CHECK_EQ(dev->nr_queues, 3);
	CHECK(f & (1u << VIRTIO_BALLOON_F_MUST_TELL_HOST));
	CHECK(f & (1u << VIRTIO_BALLOON_F_STATS_VQ));
	CHECK(!(f & (1u << VIRTIO_BALLOON_F_DEFLATE_ON_OOM)));
	CHECK(virtio_balloon_find(&kvm) == dev);
	CHECK(virtio_balloon_find(NULL) == NULL);
	virtio_config_read(dev, 0, &cfg, sizeof(cfg));
	CHECK_EQ(le32toh(cfg.num_pages), 0);
	CHECK_EQ(le32toh(cfg.actual), 0);
}

static void test_inflate_releases_pages(void)
{
	struct tq *q = &queues[INFLATEQ];
	u32 pfns[] = { pfn_of(PAGES_GPA), pfn_of(PAGES_GPA + 0x1000),
		       pfn_of(PAGES_GPA + 0x3000) };
	u32 len;
	u16 head;

	balloon_up(F_V1 | F_TELL);
	for (int i = 0; i < 4; i++)
		fill_page(PAGES_GPA + i * 0x1000, 0xa5);
	len = put_pfns(0, pfns, 3);
	head = tq_add(q, (struct buf[]){ { BUF_GPA, len, false } }, 1);
	virtio_queue_notify(dev, INFLATEQ);
	CHECK_EQ(used_idx(q), 1);
	CHECK_EQ(used_elem(q, 0).id, head);
	CHECK_EQ(used_elem(q, 0).len, 0);
	CHECK(queue_signals >= 1);
	/* Released pages come back as zeros; the one not given is intact. */
	CHECK(page_is(PAGES_GPA, 0));
	CHECK(page_is(PAGES_GPA + 0x1000, 0));
	CHECK(page_is(PAGES_GPA + 0x2000, 0xa5));
	CHECK(page_is(PAGES_GPA + 0x3000, 0));
}

static void test_inflate_ignores_pfns_outside_ram(void)
{
	struct tq *q = &queues[INFLATEQ];
	u32 pfns[] = { 0, pfn_of(RAM_GPA) - 1, pfn_of(RAM_GPA + RAM_SIZE),
		       0xffffffffu, pfn_of(PAGES_GPA + 0x2000) };
	u32 len;

	balloon_up(F_V1);
	fill_page(RAM_GPA + RAM_SIZE - 0x1000, 0x11);
	fill_page(PAGES_GPA + 0x2000, 0x22);
	len = put_pfns(0, pfns, 5);
	tq_add(q, (struct buf[]){ { BUF_GPA, len, false } }, 1);
	virtio_queue_notify(dev, INFLATEQ);
	/* No crash (the guard pages would fault), the valid one is released. */
	CHECK_EQ(used_idx(q), 1);
	CHECK(page_is(PAGES_GPA + 0x2000, 0));
	CHECK(page_is(RAM_GPA + RAM_SIZE - 0x1000, 0x11));
	CHECK(!virtio_device_is_broken(dev));
}

/* A PFN split across two descriptors, and a trailing partial one. */
static void test_inflate_split_buffers(void)
{
	struct tq *q = &queues[INFLATEQ];
	u32 pfns[] = { pfn_of(PAGES_GPA + 0x4000), pfn_of(PAGES_GPA + 0x6000) };

	balloon_up(F_V1);
	fill_page(PAGES_GPA + 0x4000, 0x33);
	fill_page(PAGES_GPA + 0x5000, 0x44);
	fill_page(PAGES_GPA + 0x6000, 0x55);
	put_pfns(0, pfns, 2);
	/* Bytes 0-5 in one buffer, 6-7 plus 3 stray bytes in another. */
	memcpy(gpa(BUF_GPA + 0x100), (u8 *)gpa(BUF_GPA) + 6, 2);
	memset(gpa(BUF_GPA + 0x102), 0x7f, 3);
	tq_add(q, (struct buf[]){ { BUF_GPA, 6, false }, { BUF_GPA + 0x100, 5, false } }, 2);
	virtio_queue_notify(dev, INFLATEQ);
	CHECK_EQ(used_idx(q), 1);
	CHECK(page_is(PAGES_GPA + 0x4000, 0));
	CHECK(page_is(PAGES_GPA + 0x5000, 0x44));
	CHECK(page_is(PAGES_GPA + 0x6000, 0));
}

static void test_deflate_returns_buffers(void)
{
	struct tq *q = &queues[DEFLATEQ];
	u32 pfns[] = { pfn_of(PAGES_GPA) };
	u32 len;

	balloon_up(F_V1 | F_TELL);
	fill_page(PAGES_GPA, 0x66);
	len = put_pfns(0, pfns, 1);
	tq_add(q, (struct buf[]){ { BUF_GPA, len, false } }, 1);
	tq_add(q, (struct buf[]){ { BUF_GPA, len, false } }, 1);
	virtio_queue_notify(dev, DEFLATEQ);
	CHECK_EQ(used_idx(q), 2);
	CHECK(page_is(PAGES_GPA, 0x66));
}

static void test_buffers_queued_before_driver_ok(void)
{
	u32 pfns[] = { pfn_of(PAGES_GPA) };
	u32 len;

	negotiate(F_V1);
	fill_page(PAGES_GPA, 0x77);
	len = put_pfns(0, pfns, 1);
	tq_add(&queues[INFLATEQ], (struct buf[]){ { BUF_GPA, len, false } }, 1);
	virtio_queue_notify(dev, INFLATEQ);	/* ignored: not DRIVER_OK */
	CHECK_EQ(used_idx(&queues[INFLATEQ]), 0);
	driver_ok();
	CHECK_EQ(used_idx(&queues[INFLATEQ]), 1);
	CHECK(page_is(PAGES_GPA, 0));
}

static void test_target_and_actual(void)
{
	struct virtio_balloon_config cfg;
	u64 target, actual;
	u32 gen, v;

	balloon_up(F_V1);
	gen = virtio_config_generation(dev);
	CHECK_EQ(virtio_balloon_set_target(dev, 100), 0);
	CHECK_EQ(config_signals, 1);
	CHECK(virtio_config_generation(dev) != gen);
	virtio_config_read(dev, 0, &cfg, sizeof(cfg));
	CHECK_EQ(le32toh(cfg.num_pages), 100);
	/* More than the guest has: refused, nothing changes. */
	CHECK_EQ(virtio_balloon_set_target(dev, RAM_SIZE / BALLOON_PAGE_SIZE + 1), -ERANGE);
	CHECK_EQ(config_signals, 1);
	/* The driver reports actual; it cannot change num_pages. */
	v = htole32(60);
	virtio_config_write(dev, offsetof(struct virtio_balloon_config, actual), &v, 4);
	v = htole32(5);
	virtio_config_write(dev, offsetof(struct virtio_balloon_config, num_pages), &v, 4);
	virtio_balloon_get(dev, &target, &actual);
	CHECK_EQ(target, 100);
	CHECK_EQ(actual, 60);
	/* A reset empties the guest's balloon but keeps the host's target. */
	virtio_set_status(dev, 0);
	virtio_balloon_get(dev, &target, &actual);
	CHECK_EQ(target, 100);
	CHECK_EQ(actual, 0);
	virtio_balloon_set_target(dev, 0);
}

/* ---- statistics ---- */

#define STATS_GPA (BUF_GPA + 0x800)

static void put_stats(const u16 *tags, const u64 *vals, unsigned int n)
{
	u8 *p = gpa(STATS_GPA);

	for (unsigned int i = 0; i < n; i++) {
		u16 t = htole16(tags[i]);
		u64 v = htole64(vals[i]);

		memcpy(p + 10 * i, &t, 2);
		memcpy(p + 10 * i + 2, &v, 8);
	}
}

/* Offer the stats buffer and kick only if the device asked (EVENT_IDX). */
static void offer_stats(unsigned int n)
{
	struct tq *q = &queues[STATSQ];
	u16 old = q->avail_idx;

	tq_add(q, (struct buf[]){ { STATS_GPA, 10 * n, false } }, 1);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (virtq_need_event(avail_event(q), q->avail_idx, old))
		virtio_queue_notify(dev, STATSQ);
}

/* The guest's side of a stats request: refill when the buffer comes back. */
static void *guest_refills(void *arg)
{
	struct tq *q = &queues[STATSQ];
	u16 want = *(u16 *)arg;

	for (int i = 0; i < 2000 && used_idx(q) != want; i++)
		usleep(1000);
	put_stats((u16[]){ 4, 5 }, (u64[]){ 3000, 8000 }, 2);
	offer_stats(2);
	return NULL;
}

static void test_stats(void)
{
	struct balloon_stats st;
	pthread_t t;
	u16 want = 1;

	/* Primed before DRIVER_OK, as Linux does: tags 4, 5 and an unknown one. */
	negotiate(F_V1 | F_STATS | F_EVENT_IDX);
	CHECK_EQ(virtio_balloon_stats(dev, 10, &st), -ENODATA);
	put_stats((u16[]){ 4, 5, 999 }, (u64[]){ 1000, 8000, 7 }, 3);
	offer_stats(3);
	driver_ok();
	CHECK_EQ(used_idx(&queues[STATSQ]), 0);	/* the device keeps it */
	pthread_create(&t, NULL, guest_refills, &want);
	CHECK_EQ(virtio_balloon_stats(dev, 2000, &st), 0);
	pthread_join(t, NULL);
	CHECK(st.fresh);
	CHECK_EQ(st.present, (1u << 4) | (1u << 5));
	CHECK_EQ(st.value[4], 3000);
	CHECK_EQ(st.value[5], 8000);
	CHECK_EQ(used_elem(&queues[STATSQ], 0).len, 0);
	CHECK(strcmp(balloon_stat_name(4), "free_memory") == 0);
	CHECK(balloon_stat_name(BALLOON_STATS_MAX) == NULL);
	/* A guest that does not answer: the last values, marked stale. */
	CHECK_EQ(virtio_balloon_stats(dev, 50, &st), 0);
	CHECK(!st.fresh);
	CHECK_EQ(st.value[4], 3000);
	CHECK_EQ(used_idx(&queues[STATSQ]), 2);
}

static void test_stats_ignored_without_feature(void)
{
	struct balloon_stats st;

	balloon_up(F_V1);
	put_stats((u16[]){ 4 }, (u64[]){ 1 }, 1);
	offer_stats(1);
	/* Not taken, not parsed: the last numbers are test_stats' ones. */
	CHECK_EQ(used_idx(&queues[STATSQ]), 0);
	CHECK_EQ(virtio_balloon_stats(dev, 10, &st), 0);
	CHECK(!st.fresh);
	CHECK_EQ(st.value[4], 3000);
}

int main(void)
{
	vm_init();
	if (virtio_balloon_init(&kvm, &dev)) {
		fprintf(stderr, "virtio_balloon_init failed\n");
		return 2;
	}
	RUN(test_identity);
	RUN(test_inflate_releases_pages);
	RUN(test_inflate_ignores_pfns_outside_ram);
	RUN(test_inflate_split_buffers);
	RUN(test_deflate_returns_buffers);
	RUN(test_buffers_queued_before_driver_ok);
	RUN(test_target_and_actual);
	RUN(test_stats);
	RUN(test_stats_ignored_without_feature);
	virtio_balloon_exit(dev);
	CHECK(virtio_balloon_find(&kvm) == NULL);
	return unit_summary();
}

/*
 * virtio-console and virtio-rng over fake guest RAM and a counting
 * transport: console output chains reach console_write(), terminal input
 * lands in the guest's receive buffers, the rng fills writable buffers.
 * The terminal (term.o) is stubbed below so it stays out of the link.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include "lkvm/kvm.h"
#include "lkvm/term.h"
#include "lkvm/virtio.h"
#include "lkvm/virtio-console.h"
#include "lkvm/virtio-rng.h"
#include "unit.h"
#include "vdriver.h"

#define BUF_GPA (RAM_GPA + 0x10000)

/* ---- terminal stubs ---- */

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static char out[4096];
static size_t out_len;
static struct console_input term_input;
static int input_ready_calls;

void console_write(const u8 *buf, size_t n)
{
	pthread_mutex_lock(&out_lock);
	n = MIN(n, sizeof(out) - 1 - out_len);
	memcpy(out + out_len, buf, n);
	out_len += n;
	out[out_len] = '\0';
	pthread_mutex_unlock(&out_lock);
}

void term_set_input(const struct console_input *in)
{
	term_input = *in;
}

/* The sandbox's SIGSYS handler restores the terminal: nothing to restore here. */
void term_restore(void)
{
}

void term_input_ready(void)
{
	__atomic_add_fetch(&input_ready_calls, 1, __ATOMIC_SEQ_CST);
}

static void out_clear(void)
{
	pthread_mutex_lock(&out_lock);
	out_len = 0;
	out[0] = '\0';
	pthread_mutex_unlock(&out_lock);
}

static bool out_is(const char *s)
{
	bool same;

	pthread_mutex_lock(&out_lock);
	same = !strcmp(out, s);
	pthread_mutex_unlock(&out_lock);
	return same;
}

/* ---- fake VM ---- */

static struct kvm kvm;

/* Fresh RAM and negotiation up to (not including) DRIVER_OK. */
static void negotiate(struct virtio_device *vdev, u64 features, unsigned int nr_queues)
{
	if (!vdriver_negotiate(vdev, features, nr_queues)) {
		fprintf(stderr, "features 0x%llx refused\n", (unsigned long long)features);
		exit(2);
	}
	out_clear();
	__atomic_store_n(&input_ready_calls, 0, __ATOMIC_SEQ_CST);
}

static void driver_ok(struct virtio_device *vdev)
{
	virtio_set_status(vdev, virtio_get_status(vdev) | ST_DOK);
}

/* ---- console ---- */

#define RXQ 0
#define TXQ 1

static struct virtio_device *con;

static size_t type(const char *s)
{
	return term_input.push(term_input.opaque, (const u8 *)s, strlen(s));
}

static void console_up(u64 features)
{
	negotiate(con, features, 2);
	driver_ok(con);
}

static void test_console_identity(void)
{
	struct virtio_console_config cfg;

	CHECK(term_input.push != NULL);
	CHECK_EQ(con->ops->device_id, VIRTIO_ID_CONSOLE);
	CHECK_EQ(con->nr_queues, 2);
	CHECK(virtio_get_device_features(con, 0) & (1u << VIRTIO_CONSOLE_F_EMERG_WRITE));
	CHECK(!(virtio_get_device_features(con, 0) & (1u << VIRTIO_CONSOLE_F_MULTIPORT)));
	virtio_config_read(con, 0, &cfg, sizeof(cfg));
	CHECK_EQ(le32toh(cfg.max_nr_ports), 1);
}

static void test_console_tx(void)
{
	struct tq *q = &queues[TXQ];
	u16 head;

	console_up(F_V1 | F_EVENT_IDX);
	memcpy(gpa(BUF_GPA), "hello, ", 7);
	memcpy(gpa(BUF_GPA + 0x100), "world\n", 6);
	head = tq_add(q, (struct buf[]){ { BUF_GPA, 7, false }, { BUF_GPA + 0x100, 6, false } }, 2);
	virtio_queue_notify(con, TXQ);
	CHECK(wait_used(q, 1));
	CHECK(out_is("hello, world\n"));
	CHECK_EQ(used_elem(q, 0).id, head);
	CHECK_EQ(used_elem(q, 0).len, 0);
	CHECK(signals() >= 1);
	/* Writable buffers of a tx chain are neither printed nor touched. */
	memcpy(gpa(BUF_GPA + 0x200), "more", 4);
	memset(gpa(BUF_GPA + 0x300), 0x5a, 8);
	tq_add(q, (struct buf[]){ { BUF_GPA + 0x200, 4, false }, { BUF_GPA + 0x300, 8, true } }, 2);
	virtio_queue_notify(con, TXQ);
	CHECK(wait_used(q, 2));
	CHECK(out_is("hello, world\nmore"));
	CHECK_EQ(((u8 *)gpa(BUF_GPA + 0x300))[7], 0x5a);
	/* Between kicks the device asks to be kicked at its next entry. */
	CHECK(wait_avail_event(q, 2));
}

static void test_console_tx_queued_before_driver_ok(void)
{
	struct tq *q = &queues[TXQ];

	negotiate(con, F_V1, 2);
	memcpy(gpa(BUF_GPA), "early", 5);
	tq_add(q, (struct buf[]){ { BUF_GPA, 5, false } }, 1);
	CHECK(out_is(""));
	driver_ok(con);
	CHECK(wait_used(q, 1));
	CHECK(out_is("early"));
}

static void test_console_tx_many_chains(void)
{
	struct tq *q = &queues[TXQ];
	char expect[64] = "";

	console_up(F_V1);
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 3; i++) {
			u64 b = BUF_GPA + 0x100 * (round * 3 + i);

			*(char *)gpa(b) = (char)('a' + round * 3 + i);
			tq_add(q, (struct buf[]){ { b, 1, false } }, 1);
			expect[round * 3 + i] = (char)('a' + round * 3 + i);
		}
		virtio_queue_notify(con, TXQ);
	}
	CHECK(wait_used(q, 12));
	CHECK(out_is(expect));
}

static void test_console_rx(void)
{
	struct tq *q = &queues[RXQ];
	u16 h1, h2;

	console_up(F_V1 | F_EVENT_IDX);
	/* No receive buffers: nothing taken, and a kick is requested. */
	CHECK_EQ(type("abc"), 0);
	CHECK_EQ(avail_event(q), 0);
	memset(gpa(BUF_GPA), 0, 0x300);
	h1 = tq_add(q, (struct buf[]){ { BUF_GPA, 2, true } }, 1);
	h2 = tq_add(q, (struct buf[]){ { BUF_GPA + 0x100, 3, true },
				       { BUF_GPA + 0x200, 5, true } }, 2);
	virtio_queue_notify(con, RXQ);
	CHECK_EQ(__atomic_load_n(&input_ready_calls, __ATOMIC_SEQ_CST), 1);
	CHECK_EQ(type("abcdefghijkl"), 10);
	CHECK_EQ(used_idx(q), 2);
	CHECK_EQ(used_elem(q, 0).id, h1);
	CHECK_EQ(used_elem(q, 0).len, 2);
	CHECK_EQ(used_elem(q, 1).id, h2);
	CHECK_EQ(used_elem(q, 1).len, 8);
	CHECK(!memcmp(gpa(BUF_GPA), "ab", 2));
	CHECK(!memcmp(gpa(BUF_GPA + 0x100), "cde", 3));
	CHECK(!memcmp(gpa(BUF_GPA + 0x200), "fghij", 5));
	CHECK(signals() >= 1);
	/* Out of buffers again: the kick threshold moved to the next entry. */
	CHECK_EQ(type("kl"), 0);
	CHECK_EQ(avail_event(q), 2);
}

static void test_console_rx_partial_buffer(void)
{
	struct tq *q = &queues[RXQ];

	console_up(F_V1);
	tq_add(q, (struct buf[]){ { BUF_GPA, 64, true } }, 1);
	CHECK_EQ(type("x"), 1);
	CHECK_EQ(used_elem(q, 0).len, 1);
	/* A receive chain without writable room goes back empty. */
	tq_add(q, (struct buf[]){ { BUF_GPA + 0x100, 8, false } }, 1);
	tq_add(q, (struct buf[]){ { BUF_GPA + 0x200, 8, true } }, 1);
	CHECK_EQ(type("yz"), 2);
	CHECK_EQ(used_idx(q), 3);
	CHECK_EQ(used_elem(q, 1).len, 0);
	CHECK_EQ(used_elem(q, 2).len, 2);
	CHECK(!memcmp(gpa(BUF_GPA + 0x200), "yz", 2));
}

static void test_console_rx_needs_driver_ok(void)
{
	struct tq *q = &queues[RXQ];

	negotiate(con, F_V1, 2);
	tq_add(q, (struct buf[]){ { BUF_GPA, 8, true } }, 1);
	CHECK_EQ(type("abc"), 0);
	CHECK_EQ(used_idx(q), 0);
	driver_ok(con);
	CHECK_EQ(type("abc"), 3);
	/* After a reset the device takes nothing again. */
	virtio_set_status(con, 0);
	CHECK_EQ(type("abc"), 0);
}

static void test_console_legacy_driver(void)
{
	struct tq *tx = &queues[TXQ];

	console_up(0);	/* no VERSION_1, no ring features */
	memcpy(gpa(BUF_GPA), "legacy", 6);
	tq_add(tx, (struct buf[]){ { BUF_GPA, 6, false } }, 1);
	virtio_queue_notify(con, TXQ);
	CHECK(wait_used(tx, 1));
	CHECK(out_is("legacy"));
}

static void test_console_reset_and_reuse(void)
{
	for (int i = 0; i < 3; i++) {
		struct tq *q = &queues[TXQ];

		console_up(F_V1);
		memcpy(gpa(BUF_GPA), "again", 5);
		tq_add(q, (struct buf[]){ { BUF_GPA, 5, false } }, 1);
		virtio_queue_notify(con, TXQ);
		CHECK(wait_used(q, 1));
		CHECK(out_is("again"));
	}
	virtio_set_status(con, 0);
	CHECK_EQ(virtio_get_status(con), 0);
}

static void test_console_broken_chain(void)
{
	struct tq *q = &queues[TXQ];

	console_up(F_V1);
	tq_add(q, (struct buf[]){ { RAM_GPA + RAM_SIZE - 4, 8, false } }, 1);
	virtio_queue_notify(con, TXQ);
	for (int i = 0; i < 2000 && !virtio_device_is_broken(con); i++)
		usleep(1000);
	CHECK(virtio_device_is_broken(con));
	CHECK(virtio_get_status(con) & VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK(out_is(""));
	CHECK_EQ(used_idx(q), 0);
	virtio_set_status(con, 0);
	CHECK(!virtio_device_is_broken(con));
}

static void test_console_emergency_write(void)
{
	u32 c = htole32('Z');

	virtio_set_status(con, 0);
	out_clear();
	/* Usable at any time, even before feature negotiation. */
	virtio_config_write(con, offsetof(struct virtio_console_config, emerg_wr), &c, 4);
	CHECK(out_is("Z"));
	virtio_config_write(con, 0, &c, 4);	/* cols/rows: read-only */
	CHECK(out_is("Z"));
}

static void test_console_exit(void)
{
	virtio_console_exit(con);
	con = NULL;
	CHECK(term_input.push == NULL);
}

/* ---- rng ---- */

static struct virtio_device *rng;

static bool all_bytes(const void *p, int c, size_t n)
{
	const u8 *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != c)
			return false;
	return true;
}

static void rng_up(u64 features)
{
	negotiate(rng, features, 1);
	driver_ok(rng);
}

static void test_rng_identity(void)
{
	CHECK_EQ(rng->ops->device_id, VIRTIO_ID_RNG);
	CHECK_EQ(rng->nr_queues, 1);
	CHECK_EQ(virtio_get_device_features(rng, 1), (1u << (VIRTIO_F_VERSION_1 - 32)) |
		 (1u << (VIRTIO_F_RING_PACKED - 32)));
}

static void test_rng_fills_writable_buffer(void)
{
	struct tq *q = &queues[0];
	u16 head;

	rng_up(F_V1 | F_EVENT_IDX);
	head = tq_add(q, (struct buf[]){ { BUF_GPA, 32, true } }, 1);
	tq_add(q, (struct buf[]){ { BUF_GPA + 0x100, 32, true } }, 1);
	virtio_queue_notify(rng, 0);
	CHECK_EQ(used_idx(q), 2);
	CHECK_EQ(used_elem(q, 0).id, head);
	CHECK_EQ(used_elem(q, 0).len, 32);
	CHECK_EQ(used_elem(q, 1).len, 32);
	/* 2^-256 chance of a false failure. */
	CHECK(!all_bytes(gpa(BUF_GPA), 0, 32));
	CHECK(memcmp(gpa(BUF_GPA), gpa(BUF_GPA + 0x100), 32));
	CHECK(signals() >= 1);
	CHECK_EQ(avail_event(q), 2);
}

static void test_rng_request_bounded(void)
{
	struct tq *q = &queues[0];
	u64 a = BUF_GPA, b = BUF_GPA + 0x10000;

	rng_up(F_V1);
	memset(gpa(a), 0, 0xa000);
	memset(gpa(b), 0x5a, 0xa000);
	/* 80 KiB asked for: the first 64 KiB are filled, the rest untouched. */
	tq_add(q, (struct buf[]){ { a, 0xa000, true }, { b, 0xa000, true } }, 2);
	virtio_queue_notify(rng, 0);
	CHECK_EQ(used_idx(q), 1);
	CHECK_EQ(used_elem(q, 0).len, VIRTIO_RNG_MAX_REQUEST);
	CHECK(!all_bytes(gpa(b + 0x5f00), 0x5a, 0x100));
	CHECK(all_bytes(gpa(b + 0x6000), 0x5a, 0x4000));
}

static void test_rng_readable_buffers_untouched(void)
{
	struct tq *q = &queues[0];

	rng_up(F_V1);
	memset(gpa(BUF_GPA), 0x5a, 0x200);
	tq_add(q, (struct buf[]){ { BUF_GPA, 16, false }, { BUF_GPA + 0x100, 16, true } }, 2);
	/* Nothing writable: goes back with length 0. */
	tq_add(q, (struct buf[]){ { BUF_GPA + 0x180, 16, false } }, 1);
	virtio_queue_notify(rng, 0);
	CHECK_EQ(used_idx(q), 2);
	CHECK_EQ(used_elem(q, 0).len, 16);
	CHECK_EQ(used_elem(q, 1).len, 0);
	CHECK(all_bytes(gpa(BUF_GPA), 0x5a, 16));
	CHECK(all_bytes(gpa(BUF_GPA + 0x180), 0x5a, 16));
	CHECK(!all_bytes(gpa(BUF_GPA + 0x100), 0x5a, 16));
}

static void test_rng_requests_before_driver_ok(void)
{
	struct tq *q = &queues[0];

	negotiate(rng, F_V1, 1);
	tq_add(q, (struct buf[]){ { BUF_GPA, 16, true } }, 1);
	CHECK_EQ(used_idx(q), 0);
	driver_ok(rng);
	CHECK_EQ(used_idx(q), 1);
	CHECK_EQ(used_elem(q, 0).len, 16);
}

static void test_rng_legacy_and_reset(void)
{
	struct tq *q = &queues[0];

	rng_up(0);
	tq_add(q, (struct buf[]){ { BUF_GPA, 8, true } }, 1);
	virtio_queue_notify(rng, 0);
	CHECK_EQ(used_idx(q), 1);
	CHECK_EQ(used_elem(q, 0).len, 8);
	/* A kick after reset reaches nothing. */
	virtio_set_status(rng, 0);
	tq_add(q, (struct buf[]){ { BUF_GPA, 8, true } }, 1);
	virtio_queue_notify(rng, 0);
	CHECK_EQ(used_idx(q), 1);
}

static void test_rng_bad_chain_breaks_device(void)
{
	struct tq *q = &queues[0];

	rng_up(F_V1);
	tq_add(q, (struct buf[]){ { RAM_GPA + RAM_SIZE, 16, true } }, 1);
	virtio_queue_notify(rng, 0);
	CHECK(virtio_device_is_broken(rng));
	CHECK_EQ(used_idx(q), 0);
	virtio_set_status(rng, 0);
}

int main(void)
{
	ram_map(&kvm.mem);
	if (virtio_console_init(&kvm, &con) || virtio_rng_init(&kvm, &rng)) {
		fprintf(stderr, "device init failed\n");
		return 2;
	}
	RUN(test_console_identity);
	RUN(test_console_tx);
	RUN(test_console_tx_queued_before_driver_ok);
	RUN(test_console_tx_many_chains);
	RUN(test_console_rx);
	RUN(test_console_rx_partial_buffer);
	RUN(test_console_rx_needs_driver_ok);
	RUN(test_console_legacy_driver);
	RUN(test_console_reset_and_reuse);
	RUN(test_console_broken_chain);
	RUN(test_console_emergency_write);
	RUN(test_console_exit);
	RUN(test_rng_identity);
	RUN(test_rng_fills_writable_buffer);
	RUN(test_rng_request_bounded);
	RUN(test_rng_readable_buffers_untouched);
	RUN(test_rng_requests_before_driver_ok);
	RUN(test_rng_legacy_and_reset);
	RUN(test_rng_bad_chain_breaks_device);
	virtio_rng_exit(rng);
	return unit_summary();
}

/*
 * Notification-ordering stress test for the virtqueue core.
 *
 * Two threads share one split ring in fake guest memory.  The "guest"
 * thread behaves like Linux's virtblk_done(): it consumes used entries,
 * resubmits each request, then writes used_event = last seen index, issues
 * a full barrier, re-reads used->idx and sleeps only if nothing new came.
 * The "device" thread completes requests with lkvm's own virtq_pop(),
 * virtq_push() and virtq_signal_if_needed() and raises the "interrupt"
 * (a futex) only when the product says so.
 *
 * A lost wake-up is the guest asleep while completed work is pending and
 * the device idle with every kick consumed: nothing will ever wake the
 * guest.  That is detected after --timeout-ms, counted, and the guest
 * recovers so the run goes on.
 *
 *   virtq-order [--completions N] [--max-seconds S]
 *   virtq-order --expect-lost [--max-seconds S]
 * Tuning: --inflight N (requests kept queued, default 4), --work N (device
 * busy-work per request, up to N pauses, default 16), --timeout-ms MS
 * (interrupt wait before the lost-wake-up check, default 1000), --spin N /
 * --yields N (how the threads wait before a futex sleep).
 *
 * The second form is for the build with -DVIRTQ_TEST_WEAK_SIGNAL_BARRIER,
 * where the barrier in virtq_should_signal() is only a compiler barrier:
 * it runs until the first lost wake-up and passes if one was seen.
 *
 * --packed negotiates VIRTIO_F_RING_PACKED: the guest is then Linux's
 * packed driver (tests/unit/lib/pdriver.c): it disables interrupts while it
 * consumes used descriptors, re-enables them with a DESC event at its next
 * used slot (one store of off_wrap and flags), issues a full barrier and
 * looks at that slot's flags again before sleeping; the device's side is
 * the same lkvm calls, which then take the packed path.
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "lkvm/log.h"
#include "lkvm/virtio.h"
#include "pdriver.h"

#define RAM_GPA 0x100000ULL
#define RAM_SIZE 0x100000ULL
#define QSIZE 256
#define DESC_GPA (RAM_GPA)
#define AVAIL_GPA (RAM_GPA + 0x4000)
#define USED_GPA (RAM_GPA + 0x8000)
#define BUF_GPA (RAM_GPA + 0x10000)
#define BUF_LEN 16

/* Logs: tests/unit/lib/log-stub.c (only a broken ring would print). */

struct options {
	u64 completions;
	unsigned int inflight;
	unsigned int work;
	unsigned int timeout_ms;
	double max_seconds;
	bool expect_lost;
	bool packed;
};

/* A futex-backed event counter: "interrupt" and "kick" lines. */
struct event_line {
	u32 count;
	u32 waiting;
	u64 futex_waits;	/* waits that outlasted the spin: stats only */
};

static u8 *ram;
static struct guest_mem mem;
static struct virtio_device vdev;
static struct virt_queue *vq;
static struct event_line irq, kick;
static bool stop;		/* atomic */
static bool device_idle;	/* atomic: waiting for a kick, all work signalled */
static u32 kicks_consumed;	/* atomic: kick.count the device last saw */
static bool guest_asleep;	/* atomic: waiting for an interrupt, kick decided */
static u64 lost_kicks;		/* device thread only until join */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	barrier();
#endif
}

static void line_raise(struct event_line *l)
{
	__atomic_add_fetch(&l->count, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&l->waiting, __ATOMIC_SEQ_CST))
		syscall(SYS_futex, &l->count, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/*
 * Wait until l->count differs from seen: spin a while (cheap, both threads
 * usually run), then sleep on the futex.  False on timeout.
 */
/* Spin briefly, then yield (cheap when the machine is busy), then sleep. */
static unsigned int spin_loops = 50, yield_loops = 100;

static bool line_wait(struct event_line *l, u32 seen, unsigned int timeout_ms)
{
	double deadline;

	for (unsigned int i = 0; i < spin_loops + yield_loops; i++) {
		if (__atomic_load_n(&l->count, __ATOMIC_ACQUIRE) != seen)
			return true;
		if (i < spin_loops)
			cpu_relax();
		else
			sched_yield();	/* let the other side run if it shares our CPU */
	}
	l->futex_waits++;
	deadline = now() + timeout_ms / 1000.0;
	__atomic_store_n(&l->waiting, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&l->count, __ATOMIC_SEQ_CST) == seen) {
		double left = deadline - now();
		struct timespec ts;

		if (left <= 0) {
			__atomic_store_n(&l->waiting, 0, __ATOMIC_SEQ_CST);
			return false;
		}
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - ts.tv_sec) * 1e9);
		syscall(SYS_futex, &l->count, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
	}
	__atomic_store_n(&l->waiting, 0, __ATOMIC_SEQ_CST);
	return true;
}

/* ---- the transport: an interrupt is a raise of the irq line ---- */

static void order_signal_queue(struct virtio_device *d, struct virt_queue *q)
{
	line_raise(&irq);
}

static const struct virtio_transport_ops order_transport = {
	.name = "order-test",
	.signal_queue = order_signal_queue,
};

static const struct virtio_device_ops order_ops = {
	.name = "order",
	.device_id = 2,
	.nr_queues = 1,
	.max_queue_size = QSIZE,
};

static void *gpa(u64 addr)
{
	return ram + (addr - RAM_GPA);
}

/* Bring the device up the way a modern driver would. */
static void setup_device(bool packed)
{
	u8 st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	u64 f = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) |
		(packed ? 1ULL << VIRTIO_F_RING_PACKED : 0);

	ram = aligned_alloc(4096, RAM_SIZE);
	if (!ram) {
		perror("aligned_alloc");
		exit(2);
	}
	memset(ram, 0, RAM_SIZE);
	mem.regions[0] = (struct guest_mem_region){ RAM_GPA, RAM_SIZE, ram };
	mem.nr_regions = 1;
	if (virtio_device_init(&vdev, &order_ops, &mem, NULL, 0)) {
		fprintf(stderr, "virtio_device_init failed\n");
		exit(2);
	}
	virtio_device_set_transport(&vdev, &order_transport, NULL, true);
	virtio_set_status(&vdev, st);
	virtio_set_driver_features(&vdev, 0, (u32)f);
	virtio_set_driver_features(&vdev, 1, (u32)(f >> 32));
	virtio_set_status(&vdev, st |= VIRTIO_CONFIG_S_FEATURES_OK);
	virtio_queue_set_size(&vdev, 0, QSIZE);
	virtio_queue_set_addr(&vdev, 0, VIRTQ_AREA_DESC, DESC_GPA);
	virtio_queue_set_addr(&vdev, 0, VIRTQ_AREA_DRIVER, AVAIL_GPA);
	virtio_queue_set_addr(&vdev, 0, VIRTQ_AREA_DEVICE, USED_GPA);
	if (virtio_queue_enable(&vdev, 0)) {
		fprintf(stderr, "queue enable failed\n");
		exit(2);
	}
	virtio_set_status(&vdev, st | VIRTIO_CONFIG_S_DRIVER_OK);
	if (!(virtio_get_status(&vdev) & VIRTIO_CONFIG_S_DRIVER_OK)) {
		fprintf(stderr, "device did not reach DRIVER_OK\n");
		exit(2);
	}
	vq = virtio_get_queue(&vdev, 0);
	if (vq->packed != packed) {
		fprintf(stderr, "queue is not %s\n", packed ? "packed" : "split");
		exit(2);
	}
}

/* ---- device thread: lkvm's data path ---- */

static u32 xorshift(u32 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Pretend to serve the request, for a random short while. */
static void device_work(u32 *rng, unsigned int work)
{
	unsigned int n = work ? xorshift(rng) % (work + 1) : 0;

	for (unsigned int i = 0; i < n; i++)
		cpu_relax();
}

static void *device_thread(void *opaque)
{
	const struct options *o = opaque;
	struct virtq_elem *elem = virtq_elem_alloc(vq);
	u32 rng = 0x9e3779b9;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		u32 seen = __atomic_load_n(&kick.count, __ATOMIC_SEQ_CST);

		__atomic_store_n(&kicks_consumed, seen, __ATOMIC_SEQ_CST);
		virtq_disable_notify(vq);
		while (virtq_pop(vq, elem)) {
			device_work(&rng, o->work);
			virtq_push(vq, elem->head, BUF_LEN);
			virtq_signal_if_needed(vq);
		}
		if (virtq_enable_notify_and_check(vq))
			continue;
		__atomic_store_n(&device_idle, true, __ATOMIC_SEQ_CST);
		/* Lost kick: we sleep with buffers queued by a guest that sleeps too. */
		if (!line_wait(&kick, seen, o->timeout_ms) &&
		    __atomic_load_n(&guest_asleep, __ATOMIC_SEQ_CST) &&
		    virtq_has_avail(vq) && !__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
			lost_kicks++;
			fprintf(stderr, "virtq-order: lost kick #%llu\n",
				(unsigned long long)lost_kicks);
		}
		__atomic_store_n(&device_idle, false, __ATOMIC_SEQ_CST);
	}
	virtq_elem_free(elem);
	return NULL;
}

/* ---- guest thread: the driver, as virtio_ring.c + virtblk_done do it ---- */

struct guest {
	struct vring_avail *avail;
	struct vring_used *used;
	u16 *used_event;	/* we write: interrupt me past this */
	u16 *avail_event;	/* device writes: kick me past this */
	u16 avail_idx;		/* next avail slot we fill */
	u16 kicked_at;		/* avail_idx at the last kick decision */
	u16 last_used;
	u64 completions, irqs_taken, sleeps, lost;
	/* --packed: the ring is pd's; kicked_at/kicked_wrap the last kick decision. */
	bool packed;
	struct pdrv pd;
	bool kicked_wrap;
};

static u16 load16(const u16 *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static void store16(u16 *p, u16 v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

static void guest_init_packed(struct guest *g, unsigned int inflight)
{
	pdrv_init(&g->pd, gpa(DESC_GPA), gpa(AVAIL_GPA), gpa(USED_GPA), QSIZE);
	g->kicked_wrap = true;
	for (unsigned int i = 0; i < inflight; i++) {
		struct pbuf b = { BUF_GPA + i * BUF_LEN, BUF_LEN, true };

		pdrv_add(&g->pd, &b, 1, i);
	}
}

static void guest_init(struct guest *g, unsigned int inflight, bool packed)
{
	memset(g, 0, sizeof(*g));
	g->packed = packed;
	if (packed) {
		guest_init_packed(g, inflight);
		return;
	}
	g->avail = gpa(AVAIL_GPA);
	g->used = gpa(USED_GPA);
	g->used_event = &g->avail->ring[QSIZE];
	g->avail_event = (u16 *)((u8 *)g->used + 4 + 8 * QSIZE);
	for (unsigned int i = 0; i < QSIZE; i++) {
		struct vring_desc *d = (struct vring_desc *)gpa(DESC_GPA) + i;

		d->addr = htole64(BUF_GPA + i * BUF_LEN);
		d->len = htole32(BUF_LEN);
		d->flags = htole16(VRING_DESC_F_WRITE);
		d->next = 0;
	}
	for (unsigned int i = 0; i < inflight; i++)
		store16(&g->avail->ring[g->avail_idx++ % QSIZE], i);
}

/* Packed: descriptors are live once written; kick if the device asked. */
static void guest_kick_packed(struct guest *g)
{
	if (g->pd.next_avail == g->kicked_at && g->pd.avail_wrap == g->kicked_wrap)
		return;
	mb();			/* descriptor flags store before the device event load */
	if (pdrv_needs_kick(&g->pd, g->kicked_at, g->kicked_wrap))
		line_raise(&kick);
	g->kicked_at = g->pd.next_avail;
	g->kicked_wrap = g->pd.avail_wrap;
}

/* Publish new avail entries and kick if the device asked for it. */
static void guest_publish_and_kick(struct guest *g)
{
	u16 old = g->kicked_at;

	if (g->packed) {
		guest_kick_packed(g);
		return;
	}

	if (g->avail_idx == old)
		return;
	wmb();			/* ring entries before the index */
	store16(&g->avail->idx, g->avail_idx);
	mb();			/* avail->idx store before avail_event load */
	g->kicked_at = g->avail_idx;
	if (virtq_need_event(load16(g->avail_event), g->avail_idx, old))
		line_raise(&kick);
}

/* Packed: take used descriptors, interrupts off meanwhile, resubmit each. */
static void guest_consume_packed(struct guest *g)
{
	u16 id;
	u32 len;

	pdrv_set_event(&g->pd, VRING_PACKED_EVENT_FLAG_DISABLE, 0);
	while (pdrv_get_used(&g->pd, &id, &len)) {
		struct pbuf b = { BUF_GPA + id * BUF_LEN, BUF_LEN, true };

		g->completions++;
		pdrv_add(&g->pd, &b, 1, id);
	}
	guest_publish_and_kick(g);
}

/* Is there a used descriptor at our next used slot? */
static bool guest_used_pending(struct guest *g)
{
	const struct vring_packed_desc *d;
	bool avail, used;
	u16 f;

	if (!g->packed)
		return load16(&g->used->idx) != g->last_used;
	d = &g->pd.ring[g->pd.next_used];
	f = le16toh(__atomic_load_n(&d->flags, __ATOMIC_RELAXED));
	avail = f & (1u << VRING_PACKED_DESC_F_AVAIL);
	used = f & (1u << VRING_PACKED_DESC_F_USED);
	return avail == used && used == g->pd.used_wrap;
}

/* Take every used entry and resubmit its request. */
static void guest_consume(struct guest *g)
{
	u16 used_idx;

	if (g->packed) {
		guest_consume_packed(g);
		return;
	}
	used_idx = load16(&g->used->idx);

	rmb();			/* entries after the index that covers them */
	while (g->last_used != used_idx) {
		struct vring_used_elem *e = &g->used->ring[g->last_used % QSIZE];
		u16 head = le32toh(__atomic_load_n(&e->id, __ATOMIC_RELAXED));

		g->last_used++;
		g->completions++;
		store16(&g->avail->ring[g->avail_idx++ % QSIZE], head);
	}
	guest_publish_and_kick(g);
}

/* virtqueue_enable_cb(): true if work arrived and we must not sleep. */
static bool guest_enable_cb_and_poll(struct guest *g)
{
	if (g->packed)
		pdrv_set_event(&g->pd, VRING_PACKED_EVENT_FLAG_DESC, pdrv_next_used_event(&g->pd));
	else
		store16(g->used_event, g->last_used);
	mb();
	return guest_used_pending(g);
}

/*
 * Sleep for the interrupt.  On timeout, decide whether it was lost: the
 * device idle with every kick consumed will not signal again, so pending
 * used entries then mean the interrupt for them was never sent.
 */
static void guest_wait_irq(struct guest *g, u32 seen, const struct options *o, double t0)
{
	double slept_at = now();

	g->sleeps++;
	__atomic_store_n(&guest_asleep, true, __ATOMIC_SEQ_CST);
	if (line_wait(&irq, seen, o->timeout_ms)) {
		__atomic_store_n(&guest_asleep, false, __ATOMIC_SEQ_CST);
		g->irqs_taken++;
		return;
	}
	__atomic_store_n(&guest_asleep, false, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&device_idle, __ATOMIC_SEQ_CST) &&
	    __atomic_load_n(&kicks_consumed, __ATOMIC_SEQ_CST) ==
		    __atomic_load_n(&kick.count, __ATOMIC_SEQ_CST) &&
	    __atomic_load_n(&irq.count, __ATOMIC_SEQ_CST) == seen && guest_used_pending(g)) {
		g->lost++;
		if (g->packed)
			fprintf(stderr, "virtq-order: lost wake-up #%llu after %.3f s, %llu "
				"completions (packed): next used slot %u wrap %u, device at %u\n",
				(unsigned long long)g->lost, slept_at - t0,
				(unsigned long long)g->completions, g->pd.next_used,
				g->pd.used_wrap, vq->used_slot);
		else
			fprintf(stderr, "virtq-order: lost wake-up #%llu after %.3f s, %llu "
				"completions: used idx %u, guest saw %u, used_event %u\n",
				(unsigned long long)g->lost, slept_at - t0,
				(unsigned long long)g->completions, load16(&g->used->idx),
				g->last_used, load16(g->used_event));
	}
}

static bool guest_done(const struct guest *g, const struct options *o, double t0)
{
	if (now() - t0 > o->max_seconds)
		return true;
	if (o->expect_lost)
		return g->lost > 0;
	return g->completions >= o->completions;
}

static void guest_run(struct guest *g, const struct options *o)
{
	double t0 = now();
	unsigned int n = 0;

	guest_publish_and_kick(g);
	for (;;) {
		u32 seen = __atomic_load_n(&irq.count, __ATOMIC_ACQUIRE);

		guest_consume(g);
		if (!guest_enable_cb_and_poll(g)) {
			guest_wait_irq(g, seen, o, t0);
			if (g->lost && o->expect_lost)
				return;
		}
		if (++n % 64 == 0 && guest_done(g, o, t0))
			return;
	}
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr, "usage: virtq-order [--completions N] [--inflight N] [--work N]\n"
			"                   [--timeout-ms MS] [--spin N] [--yields N]\n"
			"                   [--expect-lost] [--max-seconds S] [--packed]\n");
	exit(2);
}

static void parse(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "completions", required_argument, NULL, 'c' },
		{ "inflight", required_argument, NULL, 'i' },
		{ "work", required_argument, NULL, 'w' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "max-seconds", required_argument, NULL, 's' },
		{ "expect-lost", no_argument, NULL, 'e' },
		{ "spin", required_argument, NULL, 'p' },
		{ "yields", required_argument, NULL, 'y' },
		{ "packed", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct options){ .completions = 10000000, .inflight = 4, .work = 16,
			       .timeout_ms = 1000, .max_seconds = 0 };
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o->completions = strtoull(optarg, NULL, 0); break;
		case 'i': o->inflight = strtoul(optarg, NULL, 0); break;
		case 'w': o->work = strtoul(optarg, NULL, 0); break;
		case 't': o->timeout_ms = strtoul(optarg, NULL, 0); break;
		case 's': o->max_seconds = strtod(optarg, NULL); break;
		case 'e': o->expect_lost = true; break;
		case 'p': spin_loops = strtoul(optarg, NULL, 0); break;
		case 'y': yield_loops = strtoul(optarg, NULL, 0); break;
		case 'k': o->packed = true; break;
		default: usage();
		}
	}
	if (optind != argc || !o->inflight || o->inflight > QSIZE || !o->timeout_ms)
		usage();
	if (o->max_seconds <= 0)
		o->max_seconds = o->expect_lost ? 60 : 300;
}

int main(int argc, char **argv)
{
	struct options o;
	struct guest g;
	pthread_t dev;
	double t0, secs;
	bool pass;

	parse(argc, argv, &o);
	setup_device(o.packed);
	guest_init(&g, o.inflight, o.packed);
	printf("virtq-order: %s ring, %s signal barrier, %s, inflight %u, work %u\n",
	       o.packed ? "packed" : "split",
#ifdef VIRTQ_TEST_WEAK_SIGNAL_BARRIER
	       "WEAK (compiler-only)",
#else
	       "product (full)",
#endif
	       o.expect_lost ? "running until the first lost wake-up" : "counting lost wake-ups",
	       o.inflight, o.work);
	fflush(stdout);

	t0 = now();
	pthread_create(&dev, NULL, device_thread, &o);
	guest_run(&g, &o);
	secs = now() - t0;
	__atomic_store_n(&stop, true, __ATOMIC_RELEASE);
	line_raise(&kick);
	pthread_join(dev, NULL);

	printf("virtq-order: %.2f s, %llu completions (%.0f/s), %llu guest sleeps, "
	       "%llu interrupts, %llu lost wake-ups, %llu lost kicks%s\n",
	       secs, (unsigned long long)g.completions, g.completions / secs,
	       (unsigned long long)g.sleeps, (unsigned long long)g.irqs_taken,
	       (unsigned long long)g.lost, (unsigned long long)lost_kicks,
	       virtq_is_broken(vq) ? ", RING BROKEN" : "");
	printf("virtq-order: %u kicks, futex sleeps: guest %llu device %llu\n", kick.count,
	       (unsigned long long)irq.futex_waits, (unsigned long long)kick.futex_waits);
	if (o.expect_lost)
		pass = g.lost > 0;
	else
		pass = !g.lost && !lost_kicks && g.completions >= o.completions &&
		       !virtq_is_broken(vq);
	if (o.expect_lost)
		printf("virtq-order: %s: %s\n", pass ? "PASS" : "FAIL",
		       pass ? "lost wake-up detected, as expected of the weak barrier"
			    : "no lost wake-up detected in time");
	else
		printf("virtq-order: %s\n", pass ? "PASS" : "FAIL");
	printf("virtq-order: %d passed, %d failed\n", pass, !pass);
	virtio_device_exit(&vdev);
	free(ram);
	return pass ? 0 : 1;
}

/*
 * virtio memory balloon (Virtio 1.2 section 5.5).
 *
 * inflateq: each buffer is an array of le32 page frame numbers (4 KiB
 * pages) the guest no longer uses; we drop their host pages with
 * madvise(MADV_DONTNEED) on lkvm's private anonymous RAM mapping, which
 * frees them and makes them read as zeros if the guest ever touches them
 * again.  Every PFN is checked against guest RAM first.
 * deflateq: the guest takes pages back; nothing to do, they fault in.  We
 * offer MUST_TELL_HOST, and complete deflate buffers only after every
 * earlier inflate buffer, so a page is never released after its reuse.
 * statsq: the guest sends one buffer of (le16 tag, le64 value) records
 * and we keep it; to ask for fresh numbers we give the buffer back, and
 * the guest refills and resends it.
 *
 * Requests are served in queue_notify under the balloon's lock, as in
 * virtio-rng: madvise of at most a queue's worth of PFNs is quick.  The
 * lock also orders inflate against deflate processing.
 *
 * Lock order: vdev->lock (control path) before balloon->lock.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_ids.h>
#include "lkvm/deadline.h"
#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "lkvm/virtio.h"
#include "lkvm/virtio-balloon.h"

#define BALLOON_QUEUE_SIZE 128
#define INFLATE_Q 0
#define DEFLATE_Q 1
#define STATS_Q 2
#define STAT_RECORD_SIZE 10	/* packed le16 tag + le64 value */

struct virtio_balloon {
	struct virtio_device vdev;
	struct virtio_balloon_config config;	/* under vdev.lock */
	struct kvm *kvm;
	u64 ram_pages;
	bool can_release;	/* host pages are 4 KiB: madvise per balloon page */

	pthread_mutex_t lock;	/* everything below */
	pthread_cond_t stats_cond;
	bool active;
	struct virtq_elem *elem;
	bool stats_held;	/* we hold the guest's stats buffer */
	u16 stats_head;
	u64 stats_seq;		/* stats buffers received */
	struct balloon_stats stats;
	u64 pages_released;
	bool warned_bad_pfn;
};

static struct virtio_balloon *registered_balloon;

static struct virtio_balloon *to_balloon(struct virtio_device *vdev)
{
	return container_of(vdev, struct virtio_balloon, vdev);
}

static const char *const stat_names[BALLOON_STATS_MAX] = {
	"swap_in", "swap_out", "major_faults", "minor_faults",
	"free_memory", "total_memory", "available_memory", "disk_caches",
	"hugetlb_allocations", "hugetlb_failures", "oom_kills", "alloc_stalls",
	"async_scans", "direct_scans", "async_reclaims", "direct_reclaims",
};

const char *balloon_stat_name(unsigned int tag)
{
	return tag < BALLOON_STATS_MAX ? stat_names[tag] : NULL;
}

/* ---- inflate ---- */

static void bad_pfn(struct virtio_balloon *b, u64 pfn)
{
	if (b->warned_bad_pfn)
		return;
	b->warned_bad_pfn = true;
	pr_warn("virtio-balloon: guest gave page 0x%llx, outside its RAM: ignored"
		" (reported once)", (unsigned long long)pfn);
}

/* Release pages [pfn, pfn + n), each checked against guest RAM. */
static void release_run(struct virtio_balloon *b, u64 pfn, u64 n)
{
	u64 len = n * BALLOON_PAGE_SIZE;
	void *hva = guest_mem_ptr(b->vdev.mem, pfn * BALLOON_PAGE_SIZE, len);

	if (!n)
		return;
	if (!hva) {
		/* Part of the run is outside RAM (or spans regions): page by page. */
		if (n > 1) {
			for (u64 i = 0; i < n; i++)
				release_run(b, pfn + i, 1);
		} else {
			bad_pfn(b, pfn);
		}
		return;
	}
	if (b->can_release && madvise(hva, len, MADV_DONTNEED) < 0)
		pr_debug("virtio-balloon: madvise DONTNEED: %s", strerror(errno));
	b->pages_released += n;
}

/* Walk the le32 PFNs of the readable buffers, merging consecutive pages. */
static void inflate_elem(struct virtio_balloon *b, const struct virtq_elem *e)
{
	u64 run_start = 0, run_len = 0;
	u8 word[4];
	unsigned int have = 0;

	for (unsigned int i = 0; i < e->out_num; i++) {
		const u8 *p = e->iov[i].iov_base;

		for (size_t j = 0; j < e->iov[i].iov_len; j++) {
			u32 pfn;

			word[have++] = p[j];
			if (have < sizeof(word))
				continue;
			have = 0;
			memcpy(&pfn, word, sizeof(pfn));
			pfn = le32toh(pfn);
			if (run_len && pfn == run_start + run_len) {
				run_len++;
				continue;
			}
			release_run(b, run_start, run_len);
			run_start = pfn;
			run_len = 1;
		}
	}
	release_run(b, run_start, run_len);
}

/* Inflate and deflate buffers: act (inflate only), give back with length 0. */
static void drain_pages(struct virtio_balloon *b, struct virt_queue *vq, bool inflate)
{
	do {
		virtq_disable_notify(vq);
		while (virtq_pop(vq, b->elem)) {
			if (inflate)
				inflate_elem(b, b->elem);
			virtq_push(vq, b->elem->head, 0);
		}
		virtq_signal_if_needed(vq);
	} while (virtq_enable_notify_and_check(vq));
}

/* ---- statistics ---- */

static void parse_stats(struct virtio_balloon *b, const struct virtq_elem *e)
{
	u8 rec[STAT_RECORD_SIZE];
	unsigned int have = 0;

	b->stats.present = 0;
	for (unsigned int i = 0; i < e->out_num; i++) {
		const u8 *p = e->iov[i].iov_base;

		for (size_t j = 0; j < e->iov[i].iov_len; j++) {
			u16 tag;
			u64 val;

			rec[have++] = p[j];
			if (have < sizeof(rec))
				continue;
			have = 0;
			memcpy(&tag, rec, sizeof(tag));
			memcpy(&val, rec + 2, sizeof(val));
			tag = le16toh(tag);
			if (tag >= BALLOON_STATS_MAX)
				continue;	/* a tag newer than us */
			b->stats.value[tag] = le64toh(val);
			b->stats.present |= 1u << tag;
		}
	}
}

/*
 * Keep the newest stats buffer; one we were still holding goes back first.
 * The enable/check loop also tells an EVENT_IDX driver to kick us for the
 * next buffer.
 */
static void drain_stats(struct virtio_balloon *b, struct virt_queue *vq)
{
	bool got = false;

	do {
		virtq_disable_notify(vq);
		while (virtq_pop(vq, b->elem)) {
			if (b->stats_held)
				virtq_push(vq, b->stats_head, 0);
			parse_stats(b, b->elem);
			b->stats_head = b->elem->head;
			b->stats_held = true;
			got = true;
		}
		virtq_signal_if_needed(vq);
	} while (virtq_enable_notify_and_check(vq));
	if (got) {
		b->stats_seq++;
		pthread_cond_broadcast(&b->stats_cond);
	}
}

static void drain(struct virtio_balloon *b, struct virt_queue *vq)
{
	switch (vq->index) {
	case INFLATE_Q:
		drain_pages(b, vq, true);
		break;
	case DEFLATE_Q:
		drain_pages(b, vq, false);
		break;
	case STATS_Q:
		if (virtio_has_feature(&b->vdev, VIRTIO_BALLOON_F_STATS_VQ))
			drain_stats(b, vq);
		break;
	}
}

/* ---- device ops ---- */

static void balloon_queue_notify(struct virtio_device *vdev, struct virt_queue *vq)
{
	struct virtio_balloon *b = to_balloon(vdev);

	pthread_mutex_lock(&b->lock);
	if (b->active)
		drain(b, vq);
	pthread_mutex_unlock(&b->lock);
}

static int balloon_activate(struct virtio_device *vdev)
{
	struct virtio_balloon *b = to_balloon(vdev);

	pthread_mutex_lock(&b->lock);
	b->active = true;
	/* Buffers queued before DRIVER_OK (Linux primes statsq) got no kick. */
	for (unsigned int i = 0; i < vdev->nr_queues; i++)
		if (__atomic_load_n(&vdev->vqs[i].ready, __ATOMIC_ACQUIRE))
			drain(b, &vdev->vqs[i]);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static void balloon_reset(struct virtio_device *vdev)
{
	struct virtio_balloon *b = to_balloon(vdev);

	pthread_mutex_lock(&b->lock);
	b->active = false;
	b->stats_held = false;	/* the core forgets the queue: drop, not push */
	pthread_mutex_unlock(&b->lock);
	/* A new driver starts with an empty balloon; the target stays. */
	b->config.actual = 0;
}

/* The driver may write only `actual`. */
static void balloon_config_write(struct virtio_device *vdev, u32 offset,
				 const void *data, u32 len)
{
	struct virtio_balloon *b = to_balloon(vdev);
	u32 start = offsetof(struct virtio_balloon_config, actual);

	if (offset >= start && offset + len <= start + sizeof(b->config.actual))
		memcpy((u8 *)&b->config + offset, data, len);
}

static const struct virtio_device_ops balloon_ops = {
	.name = "balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.nr_queues = 3,
	.max_queue_size = BALLOON_QUEUE_SIZE,
	.features = (1ULL << VIRTIO_BALLOON_F_MUST_TELL_HOST) |
		    (1ULL << VIRTIO_BALLOON_F_STATS_VQ),
	.queue_notify = balloon_queue_notify,
	.reset = balloon_reset,
	.activate = balloon_activate,
	.config_write = balloon_config_write,
};

/* ---- host side ---- */

int virtio_balloon_set_target(struct virtio_device *vdev, u64 pages)
{
	struct virtio_balloon *b = to_balloon(vdev);

	if (pages > b->ram_pages || pages > UINT32_MAX)
		return -ERANGE;
	virtio_device_lock(vdev);
	b->config.num_pages = htole32((u32)pages);
	virtio_config_changed(vdev);
	virtio_device_unlock(vdev);
	return 0;
}

void virtio_balloon_get(struct virtio_device *vdev, u64 *target, u64 *actual)
{
	struct virtio_balloon *b = to_balloon(vdev);

	virtio_device_lock(vdev);
	*target = le32toh(b->config.num_pages);
	*actual = le32toh(b->config.actual);
	virtio_device_unlock(vdev);
}

int virtio_balloon_stats(struct virtio_device *vdev, unsigned int timeout_ms,
			 struct balloon_stats *out)
{
	struct virtio_balloon *b = to_balloon(vdev);
	struct timespec deadline = deadline_after_ms(CLOCK_MONOTONIC, timeout_ms);
	u64 seq;

	pthread_mutex_lock(&b->lock);
	if (!b->stats_seq) {
		pthread_mutex_unlock(&b->lock);
		return -ENODATA;
	}
	seq = b->stats_seq;
	if (b->active && b->stats_held) {
		b->stats_held = false;
		virtq_push_and_signal(&vdev->vqs[STATS_Q], b->stats_head, 0);
	}
	while (b->stats_seq == seq &&
	       pthread_cond_timedwait(&b->stats_cond, &b->lock, &deadline) != ETIMEDOUT)
		;
	*out = b->stats;
	out->fresh = b->stats_seq != seq;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

struct virtio_device *virtio_balloon_find(struct kvm *kvm)
{
	struct virtio_balloon *b = __atomic_load_n(&registered_balloon, __ATOMIC_ACQUIRE);

	return b && b->kvm == kvm ? &b->vdev : NULL;
}

/* ---- lifetime ---- */

static void balloon_free(struct virtio_balloon *b)
{
	virtq_elem_free(b->elem);
	pthread_cond_destroy(&b->stats_cond);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static struct virtio_balloon *balloon_alloc(struct kvm *kvm)
{
	struct virtio_balloon *b = calloc(1, sizeof(*b));
	pthread_condattr_t ca;

	if (!b)
		return NULL;
	b->kvm = kvm;
	b->ram_pages = kvm->ram_size / BALLOON_PAGE_SIZE;
	b->can_release = sysconf(_SC_PAGESIZE) == BALLOON_PAGE_SIZE;
	if (!b->can_release)
		pr_warn("virtio-balloon: host pages are not 4 KiB: inflated pages stay resident");
	pthread_mutex_init(&b->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->stats_cond, &ca);
	pthread_condattr_destroy(&ca);
	return b;
}

int virtio_balloon_init(struct kvm *kvm, struct virtio_device **out)
{
	struct virtio_balloon *b = balloon_alloc(kvm);
	int ret;

	if (!b)
		return -ENOMEM;
	ret = virtio_device_init(&b->vdev, &balloon_ops, &kvm->mem, &b->config,
				 sizeof(b->config));
	if (ret) {
		balloon_free(b);
		return ret;
	}
	b->elem = virtq_elem_alloc(&b->vdev.vqs[0]);
	if (!b->elem) {
		virtio_device_exit(&b->vdev);
		balloon_free(b);
		return -ENOMEM;
	}
	__atomic_store_n(&registered_balloon, b, __ATOMIC_RELEASE);
	*out = &b->vdev;
	return 0;
}

void virtio_balloon_exit(struct virtio_device *vdev)
{
	struct virtio_balloon *b = to_balloon(vdev), *expected = b;

	__atomic_compare_exchange_n(&registered_balloon, &expected, NULL, false,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	virtio_device_reset(vdev);
	virtio_device_exit(vdev);
	balloon_free(b);
}

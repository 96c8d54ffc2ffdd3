/* The device unit tests' guest side (see vdriver.h). */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "vdriver.h"

u8 *ram;
int queue_signals, config_signals;
int queue_signals_of[VDRIVER_MAX_QUEUES];
u16 used_idx_at_signal[VDRIVER_MAX_QUEUES];
struct tq queues[VDRIVER_MAX_QUEUES];

u8 *fenced_ram(u64 size)
{
	long page = sysconf(_SC_PAGESIZE);
	u8 *area = mmap(NULL, size + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (area == MAP_FAILED || mprotect(area + page, size, PROT_READ | PROT_WRITE)) {
		perror("mmap");
		exit(2);
	}
	return area + page;
}

void ram_map(struct guest_mem *mem)
{
	ram = fenced_ram(RAM_SIZE);
	guest_mem_add(mem, RAM_GPA, RAM_SIZE, ram);
}

void *gpa(u64 addr)
{
	return ram + (addr - RAM_GPA);
}

/* What the guest's handler would find: the used index at the interrupt. */
static void t_signal_queue(struct virtio_device *vdev, struct virt_queue *vq)
{
	if (vq->index < VDRIVER_MAX_QUEUES) {
		__atomic_store_n(&used_idx_at_signal[vq->index], used_idx(&queues[vq->index]),
				 __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&queue_signals_of[vq->index], 1, __ATOMIC_SEQ_CST);
	}
	__atomic_add_fetch(&queue_signals, 1, __ATOMIC_SEQ_CST);
}

static void t_signal_config(struct virtio_device *vdev)
{
	__atomic_add_fetch(&config_signals, 1, __ATOMIC_SEQ_CST);
}

const struct virtio_transport_ops fake_transport = {
	.name = "fake",
	.signal_queue = t_signal_queue,
	.signal_config = t_signal_config,
};

int signals(void)
{
	return __atomic_load_n(&queue_signals, __ATOMIC_SEQ_CST);
}

int signals_of(unsigned int queue)
{
	return __atomic_load_n(&queue_signals_of[queue], __ATOMIC_SEQ_CST);
}

u16 signalled_used_idx(unsigned int queue)
{
	return __atomic_load_n(&used_idx_at_signal[queue], __ATOMIC_SEQ_CST);
}

struct vring_desc *tq_desc(struct tq *q)
{
	return gpa(q->base);
}

struct vring_avail *tq_avail(struct tq *q)
{
	return gpa(q->base + 0x1000);
}

struct vring_used *tq_used(struct tq *q)
{
	return gpa(q->base + 0x2000);
}

u16 tq_chain(struct tq *q, const struct buf *b, unsigned int n)
{
	u16 head = q->next_desc % QSIZE;

	for (unsigned int i = 0; i < n; i++) {
		u16 d = q->next_desc++ % QSIZE;

		tq_desc(q)[d] = (struct vring_desc){
			.addr = htole64(b[i].gpa),
			.len = htole32(b[i].len),
			.flags = htole16((b[i].writable ? VRING_DESC_F_WRITE : 0) |
					 (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			.next = htole16((d + 1) % QSIZE),
		};
	}
	return head;
}

void tq_offer(struct tq *q, u16 head)
{
	struct vring_avail *a = tq_avail(q);

	a->ring[q->avail_idx % QSIZE] = htole16(head);
	__atomic_store_n(&a->idx, htole16(++q->avail_idx), __ATOMIC_RELEASE);
}

u16 tq_add(struct tq *q, const struct buf *b, unsigned int n)
{
	u16 head = tq_chain(q, b, n);

	tq_offer(q, head);
	return head;
}

u16 used_idx(struct tq *q)
{
	return le16toh(__atomic_load_n(&tq_used(q)->idx, __ATOMIC_ACQUIRE));
}

struct vring_used_elem used_elem(struct tq *q, unsigned int i)
{
	struct vring_used_elem e = tq_used(q)->ring[i % QSIZE];

	return (struct vring_used_elem){ le32toh(e.id), le32toh(e.len) };
}

void tq_set_used_event(struct tq *q, u16 v)
{
	/* Then the device's next should-signal load may see it (a driver's mb()). */
	__atomic_store_n(&tq_avail(q)->ring[QSIZE], htole16(v), __ATOMIC_SEQ_CST);
}

u16 avail_event(struct tq *q)
{
	return le16toh(*(u16 *)((u8 *)tq_used(q) + 4 + 8 * QSIZE));
}

bool wait_used(struct tq *q, u16 idx)
{
	for (int i = 0; i < 5000; i++) {
		if (used_idx(q) == idx)
			return true;
		usleep(1000);
	}
	fprintf(stderr, "  timeout: used idx %u, want %u\n", used_idx(q), idx);
	return false;
}

bool wait_avail_event(struct tq *q, u16 v)
{
	for (int i = 0; i < 2000; i++) {
		if (avail_event(q) == v)
			return true;
		usleep(1000);
	}
	return false;
}

bool vdriver_negotiate(struct virtio_device *vdev, u64 features, unsigned int nr_queues)
{
	bool modern = features & F_V1;
	u8 st = ST_ACK | ST_DRV;

	virtio_set_status(vdev, 0);
	memset(ram, 0, RAM_SIZE);
	virtio_device_set_transport(vdev, &fake_transport, NULL, modern);
	virtio_set_status(vdev, st);
	virtio_set_driver_features(vdev, 0, (u32)features);
	virtio_set_driver_features(vdev, 1, (u32)(features >> 32));
	if (modern) {
		virtio_set_status(vdev, st | ST_FOK);
		if (!(virtio_get_status(vdev) & ST_FOK))
			return false;
	}
	for (unsigned int i = 0; i < nr_queues; i++) {
		queues[i] = (struct tq){ .base = RAM_GPA + i * 0x4000 };
		virtio_queue_set_size(vdev, i, QSIZE);
		virtio_queue_set_addr(vdev, i, VIRTQ_AREA_DESC, queues[i].base);
		virtio_queue_set_addr(vdev, i, VIRTQ_AREA_DRIVER, queues[i].base + 0x1000);
		virtio_queue_set_addr(vdev, i, VIRTQ_AREA_DEVICE, queues[i].base + 0x2000);
		if (virtio_queue_enable(vdev, i)) {
			fprintf(stderr, "queue %u enable failed\n", i);
			exit(2);
		}
	}
	__atomic_store_n(&queue_signals, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&config_signals, 0, __ATOMIC_SEQ_CST);
	for (unsigned int i = 0; i < VDRIVER_MAX_QUEUES; i++) {
		__atomic_store_n(&queue_signals_of[i], 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&used_idx_at_signal[i], 0, __ATOMIC_SEQ_CST);
	}
	return true;
}

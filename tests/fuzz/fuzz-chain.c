/* The fuzz targets' device side of a virtqueue (see fuzz-chain.h). */
#include <string.h>
#include "fuzz-chain.h"

void fuzz_check_chain(const struct fuzz_ram *ram, const struct virt_queue *vq,
		      const struct virtq_elem *e)
{
	size_t out = 0, in = 0;
	unsigned int n = e->out_num + e->in_num;

	FUZZ_ASSERT(e->head < vq->size, "head %u, queue size %u", e->head, vq->size);
	FUZZ_ASSERT(n >= 1 && n <= vq->size && n <= e->iov_cap,
		    "%u buffers, queue size %u, capacity %u", n, vq->size, e->iov_cap);
	for (unsigned int i = 0; i < n; i++) {
		const struct iovec *v = &e->iov[i];

		FUZZ_ASSERT(v->iov_len > 0, "buffer %u is empty", i);
		FUZZ_ASSERT(fuzz_ram_holds(ram, v->iov_base, v->iov_len),
			    "buffer %u (%p+%zu) is outside guest RAM", i, v->iov_base, v->iov_len);
		if (i < e->out_num)
			out += v->iov_len;
		else
			in += v->iov_len;
	}
	FUZZ_ASSERT(out == e->out_len && in == e->in_len,
		    "lengths %zu/%zu, iovs add up to %zu/%zu", e->out_len, e->in_len, out, in);
	FUZZ_ASSERT((u64)out + in <= 0xffffffffULL, "chain of %zu bytes", out + in);
}

bool fuzz_pop(const struct fuzz_ram *ram, struct virt_queue *vq, struct virtq_elem *e)
{
	bool was_broken = virtq_is_broken(vq);
	bool got = virtq_pop(vq, e);

	FUZZ_ASSERT(!(got && was_broken), "a broken queue popped chain %u", e->head);
	if (got)
		fuzz_check_chain(ram, vq, e);
	return got;
}

u32 fuzz_consume_chain(const struct virtq_elem *e, u8 fill)
{
	volatile u8 sink = 0;

	for (unsigned int i = 0; i < e->out_num; i++) {
		const u8 *p = e->iov[i].iov_base;

		for (size_t j = 0; j < e->iov[i].iov_len; j += 64)
			sink ^= p[j];
		sink ^= p[e->iov[i].iov_len - 1];
	}
	for (unsigned int i = e->out_num; i < e->out_num + e->in_num; i++)
		memset(e->iov[i].iov_base, fill, e->iov[i].iov_len);
	(void)sink;
	return (u32)e->in_len;
}

unsigned int fuzz_drain_queue(const struct fuzz_ram *ram, struct virt_queue *vq,
			      struct virtq_elem *e)
{
	unsigned int pops = 0;

	do {
		virtq_disable_notify(vq);
		while (fuzz_pop(ram, vq, e)) {
			virtq_push(vq, e->head, fuzz_consume_chain(e, 0x5a));
			/*
			 * Only the device's own writes (used ring, filled
			 * buffers) can overlap the avail ring meanwhile;
			 * that must not keep the loop going for ever.
			 */
			FUZZ_ASSERT(++pops <= 65536, "%u pops in one kick, queue of %u", pops,
				    vq->size);
		}
		virtq_signal_if_needed(vq);
	} while (virtq_enable_notify_and_check(vq));
	return pops;
}

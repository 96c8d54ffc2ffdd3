#ifndef LKVM_FUZZ_CHAIN_H
#define LKVM_FUZZ_CHAIN_H
/*
 * A device's side of a virtqueue for the fuzz targets, with the oracles
 * every popped chain must pass: inside guest RAM, no empty buffer, no more
 * buffers than the queue size, lengths that add up.
 */
#include "lkvm/virtio.h"
#include "fuzz-common.h"

/* Abort (an oracle failure) if the chain breaks a rule. */
void fuzz_check_chain(const struct fuzz_ram *ram, const struct virt_queue *vq,
		      const struct virtq_elem *e);
/* virtq_pop() plus the checks; also: a broken queue pops nothing. */
bool fuzz_pop(const struct fuzz_ram *ram, struct virt_queue *vq, struct virtq_elem *e);
/* Read every readable byte, fill the writable ones; bytes written. */
u32 fuzz_consume_chain(const struct virtq_elem *e, u8 fill);
/*
 * The processing loop of lkvm/virtio.h (disable kicks, pop all, enable
 * and re-check), bounded; returns the chains completed.
 */
unsigned int fuzz_drain_queue(const struct fuzz_ram *ram, struct virt_queue *vq,
			      struct virtq_elem *e);

#endif

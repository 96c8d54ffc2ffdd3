#ifndef LKVM_FUZZ_RING_WATCH_H
#define LKVM_FUZZ_RING_WATCH_H
/*
 * Oracles on the ring calls a real device makes.  A target links with
 * FUZZ_RING_WATCH_LDFLAGS (the Makefile's RING_WATCH), so that the
 * device's virtq_pop / virtq_add_used / virtq_push / virtq_push_and_signal
 * reach the wrappers in fuzz-ring-watch.c first: every chain popped passes
 * the fuzz-chain.h checks, the device completes only chains it holds, and
 * never reports more bytes written than a chain could take.
 */
#include "fuzz-common.h"

/* Before each input: which RAM chains must lie in; nothing held. */
void fuzz_ring_watch_reset(const struct fuzz_ram *ram);

#endif

/*
 * Fuzz target: the packed-virtqueue data path (virtio/virtqueue-packed.c)
 * and its ring set-up: fuzz-virtq.c's harness, input layout and oracles
 * with VIRTIO_F_RING_PACKED negotiated (on a modern transport; flag 8, the
 * legacy PFN layout, still gives a split ring), plus three operations of a
 * well-behaved packed driver (tests/unit/lib/pdriver.c): make a chain
 * available, take a used descriptor, write the driver event structure.
 * The descriptor ring is at "desc", the driver event area at "avail" and
 * the device event area at "used".
 */
#define FUZZ_VIRTQ_PACKED 1
#include "fuzz-virtq.c"

# virtio-rng on virtio-mmio version 1 (legacy): virtio-mmio.sh, which
# takes its transport from this case's name.
. "${NESTED_DIR:-}/cases/virtio-mmio.sh"

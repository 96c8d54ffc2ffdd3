# virtio-rng on legacy virtio-pci (no modern capabilities): virtio-mmio.sh,
# which takes its transport from this case's name.
. "${NESTED_DIR:-}/cases/virtio-mmio.sh"

# virtio-rng on the default transport (transitional virtio-pci, MSI-X):
# the guest reads 1 MiB from /dev/hwrng through the modern interface.
CASE_ARCH="x86_64 arm64"
CASE_ARGS="--rng"

case_guest() {
	. /cases/guest-virtio.sh
	virtio_report 4
	rng_read 1048576
}

case_check() {
	expect_exit 0
	[ "$(console_value virtio_found)" = yes ] || fail "no virtio-rng device in /sys/bus/virtio"
	[ "$(console_value virtio_driver)" = virtio_rng ] || fail "virtio_rng not bound"
	[ "$(console_value virtio_bus)" = pci ] || fail "not on PCI"
	[ "$(console_value pci_id)" = 0x1af4:0x1005 ] || fail "PCI id $(console_value pci_id), want 0x1af4:0x1005 (transitional rng)"
	[ "$(console_value virtio_version1)" = 1 ] || fail "VERSION_1 not negotiated: the modern interface was not used"
	[ "$(console_value pci_msi)" -ge 1 ] 2>/dev/null || fail "no MSI-X vectors in use"
	[ "$(console_value rng_bytes)" = 1048576 ] || fail "read $(console_value rng_bytes) bytes of 1048576 from /dev/hwrng"
	[ "$(console_value rng_distinct)" = yes ] || fail "two /dev/hwrng samples were equal"
}

# virtio-rng on one virtio transport: the device is found, its driver binds
# and 256 KiB arrive from /dev/hwrng.  One parameterised case for three
# transports, chosen by the case's name ($name, set by the harness in L1,
# L2 and on the host); virtio-mmio-legacy.sh and virtio-pci-legacy.sh
# source this file.
#   virtio-mmio         virtio-mmio version 2, found through the ACPI DSDT
#                       (LNRO0005; arm64: the device tree)
#   virtio-mmio-legacy  virtio-mmio version 1
#   virtio-pci-legacy   legacy virtio-pci (no modern capabilities)
# Only virtio-mmio itself runs on arm64 too (the harness reads CASE_ARCH
# from each case's own file).
CASE_ARCH="x86_64 arm64"
case ${name:-} in
virtio-mmio-legacy) rng_transport=mmio-legacy rng_bus=mmio rng_v1=0 ;;
virtio-pci-legacy) rng_transport=pci-legacy rng_bus=pci rng_v1=0 ;;
*) rng_transport=mmio rng_bus=mmio rng_v1=1 ;;
esac
CASE_ARGS="--rng --virtio-transport $rng_transport"

case_guest() {
	. /cases/guest-virtio.sh
	virtio_report 4
	rng_read 262144
}

case_check() {
	expect_exit 0
	[ "$(console_value virtio_found)" = yes ] || fail "no virtio-rng device in /sys/bus/virtio"
	[ "$(console_value virtio_driver)" = virtio_rng ] || fail "virtio_rng not bound"
	[ "$(console_value virtio_bus)" = "$rng_bus" ] || fail "on bus $(console_value virtio_bus), want $rng_bus"
	[ "$(console_value virtio_version1)" = "$rng_v1" ] || fail "VERSION_1 is $(console_value virtio_version1), want $rng_v1"
	# Packed rings on the modern interface (lkvm's default), never on legacy.
	if [ "$rng_v1" = 0 ] || [ "${REFERENCE_QEMU:-0}" != 1 ]; then
		[ "$(console_value virtio_packed)" = "$rng_v1" ] ||
			fail "VIRTIO_F_RING_PACKED is $(console_value virtio_packed), want $rng_v1"
	fi
	[ "$(console_value rng_bytes)" = 262144 ] || fail "read $(console_value rng_bytes) bytes of 262144"
}

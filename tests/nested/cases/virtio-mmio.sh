# virtio-rng on virtio-mmio version 2, found through the ACPI DSDT (LNRO0005;
# arm64: the device tree): the device is found, its driver binds and
# 256 KiB arrive from /dev/hwrng.
CASE_ARCH="x86_64 arm64"
CASE_ARGS="--rng --virtio-transport mmio"

case_guest() {
	. /cases/guest-virtio.sh
	virtio_report 4
	rng_read 262144
}

case_check() {
	expect_exit 0
	[ "$(console_value virtio_found)" = yes ] || fail "no virtio-rng device in /sys/bus/virtio"
	[ "$(console_value virtio_driver)" = virtio_rng ] || fail "virtio_rng not bound"
	[ "$(console_value virtio_bus)" = mmio ] || fail "on bus $(console_value virtio_bus), want mmio"
	[ "$(console_value virtio_version1)" = 1 ] || fail "VERSION_1 is $(console_value virtio_version1), want 1"
	[ "$(console_value rng_bytes)" = 262144 ] || fail "read $(console_value rng_bytes) bytes of 262144"
}

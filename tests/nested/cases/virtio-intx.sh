# virtio-pci without MSI (pci=nomsi): interrupts arrive as INTx through
# the IOAPIC, routed by the ACPI _PRT; 256 KiB from /dev/hwrng.
CASE_ARGS="--rng"
CASE_APPEND="pci=nomsi"

case_guest() {
	. /cases/guest-virtio.sh
	virtio_report 4
	rng_read 262144
	echo "intx_line=$(grep -c 'IO-APIC.*virtio' /proc/interrupts)"
}

case_check() {
	expect_exit 0
	[ "$(console_value virtio_driver)" = virtio_rng ] || fail "virtio_rng not bound"
	[ "$(console_value pci_msi)" = 0 ] || fail "MSI in use despite pci=nomsi"
	[ "$(console_value intx_line)" -ge 1 ] 2>/dev/null || fail "no IO-APIC line for virtio in /proc/interrupts"
	[ "$(console_value rng_bytes)" = 262144 ] || fail "read $(console_value rng_bytes) bytes of 262144"
}

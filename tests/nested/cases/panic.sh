# A guest kernel panic makes lkvm exit with status 3, well before the
# timeout.  panic=0 makes the guest wait forever after the panic (no
# reboot), so only the pvpanic device (x86: ACPI, port 0x505; arm64: the
# device tree's qemu,pvpanic-mmio) can end the run.  Debian's arm64 kernel
# is built without pvpanic (CONFIG_PVPANIC is not set): SKIP there.
CASE_ARCH="x86_64 arm64"
CASE_APPEND="panic=0"

case_guest() {
	[ -f /lib/modules/pvpanic-mmio.ko ] || [ -d /sys/bus/platform/drivers/pvpanic-mmio ] ||
		case_skip "the guest kernel has no pvpanic-mmio driver"
	for d in /sys/bus/platform/drivers/pvpanic-mmio/*; do
		[ -L "$d" ] && echo "pvpanic_device=${d##*/}"
	done
	echo "LKVM-PANICKING"
	echo c > /proc/sysrq-trigger
	sleep 5
	echo "LKVM-PANIC-FAILED"
}

case_check() {
	expect_exit 3
	expect_console '^LKVM-PANICKING'
	expect_console 'Kernel panic'
	pv=$(console_value pvpanic_device)
	note "pvpanic device bound in guest: ${pv:-none}"
}

# A guest kernel panic makes lkvm exit with a non-zero status, well before
# the timeout.  panic=0 makes the guest wait forever after the panic (no
# reboot), so only the pvpanic device (ACPI, port 0x505) can end the run.
CASE_APPEND="panic=0"

case_guest() {
	[ -f /lib/modules/pvpanic-mmio.ko ] ||
		case_skip "the guest kernel has no pvpanic-mmio module"
	for d in /sys/bus/platform/drivers/pvpanic-mmio/*; do
		[ -L "$d" ] && echo "pvpanic_device=${d##*/}"
	done
	echo "LKVM-PANICKING"
	echo c > /proc/sysrq-trigger
	sleep 5
	echo "LKVM-PANIC-FAILED"
}

case_check() {
	expect_exit_nonzero
	expect_console '^LKVM-PANICKING'
	expect_console 'Kernel panic'
	pv=$(console_value pvpanic_device)
	note "pvpanic device bound in guest: ${pv:-none}"
}

# arm64: a guest kernel panic makes lkvm exit with status 3 even without
# a pvpanic driver (Debian's arm64 kernel has none): lkvm's command line
# says panic=-1 reboot=panic_warm, so the panicking kernel resets at once
# with PSCI SYSTEM_RESET2, which lkvm reports as a panic.  The reboot case
# checks that an ordinary reboot -f still exits 0.
CASE_ARCH=arm64

case_guest() {
	echo "LKVM-PANICKING"
	echo c > /proc/sysrq-trigger
	sleep 5
	echo "LKVM-PANIC-FAILED"
}

case_check() {
	expect_exit 3
	expect_console '^LKVM-PANICKING'
	expect_console 'Kernel panic'
}

# poweroff -f (ACPI S5 through the PM1 control register) ends lkvm with
# status 0.  Without ACPI the kernel would only halt, and lkvm would wait
# until the timeout.
CASE_ARCH="x86_64 arm64"

case_guest() {
	echo "LKVM-POWERING-OFF"
	poweroff -f
	sleep 2
	echo "LKVM-POWEROFF-FAILED"
}

case_check() {
	expect_exit 0
	expect_console '^LKVM-POWERING-OFF'
	expect_no_console 'LKVM-POWEROFF-FAILED'
	expect_no_console 'System halted'
}

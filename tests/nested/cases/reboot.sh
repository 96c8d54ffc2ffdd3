# reboot -f (a reset through the i8042, reboot=k) ends lkvm with status 0
# and the guest is not started a second time.
CASE_ARCH="x86_64 arm64"

case_guest() {
	echo "LKVM-REBOOTING"
	reboot -f
	sleep 2
	echo "LKVM-REBOOT-FAILED"
}

case_check() {
	expect_exit 0
	expect_console '^LKVM-REBOOTING'
	expect_no_console 'LKVM-REBOOT-FAILED'
	n=$(grep -c 'LKVM-USERSPACE-OK' "$CASE_LOG")
	[ "$n" = 1 ] || fail "guest reached user space $n times (reset restarted it?)"
}

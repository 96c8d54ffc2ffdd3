# --reboot-on-triple-fault: a triple fault is a reboot, as lkvm took it
# before (exit 0, no register dump).  See triple-fault.
CASE_APPEND="reboot=t lkvm.modules=0"
CASE_ARGS="--reboot-on-triple-fault"

case_guest() {
	echo "LKVM-TRIPLE-FAULTING"
}

case_check() {
	expect_exit 0
	expect_console '^LKVM-TRIPLE-FAULTING'
	expect_console 'triple fault: a reboot \(--reboot-on-triple-fault\)'
	expect_no_console '^vCPU 0 registers:'
	expect_no_console 'LKVM-REBOOT-FAILED'
	n=$(grep -c 'LKVM-USERSPACE-OK' "$CASE_LOG")
	[ "$n" = 1 ] || fail "guest reached user space $n times"
}

# A triple fault the guest did not ask for is not a reboot: with reboot=t
# the guest's reboot -f (after case_guest) ends in a triple fault, and lkvm
# must exit 5 with one line that says so and the vCPU registers.  (On AMD,
# KVM re-initialises the vCPU before reporting the triple fault: the
# registers are the reset state.)  triple-fault-reboot: the same with
# --reboot-on-triple-fault, a reboot (exit 0).
CASE_APPEND="reboot=t lkvm.modules=0"

case_guest() {
	echo "LKVM-TRIPLE-FAULTING"
}

case_check() {
	expect_exit 5
	expect_console '^LKVM-TRIPLE-FAULTING'
	expect_console 'vCPU 0: triple fault: the guest reset without asking'
	expect_console '^vCPU 0 registers:'
	expect_console '^  rip [0-9a-f]{16} '
	expect_no_console 'LKVM-REBOOT-FAILED'
	note "$(grep -A2 '^vCPU 0 registers:' "$CASE_LOG" | tail -n 2)"
	note "$(grep 'the reset state: KVM re-initialised' "$CASE_LOG")"
}

# The guest kernel logs no WARN() splat ("WARNING: CPU: N PID: N at ...")
# and no BUG while booting on lkvm.  Other lines with "WARNING:" (e.g. the
# SRSO mitigation advice on this emulated EPYC) are not WARN()s and are
# only shown, as are lines about xstate/x86/fpu: CPUID/XSAVE set-up
# mistakes show there first.
CASE_ARCH="x86_64 arm64"

case_guest() {
	echo "dmesg_lines=$(dmesg | wc -l)"
	echo "dmesg_warnings=$(dmesg | grep -c -e 'WARNING: CPU: ' -e 'BUG: ')"
	dmesg | grep -e 'WARNING' -e 'BUG: ' -e 'xstate' -e 'XSAVE' -e 'x86/fpu' |
		sed 's/^/dmesg: /'
}

case_check() {
	expect_exit 0
	lines=$(console_value dmesg_lines)
	[ -n "$lines" ] && [ "$lines" -gt 50 ] ||
		fail "guest dmesg has '$lines' lines, too few to judge"
	[ "$(console_value dmesg_warnings)" = 0 ] ||
		fail "guest dmesg has $(console_value dmesg_warnings) WARNING/BUG splats"
	grep '^dmesg: ' "$CASE_LOG" | while IFS= read -r l; do note "$l"; done
}

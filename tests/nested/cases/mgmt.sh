# Management commands from L1 on a running Linux guest: lkvm list shows
# it, pause stops its progress (a counter it prints every 0.2 s) and resume
# restarts it, debug --dump prints registers, an NMI reaches the guest
# kernel (arm64, where KVM cannot inject one: --nmi fails with a clear
# message and the guest runs on), sysrq (when lkvm supports it) runs the guest's SysRq handler, and
# lkvm stop ends the VM with status 0 and removes its socket.
CASE_TIMEOUT=120
CASE_ARCH="x86_64 arm64"

case_guest() {
	echo "MGMT-READY"
	i=0
	while :; do
		echo "tick=$i"
		i=$((i + 1))
		sleep 0.2
	done
}

# L1's results are kept until the VM has stopped, then printed: the guest's
# ticks and L1's lines would mix on the console otherwise.
say() { echo "$*" >> /tmp/mgmt-l1.out; }
ticks() { grep -c '^tick=' "$CASE_OUT"; }

case_input() {
	wait_for MGMT-READY 90 || return 0
	: > /tmp/mgmt-l1.out
	sleep 1
	say "l1_list_row=$(lkvm list 2>&1 | awk '$1 == "mgmt" { print $3 }')"
	lkvm pause --name mgmt >/dev/null 2>&1
	say "l1_pause_status=$?"
	say "l1_list_paused=$(lkvm list 2>&1 | awk '$1 == "mgmt" { print $3 }')"
	a=$(ticks)
	sleep 2
	b=$(ticks)
	say "l1_paused_ticks=$((b - a))"
	# The dump's line with the program counter: rip on x86_64, pc on arm64.
	pc=rip
	[ "${NESTED_ARCH:-x86_64}" = arm64 ] && pc=pc
	lkvm debug --name mgmt --dump 2>&1 | grep -m1 " $pc " | sed 's/^ */l1_dump_/' >> /tmp/mgmt-l1.out
	lkvm resume --name mgmt >/dev/null 2>&1
	say "l1_resume_status=$?"
	sleep 2
	c=$(ticks)
	say "l1_resumed_ticks=$((c - b))"
	lkvm debug --name mgmt --nmi 0 >/dev/null 2>/tmp/nmi.err
	say "l1_nmi_status=$?"
	say "l1_nmi_err=$(tr ' ' '_' </tmp/nmi.err | head -c 120)"
	if lkvm debug --name mgmt --sysrq h >/dev/null 2>/tmp/sysrq.err; then
		say "l1_sysrq=sent"
		wait_for 'sysrq: HELP' 10
	else
		say "l1_sysrq=$(tr ' ' '_' </tmp/sysrq.err | head -c 120)"
	fi
	sleep 1
	lkvm stop --name mgmt >/dev/null 2>&1
	say "l1_stop_status=$?"
	dir=${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/lkvm}
	if [ -e "${dir:-${HOME:-/}/.lkvm}/mgmt.sock" ] || [ -e "$HOME/.lkvm/mgmt.sock" ]; then
		say "l1_socket_left=yes"
	else
		say "l1_socket_left=no"
	fi
	say "l1_list_after=$(lkvm list 2>&1 | awk '$1 == "mgmt" { print $3 }')"
	wait_for ZZZ-never 10	# returns as soon as lkvm has exited
	{ echo; cat /tmp/mgmt-l1.out; } >&2
}

case_check() {
	expect_exit 0
	[ "$(console_value l1_list_row)" = running ] ||
		fail "lkvm list showed '$(console_value l1_list_row)', expected running"
	[ "$(console_value l1_pause_status)" = 0 ] || fail "lkvm pause failed"
	[ "$(console_value l1_list_paused)" = paused ] || fail "lkvm list did not show paused"
	[ "$(console_value l1_paused_ticks)" = 0 ] ||
		fail "$(console_value l1_paused_ticks) ticks while paused"
	[ "$(console_value l1_resumed_ticks)" -ge 3 ] 2>/dev/null ||
		fail "only '$(console_value l1_resumed_ticks)' ticks in 2 s after resume"
	if [ "${NESTED_ARCH:-x86_64}" = arm64 ]; then
		expect_console '^l1_dump_pc +[0-9a-f]{16} pstate'
		# KVM on arm64 has no NMI to inject: one clear error, non-zero.
		[ "$(console_value l1_nmi_status)" != 0 ] ||
			fail "lkvm debug --nmi succeeded on arm64, which has no NMI"
		case $(console_value l1_nmi_err) in
		*NMIs_are_not_supported*) ;;
		*) fail "lkvm debug --nmi error: '$(console_value l1_nmi_err)'" ;;
		esac
	else
		expect_console '^l1_dump_rip [0-9a-f]{16} rsp'
		[ "$(console_value l1_nmi_status)" = 0 ] || fail "lkvm debug --nmi failed"
		# "Uhhuh. NMI received for unknown reason 00 on CPU 0." or, while
		# port 0x61 reads 0xff, "NMI: PCI system error (SERR) for reason ff on CPU 0."
		expect_console 'NMI.* on CPU 0'
	fi
	case $(console_value l1_sysrq) in
	sent) expect_console 'sysrq: HELP' ;;
	*) note "sysrq not checked: $(console_value l1_sysrq)" ;;
	esac
	[ "$(console_value l1_stop_status)" = 0 ] || fail "lkvm stop failed"
	[ "$(console_value l1_socket_left)" = no ] || fail "the control socket outlived the VM"
	[ -z "$(console_value l1_list_after)" ] || fail "lkvm list still shows the VM after stop"
}

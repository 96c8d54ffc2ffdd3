# lkvm run with no command, on a terminal: lkvm's init starts an
# interactive shell on the guest's console (a pty in L1, through
# progs/pty-run.c), with job control; what is typed reaches it, and the
# shell's exit status becomes lkvm's.
CASE_FLAVOUR=amd64
CASE_TIMEOUT=120
CASE_CUSTOM_RUN=1

case_l1_setup() {
	# L1's /init mounts no devpts: pty-run needs it.
	mkdir -p /dev/pts
	grep -q ' /dev/pts ' /proc/mounts || mount -t devpts devpts /dev/pts
}

case_l1_run() {
	cd /root 2>/dev/null || cd /
	pty-run timeout -s TERM -k 5 90 lkvm run -k "$L2_KERNEL"
	rc=$?
	echo
	echo "SHELL_RC=$rc"
}

# Typed lines are echoed by the guest's tty: markers to wait for are
# written so that only the shell's output contains them ($((...))).
case_input() {
	wait_for 'lkvm: VM name' 60 || return 0
	# Typed before the shell runs: lkvm holds it until the init is ready.
	echo 'echo LKVM-USERSPACE-OK; echo "PTY-$((6*7))"'
	wait_for 'PTY-42' 60 || return 0
	echo '[ -t 0 ] && [ -t 1 ] && echo "ISATTY-$((1+1))"; echo "SIZE=$(stty size)"'
	wait_for 'ISATTY-2' 20 || return 0
	echo 'sleep 30 & jobs > /tmp/jobs; echo "JOBS-$((2+2))=$(grep -c sleep /tmp/jobs)"; kill %1'
	wait_for 'JOBS-4' 20 || return 0
	echo 'exit 5'
}

case_check() {
	expect_exit 0
	expect_console '^PTY-42'
	expect_console '^ISATTY-2'
	expect_console '^JOBS-4=1'
	[ "$(console_value SHELL_RC)" = 5 ] ||
		fail "exit 5 in the shell: lkvm exited $(console_value SHELL_RC)"
}

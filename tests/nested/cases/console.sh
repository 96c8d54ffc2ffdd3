# lkvm's stdin reaches the guest's serial console: a shell in the guest
# runs a command typed into a pipe.  The tty echoes the typed line as
# "hello-$((6*7))", so only the shell's output contains "hello-42".
CASE_ARCH="x86_64 arm64"

case_guest() {
	echo "LKVM-SHELL-READY"
	exec sh
}

case_input() {
	wait_for LKVM-SHELL-READY 50 || return 0
	echo 'echo hello-$((6*7))'
	wait_for hello-42 20
	echo 'reboot -f'
}

case_check() {
	expect_exit 0
	expect_console '^hello-42$'
}

# --console virtio: lkvm's stdin and stdout are the guest's hvc0.  The
# serial console stays /dev/console (so the harness sees the boot), and a
# shell on hvc0 runs a command typed into lkvm's stdin: its output must
# come back through hvc0 (input and output both over virtio-console).
CASE_ARGS="--console virtio"
CASE_APPEND="console=ttyS0"

case_guest() {
	. /cases/guest-virtio.sh
	virtio_report 3
	[ -e /dev/hvc0 ] || mknod /dev/hvc0 c 229 0
	echo "HVC-SHELL-READY" > /dev/hvc0
	# Run one shell on hvc0 until the host sends 'exit'.
	setsid sh -c 'exec sh </dev/hvc0 >/dev/hvc0 2>&1'
}

case_input() {
	wait_for HVC-SHELL-READY 60 || return 0
	echo 'echo hvc-$((6*7))-ok'
	wait_for hvc-42-ok 20
	echo 'exit'
}

case_check() {
	expect_exit 0
	[ "$(console_value virtio_driver)" = virtio_console ] || fail "virtio_console not bound"
	expect_console 'hvc-42-ok'
}

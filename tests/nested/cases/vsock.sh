# virtio-vsock through vhost-vsock in L1 (needs the harness to pass
# CASE_ARGS, load vhost_vsock in L1 and the vsock drivers in L2, and put
# vsock-echo (tests/nested/progs/vsock-echo.c, static) in both images): L1
# sends a message and then 16 MiB to the guest (CID 3), which echoes
# everything back; both directions' checksums must match.  L1 prints its
# results only while the guest waits silently for "done", so that the two
# never mix on the console.
CASE_ARGS="--vsock 3"
CASE_TIMEOUT=150
CASE_ARCH="x86_64 arm64"

case_guest() {
	for d in /sys/bus/virtio/drivers/vmw_vsock_virtio_transport/virtio*; do
		[ -e "$d" ] && echo "guest_vsock_device=${d##*/}"
	done
	if ! command -v vsock-echo >/dev/null; then
		echo "LKVM-VSOCK-NO-PROGRAM"
		return
	fi
	vsock-echo serve 1234 2
	echo "guest_serve_status=$?"
	echo "VSOCK-GUEST-DONE"
	read -r _
}

case_input() {
	wait_for VSOCK-LISTENING 120 || return 0
	{
		vsock-echo msg 3 1234 hello-over-vsock
		echo "l1_msg_status=$?"
		vsock-echo send 3 1234 16777216
		echo "l1_send_status=$?"
	} > /tmp/vsock-l1.out 2>&1
	wait_for VSOCK-GUEST-DONE 60
	# Which way vhost's interrupts went (lkvm stat: l1_vhost_* lines).
	lkvm stat --name "$name" 2>/dev/null | grep '^vhost_' | sed 's/^/l1_/' >> /tmp/vsock-l1.out
	{ echo; cat /tmp/vsock-l1.out; } >&2
	echo done
}

case_check() {
	if [ -z "$(console_value guest_vsock_device)" ]; then
		fail "no vsock device in the guest (did the harness pass CASE_ARGS='--vsock 3'" \
		     "and load the vsock modules?)"
		return
	fi
	expect_exit 0
	expect_no_console 'LKVM-VSOCK-NO-PROGRAM'
	# Both vhost rings interrupt through an MSI-X irqfd, none through lkvm.
	[ "$(console_value l1_vhost_irqfd_rings)" = 2 ] ||
		fail "vhost-vsock rings on an irqfd: '$(console_value l1_vhost_irqfd_rings)', want 2"
	[ "$(console_value l1_vhost_thread_signals)" = 0 ] ||
		fail "vhost-vsock interrupts through lkvm's thread: '$(console_value l1_vhost_thread_signals)'"
	note "vhost-vsock: irqfd rings $(console_value l1_vhost_irqfd_rings)," \
		"interrupts via lkvm's thread $(console_value l1_vhost_thread_signals)," \
		"kicks through lkvm $(console_value l1_vhost_lkvm_kicks)"
	[ "$(console_value vsock_reply)" = hello-over-vsock ] ||
		fail "message echoed as '$(console_value vsock_reply)'"
	[ "$(console_value l1_send_status)" = 0 ] || fail "the 16 MiB round trip failed in L1"
	sent=$(console_value vsock_sent_sum)
	[ "$(console_value vsock_sent_bytes)" = 16777216 ] &&
	[ "$(console_value vsock_recv_bytes)" = 16777216 ] &&
	[ "$(console_value vsock_served_bytes_2)" = 16777216 ] ||
		fail "byte counts: sent $(console_value vsock_sent_bytes), guest got" \
		     "$(console_value vsock_served_bytes_2), back $(console_value vsock_recv_bytes)"
	[ -n "$sent" ] && [ "$(console_value vsock_served_sum_2)" = "$sent" ] &&
	[ "$(console_value vsock_recv_sum)" = "$sent" ] ||
		fail "checksums differ: sent $sent, guest $(console_value vsock_served_sum_2)," \
		     "back $(console_value vsock_recv_sum)"
	[ "$(console_value guest_serve_status)" = 0 ] || fail "the guest's server failed"
	note "16 MiB each way in $(console_value vsock_round_trip_ms) ms"
}

# Packed virtqueues (VIRTIO_F_RING_PACKED) with the Debian kernel's
# virtio_ring: virtio-blk, virtio-net (user mode) and virtio-console on the
# modern virtio-pci transport must all have negotiated packed rings (bit 34
# of /sys/bus/virtio/devices/*/features), then carry real traffic: a 32 MiB
# blk pattern written with fsync and read back with O_DIRECT (and found in
# the image in L1), 16 MiB each way over TCP through libslirp, and a line
# each way over hvc0.  Two vCPUs, so completions and submissions cross CPUs.
# lkvm's stdout carries both ttyS0 and hvc0: the hvc0 exchange happens
# only once L1 has seen NET-DONE, the guest's last serial line, so the two
# never share a line.
PACKED_IMG=/tmp/packed-blk.img
PACKED_MIB=16
# net-user.sh's helpers (net_dhcp, wait_file, net_ms, l1_say); this file
# then defines its own case functions and settings.
. "${NESTED_DIR:-}/cases/net-user.sh"
CASE_CPUS=2
CASE_MEM=512
CASE_TIMEOUT=300
CASE_APPEND="console=ttyS0"

# ---- L2 (guest) ----

# packed_report NAME ID: NAME_packed=bit 34 of the features of virtio device ID.
packed_report() {
	want=$(printf '0x%04x' "$2")
	for d in /sys/bus/virtio/devices/virtio*; do
		[ "$(cat "$d/device" 2>/dev/null)" = "$want" ] || continue
		echo "$1_packed=$(cut -c35 "$d/features")"
		echo "$1_driver=$(basename "$(readlink "$d/driver")")"
		return
	done
	echo "$1_packed=absent"
}

case_guest() {
	[ -e /dev/hvc0 ] || mknod /dev/hvc0 c 229 0
	# Open now: what L1 types later waits in the tty until we read it.
	exec 3< /dev/hvc0
	packed_report blk 2
	packed_report net 1
	packed_report console 3

	dd if=/dev/urandom of=/tmp/pat bs=1M count=32 2>/dev/null
	echo "pat_md5=$(md5sum < /tmp/pat | cut -c1-32)"
	dd if=/tmp/pat of=/dev/vda bs=1M seek=4 conv=fsync 2>/dev/null && echo "write_fsync=ok"
	rm -f /tmp/pat
	echo 3 > /proc/sys/vm/drop_caches
	echo "direct_md5=$(dd if=/dev/vda bs=1M skip=4 count=32 iflag=direct 2>/dev/null | md5sum | cut -c1-32)"

	net_dhcp eth0
	dd if=/dev/urandom of=/tmp/up.bin bs=1M count=16 2>/dev/null
	echo "GUEST_TX_MD5=$(md5sum /tmp/up.bin | cut -d' ' -f1)"
	nc 10.0.2.2 5555 < /tmp/up.bin > /dev/null
	echo "NET-UPLOAD-RC=$?"
	rm -f /tmp/up.bin
	mkfifo /tmp/nc.in
	( nc -l -p 5556 <> /tmp/nc.in > /tmp/down.bin; touch /tmp/down.done ) &
	sleep 1
	echo "NET-LISTENING"
	if wait_file /tmp/down.done 120; then
		echo "GUEST_RX_MD5=$(md5sum /tmp/down.bin | cut -d' ' -f1)"
	fi
	echo "NET-DONE"

	# A line in over hvc0 (sent after NET-DONE), one out that depends on it.
	if read -r -t 60 line <&3; then
		echo "hvc-packed-$line-ok" > /dev/hvc0
	fi
	exec 3<&-
}

# ---- L1 ----

case_l1_setup() {
	ip link set lo up
	truncate -s 48M $PACKED_IMG
	dd if=/dev/urandom of=/tmp/packed-net.l1 bs=1M count=$PACKED_MIB 2>/dev/null
	CASE_INFO="l1_tx_md5=$(md5sum /tmp/packed-net.l1 | cut -d' ' -f1)"
	CASE_ARGS="-d $PACKED_IMG --console virtio -n mode=user,hostfwd=tcp:127.0.0.1:5556-:5556"
	rm -f /tmp/packed-net.rx /tmp/packed-net.in
	mkfifo /tmp/packed-net.in
	nc -l -p 5555 <> /tmp/packed-net.in > /tmp/packed-net.rx &
	echo $! > /tmp/packed-net.pid
}

case_input() {
	if wait_for NET-UPLOAD-RC 200; then
		l1_say "L1_RX_MD5=$(md5sum /tmp/packed-net.rx | cut -d' ' -f1)"
	fi
	if wait_for NET-LISTENING 60; then
		nc 127.0.0.1 5556 < /tmp/packed-net.l1 > /dev/null
		l1_say "L1_FWD_RC=$?"
	fi
	wait_for NET-DONE 60
	kill "$(cat /tmp/packed-net.pid)" 2>/dev/null
	rm -f /tmp/packed-net.rx /tmp/packed-net.l1 /tmp/packed-net.in /tmp/packed-net.pid
	echo 42
	wait_for hvc-packed-42-ok 20
}

case_l1_after() {
	echo "l1_md5=$(dd if=$PACKED_IMG bs=1M skip=4 count=32 2>/dev/null | md5sum | cut -c1-32)"
	rm -f $PACKED_IMG
}

# ---- host ----

case_check() {
	expect_exit 0
	for dev in blk net console; do
		[ "$(console_value ${dev}_packed)" = 1 ] ||
			fail "virtio-$dev: VIRTIO_F_RING_PACKED is '$(console_value ${dev}_packed)', want 1"
	done
	[ "$(console_value blk_driver)" = virtio_blk ] || fail "virtio_blk not bound"
	pat=$(console_value pat_md5)
	[ -n "$pat" ] || fail "the guest reported no pattern"
	[ "$(console_value write_fsync)" = ok ] || fail "blk write + fsync of 32 MiB failed"
	[ "$(console_value direct_md5)" = "$pat" ] || fail "blk O_DIRECT read-back differs from the pattern"
	[ "$(console_value l1_md5)" = "$pat" ] || fail "the image file in L1 differs from the pattern"
	up=$(console_value GUEST_TX_MD5)
	[ -n "$up" ] && [ "$up" = "$(console_value L1_RX_MD5)" ] ||
		fail "net guest->L1: guest md5 '$up', L1 md5 '$(console_value L1_RX_MD5)'"
	down=$(info l1_tx_md5)
	[ -n "$down" ] && [ "$down" = "$(console_value GUEST_RX_MD5)" ] ||
		fail "net L1->guest: L1 md5 '$down', guest md5 '$(console_value GUEST_RX_MD5)'"
	expect_console 'hvc-packed-42-ok'
}

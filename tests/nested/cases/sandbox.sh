# The seccomp sandbox with a real guest: while the guest has used two
# disks (libaio and ,sync), user-mode networking (DHCP, ping, a TCP flow to
# L1 and one in through hostfwd), virtio-rng and the balloon (inflated and
# read through the management socket), every thread of lkvm must be
# filtered (Seccomp: 2 in /proc/PID/task/*/status), and the run must end
# normally: no thread made a forbidden call.
CASE_CPUS=2
CASE_MEM=256
CASE_TIMEOUT=150

IMG=/tmp/sandbox-a.img
IMG_SYNC=/tmp/sandbox-b.img

case_l1_setup() {
	ip link set lo up	# libslirp reaches L1 through its loopback
	dd if=/dev/zero of=$IMG bs=1M count=32 2>/dev/null
	dd if=/dev/zero of=$IMG_SYNC bs=1M count=32 2>/dev/null
	CASE_ARGS="-d $IMG -d $IMG_SYNC,sync --rng --balloon
		-n mode=user,hostfwd=tcp:127.0.0.1:5557-:5557"
}

case_guest() {
	dd if=/dev/urandom of=/tmp/pat bs=64k count=16 2>/dev/null
	dd if=/tmp/pat of=/dev/vda bs=64k oflag=direct conv=fsync 2>/dev/null
	dd if=/tmp/pat of=/dev/vdb bs=64k conv=fsync 2>/dev/null
	echo 3 > /proc/sys/vm/drop_caches
	echo "guest_vda=$(dd if=/dev/vda bs=64k count=16 iflag=direct 2>/dev/null | md5sum | cut -c1-8)"
	echo "guest_vdb=$(dd if=/dev/vdb bs=64k count=16 2>/dev/null | md5sum | cut -c1-8)"
	echo "guest_pat=$(md5sum < /tmp/pat | cut -c1-8)"
	echo "guest_rng=$(head -c 32 /dev/hwrng 2>/dev/null | wc -c)"
	cat > /tmp/udhcpc.sh <<'EOS'
#!/bin/sh
case "$1" in
bound|renew)
	ip addr add "$ip/${mask:-24}" dev "$interface"
	for r in $router; do ip route add default via "$r" dev "$interface"; break; done ;;
esac
EOS
	chmod +x /tmp/udhcpc.sh
	ip link set lo up
	ip link set eth0 up
	udhcpc -i eth0 -s /tmp/udhcpc.sh -n -q -t 10 -T 2 >/dev/null 2>&1
	echo "guest_ping=$(ping -c 1 -W 5 10.0.2.2 >/dev/null 2>&1 && echo ok || echo failed)"
	echo out-flow | nc -w 5 10.0.2.2 5558 >/dev/null 2>&1
	mkfifo /tmp/in-fifo
	nc -l -p 5557 <> /tmp/in-fifo > /tmp/in-flow 2>/dev/null &
	echo "SANDBOX-READY"
	read -r _
	n=100
	while [ ! -s /tmp/in-flow ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
	echo "guest_tcp_in=$(cat /tmp/in-flow)"
}

case_input() {
	rm -f /tmp/sandbox-out.rx
	rm -f /tmp/sandbox-out.in
	mkfifo /tmp/sandbox-out.in	# opened read-write: never ends
	nc -l -p 5558 <> /tmp/sandbox-out.in > /tmp/sandbox-out.rx &
	wait_for SANDBOX-READY 120 || return 0
	{
		n=100
		while [ ! -s /tmp/sandbox-out.rx ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
		echo "l1_tcp_out=$(cat /tmp/sandbox-out.rx)"
		echo in-flow | nc -w 5 127.0.0.1 5557 >/dev/null 2>&1
		lkvm balloon --name sandbox --inflate 16 >/dev/null 2>&1
		echo "l1_balloon_status=$?"
		lkvm stat --name sandbox --memory >/dev/null 2>&1
		echo "l1_stat_status=$?"
		echo "l1_threads=$(thread_seccomp sandbox)"
	} > /tmp/sandbox-l1.out 2>&1
	{ echo; cat /tmp/sandbox-l1.out; } >&2
	echo done
}

case_check() {
	expect_exit 0
	expect_no_console 'lkvm: seccomp:'
	threads=$(console_value l1_threads)
	note "threads: $threads"
	[ -n "$threads" ] || { fail "no thread list from L1"; return; }
	unconfined=$(echo "$threads" | tr ',' '\n' | grep -v ':2$' | grep -v '^$')
	[ -z "$unconfined" ] || fail "threads not filtered: $(echo $unconfined)"
	for t in lkvm launcher signals vcpu0 vcpu1 ioeventfd mgmt blk-vda-q0 blk-vdb-q0 \
		 lkvm-disk-aio net-user; do
		echo ",$threads" | grep -q ",$t:" || fail "no thread $t (the case did not exercise it)"
	done
	[ "$(console_value guest_vda)" = "$(console_value guest_pat)" ] || fail "vda data differ"
	[ "$(console_value guest_vdb)" = "$(console_value guest_pat)" ] || fail "vdb data differ"
	[ "$(console_value guest_rng)" = 32 ] || fail "virtio-rng gave $(console_value guest_rng) bytes"
	[ "$(console_value guest_ping)" = ok ] || fail "ping through libslirp failed"
	[ "$(console_value l1_tcp_out)" = out-flow ] || fail "flow to L1: '$(console_value l1_tcp_out)'"
	[ "$(console_value guest_tcp_in)" = in-flow ] || fail "hostfwd flow: '$(console_value guest_tcp_in)'"
	[ "$(console_value l1_balloon_status)" = 0 ] || fail "lkvm balloon failed"
	[ "$(console_value l1_stat_status)" = 0 ] || fail "lkvm stat --memory failed"
}

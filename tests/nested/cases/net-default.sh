# No -n option: like kvmtool, the guest gets one user-mode NIC with the
# default MAC of NIC 0, a DHCP lease 10.0.2.15 and a path to L1's
# loopback through the gateway 10.0.2.2 (a 1 MiB transfer, checksummed).
CASE_TIMEOUT=120

case_guest() {
	cat > /tmp/udhcpc.sh <<'EOS'
#!/bin/sh
case "$1" in
bound|renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	;;
esac
EOS
	chmod +x /tmp/udhcpc.sh
	ip link set lo up
	ip link set eth0 up
	udhcpc -i eth0 -s /tmp/udhcpc.sh -n -q -t 10 -T 2 >/dev/null 2>&1
	echo "NET-MAC=$(cat /sys/class/net/eth0/address)"
	echo "NET-IP=$(ip -4 -o addr show dev eth0 | sed -n 's/.* inet \([0-9.]*\).*/\1/p')"
	dd if=/dev/urandom of=/tmp/up.bin bs=1M count=1 2>/dev/null
	echo "GUEST_TX_MD5=$(md5sum /tmp/up.bin | cut -d' ' -f1)"
	nc 10.0.2.2 5559 < /tmp/up.bin > /dev/null
	echo "NET-UPLOAD-RC=$?"
	echo "NET-DONE"
}

case_l1_setup() {
	ip link set lo up
	rm -f /tmp/net-default.rx /tmp/net-default.in
	mkfifo /tmp/net-default.in
	nc -l -p 5559 <> /tmp/net-default.in > /tmp/net-default.rx &
	echo $! > /tmp/net-default.pid
}

case_input() {
	wait_for NET-DONE 100
	printf '\nL1_RX_MD5=%s\n' "$(md5sum /tmp/net-default.rx | cut -d' ' -f1)" > /dev/console
	kill "$(cat /tmp/net-default.pid)" 2>/dev/null
	rm -f /tmp/net-default.rx /tmp/net-default.in /tmp/net-default.pid
}

case_check() {
	expect_exit 0
	expect_console '^NET-MAC=02:6c:6b:76:6d:00$'
	expect_console '^NET-IP=10\.0\.2\.15$'
	expect_console '^NET-UPLOAD-RC=0'
	md5=$(console_value GUEST_TX_MD5)
	[ -n "$md5" ] && [ "$md5" = "$(console_value L1_RX_MD5)" ] ||
		fail "1 MiB guest->L1: guest md5 '$md5', L1 md5 '$(console_value L1_RX_MD5)'"
}

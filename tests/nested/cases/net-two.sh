# Two NICs at once, both user mode on different networks: each has its
# own default MAC, gets its own DHCP lease, and carries a 4 MiB transfer
# to a listener on L1's loopback (through 10.0.2.2 and 10.0.3.2).  A
# third "-n none" adds no NIC.
CASE_MEM=256
CASE_TIMEOUT=180
CASE_ARGS="-n mode=user -n none -n mode=user,host_ip=10.0.3.2,guest_ip=10.0.3.15"

# ---- L2 (guest) ----

net_dhcp() {
	cat > /tmp/udhcpc.sh <<'EOF'
#!/bin/sh
case "$1" in
bound|renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	;;
esac
EOF
	chmod +x /tmp/udhcpc.sh
	ip link set "$1" up
	udhcpc -i "$1" -s /tmp/udhcpc.sh -n -q -t 10 -T 2 >/dev/null 2>&1
}

case_guest() {
	ip link set lo up
	echo "NET-IFACES=$(ls /sys/class/net | tr '\n' ' ')"
	for i in 0 1; do
		net_dhcp "eth$i"
		echo "NET-MAC$i=$(cat /sys/class/net/eth$i/address)"
		echo "NET-IP$i=$(ip -4 -o addr show dev "eth$i" | sed -n 's/.* inet \([0-9.]*\).*/\1/p')"
	done
	dd if=/dev/urandom of=/tmp/up.bin bs=1M count=4 2>/dev/null
	echo "GUEST_TX_MD5=$(md5sum /tmp/up.bin | cut -d' ' -f1)"
	nc 10.0.2.2 5557 < /tmp/up.bin > /dev/null
	echo "NET-UPLOAD0-RC=$?"
	nc 10.0.3.2 5558 < /tmp/up.bin > /dev/null
	echo "NET-UPLOAD1-RC=$?"
	# Which interface each transfer left by: its transmit counter moved.
	echo "NET-TX0=$(cat /sys/class/net/eth0/statistics/tx_bytes)"
	echo "NET-TX1=$(cat /sys/class/net/eth1/statistics/tx_bytes)"
	echo "NET-DONE"
}

# ---- L1 ----

case_l1_setup() {
	ip link set lo up
	for p in 5557 5558; do
		rm -f "/tmp/net-two.$p" "/tmp/net-two.$p.in"
		mkfifo "/tmp/net-two.$p.in"
		nc -l -p "$p" <> "/tmp/net-two.$p.in" > "/tmp/net-two.$p" &
		echo $! > "/tmp/net-two.$p.pid"
	done
}

case_input() {
	wait_for NET-DONE 150
	for p in 5557 5558; do
		printf '\nL1_RX_MD5_%s=%s\n' "$p" "$(md5sum "/tmp/net-two.$p" | cut -d' ' -f1)" \
			> /dev/console
		kill "$(cat "/tmp/net-two.$p.pid")" 2>/dev/null
		rm -f "/tmp/net-two.$p" "/tmp/net-two.$p.in" "/tmp/net-two.$p.pid"
	done
}

# ---- host ----

case_check() {
	expect_exit 0
	[ "$(console_value NET-IFACES)" = "eth0 eth1 lo " ] ||
		fail "guest interfaces '$(console_value NET-IFACES)', expected eth0 eth1 lo"
	expect_console '^NET-MAC0=02:6c:6b:76:6d:00$'
	# NIC 1 or 2 by the count of -n options: "none" may hold a number.
	expect_console '^NET-MAC1=02:6c:6b:76:6d:0[12]$'
	expect_console '^NET-IP0=10\.0\.2\.15$'
	expect_console '^NET-IP1=10\.0\.3\.15$'
	expect_console '^NET-UPLOAD0-RC=0'
	expect_console '^NET-UPLOAD1-RC=0'
	md5=$(console_value GUEST_TX_MD5)
	for p in 5557 5558; do
		[ -n "$md5" ] && [ "$md5" = "$(console_value "L1_RX_MD5_$p")" ] ||
			fail "4 MiB to port $p: guest md5 '$md5', L1 md5 '$(console_value "L1_RX_MD5_$p")'"
	done
	for i in 0 1; do
		tx=$(console_value "NET-TX$i")
		[ -n "$tx" ] && [ "$tx" -gt 4000000 ] ||
			fail "eth$i sent $tx bytes, less than its 4 MiB transfer"
	done
}

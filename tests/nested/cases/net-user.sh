# User-mode networking (libslirp), no privileges: the guest gets
# 10.0.2.15 by DHCP, sends 64 MiB through the gateway 10.0.2.2 to a
# listener on L1's loopback, and receives 64 MiB that L1 sends to a
# hostfwd port (127.0.0.1:5556 -> guest port 5556).  Checksums must match
# on both sides.  arm64: 16 MiB each way (net.mib=16).
CASE_ARCH="x86_64 arm64"
CASE_MEM=512
CASE_TIMEOUT=300
CASE_ARGS="-n mode=user,hostfwd=tcp:127.0.0.1:5556-:5556"
NET_MIB=64
if [ "${NESTED_ARCH:-x86_64}" = arm64 ]; then
	NET_MIB=16
	CASE_APPEND="net.mib=$NET_MIB"
fi

# ---- L2 (guest) ----

# eth0 by DHCP; busybox udhcpc applies a lease only through a script.
net_dhcp() {
	cat > /tmp/udhcpc.sh <<'EOF'
#!/bin/sh
case "$1" in
bound|renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	for r in $router; do ip route add default via "$r" dev "$interface"; break; done
	echo "$dns" > /tmp/dns.$interface
	;;
esac
EOF
	chmod +x /tmp/udhcpc.sh
	ip link set lo up
	ip link set "$1" up
	udhcpc -i "$1" -s /tmp/udhcpc.sh -n -q -t 10 -T 2 >/dev/null 2>&1
}

net_ms() {
	read -r up _ < /proc/uptime
	echo $(( ${up%.*}${up#*.} * 10 ))
}

# Waits up to $2 seconds for file $1.
wait_file() {
	n=$(( $2 * 10 ))
	while [ ! -e "$1" ] && [ "$n" -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
	[ -e "$1" ]
}

case_guest() {
	net_dhcp eth0
	echo "NET-MAC=$(cat /sys/class/net/eth0/address)"
	echo "NET-IP=$(ip -4 -o addr show dev eth0 | sed -n 's/.* inet \([0-9.]*\).*/\1/p')"
	echo "NET-ROUTE=$(ip route | sed -n 's/^default via \([0-9.]*\).*/\1/p')"
	echo "NET-DNS=$(cat /tmp/dns.eth0 2>/dev/null)"
	mib=$(cmdline_value net.mib)
	dd if=/dev/urandom of=/tmp/up.bin bs=1M count=${mib:-64} 2>/dev/null
	echo "GUEST_TX_MD5=$(md5sum /tmp/up.bin | cut -d' ' -f1)"
	t0=$(net_ms)
	nc 10.0.2.2 5555 < /tmp/up.bin > /dev/null
	echo "NET-UPLOAD-RC=$?"
	echo "NET-UPLOAD-MS=$(( $(net_ms) - t0 ))"
	rm -f /tmp/up.bin

	# Host to guest through the hostfwd rule.  nc -l leaves when the
	# sender closes; its stdin must not end before (a FIFO opened
	# read-write never does).
	mkfifo /tmp/nc.in
	( nc -l -p 5556 <> /tmp/nc.in > /tmp/down.bin; touch /tmp/down.done ) &
	sleep 1
	echo "NET-LISTENING"
	if wait_file /tmp/down.done 200; then
		echo "GUEST_RX_MD5=$(md5sum /tmp/down.bin | cut -d' ' -f1)"
	fi
	echo "NET-DONE"
}

# ---- L1 ----

case_l1_setup() {
	ip link set lo up
	dd if=/dev/urandom of=/tmp/net-user.l1 bs=1M count=$NET_MIB 2>/dev/null
	CASE_INFO="l1_tx_md5=$(md5sum /tmp/net-user.l1 | cut -d' ' -f1)"
	rm -f /tmp/net-user.rx /tmp/net-user.in
	mkfifo /tmp/net-user.in
	nc -l -p 5555 <> /tmp/net-user.in > /tmp/net-user.rx &
	echo $! > /tmp/net-user.pid
}

# Lines for the host check go to L1's console, inside this case's log.
l1_say() {
	printf '\n%s\n' "$*" > /dev/console
}

case_input() {
	if wait_for NET-UPLOAD-RC 240; then
		l1_say "L1_RX_MD5=$(md5sum /tmp/net-user.rx | cut -d' ' -f1)"
	fi
	if wait_for NET-LISTENING 60; then
		t0=$(net_ms)
		nc 127.0.0.1 5556 < /tmp/net-user.l1 > /dev/null
		rc=$?
		l1_say "L1_FWD_RC=$rc"
		l1_say "L1_FWD_MS=$(( $(net_ms) - t0 ))"
	fi
	wait_for NET-DONE 60
	# The listener of an upload that never came.
	kill "$(cat /tmp/net-user.pid)" 2>/dev/null
	rm -f /tmp/net-user.rx /tmp/net-user.l1 /tmp/net-user.in /tmp/net-user.pid
}

# ---- host ----

case_check() {
	expect_exit 0
	expect_console '^NET-IP=10\.0\.2\.15$'
	expect_console '^NET-ROUTE=10\.0\.2\.2$'
	expect_console '^NET-DNS=10\.0\.2\.3'
	expect_console '^NET-UPLOAD-RC=0'
	up=$(console_value GUEST_TX_MD5)
	[ -n "$up" ] && [ "$up" = "$(console_value L1_RX_MD5)" ] ||
		fail "guest->L1 $NET_MIB MiB: guest md5 '$up', L1 md5 '$(console_value L1_RX_MD5)'"
	down=$(info l1_tx_md5)
	[ -n "$down" ] && [ "$down" = "$(console_value GUEST_RX_MD5)" ] ||
		fail "L1->guest via hostfwd $NET_MIB MiB: L1 md5 '$down', guest md5 '$(console_value GUEST_RX_MD5)'"
	[ "$(console_value L1_FWD_RC)" = 0 ] ||
		fail "L1's nc to the hostfwd port: status '$(console_value L1_FWD_RC)'"
	note "guest->L1 $NET_MIB MiB in $(console_value NET-UPLOAD-MS) ms;" \
		"L1->guest (hostfwd) in $(console_value L1_FWD_MS) ms"
}

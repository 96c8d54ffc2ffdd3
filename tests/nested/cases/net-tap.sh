# tap networking: lkvm creates tap lkvmtap0 and runs script= with its
# name, which gives L1's side 192.168.33.1/24; the guest takes
# 192.168.33.15.  Ping both ways, then 64 MiB each way over TCP with
# matching checksums.  net-vhost.sh runs the same with vhost=1.
# Needs tun.ko in L1.
CASE_MEM=512
CASE_TIMEOUT=300
CASE_ARCH="x86_64 arm64"
NET_VHOST=${NET_VHOST:-0}
CASE_ARGS="-n mode=tap,tapif=lkvmtap0,script=/tmp/net-tap-up.sh,vhost=$NET_VHOST"

# ---- L2 (guest) ----

net_ms() {
	read -r up _ < /proc/uptime
	echo $(( ${up%.*}${up#*.} * 10 ))
}

# Interrupts of eth0's virtio device so far (all its /proc/interrupts lines).
net_irqs() {
	dev=$(basename "$(readlink /sys/class/net/eth0/device)")
	awk -v d="$dev" '$0 ~ d"-(input|output)" {
		for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }' \
		/proc/interrupts
}

net_wait_file() {
	n=$(( $2 * 10 ))
	while [ ! -e "$1" ] && [ "$n" -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
	[ -e "$1" ]
}

case_guest() {
	ip link set lo up
	ip link set eth0 up
	ip addr add 192.168.33.15/24 dev eth0
	echo "NET-MAC=$(cat /sys/class/net/eth0/address)"
	echo "NET-FEATURES=$(cat /sys/class/net/eth0/device/features 2>/dev/null)"
	ping -c 3 -W 5 192.168.33.1 > /dev/null
	echo "NET-PING-RC=$?"
	dd if=/dev/urandom of=/tmp/up.bin bs=1M count=64 2>/dev/null
	echo "GUEST_TX_MD5=$(md5sum /tmp/up.bin | cut -d' ' -f1)"
	irq0=$(net_irqs)
	t0=$(net_ms)
	nc 192.168.33.1 5555 < /tmp/up.bin > /dev/null
	echo "NET-UPLOAD-RC=$?"
	echo "NET-UPLOAD-MS=$(( $(net_ms) - t0 ))"
	rm -f /tmp/up.bin
	mkfifo /tmp/nc.in
	( nc -l -p 5556 <> /tmp/nc.in > /tmp/down.bin; touch /tmp/down.done ) &
	sleep 1
	echo "NET-LISTENING"
	if net_wait_file /tmp/down.done 200; then
		echo "GUEST_RX_MD5=$(md5sum /tmp/down.bin | cut -d' ' -f1)"
	fi
	echo "NET-GUEST-IRQS=$(( $(net_irqs) - irq0 ))"
	grep -E 'virtio[0-9]+-(input|output)' /proc/interrupts | tr -s ' ' | sed 's/^/NET-PROC-IRQ /'
	# L1 reads lkvm's counters while the VM still runs, then types a line.
	echo "NET-STATS-NOW"
	read -r -t 30 _
	echo "NET-DONE"
}

# ---- L1 ----

case_l1_setup() {
	[ -c /dev/net/tun ] || insmod /lib/l1-modules/tun.ko 2>/dev/null
	if [ "$NET_VHOST" = 1 ] && [ ! -c /dev/vhost-net ]; then
		for m in tap vhost_iotlb vhost vhost_net; do
			insmod "/lib/l1-modules/$m.ko" 2>/dev/null
		done
	fi
	CASE_INFO="l1_tun=$([ -c /dev/net/tun ] && echo 1 || echo 0)"
	CASE_INFO="$CASE_INFO l1_vhost=$([ -c /dev/vhost-net ] && echo 1 || echo 0)"
	cat > /tmp/net-tap-up.sh <<'EOF'
#!/bin/sh
ip addr add 192.168.33.1/24 dev "$1" && ip link set "$1" up
EOF
	chmod +x /tmp/net-tap-up.sh
	dd if=/dev/urandom of=/tmp/net-tap.l1 bs=1M count=64 2>/dev/null
	CASE_INFO="$CASE_INFO l1_tx_md5=$(md5sum /tmp/net-tap.l1 | cut -d' ' -f1)"
	rm -f /tmp/net-tap.rx /tmp/net-tap.in
	mkfifo /tmp/net-tap.in
	nc -l -p 5555 <> /tmp/net-tap.in > /tmp/net-tap.rx &
	echo $! > /tmp/net-tap.pid
}

net_l1_say() {
	printf '\n%s\n' "$*" > /dev/console
}

case_input() {
	if wait_for NET-UPLOAD-RC 240; then
		net_l1_say "L1_RX_MD5=$(md5sum /tmp/net-tap.rx | cut -d' ' -f1)"
		ping -c 3 -W 5 192.168.33.15 > /dev/null
		net_l1_say "L1_PING_RC=$?"
	fi
	if wait_for NET-LISTENING 60; then
		t0=$(net_ms)
		nc 192.168.33.15 5556 < /tmp/net-tap.l1 > /dev/null
		rc=$?
		net_l1_say "L1_SEND_RC=$rc"
		net_l1_say "L1_SEND_MS=$(( $(net_ms) - t0 ))"
	fi
	if wait_for NET-STATS-NOW 60; then
		# Interrupts the vhost call thread passed on, vs rings on an irqfd.
		lkvm stat --name "$name" 2>/dev/null | grep '^vhost_' | tr 'a-z' 'A-Z' |
			sed 's/^/L1_/' | while read -r l; do net_l1_say "$l"; done
		echo stats-read
	fi
	wait_for NET-DONE 60
	kill "$(cat /tmp/net-tap.pid)" 2>/dev/null
	rm -f /tmp/net-tap.rx /tmp/net-tap.l1 /tmp/net-tap.in /tmp/net-tap.pid
}

# ---- host ----

case_check() {
	[ "$(info l1_tun)" = 1 ] || fail "L1 has no /dev/net/tun (tun.ko not packed into L1)"
	if [ "$NET_VHOST" = 1 ]; then
		[ "$(info l1_vhost)" = 1 ] ||
			fail "L1 has no /dev/vhost-net (vhost_net.ko and its dependencies not packed into L1)"
		expect_console 'tap lkvmtap0 with vhost-net'
	fi
	expect_exit 0
	expect_console '^NET-PING-RC=0'
	expect_console '^L1_PING_RC=0'
	expect_console '^NET-UPLOAD-RC=0'
	up=$(console_value GUEST_TX_MD5)
	[ -n "$up" ] && [ "$up" = "$(console_value L1_RX_MD5)" ] ||
		fail "guest->L1 64 MiB: guest md5 '$up', L1 md5 '$(console_value L1_RX_MD5)'"
	[ "$(console_value L1_SEND_RC)" = 0 ] ||
		fail "L1's nc to the guest: status '$(console_value L1_SEND_RC)'"
	down=$(info l1_tx_md5)
	[ -n "$down" ] && [ "$down" = "$(console_value GUEST_RX_MD5)" ] ||
		fail "L1->guest 64 MiB: L1 md5 '$down', guest md5 '$(console_value GUEST_RX_MD5)'"
	if [ "$NET_VHOST" = 1 ] && [ "${NET_VHOST_PATH:-}" = thread ]; then
		# LKVM_VHOST_IRQFD=0: both rings on the call thread, which must
		# have passed the interrupts on.
		[ "$(console_value L1_VHOST_THREAD_RINGS)" = 2 ] ||
			fail "vhost rings on the call thread: '$(console_value L1_VHOST_THREAD_RINGS)', want 2"
		[ "$(console_value L1_VHOST_THREAD_SIGNALS)" -gt 0 ] 2>/dev/null ||
			fail "no vhost interrupt through lkvm's thread with LKVM_VHOST_IRQFD=0"
	elif [ "$NET_VHOST" = 1 ]; then
		# MSI-X on both arches: the rings interrupt through irqfds, lkvm's
		# call thread passes nothing on.
		[ "$(console_value L1_VHOST_IRQFD_RINGS)" = 2 ] ||
			fail "vhost rings on an irqfd: '$(console_value L1_VHOST_IRQFD_RINGS)', want 2"
		[ "$(console_value L1_VHOST_THREAD_SIGNALS)" = 0 ] ||
			fail "vhost interrupts through lkvm's thread: '$(console_value L1_VHOST_THREAD_SIGNALS)'"
	fi
	note "guest interrupts during the transfers $(console_value NET-GUEST-IRQS);" \
		"vhost via thread $(console_value L1_VHOST_THREAD_SIGNALS)," \
		"irqfd rings $(console_value L1_VHOST_IRQFD_RINGS)," \
		"kicks through lkvm $(console_value L1_VHOST_LKVM_KICKS)"
	note "guest->L1 64 MiB in $(console_value NET-UPLOAD-MS) ms;" \
		"L1->guest in $(console_value L1_SEND_MS) ms;" \
		"virtio features $(console_value NET-FEATURES)"
}

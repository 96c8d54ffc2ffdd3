# User-mode networking, a fetch through the gateway: the guest gets its
# address by DHCP and downloads 8 MiB with wget from an HTTP server on L1's
# loopback, reached as the gateway 10.0.2.2; the md5 must match L1's.
# Written for arm64 (its tier runs it); the guest side is the same on x86.
CASE_ARCH=arm64
CASE_MEM=384
CASE_TIMEOUT=150
CASE_ARGS="-n mode=user"
WWW=/tmp/net-fetch

case_l1_setup() {
	ip link set lo up
	mkdir -p $WWW
	dd if=/dev/urandom of=$WWW/blob bs=1M count=8 2>/dev/null
	CASE_INFO="l1_md5=$(md5sum < $WWW/blob | cut -c1-32)"
	httpd -f -p 127.0.0.1:8080 -h $WWW &
	echo $! > $WWW.pid
}

case_guest() {
	. /cases/net-user.sh	# net_dhcp
	net_dhcp eth0
	echo "NET-IP=$(ip -4 -o addr show dev eth0 | sed -n 's/.* inet \([0-9.]*\).*/\1/p')"
	wget -q -O /tmp/blob http://10.0.2.2:8080/blob
	echo "fetch_status=$?"
	echo "fetch_md5=$(md5sum < /tmp/blob | cut -c1-32)"
}

case_l1_after() {
	kill "$(cat $WWW.pid)" 2>/dev/null
	rm -rf $WWW $WWW.pid
}

case_check() {
	expect_exit 0
	expect_console '^NET-IP=10\.0\.2\.15$'
	[ "$(console_value fetch_status)" = 0 ] || fail "wget through the gateway: status $(console_value fetch_status)"
	[ -n "$(info l1_md5)" ] && [ "$(console_value fetch_md5)" = "$(info l1_md5)" ] ||
		fail "fetched md5 '$(console_value fetch_md5)', L1's '$(info l1_md5)'"
}

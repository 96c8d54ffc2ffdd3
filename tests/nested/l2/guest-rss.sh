# Not a test: the guest of bench/rss.sh.  Uses both devices the way a
# short job would (reads 16 MiB of the disk, brings the NIC up and sends a
# few packets), then says it is ready and idles while L1 reads the VMM's
# memory use; L1 stops the VMM.
case_guest() {
	dev=
	for d in /dev/vda /dev/vdb; do [ -b "$d" ] && { dev=$d; break; }; done
	[ -n "$dev" ] && dd if="$dev" of=/dev/null bs=1M count=16 2>/dev/null
	ip link set eth0 up 2>/dev/null
	ip addr add 10.0.2.15/24 dev eth0 2>/dev/null
	ping -c 3 -W 1 10.0.2.2 > /dev/null 2>&1
	echo "GUEST-RSS disk=${dev:-none} net=$(cat /sys/class/net/eth0/operstate 2>/dev/null)"
	echo "GUEST-RSS-READY"
	while :; do sleep 60; done
}

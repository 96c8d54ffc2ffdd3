# virtio-blk on a raw image made in L1: the guest sees /dev/vda with the
# image's size, serial and one queue per vCPU, reads what L1 wrote, writes
# and reads back through O_DIRECT, discards, and what it flushed is in the
# image once lkvm has exited.
CASE_CPUS=2
CASE_TIMEOUT=120
BLK_IMG=/tmp/blk-basic.img

case_l1_setup() {
	dd if=/dev/zero of=$BLK_IMG bs=1M count=64 2>/dev/null
	printf 'LKVM-L1-MARKER' | dd of=$BLK_IMG bs=512 seek=1000 conv=notrunc 2>/dev/null
	CASE_ARGS="-d $BLK_IMG"
}

case_guest() {
	echo "vda_sectors=$(cat /sys/block/vda/size)"
	echo "vda_serial=$(cat /sys/block/vda/serial 2>/dev/null)"
	echo "vda_queues=$(ls /sys/block/vda/mq | wc -l)"
	echo "vda_ro=$(cat /sys/block/vda/ro)"
	echo "vda_discard_max=$(cat /sys/block/vda/queue/discard_max_bytes)"
	echo "vda_wz_max=$(cat /sys/block/vda/queue/write_zeroes_max_bytes)"
	echo "marker=$(dd if=/dev/vda bs=512 skip=1000 count=1 2>/dev/null | head -c 14)"
	dd if=/dev/urandom of=/tmp/pat bs=1M count=8 2>/dev/null
	dd if=/tmp/pat of=/dev/vda bs=1M seek=16 oflag=direct 2>/dev/null
	w=$(md5sum < /tmp/pat | cut -c1-32)
	r=$(dd if=/dev/vda bs=64k skip=256 count=128 iflag=direct 2>/dev/null | md5sum | cut -c1-32)
	[ "$w" = "$r" ] && echo "rw_match=yes" || echo "rw_match=no"
	t0=$(cut -d' ' -f1 /proc/uptime)
	dd if=/dev/vda of=/dev/null bs=1M iflag=direct 2>/dev/null
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo "read_64m_s=$(echo "$t1 - $t0" | bc)"
	blkdiscard -o 33554432 -l 1048576 /dev/vda && echo "discard=ok"
	printf 'FLUSHED-BY-L2' | dd of=/dev/vda bs=512 seek=2000 conv=fsync 2>/dev/null &&
		echo "flush=ok"
}

case_l1_after() {
	echo "l1_after=$(dd if=$BLK_IMG bs=512 skip=2000 count=1 2>/dev/null | head -c 13)"
	rm -f $BLK_IMG
}

case_check() {
	expect_exit 0
	[ "$(console_value vda_sectors)" = 131072 ] || fail "vda has $(console_value vda_sectors) sectors"
	[ "$(console_value vda_serial)" = lkvm-vda ] || fail "serial '$(console_value vda_serial)'"
	[ "$(console_value vda_queues)" = 2 ] || fail "$(console_value vda_queues) queues, want 2"
	[ "$(console_value vda_ro)" = 0 ] || fail "vda is read-only"
	[ "$(console_value marker)" = LKVM-L1-MARKER ] || fail "marker '$(console_value marker)'"
	[ "$(console_value rw_match)" = yes ] || fail "data written differs when read back"
	[ "$(console_value discard)" = ok ] || fail "discard failed"
	[ "$(console_value flush)" = ok ] || fail "flush failed"
	expect_console '^l1_after=FLUSHED-BY-L2'
	note "64 MiB read in $(console_value read_64m_s) s; discard max $(console_value vda_discard_max)"
}

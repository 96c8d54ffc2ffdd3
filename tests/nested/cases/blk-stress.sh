# Parallel direct I/O from four vCPUs over the four request queues of one
# disk (libaio backend): every region reads back as written, and L1 sees
# the same bytes in the image.
CASE_CPUS=4
CASE_MEM=384
CASE_TIMEOUT=180
BLK_IMG=/tmp/blk-stress.img

case_l1_setup() {
	dd if=/dev/zero of=$BLK_IMG bs=1M count=64 2>/dev/null
	CASE_ARGS="-d $BLK_IMG"
}

case_guest() {
	for i in 0 1 2 3; do
		dd if=/dev/urandom of=/tmp/p$i bs=1M count=8 2>/dev/null
	done
	for i in 0 1 2 3; do
		taskset -c $i dd if=/tmp/p$i of=/dev/vda bs=16k seek=$((i * 512 + 64)) \
			oflag=direct 2>/dev/null &
	done
	# A reader at the same time, on another region.
	dd if=/dev/vda of=/dev/null bs=4k count=2048 iflag=direct 2>/dev/null &
	wait
	bad=0
	for i in 0 1 2 3; do
		w=$(md5sum < /tmp/p$i | cut -c1-32)
		r=$(dd if=/dev/vda bs=16k skip=$((i * 512 + 64)) count=512 iflag=direct 2>/dev/null |
			md5sum | cut -c1-32)
		[ "$w" = "$r" ] || bad=$((bad + 1))
		echo "sum$i=$w"
	done
	echo "stress_bad=$bad"
	sync
}

case_l1_after() {
	for i in 0 1 2 3; do
		echo "l1_sum$i=$(dd if=$BLK_IMG bs=16k skip=$((i * 512 + 64)) count=512 2>/dev/null |
			md5sum | cut -c1-32)"
	done
	rm -f $BLK_IMG
}

case_check() {
	expect_exit 0
	[ "$(console_value stress_bad)" = 0 ] ||
		fail "$(console_value stress_bad) regions read back wrong in the guest"
	for i in 0 1 2 3; do
		[ "$(console_value l1_sum$i)" = "$(console_value sum$i)" ] ||
			fail "region $i differs in the image"
	done
}

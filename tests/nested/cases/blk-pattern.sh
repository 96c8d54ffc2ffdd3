# virtio-blk data integrity: the guest writes a 32 MiB random pattern to
# vda through the page cache and fsyncs it, drops its caches and reads it
# back with O_DIRECT; L1 then finds the same bytes in the image file at
# the same offset.  Two vCPUs, so completions and submissions cross CPUs.
# Written for arm64 (its tier runs it); the guest side is the same on x86.
CASE_ARCH=arm64
CASE_CPUS=2
CASE_MEM=384
CASE_TIMEOUT=150
BLK_IMG=/tmp/blk-pattern.img

case_l1_setup() {
	truncate -s 48M $BLK_IMG
	CASE_ARGS="-d $BLK_IMG"
}

case_guest() {
	dd if=/dev/urandom of=/tmp/pat bs=1M count=32 2>/dev/null
	echo "pat_md5=$(md5sum < /tmp/pat | cut -c1-32)"
	# At 4 MiB, so the pattern starts away from sector 0.
	dd if=/tmp/pat of=/dev/vda bs=1M seek=4 conv=fsync 2>/dev/null &&
		echo "write_fsync=ok"
	rm -f /tmp/pat
	echo 3 > /proc/sys/vm/drop_caches
	echo "direct_md5=$(dd if=/dev/vda bs=1M skip=4 count=32 iflag=direct 2>/dev/null | md5sum | cut -c1-32)"
	echo "cached_md5=$(dd if=/dev/vda bs=1M skip=4 count=32 2>/dev/null | md5sum | cut -c1-32)"
}

case_l1_after() {
	echo "l1_md5=$(dd if=$BLK_IMG bs=1M skip=4 count=32 2>/dev/null | md5sum | cut -c1-32)"
	rm -f $BLK_IMG
}

case_check() {
	expect_exit 0
	pat=$(console_value pat_md5)
	[ -n "$pat" ] || fail "the guest reported no pattern"
	[ "$(console_value write_fsync)" = ok ] || fail "write + fsync of 32 MiB failed"
	[ "$(console_value direct_md5)" = "$pat" ] || fail "O_DIRECT read-back differs from the pattern"
	[ "$(console_value cached_md5)" = "$pat" ] || fail "buffered read-back differs from the pattern"
	[ "$(console_value l1_md5)" = "$pat" ] || fail "the image file in L1 differs from the pattern"
}

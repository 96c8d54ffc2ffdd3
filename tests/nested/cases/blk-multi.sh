# Two images: vda read-only (,ro), vdb with forced synchronous I/O (,sync;
# ,direct cannot be tried: L1's tmpfs has no O_DIRECT).  The guest cannot
# write vda; it makes an ext2 file system on vdb, writes a file, syncs and
# reads it back; L1 finds vda unchanged and the ext2 magic on vdb.
CASE_CPUS=4
CASE_TIMEOUT=150
BLK_RO=/tmp/blk-ro.img
BLK_RW=/tmp/blk-rw.img

case_l1_setup() {
	dd if=/dev/zero of=$BLK_RO bs=1M count=8 2>/dev/null
	printf 'READ-ONLY-DATA' | dd of=$BLK_RO bs=512 seek=10 conv=notrunc 2>/dev/null
	dd if=/dev/zero of=$BLK_RW bs=1M count=32 2>/dev/null
	CASE_ARGS="-d $BLK_RO,ro -d $BLK_RW,sync"
}

case_guest() {
	echo "vda_ro=$(cat /sys/block/vda/ro)"
	echo "vdb_ro=$(cat /sys/block/vdb/ro)"
	echo "vdb_serial=$(cat /sys/block/vdb/serial)"
	echo "vdb_queues=$(ls /sys/block/vdb/mq | wc -l)"
	echo "vda_data=$(dd if=/dev/vda bs=512 skip=10 count=1 2>/dev/null | head -c 14)"
	if printf 'XXXX' | dd of=/dev/vda bs=512 seek=10 conv=fsync oflag=direct 2>/dev/null; then
		echo "vda_write=allowed"
	else
		echo "vda_write=refused"
	fi
	mke2fs -q /dev/vdb && mkdir -p /mnt && mount -t ext2 /dev/vdb /mnt &&
		dd if=/dev/urandom of=/mnt/file bs=1M count=4 2>/dev/null &&
		md5sum /mnt/file > /tmp/sum && sync && umount /mnt &&
		echo 3 > /proc/sys/vm/drop_caches && mount -t ext2 /dev/vdb /mnt &&
		md5sum -c /tmp/sum >/dev/null && echo "fs=ok"
	umount /mnt 2>/dev/null
}

case_l1_after() {
	echo "l1_ro=$(dd if=$BLK_RO bs=512 skip=10 count=1 2>/dev/null | head -c 14)"
	# ext2 superblock magic 0xef53 at byte 1080
	echo "l1_ext2_magic=$(dd if=$BLK_RW bs=1 skip=1080 count=2 2>/dev/null | od -An -tx1 | tr -d ' ')"
	rm -f $BLK_RO $BLK_RW
}

case_check() {
	expect_exit 0
	[ "$(console_value vda_ro)" = 1 ] || fail "vda is not read-only in the guest"
	[ "$(console_value vdb_ro)" = 0 ] || fail "vdb is read-only"
	[ "$(console_value vdb_serial)" = lkvm-vdb ] || fail "vdb serial '$(console_value vdb_serial)'"
	[ "$(console_value vdb_queues)" = 4 ] || fail "vdb has $(console_value vdb_queues) queues"
	[ "$(console_value vda_data)" = READ-ONLY-DATA ] || fail "vda reads '$(console_value vda_data)'"
	[ "$(console_value vda_write)" = refused ] || fail "a write to the ro disk was allowed"
	[ "$(console_value fs)" = ok ] || fail "ext2 on vdb failed"
	[ "$(console_value l1_ro)" = READ-ONLY-DATA ] || fail "the ro image changed"
	[ "$(console_value l1_ext2_magic)" = 53ef ] || fail "no ext2 on the vdb image"
}

# ext4 across two boots: L1 makes a 128 MiB ext4 image with the real
# mke2fs (staged by lib.sh); boot 1 mounts it as /dev/vda, writes a big
# file and many small ones with their md5s, syncs and resets without
# unmounting (boot 2 then replays the journal); boot 2 - a second lkvm
# run from case_l1_after with the same command line but blk.phase=check -
# verifies every file, deletes and writes some, and unmounts; finally
# e2fsck -fn in L1 must find the file system clean.
CASE_CPUS=2
CASE_MEM=384
CASE_TIMEOUT=150
E4_IMG=/tmp/blk-ext4.img
# Full paths: busybox sh would run its own mke2fs applet (ext2 only).
E4_MKFS=/usr/local/bin/mke2fs
E4_FSCK=/usr/local/bin/e2fsck

case_l1_setup() {
	if [ ! -x $E4_MKFS ] || [ ! -x $E4_FSCK ]; then
		CASE_APPEND="blk.skip=no-mke2fs-or-e2fsck-in-L1"
		return
	fi
	rm -f $E4_IMG
	$E4_MKFS -q -t ext4 -F -L lkvm-ext4 $E4_IMG 128M ||
		{ CASE_APPEND="blk.skip=mke2fs-failed"; return; }
	CASE_ARGS="-d $E4_IMG"
}

# --- guest ---

e4_write() {
	mkdir -p /mnt
	mount -t ext4 /dev/vda /mnt || { echo "w_mount=failed"; return; }
	echo "w_mount=ok"
	cd /mnt || return
	mkdir -p dir
	dd if=/dev/urandom of=big bs=1M count=24 2>/dev/null
	echo "written by lkvm's guest in boot 1" > hello.txt
	i=1
	while [ $i -le 60 ]; do
		dd if=/dev/urandom of=dir/f$i bs=1k count=$((i * 7 % 61 + 1)) 2>/dev/null
		i=$((i + 1))
	done
	md5sum big hello.txt dir/* > SUMS
	echo "w_files=$(wc -l < SUMS)"
	echo "w_sums=$(md5sum < SUMS | cut -c1-32)"
	cd /
	sync && echo "w_sync=ok"
}

e4_check() {
	mkdir -p /mnt
	mount -t ext4 /dev/vda /mnt || { echo "c_mount=failed"; return; }
	echo "c_mount=ok"
	cd /mnt || return
	echo "c_sums=$(md5sum < SUMS | cut -c1-32)"
	md5sum -c SUMS > /tmp/verify 2>&1
	echo "c_verify=$?"
	echo "c_ok=$(grep -c ': OK$' /tmp/verify)"
	grep -v ': OK$' /tmp/verify | head -n 5
	echo "c_hello=$(cat hello.txt)"
	rm -f big dir/f1*
	dd if=/dev/urandom of=big2 bs=1M count=8 2>/dev/null
	sync
	cd /
	umount /mnt && echo "c_umount=ok"
	echo "c_fs_errors=$(dmesg | grep -c 'EXT4-fs error')"
	echo "c_recovered=$(dmesg | grep -c 'EXT4-fs.*recovery complete')"
}

case_guest() {
	skip=$(cmdline_value blk.skip)
	[ -n "$skip" ] && case_skip "$skip"
	if [ "$(cmdline_value blk.phase)" = check ]; then
		e4_check
	else
		e4_write
	fi
}

# --- L1, after boot 1 ---

case_l1_after() {
	[ -f $E4_IMG ] || return 0
	echo "E4-BOOT-2"
	# The second boot, as l1/suite.sh starts lkvm, but for the phase.
	timeout -s TERM -k 5 120 lkvm run -k "$L2_KERNEL" -i "$L2_INITRD" \
		-p "lkvm.case=blk-ext4 blk.phase=check reboot=k quiet" \
		-m "$CASE_MEM" -c "$CASE_CPUS" --name blk-ext4-2 $CASE_ARGS \
		< /dev/null 2>&1
	echo "boot2_exit=$?"
	out=$($E4_FSCK -fn $E4_IMG 2>&1)
	rc=$?
	echo "l1_fsck=$rc"
	echo "$out" | sed 's/^/e2fsck: /' | tail -n 20
	rm -f $E4_IMG
}

case_check() {
	expect_exit 0
	v() { console_value "$1"; }
	[ "$(v w_mount)" = ok ] || fail "boot 1 could not mount the ext4 image"
	[ "$(v w_files)" = 62 ] || fail "boot 1 wrote $(v w_files) files, want 62"
	[ "$(v w_sync)" = ok ] || fail "boot 1: sync failed"
	[ "$(v boot2_exit)" = 0 ] || fail "boot 2: lkvm status $(v boot2_exit)"
	[ "$(v c_mount)" = ok ] || fail "boot 2 could not mount the image"
	[ "$(v c_sums)" = "$(v w_sums)" ] || fail "boot 2: the list of md5s changed"
	[ "$(v c_verify)" = 0 ] && [ "$(v c_ok)" = 62 ] ||
		fail "boot 2: $(v c_ok) of 62 files verified (md5sum -c status $(v c_verify))"
	[ "$(v c_hello)" = "written by lkvm's guest in boot 1" ] || fail "boot 2: hello.txt '$(v c_hello)'"
	[ "$(v c_umount)" = ok ] || fail "boot 2: umount failed"
	[ "$(v c_fs_errors)" = 0 ] || fail "boot 2: the kernel logged $(v c_fs_errors) EXT4-fs errors"
	[ "$(v l1_fsck)" = 0 ] || fail "e2fsck -fn in L1: status $(v l1_fsck)"
	note "boot 2 replayed the journal: $([ "$(v c_recovered)" -gt 0 ] 2>/dev/null && echo yes || echo no)"
}

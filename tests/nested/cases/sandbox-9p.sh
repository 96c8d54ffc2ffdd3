# The seccomp sandbox with 9p (generic kernel flavour): the guest works in
# a shared directory with every kind of file system request it has
# (create, write, read, mkdir, rename, links, chmod, truncate, list,
# statfs, fsync, remove), then L1 checks that every thread of lkvm, the
# four 9p workers included, is filtered (Seccomp: 2) and the run ends
# normally.
CASE_FLAVOUR=amd64
CASE_TIMEOUT=150

SHARE=/tmp/sandbox-9p
IMG=/tmp/sandbox-9p.img

case_l1_setup() {
	rm -rf "$SHARE"
	mkdir -p "$SHARE"
	echo from-l1 > "$SHARE/l1.txt"
	dd if=/dev/zero of=$IMG bs=1M count=16 2>/dev/null
	CASE_ARGS="--9p $SHARE,share -d $IMG --rng"
}

case_guest() {
	mkdir -p /mnt
	if ! mount -t 9p -o trans=virtio,version=9p2000.L share /mnt; then
		echo "SANDBOX-9P-MOUNT-FAILED"
		return
	fi
	cd /mnt || return
	echo "guest_l1=$(cat l1.txt)"
	mkdir d && echo one > d/f && echo two >> d/f && sync d/f
	mv d/f d/g && ln d/g d/hard && ln -s g d/soft && chmod 640 d/g
	dd if=/dev/urandom of=big bs=64k count=32 2>/dev/null && truncate -s 1000 big
	mknod fifo p 2>/dev/null
	touch -d '2020-01-01 00:00' d/g
	echo "guest_list=$(ls d | tr '\n' ,)"
	echo "guest_read=$(cat d/soft | tr '\n' +)"
	echo "guest_size=$(stat -c %s big)"
	df . > /dev/null && echo "guest_df=ok"
	rm d/hard d/soft big fifo && rm d/g && rmdir d
	echo "guest_left=$(ls | tr '\n' ,)"
	dd if=/dev/vda of=/dev/null bs=1M 2>/dev/null
	head -c 16 /dev/hwrng > /dev/null
	cd /
	echo "SANDBOX-READY"
	read -r _
	umount /mnt
}

case_input() {
	wait_for SANDBOX-READY 120 || return 0
	echo "l1_threads=$(thread_seccomp sandbox-9p)" > /tmp/sandbox-9p-l1.out
	{ echo; cat /tmp/sandbox-9p-l1.out; } >&2
	echo done
}

case_check() {
	expect_exit 0
	expect_no_console 'lkvm: seccomp:'
	expect_no_console 'SANDBOX-9P-MOUNT-FAILED'
	threads=$(console_value l1_threads)
	note "threads: $threads"
	[ -n "$threads" ] || { fail "no thread list from L1"; return; }
	unconfined=$(echo "$threads" | tr ',' '\n' | grep -v ':2$' | grep -v '^$')
	[ -z "$unconfined" ] || fail "threads not filtered: $(echo $unconfined)"
	for t in lkvm launcher vcpu0 virtio-9p blk-vda-q0 net-user; do
		echo ",$threads" | grep -q ",$t:" || fail "no thread $t"
	done
	[ "$(echo ",$threads" | grep -o ',virtio-9p:' | wc -l)" = 4 ] || fail "not 4 9p workers"
	[ "$(console_value guest_l1)" = from-l1 ] || fail "read of L1's file: '$(console_value guest_l1)'"
	[ "$(console_value guest_list)" = g,hard,soft, ] || fail "listing: '$(console_value guest_list)'"
	[ "$(console_value guest_read)" = one+two+ ] || fail "read: '$(console_value guest_read)'"
	[ "$(console_value guest_size)" = 1000 ] || fail "truncate: '$(console_value guest_size)'"
	[ "$(console_value guest_df)" = ok ] || fail "statfs failed"
	[ "$(console_value guest_left)" = l1.txt, ] || fail "left: '$(console_value guest_left)'"
}

# Data the guest flushed is in the image even when lkvm dies by SIGKILL
# right after the flush completed, and the image's lock dies with lkvm.
CASE_TIMEOUT=120
BLK_IMG=/tmp/blk-kill.img

case_l1_setup() {
	dd if=/dev/zero of=$BLK_IMG bs=1M count=16 2>/dev/null
	CASE_ARGS="-d $BLK_IMG"
}

case_guest() {
	dd if=/dev/urandom of=/tmp/pat bs=1M count=4 2>/dev/null
	echo "guest_sum=$(md5sum < /tmp/pat | cut -c1-32)"
	# Through the page cache, then fsync: the FLUSH must reach the image.
	dd if=/tmp/pat of=/dev/vda bs=1M seek=2 conv=fsync 2>/dev/null && echo "BLK-FLUSHED"
	sleep 600
}

# Is the image locked?  Another lkvm tries it (no kernel: it never boots;
# the disk is opened before the kernel is read, so "held" is seen).
lock_state() {
	timeout 10 lkvm run -k /nonexistent -d $BLK_IMG 2>&1 |
		grep -q "in use by another process" && echo held || echo free
}

case_input() {
	wait_for BLK-FLUSHED 100 || return
	lock_state > /tmp/blk-lock-running
	kill -9 $(pidof lkvm)
}

case_l1_after() {
	echo "l1_sum=$(dd if=$BLK_IMG bs=1M skip=2 count=4 2>/dev/null | md5sum | cut -c1-32)"
	echo "l1_lock_running=$(cat /tmp/blk-lock-running 2>/dev/null)"
	echo "l1_lock_after=$(lock_state)"
	rm -f $BLK_IMG /tmp/blk-lock-running
}

case_check() {
	expect_exit_nonzero
	[ -n "$(console_value guest_sum)" ] || fail "the guest did not write"
	[ "$(console_value l1_sum)" = "$(console_value guest_sum)" ] ||
		fail "flushed data missing from the image after SIGKILL"
	[ "$(console_value l1_lock_running)" = held ] ||
		fail "a second lkvm was not refused the image"
	[ "$(console_value l1_lock_after)" = free ] || fail "the image stayed locked"
}

# Two minutes of parallel block I/O on four vCPUs, to catch a lost
# notification (a guest stuck on a request that never completes) and data
# mix-ups under load.  Disks (raw images use the default libaio backend):
#   vda  raw, 128 MiB: blk-soak (tests/nested/progs/blk-soak.c) with four
#        threads, one per vCPU: random O_DIRECT scatter-gather reads and
#        writes, fdatasync, write-zeroes and discard, all verified
#   vdb  raw, 64 MiB: two dd loops, O_DIRECT and buffered+fsync, each
#        writing a 4 MiB pattern at moving offsets and reading it back
#   vdc  qcow2, 64 MiB (when L1 has qemu-img): blk-soak with two threads
# The guest reports progress every 10 s and gives up (SOAK-HUNG) when the
# I/O is not done 90 s after it should be.  At the end it prints the md5 of
# every disk; L1 must find the same bytes in the images, and qemu-img check
# must find the qcow2 image clean.
# arm64: a short soak, 30 s on two vCPUs (L1 has two CPUs), raw disks only
# (no qemu-img for arm64 in L1).
CASE_ARCH="x86_64 arm64"
CASE_CPUS=4
CASE_MEM=384
CASE_TIMEOUT=330
SOAK_SECS=120
if [ "${NESTED_ARCH:-x86_64}" = arm64 ]; then
	CASE_CPUS=2
	CASE_TIMEOUT=240
	SOAK_SECS=30
fi
CASE_APPEND="blk.soak_secs=$SOAK_SECS"
S=/tmp/blk-soak

# Every 30 s while lkvm runs, L1 prints the state of lkvm's threads: if
# the guest stops, this tells a wedged L1 (no lines) from a VMM whose
# threads wait for something (S) or spin (R).
soak_l1_watch() {
	while sleep 30; do
		pid=$(pidof lkvm) || continue
		line=
		for task in /proc/$pid/task/*; do
			line="$line $(cat $task/comm 2>/dev/null):$(cut -d' ' -f3 $task/stat 2>/dev/null)"
		done
		echo "l1-watch uptime=$(cut -d' ' -f1 /proc/uptime)$line"
	done
}

case_l1_setup() {
	rm -rf $S
	mkdir -p $S
	soak_l1_watch &
	echo $! > $S/watch.pid
	truncate -s 128M $S/a.img
	truncate -s 64M $S/b.img
	CASE_ARGS="-d $S/a.img -d $S/b.img"
	if command -v qemu-img >/dev/null; then
		qemu-img create -q -f qcow2 $S/c.qcow2 64M &&
			CASE_ARGS="$CASE_ARGS -d $S/c.qcow2"
	fi
}

# --- guest ---

# One dd loop on vdb until /tmp/soak.stop exists.  MODE direct: O_DIRECT
# writes; buffered: page cache and fsync.  Its 4 MiB slots are BASE,
# BASE+8, ... (in MiB) so the two loops never overlap.
soak_dd_loop() {
	mode=$1 base=$2 i=0 bad=0
	while [ ! -e /tmp/soak.stop ]; do
		off=$((base + i % 4 * 8))
		if [ "$mode" = direct ]; then
			dd if=/tmp/pat of=/dev/vdb bs=1M seek=$off oflag=direct 2>/dev/null
		else
			dd if=/tmp/pat of=/dev/vdb bs=1M seek=$off conv=fsync 2>/dev/null
		fi
		r=$(dd if=/dev/vdb bs=1M skip=$off count=4 iflag=direct 2>/dev/null | md5sum | cut -c1-32)
		[ "$r" = "$PAT_MD5" ] || bad=$((bad + 1))
		i=$((i + 1))
	done
	echo "dd_${mode}_iters=$i"
	echo "dd_${mode}_bad=$bad"
}

# Last progress line of a blk-soak output file.
soak_last() {
	grep -e '^soak:' -e '^SOAK-' "$1" 2>/dev/null | tail -n 1
}

case_guest() {
	command -v blk-soak >/dev/null || { echo "soak_program=missing"; return; }
	secs=$(cmdline_value blk.soak_secs)
	has_vdc=0
	[ -b /dev/vdc ] && has_vdc=1
	echo "soak_vdc=$has_vdc"
	echo "vda_queues=$(ls /sys/block/vda/mq | wc -l)"
	dd if=/dev/urandom of=/tmp/pat bs=1M count=4 2>/dev/null
	PAT_MD5=$(md5sum < /tmp/pat | cut -c1-32)
	rm -f /tmp/soak.stop

	cpus=$(nproc)
	blk-soak /dev/vda "$secs" "$cpus" > /tmp/soak-vda.out 2>&1 &
	pid_a=$!
	pid_c=
	if [ $has_vdc = 1 ]; then
		blk-soak /dev/vdc "$secs" 2 > /tmp/soak-vdc.out 2>&1 &
		pid_c=$!
	fi
	taskset -c 1 sh -c ". /cases/blk-soak.sh; PAT_MD5=$PAT_MD5; soak_dd_loop direct 0" \
		> /tmp/dd-direct.out 2>&1 &
	taskset -c $((cpus > 2 ? 2 : 1)) sh -c ". /cases/blk-soak.sh; PAT_MD5=$PAT_MD5; soak_dd_loop buffered 32" \
		> /tmp/dd-buffered.out 2>&1 &

	# Watch: progress every 10 s; give up 90 s after the soak should end.
	t=0
	while kill -0 $pid_a 2>/dev/null || { [ -n "$pid_c" ] && kill -0 $pid_c 2>/dev/null; }; do
		sleep 10
		t=$((t + 10))
		echo "soak-progress t=$t vda: $(soak_last /tmp/soak-vda.out)${pid_c:+ / vdc: $(soak_last /tmp/soak-vdc.out)}"
		if [ $t -ge $((secs + 90)) ]; then
			echo "SOAK-HUNG after $t s"
			grep SOAK- /tmp/soak-*.out | head -n 20
			echo "soak_hung=1"
			return
		fi
	done
	wait $pid_a
	echo "soak_vda_status=$?"
	if [ -n "$pid_c" ]; then
		wait $pid_c
		echo "soak_vdc_status=$?"
	fi
	touch /tmp/soak.stop
	wait
	grep -h -e '^SOAK-' /tmp/soak-*.out | head -n 20
	sed 's/^soak_/vda_/' /tmp/soak-vda.out | grep '^vda_'
	[ -n "$pid_c" ] && sed 's/^soak_/vdc_/' /tmp/soak-vdc.out | grep '^vdc_'
	cat /tmp/dd-direct.out /tmp/dd-buffered.out
	echo "soak_hung=0"
	for d in vda vdb vdc; do
		[ -b /dev/$d ] || continue
		echo "g_${d}_md5=$(dd if=/dev/$d bs=1M iflag=direct 2>/dev/null | md5sum | cut -c1-32)"
	done
}

# --- L1, after lkvm ---

case_l1_after() {
	[ -d $S ] || return 0
	kill "$(cat $S/watch.pid)" 2>/dev/null
	echo "l1_vda_md5=$(md5sum < $S/a.img | cut -c1-32)"
	echo "l1_vdb_md5=$(md5sum < $S/b.img | cut -c1-32)"
	if [ -f $S/c.qcow2 ]; then
		out=$(qemu-img check $S/c.qcow2 2>&1)
		echo "l1_check_vdc=$?"
		echo "$out" | head -n 20 | sed 's/^/qemu-img check: /'
		qemu-img convert -O raw $S/c.qcow2 $S/c.raw &&
			echo "l1_vdc_md5=$(md5sum < $S/c.raw | cut -c1-32)"
	fi
	rm -rf $S
}

case_check() {
	expect_exit 0
	v() { console_value "$1"; }
	[ "$(v soak_program)" != missing ] || fail "blk-soak is not in the guest"
	[ "$(v soak_hung)" = 0 ] || fail "the I/O hung (no end $((SOAK_SECS + 90)) s after start)"
	expect_no_console '^SOAK-STALL'
	[ "$(v vda_queues)" = "$CASE_CPUS" ] || fail "vda has $(v vda_queues) queues, want $CASE_CPUS"
	[ "$(v soak_vda_status)" = 0 ] || fail "blk-soak on vda: status $(v soak_vda_status)"
	[ "$(v vda_bad)" = 0 ] || fail "vda: $(v vda_bad) blocks read back wrong"
	[ "$(v vda_ops)" -gt 0 ] 2>/dev/null || fail "no I/O on vda"
	for m in direct buffered; do
		[ "$(v dd_${m}_iters)" -gt 0 ] 2>/dev/null || fail "dd $m loop did not run"
		[ "$(v dd_${m}_bad)" = 0 ] || fail "dd $m: $(v dd_${m}_bad) passes read back wrong"
	done
	[ "$(v l1_vda_md5)" = "$(v g_vda_md5)" ] || fail "the vda image differs from the guest's view"
	[ "$(v l1_vdb_md5)" = "$(v g_vdb_md5)" ] || fail "the vdb image differs from the guest's view"
	if [ "$(v soak_vdc)" = 1 ]; then
		[ "$(v soak_vdc_status)" = 0 ] || fail "blk-soak on vdc (qcow2): status $(v soak_vdc_status)"
		[ "$(v vdc_bad)" = 0 ] || fail "vdc (qcow2): $(v vdc_bad) blocks read back wrong"
		[ "$(v l1_check_vdc)" = 0 ] || fail "qemu-img check of vdc: status $(v l1_check_vdc)"
		[ "$(v l1_vdc_md5)" = "$(v g_vdc_md5)" ] || fail "the vdc image differs from the guest's view"
		note "vdc (qcow2): $(v vdc_ops) requests, $(v vdc_mib) MiB"
	else
		note "no qcow2 disk (no qemu-img in L1)"
	fi
	note "vda: $(v vda_ops) requests, $(v vda_mib) MiB; dd loops: $(v dd_direct_iters) direct," \
		"$(v dd_buffered_iters) buffered passes"
}

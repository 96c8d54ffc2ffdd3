# The case bench/blk.sh writes for its lkvm-vs-QEMU comparison (one L1
# boot, both VMMs, interleaved rounds; the settings BC_* come first).  In
# L1, case_l1_run boots L2 once per VMM and round on a fresh raw image in
# tmpfs; the guest runs every test between BLKCMP-BEGIN / BLKCMP-FIN lines,
# and L1 snapshots KVM's exit counters (debugfs) when each line arrives.
# POSIX sh: busybox parses it in L1 and L2.
CASE_CUSTOM_RUN=1
CASE_CPUS=$BC_CPUS
CASE_MEM=512
CASE_TIMEOUT=$((BC_ROUNDS * 2 * (200 + 10 * BC_SECS)))
BC_IMG=/tmp/blkcmp.img

# ---- L2 ----

# Interrupts of vda's virtio device, all CPUs, all its vectors.
bc_irqs() {
	dev=$(basename "$(readlink /sys/block/vda/device)")
	awk -v d="$dev" '$NF == d || index($NF, d "-") == 1 {
		for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }' \
		/proc/interrupts
}

# vda's request counters (Documentation/ABI stat): reads, read sectors,
# writes, write sectors, flushes.
bc_vda() {
	set -- $(cat /sys/block/vda/stat)
	echo "$1 $3 $5 $7 ${15:-0}"
}

bc_ms() {
	read -r up _ < /proc/uptime
	echo $(( ${up%.*}${up#*.} * 10 ))
}

# bc_test NAME BYTES-IF-KNOWN COMMAND...: one measured test.
bc_test() {
	name=$1 bytes=$2
	shift 2
	sync
	echo 3 > /proc/sys/vm/drop_caches
	echo "BLKCMP-BEGIN $name go"
	sleep 1
	i0=$(bc_irqs)
	set -- $(bc_vda) "$@"
	r0=$1 rs0=$2 w0=$3 ws0=$4 f0=$5
	shift 5
	t0=$(bc_ms)
	out=$("$@" 2>&1)
	rc=$?
	t1=$(bc_ms)
	i1=$(bc_irqs)
	set -- $(bc_vda)
	reqs="reads=$(($1 - r0)) rsect=$(($2 - rs0)) writes=$(($3 - w0)) wsect=$(($4 - ws0)) flushes=$(($5 - f0))"
	echo "BLKCMP-FIN $name end"
	case $out in *bytes=*) bytes=$(echo "$out" | sed -n 's/.* bytes=\([0-9]*\).*/\1/p') ;; esac
	iops=$(echo "$out" | sed -n 's/.* iops=\([0-9]*\).*/\1/p')
	echo "BLKCMP-RESULT test=$name rc=$rc bytes=$bytes ms=$((t1 - t0)) irqs=$((i1 - i0)) iops=${iops:-0} $reqs"
	[ "$rc" = 0 ] || echo "BLKCMP-ERROR $name: $out"
}

case_guest() {
	q=/sys/block/vda/queue
	echo "BLKCMP-CONF features=$(cat /sys/block/vda/device/features)" \
		"max_sectors_kb=$(cat $q/max_sectors_kb) max_hw_sectors_kb=$(cat $q/max_hw_sectors_kb)" \
		"max_segments=$(cat $q/max_segments) max_segment_size=$(cat $q/max_segment_size)" \
		"nr_requests=$(cat $q/nr_requests) read_ahead_kb=$(cat $q/read_ahead_kb)" \
		"hw_queues=$(ls /sys/block/vda/mq | wc -l)"
	# --read-ahead: the same read-ahead for both guests.
	[ -n "$BC_RA" ] && echo "$BC_RA" > $q/read_ahead_kb && echo "BLKCMP-RA read_ahead_kb=$(cat $q/read_ahead_kb)"
	mib=$(cmdline_value blkcmp.mib)
	secs=$(cmdline_value blkcmp.secs)
	b=$((mib * 1048576))
	for t in $BC_TESTS; do
		case $t in
		dd-read) bc_test $t $b dd if=/dev/vda of=/dev/null bs=1M count=$mib ;;
		dd-write) bc_test $t $b dd if=/dev/zero of=/dev/vda bs=1M count=$mib conv=fsync ;;
		seqread-qd*) bc_test $t 0 blk-bench seqread /dev/vda 1048576 ${t#*-qd} $secs $mib ;;
		seqwrite-qd*) bc_test $t 0 blk-bench seqwrite /dev/vda 1048576 ${t#*-qd} $secs $mib ;;
		rand4k-qd*) bc_test $t 0 blk-bench randread /dev/vda 4096 ${t#*-qd} $secs $mib ;;
		esac
	done
	echo "BLKCMP-DONE all"
}

# ---- L1 ----

# KVM's counters, summed over the VMs alive (one at a time here).
bc_kvm() {
	for f in exits io_exits mmio_exits irq_injections halt_exits; do
		cat /sys/kernel/debug/kvm/$f 2>/dev/null || echo 0
	done | tr '\n' ' '
}

# CPU time of the VMM process in clock ticks: guest (its vCPUs in L2),
# user (its own code, guest time excluded) and system.
bc_cpu() {
	pid=$(cat /tmp/blkcmp.pid 2>/dev/null || pidof lkvm | cut -d" " -f1)
	[ -n "$pid" ] && [ -r /proc/$pid/stat ] || { echo "0 0 0"; return; }
	sed 's/.*) //' /proc/$pid/stat | awk '{ print $41, $12 - $41, $13 }'
}

# Per thread of the VMM: "tid name utime stime guest_time" in ticks
# (spaces in a name, as QEMU's "CPU 0/KVM", become _).
bc_threads() {
	pid=$(cat /tmp/blkcmp.pid 2>/dev/null || pidof lkvm | cut -d" " -f1)
	[ -n "$pid" ] || return 0
	for t in /proc/$pid/task/*; do
		sed 's/^\([0-9]*\) (\(.*\)) /\1 \2 /' "$t/stat" 2>/dev/null
	done | awk '{ k = NF - 51; c = $2; for (i = 3; i <= 1 + k; i++) c = c "_" $i
		print $1, c, $(13 + k), $(14 + k), $(42 + k) }'
}

# Ticks of each thread name between two bc_threads snapshots, busiest
# first: name:user(guest excluded)/system/guest.
bc_thread_diff() {
	awk 'FNR == NR { u[$1] = $3; s[$1] = $4; g[$1] = $5; next }
		{ du[$2] += $3 - u[$1] - ($5 - g[$1]); ds[$2] += $4 - s[$1]; dg[$2] += $5 - g[$1] }
		END { for (c in du) if (du[c] + ds[c] + dg[c] > 0)
			printf "%d %s:%d/%d/%d\n", du[c] + ds[c] + dg[c], c, du[c], ds[c], dg[c] }' "$1" "$2" |
		sort -rn | cut -d" " -f2 | tr '\n' ' '
}

# Passes the VMM's output on; at each marker line, takes KVM's counters
# and the VMM's CPU time.
bc_watch() {
	vmm=$1
	while IFS= read -r line; do
		case $line in
		*BLKCMP-BEGIN*)
			set -- $(bc_kvm) $(bc_cpu)
			e0=$1 io0=$2 mm0=$3 inj0=$4 h0=$5 g0=$6 u0=$7 s0=$8
			bc_threads > /tmp/blkcmp.th0 ;;
		*BLKCMP-FIN*)
			t=${line#*BLKCMP-FIN }
			t=${t%% *}
			set -- $(bc_kvm) $(bc_cpu)
			echo "BLKCMP-KVM vmm=$vmm test=$t exits=$(($1 - e0)) io=$(($2 - io0))" \
				"mmio=$(($3 - mm0)) inj=$(($4 - inj0)) halt=$(($5 - h0))" \
				"guest_t=$(($6 - g0)) user_t=$(($7 - u0)) sys_t=$(($8 - s0))"
			bc_threads > /tmp/blkcmp.th1
			echo "BLKCMP-THREADS vmm=$vmm test=$t $(bc_thread_diff /tmp/blkcmp.th0 /tmp/blkcmp.th1)" ;;
		*BLKCMP-DONE*)
			# QEMU microvm may hang at reset under nested KVM: end it.
			[ -f /tmp/blkcmp.pid ] && (sleep 3; kill -9 "$(cat /tmp/blkcmp.pid)") 2>/dev/null & ;;
		esac
		case $line in *BLKCMP-RESULT*) echo "vmm=$vmm $line" ;; *) echo "$line" ;; esac
	done
}

bc_run() {
	vmm=$1
	params="lkvm.case=blkcmp reboot=k quiet blkcmp.mib=$BC_MIB blkcmp.secs=$BC_SECS"
	rm -f $BC_IMG /tmp/blkcmp.pid
	truncate -s 300M $BC_IMG
	lim=$((150 + 12 * BC_SECS + 3 * BC_MIB / 10))
	echo "BLKCMP-VMM $vmm round=$2"
	case $vmm in
	lkvm)
		timeout -s KILL $lim lkvm run -k "$L2_KERNEL" -i "$L2_INITRD" -p "$params" \
			-m $CASE_MEM -c $CASE_CPUS --name blkcmp -d $BC_IMG$BC_DOPTS ;;
	qemu)
		# microvm has no i8042: reboot=t (triple fault) at once.
		timeout -s KILL $lim qemu-system-x86_64 -M microvm -accel kvm -cpu host \
			-m $CASE_MEM -smp $CASE_CPUS -nodefaults -no-user-config \
			-display none -serial stdio -monitor none -no-reboot \
			-pidfile /tmp/blkcmp.pid \
			-kernel "$L2_KERNEL" -initrd "$L2_INITRD" \
			-append "console=ttyS0 $params reboot=t" \
			-drive id=vd0,file=$BC_IMG,format=raw,if=none \
			-device virtio-blk-device,drive=vd0 ;;
	esac < /dev/null 2>&1 | bc_watch $vmm
	echo "BLKCMP-VMM-END $vmm"
	rm -f $BC_IMG
}

case_l1_run() {
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
	[ -r /sys/kernel/debug/kvm/exits ] || echo "BLKCMP-NOTE no KVM debugfs: no exit counts"
	command -v qemu-system-x86_64 > /dev/null || echo "BLKCMP-NOTE no QEMU in L1"
	echo "BLKCMP-L1 cpus=$(grep -c ^processor /proc/cpuinfo)"
	r=1
	while [ $r -le $BC_ROUNDS ]; do
		# Alternate who goes first, so a drift in the machine's load hits both.
		if [ $((r % 2)) = 1 ]; then order="lkvm qemu"; else order="qemu lkvm"; fi
		for v in $order; do
			bc_run $v $r
		done
		r=$((r + 1))
	done
	return 0
}

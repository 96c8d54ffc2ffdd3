# Sourced by L1's /init for bench/rss.sh: each VMM of $RSS_VMMS boots L2
# with one vCPU, $RSS_MEM MiB, a virtio-blk disk and a user-mode NIC; when
# the guest has read from the disk and brought its NIC up (GUEST-RSS-READY)
# the VMM's /proc/PID/smaps is summed in two parts, guest RAM (mappings at
# least as large as the guest's RAM) and everything else, and printed as
#   @@LKVM-RSS vmm=NAME run=N total_kb=N guest_kb=N own_kb=N
#     own_private_kb=N own_dirty_kb=N threads=N@@
# own_kb: the VMM's resident memory besides guest RAM (its code, libraries,
# heap, stacks); own_private_kb: the part of it not shared with other
# processes (Private_Clean + Private_Dirty); own_dirty_kb: Private_Dirty.
# The largest non-guest mappings follow as @@LKVM-RSS-MAP ...@@ lines.

rss_params="lkvm.case=guest-rss"
rss_disk=/tmp/rss-disk.img
dd if=/dev/zero of="$rss_disk" bs=1M count=64 2>/dev/null

rss_cmd() {
	case $1 in
	lkvm)
		set -- lkvm run -k "$L2_KERNEL" -i "$L2_INITRD" -p "$rss_params" \
			-m "$RSS_MEM" -c 1 --name rss -d "$rss_disk" -n mode=user ;;
	qemu-microvm)
		set -- qemu-system-x86_64 -M microvm -accel kvm -cpu host \
			-m "$RSS_MEM" -smp 1 -nodefaults -no-user-config \
			-display none -serial stdio -monitor none -no-reboot \
			-drive "file=$rss_disk,if=none,id=d0,format=raw" \
			-device virtio-blk-device,drive=d0 \
			-netdev user,id=n0 -device virtio-net-device,netdev=n0 \
			-kernel "$L2_KERNEL" -initrd "$L2_INITRD" \
			-append "console=ttyS0 reboot=k $rss_params" ;;
	esac
	RSS_ARGV=$(for a in "$@"; do printf "'%s' " "$a"; done)
}

# Sums smaps of PID: guest RAM = mappings of at least MEM MiB.
rss_measure() {
	awk -v big=$(($2 * 1024)) -v vmm="$3" -v run="$4" '
	function flush() {
		if (name == "") return
		if (size >= big) guest += rss
		else {
			own += rss; priv += pc + pd; dirty += pd
			if (rss >= 256) printf "@@LKVM-RSS-MAP vmm=%s rss_kb=%d dirty_kb=%d %s@@\n", vmm, rss, pd, name
		}
		total += rss
	}
	/^[0-9a-f]+-[0-9a-f]+ / {
		flush()
		name = $6 == "" ? "[anon]" : $6; size = rss = pc = pd = 0
		next
	}
	$1 == "Size:" { size = $2 } $1 == "Rss:" { rss = $2 }
	$1 == "Private_Clean:" { pc = $2 } $1 == "Private_Dirty:" { pd = $2 }
	END {
		flush()
		printf "@@LKVM-RSS vmm=%s run=%s total_kb=%d guest_kb=%d own_kb=%d own_private_kb=%d own_dirty_kb=%d", vmm, run, total, guest, own, priv, dirty
	}' "/proc/$1/smaps"
	echo " threads=$(ls "/proc/$1/task" | wc -l)@@"
}

rss_run() {
	local f=/tmp/rss.$1.$2 pid i
	rss_cmd "$1"
	rm -f "$f.out"
	# exec: $! is then the VMM itself, not a shell around it.
	eval "exec $RSS_ARGV" < /dev/null > "$f.out" 2>&1 &
	pid=$!
	i=0
	while [ $i -lt 600 ] && ! grep -q GUEST-RSS-READY "$f.out" && kill -0 $pid 2>/dev/null; do
		sleep 0.2
		i=$((i + 1))
	done
	if grep -q GUEST-RSS-READY "$f.out"; then
		sleep 2
		rss_measure $pid "$RSS_MEM" "$1" "$2"
	else
		echo "--- $1 run $2: the guest never became ready; its output ends:"
		tail -n 15 "$f.out"
	fi
	kill $pid 2>/dev/null
	i=0
	while kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	grep -a '^GUEST-RSS ' "$f.out" | sed "s/^/@@LKVM-RSS-GUEST vmm=$1 /; s/\$/@@/"
}

for vmm in $RSS_VMMS; do
	rss_cmd "$vmm"
	echo "@@LKVM-RSS-CMD $vmm: $RSS_ARGV@@"
done
i=1
while [ "$i" -le "$RSS_RUNS" ]; do
	for vmm in $RSS_VMMS; do
		rss_run "$vmm" "$i"
	done
	i=$((i + 1))
done

# Sourced by L1's /init for bench/boot-time.sh: boots L2 $BENCH_RUNS times
# with each VMM of $BENCH_VMMS and reports, per run, the time from starting
# the VMM to the guest's LKVM-USERSPACE-OK line and to the VMM's exit:
#   @@LKVM-BENCH vmm=NAME run=N boot_ms=N total_ms=N exit=N@@

# /init prints the marker before it loads any driver; lkvm.modules=0 then
# skips them so that each run ends soon after.  BENCH_DMESG=1: the guest
# prints its kernel log after the marker (the first run of each VMM is kept).
params="lkvm.case=guest-bench lkvm.modules=0${BENCH_APPEND:+ $BENCH_APPEND}"
[ "${BENCH_DMESG:-0}" = 1 ] && params="$params lkvm.dmesg=1"
cpus=${BENCH_CPUS:-1} mem=${BENCH_MEM:-256}

# Sets "$@" to VMM's command line.  Both VMMs get the same kernel,
# initramfs, guest command line (lkvm puts "console=ttyS0 reboot=k" first
# itself), vCPUs and memory, the console on the 8250 at 0x3f8 and no other
# device (lkvm's default NIC off, as QEMU's -nodefaults).
bench_cmd() {
	case $1 in
	lkvm)
		set -- lkvm run -k "$L2_KERNEL" -i "$L2_INITRD" -p "$params" \
			-m "$mem" -c "$cpus" --name bench --boot-trace -n mode=none ;;
	lkvm-run-true)
		# The kernel developer's loop: no initramfs of ours, L1's / as
		# the root over 9p, lkvm's init, modules, overlay, CMD.
		set -- lkvm run -k "$L2_KERNEL" -m "$mem" -c "$cpus" --name bench -- true ;;
	lkvm-run-echo)
		# The same, with the time to CMD's output and the guest's own
		# uptime when CMD ran (kernel + init up to exec).
		set -- lkvm run -k "$L2_KERNEL" -m "$mem" -c "$cpus" --name bench -- \
			sh -c 'echo LKVM-USERSPACE-OK; echo "GUEST-UPTIME $(cut -d" " -f1 /proc/uptime)"' ;;
	lkvm-pvh)
		# The vmlinux inside the same bzImage, through its PVH entry.
		set -- lkvm run -k /guest/vmlinux -i "$L2_INITRD" -p "$params" \
			-m "$mem" -c "$cpus" --name bench -n mode=none ;;
	qemu-microvm)
		# The guest ends with an ACPI poweroff (microvm's GED); should
		# it hang anyway, bench_run stops it after the end marker.
		set -- qemu-system-x86_64 -M microvm -accel kvm -cpu host \
			-m "$mem" -smp "$cpus" -nodefaults -no-user-config \
			-display none -serial stdio -monitor none -no-reboot \
			-kernel "$L2_KERNEL" -initrd "$L2_INITRD" \
			-append "console=ttyS0 reboot=k $params" ;;
	esac
	BENCH_ARGV=$(for a in "$@"; do printf "'%s' " "$a"; done)
}

for vmm in $BENCH_VMMS; do
	bench_cmd "$vmm"
	echo "@@LKVM-BENCH-CMD $vmm: $BENCH_ARGV@@"
done

# L1's KVM counters (debugfs; one VM runs at a time, so the difference
# over a boot is that guest's): name=value ...
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
bench_kvm_stats() {
	for s in exits io_exits mmio_exits halt_exits irq_exits irq_window_exits \
		signal_exits insn_emulation request_irq_exits halt_wakeup; do
		[ -r "/sys/kernel/debug/kvm/$s" ] &&
			printf '%s=%s ' "$s" "$(cat "/sys/kernel/debug/kvm/$s")"
	done
	echo
}

# CPU time (clock ticks, user+system) of each thread of the child of PID
# (timeout's VMM): "name=ticks ...".
bench_threads() {
	local st pid=
	for st in /proc/[0-9]*/stat; do
		[ "$(awk '{ print $4 }' "$st" 2>/dev/null)" = "$1" ] &&
			{ pid=${st#/proc/}; pid=${pid%/stat}; break; }
	done
	[ -n "$pid" ] || return
	for st in /proc/"$pid"/task/*/stat; do
		sed 's/^[0-9]* (\(.*\)) [A-Z] /\1 /' "$st" 2>/dev/null |
			awk '{ n = $1; for (i = 2; i <= NF - 49; i++) n = n "_" $i
			       printf "%s=%d ", n, $(NF - 38) + $(NF - 37) }'
	done
	echo
}

# One boot of VMM; prints its result line.  Files are per run: a late
# watchdog of one run must never touch the next.
bench_run() {
	local f=/tmp/bench.$1.$2
	bench_cmd "$1"
	bench_kvm_stats > "$f.kvm0"
	ms0=$(uptime_ms)
	{
		# timeout passes a TERM on to the VMM, a KILL would not.
		eval "timeout -k 5 $BENCH_TIMEOUT $BENCH_ARGV" < /dev/null 2>&1 &
		echo $! > "$f.pid"
		wait $!
		echo $? > "$f.rc"
	} | if [ "${BENCH_DMESG:-0}" = 1 ] && [ "$2" = 1 ]; then
		# The first run's console lines with L1's clock (s since the
		# VMM started): the guest's own clock may run at another rate.
		awk -v t0="$ms0" '{
			getline up < "/proc/uptime"; close("/proc/uptime")
			split(up, f, " ")
			printf "%.2f %s\n", f[1] - t0 / 1000, $0 > "/tmp/bench.l1time"
			print; fflush() }'
	else
		cat
	fi | tee /tmp/bench.out | {
		if grep -q -m1 LKVM-USERSPACE-OK; then
			uptime_ms > "$f.boot"
			bench_kvm_stats > "$f.kvm1"
			bench_threads "$(cat "$f.pid")" > "$f.threads"
		fi
		# The guest is done: a VMM still running 10 s later hangs in
		# its shutdown (reported as exit=hung).
		if grep -q -m1 GUEST-BENCH-END; then
			(sleep 10; [ -f "$f.rc" ] ||
				{ : > "$f.hung"; kill "$(cat "$f.pid")"; }) > /dev/null 2>&1 &
		fi
		cat > /dev/null
	}
	ms1=$(uptime_ms)
	boot=none
	[ -f "$f.boot" ] && boot=$(( $(cat "$f.boot") - ms0 ))
	grep -a '^GUEST-UPTIME' /tmp/bench.out | sed "s/^/@@LKVM-BENCH-UPTIME vmm=$1 /; s/\$/@@/"
	grep -a '^lkvm: boot-trace' /tmp/bench.out | sed "s/^/@@LKVM-BENCH-TRACE vmm=$1 /; s/\$/@@/"
	[ "$2" = 1 ] && grep -a '^GUEST-DMESG ' /tmp/bench.out |
		sed "s/^GUEST-DMESG /@@LKVM-BENCH-DMESG vmm=$1 /; s/\$/@@/"
	[ "$2" = 1 ] && [ -f /tmp/bench.l1time ] && grep -av 'GUEST-DMESG' /tmp/bench.l1time |
		sed "s/^/@@LKVM-BENCH-L1TIME vmm=$1 /; s/\$/@@/"
	rm -f /tmp/bench.l1time
	# KVM exits etc. from the VMM's start to the user-space line.
	[ -s "$f.kvm1" ] && echo "@@LKVM-BENCH-KVM vmm=$1 run=$2 $(awk '
		NR == FNR { for (i = 1; i <= NF; i++) { split($i, kv, "="); a[kv[1]] = kv[2] }; next }
		{ for (i = 1; i <= NF; i++) { split($i, kv, "="); printf "%s=%d ", kv[1], kv[2] - a[kv[1]] } }' \
		"$f.kvm0" "$f.kvm1")@@"
	[ -s "$f.threads" ] && echo "@@LKVM-BENCH-THREADS vmm=$1 run=$2 $(cat "$f.threads")@@"
	rc=$(cat "$f.rc")
	[ -f "$f.hung" ] && rc=hung
	if [ "$boot" = none ] && [ "$1" != lkvm-run-true ]; then
		echo "--- $1 run $2: no user-space marker; its output ends:"
		tail -n 15 /tmp/bench.out
	fi
	echo "@@LKVM-BENCH vmm=$1 run=$2 boot_ms=$boot" \
		"total_ms=$((ms1 - ms0)) exit=$rc@@"
}

# Rounds of one boot per VMM, so that a change in the machine's load
# (it is shared) affects every VMM alike.
i=1
while [ "$i" -le "$BENCH_RUNS" ]; do
	for vmm in $BENCH_VMMS; do
		bench_run "$vmm" "$i"
	done
	i=$((i + 1))
done

# Sourced by L1's /init for bench/boot-time.sh: boots L2 $BENCH_RUNS times
# with each VMM of $BENCH_VMMS and reports, per run, the time from starting
# the VMM to the guest's LKVM-USERSPACE-OK line and to the VMM's exit:
#   @@LKVM-BENCH vmm=NAME run=N boot_ms=N total_ms=N exit=N@@

# /init prints the marker before it loads any driver; lkvm.modules=0 then
# skips them so that each run ends soon after.
params="lkvm.case=guest-bench lkvm.modules=0 reboot=k${BENCH_APPEND:+ $BENCH_APPEND}"

# Sets "$@" to VMM's command line.  Both VMMs get the same kernel,
# initramfs, guest command line, one vCPU and 256 MiB.
bench_cmd() {
	case $1 in
	lkvm)
		set -- lkvm run -k "$L2_KERNEL" -i "$L2_INITRD" -p "$params" \
			-m 256 -c 1 --name bench ;;
	lkvm-run-true)
		# The kernel developer's loop: no initramfs of ours, L1's / as
		# the root over 9p, lkvm's init, modules, overlay, CMD.
		set -- lkvm run -k "$L2_KERNEL" -m 256 -c 1 --name bench -- true ;;
	lkvm-run-echo)
		# The same, with the time to CMD's output and the guest's own
		# uptime when CMD ran (kernel + init up to exec).
		set -- lkvm run -k "$L2_KERNEL" -m 256 -c 1 --name bench -- \
			sh -c 'echo LKVM-USERSPACE-OK; echo "GUEST-UPTIME $(cut -d" " -f1 /proc/uptime)"' ;;
	lkvm-pvh)
		# The vmlinux inside the same bzImage, through its PVH entry.
		set -- lkvm run -k /guest/vmlinux -i "$L2_INITRD" -p "$params" \
			-m 256 -c 1 --name bench ;;
	qemu-microvm)
		# microvm has no i8042: reboot=k would spin on port 0x64 for a
		# minute before falling back to a triple fault; go there at once.
		set -- qemu-system-x86_64 -M microvm -accel kvm -cpu host \
			-m 256 -smp 1 -nodefaults -no-user-config -display none \
			-serial stdio -monitor none -no-reboot \
			-kernel "$L2_KERNEL" -initrd "$L2_INITRD" \
			-append "console=ttyS0 $params reboot=t" ;;
	esac
	BENCH_ARGV=$(for a in "$@"; do printf "'%s' " "$a"; done)
}

for vmm in $BENCH_VMMS; do
	bench_cmd "$vmm"
	echo "@@LKVM-BENCH-CMD $vmm: $BENCH_ARGV@@"
done

# One boot of VMM; prints its result line.
bench_run() {
	bench_cmd "$1"
	rm -f /tmp/bench.boot /tmp/bench.rc
	ms0=$(uptime_ms)
	{
		eval "timeout -s KILL $BENCH_TIMEOUT $BENCH_ARGV" < /dev/null 2>&1
		echo $? > /tmp/bench.rc
	} | tee /tmp/bench.out | {
		if grep -q -m1 LKVM-USERSPACE-OK; then
			uptime_ms > /tmp/bench.boot
		fi
		cat > /dev/null
	}
	ms1=$(uptime_ms)
	boot=none
	[ -f /tmp/bench.boot ] && boot=$(( $(cat /tmp/bench.boot) - ms0 ))
	grep -a '^GUEST-UPTIME' /tmp/bench.out | sed "s/^/@@LKVM-BENCH-UPTIME vmm=$1 /; s/\$/@@/"
	if [ "$boot" = none ] && [ "$1" != lkvm-run-true ]; then
		echo "--- $1 run $2: no user-space marker; its output ends:"
		tail -n 15 /tmp/bench.out
	fi
	echo "@@LKVM-BENCH vmm=$1 run=$2 boot_ms=$boot" \
		"total_ms=$((ms1 - ms0)) exit=$(cat /tmp/bench.rc)@@"
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

#!/bin/bash
# Boot time of a real Linux guest: lkvm against QEMU's microvm machine.
#
# Runs in the nested harness (tests/nested): one L1 boot under QEMU/TCG
# with KVM inside, where each VMM boots the same L2 kernel and initramfs
# several times.  Measured from starting the VMM in L1 to the guest's
# first user-space line (LKVM-USERSPACE-OK from /init), and to the VMM's
# exit after the guest's immediate reboot -f.  Medians are printed side by
# side.  Absolute numbers are those of a guest under KVM under TCG: compare
# the columns, not the values with bare-metal figures.
#
# --devloop adds `lkvm run -k K -- true` (lkvm-run-true: no initramfs of
# ours, L1's / as the root over 9p with an overlay, lkvm's own init and
# the kernel's modules; only "to VMM exit" applies) and the same with
# `-- sh -c 'echo ...'` (lkvm-run-echo: to CMD's output, plus the guest's
# own /proc/uptime when CMD ran), on the generic kernel flavour (9p).
#
# Both VMMs get the same kernel, initramfs, guest command line, vCPUs and
# memory, with the console on the 8250 (QEMU: -M microvm -cpu host); the
# guest ends with an ACPI poweroff, and a VMM still running 10 s after the
# guest's last line is stopped (exit "hung": QEMU's microvm can hang in its
# shutdown under nested KVM).  Two figures per VMM: the wall time from
# starting the VMM in L1 to the first user-space line (it includes the
# VMM's own start-up: QEMU's is seconds in this emulated L1), and the
# guest's uptime at that line (the kernel's boot alone).
#
# usage: bench/boot-time.sh [--arch x86_64|arm64] [--lkvm PATH] [--runs N]
#                           [--no-qemu] [--quiet] [--devloop] [--pvh]
#                           [--cpus N] [--mem MIB] [--dmesg DIR]
#   --arch A    the nested harness's architecture (tests/nested/run.sh);
#               arm64 measures lkvm only
#   --runs N    boots per VMM (default 5)
#   --no-qemu   lkvm only (QEMU and its libraries make L1's initramfs
#               ~50 MB bigger)
#   --quiet     add "quiet" to the guest command line (less console output,
#               whose emulation dominates the boot time otherwise)
#   --pvh       also lkvm-pvh: lkvm booting the vmlinux inside the same
#               bzImage through its PVH entry (no decompressor), next to
#               lkvm's bzImage boot
#   --cpus N    guest vCPUs (default 1); --mem MIB guest RAM (default 256)
#   --dmesg DIR the guest's kernel log of each VMM's first boot, saved as
#               DIR/VMM.dmesg and compared line by line; DIR/VMM.l1time:
#               that boot's console lines with L1's clock (s since the VMM
#               started), the same for both VMMs where the guests' own
#               clocks may differ
#   L1 CPUs: LKVM_NESTED_L1_SMP (tests/nested/lib.sh).  With BENCH_FIGURES
#   set, the medians are also appended to that file as tab-separated
#   "figure vmm value unit" lines (bench/compare.sh).
# Not part of the test suite.  Exit status 77: the harness cannot run here.

set -u
. "$(dirname "$0")/../tests/nested/lib.sh"

lkvm=$REPO_DIR/lkvm
runs=5
vmms="lkvm qemu-microvm"
append=
devloop=0
pvh=0
arch=x86_64
cpus=1
mem=256
dmesg_dir=
while [ $# -gt 0 ]; do
	case $1 in
	--arch) arch=$2; shift ;;
	--lkvm) lkvm=$2; shift ;;
	--runs) runs=$2; shift ;;
	--no-qemu) vmms=lkvm ;;
	--quiet) append=quiet ;;
	--devloop) devloop=1 ;;
	--pvh) pvh=1 ;;
	--cpus) cpus=$2; shift ;;
	--mem) mem=$2; shift ;;
	--dmesg) dmesg_dir=$2; shift ;;
	-h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) nested_die "unknown option $1 (see --help)" ;;
	esac
	shift
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || nested_die "--runs needs a positive number"
[[ $cpus =~ ^[1-9][0-9]*$ ]] || nested_die "--cpus needs a positive number"
[[ $mem =~ ^[1-9][0-9]*$ ]] || nested_die "--mem needs a positive number"
[ -z "$dmesg_dir" ] || mkdir -p "$dmesg_dir" || nested_die "cannot create $dmesg_dir"
[ -x "$lkvm" ] || nested_die "lkvm binary '$lkvm' not found (run make first)"
nested_set_arch "$arch"
[ "$(elf_machine "$lkvm")" = "$NESTED_ARCH" ] ||
	nested_die "'$lkvm' is not an $NESTED_ARCH program (--arch $NESTED_ARCH)"
[ "$NESTED_ARCH" = x86_64 ] || vmms=lkvm

nested_check_host_tools
if [ "$devloop" = 1 ]; then
	# lkvm run -- CMD passes "quiet" itself: give the plain boot the same.
	vmms="lkvm lkvm-run-true lkvm-run-echo${vmms#lkvm}"
	append=quiet
	kernel_prepare amd64
else
	kernel_prepare
fi
l1_kernel_prepare
work=$(mktemp -d "${TMPDIR:-/tmp}/lkvm-bench.XXXXXX") || nested_die "mktemp"
trap 'rm -rf "$work"' EXIT

if [ "$pvh" = 1 ]; then
	vmms="lkvm lkvm-pvh${vmms#lkvm}"
	L1_TOOLS=vmlinux
fi
REFERENCE_QEMU=0
[[ $vmms == *qemu* ]] && REFERENCE_QEMU=1
per_run=120
build_l2_initramfs "$work/l2.cpio.gz" "$work" || nested_die "L2 initramfs"
build_l1_initramfs "$work/l1.cpio" "$work" bench "$lkvm" "$work/l2.cpio.gz" \
	"BENCH_RUNS=$runs
BENCH_VMMS='$vmms'
BENCH_APPEND='$append'
BENCH_TIMEOUT=$per_run
BENCH_CPUS=$cpus
BENCH_MEM=$mem
BENCH_DMESG=$([ -n "$dmesg_dir" ] && echo 1 || echo 0)" || nested_die "L1 initramfs"

nvmm=$(wc -w <<< "$vmms")
echo "boot-time: kernel $KREL, $runs runs of: $vmms${append:+ (guest: $append)}," \
	"-c $cpus -m $mem, L1 CPUs ${LKVM_NESTED_L1_SMP:-1}"
run_l1_batch "$work/l1.cpio" "$work/raw.log" $((150 + nvmm * runs * (per_run + 5)))
clean_console_log "$work/raw.log" > "$work/console.log"
log=${BENCH_LOG:-${TMPDIR:-/tmp}/lkvm-bench-console.log}
cp "$work/raw.log" "$log"

grep -q '@@LKVM-L1 kvm=ok@@' "$work/console.log" ||
	nested_skip "L1 did not boot or has no /dev/kvm; log: $log"

# Median of the numbers on stdin ("none" when there are none).
median() {
	sort -n | awk '{ v[NR] = $1 }
		END { if (NR == 0) print "none";
		      else if (NR % 2) print v[(NR + 1) / 2];
		      else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# Values of FIELD over the successful runs of VMM (exit 0; for boot_ms,
# those that printed the marker and exited 0 or hung after the guest's end).
values() {
	grep -o "@@LKVM-BENCH vmm=$1 [^@]*@@" "$work/console.log" |
		{ if [ "$2" = boot_ms ]; then grep -v 'boot_ms=none' | grep -E 'exit=(0|hung)@@'
		  else grep 'exit=0@@'; fi; } |
		grep -o "$2=[0-9]*" | cut -d= -f2
}

# The guest's uptime (ms) at its first user-space line, per run of VMM.
uptimes() {
	grep -o "@@LKVM-BENCH-UPTIME vmm=$1 [^@]*@@" "$work/console.log" |
		awk '{ sub(/@@$/, "", $4); printf "%d\n", $4 * 1000 }'
}

# Appends one figure to $BENCH_FIGURES (bench/compare.sh reads it).
figure() {
	[ -n "${BENCH_FIGURES:-}" ] && [ "$3" != none ] &&
		printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$BENCH_FIGURES"
	return 0
}

fmt_ms() {
	case $1 in none) echo "-" ;; *) printf '%d.%02d s' $(($1 / 1000)) $(($1 % 1000 / 10)) ;; esac
}

grep -o '@@LKVM-BENCH-CMD [^@]*@@' "$work/console.log" | sed 's/^@@LKVM-BENCH-CMD /  /; s/@@$//'
label=${append:-full console}
printf '%-14s %6s %16s %16s %16s\n' VMM "ok/N" "to user space" "guest uptime" "to VMM exit"
for v in $vmms; do
	ok=$(values "$v" boot_ms | wc -l)
	b=$(values "$v" boot_ms | median)
	u=$(uptimes "$v" | median)
	printf '%-14s %6s %16s %16s %16s\n' "$v" "$ok/$runs" "$(fmt_ms "$b")" \
		"$(fmt_ms "$u")" "$(fmt_ms "$(values "$v" total_ms | median)")"
	echo "  runs (to user space, ms): $(values "$v" boot_ms | tr '\n' ' ')"
	echo "  runs (guest uptime, ms): $(uptimes "$v" | tr '\n' ' ')"
	echo "  runs (to VMM exit, ms): $(values "$v" total_ms | tr '\n' ' ')"
	hung=$(grep -c "@@LKVM-BENCH vmm=$v [^@]*exit=hung@@" "$work/console.log")
	[ "$hung" -gt 0 ] && echo "  $hung run(s) hung after the guest's end (stopped)"
	grep -o "@@LKVM-BENCH-TRACE vmm=$v [^@]*@@" "$work/console.log" | head -n 4 |
		sed "s/^@@LKVM-BENCH-TRACE vmm=$v /  first run: /; s/@@\$//"
	figure "boot to user space, $label (wall)" "$v" "$(values "$v" boot_ms | median)" ms
	figure "boot to user space, $label (guest uptime)" "$v" "$(uptimes "$v" | median)" ms
	if [ -n "$dmesg_dir" ]; then
		grep -o "@@LKVM-BENCH-DMESG vmm=$v [^@]*@@" "$work/console.log" |
			sed "s/^@@LKVM-BENCH-DMESG vmm=$v //; s/@@\$//" > "$dmesg_dir/$v.dmesg"
		grep -o "@@LKVM-BENCH-L1TIME vmm=$v [^@]*@@" "$work/console.log" |
			sed "s/^@@LKVM-BENCH-L1TIME vmm=$v //; s/@@\$//" > "$dmesg_dir/$v.l1time"
	fi
done
echo "(medians; L1 console log: $log)"
if [ -n "$dmesg_dir" ] && [[ $vmms == *qemu-microvm* ]]; then
	"$(dirname "$0")/dmesg-compare.sh" "$dmesg_dir/lkvm.dmesg" \
		"$dmesg_dir/qemu-microvm.dmesg" > "$dmesg_dir/compare.txt"
	echo "(guest kernel logs side by side: $dmesg_dir/compare.txt)"
fi

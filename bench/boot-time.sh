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
# usage: bench/boot-time.sh [--arch x86_64|arm64] [--lkvm PATH] [--runs N]
#                           [--no-qemu] [--quiet] [--devloop] [--pvh]
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
while [ $# -gt 0 ]; do
	case $1 in
	--arch) arch=$2; shift ;;
	--lkvm) lkvm=$2; shift ;;
	--runs) runs=$2; shift ;;
	--no-qemu) vmms=lkvm ;;
	--quiet) append=quiet ;;
	--devloop) devloop=1 ;;
	--pvh) pvh=1 ;;
	-h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) nested_die "unknown option $1 (see --help)" ;;
	esac
	shift
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || nested_die "--runs needs a positive number"
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
BENCH_TIMEOUT=$per_run" || nested_die "L1 initramfs"

nvmm=$(wc -w <<< "$vmms")
echo "boot-time: kernel $KREL, $runs runs of: $vmms${append:+ (guest: $append)}"
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
# those that printed the marker).
values() {
	grep -o "@@LKVM-BENCH vmm=$1 [^@]*@@" "$work/console.log" | grep 'exit=0@@' |
		{ if [ "$2" = boot_ms ]; then grep -v 'boot_ms=none'; else cat; fi; } |
		grep -o "$2=[0-9]*" | cut -d= -f2
}

fmt_ms() {
	case $1 in none) echo "-" ;; *) printf '%d.%02d s' $(($1 / 1000)) $(($1 % 1000 / 10)) ;; esac
}

grep -o '@@LKVM-BENCH-CMD [^@]*@@' "$work/console.log" | sed 's/^@@LKVM-BENCH-CMD /  /; s/@@$//'
printf '%-14s %6s %16s %16s\n' VMM "ok/N" "to user space" "to VMM exit"
for v in $vmms; do
	ok=$(values "$v" total_ms | wc -l)
	printf '%-14s %6s %16s %16s\n' "$v" "$ok/$runs" \
		"$(fmt_ms "$(values "$v" boot_ms | median)")" \
		"$(fmt_ms "$(values "$v" total_ms | median)")"
	echo "  runs (to user space, ms): $(values "$v" boot_ms | tr '\n' ' ')"
	echo "  runs (to VMM exit, ms): $(values "$v" total_ms | tr '\n' ' ')"
	up=$(grep -o "@@LKVM-BENCH-UPTIME vmm=$v [^@]*@@" "$work/console.log" |
		awk '{ print $4 }' | tr -d '@' | tr '\n' ' ')
	[ -n "$up" ] && echo "  guest uptime when CMD ran (s): $up"
done
echo "(medians; L1 console log: $log)"

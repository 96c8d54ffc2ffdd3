#!/bin/bash
# Memory of the VMM beside its guest's RAM: lkvm against QEMU's microvm.
#
# Runs in the nested harness (tests/nested): one L1 boot under QEMU/TCG
# with KVM inside, where each VMM boots the same L2 guest (one vCPU, --mem
# MiB, a 64 MiB virtio-blk disk, a user-mode NIC), interleaved run by run.
# When the guest has used both devices, L1 sums the VMM's /proc/PID/smaps:
#   own RSS       resident memory outside guest RAM (code, libraries, heap,
#                 stacks, buffers): RSS minus the guest RAM pages resident
#   own private   the part of it no other process shares (Private_Clean +
#                 Private_Dirty), i.e. what one more VM costs
#   own dirty     Private_Dirty outside guest RAM (heap, stacks, buffers)
# Guest RAM = the mappings at least as large as the guest's RAM.  In L1
# the programs and libraries live in the initramfs (ramfs): their pages
# count as private and dirty there, so the three figures come out alike.  Medians
# are printed side by side with the ratio lkvm/QEMU, then lkvm's largest
# mappings besides guest RAM.  Goal (issue 14): lkvm's own RSS < 8 MiB.
#
# usage: bench/rss.sh [--lkvm PATH] [--runs N] [--mem MIB] [--no-qemu]
#   --runs N    measurements per VMM (default 3); --mem MIB (default 128)
#   L1 CPUs: LKVM_NESTED_L1_SMP.  With BENCH_FIGURES set, the medians are
#   appended to that file as tab-separated "figure vmm value unit" lines.
# Not part of the test suite.  Exit status 77: the harness cannot run here.

set -u
. "$(dirname "$0")/../tests/nested/lib.sh"

lkvm=$REPO_DIR/lkvm
runs=3
mem=128
vmms="lkvm qemu-microvm"
while [ $# -gt 0 ]; do
	case $1 in
	--lkvm) lkvm=$2; shift ;;
	--runs) runs=$2; shift ;;
	--mem) mem=$2; shift ;;
	--no-qemu) vmms=lkvm ;;
	-h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) nested_die "unknown option $1 (see --help)" ;;
	esac
	shift
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || nested_die "--runs needs a positive number"
[[ $mem =~ ^[1-9][0-9]*$ ]] || nested_die "--mem needs a positive number"
[ -x "$lkvm" ] || nested_die "lkvm binary '$lkvm' not found (run make first)"
nested_set_arch x86_64
nested_check_host_tools
kernel_prepare
l1_kernel_prepare
work=$(mktemp -d "${TMPDIR:-/tmp}/lkvm-rss.XXXXXX") || nested_die "mktemp"
trap 'rm -rf "$work"' EXIT
REFERENCE_QEMU=0
[[ $vmms == *qemu* ]] && REFERENCE_QEMU=1
build_l2_initramfs "$work/l2.cpio.gz" "$work" || nested_die "L2 initramfs"
build_l1_initramfs "$work/l1.cpio" "$work" rss "$lkvm" "$work/l2.cpio.gz" \
	"RSS_RUNS=$runs
RSS_VMMS='$vmms'
RSS_MEM=$mem" || nested_die "L1 initramfs"

echo "rss: kernel $KREL, $runs runs of: $vmms, -c 1 -m $mem, blk + user net," \
	"L1 CPUs ${LKVM_NESTED_L1_SMP:-1}"
run_l1_batch "$work/l1.cpio" "$work/raw.log" $((150 + $(wc -w <<< "$vmms") * runs * 150))
clean_console_log "$work/raw.log" > "$work/console.log"
log=${BENCH_LOG:-${TMPDIR:-/tmp}/lkvm-rss-console.log}
cp "$work/raw.log" "$log"
grep -q '@@LKVM-L1 kvm=ok@@' "$work/console.log" ||
	nested_skip "L1 did not boot or has no /dev/kvm; log: $log"

median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "none";
		else if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
# FIELD (kB) over the runs of VMM.
values() {
	grep -o "@@LKVM-RSS vmm=$1 [^@]*@@" "$work/console.log" | grep -o " $2=[0-9]*" | cut -d= -f2
}
fmt_kb() {
	case $1 in none) echo "-" ;; *) awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }' ;; esac
}
ratio() {
	case "$1$2" in *none*) echo "-" ;; *) awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }' ;; esac
}
figure() {
	[ -n "${BENCH_FIGURES:-}" ] && [ "$3" != none ] &&
		printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$BENCH_FIGURES"
	return 0
}

grep -o '@@LKVM-RSS-CMD [^@]*@@' "$work/console.log" | sed 's/^@@LKVM-RSS-CMD /  /; s/@@$//'
printf '%-22s' ""
for v in $vmms; do printf ' %14s' "$v"; done
[ "$vmms" = "lkvm qemu-microvm" ] && printf ' %10s' "ratio"
printf '\n'
for f in own_kb:"own RSS" own_private_kb:"own private" own_dirty_kb:"own dirty" \
	guest_kb:"guest RAM resident" total_kb:"total RSS" threads:"threads"; do
	printf '%-22s' "${f#*:}"
	meds=
	for v in $vmms; do
		m=$(values "$v" "${f%%:*}" | median)
		meds="$meds $m"
		if [ "${f%%:*}" = threads ]; then printf ' %14s' "$m"; else printf ' %14s' "$(fmt_kb "$m")"; fi
		[ "${f%%:*}" = threads ] || figure "memory: ${f#*:} (1 vCPU, $mem MiB, blk+net)" "$v" "$m" kB
	done
	# shellcheck disable=SC2086
	[ "$vmms" = "lkvm qemu-microvm" ] && printf ' %10s' "$(ratio $meds)"
	printf '\n'
done
for v in $vmms; do
	echo "  $v runs (own RSS, kB): $(values "$v" own_kb | tr '\n' ' ')"
	grep -o "@@LKVM-RSS-GUEST vmm=$v [^@]*@@" "$work/console.log" | head -n 1 |
		sed "s/^@@LKVM-RSS-GUEST vmm=$v /  $v guest: /; s/@@\$//"
	grep -q "vmm=$v run=[0-9]* total" "$work/console.log" ||
		grep -A 15 -- "--- $v run" "$work/console.log" | head -n 16 | sed 's/^/  | /'
done
echo "lkvm's mappings of >= 256 kB besides guest RAM (first run; kB resident, dirty):"
awk '/@@LKVM-RSS vmm=lkvm /{ exit } /@@LKVM-RSS-MAP vmm=lkvm /{ print }' "$work/console.log" |
	sed 's/^@@LKVM-RSS-MAP vmm=lkvm /  /; s/@@$//' | sort -t= -k2 -rn | head -n 15
echo "(medians; L1 console log: $log)"

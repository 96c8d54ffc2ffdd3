#!/bin/bash
# Block I/O inside a real Linux guest for lkvm's disk back ends.
#
# Runs in the nested harness (tests/nested): one L1 boot under QEMU/TCG
# with KVM inside; lkvm boots the L2 guest once per back end with one image
# in L1's /tmp (tmpfs) as /dev/vda, and bench/blk-bench.c (built static
# into both L1 and L2) measures with O_DIRECT and Linux native AIO:
#   seq write   1 MiB writes over the whole image, 4 in flight
#   seq read    1 MiB reads over the whole image, 4 in flight
#   4k rand     4 KiB reads at random offsets, 1 and 16 in flight
# Back ends: raw-libaio (the default for raw images), raw-sync (,sync:
# preadv/pwritev on the queue's thread), qcow2 (qemu-img create; lkvm's
# qcow2 has no async engine of its own, ,sync makes no difference).  The
# last row is the limit: the same measurements in L1 on the raw image file
# itself (tmpfs has no O_DIRECT in this kernel, so that is page-cache
# speed).  Absolute numbers are those of a guest under KVM under TCG on a
# shared machine: compare rows with each other, not with bare metal.
#
# usage: bench/blk.sh [--lkvm PATH] [--mib N] [--secs N] [--modes LIST]
#   --mib N       image size in MiB (default 256)
#   --secs N      time limit of each measurement (default 10)
#   --modes LIST  back ends (default: raw-libaio raw-sync qcow2)
# Needs qemu-img in L1 for qcow2 (tests/nested/lib.sh stages it).  Not
# part of the test suite.  Exit status 77: the harness cannot run here.

set -u
. "$(dirname "$0")/../tests/nested/lib.sh"

lkvm=$REPO_DIR/lkvm
mib=256
secs=10
modes="raw-libaio raw-sync qcow2"
while [ $# -gt 0 ]; do
	case $1 in
	--lkvm) lkvm=$2; shift ;;
	--mib) mib=$2; shift ;;
	--secs) secs=$2; shift ;;
	--modes) modes=$2; shift ;;
	-h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) nested_die "unknown option $1 (see --help)" ;;
	esac
	shift
done
[[ $mib =~ ^[1-9][0-9]*$ ]] || nested_die "--mib needs a positive number"
[[ $secs =~ ^[1-9][0-9]*$ ]] || nested_die "--secs needs a positive number"
[ -x "$lkvm" ] || nested_die "lkvm binary '$lkvm' not found (run make first)"
for m in $modes; do
	case $m in raw-libaio|raw-sync|qcow2) ;; *) nested_die "unknown mode '$m'" ;; esac
done

nested_check_host_tools
kernel_prepare cloud-amd64
l1_kernel_prepare
work=$(mktemp -d "${TMPDIR:-/tmp}/lkvm-blkbench.XXXXXX") || nested_die "mktemp"
trap 'rm -rf "$work"' EXIT

# The harness packs every case of its cases/ directory and builds every
# program of progs/: give it a copy with the benchmark's own.
cp -r "$NESTED_DIR" "$work/nested"
NESTED_DIR=$work/nested
rm -f "$NESTED_DIR"/cases/*.sh "$NESTED_DIR"/progs/*.c
cp "$REPO_DIR/bench/blk-bench.c" "$NESTED_DIR/progs/"

# One case per back end; the first also measures L1 on its image.
write_case() {
	local mode=$1 limit=$2
	{
		echo "BB_MODE=$mode BB_MIB=$mib BB_SECS=$secs BB_LIMIT=$limit"
		cat <<'EOF'
CASE_MEM=256
CASE_TIMEOUT=400
BB_IMG=/tmp/blkbench.img

# blk-bench's line, tagged with where it ran.
bb_run() {
	where=$1
	shift
	out=$(blk-bench "$@" 2>&1)
	echo "BB-RESULT where=$where $out"
}

bb_all() {
	bb_run "$1" seqwrite "$2" 1048576 4 "$BB_SECS"
	bb_run "$1" seqread "$2" 1048576 4 "$BB_SECS"
	bb_run "$1" randread "$2" 4096 1 "$BB_SECS"
	bb_run "$1" randread "$2" 4096 16 "$BB_SECS"
}

case_l1_setup() {
	rm -f $BB_IMG
	case $BB_MODE in
	qcow2)
		if ! command -v qemu-img >/dev/null; then
			CASE_APPEND="bb.skip=no-qemu-img-in-L1"
			return
		fi
		qemu-img create -q -f qcow2 $BB_IMG "${BB_MIB}M"
		CASE_ARGS="-d $BB_IMG" ;;
	raw-sync)
		truncate -s "${BB_MIB}M" $BB_IMG
		CASE_ARGS="-d $BB_IMG,sync" ;;
	*)
		truncate -s "${BB_MIB}M" $BB_IMG
		CASE_ARGS="-d $BB_IMG" ;;
	esac
}

case_guest() {
	skip=$(cmdline_value bb.skip)
	[ -n "$skip" ] && case_skip "$skip"
	bb_all guest /dev/vda
}

case_l1_after() {
	[ "$BB_LIMIT" = 1 ] && [ -f $BB_IMG ] && bb_all l1 $BB_IMG
	rm -f $BB_IMG
}
EOF
	} > "$NESTED_DIR/cases/blkbench-$mode.sh"
}

# The L1 row is measured on the image of the first raw back end.
cases= limit_case=
for m in $modes; do
	if [ -z "$limit_case" ] && [[ $m == raw-* ]]; then
		limit_case=blkbench-$m
		write_case "$m" 1
	else
		write_case "$m" 0
	fi
	cases="$cases blkbench-$m"
done

build_l2_initramfs "$work/l2.cpio.gz" "$work" || nested_die "L2 initramfs"
build_l1_initramfs "$work/l1.cpio" "$work" suite "$lkvm" "$work/l2.cpio.gz" \
	"L1_CASES='$cases'" || nested_die "L1 initramfs"

echo "blk-bench: kernel $KREL, ${mib} MiB images in L1's tmpfs, ${secs} s per measurement," \
	"back ends: $modes"
run_l1_batch "$work/l1.cpio" "$work/raw.log" $((150 + $(wc -w <<< "$modes") * 415))
clean_console_log "$work/raw.log" > "$work/console.log"
log=${TMPDIR:-/tmp}/lkvm-blkbench-console.log
cp "$work/raw.log" "$log"
grep -q '@@LKVM-L1 kvm=ok@@' "$work/console.log" ||
	nested_skip "L1 did not boot or has no /dev/kvm; log: $log"

# FIELD of the result line of TEST (e.g. "randread qd=16") in case C
# measured WHERE (guest or l1).
field() {
	awk -v b="@@LKVM-BEGIN $1@@" -v e="@@LKVM-END $1@@" '
		index($0, e) { on = 0 } on { print } index($0, b) { on = 1 }' \
		"$work/console.log" | grep "^BB-RESULT where=$2 $3 " | head -n1 |
		grep -o " $4=[0-9.]*" | cut -d= -f2
}

row() {
	local label=$1 c=$2 where=$3 v
	printf '%-26s' "$label"
	for t in "seqwrite:mbps" "seqread:mbps" "randread bs=4096 qd=1:iops" \
		"randread bs=4096 qd=16:iops"; do
		v=$(field "$c" "$where" "${t%:*}" "${t#*:}")
		printf ' %12s' "${v:--}"
	done
	printf '\n'
}

printf '%-26s %12s %12s %12s %12s\n' "" "seq write" "seq read" "4k rand QD1" "4k rand QD16"
printf '%-26s %12s %12s %12s %12s\n' "" "MB/s" "MB/s" "IOPS" "IOPS"
for m in $modes; do
	case $m in
	raw-libaio) label="raw, libaio (default)" ;;
	raw-sync) label="raw, sync (,sync)" ;;
	qcow2) label="qcow2" ;;
	esac
	row "$label" "blkbench-$m" guest
	if grep -q "LKVM-SKIP" <(awk -v b="@@LKVM-BEGIN blkbench-$m@@" \
		-v e="@@LKVM-END blkbench-$m@@" 'index($0, e) { on = 0 } on { print }
		index($0, b) { on = 1 }' "$work/console.log"); then
		echo "  ($m skipped: $(grep -o 'LKVM-SKIP: .*' "$work/console.log" | head -n1))"
	fi
done
[ -n "$limit_case" ] && row "L1, same file (limit)" "$limit_case" l1
if grep -q 'direct=0' <(grep '^BB-RESULT where=l1' "$work/console.log"); then
	echo "(L1 row without O_DIRECT: tmpfs refuses it, so it reads L1's page cache)"
fi
grep 'BB-RESULT' "$work/console.log" | grep -v 'mbps=' | sed 's/^/  error: /' | head -n 5
echo "(L1 console log: $log)"

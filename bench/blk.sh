#!/bin/bash
# Block I/O inside a real Linux guest: lkvm against QEMU microvm, and
# lkvm's disk back ends against each other.
#
# Runs in the nested harness (tests/nested): one L1 boot under QEMU/TCG
# with KVM inside.  Comparison (the default): rounds of one L2 boot with
# lkvm and one with QEMU 7.2 `-M microvm -cpu host` (order alternating per
# round), same kernel, initramfs, -c/-smp, -m 512, one virtio-blk disk on
# a fresh 300 MiB raw image in L1's tmpfs (both buffered, as each VMM
# defaults).  In each boot the guest runs:
#   dd-read       dd if=/dev/vda of=/dev/null bs=1M after drop_caches
#   dd-write      dd if=/dev/zero of=/dev/vda bs=1M conv=fsync
#   seqread/seqwrite-qd1/qd32   1 MiB O_DIRECT AIO (bench/blk-bench.c)
#   rand4k-qd1/qd16/qd32        4 KiB O_DIRECT random reads
# (fio is not staged into L2; blk-bench is the static AIO stand-in.)  For
# each test it prints the figure of each VMM (mean over rounds) and the
# ratio lkvm/QEMU, plus KVM exits per MB (L1's debugfs counters, taken
# when the guest's begin/end lines arrive) and the guest's interrupts of
# the disk per MB (/proc/interrupts in L2); and the request limits each
# guest sees (/sys/block/vda/queue) and the features it negotiated.
#
# Back ends (--backends): the older table of raw-libaio (the default: buffered,
# libaio), raw-sync and qcow2
# with blk-bench, and the same on L1's file (the limit).
#
# usage: bench/blk.sh [--lkvm PATH] [--l1-cpus 1|2] [--cpus N] [--rounds N]
#                     [--mib N] [--secs N] [--backends LIST] [--no-compare]
#   --l1-cpus N    L1's CPUs (default 2)
#   --cpus N       L2 vCPUs of both VMMs (default 2)
#   --rounds N     boots per VMM (default 2)
#   --mib N        MiB per sequential test (default 256, at most 280)
#   --secs N       time limit of each blk-bench test (default 5)
#   --backends L   also the back-end table (raw-libaio raw-sync qcow2)
#   --no-compare   only the back-end table
#   --disk-opts S  appended to lkvm's -d image (e.g. ,sync: the batch path)
#   --tests LIST   the comparison's tests (default: all of the list above)
#   --read-ahead KB  set both guests' read_ahead_kb (default: each its own)
# The comparison also prints the guest's mean request size per test and
# the L1 CPU ticks of each VMM thread (user/system/guest).
# Not part of the test suite.  Exit status 77: the harness cannot run here.

set -u
. "$(dirname "$0")/../tests/nested/lib.sh"

lkvm=$REPO_DIR/lkvm
mib=256
secs=5
modes=
compare=1
l1_cpus=2
cpus=2
rounds=2
dopts=
all_tests="dd-read dd-write seqread-qd1 seqread-qd32 seqwrite-qd1 seqwrite-qd32 rand4k-qd1 rand4k-qd16 rand4k-qd32"
tests=$all_tests
ra=
while [ $# -gt 0 ]; do
	case $1 in
	--lkvm) lkvm=$2; shift ;;
	--mib) mib=$2; shift ;;
	--secs) secs=$2; shift ;;
	--modes|--backends) modes=$2; shift ;;
	--l1-cpus) l1_cpus=$2; shift ;;
	--cpus) cpus=$2; shift ;;
	--rounds) rounds=$2; shift ;;
	--no-compare) compare=0 ;;
	--disk-opts) dopts=$2; shift ;;
	--tests) tests=$2; shift ;;
	--read-ahead) ra=$2; shift ;;
	-h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) nested_die "unknown option $1 (see --help)" ;;
	esac
	shift
done
[[ $mib =~ ^[1-9][0-9]*$ ]] || nested_die "--mib needs a positive number"
[[ $secs =~ ^[1-9][0-9]*$ ]] || nested_die "--secs needs a positive number"
[[ $l1_cpus =~ ^[12]$ ]] || nested_die "--l1-cpus is 1 or 2"
[[ $cpus =~ ^[1-9]$ ]] || nested_die "--cpus needs a number 1-9"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || nested_die "--rounds needs a positive number"
[[ $dopts =~ ^(,[a-z=0-9]+)*$ ]] || nested_die "--disk-opts: ,OPT[,OPT...]"
[ "$compare" = 1 ] && [ "$mib" -gt 280 ] && nested_die "--mib: at most 280 (300 MiB image)"
[ "$compare" = 1 ] || [ -n "$modes" ] || nested_die "--no-compare needs --backends"
[ -z "$ra" ] || [[ $ra =~ ^[1-9][0-9]*$ ]] || nested_die "--read-ahead needs a number of KiB"
for t in $tests; do
	[[ " $all_tests " == *" $t "* ]] || nested_die "unknown test '$t' (tests: $all_tests)"
done
export LKVM_NESTED_L1_SMP=$l1_cpus
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

if [ "$compare" = 1 ]; then
	{
		echo "BC_CPUS=$cpus BC_ROUNDS=$rounds BC_MIB=$mib BC_SECS=$secs BC_DOPTS=$dopts"
		echo "BC_TESTS='$tests' BC_RA=$ra"
		cat "$REPO_DIR/bench/blk-compare-case.sh"
	} > "$NESTED_DIR/cases/blkcmp.sh"
	cases="blkcmp $cases"
fi

build_l2_initramfs "$work/l2.cpio.gz" "$work" || nested_die "L2 initramfs"
REFERENCE_QEMU=$compare build_l1_initramfs "$work/l1.cpio" "$work" suite "$lkvm" \
	"$work/l2.cpio.gz" "L1_CASES='$cases'" || nested_die "L1 initramfs"

echo "blk-bench: kernel $KREL, L1 on $l1_cpus CPU(s), L2 -c $cpus -m 512," \
	"${mib} MiB per sequential test, ${secs} s per blk-bench test," \
	"${compare:+lkvm${dopts:+ (-d IMG$dopts)} vs QEMU microvm x$rounds rounds}${modes:+, back ends: $modes}"
limit=$((150 + $(wc -w <<< "$modes") * 415))
[ "$compare" = 1 ] && limit=$((limit + rounds * 2 * (200 + 10 * secs)))
[ "$l1_cpus" = 1 ] && limit=$((limit * 3 / 2))
run_l1_batch "$work/l1.cpio" "$work/raw.log" "$limit"
clean_console_log "$work/raw.log" > "$work/console.log"
log=${TMPDIR:-/tmp}/lkvm-blkbench-console.log
cp "$work/raw.log" "$log"
grep -q '@@LKVM-L1 kvm=ok@@' "$work/console.log" ||
	nested_skip "L1 did not boot or has no /dev/kvm; log: $log"

# ---- the comparison ----
compare_report() {
	local c=$work/blkcmp.log
	awk -v b="@@LKVM-BEGIN blkcmp@@" -v e="@@LKVM-END blkcmp@@" '
		index($0, e) { on = 0 } on { print } index($0, b) { on = 1 }' \
		"$work/console.log" > "$c"
	grep -o 'BLKCMP-NOTE.*' "$c" | sort -u
	grep -o 'BLKCMP-L1 .*' "$c" | head -n1
	# The guest's view of the disk, per VMM (first boot of each).
	awk '/BLKCMP-VMM / { v = $2 } /BLKCMP-CONF/ && !seen[v]++ {
		sub(/.*BLKCMP-CONF /, ""); print "  " v ": " $0 }' "$c"
	printf '%-14s %10s %10s %7s %11s %11s %10s %10s\n' test lkvm qemu ratio \
		"exits/MB l" "exits/MB q" "irqs/MB l" "irqs/MB q"
	awk '
	/BLKCMP-VMM / { v = $2 }
	/BLKCMP-RESULT/ {
		for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		t = f["test"]; if (!(t in order)) { order[t] = ++n; name[n] = t }
		if (f["rc"] != 0 || f["ms"] <= 0) { bad[v, t]++; next }
		mb = f["bytes"] / 1e6
		fig = (t ~ /^rand/) ? f["iops"] : mb * 1000 / f["ms"]
		sum[v, t] += fig; cnt[v, t]++; irq[v, t] += f["irqs"]; mbs[v, t] += mb
	}
	/BLKCMP-KVM/ {
		for (i = 1; i <= NF; i++) { split($i, kv, "="); g[kv[1]] = kv[2] }
		ex[g["vmm"], g["test"]] += g["exits"]
		gt[g["vmm"], g["test"]] += g["guest_t"]; ut[g["vmm"], g["test"]] += g["user_t"]
		st[g["vmm"], g["test"]] += g["sys_t"]
	}
	function avg(v, t) { return cnt[v, t] ? sum[v, t] / cnt[v, t] : 0 }
	function per(x, v, t) { return mbs[v, t] ? sprintf("%.0f", x / mbs[v, t]) : "-" }
	END {
		for (k = 1; k <= n; k++) {
			t = name[k]; l = avg("lkvm", t); q = avg("qemu", t)
			printf "%-14s %10.1f %10.1f %6.2fx %11s %11s %10s %10s%s\n", t, l, q,
				q ? l / q : 0, per(ex["lkvm", t], "lkvm", t), per(ex["qemu", t], "qemu", t),
				per(irq["lkvm", t], "lkvm", t), per(irq["qemu", t], "qemu", t),
				(bad["lkvm", t] || bad["qemu", t]) ? "  (failed runs: lkvm " bad["lkvm", t]+0 " qemu " bad["qemu", t]+0 ")" : ""
		}
		print "(seq*/dd*: MB/s; rand4k*: IOPS; means over the rounds that completed)"
		print ""
		print "L1 CPU time of each VMM process per MB (ms, 10 ms ticks): guest (vCPUs in L2) / VMM user / system"
		printf "%-14s %22s %22s\n", "test", "lkvm", "qemu"
		for (k = 1; k <= n; k++) {
			t = name[k]; line = sprintf("%-14s", t)
			for (j = 0; j < 2; j++) {
				v = j ? "qemu" : "lkvm"
				# Guest time is sampled apart from user time: clamp the
				# difference of two tick counts at 0.
				u = ut[v, t] > 0 ? ut[v, t] : 0
				line = line sprintf(" %22s", mbs[v, t] ? sprintf("%.1f / %.1f / %.1f",
					gt[v, t] * 10 / mbs[v, t], u * 10 / mbs[v, t],
					st[v, t] * 10 / mbs[v, t]) : "-")
			}
			print line
		}
	}' "$c"
	grep -o 'BLKCMP-ERROR.*' "$c" | head -n 5
	echo
	echo "Guest requests (L2's /sys/block/vda/stat): count and mean KiB, reads / writes, and flushes"
	awk '
	/BLKCMP-VMM / { v = $2 }
	/BLKCMP-RESULT/ {
		for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		t = f["test"]; if (!(t in order)) { order[t] = ++n; name[n] = t }
		r[v, t] += f["reads"]; rs[v, t] += f["rsect"]; w[v, t] += f["writes"]
		ws[v, t] += f["wsect"]; fl[v, t] += f["flushes"]
	}
	function kib(s, c) { return c ? sprintf("%.0f", s / 2 / c) : "-" }
	END {
		for (k = 1; k <= n; k++) {
			t = name[k]; line = sprintf("%-14s", t)
			for (j = 0; j < 2; j++) {
				v = j ? "qemu" : "lkvm"
				line = line sprintf("  %s %7d x %5s / %6d x %5s / %4d", v, r[v, t], kib(rs[v, t], r[v, t]),
					w[v, t], kib(ws[v, t], w[v, t]), fl[v, t])
			}
			print line
		}
	}' "$c"
	echo
	echo "L1 CPU ticks per VMM thread, busiest first (name:user/system/guest), per boot"
	grep -o 'BLKCMP-THREADS.*' "$c" | sed 's/^BLKCMP-THREADS /  /'
	for v in lkvm qemu; do
		echo "$v: $(grep -c "BLKCMP-VMM $v" "$c") boots, $(grep -c "BLKCMP-DONE" <(awk -v v="$v" \
			'/BLKCMP-VMM / { cur = $2 } cur == v' "$c")) completed"
	done
}
[ "$compare" = 1 ] && compare_report
[ -n "$modes" ] || { echo "(L1 console log: $log)"; exit 0; }
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

#!/bin/bash
# Time from starting lkvm to the L2 guest's first user-space line
# (LKVM-USERSPACE-OK from its /init), on x86_64 and on arm64, side by side.
# Both run nested (tests/nested): lkvm inside an L1 under QEMU/TCG with KVM,
# each with its own L1 boot (bench/boot-time.sh --arch A); the guests boot
# with "quiet" (on both architectures every console byte is an exit that
# TCG emulates twice over) and no drivers.  Medians over N runs.  Not a
# test: no threshold; compare the columns within one run.
#
# usage: bench/boot-time-arches.sh [--runs N] [--lkvm-x86 PATH]
#                                  [--lkvm-arm64 PATH]
#   --runs N           boots per architecture (default 5)
#   --lkvm-x86 PATH    default ./lkvm
#   --lkvm-arm64 PATH  default build-cross-arm64/lkvm (make arm64-cross)
# An architecture that cannot run here (no lkvm for it, no QEMU) is shown
# as such.

set -u
cd "$(dirname "$0")/.."
runs=5
lkvm_x86=./lkvm
lkvm_arm64=build-cross-arm64/lkvm
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift ;;
	--lkvm-x86) lkvm_x86=$2; shift ;;
	--lkvm-arm64) lkvm_arm64=$2; shift ;;
	-h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "boot-time-arches: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
out=$(mktemp -d "${TMPDIR:-/tmp}/lkvm-bench-arches.XXXXXX") || exit 2
trap 'rm -rf "$out"' EXIT
slot=$(command -v nested-slot)

# Both L1 machines at once: x86's has one CPU, arm64's two.
for a in x86_64 arm64; do
	l=$lkvm_x86
	[ $a = arm64 ] && l=$lkvm_arm64
	BENCH_LOG=${TMPDIR:-/tmp}/lkvm-bench-$a-console.log \
		$slot bench/boot-time.sh --arch $a --lkvm "$l" --runs "$runs" \
		--no-qemu --quiet > "$out/$a" 2>&1 &
done
wait

# From boot-time.sh's output: the runs' times to user space (ms).
median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-";
		else if (NR % 2) print v[(NR + 1) / 2];
		else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
printf '%-8s %6s %14s %14s %14s   %s\n' arch "ok/N" "median (ms)" "min (ms)" "max (ms)" "runs (ms)"
for a in x86_64 arm64; do
	if ! grep -q '^  runs (to user space, ms):' "$out/$a"; then
		printf '%-8s did not run: %s\n' $a \
			"$(grep -m1 -e SKIP -e error "$out/$a" || tail -n1 "$out/$a")"
		continue
	fi
	v=$(sed -n 's/^  runs (to user space, ms): //p' "$out/$a" | head -n1)
	n=$(wc -w <<< "$v")
	printf '%-8s %6s %14s %14s %14s   %s\n' $a "$n/$runs" \
		"$(tr ' ' '\n' <<< "$v" | sed '/^$/d' | median)" \
		"$(tr ' ' '\n' <<< "$v" | sed '/^$/d' | sort -n | head -n1)" \
		"$(tr ' ' '\n' <<< "$v" | sed '/^$/d' | sort -n | tail -n1)" "$v"
done
for a in x86_64 arm64; do
	grep -m1 '^boot-time: kernel' "$out/$a" | sed "s/^boot-time:/  $a:/"
done
echo "(medians; L1 console logs: ${TMPDIR:-/tmp}/lkvm-bench-{x86_64,arm64}-console.log)"

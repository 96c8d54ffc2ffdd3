#!/bin/bash
# Micro-benchmark: the cost of one port-I/O exit round trip (guest `out`
# -> KVM -> lkvm's exit handler -> back into the guest).
#
#   bench/pio-exit.sh [--lkvm PATH] [--runs N]
#
# Three builds of tests/guests/pio-loop.S, each the fastest of N runs:
#   pio-null  0 iterations: lkvm start-up and tear-down
#   pio-spin  1,000,000 iterations of the loop without its `out`
#   pio-loop  1,000,000 iterations, each an `out` to the UART scratch
#             register, which lkvm handles in user space
# Per exit: (pio-loop - pio-null) / 1e6 as wall clock and as lkvm's CPU
# time, and (pio-loop - pio-spin) in CPU time, which leaves out the loop
# itself (a software KVM emulates the guest's instructions, so it is not
# free).  Wall clock includes waiting for a CPU on a busy machine; the CPU
# figures do not.  Needs `make lkvm guests` first.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
lkvm=$top/lkvm
guests=$top/tests/guests
runs=3
exits=1000000	# PIO_ITERATIONS of pio-loop.bin in tests/guests/Makefile

usage() {
	echo "usage: $0 [--lkvm PATH] [--runs N]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--lkvm) [ $# -ge 2 ] || usage; lkvm=$2; shift 2 ;;
	--runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
	*) usage ;;
	esac
done

if ! (exec 3<>/dev/kvm) 2>/dev/null; then
	echo "SKIP: pio-exit (/dev/kvm is missing or cannot be opened)"
	exit 77
fi
for f in "$lkvm" "$guests"/pio-{loop,null,spin}.bin; do
	if [ ! -e "$f" ]; then
		echo "pio-exit: $f is missing: run 'make lkvm guests'" >&2
		exit 1
	fi
done

# time_guest BIN: prints "wall user sys" in seconds for one run; fails
# unless the guest finished normally.
time_guest() {
	local t out status
	out=$(mktemp)
	TIMEFORMAT='%3R %3U %3S'
	t=$( { time timeout 300 "$lkvm" run -k "$1" --test-device \
		</dev/null >"$out" 2>/dev/null; } 2>&1 )
	status=$?
	if [ "$status" != 0 ] || ! grep -q '^pio-loop: done' "$out"; then
		echo "pio-exit: $1 failed (status $status)" >&2
		rm -f "$out"
		return 1
	fi
	rm -f "$out"
	echo "$t"
}

# best BIN: the run with the fastest wall time of $runs runs.
best() {
	local i r best=""
	for ((i = 0; i < runs; i++)); do
		r=$(time_guest "$1") || return 1
		if [ -z "$best" ] || awk -v a="$r" -v b="$best" \
			'BEGIN { split(a, x); split(b, y); exit !(x[1] < y[1]) }'; then
			best=$r
		fi
	done
	echo "$best"
}

null=$(best "$guests/pio-null.bin") || exit 1
spin=$(best "$guests/pio-spin.bin") || exit 1
loop=$(best "$guests/pio-loop.bin") || exit 1

awk -v null="$null" -v spin="$spin" -v loop="$loop" -v n="$exits" \
    -v runs="$runs" 'BEGIN {
	split(null, z); split(spin, s); split(loop, l)
	printf "pio-exit: %d exits in %.3f s wall, %.3f s user, %.3f s sys (best of %d)\n", n, l[1], l[2], l[3], runs
	printf "pio-exit: baselines: start-up %.3f s wall; loop without exits %.3f s wall, %.3f s CPU\n", z[1], s[1], s[2] + s[3]
	printf "pio-exit: per exit: %.2f us wall, %.2f us CPU (%.2f us of it in lkvm user space), %.2f us CPU net of the loop\n", \
		(l[1] - z[1]) * 1e6 / n, (l[2] + l[3] - z[2] - z[3]) * 1e6 / n, \
		(l[2] - z[2]) * 1e6 / n, (l[2] + l[3] - s[2] - s[3]) * 1e6 / n
}'

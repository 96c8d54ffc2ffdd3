#!/bin/bash
# Micro-benchmark: the cost of one port-I/O exit and of one MMIO exit
# round trip (guest access -> KVM -> lkvm's exit handler -> back into the
# guest).
#
#   bench/pio-exit.sh [--lkvm PATH] [--runs N] [--no-callgrind] [--no-time]
#
# Guests (tests/guests), three builds each of pio-loop.S and mmio-loop.S:
#   *-null  0 iterations: lkvm start-up and tear-down
#   *-spin  1,000,000 iterations of the loop without its access
#   *-loop  1,000,000 iterations, each an `out` to the UART scratch register
#           (pio) or a 4-byte store to the test device's DATA register
#           (mmio), which lkvm handles in user space
#
# Callgrind figure (the goal's figure): instructions executed in lkvm's
# process (all threads) per exit, (loop - spin) / 1e6.  The guest's own
# instructions run in the kernel and are not counted, so this is exactly
# lkvm's user-space work per exit, and deterministic: a good number even on
# a loaded machine.  Callgrind cannot follow lkvm's seccomp filter, so those
# runs use --no-sandbox.
#
# Time figures, each the fastest of N runs: per exit (loop - null) / 1e6 as
# wall clock and as lkvm's CPU time, and (loop - spin) in CPU time, which
# leaves out the loop itself (a software KVM emulates the guest's
# instructions, so it is not free).  Wall clock includes waiting for a CPU
# on a busy machine; the CPU figures do not.  Needs `make lkvm guests`.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
lkvm=$top/lkvm
guests=$top/tests/guests
runs=3
exits=1000000	# *_ITERATIONS of the loop builds in tests/guests/Makefile
do_callgrind=1
do_time=1

usage() {
	echo "usage: $0 [--lkvm PATH] [--runs N] [--no-callgrind] [--no-time]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--lkvm) [ $# -ge 2 ] || usage; lkvm=$2; shift 2 ;;
	--runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
	--no-callgrind) do_callgrind=0; shift ;;
	--no-time) do_time=0; shift ;;
	*) usage ;;
	esac
done

if ! (exec 3<>/dev/kvm) 2>/dev/null; then
	echo "SKIP: pio-exit (/dev/kvm is missing or cannot be opened)"
	exit 77
fi
for f in "$lkvm" "$guests"/{pio,mmio}-{loop,null,spin}.bin; do
	if [ ! -e "$f" ]; then
		echo "pio-exit: $f is missing: run 'make lkvm guests'" >&2
		exit 1
	fi
done
if [ "$do_callgrind" = 1 ] && ! command -v valgrind >/dev/null; then
	echo "pio-exit: valgrind is not installed: no callgrind figures (--no-callgrind to silence)" >&2
	do_callgrind=0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run_ok KIND OUT STATUS: the guest printed its done line and lkvm exited 0.
run_ok() {
	[ "$3" = 0 ] && grep -q "^$1-loop: done" "$2"
}

# time_guest KIND BIN: prints "wall user sys" in seconds for one run.
time_guest() {
	local t status
	TIMEFORMAT='%3R %3U %3S'
	t=$( { time timeout 300 "$lkvm" run -k "$2" --test-device \
		</dev/null >"$tmp/out" 2>/dev/null; } 2>&1 )
	status=$?
	if ! run_ok "$1" "$tmp/out" "$status"; then
		echo "pio-exit: $2 failed (status $status)" >&2
		return 1
	fi
	echo "$t"
}

# best KIND BIN: the run with the fastest wall time of $runs runs.
best() {
	local i r best=""
	for ((i = 0; i < runs; i++)); do
		r=$(time_guest "$1" "$2") || return 1
		if [ -z "$best" ] || awk -v a="$r" -v b="$best" \
			'BEGIN { split(a, x); split(b, y); exit !(x[1] < y[1]) }'; then
			best=$r
		fi
	done
	echo "$best"
}

# instructions KIND BIN: lkvm's instruction count under callgrind.
instructions() {
	local status
	timeout 600 valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
		"$lkvm" run -k "$2" --test-device --no-sandbox \
		</dev/null >"$tmp/out" 2>"$tmp/cg.err"
	status=$?
	if ! run_ok "$1" "$tmp/out" "$status"; then
		echo "pio-exit: $2 failed under callgrind (status $status)" >&2
		return 1
	fi
	sed -n 's/^==[0-9]*== Collected : *\([0-9]*\)$/\1/p' "$tmp/cg.err"
}

time_kind() {
	local kind=$1 null spin loop
	null=$(best "$kind" "$guests/$kind-null.bin") || return 1
	spin=$(best "$kind" "$guests/$kind-spin.bin") || return 1
	loop=$(best "$kind" "$guests/$kind-loop.bin") || return 1
	awk -v k="$kind" -v null="$null" -v spin="$spin" -v loop="$loop" -v n="$exits" \
	    -v runs="$runs" 'BEGIN {
		split(null, z); split(spin, s); split(loop, l)
		printf "%s-exit: %d exits in %.3f s wall, %.3f s user, %.3f s sys (best of %d)\n", k, n, l[1], l[2], l[3], runs
		printf "%s-exit: baselines: start-up %.3f s wall; loop without exits %.3f s wall, %.3f s CPU\n", k, z[1], s[1], s[2] + s[3]
		printf "%s-exit: per exit: %.2f us wall, %.2f us CPU (%.2f us of it in lkvm user space), %.2f us CPU net of the loop\n", k, \
			(l[1] - z[1]) * 1e6 / n, (l[2] + l[3] - z[2] - z[3]) * 1e6 / n, \
			(l[2] - z[2]) * 1e6 / n, (l[2] + l[3] - s[2] - s[3]) * 1e6 / n
	}'
}

callgrind_kind() {
	local kind=$1 spin loop
	spin=$(instructions "$kind" "$guests/$kind-spin.bin") || return 1
	loop=$(instructions "$kind" "$guests/$kind-loop.bin") || return 1
	awk -v k="$kind" -v spin="$spin" -v loop="$loop" -v n="$exits" 'BEGIN {
		printf "%s-exit: callgrind: %.1f instructions per exit in lkvm (%d with the loop, %d without, %d exits)\n", \
			k, (loop - spin) / n, loop, spin, n
	}'
}

rc=0
for kind in pio mmio; do
	if [ "$do_time" = 1 ]; then
		time_kind "$kind" || rc=1
	fi
	if [ "$do_callgrind" = 1 ]; then
		callgrind_kind "$kind" || rc=1
	fi
done
exit $rc

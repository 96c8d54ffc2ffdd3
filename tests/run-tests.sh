#!/bin/bash
# The whole test suite, as `make check` runs it: unit tests (plain and
# ASan/UBSan builds), the virtqueue ordering test, the direct tier on
# /dev/kvm (with the gdb stub against a real gdb) and the nested Linux
# tiers (x86_64, and arm64 in parallel with the x86 ones).  Each tier
# reports PASS/FAIL/SKIP lines; this script adds them up, says how long
# each tier took, and prints one closing line:
#   "check: N passed, N failed, N skipped"
# A tier whose prerequisite is missing says SKIP loudly; skips are never
# counted as passes.  Exit status: 1 if anything failed, else 0.
set -u
cd "$(dirname "$0")/.."
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
passed=0 failed=0 skipped=0

count() {	# count PASS/FAIL/SKIP lines of one tier's output
	local out=$1 p f s
	p=$(grep -c '^PASS: ' "$out"); f=$(grep -c '^FAIL: ' "$out"); s=$(grep -c '^SKIP: ' "$out")
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}

times=
# judge_tier NAME STATUS SECONDS [NOTE]: a tier's exit status must agree
# with its lines: a non-zero status (other than 77, "skipped") with no FAIL
# line is a failure.
judge_tier() {
	local name=$1 st=$2 secs=$3 note=${4:-} out=$log/$1.out
	count "$out"
	if [ "$st" -ne 0 ] && [ "$st" -ne 77 ] && ! grep -q '^FAIL: ' "$out"; then
		echo "FAIL: $name (exited $st)" | tee -a "$out"
		failed=$((failed + 1))
	fi
	echo "--- $name took ${secs} s"
	times="$times$(printf '  %-16s %5d s%s' "$name" "$secs" "$note")"$'\n'
}

# run_tier NAME COMMAND...: runs a tier, its output shown as it comes.
run_tier() {
	local name=$1; shift
	local st t0=$SECONDS
	echo "=== $name"
	"$@" 2>&1 | tee "$log/$name.out"
	st=${PIPESTATUS[0]}
	judge_tier "$name" "$st" $((SECONDS - t0))
}

# tier_to_file NAME COMMAND...: runs a tier with its output kept in a file
# (for tiers run in parallel); show_tier NAME waits for it to end, then
# shows and counts it like run_tier.
tier_to_file() {
	local name=$1; shift
	local t0=$SECONDS
	"$@" > "$log/$name.out" 2>&1
	echo "$? $((SECONDS - t0))" > "$log/$name.done"
}
show_tier() {
	local name=$1 st secs
	while [ ! -s "$log/$name.done" ]; do sleep 2; done
	read -r st secs < "$log/$name.done"
	echo "=== $name"
	cat "$log/$name.out"
	judge_tier "$name" "$st" "$secs" " (in parallel)"
}

# nested-slot (where installed) keeps a shared machine at two QEMUs.
slot=$(command -v nested-slot)

# The arm64 nested tier: the cross-built lkvm and order tests (make
# arm64-cross: scripts/build-arm64.sh) in an arm64 L1 with two CPUs.
# Skipped, loudly, without the cross compiler or QEMU for arm64.
ARM64_OUT=build-cross-arm64
nested_arm64_tier() {
	local t
	for t in "${CROSS_COMPILE_ARM64:-aarch64-linux-gnu-}gcc" qemu-system-aarch64; do
		if ! command -v "$t" >/dev/null 2>&1; then
			echo "########################################################"
			echo "SKIP: nested-arm64 ($t not found: scripts/setup.sh installs it)"
			echo "########################################################"
			return 77
		fi
	done
	if ! ls arm/*.c >/dev/null 2>&1; then
		echo "########################################################"
		echo "SKIP: nested-arm64 (this tree has no arm64 port: arm/ is empty)"
		echo "########################################################"
		return 77
	fi
	$slot tests/nested/run.sh --arch arm64 --lkvm "$ARM64_OUT/lkvm" \
		--order-dir "$ARM64_OUT/order" \
		--log "${TMPDIR:-/tmp}/lkvm-nested-arm64-console.log"
}

unit_tier() {	# unit tests of one build (plain or build-asan)
	local dir=$1 st=0 t n=0
	for t in $dir/tests/unit/test-* $dir/tests/unit/*/test-*; do
		[ -x "$t" ] || continue
		case "$t" in *.c|*.o|*.d) continue;; esac
		n=$((n + 1))
		"$t" || st=1
	done
	# A tier with nothing built must not pass by running nothing.
	if [ $n -eq 0 ]; then
		echo "FAIL: no unit test binaries in $dir/tests/unit (the Makefile builds them: make check)"
		return 1
	fi
	return $st
}

run_tier unit unit_tier .
run_tier unit-asan unit_tier build-asan
run_tier order tests/order/run.sh
run_tier qcow2 tests/qcow2/run.sh
run_tier fuzz tests/fuzz/run.sh
run_tier direct tests/direct/run.sh --lkvm ./lkvm
run_tier mgmt tests/direct/mgmt.sh --lkvm ./lkvm
run_tier gdb tests/direct/gdb.sh --lkvm ./lkvm
if [ -n "${LKVM_SKIP_NESTED:-}" ]; then
	echo "SKIP: nested (LKVM_SKIP_NESTED is set: the Linux guest tiers, x86 and arm64, did not run)"
	skipped=$((skipped + 1))
else
	# Two lanes, one QEMU machine each: the x86 cloud-kernel tier (the
	# longest) in one; the arm64 tier and then the x86 generic-kernel
	# tier in the other.  Each one's output is shown in order as it ends.
	echo "=== nested, nested-arm64 then nested-generic, run in parallel:" \
		"each one's output follows when it has ended"
	tier_to_file nested $slot tests/nested/run.sh --lkvm ./lkvm &
	{
		tier_to_file nested-arm64 nested_arm64_tier
		# 9p needs the generic kernel flavour (the cloud one has no 9p).
		tier_to_file nested-generic $slot tests/nested/run.sh --lkvm ./lkvm \
			--flavour amd64 --log "${TMPDIR:-/tmp}/lkvm-nested-generic-console.log"
	} &
	show_tier nested
	show_tier nested-arm64
	show_tier nested-generic
	wait
fi

echo
echo "check: time per tier:"
printf '%s' "$times"
echo "check: whole suite $SECONDS s"
echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

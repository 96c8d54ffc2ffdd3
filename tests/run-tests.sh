#!/bin/bash
# The whole test suite, as `make check` runs it: unit tests (plain and
# ASan/UBSan builds), the virtqueue ordering test, the direct tier on
# /dev/kvm (with the gdb stub against a real gdb) and the nested Linux tier.  Each tier reports PASS/FAIL/SKIP
# lines; this script adds them up and prints one closing line:
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

# run_tier NAME COMMAND...: a tier's exit status must agree with its lines:
# a non-zero status (other than 77, "skipped") with no FAIL line is a failure.
run_tier() {
	local name=$1; shift
	local out=$log/$name.out st
	echo "=== $name"
	"$@" 2>&1 | tee "$out"
	st=${PIPESTATUS[0]}
	count "$out"
	if [ "$st" -ne 0 ] && [ "$st" -ne 77 ] && ! grep -q '^FAIL: ' "$out"; then
		echo "FAIL: $name (exited $st)" | tee -a "$out"
		failed=$((failed + 1))
	fi
}

unit_tier() {	# unit tests of one build (plain or build-asan)
	local dir=$1 st=0 t
	for t in $dir/tests/unit/test-* $dir/tests/unit/*/test-*; do
		[ -x "$t" ] || continue
		case "$t" in *.c|*.o|*.d) continue;; esac
		"$t" || st=1
	done
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
	echo "SKIP: nested (LKVM_SKIP_NESTED is set: the Linux guest tier did not run)"
	skipped=$((skipped + 1))
else
	run_tier nested tests/nested/run.sh --lkvm ./lkvm
	# 9p needs the generic kernel flavour (the cloud one has no 9p).
	run_tier nested-generic tests/nested/run.sh --lkvm ./lkvm --flavour amd64 \
		--log "${TMPDIR:-/tmp}/lkvm-nested-generic-console.log"
fi

echo
echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

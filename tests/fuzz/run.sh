#!/bin/bash
# Bounded run of every fuzz target, for the test suite.
#
# Each target starts from its committed seed corpus (corpus/<target>/,
# which doubles as a regression suite: every seed runs first) and fuzzes
# with a fixed -seed for a fixed number of runs, capped in time, so the
# whole run takes about two minutes (at most 8 x 20 s).  New inputs go to
# a scratch copy; the committed corpus is never modified.
#
# A crash, sanitizer report, leak, timeout or harness oracle failure keeps
# the input in tests/fuzz/crashes/<target>/ and prints how to reproduce it.
#
# Environment:
#   FUZZ_TARGETS="fuzz-virtq fuzz-9p"  run only these
#   FUZZ_SECONDS=600                   time-bounded instead (long runs; no
#                                      run limit), per target
#   FUZZ_RUNS=10000000                 this many runs per target instead of
#                                      the table's, capped only by
#                                      FUZZ_MAX_SECONDS if that is set
#                                      (bench/fuzz-campaign.sh)
#   FUZZ_MAX_SECONDS=20                cap per target in the default mode
#   FUZZ_KEEP_CORPUS=DIR               keep the grown corpus in DIR/<target>/
#
# Prints PASS:/FAIL:/SKIP: per target and "fuzz: N passed, N failed, N
# skipped"; exits 1 if any target failed.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$HERE/build
CRASHES=$HERE/crashes
SEED=20240601

# target  runs  max_len: runs chosen for ~10-15 s each on the 2-core machine.
TABLE="
fuzz-virtq           400000  8192
fuzz-virtq-packed    400000  8192
fuzz-9p               40000  8192
fuzz-qcow2            40000  65536
fuzz-virtio-blk      120000  16384
fuzz-virtio-pci      120000  16384
fuzz-virtio-mmio     120000  16384
fuzz-virtio-balloon   40000  16384
fuzz-virtio-net       40000  65536
fuzz-gdb-rsp         200000  16384
fuzz-pvh-elf         200000  8192
"

passed=0 failed=0 skipped=0
targets=${FUZZ_TARGETS:-$(echo "$TABLE" | awk 'NF { print $1 }')}

skip_all() {
	echo "########################################################"
	echo "SKIP: fuzz targets not run: $1"
	echo "########################################################"
	for t in $targets; do
		echo "SKIP: $t ($1)"
		skipped=$((skipped + 1))
	done
	echo "fuzz: $passed passed, $failed failed, $skipped skipped"
	exit 0
}

command -v clang >/dev/null 2>&1 || skip_all "clang not found"
if ! printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){return 0;}' |
	clang -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1; then
	skip_all "clang has no libFuzzer (-fsanitize=fuzzer)"
fi
base=/dev/shm
[ -w "$base" ] || base=${TMPDIR:-/tmp}
work=$(mktemp -d "$base/lkvm-fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT

if ! make -s -C "$HERE" >"$work/build.log" 2>&1; then
	echo "FAIL: building the fuzz targets (make -C tests/fuzz):"
	tail -20 "$work/build.log" | sed 's/^/    /'
	for t in $targets; do
		echo "FAIL: $t (not built)"
		failed=$((failed + 1))
	done
	echo "fuzz: $passed passed, $failed failed, $skipped skipped"
	exit 1
fi

run_target() {
	local t=$1 runs=$2 max_len=$3
	local bin=$BUILD/$t log=$work/$t.log corpus=$work/corpus-$t
	local limits start end rc artifact stats

	if [ ! -x "$bin" ]; then
		echo "SKIP: $t (not built)"
		skipped=$((skipped + 1))
		return
	fi
	if [ ! -d "$HERE/corpus/$t" ]; then
		echo "FAIL: $t (no seed corpus in tests/fuzz/corpus/$t)"
		failed=$((failed + 1))
		return
	fi
	if [ -n "${FUZZ_SECONDS:-}" ]; then
		limits="-max_total_time=$FUZZ_SECONDS"
	elif [ -n "${FUZZ_RUNS:-}" ]; then
		limits="-runs=$FUZZ_RUNS${FUZZ_MAX_SECONDS:+ -max_total_time=$FUZZ_MAX_SECONDS}"
	else
		limits="-runs=$runs -max_total_time=${FUZZ_MAX_SECONDS:-20}"
	fi
	mkdir -p "$corpus" "$CRASHES/$t" "$work/tmp-$t"
	start=$(date +%s)
	# shellcheck disable=SC2086
	FUZZ_TMPDIR=$work/tmp-$t "$bin" -seed=$SEED $limits -max_len="$max_len" \
		-detect_leaks=1 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$CRASHES/$t/" "$corpus" "$HERE/corpus/$t" >"$log" 2>&1
	rc=$?
	end=$(date +%s)
	stats=$(grep -E '^#[0-9]+[[:space:]]+(DONE|INITED)' "$log" | tail -1 |
		sed -E 's/^#([0-9]+).*cov: ([0-9]+) ft: ([0-9]+).*/\1 runs, cov: \2, ft: \3/')
	if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
		mkdir -p "$FUZZ_KEEP_CORPUS/$t" && cp -n "$corpus"/* "$FUZZ_KEEP_CORPUS/$t/" 2>/dev/null
	fi
	artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
	if [ "$rc" -eq 0 ] && [ -z "$artifact" ]; then
		echo "PASS: $t ($stats, $((end - start)) s)"
		passed=$((passed + 1))
		rmdir "$CRASHES/$t" 2>/dev/null
		return
	fi
	echo "FAIL: $t (exit $rc after $((end - start)) s)"
	grep -E 'ERROR|FUZZ ORACLE|SUMMARY|^    #[0-9]+ .* in ' "$log" |
		grep -vE 'fuzzer::|in (_start|__libc_start|__sanitizer_print|raise|abort) |pthread_kill' |
		head -30 | sed 's/^/    /'
	if [ -n "$artifact" ]; then
		echo "    input kept: $artifact"
		echo "    reproduce:  FUZZ_VERBOSE=1 $bin $artifact"
		echo "                (with the same FUZZ_* environment as this run)"
	else
		echo "    (no input saved; full log below)"
		tail -30 "$log" | sed 's/^/    /'
	fi
	failed=$((failed + 1))
}

for t in $targets; do
	line=$(echo "$TABLE" | awk -v t="$t" '$1 == t')
	if [ -z "$line" ]; then
		echo "FAIL: $t (unknown target)"
		failed=$((failed + 1))
		continue
	fi
	# shellcheck disable=SC2086
	run_target $line
done

echo "fuzz: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

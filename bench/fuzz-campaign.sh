#!/bin/bash
# Long fuzzing campaign: every fuzz target (tests/fuzz) for a fixed
# number of executions, one after the other, from the committed seed
# corpus; prints each target's executions, coverage and any crash, then a
# summary table.  Not part of `make check` (10^7 executions per target
# take hours on the 2-core machine); tests/fuzz/run.sh does the work, so
# crashes are kept and reported the same way (tests/fuzz/crashes/).
#
#   bench/fuzz-campaign.sh [--runs N] [--targets "fuzz-9p fuzz-virtq"]
#                          [--max-seconds S] [--keep-corpus DIR]
#     --runs N          executions per target (default 10000000)
#     --targets LIST    only these (default: every target of run.sh)
#     --max-seconds S   stop a target after S seconds even if short of N
#     --keep-corpus DIR keep the grown corpora in DIR/<target>/
#
# Exit status: 0 if no target crashed or failed, 1 otherwise.
set -u
cd "$(dirname "$0")/.."
runs=10000000 targets= max_seconds= keep=

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift ;;
	--targets) targets=$2; shift ;;
	--max-seconds) max_seconds=$2; shift ;;
	--keep-corpus) keep=$2; shift ;;
	-h|--help) usage ;;
	*) echo "fuzz-campaign: unknown option $1"; usage ;;
	esac
	shift
done
case $runs in ''|*[!0-9]*) echo "fuzz-campaign: --runs wants a number"; exit 2 ;; esac

out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "fuzz campaign: $runs executions per target${max_seconds:+, at most $max_seconds s each}"
start=$(date +%s)
FUZZ_RUNS=$runs FUZZ_MAX_SECONDS=$max_seconds FUZZ_TARGETS=$targets \
	FUZZ_KEEP_CORPUS=$keep tests/fuzz/run.sh | tee "$out"
st=${PIPESTATUS[0]}

echo
printf '%-22s %12s %8s %8s %8s %10s  %s\n' target executions cov ft seconds exec/s result
# "PASS: fuzz-9p (40000 runs, cov: 781, ft: 2345, 11 s)" / "FAIL: t (exit N after S s)"
sed -nE 's/^(PASS|FAIL|SKIP): ([^ ]+) \((.*)\)$/\1 \2 \3/p' "$out" |
while read -r result t rest; do
	n=$(sed -nE 's/^([0-9]+) runs.*/\1/p' <<<"$rest")
	cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$rest")
	ft=$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$rest")
	secs=$(sed -nE 's/.* ([0-9]+) s$/\1/p' <<<"$rest")
	rate=-
	[ -n "$n" ] && [ -n "$secs" ] && [ "$secs" -gt 0 ] && rate=$((n / secs))
	[ "$result" = PASS ] && [ -n "$n" ] && [ "$n" -lt "$runs" ] && result="PASS (stopped by the time cap)"
	[ "$result" = FAIL ] && result="FAIL: $rest (see above)"
	printf '%-22s %12s %8s %8s %8s %10s  %s\n' "$t" "${n:--}" "${cov:--}" "${ft:--}" \
		"${secs:--}" "$rate" "$result"
done
crashes=$(find tests/fuzz/crashes -type f 2>/dev/null | wc -l)
echo "fuzz campaign: $(( $(date +%s) - start )) s, $crashes crash input(s) in tests/fuzz/crashes"
exit "$st"

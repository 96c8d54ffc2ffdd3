# The prologue and epilogue shared by the direct tier's scripts (run.sh,
# mgmt.sh).  Source it with the script's arguments after setting TIER (the
# name in the summary line):
#   TIER=direct; . "$(dirname "$0")/lib.sh" "$@"
# Gives: $top $lkvm (absolute) $guests $limit from --lkvm/--timeout, the
# pass/skip counters, and run_cases, which ends the script.

top=$(cd "$(dirname "$0")/../.." && pwd)
lkvm=$top/lkvm
guests=$top/tests/guests
limit=20

usage() {
	echo "usage: $0 [--lkvm PATH] [--timeout SECONDS]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--lkvm) [ $# -ge 2 ] || usage; lkvm=$2; shift 2 ;;
	--lkvm=*) lkvm=${1#--lkvm=}; shift ;;
	--timeout) [ $# -ge 2 ] || usage; limit=$2; shift 2 ;;
	-h|--help) usage ;;
	*) echo "$0: unknown argument: $1" >&2; usage ;;
	esac
done
case $lkvm in /*) ;; *) lkvm=$PWD/$lkvm ;; esac

passed=0 failed=0 skipped=0

pass() { echo "PASS: $1"; passed=$((passed + 1)); }
skip() { echo "SKIP: $1 ($2)"; skipped=$((skipped + 1)); }

# Can this process open /dev/kvm read-write?  Prints the reason if not.
kvm_unusable() {
	if [ ! -e /dev/kvm ]; then
		echo "/dev/kvm does not exist"
	elif ! (exec 3<>/dev/kvm) 2>/dev/null; then
		echo "/dev/kvm cannot be opened read-write by $(id -un)"
	fi
}

finish() {
	echo "$TIER: $passed passed, $failed failed, $skipped skipped"
	[ "$failed" = 0 ] || exit 1
	exit "${1:-0}"
}

# run_cases WHAT [GUEST...]: every case_NAME of $CASES, or all skipped
# loudly (exit 77) when /dev/kvm is unusable; WHAT names the skipped set.
# The GUESTs (tests/guests/GUEST.bin) and lkvm must exist.  Never returns.
run_cases() {
	local what=$1 g c why
	shift
	why=$(kvm_unusable)
	if [ -n "$why" ]; then
		echo "################################################################"
		echo "## SKIPPING $what: $why"
		echo "################################################################"
		for c in $CASES; do skip "$c" "$why"; done
		finish 77
	fi
	for g in "$@"; do
		if [ ! -f "$guests/$g.bin" ]; then
			echo "FAIL: $TIER ($guests/$g.bin is missing: run 'make guests')"
			failed=$((failed + 1))
			finish
		fi
	done
	if [ ! -x "$lkvm" ]; then
		echo "FAIL: $TIER ($lkvm is missing or not executable: run 'make')"
		failed=$((failed + 1))
		finish
	fi
	for c in $CASES; do
		"case_$c"
	done
	finish
}

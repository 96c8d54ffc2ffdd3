#!/bin/bash
# The nested test tier: real Debian Linux guests booted by lkvm.
#
# /dev/kvm on the development machines cannot run Linux, so this boots a
# Linux "L1" under QEMU/TCG with an emulated CPU that can virtualize (AMD
# SVM, or arm64 EL2), loads the real KVM there, and runs every case with
# lkvm inside that one L1 boot.  L1 reports each case on its console (see
# l1/suite.sh); this script judges them.
#
# usage: tests/nested/run.sh [--arch x86_64|arm64] [--lkvm PATH]
#                            [--cases "a b ..."] [--reference-qemu]
#                            [--log FILE] [--verbose]
#   --arch A           x86_64 (default) or arm64: the architecture of L1,
#                      L2 and the lkvm binary (arm64: QEMU's virt machine
#                      with EL2 and GICv3, Debian's arm64 kernel)
#   --lkvm PATH        the lkvm binary to test (default: ./lkvm of the tree)
#   --cases LIST       cases to run, in this order (default: all of cases/
#                      meant for the architecture and flavour)
#   --flavour F        the guest's Debian kernel flavour: cloud-amd64
#                      (default) or amd64 (generic: has 9p, vsock, MP tables);
#                      arm64 has one flavour, arm64
#   --order-dir DIR    where virtq-order and virtq-order-weak built for the
#                      architecture are, for the L1-side "order" case
#                      (default: tests/order next to --lkvm)
#   --reference-qemu   run the cases with QEMU+KVM inside L1 instead of
#                      lkvm, to check the harness itself
#   --log FILE         where to keep L1's console log
#                      (default: ${TMPDIR:-/tmp}/lkvm-nested-console.log)
#   --verbose          show L1's console while it runs
#   --guest-verbose    no "quiet" on the guests' command line (slower; the
#                      boot case always shows the kernel's full log)
# Environment: LKVM_CACHE (default ~/.cache/lkvm) holds the guest kernel;
# LKVM_REFRESH_KERNEL=1 fetches the newest one even when one is cached;
# LKVM_NESTED_TIMEOUT_FACTOR=N multiplies every case's time limit (default
# 1: 90 s for most cases) for very slow or busy machines.
#
# Prints PASS:/FAIL:/SKIP: lines and "nested: N passed, N failed, N
# skipped".  Exit status: 0 all passed, 1 a case failed, 77 the harness
# cannot run here (prerequisite missing), 2 usage or build error.

set -u
. "$(dirname "$0")/lib.sh"

lkvm=$REPO_DIR/lkvm
cases=
verbose=0
guest_verbose=0
arch=x86_64
flavour=
order_dir=
log=${TMPDIR:-/tmp}/lkvm-nested-console.log
REFERENCE_QEMU=0
factor=${LKVM_NESTED_TIMEOUT_FACTOR:-1}
while [ $# -gt 0 ]; do
	case $1 in
	--arch) arch=$2; shift ;;
	--lkvm) lkvm=$2; shift ;;
	--order-dir) order_dir=$2; shift ;;
	--cases) cases=$2; shift ;;
	--flavour) flavour=$2; shift ;;
	--reference-qemu) REFERENCE_QEMU=1 ;;
	--log) log=$2; shift ;;
	--verbose|-v) verbose=1 ;;
	--guest-verbose) guest_verbose=1 ;;
	-h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) nested_die "unknown option $1 (see --help)" ;;
	esac
	shift
done

nested_set_arch "$arch"
flavour=${flavour:-$NESTED_FLAVOUR}
[ -n "$order_dir" ] || order_dir=$(dirname "$lkvm")/tests/order

# The default list: the cases meant for this architecture and kernel
# flavour.  A case that needs other flavours lists them in CASE_FLAVOUR="..."
# (e.g. "amd64 arm64"); the rest run on the architecture's default flavour.  A case says which
# architectures it runs on with CASE_ARCH="x86_64 arm64"; without it, x86_64.
case_setting() {
	sed -n "s/^$2=//p" "$NESTED_DIR/cases/$1.sh" | head -n1 | tr -d "\"'"
}
if [ -z "$cases" ]; then
	for c in $(cd "$NESTED_DIR/cases" && ls *.sh | sed 's/\.sh$//'); do
		want=$(case_setting "$c" CASE_FLAVOUR)
		case " ${want:-$NESTED_FLAVOUR} " in
		*" $flavour "*) ;;
		*) continue ;;
		esac
		archs=$(case_setting "$c" CASE_ARCH)
		case " ${archs:-x86_64} " in
		*" $NESTED_ARCH "*) cases="$cases $c" ;;
		esac
	done
	[ -n "$cases" ] || { echo "nested: no case for $NESTED_ARCH flavour $flavour"; exit 0; }
fi
for c in $cases; do
	[ -f "$NESTED_DIR/cases/$c.sh" ] || nested_die "no case '$c' in $NESTED_DIR/cases"
done

nested_check_host_tools
if [ "$REFERENCE_QEMU" = 1 ]; then
	[ "$NESTED_ARCH" = x86_64 ] ||
		nested_die "--reference-qemu exists for x86_64 only"
	lkvm=$NESTED_DIR/l1/qemu-as-lkvm
elif [ ! -x "$lkvm" ]; then
	nested_die "lkvm binary '$lkvm' not found (run make first)"
elif [ "$(elf_machine "$lkvm")" != "$NESTED_ARCH" ]; then
	nested_die "'$lkvm' is not an $NESTED_ARCH program (--arch $NESTED_ARCH)"
fi
kernel_prepare "$flavour"
l1_kernel_prepare
# What the chosen cases want packed into L1 besides lkvm (CASE_L1_TOOLS).
L1_TOOLS=$(for c in $cases; do sed -n 's/^CASE_L1_TOOLS=//p' "$NESTED_DIR/cases/$c.sh"; done |
	tr -d "\"'" | tr ' ' '\n' | sort -u | tr '\n' ' ')

work=$(mktemp -d "${TMPDIR:-/tmp}/lkvm-nested.XXXXXX") || nested_die "mktemp"
trap 'rm -rf "$work"' EXIT

build_l2_initramfs "$work/l2.cpio.gz" "$work" ||
	nested_die "building the L2 initramfs failed"
# L1's initramfs for the cases of $1.
pack_l1() {
	build_l1_initramfs "$work/l1.cpio" "$work" suite "$lkvm" "$work/l2.cpio.gz" \
		"L1_CASES='$1'
L1_TIMEOUT_FACTOR=$factor
L1_GUEST_VERBOSE=$guest_verbose" "$order_dir" || nested_die "building the L1 initramfs failed"
}

# The host-side limit for the cases of $1: L1's boot plus every case's own
# limit and slack, so only a wedged L1 ever reaches it.
l1_budget() {
	local c t budget=150
	for c in $1; do
		t=$( CASE_TIMEOUT=90 CASE_DIR=$NESTED_DIR/cases; . "$NESTED_DIR/cases/$c.sh"; echo "$CASE_TIMEOUT" )
		budget=$((budget + t * factor + 15))
	done
	echo "$budget"
}

# Boots L1 once with the cases of $1; its raw console is $work/raw.log.
# L1's heartbeat is watched meanwhile (lib.sh: l1_watch): 180 s of silence
# (times the time-limit factor) and $work/l1/froze says that L1 froze.
boot_l1() {
	local budget qpid
	budget=$(l1_budget "$1")
	rm -rf "$work/l1"
	mkdir -p "$work/l1"
	: > "$work/raw.log"
	run_l1_batch "$work/l1.cpio" "$work/raw.log" "$budget" "$work/l1" &
	qpid=$!
	l1_watch "$work/l1" $((180 * factor)) &
	[ "$verbose" = 1 ] && tail -n +1 -F --pid=$qpid "$work/raw.log" 2>/dev/null &
	wait $qpid
	qemu_rc=$?
	touch "$work/l1/exited"
	wait
	total_budget=$((total_budget + budget))
}

# The case L1 was running when it froze: the last one begun in $1 but not
# reported.
case_in_progress() {
	local c
	for c in $(sed -n 's/^@@LKVM-BEGIN \(.*\)@@$/\1/p' "$1" | tail -n1); do
		grep -q "@@LKVM-CASE $c " "$1" || echo "$c"
	done
}

# The cases of list $1 after case $2.
cases_after() {
	printf '%s\n' $1 | sed -n "/^$2\$/,\$p" | sed 1d | tr '\n' ' '
}

# One line on a frozen L1 from its l1_watch record $1: how long it was
# silent and where its CPU was.
froze_summary() {
	local rip
	rip=$(grep -o 'RIP=[0-9a-f]*\|PC=[0-9a-f]*' "$1" | head -n1)
	echo "no heartbeat for $(sed -n 's/^silent=//p' "$1") s${rip:+, L1 CPU at $rip}"
}

# Runs the cases in L1, as many boots as it takes: when L1 freezes (its
# heartbeat stops; never because of a case, which L1 reports itself), the
# cases it finished stand, and a fresh L1 runs the rest, beginning with
# the one it froze in, once more; a case L1 froze in twice is not run a
# third time.  The consoles, without the frozen attempts, make up
# $work/console.log, which the judging reads; $log keeps everything.
: > "$work/console.log"
: > "$log"
remaining=$cases
boots=0
total_budget=0
start=$(date +%s)
while [ -n "${remaining// /}" ]; do
	boots=$((boots + 1))
	pack_l1 "$remaining"
	boot_l1 "$remaining"
	cat "$work/raw.log" >> "$log"
	if grep -q 'Triple fault' "$work/l1/qemu-reset.log" 2>/dev/null; then
		touch "$work/l1-triple-fault"
		echo "nested: L1 itself triple-faulted (QEMU's log), which ended it"
		{
			echo "== QEMU's log of L1's CPU resets:"
			cat "$work/l1/qemu-reset.log"
		} >> "$log"
	fi
	clean_console_log "$work/raw.log" > "$work/console.now"
	current=$(case_in_progress "$work/console.now")
	if [ ! -e "$work/l1/froze" ] || [ -z "$current" ] || [ "$boots" -ge 4 ]; then
		cat "$work/console.now" >> "$work/console.log"
		[ -e "$work/l1/froze" ] && cp "$work/l1/froze" "$work/froze-unretried"
		break
	fi
	sed "/^@@LKVM-BEGIN $current@@\$/,\$d" "$work/console.now" >> "$work/console.log"
	# A case L1 froze in before runs no third time.
	if compgen -G "$work/froze-$current.*" > /dev/null; then
		remaining=$(cases_after "$remaining" "$current")
	else
		remaining="$current $(cases_after "$remaining" "$current")"
	fi
	cp "$work/l1/froze" "$work/froze-$current.$boots"
	echo "nested: L1 froze during case $current ($(froze_summary "$work/l1/froze")); a fresh L1 runs the rest"
	{
		echo "== L1 froze during $current; its CPU state (QEMU's monitor):"
		cat "$work/l1/froze"
		echo "== boot $((boots + 1)) of L1 follows"
	} >> "$log"
done
wall=$(( $(date +%s) - start ))
console=$work/console.log

# --- judging ---------------------------------------------------------------

passed=0 failed=0 skipped=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail_case() { echo "FAIL: $*"; failed=$((failed + 1)); }
skip_case() { echo "SKIP: $*"; skipped=$((skipped + 1)); }

# The text of marker @@LKVM-L1 KEY ...@@ after KEY.
l1_marker() {
	grep -o "@@LKVM-L1 $1[ =][^@]*@@" "$console" | head -n1 |
		sed -e "s/^@@LKVM-L1 $1[ =]//" -e 's/@@$//'
}

# Shows the end of a case's console when it failed.
show_excerpt() {
	echo "  --- last lines of the console of $1 (full log: $log) ---"
	tail -n "${2:-30}" "$3" | sed 's/^/  | /'
}

if ! grep -q '@@LKVM-L1 boot' "$console"; then
	tail -n 30 "$console" | sed 's/^/  | /' >&2
	nested_skip "L1 did not boot under $QEMU (status $qemu_rc); log: $log"
fi
if [ "$(l1_marker kvm)" != ok ]; then
	grep -i -e kvm -e svm "$console" | tail -n 10 | sed 's/^/  | /' >&2
	nested_skip "no /dev/kvm in L1 ($L1_KVM_HINT); log: $log"
fi

version=$(l1_marker lkvm-version)
if [[ $version == "rc=0 "* ]]; then
	pass "lkvm-version (${version#rc=0 })"
else
	fail_case "lkvm-version (lkvm version in L1: ${version:-no result})"
fi

# Runs NAME's case_check in a subshell with the helpers below; the helpers
# record into files because the subshell cannot set our variables.
judge_case() {
	local name=$1 result=$2
	(
		CASE_LOG=$work/case-$name.log
		CASE_DIR=$NESTED_DIR/cases
		CASE_EXIT=$(field exit)
		fail() { echo "$*" >> "$work/fails"; }
		note() { echo "$*" >> "$work/notes"; }
		# What this host cannot test, with the evidence: SKIP unless something failed.
		skip() { echo "$*" >> "$work/skips"; }
		info() { field "$1"; }
		console_value() { sed -n "s/^$1=//p" "$CASE_LOG" | head -n1; }
		expect_exit() {
			[ "$CASE_EXIT" = "$1" ] ||
				fail "lkvm exit status $CASE_EXIT, expected $1"
		}
		expect_exit_nonzero() {
			case $CASE_EXIT in
			0) fail "lkvm exit status 0, expected non-zero" ;;
			''|none) fail "no lkvm exit status" ;;
			esac
		}
		expect_console() {
			grep -Eq -- "$1" "$CASE_LOG" || fail "console lacks /$1/"
		}
		expect_no_console() {
			! grep -Eq -- "$1" "$CASE_LOG" ||
				fail "console shows /$1/: $(grep -E -m1 -- "$1" "$CASE_LOG")"
		}
		. "$NESTED_DIR/cases/$name.sh"
		case_check
	)
}

# A case that hit its time limit: a hang, reported as such with the state
# of the VMM's threads that L1 printed when the limit expired (l1/suite.sh).
hang_report() {
	local log=$work/case-$1.log threads where
	where="guest never reached user space"
	grep -q LKVM-USERSPACE-OK "$log" && where="after the guest reached user space"
	threads=$(sed -n 's/^LKVM-HANG-TASK //p' "$log" | awk '{ printf "%s%s", sep, $0; sep = ", " }')
	echo "HANG: timed out after $(field timeout) s, $where (lkvm status $(field exit))"
	echo "VMM threads at expiry: ${threads:-none printed}"
}

# A case without a result because L1 froze during it (each time it ran):
# says so, with L1's CPU state; fails (status 1) when L1 did not freeze.
froze_report() {
	local f n=0
	for f in "$work/froze-$1".*; do
		[ -e "$f" ] || continue
		n=$((n + 1))
		echo "L1 froze during this case ($(froze_summary "$f"))"
	done
	if [ -e "$work/froze-unretried" ]; then
		n=$((n + 1))
		if [ "$(case_in_progress "$work/console.now")" = "$1" ]; then
			echo "L1 froze during this case ($(froze_summary "$work/froze-unretried"); not run again after $boots L1 boots)"
		else
			echo "L1 froze before this case ran ($(froze_summary "$work/froze-unretried"))"
		fi
	fi
	[ "$n" -gt 0 ]
}

for name in $cases; do
	result=$(grep -o "@@LKVM-CASE $name [^@]*@@" "$console" | head -n1 |
		sed -e 's/^@@//' -e 's/@@$//')
	awk -v b="@@LKVM-BEGIN $name@@" -v e="@@LKVM-END $name@@" '
		index($0, e) { on = 0 }
		on { print }
		index($0, b) { on = 1 }' "$console" > "$work/case-$name.log"
	field() { printf '%s\n' $result | sed -n "s/^$1=//p" | head -n1; }
	: > "$work/fails"
	: > "$work/notes"
	: > "$work/skips"

	why_skip=$(sed -n 's/^LKVM-SKIP: //p' "$work/case-$name.log" | head -n1)
	if [ -n "$why_skip" ]; then
		skip_case "$name ($why_skip)"
		continue
	elif [ -z "$result" ] && froze_report "$name" > "$work/fails"; then
		:
	elif [ -z "$result" ] && grep -q 'Kernel panic - not syncing' "$work/console.now"; then
		echo "no result from L1 (L1 ended after a kernel panic on its console: $(grep -o 'Kernel panic - not syncing.*' "$work/console.now" | tail -n1 | cut -c1-120); see $log)" \
			> "$work/fails"
	elif [ -z "$result" ] && [ -e "$work/l1-triple-fault" ]; then
		echo "no result from L1 (L1's own CPU triple-faulted under QEMU: see $log)" > "$work/fails"
	elif [ -z "$result" ]; then
		echo "no result from L1 (L1 died or the suite hit its ${total_budget} s limit)" \
			> "$work/fails"
	elif [ "$(field timedout)" = 1 ]; then
		hang_report "$name" > "$work/fails"
	elif [ "$(case_setting "$name" CASE_KIND)" = l1 ]; then
		judge_case "$name" "$result"
	elif ! grep -q LKVM-USERSPACE-OK "$work/case-$name.log"; then
		echo "guest never reached user space (lkvm status $(field exit))" \
			> "$work/fails"
	else
		judge_case "$name" "$result"
	fi

	for f in "$work/froze-$name".*; do
		[ -e "$f" ] && [ -n "$result" ] &&
			echo "L1 froze during an earlier attempt of this case ($(froze_summary "$f")); this result is from a fresh L1" >> "$work/notes"
	done
	timing=
	b=$(field boot_ms); e=$(field elapsed_ms)
	[ -n "$e" ] && timing="lkvm ran $((e / 1000)).$(( (e % 1000) / 100 )) s"
	[ -n "$e" ] && [ "$(case_setting "$name" CASE_KIND)" = l1 ] &&
		timing="ran $((e / 1000)).$(( (e % 1000) / 100 )) s in L1"
	[ -n "$b" ] && [ "$b" != none ] &&
		timing="user space after $((b / 1000)).$(( (b % 1000) / 100 )) s, $timing"
	if [ -s "$work/fails" ]; then
		fail_case "$name ($(paste -s -d ';' "$work/fails" | sed 's/;/; /g'))"
		sed 's/^/  note: /' "$work/notes"
		show_excerpt "$name" 30 "$work/case-$name.log"
	elif [ -s "$work/skips" ]; then
		skip_case "$name ($(paste -s -d ';' "$work/skips" | sed 's/;/; /g'))"
		sed 's/^/  note: /' "$work/notes"
	else
		pass "$name${timing:+ ($timing)}"
		sed 's/^/  note: /' "$work/notes"
	fi
done

echo "nested: L1 console log: $log; wall time ${wall} s"
echo "nested: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]

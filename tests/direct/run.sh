#!/bin/bash
# Direct tier: run the project's tiny test guests (tests/guests/*.bin) with
# lkvm on this machine's /dev/kvm and check their output and lkvm's exit
# status; plus a few checks of lkvm's own command-line behaviour.
#
#   tests/direct/run.sh [--lkvm PATH] [--timeout SECONDS]
#
# Builds nothing: `make guests` (and `make lkvm`) come first.  Prints
# PASS/FAIL/SKIP lines and "direct: N passed, N failed, N skipped"; exits 1
# if anything failed, 77 if /dev/kvm is unusable (every case skipped).
set -u

TIER=direct
. "$(dirname "$0")/lib.sh" "$@"

CASES="hello exitcode probe reset dispatch longmode smp triple pio-loop
	missing-kernel unknown-option timeout sigterm console-pty"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$work/stdout
err=$work/stderr
status=0


# fail NAME WHY: the reason plus the tail of what lkvm printed.
fail() {
	echo "FAIL: $1 ($2)"
	echo "  --- guest output (last 15 lines of stdout) ---"
	tail -n 15 "$out" | sed 's/^/  | /'
	echo "  --- lkvm messages (last 10 lines of stderr) ---"
	tail -n 10 "$err" | sed 's/^/  | /'
	failed=$((failed + 1))
}

# run_lkvm ARGS...: run lkvm under the time limit; sets $status and leaves
# the guest's output (carriage returns stripped) in $out, lkvm's in $err.
run_lkvm() {
	timeout -k 5 "$limit" "$lkvm" "$@" </dev/null >"$out.raw" 2>"$err"
	status=$?
	tr -d '\r' <"$out.raw" >"$out"
}

# run_guest NAME ARGS...: run tests/guests/NAME.bin; 1 if it cannot.
run_guest() {
	local name=$1
	shift
	if [ ! -f "$guests/$name.bin" ]; then
		: >"$out"; : >"$err"; status=-
		fail "$name" "$guests/$name.bin is missing: run 'make guests'"
		return 1
	fi
	run_lkvm run -k "$guests/$name.bin" "$@"
	if [ "$status" = 124 ] || [ "$status" = 137 ]; then
		fail "$name" "timed out after ${limit}s"
		return 1
	fi
	return 0
}

has_line() { grep -Eq -- "$1" "$out"; }

# expect NAME STATUS [REGEX...]: status and required lines; a line starting
# with FAIL from the guest always fails the case.
expect() {
	local name=$1 want=$2 re
	shift 2
	if [ "$status" != "$want" ]; then
		fail "$name" "lkvm exited with $status, expected $want"
		return 1
	fi
	for re in "$@"; do
		if ! has_line "$re"; then
			fail "$name" "no output line matching '$re'"
			return 1
		fi
	done
	if has_line '(^|: )FAIL'; then
		fail "$name" "the guest reported a failure"
		return 1
	fi
	pass "$name"
}

case_hello() {
	run_guest hello || return
	expect hello 0 '^hello from lkvm guest$'
}

# Every other guest reports failures through the exit status: make sure
# a status chosen by the guest really comes out of lkvm.
case_exitcode() {
	run_guest exitcode --test-device || return
	expect exitcode 42 '^exitcode: exiting with 42$'
}

# Without --test-device the test device must not exist.
case_probe() {
	run_guest probe || return
	expect probe 0 '^probe: no test device$'
}

case_reset() {
	run_guest reset --test-device || return
	expect reset 0 '^reset: writing 0xfe to port 0x64$'
}

case_dispatch() {
	run_guest dispatch --test-device -c 1 || return
	expect dispatch 0 '^dispatch: all checks passed$' \
		'^PASS: mmio: high half of 8-byte read$'
}

case_longmode() {
	run_guest longmode --test-device || return
	expect longmode 0 '^longmode: 64-bit long mode$' \
		'^longmode: 0x123456789abcdef0 rotated left by 16 = 0x56789abcdef01234$' \
		'^longmode: all checks passed$'
}

# Four CPUs, each reporting its APIC id exactly once.
case_smp() {
	local ids
	run_guest smp --test-device -c 4 || return
	ids=$(sed -n 's/^cpu apic id \([0-9]*\)$/\1/p' "$out" | sort -n | tr '\n' ' ')
	if [ "$status" = 0 ] && [ "$ids" != "0 1 2 3 " ]; then
		fail smp "APIC ids reported: '${ids% }', expected '0 1 2 3'"
		return
	fi
	expect smp 0 '^smp: all 4 cpus up$'
}

case_triple() {
	run_guest triple --test-device || return
	expect triple 0 '^triple: loading an empty IDT'
}

case_pio-loop() {
	run_guest pio-loop-1k --test-device || return
	expect pio-loop 0 '^pio-loop: done$'
}

# lkvm's own behaviour on bad input.
case_missing-kernel() {
	local missing=$work/no-such-kernel.bin
	run_lkvm run -k "$missing"
	if [ "$status" = 0 ] || [ "$status" = 124 ] || [ "$status" = 137 ]; then
		fail missing-kernel "expected a non-zero exit status"
	elif ! grep -q "no-such-kernel" "$err"; then
		fail missing-kernel "the error message does not name the file"
	else
		pass missing-kernel
	fi
}

case_unknown-option() {
	run_lkvm run --no-such-option -k "$guests/hello.bin"
	if [ "$status" != 2 ]; then
		fail unknown-option "expected exit status 2"
	elif [ ! -s "$err" ]; then
		fail unknown-option "no message on stderr"
	else
		pass unknown-option
	fi
}

# --timeout stops a guest that never ends, with status 124.
case_timeout() {
	local t0=$SECONDS
	run_lkvm run -k "$guests/echo.bin" --timeout 1
	if [ "$status" != 124 ]; then
		fail timeout "lkvm exited with $status, expected 124"
	elif [ $((SECONDS - t0)) -gt 5 ]; then
		fail timeout "took $((SECONDS - t0)) s for --timeout 1"
	elif ! grep -q -- "--timeout" "$err"; then
		fail timeout "no message naming --timeout"
	else
		pass timeout
	fi
}

# SIGTERM (what CI systems send) stops the guest and lkvm exits 0.
case_sigterm() {
	"$lkvm" run -k "$guests/echo.bin" </dev/null >"$out" 2>"$err" &
	local pid=$!
	sleep 1
	kill -TERM "$pid"
	timeout 10 tail --pid="$pid" -f /dev/null
	wait "$pid"
	status=$?
	if [ "$status" != 0 ]; then
		fail sigterm "lkvm exited with $status after SIGTERM, expected 0"
	elif ! grep -q "echo: ready" "$out"; then
		fail sigterm "the guest never ran"
	else
		pass sigterm
	fi
}

# Terminal behaviour on a pty: input, Ctrl-A x, terminal restored.
case_console-pty() {
	local here
	here=$(dirname "$0")
	if ! command -v python3 >/dev/null; then
		skip console-pty "python3 is needed to drive a pty"
		return
	fi
	python3 "$here/console-pty.py" "$lkvm" "$guests/echo.bin" >"$out" 2>"$err"
	status=$?
	sed 's/^\(PASS\|FAIL\): /  \1 /' "$out"
	if [ "$status" = 0 ]; then
		pass console-pty
	else
		fail console-pty "a terminal check failed"
	fi
}

run_cases "THE WHOLE DIRECT TIER"

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

CASES="hello exitcode exitdev probe reset dispatch longmode smp triple triple-reboot pio-loop mmio-loop
	missing-kernel unknown-option timeout sigterm console-pty boot-trace
	elf-without-pvh-note sandbox-threads no-sandbox-threads sandbox-violation"

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

# The exit device is always there: its status becomes lkvm's.
case_exitdev() {
	run_guest exitdev || return
	expect exitdev 7 '^exitdev: exiting with 7$'
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

# A triple fault the guest did not ask for: exit 5, one line that says so
# and the vCPU's registers on stderr.
case_triple() {
	run_guest triple --test-device || return
	if ! grep -q 'vCPU 0: triple fault: the guest reset without asking' "$err"; then
		fail triple "no 'triple fault' line on stderr"
	elif ! grep -q '^vCPU 0 registers:' "$err" || ! grep -Eq '^  rip [0-9a-f]{16} ' "$err"; then
		fail triple "no register dump on stderr"
	else
		expect triple 5 '^triple: loading an empty IDT'
	fi
}

# --reboot-on-triple-fault: today's PC behaviour, a reboot (exit 0).
case_triple-reboot() {
	run_guest triple --test-device --reboot-on-triple-fault || return
	if grep -q '^vCPU 0 registers:' "$err"; then
		fail triple-reboot "registers dumped for a triple fault taken as a reboot"
	else
		expect triple-reboot 0 '^triple: loading an empty IDT'
	fi
}

case_pio-loop() {
	run_guest pio-loop-1k --test-device || return
	expect pio-loop 0 '^pio-loop: done$'
}

case_mmio-loop() {
	run_guest mmio-loop-1k --test-device || return
	expect mmio-loop 0 '^mmio-loop: done$'
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
# --boot-trace: the milestones in order, with times; the hello guest never
# writes the boot-progress port.  Without the option nothing is printed.
case_boot-trace() {
	local t
	run_guest hello --boot-trace || return
	[ "$status" = 0 ] || { fail boot-trace "lkvm exited with $status"; return; }
	for t in "VM ready" "first vCPU entry" "first console byte"; do
		grep -Eq "boot-trace: $t +[0-9]+\.[0-9]{3} ms$" "$err" ||
			{ fail boot-trace "no '$t' time"; return; }
	done
	grep -Eq 'boot-trace: first boot-progress write +never$' "$err" ||
		{ fail boot-trace "boot-progress write not reported as never"; return; }
	# VM ready <= first vCPU entry <= first console byte.
	if ! sed -n 's/.*boot-trace: [a-zA-Z -]* \([0-9.]*\) ms$/\1/p' "$err" |
		awk 'NR > 1 && $1 + 0 < prev { exit 1 } { prev = $1 + 0 }'; then
		fail boot-trace "milestones out of order"
		return
	fi
	run_guest hello || return
	if grep -q boot-trace "$err"; then
		fail boot-trace "boot-trace lines without --boot-trace"
		return
	fi
	pass boot-trace
}

# An ELF that is not a PVH kernel (a test guest's ELF) is refused naming the note.
case_elf-without-pvh-note() {
	run_lkvm run -k "$guests/hello.elf"
	if [ "$status" != 1 ]; then
		fail elf-without-pvh-note "lkvm exited with $status, expected 1"
	elif ! grep -q 'XEN_ELFNOTE_PHYS32_ENTRY' "$err"; then
		fail elf-without-pvh-note "the message does not name the PVH note"
	else
		pass elf-without-pvh-note
	fi
}

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

# thread_modes PID: "name:mode ..." for each thread, mode being its
# /proc Seccomp field (0 none, 2 filtered).  Kernel workers that Linux
# puts in the process (PF_USER_WORKER: kvm-nx-lpage-recovery, vhost-PID)
# never run lkvm's code and are left out.
thread_modes() {
	local t flags
	for t in /proc/"$1"/task/*; do
		flags=$(sed 's/.*) //' "$t/stat" | cut -d' ' -f7)
		[ $((flags & 0x4000)) = 0 ] || continue
		awk '/^Name:/ { n = $2 } /^Seccomp:/ { m = $2 } END { printf "%s:%s ", n, m }' "$t/status"
	done
}

# sandbox_threads NAME WANT_MODE "THREADS" [ARGS...]: while a guest runs
# (stdin held open so the console thread stays), THREADS must exist and
# every lkvm thread must show WANT_MODE.
sandbox_threads() {
	local name=$1 want=$2 need=$3 pid modes t n=50
	shift 3
	rm -f "$work/in"
	mkfifo "$work/in"
	"$lkvm" run -k "$guests/echo.bin" -c 2 "$@" <"$work/in" >"$out.raw" 2>"$err" &
	pid=$!
	exec 7>"$work/in"
	while [ $n -gt 0 ] && ! grep -q "echo: ready" "$out.raw" 2>/dev/null; do
		sleep 0.2
		n=$((n - 1))
	done
	sleep 0.5
	modes=$(thread_modes "$pid")
	kill -TERM "$pid"
	exec 7>&-
	timeout 10 tail --pid="$pid" -f /dev/null
	wait "$pid"
	status=$?
	tr -d '\r' <"$out.raw" >"$out"
	if [ "$status" != 0 ]; then
		fail "$name" "lkvm exited with $status, expected 0"
		return
	fi
	for t in $need; do
		case " $modes" in
		*" $t:"*) ;;
		*) fail "$name" "no thread $t among: $modes"; return ;;
		esac
	done
	for t in $modes; do
		if [ "${t##*:}" != "$want" ]; then
			fail "$name" "thread ${t%:*} has Seccomp ${t##*:}, expected $want: $modes"
			return
		fi
	done
	echo "  threads: $modes"
	pass "$name"
}

threads_needed="lkvm signals vcpu0 vcpu1 mgmt console-in net-user"
case_sandbox-threads() { sandbox_threads sandbox-threads 2 "$threads_needed launcher"; }
case_no-sandbox-threads() { sandbox_threads no-sandbox-threads 0 "$threads_needed" --no-sandbox; }

# The hidden --sandbox-test-violation ROLE makes a thread of ROLE call a
# system call no role allows: lkvm must stop with the documented line and
# status 4; without the sandbox the same run is unaffected.
case_sandbox-violation() {
	local role re
	for role in vcpu main mgmt signals console-in net-user launcher; do
		run_lkvm run -k "$guests/echo.bin" --sandbox-test-violation "$role"
		re="^lkvm: seccomp: thread $role made forbidden system call getppid \([0-9]+\): this is a bug, please report it; --no-sandbox disables the sandbox$"
		if [ "$status" != 4 ]; then
			fail sandbox-violation "role $role: lkvm exited with $status, expected 4"
			return
		elif ! grep -Eq -- "$re" "$err"; then
			fail sandbox-violation "role $role: no line matching '$re'"
			return
		fi
	done
	run_lkvm run -k "$guests/hello.bin" --no-sandbox --sandbox-test-violation vcpu
	expect sandbox-violation 0 '^hello from lkvm guest$'
}

run_cases "THE WHOLE DIRECT TIER"

#!/bin/bash
# Direct tier, management commands: tiny guests on /dev/kvm started in the
# background and driven with lkvm list / pause / resume / debug / stat /
# balloon / stop, plus the control socket's life cycle (duplicate names,
# stale sockets after SIGKILL, removal on every clean exit).
#
#   tests/direct/mgmt.sh [--lkvm PATH] [--timeout SECONDS]
#
# Needs tests/guests/counter.bin and echo.bin (`make guests`).  Sockets go
# to a private XDG_RUNTIME_DIR, so running VMs of the user are not touched.
# Prints PASS/FAIL/SKIP lines and "mgmt: N passed, N failed, N skipped";
# exits 1 if anything failed, 77 if /dev/kvm is unusable.
set -u

TIER=mgmt
. "$(dirname "$0")/lib.sh" "$@"

CASES="list pause-resume dump nmi stat duplicate-name stop missing-vm
	bad-arguments stale-socket stop-all default-name sigterm-socket
	balloon vsock-missing sysrq"

work=$(mktemp -d)
export XDG_RUNTIME_DIR=$work/xdg
mkdir -m 700 "$XDG_RUNTIME_DIR"
sockdir=$XDG_RUNTIME_DIR/lkvm
pids=
cleanup() {
	local p
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $1 ($2)"
	local f
	for f in "$work"/cmd.out "$work"/cmd.err "$work"/*.vmerr; do
		[ -s "$f" ] || continue
		echo "  --- ${f##*/} (last 5 lines) ---"
		tail -n 5 "$f" | sed 's/^/  | /'
	done
	failed=$((failed + 1))
}

# mgmt ARGS...: run an lkvm management command; $rc, $work/cmd.out/err.
mgmt() {
	timeout -k 5 "$limit" "$lkvm" "$@" </dev/null >"$work/cmd.out" 2>"$work/cmd.err"
	rc=$?
}

# start_vm NAME GUEST [ARGS...]: lkvm run in the background (its own
# --timeout ends a forgotten one); $vm_pid is lkvm's pid.  NAME "-" starts
# it without --name.  Output in $work/NAME.vmout and .vmerr.
start_vm() {
	local name=$1 guest=$2
	shift 2
	local nameopt=(--name "$name")
	[ "$name" = - ] && nameopt=()
	"$lkvm" run -k "$guests/$guest.bin" "${nameopt[@]}" --timeout 120 "$@" \
		</dev/null >"$work/$name.vmout" 2>"$work/$name.vmerr" &
	vm_pid=$!
	pids="$pids $vm_pid"
}

# kill_vm PID: SIGKILL and reap it quietly.
kill_vm() {
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# wait_line FILE REGEX [SECS]: until a line of FILE matches.
wait_line() {
	local n=$(( ${3:-10} * 10 ))
	while [ "$n" -gt 0 ]; do
		[ -e "$1" ] && tr -d '\r' <"$1" | grep -Eq -- "$2" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# vm_exit PID [SECS]: $vm_status is its exit status once it ended, or
# "running".  Not in a $(subshell): only this shell can wait for it.
vm_exit() {
	local n=$(( ${2:-10} * 10 ))
	while [ "$n" -gt 0 ] && kill -0 "$1" 2>/dev/null; do
		sleep 0.1
		n=$((n - 1))
	done
	if kill -0 "$1" 2>/dev/null; then
		vm_status=running
		return
	fi
	wait "$1" 2>/dev/null
	vm_status=$?
}

# The last count the counter guest printed.
last_count() {
	tr -d '\r' <"$work/$1.vmout" | sed -n 's/^counter \([0-9][0-9]*\)$/\1/p' | tail -n1
}

# list_row NAME: "pid state" from lkvm list, empty when absent.
list_row() {
	"$lkvm" list 2>/dev/null | awk -v n="$1" '$1 == n { print $2, $3 }'
}

# The shared counter VM of the first cases, stopped by case_stop.
counter_up() {
	[ -n "${counter_pid:-}" ] && kill -0 "$counter_pid" 2>/dev/null && return 0
	start_vm ctr counter
	counter_pid=$vm_pid
	wait_line "$work/ctr.vmout" '^counter 2$' 15
}

case_list() {
	if ! counter_up; then
		fail list "the counter guest did not start"
		return
	fi
	local row
	row=$(list_row ctr)
	if [ "$row" != "$counter_pid running" ]; then
		fail list "lkvm list row for ctr is '$row', expected '$counter_pid running'"
	elif [ "$(stat -c %a "$sockdir/ctr.sock")" != 600 ] ||
	     [ "$(stat -c %a "$sockdir")" != 700 ]; then
		fail list "socket mode $(stat -c %a "$sockdir/ctr.sock"), directory $(stat -c %a "$sockdir"): expected 600 and 700"
	else
		pass list
	fi
}

case_pause-resume() {
	local a b c
	counter_up || { fail pause-resume "the counter guest did not start"; return; }
	mgmt pause --name ctr
	[ "$rc" = 0 ] || { fail pause-resume "lkvm pause exited $rc"; return; }
	a=$(last_count ctr)
	sleep 1.5
	b=$(last_count ctr)
	if [ "$(list_row ctr)" != "$counter_pid paused" ]; then
		fail pause-resume "lkvm list does not show ctr paused: '$(list_row ctr)'"
		"$lkvm" resume --name ctr
		return
	fi
	if [ "$a" != "$b" ]; then
		fail pause-resume "the guest kept counting while paused ($a, then $b)"
		"$lkvm" resume --name ctr
		return
	fi
	# Registers are served while paused (the vCPU threads wait, not run).
	mgmt debug --name ctr --dump
	if [ "$rc" != 0 ] || ! grep -q 'rip' "$work/cmd.out"; then
		fail pause-resume "debug --dump of a paused VM: status $rc"
		"$lkvm" resume --name ctr
		return
	fi
	mgmt resume --name ctr
	[ "$rc" = 0 ] || { fail pause-resume "lkvm resume exited $rc"; return; }
	wait_line "$work/ctr.vmout" "^counter $((b + 5))\$" 10
	c=$(last_count ctr)
	if [ -z "$c" ] || [ "$c" -le "$b" ]; then
		fail pause-resume "no progress after resume (count $b, then ${c:-none})"
	elif [ "$(list_row ctr)" != "$counter_pid running" ]; then
		fail pause-resume "lkvm list does not show ctr running again"
	else
		pass pause-resume
	fi
}

case_dump() {
	counter_up || { fail dump "the counter guest did not start"; return; }
	mgmt debug --name ctr --dump
	if [ "$rc" != 0 ]; then
		fail dump "lkvm debug --dump exited $rc"
	elif ! grep -q '^vCPU 0:' "$work/cmd.out" ||
	     ! grep -Eq '^ +rip [0-9a-f]{16} rsp [0-9a-f]{16}' "$work/cmd.out" ||
	     ! grep -Eq '^ +cr0 [0-9a-f]{16}' "$work/cmd.out"; then
		fail dump "no vCPU 0 / rip / cr0 lines in the dump"
	else
		pass dump
	fi
}

# An NMI wakes the counter guest from hlt (its IDT sends every vector to
# the loop): one extra count, and the guest goes on counting.
case_nmi() {
	counter_up || { fail nmi "the counter guest did not start"; return; }
	mgmt debug --name ctr --nmi 0
	if [ "$rc" != 0 ]; then
		fail nmi "debug --nmi 0 exited $rc"
		return
	fi
	mgmt debug --name ctr --nmi 7
	if [ "$rc" = 0 ] || ! grep -q "no vCPU '7'" "$work/cmd.err"; then
		fail nmi "an NMI to a vCPU the VM does not have: status $rc, $(head -c 200 "$work/cmd.err")"
	elif ! kill -0 "$counter_pid" 2>/dev/null; then
		fail nmi "the VM died"
	else
		pass nmi
	fi
}

case_stat() {
	counter_up || { fail stat "the counter guest did not start"; return; }
	mgmt stat --name ctr
	if [ "$rc" != 0 ] || ! grep -qx 'state=running' "$work/cmd.out" ||
	   ! grep -qx 'cpus=1' "$work/cmd.out" || ! grep -qx "pid=$counter_pid" "$work/cmd.out"; then
		fail stat "lkvm stat: status $rc, output $(tr '\n' ' ' <"$work/cmd.out")"
		return
	fi
	mgmt stat --name ctr --memory
	if [ "$rc" = 0 ] || ! grep -q 'no balloon device' "$work/cmd.err"; then
		fail stat "stat --memory without a balloon: status $rc"
	else
		pass stat
	fi
}

case_duplicate-name() {
	counter_up || { fail duplicate-name "the counter guest did not start"; return; }
	mgmt run -k "$guests/echo.bin" --name ctr
	if [ "$rc" = 0 ] || [ "$rc" = 124 ]; then
		fail duplicate-name "a second VM named ctr ran (status $rc)"
	elif ! grep -q 'already running' "$work/cmd.err"; then
		fail duplicate-name "no 'already running' message"
	elif [ "$(list_row ctr)" != "$counter_pid running" ]; then
		fail duplicate-name "the first VM lost its name"
	else
		pass duplicate-name
	fi
}

# stop returns once the VM is going (socket removed, its last step before
# exit): it then exits with status 0 within a moment.
case_stop() {
	counter_up || { fail stop "the counter guest did not start"; return; }
	mgmt stop --name ctr
	local gone=1
	[ -e "$sockdir/ctr.sock" ] && gone=0
	vm_exit "$counter_pid" 3
	if [ "$rc" != 0 ]; then
		fail stop "lkvm stop exited $rc"
	elif [ "$gone" = 0 ]; then
		fail stop "the socket was still there when lkvm stop returned"
	elif [ "$vm_status" != 0 ]; then
		fail stop "the VM exited with status $vm_status, expected 0"
	elif [ -n "$(list_row ctr)" ]; then
		fail stop "lkvm list still shows it"
	else
		pass stop
	fi
}

case_missing-vm() {
	local c bad=
	for c in "pause --name nosuch" "resume --name nosuch" "stop --name nosuch" \
		 "stat --name nosuch" "debug --name nosuch --dump" \
		 "balloon --name nosuch --inflate 1"; do
		mgmt $c
		if [ "$rc" = 0 ] || [ "$rc" = 2 ] || ! grep -q "no VM named 'nosuch'" "$work/cmd.err"; then
			bad="$bad '$c' (status $rc)"
		fi
	done
	[ -z "$bad" ] && pass missing-vm || fail missing-vm "wrong answer to:$bad"
}

case_bad-arguments() {
	local c bad=
	for c in "pause" "stop" "stop --all --name x" "balloon --name x" \
		 "balloon --name x --inflate abc" "debug --name x" \
		 "debug --name x --sysrq ab" "stat --memory" "list extra" "pause --name"; do
		mgmt $c
		[ "$rc" = 2 ] || bad="$bad '$c' (status $rc)"
	done
	[ -z "$bad" ] && pass bad-arguments || fail bad-arguments "expected status 2 for:$bad"
}

# A SIGKILLed VM leaves its socket; list removes it; the name is free again.
case_stale-socket() {
	start_vm stale echo
	local pid=$vm_pid
	if ! wait_line "$work/stale.vmout" '^echo: ready$' 10; then
		fail stale-socket "the echo guest did not start"
		return
	fi
	kill_vm "$pid"
	if [ ! -S "$sockdir/stale.sock" ]; then
		fail stale-socket "no socket left behind by the killed VM (test premise)"
		return
	fi
	mgmt list
	if grep -q '^stale ' "$work/cmd.out"; then
		fail stale-socket "lkvm list shows the dead VM"
	elif [ -e "$sockdir/stale.sock" ]; then
		fail stale-socket "lkvm list left the stale socket"
	else
		rm -f "$work/stale.vmout"
		start_vm stale echo
		pid=$vm_pid
		wait_line "$work/stale.vmout" '^echo: ready$' 10
		if [ "$(list_row stale)" != "$pid running" ]; then
			fail stale-socket "a new VM could not take the name"
		else
			pass stale-socket
		fi
		"$lkvm" stop --name stale >/dev/null 2>&1
	fi
}

case_stop-all() {
	start_vm all1 echo; local p1=$vm_pid
	start_vm all2 counter; local p2=$vm_pid
	wait_line "$work/all1.vmout" '^echo: ready$' 10
	wait_line "$work/all2.vmout" '^counter: ready$' 10
	mgmt stop --all
	local s1 s2
	vm_exit "$p1"; s1=$vm_status
	vm_exit "$p2"; s2=$vm_status
	if [ "$rc" != 0 ]; then
		fail stop-all "lkvm stop --all exited $rc"
	elif [ "$s1" != 0 ] || [ "$s2" != 0 ]; then
		fail stop-all "the VMs exited with $s1 and $s2, expected 0"
	elif [ -n "$(ls -A "$sockdir")" ]; then
		fail stop-all "sockets left: $(ls "$sockdir" | tr '\n' ' ')"
	else
		pass stop-all
	fi
}

case_default-name() {
	start_vm - echo
	local pid=$vm_pid
	wait_line "$work/-.vmout" '^echo: ready$' 10
	if ! grep -q "VM name guest-$pid " "$work/-.vmerr"; then
		fail default-name "no 'VM name guest-$pid' line on stderr"
	elif [ "$(list_row "guest-$pid")" != "$pid running" ]; then
		fail default-name "lkvm list does not show guest-$pid"
	else
		mgmt stop --name "guest-$pid"
		vm_exit "$pid"
		if [ "$rc" = 0 ] && [ "$vm_status" = 0 ]; then
			pass default-name
		else
			fail default-name "stop --name guest-$pid: status $rc, VM status $vm_status"
		fi
	fi
	kill_vm "$pid"
}

case_sigterm-socket() {
	start_vm term echo
	local pid=$vm_pid
	wait_line "$work/term.vmout" '^echo: ready$' 10
	[ -S "$sockdir/term.sock" ] || { fail sigterm-socket "no socket while running"; return; }
	kill -TERM "$pid"
	vm_exit "$pid"
	if [ "$vm_status" != 0 ]; then
		fail sigterm-socket "lkvm exited with $vm_status after SIGTERM"
	elif [ -e "$sockdir/term.sock" ]; then
		fail sigterm-socket "the socket outlived the VM"
	else
		pass sigterm-socket
	fi
}

# A tiny guest has no balloon driver: the target changes, nothing is
# returned, and there are no statistics.
case_balloon() {
	mgmt run -k "$guests/hello.bin" --balloon
	if [ "$rc" = 2 ]; then
		skip balloon "lkvm run does not accept --balloon yet"
		return
	fi
	start_vm bal echo --balloon -m 64
	local pid=$vm_pid
	wait_line "$work/bal.vmout" '^echo: ready$' 10
	mgmt balloon --name bal --inflate 16
	if [ "$rc" != 0 ] || ! grep -qx 'balloon_target_mib=16' "$work/cmd.out"; then
		fail balloon "inflate 16: status $rc, $(tr '\n' ' ' <"$work/cmd.out")"
	else
		mgmt balloon --name bal --inflate 64
		local big=$rc
		mgmt balloon --name bal --deflate 100
		local down=$rc target
		target=$(sed -n 's/^balloon_target_mib=//p' "$work/cmd.out")
		mgmt stat --name bal --memory
		if [ "$big" = 0 ]; then
			fail balloon "inflating beyond guest RAM was accepted"
		elif [ "$down" != 0 ] || [ "$target" != 0 ]; then
			fail balloon "deflate below zero: status $down, target '$target'"
		elif [ "$rc" = 0 ] || ! grep -q 'no memory statistics' "$work/cmd.err"; then
			fail balloon "stat --memory without a driver: status $rc"
		else
			pass balloon
		fi
	fi
	"$lkvm" stop --name bal >/dev/null 2>&1
	kill_vm "$pid"
}

case_vsock-missing() {
	if [ -e /dev/vhost-vsock ]; then
		skip vsock-missing "/dev/vhost-vsock exists here (the nested tier tests vsock)"
		return
	fi
	mgmt run -k "$guests/hello.bin" --vsock 3
	if [ "$rc" = 2 ] && grep -q 'not implemented' "$work/cmd.err"; then
		skip vsock-missing "lkvm run does not accept --vsock yet"
	elif [ "$rc" = 0 ]; then
		fail vsock-missing "lkvm ran without /dev/vhost-vsock"
	elif ! grep -q 'modprobe vhost_vsock' "$work/cmd.err"; then
		fail vsock-missing "the message does not say to load vhost_vsock"
	else
		pass vsock-missing
	fi
}

# Break + key on the serial console: the echo guest reads the key back
# (upper-cased) once it is sent.
case_sysrq() {
	start_vm srq echo
	local pid=$vm_pid
	wait_line "$work/srq.vmout" '^echo: ready$' 10
	mgmt debug --name srq --sysrq q
	if [ "$rc" != 0 ] && grep -q 'not supported' "$work/cmd.err"; then
		echo "################################################################"
		echo "## sysrq: $(cat "$work/cmd.err")"
		echo "################################################################"
		skip sysrq "the serial console cannot send a break yet"
	elif [ "$rc" != 0 ]; then
		fail sysrq "debug --sysrq q exited $rc"
	elif ! wait_line "$work/srq.vmout" 'Q' 5; then
		fail sysrq "the guest did not receive the key"
	else
		pass sysrq
	fi
	"$lkvm" stop --name srq >/dev/null 2>&1
	kill_vm "$pid"
}

run_cases "THE MANAGEMENT TESTS" counter echo hello

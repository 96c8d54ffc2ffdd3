# Sourced by L1's /init: runs every case of $L1_CASES with lkvm, one after
# the other in this one L1 boot (an L2 boot takes seconds, an L1 boot many).
#
# For each case the console shows
#   @@LKVM-BEGIN name@@
#   ...everything lkvm printed (the L2 console and lkvm's stderr)...
#   @@LKVM-END name@@
#   @@LKVM-CASE name exit=N timedout=0|1 elapsed_ms=N boot_ms=N ...@@
# and tests/nested/run.sh judges the case from that.

# Defaults; a case file may change any of them (see cases/README).
case_defaults() {
	CASE_CPUS=1
	CASE_MEM=256
	CASE_APPEND=
	CASE_QUIET=1
	CASE_TIMEOUT=90
	CASE_INFO=
	CASE_ARGS=
	CASE_KIND=lkvm
	case_l1_after() { :; }
	case_input() { :; }
	case_l1_setup() { :; }
	CASE_CUSTOM_RUN=0
}

# For case_input: waits until lkvm has printed PATTERN.  Gives up after
# SECS seconds or as soon as lkvm has exited, so that a feeder never keeps
# the case alive.
wait_for() {
	n=$(( ${2:-30} * 10 ))
	while [ "$n" -gt 0 ]; do
		grep -q -- "$1" "$CASE_OUT" 2>/dev/null && return 0
		[ -e "$CASE_RC" ] && return 1
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# For the gdb cases' case_input: Ctrl-C for gdb (pid $1) when its output
# ($2) has not grown for 20 s, i.e. it waits in "continue" for a stop that
# does not come; gdb passes it to the stub as an interrupt.  gdb is killed
# after $3 s.
ctrl_c_when_stalled() {
	size=-1 still=0 left=$3
	while kill -0 "$1" 2>/dev/null; do
		if [ "$left" -le 0 ]; then
			echo "gdb-killed-after=$3s" >> "$2"
			kill "$1"
			return
		fi
		sleep 1
		left=$((left - 1))
		now=$(wc -c < "$2")
		if [ "$now" != "$size" ]; then
			size=$now still=0
		elif [ $((still += 1)) -ge 20 ]; then
			kill -INT "$1" 2>/dev/null
			still=0
		fi
	done
}

# For case_input: "name:mode,..." for every thread of the running VM $1,
# mode being the Seccomp field of its /proc status (2: filtered).
thread_seccomp() {
	pid=$(lkvm list 2>/dev/null | awk -v n="$1" '$1 == n { print $2 }')
	[ -n "$pid" ] || return 0
	for t in /proc/"$pid"/task/*; do
		# Kernel workers in the process (PF_USER_WORKER) run no lkvm code.
		flags=$(sed 's/.*) //' "$t/stat" | cut -d' ' -f7)
		[ $((flags & 0x4000)) = 0 ] || continue
		awk '/^Name:/ { n = $2 } /^Seccomp:/ { m = $2 } END { printf "%s:%s,", n, m }' "$t/status"
	done
}

# Started beside each case's lkvm: when the VMM is still running one second
# before the case's time limit, prints the state of each of its threads
# (LKVM-HANG-TASK lines: name, state, wait channel, system call; and the
# kernel stack where L1 shows it), so that a hang says where it hangs
# before timeout(1) ends it.  Killed by the caller when lkvm exits first.
hang_watchdog() {
	sleep "$(($1 - 1))" < /dev/null > /dev/null 2>&1 &
	sleep_pid=$!
	trap 'kill $sleep_pid 2>/dev/null; exit 0' TERM
	wait $sleep_pid
	for pid in $(pidof lkvm qemu-system-x86_64); do
		echo
		echo "LKVM-HANG-DUMP pid=$pid still running after $(($1 - 1)) s;" \
			"L1 load $(cut -d' ' -f1-3 /proc/loadavg)"
		for t in /proc/$pid/task/*; do
			echo "LKVM-HANG-TASK ${t##*/}:$(cat $t/comm 2>/dev/null)" \
				"state=$(sed 's/.*) //' $t/stat 2>/dev/null | cut -d' ' -f1)" \
				"wchan=$(cat $t/wchan 2>/dev/null)" \
				"syscall=$(cut -d' ' -f1 $t/syscall 2>/dev/null)"
			sed "s/^/LKVM-HANG-STACK ${t##*/}: /" $t/stack 2>/dev/null | head -n 8
		done
	done
}

# Reads lkvm's output until the guest's user-space marker and writes the
# time it arrived to $1; drains the rest so that tee never sees EPIPE.
note_boot_time() {
	if grep -q -m1 LKVM-USERSPACE-OK; then
		uptime_ms > "$1"
	fi
	cat > /dev/null
}

run_case() {
	name=$1
	case_defaults
	if [ ! -f "/cases/$name.sh" ]; then
		echo "@@LKVM-CASE $name exit=none timedout=0 missing=1@@"
		return
	fi
	CASE_DIR=/cases
	. "/cases/$name.sh"
	# A loaded build machine slows TCG down a lot; allow for it.
	CASE_TIMEOUT=$((CASE_TIMEOUT * ${L1_TIMEOUT_FACTOR:-1}))
	CASE_OUT=/tmp/$name.out
	CASE_RC=/tmp/$name.rc
	rm -f "$CASE_OUT" "$CASE_RC" "/tmp/$name.boot"
	case_l1_setup

	# "quiet" saves seconds per case: every console byte is a port I/O
	# exit of L2, emulated by TCG.  The boot case keeps the full log, and
	# run.sh --guest-verbose brings it back everywhere.
	quiet=
	[ "$CASE_QUIET" = 1 ] && [ "${L1_GUEST_VERBOSE:-0}" != 1 ] && quiet=quiet
	cmdline="lkvm.case=$name reboot=k${quiet:+ $quiet}${CASE_APPEND:+ $CASE_APPEND}"
	echo "@@LKVM-BEGIN $name@@"
	if [ "$CASE_KIND" = l1 ]; then
		echo "@@LKVM-CMD (in L1, no guest) case_l1_run of $name@@"
	else
		echo "@@LKVM-CMD lkvm run -k $L2_KERNEL -i $L2_INITRD" \
			"-p \"$cmdline\" -m $CASE_MEM -c $CASE_CPUS --name $name" \
			"$CASE_ARGS@@"
	fi
	t0=$(date +%s)
	ms0=$(uptime_ms)
	# case_input feeds lkvm's stdin (nothing by default: stdin is at EOF at
	# once, which lkvm must cope with).  -k: a VMM that ignores SIGTERM is
	# killed 5 s later.
	# CASE_KIND=l1: the case is a program in L1 (case_l1_run), no guest.
	case_input | {
		# CASE_CUSTOM_RUN=1: case_l1_run runs lkvm itself.
		if [ "$CASE_KIND" = l1 ] || [ "$CASE_CUSTOM_RUN" = 1 ]; then
			case_l1_run 2>&1
			echo $? > "$CASE_RC"
		else
			hang_watchdog "$CASE_TIMEOUT" &
			watchdog=$!
			timeout -s TERM -k 5 "$CASE_TIMEOUT" \
				lkvm run -k "$L2_KERNEL" -i "$L2_INITRD" \
				-p "$cmdline" -m "$CASE_MEM" -c "$CASE_CPUS" \
				--name "$name" $CASE_ARGS 2>&1
			echo $? > "$CASE_RC"
			kill $watchdog 2>/dev/null
			wait $watchdog
		fi
	} | tee "$CASE_OUT" /dev/console | note_boot_time "/tmp/$name.boot"
	ms1=$(uptime_ms)
	t1=$(date +%s)
	echo
	case_l1_after
	echo "@@LKVM-END $name@@"

	rc=$(cat "$CASE_RC" 2>/dev/null || echo none)
	elapsed=$((ms1 - ms0))
	timedout=0
	[ "$elapsed" -ge $((CASE_TIMEOUT * 1000)) ] && timedout=1
	boot=none
	[ -f "/tmp/$name.boot" ] && boot=$(( $(cat "/tmp/$name.boot") - ms0 ))
	echo "@@LKVM-CASE $name exit=$rc timedout=$timedout" \
		"elapsed_ms=$elapsed boot_ms=$boot timeout=$CASE_TIMEOUT" \
		"l1_t0=$t0 l1_t1=$t1 $CASE_INFO@@"
}

for c in $L1_CASES; do
	# A subshell per case: case files define variables and functions.
	( run_case "$c" )
done

# lkvm --gdb with a real gdb (gdb-minimal, in L1) against the Debian
# kernel booted with nokaslr.  The guest prints where __x64_sys_getpid and
# jiffies are (/proc/kallsyms: Debian's System.map is only a placeholder
# pointing at the -dbg package; with nokaslr these are the link
# addresses), then runs shells (ash calls getpid) until it reads
# "gdb-done" on its console.  gdb in L1 attaches, stops the running
# guest, puts a hardware breakpoint on __x64_sys_getpid, continues, sees
# the stop there (rip), disassembles and backtraces, watches jiffies (a
# data watchpoint), steps one instruction and detaches; the guest then
# runs on and powers off normally.  Software breakpoints: case gdb-swbp.
#
# NOT IN THE DEFAULT LIST (CASE_FLAVOUR=none; run it with --cases gdb):
# in this harness the hardware breakpoint never fires: gdb attaches, reads
# registers and threads, sets it (Z1 OK) and continues, the guest keeps
# calling getpid, and no stop comes within 100 s (log with set debug
# remote 1 kept in the case's console).  The same script stops at once
# against the direct tier's guest on this machine's PVM /dev/kvm.  The
# likely cause is the emulated L1 (QEMU's TCG running SVM), which may not
# arm the debug registers KVM loads for an L2 guest; not yet confirmed.
CASE_FLAVOUR=none
CASE_L1_TOOLS="gdb"
CASE_APPEND="nokaslr"
CASE_ARGS="--gdb 1234"
CASE_CPUS=2
CASE_TIMEOUT=150

case_l1_setup() {
	command -v gdb > /dev/null ||
		echo "LKVM-SKIP: no gdb in L1 (gdb-minimal could not be fetched)"
	ip link set lo up	# the stub listens on 127.0.0.1
}

case_guest() {
	echo "getpid_addr=$(awk '$3 == "__x64_sys_getpid" { print $1 }' /proc/kallsyms)"
	echo "jiffies_addr=$(awk '$3 == "jiffies" { print $1 }' /proc/kallsyms)"
	echo "LKVM-GDB-READY"
	n=0
	while [ $n -lt 200 ]; do
		sh -c 'true'
		if read -t 1 line && [ "$line" = gdb-done ]; then
			echo "guest-ran-on-after-detach=yes"
			break
		fi
		n=$((n + 1))
	done
}

# In L1: gdb's transcript goes to L1's console (part of the case log), and
# "gdb-done" to the guest's console (lkvm's stdin).
case_input() {
	wait_for LKVM-GDB-READY 100 || return 0
	getpid=$(sed -n 's/^getpid_addr=\([0-9a-f]*\).*/\1/p' "$CASE_OUT" | head -n1)
	jiffies=$(sed -n 's/^jiffies_addr=\([0-9a-f]*\).*/\1/p' "$CASE_OUT" | head -n1)
	cat > /tmp/gdb.cmds <<GDB
set pagination off
set confirm off
set debug remote 1
maint set target-async off
target remote 127.0.0.1:1234
info threads
hbreak *0x$getpid
continue
info registers rip
x/2i \$pc
bt 3
delete
watch *(long *)0x$jiffies
continue
delete
stepi
info registers rip
detach
GDB
	# stdin from /dev/null: with L1's console as its terminal gdb did not
	# wait for the stop after "continue".
	timeout 100 gdb -nx -q -batch -x /tmp/gdb.cmds < /dev/null > /tmp/gdb.out 2>&1
	echo "gdb-exit=$?" >> /tmp/gdb.out
	sed 's/^/gdb| /' /tmp/gdb.out > /dev/console
	echo gdb-done
	sleep 1
	echo gdb-done
}

case_check() {
	expect_exit 0
	addr=$(console_value getpid_addr | tr -d '\r')
	[ -n "$addr" ] || fail "the guest printed no __x64_sys_getpid address"
	expect_console "^gdb\| (Thread [0-9]+ hit )?Breakpoint 1, 0x0*$addr in"
	expect_console "^gdb\| rip +0x0*$addr "
	expect_console "^gdb\| => 0x0*$addr:"
	expect_console '^gdb\| (Thread [0-9]+ hit )?Hardware watchpoint 2: \*\(long \*\)0x'
	expect_console '^gdb\| New value = '
	expect_console '^gdb\| \[Inferior 1 \(Remote target\) detached\]'
	expect_console '^guest-ran-on-after-detach=yes'
	expect_no_console 'KVM_EXIT_DEBUG without a debugger'
	note "$(grep -E '^gdb\| (=>|#0|rip|Thread|\*)' "$CASE_LOG" | head -n 8 | tr '\n' ';')"
}

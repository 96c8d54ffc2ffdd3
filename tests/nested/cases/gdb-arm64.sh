# lkvm --gdb on arm64 with a real gdb (Debian's gdb-minimal:arm64, in L1)
# against the Debian arm64 kernel booted with nokaslr and two vCPUs.  The
# guest prints where __arm64_sys_newuname is (/proc/kallsyms: the package's System.map is only a placeholder pointing
# at the -dbg package; with nokaslr these are the link addresses) and runs
# uname in a loop until it reads "gdb-done" on its console.  gdb attaches
# (the target description comes from the stub's target.xml), puts a
# software breakpoint (BRK #0) on __arm64_sys_newuname, continues, sees the
# stop there (pc), disassembles and backtraces (memory reads at kernel
# virtual addresses: the stub's walk of the guest's page tables), steps one
# instruction (IRQs held off for the step: it must end on the next
# instruction, not in the IRQ vector), then stops there again with a
# hardware breakpoint, puts a read and then a write watchpoint on
# regs->regs[0] of the syscall's pt_regs (x0 at the entry; the wrapper loads
# the user's buffer pointer from it, the return value is stored there: the
# arm64 kernel has no KALLSYMS_ALL, so no data symbol is in kallsyms) and
# detaches; the guest then runs on and powers off normally.
CASE_ARCH="arm64"
CASE_L1_TOOLS="gdb"
CASE_APPEND="nokaslr"
CASE_ARGS="--gdb 1234"
CASE_CPUS=2
CASE_TIMEOUT=240

case_l1_setup() {
	command -v gdb > /dev/null ||
		echo "LKVM-SKIP: no gdb in L1 (gdb-minimal:arm64 could not be fetched)"
	ip link set lo up	# the stub listens on 127.0.0.1
}

case_guest() {
	echo "uname_addr=$(awk '$3 == "__arm64_sys_newuname" { print $1 }' /proc/kallsyms)"
	echo "LKVM-GDB-READY"
	n=0
	while [ $n -lt 200 ]; do
		uname -r > /dev/null
		if read -t 1 line && [ "$line" = gdb-done ]; then
			echo "guest-ran-on-after-detach=yes"
			break
		fi
		n=$((n + 1))
	done
}

# gdb's transcript goes to L1's console (part of the case log), and
# "gdb-done" to the guest's console (lkvm's stdin).
case_input() {
	wait_for LKVM-GDB-READY 100 || return 0
	addr=$(sed -n 's/^uname_addr=\([0-9a-f]*\).*/\1/p' "$CASE_OUT" | head -n1)
	cat > /tmp/gdb-arm64.cmds <<GDB
set pagination off
set confirm off
target remote 127.0.0.1:1234
info threads
show architecture
break *0x$addr
continue
info registers pc
info registers x0 x29 x30 sp cpsr
x/2i \$pc
bt 2
stepi
info registers pc
delete
hbreak *0x$addr
continue
info registers pc
set \$regs = \$x0
delete
rwatch *(long *)\$regs
continue
delete
watch *(long *)\$regs
continue
print/x *(long *)\$regs
delete
detach
GDB
	# stdin from /dev/null: gdb's terminal is not L1's console.
	gdb -nx -q -batch -x /tmp/gdb-arm64.cmds < /dev/null > /tmp/gdb-arm64.out 2>&1 &
	gdb_pid=$!
	ctrl_c_when_stalled "$gdb_pid" /tmp/gdb-arm64.out 150
	wait "$gdb_pid"
	echo "gdb-exit=$?" >> /tmp/gdb-arm64.out
	sed 's/^/gdb| /' /tmp/gdb-arm64.out > /dev/console
	echo gdb-done
	sleep 1
	echo gdb-done
}

case_check() {
	expect_exit 0
	addr=$(console_value uname_addr | tr -d '\r')
	[ -n "$addr" ] || fail "the guest printed no __arm64_sys_newuname address"
	next=$(printf '%x' $((0x$addr + 4)))
	expect_console '^gdb\| The target architecture is set to "auto" \(currently "aarch64"\)'
	expect_console "^gdb\| Breakpoint 1 at 0x0*$addr"
	expect_console "^gdb\| (Thread [0-9]+ hit )?Breakpoint 1, 0x0*$addr in"
	expect_console "^gdb\| pc +0x0*$addr "
	expect_console "^gdb\| => 0x0*$addr:"
	expect_console "^gdb\| #0 +0x0*$addr in"
	expect_console "^gdb\| pc +0x0*$next "
	expect_console "^gdb\| Hardware assisted breakpoint 2 at 0x0*$addr"
	expect_console "^gdb\| (Thread [0-9]+ hit )?Breakpoint 2, 0x0*$addr in"
	expect_console '^gdb\| Hardware read watchpoint 3: \*\(long \*\)\$regs'
	expect_console '^gdb\| (Thread [0-9]+ hit )?Hardware read watchpoint 3: \*\(long \*\)\$regs'
	expect_console '^gdb\| Value = '
	expect_console '^gdb\| (Thread [0-9]+ hit )?Hardware watchpoint 4: \*\(long \*\)\$regs'
	expect_console '^gdb\| New value = 0$'
	expect_console '^gdb\| \[Inferior 1 \(Remote target\) detached\]'
	expect_console '^guest-ran-on-after-detach=yes'
	expect_no_console 'KVM_EXIT_DEBUG without a debugger'
	expect_no_console '^gdb\| gdb-killed-after='
	expect_no_console '^gdb\| .*received signal SIGINT'
	note "$(grep -E '^gdb\| (=>|#0|pc |Thread|Breakpoint|Hardware|Value|Old|New)' "$CASE_LOG" | head -n 16 | tr '\n' ';')"
}

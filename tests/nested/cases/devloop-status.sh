# lkvm run -- CMD without -i: the guest's root is L1's own / over 9p (an
# overlay on top), lkvm's init runs CMD and lkvm exits with CMD's status.
# L1's / holds the guest kernel's modules at /lib/modules/KREL (lib.sh,
# stage_guest_modules), so the modular generic kernel finds 9p and
# overlayfs there.  Each run's stdout and stderr are kept apart: stdout
# must be only what CMD printed.
CASE_FLAVOUR=amd64
CASE_TIMEOUT=300
CASE_CUSTOM_RUN=1

# dl NAME [LKVM RUN ARGS...]: one run; prints NAME_RC, NAME_OUT (stdout,
# lines joined with ","), NAME_PANIC_MSG=yes|no and lkvm's stderr.
dl() {
	dl_name=$1
	shift
	timeout -s TERM -k 5 60 lkvm run -k "$L2_KERNEL" "$@" \
		> /tmp/dl.out 2> /tmp/dl.err
	dl_rc=$?
	sed 's/^/  stderr: /' /tmp/dl.err
	echo
	echo "${dl_name}_RC=$dl_rc"
	echo "${dl_name}_OUT=$(tr '\n' , < /tmp/dl.out)"
	if grep -q 'guest kernel panic' /tmp/dl.err; then
		echo "${dl_name}_PANIC_MSG=yes"
	else
		echo "${dl_name}_PANIC_MSG=no"
	fi
}

case_l1_run() {
	dl FIRST -- sh -c 'echo LKVM-USERSPACE-OK; uname -r' < /dev/null
	dl EXIT7 -- sh -c 'exit 7' < /dev/null
	dl TRUE -- true < /dev/null
	dl FALSE -- false < /dev/null
	dl EXIT3 -- sh -c 'exit 3' < /dev/null
	dl MISSING -- /no/such/command < /dev/null
	dl PANIC -- sh -c 'echo c > /proc/sysrq-trigger' < /dev/null
	echo hi | dl STDIN -- cat
	dl SANDBOX_ARGS -- sh -c 'echo "$#:$1:$2"' x 'a b' 'c' < /dev/null
	# kvmtool's spelling
	timeout -s TERM -k 5 60 lkvm sandbox -k "$L2_KERNEL" -- sh -c 'exit 9' \
		< /dev/null > /dev/null 2>&1
	echo "SANDBOX_RC=$?"
	# A timeout in command mode keeps its own status.
	dl TIMEOUT --timeout 1 -- sleep 100 < /dev/null
}

same() {	# same NAME GOT WANT
	[ -n "$3" ] && [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

case_check() {
	expect_exit 0
	same "uname -r in the guest" "$(console_value FIRST_OUT)" "LKVM-USERSPACE-OK,$(info krel),"
	same "sh -c 'exit 7'" "$(console_value EXIT7_RC)" 7
	same "true" "$(console_value TRUE_RC)" 0
	same "false" "$(console_value FALSE_RC)" 1
	same "sh -c 'exit 3' status" "$(console_value EXIT3_RC)" 3
	same "sh -c 'exit 3' is no panic" "$(console_value EXIT3_PANIC_MSG)" no
	same "a command that cannot be started" "$(console_value MISSING_RC)" 127
	same "panic status" "$(console_value PANIC_RC)" 3
	same "panic message on stderr" "$(console_value PANIC_PANIC_MSG)" yes
	same "stdin piped into cat" "$(console_value STDIN_OUT)" "hi,"
	same "stdin piped into cat: status" "$(console_value STDIN_RC)" 0
	same "arguments passed as they are" "$(console_value SANDBOX_ARGS_OUT)" "2:a b:c,"
	same "lkvm sandbox -- sh -c 'exit 9'" "$(console_value SANDBOX_RC)" 9
	same "--timeout 1 -- sleep 100" "$(console_value TIMEOUT_RC)" 124
}

case_l1_setup() {
	CASE_INFO="krel=$(lkvm_guest_release)"
}

# The guest kernel's release: the one directory staged under /lib/modules.
lkvm_guest_release() {
	ls /lib/modules | head -n1
}

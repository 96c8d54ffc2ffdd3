# lkvm run -- CMD and the guest's view of the host's files: it sees L1's
# files (its root is L1's / over 9p), starts in the caller's directory,
# may write anywhere without anything reaching L1 (tmpfs overlay), while
# --rwdir writes do reach L1; /tmp is the guest's own.  --rootfs DIR
# boots a busybox tree instead, with the modules from --modules, and with
# --rw the guest's writes go into that tree.
CASE_FLAVOUR=amd64
CASE_TIMEOUT=200
CASE_CUSTOM_RUN=1

T=/devloop-test

case_l1_setup() {
	rm -rf "$T"
	mkdir -p "$T/cwd/sub" "$T/rw" "$T/bbroot/bin"
	echo host-data > "$T/hostfile"
	echo in-l1-tmp > /tmp/devloop-l1-only
	# A busybox tree for --rootfs: its / has no /proc, /dev... of its own.
	cp /bin/busybox "$T/bbroot/bin/busybox"
	for a in sh cat echo ls mount uname; do
		ln -s busybox "$T/bbroot/bin/$a"
	done
	echo bb-marker > "$T/bbroot/marker"
}

case_l1_run() {
	cd "$T/cwd/sub" || return 1
	timeout -s TERM -k 5 60 lkvm run -k "$L2_KERNEL" --rwdir "$T/rw" -- sh -c '
		echo LKVM-USERSPACE-OK
		echo "GUEST_PWD=$(pwd)"
		echo "GUEST_HOSTFILE=$(cat '"$T"'/hostfile)"
		echo "GUEST_L1TMP=$(cat /tmp/devloop-l1-only 2>&1 | head -c 20)"
		echo overlay > '"$T"'/guest-wrote && echo "GUEST_WRITE=ok"
		echo "GUEST_READBACK=$(cat '"$T"'/guest-wrote)"
		rm '"$T"'/hostfile && echo "GUEST_RM=ok"
		echo through > '"$T"'/rw/from-guest && echo "GUEST_RWDIR=ok"
		echo "GUEST_HOSTNAME=$(hostname)"
		echo "GUEST_ROOTFS=$(grep " / " /proc/mounts | cut -d" " -f3)"
		echo "GUEST_IP=$(ip -4 -o addr show 2>/dev/null | grep -v " lo " | grep -o "inet [0-9./]*")"
		echo "GUEST_RESOLV=$(cat /etc/resolv.conf)"' < /dev/null
	rc=$?
	echo
	echo "RUN1_RC=$rc"
	cd /
	echo "L1_GUEST_WROTE=$( [ -e "$T/guest-wrote" ] && echo present || echo absent)"
	echo "L1_HOSTFILE=$(cat "$T/hostfile")"
	echo "L1_RWDIR=$(cat "$T/rw/from-guest" 2>&1)"

	timeout -s TERM -k 5 60 lkvm run -k "$L2_KERNEL" --rootfs "$T/bbroot" \
		--modules "/lib/modules/$(ls /lib/modules | head -n1)" -- sh -c '
		echo "ROOTFS_MARKER=$(cat /marker)"
		echo "ROOTFS_LS=$(ls / | tr "\n" ,)"
		echo bb > /bb-wrote' < /dev/null
	rc=$?
	echo
	echo "RUN2_RC=$rc"
	echo "L1_BB_WROTE=$( [ -e "$T/bbroot/bb-wrote" ] && echo present || echo absent)"

	# --rw: no overlay, the guest writes into the export itself (and
	# creates no directories there: give the tree its mount points).
	mkdir -p "$T/bbroot/proc" "$T/bbroot/dev" "$T/bbroot/sys"
	timeout -s TERM -k 5 60 lkvm run -k "$L2_KERNEL" --rootfs "$T/bbroot" --rw \
		--modules "/lib/modules/$(ls /lib/modules | head -n1)" -- sh -c '
		echo "RW_ROOTFS=$(grep " / " /proc/mounts | cut -d" " -f3)"
		echo written > /rw-wrote' < /dev/null
	rc=$?
	echo
	echo "RUN3_RC=$rc"
	echo "L1_RW_WROTE=$(cat "$T/bbroot/rw-wrote" 2>&1)"
	return 0
}

same() {	# same NAME GOT WANT
	[ -n "$3" ] && [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

case_check() {
	expect_exit 0
	same "first run's status" "$(console_value RUN1_RC)" 0
	same "guest starts in the caller's directory" "$(console_value GUEST_PWD)" \
		/devloop-test/cwd/sub
	same "host file seen by the guest" "$(console_value GUEST_HOSTFILE)" host-data
	same "guest has its own /tmp" "$(console_value GUEST_L1TMP | grep -c in-l1-tmp)" 0
	same "guest writes" "$(console_value GUEST_WRITE)" ok
	same "guest reads its write back" "$(console_value GUEST_READBACK)" overlay
	same "guest removes a host file" "$(console_value GUEST_RM)" ok
	same "guest's write did not reach L1" "$(console_value L1_GUEST_WROTE)" absent
	same "guest's rm did not reach L1" "$(console_value L1_HOSTFILE)" host-data
	same "--rwdir write reached L1" "$(console_value L1_RWDIR)" through
	same "hostname" "$(console_value GUEST_HOSTNAME)" lkvm
	same "root is an overlay" "$(console_value GUEST_ROOTFS)" overlay
	same "static address" "$(console_value GUEST_IP)" "inet 10.0.2.15/24"
	same "resolv.conf" "$(console_value GUEST_RESOLV)" "nameserver 10.0.2.3"
	same "--rootfs run's status" "$(console_value RUN2_RC)" 0
	same "--rootfs tree's file" "$(console_value ROOTFS_MARKER)" bb-marker
	same "--rootfs write stayed in the guest" "$(console_value L1_BB_WROTE)" absent
	expect_console '^ROOTFS_LS=.*bin,.*marker,'
	same "--rw run's status" "$(console_value RUN3_RC)" 0
	same "--rw root is the 9p export" "$(console_value RW_ROOTFS)" 9p
	same "--rw write reached L1" "$(console_value L1_RW_WROTE)" written
}

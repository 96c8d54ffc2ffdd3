# The guest boots to user space with the memory it was given, and the
# reboot -f that /init ends with stops lkvm with status 0.  Without "quiet":
# this case keeps the kernel's whole boot log in the suite's output.
CASE_MEM=256
CASE_QUIET=0
CASE_ARCH="x86_64 arm64"

case_guest() {
	echo "kernel=$(uname -r)"
	echo "memtotal_kib=$(sed -n 's/^MemTotal: *\([0-9]*\) kB$/\1/p' /proc/meminfo)"
}

case_check() {
	expect_exit 0
	[ "$(console_value kernel)" = "$KREL" ] ||
		fail "guest runs kernel '$(console_value kernel)', expected $KREL"
	# MemTotal is RAM less what the kernel keeps for itself: with 256 MiB
	# it must lie between 180 and 256 MiB.
	mem=$(console_value memtotal_kib)
	if [ -z "$mem" ] || [ "$mem" -le $((180 * 1024)) ] ||
	   [ "$mem" -gt $((256 * 1024)) ]; then
		fail "guest MemTotal '$mem' KiB does not fit -m 256"
	fi
}

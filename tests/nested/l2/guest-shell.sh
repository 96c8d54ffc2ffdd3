# Not a test: the guest of `make demo`.  An interactive shell on the
# console; leaving it resets the guest, which ends lkvm.
case_guest() {
	echo
	echo "lkvm demo guest: $(uname -sr), $(nproc) CPU(s)," \
		"$(sed -n 's/^MemTotal: *//p' /proc/meminfo) RAM"
	echo "Type 'reboot -f' or 'poweroff -f' (or leave the shell) to stop lkvm."
	setsid cttyhack sh -l
}

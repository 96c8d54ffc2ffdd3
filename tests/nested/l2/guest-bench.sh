# Not a test: the guest of bench/boot-time.sh.  The boot is measured up to
# LKVM-USERSPACE-OK, which /init prints before this runs; end at once.
case_guest() {
	reboot -f
}

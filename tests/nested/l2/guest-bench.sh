# Not a test: the guest of bench/boot-time.sh.  The boot is measured up to
# LKVM-USERSPACE-OK, which /init prints before this runs.  The guest's own
# uptime here is the kernel's share of it (no VMM start-up); with
# lkvm.dmesg=1 the kernel log follows, for a line-by-line comparison of
# two VMMs.  Ends with an ACPI poweroff, which lkvm and QEMU's microvm
# both have (microvm's reset path can hang under nested KVM).
case_guest() {
	echo "GUEST-UPTIME $(cut -d' ' -f1 /proc/uptime)"
	if [ "$(cmdline_value lkvm.dmesg)" = 1 ]; then
		dmesg | sed 's/^/GUEST-DMESG /'
	fi
	echo "GUEST-BENCH-END"
	poweroff -f
}

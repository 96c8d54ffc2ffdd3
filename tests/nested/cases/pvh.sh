# -k vmlinux: the ELF inside the bzImage, booted through its PVH entry
# (32-bit protected mode, hvm_start_info) with two vCPUs.  The cloud
# kernel finds the second CPU only through ACPI, so nproc=2 shows that
# start_info's rsdp_paddr led it to the MADT; user space shows the initrd
# module was found; the command line marker shows cmdline_paddr.
# --boot-trace: the guest writes lkvm's boot-progress port 0x514
# from user space, so all four milestones must be reported.
CASE_L1_TOOLS="vmlinux"
CASE_CPUS=2

case_l1_setup() {
	if [ -f /guest/vmlinux ]; then
		CASE_ARGS="-k /guest/vmlinux --boot-trace"
	else
		echo "LKVM-SKIP: no /guest/vmlinux (lz4 missing on the host?)"
		CASE_ARGS="--timeout 1"
	fi
}

case_guest() {
	echo "kernel=$(uname -r)"
	echo "nproc=$(nproc)"
	echo "pvh_cmdline=$(grep -c 'lkvm.case=pvh' /proc/cmdline)"
	echo "memtotal_kib=$(sed -n 's/^MemTotal: *\([0-9]*\) kB$/\1/p' /proc/meminfo)"
	outb 0x514 1
}

case_check() {
	expect_exit 0
	[ "$(console_value kernel)" = "$KREL" ] ||
		fail "guest runs kernel '$(console_value kernel)', expected $KREL"
	[ "$(console_value nproc)" = 2 ] ||
		fail "guest nproc is '$(console_value nproc)', expected 2"
	[ "$(console_value pvh_cmdline)" = 1 ] ||
		fail "guest /proc/cmdline lacks lkvm.case=pvh"
	mem=$(console_value memtotal_kib)
	[ -n "$mem" ] && [ "$mem" -gt $((180 * 1024)) ] && [ "$mem" -le $((256 * 1024)) ] ||
		fail "guest MemTotal '$mem' KiB does not fit -m 256"
	for m in "VM ready" "first vCPU entry" "first console byte" "first boot-progress write"; do
		expect_console "boot-trace: $m +[0-9]+\.[0-9]+ ms"
	done
	expect_console 'boot-trace: boot-progress writes: 1, first value 0x1'
	note "$(grep -E 'boot-trace' "$CASE_LOG" | tr -d '\r' | tr '\n' ';')"
}

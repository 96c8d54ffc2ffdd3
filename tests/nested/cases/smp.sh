# -c 4 gives the guest four CPUs.  The cloud kernel has no MP-table parser,
# so it can only find them through lkvm's ACPI MADT.
CASE_CPUS=4

case_guest() {
	echo "nproc=$(nproc)"
	echo "cpus_online=$(cat /sys/devices/system/cpu/online)"
}

case_check() {
	expect_exit 0
	[ "$(console_value nproc)" = 4 ] ||
		fail "guest nproc is '$(console_value nproc)', expected 4"
	note "online CPUs: $(console_value cpus_online)"
}

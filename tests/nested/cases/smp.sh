# -c 4 gives the guest four CPUs.  The cloud kernel has no MP-table parser,
# so it can only find them through lkvm's ACPI MADT.  arm64: -c 2 (as many
# as L1 has), started through PSCI CPU_ON from the device tree's cpus.
CASE_ARCH="x86_64 arm64"
CASE_CPUS=4
[ "${NESTED_ARCH:-x86_64}" = arm64 ] && CASE_CPUS=2

case_guest() {
	echo "nproc=$(nproc)"
	echo "cpus_online=$(cat /sys/devices/system/cpu/online)"
}

case_check() {
	expect_exit 0
	[ "$(console_value nproc)" = "$CASE_CPUS" ] ||
		fail "guest nproc is '$(console_value nproc)', expected $CASE_CPUS"
	note "online CPUs: $(console_value cpus_online)"
}

# reboot=a: Linux reboots through the FADT's reset register (RESET_REG_SUP,
# RESET_REG = the i8042 command port, RESET_VALUE = 0xfe, the reset-line
# pulse), which ends lkvm with status 0 like reboot=k does.
CASE_APPEND="reboot=a lkvm.modules=0"

case_guest() {
	# FADT bytes 112-128: FLAGS (4), RESET_REG (12), RESET_VALUE (1).
	echo "FADT-RESET=$(od -A n -t x1 -j 112 -N 17 /sys/firmware/acpi/tables/FACP | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')"
	echo "LKVM-REBOOTING"
}

case_check() {
	expect_exit 0
	expect_console '^LKVM-REBOOTING'
	expect_no_console 'triple fault|LKVM-REBOOT-FAILED'
	set -- $(console_value FADT-RESET)
	[ "$#" = 17 ] || fail "guest read no FADT reset register ('$*')"
	[ $((0x$2 & 0x04)) != 0 ] || fail "FADT flags $1 $2 $3 $4: RESET_REG_SUP (bit 10) not set"
	[ "$5 $6 $7 $8 $9" = "01 08 00 01 64" ] ||
		fail "RESET_REG is not the byte at I/O port 0x64: $5 $6 $7 $8 $9 ..."
	shift 16
	[ "$1" = fe ] || fail "RESET_VALUE $1, expected fe"
	n=$(grep -c 'LKVM-USERSPACE-OK' "$CASE_LOG")
	[ "$n" = 1 ] || fail "guest reached user space $n times"
}

# Text given with -p reaches the guest kernel's command line.
CASE_ARCH="x86_64 arm64"

case_l1_setup() {
	token=$(tr -d '-' < /proc/sys/kernel/random/uuid)
	CASE_APPEND="lkvm_test_token=$token"
	CASE_INFO="token=$token"
}

case_guest() {
	echo "cmdline=$(cat /proc/cmdline)"
}

case_check() {
	expect_exit 0
	token=$(info token)
	[ -n "$token" ] || fail "L1 reported no token"
	case " $(console_value cmdline) " in
	*" lkvm_test_token=$token "*) ;;
	*) fail "token $token missing from the guest's /proc/cmdline" ;;
	esac
	note "guest /proc/cmdline: $(console_value cmdline)"
}

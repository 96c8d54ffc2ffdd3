# The guest's wall clock agrees with L1's (within a minute) right after
# boot.
case_guest() {
	echo "guest_epoch=$(date +%s)"
	[ -r /sys/class/rtc/rtc0/since_epoch ] &&
		echo "rtc_epoch=$(cat /sys/class/rtc/rtc0/since_epoch)"
	echo "clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
}

case_check() {
	expect_exit 0
	g=$(console_value guest_epoch)
	t0=$(info l1_t0)
	t1=$(info l1_t1)
	if [ -z "$g" ]; then
		fail "guest printed no time"
	elif [ "$g" -lt $((t0 - 60)) ] || [ "$g" -gt $((t1 + 60)) ]; then
		fail "guest time $g is off L1's [$t0, $t1] by more than 60 s"
	fi
	note "L1 $t0..$t1, guest $g, guest RTC $(console_value rtc_epoch)," \
		"clocksource $(console_value clocksource)"
}

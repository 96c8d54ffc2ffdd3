# virtio-balloon (needs CASE_ARGS support in the harness): the guest first
# touches most of its RAM and frees it again, so that lkvm's RSS in L1
# covers it; L1 then inflates the balloon by half the guest RAM and lkvm's
# RSS must fall by most of that; the guest's MemTotal shrinks; memory
# statistics arrive; deflating gives the guest its memory back.
CASE_MEM=256
CASE_ARGS="--balloon"
CASE_TIMEOUT=150
CASE_ARCH="x86_64 arm64"

# The guest obeys lines typed on its console: "mem" reports MemTotal,
# "done" ends the case.
case_guest() {
	for d in /sys/bus/virtio/drivers/virtio_balloon/virtio*; do
		[ -e "$d" ] && echo "guest_balloon_device=${d##*/}"
	done
	free_kib=$(sed -n 's/^MemFree: *\([0-9]*\) kB$/\1/p' /proc/meminfo)
	fill_mib=$(( free_kib / 1024 - 24 ))
	mkdir -p /fill
	mount -t tmpfs -o size=${fill_mib}m tmpfs /fill
	dd if=/dev/zero of=/fill/zero bs=1M count=$fill_mib 2>/dev/null
	rm /fill/zero
	umount /fill
	echo "guest_filled_mib=$fill_mib"
	echo "BALLOON-READY"
	n=0
	while read -r cmd; do
		case $cmd in
		mem)
			n=$((n + 1))
			echo "guest_memtotal_kib_$n=$(sed -n 's/^MemTotal: *\([0-9]*\) kB$/\1/p' /proc/meminfo)"
			echo "BALLOON-MEM-$n"
			;;
		done) break ;;
		esac
	done
}

# L1 side; results go to L1's console as KEY=VALUE lines (stdout is the
# guest's console input).
say() { printf '\n%s\n' "$*" >&2; }

rss_kib() {
	sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$1/status"
}

# Waits until the guest reports holding MIB MiB in its balloon.
wait_actual() {
	n=600
	while [ "$n" -gt 0 ]; do
		lkvm stat --name balloon 2>/dev/null | grep -qx "balloon_actual_mib=$1" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

case_input() {
	wait_for BALLOON-READY 120 || return 0
	pid=$(lkvm list 2>/dev/null | awk '$1 == "balloon" { print $2 }')
	say "l1_pid=$pid"
	[ -n "$pid" ] || { echo done; return 0; }
	echo mem
	wait_for BALLOON-MEM-1 20
	say "l1_rss_before_kib=$(rss_kib "$pid")"
	lkvm balloon --name balloon --inflate 128 >/dev/null 2>&1
	say "l1_inflate_status=$?"
	wait_actual 128 && say "l1_inflated=yes" || say "l1_inflated=no"
	say "l1_rss_inflated_kib=$(rss_kib "$pid")"
	echo mem
	wait_for BALLOON-MEM-2 20
	lkvm stat --name balloon --memory 2>&1 | sed 's/^/l1_stat_/' >&2
	lkvm balloon --name balloon --deflate 128 >/dev/null 2>&1
	say "l1_deflate_status=$?"
	wait_actual 0 && say "l1_deflated=yes" || say "l1_deflated=no"
	echo mem
	wait_for BALLOON-MEM-3 20
	echo done
}

case_check() {
	if [ -z "$(console_value guest_balloon_device)" ]; then
		fail "no balloon device in the guest (did the harness pass CASE_ARGS=--balloon?)"
		return
	fi
	expect_exit 0
	[ -n "$(console_value l1_pid)" ] || { fail "lkvm list in L1 did not show the VM"; return; }
	[ "$(console_value l1_inflate_status)" = 0 ] || fail "lkvm balloon --inflate failed"
	[ "$(console_value l1_inflated)" = yes ] || fail "the guest never reported 128 MiB in the balloon"
	[ "$(console_value l1_deflated)" = yes ] || fail "the balloon did not deflate to 0"
	before=$(console_value l1_rss_before_kib)
	after=$(console_value l1_rss_inflated_kib)
	note "lkvm RSS in L1: $before KiB before, $after KiB with 128 MiB ballooned" \
	     "(guest filled $(console_value guest_filled_mib) MiB first)"
	# Half the guest's 256 MiB went into the balloon: at least 3/4 of
	# those 128 MiB must have left lkvm's RSS.
	if [ -z "$before" ] || [ -z "$after" ] ||
	   [ $((before - after)) -lt $((96 * 1024)) ]; then
		fail "lkvm RSS fell by $(( ${before:-0} - ${after:-0} )) KiB, expected >= 98304"
	fi
	m1=$(console_value guest_memtotal_kib_1)
	m2=$(console_value guest_memtotal_kib_2)
	m3=$(console_value guest_memtotal_kib_3)
	note "guest MemTotal: $m1 KiB, $m2 KiB inflated, $m3 KiB deflated"
	[ -n "$m1" ] && [ -n "$m2" ] && [ $((m1 - m2)) -ge $((127 * 1024)) ] ||
		fail "guest MemTotal did not shrink by 128 MiB ($m1 -> $m2)"
	[ -n "$m3" ] && [ "$m3" = "$m1" ] ||
		fail "guest MemTotal not restored after deflate ($m1 -> $m3)"
	[ "$(console_value l1_stat_fresh)" = yes ] || fail "lkvm stat --memory got no fresh statistics"
	# Asked for while inflated: the guest's total then, in bytes.
	total=$(console_value l1_stat_total_memory)
	[ -n "$m2" ] && [ "$total" = $((m2 * 1024)) ] ||
		fail "stat --memory: total_memory '$total', guest MemTotal then $m2 KiB"
	note "guest stats: total $(console_value l1_stat_total_memory)," \
	     "free $(console_value l1_stat_free_memory) bytes"
}

# A guest holding as many 9p fids as lkvm lets it (issue 9): with lkvm's
# descriptor limit lowered in L1, the guest opens one shared file from 300
# background processes until the share refuses ("Too many open files":
# the fids' descriptor budget, not lkvm's own limit), then looks up 64
# more names (each cached dentry keeps a walked fid, one descriptor: this
# takes the last descriptors a refused open leaves free), and L1 manages
# the VM while all that is held: lkvm list sees it and lkvm stop ends it
# with status 0, promptly.  Without a budget lkvm itself runs out, and
# its management socket stops answering.
# Needs the generic kernel flavour (the cloud one has no 9p modules).
CASE_FLAVOUR=amd64
CASE_TIMEOUT=150

SHARE=/tmp/9p-fids
TRIES=300

case_l1_setup() {
	rm -rf "$SHARE"
	mkdir -p "$SHARE/many"
	echo data > "$SHARE/f"
	i=0
	while [ $i -lt 64 ]; do
		: > "$SHARE/many/n$i"
		i=$((i + 1))
	done
	CASE_ARGS="--9p $SHARE,fidshare"
	# This case's subshell and its lkvm only: room for about 100 fids.
	ulimit -n 512
}

case_guest() {
	mkdir -p /mnt
	if ! mount -t 9p -o trans=virtio,version=9p2000.L fidshare /mnt; then
		echo "LKVM-9P-MOUNT-FAILED"
		return
	fi
	n=0
	while [ $n -lt $TRIES ]; do
		sleep 600 2>/dev/null < /mnt/f &
		n=$((n + 1))
	done
	sleep 2
	echo "FIDS_HELD=$(pidof sleep | wc -w)"
	i=0
	while [ $i -lt 64 ]; do
		[ -e /mnt/many/n$i ] 2>/dev/null
		i=$((i + 1))
	done
	echo "FIDS-FULL"
	exec sleep 600
}

say() { echo "$*" >> /tmp/9p-fids-l1.out; }

case_input() {
	: > /tmp/9p-fids-l1.out
	wait_for FIDS-FULL 100 || return 0
	say "l1_list_row=$(lkvm list 2>&1 | awk '$1 == "9p-fids" { print $3 }')"
	t0=$(date +%s)
	lkvm stop --name 9p-fids >/dev/null 2>&1
	say "l1_stop_status=$?"
	say "l1_stop_seconds=$(( $(date +%s) - t0 ))"
	wait_for ZZZ-never 20	# returns as soon as lkvm has exited
	{ echo; cat /tmp/9p-fids-l1.out; } >&2
}

case_check() {
	expect_exit 0
	expect_no_console 'LKVM-9P-MOUNT-FAILED'
	held=$(console_value FIDS_HELD)
	[ -n "$held" ] && [ "$held" -gt 10 ] && [ "$held" -lt "$TRIES" ] ||
		fail "guest held '$held' files open of $TRIES tries: expected a refusal at the budget"
	note "guest processes holding a 9p file when refused: $held of $TRIES"
	[ "$(console_value l1_list_row)" = running ] ||
		fail "lkvm list showed '$(console_value l1_list_row)' while the fids were held"
	[ "$(console_value l1_stop_status)" = 0 ] || fail "lkvm stop failed while the fids were held"
	[ "$(console_value l1_stop_seconds)" -le 10 ] 2>/dev/null ||
		fail "lkvm stop took $(console_value l1_stop_seconds) s"
}

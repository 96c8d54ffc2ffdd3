# arm64 only: the virtqueue notification-ordering test (tests/order) run in
# L1, a two-CPU arm64 machine (QEMU multi-threaded TCG): the product's
# publish + should-signal code must lose no wake-up over 10^6
# completions, on the split ring and on the packed ring.  order-weak checks that the test can fail there.
# Not a guest: CASE_KIND=l1 runs case_l1_run in L1.  The binaries are built
# for arm64 with the tree (make ARCH=arm64 ... order-tests; make
# arm64-cross) and packed by run.sh --order-dir.
CASE_ARCH=arm64
CASE_KIND=l1
CASE_TIMEOUT=480

# LKVM-SKIP when virtq-order$1 is not in L1.
order_need() {
	command -v "virtq-order$1" >/dev/null && return 0
	echo "LKVM-SKIP: virtq-order$1 for $NESTED_ARCH not built (run.sh --order-dir)"
	return 1
}

case_l1_run() {
	order_need "" || return 0
	echo "l1_cpus=$(nproc)"
	timeout -s KILL 200 virtq-order --completions 1000000
	echo "order_status=$?"
	# 16 in flight, as tests/order/run.sh runs the packed ring.
	timeout -s KILL 200 virtq-order --packed --inflight 16 --completions 1000000
	echo "order_packed_status=$?"
}

case_check() {
	[ "$(console_value l1_cpus)" -ge 2 ] 2>/dev/null ||
		fail "L1 has $(console_value l1_cpus) CPUs: the race needs two"
	[ "$(console_value order_status)" = 0 ] ||
		fail "product barrier: lost wake-up or error (status $(console_value order_status))"
	[ "$(console_value order_packed_status)" = 0 ] ||
		fail "packed ring, product barrier: lost wake-up or error (status $(console_value order_packed_status))"
	grep '^virtq-order: [0-9.]* s' "$CASE_LOG" | while IFS= read -r l; do note "$l"; done
}

#!/bin/bash
# Guest <-> host TCP throughput of lkvm's network back ends.
#
# Runs in the nested harness (tests/nested): one L1 boot under QEMU/TCG
# with KVM inside; lkvm boots the L2 guest once per back end (user, tap,
# tap+vhost) and one N MiB file is fetched over HTTP each way (busybox
# httpd, which sends with sendfile(), and wget):
#   host->guest  the guest fetches from L1's httpd
#                (user: through the gateway 10.0.2.2 to L1's loopback)
#   guest->host  L1 fetches from the guest's httpd
#                (user: through hostfwd 127.0.0.1:5601 -> guest:5601)
# and, as the ceiling for the same tools on the same emulated CPU, L1's
# own loopback.  Times are taken by the fetching side.
# Absolute numbers are those of a guest under KVM under TCG: compare the
# rows with each other and with the loopback row, not with bare metal.
#
# usage: bench/net-throughput.sh [--lkvm PATH] [--mib N] [--modes "user tap vhost"]
#   --mib N      MiB per transfer (default 64)
#   --modes LIST back ends to measure (default: user tap vhost; also
#                user-mtuN: user mode with mtu=N; user-qemu: QEMU's microvm
#                with -netdev user instead of lkvm, the reference)
# Needs the harness to pass extra lkvm arguments (CASE_ARGS in
# tests/nested/l1/suite.sh) and, for tap and vhost, tun.ko and the vhost
# modules in L1.  Not part of the test suite.  Exit status 77: the harness
# cannot run here.

set -u
. "$(dirname "$0")/../tests/nested/lib.sh"

lkvm=$REPO_DIR/lkvm
mib=64
modes="user tap vhost"
while [ $# -gt 0 ]; do
	case $1 in
	--lkvm) lkvm=$2; shift ;;
	--mib) mib=$2; shift ;;
	--modes) modes=$2; shift ;;
	-h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) nested_die "unknown option $1 (see --help)" ;;
	esac
	shift
done
[[ $mib =~ ^[1-9][0-9]*$ ]] || nested_die "--mib needs a positive number"
[ -x "$lkvm" ] || nested_die "lkvm binary '$lkvm' not found (run make first)"
grep -q CASE_ARGS "$NESTED_DIR/l1/suite.sh" ||
	nested_skip "tests/nested/l1/suite.sh cannot pass extra lkvm arguments (CASE_ARGS)"

nested_check_host_tools
kernel_prepare cloud-amd64
l1_kernel_prepare
work=$(mktemp -d "${TMPDIR:-/tmp}/lkvm-netbench.XXXXXX") || nested_die "mktemp"
trap 'rm -rf "$work"' EXIT

# The harness packs every case of its cases/ directory: give it a copy
# whose cases are the benchmark's own.
cp -r "$NESTED_DIR" "$work/nested"
NESTED_DIR=$work/nested
rm -f "$NESTED_DIR"/cases/*.sh

# One case file per back end.  Variables: NB_MODE, NB_ARGS, NB_PEER (the
# host's address seen from the guest), NB_TARGET (where L1 reaches the
# guest's listener).
write_case() {
	local mode=$1 args=$2 peer=$3 target=$4
	{
		echo "NB_MODE=$mode NB_MIB=$mib NB_PEER=$peer NB_TARGET=$target"
		echo "CASE_ARGS='$args'"
		cat <<'EOF'
CASE_MEM=512
CASE_TIMEOUT=900

nb_ms() {
	read -r up _ < /proc/uptime
	echo $(( ${up%.*}${up#*.} * 10 ))
}

nb_net_up() {
	ip link set lo up
	ip link set eth0 up
	if [ "${NB_MODE%%-*}" = user ]; then
		cat > /tmp/udhcpc.sh <<'EOS'
#!/bin/sh
[ "$1" = bound ] && ip addr add "$ip/${mask:-24}" dev "$interface"
exit 0
EOS
		chmod +x /tmp/udhcpc.sh
		udhcpc -i eth0 -s /tmp/udhcpc.sh -n -q -t 10 -T 2 >/dev/null 2>&1
	else
		ip addr add 192.168.33.15/24 dev eth0
		ping -c 1 -W 5 "$NB_PEER" >/dev/null
	fi
}

# The file both sides serve with busybox httpd, which sends it with one
# sendfile(): nc's 1 KiB writes would measure nc, not the network.
nb_file() {
	mkdir -p /tmp/nbsrv
	dd if=/dev/zero of=/tmp/nbsrv/nb.zero bs=1M count="$NB_MIB" 2>/dev/null
}

case_guest() {
	nb_net_up
	nb_file
	t0=$(nb_ms)
	wget -q -O /dev/null "http://$NB_PEER:5602/nb.zero"
	echo "NB-H2G-RC=$?"
	echo "NB-H2G-MS=$(( $(nb_ms) - t0 ))"
	httpd -p 5601 -h /tmp/nbsrv
	echo "NB-SERVING"
	# L1 types a line on our console when it has fetched the file.
	read -r -t 600 _
}

nb_say() {
	printf '\n%s\n' "$*" > /dev/console
}

case_l1_setup() {
	ip link set lo up
	if [ "${NB_MODE%%-*}" != user ]; then
		[ -c /dev/net/tun ] || insmod /lib/l1-modules/tun.ko 2>/dev/null
		for m in tap vhost_iotlb vhost vhost_net; do
			[ -c /dev/vhost-net ] || insmod "/lib/l1-modules/$m.ko" 2>/dev/null
		done
		printf '#!/bin/sh\nip addr add 192.168.33.1/24 dev "$1" && ip link set "$1" up\n' \
			> /tmp/nb-up.sh
		chmod +x /tmp/nb-up.sh
	fi
	nb_file
	httpd -f -p 5602 -h /tmp/nbsrv &
	echo $! > /tmp/nb-httpd.pid
	sleep 1
	# The ceiling: the same transfer over L1's own loopback.
	t0=$(uptime_ms)
	wget -q -O /dev/null http://127.0.0.1:5602/nb.zero
	CASE_INFO="loop_ms=$(( $(uptime_ms) - t0 ))"
}

case_input() {
	if wait_for NB-SERVING 800; then
		t0=$(uptime_ms)
		wget -q -O /dev/null "http://$NB_TARGET/nb.zero"
		rc=$?
		nb_say "NB-G2H-RC=$rc"
		nb_say "NB-G2H-MS=$(( $(uptime_ms) - t0 ))"
		echo fetched
	fi
	kill "$(cat /tmp/nb-httpd.pid)" 2>/dev/null
	rm -rf /tmp/nbsrv /tmp/nb-httpd.pid
	# QEMU's microvm has no reset the guest's reboot -f can use (and
	# can hang in it under nested KVM): stop it once both are done.
	if [ -f /tmp/nb-qemu.pid ]; then
		sleep 5
		kill "$(cat /tmp/nb-qemu.pid)" 2>/dev/null
		rm -f /tmp/nb-qemu.pid
	fi
}
EOF
	} > "$NESTED_DIR/cases/netbench-$mode.sh"
}

cases=
for m in $modes; do
	case $m in
	user) write_case user "-n mode=user,hostfwd=tcp:127.0.0.1:5601-:5601" \
		10.0.2.2 127.0.0.1:5601 ;;
	user-mtu*)
		mtu=${m#user-mtu}
		[[ $mtu =~ ^[0-9]+$ ]] || nested_die "mode $m: give user-mtuN, e.g. user-mtu16384"
		write_case "$m" "-n mode=user,mtu=$mtu,hostfwd=tcp:127.0.0.1:5601-:5601" \
			10.0.2.2 127.0.0.1:5601 ;;
	tap) write_case tap "-n mode=tap,tapif=nb0,script=/tmp/nb-up.sh" \
		192.168.33.1 192.168.33.15:5601 ;;
	vhost) write_case vhost "-n mode=tap,tapif=nb0,script=/tmp/nb-up.sh,vhost=1" \
		192.168.33.1 192.168.33.15:5601 ;;
	user-qemu)
		# The reference: QEMU's microvm with its own libslirp back end
		# (-netdev user), the same guest, case and transfers.
		write_case user-qemu "" 10.0.2.2 127.0.0.1:5601
		cat >> "$NESTED_DIR/cases/netbench-$m.sh" <<'EOF'
CASE_CUSTOM_RUN=1
case_l1_run() {
	qemu-system-x86_64 -M microvm -accel kvm -cpu host -m "$CASE_MEM" \
		-smp "$CASE_CPUS" -nodefaults -no-user-config -display none \
		-serial stdio -monitor none -no-reboot \
		-netdev user,id=n0,hostfwd=tcp:127.0.0.1:5601-:5601 \
		-device virtio-net-device,netdev=n0 \
		-kernel "$L2_KERNEL" -initrd "$L2_INITRD" \
		-append "console=ttyS0 $cmdline" < /dev/null &
	echo $! > /tmp/nb-qemu.pid
	wait $!
}
EOF
		;;
	*) nested_die "unknown mode '$m' (user, user-mtuN, user-qemu, tap, vhost)" ;;
	esac
	cases="$cases netbench-$m"
done
[[ $modes == *qemu* ]] && REFERENCE_QEMU=1

build_l2_initramfs "$work/l2.cpio.gz" "$work" || nested_die "L2 initramfs"
build_l1_initramfs "$work/l1.cpio" "$work" suite "$lkvm" "$work/l2.cpio.gz" \
	"L1_CASES='$cases'" || nested_die "L1 initramfs"

echo "net-throughput: kernel $KREL, $mib MiB per transfer, back ends: $modes"
run_l1_batch "$work/l1.cpio" "$work/raw.log" $((200 + $(wc -w <<< "$modes") * 915))
clean_console_log "$work/raw.log" > "$work/console.log"
grep -q '@@LKVM-L1 boot' "$work/console.log" ||
	nested_skip "L1 did not boot under $QEMU"

# MiB/s from a millisecond count, one decimal.
rate() {
	[[ ${1:-} =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ] || { echo "-"; return; }
	echo "$(( mib * 10000 / $1 / 10 )).$(( mib * 10000 / $1 % 10 ))"
}

# Value of KEY=... in case NAME's part of the console.
value() {
	awk -v b="@@LKVM-BEGIN $1@@" -v e="@@LKVM-END $1@@" '
		index($0, e) { on = 0 } on { print } index($0, b) { on = 1 }' \
		"$work/console.log" | sed -n "s/^$2=//p" | head -n1
}

printf '%-22s %14s %14s\n' "MiB/s" "guest->host" "host->guest"
loop=
for m in $modes; do
	c=netbench-$m
	result=$(grep -o "@@LKVM-CASE $c [^@]*@@" "$work/console.log" | head -n1)
	[ -n "$loop" ] || loop=$(sed -n 's/.* loop_ms=\([0-9]*\).*/\1/p' <<< "$result")
	g2h=$(value "$c" NB-G2H-MS)
	h2g=$(value "$c" NB-H2G-MS)
	[ "$(value "$c" NB-G2H-RC)" = 0 ] || g2h=
	[ "$(value "$c" NB-H2G-RC)" = 0 ] || h2g=
	label=$m
	[ "$m" = vhost ] && label="tap+vhost"
	[ "${m#user-mtu}" != "$m" ] && label="user, mtu=${m#user-mtu}"
	printf '%-22s %14s %14s\n' "$label" "$(rate "$g2h")" "$(rate "$h2g")"
	if [ -z "$g2h" ] || [ -z "$h2g" ]; then
		echo "  ($m incomplete; its console:)"
		awk -v b="@@LKVM-BEGIN $c@@" -v e="@@LKVM-END $c@@" '
			index($0, e) { on = 0 } on { print } index($0, b) { on = 1 }' \
			"$work/console.log" | tail -n 8 | sed 's/^/  | /'
	fi
done
printf '%-22s %14s\n' "L1 loopback (limit)" "$(rate "$loop")"

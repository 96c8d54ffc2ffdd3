#!/bin/bash
# Guest <-> host TCP throughput: lkvm against QEMU's microvm, same back end.
#
# Runs in the nested harness (tests/nested): one L1 boot under QEMU/TCG
# with KVM inside; for each back end (user, tap, tap+vhost) lkvm and QEMU
# microvm (virtio-net-device on `-netdev user` or `-netdev tap,vhost=off|on`)
# boot the same L2 guest one after the other, in rounds, so that a change
# in the shared machine's load hits both alike.  One N MiB file is fetched
# over HTTP each way (busybox httpd, which sends with sendfile(), and wget):
#   host->guest  the guest fetches from L1's httpd
#                (user: through the gateway 10.0.2.2 to L1's loopback)
#   guest->host  L1 fetches from the guest's httpd
#                (user: through hostfwd 127.0.0.1:5601 -> guest:5601)
# For every transfer it also counts KVM exits (L1's debugfs kvm/exits) and
# the guest's interrupts of its NIC (/proc/interrupts), per MiB.  Absolute
# numbers are those of a guest under KVM under TCG: read the ratios.  Each
# QEMU run is bounded by `timeout` (microvm may hang at reboot under
# nested KVM).
#
# usage: bench/net-throughput.sh [--lkvm PATH] [--mib N] [--modes "user tap vhost"]
#                                [--rounds N] [--no-qemu]
#   --mib N      MiB per transfer (default 64)
#   --modes LIST back ends to measure (default: user tap vhost; also
#                user-mtuN: user mode with mtu=N, lkvm only; MODE-split:
#                MODE with --virtio-ring=split, lkvm only)
#   --rounds N   boots per VMM and back end (default 1); medians are printed
#   --no-qemu    lkvm only
# L1 gets two CPUs (LKVM_NESTED_L1_SMP overrides): with one, guest->host TCP
# collapses for both VMMs.  Needs tun.ko and the vhost modules in L1 for
# tap and vhost.  Not part of the test suite.  Exit status 77: the harness
# cannot run here.

set -u
. "$(dirname "$0")/../tests/nested/lib.sh"

lkvm=$REPO_DIR/lkvm
mib=64
modes="user tap vhost"
rounds=1
vmms="lkvm qemu"
while [ $# -gt 0 ]; do
	case $1 in
	--lkvm) lkvm=$2; shift ;;
	--mib) mib=$2; shift ;;
	--modes) modes=$2; shift ;;
	--rounds) rounds=$2; shift ;;
	--no-qemu) vmms=lkvm ;;
	-h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) nested_die "unknown option $1 (see --help)" ;;
	esac
	shift
done
[[ $mib =~ ^[1-9][0-9]*$ ]] || nested_die "--mib needs a positive number"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || nested_die "--rounds needs a positive number"
[ -x "$lkvm" ] || nested_die "lkvm binary '$lkvm' not found (run make first)"
grep -q CASE_ARGS "$NESTED_DIR/l1/suite.sh" ||
	nested_skip "tests/nested/l1/suite.sh cannot pass extra lkvm arguments (CASE_ARGS)"
export LKVM_NESTED_L1_SMP=${LKVM_NESTED_L1_SMP:-2}

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

# One case file per VMM, back end and round.  Variables: NB_VMM, NB_MODE,
# NB_NETDEV (QEMU's -netdev), NB_PEER (the host's address seen from the
# guest), NB_TARGET (where L1 reaches the guest's listener).
write_case() {
	local name=$1 vmm=$2 mode=$3 args=$4 netdev=$5 peer=$6 target=$7
	{
		echo "NB_VMM=$vmm NB_MODE=$mode NB_MIB=$mib NB_PEER=$peer NB_TARGET=$target"
		echo "CASE_ARGS='$args'"
		echo "NB_NETDEV='$netdev'"
		[ "$vmm" = qemu ] && echo "CASE_CUSTOM_RUN=1"
		cat "$work/case-body.sh"
	} > "$NESTED_DIR/cases/$name.sh"
}

# The cases' common part.
cat > "$work/case-body.sh" <<'CASE_EOF'
CASE_MEM=512
CASE_TIMEOUT=600

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

# Interrupts of eth0's virtio device: virtioN (virtio-mmio's one line) or
# its virtioN-input.0 / -output.0 / -config MSI-X vectors.
nb_irqs() {
	dev=$(basename "$(readlink /sys/class/net/eth0/device)")
	awk -v d="$dev" '$NF == d || index($NF, d "-") == 1 {
		for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }' \
		/proc/interrupts
}

# The same per vector, "name:count ..." (which queue interrupts: the log).
nb_irqs_each() {
	dev=$(basename "$(readlink /sys/class/net/eth0/device)")
	awk -v d="$dev" '$NF == d || index($NF, d "-") == 1 {
		s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i
		printf "%s:%d ", $NF, s } END { print "" }' /proc/interrupts
}

# L1 counts KVM exits around each transfer: the guest says READY and waits
# for L1's line before it fetches, and says RC when done.
case_guest() {
	nb_net_up
	nb_file
	echo "NB-H2G-READY"
	read -r -t 600 _
	echo "NB-H2G-IRQS-BEFORE=$(nb_irqs_each)"
	i0=$(nb_irqs)
	t0=$(nb_ms)
	wget -q -O /dev/null "http://$NB_PEER:5602/nb.zero"
	rc=$?
	echo "NB-H2G-MS=$(( $(nb_ms) - t0 ))"
	echo "NB-H2G-IRQS=$(( $(nb_irqs) - i0 ))"
	echo "NB-H2G-IRQS-AFTER=$(nb_irqs_each)"
	echo "NB-H2G-RC=$rc"
	httpd -p 5601 -h /tmp/nbsrv
	i0=$(nb_irqs)
	echo "NB-SERVING"
	# L1 types a line on our console when it has fetched the file.
	read -r -t 600 _
	echo "NB-G2H-IRQS=$(( $(nb_irqs) - i0 ))"
	echo "NB-G2H-IRQS-AFTER=$(nb_irqs_each)"
	echo "NB-DONE"
}

nb_say() {
	printf '\n%s\n' "$*" > /dev/console
}

nb_exits() {
	cat /sys/kernel/debug/kvm/exits 2>/dev/null || echo 0
}

case_l1_setup() {
	ip link set lo up
	[ -e /sys/kernel/debug/kvm ] || mount -t debugfs none /sys/kernel/debug 2>/dev/null
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

# QEMU microvm: the same kernel, initramfs, memory, CPUs and guest command
# line (reboot=t: microvm has no i8042), under a timeout.  Its reboot may
# hang under nested KVM: it is ended once the guest is done (busybox
# timeout execs QEMU in its own process, so $! is QEMU).
case_l1_run() {
	# An asynchronous command's stdin is /dev/null: hand it case_input's.
	exec 3<&0
	timeout -s KILL 300 qemu-system-x86_64 -M microvm -accel kvm -cpu host \
		-m "$CASE_MEM" -smp "$CASE_CPUS" -nodefaults -no-user-config -display none \
		-serial stdio -monitor none -no-reboot \
		-netdev "$NB_NETDEV" -device virtio-net-device,netdev=n0 \
		-kernel "$L2_KERNEL" -initrd "$L2_INITRD" \
		-append "console=ttyS0 $cmdline reboot=t" <&3 &
	qpid=$!
	while kill -0 "$qpid" 2>/dev/null; do
		if grep -q NB-DONE "$CASE_OUT" 2>/dev/null; then
			sleep 3
			kill -9 "$qpid" 2>/dev/null
			break
		fi
		sleep 0.5
	done
	wait "$qpid"
}

case_input() {
	if wait_for NB-H2G-READY 400; then
		e0=$(nb_exits)
		echo go
		wait_for NB-H2G-RC 300
		nb_say "NB-H2G-EXITS=$(( $(nb_exits) - e0 ))"
	fi
	if wait_for NB-SERVING 300; then
		e0=$(nb_exits)
		t0=$(uptime_ms)
		wget -q -O /dev/null "http://$NB_TARGET/nb.zero"
		rc=$?
		t1=$(uptime_ms)
		nb_say "NB-G2H-EXITS=$(( $(nb_exits) - e0 ))"
		nb_say "NB-G2H-RC=$rc"
		nb_say "NB-G2H-MS=$((t1 - t0))"
		echo fetched
		wait_for NB-DONE 60
	fi
	kill "$(cat /tmp/nb-httpd.pid)" 2>/dev/null
	rm -rf /tmp/nbsrv /tmp/nb-httpd.pid
}
CASE_EOF

# mode -> "lkvm args|qemu netdev|peer|target" (no netdev: lkvm only)
mode_setup() {
	local fwd=hostfwd=tcp:127.0.0.1:5601-:5601 tap="192.168.33.1|192.168.33.15:5601"
	local script=script=/tmp/nb-up.sh
	case $1 in
	user) echo "-n mode=user,$fwd|user,id=n0,$fwd|10.0.2.2|127.0.0.1:5601" ;;
	user-mtu*)
		mtu=${1#user-mtu}
		[[ $mtu =~ ^[0-9]+$ ]] || nested_die "mode $1: give user-mtuN, e.g. user-mtu16384"
		echo "-n mode=user,mtu=$mtu,$fwd||10.0.2.2|127.0.0.1:5601" ;;
	*-split)
		# lkvm only, split rings instead of the default packed ones.
		local a p t
		IFS='|' read -r a _ p t <<< "$(mode_setup "${1%-split}")"
		echo "$a --virtio-ring=split||$p|$t" ;;
	tap) echo "-n mode=tap,tapif=nb0,$script|tap,id=n0,ifname=nb0,$script,downscript=no,vhost=off|$tap" ;;
	vhost) echo "-n mode=tap,tapif=nb0,$script,vhost=1|tap,id=n0,ifname=nb0,$script,downscript=no,vhost=on|$tap" ;;
	*) nested_die "unknown mode '$1' (user, user-mtuN, tap, vhost, any of them -split)" ;;
	esac
}

# Rounds of one boot per VMM, VMMs interleaved.
cases=
for m in $modes; do
	IFS='|' read -r args netdev peer target <<< "$(mode_setup "$m")"
	for r in $(seq "$rounds"); do
		for v in $vmms; do
			[ "$v" = qemu ] && [ -z "$netdev" ] && continue
			write_case "nb-$v-$m-$r" "$v" "$m" "$args" "$netdev" "$peer" "$target"
			cases="$cases nb-$v-$m-$r"
		done
	done
done
REFERENCE_QEMU=0
[[ $vmms == *qemu* ]] && REFERENCE_QEMU=1

build_l2_initramfs "$work/l2.cpio.gz" "$work" || nested_die "L2 initramfs"
build_l1_initramfs "$work/l1.cpio" "$work" suite "$lkvm" "$work/l2.cpio.gz" \
	"L1_CASES='$cases'" || nested_die "L1 initramfs"

echo "net-throughput: kernel $KREL, $mib MiB per transfer, back ends: $modes;" \
	"VMMs: $vmms; $rounds round(s); L1 CPUs: $LKVM_NESTED_L1_SMP"
run_l1_batch "$work/l1.cpio" "$work/raw.log" $((200 + $(wc -w <<< "$cases") * 320))
clean_console_log "$work/raw.log" > "$work/console.log"
log=${BENCH_LOG:-${TMPDIR:-/tmp}/lkvm-netbench-console.log}
cp "$work/console.log" "$log"
grep -q '@@LKVM-L1 boot' "$work/console.log" ||
	nested_skip "L1 did not boot under $QEMU"

# Case NAME's part of the console.
section() {
	awk -v b="@@LKVM-BEGIN $1@@" -v e="@@LKVM-END $1@@" '
		index($0, e) { on = 0 } on { print } index($0, b) { on = 1 }' \
		"$work/console.log" | tr -d '\r'
}

# Value of KEY=... in case NAME's part of the console.
value() {
	section "$1" | sed -n "s/^$2=//p" | head -n1
}

# The median (of an even count: the mean of the middle two).
median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
		else if (NR) print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# Median over the rounds of VMM and MODE of a transfer's FIELD (MS, EXITS,
# IRQS) in direction DIR (H2G, G2H); successful transfers only.
stat() {
	local v=$1 m=$2 dir=$3 f=$4 r c
	for r in $(seq "$rounds"); do
		c=nb-$v-$m-$r
		[ "$(value "$c" "NB-$dir-RC")" = 0 ] || continue
		value "$c" "NB-$dir-$f"
	done | grep -E '^[0-9]+$' | median
}

# MiB/s from milliseconds; a count per MiB; lkvm's rate over QEMU's.
rate() {
	[ -n "$1" ] && [ "$1" -gt 0 ] || { echo -; return; }
	awk -v m="$mib" -v t="$1" 'BEGIN { printf "%.1f", m * 1000 / t }'
}
per_mib() {
	[ -n "$1" ] || { echo -; return; }
	awk -v m="$mib" -v n="$1" 'BEGIN { printf "%.0f", n / m }'
}
ratio() {
	[ -n "$1" ] && [ -n "$2" ] && [ "$1" -gt 0 ] || { echo -; return; }
	awk -v l="$1" -v q="$2" 'BEGIN { printf "%.2fx", q / l }'
}

label() {
	case $1 in
	*-split) echo "$(label "${1%-split}"),split" ;;
	vhost) echo tap+vhost ;; user-mtu*) echo "user,mtu=${1#user-mtu}" ;; *) echo "$1" ;;
	esac
}

fmt='%-14s %-5s %9s %9s %9s | %10s %10s | %9s %9s\n'
printf "$fmt" "" "" "lkvm" "qemu" "lkvm/" "lkvm" "qemu" "lkvm" "qemu"
printf "$fmt" "back end" "dir" "MiB/s" "MiB/s" "qemu" "exits/MiB" "exits/MiB" "irqs/MiB" "irqs/MiB"
for m in $modes; do
	for d in H2G G2H; do
		lm=$(stat lkvm "$m" $d MS)
		qm=$(stat qemu "$m" $d MS)
		printf "$fmt" "$(label "$m")" "$([ $d = H2G ] && echo 'h->g' || echo 'g->h')" \
			"$(rate "$lm")" "$(rate "$qm")" "$(ratio "$lm" "$qm")" \
			"$(per_mib "$(stat lkvm "$m" $d EXITS)")" \
			"$(per_mib "$(stat qemu "$m" $d EXITS)")" \
			"$(per_mib "$(stat lkvm "$m" $d IRQS)")" \
			"$(per_mib "$(stat qemu "$m" $d IRQS)")"
	done
done
loop=$(grep -o '@@LKVM-CASE [^@]*loop_ms=[0-9]*' "$work/console.log" | head -n1 |
	sed 's/.*loop_ms=//')
echo "L1 loopback (the ceiling): $(rate "$loop") MiB/s"
for c in $cases; do
	[ "$(value "$c" NB-H2G-RC)" = 0 ] && [ "$(value "$c" NB-G2H-RC)" = 0 ] && continue
	echo "  ($c incomplete; its console ends:)"
	section "$c" | tail -n 8 | sed 's/^/  | /'
done
echo "(L1 console log: $log)"

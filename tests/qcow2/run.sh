#!/bin/bash
# qcow2 interoperability with qemu-img: for each kind of image qemu-img can
# make (versions, cluster sizes, refcount widths, preallocation, lazy
# refcounts, compressed data, backing files, snapshots), qemu-io puts some
# data in, lkvm's driver reads it all back and runs random writes, discards
# and write-zeroes against a model (test-qcow2 --exercise), and then:
#   - qemu-img check finds no errors and no leaks,
#   - qemu-img convert -O raw gives exactly the model's bytes,
#   - qemu-io can still write to the image, and check stays clean.
# One PASS/FAIL line per image kind; exit 77 (SKIP) without qemu-img.
#
#   tests/qcow2/run.sh [--bin tests/unit/test-qcow2] [--ops N] [--keep]
set -u
cd "$(dirname "$0")/../.."
bin=tests/unit/test-qcow2
ops=400
keep=
while [ $# -gt 0 ]; do
	case $1 in
	--bin) bin=$2; shift ;;
	--ops) ops=$2; shift ;;
	--keep) keep=1 ;;
	*) echo "usage: $0 [--bin PATH] [--ops N] [--keep]" >&2; exit 2 ;;
	esac
	shift
done

if ! command -v qemu-img >/dev/null || ! command -v qemu-io >/dev/null; then
	echo "SKIP: qcow2 interop (qemu-img/qemu-io not installed: apt-get install qemu-utils)"
	exit 77
fi
if [ ! -x "$bin" ]; then
	echo "FAIL: qcow2 interop ($bin is not built: make unit-tests)"
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/lkvm-qcow2-interop.XXXXXX")
[ -n "$keep" ] && echo "images kept in $work" || trap 'rm -rf "$work"' EXIT
passed=0 failed=0
SIZE=8M

qio() {	# qio IMG COMMAND...: qemu-io commands, quietly
	local img=$1; shift
	local args=()
	for c in "$@"; do args+=(-c "$c"); done
	qemu-io -f qcow2 "${args[@]}" "$img" >/dev/null
}

# Some data written by qemu itself: plain, partial-cluster, zeroes.
prefill() {
	qio "$1" "write -P 0x11 0 300k" "write -P 0x22 1m 4k" "write -P 0x33 3145828 7000" \
		"write -z 5m 128k" "write -P 0x44 8384512 4k"
}

fail() {
	echo "FAIL: $name ($*)"
	failed=$((failed + 1))
}

# check_clean IMG: qemu-img check must report nothing at all.
check_clean() {
	if ! qemu-img check -q "$1" >"$work/check.out" 2>&1; then
		sed 's/^/    /' "$work/check.out" | head -10
		return 1
	fi
}

# exercise NAME IMG SEED [SNAPSHOT]: the common part of every case.
exercise() {
	name=$1
	local img=$2 seed=$3 snap=${4:-}
	local ref=$work/$name.ref out=$work/$name.out got=$work/$name.got

	qemu-img convert -O raw "$img" "$ref" || { fail "qemu-img convert before"; return; }
	if ! "$bin" --exercise "$img" "$ref" "$out" "$seed" "$ops" 2>"$work/$name.err"; then
		sed 's/^/    /' "$work/$name.err" | head -10
		fail "driver read-back or random I/O against the model"
		return
	fi
	check_clean "$img" || { fail "qemu-img check after lkvm wrote"; return; }
	qemu-img convert -O raw "$img" "$got" || { fail "qemu-img convert after"; return; }
	cmp -s "$got" "$out" || { fail "image differs from the model: $(cmp "$got" "$out")"; return; }
	if [ -n "$snap" ]; then
		qemu-img snapshot -a "$snap" "$img" &&
			qemu-img convert -O raw "$img" "$got" &&
			cmp -s "$got" "$ref" || { fail "snapshot $snap changed"; return; }
	fi
	qio "$img" "write -P 0x77 2097664 70k" "write -P 0x78 6m 1m" ||
		{ fail "qemu-io write after"; return; }
	check_clean "$img" || { fail "qemu-img check after qemu wrote on top"; return; }
	echo "PASS: $name"
	passed=$((passed + 1))
}

# plain NAME OPTIONS [SEED]: a fresh image with qemu data, then lkvm.
plain() {
	local img=$work/$1.qcow2
	qemu-img create -q -f qcow2 -o "$2" "$img" $SIZE && prefill "$img" ||
		{ name=$1; fail "qemu-img create/qemu-io"; return; }
	exercise "$1" "$img" "${3:-$RANDOM}"
}

plain v3-64k compat=1.1 1
plain v2-64k compat=0.10 2
plain v3-512 cluster_size=512 3
plain v2-512 compat=0.10,cluster_size=512 4
plain v3-2m cluster_size=2M 5
plain v3-4k-refcount1 cluster_size=4096,refcount_bits=1 6
plain v3-4k-refcount8 cluster_size=4096,refcount_bits=8 7
plain v3-4k-refcount64 cluster_size=4096,refcount_bits=64 8
plain v3-lazy-refcounts lazy_refcounts=on 9
plain v3-prealloc-metadata preallocation=metadata,cluster_size=4096 10
plain v3-prealloc-falloc preallocation=falloc 11
plain v2-prealloc-full compat=0.10,preallocation=full,cluster_size=16384 12

# Compressed clusters written by qemu (several per host cluster).
for cs in 512 65536; do
	img=$work/comp$cs.qcow2
	qemu-img create -q -f qcow2 -o cluster_size=$cs "$img" $SIZE &&
		qio "$img" "write -c -P 0x5a 0 64k" "write -c -P 0x5b 64k 64k" \
			"write -c -P 0x5c 2m 128k" "write -P 0x5d 4m 64k" ||
		{ name=compressed-$cs; fail "qemu-io write -c"; continue; }
	exercise compressed-$cs "$img" $((20 + cs))
done

# Overlays: qcow2 v3/v2 on a qcow2 base with data, and on a raw base.
base=$work/base.qcow2
qemu-img create -q -f qcow2 -o cluster_size=4096 "$base" $SIZE && prefill "$base"
for compat in 1.1 0.10; do
	img=$work/ov-$compat.qcow2
	(cd "$work" && qemu-img create -q -f qcow2 -o compat=$compat -b base.qcow2 -F qcow2 \
		"ov-$compat.qcow2" $SIZE) && qio "$img" "write -P 0x66 1049600 2k" ||
		{ name=overlay-qcow2-v$compat; fail "qemu-img create -b"; continue; }
	sum=$(md5sum <"$base")
	exercise overlay-qcow2-v$compat "$img" 30
	[ "$(md5sum <"$base")" = "$sum" ] || fail "the base image changed"
done
head -c 6M /dev/urandom >"$work/base.raw"
(cd "$work" && qemu-img create -q -f qcow2 -b base.raw -F raw ov-raw.qcow2 $SIZE)
exercise overlay-raw-base "$work/ov-raw.qcow2" 31

# Internal snapshot: lkvm's writes copy shared tables; the snapshot stays.
img=$work/snap.qcow2
qemu-img create -q -f qcow2 -o cluster_size=4096 "$img" $SIZE && prefill "$img" &&
	qemu-img snapshot -c s1 "$img"
exercise snapshot "$img" 40 s1

echo "qcow2 interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

# qcow2 images made by qemu-img in L1 (staged by lib.sh), three at once:
#   vda  qemu-img create -f qcow2, 64 MiB, empty
#   vdb  a 64 MiB overlay (-b, relative name) over a 16 MiB qcow2 base of
#        random data: reads go through to the base, beyond it are zeros
#   vdc  qemu-img convert -c of 16 MiB of text, zeros and random data
#        (compressed, unallocated and plain clusters)
# The guest checks what it reads against L1's md5s, writes random data at
# offsets that are not cluster-aligned to all three (copy-on-write from the
# base and from compressed clusters), reads it back and builds the image
# it expects; then it reboots.  In L1, qemu-img check must find no error
# and no leak in any image, the base must be unchanged, and qemu-img
# convert -O raw must give the bytes the guest expects.
CASE_CPUS=2
CASE_MEM=512
CASE_TIMEOUT=300
Q=/tmp/blk-qcow2

# md5 of stdin, digits only.
q_md5() {
	md5sum | cut -c1-32
}

case_l1_setup() {
	if ! command -v qemu-img >/dev/null; then
		CASE_APPEND="blk.skip=no-qemu-img-in-L1"
		return
	fi
	rm -rf $Q
	mkdir -p $Q
	qemu-img create -q -f qcow2 $Q/plain.qcow2 64M
	dd if=/dev/urandom of=$Q/base.raw bs=1M count=16 2>/dev/null
	qemu-img convert -O qcow2 $Q/base.raw $Q/base.qcow2
	(cd $Q && qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 over.qcow2 64M)
	{
		dd if=/dev/urandom bs=1M count=6 2>/dev/null | base64 | head -c 8388608
		dd if=/dev/zero bs=1M count=2 2>/dev/null
		dd if=/dev/urandom bs=1M count=2 2>/dev/null
		seq 1 1000000 | head -c 4194304
	} > $Q/comp.raw
	qemu-img convert -c -O qcow2 $Q/comp.raw $Q/comp.qcow2
	# "N/M = x% allocated, y% fragmented, z% compressed clusters"
	comp_pct=$(qemu-img check $Q/comp.qcow2 | sed -n 's/.* \([0-9.]*\)% compressed.*/\1/p')
	CASE_INFO="base_md5=$(q_md5 < $Q/base.raw) comp_md5=$(q_md5 < $Q/comp.raw)"
	CASE_INFO="$CASE_INFO comp_part_md5=$(dd if=$Q/comp.raw bs=512 skip=12345 count=777 2>/dev/null | q_md5)"
	CASE_INFO="$CASE_INFO comp_size=$(stat -c %s $Q/comp.raw) comp_pct=${comp_pct:-none}"
	CASE_ARGS="-d $Q/plain.qcow2 -d $Q/over.qcow2 -d $Q/comp.qcow2"
	rm -f $Q/comp.raw $Q/base.raw
}

# --- guest ---

# Writes blocks [SKIP, SKIP+COUNT) of /tmp/pat to DEV at 4 KiB block SEEK,
# O_DIRECT, and the same into the expected image EXP.
q_write() {
	dev=$1 exp=$2 seek=$3 skip=$4 count=$5
	dd if=/tmp/pat of="$dev" bs=4k seek="$seek" skip="$skip" count="$count" \
		oflag=direct 2>/dev/null || echo "write_failed=$dev@$seek"
	dd if=/tmp/pat of="$exp" bs=4k seek="$seek" skip="$skip" count="$count" \
		conv=notrunc 2>/dev/null
}

# md5 of the first MIB MiB of DEV, read with O_DIRECT in BS-byte requests.
q_dev_md5() {
	dd if="$1" bs="$2" count=$(($3 * 1048576 / $2)) iflag=direct 2>/dev/null | q_md5
}

q_same() {
	[ "$2" = "$3" ] && echo "$1=yes" || echo "$1=no"
}

case_guest() {
	skip=$(cmdline_value blk.skip)
	[ -n "$skip" ] && case_skip "$skip"
	for d in vda vdb vdc; do
		echo "${d}_sectors=$(cat /sys/block/$d/size)"
	done
	zero16=$(dd if=/dev/zero bs=1M count=16 2>/dev/null | q_md5)
	zero48=$(dd if=/dev/zero bs=1M count=48 2>/dev/null | q_md5)
	dd if=/dev/urandom of=/tmp/pat bs=1M count=9 2>/dev/null

	# vda: empty image; 8 MiB + 12 KiB from 4 MiB + 12 KiB, plus one
	# 4 KiB block in the last cluster.
	q_same vda_empty "$(q_dev_md5 /dev/vda 1048576 16)" "$zero16"
	dd if=/dev/zero of=/tmp/exp-vda bs=1M count=16 2>/dev/null
	q_write /dev/vda /tmp/exp-vda 1027 0 2051
	dd if=/tmp/pat of=/dev/vda bs=4k seek=16383 skip=2100 count=1 oflag=direct \
		conv=fsync 2>/dev/null
	q_same vda_rw "$(q_dev_md5 /dev/vda 12288 12)" "$(head -c 12582912 /tmp/exp-vda | q_md5)"
	q_same vda_rw16 "$(q_dev_md5 /dev/vda 1048576 16)" "$(q_md5 < /tmp/exp-vda)"
	q_same vda_last "$(dd if=/dev/vda bs=4k skip=16383 count=1 iflag=direct 2>/dev/null | q_md5)" \
		"$(dd if=/tmp/pat bs=4k skip=2100 count=1 2>/dev/null | q_md5)"
	# The image L1 should find: exp-vda, zeros, that last block.
	echo "vda_expect=$({ cat /tmp/exp-vda; dd if=/dev/zero bs=1M count=47 2>/dev/null
		dd if=/dev/zero bs=4k count=255 2>/dev/null
		dd if=/tmp/pat bs=4k skip=2100 count=1 2>/dev/null; } | q_md5)"
	rm -f /tmp/exp-vda

	# vdb: the base shows through; beyond 16 MiB it reads zeros.  Writes:
	# one block inside a base cluster, a range across the base's end,
	# and one that ends at 64 MiB.  No explicit flush: lkvm's clean exit
	# must leave the metadata consistent.
	echo "vdb_base_md5=$(q_dev_md5 /dev/vdb 65536 16)"
	q_same vdb_tail_zero "$(dd if=/dev/vdb bs=1M skip=16 count=48 iflag=direct 2>/dev/null |
		q_md5)" "$zero48"
	dd if=/dev/vdb of=/tmp/exp-vdb bs=1M count=16 iflag=direct 2>/dev/null
	dd if=/dev/zero of=/tmp/exp-vdb bs=1M seek=16 count=48 2>/dev/null
	q_write /dev/vdb /tmp/exp-vdb 17 500 1
	q_write /dev/vdb /tmp/exp-vdb 3843 600 300
	q_write /dev/vdb /tmp/exp-vdb 16300 900 84
	q_same vdb_rw "$(q_dev_md5 /dev/vdb 1048576 64)" "$(q_md5 < /tmp/exp-vdb)"
	echo "vdb_expect=$(q_md5 < /tmp/exp-vdb)"
	rm -f /tmp/exp-vdb

	# vdc: compressed; whole clusters, 4 KiB pieces and an odd range.
	# Writes into compressed clusters (text at 1 MiB and 13.7 MiB) and
	# across the end of the compressed text at 8 MiB into zeros.
	echo "vdc_bytes=$(($(cat /sys/block/vdc/size) * 512))"
	echo "vdc_md5=$(q_dev_md5 /dev/vdc 1048576 16)"
	echo "vdc_md5_4k=$(q_dev_md5 /dev/vdc 4096 16)"
	echo "vdc_part_md5=$(dd if=/dev/vdc bs=512 skip=12345 count=777 2>/dev/null | q_md5)"
	dd if=/dev/vdc of=/tmp/exp-vdc bs=1M count=16 iflag=direct 2>/dev/null
	q_write /dev/vdc /tmp/exp-vdc 257 1000 1
	q_write /dev/vdc /tmp/exp-vdc 2047 1050 2
	q_write /dev/vdc /tmp/exp-vdc 3500 1100 40
	sync
	q_same vdc_rw "$(q_dev_md5 /dev/vdc 1048576 16)" "$(q_md5 < /tmp/exp-vdc)"
	echo "vdc_expect=$(q_md5 < /tmp/exp-vdc)"
	rm -f /tmp/exp-vdc
}

# --- L1, after lkvm ---

# qemu-img check's status (0 clean, 2 corrupt, 3 leaks) and, when not
# clean, its report.
q_check() {
	out=$(qemu-img check "$Q/$2" 2>&1)
	rc=$?
	echo "l1_check_$1=$rc"
	[ "$rc" = 0 ] || echo "$out" | head -n 20 | sed "s/^/qemu-img check $2: /"
}

q_raw_md5() {
	qemu-img convert -O raw "$Q/$1" $Q/out.raw && q_md5 < $Q/out.raw
	rm -f $Q/out.raw
}

case_l1_after() {
	[ -f $Q/plain.qcow2 ] || return 0
	q_check vda plain.qcow2
	q_check vdb over.qcow2
	q_check base base.qcow2
	q_check vdc comp.qcow2
	echo "l1_vda_md5=$(q_raw_md5 plain.qcow2)"
	echo "l1_vdb_md5=$(q_raw_md5 over.qcow2)"
	echo "l1_base_md5=$(q_raw_md5 base.qcow2)"
	echo "l1_vdc_md5=$(q_raw_md5 comp.qcow2)"
	rm -rf $Q
}

case_check() {
	expect_exit 0
	expect_no_console '^write_failed='
	v() { console_value "$1"; }
	[ "$(v vda_sectors)" = 131072 ] || fail "vda has $(v vda_sectors) sectors, want 131072"
	[ "$(v vdb_sectors)" = 131072 ] || fail "vdb has $(v vdb_sectors) sectors, want 131072"
	[ "$(v vdc_bytes)" = "$(info comp_size)" ] ||
		fail "vdc has $(v vdc_bytes) bytes, the raw source $(info comp_size)"
	[ "$(v vda_empty)" = yes ] || fail "the new image does not read as zeros"
	[ "$(v vda_rw)" = yes ] || fail "vda: data read back differs (12 KiB reads)"
	[ "$(v vda_rw16)" = yes ] || fail "vda: data read back differs (1 MiB reads)"
	[ "$(v vda_last)" = yes ] || fail "vda: last block read back differs"
	[ "$(v vdb_base_md5)" = "$(info base_md5)" ] || fail "vdb: backing file data differ"
	[ "$(v vdb_tail_zero)" = yes ] || fail "vdb: beyond the backing file is not zeros"
	[ "$(v vdb_rw)" = yes ] || fail "vdb: data read back differs"
	case $(info comp_pct) in
	''|none|0.00) fail "qemu-img made no compressed cluster ($(info comp_pct)%)" ;;
	esac
	[ "$(v vdc_md5)" = "$(info comp_md5)" ] || fail "vdc: compressed image reads wrong (1 MiB reads)"
	[ "$(v vdc_md5_4k)" = "$(info comp_md5)" ] || fail "vdc: compressed image reads wrong (4 KiB reads)"
	[ "$(v vdc_part_md5)" = "$(info comp_part_md5)" ] || fail "vdc: unaligned range reads wrong"
	[ "$(v vdc_rw)" = yes ] || fail "vdc: data written over compressed clusters read back wrong"
	for d in vda vdb base vdc; do
		[ "$(v l1_check_$d)" = 0 ] || fail "qemu-img check $d: status $(v l1_check_$d)"
	done
	[ "$(v l1_vda_md5)" = "$(v vda_expect)" ] || fail "vda: qemu-img convert differs from the guest's data"
	[ "$(v l1_vdb_md5)" = "$(v vdb_expect)" ] || fail "vdb: qemu-img convert differs from the guest's data"
	[ "$(v l1_vdc_md5)" = "$(v vdc_expect)" ] || fail "vdc: qemu-img convert differs from the guest's data"
	[ "$(v l1_base_md5)" = "$(info base_md5)" ] || fail "the backing file changed"
	note "compressed clusters in vdc: $(info comp_pct)%"
}

# The format-probing attack (issue 9, finding 1): a guest writes a qcow2
# header naming a host file as its backing file into sector 0 of its raw
# disk, hoping the next lkvm start opens the disk as qcow2 and shows it
# the host file.  L1 makes a raw image and a secret file; then four boots
# of the same image (the first from l1/suite.sh, the rest from
# case_l1_after), the phase given on the guest command line:
#   b1  no format=      plain writes to sector 0 work, the header is
#                       refused (I/O error) and lkvm says why
#   b2  no format=      the image still opens raw: no secret in /dev/vda
#   b3  ,format=raw     the same header write is allowed
#   b4  ,format=raw     opens raw although it now starts with a qcow2
#                       header: the guest sees its own header, no secret
CASE_CPUS=1
CASE_TIMEOUT=300
BP_IMG=/tmp/blk-probe.img
BP_SECRET=/tmp/blk-probe.secret

case_l1_setup() {
	dd if=/dev/zero of=$BP_IMG bs=1M count=16 2>/dev/null
	echo "LKVM-PROBE-SECRET-$$-of-L1" > $BP_SECRET
	CASE_APPEND="blk.phase=b1 blk.secret=$BP_SECRET"
	CASE_ARGS="-d $BP_IMG"
}

# --- guest ---

bp_byte() {
	printf "\\$(printf %03o "$1")"
}

bp_be32() {
	bp_byte $((($1 >> 24) & 255))
	bp_byte $((($1 >> 16) & 255))
	bp_byte $((($1 >> 8) & 255))
	bp_byte $(($1 & 255))
}

bp_be64() {	# values below 2^32
	bp_be32 0
	bp_be32 "$1"
}

# A qcow2 version 2 header (4 KiB clusters, 16 MiB, L1 at 12 KiB, refcount
# table at 4 KiB: zeros in this image, so every cluster reads through to
# the backing file), an empty list of header extensions, and $1 named,
# with no declared format, as its backing file.
bp_header() {
	printf 'QFI\373'
	bp_be32 2		# version
	bp_be64 80		# backing_file_offset: after the extensions
	bp_be32 ${#1}		# backing_file_size
	bp_be32 12		# cluster_bits
	bp_be64 16777216	# size
	bp_be32 0		# crypt_method
	bp_be32 8		# l1_size
	bp_be64 12288		# l1_table_offset
	bp_be64 4096		# refcount_table_offset
	bp_be32 1		# refcount_table_clusters
	bp_be32 0		# nb_snapshots
	bp_be64 0		# snapshots_offset
	bp_be64 0		# header extensions: the end marker
	printf '%s' "$1"
}

bp_sector0_magic() {
	[ "$(dd if=/dev/vda bs=512 count=1 iflag=direct 2>/dev/null | head -c 3)" = QFI ] &&
		echo yes || echo no
}

bp_attack() {
	p=$1
	printf 'an ordinary boot sector' | dd of=/dev/vda bs=512 count=1 conv=sync,fsync \
		oflag=direct 2>/dev/null && echo "${p}_plain_write=ok" || echo "${p}_plain_write=failed"
	bp_header "$(cmdline_value blk.secret)" > /tmp/hdr
	echo "${p}_header_bytes=$(wc -c < /tmp/hdr)"
	if dd if=/tmp/hdr of=/dev/vda bs=512 count=1 conv=sync,fsync oflag=direct 2>/tmp/dd.err; then
		echo "${p}_attack_write=accepted"
	else
		echo "${p}_attack_write=refused"
		echo "${p}_dd_error=$(tail -n1 /tmp/dd.err)"
	fi
	echo "${p}_sector0_magic=$(bp_sector0_magic)"
}

bp_look() {
	p=$1
	echo "${p}_vda_sectors=$(cat /sys/block/vda/size)"
	echo "${p}_sector0_magic=$(bp_sector0_magic)"
	echo "${p}_secret_seen=$(dd if=/dev/vda bs=64k count=4 iflag=direct 2>/dev/null |
		grep -c LKVM-PROBE-SECRET)"
}

case_guest() {
	phase=$(cmdline_value blk.phase)
	case $phase in
	b1|b3) bp_attack "$phase" ;;
	b2|b4) bp_look "$phase" ;;
	*) echo "bad_phase=$phase" ;;
	esac
}

# --- L1, after boot 1 ---

bp_boot() {	# bp_boot PHASE FORMAT-SUFFIX
	echo "BP-BOOT-$1"
	timeout -s TERM -k 5 90 lkvm run -k "$L2_KERNEL" -i "$L2_INITRD" \
		-p "lkvm.case=blk-probe blk.phase=$1 blk.secret=$BP_SECRET reboot=k quiet" \
		-m "$CASE_MEM" -c "$CASE_CPUS" --name "blk-probe-$1" -d "$BP_IMG$2" \
		< /dev/null 2>&1
	echo "$1_exit=$?"
}

case_l1_after() {
	[ -f $BP_IMG ] || return 0
	echo "l1_b1_file_magic=$(head -c 3 $BP_IMG)"
	bp_boot b2 ""
	bp_boot b3 ",format=raw"
	echo "l1_b3_file_magic=$(head -c 3 $BP_IMG)"
	bp_boot b4 ",format=raw"
	rm -f $BP_IMG $BP_SECRET
}

case_check() {
	expect_exit 0
	v() { console_value "$1"; }
	[ "$(v b1_plain_write)" = ok ] || fail "boot 1: a plain write to sector 0 failed"
	[ "$(v b1_header_bytes)" -gt 80 ] 2>/dev/null || fail "boot 1: header of $(v b1_header_bytes) bytes"
	[ "$(v b1_attack_write)" = refused ] || fail "boot 1: the qcow2 header write was $(v b1_attack_write)"
	[ "$(v b1_sector0_magic)" = no ] || fail "boot 1: sector 0 holds the qcow2 magic"
	expect_console 'refused a guest write to sector 0'
	[ "$(v l1_b1_file_magic)" != QFI ] || fail "boot 1: the image file starts with the qcow2 magic"
	[ "$(v b2_exit)" = 0 ] || fail "boot 2: lkvm status $(v b2_exit)"
	[ "$(v b2_vda_sectors)" = 32768 ] || fail "boot 2: vda has $(v b2_vda_sectors) sectors"
	[ "$(v b2_secret_seen)" = 0 ] || fail "boot 2: the guest read the host's secret file"
	[ "$(v b3_exit)" = 0 ] || fail "boot 3: lkvm status $(v b3_exit)"
	[ "$(v b3_attack_write)" = accepted ] || fail "boot 3 (format=raw): header write $(v b3_attack_write)"
	[ "$(v l1_b3_file_magic)" = QFI ] || fail "boot 3: the header did not reach the file"
	[ "$(v b4_exit)" = 0 ] || fail "boot 4: lkvm status $(v b4_exit)"
	[ "$(v b4_sector0_magic)" = yes ] || fail "boot 4 (format=raw): the guest's header is not in sector 0"
	[ "$(v b4_secret_seen)" = 0 ] || fail "boot 4 (format=raw): the guest read the host's secret file"
	note "boot 1 dd: $(v b1_dd_error)"
}

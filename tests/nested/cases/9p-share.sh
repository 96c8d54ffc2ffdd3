# virtio-9p: a directory of L1 shared with the guest (--9p DIR,TAG).  The
# guest mounts it with v9fs and reads, creates, writes, renames, lists and
# deletes in it; between the guest's steps L1 looks at the directory
# itself and types what it saw into the guest's shell, so the console
# carries both views for case_check to compare.  Escape attempts go
# through symlinks the host placed in the share (absolute, and relative
# climbing out): the host's secret must never appear in the guest, and
# nothing may be created outside the share.
# Needs the generic kernel flavour on x86 (the cloud one has no 9p
# modules); arm64 has only the generic one.
CASE_FLAVOUR="amd64 arm64"
CASE_ARCH="x86_64 arm64"
CASE_TIMEOUT=150

SHARE=/tmp/9p-share
OUTSIDE=/tmp/9p-outside

case_l1_setup() {
	rm -rf "$SHARE" "$OUTSIDE"
	mkdir -p "$SHARE/hostdir" "$OUTSIDE"
	echo host-secret > "$OUTSIDE/secret"
	dd if=/dev/urandom of="$SHARE/hostfile.bin" bs=1024 count=777 2>/dev/null
	echo 'hello from L1' > "$SHARE/hostdir/note.txt"
	ln -s "$OUTSIDE" "$SHARE/abs-link"
	ln -s ../.. "$SHARE/hostdir/up-link"
	CASE_ARGS="--9p $SHARE,hostshare"
	CASE_INFO="host_md5=$(md5sum < "$SHARE/hostfile.bin" | cut -d' ' -f1)"
}

case_guest() {
	mkdir -p /mnt /tmp/9p-outside
	# A decoy at the path L1's absolute link names: the guest resolves links
	# in its own tree, so this is what it may legitimately reach.
	echo guest-decoy > /tmp/9p-outside/secret
	if ! mount -t 9p -o trans=virtio,version=9p2000.L hostshare /mnt; then
		echo "LKVM-9P-MOUNT-FAILED"
		return
	fi
	echo "GUEST_MD5=$(md5sum < /mnt/hostfile.bin | cut -d' ' -f1)"
	echo "GUEST_NOTE=$(cat /mnt/hostdir/note.txt)"
	echo "GUEST_ABS_LINK=$(readlink /mnt/abs-link)"
	for p in /mnt/abs-link/secret /mnt/hostdir/up-link/9p-outside/secret \
		 /mnt/hostdir/up-link/tmp/9p-outside/secret /mnt/../tmp/9p-outside/secret; do
		case $(cat "$p" 2>/dev/null) in
		*host-secret*) echo "ESCAPED through $p" ;;
		esac
	done
	echo pwned > /mnt/abs-link/new 2>/dev/null
	echo first > /mnt/created.txt
	# Several msize-sized requests per write and read.
	dd if=/dev/urandom of=/mnt/big.bin bs=1M count=6 2>/dev/null
	sync
	echo 3 > /proc/sys/vm/drop_caches
	echo "GUEST_BIG_MD5=$(md5sum < /mnt/big.bin | cut -d' ' -f1)"
	mkdir /mnt/gdir
	mv /mnt/created.txt /mnt/gdir/renamed.txt
	echo second >> /mnt/gdir/renamed.txt
	chmod 751 /mnt/gdir/renamed.txt
	ln /mnt/hostfile.bin /mnt/hard
	ln -s hostfile.bin /mnt/soft
	df /mnt > /dev/null && echo "GUEST_DF=ok"
	echo "GUEST_LIST=$(ls /mnt | tr '\n' ,)"
	echo "GUEST-9P-STEP1"
	exec sh
}

# Typed lines are echoed by the guest's tty: markers to wait for are
# written so that only the shell's output contains them ($((...))).  One
# line at a time, each after the previous one's marker: a line typed ahead
# is echoed by the tty while the previous command still prints, into the
# middle of its output line (seen: "L1_LIST=...,soft,echo L1_MODE=751").
typed=0
type_line() {	# type_line LINE: type it, wait until the shell has run it
	typed=$((typed + 1))
	echo "$1; echo GUEST-9P-LINE-\$(($typed + 0))"
	wait_for "GUEST-9P-LINE-$typed" 30
}

case_input() {
	wait_for GUEST-9P-STEP1 90 || return 0
	type_line "echo L1_LIST=$(ls "$SHARE" | tr '\n' ,)" || return 0
	type_line "echo L1_BIG_MD5=$(md5sum < "$SHARE/big.bin" | cut -d' ' -f1)" || return 0
	type_line "echo L1_RENAMED=$(tr '\n' , < "$SHARE/gdir/renamed.txt")" || return 0
	type_line "echo L1_MODE=$(stat -c %a "$SHARE/gdir/renamed.txt")" || return 0
	type_line "echo L1_LINKS=$(stat -c %h "$SHARE/hostfile.bin"),$(readlink "$SHARE/soft")" || return 0
	type_line "echo L1_OUTSIDE=$(ls "$OUTSIDE" | tr '\n' ,)" || return 0
	echo 'rm /mnt/big.bin /mnt/gdir/renamed.txt /mnt/hard /mnt/soft && rmdir /mnt/gdir && echo GUEST-9P-STEP$((1+1))'
	wait_for GUEST-9P-STEP2 30 || return 0
	type_line "echo L1_LIST2=$(ls "$SHARE" | tr '\n' ,)" || return 0
	echo 'umount /mnt && echo GUEST-9P-UMOUNT-$((6*7))'
	wait_for GUEST-9P-UMOUNT-42 20
	echo 'reboot -f'
}

same() {	# same NAME GOT WANT
	[ -n "$3" ] && [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

case_check() {
	expect_exit 0
	expect_no_console 'LKVM-9P-MOUNT-FAILED'
	expect_no_console '^ESCAPED'
	expect_no_console 'host-secret'
	same "host file read in the guest (md5)" "$(console_value GUEST_MD5)" "$(info host_md5)"
	same "host text file" "$(console_value GUEST_NOTE)" "hello from L1"
	same "absolute link as the guest sees it" "$(console_value GUEST_ABS_LINK)" /tmp/9p-outside
	same "guest-written file seen by L1 (md5)" "$(console_value L1_BIG_MD5)" \
		"$(console_value GUEST_BIG_MD5)"
	same "guest's listing" "$(console_value GUEST_LIST)" \
		"abs-link,big.bin,gdir,hard,hostdir,hostfile.bin,soft,"
	same "L1's listing" "$(console_value L1_LIST)" \
		"abs-link,big.bin,gdir,hard,hostdir,hostfile.bin,soft,"
	same "renamed and appended file in L1" "$(console_value L1_RENAMED)" "first,second,"
	same "mode set by the guest, in L1" "$(console_value L1_MODE)" 751
	same "hard and symbolic link made by the guest, in L1" \
		"$(console_value L1_LINKS)" "2,hostfile.bin"
	same "statfs" "$(console_value GUEST_DF)" ok
	same "L1's directory outside the share" "$(console_value L1_OUTSIDE)" "secret,"
	same "L1's listing after the guest deleted" "$(console_value L1_LIST2)" \
		"abs-link,hostdir,hostfile.bin,"
	expect_console '^GUEST-9P-UMOUNT-42'
}

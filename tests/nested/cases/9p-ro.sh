# virtio-9p read-only export (--9p DIR,TAG,ro): the guest reads the share
# but every change (create, write, append, delete, rename, mkdir, chmod) is
# refused, and L1's directory is unchanged afterwards.
# Needs the generic kernel flavour (the cloud one has no 9p modules).
CASE_FLAVOUR=amd64
CASE_TIMEOUT=150

SHARE=/tmp/9p-ro

case_l1_setup() {
	rm -rf "$SHARE"
	mkdir -p "$SHARE"
	echo keep > "$SHARE/file"
	chmod 644 "$SHARE/file"
	CASE_ARGS="--9p $SHARE,roshare,ro"
}

# try NAME COMMAND...: prints NAME=refused or NAME=allowed.
try() {
	name=$1
	shift
	if "$@" 2>/dev/null; then echo "$name=allowed"; else echo "$name=refused"; fi
}

case_guest() {
	mkdir -p /mnt
	if ! mount -t 9p -o trans=virtio,version=9p2000.L roshare /mnt; then
		echo "LKVM-9P-MOUNT-FAILED"
		return
	fi
	echo "RO_READ=$(cat /mnt/file)"
	try RO_CREATE sh -c 'echo x > /mnt/new'
	try RO_APPEND sh -c 'echo x >> /mnt/file'
	try RO_RM rm /mnt/file
	try RO_MV mv /mnt/file /mnt/moved
	try RO_MKDIR mkdir /mnt/dir
	try RO_CHMOD chmod 600 /mnt/file
	try RO_LN ln -s x /mnt/link
	echo "RO_ERR=$(touch /mnt/new2 2>&1)"
	echo "RO_AFTER=$(cat /mnt/file)"
	umount /mnt
	echo "GUEST-9P-RO-DONE"
	exec sh
}

case_input() {
	wait_for GUEST-9P-RO-DONE 90 || return 0
	echo "echo L1_RO=$(ls -l "$SHARE" | awk 'NR > 1 { printf "%s %s,", $1, $NF }')$(cat "$SHARE/file")"
	echo 'reboot -f'
}

case_check() {
	expect_exit 0
	expect_no_console 'LKVM-9P-MOUNT-FAILED'
	expect_console '^RO_READ=keep$'
	for op in CREATE APPEND RM MV MKDIR CHMOD LN; do
		[ "$(console_value RO_$op)" = refused ] ||
			fail "RO_$op: '$(console_value RO_$op)', expected refused"
	done
	expect_console '^RO_ERR=.*Read-only file system'
	expect_console '^RO_AFTER=keep$'
	expect_console '^L1_RO=-rw-r--r-- file,keep$'
}

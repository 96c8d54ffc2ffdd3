# Shared host-side functions of the nested harness (bash; sourced, not run).
#
# The nested harness boots a Debian kernel as "L1" under QEMU/TCG with an
# emulated AMD SVM CPU, loads the real KVM modules there, and runs lkvm inside
# L1 to boot the same kernel again as "L2".  This file knows how to obtain
# and cache that kernel, how to build the two initramfs images and how to
# start L1.  Users: tests/nested/run.sh, tests/nested/demo.sh,
# bench/boot-time.sh.

NESTED_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$NESTED_DIR/../.." && pwd)
LKVM_CACHE=${LKVM_CACHE:-$HOME/.cache/lkvm}
SKIP_STATUS=77
BUSYBOX=${BUSYBOX:-/bin/busybox}
QEMU=${QEMU:-qemu-system-x86_64}

# Modules L2's /init loads, in this order, when the kernel package has them.
# virtio is all modules in the cloud flavour; pvpanic lets a guest panic make
# the VMM exit.  Append a name here to give every L2 guest a new driver.
L2_MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev
virtio_pci virtio_mmio virtio_blk failover net_failover virtio_net
virtio_console virtio-rng virtio_balloon pvpanic pvpanic-mmio
vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport
netfs fscache 9pnet 9pnet_virtio 9p"

# The guest kernel's modules that `lkvm run` without -i packs into its own
# initramfs (devloop.c), staged in L1 at /lib/modules/KREL with the
# kernel's modules.builtin: L1's / is then the host root those cases export.
# No modules.dep (no depmod here): lkvm reads each module's depends=.
DEVLOOP_MODULES="9p 9pnet 9pnet_virtio netfs fscache overlay virtio virtio_ring
virtio_pci virtio_pci_modern_dev virtio_pci_legacy_dev virtio_mmio virtio_blk
virtio_net net_failover failover virtio_console virtio-rng pvpanic pvpanic-mmio"

# Modules L1 needs for /dev/kvm and /dev/vhost-vsock, in dependency order.
L1_MODULES="irqbypass kvm kvm-amd vhost_iotlb vhost vsock
vmw_vsock_virtio_transport_common vhost_vsock tun tap vhost_net"

# A prerequisite is missing: say so loudly and leave with the status that
# callers count as "skipped" rather than "failed".
nested_skip() {
	echo "########################################################"
	echo "SKIP: nested: $*"
	echo "########################################################"
	exit "$SKIP_STATUS"
}

nested_die() {
	echo "nested: error: $*" >&2
	exit 2
}

# Checks the host tools the harness itself needs (not lkvm).
nested_check_host_tools() {
	command -v "$QEMU" >/dev/null 2>&1 ||
		nested_skip "$QEMU not found (apt-get install qemu-system-x86)"
	[ -x "$BUSYBOX" ] ||
		nested_skip "$BUSYBOX not found (apt-get install busybox-static)"
	# A dynamic busybox would need its libraries in both initramfs images.
	if ldd "$BUSYBOX" >/dev/null 2>&1; then
		nested_skip "$BUSYBOX is not static (apt-get install busybox-static)"
	fi
	local t
	for t in cpio gzip dpkg-deb timeout sed awk; do
		command -v "$t" >/dev/null 2>&1 ||
			nested_skip "host tool '$t' not found"
	done
}

# --- guest kernel -----------------------------------------------------------

# The newest fully extracted kernel of FLAVOUR in the cache, or nothing.
# FLAVOUR is "cloud-amd64" or "amd64" (generic); kernel release names look
# like 6.1.0-56-cloud-amd64 and 6.1.0-56-amd64.
kernel_cached_release() {
	local flavour=$1 d rel best=
	for d in "$LKVM_CACHE"/kernels/*/; do
		[ -e "$d/.complete" ] || continue
		rel=$(basename "$d")
		case $flavour in
		cloud-amd64) [[ $rel =~ ^[0-9.]+-[0-9]+-cloud-amd64$ ]] || continue ;;
		amd64) [[ $rel =~ ^[0-9.]+-[0-9]+-amd64$ ]] || continue ;;
		*) [[ $rel == *-"$flavour" ]] || continue ;;
		esac
		best=$(printf '%s\n%s\n' "$best" "$rel" | sed '/^$/d' | sort -V | tail -n1)
	done
	printf '%s' "$best"
}

# The release Debian currently ships for FLAVOUR, from the local apt lists
# (no network access).
kernel_current_release() {
	apt-cache depends "linux-image-$1" 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([0-9].*\)$/\1/p' | head -n1
}

# Unpacks the -unsigned package of RELEASE into the cache, downloading the
# .deb only when no copy is cached.  The extracted tree is moved into place
# in one rename so a concurrent or interrupted run never sees half of it.
kernel_fetch_release() {
	local rel=$1 pkg deb tmp
	pkg="linux-image-$rel-unsigned"
	mkdir -p "$LKVM_CACHE/kernels" || return 1
	deb=$(ls "$LKVM_CACHE/${pkg}"_*.deb 2>/dev/null | sort -V | tail -n1)
	if [ -z "$deb" ]; then
		echo "nested: downloading $pkg into $LKVM_CACHE" >&2
		# apt-get download writes into the current directory; run it in a
		# private one so a failed download leaves no partial file behind.
		tmp=$(mktemp -d "$LKVM_CACHE/dl.XXXXXX") || return 1
		if ! (cd "$tmp" && apt-get download -q "$pkg" >&2); then
			rm -rf "$tmp"
			return 1
		fi
		mv "$tmp"/*.deb "$LKVM_CACHE/" && rm -rf "$tmp"
		deb=$(ls "$LKVM_CACHE/${pkg}"_*.deb 2>/dev/null | sort -V | tail -n1)
		[ -n "$deb" ] || return 1
	fi
	tmp=$(mktemp -d "$LKVM_CACHE/kernels/.x.XXXXXX") || return 1
	if ! dpkg-deb -x "$deb" "$tmp" ||
	   [ ! -f "$tmp/boot/vmlinuz-$rel" ]; then
		rm -rf "$tmp"
		return 1
	fi
	touch "$tmp/.complete"
	rm -rf "$LKVM_CACHE/kernels/$rel"
	mv "$tmp" "$LKVM_CACHE/kernels/$rel"
}

# Makes sure a kernel of FLAVOUR (default cloud-amd64) is extracted in the
# cache, and sets:
#   KREL     release, e.g. 6.1.0-56-cloud-amd64
#   KIMAGE   its bzImage
#   KMODDIR  its /lib/modules/KREL
#   KCONFIG  its config file
# A cached kernel is used as is; nothing is fetched when the cache is good.
# LKVM_REFRESH_KERNEL=1 asks for the release apt currently knows instead.
# Skips the whole run when no kernel can be had.
# These are the guest's (L2's) kernel; L1 runs the kernel chosen by
# l1_kernel_prepare.
kernel_prepare() {
	local flavour=${1:-cloud-amd64} rel=
	[ -n "${LKVM_REFRESH_KERNEL:-}" ] || rel=$(kernel_cached_release "$flavour")
	if [ -z "$rel" ]; then
		rel=$(kernel_current_release "$flavour")
		[ -n "$rel" ] || nested_skip "cannot resolve linux-image-$flavour" \
			"with apt-cache (run apt-get update) and none is cached in" \
			"$LKVM_CACHE/kernels"
		if [ ! -e "$LKVM_CACHE/kernels/$rel/.complete" ]; then
			kernel_fetch_release "$rel" ||
				nested_skip "cannot fetch or unpack linux-image-$rel-unsigned"
		fi
	fi
	KREL=$rel
	KIMAGE=$LKVM_CACHE/kernels/$rel/boot/vmlinuz-$rel
	KCONFIG=$LKVM_CACHE/kernels/$rel/boot/config-$rel
	KMODDIR=$LKVM_CACHE/kernels/$rel/lib/modules/$rel
}

# L1's kernel: the cloud flavour, whatever the guest runs (it boots fastest
# under TCG and has the KVM modules).  Sets L1_KREL, L1_KIMAGE, L1_KMODDIR
# and leaves KREL etc. as they were.
l1_kernel_prepare() {
	local krel=${KREL:-} kimage=${KIMAGE:-} kmoddir=${KMODDIR:-} kconfig=${KCONFIG:-}
	kernel_prepare cloud-amd64
	L1_KREL=$KREL L1_KIMAGE=$KIMAGE L1_KMODDIR=$KMODDIR
	KREL=$krel KIMAGE=$kimage KMODDIR=$kmoddir KCONFIG=$kconfig
}

# Path of module NAME (file name without .ko) under the modules directory
# MODDIR (default: the guest kernel's), or nothing when it has none.
kernel_module_path() {
	find "${2:-$KMODDIR}/kernel" -name "$1.ko" -print -quit 2>/dev/null
}

# --- initramfs building -----------------------------------------------------

# Static busybox plus its applet links.  The link named "busybox" is skipped:
# it would replace the binary with a link to itself.
stage_busybox() {
	local root=$1 p
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,root}
	cp "$BUSYBOX" "$root/bin/busybox"
	"$BUSYBOX" --list-full | while read -r p; do
		[ "${p##*/}" = busybox ] && continue
		mkdir -p "$root/$(dirname "$p")"
		[ -e "$root/$p" ] || ln -s /bin/busybox "$root/$p"
	done
}

# Copies the ELF program SRC to DEST inside ROOT together with the shared
# libraries and loader ldd names, at their own paths.  libgcc_s.so.1 goes
# along too: glibc dlopen()s it for pthread_cancel and unwinding, and ldd
# cannot know that.  A script or static binary is copied alone.
stage_program() {
	local root=$1 src=$2 dest=$3 lib libdir
	mkdir -p "$root/$(dirname "$dest")"
	cp -L "$src" "$root/$dest"
	chmod 755 "$root/$dest"
	ldd "$src" >/dev/null 2>&1 || return 0
	for lib in $(ldd "$src" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }
	                               $1 ~ /^\// { print $1 }'); do
		mkdir -p "$root/$(dirname "$lib")"
		cp -L "$lib" "$root/$lib"
	done
	libdir=$(ldd "$src" | awk '$1 ~ /^libc\.so/ { print $3 }' | xargs -r dirname)
	lib=$(gcc -print-file-name=libgcc_s.so.1 2>/dev/null)
	[ -f "$lib" ] || lib=/lib/x86_64-linux-gnu/libgcc_s.so.1
	if [ -n "$libdir" ] && [ -f "$lib" ]; then
		cp -L "$lib" "$root/$libdir/libgcc_s.so.1"
	fi
}

# One newc cpio entry without data (a directory, a device node, the
# trailer).  Written by hand so that /dev/console can be put into an image
# without root privileges (mknod) on the build machine.
cpio_entry() {
	local name=$1 mode=$2 rmaj=${3:-0} rmin=${4:-0} namesize pad
	namesize=$((${#name} + 1))
	# c_ino c_mode c_uid c_gid c_nlink c_mtime c_filesize c_devmajor
	# c_devminor c_rdevmajor c_rdevminor c_namesize c_check
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		0 "$mode" 0 0 1 0 0 0 0 "$rmaj" "$rmin" "$namesize" 0
	printf '%s\0' "$name"
	# The header (110 bytes) plus the name are padded to 4 bytes.
	pad=$(((4 - (110 + namesize) % 4) % 4))
	[ "$pad" -gt 0 ] && head -c "$pad" /dev/zero
	return 0
}

# A second archive holding /dev/console, which the kernel opens for init
# before devtmpfs can be mounted.  The kernel unpacks concatenated archives.
cpio_console_archive() {
	cpio_entry dev $((0040755))
	cpio_entry dev/console $((0020600)) 5 1
	cpio_entry 'TRAILER!!!' 0
}

# Packs ROOT into the newc archive OUT; COMPRESS=gzip compresses it.
cpio_pack() {
	local root=$1 out=$2 compress=${3:-none}
	{
		(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
			cpio -o -H newc -R 0:0 --quiet) &&
		cpio_console_archive
	} | if [ "$compress" = gzip ]; then gzip -6 -n; else cat; fi > "$out"
}

# The cases' helper programs (progs/*.c), built static, into ROOT/bin.
stage_test_programs() {
	local root=$1 work=$2 src name
	for src in "$NESTED_DIR"/progs/*.c; do
		[ -f "$src" ] || continue
		name=$(basename "$src" .c)
		[ -x "$work/$name" ] ||
			gcc -O2 -static -o "$work/$name" "$src" -lpthread || return 1
		cp "$work/$name" "$root/bin/$name"
	done
}

# Builds the L2 initramfs OUT (gzip) for the prepared kernel: busybox, its
# /init, the L2-side case scripts and the modules of L2_MODULES that exist.
build_l2_initramfs() {
	local out=$1 work=$2 root m p
	root=$work/l2-root
	rm -rf "$root"
	stage_busybox "$root"
	cp "$NESTED_DIR/l2/init" "$root/init"
	chmod 755 "$root/init"
	mkdir -p "$root/cases" "$root/lib/modules"
	cp "$NESTED_DIR"/cases/*.sh "$NESTED_DIR"/l2/guest-*.sh "$root/cases/"
	stage_test_programs "$root" "$work" || return 1
	: > "$root/lib/modules/load-order"
	for m in $L2_MODULES; do
		p=$(kernel_module_path "$m")
		[ -n "$p" ] || continue
		cp "$p" "$root/lib/modules/$m.ko"
		echo "$m" >> "$root/lib/modules/load-order"
	done
	cpio_pack "$root" "$out" gzip
}

# Builds the uncompressed L1 initramfs OUT (TCG would spend seconds
# decompressing it); needs kernel_prepare and l1_kernel_prepare.  MODE is the L1 job (suite, demo, bench); LKVM the VMM
# binary to put at /usr/local/bin/lkvm; L2INITRD the L2 initramfs; EXTRA a
# shell snippet appended to /etc/l1.conf (settings of the mode).
# REFERENCE_QEMU=1 also packs QEMU and its firmware (see l1/qemu-as-lkvm).
build_l1_initramfs() {
	local out=$1 work=$2 mode=$3 lkvm=$4 l2initrd=$5 extra=$6 root m p
	root=$work/l1-root
	rm -rf "$root"
	stage_busybox "$root"
	cp "$NESTED_DIR/l1/init" "$root/init"
	chmod 755 "$root/init"
	mkdir -p "$root/l1" "$root/cases" "$root/guest" "$root/lib/l1-modules"
	cp "$NESTED_DIR"/l1/*.sh "$root/l1/"
	cp "$NESTED_DIR"/cases/*.sh "$root/cases/"
	for m in $L1_MODULES; do
		p=$(kernel_module_path "$m" "$L1_KMODDIR")
		[ -n "$p" ] || nested_die "kernel $L1_KREL has no $m.ko"
		cp "$p" "$root/lib/l1-modules/$m.ko"
	done
	cp "$KIMAGE" "$root/guest/vmlinuz"
	stage_guest_modules "$root"
	stage_l1_tools "$root"
	cp "$l2initrd" "$root/guest/initrd.cpio.gz"
	stage_program "$root" "$lkvm" /usr/local/bin/lkvm
	stage_test_programs "$root" "$work" || return 1
	stage_disk_tools "$root"
	if [ "${REFERENCE_QEMU:-0}" = 1 ]; then
		stage_qemu "$root"
	fi
	{
		echo "L1_MODE=$mode"
		echo "L1_MODULES='$L1_MODULES'"
		printf '%s\n' "$extra"
	} > "$root/etc/l1.conf"
	cpio_pack "$root" "$out" none
}

# DEVLOOP_MODULES of the guest kernel at their own paths in ROOT/lib/modules/KREL.
stage_guest_modules() {
	local root=$1 m p dest=$1/lib/modules/$KREL
	mkdir -p "$dest"
	[ -f "$KMODDIR/modules.builtin" ] && cp "$KMODDIR/modules.builtin" "$dest/"
	for m in $DEVLOOP_MODULES; do
		p=$(kernel_module_path "$m")
		[ -n "$p" ] || continue
		mkdir -p "$dest/$(dirname "${p#"$KMODDIR"/}")"
		cp "$p" "$dest/${p#"$KMODDIR"/}"
	done
}

# gdb for L1: Debian's gdb-minimal (no Python, whose standard library L1
# would need too), downloaded once into the cache and unpacked there; it
# conflicts with the gdb package, so it is never installed.  Prints the
# binary's path, or nothing.
gdb_minimal_prepare() {
	local deb dir=$LKVM_CACHE/gdb-minimal tmp
	if [ ! -x "$dir/usr/bin/gdb" ]; then
		deb=$(ls "$LKVM_CACHE"/gdb-minimal_*.deb 2>/dev/null | sort -V | tail -n1)
		if [ -z "$deb" ]; then
			tmp=$(mktemp -d "$LKVM_CACHE/dl.XXXXXX") || return 0
			(cd "$tmp" && apt-get download -q gdb-minimal >&2) && mv "$tmp"/*.deb "$LKVM_CACHE/"
			rm -rf "$tmp"
			deb=$(ls "$LKVM_CACHE"/gdb-minimal_*.deb 2>/dev/null | sort -V | tail -n1)
		fi
		[ -n "$deb" ] || return 0
		tmp=$(mktemp -d "$LKVM_CACHE/.gdb.XXXXXX") || return 0
		dpkg-deb -x "$deb" "$tmp" && rm -rf "$dir" && mv "$tmp" "$dir" || rm -rf "$tmp"
	fi
	[ -x "$dir/usr/bin/gdb" ] && printf '%s' "$dir/usr/bin/gdb"
}

# Extras that some cases name in CASE_L1_TOOLS (see cases/README), listed
# in L1_TOOLS: "vmlinux" is the ELF inside the guest's bzImage at
# /guest/vmlinux (PVH boot), "gdb" is gdb with its libraries.  A missing
# one is left out, and the cases that need it report SKIP.
stage_l1_tools() {
	local root=$1 t p
	for t in ${L1_TOOLS:-}; do
		case $t in
		vmlinux) "$NESTED_DIR/extract-vmlinux.sh" "$KIMAGE" "$root/guest/vmlinux" ||
				echo "nested: no vmlinux for the PVH cases" >&2 ;;
		gdb) p=$(gdb_minimal_prepare)
			if [ -n "$p" ]; then
				stage_program "$root" "$p" /usr/local/bin/gdb
			else
				echo "nested: no gdb-minimal for the gdb cases" >&2
			fi ;;
		esac
	done
	return 0
}

# Disk-image tools for the virtio-blk cases (blk-qcow2, blk-ext4, blk-soak)
# and bench/blk.sh: qemu-img, mke2fs and e2fsck with their libraries, in
# /usr/local/bin.  Call mke2fs by that path: busybox sh runs its own applet
# (ext2 only) for a bare "mke2fs" whatever PATH says.  About 15 MB; a tool
# the host lacks is left out, and the cases that need it report SKIP.
L1_DISK_TOOLS="qemu-img mke2fs e2fsck"
stage_disk_tools() {
	local root=$1 t p
	for t in $L1_DISK_TOOLS; do
		p=$(PATH=$PATH:/usr/sbin:/sbin command -v "$t") || continue
		stage_program "$root" "$p" "/usr/local/bin/$t"
	done
	[ -f /etc/mke2fs.conf ] && mkdir -p "$root/etc" && cp /etc/mke2fs.conf "$root/etc/"
	return 0
}

# QEMU with its libraries and the firmware its pc and microvm machines load,
# at the paths it looks for them.
# (Debian keeps SeaBIOS in /usr/share/seabios, another of QEMU's firmware
# directories.)
stage_qemu() {
	local root=$1 f d
	stage_program "$root" "$(command -v "$QEMU")" /usr/bin/qemu-system-x86_64
	for f in bios-256k.bin bios-microvm.bin qboot.rom linuxboot.bin \
		linuxboot_dma.bin kvmvapic.bin pvh.bin; do
		for d in /usr/share/qemu /usr/share/seabios; do
			[ -e "$d/$f" ] || continue
			mkdir -p "$root$d"
			cp -L "$d/$f" "$root$d/$f"
		done
	done
	return 0
}

# --- running L1 -------------------------------------------------------------

# QEMU arguments of the L1 machine: TCG with an emulated EPYC that has SVM,
# so the real kvm-amd module loads inside.  -no-reboot turns any reset of
# L1 (panic=-1 on an L1 panic) into QEMU's exit.
# One L1 CPU: with -smp 2 (multi-threaded TCG) about one L2 boot in ten
# died at a random point of the kernel's initcalls (a triple fault or a
# hang), with lkvm and with QEMU as the L2 VMM alike (4 of 30 boots, 0 of
# 30 with -smp 1).  LKVM_NESTED_L1_SMP and LKVM_NESTED_L1_TCG (multi or
# single) override L1's CPU count and TCG threading.
l1_qemu_args() {
	local initrd=$1
	printf '%s\n' -accel "tcg,thread=${LKVM_NESTED_L1_TCG:-multi}" \
		-cpu EPYC,+svm -smp "${LKVM_NESTED_L1_SMP:-1}" -m 2048 \
		-no-reboot -kernel "$L1_KIMAGE" -initrd "$initrd" \
		-append "console=ttyS0 quiet panic=-1"
}

# Boots L1 non-interactively; its console (ttyS0) goes to LOG.  Killed
# after SECS seconds so that nothing inside can hang the caller.
# --foreground keeps QEMU in our process group, so Ctrl-C stops it too.
run_l1_batch() {
	local initrd=$1 log=$2 secs=$3 args
	mapfile -t args < <(l1_qemu_args "$initrd")
	timeout --foreground -k 10 "$secs" "$QEMU" "${args[@]}" -display none \
		-serial stdio -monitor none -nodefaults < /dev/null > "$log" 2>&1
}

# Boots L1 with its console on this terminal (QEMU's -nographic: Ctrl-A x
# quits unless -echr in EXTRA... picks another escape key).
run_l1_interactive() {
	local initrd=$1 args
	shift
	mapfile -t args < <(l1_qemu_args "$initrd")
	"$QEMU" "${args[@]}" -nographic -vga none -net none "$@"
}

# L1's console with terminal control sequences (firmware's ESC c, ESC [2J,
# cursor movement) and carriage returns removed, so lines can be matched.
clean_console_log() {
	sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b[()][A-Za-z0-9]//g' \
		-e 's/\x1b[A-Za-z=>]//g' -e 's/\r//g' "$1"
}

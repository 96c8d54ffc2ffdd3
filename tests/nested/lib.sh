# Shared host-side functions of the nested harness (bash; sourced, not run).
#
# The nested harness boots a Debian kernel as "L1" under QEMU/TCG with an
# emulated CPU that can virtualize (x86_64: AMD SVM; arm64: EL2), loads the
# real KVM there, and runs lkvm inside L1 to boot the same kernel again as
# "L2".  This file knows how to obtain and cache that kernel, how to build
# the two initramfs images and how to start L1.  nested_set_arch chooses the
# architecture (x86_64 unless told otherwise).  Users: tests/nested/run.sh,
# tests/nested/demo.sh, bench/boot-time.sh, bench/boot-time-arches.sh.

NESTED_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$NESTED_DIR/../.." && pwd)
LKVM_CACHE=${LKVM_CACHE:-$HOME/.cache/lkvm}
SKIP_STATUS=77

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

# Modules L1 needs for /dev/kvm and /dev/vhost-vsock, in dependency order
# (set by nested_set_arch).  A module the L1 kernel has built in is skipped.
L1_VHOST_MODULES="vhost_iotlb vhost vsock
vmw_vsock_virtio_transport_common vhost_vsock tun tap vhost_net"

# nested_set_arch ARCH: the architecture of L1 and L2 (x86_64 or arm64).
# Sets what differs between them:
#   NESTED_ARCH      x86_64 | arm64
#   NESTED_FLAVOUR   the default guest kernel flavour (cloud-amd64, arm64)
#   L1_FLAVOUR       the flavour L1 runs
#   KERNEL_APT_ARCH  the Debian architecture of the kernel packages
#   DEB_CACHE        where downloaded .debs are kept
#   QEMU             the L1 machine's emulator
#   TARGET_CC        compiler for programs that run in L1 or L2
#   TARGET_LIBDIRS   where the target's shared libraries live on this host
#   L1_MODULES       modules L1 loads, in order
#   L1_KVM_HINT      what to check when L1 has no /dev/kvm
# BUSYBOX and QEMU from the environment win over the defaults.
nested_set_arch() {
	NESTED_ARCH=$1
	case $NESTED_ARCH in
	x86_64)
		NESTED_FLAVOUR=cloud-amd64 L1_FLAVOUR=cloud-amd64
		KERNEL_APT_ARCH=amd64 DEB_CACHE=$LKVM_CACHE
		QEMU=${QEMU_X86_64:-${QEMU:-qemu-system-x86_64}}
		BUSYBOX=${BUSYBOX_X86_64:-${BUSYBOX:-/bin/busybox}}
		TARGET_CC=gcc TARGET_LIBDIRS=
		L1_MODULES="irqbypass kvm kvm-amd $L1_VHOST_MODULES"
		L1_KVM_HINT="kvm-amd did not load" ;;
	arm64)
		NESTED_FLAVOUR=arm64 L1_FLAVOUR=arm64
		KERNEL_APT_ARCH=arm64 DEB_CACHE=$LKVM_CACHE/arm64
		QEMU=${QEMU_AARCH64:-qemu-system-aarch64}
		# Unpacked from busybox-static:arm64 by busybox_prepare unless
		# given: installing that package would replace the x86 one.
		BUSYBOX=${BUSYBOX_AARCH64:-}
		TARGET_CC=${CROSS_COMPILE:-aarch64-linux-gnu-}gcc
		TARGET_LIBDIRS="/lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu
/usr/aarch64-linux-gnu/lib"
		# Debian's arm64 kernel has KVM built in (CONFIG_KVM=y).
		L1_MODULES="kvm $L1_VHOST_MODULES"
		L1_KVM_HINT="L1 did not initialize KVM at EL2 (see 'kvm [1]:' lines)" ;;
	*) nested_die "unknown architecture '$NESTED_ARCH' (x86_64 or arm64)" ;;
	esac
}

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

# Checks the host tools the harness itself needs (not lkvm), and for arm64
# fetches busybox.
nested_check_host_tools() {
	local pkg=qemu-system-x86
	[ "$NESTED_ARCH" = arm64 ] && pkg=qemu-system-arm
	command -v "$QEMU" >/dev/null 2>&1 ||
		nested_skip "$QEMU not found (apt-get install $pkg; scripts/setup.sh)"
	local t
	for t in cpio gzip dpkg-deb timeout sed awk od readelf; do
		command -v "$t" >/dev/null 2>&1 ||
			nested_skip "host tool '$t' not found"
	done
	command -v "$TARGET_CC" >/dev/null 2>&1 ||
		nested_skip "$TARGET_CC not found (scripts/setup.sh installs it)"
	[ "$NESTED_ARCH" = arm64 ] && [ -z "$BUSYBOX" ] && busybox_prepare
	[ -x "$BUSYBOX" ] ||
		nested_skip "$BUSYBOX not found (apt-get install busybox-static)"
	[ "$(elf_machine "$BUSYBOX")" = "$NESTED_ARCH" ] ||
		nested_skip "$BUSYBOX is not an $NESTED_ARCH program"
	# A dynamic busybox would need its libraries in both initramfs images.
	if elf_interpreter "$BUSYBOX" | grep -q .; then
		nested_skip "$BUSYBOX is not static (apt-get install busybox-static)"
	fi
}

# The architecture an ELF file is built for (x86_64, arm64, or "other"),
# from the magic and e_machine at offset 18 (little-endian).
elf_machine() {
	[ "$(od -An -tx1 -N4 "$1" 2>/dev/null | tr -d ' ')" = 7f454c46 ] ||
		{ echo other; return; }
	case $(od -An -tx1 -j18 -N2 "$1" 2>/dev/null | tr -d ' ') in
	3e00) echo x86_64 ;;
	b700) echo arm64 ;;
	*) echo other ;;
	esac
}

# The program interpreter (dynamic loader) ELF file $1 asks for, if any.
elf_interpreter() {
	readelf -lW "$1" 2>/dev/null |
		sed -n 's/.*\[Requesting program interpreter: \(.*\)\]$/\1/p'
}

# Sets BUSYBOX to the static aarch64 busybox of Debian's busybox-static:arm64,
# downloaded once into DEB_CACHE and unpacked there (not installed: the
# package would replace the host's own busybox-static).
busybox_prepare() {
	local dir=$DEB_CACHE/busybox deb tmp
	BUSYBOX=$dir/bin/busybox
	[ -x "$BUSYBOX" ] && return 0
	mkdir -p "$DEB_CACHE" || return 1
	deb=$(ls "$DEB_CACHE"/busybox-static_*_arm64.deb 2>/dev/null | sort -V | tail -n1)
	if [ -z "$deb" ]; then
		echo "nested: downloading busybox-static:arm64 into $DEB_CACHE" >&2
		tmp=$(mktemp -d "$DEB_CACHE/dl.XXXXXX") || return 1
		(cd "$tmp" && apt-get download -q busybox-static:arm64 >&2) &&
			mv "$tmp"/*.deb "$DEB_CACHE/"
		rm -rf "$tmp"
		deb=$(ls "$DEB_CACHE"/busybox-static_*_arm64.deb 2>/dev/null | sort -V | tail -n1)
		[ -n "$deb" ] || nested_skip "cannot download busybox-static:arm64" \
			"(dpkg --add-architecture arm64 && apt-get update; scripts/setup.sh)"
	fi
	tmp=$(mktemp -d "$DEB_CACHE/.x.XXXXXX") || return 1
	if dpkg-deb -x "$deb" "$tmp" && [ -x "$tmp/bin/busybox" ]; then
		rm -rf "$dir"
		mv "$tmp" "$dir"
	else
		rm -rf "$tmp"
		nested_skip "cannot unpack $deb"
	fi
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
# (no network access).  A foreign architecture's packages are named
# NAME:ARCH (the lists have them after dpkg --add-architecture).
kernel_current_release() {
	apt-cache depends "linux-image-$1$(apt_arch_suffix)" 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([0-9][^:]*\).*$/\1/p' | head -n1
}

# ":arm64" when the kernel packages are of another architecture than apt's.
apt_arch_suffix() {
	[ "$KERNEL_APT_ARCH" = "$(dpkg --print-architecture 2>/dev/null)" ] ||
		printf ':%s' "$KERNEL_APT_ARCH"
}

# Unpacks the -unsigned package of RELEASE into the cache, downloading the
# .deb only when no copy is cached.  The extracted tree is moved into place
# in one rename so a concurrent or interrupted run never sees half of it.
kernel_fetch_release() {
	local rel=$1 pkg deb tmp
	pkg="linux-image-$rel-unsigned"
	mkdir -p "$LKVM_CACHE/kernels" "$DEB_CACHE" || return 1
	deb=$(ls "$DEB_CACHE/${pkg}"_*.deb 2>/dev/null | sort -V | tail -n1)
	if [ -z "$deb" ]; then
		echo "nested: downloading $pkg into $DEB_CACHE" >&2
		# apt-get download writes into the current directory; run it in a
		# private one so a failed download leaves no partial file behind.
		tmp=$(mktemp -d "$DEB_CACHE/dl.XXXXXX") || return 1
		if ! (cd "$tmp" && apt-get download -q "$pkg$(apt_arch_suffix)" >&2); then
			rm -rf "$tmp"
			return 1
		fi
		mv "$tmp"/*.deb "$DEB_CACHE/" && rm -rf "$tmp"
		deb=$(ls "$DEB_CACHE/${pkg}"_*.deb 2>/dev/null | sort -V | tail -n1)
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
	local flavour=${1:-$NESTED_FLAVOUR} rel=
	[ -n "${LKVM_REFRESH_KERNEL:-}" ] || rel=$(kernel_cached_release "$flavour")
	if [ -z "$rel" ]; then
		rel=$(kernel_current_release "$flavour")
		[ -n "$rel" ] || nested_skip "cannot resolve linux-image-$flavour$(apt_arch_suffix)" \
			"with apt-cache (run apt-get update; scripts/setup.sh) and none is cached in" \
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

# L1's kernel: on x86 the cloud flavour, whatever the guest runs (it boots
# fastest under TCG and has the KVM modules); on arm64 the one flavour.
# Sets L1_KREL, L1_KIMAGE, L1_KMODDIR and leaves KREL etc. as they were.
l1_kernel_prepare() {
	local krel=${KREL:-} kimage=${KIMAGE:-} kmoddir=${KMODDIR:-} kconfig=${KCONFIG:-}
	kernel_prepare "$L1_FLAVOUR"
	L1_KREL=$KREL L1_KIMAGE=$KIMAGE L1_KMODDIR=$KMODDIR
	KREL=$krel KIMAGE=$kimage KMODDIR=$kmoddir KCONFIG=$kconfig
}

# Path of module NAME (file name without .ko) under the modules directory
# MODDIR (default: the guest kernel's), or nothing when it has none.
kernel_module_path() {
	find "${2:-$KMODDIR}/kernel" -name "$1.ko" -print -quit 2>/dev/null
}

# Whether module NAME is built into the kernel of MODDIR (modules.builtin
# lists kernel/.../NAME.ko; "-" and "_" are the same in module names).
kernel_module_builtin() {
	local name=${1//-/_}
	sed 's/-/_/g' "$2/modules.builtin" 2>/dev/null | grep -q "/$name\.ko$"
}

# --- initramfs building -----------------------------------------------------

# Static busybox plus its applet links.  The link named "busybox" is skipped:
# it would replace the binary with a link to itself.  A busybox of another
# architecture cannot list its applets here: the image then has /bin/sh
# only, and each /init makes the links itself (busybox --install -s).
stage_busybox() {
	local root=$1 p
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,root}
	cp "$BUSYBOX" "$root/bin/busybox"
	if [ "$(elf_machine "$BUSYBOX")" != "$(host_arch)" ]; then
		ln -s busybox "$root/bin/sh"
		return 0
	fi
	"$BUSYBOX" --list-full | while read -r p; do
		[ "${p##*/}" = busybox ] && continue
		mkdir -p "$root/$(dirname "$p")"
		[ -e "$root/$p" ] || ln -s /bin/busybox "$root/$p"
	done
}

# This machine's architecture in NESTED_ARCH's terms.
host_arch() {
	case $(uname -m) in aarch64) echo arm64 ;; *) uname -m ;; esac
}

# Copies the ELF program SRC to DEST inside ROOT together with the shared
# libraries and loader ldd names, at their own paths.  libgcc_s.so.1 goes
# along too: glibc dlopen()s it for pthread_cancel and unwinding, and ldd
# cannot know that.  A script or static binary is copied alone; a dynamic
# program of another architecture gets its libraries from TARGET_LIBDIRS.
stage_program() {
	local root=$1 src=$2 dest=$3 lib libdir
	mkdir -p "$root/$(dirname "$dest")"
	cp -L "$src" "$root/$dest"
	chmod 755 "$root/$dest"
	case $(elf_machine "$src") in
	other|"$(host_arch)") ;;
	*) stage_foreign_libs "$root" "$src"; return ;;
	esac
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

# The loader and the shared libraries (NEEDED, recursively) of the foreign
# ELF program SRC, found in TARGET_LIBDIRS and put into ROOT's
# /lib/<triplet>, where the target's loader looks; plus libgcc_s.so.1 (see
# stage_program).  Dies when a library is missing on this host.
stage_foreign_libs() {
	local root=$1 src=$2 interp todo lib d f seen=" " dest
	interp=$(elf_interpreter "$src")
	[ -n "$interp" ] || return 0
	dest=$root/lib/aarch64-linux-gnu
	mkdir -p "$dest" "$root/$(dirname "$interp")"
	todo="$src libgcc_s.so.1"
	while [ -n "${todo// /}" ]; do
		set -- $todo
		lib=$1; shift; todo="$*"
		case $seen in *" $lib "*) continue ;; esac
		seen="$seen$lib "
		f=$lib
		if [ "$lib" != "$src" ]; then
			f=
			for d in $TARGET_LIBDIRS; do
				[ -e "$d/$lib" ] && { f=$d/$lib; break; }
			done
			[ -n "$f" ] || nested_die "$src needs $lib, not found in" $TARGET_LIBDIRS
			cp -L "$f" "$dest/$lib"
		fi
		todo="$todo $(readelf -dW "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' | tr '\n' ' ')"
	done
	for d in $TARGET_LIBDIRS; do
		[ -e "$d/$(basename "$interp")" ] || continue
		cp -L "$d/$(basename "$interp")" "$root/$interp"
		return 0
	done
	nested_die "$src needs the loader $interp, not found in" $TARGET_LIBDIRS
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

# The cases' helper programs (progs/*.c), built static, into ROOT/bin.  A
# program for some architectures only says "PROG_ARCH=ARCH..." in a comment.
stage_test_programs() {
	local root=$1 work=$2 src name arches
	for src in "$NESTED_DIR"/progs/*.c; do
		[ -f "$src" ] || continue
		arches=$(sed -n 's/.*PROG_ARCH=\([a-z0-9_ ]*\).*/\1/p' "$src" | head -n1)
		[ -z "$arches" ] || [[ " $arches " == *" $NESTED_ARCH "* ]] || continue
		name=$(basename "$src" .c)
		[ -x "$work/$name" ] ||
			"$TARGET_CC" -O2 -static -o "$work/$name" "$src" -lpthread || return 1
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
# shell snippet appended to /etc/l1.conf (settings of the mode); ORDERDIR
# (optional) where virtq-order and virtq-order-weak of the L1 architecture
# are, for the "order" case (packed when they are there).
# REFERENCE_QEMU=1 also packs QEMU and its firmware (see l1/qemu-as-lkvm).
build_l1_initramfs() {
	local out=$1 work=$2 mode=$3 lkvm=$4 l2initrd=$5 extra=$6 orderdir=${7:-}
	local root m p l1_modules
	root=$work/l1-root
	rm -rf "$root"
	stage_busybox "$root"
	cp "$NESTED_DIR/l1/init" "$root/init"
	chmod 755 "$root/init"
	mkdir -p "$root/l1" "$root/cases" "$root/guest" "$root/lib/l1-modules"
	cp "$NESTED_DIR"/l1/*.sh "$root/l1/"
	cp "$NESTED_DIR"/cases/*.sh "$root/cases/"
	l1_modules=
	for m in $L1_MODULES; do
		p=$(kernel_module_path "$m" "$L1_KMODDIR")
		if [ -z "$p" ]; then
			kernel_module_builtin "$m" "$L1_KMODDIR" && continue
			nested_die "kernel $L1_KREL has no $m.ko"
		fi
		cp "$p" "$root/lib/l1-modules/$m.ko"
		l1_modules="$l1_modules${l1_modules:+ }$m"
	done
	cp "$KIMAGE" "$root/guest/vmlinuz"
	stage_guest_modules "$root"
	stage_l1_tools "$root"
	cp "$l2initrd" "$root/guest/initrd.cpio.gz"
	stage_program "$root" "$lkvm" /usr/local/bin/lkvm
	stage_test_programs "$root" "$work" || return 1
	for p in virtq-order virtq-order-weak; do
		[ -n "$orderdir" ] && [ -x "$orderdir/$p" ] &&
			[ "$(elf_machine "$orderdir/$p")" = "$NESTED_ARCH" ] &&
			stage_program "$root" "$orderdir/$p" "/usr/local/bin/$p"
	done
	stage_disk_tools "$root"
	if [ "${REFERENCE_QEMU:-0}" = 1 ]; then
		stage_qemu "$root"
	fi
	{
		echo "L1_MODE=$mode"
		echo "L1_MODULES='$l1_modules'"
		echo "NESTED_ARCH=$NESTED_ARCH"
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
# binary's path, or nothing.  arm64: gdb-minimal:arm64 together with the
# arm64 libraries it needs (the dependency closure apt computes, less libc,
# which the cross set-up has), unpacked into one root whose library
# directories stage_l1_tools adds to TARGET_LIBDIRS.
gdb_minimal_prepare() {
	local deb dir=$DEB_CACHE/gdb-minimal tmp debs=$DEB_CACHE/gdb-minimal-debs pkgs
	[ "$NESTED_ARCH" = x86_64 ] && debs=$LKVM_CACHE
	if [ ! -x "$dir/usr/bin/gdb" ]; then
		deb=$(ls "$debs"/gdb-minimal_*.deb 2>/dev/null | sort -V | tail -n1)
		if [ -z "$deb" ]; then
			pkgs=gdb-minimal
			if [ "$NESTED_ARCH" = arm64 ]; then
				pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests \
					--no-conflicts --no-breaks --no-replaces --no-enhances \
					--no-pre-depends gdb-minimal:arm64 2>/dev/null |
					grep -E '^[a-z0-9].*:arm64$' | sort -u |
					grep -vE '^(dpkg|tar|install-info|libc6|gcc-12-base):')
			fi
			echo "nested: downloading $(echo $pkgs | wc -w) package(s) for gdb in L1" >&2
			mkdir -p "$debs"
			tmp=$(mktemp -d "$debs/dl.XXXXXX") || return 0
			(cd "$tmp" && apt-get download -q $pkgs >&2) && mv "$tmp"/*.deb "$debs/"
			rm -rf "$tmp"
			deb=$(ls "$debs"/gdb-minimal_*.deb 2>/dev/null | sort -V | tail -n1)
		fi
		[ -n "$deb" ] || return 0
		tmp=$(mktemp -d "$DEB_CACHE/.gdb.XXXXXX") || return 0
		if [ "$NESTED_ARCH" = arm64 ]; then
			for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$tmp" || break; done
		else
			dpkg-deb -x "$deb" "$tmp"
		fi && rm -rf "$dir" && mv "$tmp" "$dir" || rm -rf "$tmp"
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
				TARGET_LIBDIRS="$TARGET_LIBDIRS $DEB_CACHE/gdb-minimal/lib/aarch64-linux-gnu
$DEB_CACHE/gdb-minimal/usr/lib/aarch64-linux-gnu" \
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
# the host lacks (or all of them, when L1 is of another architecture than
# this machine) is left out, and the cases that need it report SKIP.
L1_DISK_TOOLS="qemu-img mke2fs e2fsck"
stage_disk_tools() {
	local root=$1 t p
	[ "$NESTED_ARCH" = "$(host_arch)" ] || return 0
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
# arm64: QEMU's virt machine with EL2 and a GICv3, so KVM initializes at
# EL2 in L1 (VHE); pauth-impdef=on makes TCG's pointer authentication about
# three times cheaper than the architected algorithm.  Two CPUs.
l1_qemu_args() {
	local initrd=$1
	if [ "$NESTED_ARCH" = arm64 ]; then
		printf '%s\n' -M virt,virtualization=on,gic-version=3 \
			-cpu max,pauth-impdef=on -smp "${LKVM_NESTED_L1_SMP:-2}" \
			-m 2048 -accel "tcg,thread=${LKVM_NESTED_L1_TCG:-multi}" \
			-no-reboot -kernel "$L1_KIMAGE" -initrd "$initrd" \
			-append "console=ttyAMA0 quiet panic=-1"
		return
	fi
	printf '%s\n' -accel "tcg,thread=${LKVM_NESTED_L1_TCG:-multi}" \
		-cpu EPYC,+svm -smp "${LKVM_NESTED_L1_SMP:-1}" -m 2048 \
		-no-reboot -kernel "$L1_KIMAGE" -initrd "$initrd" \
		-append "console=ttyS0 quiet panic=-1"
}

# Boots L1 non-interactively; its console (ttyS0, ttyAMA0) goes to LOG.  Killed
# after SECS seconds so that nothing inside can hang the caller.
# --foreground keeps QEMU in our process group, so Ctrl-C stops it too.
# With a directory DIR: x86's second serial port (L1's ttyS1) goes to
# DIR/alive, where L1's /init writes a heartbeat apart from the console
# (arm64's virt machine has one UART: no heartbeat there), QEMU's QMP
# socket is DIR/qmp, its pid DIR/qemu.pid (see l1_watch) and its log of
# L1's CPU resets DIR/qemu-reset.log.
run_l1_batch() {
	local initrd=$1 log=$2 secs=$3 dir=${4:-} args extra=()
	mapfile -t args < <(l1_qemu_args "$initrd")
	if [ -n "$dir" ]; then
		[ "$NESTED_ARCH" = x86_64 ] && extra+=(-serial "file:$dir/alive")
		extra+=(-qmp "unix:$dir/qmp,server=on,wait=off" -pidfile "$dir/qemu.pid")
		# QEMU's own record of L1's resets (e.g. "Triple fault"):
		# -no-reboot ends QEMU there without a word on the console.
		extra+=(-d cpu_reset -D "$dir/qemu-reset.log")
	fi
	timeout --foreground -k 10 "$secs" "$QEMU" "${args[@]}" -display none \
		-serial stdio "${extra[@]}" -monitor none -nodefaults \
		< /dev/null > "$log" 2>&1
}

# Watches L1's heartbeat (DIR/alive, see run_l1_batch) until QEMU exits.
# L1's /init writes it every 10 s at the highest priority, beside the
# cases: a case that hangs, even one that takes L1's CPU, does not stop
# it (l1/suite.sh reports those), only L1 as a whole stopping does (seen
# under TCG: the console went silent for the rest of the run).  When it
# has been silent for SECS, the frozen L1's CPU state goes to DIR/froze
# and QEMU is ended at once, instead of at the run's time limit.
l1_watch() {
	local dir=$1 secs=$2 size last=0 silent=0
	while [ ! -s "$dir/qemu.pid" ] && [ ! -e "$dir/exited" ]; do sleep 1; done
	while [ ! -e "$dir/exited" ]; do
		sleep 5
		size=$(stat -c %s "$dir/alive" 2>/dev/null || echo 0)
		if [ "$size" != "$last" ]; then
			last=$size silent=0
			continue
		fi
		# Armed by the first beat: L1's boot has the run's own limit.
		grep -q '^alive ' "$dir/alive" 2>/dev/null || continue
		silent=$((silent + 5))
		[ "$silent" -ge "$secs" ] || continue
		{
			echo "silent=$silent"
			l1_cpu_state "$dir/qmp"
		} > "$dir/froze.tmp" 2>&1
		mv "$dir/froze.tmp" "$dir/froze"
		# A QEMU whose main loop is stuck too never acts on SIGTERM
		# (seen in CI: 75 minutes after it): SIGKILL 10 s later.
		kill "$(cat "$dir/qemu.pid")" 2>/dev/null
		sleep 10
		[ -e "$dir/exited" ] || kill -KILL "$(cat "$dir/qemu.pid")" 2>/dev/null
		return
	done
}

# The registers of L1's CPU from QEMU's monitor (QMP socket $1), for the
# report of a frozen L1: where it was stuck (in L1's kernel, or in the
# guest mode of a nested VM).  Needs python3; says so without it.
l1_cpu_state() {
	command -v python3 > /dev/null || { echo "(no python3: no CPU state)"; return; }
	timeout 20 python3 - "$1" <<-'EOF'
	import json, socket, sys
	s = socket.socket(socket.AF_UNIX)
	s.settimeout(10)
	s.connect(sys.argv[1])
	f = s.makefile("rw")
	def ask(cmd, **args):
	    f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n")
	    f.flush()
	    while True:
	        reply = json.loads(f.readline())
	        if "return" in reply or "error" in reply:
	            return reply.get("return", reply)
	f.readline()
	ask("qmp_capabilities")
	for hmp in ("info registers", "info lapic"):
	    print("(qemu) " + hmp)
	    print(ask("human-monitor-command", **{"command-line": hmp}))
	EOF
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

nested_set_arch "${NESTED_ARCH:-x86_64}"

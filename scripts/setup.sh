#!/bin/bash
# One-time set-up on a fresh Debian 12 machine: install what lkvm's build,
# tests and demo need, then build lkvm.  Safe to run again.
# Runs apt-get as root (directly, or through sudo when not root).
set -eu
cd "$(dirname "$0")/.."

PACKAGES=(
	# build
	build-essential libaio-dev zlib1g-dev libfdt-dev libslirp-dev libseccomp-dev
	# test guests and the nested Linux tier
	qemu-system-x86 qemu-utils busybox-static cpio xz-utils e2fsprogs
	# PVH cases (vmlinux from the LZ4 payload of the cloud kernel), gdb stub tests
	lz4 gdb
	# sanitizer builds of the unit tests, libFuzzer; iasl checks ACPI tables
	clang libclang-rt-14-dev acpica-tools
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	echo "setup: installing ${missing[*]}"
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

make -j"$(nproc)" lkvm
echo "setup: done: ./lkvm is built. Next: 'make demo' boots a Linux guest; 'make check' runs the tests."

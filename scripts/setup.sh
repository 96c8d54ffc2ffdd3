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
	# bench/pio-exit.sh: instructions per exit under callgrind
	valgrind
	# arm64: cross build (multiarch libraries) and the nested-arm64 tier;
	# its kernel and busybox are fetched by tests/nested/lib.sh
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-system-arm device-tree-compiler
	libaio-dev:arm64 zlib1g-dev:arm64 libslirp-dev:arm64 libfdt1:arm64 libseccomp-dev:arm64
)

# The :arm64 packages and the arm64 kernel need the architecture in apt.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	$([ "$(id -u)" -eq 0 ] || echo sudo) dpkg --add-architecture arm64
	force_update=1
fi

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ] || [ -n "${force_update:-}" ]; then
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	echo "setup: installing ${missing[*]}"
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

make -j"$(nproc)" lkvm
echo "setup: done: ./lkvm is built. Next: 'make demo' boots a Linux guest; 'make check' runs the tests."

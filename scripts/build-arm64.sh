#!/bin/bash
# Cross-builds the arm64 lkvm and the virtqueue ordering tests for the
# nested-arm64 tier (make arm64-cross; make check does it), without touching
# ./lkvm or the x86 objects of the tree: the sources are copied, with their
# times, into build-cross-arm64/src (objects there are kept between runs, so
# a rebuild compiles only what changed) and built there with
#   make ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- lkvm order-tests
# The results:
#   build-cross-arm64/lkvm                     the aarch64 lkvm
#   build-cross-arm64/order/virtq-order{,-weak}
# Without the cross compiler, or in a tree without the arm64 port (no arm/
# sources), it builds nothing and says so; the tier then reports SKIP.
# CROSS_COMPILE_ARM64 overrides the compiler prefix; ARM64_MAKEFLAGS adds
# make arguments (e.g. LDFLAGS=-static).
set -eu
cd "$(dirname "$0")/.."
cross=${CROSS_COMPILE_ARM64:-aarch64-linux-gnu-}
out=build-cross-arm64
src=$out/src

if ! command -v "${cross}gcc" >/dev/null 2>&1; then
	echo "build-arm64: ${cross}gcc not found: no arm64 lkvm (scripts/setup.sh installs it)"
	exit 0
fi
if ! ls arm/*.c >/dev/null 2>&1; then
	echo "build-arm64: this tree has no arm64 port (arm/*.c): no arm64 lkvm"
	rm -rf "$out/lkvm" "$out/order"
	exit 0
fi
command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1 || {
	echo "build-arm64: needs git (the copy takes the files git knows)" >&2
	exit 1
}

# A fresh copy of the sources (tracked and new files, not ignored ones),
# keeping the object directories of the last build.
mkdir -p "$src"
find "$src" -mindepth 1 -maxdepth 1 ! -name 'build-*' -exec rm -rf {} +
git ls-files -z -co --exclude-standard |
	while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
	xargs -0 cp -p --parents -t "$src"

# shellcheck disable=SC2086
make -C "$src" -j"$(nproc)" ARCH=arm64 CROSS_COMPILE="$cross" \
	${ARM64_MAKEFLAGS:-} lkvm order-tests

# The order tests sit in tests/order or in the arm64 object directory.
mkdir -p "$out/order"
for p in virtq-order virtq-order-weak; do
	f=$(ls "$src/tests/order/$p" "$src"/build-*/tests/order/$p 2>/dev/null | head -n1)
	[ -n "$f" ] || { echo "build-arm64: the build made no $p" >&2; exit 1; }
	cp -p "$f" "$out/order/$p"
done
cp -p "$src/lkvm" "$out/lkvm"
echo "build-arm64: $out/lkvm ($(file -b "$out/lkvm" 2>/dev/null | cut -d, -f1-2))"

#!/bin/bash
# Writes the vmlinux (ELF) inside a Debian bzImage to OUT, for the PVH
# boot cases.  The x86 boot protocol's header locates the compressed
# payload: setup_sects at 0x1f1 gives the size of the real-mode part, and
# payload_offset/payload_length at 0x248/0x24c place the payload inside the
# protected-mode part.  Debian's cloud kernels compress it with LZ4 (legacy
# frame), the generic ones with XZ.
# usage: extract-vmlinux.sh BZIMAGE OUT      exit 0, or 1 with a message
set -u
img=$1 out=$2

le32() { od -An -tu4 -j "$1" -N4 "$img" | tr -d ' '; }
setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$img" | tr -d ' ')
[ "$setup_sects" = 0 ] && setup_sects=4
off=$(( (setup_sects + 1) * 512 + $(le32 $((0x248))) ))
len=$(le32 $((0x24c)))
magic=$(od -An -tx1 -j "$off" -N4 "$img" | tr -d ' ')
tmp=$out.tmp.$$
case $magic in
02214c18)	# LZ4 legacy frame
	command -v lz4 >/dev/null || { echo "extract-vmlinux: lz4 not installed" >&2; exit 1; }
	tail -c +$((off + 1)) "$img" | head -c "$len" | lz4 -dc 2>/dev/null > "$tmp" ;;
fd377a58)	# XZ
	tail -c +$((off + 1)) "$img" | head -c "$len" | xz -dc 2>/dev/null > "$tmp" ;;
*)
	echo "extract-vmlinux: unknown payload compression (magic $magic)" >&2
	exit 1 ;;
esac
# The kernel's build appends the decompressed size after the stream, which
# some decompressors report as trailing garbage: judge by the result.
if [ "$(head -c 4 "$tmp" | od -An -tx1 | tr -d ' ')" != 7f454c46 ]; then
	rm -f "$tmp"
	echo "extract-vmlinux: payload of $img did not decompress to an ELF file" >&2
	exit 1
fi
mv "$tmp" "$out"

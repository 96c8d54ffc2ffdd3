#!/bin/bash
# `make demo`: boot the reference Linux guest with lkvm and give you its
# shell.
#
# Where /dev/kvm is hardware KVM, ./lkvm runs the guest directly.  On the
# development machines /dev/kvm is a software KVM that cannot run Linux, so
# the demo runs inside the nested harness instead: QEMU/TCG boots L1 with
# KVM, and lkvm runs in L1 with its console wired through to this terminal.
#
# usage: tests/nested/demo.sh [--lkvm PATH] [--nested | --direct]

set -u
. "$(dirname "$0")/lib.sh"

lkvm=$REPO_DIR/lkvm
mode=auto
while [ $# -gt 0 ]; do
	case $1 in
	--lkvm) lkvm=$2; shift ;;
	--nested) mode=nested ;;
	--direct) mode=direct ;;
	-h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) nested_die "unknown option $1 (see --help)" ;;
	esac
	shift
done
[ -x "$lkvm" ] || nested_die "lkvm binary '$lkvm' not found (run make first)"

# The one place where CPU flags decide anything: they tell whether this
# /dev/kvm is hardware-backed.  lkvm itself only ever probes the KVM API.
if [ "$mode" = auto ]; then
	if [ -c /dev/kvm ] && grep -qw -e vmx -e svm /proc/cpuinfo; then
		mode=direct
	else
		mode=nested
	fi
fi

nested_check_host_tools
kernel_prepare cloud-amd64
l1_kernel_prepare
work=$(mktemp -d "${TMPDIR:-/tmp}/lkvm-demo.XXXXXX") || nested_die "mktemp"
trap 'rm -rf "$work"' EXIT
build_l2_initramfs "$work/l2.cpio.gz" "$work" || nested_die "L2 initramfs"

if [ "$mode" = direct ]; then
	cat <<EOF
=====================================================================
 lkvm demo: Debian $KREL on this machine's hardware KVM.
 Ctrl-A x stops lkvm; in the guest, 'reboot -f' or 'poweroff -f'.
=====================================================================
EOF
	"$lkvm" run -k "$KIMAGE" -i "$work/l2.cpio.gz" \
		-p "lkvm.case=guest-shell reboot=k" -m 512 -c 2 --name demo
	echo "lkvm exited with status $?"
	exit 0
fi

build_l1_initramfs "$work/l1.cpio" "$work" demo "$lkvm" "$work/l2.cpio.gz" "" ||
	nested_die "L1 initramfs"
cat <<EOF
=====================================================================
 lkvm demo, nested: /dev/kvm on this machine is a software KVM that
 cannot boot Linux, so QEMU (TCG, emulated AMD SVM) first boots an L1
 Linux with real KVM, and ./lkvm runs inside it with this terminal as
 its console.  Expect ~10 s of L1, then the L2 guest ($KREL).

   in the guest:  reboot -f / poweroff -f   stop the guest and lkvm
   Ctrl-A x                                 stop lkvm (lkvm's escape)
   Ctrl-] x                                 quit QEMU, i.e. everything
=====================================================================
EOF
# QEMU's escape moves to Ctrl-] so that Ctrl-A reaches lkvm.
run_l1_interactive "$work/l1.cpio" -echr 0x1d

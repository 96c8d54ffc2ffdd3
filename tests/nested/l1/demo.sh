# Sourced by L1's /init for `make demo`: lkvm with the console of L1 as its
# terminal, so QEMU's stdio reaches L2's serial console and shell.
echo
echo "=== L1: starting lkvm; the L2 guest's shell follows (Ctrl-A x stops lkvm)"
# setsid + cttyhack: lkvm gets ttyS0 as a controlling terminal.
setsid cttyhack lkvm run -k "$L2_KERNEL" -i "$L2_INITRD" \
	-p "lkvm.case=guest-shell reboot=k" -m 512 -c 2 --name demo
echo "=== L1: lkvm exited with status $?; powering L1 off"

# net-vhost with LKVM_VHOST_IRQFD=0: vhost's interrupts and kicks all pass
# through lkvm (its call thread and queue_notify), the path INTx and
# virtio-mmio take; the same transfers as net-tap.sh, and the counts to
# set beside net-vhost's.
export LKVM_VHOST_IRQFD=0
NET_VHOST=1
NET_VHOST_PATH=thread
CASE_ARCH="x86_64 arm64"
. "${NESTED_DIR:-}/cases/net-tap.sh"

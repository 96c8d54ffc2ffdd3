# net-tap with the data path in L1's kernel (vhost=1, /dev/vhost-net):
# the same pings and 64 MiB transfers, see net-tap.sh.  Needs vhost_net.ko
# and its dependencies (tun, tap, vhost_iotlb, vhost) in L1.
NET_VHOST=1
CASE_ARCH="x86_64 arm64"
. "${NESTED_DIR:-}/cases/net-tap.sh"

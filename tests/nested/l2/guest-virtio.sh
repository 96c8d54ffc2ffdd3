# Not a case: helpers the virtio-* cases source in the guest.

# virtio_report ID: describe the virtio device whose id is ID (decimal) as
# KEY=value lines the host checks: found, driver, VERSION_1 negotiated,
# packed rings negotiated, the bus it sits on, and for PCI the vendor/device
# ids and MSI-X use.
virtio_report() {
	want=$(printf '0x%04x' "$1")
	for d in /sys/bus/virtio/devices/virtio*; do
		[ "$(cat "$d/device" 2>/dev/null)" = "$want" ] || continue
		echo "virtio_found=yes"
		echo "virtio_driver=$(basename "$(readlink "$d/driver")")"
		# features: one character per bit, bit 32 is VERSION_1
		echo "virtio_version1=$(cut -c33 "$d/features")"
		echo "virtio_packed=$(cut -c35 "$d/features")"	# VIRTIO_F_RING_PACKED
		parent=$(readlink -f "$d/..")
		case $parent in
		*/LNRO0005:*) echo "virtio_bus=mmio" ;;
		*/0000:00:*)
			echo "virtio_bus=pci"
			echo "pci_id=$(cat "$parent/vendor"):$(cat "$parent/device")"
			echo "pci_msi=$(ls "$parent/msi_irqs" 2>/dev/null | wc -l)"
			;;
		*)
			# A device-tree virtio-mmio node (arm64) is a platform
			# device named after its address.
			if [ "$(basename "$(readlink "$parent/driver")")" = virtio-mmio ]; then
				echo "virtio_bus=mmio"
			else
				echo "virtio_bus=other:$parent"
			fi
			;;
		esac
		return
	done
	echo "virtio_found=no"
	ls /sys/bus/virtio/devices/ 2>&1 | sed 's/^/virtio devices: /'
}

# rng_read BYTES: read BYTES from /dev/hwrng; prints rng_bytes=N and
# whether two samples differ.
rng_read() {
	echo "rng_current=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)"
	echo "rng_bytes=$(dd if=/dev/hwrng bs=4096 count=$(($1 / 4096)) 2>/dev/null | wc -c)"
	a=$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | md5sum)
	b=$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | md5sum)
	[ "$a" != "$b" ] && echo "rng_distinct=yes"
}

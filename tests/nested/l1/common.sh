# Helpers for L1's jobs (busybox sh), sourced by /init before the job.

# /proc/uptime in milliseconds.  It has two decimals; gluing the digits
# together avoids reading a fraction like "08" as a bad octal number.
uptime_ms() {
	read -r up _ < /proc/uptime
	echo $(( ${up%.*}${up#*.} * 10 ))
}

# The command line lkvm gets for L2: -k/-i are the images packed into L1.
L2_KERNEL=/guest/vmlinuz
L2_INITRD=/guest/initrd.cpio.gz

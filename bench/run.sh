#!/bin/bash
# `make bench`: every benchmark in turn.  Not part of `make check`: the
# figures are for comparing side by side within one run, not thresholds.
#   bench/run.sh [NAME...]   names: pio-exit boot-time blk net-throughput rss
# (bench/compare.sh: lkvm and QEMU microvm side by side on every figure)
set -u
cd "$(dirname "$0")"
names=${*:-pio-exit boot-time blk net-throughput rss}
st=0
for n in $names; do
	echo "=== bench: $n"
	./"$n".sh || { echo "bench: $n failed"; st=1; }
done
exit $st

#!/bin/bash
# `make bench`: every benchmark in turn.  Not part of `make check`: the
# figures are for comparing side by side within one run, not thresholds.
#   bench/run.sh [NAME...]   names: pio-exit boot-time blk net-throughput
set -u
cd "$(dirname "$0")"
names=${*:-pio-exit boot-time blk net-throughput}
st=0
for n in $names; do
	echo "=== bench: $n"
	./"$n".sh || { echo "bench: $n failed"; st=1; }
done
exit $st

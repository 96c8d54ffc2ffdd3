#!/bin/bash
# Two guest kernel logs (dmesg with printk timestamps) side by side, for
# finding where one VMM's guest spends its boot time and the other's does
# not (bench/boot-time.sh --dmesg).  Lines are matched by their text with
# digits and hex numbers blanked; each output line shows both timestamps
# and the time each guest spent since its previous matched line, and a
# '*' marks a step where A spent 20 ms more than B.  Then each log's
# largest gaps between consecutive lines.
#   usage: bench/dmesg-compare.sh A.dmesg B.dmesg
set -u
[ $# -eq 2 ] || { echo "usage: $0 A.dmesg B.dmesg" >&2; exit 2; }
a=$1 b=$2
key_awk='
function key(s) {
	sub(/^\[ *[0-9.]+\] /, "", s)
	gsub(/0x[0-9a-fA-F]+|[0-9a-fA-F]{6,}|[0-9]+/, "#", s)
	return substr(s, 1, 60)
}
function ts(s) { if (match(s, /^\[ *[0-9.]+\]/)) { s = substr(s, 2, RLENGTH - 2); return s + 0 } return -1 }'
awk "$key_awk"'
FNR == NR { k = key($0); t = ts($0); if (t >= 0 && !(k in bt)) bt[k] = t; next }
{
	t = ts($0); if (t < 0) next
	k = key($0); line = $0; sub(/^\[ *[0-9.]+\] /, "", line)
	if (k in bt && bt[k] >= lastb) {
		da = t - lasta; db = bt[k] - lastb
		printf "%9.3f %9.3f  %+7.3f %+7.3f %s %s\n", t, bt[k], da, db,
			(da - db > 0.02 ? "*" : " "), substr(line, 1, 90)
		lasta = t; lastb = bt[k]
	} else {
		printf "%9.3f %9s  %7s %7s   %s\n", t, "-", "", "", substr(line, 1, 90)
	}
}
BEGIN { print "   A (s)     B (s)   A step  B step    line (A)" }' "$b" "$a"
for f in "$a" "$b"; do
	echo
	echo "largest gaps before a line in $f:"
	awk "$key_awk"'{ t = ts($0); if (t < 0) next
		if (NR > 1) printf "%7.3f %s\n", t - last, substr($0, 1, 100); last = t }' "$f" |
		sort -rn | head -n 12
done

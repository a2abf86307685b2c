#!/usr/bin/env bash
# ab.sh: paired A/B of two strata builds on one command, for changes too small for make bench.
#
#   bash bench/ab.sh [--pairs N] [--root DIR] A B [-- ARG…]
#
# Runs `A --root DIR ARG…` and `B --root DIR ARG…` (default ARGs: run --rm alpine true) N times
# each (default 300), interleaved, the order swapped every pair, and prints both medians and
# the median of the paired differences B−A with its interquartile range. On a VM whose speed
# drifts by a third within minutes, only runs taken milliseconds apart compare: blocks of
# runs of one build, then of the other, measure the drift as much as the change. A median
# difference whose IQR spans zero widely is noise.
#
# Both binaries are copied first, with cp: a binary the Go linker has just written sits in the
# page cache in 4 KiB pages and starts ~0.5 ms slower than the same bytes written with
# write(2) (see the Makefile), which would otherwise decide the comparison. DIR must hold the
# image the command needs (default: $STRATA_ROOT, else /var/lib/strata). Needs root.
set -euo pipefail

PAIRS=300
ROOT=${STRATA_ROOT:-/var/lib/strata}
BINS=()
ARGS=(run --rm alpine true)
while (($#)); do
	case $1 in
	--pairs) PAIRS=$2; shift ;;
	--root) ROOT=$2; shift ;;
	--) shift; ARGS=("$@"); break ;;
	-h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) BINS+=("$1") ;;
	esac
	shift
done
if ((${#BINS[@]} != 2)); then
	echo "ab.sh: want two strata binaries, A and B (see --help)" >&2
	exit 2
fi
[[ $PAIRS =~ ^[1-9][0-9]*$ ]] || { echo "ab.sh: --pairs wants a positive number, not $PAIRS" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "${BINS[0]}" "$work/a"
cp "${BINS[1]}" "$work/b"

# once runs one build and prints its wall time in microseconds; a failed run stops the script,
# as a time of a command that failed compares nothing.
once() {
	local t0 t1
	t0=$EPOCHREALTIME
	if ! "$work/$1" --root "$ROOT" "${ARGS[@]}" >/dev/null 2>"$work/err"; then
		echo "ab.sh: ${BINS[$([[ $1 == a ]] && echo 0 || echo 1)]} --root $ROOT ${ARGS[*]} failed: $(tail -n 1 "$work/err")" >&2
		exit 1
	fi
	t1=$EPOCHREALTIME
	echo $((${t1/./} - ${t0/./}))
}

for _ in 1 2 3 4 5; do once a >/dev/null; once b >/dev/null; done
for ((i = 0; i < PAIRS; i++)); do
	if ((i % 2)); then
		a=$(once a); b=$(once b)
	else
		b=$(once b); a=$(once a)
	fi
	echo "$a $b"
done >"$work/pairs"

# median FILE prints the median of a file of numbers (microseconds) in ms; q25/q75 likewise.
quantile() { sort -n "$2" | awk -v q="$1" '{v[NR] = $1} END {i = int(q * (NR - 1)) + 1; printf "%.2f", v[i] / 1000}'; }
awk '{print $1}' "$work/pairs" >"$work/a.t"
awk '{print $2}' "$work/pairs" >"$work/b.t"
awk '{print $2 - $1}' "$work/pairs" >"$work/d.t"
printf 'A %s: median %s ms\n' "${BINS[0]}" "$(quantile 0.5 "$work/a.t")"
printf 'B %s: median %s ms\n' "${BINS[1]}" "$(quantile 0.5 "$work/b.t")"
printf 'B-A, paired: median %+.2f ms (IQR %+.2f .. %+.2f), %d pairs\n' \
	"$(quantile 0.5 "$work/d.t")" "$(quantile 0.25 "$work/d.t")" "$(quantile 0.75 "$work/d.t")" "$PAIRS"

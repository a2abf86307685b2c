#!/usr/bin/env bash
# share.sh: the layer-sharing measurement of bench/run.sh, against your registry and images.
#
#   bash bench/share.sh --registry URL [--tools strata,podman,ctr] [--runs N] [--strata PATH]
#                       [--fs ext4|tmpfs] [--results DIR] IMAGE…
#
# Each tool pulls the images in the order given into one fresh store, RUNS times; per image it
# prints the median pull time, the median growth of the store, and the compressed size of the
# layers no earlier image had (from `skopeo inspect`): the least any store must grow by.
# IMAGE is repo:tag or repo@digest in that registry, or a full reference. An http:// URL pulls
# over plain HTTP; https:// verifies TLS. Needs root, like run.sh.
#
# strata's rows come from `strata bench share`, which needs nothing but the strata binary:
#   strata bench share --registry URL IMAGE…   (one sequence, with new/shared layers, bytes
#                                               downloaded and the ideal growth per image)
# This script adds the peers and the repetitions around it.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STRATA=$REPO/bin/strata
TOOLS=strata,podman,ctr
RUNS=3
FS=ext4
URL=""
KEEP=""
IMAGE_ARGS=()
while (($#)); do
	case $1 in
	--registry) URL=$2; shift ;;
	--tools) TOOLS=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--strata) STRATA=$(realpath "$2"); shift ;;
	--fs) FS=$2; shift ;;
	--results) KEEP=$2; shift ;;
	-h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	-*) echo "share.sh: unknown flag $1" >&2; exit 2 ;;
	*) IMAGE_ARGS+=("$1") ;;
	esac
	shift
done

# shellcheck source=bench/lib/common.sh
source "$REPO/bench/lib/common.sh"
for f in setup tools pull sharing; do
	# shellcheck source=/dev/null
	source "$REPO/bench/lib/$f.sh"
done

[[ -n $URL ]] || die "--registry URL is required"
((${#IMAGE_ARGS[@]})) || die "name at least one image"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive integer, got $RUNS"
[[ $FS == ext4 || $FS == tmpfs ]] || die "--fs is ext4 or tmpfs, got $FS"
[[ $(id -u) == 0 ]] || die "share.sh needs root"
case $URL in
http://*) INSECURE=1 REGISTRY=${URL#http://} ;;
https://*) INSECURE="" REGISTRY=${URL#https://} ;;
*) die "--registry wants an http:// or https:// URL, got $URL" ;;
esac
REGISTRY=${REGISTRY%%/*}

# ref: the adapters resolve benchmark names through ref; here an image is its own reference,
# qualified with the registry unless it already names one.
ref() {
	local first=${1%%/*}
	if [[ $1 == */* && ($first == *.* || $first == *:* || $first == localhost) ]]; then
		echo "$1"
	else
		echo "$REGISTRY/$1"
	fi
}

bench_init
BENCH_RESULTS=${KEEP:-$BENCH_WORK/results}
mkdir -p "$BENCH_RESULTS"
: >"$BENCH_RESULTS/samples.tsv"
: >"$BENCH_RESULTS/notes.tsv"

# layer_sizes REF prints "digest size" per layer of REF for this machine's platform, resolving
# an index to its linux manifest.
layer_sizes() {
	local r=$1 raw digest arch repo
	raw=$(skopeo inspect --raw --tls-verify="$(tls_verify)" "docker://$r") || return 1
	if jq -e '.manifests' <<<"$raw" >/dev/null; then
		arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
		digest=$(jq -er --arg a "$arch" '[.manifests[] | select(.platform.os == "linux" and .platform.architecture == $a)][0].digest' <<<"$raw") || return 1
		repo=${r%@*}
		[[ ${repo##*/} != *:* ]] || repo=${repo%:*}
		raw=$(skopeo inspect --raw --tls-verify="$(tls_verify)" "docker://$repo@$digest") || return 1
	fi
	jq -r '.layers[] | "\(.digest) \(.size)"' <<<"$raw"
}

# unique_compressed fills IDEAL: per image, the compressed bytes of the layers no earlier
# image had, from the registry's manifests through skopeo (which handles auth and TLS).
unique_compressed() {
	local image d size out
	local -A seen=()
	IDEAL=()
	for image in "$@"; do
		local total=0
		out=$(layer_sizes "$(ref "$image")") || die "reading the manifest of $(ref "$image") failed"
		while read -r d size; do
			[[ -n $d && -z ${seen[$d]:-} ]] || continue
			seen[$d]=1
			total=$((total + size))
		done <<<"$out"
		IDEAL+=("$total")
	done
}

: >"$BENCH_RESULTS/meta.tsv"
mount_stores
unique_compressed "${IMAGE_ARGS[@]}"
IFS=, read -ra tools <<<"$TOOLS"
base=$(fs_dir "$FS")
for i in "${!tools[@]}"; do
	case ${tools[i]} in
	strata) tools[i]=strata_share ;; # strata measures itself: `strata bench share`
	podman | ctr) ;;
	*) die "unknown tool ${tools[i]}: want strata, podman or ctr" ;;
	esac
done
declare -A dead=()
for t in "${tools[@]}"; do
	if ! reason=$("${t}_check" 2>&1); then
		log "$t skipped: $reason"
		dead[$t]=1
	fi
done
for ((r = 1; r <= RUNS; r++)); do
	for t in "${tools[@]}"; do
		[[ -z ${dead[$t]:-} ]] || continue
		log "run $r/$RUNS: $t"
		if [[ $t == strata_share ]]; then
			strata_share_sequence share "$base/share-$t" "${IMAGE_ARGS[@]}" || dead[$t]=1
		else
			sharing_sequence share "$t" "$base/share-$t" "${IMAGE_ARGS[@]}" || dead[$t]=1
		fi
	done
done

# The table: one row per tool and image, medians over the runs.
printf '| tool | # | image | pull time (median) | store growth (median) | unique compressed layers |\n|---|---:|---|---:|---:|---:|\n'
for t in "${tools[@]}"; do
	for i in "${!IMAGE_ARGS[@]}"; do
		awk -F'\t' -v t="$t" -v name="${t/strata_share/strata bench share}" -v i="$i" -v img="${IMAGE_ARGS[i]}" -v ideal="${IDEAL[i]:-0}" '
			function median(a, n,   j, k, tmp) {
				for (j = 1; j <= n; j++) for (k = j + 1; k <= n; k++) if (a[k] < a[j]) { tmp = a[j]; a[j] = a[k]; a[k] = tmp }
				return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
			}
			$1 == "share" && $2 == i && $3 == t && $4 == "time" { ts[++nt] = $6 }
			$1 == "share" && $2 == i && $3 == t && $4 == "growth" { gs[++ng] = $6 }
			END {
				if (nt == 0) { printf "| %s | %d | %s | not measured | | %.1f MiB |\n", name, i + 1, img, ideal / 1048576; exit }
				printf "| %s | %d | %s | %.3f s | %.1f MiB | %.1f MiB |\n", name, i + 1, img, median(ts, nt), median(gs, ng) / 1048576, ideal / 1048576
			}' "$BENCH_RESULTS/samples.tsv"
	done
done
if [[ -s $BENCH_RESULTS/notes.tsv ]]; then
	echo
	echo "Notes:"
	cut -f2- "$BENCH_RESULTS/notes.tsv" | sed 's/^/  /'
fi

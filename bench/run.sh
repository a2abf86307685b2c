#!/usr/bin/env bash
# run.sh: strata's side-by-side benchmarks (issue 8). Installs the peers, starts a registry on
# loopback, pushes deterministic images, measures strata against podman, containerd, runc,
# crun, skopeo+umoci and plain curl/tar, then regenerates docs/benchmarks.md and its plots.
#
#   bash bench/run.sh [--quick] [--only 1,3] [--runs N] [--strata PATH] [--results DIR] [--no-docs]
#
# --quick: 2 runs, no debootstrap (alpine and small layered images only), 10 containers for
# density; for developing the harness, never for published numbers.
# --only: a comma-separated subset of the measurements 1 pull, 2 sharing, 3 start,
# 4 density, 5 scaling, 6 Go micro-benchmarks (debootstrap runs only for 1 and 2).
#
# Each section (setup, then each measurement) logs how long it took; the end of the run
# lists them with the total, which docs/benchmarks.md shows as well. The Debian base is built
# with debootstrap once and kept in $BENCH_CACHE (default /var/cache/strata-bench); on a
# fresh machine it is built in the background while apt installs the peers.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=$REPO/bench
STRATA=$REPO/bin/strata
BENCH_MODE=full
ONLY=1,2,3,4,5,6
RUNS=""
BENCH_RESULTS=/var/tmp/strata-bench-results
WRITE_DOCS=1

while (($#)); do
	case $1 in
	--quick) BENCH_MODE=quick ;;
	--only) ONLY=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--strata) STRATA=$(realpath "$2"); shift ;;
	--results) BENCH_RESULTS=$2; shift ;;
	--no-docs) WRITE_DOCS="" ;;
	-h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

# shellcheck source=bench/lib/common.sh
source "$BENCH_DIR/lib/common.sh"
for f in setup tools pull sharing start density micro; do
	# shellcheck source=/dev/null
	source "$BENCH_DIR/lib/$f.sh"
done

main() {
	[[ $(id -u) == 0 ]] || die "run.sh needs root (mounts, containers, apt)"
	if [[ $BENCH_MODE == quick ]]; then
		RUNS=${RUNS:-2} HF_RUNS=5 HF_WARMUP=1 DENSITY=10
	else
		RUNS=${RUNS:-5} HF_RUNS=20 HF_WARMUP=3 DENSITY=50
	fi
	[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive integer, got $RUNS"

	# make bench passes when it started, so that building strata counts towards the total.
	STARTED=$(now_us)
	if [[ ${BENCH_T0:-} =~ ^[0-9]{16}$ ]] && ((BENCH_T0 < STARTED)); then STARTED=$BENCH_T0; fi
	bench_init
	rm -rf "$BENCH_RESULTS"
	mkdir -p "$BENCH_RESULTS"
	: >"$BENCH_RESULTS/samples.tsv"
	: >"$BENCH_RESULTS/notes.tsv"
	: >"$BENCH_RESULTS/meta.tsv"

	section setup setup

	# pull_once times pulls in a child bash; it needs the adapters and their settings.
	INSECURE=1
	export STRATA REGISTRY IMAGES BENCH_WORK BENCH_ID INSECURE
	export -f $(declare -F | awk '{ print $3 }')

	phase 3 "3 start" measure_start
	phase 5 "5 scaling" measure_scaling_start measure_scaling_pull
	phase 1 "1 pull" measure_pull measure_warm
	phase 2 "2 sharing" measure_sharing
	phase 4 "4 density" measure_density
	phase 6 "6 micro" measure_micro
	meta duration "$((($(now_us) - STARTED) / 1000000)) s"

	if [[ -n $WRITE_DOCS ]]; then
		"$BENCH_WORK/bin/report" -results "$BENCH_RESULTS" -docs "$REPO/docs" ||
			die "writing docs/benchmarks.md failed"
		log "wrote $REPO/docs/benchmarks.md"
	fi
	log "results in $BENCH_RESULTS"
	log "time per section: $(IFS=,; echo "${SECTIONS[*]}" | sed 's/,/, /g')"
	log "total: $((($(now_us) - STARTED) / 1000000)) s (cleanup follows)"
}

# setup gets everything the measurements need. The slow parts overlap: debootstrap and the
# Go builds run in the background while apt installs the peers; none of them is measured.
setup() {
	local build_pid
	mount_stores
	start_debian_layer
	build_tools >"$BENCH_WORK/logs/build.log" 2>&1 &
	build_pid=$!
	install_peers
	describe_machine
	if reason=$(strata_check 2>&1); then
		log "strata: $STRATA"
	else
		log "strata measurements will be skipped: $reason"
	fi
	wait "$build_pid" || die "building the bench tools failed: $(last_error "$BENCH_WORK/logs/build.log")"
	start_registry
	push_images
	# The pushes and the Debian tarball leave hundreds of MB of dirty pages; written back
	# during the first measurement they would slow it.
	sync
}

selected() { [[ ,$ONLY, == *,$1,* ]]; }

# phase N NAME FUNC… runs the functions of measurement N as a section when it is selected.
phase() {
	local n=$1
	shift
	selected "$n" || return 0
	section "$@"
}

# One line, so that bash has read all of main before it runs: editing this file during a run
# cannot change what the run does.
main "$@"; exit

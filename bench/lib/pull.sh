# shellcheck shell=bash
# pull.sh: measurement 1 (cold pull until ready to run, tmpfs and ext4) and the pull half of
# measurement 5 (pull time against layer count). Every repetition gives each tool a fresh,
# empty store; the tools take turns inside one repetition so drift hits them alike.

# pull_once MEASURE CASE TOOL STORE IMAGE [FIRST] times one pull and records its wall time,
# the peak RSS of the pulling process tree (plus the daemon's for containerd) and, on the
# first repetition, the store's disk usage. It fails with a note when the tool fails.
pull_once() {
	local measure=$1 case=$2 t=$3 store=$4 image=$5 first=${6:-} logf rssf rss hwm
	logf=$BENCH_WORK/logs/$measure-${case//\//-}-$t.log
	rssf=$BENCH_WORK/rss
	if ! "${t}_fresh" "$store" >"$logf" 2>&1; then
		note "$measure" "$case" "$t" failed "preparing the store: $(last_error "$logf")"
		"${t}_clear" "$store" >/dev/null 2>&1
		return 1
	fi
	sync
	if ! timed "$logf" /usr/bin/time -f %M -o "$rssf" bash -c '"$@"' _ "${t}_pull" "$store" "$image"; then
		note "$measure" "$case" "$t" failed "$(last_error "$logf")"
		"${t}_clear" "$store" >/dev/null 2>&1
		return 1
	fi
	record "$measure" "$case" "$t" time s "$ELAPSED"
	rss=$(($(tail -n1 "$rssf") * 1024))
	if [[ $t == ctr && -n ${CTRD_PIDS[$store]:-} ]]; then
		hwm=$(awk '/^VmHWM/ { print $2 * 1024 }' "/proc/${CTRD_PIDS[$store]}/status" 2>/dev/null || echo 0)
		rss=$((rss + ${hwm:-0}))
	fi
	record "$measure" "$case" "$t" rss bytes "$rss"
	if [[ -n $first ]]; then
		record "$measure" "$case" "$t" store bytes "$(du_bytes "$store")"
	fi
	"${t}_clear" "$store" >/dev/null 2>&1
	return 0
}

# pull_loop MEASURE CASE BASEDIR IMAGE TOOL… runs RUNS repetitions of cold pulls of IMAGE.
pull_loop() {
	local measure=$1 case=$2 base=$3 image=$4 r t reason
	shift 4
	local -A dead=()
	for t in "$@"; do
		if ! reason=$("${t}_check" 2>&1); then
			note "$measure" "$case" "$t" skipped "$reason"
			dead[$t]=1
		fi
	done
	log "$measure $case: $image, $RUNS runs of: $*"
	for ((r = 1; r <= RUNS; r++)); do
		for t in "$@"; do
			[[ -z ${dead[$t]:-} ]] || continue
			pull_once "$measure" "$case" "$t" "$base/$t" "$image" "$((r == 1 ? 1 : 0))" || dead[$t]=1
		done
	done
}

# mount_tmpfs mounts the tmpfs the tmpfs stores live in. Called once from the top-level shell:
# fs_dir runs in command substitutions, where a cleanup registered would be lost.
mount_tmpfs() {
	mkdir -p "$BENCH_WORK/tmpfs" "$BENCH_WORK/disk"
	mount -t tmpfs -o size=8g,mode=0755 strata-bench "$BENCH_WORK/tmpfs"
	on_exit "unmount_under '$BENCH_WORK/tmpfs'"
}

# fs_dir KIND prints the directory stores live in: the tmpfs, or ext4 under /var/tmp.
fs_dir() {
	case $1 in
	tmpfs) echo "$BENCH_WORK/tmpfs" ;;
	ext4) echo "$BENCH_WORK/disk" ;;
	esac
}

measure_pull() {
	local fs image images=(debian multi) tools
	[[ $BENCH_MODE == quick ]] && images=(alpine layers10)
	for fs in tmpfs ext4; do
		tools=(strata podman ctr skopeo_umoci strata_blobs skopeo curl curl_tar)
		if [[ $fs == ext4 && $BENCH_MODE != quick ]]; then
			# umoci unpack is the slowest peer by far on ext4 (about 20 s per Debian pull here);
			# it runs on tmpfs only so that the whole run fits in 20 minutes.
			tools=(strata podman ctr strata_blobs skopeo curl curl_tar)
			note pull "$fs/*" skopeo_umoci skipped "on ext4, to keep make bench under 20 minutes; see the tmpfs cases"
		fi
		for image in "${images[@]}"; do
			has_image "$image" || continue
			pull_loop pull "$fs/$image" "$(fs_dir "$fs")" "$image" "${tools[@]}"
		done
	done
}

measure_scaling_pull() {
	local image n
	for image in $(jq -r '.[] | select(.name | startswith("layers")) | .name' "$IMAGES"); do
		n=${image#layers}
		# tmpfs: the per-layer cost of each tool, not ext4's per-file cost, is what grows here.
		pull_loop scaling-pull "$n" "$(fs_dir tmpfs)" "$image" strata podman ctr curl_tar
	done
}

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
	export_image "$image" # the child bash then needs no jq while it is timed
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

# mount_stores mounts the two file systems stores live in. Called once from the top-level
# shell: fs_dir runs in command substitutions, where a cleanup registered would be lost.
mount_stores() {
	mount_tmpfs
	mount_ext4
}

# mount_tmpfs mounts the tmpfs the tmpfs stores (and debootstrap) live in.
mount_tmpfs() {
	mkdir -p "$BENCH_WORK/tmpfs"
	mount -t tmpfs -o size=8g,mode=0755 strata-bench "$BENCH_WORK/tmpfs"
	on_exit "unmount_under '$BENCH_WORK/tmpfs'"
}

# mount_ext4 makes the ext4 the disk stores live in: a fresh file system of its own in a
# sparse file on /var/tmp's disk, on a loop device with direct I/O (no second page cache),
# mounted without online discard. Stores on the host's /var/tmp measured the host instead:
# where it is mounted with discard (this VM's is), removing one tool's store issues thousands
# of discards that slowed the next tool's timed pull up to fivefold, and made the run 3
# minutes longer. Distributions trim with a weekly fstrim, not with discard.
mount_ext4() {
	local img=$BENCH_WORK/ext4.img dev
	mkdir -p "$BENCH_WORK/disk"
	truncate -s 16G "$img"
	dev=$(losetup --find --show --direct-io=on "$img" 2>/dev/null || losetup --find --show "$img") ||
		die "losetup $img failed"
	on_exit "losetup -d '$dev'"
	mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$dev" >"$BENCH_WORK/logs/mkfs.log" 2>&1 ||
		die "mkfs.ext4 $dev failed: $(last_error "$BENCH_WORK/logs/mkfs.log")"
	mount -o nodiscard "$dev" "$BENCH_WORK/disk" || die "mounting $dev failed"
	on_exit "unmount_under '$BENCH_WORK/disk'"
	meta disk "ext4 on a loop device (direct I/O, nodiscard) over $(findmnt -no FSTYPE,SOURCE --target "$BENCH_WORK" | tr -s ' ')"
}

# fs_dir KIND prints the directory stores live in: the tmpfs, or the ext4.
fs_dir() {
	case $1 in
	tmpfs) echo "$BENCH_WORK/tmpfs" ;;
	ext4) echo "$BENCH_WORK/disk" ;;
	esac
}

measure_pull() {
	local fs image images=(debian multi) tools=(strata podman ctr skopeo_umoci strata_blobs skopeo curl curl_tar)
	[[ $BENCH_MODE == quick ]] && images=(alpine layers10)
	for fs in tmpfs ext4; do
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

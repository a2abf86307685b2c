# shellcheck shell=bash
# sharing.sh: measurement 2. Each tool pulls the ten app images one after another into one
# store on tmpfs; per image we record the pull time and how much the store grew. The ideal
# growth comes from images.json (unique layers only) and is computed by the report.

# sharing_sequence MEASURE TOOL STORE IMAGE… pulls the images in order into one fresh store.
sharing_sequence() {
	local measure=$1 t=$2 store=$3 i=0 image before after logf
	shift 3
	logf=$BENCH_WORK/logs/$measure-$t.log
	if ! "${t}_fresh" "$store" >"$logf" 2>&1; then
		note "$measure" sequence "$t" failed "preparing the store: $(last_error "$logf")"
		"${t}_clear" "$store" >/dev/null 2>&1
		return 1
	fi
	sync
	before=$(du_bytes "$store")
	for image in "$@"; do
		if ! timed "$logf" "${t}_pull" "$store" "$image"; then
			note "$measure" "$image" "$t" failed "$(last_error "$logf")"
			"${t}_clear" "$store" >/dev/null 2>&1
			return 1
		fi
		sync
		after=$(du_bytes "$store")
		record "$measure" "$i" "$t" time s "$ELAPSED"
		record "$measure" "$i" "$t" growth bytes "$((after - before))"
		before=$after
		i=$((i + 1))
	done
	if [[ $t == strata ]]; then
		if timeout 60 "$STRATA" --root "$store" system df >"$BENCH_WORK/system-df.txt" 2>&1; then
			mv "$BENCH_WORK/system-df.txt" "$BENCH_RESULTS/strata-system-df.txt"
		else
			note "$measure" sequence strata note "strata system df: $(last_error "$BENCH_WORK/system-df.txt")"
		fi
	fi
	"${t}_clear" "$store" >/dev/null 2>&1
}

# strata_share_check: `strata bench share` is the sharing measurement users run themselves;
# make bench runs it too, next to the CLI pulls, so the two can be compared.
strata_share_check() {
	strata_check || return 1
	"$STRATA" bench share --help >/dev/null 2>&1 || { echo "$STRATA has no 'bench share' command"; return 1; }
}

# strata_share_sequence MEASURE STORE IMAGE… runs `strata bench share` over the images, in a
# temporary root it makes (and removes) in the directory STORE, and records its rows as
# sharing_sequence records the others'. Its times are in-process: no strata process starts.
strata_share_sequence() {
	local measure=$1 store=$2 json logf i s g refs=() image
	shift 2
	json=$BENCH_WORK/$measure-strata_share.json
	logf=$BENCH_WORK/logs/$measure-strata_share.log
	for image in "$@"; do refs+=("$(ref "$image")"); done
	mkdir -p "$store"
	if ! TMPDIR=$store timeout "${STRATA_TIMEOUT:-600}" "$STRATA" bench share --format json "${refs[@]}" >"$json" 2>"$logf"; then
		note "$measure" sequence strata_share failed "$(last_error "$logf")"
		rm -rf "$store"
		return 1
	fi
	while IFS=$'\t' read -r i s g; do
		record "$measure" "$i" strata_share time s "$s"
		record "$measure" "$i" strata_share growth bytes "$g"
	done < <(jq -r '.images | to_entries[] | [.key, .value.seconds, .value.growth] | @tsv' "$json")
	cp "$json" "$BENCH_RESULTS/strata-bench-share.json"
	rm -rf "$store"
}

measure_sharing() {
	local images=() r t reason base
	local -A dead=()
	mapfile -t images < <(jq -r '.[] | select(.name | test("^app[0-9]+$")) | .name' "$IMAGES")
	if ((${#images[@]} == 0)); then
		note sharing - - skipped "no app images (quick mode skips debootstrap)"
		return 0
	fi
	# tmpfs: `du` counts 4 KiB pages there as ext4 counts blocks, and the ten sequences
	# (50 pulls per tool) stay affordable; the ext4 cost of a cold pull is measurement 1's.
	base=$(fs_dir tmpfs)
	meta "sharing store" tmpfs
	for t in strata strata_share podman ctr curl_tar_shared; do
		if ! reason=$("${t}_check" 2>&1); then
			note sharing sequence "$t" skipped "$reason"
			dead[$t]=1
		fi
	done
	log "sharing: ${#images[@]} app images, $RUNS runs"
	for ((r = 1; r <= RUNS; r++)); do
		for t in strata strata_share podman ctr curl_tar_shared; do
			[[ -z ${dead[$t]:-} ]] || continue
			if [[ $t == strata_share ]]; then
				strata_share_sequence sharing "$base/share-$t" "${images[@]}" || dead[$t]=1
			else
				sharing_sequence sharing "$t" "$base/share-$t" "${images[@]}" || dead[$t]=1
			fi
		done
	done
}

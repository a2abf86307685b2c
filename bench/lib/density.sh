# shellcheck shell=bash
# density.sh: measurement 4. Each tool starts DENSITY detached `sleep` containers from alpine;
# we time every start and every removal, read the memory of the process that watches each
# container (strata's monitor, conmon, containerd-shim-runc-v2: the parent of the container's
# sleep on the host) and divide the store's growth by the number of containers. runc and crun
# have no monitor; they are timed (create+start, delete -f) for the detached comparison.

SLEEP_ARG=86413 # unusual on purpose: finds our containers' processes and nobody else's

# monitors prints the host PIDs of the parents of our containers' sleep processes.
monitors() {
	local p
	for p in /proc/[0-9]*; do
		[[ $(tr '\0' ' ' 2>/dev/null <"$p/cmdline") == "sleep $SLEEP_ARG " ]] || continue
		awk '/^PPid:/ { print $2 }' "$p/status" 2>/dev/null
	done | sort -u
}

# record_monitors TOOL records RSS and PSS of each monitor, once per monitor process.
record_monitors() {
	local t=$1 pid rss pss n=0
	for pid in $(monitors); do
		rss=$(awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$pid/status" 2>/dev/null) || continue
		pss=$(awk '/^Pss:/ { print $2 * 1024 }' "/proc/$pid/smaps_rollup" 2>/dev/null) || pss=""
		[[ -n $rss ]] || continue
		record density monitor "$t" rss bytes "$rss"
		[[ -z $pss ]] || record density monitor "$t" pss bytes "$pss"
		n=$((n + 1))
	done
	record density monitor "$t" monitors count "$n"
}

# oci_cmd RUNTIME ARGS… runs runc, or crun the way probe_crun found it works here.
oci_cmd() {
	if [[ $1 == crun ]]; then
		${CRUN_HIDE:+in_hidden} crun "${CRUN_FLAGS[@]}" --root "$BENCH_WORK/crun-state" "${@:2}"
	else
		runc --root "$BENCH_WORK/runc-state" "${@:2}"
	fi
}
# oci_bundle RUNTIME NAME writes the bundle of one detached container, outside the timing:
# its own cgroup, as a container engine would give it (with one shared cgroup, the first
# `delete -f` would kill every container in it).
oci_bundle() {
	local dir=$BENCH_WORK/bundles/$1-$2
	mkdir -p "$dir"
	jq --arg cg "/$BENCH_ID/$1-$2" 'if .linux.cgroupsPath then .linux.cgroupsPath = $cg else . end' \
		<"$BENCH_WORK/$OCI_SLEEP_BUNDLE/config.json" >"$dir/config.json"
}
runc_run_d() {
	oci_cmd "$1" create -b "$BENCH_WORK/bundles/$1-$2" "$2" </dev/null >/dev/null 2>&1 && oci_cmd "$1" start "$2"
}
runc_rm() { oci_cmd "$1" delete -f "$2"; }

# density_tool TOOL STORE starts, measures and removes DENSITY containers.
density_tool() {
	local t=$1 store=$2 i before after logf ok=0
	logf=$BENCH_WORK/logs/density-$t.log
	sync
	[[ -z $store ]] || before=$(du_bytes "$store")
	for ((i = 0; i < DENSITY; i++)); do
		case $t in
		runc | crun) oci_bundle "$t" "bench-d$i" && timed "$logf" runc_run_d "$t" "bench-d$i" ;;
		*) timed "$logf" "${t}_run_d" "$store" "bench-d$i" alpine sleep "$SLEEP_ARG" ;;
		esac || {
			note density detached "$t" failed "container $i: $(last_error "$logf")"
			break
		}
		record density run-d "$t" time s "$ELAPSED"
		ok=$((ok + 1))
	done
	if ((ok > 0)); then
		sleep 1
		case $t in runc | crun) ;; *) record_monitors "$t" ;; esac
		if [[ -n $store ]]; then
			sync
			after=$(du_bytes "$store")
			record density disk "$t" per-container bytes "$(((after - before) / ok))"
		fi
	fi
	for ((i = 0; i < ok; i++)); do
		case $t in
		runc | crun) timed "$logf" runc_rm "$t" "bench-d$i" ;;
		*) timed "$logf" "${t}_rm" "$store" "bench-d$i" ;;
		esac || {
			note density rm "$t" failed "container $i: $(last_error "$logf")"
			continue
		}
		record density rm "$t" time s "$ELAPSED"
	done
}

measure_density() {
	local t
	warm_stores
	bundles
	[[ ${#START_CMD[@]} -gt 0 ]] || probe_start
	log "density: $DENSITY detached containers per tool"
	for t in strata podman ctr; do
		[[ -n ${WARM[$t]:-} ]] || continue
		density_tool "$t" "${WARM[$t]}"
	done
	OCI_SLEEP_BUNDLE=bundle-sleep
	[[ -z ${START_CMD[runc]:-} ]] || density_tool runc ""
	if [[ -n ${START_CMD[crun]:-} ]]; then
		# crun gets the bundle variant that worked for `true`.
		((${#CRUN_FLAGS[@]} == 0)) || OCI_SLEEP_BUNDLE=bundle-sleep-nocg
		[[ -z ${CRUN_HIDE:-} ]] || start_hidden
		density_tool crun ""
	fi
}

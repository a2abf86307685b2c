# shellcheck shell=bash
# start.sh: measurement 3 (start latency of `true` in alpine, with hyperfine) and the start
# half of measurement 5. Every candidate command is tried once first; what fails is recorded
# with its error instead of being timed, and variants (crun without cgroups, podman with
# --cgroups=disabled) are tried in order so the notes say what works on this host.

declare -A WARM=()      # tool → store holding alpine and the layers images, pulled once
declare -A START_CMD=() # tool → the command line (with IMAGE in place of the reference) that works
CRUN_HIDE=""            # set when crun only runs with cgroup2 hidden (see hide_cgroup2)
CRUN_FLAGS=()           # global crun flags that made it work (--cgroup-manager=disabled)
HF_EXTRA=()             # more hyperfine options for hyperfine_json (the spaced starts' --prepare)
START_GAP=0.2           # seconds between two spaced starts (measure_start)

# warm_stores pulls alpine and the layers images into one store per run adapter.
warm_stores() {
	local t store image reason logf
	((${#WARM[@]} == 0)) || return 0
	for t in strata podman ctr; do
		if ! reason=$("${t}_check" 2>&1); then
			note start alpine "$t" skipped "$reason"
			continue
		fi
		store=$(fs_dir ext4)/warm-$t
		logf=$BENCH_WORK/logs/warm-$t.log
		on_exit "${t}_clear '$store'"
		if ! "${t}_fresh" "$store" >"$logf" 2>&1; then
			note start alpine "$t" failed "preparing the store: $(last_error "$logf")"
			continue
		fi
		for image in alpine $(jq -r '.[] | select(.name | startswith("layers")) | .name' "$IMAGES"); do
			if ! "${t}_pull" "$store" "$image" >"$logf" 2>&1; then
				note start "$image" "$t" failed "pull before the start measurement: $(last_error "$logf")"
				continue 2
			fi
		done
		WARM[$t]=$store
	done
}

# make_bundle DIR ARGS… writes an OCI bundle over the alpine rootfs at BUNDLE_ROOTFS with the
# default runc spec, no terminal, the given process args and, unless CGROUPS_PATH is empty,
# that cgroupsPath.
make_bundle() {
	local dir=$1 cg=${CGROUPS_PATH-}
	shift
	mkdir -p "$dir"
	(cd "$dir" && runc spec) || return 1
	jq --arg root "$BUNDLE_ROOTFS" --arg cg "$cg" --args '.root.path = $root | .process.terminal = false |
		.process.args = $ARGS.positional | if $cg == "" then del(.linux.cgroupsPath) else .linux.cgroupsPath = $cg end' \
		"$@" <"$dir/config.json" >"$dir/config.json.new" && mv "$dir/config.json.new" "$dir/config.json"
}

# bundles extracts alpine once and writes the bundles runc and crun use.
bundles() {
	[[ -z ${BUNDLE_ROOTFS:-} ]] || return 0
	BUNDLE_ROOTFS=$(fs_dir ext4)/alpine-rootfs
	mkdir -p "$BUNDLE_ROOTFS"
	tar -xzf "$(alpine_layer)" -C "$BUNDLE_ROOTFS"
	CGROUPS_PATH=/$BENCH_ID/oci make_bundle "$BENCH_WORK/bundle-true" /bin/true
	CGROUPS_PATH='' make_bundle "$BENCH_WORK/bundle-true-nocg" /bin/true
	CGROUPS_PATH=/$BENCH_ID/oci-sleep make_bundle "$BENCH_WORK/bundle-sleep" /bin/sleep 86413
	CGROUPS_PATH='' make_bundle "$BENCH_WORK/bundle-sleep-nocg" /bin/sleep 86413
	docker_bundles
	mkdir -p "$BENCH_WORK/runc-state" "$BENCH_WORK/crun-state"
	on_exit "oci_delete_all"
}

DOCKER_BUNDLES="" # set when the bundles with docker's security defaults exist (docker_bundles)

# docker_bundles writes bundle-true-docker and bundle-true-docker-nocg: the `true` bundles
# rewritten by bench/ocisecurity to carry docker's default capabilities and seccomp profile,
# the security defaults strata (like docker and podman) applies, so runc and crun are also
# timed like for like. meta says what each kind of bundle carries, for the report.
docker_bundles() {
	local b logf=$BENCH_WORK/logs/ocisecurity.log
	DOCKER_BUNDLES=""
	for b in bundle-true bundle-true-nocg; do
		mkdir -p "$BENCH_WORK/$b-docker"
		cp "$BENCH_WORK/$b/config.json" "$BENCH_WORK/$b-docker/config.json"
		if ! "$BENCH_WORK/bin/ocisecurity" "$BENCH_WORK/$b-docker" >"$logf" 2>&1; then
			note start alpine runc_docker failed "writing the bundle: $(last_error "$logf")"
			note start alpine crun_docker failed "writing the bundle: $(last_error "$logf")"
			return 0
		fi
	done
	DOCKER_BUNDLES=1
	meta "bundle runc spec" "$(bundle_security "$BENCH_WORK/bundle-true")"
	meta "bundle docker defaults" "$(bundle_security "$BENCH_WORK/bundle-true-docker")"
}

# bundle_security DIR prints the capabilities and the seccomp filter of DIR/config.json.
bundle_security() {
	jq -r '.process.capabilities.bounding as $c | .linux.seccomp as $s |
		"\($c | length) capabilities: \($c | map(ltrimstr("CAP_")) | join(", ")); " +
		if $s == null then "no seccomp filter" else
		"seccomp filter with default action \($s.defaultAction), \($s.syscalls | length) rules naming \([$s.syscalls[].names[]] | unique | length) syscalls" end' "$1/config.json"
}

# oci_delete_all removes every runc and crun container left in our state dirs.
oci_delete_all() {
	local rt id
	for rt in runc crun; do
		[[ -d $BENCH_WORK/$rt-state ]] || continue
		for id in $(oci_cmd "$rt" list -q 2>/dev/null); do
			oci_cmd "$rt" delete -f "$id" >/dev/null 2>&1 || true
		done
	done
}

# try LOG CMD… runs a candidate once, quietly; an external command gets two minutes.
try() {
	local logf=$1
	shift
	if declare -F "$1" >/dev/null; then
		"$@" </dev/null >"$logf" 2>&1
	else
		timeout 120 "$@" </dev/null >"$logf" 2>&1
	fi
}

# probe_start decides START_CMD for every tool, noting each variant that fails and why.
probe_start() {
	local t store logf cmd
	logf=$BENCH_WORK/logs/probe.log
	START_CMD=()
	for t in strata podman ctr; do
		store=${WARM[$t]:-}
		[[ -n $store ]] || continue
		case $t in
		strata) cmd="$STRATA --root $store run --rm IMAGE true" ;;
		podman) cmd=$(podman_argv_run_rm "$store" alpine true | tr '\0' ' ' | sed "s|$(ref alpine)|IMAGE|") ;;
		ctr) cmd=$(ctr_argv_run_rm "$store" alpine true | tr '\0' ' ' | sed "s|$(ref alpine)|IMAGE|") ;;
		esac
		if try "$logf" ${cmd//IMAGE/$(ref alpine)}; then
			START_CMD[$t]=$cmd
			continue
		fi
		note start alpine "$t" failed "$t run --rm: $(last_error "$logf")"
		[[ $t != podman ]] || probe_podman "$store"
	done
	if command -v runc >/dev/null; then
		cmd="runc --root $BENCH_WORK/runc-state run -b $BENCH_WORK/bundle-true bench-runc"
		if try "$logf" $cmd; then START_CMD[runc]=$cmd; else note start alpine runc failed "$(last_error "$logf")"; fi
		if [[ -n $DOCKER_BUNDLES ]]; then
			cmd="runc --root $BENCH_WORK/runc-state run -b $BENCH_WORK/bundle-true-docker bench-runc-docker"
			if try "$logf" $cmd; then START_CMD[runc_docker]=$cmd; else note start alpine runc_docker failed "$(last_error "$logf")"; fi
		fi
	fi
	if command -v crun >/dev/null; then
		probe_crun
		[[ -z $DOCKER_BUNDLES ]] || probe_crun_docker
	fi
	cmd="unshare -fpmuin --mount-proc true"
	if try "$logf" $cmd; then START_CMD[unshare]=$cmd; else note start alpine unshare failed "$(last_error "$logf")"; fi
	cmd="unshare -fpmuin --root=$BUNDLE_ROOTFS /bin/true"
	if try "$logf" $cmd; then START_CMD[unshare_chroot]=$cmd; else note start alpine unshare_chroot failed "$(last_error "$logf")"; fi
}

# probe_podman STORE tries podman run with the runtime's real rlimits, then with runc instead
# of crun, then without cgroups, and keeps the first that works in PODMAN_RUN_FLAGS.
probe_podman() {
	local store=$1 logf=$BENCH_WORK/logs/probe.log limits extra cmd
	local -a base=("${PODMAN_RUN_FLAGS[@]}") flags
	limits=$(podman_runtime_limits "$store") || limits=""
	for extra in "$limits" "$limits --runtime runc" "$limits --cgroups=disabled"; do
		read -ra flags <<<"$extra"
		if [[ $extra == *--cgroups=disabled* ]]; then
			PODMAN_RUN_FLAGS=(--network none "${flags[@]}")
		else
			PODMAN_RUN_FLAGS=("${base[@]}" "${flags[@]}")
		fi
		cmd=$(podman_argv_run_rm "$store" alpine true | tr '\0' ' ' | sed "s|$(ref alpine)|IMAGE|")
		if try "$logf" ${cmd//IMAGE/$(ref alpine)}; then
			START_CMD[podman]=$cmd
			note start alpine podman note "works with: ${PODMAN_RUN_FLAGS[*]}"
			return 0
		fi
		note start alpine podman failed "podman run --rm ${PODMAN_RUN_FLAGS[*]}: $(last_error "$logf")"
	done
	PODMAN_RUN_FLAGS=("${base[@]}")
}

# hide_cgroup2 CMD… runs CMD in a private mount namespace where /sys/fs/cgroup/unified is an
# empty tmpfs. crun refuses a hybrid host whose cgroup2 has any controller enabled ("cgroups in
# hybrid mode not supported"); hiding cgroup2 makes it a plain v1 host for crun only, without
# touching the host's cgroups.
hide_cgroup2() {
	unshare -m --propagation private sh -c 'mount -t tmpfs strata-bench /sys/fs/cgroup/unified && exec "$@"' sh "$@"
}

HIDE_HOLDER="" # pid of the process holding the private mount namespace of in_hidden

# hidden_holder starts, once, a process that holds a private mount namespace with cgroup2
# hidden (as hide_cgroup2 makes one), for in_hidden and interleave's -mntns.
hidden_holder() {
	local i
	[[ -z $HIDE_HOLDER ]] || return 0
	unshare -m --propagation private sh -c 'mount -t tmpfs strata-bench /sys/fs/cgroup/unified && exec sleep 86400' &
	HIDE_HOLDER=$!
	on_exit "kill $HIDE_HOLDER"
	for ((i = 0; i < 50; i++)); do
		grep -q strata-bench "/proc/$HIDE_HOLDER/mounts" 2>/dev/null && break
		sleep 0.1
	done
}

# start_hidden starts hidden_holder's process for in_hidden, and notes what entering it costs.
start_hidden() {
	local i t0 t1 costs=()
	[[ -z $HIDE_HOLDER ]] || return 0
	hidden_holder
	for ((i = 0; i < 10; i++)); do
		t0=$(now_us)
		nsenter -t "$HIDE_HOLDER" -m -- true
		t1=$(now_us)
		costs+=($((t1 - t0)))
	done
	note density detached crun note "each crun call enters a private mount namespace with cgroup2 hidden through nsenter, $(printf '%s\n' "${costs[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f ms", a[int((NR+1)/2)]/1000}') per call (median of 10, nsenter true), two calls per start: included in its times"
}

# in_hidden CMD… runs CMD in start_hidden's namespace: one setns per call, where hide_cgroup2
# would make a namespace and a mount each time (the density loop calls crun 150 times). Without
# that namespace (not started, or gone at cleanup) it is hide_cgroup2.
in_hidden() {
	if [[ -n $HIDE_HOLDER ]] && kill -0 "$HIDE_HOLDER" 2>/dev/null; then
		nsenter -t "$HIDE_HOLDER" -m -- "$@"
	else
		hide_cgroup2 "$@"
	fi
}

# probe_crun tries crun as it is, then without cgroups, then with cgroup2 hidden, and keeps
# the first variant that runs; CRUN_HIDE is set when crun needs hide_cgroup2.
probe_crun() {
	local logf=$BENCH_WORK/logs/probe.log variant cmd wrap
	CRUN_HIDE="" CRUN_FLAGS=()
	for wrap in "" hide; do
		for variant in "run -b $BENCH_WORK/bundle-true" "--cgroup-manager=disabled run -b $BENCH_WORK/bundle-true-nocg"; do
			cmd="crun --root $BENCH_WORK/crun-state ${variant} bench-crun"
			if try "$logf" ${wrap:+hide_cgroup2} $cmd; then
				START_CMD[crun]=$cmd
				CRUN_HIDE=$wrap
				[[ $variant != --cgroup-manager=disabled* ]] || CRUN_FLAGS=(--cgroup-manager=disabled)
				note start alpine crun note "works as: crun ${variant/$BENCH_WORK\//}${wrap:+, with cgroup2 hidden in a private mount namespace (hybrid host)}"
				return 0
			fi
			note start alpine crun failed "crun ${variant/$BENCH_WORK\//}${wrap:+ (cgroup2 hidden)}: $(last_error "$logf")"
		done
	done
}

# probe_crun_docker tries crun on the bundle with docker's security defaults the way
# probe_crun found crun runs here: the same flags, cgroup2 hidden if it had to be.
probe_crun_docker() {
	local logf=$BENCH_WORK/logs/probe.log bundle=bundle-true-docker cmd
	if [[ -z ${START_CMD[crun]:-} ]]; then
		note start alpine crun_docker skipped "crun does not run here with the runc spec bundle either"
		return 0
	fi
	((${#CRUN_FLAGS[@]} == 0)) || bundle=bundle-true-docker-nocg
	cmd="crun --root $BENCH_WORK/crun-state ${CRUN_FLAGS[*]} run -b $BENCH_WORK/$bundle bench-crun-docker"
	if try "$logf" ${CRUN_HIDE:+hide_cgroup2} $cmd; then
		START_CMD[crun_docker]=$cmd
	else
		note start alpine crun_docker failed "crun run -b $bundle${CRUN_HIDE:+ (cgroup2 hidden)}: $(last_error "$logf")"
	fi
}

# hyperfine_record MEASURE CASE JSON records every timed run of a hyperfine export; the
# commands were named after the tools.
hyperfine_record() {
	local measure=$1 case=$2 json=$3 tool v
	while IFS=$'\t' read -r tool v; do
		record "$measure" "$case" "$tool" time s "$v"
	done < <(jq -r '.results[] | .command as $c | [.times, .exit_codes] | transpose[] | select(.[1] == 0) | [$c, .[0]] | @tsv' "$json")
	# hyperfine reports CPU time (user + system, the command and its children) as a mean.
	while IFS=$'\t' read -r tool v; do
		record "$measure" "$case" "$tool" cpu s "$v"
	done < <(jq -r '.results[] | select(.user != null and .system != null) | [.command, (.user + .system)] | @tsv' "$json")
	while IFS=$'\t' read -r tool v; do
		note "$measure" "$case" "$tool" failed "$v of the timed runs exited non-zero; only successful runs are counted"
	done < <(jq -r '.results[] | select(any(.exit_codes[]; . != 0)) | [.command, ([.exit_codes[] | select(. != 0)] | length)] | @tsv' "$json")
}

# hyperfine_tools MEASURE CASE IMAGE TOOL… times the tools' START_CMD on IMAGE, in one
# hyperfine run; crun (both bundles) runs in a second one inside hide_cgroup2 when it needs that.
hyperfine_tools() {
	local measure=$1 case=$2 image=$3 t args=() hidden=()
	shift 3
	for t in "$@"; do
		[[ -n ${START_CMD[$t]:-} ]] || continue
		if [[ ($t == crun || $t == crun_docker) && -n ${CRUN_HIDE:-} ]]; then
			hidden+=(-n "$t" "${START_CMD[$t]}")
		else
			args+=(-n "$t" "${START_CMD[$t]//IMAGE/$(ref "$image")}")
		fi
	done
	log "$measure $case: hyperfine over: $*"
	((${#args[@]} == 0)) || hyperfine_json "$measure" "$case" "" "${args[@]}"
	((${#hidden[@]} == 0)) || hyperfine_json "$measure" "$case-crun" hide_cgroup2 "${hidden[@]}"
}

# hyperfine_json MEASURE CASE [WRAPPER] ARGS… runs hyperfine (under WRAPPER if given) and
# records the runs under CASE (a -crun suffix is dropped from the recorded case).
hyperfine_json() {
	local measure=$1 case=$2 wrap=$3 json logf
	shift 3
	json=$BENCH_RESULTS/hyperfine-$measure-$case.json
	logf=$BENCH_WORK/logs/hyperfine-$measure-$case.log
	if ! $wrap hyperfine -N -i --warmup "$HF_WARMUP" --runs "$HF_RUNS" "${HF_EXTRA[@]}" --export-json "$json" "$@" >"$logf" 2>&1; then
		note "$measure" "${case%-crun}" hyperfine failed "$(last_error "$logf")"
		return 0
	fi
	hyperfine_record "$measure" "${case%-crun}" "$json"
}

# interleave_tools MEASURE CASE GAP RUNS TOOL… times the tools' START_CMD on alpine with
# bench/interleave: one run of each tool per round, the order rotated every round, GAP seconds
# slept (untimed) before each run. crun, when it needs cgroup2 hidden, runs in hidden_holder's
# mount namespace, which interleave joins for its runs alone (no nsenter in the time).
interleave_tools() {
	local measure=$1 case=$2 gap=$3 runs=$4 t args=() json logf
	shift 4
	for t in "$@"; do
		[[ -n ${START_CMD[$t]:-} ]] || continue
		((${#args[@]} == 0)) || args+=(";;")
		args+=(-n "$t")
		if [[ ($t == crun || $t == crun_docker) && -n ${CRUN_HIDE:-} ]]; then
			hidden_holder
			args+=(-mntns "$HIDE_HOLDER")
		fi
		# shellcheck disable=SC2206 # START_CMD holds a command line, split into its words
		args+=(-- ${START_CMD[$t]//IMAGE/$(ref alpine)})
	done
	((${#args[@]} > 0)) || return 0
	log "$measure $case: interleaved over: $*"
	json=$BENCH_RESULTS/interleave-$measure-$case.json
	logf=$BENCH_WORK/logs/interleave-$measure-$case.log
	if ! "$BENCH_WORK/bin/interleave" -runs "$runs" -warmup "$HF_WARMUP" -gap "$gap" -o "$json" "${args[@]}" >"$logf" 2>&1; then
		note "$measure" "$case" interleave failed "$(last_error "$logf")"
		return 0
	fi
	hyperfine_record "$measure" "$case" "$json"
}

measure_start() {
	warm_stores
	bundles
	probe_start
	# The warm stores' pulls and the bundle's rootfs leave dirty pages; written back while the
	# starts are timed, they stall each file a start creates behind the journal (a strata start
	# makes its container's dir, files and upper layer on that file system: 27 against 18 ms
	# here, with crun's 16 against 12), and would measure the disk instead of the tools.
	sync
	hyperfine_tools start alpine alpine strata runc runc_docker crun crun_docker podman ctr unshare unshare_chroot
	# The same starts spaced out, as a user typing commands or a script doing anything between
	# two starts makes them: hyperfine sleeps START_GAP before each (not timed). On a v1 or hybrid
	# host, a tool that moves its process into a cgroup then pays the RCU grace period that
	# back-to-back starts find over (the issue's crun 32 ms and runc 61 ms are such starts).
	sync
	HF_EXTRA=(--prepare "sleep $START_GAP")
	hyperfine_tools start alpine-spaced alpine strata runc runc_docker crun crun_docker unshare
	HF_EXTRA=()
	meta "start gap" "$START_GAP"
	# strata against the OCI runtimes again, their runs interleaved round by round: hyperfine
	# times each tool in a block of its own, and this VM's speed drifts between blocks a
	# minute apart. Each round's runs are paired for the ratios (bench/report).
	sync
	interleave_tools start alpine-interleaved 0 $((HF_RUNS * 3)) strata runc runc_docker crun crun_docker
	sync
	interleave_tools start alpine-interleaved-spaced "$START_GAP" $((HF_RUNS * 2)) strata runc runc_docker crun crun_docker
	meta "interleaved runs" "$((HF_RUNS * 3)) rounds back to back, $((HF_RUNS * 2)) spaced"
}

measure_scaling_start() {
	local image
	warm_stores
	sync # as in measure_start
	for image in $(jq -r '.[] | select(.name | startswith("layers")) | .name' "$IMAGES"); do
		HF_RUNS=$((HF_RUNS > 10 ? 10 : HF_RUNS)) hyperfine_tools scaling-start "${image#layers}" "$image" strata podman ctr
	done
}

# registry_requests prints how many /v2/ requests the registry has logged so far.
registry_requests() { grep -c '"\(GET\|HEAD\) /v2/' "$REGISTRY_LOG" 2>/dev/null || true; }

# measure_warm pulls alpine again into the warm stores, where it is already present: the time
# and the registry requests of a pull that has nothing to fetch (issue 3: one manifest request).
measure_warm() {
	local r t before logf
	warm_stores
	log "warm pull: alpine already present, $RUNS runs"
	for ((r = 1; r <= RUNS; r++)); do
		for t in strata podman ctr; do
			[[ -n ${WARM[$t]:-} ]] || continue
			logf=$BENCH_WORK/logs/warm-pull-$t.log
			sleep 0.2 # let the previous pull's log lines land
			before=$(registry_requests)
			if ! timed "$logf" "${t}_pull" "${WARM[$t]}" alpine; then
				note warm alpine "$t" failed "$(last_error "$logf")"
				continue
			fi
			sleep 0.2
			record warm alpine "$t" time s "$ELAPSED"
			record warm alpine "$t" requests count "$(($(registry_requests) - before))"
		done
	done
}

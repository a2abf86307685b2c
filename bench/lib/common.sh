# shellcheck shell=bash
# common.sh: logging, timing, result records and the cleanup stack shared by run.sh and
# share.sh. Everything the benchmarks start or mount is registered here the moment it exists,
# so the EXIT trap can undo it in reverse order even when a measurement fails half-way.

BENCH_ID="strata-bench-$$"     # names our cgroups, containers and temp dirs
CLEANUP_CMDS=()                # shell snippets run last-in first-out by bench_cleanup
STARTED_PIDS=()                # daemons we started; only these are ever killed by PID

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# on_exit CMD… pushes a cleanup step.
on_exit() { CLEANUP_CMDS+=("$*"); }

# track_pid PID registers a daemon we started.
track_pid() { STARTED_PIDS+=("$1"); }

# stop_pid PID sends TERM, waits up to 10 s, then KILL. Only for PIDs from track_pid.
stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# unmount_under DIR unmounts every mount at or below DIR, deepest first, so a tool that left
# an overlay or a bind behind does not keep the temp dir busy.
unmount_under() {
	local dir mp
	dir=$(realpath -m "$1")
	awk -v d="$dir" '{ gsub(/\\040/, " ", $5); if ($5 == d || index($5, d "/") == 1) print $5 }' /proc/self/mountinfo |
		sort -r | while IFS= read -r mp; do
		umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || log "warning: cannot unmount $mp"
	done
}

# remove_cgroups removes the cgroups named after BENCH_ID in every hierarchy, killing the
# processes still inside: only containers this run started live there.
remove_cgroups() {
	local top d
	for top in /sys/fs/cgroup/*/"$BENCH_ID" /sys/fs/cgroup/"$BENCH_ID"; do
		[[ -d $top ]] || continue
		find "$top" -depth -type d 2>/dev/null | while IFS= read -r d; do
			if [[ -s $d/cgroup.procs ]]; then
				xargs -r kill -KILL <"$d/cgroup.procs" 2>/dev/null || true
				sleep 0.2
			fi
			rmdir "$d" 2>/dev/null || true
		done
	done
}

bench_cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	set +e
	log "cleaning up"
	for ((i = ${#CLEANUP_CMDS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUP_CMDS[i]}" >/dev/null 2>&1
	done
	for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${STARTED_PIDS[i]}"
	done
	remove_cgroups
	if [[ -d /run/$BENCH_ID ]]; then
		unmount_under "/run/$BENCH_ID"
		rm -rf "/run/${BENCH_ID:?}"
	fi
	if [[ -n ${BENCH_WORK:-} && -d $BENCH_WORK ]]; then
		unmount_under "$BENCH_WORK"
		rm -rf "$BENCH_WORK"
	fi
	exit "$rc"
}

# bench_init creates the work dir and installs the traps.
bench_init() {
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	BENCH_WORK=$(mktemp -d "/var/tmp/$BENCH_ID.XXXXXX")
	mkdir -p "$BENCH_WORK/logs"
}

# free_port prints a TCP port nobody listens on at 127.0.0.1.
free_port() {
	local p
	for p in $(shuf -i 20000-60000 -n 100); do
		if [[ -z $(ss -Hltn "sport = :$p") ]]; then
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}

# wait_for DESCRIPTION SECONDS CMD… retries CMD every 0.1 s until it succeeds.
wait_for() {
	local what=$1 secs=$2 i
	shift 2
	for ((i = 0; i < secs * 10; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	log "timed out after ${secs}s waiting for $what"
	return 1
}

# now_us prints the wall clock in microseconds.
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }

# section NAME FUNC… runs the functions as one named section of the run, logs how long it
# took and keeps that for the summary at the end and for the docs (meta "time: NAME"), so
# every run shows where its minutes went.
SECTIONS=()
section() {
	local name=$1 t0 s f
	shift
	t0=$(now_us)
	for f in "$@"; do "$f"; done
	s=$((($(now_us) - t0) / 1000000))
	SECTIONS+=("$name: $s s")
	meta "time: $name" "$s s"
	log "$name took $s s"
}

# kill_tree PID stops a background job we started and everything it started (debootstrap
# runs dpkg in a chroot, several processes deep), children first so none is re-parented.
kill_tree() {
	local pid=$1 c
	[[ -n $pid ]] || return 0
	for c in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do kill_tree "$c"; done
	kill -TERM "$pid" 2>/dev/null || true
}

# Results. samples.tsv holds one line per observation:
#   measure case tool metric unit value
# notes.tsv holds what did not run or how it ran:
#   measure case tool kind text        (kind: failed, skipped, note)
# meta.tsv holds key/value lines about the machine and versions.
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$BENCH_RESULTS/samples.tsv"; }
note() {
	local text=${5//$'\t'/ }
	text=${text//$'\n'/ }
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${text:0:300}" >>"$BENCH_RESULTS/notes.tsv"
	log "$1/$2/$3: $4: ${text:0:300}"
}
meta() { printf '%s\t%s\n' "$1" "${2//$'\n'/ }" >>"$BENCH_RESULTS/meta.tsv"; }

# last_error LOGFILE prints the last non-empty line of a log, for a note.
last_error() { grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n 2 | tr '\n' ' ' | cut -c1-280; }

# timed LOG CMD… runs CMD with its output in LOG and sets ELAPSED (seconds, 6 decimals).
timed() {
	local logf=$1 t0 t1 rc=0
	shift
	t0=$(now_us)
	"$@" >"$logf" 2>&1 || rc=$?
	t1=$(now_us)
	ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", (b - a) / 1e6 }')
	return "$rc"
}

# du_bytes DIR… prints the disk usage in bytes of the dirs (one file system, hard links once).
du_bytes() { du -sxc --block-size=1 "$@" 2>/dev/null | awk 'END { print $1 + 0 }'; }

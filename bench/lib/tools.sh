# shellcheck shell=bash
# tools.sh: one adapter per tool, so the measurements read as loops over tool names.
# A store is a directory owned by one tool for one measurement; for each tool T:
#   T_check            prints why T cannot run here and fails, or succeeds quietly
#   T_fresh STORE      makes an empty store (containerd: starts a daemon on it)
#   T_pull STORE NAME  pulls benchmark image NAME until it is ready to run
#   T_clear STORE      stops what runs on the store and removes it
# Run adapters (strata, podman, ctr) add T_run_rm, T_run_d, T_rm and T_argv_run_rm.

# --- strata ----------------------------------------------------------------------------
strata_check() {
	if [[ ! -x $STRATA ]]; then
		echo "$STRATA is missing (make build)"
		return 1
	fi
	if ! "$STRATA" --help >/dev/null 2>&1; then
		echo "$STRATA --help fails"
		return 1
	fi
}
strata_fresh() { mkdir -p "$1"; }
# INSECURE (set by run.sh for its loopback registry) pulls over plain HTTP.
tls_verify() { if [[ -n ${INSECURE:-} ]]; then echo false; else echo true; fi; }
# strata is the tool under construction: its commands run under timeout so a hang costs one
# failed measurement, not the run. timeout's own fork and exec (about a millisecond) counts
# against strata; the hyperfine start measurement runs strata bare after a probe under timeout.
strata_pull() { timeout "${STRATA_TIMEOUT:-600}" "$STRATA" --root "$1" pull ${INSECURE:+--insecure} "$(ref "$2")"; }
# strata_blobs: `pull --no-unpack`, the download alone, measured against skopeo copy (issue 3).
strata_blobs_check() { strata_check; }
strata_blobs_fresh() { strata_fresh "$@"; }
strata_blobs_pull() { timeout "${STRATA_TIMEOUT:-600}" "$STRATA" --root "$1" pull --no-unpack ${INSECURE:+--insecure} "$(ref "$2")"; }
strata_blobs_clear() { strata_clear "$@"; }
strata_argv_run_rm() { printf '%s\0' "$STRATA" --root "$1" run --rm "$(ref "$2")" "${@:3}"; }
strata_run_d() { echo "$2" >>"$1.names" && timeout 120 "$STRATA" --root "$1" run -d --name "$2" "$(ref "$3")" "${@:4}"; }
strata_rm() { timeout 120 "$STRATA" --root "$1" rm -f "$2"; }
strata_clear() {
	local n
	if [[ -f $1.names ]]; then
		while IFS= read -r n; do timeout 120 "$STRATA" --root "$1" rm -f "$n" >/dev/null 2>&1 || true; done <"$1.names"
		rm -f "$1.names"
	fi
	unmount_under "$1"
	rm -rf "$1"
}

# --- podman ----------------------------------------------------------------------------
# PODMAN_RUN_FLAGS holds what podman run needs on this host (see probe_podman).
PODMAN_RUN_FLAGS=(--network none --cgroup-parent "/$BENCH_ID")
podman_check() { command -v podman >/dev/null || { echo "podman not installed"; return 1; }; }
# podman_runroot prints a short runroot for a store: podman refuses one over 50 characters.
podman_runroot() { echo "/run/$BENCH_ID/$(echo "$1" | md5sum | cut -c1-8)"; }
podman_cmd() {
	local s=$1
	shift
	podman --root "$s/storage" --runroot "$(podman_runroot "$s")" --tmpdir "$s/tmp" --storage-driver overlay \
		--cgroup-manager cgroupfs --events-backend file "$@"
}
podman_fresh() { mkdir -p "$1"; }
podman_pull() { podman_cmd "$1" pull -q --tls-verify="$(tls_verify)" "$(ref "$2")"; }
podman_argv_run_rm() {
	printf '%s\0' podman --root "$1/storage" --runroot "$(podman_runroot "$1")" --tmpdir "$1/tmp" --storage-driver overlay \
		--cgroup-manager cgroupfs --events-backend file run --rm "${PODMAN_RUN_FLAGS[@]}" "$(ref "$2")" "${@:3}"
}
podman_run_d() { podman_cmd "$1" run -d --name "$2" "${PODMAN_RUN_FLAGS[@]}" "$(ref "$3")" "${@:4}"; }

# podman_runtime_limits STORE prints the --ulimit flags for the hard limits podman's OCI
# runtime actually gets. podman asks for nofile and nproc above them by default, and without
# CAP_SYS_RESOURCE the runtime's setrlimit fails with EPERM; podman also lowers nproc for its
# children, so the shell's own limits are not the answer. A stand-in runtime reports them.
podman_runtime_limits() {
	local fake=$BENCH_WORK/bin/limits-runtime out=$BENCH_WORK/runtime.limits
	printf '#!/bin/sh\ncat /proc/self/limits >%s\nexit 1\n' "$out" >"$fake"
	chmod +x "$fake"
	rm -f "$out"
	podman_cmd "$1" run --rm --runtime "$fake" --network none "$(ref alpine)" true >/dev/null 2>&1 || true
	[[ -s $out ]] || return 1
	awk '/^Max open files/ { printf "--ulimit nofile=%s:%s ", $5, $5 } /^Max processes/ { printf "--ulimit nproc=%s:%s ", $4, $4 }' "$out"
}
podman_rm() { podman_cmd "$1" rm -f -t 0 "$2"; }
podman_clear() {
	local rr
	rr=$(podman_runroot "$1")
	[[ -d $1 ]] && podman_cmd "$1" rm -af -t 0 >/dev/null 2>&1
	unmount_under "$1"
	unmount_under "$rr"
	rm -rf "$1" "$rr"
}

# --- containerd + ctr ------------------------------------------------------------------
# Each store runs its own containerd (root, state and socket inside the store), so nothing
# touches a system containerd and a cold pull starts from an empty content store.
declare -A CTRD_PIDS=()
ctr_check() { command -v containerd >/dev/null && command -v ctr >/dev/null || { echo "containerd not installed"; return 1; }; }
ctr_cmd() {
	local s=$1
	shift
	ctr -a "$s/c.sock" -n bench "$@"
}
ctr_fresh() {
	local s=$1
	mkdir -p "$s/root" "$s/state"
	cat >"$s/config.toml" <<-TOML
		version = 2
		root = "$s/root"
		state = "$s/state"
		disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
		[grpc]
		  address = "$s/c.sock"
		[ttrpc]
		  address = "$s/c.sock.ttrpc"
		[debug]
		  address = ""
		[metrics]
		  address = ""
	TOML
	containerd --config "$s/config.toml" >"$s.log" 2>&1 &
	CTRD_PIDS[$s]=$!
	track_pid $!
	on_exit "ctr_clear '$s'"
	wait_for "containerd on $s" 20 ctr_cmd "$s" version || { echo "containerd did not start: $(last_error "$s.log")" >&2; return 1; }
}
ctr_pull() { ctr_cmd "$1" images pull ${INSECURE:+--plain-http} "$(ref "$2")"; }
ctr_argv_run_rm() {
	printf '%s\0' ctr -a "$1/c.sock" -n bench run --rm --cgroup "/$BENCH_ID/ctr-rm" "$(ref "$2")" ctr-rm "${@:3}"
}
ctr_run_d() { ctr_cmd "$1" run -d --null-io --cgroup "/$BENCH_ID/$2" "$(ref "$3")" "$2" "${@:4}"; }
ctr_rm() {
	ctr_cmd "$1" tasks kill -s SIGKILL "$2" >/dev/null 2>&1 || true
	ctr_cmd "$1" tasks delete -f "$2" >/dev/null 2>&1 || ctr_cmd "$1" tasks delete "$2"
	ctr_cmd "$1" containers delete "$2"
}
ctr_clear() {
	local s=$1 id pid f
	pid=${CTRD_PIDS[$s]:-}
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		for id in $(ctr_cmd "$s" tasks ls -q 2>/dev/null); do ctr_rm "$s" "$id" >/dev/null 2>&1; done
		for id in $(ctr_cmd "$s" containers ls -q 2>/dev/null); do ctr_cmd "$s" containers delete "$id" >/dev/null 2>&1; done
		stop_pid "$pid"
	fi
	unset "CTRD_PIDS[$s]"
	# Shims outlive containerd by design; each one containerd started wrote its PID into the
	# task's bundle in our state dir.
	for f in "$s"/state/io.containerd.runtime.v2.task/*/*/shim.pid; do
		[[ -f $f ]] || continue
		pid=$(<"$f")
		if [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *"$s/c.sock"* ]]; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	unmount_under "$s"
	rm -rf "$s" "$s.log"
}

# --- skopeo copy + umoci unpack ----------------------------------------------------------
skopeo_umoci_check() { command -v skopeo >/dev/null && command -v umoci >/dev/null || { echo "skopeo or umoci not installed"; return 1; }; }
skopeo_umoci_fresh() { mkdir -p "$1"; }
skopeo_umoci_pull() {
	skopeo copy -q --src-tls-verify="$(tls_verify)" "docker://$(ref "$2")" "oci:$1/oci:bench" &&
		umoci unpack --image "$1/oci:bench" "$1/bundle"
}
skopeo_umoci_clear() { unmount_under "$1" && rm -rf "$1"; }

# skopeo alone: blobs only into an OCI layout, the comparison issue 3 asks for.
skopeo_check() { command -v skopeo >/dev/null || { echo "skopeo not installed"; return 1; }; }
skopeo_fresh() { mkdir -p "$1"; }
skopeo_pull() { skopeo copy -q --src-tls-verify="$(tls_verify)" "docker://$(ref "$2")" "oci:$1/oci:bench"; }
skopeo_clear() { rm -rf "$1"; }

# --- baselines: curl, and curl | GNU tar ---------------------------------------------------
# blob_urls NAME prints the manifest URL, then the config and layer URLs of a benchmark image.
blob_urls() {
	local r repo d
	r=http://$REGISTRY/v2
	repo=$(img repo "$1") || return 1
	echo "$r/$repo/manifests/$(img tag "$1")"
	echo "$r/$repo/blobs/$(img config "$1")"
	for d in $(img layers "$1"); do echo "$r/$repo/blobs/$d"; done
}
curl_check() { command -v curl >/dev/null || { echo "curl not installed"; return 1; }; }
curl_fresh() { mkdir -p "$1"; }
# curl_pull fetches the manifest and every blob into files, in one curl process (keep-alive).
curl_pull() {
	local args=() u i=0
	while IFS= read -r u; do
		args+=(-o "$1/$((i++))" "$u")
	done < <(blob_urls "$2")
	curl -sSf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "${args[@]}"
}
curl_clear() { rm -rf "$1"; }

curl_tar_check() { curl_check && command -v tar >/dev/null; }
curl_tar_fresh() { mkdir -p "$1/rootfs"; }
# curl_tar_pull streams each layer through tar -xz into one rootfs, in order, after fetching
# the manifest and config as a client must.
curl_tar_pull() {
	local u i=0
	while IFS= read -r u; do
		if ((i++ < 2)); then
			curl -sSf -H 'Accept: application/vnd.oci.image.manifest.v1+json' -o /dev/null "$u" || return 1
		else
			curl -sSf "$u" | tar -xzf - -C "$1/rootfs" || return 1
		fi
	done < <(blob_urls "$2")
}
curl_tar_clear() { rm -rf "$1"; }

# curl_tar_shared is the ideal layer-sharing client: it unpacks each layer once into its own
# directory and skips the layers it already has.
curl_tar_shared_check() { curl_tar_check; }
curl_tar_shared_fresh() { mkdir -p "$1"; }
curl_tar_shared_pull() {
	local repo d
	repo=$(img repo "$2") || return 1
	curl -sSf -H 'Accept: application/vnd.oci.image.manifest.v1+json' -o /dev/null \
		"http://$REGISTRY/v2/$repo/manifests/$(img tag "$2")" || return 1
	for d in $(img layers "$2"); do
		[[ -d $1/${d#sha256:} ]] && continue
		mkdir -p "$1/${d#sha256:}.tmp" &&
			curl -sSf "http://$REGISTRY/v2/$repo/blobs/$d" | tar -xzf - -C "$1/${d#sha256:}.tmp" &&
			mv "$1/${d#sha256:}.tmp" "$1/${d#sha256:}" || return 1
	done
}
curl_tar_shared_clear() { rm -rf "$1"; }

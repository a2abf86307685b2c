# shellcheck shell=bash
# setup.sh: the peers (installed with apt when missing), the loopback registry, the machine
# description and the benchmark images.

PEER_PACKAGES=(podman containerd runc crun skopeo umoci docker-registry hyperfine curl debootstrap jq time conmon)
BENCH_CACHE=${BENCH_CACHE:-/var/cache/strata-bench}

# install_peers installs the peers whose commands are missing.
install_peers() { ensure_packages "${PEER_PACKAGES[@]}"; }

# ensure_packages PKG… installs the packages whose commands are missing, running apt-get
# update once only when the package lists are absent or the install fails without it.
ensure_packages() {
	local missing=() pkg cmd logf=$BENCH_WORK/logs/apt.log t0
	for pkg in "$@"; do
		case $pkg in
		docker-registry) cmd=docker-registry ;;
		time) cmd=/usr/bin/time ;;
		*) cmd=$pkg ;;
		esac
		command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
	done
	((${#missing[@]})) || return 0
	log "installing ${missing[*]}"
	t0=$(now_us)
	export DEBIAN_FRONTEND=noninteractive
	if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
		apt-get update -q >"$BENCH_WORK/logs/apt-update.log" 2>&1 || die "apt-get update failed: $(last_error "$BENCH_WORK/logs/apt-update.log")"
	fi
	if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$logf" 2>&1; then
		apt-get update -q >"$BENCH_WORK/logs/apt-update.log" 2>&1 || true
		apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$logf" 2>&1 ||
			die "apt-get install failed: $(last_error "$logf")"
	fi
	log "apt-get install took $((($(now_us) - t0) / 1000000)) s"
}

# cgroup_mode prints v2, v1 or hybrid, by what is mounted at /sys/fs/cgroup.
cgroup_mode() {
	if [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; then
		echo v2
	elif [[ -d /sys/fs/cgroup/unified ]] && [[ $(stat -fc %T /sys/fs/cgroup/unified) == cgroup2fs ]]; then
		echo "hybrid (v1 controllers, cgroup2 at /sys/fs/cgroup/unified)"
	else
		echo v1
	fi
}

# describe_machine writes the machine and the peers' versions to meta.tsv.
describe_machine() {
	meta date "$(date -u +'%Y-%m-%d %H:%M UTC')"
	meta mode "$BENCH_MODE"
	meta runs "$RUNS"
	meta "hyperfine runs" "$HF_RUNS"
	meta "hyperfine warmup" "$HF_WARMUP"
	meta density "$DENSITY"
	meta nproc "$(nproc)"
	meta cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	meta memory "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	meta kernel "$(uname -r)"
	meta os "$(. /etc/os-release && echo "$PRETTY_NAME")"
	meta cgroups "$(cgroup_mode)"
	local strata_version="missing"
	if [[ -x $STRATA ]]; then
		strata_version=$("$STRATA" --version 2>/dev/null | head -n1 || true)
		[[ -n $strata_version ]] || strata_version="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown) (no --version)"
	fi
	meta "version strata" "$strata_version"
	meta "version podman" "$(podman --version 2>/dev/null | awk '{ print $3 }')"
	meta "version conmon" "$(conmon --version 2>/dev/null | awk 'NR == 1 { print $3 }')"
	meta "version containerd" "$(containerd --version 2>/dev/null | awk '{ print $3 }')"
	meta "version runc" "$(runc --version 2>/dev/null | awk 'NR == 1 { print $3 }')"
	meta "version crun" "$(crun --version 2>/dev/null | awk 'NR == 1 { print $3 }')"
	meta "version skopeo" "$(skopeo --version 2>/dev/null | awk '{ print $3 }')"
	meta "version umoci" "$(umoci --version 2>/dev/null | awk '{ print $3 }')"
	meta "version docker-registry" "$(docker-registry --version 2>/dev/null | awk '{ print $3 }')"
	meta "version hyperfine" "$(hyperfine --version 2>/dev/null | awk '{ print $2 }')"
	meta "version curl" "$(curl --version 2>/dev/null | awk 'NR == 1 { print $2 }')"
	meta "version tar" "$(tar --version 2>/dev/null | awk 'NR == 1 { print $4 }')"
	meta "version go" "$(go version 2>/dev/null | awk '{ print $3 }')"
}

# start_registry runs docker-registry on a free loopback port with its storage in the work
# dir and sets REGISTRY to host:port. Its access log (REGISTRY_LOG) lets the warm-pull
# measurement count the requests a pull makes.
start_registry() {
	local port dir=$BENCH_WORK/registry
	port=$(free_port)
	mkdir -p "$dir/storage"
	cat >"$dir/config.yml" <<-YML
		version: 0.1
		log:
		  level: error
		  accesslog:
		    disabled: false
		storage:
		  filesystem:
		    rootdirectory: $dir/storage
		  delete:
		    enabled: true
		http:
		  addr: 127.0.0.1:$port
	YML
	REGISTRY_LOG=$BENCH_WORK/logs/registry.log
	docker-registry serve "$dir/config.yml" >"$REGISTRY_LOG" 2>&1 &
	track_pid $!
	REGISTRY=127.0.0.1:$port
	wait_for "docker-registry on $REGISTRY" 15 curl -sf "http://$REGISTRY/v2/" || die "docker-registry did not start: $(last_error "$BENCH_WORK/logs/registry.log")"
	log "docker-registry listening on $REGISTRY"
}

# apt_mirror prints the first Debian mirror this machine's apt uses, for debootstrap.
apt_mirror() {
	local m
	m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { print $i; exit } }')
	if [[ -z $m ]]; then
		m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
			awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }')
	fi
	echo "${m:-http://deb.debian.org/debian}"
}

# needs_debian succeeds when a selected measurement uses the Debian images: 1 pulls debian,
# 2 the app images on it. run.sh defines selected; share.sh uses none of this.
needs_debian() { selected 1 || selected 2; }

# debian_layer_file is the packed bookworm minbase, kept between runs.
debian_layer_file() { echo "$BENCH_CACHE/debian-bookworm-minbase.tar.gz"; }

# start_debian_layer builds the Debian layer in the background when the cache lacks it, so
# that debootstrap (the network, then dpkg) overlaps the apt install of the peers and the Go
# builds; push_images waits for it. Nothing is measured while it runs.
start_debian_layer() {
	DEBIAN_PID=""
	[[ $BENCH_MODE != quick && ! -s $(debian_layer_file) ]] && needs_debian || return 0
	ensure_packages debootstrap
	DEBIAN_T0=$(now_us)
	build_debian_layer >"$BENCH_WORK/logs/debootstrap.log" 2>&1 &
	DEBIAN_PID=$!
	on_exit 'kill_tree "${DEBIAN_PID:-}"'
	log "debootstrap --variant=minbase bookworm runs in the background (cached in $BENCH_CACHE afterwards)"
}

# wait_debian_layer waits for the background build, then sets DEBIAN_LAYER to its file. It
# must run in the shell that started the build: a $(…) subshell cannot wait for it.
wait_debian_layer() {
	if [[ -n ${DEBIAN_PID:-} ]]; then
		log "waiting for debootstrap"
		wait "$DEBIAN_PID" || { DEBIAN_PID=""; die "debootstrap failed: $(last_error "$BENCH_WORK/logs/debootstrap.log")"; }
		DEBIAN_PID=""
		log "the Debian layer took $((($(now_us) - DEBIAN_T0) / 1000000)) s, in the background"
	fi
	DEBIAN_LAYER=$(debian_layer_file)
	[[ -s $DEBIAN_LAYER ]] || die "$DEBIAN_LAYER is missing"
}

# build_debian_layer runs debootstrap into the tmpfs and packs the result into the cache.
# On the tmpfs dpkg's fsyncs cost nothing: about a minute here instead of six on ext4. The
# tar is sorted, owned numerically, every mtime fixed and gzip carries no name or time, so
# one machine always pushes the same digest.
build_debian_layer() {
	local out rootfs=$BENCH_WORK/tmpfs/debootstrap mirror
	out=$(debian_layer_file)
	mkdir -p "$BENCH_CACHE"
	mirror=$(apt_mirror)
	echo "debootstrap from $mirror"
	debootstrap --variant=minbase bookworm "$rootfs" "$mirror" || return 1
	unmount_under "$rootfs"
	rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"* "$rootfs/var/log/"*.log
	tar --sort=name --mtime=@1704067200 --numeric-owner --format=posix \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
		-C "$rootfs" -cf - . | gzip -n -6 >"$out.tmp" || return 1
	mv "$out.tmp" "$out"
	rm -rf "$rootfs"
}

# alpine_layer prints the alpine 3.20.3 minirootfs: the repo's testdata copy, else the shared one.
alpine_layer() {
	local f
	for f in "$REPO/testdata/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz" \
		/work/shared/images/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz; do
		if [[ -s $f ]]; then
			echo "$f"
			return 0
		fi
	done
	die "alpine-minirootfs-3.20.3-x86_64.tar.gz not found in testdata/alpine"
}

# build_tools compiles imagegen, report, ocisecurity and interleave into the work dir, and the micro-benchmarks' test
# binaries so that their compilation lands in Go's build cache during the setup, not in the
# timed section.
build_tools() {
	mkdir -p "$BENCH_WORK/bin" "$BENCH_WORK/micro-bin"
	(cd "$REPO" && go build -o "$BENCH_WORK/bin/imagegen" ./bench/imagegen && go build -o "$BENCH_WORK/bin/report" ./bench/report &&
		go build -o "$BENCH_WORK/bin/ocisecurity" ./bench/ocisecurity && go build -o "$BENCH_WORK/bin/interleave" ./bench/interleave) ||
		die "building bench tools failed"
	(cd "$REPO" && go test -c -o "$BENCH_WORK/micro-bin/" "${MICRO_PACKAGES[@]}") ||
		log "warning: building the micro-benchmarks failed; measurement 6 will say why"
}

# push_images builds and pushes the benchmark images; IMAGES is the images.json describing them.
push_images() {
	local debian=""
	if [[ $BENCH_MODE != quick ]] && needs_debian; then
		wait_debian_layer
		debian=$DEBIAN_LAYER
	fi
	IMAGES=$BENCH_RESULTS/images.json
	local args=(-registry "$REGISTRY" -alpine "$(alpine_layer)" -out "$IMAGES")
	[[ -z $debian ]] || args+=(-debian "$debian")
	[[ $BENCH_MODE != quick ]] || args+=(-multi=false -layers 1,10,50)
	log "pushing benchmark images to $REGISTRY"
	"$BENCH_WORK/bin/imagegen" "${args[@]}" >"$BENCH_WORK/logs/imagegen.log" 2>&1 ||
		die "imagegen failed: $(last_error "$BENCH_WORK/logs/imagegen.log")"
	index_images
}

# IMG holds what images.json says of each benchmark image, as "FIELD NAME" → value (ref,
# repo, tag, config, layers: digests separated by spaces), filled once by index_images: jq
# takes 40 ms to start here, which must not count in any measurement. Child shells (the
# timed pulls) get the facts of their image from the BENCH_IMG_* variables of export_image.
declare -A IMG=()

# index_images reads images.json into IMG.
index_images() {
	local name field value
	while IFS=$'\t' read -r name field value; do
		IMG["$field $name"]=$value
	done < <(jq -r '.[] | .name as $n | ["ref", .ref], ["repo", .repo], ["tag", .tag], ["config", .config],
		["layers", ([.layers[].digest] | join(" "))] | [$n] + . | @tsv' "$IMAGES")
}

# img FIELD NAME prints one fact of a benchmark image, without jq when it can.
img() {
	local v
	# A child shell has no IMG (bash exports no arrays): declare -p says so without tripping set -u.
	if declare -p IMG >/dev/null 2>&1 && [[ -n ${IMG["$1 $2"]+x} ]]; then
		printf '%s\n' "${IMG["$1 $2"]}"
		return
	fi
	if [[ $2 == "${BENCH_IMG_NAME:-}" ]]; then
		v=BENCH_IMG_${1^^}
		if [[ -n ${!v+x} ]]; then
			printf '%s\n' "${!v}"
			return
		fi
	fi
	case $1 in
	layers) jq -er --arg n "$2" '.[] | select(.name == $n) | [.layers[].digest] | join(" ")' "$IMAGES" ;;
	*) jq -er --arg n "$2" --arg f "$1" '.[] | select(.name == $n) | .[$f]' "$IMAGES" ;;
	esac
}

# export_image NAME exports the facts of one image for a child shell (see IMG).
export_image() {
	local f v
	export BENCH_IMG_NAME=$1
	for f in ref repo tag config layers; do
		v=BENCH_IMG_${f^^}
		export "$v=$(img "$f" "$1")"
	done
}

# ref NAME prints the reference of a benchmark image (alpine, debian, app3, layers50, multi).
ref() { img ref "$1"; }

# has_image NAME succeeds when imagegen pushed NAME.
has_image() { jq -e --arg n "$1" 'any(.[]; .name == $n)' "$IMAGES" >/dev/null; }

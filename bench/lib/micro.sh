# shellcheck shell=bash
# micro.sh: measurement 6, the Go micro-benchmarks of the hot paths (tar apply, hashing,
# decompression, unpack, image writes) that live next to their packages. The raw `go test
# -bench` output is kept as it is, so benchstat can compare two runs of it.

MICRO_PACKAGES=(./layers/ ./snapshotter/ ./cache/)

measure_micro() {
	local pkgs=() p count=5 benchtime=100ms tmp
	[[ $BENCH_MODE != quick ]] || count=1
	for p in "${MICRO_PACKAGES[@]}"; do
		compgen -G "$REPO/${p#./}*_test.go" >/dev/null && grep -qs '^func Benchmark' "$REPO/${p#./}"*_test.go && pkgs+=("$p")
	done
	if ((${#pkgs[@]} == 0)); then
		note micro - go skipped "no Go benchmarks found in ${MICRO_PACKAGES[*]}"
		return 0
	fi
	# The benchmarks' temp dirs go to the bench's own ext4 (see mount_ext4): on a host file
	# system mounted with discard each removed t.TempDir slows the next iteration, and the
	# numbers drift upwards within one run, which is no use to benchstat.
	tmp=$(fs_dir ext4)/micro-tmp
	mkdir -p "$tmp"
	log "micro: go test -bench in ${pkgs[*]} (count $count, benchtime $benchtime)"
	if ! (cd "$REPO" && TMPDIR=$tmp go test -run '^$' -bench . -benchmem -count "$count" -benchtime "$benchtime" "${pkgs[@]}") \
		>"$BENCH_RESULTS/micro.txt" 2>&1; then
		note micro - go failed "go test -bench: $(grep -E '^(FAIL|---|panic|#)' "$BENCH_RESULTS/micro.txt" | head -n 3 | tr '\n' ' ')"
	fi
}

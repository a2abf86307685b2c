#!/usr/bin/env bash
# make demo: an air-gapped site in miniature. A mirror cache is loaded from the testdata
# fixtures and served by `strata serve` on 127.0.0.1; then, as a new user would, strata pulls
# alpine through that mirror and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "make demo runs containers: run it as root (sudo make demo)" >&2
	exit 1
fi

demo="$PWD/.demo-root"
mirror_root="$demo/mirror"
user_root="$demo/root"
serve_log="$demo/serve.log"
serve_pid=""
cleanup() {
	if [ -n "$serve_pid" ]; then
		kill "$serve_pid" 2>/dev/null || true
		wait "$serve_pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT

run() {
	local shown=() a
	for a in "$@"; do
		case "$a" in *[\ \;\$\'\|]*) shown+=("'$a'") ;; *) shown+=("$a") ;; esac
	done
	printf '\n$ %s\n' "${shown[*]}"
	"$@"
}

mkdir -p "$demo"
rm -rf "$demo/fixtures"
bin/fixtures -testdata testdata "$demo/fixtures"
echo "== the mirror: a strata cache loaded from testdata, served read-only on 127.0.0.1"
run bin/strata --root "$mirror_root" load -i "$demo/fixtures"
printf '\n$ %s\n' "bin/strata --root $mirror_root serve --addr 127.0.0.1:0 &"
bin/strata --root "$mirror_root" serve --addr 127.0.0.1:0 >"$serve_log" 2>&1 &
serve_pid=$!
addr=""
for _ in $(seq 100); do
	addr=$(sed -n 's#.* at http://\(.*\)$#\1#p' "$serve_log" | head -1)
	[ -n "$addr" ] && break
	kill -0 "$serve_pid" 2>/dev/null || break
	sleep 0.1
done
[ -n "$addr" ] || { echo "strata serve did not start:" >&2; cat "$serve_log" >&2; exit 1; }
head -1 "$serve_log"

echo
echo "== a user: pull alpine through the mirror, then run it"
export STRATA_ROOT="$user_root"
printf '\n$ export STRATA_ROOT=%s\n' "$user_root"
run bin/strata --registry-mirror "http://$addr" pull alpine
run bin/strata images
run bin/strata run --rm alpine cat /etc/alpine-release
run bin/strata run --rm alpine sh -c 'hostname; ls -l /proc/self/ns'
printf '\nThe same namespaces seen from the host, for comparison:\n'
run ls -l /proc/self/ns

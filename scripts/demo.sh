#!/usr/bin/env bash
# make demo: pull alpine through a mirror on 127.0.0.1 and run it, as a new user would.
set -euo pipefail
cd "$(dirname "$0")/.."

root="$PWD/.demo-root"
addr_file="$(mktemp)"
registry_pid=""
cleanup() {
	[ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
	rm -f "$addr_file"
}
trap cleanup EXIT

if [ "$(id -u)" != 0 ]; then
	echo "make demo runs containers: run it as root (sudo make demo)" >&2
	exit 1
fi

bin/demoregistry -addr 127.0.0.1:0 -addr-file "$addr_file" -testdata testdata &
registry_pid=$!
for _ in $(seq 100); do [ -s "$addr_file" ] && break; sleep 0.1; done
[ -s "$addr_file" ] || { echo "demo registry did not start" >&2; exit 1; }
mirror="http://$(cat "$addr_file")"

run() {
	local shown=() a
	for a in "$@"; do
		case "$a" in *[\ \;\$\'\|]*) shown+=("'$a'") ;; *) shown+=("$a") ;; esac
	done
	printf '\n$ %s\n' "${shown[*]}"
	"$@"
}
export STRATA_ROOT="$root"
run bin/strata --registry-mirror "$mirror" pull alpine
run bin/strata images
run bin/strata run --rm alpine cat /etc/alpine-release
run bin/strata run --rm alpine sh -c 'hostname; ls -l /proc/self/ns'
printf '\nThe same namespaces seen from the host, for comparison:\n'
run ls -l /proc/self/ns

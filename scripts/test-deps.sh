#!/usr/bin/env bash
# Installs, with apt, what the integration tests need and the machine lacks.
set -euo pipefail
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v lsns >/dev/null || need+=(util-linux)
command -v ip >/dev/null || need+=(iproute2)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v skopeo >/dev/null || need+=(skopeo)
command -v podman >/dev/null || need+=(podman)
command -v containerd >/dev/null || need+=(containerd)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "test-deps: missing ${need[*]}; run as root to install them (integration tests skip without them)" >&2
	exit 0
fi
echo "test-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

#!/usr/bin/env bash
# make test: fixtures intact, every Go test (unit tests need no root; integration tests run
# as root and skip with a reason otherwise), then a short fuzz of the tar applier.
set -euo pipefail
cd "$(dirname "$0")/.."
(cd testdata/alpine && sha256sum --quiet -c SHA256SUMS)
(cd testdata/busybox/busybox-1.38.0-musl-oci && sha256sum --quiet -c ../busybox-1.38.0-musl-oci.SHA256SUMS)
# The integration tests run the strata binary that `make build` just wrote.
export STRATA_BIN="$PWD/bin/strata"
go test -count=1 -timeout 12m ./...
# A count, not a duration: go1.26's fuzz coordinator can fail a duration-bound run with a bare
# "context deadline exceeded" as the time runs out (go.dev/issue/75804, fixed in 1.27).
go test -run='^$' -fuzz=FuzzApply -fuzztime=30000x -fuzzminimizetime=10x ./layers

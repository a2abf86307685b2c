package main

import (
	"path/filepath"

	"github.com/strata-run/strata/runner"
	"golang.org/x/sys/unix"
)

// runtimeDir is where strata keeps what it rebuilds at will, on the tmpfs /run as runc and
// podman do: the helper program there costs no disk and is shared by every --root.
const runtimeDir = "/run/strata"

// useHelper hands the embedded helper program (helper_embed.go) to the runner, which writes it
// once under /run/strata/helpers (or <root>/helpers where /run is not writable). A strata built
// without one starts its helpers from its own binary.
func useHelper(root string) {
	dir := filepath.Join(runtimeDir, "helpers")
	if unix.Access(filepath.Dir(runtimeDir), unix.W_OK) != nil {
		dir = filepath.Join(root, "helpers")
	}
	runner.UseHelper(helperProgram, helperDigest, dir)
}

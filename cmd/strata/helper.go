package main

import (
	"path/filepath"

	"github.com/strata-run/strata/runner"
)

// useHelper hands the embedded helper program (helper_embed.go) to the runner, which keeps it
// under <root>/helpers. A strata built without one starts its helpers from its own binary.
func useHelper(root string) {
	runner.UseHelper(helperProgram, helperDigest, filepath.Join(root, "helpers"))
}

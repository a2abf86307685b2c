//go:build strata_helper

package main

import (
	_ "embed"
	"strings"
)

// The helper program (internal/cmd/strata-init) and its sha256, put here by `make build`
// before it builds strata with -tags strata_helper.
var (
	//go:embed helper/strata-init
	helperProgram []byte
	//go:embed helper/strata-init.sha256
	helperDigestFile string
	helperDigest     = strings.TrimSpace(helperDigestFile)
)

//go:build !strata_helper

package main

// Without -tags strata_helper there is no embedded helper: strata re-executes itself.
var (
	helperProgram []byte
	helperDigest  string
)

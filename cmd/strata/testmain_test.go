package main

import (
	"os"
	"testing"

	"github.com/strata-run/strata/runner"
)

// TestMain lets the test binary be its own container init, monitor and reaper, as main lets
// strata be: a test that starts a container in-process re-executes this binary as its init,
// which without this ran the whole test suite again inside the container, and again in
// that one's, until the test timeout.
func TestMain(m *testing.M) {
	runner.MaybeInit()
	os.Exit(m.Run())
}

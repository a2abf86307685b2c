package registry

import (
	"fmt"
	"os"
	"testing"

	"github.com/strata-run/strata/internal/testdns"
)

// TestMain keeps every name the tests look up (registry.example.com, registry.invalid) off
// the machine's resolver: they reach an NXDOMAIN responder on 127.0.0.1 instead.
func TestMain(m *testing.M) {
	stop, err := testdns.NoRealDNS()
	if err != nil {
		fmt.Fprintln(os.Stderr, "registry tests: no fake DNS:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

package integration

import (
	"strings"
	"testing"
)

// TestDNSOptAlias: docker's hidden --dns-opt, the older name of --dns-option that scripts
// still pass, sets the option in the container's resolv.conf as --dns-option does; strata
// refused it as an unknown flag.
func TestDNSOptAlias(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	r := mustStrata(t, root, "run", "--rm", "--dns-opt", "ndots:3", "--dns-option", "timeout:2", "alpine", "cat", "/etc/resolv.conf")
	if !strings.Contains(r.Stdout, "options ndots:3 timeout:2") {
		t.Errorf("resolv.conf with --dns-opt ndots:3 --dns-option timeout:2 =\n%s\nwant both options", r.Stdout)
	}
}

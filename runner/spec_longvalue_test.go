package runner

import (
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
)

// TestSpecLongValueCut: the Spec's checks quote a long --network or mount target back cut, as
// the flags' own checks do, in a short line: they came back whole (100 KB).
func TestSpecLongValueCut(t *testing.T) {
	long := strings.Repeat("x", 100000)
	for _, s := range []Spec{
		{Network: long},
		{Mounts: []mount.Mount{{Type: "tmpfs", Source: "tmpfs", Target: "/proc/" + long}}},
		{Mounts: []mount.Mount{{Type: "tmpfs", Source: "tmpfs", Target: "/" + long + "/.."}}},
	} {
		s.ID, s.Args = "c", []string{"true"}
		err := s.withDefaults().validateInput()
		if err == nil || len(err.Error()) > 200 || strings.Contains(err.Error(), "\n") {
			t.Errorf("%.80v: error %.400v, want a short line", s, err)
		}
	}
}

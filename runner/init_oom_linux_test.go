package runner

import (
	"strings"
	"testing"
)

// TestRunInitOOMKilled: an init the OOM killer ends while it sets the container up (a few MB
// of --memory, an image's environment of megabytes, which it decodes and holds) is said to
// be, in one line, as runc says it, not "exited while setting up".
func TestRunInitOOMKilled(t *testing.T) {
	spec := testSpec(t, "true")
	spec.Resources.Memory = 6 << 20
	spec.Resources.MemorySwap = 6 << 20
	for i := range 80 {
		spec.Env = append(spec.Env, "V"+strings.Repeat("x", i%10)+string(rune('a'+i%26))+strings.Repeat("y", i/26)+"="+strings.Repeat("v", 64<<10))
	}
	code, _, stderr, err := runOut(t, spec)
	want := "init: killed by the OOM killer while setting up the container: the memory limit is too low"
	if code != ExitOwnError || err == nil || !strings.Contains(err.Error(), want) || stderr != "" {
		t.Errorf("Run(--memory 6m, 5 MB of environment) = %d, %v, stderr %q; want %d and %q", code, err, stderr, ExitOwnError, want)
	}
}

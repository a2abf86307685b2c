package main

import (
	"strings"
	"testing"
)

// TestPruneFilterUntil: prune -a --filter until= removes, as docker's image prune does, only
// the unused images created before the time given (a time, or a duration before now): CI
// clean-up steps run `docker image prune -af --filter until=24h`, which failed with
// "unknown flag: --filter". Keys docker's image prune does not know are refused, not
// ignored (label= is TestPruneFilterLabel's).
func TestPruneFilterUntil(t *testing.T) {
	root := loadedTestImages(t)
	names := func() string {
		t.Helper()
		out, err := strata(t, root, nil, "images", "--format", "{{.Repository}}:{{.Tag}} {{.CreatedAt}}")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := names()
	// alpine was built in 2024, busybox in 2026.
	if !strings.Contains(before, "alpine:latest 2024-") || !strings.Contains(before, "busybox:1.38.0-musl 2026-") {
		t.Fatalf("images = %q, want alpine of 2024 and busybox of 2026", before)
	}
	// Every image is younger than 100000 hours (11 years): nothing goes.
	if out, err := strata(t, root, nil, "prune", "-a", "-f", "--filter", "until=100000h"); err != nil || strings.Contains(out, "Untagged") {
		t.Errorf("prune -a --filter until=100000h = %q, %v; want nothing untagged", out, err)
	}
	out, err := strata(t, root, nil, "image", "prune", "-a", "--dry-run", "--filter", "until=2025-06-01")
	if err != nil || !strings.Contains(out, "Would untag: alpine:latest\n") || strings.Contains(out, "busybox") {
		t.Errorf("prune -a --dry-run --filter until=2025-06-01 = %q, %v; want alpine only", out, err)
	}
	out, err = strata(t, root, nil, "prune", "-a", "--filter", "until=2025-06-01")
	if err != nil || !strings.Contains(out, "Untagged: alpine:latest\n") || !strings.Contains(out, "Untagged: alpine:3.20.3\n") || strings.Contains(out, "busybox") {
		t.Errorf("prune -a --filter until=2025-06-01 = %q, %v; want alpine's two names untagged, busybox kept", out, err)
	}
	if got := names(); !strings.HasPrefix(got, "busybox:1.38.0-musl ") || strings.Count(got, "\n") != 1 {
		t.Errorf("images after = %q, want busybox alone", got)
	}
	for _, f := range []string{"bogus=a=b", "until=soon", "until", "until=1h,until=2h"} {
		if out, err := strata(t, root, nil, "prune", "-a", "--filter", f); err == nil || !strings.Contains(err.Error(), "--filter") {
			t.Errorf("prune -a --filter %s = %q, %v; want a --filter error", f, out, err)
		}
	}
	if _, err := strata(t, root, nil, "prune", "--filter", "until=1h", "--filter", "until=2h"); err == nil {
		t.Errorf("prune with until given twice: no error")
	}
}

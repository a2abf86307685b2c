package runner

import (
	"context"
	"testing"
)

// BenchmarkRunTrue measures one foreground `true` container over an overlay of alpine: the
// cost of strata's own start and teardown (sealed binary copy, namespaces, cgroup, mounts,
// exec, cleanup). Setup (a fresh container dir) is excluded.
func BenchmarkRunTrue(b *testing.B) {
	testSpec(b, "true") // skips with the reason when root, overlay or the fixture is missing
	for b.Loop() {
		b.StopTimer()
		spec := testSpec(b, "true")
		b.StartTimer()
		code, err := Run(context.Background(), spec, Stdio{})
		if err != nil || code != 0 {
			b.Fatalf("Run = %d, %v", code, err)
		}
	}
}

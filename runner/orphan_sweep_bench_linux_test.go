package runner

import (
	"os"
	"testing"
)

// benchStore opens the container store STRATA_SWEEP_STORE names (e.g. one holding 50
// detached --rm containers), or skips.
func benchStore(b *testing.B) *Store {
	dir := os.Getenv("STRATA_SWEEP_STORE")
	if dir == "" {
		b.Skip("STRATA_SWEEP_STORE names no container store")
	}
	s, err := OpenStore(dir)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkSweepOrphans measures SweepOrphans, what every `strata run` pays as it exits. It
// removes nothing from a store of live containers.
func BenchmarkSweepOrphans(b *testing.B) {
	s := benchStore(b)
	for b.Loop() {
		if err := s.SweepOrphans(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSweepOrphanContainers is its part that reads the store's containers.
func BenchmarkSweepOrphanContainers(b *testing.B) {
	s := benchStore(b)
	for b.Loop() {
		if err := s.sweepOrphans(false); err != nil {
			b.Fatal(err)
		}
	}
}

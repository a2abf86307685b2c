package runner

import (
	"os"
	"testing"
	"time"
)

// TestWarmStartLeavesNoFD: the warm-up's pidfd of this process is released, so nothing of it
// can reach a helper this process starts next.
func TestWarmStartLeavesNoFD(t *testing.T) {
	count := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	before := count()
	select {
	case <-WarmStart():
	case <-time.After(10 * time.Second):
		t.Fatal("WarmStart did not finish")
	}
	if after := count(); after != before {
		t.Errorf("open fds went from %d to %d across WarmStart", before, after)
	}
}

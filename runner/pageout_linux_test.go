package runner

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestPageOutExecutable checks that dropping the binary's read-only pages lowers this
// process's file-backed RSS and that the process keeps running correctly afterwards.
func TestPageOutExecutable(t *testing.T) {
	before := rssFileKB(t)
	pageOutExecutable()
	after := rssFileKB(t)
	if after >= before {
		t.Errorf("RssFile %d kB after pageOutExecutable, want less than the %d kB before", after, before)
	}
	// Code runs again from refaulted pages.
	if got := strings.Repeat("x", 3); got != "xxx" {
		t.Fatalf("after page-out: %q", got)
	}
}

func rssFileKB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("parsing %q: %v", line, err)
			}
			return n
		}
	}
	t.Skip("skipping: /proc/self/status has no RssFile")
	return 0
}

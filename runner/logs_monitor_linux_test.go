package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
)

// logOf returns the entries of c's log.json as "stream:log".
func logOf(t *testing.T, c *Container) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.Dir, logFile))
	if err != nil {
		t.Fatal(err)
	}
	return entryTexts(logEntries(t, b))
}

// A detached container's line written in two writes is one entry, and the unfinished line it
// leaves when it exits is logged, before the exit is recorded: a `logs -f` that follows it
// prints it before it ends.
func TestMonitorLogsWholeLines(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "sh", "-c", "printf abc; sleep .3; echo def; printf tail >&2")
	ctx := context.Background()
	if err := Start(ctx, c); err != nil {
		t.Fatalf("Start = %v", err)
	}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out, errOut testutil.SyncBuffer
	if err := Logs(fctx, c, LogOptions{Follow: true}, &out, &errOut); err != nil || fctx.Err() != nil {
		t.Fatalf("Logs(Follow) = %v (%v)", err, fctx.Err())
	}
	if out.String() != "abcdef\n" || errOut.String() != "tail" {
		t.Errorf("Logs(Follow) printed %q, %q; want \"abcdef\\n\", \"tail\"", out.String(), errOut.String())
	}
	want := []string{"stdout:abcdef\n", "stderr:tail"}
	if got := logOf(t, c); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("log entries = %q, want %q", got, want)
	}
}

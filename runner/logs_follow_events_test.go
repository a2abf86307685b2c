package runner

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
)

// TestLogsFollowWokenByWrites: a follower at the end of a running container's log sleeps
// until the log is written or its ctx ends, with no poll to wake it (eventPollMax made an
// hour long here): an idle container's follower reread its log and state 10 times a second,
// and a line showed up to 0.1 s after it was written.
func TestLogsFollowWokenByWrites(t *testing.T) {
	saved := eventPollMax
	eventPollMax = time.Hour
	t.Cleanup(func() { eventPollMax = saved })
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	lc, err := ParseLogConfig("json-file", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "follow", LogConfig: lc})
	if err != nil {
		t.Fatal(err)
	}
	fakeRun(t, c, true)
	cl, err := openContainerLog(c.Dir, lc)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	w := newLogWriter(cl)
	writeLines(t, w, 0, 1)

	var ends atomic.Int32
	logsAtEnd = func() { ends.Add(1) }
	t.Cleanup(func() { logsAtEnd = nil })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out testutil.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- Logs(ctx, c, LogOptions{Follow: true}, &out, io.Discard) }()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("logs -f: no %s in 10 s; it printed %q", what, out.String())
			}
		}
	}
	waitFor("first line", func() bool { return out.String() == wantLines(0, 1) })
	waitFor("end of the log", func() bool { return ends.Load() >= 1 })

	time.Sleep(300 * time.Millisecond)
	if n := ends.Load(); n > 1 {
		t.Errorf("logs -f of an idle container reached its log's end %d times in 0.3 s, want once", n)
	}
	writeLines(t, w, 1, 3)
	waitFor("line written while it slept", func() bool { return out.String() == wantLines(0, 3) })

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Logs = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("logs -f did not end within 5 s of its ctx's cancel")
	}
	if got := out.String(); !strings.HasSuffix(got, "line2\n") {
		t.Errorf("logs -f printed %q", got)
	}
}

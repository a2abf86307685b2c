package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"

	"github.com/strata-run/strata/runner"
)

// TestStatsNamedRemoved: `stats a b` goes on when b is removed while shown, b's line then
// "--", as docker stats goes on: it ended 'no such container', exit 1, at the first rm.
func TestStatsNamedRemoved(t *testing.T) {
	defer func(d time.Duration) { statsInterval = d }(statsInterval)
	statsInterval = 50 * time.Millisecond
	g := &globals{root: t.TempDir()}
	s, err := runner.OpenStore(g.containersDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(runner.Config{Name: "stay"}); err != nil {
		t.Fatal(err)
	}
	gone, err := s.Create(runner.Config{Name: "gone"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var out testutil.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runStats(ctx, g, &out, &out, []string{"stay", "gone"}, statsOptions{format: "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}"})
	}()
	for !strings.Contains(out.String(), "gone 0.00%") && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Remove(context.Background(), gone, true); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(out.String(), "gone -- -- / -- --") && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	n := strings.Count(out.String(), "stay ")
	for strings.Count(out.String(), "stay ") < n+2 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stats stay gone, gone removed = %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "gone -- -- / -- --\n") || strings.Count(out.String(), "stay ") < n+2 {
		t.Errorf("stats stay gone, gone removed, printed\n%s\nwant stay going on and gone as --", out.String())
	}
	// A name that never was is still refused at the start.
	err = runStats(context.Background(), g, &out, &out, []string{"stay", "nosuch"}, statsOptions{noStream: true})
	if err == nil || !strings.Contains(err.Error(), "no such container") {
		t.Errorf("stats stay nosuch = %v, want no such container", err)
	}
}

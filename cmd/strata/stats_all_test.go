package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/runner"
)

// TestStatsAllNoTrunc: stats -a shows the containers that do not run too, with nothing used,
// and --no-trunc whole IDs, as docker stats's flags; both were refused as unknown flags. Two
// names that are no container give an error line each.
func TestStatsAllNoTrunc(t *testing.T) {
	defer func(d time.Duration) { statsInterval = d }(statsInterval)
	statsInterval = 10 * time.Millisecond
	g := &globals{root: t.TempDir()}
	s, err := runner.OpenStore(g.containersDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(runner.Config{Name: "idle"})
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := runStats(context.Background(), g, &out, &errOut, nil, statsOptions{noStream: true, format: "{{.Name}}"}); err != nil || out.String() != "" {
		t.Errorf("stats --no-stream, nothing running = %v, %q; want no line", err, out.String())
	}
	out.Reset()
	if err := runStats(context.Background(), g, &out, &errOut, nil, statsOptions{noStream: true, all: true, noTrunc: true, format: "{{.Name}} {{.ID}} {{.CPUPerc}} {{.PIDs}}"}); err != nil {
		t.Fatal(err)
	}
	if want := "idle " + c.ID + " 0.00% 0\n"; out.String() != want {
		t.Errorf("stats -a --no-trunc --no-stream printed %q, want %q", out.String(), want)
	}
	out.Reset()
	if err := runStats(context.Background(), g, &out, &errOut, nil, statsOptions{noStream: true, all: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), shortID(c.ID)+" ") || strings.Contains(out.String(), c.ID) {
		t.Errorf("stats -a --no-stream printed %q, want the short ID", out.String())
	}
	out.Reset()
	err = runStats(context.Background(), g, &out, &errOut, []string{"nosuch1", "nosuch2"}, statsOptions{noStream: true})
	if err == nil || !strings.Contains(err.Error(), "nosuch2") || errOut.String() != "strata: nosuch1: no such container\n" {
		t.Errorf("stats nosuch1 nosuch2 = %v, stderr %q; want an error line for each", err, errOut.String())
	}
	for _, args := range [][]string{{"stats", "-a", "--no-stream"}, {"stats", "--all", "--no-trunc", "--no-stream"}} {
		if _, _, err := runCLI(t, t.TempDir(), args...); err != nil {
			t.Errorf("%s = %v", strings.Join(args, " "), err)
		}
	}
}

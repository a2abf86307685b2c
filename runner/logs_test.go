package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLogStreamSplitsLines pins docker's json-file shape: one entry per line, whatever the
// pipe reads delivered together or cut apart, so `logs --tail N` counts lines.
func TestLogStreamSplitsLines(t *testing.T) {
	var out bytes.Buffer
	w := newLogWriter(&out)
	for _, chunk := range []string{"one\nthree\n", "par", "tial\n", ""} {
		if n, err := w.stream("stdout").Write([]byte(chunk)); err != nil || n != len(chunk) {
			t.Fatalf("Write(%q) = %d, %v", chunk, n, err)
		}
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e logEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if e.Stream != "stdout" || e.Time.IsZero() {
			t.Errorf("entry %+v, want stream stdout and a time", e)
		}
		got = append(got, e.Log)
	}
	want := []string{"one\n", "three\n", "partial\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("entries = %q, want %q", got, want)
	}
}

// TestLogsSinceUntil: --since and --until keep the entries written in their window, bounds
// included, with and without --tail.
func TestLogsSinceUntil(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	var log bytes.Buffer
	for i, line := range []string{"one\n", "two\n", "three\n"} {
		b, err := json.Marshal(logEntry{Log: line, Stream: "stdout", Time: t0.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		log.Write(append(b, '\n'))
	}
	if err := os.WriteFile(filepath.Join(dir, logFile), log.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: strings.Repeat("a", 64), Dir: dir}
	tests := []struct {
		opts LogOptions
		want string
	}{
		{LogOptions{}, "one\ntwo\nthree\n"},
		{LogOptions{Since: t0.Add(time.Minute)}, "two\nthree\n"},
		{LogOptions{Until: t0.Add(time.Minute)}, "one\ntwo\n"},
		{LogOptions{Since: t0.Add(30 * time.Second), Until: t0.Add(90 * time.Second)}, "two\n"},
		{LogOptions{Since: t0.Add(time.Hour)}, ""},
		{LogOptions{Tail: 2, Until: t0.Add(time.Minute)}, "two\n"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		if err := Logs(context.Background(), c, tt.opts, &out, &errOut); err != nil {
			t.Fatalf("Logs(%+v) = %v", tt.opts, err)
		}
		if out.String() != tt.want {
			t.Errorf("Logs(%+v) printed %q, want %q", tt.opts, out.String(), tt.want)
		}
	}
}

// TestLogsFollowNothingToFollow: logs -f of a container that has no log and is not being
// started (created, or exited without one) ends at once without an error, as docker's.
func TestLogsFollowNothingToFollow(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	created, err := s.Create(Config{Name: "created"})
	if err != nil {
		t.Fatal(err)
	}
	exited, err := s.Create(Config{Name: "exited"})
	if err != nil {
		t.Fatal(err)
	}
	exited.State = State{Status: StatusExited, ExitCode: 3}
	if err := exited.saveState(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Container{created, exited} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var out, errOut bytes.Buffer
		err := Logs(ctx, c, LogOptions{Follow: true}, &out, &errOut)
		if err != nil || ctx.Err() != nil || out.Len() > 0 || errOut.Len() > 0 {
			t.Errorf("%s: Logs(Follow) = %v (%v), %q, %q; want nil at once", c.Config.Name, err, ctx.Err(), out.String(), errOut.String())
		}
		cancel()
	}
}

package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLogsDetails: --details puts a container's log attributes and a space before each
// line, after its timestamp, as docker logs --details; a strata container's lines have no
// attributes, so the space alone. A line without its newline keeps it that way.
func TestLogsDetails(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	var log bytes.Buffer
	for i, e := range []logEntry{{Log: "one\n", Stream: "stdout"}, {Log: "err\n", Stream: "stderr"}, {Log: "last", Stream: "stdout"}} {
		e.Time = t0.Add(time.Duration(i) * time.Second)
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		log.Write(append(b, '\n'))
	}
	if err := os.WriteFile(filepath.Join(dir, logFile), log.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: strings.Repeat("a", 64), Dir: dir}
	for _, tt := range []struct {
		opts           LogOptions
		stdout, stderr string
	}{
		{LogOptions{Details: true}, " one\n last", " err\n"},
		{LogOptions{Details: true, Timestamps: true},
			"2026-11-28T10:00:00.000000000Z  one\n2026-11-28T10:00:02.000000000Z  last",
			"2026-11-28T10:00:01.000000000Z  err\n"},
		{LogOptions{Details: true, Tail: 1}, " last", ""},
	} {
		var out, errOut bytes.Buffer
		if err := Logs(context.Background(), c, tt.opts, &out, &errOut); err != nil {
			t.Fatalf("Logs(%+v) = %v", tt.opts, err)
		}
		if out.String() != tt.stdout || errOut.String() != tt.stderr {
			t.Errorf("Logs(%+v) printed %q and %q, want %q and %q", tt.opts, out.String(), errOut.String(), tt.stdout, tt.stderr)
		}
	}
}

// TestQueryEscapeAsNetURL: --details escapes as docker's (url.QueryEscape) without the helper
// linking net/url.
func TestQueryEscapeAsNetURL(t *testing.T) {
	for _, s := range []string{"", "plain", "a b", "k=v,w", "ünï\x00\x7f\xff", "-_.~!*'()$&+/:;?@[]%#"} {
		if got, want := queryEscape(s), url.QueryEscape(s); got != want {
			t.Errorf("queryEscape(%q) = %q, want %q", s, got, want)
		}
	}
}

package runner

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestLogStreamSplitsLines pins docker's json-file shape: one entry per line, whatever the
// pipe reads delivered together, so `logs --tail N` counts lines.
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
	want := []string{"one\n", "three\n", "par", "tial\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("entries = %q, want %q", got, want)
	}
}

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

// writeLog writes entries as log.json of a container in a temp dir, with raw lines (damaged
// ones) where an entry is nil.
func writeLog(t *testing.T, lines ...any) *Container {
	t.Helper()
	dir := t.TempDir()
	var log bytes.Buffer
	for _, l := range lines {
		switch l := l.(type) {
		case string:
			log.WriteString(l)
		case logEntry:
			b, err := json.Marshal(l)
			if err != nil {
				t.Fatal(err)
			}
			log.Write(append(b, '\n'))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, logFile), log.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return &Container{ID: strings.Repeat("a", 64), Dir: dir}
}

// TestLogsTimestampsFixed: -t writes docker's RFC3339NanoFixed, nine digits of fraction
// always (RFC3339Nano would drop the trailing zeros, and the columns would not line up).
func TestLogsTimestampsFixed(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 500_000_000, time.UTC)
	c := writeLog(t,
		logEntry{Log: "one\n", Stream: "stdout", Time: t0},
		logEntry{Log: "two\n", Stream: "stderr", Time: t0.Add(time.Second / 2)},
	)
	var out, errOut bytes.Buffer
	if err := Logs(context.Background(), c, LogOptions{Timestamps: true}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if want := "2026-11-28T10:00:00.500000000Z one\n"; out.String() != want {
		t.Errorf("logs -t stdout = %q, want %q", out.String(), want)
	}
	if want := "2026-11-28T10:00:01.000000000Z two\n"; errOut.String() != want {
		t.Errorf("logs -t stderr = %q, want %q", errOut.String(), want)
	}
}

// TestLogsDamagedLines: lines of log.json that are not entries (garbage, JSON of another
// shape, null, an entry of no stream, a huge line) are skipped, and what follows them is
// printed; the container's bytes (NUL, \r, escapes) come out as they were written.
func TestLogsDamagedLines(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	c := writeLog(t,
		logEntry{Log: "a\x00b\r\x1b[2Jc\n", Stream: "stdout", Time: t0},
		"not json at all\n",
		"null\n",
		"[1,2,3]\n",
		`{"log":42,"stream":"stdout"}`+"\n",
		`{"log":"x\n","stream":"stdout","time":"yesterday"}`+"\n",
		`{"log":"nostream\n","time":"2026-11-28T10:00:00Z"}`+"\n",
		`{"log":"bogus\n","stream":"../../etc","time":"2026-11-28T10:00:00Z"}`+"\n",
		`{"log":"`+strings.Repeat("z", 4<<20)+"\n",
		"\x00\xff\xfe\n",
		logEntry{Log: "after\n", Stream: "stderr", Time: t0},
		logEntry{Log: "last", Stream: "stdout", Time: t0},
	)
	for _, opts := range []LogOptions{{}, {Timestamps: true}, {Tail: 2}} {
		var out, errOut bytes.Buffer
		if err := Logs(context.Background(), c, opts, &out, &errOut); err != nil {
			t.Fatalf("Logs(%+v) = %v", opts, err)
		}
		strip := func(s string) string {
			if !opts.Timestamps {
				return s
			}
			return strings.ReplaceAll(s, "2026-11-28T10:00:00.000000000Z ", "")
		}
		wantOut := "a\x00b\r\x1b[2Jc\nlast"
		if opts.Tail == 2 {
			wantOut = "last"
		}
		if strip(out.String()) != wantOut || strip(errOut.String()) != "after\n" {
			t.Errorf("Logs(%+v) = %q / %q, want %q / %q", opts, out.String(), errOut.String(), wantOut, "after\n")
		}
	}
}

// writeCounter is one writer behind both of Logs' streams, as a shell's 2>&1 makes them: it
// records what was written, in order, and how many Write calls it took.
type writeCounter struct {
	bytes.Buffer
	calls int
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.calls++
	return w.Buffer.Write(p)
}

// TestLogsBufferedInOrder: Logs writes in blocks, not one Write per entry (a 2-million-line
// log was 2 million write calls), and where stdout and stderr are one file the entries still
// come in the log's order: what one stream holds is written before the other writes.
func TestLogsBufferedInOrder(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	var entries []any
	var want strings.Builder
	for i := range 3000 {
		stream := "stdout"
		if i/1000 == 1 || i == 2500 {
			stream = "stderr"
		}
		line := strings.Repeat("x", i%50) + "\n"
		entries = append(entries, logEntry{Log: line, Stream: stream, Time: t0.Add(time.Duration(i))})
		want.WriteString(line)
	}
	c := writeLog(t, entries...)
	var w writeCounter
	if err := Logs(context.Background(), c, LogOptions{}, &w, &w); err != nil {
		t.Fatal(err)
	}
	if w.String() != want.String() {
		t.Errorf("Logs with stdout and stderr one writer: the entries out of the log's order")
	}
	if w.calls > 30 {
		t.Errorf("Logs wrote %d bytes in %d calls, want a few blocks", w.Len(), w.calls)
	}
}

package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// heapAtFirstWrite is a writer that records, at its first write, the live heap: what Logs
// holds once it starts printing.
type heapAtFirstWrite struct {
	heap  uint64
	wrote bool
	n     int
}

func (w *heapAtFirstWrite) Write(p []byte) (int, error) {
	if !w.wrote {
		w.wrote = true
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		w.heap = m.HeapAlloc
	}
	w.n += len(p)
	return len(p), nil
}

// liveHeap is the heap in use now, after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// bigLog writes a log.json of n entries "line N\n" of stdout, and returns its container.
func bigLog(t *testing.T, n int, before string) (*Container, int64) {
	t.Helper()
	dir := t.TempDir()
	var b bytes.Buffer
	b.WriteString(before)
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for i := range n {
		e, _ := json.Marshal(logEntry{Log: fmt.Sprintf("line %d\n", i), Stream: "stdout", Time: t0})
		b.Write(append(e, '\n'))
	}
	if err := os.WriteFile(filepath.Join(dir, logFile), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return &Container{ID: strings.Repeat("a", 64), Dir: dir}, int64(b.Len())
}

// TestLogsTailHoldsLittle: logs --tail N holds the lines it prints, not the log: it kept a
// ring of the last N raw lines, so with N above the log's length (--tail 100000000, a
// script's "all") it held the whole log, 6 GB of memory for a log.json of 2 GB.
func TestLogsTailHoldsLittle(t *testing.T) {
	c, size := bigLog(t, 300_000, "")
	base := liveHeap()
	var out heapAtFirstWrite
	if err := Logs(context.Background(), c, LogOptions{Tail: 100_000_000}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if out.n == 0 {
		t.Fatal("logs --tail printed nothing")
	}
	if held := int64(out.heap) - int64(base); held > size/4 {
		t.Errorf("logs --tail 100000000 of a %d-byte log held %d bytes when it started printing", size, held)
	}
	// The last lines, and only them.
	var last bytes.Buffer
	if err := Logs(context.Background(), c, LogOptions{Tail: 2}, &last, io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := "line 299998\nline 299999\n"; last.String() != want {
		t.Errorf("logs --tail 2 = %q, want %q", last.String(), want)
	}
}

// TestLogsHugeDamagedLineHoldsLittle: a line of log.json far longer than any entry the
// monitor writes (a hand edit, another program's file) is skipped without being held whole:
// 64 MiB of it took 64 MiB of memory, kept for the rest of the reading.
func TestLogsHugeDamagedLineHoldsLittle(t *testing.T) {
	huge := `{"log":"` + strings.Repeat("z", 64<<20) + "\n"
	c, _ := bigLog(t, 3, huge)
	huge = ""
	for _, opts := range []LogOptions{{}, {Follow: true}} {
		base := liveHeap()
		var out heapAtFirstWrite
		var d LogDamage
		opts.Damage = &d
		if err := Logs(context.Background(), c, opts, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		if held := int64(out.heap) - int64(base); held > 8<<20 {
			t.Errorf("Logs(%+v) of a log with a 64 MiB damaged line held %d bytes after it", opts, held)
		}
		if d.Lines != 1 || d.First != 0 {
			t.Errorf("Logs(%+v) damage = %+v, want 1 line at 0", opts, d)
		}
	}
}

// TestLogsDamageCounted: the damaged lines Logs skips are counted, with the offset of the
// first, for strata logs to say that part of the log could not be read (it said nothing).
func TestLogsDamageCounted(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	good, _ := json.Marshal(logEntry{Log: "a\n", Stream: "stdout", Time: t0})
	c := writeLog(t,
		logEntry{Log: "a\n", Stream: "stdout", Time: t0},
		"not json at all\n",
		`{"log":"x\n","stream":"../../etc","time":"2026-11-28T10:00:00Z"}`+"\n",
		logEntry{Log: "b\n", Stream: "stdout", Time: t0},
		`{"log":"cut`, // a last line without its newline is one being written: not damaged
	)
	for _, opts := range []LogOptions{{}, {Tail: 2}, {Timestamps: true}} {
		var d LogDamage
		opts.Damage = &d
		var out bytes.Buffer
		if err := Logs(context.Background(), c, opts, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		want := LogDamage{Lines: 2, First: int64(len(good) + 1), File: filepath.Join(c.Dir, logFile)}
		if opts.Tail == 2 {
			want.First = int64(len(good)+1) + int64(len("not json at all\n"))
			want.Lines = 1
		}
		if d != want {
			t.Errorf("Logs(%+v) damage = %+v, want %+v", opts, d, want)
		}
	}
}

// TestLogsTailNoneFollowMidLine: logs --tail 0 -f started while the monitor writes a line
// prints that line once it is complete, and counts no damage: it started reading at the end
// of the file, in the middle of the line, and skipped the rest of it as a torn line.
func TestLogsTailNoneFollowMidLine(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	e, _ := json.Marshal(logEntry{Log: "new\n", Stream: "stdout", Time: t0})
	half := len(e) / 2
	c := writeLog(t, logEntry{Log: "old\n", Stream: "stdout", Time: t0}, string(e[:half]))
	if err := os.WriteFile(filepath.Join(c.Dir, stateFile), []byte(`{"status":"exited"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// The monitor completes the line while Logs, at the end of the file, looks at the state:
	// it exited, with more written, which Logs reads before it returns.
	once := false
	afterStateRead = func() {
		if once {
			return
		}
		once = true
		f, err := os.OpenFile(filepath.Join(c.Dir, logFile), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Error(err)
			return
		}
		f.Write(append(e[half:], '\n'))
		f.Close()
	}
	t.Cleanup(func() { afterStateRead = nil })
	var d LogDamage
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := Logs(ctx, c, LogOptions{Tail: TailNone, Follow: true, Damage: &d}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if out.String() != "new\n" || d.Lines != 0 {
		t.Errorf("logs --tail 0 -f = %q, damage %+v; want %q and none", out.String(), d, "new\n")
	}
}

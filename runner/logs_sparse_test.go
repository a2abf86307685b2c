package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestTailStartSparse: logs --tail of a log.json made sparse (a damaged store: 20 GiB of hole
// before its last lines) reads back only its data, not the hole 64 KiB at a time (a minute
// for 20 GiB), and finds the same lines: the hole holds no newline.
func TestTailStartSparse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := "a\nb\n"
	if _, err := f.WriteString(head); err != nil {
		t.Fatal(err)
	}
	const hole = 20 << 30
	if _, err := f.WriteAt([]byte("c\nd\n"), hole); err != nil {
		t.Skipf("no sparse file here: %v", err)
	}
	if d, err := unix.Seek(int(f.Fd()), 1<<20, unix.SEEK_DATA); err != nil || d < hole-(1<<20) {
		t.Skipf("the filesystem does not tell its holes: %d, %v", d, err)
	}
	reads := 0
	tailChunkRead = func() { reads++ }
	defer func() { tailChunkRead = func() {} }()
	for _, c := range []struct {
		n, seen int
		pos     int64
	}{
		{1, 1, hole + 2},
		{2, 2, 4}, // c's line starts with the hole, after b's
		{3, 3, 2},
		{4, 4, 0},
		{10, 4, 0}, // all it has
	} {
		reads = 0
		pos, seen, err := tailStart(f, c.n)
		if err != nil || pos != c.pos || seen != c.seen {
			t.Errorf("tailStart(%d) = %d, %d, %v; want %d, %d", c.n, pos, seen, err, c.pos, c.seen)
		}
		if reads > 8 {
			t.Errorf("tailStart(%d) read %d chunks of 64 KiB; want the data only, not the hole", c.n, reads)
		}
	}
}

// TestLogsSparse: logs (no --tail) of a log.json made sparse (a damaged store: a truncate -s
// of a GiB, then lines) reads its data only, not the hole 64 KiB at a time (a minute for
// 20 GiB), and the hole is no line: the line after it is printed, where it was swallowed by
// the hole's zeros into one damaged line. A damaged line past the hole is reported at its
// offset in the file. A log that is all hole has no line.
func TestLogsSparse(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	c := writeLog(t, logEntry{Log: "a\n", Stream: "stdout", Time: t0}, logEntry{Log: "b\n", Stream: "stderr", Time: t0})
	path := filepath.Join(c.Dir, logFile)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	line, _ := json.Marshal(logEntry{Log: "c\n", Stream: "stdout", Time: t0})
	hole := st.Size() + 1<<30
	after := append(append(line, '\n'), "garbage\n"...)
	if _, err := f.WriteAt(after, hole); err != nil {
		t.Skipf("no sparse file here: %v", err)
	}
	if d, err := unix.Seek(int(f.Fd()), st.Size()+1<<20, unix.SEEK_DATA); err != nil || d < hole-1<<20 {
		t.Skipf("the filesystem does not tell its holes: %d, %v", d, err)
	}
	for _, c2 := range []struct {
		opts         LogOptions
		stdout, errs string
	}{
		{LogOptions{}, "a\nc\n", "b\n"},
		{LogOptions{Tail: 2}, "c\n", ""}, // b's line and the hole's with c's: the damaged one is counted in the 2
		{LogOptions{Tail: 3}, "c\n", "b\n"},
	} {
		var out, errs bytes.Buffer
		var d LogDamage
		opts := c2.opts
		opts.Damage = &d
		if err := Logs(context.Background(), c, opts, &out, &errs); err != nil {
			t.Fatal(err)
		}
		want := LogDamage{Lines: 1, First: hole + int64(len(line)+1), File: path}
		if out.String() != c2.stdout || errs.String() != c2.errs || d != want {
			t.Errorf("Logs(tail %d) = %q, %q, damage %+v; want %q, %q, %+v", c2.opts.Tail, out.String(), errs.String(), d, c2.stdout, c2.errs, want)
		}
	}
	// All hole, nothing after it.
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var d LogDamage
	if err := Logs(context.Background(), c, LogOptions{Damage: &d}, &out, &out); err != nil || out.Len() != 0 || d.Lines != 0 {
		t.Errorf("Logs of a log.json all hole = %q, %v, damage %+v; want nothing", out.String(), err, d)
	}
}

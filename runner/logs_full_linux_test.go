package runner

import (
	"bytes"
	"strings"
	"syscall"
	"testing"
)

// fullWriter takes room bytes, then fails as a full disk does, until given more room.
type fullWriter struct {
	bytes.Buffer
	room int
}

func (w *fullWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.room)
	w.room -= n
	w.Buffer.Write(p[:n])
	if n < len(p) {
		return n, syscall.ENOSPC
	}
	return n, nil
}

// A monitor's log that can take no more does not end the copy of the container's output (its
// tee never fails), and an entry the full disk cut short damages only itself: the next one
// written once there is room again starts on a line of its own.
func TestMonitorLogFull(t *testing.T) {
	w := &fullWriter{room: 1 << 20}
	lw := newLogWriter(w)
	hub := newAttachHub()
	out := hub.tee(frameStdout, lw.stream("stdout"))
	if n, err := out.Write([]byte("one\n")); n != 4 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	w.room = 10 // the disk fills within the next entry
	if n, err := out.Write([]byte("two\n")); n != 4 || err != nil {
		t.Errorf("Write to a full log = %d, %v; want 4, nil (the output goes on)", n, err)
	}
	if n, err := out.Write([]byte("three\n")); n != 6 || err != nil {
		t.Errorf("Write to a full log = %d, %v; want 6, nil", n, err)
	}
	if err := lw.stream("stdout").end(); err != nil {
		t.Fatal(err)
	}
	w.room = 1 << 20 // room again
	if _, err := out.Write([]byte("four\n")); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("log = %q, want 3 lines: one, the cut entry, four", w.String())
	}
	var got []string
	for _, l := range []string{lines[0], lines[2]} {
		got = append(got, entryTexts(logEntries(t, []byte(l+"\n")))...)
	}
	if strings.Join(got, "|") != "stdout:one\n|stdout:four\n" {
		t.Errorf("entries around the cut = %q, want one and four", got)
	}
}

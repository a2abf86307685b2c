package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"

	"github.com/strata-run/strata/internal/safefile"
)

// ErrNotRegular is what Open returns for a log that is no regular file (a symlink, a FIFO, a
// device, a directory): reading one could block forever or never end.
var ErrNotRegular = safefile.ErrNotRegular

// Open opens the log at path for reading: never through a symlink, never blocking on a FIFO,
// and only a regular file (safefile.Open). A missing log is (nil, nil): no event was written
// yet.
func Open(path string) (*os.File, error) {
	f, err := safefile.Open(path, os.O_RDONLY|safefile.NoFollow, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return f, err
}

// Tail reads the events of one open log as it grows. A line longer than MaxLine and a line
// that is no event (garbage, a torn write of a crashed writer) are skipped; the last line,
// while it has no newline, waits for the rest of it.
type Tail struct {
	f       *os.File
	pending []byte
	// skipping: the line being read is too long; its bytes are dropped up to its newline.
	skipping bool
	chunk    []byte
	// skipped: bytes NewTail left unread before MaxBacklog's window.
	skipped int64
}

// MaxBacklog bounds what a Tail reads of what its file held when it was made: writers rotate
// the log past MaxSize, so one many times bigger is no log strata wrote (a sparse file of
// 1 GiB in its place took seconds to read, a bigger one as long as its size, with nothing to
// show meanwhile). Only its last MaxBacklog bytes are read, from the first line that starts
// in them.
const MaxBacklog = 4 * MaxSize

// NewTail reads f from its current offset, or, when more than MaxBacklog bytes follow it,
// from the first line that starts in the last MaxBacklog (Skipped says how much was left).
func NewTail(f *os.File) *Tail {
	t := &Tail{f: f, chunk: make([]byte, 32<<10)}
	fi, err := f.Stat()
	if err != nil {
		return t
	}
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil || fi.Size()-off <= MaxBacklog {
		return t
	}
	// From the byte before the window: the skip drops up to the first newline, so a line
	// that starts right at the window's start is read whole.
	from := fi.Size() - MaxBacklog - 1
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		_, _ = f.Seek(off, io.SeekStart)
		return t
	}
	t.skipping, t.skipped = true, from-off
	return t
}

// Skipped is how many bytes of its file NewTail left unread, the file being past MaxBacklog.
func (t *Tail) Skipped() int64 { return t.skipped }

// File is the file t reads.
func (t *Tail) File() *os.File { return t.f }

// Poll reads what was appended since the last call and calls emit for each event in it, in
// order; emit returning false stops the read (the rest is read by the next Poll).
func (t *Tail) Poll(emit func(Message) bool) error {
	for {
		// Complete lines already read go first.
		for {
			i := bytes.IndexByte(t.pending, '\n')
			if i < 0 {
				break
			}
			line := t.pending[:i]
			t.pending = t.pending[i+1:]
			if t.skipping {
				t.skipping = false
				continue
			}
			if m, ok := Parse(line); ok && !emit(m) {
				return nil
			}
		}
		if len(t.pending) > MaxLine {
			t.pending, t.skipping = t.pending[:0], true
		}
		n, err := t.f.Read(t.chunk)
		if n > 0 {
			if t.skipping && len(t.pending) == 0 {
				if i := bytes.IndexByte(t.chunk[:n], '\n'); i < 0 {
					continue // all of it is the long line's
				}
			}
			t.pending = append(t.pending, t.chunk[:n]...)
			continue
		}
		if err == io.EOF || n == 0 && err == nil {
			if t.truncated() {
				continue
			}
			// Compact: what was consumed goes, so pending never holds more than a line.
			t.pending = append([]byte(nil), t.pending...)
			return nil
		}
		return err
	}
}

// truncated says whether the file was cut below what t has read of it (a user's
// `: > events.log`, logrotate's copytruncate): t then reads it again from its start, as
// tail -F does, and drops the rest of a line it held. Without this, the events written after
// the cut were read only once the file grew past the old offset, and those before it never.
func (t *Tail) truncated() bool {
	off, err := t.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return false
	}
	fi, err := t.f.Stat()
	if err != nil || fi.Size() >= off {
		return false
	}
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		return false
	}
	t.pending, t.skipping = t.pending[:0], false
	return true
}

// Parse reads one line of the log; ok is false for a line that is no event.
func Parse(line []byte) (m Message, ok bool) {
	if len(line) == 0 || len(line) > MaxLine {
		return m, false
	}
	if json.Unmarshal(line, &m) != nil || m.Type == "" || m.Action == "" || m.TimeNano <= 0 {
		return Message{}, false
	}
	return m, true
}

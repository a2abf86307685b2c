package runner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/strata-run/strata/internal/safefile"
)

// logEntry is one line of log.json, the format of docker's json-file driver: one line of one
// stream (or the unfinished end of a write), with the time it was read.
type logEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// logWriter serializes the container's stdout and stderr into one log.json.
type logWriter struct {
	mu  sync.Mutex
	out io.Writer
}

func newLogWriter(w io.Writer) *logWriter { return &logWriter{out: w} }

// setOut sets where the log goes, for a writer made before its file was open (an early
// monitor's): nothing is written before, as the container's command has not run yet.
func (l *logWriter) setOut(w io.Writer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.out = w
}

// stream returns the writer for one stream ("stdout" or "stderr").
func (l *logWriter) stream(name string) *logStream { return &logStream{l: l, name: name} }

// logStream is one stream of a logWriter; every line of a Write becomes one JSON line.
var _ io.Writer = (*logStream)(nil)

type logStream struct {
	l    *logWriter
	name string
}

// Write records p as log lines of this stream, one entry per line as docker's json-file
// does: a pipe read can carry several lines, and `logs --tail N` counts lines. A write that
// does not end in a newline keeps its tail as an entry of its own, so nothing waits unseen.
func (s *logStream) Write(p []byte) (int, error) {
	now := time.Now().UTC()
	var buf []byte
	for rest := p; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
		}
		rest = rest[len(line):]
		b, err := json.Marshal(logEntry{Log: string(line), Stream: s.name, Time: now})
		if err != nil {
			return 0, err
		}
		buf = append(append(buf, b...), '\n')
	}
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	if s.l.out == nil {
		return 0, errors.New("container log is not open yet")
	}
	if _, err := s.l.out.Write(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// LogOptions select what Logs prints, as docker logs' flags.
type LogOptions struct {
	// Follow keeps printing new output until the container stops or ctx ends.
	Follow bool
	// Tail prints only the last Tail entries; zero means all of them, and TailNone (any
	// negative value) none: with Follow, only what the container writes from now on.
	Tail int
	// Timestamps prefixes each entry with its time, RFC 3339 with nine digits of fraction.
	Timestamps bool
	// Since and Until, when not zero, keep only the entries written at or after Since and
	// at or before Until (docker logs --since, --until). Following stops once Until has passed.
	Since, Until time.Time
}

// inWindow says whether an entry written at t passes Since and Until.
func (o LogOptions) inWindow(t time.Time) bool {
	return (o.Since.IsZero() || !t.Before(o.Since)) && (o.Until.IsZero() || !t.After(o.Until))
}

// rfc3339NanoFixed is how docker logs -t writes a time (its jsonmessage.RFC3339NanoFixed):
// always nine digits of fraction, so the lines' text starts in one column.
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

// TailNone as LogOptions.Tail prints none of the output so far: `logs --tail 0`.
const TailNone = -1

// Logs writes a detached container's output to stdout and stderr, each entry to the stream it
// came from.
func Logs(ctx context.Context, c *Container, opts LogOptions, stdout, stderr io.Writer) error {
	if c.notDir {
		return c.Broken
	}
	f, err := openLog(filepath.Join(c.Dir, logFile))
	if errors.Is(err, os.ErrNotExist) {
		if !opts.Follow {
			return nil
		}
		f, err = waitForLog(ctx, c)
	}
	if err != nil {
		return fmt.Errorf("reading logs of container %s: %w", shortID(c.ID), err)
	}
	if f == nil {
		return nil // it logged nothing and will not (a foreground run's has no log)
	}
	defer func() { f.Close() }() // f changes when the log is replaced while followed
	print := func(line []byte) error {
		var e logEntry
		if err := json.Unmarshal(line, &e); err != nil || (e.Stream != "stdout" && e.Stream != "stderr") {
			// A torn last line while the container writes, or one damaged: skip it, as
			// docker's reader skips what it cannot decode, and go on with the next.
			return nil
		}
		if !opts.inWindow(e.Time) {
			return nil
		}
		w := stdout
		if e.Stream == "stderr" {
			w = stderr
		}
		if opts.Timestamps {
			if _, err := io.WriteString(w, e.Time.UTC().Format(rfc3339NanoFixed)+" "); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, e.Log)
		return err
	}

	if opts.Tail < 0 {
		if !opts.Follow {
			return nil
		}
		// Start at the end: a line being written there reads as a torn line and is skipped.
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			return fmt.Errorf("reading logs of container %s: %w", shortID(c.ID), err)
		}
	}
	// With Tail, complete lines up to the first end of file go through a ring of the last
	// Tail; what comes after (following) is printed as it arrives.
	var ring [][]byte
	tailing := opts.Tail > 0
	br := bufio.NewReaderSize(f, 64*1024)
	var partial []byte
	for {
		line, err := br.ReadBytes('\n')
		partial = append(partial, line...)
		if err == nil {
			if tailing {
				ring = append(ring, partial)
				if len(ring) > opts.Tail {
					ring = ring[1:]
				}
				partial = nil
				continue
			}
			if perr := print(partial); perr != nil {
				return perr
			}
			partial = partial[:0]
			continue
		}
		if !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading logs of container %s: %w", shortID(c.ID), err)
		}
		if opts.Follow {
			// Truncated (a user emptying a big log) or replaced (moved aside, a new one
			// made) while followed: what is written next goes to the file at its name, from
			// its start. Read on from the end of the old one, nothing new would ever show.
			nf, reset, err := logChanged(f, filepath.Join(c.Dir, logFile))
			if err != nil {
				return fmt.Errorf("reading logs of container %s: %w", shortID(c.ID), err)
			}
			if reset {
				if nf != f {
					f.Close()
					f = nf
				}
				br.Reset(f)
				partial = partial[:0]
				continue
			}
		}
		if tailing {
			tailing = false
			for _, l := range ring {
				if perr := print(l); perr != nil {
					return perr
				}
			}
			ring = nil
		}
		if !opts.Follow || (!opts.Until.IsZero() && time.Now().After(opts.Until)) {
			return nil
		}
		// At the end of the file: done once the container no longer runs and nothing more
		// was written since.
		if rerr := c.Reload(); rerr != nil || c.State.Status != StatusRunning {
			if more, _ := br.Peek(1); len(more) == 0 {
				return nil
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pollInterval * 5):
		}
	}
}

// waitForLog waits for a following Logs until the monitor has created log.json; nil, nil when
// there is none to wait for, or ctx ended (as following ends without an error).
func waitForLog(ctx context.Context, c *Container) (*os.File, error) {
	for {
		f, err := openLog(filepath.Join(c.Dir, logFile))
		if !errors.Is(err, os.ErrNotExist) {
			return f, err
		}
		// A created container nothing is starting has no output to follow either: docker's
		// logs -f returns at once for a container that does not run.
		if rerr := c.Reload(); rerr != nil || c.State.Status == StatusExited ||
			(c.State.Status == StatusCreated && !c.State.starting()) {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(pollInterval * 5):
		}
	}
}

// openLog opens a container's log.json for reading: a regular file, never through a symlink
// (a log.json -> /etc/shadow must not print the host's file) nor blocking on a FIFO.
func openLog(name string) (*os.File, error) {
	return safefile.Open(name, os.O_RDONLY|safefile.NoFollow, 0)
}

// logChanged checks, at the end of the followed log f, whether the file at name was truncated
// below f's offset (reset, f rewound) or replaced by another file (reset, the new one open).
func logChanged(f *os.File, name string) (_ *os.File, reset bool, err error) {
	pos, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return f, false, err
	}
	cur, err := f.Stat()
	if err != nil {
		return f, false, err
	}
	if at, err := os.Lstat(name); err == nil && !os.SameFile(at, cur) {
		nf, err := openLog(name)
		if err != nil {
			return f, false, nil // no readable log in its place (yet): keep the old one
		}
		return nf, true, nil
	}
	if cur.Size() < pos {
		_, err := f.Seek(0, io.SeekStart)
		return f, err == nil, err
	}
	return f, false, nil
}

package runner

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/strata-run/strata/internal/safefile"
	"golang.org/x/sys/unix"
)

// logEntry is one line of log.json, the format of docker's json-file driver: one line of one
// stream with the time it was completed, or a piece of one (see logStream).
type logEntry struct {
	Log    string `json:"log"`
	Stream string `json:"stream"`
	// Attrs are the attributes --log-opt labels, env and tag give every entry (logAttrs),
	// as docker's json-file writes them; logs --details shows them.
	Attrs json.RawMessage `json:"attrs,omitempty"`
	Time  time.Time       `json:"time"`
}

// logLineMax is the most of an unfinished line a logStream holds: a longer line is written as
// pieces of this size, as docker's log copier (daemon/logger/copier.go) does with its 16 KiB
// buffer. It bounds the memory a container's output takes in its monitor.
const logLineMax = 16 * 1024

// logWriter serializes the container's stdout and stderr into one log.json.
type logWriter struct {
	// none: the logging driver keeps nothing (none); what the streams take is dropped.
	none atomic.Bool
	// attrs, when set, are the attributes of every entry (setAttrs).
	attrs          atomic.Pointer[json.RawMessage]
	mu             sync.Mutex
	out            io.Writer
	stdout, stderr *logStream
	// cut: the last write failed part-way (a full disk), leaving an entry without its
	// newline; the next starts with one, so that only that entry is damaged, not the next.
	cut bool
}

func newLogWriter(w io.Writer) *logWriter {
	l := &logWriter{out: w}
	l.stdout = &logStream{l: l, name: "stdout"}
	l.stderr = &logStream{l: l, name: "stderr"}
	return l
}

// setOut sets where the log goes, for a writer made before its file was open (an early
// monitor's): nothing is written before, as the container's command has not run yet.
func (l *logWriter) setOut(w io.Writer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.out = w
}

// setAttrs sets the attributes every entry carries (logAttrs), before the container runs.
func (l *logWriter) setAttrs(a json.RawMessage) {
	if len(a) > 0 {
		l.attrs.Store(&a)
	}
}

// discard makes l drop what its streams take, for a container whose logging driver is none:
// its output still goes to attach clients, and to no log.
func (l *logWriter) discard() {
	l.none.Store(true)
}

// stream returns the writer for one stream ("stdout" or "stderr"), the same one every call.
func (l *logWriter) stream(name string) *logStream {
	if name == "stderr" {
		return l.stderr
	}
	return l.stdout
}

// flush writes what is left of both streams' unfinished lines, once the container's output
// has ended (its pipes' EOF): as docker's copier does at EOF, an output that does not end in
// a newline still has its end logged. The caller flushes before it records the exit, so
// that a following `logs -f`, which stops once the container no longer runs and nothing
// more was written, shows it.
func (l *logWriter) flush() error {
	return errors.Join(l.stdout.end(), l.stderr.end())
}

// logStream is one stream of a logWriter. It buffers the stream as docker's log copier does:
// an entry is written once its line is complete (with the time it was completed), or once
// logLineMax bytes of it came without a newline (a piece, without "\n": the line's later
// pieces and its end have that first piece's time), or at the end of the output (flush).
// A line thus reads as one entry however the container's writes and our pipe reads cut it,
// and `logs --tail N` and `logs -t` see whole lines.
var _ io.Writer = (*logStream)(nil)

type logStream struct {
	l    *logWriter
	name string

	mu sync.Mutex // Write and end
	// buf is the unfinished line, fewer than logLineMax bytes (allocated once needed).
	buf []byte
	// pieceTime is the time of the first piece of a line cut at logLineMax, zero otherwise.
	pieceTime time.Time
	// ended: the output ended (flush); what comes after anyway (a copy that outlived its
	// drain) is written as it comes, as nothing would flush it.
	ended bool
}

// Write records p as log entries of this stream, one per completed line.
func (s *logStream) Write(p []byte) (int, error) {
	if s.l.none.Load() {
		return len(p), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(p)
	var out []byte
	var err error
	for len(p) > 0 && err == nil {
		i := bytes.IndexByte(p, '\n')
		if i >= 0 && len(s.buf)+i < logLineMax {
			line := p[:i+1]
			if len(s.buf) > 0 {
				line = append(s.buf, line...)
			}
			out, err = s.appendEntry(out, line, true)
			s.buf, p = s.buf[:0], p[i+1:]
			continue
		}
		// No newline, or not before the buffer is full: buffer what fits, and write the
		// buffer as a piece once it is full.
		take := len(p)
		if i >= 0 {
			take = i
		}
		take = min(take, logLineMax-len(s.buf))
		if s.buf == nil {
			s.buf = make([]byte, 0, logLineMax)
		}
		s.buf, p = append(s.buf, p[:take]...), p[take:]
		if len(s.buf) == logLineMax {
			// The piece ends before a character the cut would split: its first bytes,
			// alone, are no UTF-8 the log's JSON can hold, and both halves became U+FFFD.
			keep := splitRuneTail(s.buf)
			out, err = s.appendEntry(out, s.buf[:len(s.buf)-keep], false)
			s.buf = append(s.buf[:0], s.buf[len(s.buf)-keep:]...)
		}
	}
	if s.ended && len(s.buf) > 0 && err == nil {
		out, err = s.appendEntry(out, s.buf, false)
		s.buf = s.buf[:0]
	}
	if err != nil {
		return 0, err
	}
	if err := s.l.write(out); err != nil {
		return 0, err
	}
	return n, nil
}

// splitRuneTail is how many bytes at the end of b begin a UTF-8 character that b does not
// hold whole (0 to 3): a piece of a long line cut there would log them as U+FFFD, and the
// rest of the character, at the start of the next piece, too. docker's copier cuts at 16 KiB
// whatever it splits, and its json-file loses the character so; bytes that are no UTF-8 at
// all are logged as U+FFFD either way.
func splitRuneTail(b []byte) int {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			if utf8.FullRune(b[len(b)-i:]) {
				return 0
			}
			return i
		}
	}
	return 0
}

// end writes the unfinished line, if any, as a last piece, and leaves the stream unbuffered.
func (s *logStream) end() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	if len(s.buf) == 0 {
		return nil
	}
	out, err := s.appendEntry(nil, s.buf, false)
	s.buf = s.buf[:0]
	if err != nil {
		return err
	}
	return s.l.write(out)
}

// appendEntry appends to out the JSON line of an entry of this stream logging line, a complete
// line or (complete false) a piece of one.
func (s *logStream) appendEntry(out, line []byte, complete bool) ([]byte, error) {
	t := s.pieceTime
	switch {
	case t.IsZero():
		t = time.Now().UTC()
		if !complete {
			s.pieceTime = t
		}
	case complete:
		s.pieceTime = time.Time{}
	}
	e := logEntry{Log: string(line), Stream: s.name, Time: t}
	if a := s.l.attrs.Load(); a != nil {
		e.Attrs = *a
	}
	b, err := json.Marshal(e)
	if err != nil {
		return out, err
	}
	return append(append(out, b...), '\n'), nil
}

// write appends entries to the log.
func (l *logWriter) write(entries []byte) error {
	if len(entries) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.out == nil {
		return errors.New("container log is not open yet")
	}
	if l.cut {
		if _, err := l.out.Write([]byte{'\n'}); err != nil {
			return err
		}
		l.cut = false
	}
	n, err := l.out.Write(entries)
	if err != nil && n > 0 && entries[n-1] != '\n' {
		l.cut = true
	}
	return err
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
	// Details prefixes each entry, after its time, with its attributes (from --log-opt
	// labels, env and tag; key=value,…) and a space, as docker logs --details: the space
	// alone for an entry without any.
	Details bool
	// Since and Until, when not zero, keep only the entries written at or after Since and
	// at or before Until (docker logs --since, --until). Following stops once Until has passed.
	Since, Until time.Time
	// Damage, when not nil, is filled with what Logs skipped as damaged.
	Damage *LogDamage
}

// detailsOf is how docker's logs --details shows an entry's attributes: key=value, both
// query-escaped, joined by commas (sorted by key here; docker's come in a map's order).
func detailsOf(attrs json.RawMessage) string {
	if len(attrs) == 0 {
		return ""
	}
	var m map[string]string
	if json.Unmarshal(attrs, &m) != nil {
		return ""
	}
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(queryEscape(k) + "=" + queryEscape(m[k]))
	}
	return b.String()
}

// queryEscape is net/url's QueryEscape, written out: the helper (which links this package)
// stays without net/url. Letters, digits and -_.~ are kept, a space is +, the rest %XX.
func queryEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
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

// maxLogEntry bounds a line of log.json that Logs holds: the monitor writes none longer than
// about 6 × logLineMax (a piece of control characters, each written \u00XX), so a longer line
// is damaged (a hand edit, another program's file), and is skipped without being held whole:
// a log.json of one 2 GiB line took 2 GiB of memory to skip.
const maxLogEntry = 1 << 20

// LogDamage is what Logs could not read of a log.json: lines that are no log entry (garbage,
// a line cut by a hand edit, JSON of another shape), which it skips, as docker's reader skips
// what it cannot decode.
type LogDamage struct {
	// Lines is how many were skipped.
	Lines int
	// First is the byte offset of the first one in its file (decompressed, for a gzipped
	// rotated file).
	First int64
	// File is the path of the file the first one is in: log.json, or a rotated file.
	File string
}

func (d *LogDamage) add(file string, at int64) {
	if d.Lines == 0 {
		d.First, d.File = at, file
	}
	d.Lines++
}

// logWriters are Logs' stdout and stderr, buffered: a write per entry made `logs` of a
// 2-million-line log 2 million write calls. What one holds is written before the other
// takes an entry, so the two keep the log's order where they are one file (2>&1), and
// both are flushed before Logs waits for more and when it returns.
type logWriters struct {
	out, err *bufio.Writer
}

func newLogWriters(stdout, stderr io.Writer) *logWriters {
	return &logWriters{out: bufio.NewWriterSize(stdout, 32<<10), err: bufio.NewWriterSize(stderr, 32<<10)}
}

// stream is the writer for an entry of stream, the other's bytes written first.
func (w *logWriters) stream(stream string) (*bufio.Writer, error) {
	this, other := w.out, w.err
	if stream == "stderr" {
		this, other = w.err, w.out
	}
	if other.Buffered() > 0 {
		if err := other.Flush(); err != nil {
			return nil, err
		}
	}
	return this, nil
}

func (w *logWriters) flush() error {
	return errors.Join(w.out.Flush(), w.err.Flush())
}

// Logs writes a container's output to stdout and stderr, each entry to the stream it came
// from, reading its rotated files (log.json.N, gzipped or not) before log.json. The lines of
// the log it skips as damaged are counted in opts.Damage, when not nil. A container whose
// logging driver keeps no log (none) has ErrLogsNotSupported.
func Logs(ctx context.Context, c *Container, opts LogOptions, stdout, stderr io.Writer) (err error) {
	if c.notDir {
		return c.Broken
	}
	if !c.Config.LogConfig.Keeps() {
		return ErrLogsNotSupported
	}
	out := newLogWriters(stdout, stderr)
	defer func() {
		if ferr := out.flush(); err == nil {
			err = ferr
		}
	}()
	name := filepath.Join(c.Dir, logFile)
	damage := opts.Damage
	if damage == nil {
		damage = &LogDamage{}
	}
	damage.File = name
	srcs, err := openLogSet(c.Dir)
	if errors.Is(err, os.ErrNotExist) {
		if !opts.Follow {
			return nil
		}
		var f *os.File
		if f, err = waitForLog(ctx, c); f != nil {
			srcs = []logSource{{name: name, f: f}}
		}
	}
	if err != nil {
		return fmt.Errorf("reading logs of container %s: %w", shortID(c.ID), err)
	}
	if srcs == nil {
		return nil // it logged nothing and will not (a --rm foreground run's has no log)
	}
	defer func() { closeSources(srcs) }() // srcs changes when the log is rotated while followed
	// The run followed: its start time, once it is seen running. While it is followed, its
	// exit is not overwritten by a restart's start, nor its dir removed, before this has
	// read it (holdDirAsWaiter), and a state written wakes the follower (changes).
	var run time.Time
	release, changes := func() {}, stateWatch{-1}
	defer func() { release(); changes.close() }()
	followRun := func() {
		run = c.State.StartedAt
		release = holdDirAsWaiter(c.Dir)
	}
	if opts.Follow {
		// A write to the log wakes the follower too: its line shows at once, and an idle
		// container's follower sleeps.
		changes = watchDir(c.Dir, unix.IN_MOVED_TO|unix.IN_MODIFY)
		if c.State.Status == StatusRunning {
			followRun()
		}
	}
	print := func(file string, line []byte, at int64) error {
		var e logEntry
		if err := json.Unmarshal(line, &e); err != nil || (e.Stream != "stdout" && e.Stream != "stderr") {
			// Damaged: skip it, as docker's reader skips what it cannot decode, and go on
			// with the next. (A line being written is not read before its newline.)
			damage.add(file, at)
			return nil
		}
		if !opts.inWindow(e.Time) {
			return nil
		}
		w, err := out.stream(e.Stream)
		if err != nil {
			return err
		}
		if opts.Timestamps {
			if _, err := io.WriteString(w, e.Time.UTC().Format(rfc3339NanoFixed)+" "); err != nil {
				return err
			}
		}
		if opts.Details {
			if _, err := io.WriteString(w, detailsOf(e.Attrs)+" "); err != nil {
				return err
			}
		}
		_, err = io.WriteString(w, e.Log)
		return err
	}

	if opts.Tail < 0 && !opts.Follow {
		return nil
	}
	// With Tail, start at the last Tail complete lines, found reading back from the end of
	// log.json, then of the rotated files before it: the memory and time it takes are those
	// of the lines printed, not of the whole log (a ring of the last Tail lines held all of
	// a log shorter than Tail, 6 GB for one of 2 GB). TailNone starts after the last complete
	// line: only what is written from now on.
	cur, pos, skip := 0, int64(0), 0
	if opts.Tail != 0 {
		if cur, pos, skip, err = tailSources(srcs, max(opts.Tail, 0)); err != nil {
			return fmt.Errorf("reading logs of container %s: %w", shortID(c.ID), err)
		}
	}
	br := bufio.NewReaderSize(nil, 64*1024)
	// f is the file read; it is log.json once cur is the last of srcs.
	var f *os.File
	// holes, when not nil, reads f without its holes (a log.json made sparse).
	var holes *holeSkipper
	openSource := func(i int, from int64) error {
		r, err := srcs[i].reader()
		for err != nil && srcs[i].gz && i < len(srcs)-1 {
			// A rotated file that is no gzip (cut by a crash, garbage) is damage, as a
			// damaged line: the next file.
			damage.add(srcs[i].name, 0)
			i, from, skip = i+1, 0, 0
			r, err = srcs[i].reader()
		}
		if err == nil && from > 0 {
			_, err = srcs[i].f.Seek(from, io.SeekStart)
		}
		if err != nil {
			return fmt.Errorf("reading logs of container %s: %w", shortID(c.ID), err)
		}
		cur, f, holes = i, srcs[i].f, nil
		if !srcs[i].gz {
			if st, err := f.Stat(); err == nil {
				if ext := dataExtents(f, st.Size()); ext != nil {
					holes = &holeSkipper{f: f, ext: ext, size: st.Size()}
					r = holes
				}
			}
			// dataExtents moves the offset: back to where the read starts.
			if _, err := f.Seek(from, io.SeekStart); err != nil {
				return fmt.Errorf("reading logs of container %s: %w", shortID(c.ID), err)
			}
		}
		br.Reset(r)
		return nil
	}
	if err := openSource(cur, pos); err != nil {
		return err
	}
	var line []byte  // the line read so far, up to maxLogEntry
	lineAt := pos    // its offset in the file
	tooLong := false // it is longer than maxLogEntry: skipped to its newline
	// rotated switches a follower at the end of the log.json it read to the files that
	// followed it, once it was rotated: those rotated since, then the new log.json. It says
	// whether it did (false when the file at name is still f, or nothing can be read in its
	// place yet: the follower waits on f). The old file is read to its end first: what the
	// monitor wrote before it rotated is not lost.
	rotated := func() (bool, error) {
		truncated, replaced, err := logChanged(f, name)
		if err != nil {
			return false, fmt.Errorf("reading logs of container %s: %w", shortID(c.ID), err)
		}
		switch {
		case truncated:
			// Emptied (a user truncating a big log): what is written next goes to its start.
			br.Reset(f)
			holes = nil
			line, lineAt, pos, tooLong = line[:0], 0, 0, false
			return true, nil
		case !replaced:
			return false, nil
		}
		if more, _ := br.Peek(1); len(more) > 0 {
			return true, nil
		}
		next, err := sourcesAfter(c.Dir, f)
		if err != nil {
			return false, nil // no readable log in its place (yet): keep the old one
		}
		closeSources(srcs)
		srcs = next
		line, lineAt, pos, tooLong = line[:0], 0, 0, false
		return true, openSource(0, 0)
	}
	for {
		chunk, err := br.ReadSlice('\n')
		pos += int64(len(chunk))
		if holes != nil {
			pos += holes.skippedIn(int64(len(chunk)))
		}
		if !tooLong {
			if len(line)+len(chunk) > maxLogEntry {
				tooLong, line = true, line[:0]
			} else {
				line = append(line, chunk...)
			}
		}
		if err == nil {
			switch {
			case skip > 0:
				// Before the tail's start: counted, as tailSources counted it, damaged or not.
				skip--
			case tooLong:
				damage.add(srcs[cur].name, lineAt)
			default:
				l := line
				if holes != nil {
					// The zeros of the blocks a hole starts and ends in, which the
					// filesystem keeps as data: no JSON the monitor writes holds one.
					l = bytes.TrimLeft(l, "\x00")
				}
				if perr := print(srcs[cur].name, l, lineAt); perr != nil {
					return perr
				}
			}
			line, lineAt, tooLong = line[:0], pos, false
			continue
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if !errors.Is(err, io.EOF) && !(srcs[cur].gz && cur < len(srcs)-1) {
			return fmt.Errorf("reading logs of container %s: %w", shortID(c.ID), err)
		}
		if !errors.Is(err, io.EOF) {
			// A gzipped rotated file damaged past its start (cut short, corrupt): its lines
			// up to the damage are printed, the rest is damage, then the next file.
			damage.add(srcs[cur].name, lineAt)
			line, lineAt, pos, tooLong, skip = line[:0], 0, 0, false, 0
			if err := openSource(cur+1, 0); err != nil {
				return err
			}
			continue
		}
		if cur < len(srcs)-1 {
			// The end of a rotated file, which is whole: a last line without its newline
			// is damaged. Then the next file.
			if len(line) > 0 || tooLong {
				damage.add(srcs[cur].name, lineAt)
			}
			line, lineAt, pos, tooLong, skip = line[:0], 0, 0, false, 0
			if err := openSource(cur+1, 0); err != nil {
				return err
			}
			continue
		}
		// All there is so far is out before anything waits for more.
		if err := out.flush(); err != nil {
			return err
		}
		if opts.Follow {
			if logsAtEnd != nil {
				logsAtEnd()
			}
			// Rotated (or moved aside, a new one made) or truncated while followed: what is
			// written next goes to the file at its name. Read on from the end of the old
			// one, nothing new would ever show.
			if switched, err := rotated(); err != nil {
				return err
			} else if switched {
				continue
			}
		}
		if !opts.Follow || (!opts.Until.IsZero() && time.Now().After(opts.Until)) {
			return nil
		}
		// At the end of the file: done once the run followed no longer runs (the container
		// exited, or a restart ran it again since: docker's follower ends at its stop) and
		// nothing more was written since, to this file or one that replaced it.
		rerr := c.Reload()
		if rerr == nil && run.IsZero() && c.State.Status == StatusRunning {
			followRun()
		}
		// A state lost while its run or monitor lives (lostWhileHeld) is followed until the
		// monitor records the exit or lets go of the cgroup: logs -f ended at once, the
		// container running on and writing to its log.
		if (rerr != nil || c.State.Status != StatusRunning || !c.State.StartedAt.Equal(run)) &&
			(rerr != nil || c.State.Status == StatusRunning || !lostWhileHeld(c)) {
			if more, _ := br.Peek(1); len(more) == 0 {
				if switched, err := rotated(); err != nil || !switched {
					return err
				}
			}
			continue
		}
		if changes.fd >= 0 {
			// Woken at once by a write to the log, a rotation, a state written or ctx's end;
			// --until's time ends the wait too.
			d := eventPollMax
			if !opts.Until.IsZero() {
				d = max(min(d, time.Until(opts.Until)), time.Millisecond)
			}
			if changes.wait(ctx, d) != nil {
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

// logsAtEnd, when not nil (tests), runs when a following Logs has read log.json to its end,
// before it looks for a rotation: what the monitor does there is what a follower must not
// lose.
var logsAtEnd func()

// tailSources finds where the last n complete lines of the log srcs holds start, reading back
// from the end of log.json, then of the rotated files before it: the source, the offset in it
// (a plain file) or the lines to skip from its start (a gzipped one, read through).
func tailSources(srcs []logSource, n int) (i int, pos int64, skip int, err error) {
	need := n
	for i = len(srcs) - 1; i >= 0; i-- {
		s := srcs[i]
		if !s.gz {
			pos, seen, err := tailStart(s.f, need)
			if err != nil || seen >= need {
				return i, pos, 0, err
			}
			need -= seen
			continue
		}
		lines, err := countLines(s)
		if err != nil {
			return i, 0, 0, err
		}
		if lines >= need {
			return i, 0, lines - need, nil
		}
		need -= lines
	}
	return 0, 0, 0, nil
}

// countLines counts the complete lines of s, a gzipped rotated file, decompressing it: those
// before its damage, if it is damaged (Logs prints those, and skips the rest).
func countLines(s logSource) (int, error) {
	r, err := s.reader()
	if err != nil {
		return 0, nil // no gzip: damage, no line
	}
	buf := make([]byte, 32*1024)
	n := 0
	for {
		m, err := r.Read(buf)
		n += bytes.Count(buf[:m], []byte{'\n'})
		if err != nil {
			return n, nil
		}
	}
}

// tailStart returns the offset in f where its last n complete lines start, reading back from
// its end, and how many it found (n, or fewer: all it has, from 0); n 0 is the end of its
// last complete line.
func tailStart(f *os.File, n int) (_ int64, seen int, _ error) {
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	buf := make([]byte, 64*1024)
	ext := dataExtents(f, st.Size())
	for end := st.Size(); end > 0; {
		if ext != nil {
			// The first data region that ends at or past end: end-1 is in it, or in a hole,
			// which holds no newline; then go on from the end of the region before it.
			j, _ := slices.BinarySearchFunc(ext, end, func(e [2]int64, end int64) int { return cmp.Compare(e[1], end) })
			if j == len(ext) || ext[j][0] >= end {
				if j == 0 {
					break
				}
				end = ext[j-1][1]
				continue
			}
		}
		b := buf[:min(int64(len(buf)), end)]
		start := end - int64(len(b))
		tailChunkRead()
		if m, err := f.ReadAt(b, start); m < len(b) {
			if err == nil || errors.Is(err, io.EOF) {
				return 0, n, nil // truncated meanwhile: read it from its start
			}
			return 0, seen, err
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != '\n' {
				continue
			}
			if seen == n {
				return start + int64(i) + 1, seen, nil
			}
			seen++
		}
		end = start
	}
	return 0, seen, nil
}

// sparseScanMin is the size from which tailStart asks where a log's data is before it reads
// it back: a log.json made sparse (a damaged store, a truncate -s 20G) read back 64 KiB of
// zeros at a time, a minute for 20 GiB, where its holes hold no line to find.
const sparseScanMin = 64 << 20

// maxExtents bounds the data regions dataExtents lists.
const maxExtents = 4096

// tailChunkRead is called before each read tailStart makes (tests count them).
var tailChunkRead = func() {}

// dataExtents lists the data regions [start, end) of f, of size bytes, by SEEK_DATA and
// SEEK_HOLE, for a file of sparseScanMin or more (empty for one that is all hole): nil for a
// smaller one, when the filesystem
// cannot tell, or past maxExtents regions (then every byte is read, as before).
func dataExtents(f *os.File, size int64) [][2]int64 {
	if size < sparseScanMin {
		return nil
	}
	fd := int(f.Fd())
	ext := [][2]int64{} // none (all of it a hole): no line at all, not nil
	for off := int64(0); off < size; {
		d, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // nothing but a hole from off
		}
		if err != nil || d < off {
			return nil
		}
		h, err := unix.Seek(fd, d, unix.SEEK_HOLE)
		if err != nil || h <= d {
			return nil
		}
		if ext = append(ext, [2]int64{d, h}); len(ext) > maxExtents {
			return nil
		}
		off = h
	}
	return ext
}

// holeSkipper reads a log.json made sparse (a damaged store: a truncate -s 20G, then lines)
// without its holes, which hold no line: read, 20 GiB of zeros took a minute, to end as one
// damaged line that swallowed the line after it. ext is the file's data regions when it was
// opened (dataExtents), size its size then; what was written past size since is all read.
type holeSkipper struct {
	f    *os.File
	ext  [][2]int64
	size int64
	// read is how many bytes Read returned; skips the holes skipped, at what read was then.
	read  int64
	skips []holeSkip
	// consumed is how many bytes of what Read returned skippedIn was told of.
	consumed int64
}

type holeSkip struct{ at, n int64 }

func (h *holeSkipper) Read(p []byte) (int, error) {
	off, err := h.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	if off < h.size && len(p) > 0 {
		// The first data region that ends past off: off is in it, or in the hole before it.
		j, _ := slices.BinarySearchFunc(h.ext, off, func(e [2]int64, off int64) int { return cmp.Compare(e[1], off+1) })
		start, end := h.size, h.size
		if j < len(h.ext) {
			start, end = h.ext[j][0], h.ext[j][1]
		}
		if off < start {
			if _, err := h.f.Seek(start, io.SeekStart); err != nil {
				return 0, err
			}
			h.skips = append(h.skips, holeSkip{at: h.read, n: start - off})
			off = start
		}
		if end > off && int64(len(p)) > end-off {
			p = p[:end-off] // no byte of the next hole
		}
	}
	n, err := h.f.Read(p)
	h.read += int64(n)
	return n, err
}

// skippedIn is how many bytes of holes lie within the next n bytes of what Read returned:
// the file's offset past them is that much further.
func (h *holeSkipper) skippedIn(n int64) int64 {
	h.consumed += n
	var sum int64
	for len(h.skips) > 0 && h.skips[0].at < h.consumed {
		sum += h.skips[0].n
		h.skips = h.skips[1:]
	}
	return sum
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
			(c.State.Status == StatusCreated && !c.State.startingOther(c.ID, c.Dir)) {
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
// below f's offset (f rewound to its start) or replaced by another file (rotated, or moved
// aside and a new one made).
func logChanged(f *os.File, name string) (truncated, replaced bool, err error) {
	pos, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return false, false, err
	}
	cur, err := f.Stat()
	if err != nil {
		return false, false, err
	}
	if at, err := os.Lstat(name); err == nil && !os.SameFile(at, cur) {
		return false, true, nil
	}
	if cur.Size() < pos {
		_, err := f.Seek(0, io.SeekStart)
		return err == nil, false, err
	}
	return false, false, nil
}

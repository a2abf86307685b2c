package runner

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
)

// rotatingLog opens the log of a container in a temp dir as its monitor would, with opts.
func rotatingLog(t *testing.T, opts ...string) (*Container, *containerLog, *logWriter) {
	t.Helper()
	lc, err := ParseLogConfig("json-file", opts)
	if err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: strings.Repeat("c", 64), Dir: t.TempDir(), Config: Config{LogConfig: lc}}
	cl, err := openContainerLog(c.Dir, lc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return c, cl, newLogWriter(cl)
}

// writeLines logs "line<i>\n" for i in [from, to), one write each, as stdout.
func writeLines(t *testing.T, w *logWriter, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		mustWrite(t, w.stream("stdout"), fmt.Sprintf("line%d\n", i))
	}
}

// wantLines is "line<i>\n" for i in [from, to).
func wantLines(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "line%d\n", i)
	}
	return b.String()
}

// logFiles returns the names of the log's files in dir (log.json and the rotated ones, not
// the lock), sorted, and checks that each is within maxSize bytes, or a single entry.
func logFiles(t *testing.T, dir string, maxSize int64) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), logFile) {
			continue
		}
		names = append(names, e.Name())
		b := readLogFile(t, filepath.Join(dir, e.Name()))
		if int64(len(b)) > maxSize && bytes.Count(b, []byte("\n")) > 1 {
			t.Errorf("%s holds %d bytes (%d entries), more than max-size %d", e.Name(), len(b), bytes.Count(b, []byte("\n")), maxSize)
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Errorf("%s does not end with a whole entry: %q", e.Name(), b[max(0, len(b)-40):])
		}
	}
	slices.Sort(names)
	return names
}

// readLogFile reads a log file, decompressing a gzipped one.
func readLogFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return b
}

func logsOf(t *testing.T, c *Container, opts LogOptions) string {
	t.Helper()
	var out bytes.Buffer
	if err := Logs(context.Background(), c, opts, &out, io.Discard); err != nil {
		t.Fatalf("Logs(%+v) = %v", opts, err)
	}
	return out.String()
}

// A json-file log with max-size and max-file is rotated as docker's: no file past max-size,
// max-file files at most (log.json, log.json.1, …), the oldest dropped, and `logs` prints
// what is left in order, across the files, --tail counting back across them too. Each entry
// ("line<i>\n") is about 80 bytes: 1k holds 12 of them.
func TestContainerLogRotates(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			c, cl, w := rotatingLog(t, "max-size=1k", "max-file=3", "compress="+strconv.FormatBool(compress))
			writeLines(t, w, 0, 200)
			if err := cl.Close(); err != nil { // waits for the last compression
				t.Fatal(err)
			}
			names := logFiles(t, c.Dir, 1000)
			want := []string{"log.json", "log.json.1", "log.json.2"}
			if compress {
				want = []string{"log.json", "log.json.1.gz", "log.json.2.gz"}
			}
			if !slices.Equal(names, want) {
				t.Fatalf("log files = %q, want %q", names, want)
			}
			// The files hold consecutive lines, the oldest in log.json.2, the last line in
			// log.json: nothing lost between them.
			var all []byte
			for _, n := range slices.Backward(want) {
				all = append(all, readLogFile(t, filepath.Join(c.Dir, n))...)
			}
			texts := entryTexts(logEntries(t, all))
			first, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(texts[0], "stdout:line"), "\n"))
			if err != nil {
				t.Fatalf("first entry %q", texts[0])
			}
			if first < 160 || first > 190 {
				t.Errorf("the oldest entry kept is line%d; 3 files of about 12 entries keep the last 13 to 36", first)
			}
			if got := logsOf(t, c, LogOptions{}); got != wantLines(first, 200) {
				t.Errorf("Logs printed %q, want lines %d to 199", got, first)
			}
			for _, n := range []int{1, 5, 20, 40, 1000} {
				from := max(first, 200-n)
				if got := logsOf(t, c, LogOptions{Tail: n}); got != wantLines(from, 200) {
					t.Errorf("Logs(Tail %d) printed %q, want lines %d to 199", n, got, from)
				}
			}
			if got := logsOf(t, c, LogOptions{Tail: TailNone}); got != "" {
				t.Errorf("Logs(TailNone) printed %q", got)
			}
		})
	}
}

// local is bounded without options, as docker's local: 20 MiB files, log.json and 4 rotated
// ones, gzipped; `logs` reads them whole.
func TestLocalLogRotates(t *testing.T) {
	lc, err := ParseLogConfig("local", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: strings.Repeat("e", 64), Dir: t.TempDir(), Config: Config{LogConfig: lc}}
	cl, err := openContainerLog(c.Dir, lc)
	if err != nil {
		t.Fatal(err)
	}
	if cl.rot != (logRotation{MaxSize: 20 << 20, MaxFiles: 5, Compress: true}) {
		t.Fatalf("local's rotation = %+v, want docker's defaults", cl.rot)
	}
	cl.rot.MaxSize = 1000 // smaller files, to rotate in a test
	w := newLogWriter(cl)
	writeLines(t, w, 0, 100)
	cl.Close()
	names := logFiles(t, c.Dir, 1000)
	if want := []string{"log.json", "log.json.1.gz", "log.json.2.gz", "log.json.3.gz", "log.json.4.gz"}; !slices.Equal(names, want) {
		t.Errorf("local's log files = %q, want %q", names, want)
	}
	// 5 files of 12 or 13 entries (log.json may hold fewer): the last 49 to 65 lines, in order.
	got := logsOf(t, c, LogOptions{})
	if n := strings.Count(got, "\n"); n < 49 || n > 65 || got != wantLines(100-n, 100) {
		t.Errorf("Logs of local printed %q, want the last 49 to 65 lines", got)
	}
}

// max-file 1 (docker's default) keeps log.json alone: past max-size it starts anew. An entry
// larger than max-size is written whole, alone in its file; and a log without max-size is
// never rotated.
func TestContainerLogRotateBounds(t *testing.T) {
	c, cl, w := rotatingLog(t, "max-size=200")
	writeLines(t, w, 0, 10)
	if names := logFiles(t, c.Dir, 200); !slices.Equal(names, []string{"log.json"}) {
		t.Errorf("max-file 1: log files = %q, want log.json alone", names)
	}
	if got := logsOf(t, c, LogOptions{}); got != wantLines(7, 10) && got != wantLines(8, 10) {
		t.Errorf("max-file 1: Logs printed %q, want the last lines", got)
	}
	big := strings.Repeat("x", 500) + "\n"
	mustWrite(t, w.stream("stderr"), big)
	writeLines(t, w, 10, 11)
	cl.Close()
	var errOut bytes.Buffer
	if err := Logs(context.Background(), c, LogOptions{}, io.Discard, &errOut); err != nil || errOut.String() != "" {
		t.Errorf("after an entry larger than max-size, Logs = %v, stderr %q; want the big entry rotated away", err, errOut.String())
	}
	if got := logsOf(t, c, LogOptions{}); got != "line10\n" {
		t.Errorf("Logs printed %q, want line10 alone", got)
	}

	c, cl, w = rotatingLog(t, "max-file=3")
	writeLines(t, w, 0, 100)
	cl.Close()
	if names := logFiles(t, c.Dir, 1<<20); !slices.Equal(names, []string{"log.json"}) {
		t.Errorf("no max-size: log files = %q, want log.json alone", names)
	}
	if got := logsOf(t, c, LogOptions{}); got != wantLines(0, 100) {
		t.Errorf("no max-size: Logs printed %q", got)
	}
}

// A rotation the reader cannot take part in (its lock file is something else) leaves the
// entries in log.json, past max-size, rather than lose them.
func TestContainerLogRotateFails(t *testing.T) {
	c, cl, w := rotatingLog(t, "max-size=1k", "max-file=2")
	lock := filepath.Join(c.Dir, logLockFile)
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(lock, 0o700); err != nil {
		t.Fatal(err)
	}
	writeLines(t, w, 0, 50)
	cl.Close()
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	if got := logsOf(t, c, LogOptions{}); got != wantLines(0, 50) {
		t.Errorf("Logs printed %q, want every line", got)
	}
}

// `logs -f` follows the log across its rotations, several between two of its polls included
// (the files rotated since it read its own are read first), gzipped or not, and prints every
// line once, in order.
func TestLogsFollowRotation(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			s, err := OpenStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			lc, err := ParseLogConfig("json-file", []string{"max-size=1k", "max-file=6", "compress=" + strconv.FormatBool(compress)})
			if err != nil {
				t.Fatal(err)
			}
			c, err := s.Create(Config{Name: "follow", LogConfig: lc})
			if err != nil {
				t.Fatal(err)
			}
			// Running, as this process monitors it: Logs follows until its context ends.
			fakeRun(t, c, true)
			cl, err := openContainerLog(c.Dir, lc)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			w := newLogWriter(cl)
			writeLines(t, w, 0, 5)
			ctx, cancel := context.WithCancel(context.Background())
			var out testutil.SyncBuffer
			done := make(chan error, 1)
			go func() { done <- Logs(ctx, c, LogOptions{Follow: true}, &out, io.Discard) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Logs = %v", err)
				}
			}()
			waitFor := func(want string) {
				t.Helper()
				for deadline := time.Now().Add(10 * time.Second); !strings.HasSuffix(out.String(), want); time.Sleep(5 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("logs -f never printed %q; printed %q", want, out.String())
					}
				}
			}
			waitFor("line4\n")
			// Batches of 50 lines, 4 rotations each: within what 6 files keep, so none is
			// lost however late the follower looks.
			for b := 1; b <= 4; b++ {
				writeLines(t, w, b*50-45, b*50+5)
				waitFor(fmt.Sprintf("line%d\n", b*50+4))
			}
			if got := out.String(); got != wantLines(0, 205) {
				t.Errorf("logs -f printed %q, want lines 0 to 204 once each", got)
			}
		})
	}
}

// A rotation cut short (a monitor killed between its link of log.json to log.json.1 and the
// rename of the new log.json over it) leaves one file under two names: logs reads it once,
// and the next rotation goes on from there. A gzip a killed compression left half written is
// no rotated file.
func TestContainerLogRotationCutShort(t *testing.T) {
	c, cl, w := rotatingLog(t, "max-size=1k", "max-file=3", "compress=true")
	writeLines(t, w, 0, 5)
	name := filepath.Join(c.Dir, logFile)
	if err := os.Link(name, rotatedName(name, 1, false)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rotatedName(name, 1, true)+logTmpSuffix, []byte("half a gzip"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := logsOf(t, c, LogOptions{}); got != wantLines(0, 5) {
		t.Errorf("Logs printed %q, want lines 0 to 4 once", got)
	}
	cl.Close()
	// The next monitor's log.
	cl, err := openContainerLog(c.Dir, c.Config.LogConfig)
	if err != nil {
		t.Fatal(err)
	}
	w = newLogWriter(cl)
	writeLines(t, w, 5, 40)
	cl.Close()
	logFiles(t, c.Dir, 1000) // what the last monitor wrote counted toward max-size
	if got := logsOf(t, c, LogOptions{}); !strings.HasSuffix(got, wantLines(30, 40)) || strings.Count(got, "line4\n") > 1 {
		t.Errorf("Logs printed %q, want the last lines, each once", got)
	}
	if _, err := os.Stat(rotatedName(name, 1, true) + logTmpSuffix); err == nil {
		t.Errorf("the half-written gzip is still there")
	}
}

// A follower at the end of log.json, when the monitor writes there once more and then
// rotates before the follower looks again, reads the old file to its end before it goes on to
// the new one: the entry written last to the old file is not lost.
func TestLogsFollowRotationDrainsOld(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	lc, err := ParseLogConfig("json-file", []string{"max-size=1k", "max-file=2"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "drain", LogConfig: lc})
	if err != nil {
		t.Fatal(err)
	}
	fakeRun(t, c, true)
	cl, err := openContainerLog(c.Dir, lc)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	w := newLogWriter(cl)
	writeLines(t, w, 0, 5)
	// At the follower's first end of log.json: line5 into it, then line6 into a new one.
	// From then on, nothing.
	var once bool
	logsAtEnd = func() {
		if once {
			return
		}
		once = true
		writeLines(t, w, 5, 6)
		if err := cl.rotate(); err != nil {
			t.Error(err)
		}
		writeLines(t, w, 6, 7)
	}
	defer func() { logsAtEnd = nil }()
	ctx, cancel := context.WithCancel(context.Background())
	var out testutil.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- Logs(ctx, c, LogOptions{Follow: true}, &out, io.Discard) }()
	for deadline := time.Now().Add(10 * time.Second); !strings.HasSuffix(out.String(), "line6\n"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Logs = %v", err)
	}
	if got := out.String(); got != wantLines(0, 7) {
		t.Errorf("logs -f printed %q, want lines 0 to 6", got)
	}
}

// A rotation cut short (log.json also linked as log.json.1, the new log.json not renamed in)
// is finished by the next monitor before it writes: the next rotation shifted the link to
// log.json.2 and linked log.json as log.json.1 again, one file under two rotated names, and
// logs printed its lines twice, with compress or without, until it rotated away.
func TestContainerLogRotationCutShortResumed(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			c, cl, w := rotatingLog(t, "max-size=1k", "max-file=4", "compress="+strconv.FormatBool(compress))
			writeLines(t, w, 0, 5)
			cl.Close()
			name := filepath.Join(c.Dir, logFile)
			// Killed between the link and the rename.
			if err := os.Link(name, rotatedName(name, 1, false)); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name+logNewSuffix, nil, 0o640); err != nil {
				t.Fatal(err)
			}
			cl, err := openContainerLog(c.Dir, c.Config.LogConfig)
			if err != nil {
				t.Fatal(err)
			}
			w = newLogWriter(cl)
			writeLines(t, w, 5, 20) // one rotation at most: 12 entries fill a file
			if err := cl.Close(); err != nil {
				t.Fatal(err)
			}
			if got := logsOf(t, c, LogOptions{}); got != wantLines(0, 20) {
				t.Errorf("Logs printed %q, want lines 0 to 19, each once", got)
			}
			want := []string{"log.json", "log.json.1", "log.json.2"}
			if compress {
				// The file the cut rotation left is gzipped too, as the next monitor's.
				want = []string{"log.json", "log.json.1.gz", "log.json.2.gz"}
			}
			if names := logFiles(t, c.Dir, 1000); !slices.Equal(names, want) {
				t.Errorf("log files = %q, want %q", names, want)
			}
		})
	}
}

// A damaged gzipped rotated file (cut short by a crash after its rename, garbage) is damage
// as a damaged line is: logs prints what it holds up to the damage, counts it, and goes on
// with the files after it, --tail counting back across them too. It failed whole, and no
// line of the container's log could be read until that file had rotated away.
func TestLogsDamagedGzip(t *testing.T) {
	for _, damage := range []string{"cut", "garbage", "empty"} {
		t.Run(damage, func(t *testing.T) {
			c, cl, w := rotatingLog(t, "max-size=1k", "max-file=3", "compress=true")
			writeLines(t, w, 0, 30)
			if err := cl.Close(); err != nil {
				t.Fatal(err)
			}
			name := filepath.Join(c.Dir, logFile)
			oldest := rotatedName(name, 2, true)
			b, err := os.ReadFile(oldest)
			if err != nil {
				t.Fatal(err)
			}
			switch damage {
			case "cut":
				b = b[:len(b)/2]
			case "garbage":
				b = []byte("no gzip at all\n")
			case "empty":
				b = nil
			}
			if err := os.WriteFile(oldest, b, 0o640); err != nil {
				t.Fatal(err)
			}
			whole := string(readLogFile(t, rotatedName(name, 1, true))) + string(readLogFile(t, name))
			after := wantLines(30-strings.Count(whole, "\n"), 30)
			for _, tail := range []int{0, 1000} {
				var d LogDamage
				var out bytes.Buffer
				if err := Logs(context.Background(), c, LogOptions{Tail: tail, Damage: &d}, &out, io.Discard); err != nil {
					t.Fatalf("Logs(Tail %d) = %v, want the lines it can read", tail, err)
				}
				got := out.String()
				if !strings.HasSuffix(got, after) {
					t.Errorf("Logs(Tail %d) printed %q, want it to end with the later files' %q", tail, got, after)
				}
				if head := strings.TrimSuffix(got, after); head != "" && !strings.HasPrefix(wantLines(0, 30), head) {
					t.Errorf("Logs(Tail %d) printed %q of the damaged file, want its first lines", tail, head)
				}
				if d.Lines != 1 || d.File != oldest {
					t.Errorf("Logs(Tail %d) damage = %+v, want 1 in %s", tail, d, oldest)
				}
			}
			if got := logsOf(t, c, LogOptions{Tail: 3}); got != wantLines(27, 30) {
				t.Errorf("Logs(Tail 3) printed %q, want lines 27 to 29", got)
			}
		})
	}
}

// --tail counts a line too long to be an entry (skipped as damage) among a gzipped rotated
// file's lines as it counts it in a plain one: the lines it skips to reach the tail's start
// were counted with it, and the tail printed a line short.
func TestLogsTailGzipLongLine(t *testing.T) {
	dir := t.TempDir()
	entry := func(s string) string {
		return `{"log":"` + s + `\n","stream":"stdout","time":"2026-01-02T03:04:05Z"}` + "\n"
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	io.WriteString(zw, entry("lineA")+strings.Repeat("x", maxLogEntry+10)+"\n"+entry("lineB")+entry("lineC"))
	zw.Close()
	name := filepath.Join(dir, logFile)
	if err := os.WriteFile(rotatedName(name, 1, true), gz.Bytes(), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(entry("lineD")), 0o640); err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: strings.Repeat("d", 64), Dir: dir}
	for _, tt := range []struct {
		tail int
		want string
	}{
		{1, "lineD\n"},
		{3, "lineB\nlineC\nlineD\n"},
		{4, "lineB\nlineC\nlineD\n"},
		{5, "lineA\nlineB\nlineC\nlineD\n"},
	} {
		if got := logsOf(t, c, LogOptions{Tail: tt.tail}); got != tt.want {
			t.Errorf("Logs(Tail %d) printed %q, want %q", tt.tail, got, tt.want)
		}
	}
}

// TestLogRotatedGap: a gap among the rotated files' numbers (a crash between two renames of
// a shift: log.json.2 and log.json.3, no log.json.1) hid the files past it from `logs`, and
// the rotations never removed them. logs reads every rotated file, oldest first, and the
// rotations shift them on and drop them at max-file as any other.
func TestLogRotatedGap(t *testing.T) {
	c, cl, w := rotatingLog(t, "max-size=1k", "max-file=4")
	writeLines(t, w, 0, 40) // log.json.3 .. log.json, about 12 entries each
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if names := logFiles(t, c.Dir, 1000); !slices.Equal(names, []string{"log.json", "log.json.1", "log.json.2", "log.json.3"}) {
		t.Fatalf("log files = %q", names)
	}
	before := logsOf(t, c, LogOptions{})
	// The crash: log.json.1 gone (its lines with it), .2 and .3 left.
	one, err := os.ReadFile(filepath.Join(c.Dir, "log.json.1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(c.Dir, "log.json.1")); err != nil {
		t.Fatal(err)
	}
	var lost strings.Builder // log.json.1's lines, as logs prints them
	for _, e := range entryTexts(logEntries(t, one)) {
		lost.WriteString(strings.TrimPrefix(e, "stdout:"))
	}
	want := strings.Replace(before, lost.String(), "", 1)
	if lost.Len() == 0 || want == before {
		t.Fatalf("test setup: log.json.1's lines %q not within %q", lost.String(), before)
	}
	if got := logsOf(t, c, LogOptions{}); got != want {
		t.Errorf("Logs with log.json.1 missing printed %q, want the other files' %q", got, want)
	}
	// The rotations go on past the gap and keep max-file files.
	lc, err := ParseLogConfig("json-file", []string{"max-size=1k", "max-file=4"})
	if err != nil {
		t.Fatal(err)
	}
	cl, err = openContainerLog(c.Dir, lc)
	if err != nil {
		t.Fatal(err)
	}
	w = newLogWriter(cl)
	writeLines(t, w, 40, 100)
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if names := logFiles(t, c.Dir, 1000); !slices.Equal(names, []string{"log.json", "log.json.1", "log.json.2", "log.json.3"}) {
		t.Errorf("log files after more rotations = %q, want log.json and 3 rotated", names)
	}
	got := logsOf(t, c, LogOptions{})
	if !strings.HasSuffix(got, wantLines(70, 100)) || strings.Contains(got, "line0\n") {
		t.Errorf("Logs after more rotations printed %q, want the last lines up to line99, the oldest gone", got)
	}
}

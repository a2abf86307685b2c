package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// logEntries decodes what a logWriter wrote.
func logEntries(t *testing.T, log []byte) []logEntry {
	t.Helper()
	var es []logEntry
	for _, line := range bytes.SplitAfter(log, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e logEntry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		es = append(es, e)
	}
	return es
}

// entryTexts is "stream:log" of each entry.
func entryTexts(es []logEntry) []string {
	var s []string
	for _, e := range es {
		s = append(s, e.Stream+":"+e.Log)
	}
	return s
}

func mustWrite(t *testing.T, s *logStream, p string) {
	t.Helper()
	if n, err := s.Write([]byte(p)); err != nil || n != len(p) {
		t.Fatalf("%s.Write(%.20q) = %d, %v", s.name, p, n, err)
	}
}

// A line the container wrote in several writes (printf abc; sleep; echo def) is one entry, as
// docker's copier buffers a stream until its newline: `logs --tail 1` prints "abcdef", and
// `logs -t` puts no time in its middle. The entry has the time its line was completed, and
// is written by the write that completes it (`logs -f` shows it at once).
func TestLogStreamBuffersUntilNewline(t *testing.T) {
	var out bytes.Buffer
	w := newLogWriter(&out)
	mustWrite(t, w.stream("stdout"), "abc")
	if out.Len() != 0 {
		t.Fatalf("an unfinished line was logged: %q", out.String())
	}
	time.Sleep(20 * time.Millisecond)
	completed := time.Now().UTC()
	mustWrite(t, w.stream("stdout"), "def\nghi")
	es := logEntries(t, out.Bytes())
	if got := entryTexts(es); strings.Join(got, "|") != "stdout:abcdef\n" {
		t.Fatalf("entries = %q, want one of abcdef", got)
	}
	if es[0].Time.Before(completed) {
		t.Errorf("the entry has time %v, before its line was completed (%v)", es[0].Time, completed)
	}
	mustWrite(t, w.stream("stdout"), "\n")
	if got := entryTexts(logEntries(t, out.Bytes())); len(got) != 2 || got[1] != "stdout:ghi\n" {
		t.Errorf("entries = %q, want ghi second", got)
	}
}

// stdout and stderr are buffered apart: a line of one does not end the other's.
func TestLogStreamsBufferedApart(t *testing.T) {
	var out bytes.Buffer
	w := newLogWriter(&out)
	mustWrite(t, w.stream("stdout"), "a")
	mustWrite(t, w.stream("stderr"), "b\n")
	mustWrite(t, w.stream("stdout"), "c\n")
	want := []string{"stderr:b\n", "stdout:ac\n"}
	if got := entryTexts(logEntries(t, out.Bytes())); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("entries = %q, want %q", got, want)
	}
}

// A line of logLineMax bytes or more is written in pieces of logLineMax without a newline, its
// end with it, all with the first piece's time, as docker's copier cuts a line that fills its
// 16 KiB buffer; the stream never holds more than logLineMax bytes.
func TestLogStreamLongLines(t *testing.T) {
	x := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name  string
		write []string
		want  []string // the entries' logs
	}{
		{"fits", []string{x(logLineMax-1) + "\n"}, []string{x(logLineMax-1) + "\n"}},
		{"exactly full", []string{x(logLineMax) + "\n"}, []string{x(logLineMax), "\n"}},
		{"two pieces and an end", []string{x(2*logLineMax+10) + "\n"}, []string{x(logLineMax), x(logLineMax), x(10) + "\n"}},
		{"in small writes", append(strings.Split(x(logLineMax+5), ""), "\n", "y\n"), []string{x(logLineMax), x(5) + "\n", "y\n"}},
		{"after a line", []string{"ab\n" + x(logLineMax+1) + "\n"}, []string{"ab\n", x(logLineMax), "x\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := newLogWriter(&out)
			s := w.stream("stdout")
			for _, p := range tt.write {
				mustWrite(t, s, p)
				if cap(s.buf) > logLineMax {
					t.Fatalf("the stream holds %d bytes, more than %d", cap(s.buf), logLineMax)
				}
			}
			es := logEntries(t, out.Bytes())
			var got []string
			for _, e := range es {
				got = append(got, e.Log)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				short := func(s []string) (r []string) {
					for _, l := range s {
						r = append(r, fmt.Sprintf("%d:%q", len(l), l[max(0, len(l)-3):]))
					}
					return r
				}
				t.Fatalf("entries %v, want %v", short(got), short(tt.want))
			}
			// The pieces of one line have its first piece's time.
			for i := 1; i < len(es); i++ {
				if !strings.HasSuffix(es[i-1].Log, "\n") && !es[i].Time.Equal(es[i-1].Time) {
					t.Errorf("entry %d has time %v, its line's first piece %v", i, es[i].Time, es[i-1].Time)
				}
			}
		})
	}
}

// At the end of the output (the container exited), flush logs what is left of an unfinished
// line, as docker's copier does at EOF; a write after that (a copy that outlived its drain)
// is logged as it comes.
func TestLogWriterFlush(t *testing.T) {
	var out bytes.Buffer
	w := newLogWriter(&out)
	mustWrite(t, w.stream("stdout"), "done\nno newline")
	mustWrite(t, w.stream("stderr"), "err")
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	want := []string{"stdout:done\n", "stdout:no newline", "stderr:err"}
	if got := entryTexts(logEntries(t, out.Bytes())); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("entries = %q, want %q", got, want)
	}
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, w.stream("stdout"), "late")
	want = append(want, "stdout:late")
	if got := entryTexts(logEntries(t, out.Bytes())); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("after flushing twice and a late write: entries = %q, want %q", got, want)
	}
}

// A long line of characters of several bytes is cut into pieces between characters: a cut
// inside one left its first bytes at the end of a piece and the others at the start of the
// next, neither UTF-8 the log's JSON holds, and logs printed U+FFFD twice for it ("aéé…",
// 20001 characters of 2 bytes, lost 2 of them). Each piece is still at most logLineMax
// bytes, and bytes that are no UTF-8 stay U+FFFD, as docker's json-file logs them.
func TestLogStreamLongLinesKeepCharacters(t *testing.T) {
	line := "a" + strings.Repeat("é", 20_000) + strings.Repeat("€", 7_000) + strings.Repeat("😀", 5_000) + "\n"
	for _, size := range []int{len(line), 1, 7, 4096} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			var out bytes.Buffer
			w := newLogWriter(&out)
			s := w.stream("stdout")
			for p := line; p != ""; {
				n := min(size, len(p))
				mustWrite(t, s, p[:n])
				p = p[n:]
			}
			var got strings.Builder
			for i, e := range logEntries(t, out.Bytes()) {
				if len(e.Log) > logLineMax || strings.ContainsRune(e.Log, utf8.RuneError) {
					t.Errorf("piece %d: %d bytes, U+FFFD in it %v", i, len(e.Log), strings.ContainsRune(e.Log, utf8.RuneError))
				}
				got.WriteString(e.Log)
			}
			if got.String() != line {
				t.Errorf("the pieces make %d bytes, %d U+FFFD; want the line of %d bytes", got.Len(), strings.Count(got.String(), "\uFFFD"), len(line))
			}
		})
	}
	var out bytes.Buffer
	w := newLogWriter(&out)
	junk := strings.Repeat("x", logLineMax-1) + "\xff\xfe\n"
	mustWrite(t, w.stream("stdout"), junk)
	var got string
	for _, e := range logEntries(t, out.Bytes()) {
		got += e.Log
	}
	if want := strings.Repeat("x", logLineMax-1) + "\uFFFD\uFFFD\n"; got != want {
		t.Errorf("a line ending in bytes that are no UTF-8 logs %q…, want %q…", got[len(got)-8:], want[len(want)-8:])
	}
}

package runner

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLogs reads a damaged log.json and its rotated generation (log.json.1, or a gzipped
// log.json.1.gz whose bytes may be anything) with logs, --tail N and --details: it prints
// or fails in one line, never panics, prints no more than the log's bytes allow, and what
// --tail N prints is the end of what logs prints.
func FuzzLogs(f *testing.F) {
	const (
		e1 = `{"log":"one\n","stream":"stdout","time":"2026-11-28T10:00:00.5Z"}` + "\n"
		e2 = `{"log":"two","stream":"stderr","attrs":{"tag":"a b","k":"\u0000"},"time":"2026-11-28T10:00:01Z"}` + "\n"
		e3 = `{"log":"three\r\n","stream":"stdout","time":"2026-11-28T10:00:02Z"}` + "\n"
	)
	f.Add([]byte(e2+e3), []byte(e1), false, uint8(1))
	f.Add([]byte(e3+"garbage\n"+e1[:20]), []byte(e1+e2), true, uint8(2))
	f.Add([]byte("\n\n"+e1+"null\n{}\n"+e2), []byte{}, false, uint8(0))
	f.Add([]byte(e1), []byte("\x1f\x8b\x08\x00garbage"), true, uint8(5))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, cur, rotated []byte, gz bool, tail uint8) {
		cdir := filepath.Join(dir, "c")
		if err := os.Mkdir(cdir, 0o755); err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(cdir)
		if err := os.WriteFile(filepath.Join(cdir, logFile), cur, 0o644); err != nil {
			t.Fatal(err)
		}
		rot := filepath.Join(cdir, logFile+".1")
		if gz {
			// Half the time a real gzip of the bytes, else the bytes as they are.
			if tail%2 == 0 {
				var b bytes.Buffer
				zw := gzip.NewWriter(&b)
				zw.Write(rotated)
				zw.Close()
				rotated = b.Bytes()
			}
			rot += ".gz"
		}
		if len(rotated) > 0 {
			if err := os.WriteFile(rot, rotated, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		c := &Container{ID: strings.Repeat("a", 64), Dir: cdir}
		logs := func(opts LogOptions) ([]byte, error) {
			var out bytes.Buffer
			err := Logs(context.Background(), c, opts, &out, &out)
			if err != nil && strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("logs %+v: error is not one line: %q", opts, err)
			}
			return out.Bytes(), err
		}
		all, err := logs(LogOptions{Timestamps: true})
		if err != nil {
			return
		}
		// A gzipped generation may hold any amount; the plain bytes bound the rest: an
		// entry's text is no longer than its JSON, its time 31 bytes.
		if !gz && len(all) > 2*(len(cur)+len(rotated)) {
			t.Errorf("logs printed %d bytes of a log of %d", len(all), len(cur)+len(rotated))
		}
		n := int(tail%8) + 1
		end, err := logs(LogOptions{Timestamps: true, Tail: n})
		if err == nil && !bytes.HasSuffix(all, end) {
			t.Errorf("logs --tail %d printed %q, not the end of logs' %q", n, end, all)
		}
		_, _ = logs(LogOptions{Details: true, Tail: n})
	})
}

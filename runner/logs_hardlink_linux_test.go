package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestContainerLogHardlinks: a monitor's log files are never written through a hard link to a
// host file put in their place (O_NOFOLLOW stops a symlink only): a log.json linked to a host
// file had the container's output appended to it, and a log.json.new (or log.json.1.gz.tmp)
// linked to one was truncated by the rotation that made it anew. A log.json with another name
// is copied to one of its own, which keeps what it held: the container starts, as it must when
// a backup's `cp -al` or a dedup tool linked it (it was refused, "it has 2 links").
func TestContainerLogHardlinks(t *testing.T) {
	const precious = "root:x:0:0::/root:/bin/sh\n"
	hostFile := func(t *testing.T) string {
		t.Helper()
		// In the log's dir's filesystem, which a hard link needs.
		host := filepath.Join(t.TempDir(), "passwd")
		if err := os.WriteFile(host, []byte(precious), 0o600); err != nil {
			t.Fatal(err)
		}
		return host
	}
	untouched := func(t *testing.T, host string) {
		t.Helper()
		if b, err := os.ReadFile(host); err != nil || string(b) != precious {
			t.Errorf("the host file linked into the log dir holds %q, %v; want it untouched", b, err)
		}
	}
	link := func(t *testing.T, host, name string) {
		t.Helper()
		_ = os.Remove(name)
		if err := os.Link(host, name); err != nil {
			t.Skipf("skipping: hard link: %v", err)
		}
	}
	for _, tc := range []struct {
		name string
		opts []string
		// prepare links the host file into dir before the log is opened.
		prepare func(t *testing.T, host, dir string)
		// keeps: the log, whose log.json was the host file, holds what it held after the writes.
		keeps bool
	}{
		{"log.json", nil, func(t *testing.T, host, dir string) {
			link(t, host, filepath.Join(dir, logFile))
		}, true},
		{"log.json rotated", []string{"max-size=1000", "max-file=3"}, func(t *testing.T, host, dir string) {
			link(t, host, filepath.Join(dir, logFile))
		}, true},
		{"log.json.new at a rotation", []string{"max-size=100", "max-file=3"}, func(t *testing.T, host, dir string) {
			link(t, host, filepath.Join(dir, logFile+logNewSuffix))
		}, false},
		{"log.json.new of a rotation cut short", []string{"max-size=100", "max-file=3"}, func(t *testing.T, host, dir string) {
			// log.json under its rotated name too, as a rotation killed between its link and
			// its rename leaves it: the next monitor finishes it with a new log.json.new.
			if err := os.WriteFile(filepath.Join(dir, logFile), nil, 0o640); err != nil {
				t.Fatal(err)
			}
			if err := os.Link(filepath.Join(dir, logFile), rotatedName(filepath.Join(dir, logFile), 1, false)); err != nil {
				t.Fatal(err)
			}
			link(t, host, filepath.Join(dir, logFile+logNewSuffix))
		}, false},
		{"log.json.1.gz.tmp", []string{"max-size=100", "max-file=3", "compress=true"}, func(t *testing.T, host, dir string) {
			link(t, host, rotatedName(filepath.Join(dir, logFile), 1, true)+logTmpSuffix)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := hostFile(t)
			dir := filepath.Dir(host)
			lc, err := ParseLogConfig("json-file", tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			tc.prepare(t, host, dir)
			cl, err := openContainerLog(dir, lc)
			if err != nil {
				t.Fatalf("openContainerLog = %v", err)
			}
			// Past max-size a few times: rotations make log.json.new and compress.
			w := newLogWriter(cl)
			for i := 0; i < 20; i++ {
				mustWrite(t, w.stream("stdout"), strings.Repeat("x", 40)+"\n")
			}
			_ = w.flush()
			cl.Close()
			untouched(t, host)
			if tc.keeps {
				// log.json and, rotated, the files before it.
				logs, _ := filepath.Glob(filepath.Join(dir, logFile+"*"))
				var all string
				for _, l := range logs {
					b, err := os.ReadFile(l)
					if err != nil {
						t.Fatal(err)
					}
					all += string(b)
				}
				if !strings.Contains(all, precious) || !strings.Contains(all, "xxxx") {
					t.Errorf("the log's files %v hold %q; want what log.json held, and the output", logs, all)
				}
			}
			if _, err := os.Lstat(filepath.Join(dir, logFile+logUnlinkSuffix)); err == nil {
				t.Error("the copy's temp file is left")
			}
		})
	}
}

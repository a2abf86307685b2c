package runner

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"

	"golang.org/x/sys/unix"
)

// TestLogsNotRegular: a log.json that is a symlink to a host file is not printed through, and
// a FIFO in its place does not hang logs.
func TestLogsNotRegular(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(`{"log":"SECRET\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"symlink", "fifo"} {
		for _, follow := range []bool{false, true} {
			s, err := OpenStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			c, err := s.Create(Config{Name: "xx"})
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Join(c.Dir, logFile)
			if kind == "symlink" {
				err = os.Symlink(secret, name)
			} else {
				err = unix.Mkfifo(name, 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			within(t, 10*time.Second, "Logs on a "+kind, func() {
				err = Logs(context.Background(), c, LogOptions{Follow: follow}, &out, io.Discard)
			})
			if err == nil || strings.Contains(out.String(), "SECRET") {
				t.Errorf("Logs(%s, follow %v) = %q, %v; want an error and nothing printed", kind, follow, out.String(), err)
			}
		}
	}
}

// TestMonitorLogNoFollow: a container whose log.json is a symlink to a host file does not
// start, and its output never reaches that file.
func TestMonitorLogNoFollow(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "echo", "OVERWRITTEN")
	host := filepath.Join(t.TempDir(), "host-file")
	if err := os.WriteFile(host, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, filepath.Join(c.Dir, logFile)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Start(ctx, c); err == nil {
		_, _ = Wait(ctx, c)
		t.Errorf("Start with a symlinked log.json succeeded")
	}
	if b, err := os.ReadFile(host); err != nil || string(b) != "precious\n" {
		t.Errorf("the host file behind log.json holds %q, %v; want it untouched", b, err)
	}
}

// TestLogsFollowTruncatedOrReplaced: `logs -f` goes on printing what is written after the log
// was truncated (a user emptying it) or replaced (moved aside and made anew).
func TestLogsFollowTruncatedOrReplaced(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "xx"})
	if err != nil {
		t.Fatal(err)
	}
	// Running, as this process monitors it: Logs follows until its context ends.
	fakeRun(t, c, true)
	name := filepath.Join(c.Dir, logFile)
	write := func(line string, flag int) {
		t.Helper()
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE|flag, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := newLogWriter(f).stream("stdout").Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	write(strings.Repeat("before\n", 50), 0)
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
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), want); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("logs -f never printed %q; printed %q", want, out.String())
			}
		}
	}
	waitFor(strings.Repeat("before\n", 50))
	write("after truncation\n", os.O_TRUNC)
	waitFor("after truncation\n")
	if err := os.Rename(name, name+".1"); err != nil {
		t.Fatal(err)
	}
	write("after replacement\n", 0)
	waitFor("after replacement\n")
	if n := strings.Count(out.String(), "before\n"); n != 50 {
		t.Errorf("logs -f printed the old lines %d times, want 50", n)
	}
}

package runner

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestBindConsoleTarget is the /dev/console class of runc's CVE-2025-52565: the init binds
// the terminal at /dev/console, and the /dev of a bind (-v /srv/dev:/dev) is a dir another
// container may write to. It swaps the console's name for a symlink after the init looked at
// it, or makes it a FIFO: the terminal must be bound on what was looked at, never where the
// link leads, and a FIFO must not hold the init.
func TestBindConsoleTarget(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	t.Cleanup(func() { consoleOpened = nil })
	tests := []struct {
		name  string
		setup func(t *testing.T, console, victim string)
		swap  bool // the name becomes a symlink to victim once opened
	}{
		{"missing, a symlink swapped in", nil, true},
		{"a file, a symlink swapped in", func(t *testing.T, console, _ string) {
			put(t, console, "")
		}, true},
		{"a FIFO", func(t *testing.T, console, _ string) {
			if err := unix.Mkfifo(console, 0o600); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			console, victim, pty := filepath.Join(dir, "console"), filepath.Join(dir, "victim"), filepath.Join(dir, "pty")
			put(t, victim, "victim")
			put(t, pty, "pty")
			if tt.setup != nil {
				tt.setup(t, console, victim)
			}
			consoleOpened = nil
			if tt.swap {
				consoleOpened = func() {
					if err := os.Rename(console, filepath.Join(dir, "old")); err != nil && !os.IsNotExist(err) {
						t.Error(err)
					}
					if err := os.Symlink(victim, console); err != nil {
						t.Error(err)
					}
				}
			}
			type result struct {
				bindErr       error
				victim, named string
			}
			done := make(chan result, 1)
			// On a thread of its own (not inPrivateMountNamespace, whose t.Fatal is for the
			// test's goroutine): the bind may wait on the FIFO.
			go onThrowawayThread(func() {
				var r result
				if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
					r.bindErr = err
				} else if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
					r.bindErr = err
				} else if slave, err := os.Open(pty); err != nil { // in this namespace, as the init's
					r.bindErr = err
				} else {
					r.bindErr = bindConsoleAt(slave, console)
					slave.Close()
				}
				b, _ := os.ReadFile(victim)
				r.victim = string(b)
				if !tt.swap { // non-blocking: a FIFO still there must not hold the test
					if f, err := os.OpenFile(console, os.O_RDONLY|unix.O_NONBLOCK, 0); err == nil {
						b, _ = io.ReadAll(f)
						f.Close()
						r.named = string(b)
					}
				}
				done <- r
			})
			var r result
			select {
			case r = <-done:
			case <-time.After(10 * time.Second):
				// Let the open go on, so that the test ends.
				if fd, err := unix.Open(console, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
					unix.Close(fd)
				}
				<-done
				t.Fatal("the bind still waited on the FIFO after 10 s")
			}
			if r.victim != "victim" {
				t.Errorf("the terminal was bound where the symlink leads: %s reads %q", victim, r.victim)
			}
			if tt.swap && r.bindErr != nil {
				t.Logf("bind: %v", r.bindErr) // the name swapped away: failing is fine, landing elsewhere is not
			}
			if !tt.swap && (r.bindErr != nil || r.named != "pty") {
				t.Errorf("console: bind error %v, reads %q, want the terminal bound", r.bindErr, r.named)
			}
		})
	}
}

func put(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

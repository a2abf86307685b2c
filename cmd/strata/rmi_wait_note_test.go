package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/cache"
)

// TestRmiSaysItWaits: rmi while a pull or a load holds the store (its collection lock,
// shared for the whole write) says on stderr, a terminal, at once, that it waits and for what, then
// goes on when the writer ends: it waited without a word for as long as the pull ran,
// which looked like a hang. It does not wait, nor say so, when nothing holds the store, and
// says nothing of it to a stderr that is no terminal.
func TestRmiSaysItWaits(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"x:1", "x:2"} {
		if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", name); err != nil {
			t.Fatal(err)
		}
	}
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	release, err := store.Hold(context.Background()) // as a pull holds it
	if err != nil {
		t.Fatal(err)
	}
	ptm, pts := openPTYPair(t)
	var stdout, stderr testutil.SyncBuffer
	go io.Copy(&stderr, ptm)
	done := make(chan error, 1)
	go func() {
		cmd := newRootCmd(&globals{})
		cmd.SetOut(&stdout)
		cmd.SetErr(pts)
		cmd.SetArgs([]string{"--root", root, "rmi", "x:1"})
		done <- cmd.ExecuteContext(context.Background())
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(stderr.String(), "waiting for a pull, load") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	said := stderr.String()
	select {
	case err := <-done:
		t.Fatalf("rmi returned while the store was held: %v", err)
	default:
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil || stdout.String() != "Untagged: x:1\n" {
		t.Fatalf("rmi x:1 = %q, %v", stdout.String(), err)
	}
	if strings.Count(said, "\n") != 1 || !strings.Contains(said, "waiting for a pull, load or container creation") {
		t.Errorf("rmi while the store was held: stderr %q, want one line saying it waits", said)
	}
	// With the store free, nothing is said; held, a stderr that is no terminal (a script's,
	// a log) gets the error alone, as before.
	out, stderrOut, err := strataStderr(t, root, "rmi", "x:2")
	if err != nil || out != "Untagged: x:2\n" || stderrOut != "" {
		t.Errorf("rmi x:2 with the store free = %q, %v, stderr %q; want no wait said", out, err, stderrOut)
	}
	if release, err = store.Hold(context.Background()); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		release()
	}()
	out, stderrOut, err = strataStderr(t, root, "rmi", "nothere:1")
	if err == nil || out != "" || stderrOut != "" {
		t.Errorf("rmi nothere:1 to a pipe while the store was held = %q, %v, stderr %q; want the error alone", out, err, stderrOut)
	}
}

// openPTYPair opens a pseudo-terminal: its master, to read what is written to the slave.
func openPTYPair(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptm.Close() })
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlocking the pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("naming the pty: %v", err)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("opening the pty: %v", err)
	}
	t.Cleanup(func() { pts.Close() })
	return ptm, pts
}

package main

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-run/strata/runner"
)

// TestProxySignalsOwnContainer: the signals proxySignals passes on are sent from a copy of
// the container of its own, while the attach beside it reloads the caller's (Attach,
// StartInteractive): the kill read c's state as that reload wrote it, a data race
// (TestRunRestartSigProxy under -race, 1 run of 3). Fails before under -race.
func TestProxySignalsOwnContainer(t *testing.T) {
	root := t.TempDir()
	store, err := runner.OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := store.Create(runner.Config{Name: "proxied", Image: "alpine",
		Spec: runner.Spec{Args: []string{"true"}}})
	if err != nil {
		t.Fatal(err)
	}
	stop := proxySignals(c)
	defer stop()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // the attach
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := c.Reload(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 5 {
		// SIGCONT: passed on (a created container's kill fails), harmless to the test.
		if err := syscall.Kill(os.Getpid(), syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(done)
	wg.Wait()
}

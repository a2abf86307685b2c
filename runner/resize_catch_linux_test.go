package runner

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestForwardSignalsResizesOnceCaught: a resize of the user's terminal that came before the
// run's signals were caught (catchSignals works in the background, and on a busy machine the
// container ran before it took effect: the SIGWINCH, ignored by default, was lost) still
// reaches the container's pty: once the catch is in place the size is read again.
func TestForwardSignalsResizesOnceCaught(t *testing.T) {
	user, userTTY, err := pty.Open()
	if err != nil {
		t.Skipf("skipping: no pty here: %v", err)
	}
	defer user.Close()
	defer userTTY.Close()
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("skipping: no pty here: %v", err)
	}
	defer master.Close()
	defer slave.Close()
	for _, f := range []*os.File{userTTY, master} {
		if err := pty.Setsize(f, &pty.Winsize{Rows: 24, Cols: 80}); err != nil {
			t.Fatal(err)
		}
	}
	sigs := &signalCatcher{c: make(chan os.Signal, 1), ready: make(chan struct{})}
	term := &terminal{pty: master, stdin: userTTY}
	stop := forwardSignals(context.Background(), sigs, true, term, nil, func() {}, nil)
	defer stop()
	// The user resizes before the catch: nobody gets that SIGWINCH.
	if err := pty.Setsize(userTTY, &pty.Winsize{Rows: 40, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	close(sigs.ready)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		rows, cols, err := pty.Getsize(master)
		if err == nil && rows == 40 && cols == 100 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container's pty is %dx%d (%v) once signals are caught, want the user's 40x100", rows, cols, err)
		}
	}
}

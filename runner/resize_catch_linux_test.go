package runner

import (
	"context"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
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

// TestForwardSignalsStopWaits: forwardSignals' stop returns once its goroutine has, so the
// caller may close the terminal and hand the user's back: it returned at once, and a resize
// (or a signal passed on) still running read the user's terminal after Run had returned it,
// and the pty's Fd as Run closed it (go test -race: TestRunTerminal, 1 run of 2).
func TestForwardSignalsStopWaits(t *testing.T) {
	sigs := &signalCatcher{c: make(chan os.Signal, 1), ready: make(chan struct{})}
	close(sigs.ready)
	inAfter, release := make(chan struct{}), make(chan struct{})
	var ran atomic.Bool
	proc, err := os.FindProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	stop := forwardSignals(context.Background(), sigs, true, &terminal{}, proc, func() {}, func(syscall.Signal) {
		close(inAfter)
		<-release
		ran.Store(true)
	})
	sigs.c <- unix.SIGCONT // harmless to pass on to this process
	<-inAfter
	go close(release)
	stop()
	if !ran.Load() {
		t.Errorf("forwardSignals' stop returned while its goroutine was still passing a signal on")
	}
}

// TestTerminalResizeAfterClose: a resize (a SIGWINCH the forwarder handles) once the pty is
// closed does nothing: it read the closed file's fd, a race with its Close under go test -race.
func TestTerminalResizeAfterClose(t *testing.T) {
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
	defer slave.Close()
	term := &terminal{pty: master, stdin: userTTY}
	resized := make(chan struct{})
	go func() {
		defer close(resized)
		for i := 0; i < 100; i++ {
			term.resize()
		}
	}()
	term.close()
	<-resized
	if _, err := master.Stat(); err == nil {
		t.Errorf("terminal.close left the pty open")
	}
}

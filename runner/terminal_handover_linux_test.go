package runner

import (
	"os"
	"sync/atomic"
	"testing"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// TestTerminalHandOverAcked: the helper of exec -it says so once it holds the command's
// terminal and passes on no more signals (receiveTerminal), and strata's hand-over returns
// only then (handOver), before strata exits: strata exiting as a session leader (ssh -t, tmux,
// setsid) hangs up its process group, the helper's, and a SIGHUP that reached the helper
// before it had read the hand-over was passed on to the command, which died of it now and
// then on the user's detach (TestExecDetachKeys: "the command stopped once exec -it
// detached", 1 run of 3).
func TestTerminalHandOverAcked(t *testing.T) {
	pair := func() (strataEnd, helperEnd *os.File) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		return os.NewFile(uintptr(fds[0]), "strata"), os.NewFile(uintptr(fds[1]), "helper")
	}
	ptys := func() (master, slave *os.File) {
		master, slave, err := pty.Open()
		if err != nil {
			t.Skipf("skipping: no pty here: %v", err)
		}
		return master, slave
	}

	// The helper answers the hand-over, once it passes on no more signals.
	strataEnd, helperEnd := pair()
	defer strataEnd.Close()
	master, slave := ptys()
	var detached atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		receiveTerminal(helperEnd, &detached)
	}()
	if err := unix.Sendmsg(int(strataEnd.Fd()), []byte{'d'}, unix.UnixRights(int(master.Fd())), nil, 0); err != nil {
		t.Fatal(err)
	}
	master.Close()
	slave.Close() // the helper's copy ends at once, and receiveTerminal with it
	var ack [1]byte
	n, err := strataEnd.Read(ack[:])
	<-done
	if n != 1 || !detached.Load() {
		t.Errorf("the helper's answer to the hand-over: %d bytes (%v), its signals passed on no more %v; want a byte, true", n, err, detached.Load())
	}

	// strata's hand-over returns once the helper holds the terminal.
	strataEnd2, helperEnd2 := pair()
	defer strataEnd2.Close()
	master2, slave2 := ptys()
	defer master2.Close()
	var detached2 atomic.Bool
	done2 := make(chan struct{})
	go func() {
		defer close(done2)
		receiveTerminal(helperEnd2, &detached2)
	}()
	p := &joinProc{}
	p.pty = master2
	p.handOver(strataEnd2)
	held := detached2.Load()
	slave2.Close()
	<-done2
	if !held {
		t.Errorf("handOver returned before the helper held the terminal: a SIGHUP as strata exits would still reach the command")
	}
}

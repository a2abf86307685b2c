package runner

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// terminal is the host side of a pty that `run -t` and `exec -t` hand to a command: the pty
// master, the user's terminal whose size it mirrors, and the copy of its output to the user.
type terminal struct {
	pty     *os.File // the pty master, nil without -t
	stdin   *os.File // the user's terminal, for resizes
	restore func()   // puts the user's terminal back out of raw mode
	copies  sync.WaitGroup
	// keys, set before attach, are the detach keys read on the user's input (exec -it
	// --detach-keys): once typed, detached is closed and the input no longer copied.
	keys     []byte
	detached chan struct{}
	// mu orders resize, which the signal forwarder calls at any time, with the pty's close:
	// an os.File's Fd races with its Close.
	mu     sync.Mutex
	closed bool
}

// attach copies between the user's stdio and master. When stdin is a terminal its size becomes
// the command's, and with attachStdin (-it) it goes raw, so keys such as Ctrl-C reach the
// command's line discipline instead of strata.
func (t *terminal) attach(master *os.File, stdio Stdio, attachStdin bool) {
	t.pty = master
	if f, ok := stdio.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		t.stdin = f
		if attachStdin {
			fd := int(f.Fd())
			if st, err := term.MakeRaw(fd); err == nil {
				// Once: a detach restores it as Exec returns, and the wait that goes on
				// behind it (waitOrDetach) must leave alone a terminal that is the
				// caller's by then, set anew or closed (an os.File's Fd races with Close).
				var once sync.Once
				t.restore = func() { once.Do(func() { _ = term.Restore(fd, st) }) }
			}
		}
		t.resize()
	}
	if attachStdin && stdio.Stdin != nil {
		// Not waited for: a read on the user's terminal blocks until they type.
		if len(t.keys) == 0 {
			go func() { _, _ = io.Copy(master, stdio.Stdin) }()
		} else {
			t.detached = make(chan struct{})
			go func() {
				if copyInput(master, stdio.Stdin, t.keys) {
					close(t.detached)
				}
			}()
		}
	}
	if stdio.Stdout != nil {
		t.copies.Add(1)
		go func() {
			defer t.copies.Done()
			copyOutput(stdio.Stdout, master, t.closePty)
		}()
	}
}

// copyInput copies in to master until in ends, a write fails, or the detach keys come (it
// returns true then): the bytes of a partial match are held back, and passed on when the
// next byte breaks it, as an attach's input (sendInput).
func copyInput(master io.Writer, in io.Reader, keys []byte) bool {
	buf := make([]byte, 32<<10)
	m := detachMatcher{keys: keys}
	for {
		n, err := in.Read(buf)
		if n > 0 {
			out, detach := m.feed(buf[:n])
			if len(out) > 0 {
				if _, werr := master.Write(out); werr != nil {
					return false
				}
			}
			if detach {
				return true
			}
		}
		if err != nil {
			return false
		}
	}
}

// copyOutput copies the command's terminal output from master to out until the command is
// gone (a read of the master fails with EIO). When out can take no more (strata's stdout a
// pipe whose reader left, as in `strata exec -t c yes | head -1`), it hangs the terminal up
// by closing master: the command gets SIGHUP and its next write fails, as a command on a pipe
// dies of SIGPIPE once nobody reads. Left open and unread, the terminal's buffer filled, the
// command blocked on its write for good, and strata with it.
func copyOutput(out io.Writer, master *os.File, closeMaster func()) {
	buf := make([]byte, 32<<10)
	for {
		n, rerr := master.Read(buf)
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil {
				closeMaster()
				return
			}
		}
		if rerr != nil {
			return
		}
	}
}

// resize copies the user's terminal size to the pty, unless the pty is closed.
func (t *terminal) resize() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pty != nil && t.stdin != nil && !t.closed {
		if ws, err := pty.GetsizeFull(t.stdin); err == nil {
			_ = setWinsize(t.pty, ws.Rows, ws.Cols)
		}
	}
}

// setWinsize sizes the terminal master m, through its raw descriptor: m.Fd() (as
// pty.Setsize calls it) would put a pollable master back in blocking mode (see pollable).
func setWinsize(m *os.File, rows, cols uint16) error {
	rc, err := m.SyscallConn()
	if err != nil {
		return err
	}
	var ioerr error
	if err := rc.Control(func(fd uintptr) {
		ioerr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}); err != nil {
		return err
	}
	return ioerr
}

// pollable returns the terminal master f, received from the init, as a non-blocking file of
// Go's poller (f is closed; f itself where that fails). On a blocking descriptor, a Close from
// another goroutine than the copy reading it (the monitor's hang-up for run -it, frameHangUp)
// closed nothing until that read returned, at the container's next write: a container that
// then wrote no more was not hung up, and run -it waited for it for good, where a foreground
// run -t's copy, which closes the master itself, hangs it up at once. A pollable file's Close
// ends the read.
func pollable(f *os.File) *os.File {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return f
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return f
	}
	f.Close()
	return os.NewFile(uintptr(fd), f.Name())
}

// closePty closes the pty master, once.
func (t *terminal) closePty() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.closed = true
		t.pty.Close()
	}
}

// outputDrain bounds how long close waits, once the command is gone, for the copy of its
// output to end: a background process of exec -t that ignores SIGHUP keeps the terminal
// open, and kept strata exec waiting for as long as it ran. Without -t, the pipes' copies
// are bounded so once they have read what the pipes held (outputCopy).
const outputDrain = time.Second

// close drains the command's output, for at most outputDrain, and restores the user's
// terminal. A copy still running then goes on until that terminal closes, or strata exits.
func (t *terminal) close() {
	if t.pty == nil {
		return
	}
	drained := make(chan struct{})
	go func() {
		t.copies.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(outputDrain):
	}
	t.closePty()
	if t.restore != nil {
		t.restore()
	}
}

package runner

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/quote"
)

// AttachOptions are what Attach connects to a running container's stdio.
type AttachOptions struct {
	// Stdin goes to the container's stdin when it has one open (-i); nil attaches none.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// DetachKeys, read on Stdin, end the attach and leave the container running; none if
	// empty. They are not passed on, unless what follows a prefix of them breaks the match.
	DetachKeys []byte
	// Resize carries the sizes (rows, columns) of the user's terminal for the container's.
	Resize <-chan [2]uint16
	// Replay asks for the container's output since its start first (start -ai).
	Replay bool
	// Block makes the container's output wait for this attach for as long as it does not
	// read, as it waits for a foreground run's user (run -it, start -ai): the monitor drops
	// any other attach that lags attachStall behind, and its output is lost to it.
	Block bool
	// HangUp, for a -t container, hangs its terminal up once Stdout takes no more (run -it
	// whose output's reader has gone), as a foreground run -t hangs it up: the container ends
	// as a command on a pipe does, and the attach returns its status. Without it, the attach
	// ends with the write's error and leaves the container running, as docker's attach does.
	HangUp bool
}

// ErrDetached is Attach's error when the user typed the detach keys; its words are docker's.
var ErrDetached = errors.New("read escape sequence")

// ErrNoAttach is the error of attaching to a container whose monitor serves no attach socket:
// one run in the foreground without -it (its stdio is that strata run's), or started before
// strata had attach.
var ErrNoAttach = errors.New("its output is not served for attach: only a container run detached (-d), run -it from a terminal, or started by `strata start` can be attached to")

// errStopped is Attach's error for a container that is not running; its words are docker's.
var errStopped = errors.New("you cannot attach to a stopped container, start it first")

// errRestarting is Attach's error for a container in its restart backoff, neither running
// nor stopped; its words are docker's.
var errRestarting = errors.New("you cannot attach to a restarting container, wait until it is running")

// attachGone bounds the wait, for a running container without an attach socket, for the exit
// record of one whose monitor removed it as the container ended.
const attachGone = 500 * time.Millisecond

// errNothingServed is Attach's error, with Replay, when the monitor closed the connection
// without sending anything: the container ended as the client came.
var errNothingServed = errors.New("the monitor served nothing")

// CheckAttach is Attach's refusal of c as its state stands (not reloaded), in docker's
// words: restarting, stopped or paused; nil if it may be attached to. docker's attach CLI
// checks it first, before the terminal and before its daemon reads the detach keys.
func CheckAttach(c *Container) error {
	switch {
	case c.State.Restarting:
		return errRestarting
	case !c.State.Running() && lostWhileHeld(c):
		// Its state lost while its run or monitor lives: "start it first" led to a start
		// that fails on it.
		return heldError("its state is lost")
	case !c.State.Running():
		return errStopped
	case Paused(c):
		return errPausedAttach
	}
	return nil
}

// errPausedAttach is Attach's error for a paused container; its words are docker's.
var errPausedAttach = errors.New("you cannot attach to a paused container, unpause it first")

// Attach connects to the stdio of c, which must be running detached, as docker attach: its
// output from now on goes to o.Stdout and o.Stderr, o.Stdin to its stdin. It returns the
// container's exit code once it ends, ErrDetached when the user detached, or ctx's error.
func Attach(ctx context.Context, c *Container, o AttachOptions) (int, error) {
	if err := c.Reload(); err != nil {
		return ExitOwnError, err
	}
	// With Replay, the attach of the strata that started it (StartInteractive, StartAttached),
	// which its monitor waits for at the container's end (awaitStarter): its state may say it
	// has ended then, and the socket still serves this attach its output and exit. Without
	// the socket it has ended (errNothingServed).
	if !o.Replay {
		if err := CheckAttach(c); err != nil {
			return ExitOwnError, err
		}
	}
	conn, err := dialAttach(c.Dir)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) {
			if o.Replay {
				return ExitOwnError, errNothingServed // started by us, ending already
			}
			// A monitor removes its socket as the container ends, just before it records the
			// exit: a container still running without one for longer has none.
			for deadline := time.Now().Add(attachGone); ; time.Sleep(10 * time.Millisecond) {
				if c.Reload() == nil && !c.State.Running() {
					return ExitOwnError, errStopped
				}
				if time.Now().After(deadline) {
					break
				}
			}
			return ExitOwnError, fmt.Errorf("container %s: %w", c.Name(), ErrNoAttach)
		}
		return ExitOwnError, fmt.Errorf("attaching to container %s: %w", c.Name(), err)
	}
	defer conn.Close()
	hello := byte(0)
	if o.Replay {
		hello |= attachReplay
	}
	if o.Block {
		hello |= attachBlock
	}
	if o.Stdin != nil && c.Config.Spec.Stdin {
		hello |= attachStdin
	}
	if _, err := conn.Write(appendFrame(nil, frameHello, []byte{hello})); err != nil {
		if errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
			// The monitor closed its socket as we came: the container has just ended.
			if o.Replay {
				return ExitOwnError, errNothingServed
			}
			if c.Reload() == nil && !c.State.Running() {
				return ExitOwnError, errStopped
			}
		}
		return ExitOwnError, fmt.Errorf("attaching to container %s: %w", c.Name(), err)
	}

	// As docker's CLI asks for the container's wait before it attaches, and reads the exit
	// status from it once the attach's streams end: the monitor may end the stream without
	// the exit frame, as when an rm -f killed the container while this client's output
	// stalled (its user scrolled back), and the monitor, waiting for it to read, was killed
	// in turn. The wait, a waiter of the dir as `strata wait` is, has read the exit the
	// monitor recorded before the removal took the dir away: run -it then exits 137, as
	// docker's, not 125 with "its monitor closed the connection". On a copy of c: the
	// caller's is not reloaded behind its back.
	type ending struct {
		code int
		err  error
	}
	waitCtx, stopWait := context.WithCancel(ctx)
	defer stopWait()
	waited := make(chan ending, 1)
	go func(w Container) {
		code, err := Wait(waitCtx, &w)
		waited <- ending{code, err}
	}(*c)

	var wmu sync.Mutex
	send := func(kind byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		_, err := conn.Write(appendFrame(make([]byte, 0, 5+len(p)), kind, p))
		return err
	}
	detached := make(chan struct{})
	inputDone := make(chan struct{})
	if o.Stdin != nil && c.Config.Spec.Stdin {
		go func() {
			switch sendInput(o.Stdin, o.DetachKeys, send) {
			case inputDetached:
				close(detached)
			case inputEnded:
				close(inputDone)
			}
		}()
	}
	// The end of this attach's input ends its output, as docker's daemon closes an attach's
	// output streams once its stdin copy ends (container/stream/attach.go), except for a
	// StdinOnce container without a terminal, whose stdin it closes instead (the monitor
	// does, stdinEnded): the container runs on with its stdin open, this attach shows none of
	// its output from then on, and waits for its end to exit with its status, as docker's CLI
	// waits for the container once its stream has ended (getExitStatus). `echo hi | strata
	// attach c` of a run -d -i container showed its output until it ended.
	outputEnds := inputDone
	if c.Config.StdinOnce && !c.Config.Spec.Terminal {
		outputEnds = nil
	}
	if o.Resize != nil && c.Config.Spec.Terminal {
		go func() {
			for size := range o.Resize {
				var b [4]byte
				binary.BigEndian.PutUint16(b[0:], size[0])
				binary.BigEndian.PutUint16(b[2:], size[1])
				if send(frameResize, b[:]) != nil {
					return
				}
			}
		}()
	}
	ended := make(chan ending, 1)
	go func() {
		code, frames, err := readAttachOutput(conn, o.Stdout, o.Stderr)
		_, refused := err.(refusedError)
		_, output := err.(outputError)
		if err != nil && frames == 0 && o.Replay && !refused && !output {
			err = errNothingServed
		}
		ended <- ending{code, err}
	}()
	select {
	case e := <-ended:
		var refused refusedError
		if errors.As(e.err, &refused) {
			return ExitOwnError, fmt.Errorf("attaching to container %s: %w", c.Name(), e.err)
		}
		if e.err == nil || errors.Is(e.err, errNothingServed) {
			return e.code, e.err
		}
		var output outputError
		if errors.As(e.err, &output) {
			if o.HangUp && c.Config.Spec.Terminal && send(frameHangUp, nil) == nil {
				// The container's output is read to its end, unshown: it may wait for this
				// attach (Block) until the hang-up has ended its copy. One that outlives
				// its terminal (it ignores SIGHUP, and writes no more) is waited for as a
				// foreground run -t's, until ctx ends (--sig-proxy=false's SIGINT).
				drained := make(chan ending, 1)
				go func() {
					code, _, err := readAttachOutput(conn, nil, nil)
					drained <- ending{code, err}
				}()
				select {
				case d := <-drained:
					if d.err == nil {
						return d.code, nil
					}
				case <-ctx.Done():
					return ExitOwnError, ctx.Err()
				}
			}
			return ExitOwnError, output
		}
		// The monitor went without saying how the container ended (killed): its record,
		// which the wait has read or reads, does.
		select {
		case w := <-waited:
			if w.err == nil {
				return w.code, nil
			}
		case <-ctx.Done():
		}
		return ExitOwnError, fmt.Errorf("attached to container %s: %w", c.Name(), e.err)
	case <-detached:
		return 0, ErrDetached
	case <-outputEnds:
		// The monitor drops this client as it sees the connection end.
		_ = conn.Close()
		select {
		case w := <-waited:
			if w.err != nil {
				return ExitOwnError, fmt.Errorf("waiting for container %s: %w", c.Name(), w.err)
			}
			return w.code, nil
		case <-ctx.Done():
			return ExitOwnError, ctx.Err()
		}
	case <-ctx.Done():
		return ExitOwnError, ctx.Err()
	}
}

// outputError is a write to the attach's stdout or stderr that failed (`start -a c | head
// -1` once head has gone): the attach ends with it, and leaves the container running, as a
// start -a that followed the log did. Ignored, it read and dropped the output for as long as
// the container ran, and with Block the container waited for it.
type outputError struct{ err error }

func (e outputError) Error() string { return e.err.Error() }
func (e outputError) Unwrap() error { return e.err }

// IsOutputError says whether err is an attach's end on a write to its stdout or stderr that
// failed, which docker's CLI reports with status 1, not as an error of its own.
func IsOutputError(err error) bool {
	var o outputError
	return errors.As(err, &o)
}

// refusedError is the monitor's reason for not serving a client (frameRefuse).
type refusedError []byte

func (e refusedError) Error() string {
	return "its monitor refused the attach: " + strings.ToValidUTF8(string(e), "?")
}

// dialAttach connects to the attach socket in dir, through a descriptor of the socket itself
// (a socket's path may be at most 108 bytes; a long --root's is longer). Never through a
// symlink in its place: connect(2) follows one, and `attach c1` with c1's socket a link to
// c2's showed c2's output and sent c2 the input typed for c1 (any socket of the host could
// be named so).
func dialAttach(dir string) (*os.File, error) {
	d, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	name := filepath.Join(dir, attachSocket)
	fd, err := unix.Openat(int(d.Fd()), attachSocket, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	sock := os.NewFile(uintptr(fd), name)
	defer sock.Close()
	fi, err := sock.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Mode().Type() != os.ModeSocket {
		return nil, fmt.Errorf("%s is a %s, not a socket", name, fileKind(fi.Mode()))
	}
	return dialUnix(fmt.Sprintf("/proc/self/fd/%d", sock.Fd()))
}

// releaseAttach tells the monitor serving the attach socket in dir, if any, that its
// container is being force-removed (attachRelease): it waits no longer for attachBlock
// clients that do not read.
func releaseAttach(dir string) {
	conn, err := dialAttach(dir)
	if err != nil {
		return // none: a foreground run's, or it has ended
	}
	defer conn.Close()
	_ = conn.SetWriteDeadline(time.Now().Add(attachFlush))
	_, _ = conn.Write(appendFrame(nil, frameHello, []byte{attachRelease}))
}

// readAttachOutput copies the output frames of conn to stdout and stderr until the exit
// frame, whose code it returns; an error if the connection ends before it, or an
// outputError if stdout or stderr takes no more. frames counts the frames read.
func readAttachOutput(conn io.Reader, stdout, stderr io.Writer) (code, frames int, err error) {
	var hdr [5]byte
	buf := make([]byte, attachFrameMax)
	for ; ; frames++ {
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, unix.ECONNRESET) {
				err = errors.New("its monitor closed the connection before the container's exit")
			}
			return 0, frames, err
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		if n > attachFrameMax {
			return 0, frames, fmt.Errorf("a frame of %d bytes from the monitor, more than %d", n, attachFrameMax)
		}
		if _, err := io.ReadFull(conn, buf[:n]); err != nil {
			return 0, frames, fmt.Errorf("reading from the monitor: %w", err)
		}
		switch hdr[0] {
		case frameStdout, frameStderr:
			w := stdout
			if hdr[0] == frameStderr {
				w = stderr
			}
			if w == nil {
				continue
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return 0, frames, outputError{err}
			}
		case frameRefuse:
			return 0, frames, refusedError(buf[:n])
		case frameExit:
			if n != 4 {
				return 0, frames, errors.New("a malformed exit frame from the monitor")
			}
			return int(int32(binary.BigEndian.Uint32(buf[:4]))), frames, nil
		}
	}
}

// inputEnd is how sendInput ended.
type inputEnd int

const (
	// inputSendFailed: a send to the monitor failed, the connection has ended.
	inputSendFailed inputEnd = iota
	// inputEnded: the input ended, at EOF or on a read error (a terminal hung up), as
	// docker's CLI ends its stream's input however its copy ends (hijack.go's CloseWrite).
	inputEnded
	// inputDetached: the detach keys came.
	inputDetached
)

// sendInput sends what it reads from in as stdin frames until in ends, or the detach keys
// come. The bytes of a partial match are held back, and sent when the next byte breaks it.
// When in ends at EOF, an empty stdin frame says so: the monitor closes the container's
// stdin if it is StdinOnce, without a terminal.
func sendInput(in io.Reader, keys []byte, send func(byte, []byte) error) inputEnd {
	buf := make([]byte, 32<<10)
	var m detachMatcher
	m.keys = keys
	for {
		n, err := in.Read(buf)
		if n > 0 {
			out, detach := m.feed(buf[:n])
			if len(out) > 0 && send(frameStdin, out) != nil {
				return inputSendFailed
			}
			if detach {
				return inputDetached
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) && send(frameStdin, nil) != nil {
				return inputSendFailed
			}
			return inputEnded
		}
	}
}

// detachMatcher finds a detach key sequence in a stream of input.
type detachMatcher struct {
	keys    []byte
	matched int
}

// feed returns the bytes of p to pass on, and whether the sequence completed in p (what
// came after it is dropped, as the attach ends).
func (m *detachMatcher) feed(p []byte) (out []byte, detach bool) {
	if len(m.keys) == 0 {
		return p, false
	}
	out = make([]byte, 0, len(p)+m.matched)
	for _, b := range p {
		if b == m.keys[m.matched] {
			m.matched++
			if m.matched == len(m.keys) {
				return out, true
			}
			continue
		}
		if m.matched > 0 {
			out = append(out, m.keys[:m.matched]...)
			m.matched = 0
			if b == m.keys[0] {
				m.matched = 1
				continue
			}
		}
		out = append(out, b)
	}
	return out, false
}

// DefaultDetachKeys are docker's: Ctrl-P, Ctrl-Q.
const DefaultDetachKeys = "ctrl-p,ctrl-q"

// ParseDetachKeys reads docker's --detach-keys: a comma-separated list of keys, each one
// character or ctrl- and one of a-z, @, [, \, ], ^, _.
// An empty value is the default, as docker's CLI passes no keys then.
func ParseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		s = DefaultDetachKeys
	}
	var keys []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1 && k[0] > ' ' && k[0] < 0x7f:
			keys = append(keys, k[0])
		case len(k) == 6 && strings.HasPrefix(strings.ToLower(k), "ctrl-"):
			switch c := k[5]; {
			case c >= 'a' && c <= 'z':
				keys = append(keys, c-'a'+1)
			case c >= 'A' && c <= 'Z':
				keys = append(keys, c-'A'+1)
			case c == '@':
				keys = append(keys, 0)
			case c >= '[' && c <= '_':
				keys = append(keys, c-'['+27)
			default:
				return nil, fmt.Errorf("unknown key %s: want a character, or ctrl- and one of a-z, @, [, \\, ], ^, _", quote.Value(k))
			}
		default:
			return nil, fmt.Errorf("unknown key %s: want a character, or ctrl- and one of a-z, @, [, \\, ], ^, _", quote.Value(k))
		}
	}
	return keys, nil
}

// ForwardedSignals are the signals a foreground run passes on to its container, for attach's
// --sig-proxy.
func ForwardedSignals() []os.Signal { return slices.Clone(forwardedSignals) }

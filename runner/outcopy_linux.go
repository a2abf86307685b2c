package runner

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// outputCopy copies what a child writes to its stdout or stderr, a pipe of ours, to w: a
// container's output to its log and attach, an exec'd command's to the user's.
//
// os/exec's copy of such a pipe, bounded by WaitDelay, dropped what was still in the pipe a
// second after the child was gone: a copy that had fallen behind its writer (a log rotating,
// a reader of strata's output slower than the command) lost the last lines, the command's
// final words often, without a word. Here what the pipe holds when the child is gone is read
// to the end at w's pace, and only what comes after (from a process the child left behind
// holding the pipe, which may never close it) is bounded by the delay.
type outputCopy struct {
	r    *os.File
	done chan struct{}

	mu      sync.Mutex
	phase   int           // copyRunning, copyMeasure (finish asks), copyDraining, copyCutoff
	target  int64         // in copyDraining: the bytes to have written before the delay starts
	reached chan struct{} // closed once written >= target in copyDraining
}

const (
	copyRunning  = iota // the child may still write
	copyMeasure         // the child is gone: the copy is to measure what the pipe holds
	copyDraining        // writing what the pipe held then
	copyCutoff          // the delay is over: the next read ends the copy
)

// newOutputCopy makes the pipe and starts copying it to w; the returned file is the write
// end for the child, which the caller closes once the child has it.
func newOutputCopy(w io.Writer) (*outputCopy, *os.File, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	c := &outputCopy{r: pr, done: make(chan struct{}), reached: make(chan struct{})}
	go c.copy(w)
	return c, pw, nil
}

func (c *outputCopy) copy(w io.Writer) {
	defer close(c.done)
	// Closed once the copy ends, on w's error too: the child's next write then fails
	// (EPIPE), as with os/exec's copy.
	defer c.r.Close()
	buf := make([]byte, 32<<10)
	var written int64
	for {
		n, err := c.r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			written += int64(n)
			c.mu.Lock()
			if c.phase == copyDraining && c.target > 0 && written >= c.target {
				c.target = 0
				close(c.reached)
			}
			c.mu.Unlock()
		}
		if err == nil {
			continue
		}
		// finish's deadline asks for the measure. Taken here, between a write and the next
		// read, what the copy has written and what the pipe holds add up to all the child
		// wrote: a measure taken beside the copy missed a chunk it had read and was still
		// writing (w slower than the child), and the copy then ended a chunk early.
		c.mu.Lock()
		if !errors.Is(err, os.ErrDeadlineExceeded) || c.phase != copyMeasure {
			c.mu.Unlock()
			return
		}
		var held int // TIOCINQ is FIONREAD: the bytes a pipe holds
		if sc, serr := c.r.SyscallConn(); serr == nil {
			_ = sc.Control(func(fd uintptr) { held, _ = unix.IoctlGetInt(int(fd), unix.TIOCINQ) })
		}
		if err := c.r.SetReadDeadline(time.Time{}); err != nil {
			c.mu.Unlock()
			return
		}
		c.phase = copyDraining
		if held > 0 {
			c.target = written + int64(held)
		} else {
			close(c.reached)
		}
		c.mu.Unlock()
	}
}

// finish waits for the copy once the child is gone: to the pipe's end, or at least through
// what the pipe held then, at w's pace (unless cancel ends first), and then for at most delay
// more. Past it the pipe is no longer read; a write to w under way is not waited for.
func (c *outputCopy) finish(delay time.Duration, cancel <-chan struct{}) {
	select {
	case <-c.done:
		return
	default:
	}
	// The copy measures what the pipe holds at its next read, which an expired deadline
	// makes return at once, or ends if it is waiting for more.
	if !c.interrupt(copyMeasure) {
		<-c.done
		return
	}
	select {
	case <-c.done:
		return
	case <-c.reached:
	case <-cancel:
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-c.done:
		return
	case <-timer.C:
	}
	// The copy then ends at its next read, and closes the pipe.
	c.interrupt(copyCutoff)
	select {
	case <-c.done:
	case <-time.After(delay):
	}
}

// interrupt sets phase and expires the pipe's read deadline; false if the pipe is closed
// (the copy is ending) or cannot have one (closed, then).
func (c *outputCopy) interrupt(phase int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.phase = phase
	if err := c.r.SetReadDeadline(time.Now()); err != nil {
		if !errors.Is(err, os.ErrClosed) {
			_ = c.r.Close()
		}
		return false
	}
	return true
}

// outputDrainDelay bounds how long the copies of a child that is gone wait for the pipe's end
// once they have read what it held then: a process it left behind may hold it open for ever.
const outputDrainDelay = time.Second

// finishOutput finishes the copies (nil ones skipped) side by side, once their child is gone.
func finishOutput(cancel <-chan struct{}, copies ...*outputCopy) {
	var wg sync.WaitGroup
	for _, c := range copies {
		if c != nil {
			wg.Go(func() { c.finish(outputDrainDelay, cancel) })
		}
	}
	wg.Wait()
}

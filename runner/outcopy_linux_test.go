package runner

import (
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowWriter takes its first write only after a pause: a reader of strata's output that
// falls behind.
type slowWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	pause time.Duration
}

func (w *slowWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pause > 0 {
		time.Sleep(w.pause)
		w.pause = 0
	}
	return w.buf.Write(p)
}

func (w *slowWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startCopied starts sh -c script with its stdout copied to w by an outputCopy.
func startCopied(t *testing.T, script string, w *slowWriter) (*exec.Cmd, *outputCopy) {
	t.Helper()
	c, pw, err := newOutputCopy(w)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", script)
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	return cmd, c
}

// TestOutputCopyDrains: what the pipe holds when the child is gone reaches w, however long w
// takes (os/exec's copy dropped it a second after the child's end); what a process the child
// left behind writes after is waited for only outputDrainDelay.
func TestOutputCopyDrains(t *testing.T) {
	w := &slowWriter{pause: 3 * outputDrainDelay}
	cmd, c := startCopied(t, "i=0; while [ $i -lt 3000 ]; do echo line$i; i=$((i+1)); done", w)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	finishOutput(nil, c)
	if got := w.String(); strings.Count(got, "\n") != 3000 || !strings.HasSuffix(got, "line2999\n") {
		t.Errorf("copied %d lines, ending %q; want 3000", strings.Count(got, "\n"), got[max(0, len(got)-20):])
	}

	w = &slowWriter{}
	cmd, c = startCopied(t, "(sleep 5; echo late) & echo hi", w)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	finishOutput(nil, c)
	if d := time.Since(start); d > 3*outputDrainDelay || w.String() != "hi\n" {
		t.Errorf("with a process left holding the pipe: finished in %v with %q; want hi, within %v", d, w.String(), 3*outputDrainDelay)
	}
}

// everyWriteSlow takes every write only after a pause: a reader slower than the command to
// its last byte (a pipe into a rate-limited reader).
type everyWriteSlow struct {
	slowWriter
}

func (w *everyWriteSlow) Write(p []byte) (int, error) {
	time.Sleep(w.pause)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// TestOutputCopyDrainsInFlight: the bytes the copy had taken from the pipe but not yet
// written when the child ended count among what it must write at w's pace. They did not
// (the count of what was read was taken after each write), so the copy thought it had
// drained the pipe one chunk early and finish returned with the last chunk still being
// written, past the delay: its bytes never reached w.
func TestOutputCopyDrainsInFlight(t *testing.T) {
	const delay = 100 * time.Millisecond
	const size = 200000
	w := &everyWriteSlow{slowWriter{pause: 4 * delay}}
	c, pw, err := newOutputCopy(w)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("head", "-c", strconv.Itoa(size), "/dev/zero")
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	c.finish(delay, nil)
	if got := len(w.String()); got != size {
		t.Errorf("w got %d bytes by finish's return; want %d", got, size)
	}
}

package runner

import (
	"bytes"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"
)

// numbered is n bytes of lines that each say where they are, so that a piece out of place or
// missing shows.
func numbered(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%09d\n", i)
	}
	return b.Bytes()[:n]
}

// readAll reads conn's output frames until the exit, in a goroutine: the returned func waits
// for it and returns stdout and stderr.
func readAll(conn io.Reader) func() ([]byte, []byte) {
	var out, errOut bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _ = readAttachOutput(conn, &out, &errOut)
	}()
	return func() ([]byte, []byte) {
		<-done
		return out.Bytes(), errOut.Bytes()
	}
}

// TestAttachHubHoldForStarter: while the monitor holds the container's output for its
// starter's attach (holdForStarter), that attach (attachBlock, attachReplay) gets all of it
// from the first byte, then what comes after, in order: only the last attachHistoryMax bytes
// were kept for it. Another client's replay is the last attachHistoryMax bytes as before, and
// once the starter has joined the history is bounded by attachHistoryMax again.
func TestAttachHubHoldForStarter(t *testing.T) {
	dir := t.TempDir()
	h := newAttachHub()
	h.holdForStarter()
	stdout, stderr := h.tee(frameStdout, io.Discard), h.tee(frameStderr, io.Discard)
	if err := h.listen(dir); err != nil {
		t.Fatal(err)
	}
	data := numbered(5 * attachHistoryMax)
	before, after := data[:4*attachHistoryMax], data[4*attachHistoryMax:]
	for p := before; len(p) > 0; p = p[min(len(p), 1000):] {
		_, _ = stdout.Write(p[:min(len(p), 1000)])
	}
	_, _ = stderr.Write([]byte("err\n"))

	other := readAll(dialHello(t, dir, attachReplay))
	waitClients(t, h, 1)
	starter := readAll(dialHello(t, dir, attachReplay|attachBlock))
	waitClients(t, h, 2)
	h.mu.Lock()
	kept := h.histLen
	h.mu.Unlock()
	if kept > attachHistoryMax {
		t.Errorf("the history keeps %d bytes once the starter has joined, want %d at most", kept, attachHistoryMax)
	}
	_, _ = stdout.Write(after)
	h.finish(dir, 0)

	out, errOut := starter()
	if !bytes.Equal(out, data) || string(errOut) != "err\n" {
		t.Errorf("the starter's attach got %d bytes of stdout starting %.20q and stderr %q, want %d starting %.20q and \"err\\n\"", len(out), out, errOut, len(data), data)
	}
	out, _ = other()
	if want := append(append([]byte{}, before[len(before)-(attachHistoryMax-4):]...), after...); !bytes.Equal(out, want) {
		t.Errorf("another client's replay and output: %d bytes starting %.20q, want the last %d bytes before it (the history's bound) and the rest: %d starting %.20q", len(out), out, attachHistoryMax, len(want), want)
	}
}

// TestAttachHubHoldFull: a hold for the starter's attach keeps attachStarterMax bytes at most,
// then the container's output waits: for the starter's attach, which gets all of it in order,
// or for the hold's end (its starter gone), after which it goes on as without a hold. Without
// a hold (run -d), the output never waits for a client that has not come.
func TestAttachHubHoldFull(t *testing.T) {
	data := numbered(3 * attachStarterMax)
	// write writes data through stdout in a goroutine, counting what it has written.
	write := func(stdout io.Writer, written *atomic.Int64) <-chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			for p := data; len(p) > 0; p = p[min(len(p), 8192):] {
				n, _ := stdout.Write(p[:min(len(p), 8192)])
				written.Add(int64(n))
			}
		}()
		return done
	}
	// stalls says whether the writer stops short of the end, at attachStarterMax at most.
	stalls := func(t *testing.T, written *atomic.Int64, done <-chan struct{}) {
		t.Helper()
		select {
		case <-done:
			t.Fatalf("all %d bytes were written while the starter was awaited, want %d at most", len(data), attachStarterMax)
		case <-time.After(300 * time.Millisecond):
		}
		if n := written.Load(); n > attachStarterMax {
			t.Errorf("%d bytes were written while the starter was awaited, want %d at most", n, attachStarterMax)
		}
	}
	t.Run("starter joins", func(t *testing.T) {
		dir := t.TempDir()
		h := newAttachHub()
		h.holdForStarter()
		stdout := h.tee(frameStdout, io.Discard)
		if err := h.listen(dir); err != nil {
			t.Fatal(err)
		}
		var written atomic.Int64
		done := write(stdout, &written)
		stalls(t, &written, done)
		starter := readAll(dialHello(t, dir, attachReplay|attachBlock))
		<-done
		h.finish(dir, 0)
		if out, _ := starter(); !bytes.Equal(out, data) {
			t.Errorf("the starter's attach got %d bytes starting %.20q, want %d starting %.20q", len(out), out, len(data), data)
		}
	})
	t.Run("hold ends", func(t *testing.T) {
		dir := t.TempDir()
		h := newAttachHub()
		h.holdForStarter()
		stdout := h.tee(frameStdout, io.Discard)
		if err := h.listen(dir); err != nil {
			t.Fatal(err)
		}
		defer h.finish(dir, 0)
		var written atomic.Int64
		done := write(stdout, &written)
		stalls(t, &written, done)
		h.endHold()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the output still waits once the hold has ended")
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.histLen > attachHistoryMax {
			t.Errorf("the history keeps %d bytes once the hold has ended, want %d at most", h.histLen, attachHistoryMax)
		}
	})
	t.Run("no hold", func(t *testing.T) {
		dir := t.TempDir()
		h := newAttachHub()
		stdout := h.tee(frameStdout, io.Discard)
		if err := h.listen(dir); err != nil {
			t.Fatal(err)
		}
		defer h.finish(dir, 0)
		var written atomic.Int64
		select {
		case <-write(stdout, &written):
		case <-time.After(10 * time.Second):
			t.Fatal("the output waits without a hold")
		}
	})
}

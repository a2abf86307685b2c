package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestAttachHubStdinEnded: an empty stdin frame ("stdin closed") from any client, the
// attachBlock one (start -ai) or another (`strata attach`), closes the stdin of a StdinOnce
// container without a terminal (setStdinOnce), as docker's daemon closes it at the end of any
// attach's input (CloseStdin); so does a client that attached stdin (attachStdin) leaving,
// not one that did not (--no-stdin). Without setStdinOnce (run -d -i, or -t) it stays open
// whatever the clients do: only the attachBlock client's end closed it, StdinOnce or not, and
// `strata attach`'s never did.
func TestAttachHubStdinEnded(t *testing.T) {
	setup := func(t *testing.T, once bool) (*attachHub, string, *os.File) {
		t.Helper()
		dir := t.TempDir()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
		h := newAttachHub()
		h.setStdin(w)
		if once {
			h.setStdinOnce(w)
		}
		if err := h.listen(dir); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.finish(dir, 0) })
		_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
		return h, dir, r
	}
	ended := func(t *testing.T, r *os.File, want string) {
		t.Helper()
		if got, err := io.ReadAll(r); err != nil || string(got) != want {
			t.Errorf("the container's stdin: %q, %v; want %q, then EOF", got, err, want)
		}
	}
	for _, flags := range []byte{0, attachBlock | attachReplay} {
		t.Run(fmt.Sprintf("StdinOnce, its input ends, hello %d", flags), func(t *testing.T) {
			h, dir, r := setup(t, true)
			other := dialHello(t, dir, 0) // a watcher: its presence changes nothing
			c := dialHello(t, dir, flags|attachStdin)
			waitClients(t, h, 2)
			_, _ = c.Write(appendFrame(nil, frameStdin, []byte("a")))
			_, _ = c.Write(appendFrame(nil, frameStdin, nil))
			_, _ = c.Write(appendFrame(nil, frameStdin, []byte("late")))
			ended(t, r, "a")
			waitClients(t, h, 2) // an empty stdin frame drops no one
			_ = other
		})
	}
	t.Run("StdinOnce, a client with stdin leaves", func(t *testing.T) {
		h, dir, r := setup(t, true)
		watcher := dialHello(t, dir, 0)
		typist := dialHello(t, dir, attachStdin)
		waitClients(t, h, 2)
		_, _ = typist.Write(appendFrame(nil, frameStdin, []byte("b")))
		watcher.Close() // --no-stdin: its leaving closes nothing
		waitClients(t, h, 1)
		_, _ = typist.Write(appendFrame(nil, frameStdin, []byte("c")))
		b := make([]byte, 2)
		if _, err := io.ReadFull(r, b); err != nil || string(b) != "bc" {
			t.Fatalf("the container's stdin once a client without stdin left: %q, %v; want \"bc\" (open)", b, err)
		}
		typist.Close()
		ended(t, r, "")
	})
	t.Run("StdinOnce, a client with stdin dropped for not reading", func(t *testing.T) {
		h, dir, r := setup(t, true)
		stdout := h.tee(frameStdout, io.Discard)
		stalled := dialHello(t, dir, attachStdin) // does not read until dropped
		typist := dialHello(t, dir, attachStdin)
		go func() { _, _ = io.Copy(io.Discard, typist) }()
		waitClients(t, h, 2)
		chunk := bytes.Repeat([]byte("x"), attachFrameMax)
		for i := 0; i < 4*attachQueue; i++ {
			_, _ = stdout.Write(chunk)
		}
		waitClients(t, h, 1)
		// Its connection ends once what was queued for it is sent; the end read by the hub.
		_ = stalled.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, _ = io.Copy(io.Discard, stalled)
		time.Sleep(200 * time.Millisecond)
		_, _ = typist.Write(appendFrame(nil, frameStdin, []byte("z")))
		b := make([]byte, 1)
		if _, err := io.ReadFull(r, b); err != nil || string(b) != "z" {
			t.Errorf("the container's stdin once a client that did not read was dropped: %q, %v; want \"z\" (open)", b, err)
		}
	})
	t.Run("not StdinOnce, or a terminal", func(t *testing.T) {
		h, dir, r := setup(t, false)
		other := dialHello(t, dir, attachStdin)
		blocker := dialHello(t, dir, attachBlock|attachReplay|attachStdin)
		waitClients(t, h, 2)
		b := make([]byte, 1)
		for i, c := range []*os.File{other, blocker} {
			_, _ = c.Write(appendFrame(nil, frameStdin, []byte{'a' + byte(i)}))
			_, _ = c.Write(appendFrame(nil, frameStdin, nil))
			if _, err := io.ReadFull(r, b); err != nil || b[0] != 'a'+byte(i) {
				t.Fatalf("the container's stdin from client %d: %q, %v; want %q", i, b, err, 'a'+byte(i))
			}
		}
		_, _ = blocker.Write(appendFrame(nil, frameStdin, []byte("c")))
		if _, err := io.ReadFull(r, b); err != nil || string(b) != "c" {
			t.Fatalf("the container's stdin after its clients' input ended: %q, %v; want \"c\" (open)", b, err)
		}
		other.Close()
		waitClients(t, h, 1)
		_, _ = blocker.Write(appendFrame(nil, frameStdin, []byte("d")))
		if _, err := io.ReadFull(r, b[:1]); err != nil || b[0] != 'd' {
			t.Errorf("the container's stdin after a client with stdin left: %q, %v; want \"d\" (open)", b[:1], err)
		}
	})
}

// TestSendInputEnd: the end of the client's input is sent as an empty stdin frame, after
// the input; not when the user detaches.
func TestSendInputEnd(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		detached bool
	}{
		{"hi\n", "i:hi\n|i:|", false},
		{"", "i:|", false},
		{"hi\x10\x11more", "i:hi|", true},
	} {
		var got strings.Builder
		send := func(kind byte, p []byte) error {
			got.WriteString(string(kind) + ":" + string(p) + "|")
			return nil
		}
		detached := sendInput(strings.NewReader(tt.in), []byte{0x10, 0x11}, send) == inputDetached
		if got.String() != tt.want || detached != tt.detached {
			t.Errorf("sendInput(%q) sent %q, detached %v; want %q, %v", tt.in, got.String(), detached, tt.want, tt.detached)
		}
	}
}

// TestStartInteractiveStdinEOF: `echo hi | strata start -ai c` of a cat created with -i (no
// -t) ends once the input has: the container's stdin is closed at its end, as docker's
// StdinOnce attach closes it. It hung.
func TestStartInteractiveStdinEOF(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "cat")
	c.Config.Spec.Stdin = true
	c.Config.StdinOnce = true // create -i
	if err := c.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out strings.Builder
	type ending struct {
		code int
		err  error
	}
	ended := make(chan ending, 1)
	go func() {
		code, err := StartInteractive(ctx, c, AttachOptions{Stdin: strings.NewReader("hi\n"), Stdout: &out, Stderr: io.Discard})
		ended <- ending{code, err}
	}()
	select {
	case e := <-ended:
		if e.err != nil || e.code != 0 || out.String() != "hi\n" {
			t.Errorf("StartInteractive(cat) = %d, %v, output %q; want 0, nil, \"hi\\n\"", e.code, e.err, out.String())
		}
	case <-time.After(30 * time.Second):
		_ = Kill(c, 9)
		<-ended
		t.Fatal("cat still runs once the attach's input has ended: its stdin was not closed")
	}
}

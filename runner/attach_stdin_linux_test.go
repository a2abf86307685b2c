package runner

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestAttachHubStdinEnded: an empty stdin frame ("stdin closed") from the attachBlock
// client (start -ai, run -i: docker's StdinOnce attach) closes the container's stdin; from
// another client (`strata attach`) it leaves it open, as docker's attach of a container
// without StdinOnce does. A hub without setStdinOnce (-t) keeps it open for any client.
func TestAttachHubStdinEnded(t *testing.T) {
	for _, tt := range []struct {
		name   string
		once   bool // setStdinOnce: no terminal
		closed bool
	}{
		{"without a terminal", true, true},
		{"with a terminal", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			defer w.Close()
			h := newAttachHub()
			h.setStdin(w)
			if tt.once {
				h.setStdinOnce(w)
			}
			if err := h.listen(dir); err != nil {
				t.Fatal(err)
			}
			defer h.finish(dir, 0)
			other := dialHello(t, dir, 0)
			blocker := dialHello(t, dir, attachBlock|attachReplay)
			waitClients(t, h, 2)
			_, _ = other.Write(appendFrame(nil, frameStdin, []byte("a")))
			_, _ = other.Write(appendFrame(nil, frameStdin, nil))
			_, _ = other.Write(appendFrame(nil, frameStdin, []byte("b")))
			b := make([]byte, 2)
			_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(r, b); err != nil || string(b) != "ab" {
				t.Fatalf("the container's stdin after another client's stdin ended: %q, %v; want \"ab\" (open)", b, err)
			}
			_, _ = blocker.Write(appendFrame(nil, frameStdin, []byte("c")))
			_, _ = blocker.Write(appendFrame(nil, frameStdin, nil))
			if !tt.closed {
				_, _ = blocker.Write(appendFrame(nil, frameStdin, []byte("d")))
			}
			_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
			if tt.closed {
				if got, err := io.ReadAll(r); err != nil || string(got) != "c" {
					t.Errorf("the container's stdin after the attachBlock client's ended: %q, %v; want \"c\", then EOF", got, err)
				}
			} else if _, err := io.ReadFull(r, b); err != nil || string(b) != "cd" {
				// "d", sent after the end, comes through: the terminal's stdin is open.
				t.Errorf("the terminal's stdin after the attachBlock client's ended: %q, %v; want \"cd\"", b, err)
			}
			waitClients(t, h, 2) // an empty stdin frame drops no one
		})
	}
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
		detached := sendInput(strings.NewReader(tt.in), []byte{0x10, 0x11}, send)
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

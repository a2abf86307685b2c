package runner

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
)

func TestParseDetachKeys(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []byte
		err  string
	}{
		{in: "ctrl-p,ctrl-q", want: []byte{0x10, 0x11}},
		{in: "ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", want: []byte{0, 27, 28, 29, 30, 31}},
		{in: "CTRL-A,x", want: []byte{1, 'x'}},
		{in: "ctrl-1", err: `unknown key "ctrl-1"`},
		{in: "", want: []byte{0x10, 0x11}}, // docker's default, as its CLI passes none
		{in: "ctrl-p,", err: `unknown key ""`},
		{in: "ab", err: `unknown key "ab"`},
		{in: "\x00", err: `unknown key`},
		{in: "ctrl-é", err: `unknown key`},
		// A value of a megabyte is quoted back cut, as every value in an error is.
		{in: "a," + strings.Repeat("\xd0", 1<<20), err: `unknown key "\xd0\xd0`},
	} {
		got, err := ParseDetachKeys(tt.in)
		switch {
		case err != nil && len(err.Error()) > 512:
			t.Errorf("ParseDetachKeys(%.40q…) error is %d bytes, want it cut", tt.in, len(err.Error()))
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseDetachKeys(%q) = %v, %v; want error %q", tt.in, got, err, tt.err)
		case tt.err == "" && (err != nil || !bytes.Equal(got, tt.want)):
			t.Errorf("ParseDetachKeys(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// TestDetachMatcher: the keys are found across reads, a prefix is held back until the next
// byte breaks it (and then passed on), and what follows the keys is not.
func TestDetachMatcher(t *testing.T) {
	for _, tt := range []struct {
		keys   string
		feeds  []string
		out    string
		detach bool
	}{
		{"\x10\x11", []string{"ab\x10\x11cd"}, "ab", true},
		{"\x10\x11", []string{"ab\x10", "\x11"}, "ab", true},
		{"\x10\x11", []string{"\x10z", "\x10\x10\x11"}, "\x10z\x10", true},
		{"\x10\x11", []string{"\x10"}, "", false},
		{"abc", []string{"aabab", "c"}, "aab", true},
		{"", []string{"\x10\x11"}, "\x10\x11", false},
	} {
		m := detachMatcher{keys: []byte(tt.keys)}
		var out []byte
		detach := false
		for _, f := range tt.feeds {
			o, d := m.feed([]byte(f))
			out = append(out, o...)
			if d {
				detach = true
				break
			}
		}
		if string(out) != tt.out || detach != tt.detach {
			t.Errorf("keys %q, feeds %q: passed %q, detach %v; want %q, %v", tt.keys, tt.feeds, out, detach, tt.out, tt.detach)
		}
	}
}

// TestAttachHub: a client gets the output written after it attached, on its streams, then
// the exit code; its stdin reaches the container's; one that does not read is dropped
// without holding the container's output up; one that sends a frame over the bound is
// dropped; the socket is gone at the end. (A client that does not read holds the output up
// for attachStall, then is dropped.)
func TestAttachHub(t *testing.T) {
	dir := t.TempDir()
	h := newAttachHub()
	var log, stdin testutil.SyncBuffer
	h.setStdin(&stdin)
	stdout, stderr := h.tee(frameStdout, &log), h.tee(frameStderr, &log)
	if err := h.listen(dir); err != nil {
		t.Fatal(err)
	}
	_, _ = stdout.Write([]byte("before any client\n"))

	reader := dialHello(t, dir, 0)
	_ = dialHello(t, dir, 0) // stalled: never reads
	bad := dialHello(t, dir, 0)
	// No hello: never a client.
	silent, err := dialAttach(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	waitClients(t, h, 3)

	var hdr [5]byte
	hdr[0] = frameStdin
	binary.BigEndian.PutUint32(hdr[1:], attachFrameMax+1)
	_, _ = bad.Write(hdr[:])
	_ = bad.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := bad.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("a client sending a frame over the bound: read %v, want EOF (dropped)", err)
	}
	waitClients(t, h, 2)

	_, _ = reader.Write(appendFrame(nil, frameStdin, []byte("typed\n")))
	var got, gotErr testutil.SyncBuffer
	codes := make(chan int, 1)
	go func() {
		code, _, _ := readAttachOutput(reader, &got, &gotErr)
		codes <- code
	}()
	// Far more than a socket buffer and the stalled client's queue: the writes go on.
	chunk := bytes.Repeat([]byte("x"), 4096)
	written := make(chan struct{})
	go func() {
		for i := 0; i < 2*attachQueue; i++ {
			_, _ = stdout.Write(chunk)
		}
		_, _ = stderr.Write([]byte("to stderr\n"))
		close(written)
	}()
	select {
	case <-written:
	case <-time.After(20 * time.Second):
		t.Fatal("a client that does not read held the container's output up")
	}
	h.finish(dir, 42)
	select {
	case code := <-codes:
		if code != 42 {
			t.Errorf("exit frame: %d, want 42", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit frame")
	}
	if want := 2 * attachQueue * len(chunk); len(got.String()) != want || strings.Contains(got.String(), "before") {
		t.Errorf("the reading client got %d bytes of stdout, want %d (and nothing from before it attached)", len(got.String()), want)
	}
	if gotErr.String() != "to stderr\n" {
		t.Errorf("the reading client's stderr: %q", gotErr.String())
	}
	waitFor(t, func() bool { return stdin.String() == "typed\n" }, "the client's input on the container's stdin")
	if _, err := dialAttach(dir); err == nil {
		t.Errorf("the attach socket is still there after finish")
	}
}

// TestAttachReplay: a client that asks for it gets the output from before it came, then
// the rest, each frame once; the history keeps the last attachHistoryMax bytes.
func TestAttachReplay(t *testing.T) {
	dir := t.TempDir()
	h := newAttachHub()
	var log testutil.SyncBuffer
	stdout := h.tee(frameStdout, &log)
	if err := h.listen(dir); err != nil {
		t.Fatal(err)
	}
	_, _ = stdout.Write([]byte("early\n"))
	late := dialHello(t, dir, attachReplay)
	waitClients(t, h, 1)
	_, _ = stdout.Write([]byte("later\n"))
	var got testutil.SyncBuffer
	done := make(chan struct{})
	go func() {
		_, _, _ = readAttachOutput(late, &got, io.Discard)
		close(done)
	}()
	h.finish(dir, 0)
	<-done
	if got.String() != "early\nlater\n" {
		t.Errorf("replaying client got %q, want early then later, once each", got.String())
	}

	h = newAttachHub()
	for i := 0; i < 3*attachHistoryMax/1000; i++ {
		h.broadcast(frameStdout, bytes.Repeat([]byte{'y'}, 1000))
	}
	if h.histLen > attachHistoryMax || h.histLen < attachHistoryMax-1100 {
		t.Errorf("history holds %d bytes, want at most %d and near it", h.histLen, attachHistoryMax)
	}
}

// dialHello connects to the hub in dir and says hello with flags.
func dialHello(t *testing.T, dir string, flags byte) *os.File {
	t.Helper()
	c, err := dialAttach(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(appendFrame(nil, frameHello, []byte{flags})); err != nil {
		t.Fatal(err)
	}
	return c
}

func waitClients(t *testing.T, h *attachHub, n int) {
	t.Helper()
	waitFor(t, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.clients) == n
	}, "clients")
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestAttachHubManyStalled: clients that never read hold the container's output up for
// attachStall in all, not attachStall each, before they are dropped together.
func TestAttachHubManyStalled(t *testing.T) {
	dir := t.TempDir()
	h := newAttachHub()
	stdout := h.tee(frameStdout, io.Discard)
	if err := h.listen(dir); err != nil {
		t.Fatal(err)
	}
	defer h.finish(dir, 0)
	const stalled = 6
	for i := 0; i < stalled; i++ {
		_ = dialHello(t, dir, 0)
	}
	waitClients(t, h, stalled)
	chunk := bytes.Repeat([]byte("x"), attachFrameMax)
	start := time.Now()
	for i := 0; i < 4*attachQueue; i++ {
		_, _ = stdout.Write(chunk)
	}
	if took := time.Since(start); took > attachStall+time.Second {
		t.Errorf("%d clients that do not read held the output up for %v, want about %v", stalled, took, attachStall)
	}
	waitClients(t, h, 0)
}

// TestAttachHubFull: a client beyond attachClientsMax is told it is refused, where it was
// closed without a word and `strata attach` waited for the container's end showing nothing.
func TestAttachHubFull(t *testing.T) {
	dir := t.TempDir()
	h := newAttachHub()
	if err := h.listen(dir); err != nil {
		t.Fatal(err)
	}
	defer h.finish(dir, 0)
	for i := 0; i < attachClientsMax; i++ {
		_ = dialHello(t, dir, 0)
	}
	waitClients(t, h, attachClientsMax)
	extra := dialHello(t, dir, 0)
	_ = extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := readAttachOutput(extra, io.Discard, io.Discard)
	var refused refusedError
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "clients are attached already") {
		t.Errorf("client %d: %v, want it refused in words", attachClientsMax+1, err)
	}
}

// TestAttachRestarting: a container in its restart backoff is refused in docker's words, not
// as a stopped one to be started.
func TestAttachRestarting(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "rs", Image: "alpine", RestartPolicy: RestartPolicy{Name: "always"}})
	if err != nil {
		t.Fatal(err)
	}
	start, err := processStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// This test process plays the monitor in the backoff.
	c.State = State{Status: StatusExited, ExitCode: 1, Restarting: true, MonitorPid: os.Getpid(), MonitorStart: start}
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
	_, err = Attach(context.Background(), c, AttachOptions{})
	if err == nil || !strings.Contains(err.Error(), "restarting container, wait until it is running") {
		t.Errorf("attach to a restarting container: %v, want docker's words", err)
	}
}

// TestStartInteractiveAutoRemoveFailed: StartInteractive of a --rm container whose command is
// not there (run -it --rm nosuch) returns 127 once the container is gone, as a foreground run
// returns: it held the dir as a waiter, which the monitor's removal waited for, and returned
// before the removal.
func TestStartInteractiveAutoRemoveFailed(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "nosuch")
	c.Config.AutoRemove = true
	if err := c.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	// What Create makes for a --rm container (see TestWaitAutoRemove).
	if err := os.WriteFile(filepath.Join(c.Dir, waitersFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = StartInteractive(context.Background(), c, AttachOptions{Stdout: io.Discard, Stderr: io.Discard})
	var ec *ExitCodeError
	if !errors.As(err, &ec) || ec.Code != ExitNotFound {
		t.Fatalf("StartInteractive(nosuch) = %v, want exit %d", err, ExitNotFound)
	}
	if _, err := os.Lstat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the --rm container's dir is still there once StartInteractive returned (%v)", err)
	}
	aside := filepath.Join(filepath.Dir(c.Dir), ".removing-"+c.ID)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Lstat(aside); errors.Is(err, os.ErrNotExist) {
			break
		}
	}
}

// TestAttachHubBlock: an attachBlock client (run -it's, start -ai's) that stops reading holds
// the container's output up for as long as it does, then gets all of it and the exit: it was
// dropped after attachStall, and `run -it | less` lost all that came once less had stopped
// reading. Its last frames are waited for at the end too, past attachFlush. A client beside
// it that never reads is dropped all the same, and the blocking one loses nothing by it.
func TestAttachHubBlock(t *testing.T) {
	for _, tt := range []struct {
		name   string
		frames int
		fits   bool // in the queue: the container's output ends first
		stall  time.Duration
	}{
		// More than the queues and the sockets' buffers: the output waits.
		{"stalled mid-output", 4 * attachQueue, false, attachStall + time.Second},
		// Half what the queue takes, more than the socket's buffers.
		{"stalled past the end", attachQueueBytes / 2 / attachFrameMax, true, attachFlush + time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			h := newAttachHub()
			stdout := h.tee(frameStdout, io.Discard)
			if err := h.listen(dir); err != nil {
				t.Fatal(err)
			}
			blocker := dialHello(t, dir, attachBlock)
			stalled := dialHello(t, dir, 0) // never reads
			waitClients(t, h, 2)
			want := make([]byte, tt.frames*attachFrameMax)
			for i := range want {
				want[i] = byte(i / 1000)
			}
			written, finished := make(chan struct{}), make(chan struct{})
			go func() {
				for p := want; len(p) > 0; p = p[attachFrameMax:] {
					_, _ = stdout.Write(p[:attachFrameMax])
				}
				close(written)
				h.finish(dir, 7)
				close(finished)
			}()
			if tt.fits {
				<-written
			}
			time.Sleep(tt.stall) // the reader stalls
			if !tt.fits {
				select {
				case <-written:
					t.Fatalf("the output went on while its attachBlock client did not read")
				default:
				}
			}
			var got bytes.Buffer
			code, _, err := readAttachOutput(blocker, &got, io.Discard)
			if err != nil || code != 7 {
				t.Errorf("the attachBlock client's end: %d, %v; want exit frame 7", code, err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("the attachBlock client got %d bytes of the %d written, or not those", got.Len(), len(want))
			}
			select {
			case <-finished:
			case <-time.After(20 * time.Second):
				t.Fatal("finish still waits once the attachBlock client has read all")
			}
			_ = stalled.SetReadDeadline(time.Now().Add(20 * time.Second))
			if n, _ := io.Copy(io.Discard, stalled); n >= int64(len(want)) && !tt.fits {
				t.Errorf("the client that never read got all %d bytes: it held the output up", n)
			}
		})
	}
}

// TestAttachHubBlockLeaves: an attachBlock client that stops reading and leaves (its user
// detached, or strata was killed) no longer holds the container's output up.
func TestAttachHubBlockLeaves(t *testing.T) {
	dir := t.TempDir()
	h := newAttachHub()
	stdout := h.tee(frameStdout, io.Discard)
	if err := h.listen(dir); err != nil {
		t.Fatal(err)
	}
	defer h.finish(dir, 0)
	blocker := dialHello(t, dir, attachBlock|attachReplay)
	waitClients(t, h, 1)
	written := make(chan struct{})
	go func() {
		chunk := bytes.Repeat([]byte("x"), attachFrameMax)
		for i := 0; i < 4*attachQueue; i++ {
			_, _ = stdout.Write(chunk)
		}
		close(written)
	}()
	// Its queue full, past the socket's buffers: the write waits for it.
	waitFor(t, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for c := range h.clients {
			return !c.fits(5 + attachFrameMax)
		}
		return false
	}, "the client's queue to fill")
	blocker.Close()
	select {
	case <-written:
	case <-time.After(20 * time.Second):
		t.Fatal("an attachBlock client that left still holds the output up")
	}
	waitClients(t, h, 0)
}

// TestAttachHubRelease: once releaseAttach (rm -f, its container dead) has said so, an
// attachBlock client that does not read holds the container's output, and the monitor's end,
// no longer than another: the monitor then records the exit, where it waited for the client
// until the rm killed it, and the exit was never recorded.
func TestAttachHubRelease(t *testing.T) {
	dir := t.TempDir()
	h := newAttachHub()
	stdout := h.tee(frameStdout, io.Discard)
	if err := h.listen(dir); err != nil {
		t.Fatal(err)
	}
	blocker := dialHello(t, dir, attachBlock)
	waitClients(t, h, 1)
	written, finished := make(chan struct{}), make(chan struct{})
	go func() {
		chunk := bytes.Repeat([]byte("x"), attachFrameMax)
		for i := 0; i < 4*attachQueue; i++ {
			_, _ = stdout.Write(chunk)
		}
		close(written)
		h.finish(dir, 137)
		close(finished)
	}()
	waitFor(t, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for c := range h.clients {
			return !c.fits(5 + attachFrameMax)
		}
		return false
	}, "the client's queue to fill")
	time.Sleep(attachStall + 500*time.Millisecond)
	select {
	case <-written:
		t.Fatal("the output went on while its attachBlock client did not read, before any release")
	default:
	}
	releaseAttach(dir)
	select {
	case <-finished:
	case <-time.After(attachStall + attachFlush + 5*time.Second):
		t.Fatal("after the release, the attachBlock client that does not read still holds the output and the end up")
	}
	// It ends without the exit frame: the client reads the exit from the record.
	_ = blocker.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, _, err := readAttachOutput(blocker, io.Discard, io.Discard); err == nil {
		t.Error("the released client that did not read got its exit frame; want its connection ended")
	}
}

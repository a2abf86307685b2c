package runner

import (
	"bytes"
	"io"
	"testing"

	"golang.org/x/sys/unix"
)

// TestAttachHubStalledBytes: a client that stops reading is dropped once attachQueueBytes of
// output wait for it, whatever the size of the frames: a stalled `strata attach` costs the
// monitor (16 MiB at most, for days) about that much. Counted in frames only, it held 64
// frames of 32 KiB, 2 MiB; and one that asked for a replay of output written in tiny pieces
// (a prompt, a progress bar) got room for as many more frames as the history held, ~11,000
// (each up to 32 KiB once the container writes more), and was never dropped: its queue grew
// as long as the container wrote, and the monitor's memory with it (13 MiB seen, and more).
func TestAttachHubStalledBytes(t *testing.T) {
	for _, tt := range []struct {
		name  string
		tiny  int // one-byte writes before the client comes
		hello byte
	}{
		{"big writes", 0, 0},
		{"replay of tiny writes", 20000, attachReplay},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			h := newAttachHub()
			stdout := h.tee(frameStdout, io.Discard)
			if err := h.listen(dir); err != nil {
				t.Fatal(err)
			}
			defer h.finish(dir, 0)
			for i := 0; i < tt.tiny; i++ {
				_, _ = stdout.Write([]byte{'.'})
			}
			stalled := dialHello(t, dir, tt.hello)
			waitClients(t, h, 1)
			chunk := bytes.Repeat([]byte("x"), attachFrameMax)
			for i := 0; i < (8<<20)/len(chunk); i++ {
				_, _ = stdout.Write(chunk)
			}
			waitClients(t, h, 0)
			// What it is sent now, once dropped, is what waited for it in its queue, and what
			// the socket buffered before it: its sender's SO_SNDBUF (the same for both ends),
			// which a write may pass by a frame, and the frame being written.
			n, _ := io.Copy(io.Discard, stalled)
			sndbuf, err := unix.GetsockoptInt(int(stalled.Fd()), unix.SOL_SOCKET, unix.SO_SNDBUF)
			if err != nil {
				t.Fatal(err)
			}
			if max := int64(attachQueueBytes + 2*(attachFrameMax+5) + sndbuf); n > max {
				t.Errorf("a stalled client was sent %d bytes before it was dropped, want %d at most (attachQueueBytes, two frames and a socket buffer)", n, max)
			}
		})
	}
}

// TestAttachReplayTinyWrites: output written a byte at a time is kept, and replayed, in a few
// frames: the last attachHistoryMax bytes of it, in order on each stream. Output switching
// streams at each byte is replayed for its last attachHistoryChunks writes.
func TestAttachReplayTinyWrites(t *testing.T) {
	for _, tt := range []struct {
		name       string
		writes     int
		stderrEach int // every stderrEach-th write goes to stderr
		kept       int // the last writes replayed
		frames     int // the replay's frames at most
	}{
		{"stdout only", 3 * attachHistoryMax, 0, attachHistoryMax, 2 * attachHistoryMax / attachFrameMax},
		{"a line of stderr now and then", 3 * attachHistoryMax, 1000, attachHistoryMax, 2*attachHistoryMax/1000 + 2},
		{"every other", 4 * attachHistoryChunks, 2, attachHistoryChunks, attachHistoryChunks},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			h := newAttachHub()
			stdout, stderr := h.tee(frameStdout, io.Discard), h.tee(frameStderr, io.Discard)
			if err := h.listen(dir); err != nil {
				t.Fatal(err)
			}
			var wantOut, wantErr []byte
			for i := 1; i <= tt.writes; i++ {
				w, b, want := stdout, byte('0'+i%10), &wantOut
				if tt.stderrEach > 0 && i%tt.stderrEach == 0 {
					w, b, want = stderr, 'e', &wantErr
				}
				_, _ = w.Write([]byte{b})
				if i > tt.writes-tt.kept {
					*want = append(*want, b)
				}
			}
			c := dialHello(t, dir, attachReplay)
			waitClients(t, h, 1)
			var out, errOut bytes.Buffer
			done := make(chan int, 1)
			go func() {
				_, frames, _ := readAttachOutput(c, &out, &errOut)
				done <- frames
			}()
			h.finish(dir, 0)
			frames := <-done - 1 // and the exit
			if !bytes.Equal(out.Bytes(), wantOut) || !bytes.Equal(errOut.Bytes(), wantErr) {
				t.Errorf("replayed %d bytes of stdout and %d of stderr, want the last %d written: %d and %d", out.Len(), errOut.Len(), tt.kept, len(wantOut), len(wantErr))
			}
			if frames > tt.frames {
				t.Errorf("the replay came in %d frames, want %d at most", frames, tt.frames)
			}
		})
	}
}

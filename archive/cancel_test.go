package archive

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/strata-run/strata/cache"
)

// TestLoadCancelledWhileReadWaits: a Load reading a stream that stalls (a pipe whose writer
// hangs, a FIFO not yet written) ends when its context is cancelled. The read blocked in
// read(2), which no cancel reaches: a SIGTERM (timeout(1), a service stop) was ignored until
// the writer sent more or went away.
func TestLoadCancelledWhileReadWaits(t *testing.T) {
	src := newStore(t)
	img, err := random.Image(1<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	archive := save(t, src, DockerArchive, put(t, src, "example.com/x:1", img))
	for _, tt := range []struct {
		name string
		head []byte // what the writer sends before it stalls
	}{
		{"nothing sent", nil},
		{"half an archive sent", archive[:len(archive)/2]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			// Closed last: the read left waiting then ends too.
			t.Cleanup(func() { pw.Close(); pr.Close() })
			go pw.Write(tt.head)
			s := newStore(t)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := Load(ctx, s, pr, LoadOptions{})
				done <- err
			}()
			time.Sleep(200 * time.Millisecond)
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Load cancelled = %v, want %v", err, context.Canceled)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Load still reading 10s after its context was cancelled")
			}
			if b := storedBlobs(t, s); len(b) != 0 {
				t.Errorf("store holds %d blobs after a cancelled load", len(b))
			}
		})
	}
}

// TestSaveCancelledWhileWriteWaits: a Save writing to a pipe no one reads (a stalled ssh,
// a pager left open) ends when its context is cancelled. The write blocked in write(2),
// which no cancel reaches: a SIGTERM was ignored until the reader read or went away.
func TestSaveCancelledWhileWriteWaits(t *testing.T) {
	s := newStore(t)
	img, err := random.Image(1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref := put(t, s, "example.com/x:1", img)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// Closed last: the write left waiting then ends too.
	t.Cleanup(func() { pr.Close(); pw.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Save(ctx, pw, s, []cache.Ref{ref}, SaveOptions{}) }()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Save cancelled = %v, want %v", err, context.Canceled)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Save still writing 10s after its context was cancelled")
	}
}

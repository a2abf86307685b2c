package runner

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestReadUserFileOnce: a user's file is read once per process, so the CLI can read a FIFO
// (a shell's <(…)) before it holds anything and the spec's later read gets the same bytes
// instead of blocking for good on a writer that is gone.
func TestReadUserFileOnce(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "env")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		_, _ = f.WriteString("A=1\n")
		f.Close()
	}()
	done := make(chan string, 2)
	go func() {
		for range 2 {
			b, err := ReadUserFile(fifo, maxEnvFile)
			if err != nil {
				t.Error(err)
			}
			done <- string(b)
		}
	}()
	for i := range 2 {
		select {
		case got := <-done:
			if got != "A=1\n" {
				t.Errorf("read %d of the FIFO = %q, want A=1", i+1, got)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("read %d of the FIFO still blocks after 10 s", i+1)
		}
	}
}

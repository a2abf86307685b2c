package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// endlessReader yields block forever: a stream whose producer (a compression bomb, a stuck
// registry) never ends on its own.
type endlessReader struct {
	block []byte
	off   int
}

func (e *endlessReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], e.block[e.off:])
		n += c
		e.off = (e.off + c) % len(e.block)
	}
	return n, nil
}

// TestApplyCancelOutsideEntries: canceling ctx stops Apply even where no entry comes: in
// the bytes after the tar's end, which Apply reads for the DiffID, and in a run of extended
// headers, which the tar reader consumes without returning an entry.
func TestApplyCancelOutsideEntries(t *testing.T) {
	var pax bytes.Buffer
	rec := paxRecord("comment", strings.Repeat("x", 4000))
	writeBlocks(&pax, rawHeader("PaxHeaders/x", tar.TypeXHeader, len(rec)), rec)
	var long bytes.Buffer
	writeBlocks(&long, rawHeader("././@LongLink", tar.TypeGNULongName, 4000), strings.Repeat("n", 4000))
	tests := []struct {
		name   string
		stream io.Reader
	}{
		{"after the end of the tar", io.MultiReader(bytes.NewReader(sampleTar(t)), &endlessReader{block: make([]byte, 512)})},
		{"endless PAX headers", &endlessReader{block: pax.Bytes()}},
		{"endless GNU long names", &endlessReader{block: long.Bytes()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := newJail(t)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := Apply(ctx, j.root, tc.stream, Options{IgnoreOwners: true, MaxSize: 16 << 30})
			j.check(t)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Apply(%s) = %v, want %v", tc.name, err, context.DeadlineExceeded)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Apply(%s) returned %v after ctx expired, want at once", tc.name, d)
			}
		})
	}
}

package layers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestReadAhead(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 3*readAheadChunk/16+7)
	boom := errors.New("boom")
	tests := []struct {
		name    string
		src     io.Reader
		want    []byte
		wantErr error
	}{
		{"whole", bytes.NewReader(data), data, nil},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(data[:4096])), data[:4096], nil},
		{"data with EOF", iotest.DataErrReader(bytes.NewReader(data)), data, nil},
		{"empty", bytes.NewReader(nil), nil, nil},
		{"error after data", io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom)), data, boom},
		{"truncated stays truncated", io.MultiReader(bytes.NewReader(data[:100]), iotest.ErrReader(io.ErrUnexpectedEOF)), data[:100], io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := sha256.New()
			ra := newReadAhead(context.Background(), tc.src, h)
			got, err := io.ReadAll(iotest.HalfReader(ra))
			ra.close()
			if !errors.Is(err, tc.wantErr) || !bytes.Equal(got, tc.want) {
				t.Fatalf("ReadAll(readAhead) = %d bytes, %v; want %d bytes, %v", len(got), err, len(tc.want), tc.wantErr)
			}
			if sum := sha256.Sum256(tc.want); !bytes.Equal(h.Sum(nil), sum[:]) {
				t.Errorf("hash of what readAhead read differs from the hash of the data")
			}
		})
	}
}

// TestReadAheadCloseEarly closes after reading a little: the goroutine must stop, having read
// at most its bounded window ahead, and the race detector sees no use of src after close.
func TestReadAheadCloseEarly(t *testing.T) {
	src := &countingReader{r: bytes.NewReader(make([]byte, 64*readAheadChunk))}
	ra := newReadAhead(context.Background(), src, io.Discard)
	if _, err := io.ReadFull(ra, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	ra.close()
	// One chunk being read, readAheadChunks queued, one handed out.
	if limit := int64((readAheadChunks + 2) * readAheadChunk); src.n > limit {
		t.Errorf("readAhead read %d bytes before close, want at most %d", src.n, limit)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

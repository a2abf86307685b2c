// Package ctxio stops long copies when their context ends, for readers that do not watch a
// context themselves (files, pipes, a decompressor).
package ctxio

import (
	"context"
	"io"
)

// NewReader returns a reader of r that fails with ctx's cause once ctx is done: a copy of a
// terabyte is stopped between two reads, not at its end.
func NewReader(ctx context.Context, r io.Reader) io.Reader {
	return reader{ctx, r}
}

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (c reader) Read(p []byte) (int, error) {
	if err := context.Cause(c.ctx); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

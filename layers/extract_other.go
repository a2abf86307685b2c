//go:build !linux

package layers

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
)

// extractor exists only on Linux: confinement relies on openat2 and *at system calls.
type extractor struct {
	written int64
	entries int
}

func newExtractor(context.Context, string, *Options) (*extractor, error) {
	return nil, fmt.Errorf("applying layers: %w", errors.ErrUnsupported)
}

func (*extractor) entry(context.Context, *tar.Header, io.Reader) error { return errors.ErrUnsupported }
func (*extractor) finish(context.Context) error                        { return errors.ErrUnsupported }
func (*extractor) close() error                                        { return nil }

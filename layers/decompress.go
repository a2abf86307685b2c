package layers

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression is the wrapping around a layer's tar.
type Compression int

const (
	// Uncompressed is a plain tar.
	Uncompressed Compression = iota
	// Gzip is a tar in one or more gzip members (RFC 1952).
	Gzip
	// Zstd is a tar in zstd frames (RFC 8878).
	Zstd
)

// String names the compression as media types spell it.
func (c Compression) String() string {
	switch c {
	case Uncompressed:
		return "uncompressed tar"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return "unknown"
}

// Magic bytes, https://www.rfc-editor.org/rfc/rfc1952#page-6 and
// https://www.rfc-editor.org/rfc/rfc8878#name-zstandard-frames (skippable frames start with
// 0x184D2A5?, little endian).
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// zstdMaxWindow bounds the memory a zstd stream can make the decoder allocate. 128 MiB covers
// `zstd --long` (window 2^27), the largest window real layers use.
const zstdMaxWindow = 128 << 20

// readerBufSize is the read-ahead on the compressed stream: large reads keep the decompressor
// out of the network/file layer.
const readerBufSize = 256 << 10

// CompressionOf maps a layer media type to its compression. "" is not known and returns
// ErrUnsupportedMediaType; Decompress treats "" as "detect".
func CompressionOf(mt types.MediaType) (Compression, error) {
	switch mt {
	case types.OCILayer, types.OCIRestrictedLayer, types.DockerLayer, types.DockerForeignLayer:
		return Gzip, nil
	case types.OCILayerZStd:
		return Zstd, nil
	case types.OCIUncompressedLayer, types.OCIUncompressedRestrictedLayer, types.DockerUncompressedLayer:
		return Uncompressed, nil
	}
	// Media types outside go-containerregistry's list (new vendors, artifact layers) still
	// follow the structured-suffix convention.
	s := string(mt)
	switch {
	case strings.HasSuffix(s, "tar+gzip"), strings.HasSuffix(s, "tar.gzip"):
		return Gzip, nil
	case strings.HasSuffix(s, "tar+zstd"), strings.HasSuffix(s, "tar.zstd"):
		return Zstd, nil
	case strings.HasSuffix(s, ".tar"):
		return Uncompressed, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrUnsupportedMediaType, s)
}

// Detect guesses the compression from a stream's first bytes. Anything that is neither gzip
// nor zstd is taken to be a tar; the tar reader judges it.
func Detect(head []byte) Compression {
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd
	case len(head) >= 4 && head[0]&0xf0 == 0x50 && head[1] == 0x2a && head[2] == 0x4d && head[3] == 0x18:
		return Zstd
	}
	return Uncompressed
}

// Decompress returns the uncompressed stream of a layer of media type mt, "" or a layer media
// type (ErrUnsupportedMediaType otherwise). The compression is the one the stream's magic
// bytes show, whatever mt says, as docker (pkg/archive.DecompressStream), containerd and
// podman read a layer: registries serve layers labeled gzip that are plain tars (or the
// reverse), which those pull, and the DiffID checks what comes out either way. The stream
// fails with ErrTooLarge after DefaultMaxSize bytes. Close returns the decoder to a pool; it
// does not close r.
func Decompress(r io.Reader, mt types.MediaType) (io.ReadCloser, error) {
	return decompress(r, mt, DefaultMaxSize)
}

// DecompressMax is Decompress failing after max bytes instead (DefaultMaxSize for max <= 0).
func DecompressMax(r io.Reader, mt types.MediaType, max int64) (io.ReadCloser, error) {
	return decompress(r, mt, Options{MaxSize: max}.maxSize())
}

func decompress(r io.Reader, mt types.MediaType, maxSize int64) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, readerBufSize)
	head, err := br.Peek(4)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading layer header: %w", err)
	}
	// A stream shorter than the magic bytes is the tar reader's to judge, not a bare io.EOF.
	err = nil
	if mt != "" {
		if _, err := CompressionOf(mt); err != nil {
			return nil, err
		}
	}
	var s io.ReadCloser
	switch Detect(head) {
	case Gzip:
		s, err = newGzipStream(br)
	case Zstd:
		s, err = newZstdStream(br)
	default:
		s = io.NopCloser(br)
	}
	if err != nil {
		return nil, err
	}
	return &limitedStream{rc: s, max: maxSize}, nil
}

// limitedStream fails once more than max bytes came out, so a small stream that inflates to
// terabytes stops early.
type limitedStream struct {
	rc  io.ReadCloser
	n   int64
	max int64
}

func (l *limitedStream) Read(p []byte) (int, error) {
	n, err := l.rc.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n, fmt.Errorf("%w: more than %d bytes uncompressed", ErrTooLarge, l.max)
	}
	return n, err
}

func (l *limitedStream) Close() error { return l.rc.Close() }

// Decoders keep large tables and windows; pulling an image decodes many layers, so reuse them.
var (
	gzipPool sync.Pool // *gzip.Reader
	zstdPool sync.Pool // *zstd.Decoder
)

type gzipStream struct{ zr *gzip.Reader }

func newGzipStream(r io.Reader) (*gzipStream, error) {
	if zr, ok := gzipPool.Get().(*gzip.Reader); ok {
		if err := zr.Reset(r); err != nil {
			gzipPool.Put(zr)
			return nil, fmt.Errorf("reading gzip header: %w", err)
		}
		return &gzipStream{zr}, nil
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("reading gzip header: %w", err)
	}
	return &gzipStream{zr}, nil
}

func (g *gzipStream) Read(p []byte) (int, error) {
	if g.zr == nil {
		return 0, io.ErrClosedPipe
	}
	n, err := g.zr.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("decompressing gzip: %w", err)
	}
	return n, err
}

func (g *gzipStream) Close() error {
	if g.zr == nil {
		return nil
	}
	err := g.zr.Close()
	gzipPool.Put(g.zr)
	g.zr = nil
	return err
}

type zstdStream struct{ d *zstd.Decoder }

func newZstdStream(r io.Reader) (*zstdStream, error) {
	d, ok := zstdPool.Get().(*zstd.Decoder)
	if !ok {
		var err error
		// One goroutine: layers are unpacked several at a time already, and a synchronous
		// decoder allocates only what the frame's window needs.
		d, err = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(zstdMaxWindow),
			zstd.WithDecoderMaxMemory(zstdMaxWindow),
			zstd.WithDecoderLowmem(false))
		if err != nil {
			return nil, fmt.Errorf("creating zstd decoder: %w", err)
		}
	}
	if err := d.Reset(r); err != nil {
		d.Close()
		return nil, fmt.Errorf("reading zstd header: %w", err)
	}
	return &zstdStream{d}, nil
}

func (z *zstdStream) Read(p []byte) (int, error) {
	if z.d == nil {
		return 0, io.ErrClosedPipe
	}
	n, err := z.d.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("decompressing zstd: %w", err)
	}
	return n, err
}

func (z *zstdStream) Close() error {
	if z.d == nil {
		return nil
	}
	// Reset(nil) drops the reference to the input so the pool does not pin it.
	err := z.d.Reset(nil)
	if err == nil {
		zstdPool.Put(z.d)
	} else {
		z.d.Close()
		err = nil
	}
	z.d = nil
	return err
}

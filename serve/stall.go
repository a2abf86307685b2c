package serve

import (
	"io"
	"net/http"
	"time"
)

// defaultStallTimeout is how long a response may make no progress before the server gives the
// connection up. A whole-response timeout (http.Server.WriteTimeout) would cut off a large
// blob on a slow but steady link; this one only ends clients that stopped reading, which would
// otherwise hold a goroutine and an open blob file each, for as long as they like.
const defaultStallTimeout = 2 * time.Minute

// stallChunk is how much one sendfile may send before the deadline moves on: the chunk must
// be sent within the stall timeout, so a client reading less than stallChunk per timeout
// (about 2 KiB/s) is the slowest kept. A larger chunk cut steady clients off: with 1 MiB, a
// download below 8.7 KiB/s was given up after two minutes while still moving.
const stallChunk = 256 << 10

// stallWriter moves the connection's write deadline forward before every write, so that a
// write which cannot make progress for the stall timeout fails and the handler returns.
type stallWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func newStallWriter(w http.ResponseWriter, timeout time.Duration) *stallWriter {
	if timeout <= 0 {
		timeout = defaultStallTimeout
	}
	sw := &stallWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: timeout}
	// Set once here too: a keep-alive connection keeps the deadline of its last request, and a
	// response with no body still has headers to flush after the handler returns.
	sw.extend()
	return sw
}

func (sw *stallWriter) extend() {
	// ErrNotSupported (a ResponseRecorder in tests) leaves writes without a deadline.
	_ = sw.rc.SetWriteDeadline(time.Now().Add(sw.timeout))
}

// WriteHeader counts as progress too: a HEAD writes nothing else, maybe long after the
// request came (a pull-through), and its headers are flushed after the handler returns.
func (sw *stallWriter) WriteHeader(code int) {
	sw.extend()
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *stallWriter) Write(p []byte) (int, error) {
	sw.extend()
	return sw.ResponseWriter.Write(p)
}

// ReadFrom keeps http.ServeContent's sendfile of a blob file, in chunks, each with a new
// deadline. io.CopyN hands it an *io.LimitedReader over the file; the chunks stay one level
// of LimitedReader over the file, which is what sendfile recognizes.
func (sw *stallWriter) ReadFrom(src io.Reader) (int64, error) {
	rf, ok := sw.ResponseWriter.(io.ReaderFrom)
	lr, limited := src.(*io.LimitedReader)
	if !ok || !limited {
		return io.Copy(writerOnly{sw}, src)
	}
	var total int64
	for lr.N > 0 {
		sw.extend()
		chunk := &io.LimitedReader{R: lr.R, N: min(lr.N, stallChunk)}
		want := chunk.N
		n, err := rf.ReadFrom(chunk)
		total += n
		lr.N -= n
		if err != nil || n < want {
			return total, err // n < want without an error: the reader is at EOF
		}
	}
	return total, nil
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (sw *stallWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// writerOnly hides ReadFrom, so that io.Copy does not call it back.
type writerOnly struct{ io.Writer }

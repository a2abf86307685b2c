package layers

import (
	"context"
	"io"
	"sync"
)

// Read-ahead: a goroutine decompresses and hashes the next chunks while the caller creates
// files from the current one, so inflating overlaps with the system calls of extraction (the
// role unpigz plays for containerd). readAheadChunks bounds the memory to 1 MiB per Apply.
const (
	readAheadChunk  = 256 << 10
	readAheadChunks = 4
)

var chunkPool = sync.Pool{New: func() any { b := make([]byte, readAheadChunk); return &b }}

type chunk struct {
	buf *[]byte
	n   int
	err error
}

// readAhead reads src in its own goroutine, writing everything it reads to sink (the DiffID
// hasher) before handing it over. Once ctx is done, the next chunk is ctx's error: the tar
// reader can consume a whole stream without returning an entry (a run of extended headers,
// the bytes after the tar's end), and only the reads show that it is still going. It is not
// safe for concurrent use; close waits for the goroutine, so src and sink are free again once
// it returns.
type readAhead struct {
	full chan chunk
	free chan *[]byte
	done chan struct{}
	wg   sync.WaitGroup

	cur chunk
	off int
	err error // sticky, after the last chunk
}

func newReadAhead(ctx context.Context, src io.Reader, sink io.Writer) *readAhead {
	ra := &readAhead{
		full: make(chan chunk, readAheadChunks),
		free: make(chan *[]byte, readAheadChunks),
		done: make(chan struct{}),
	}
	for range readAheadChunks {
		ra.free <- chunkPool.Get().(*[]byte)
	}
	ra.wg.Add(1)
	go ra.fill(ctx, src, sink)
	return ra
}

func (ra *readAhead) fill(ctx context.Context, src io.Reader, sink io.Writer) {
	defer ra.wg.Done()
	for {
		var buf *[]byte
		select {
		case buf = <-ra.free:
		case <-ra.done:
			return
		}
		n, err := 0, ctx.Err()
		if err == nil {
			n, err = fillChunk(src, *buf)
		}
		if n > 0 {
			sink.Write((*buf)[:n]) // hash.Hash.Write never fails
		}
		select {
		case ra.full <- chunk{buf, n, err}:
		case <-ra.done:
			chunkPool.Put(buf)
			return
		}
		if err != nil {
			return
		}
	}
}

// fillChunk reads until b is full or src fails; unlike io.ReadFull it passes src's error on
// as is, so a truncated stream's io.ErrUnexpectedEOF and a clean io.EOF stay apart.
func fillChunk(src io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := src.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (ra *readAhead) Read(p []byte) (int, error) {
	for ra.off == ra.cur.n {
		if ra.cur.buf != nil {
			ra.free <- ra.cur.buf
			ra.cur.buf = nil
		}
		if ra.err != nil {
			return 0, ra.err
		}
		ra.cur = <-ra.full
		ra.off = 0
		ra.err = ra.cur.err
		if ra.cur.n == 0 && ra.cur.err != nil {
			ra.free <- ra.cur.buf
			ra.cur.buf = nil
			return 0, ra.err
		}
	}
	n := copy(p, (*ra.cur.buf)[ra.off:ra.cur.n])
	ra.off += n
	return n, nil
}

// close stops the goroutine and waits for it: after close nothing reads src or writes sink.
// A Read in progress on src finishes first.
func (ra *readAhead) close() {
	close(ra.done)
	ra.wg.Wait()
	if ra.cur.buf != nil {
		chunkPool.Put(ra.cur.buf)
		ra.cur.buf = nil
	}
	for {
		select {
		case c := <-ra.full:
			chunkPool.Put(c.buf)
		case b := <-ra.free:
			chunkPool.Put(b)
		default:
			return
		}
	}
}

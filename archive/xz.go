package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// xzMaxDict bounds the LZMA2 dictionary an xz block header can make the decoder allocate:
// the header asks for up to 4 GiB in one byte, and the decoder allocates it whole. xz -9 uses
// 64 MiB; the bound is zstd's window bound.
const xzMaxDict = zstdMaxWindow

var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}

func isXz(b []byte) bool { return bytes.HasPrefix(b, xzMagic) }

// newXzReader decompresses the xz stream (or streams, as xz concatenates them) r, refusing
// one whose blocks need a dictionary over xzMaxDict before the decoder allocates it.
func newXzReader(r io.Reader) (io.Reader, error) {
	zr, err := xz.NewReader(&xzGate{r: r, maxDict: xzMaxDict, st: xzStreamHeader, need: 12})
	if err != nil {
		return nil, err
	}
	return zr, nil
}

// errXzCorrupt is what xzGate says of bytes that are no xz stream; the decoder would refuse
// them too.
var errXzCorrupt = errors.New("corrupt xz stream")

// States of xzGate: what the next bytes of the stream are (xz-file-format-1.0.4).
const (
	xzStreamHeader  = iota // collecting the 12 bytes of a stream header
	xzBlockStart           // a block header's size byte, or 0: the index
	xzBlockHeader          // collecting a block header
	xzChunk                // an LZMA2 chunk's control byte
	xzChunkHeader          // collecting the rest of an LZMA2 chunk header
	xzSkip                 // skipping data, then state next
	xzIndex                // the index's varints: its record count, then two per record
	xzStreamFooter         // collecting the 12 bytes of a stream footer
	xzStreamPadding        // zero bytes after a stream, or the next stream
)

// xzGate passes an xz stream through unchanged, reading its structure as it goes (headers,
// LZMA2 chunk headers, sizes; never the compressed data) so that a block header asking for a
// dictionary over maxDict fails the read before the decoder sees it.
type xzGate struct {
	r       io.Reader
	maxDict int64
	err     error

	st    int
	next  int    // state after xzSkip
	skip  int64  // bytes left to skip
	buf   []byte // bytes collected of a header
	need  int    // bytes of the header being collected
	check int64  // bytes of a block's check, from the stream flags
	block int64  // bytes of the current block: header and compressed data
	index int64  // bytes of the index read
	left  uint64 // varints of the index left to read, after its record count
	count bool   // the index's record count is read
	v     uint64 // the varint being read
	shift uint
}

func (g *xzGate) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	if ferr := g.feed(p[:n]); ferr != nil {
		// The bytes that hold the refused header never reach the decoder.
		g.err = ferr
		return 0, ferr
	}
	return n, err
}

func (g *xzGate) collect(st, need int, first []byte) {
	g.st, g.need = st, need
	g.buf = append(g.buf[:0], first...)
}

func (g *xzGate) skipThen(n int64, next int) {
	g.st, g.skip, g.next = xzSkip, n, next
	if n == 0 {
		g.enter(next)
	}
}

// enter starts state st after a skip.
func (g *xzGate) enter(st int) {
	switch st {
	case xzStreamFooter:
		g.collect(xzStreamFooter, 12, nil)
	default:
		g.st = st
	}
}

func (g *xzGate) feed(p []byte) error {
	for len(p) > 0 {
		switch g.st {
		case xzSkip:
			n := min(int64(len(p)), g.skip)
			g.skip -= n
			p = p[n:]
			if g.skip == 0 {
				g.enter(g.next)
			}
			continue
		case xzStreamHeader, xzBlockHeader, xzChunkHeader, xzStreamFooter:
			n := min(len(p), g.need-len(g.buf))
			g.buf = append(g.buf, p[:n]...)
			p = p[n:]
			if len(g.buf) == g.need {
				if err := g.collected(); err != nil {
					return err
				}
			}
			continue
		}
		b := p[0]
		p = p[1:]
		switch g.st {
		case xzBlockStart:
			if b == 0 {
				g.st, g.index, g.count, g.v, g.shift = xzIndex, 1, false, 0, 0
				continue
			}
			g.collect(xzBlockHeader, (int(b)+1)*4, []byte{b})
		case xzChunk:
			g.block++
			switch {
			case b == 0: // end of the LZMA2 data: block padding, then the check
				g.skipThen((4-g.block%4)%4+g.check, xzBlockStart)
			case b == 1 || b == 2: // uncompressed chunk: its size
				g.collect(xzChunkHeader, 3, []byte{b})
			case b >= 0xc0: // LZMA chunk with new properties
				g.collect(xzChunkHeader, 6, []byte{b})
			case b >= 0x80:
				g.collect(xzChunkHeader, 5, []byte{b})
			default:
				return fmt.Errorf("%w: bad LZMA2 chunk", errXzCorrupt)
			}
		case xzIndex:
			g.index++
			if g.shift > 63 {
				return fmt.Errorf("%w: bad index", errXzCorrupt)
			}
			g.v |= uint64(b&0x7f) << g.shift
			g.shift += 7
			if b&0x80 != 0 {
				continue
			}
			if !g.count {
				g.count, g.left = true, min(g.v, 1<<62)*2
			} else {
				g.left--
			}
			g.v, g.shift = 0, 0
			if g.left == 0 { // index padding and CRC32, then the footer
				g.skipThen((4-g.index%4)%4+4, xzStreamFooter)
			}
		case xzStreamPadding:
			switch b {
			case 0:
			case xzMagic[0]:
				g.collect(xzStreamHeader, 12, []byte{b})
			default:
				return fmt.Errorf("%w: data after the stream", errXzCorrupt)
			}
		}
	}
	return nil
}

// collected handles a header collected whole in g.buf.
func (g *xzGate) collected() error {
	h := g.buf
	switch g.st {
	case xzStreamHeader:
		if !isXz(h) {
			return fmt.Errorf("%w: bad stream header", errXzCorrupt)
		}
		if id := h[7] & 0x0f; id == 0 {
			g.check = 0
		} else {
			g.check = 4 << ((id - 1) / 3) // CRC32, CRC64, SHA-256 and the reserved IDs
		}
		g.st = xzBlockStart
	case xzBlockHeader:
		if err := g.blockHeader(h); err != nil {
			return err
		}
		g.block = int64(len(h))
		g.st = xzChunk
	case xzChunkHeader:
		var size int64
		if h[0] < 0x80 {
			size = int64(binary.BigEndian.Uint16(h[1:3])) + 1
		} else {
			size = int64(binary.BigEndian.Uint16(h[3:5])) + 1
		}
		g.block += int64(len(h)-1) + size
		g.skipThen(size, xzChunk)
	case xzStreamFooter:
		g.st = xzStreamPadding
	}
	return nil
}

// blockHeader checks the dictionary size in block header h.
func (g *xzGate) blockHeader(h []byte) error {
	body := h[:len(h)-4] // without its CRC32
	pos := 2
	varint := func() (uint64, error) {
		var v uint64
		for i := uint(0); i < 9 && pos < len(body); i++ {
			b := body[pos]
			pos++
			v |= uint64(b&0x7f) << (7 * i)
			if b&0x80 == 0 {
				return v, nil
			}
		}
		return 0, fmt.Errorf("%w: bad block header", errXzCorrupt)
	}
	if len(body) < 2 {
		return fmt.Errorf("%w: bad block header", errXzCorrupt)
	}
	flags := body[1]
	for _, bit := range []byte{0x40, 0x80} { // compressed size, uncompressed size
		if flags&bit != 0 {
			if _, err := varint(); err != nil {
				return err
			}
		}
	}
	for range int(flags&3) + 1 {
		id, err := varint()
		if err != nil {
			return err
		}
		size, err := varint()
		if err != nil {
			return err
		}
		if size > uint64(len(body)-pos) {
			return fmt.Errorf("%w: bad block header", errXzCorrupt)
		}
		props := body[pos : pos+int(size)]
		pos += int(size)
		if id != 0x21 { // LZMA2; the decoder refuses the other filters
			continue
		}
		if len(props) != 1 {
			return fmt.Errorf("%w: bad LZMA2 filter", errXzCorrupt)
		}
		dict, err := lzma.DecodeDictCap(props[0])
		if err != nil {
			return fmt.Errorf("%w: %v", errXzCorrupt, err)
		}
		if dict > g.maxDict {
			return fmt.Errorf("%w: xz dictionary of %d MiB, more than the %d MiB allowed", ErrTooLarge, dict>>20, g.maxDict>>20)
		}
	}
	return nil
}

package layers

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Sparse entries without reading their holes.
//
// archive/tar's Reader hands a sparse entry's holes over as zeros, every byte of them, and the
// method that would skip them is unexported (https://go.dev/issue/22735): a lastlog of a few
// records made for uid 10^9 is 292 GB of zeros to read. So for the formats whose sparse map
// can be found from what archive/tar exposes plus the header blocks it read, Apply reads the
// stored data itself, fragment by fragment, from the stream under the tar Reader (rawReader),
// and archive/tar's own skip of those bytes becomes a seek over what was already read:
//
//   - old GNU ('S' entries): the map is in the header block and its extension blocks, the
//     last blocks archive/tar read before Next returned (oldGNUSparseMap).
//   - PAX 0.0 and 0.1: the map is in hdr.PAXRecords (archive/tar folds 0.0's repeated
//     GNU.sparse.offset and .numbytes records into GNU.sparse.map).
//   - PAX 1.0: the map is in the first blocks of the content, the last blocks archive/tar
//     read before Next returned, right after the entry's header (pax10SparseMap).
//
// When the map cannot be told for certain (a crafted layer where two places fit), the entry
// takes the slow path: archive/tar's Read, its holes bounded by maxSparseHoles.
//
// archive/tar has checked the map when Next returns (sorted, non-overlapping fragments within
// the size, at most 1 MiB of map), so a hostile map has already failed as archive/tar fails
// it; the map found here is checked again and must match the header archive/tar returned, or
// the entry takes the slow path. What cannot be checked before reading is that the stored
// data is as long as the map says: rawReader checks that when archive/tar skips the entry.
// That check follows archive/tar's discard (reader.go): should it skip otherwise, entries
// fail with errSparseData, never with other bytes, and TestApplySparseMatchesTar says so.

// fragment is one run of stored data of a sparse entry, at its offset in the file.
type fragment struct{ off, n int64 }

// errSparseData: a sparse entry's stored data is not the length its map gives, which
// archive/tar's Read reports as missing or unreferenced data.
var errSparseData = errors.New("archive/tar: sparse file data does not match its sparse map")

// maxHeaderCapture is how many bytes read during Next rawReader keeps: archive/tar stops an
// old GNU map at 1 MiB of header and extension blocks.
const maxHeaderCapture = 1<<20 + 4<<10

// rawReader is the stream under archive/tar's Reader. It keeps the bytes archive/tar reads
// during Next (the last maxHeaderCapture of them), lets a sparseContent read an entry's
// stored data directly, and then takes archive/tar's skip of those bytes as a seek, checking
// that archive/tar skips exactly as many as were read.
type rawReader struct {
	r       io.Reader
	pos     int64 // bytes read from r or skipped by a seek, for Seek's answers
	capture []byte
	inNext  bool

	// After a sparse entry's data was read directly: pending until archive/tar's skip of it
	// is seen, credit the bytes it has yet to skip, seeked once it seeked over all but one.
	pending bool
	credit  int64
	seeked  bool
}

func (r *rawReader) startNext() { r.inNext, r.capture = true, r.capture[:0] }
func (r *rawReader) endNext()   { r.inNext = false }

func (r *rawReader) Read(p []byte) (int, error) {
	if r.pending {
		return r.skipRead(p)
	}
	n, err := r.r.Read(p)
	r.pos += int64(n)
	if r.inNext && n > 0 {
		if len(r.capture)+n > 2*maxHeaderCapture {
			keep := max(0, len(r.capture)-maxHeaderCapture)
			r.capture = r.capture[:copy(r.capture, r.capture[keep:])]
		}
		r.capture = append(r.capture, p[:n]...)
	}
	return n, err
}

// Seek answers archive/tar's discard, which skips an entry's unread data by Seek(0,
// io.SeekCurrent), Seek(n-1, io.SeekCurrent), then a read of the last byte. Outside a
// directly read sparse entry it refuses, so that archive/tar reads what it skips.
func (r *rawReader) Seek(offset int64, whence int) (int64, error) {
	if !r.pending || whence != io.SeekCurrent {
		return 0, errors.ErrUnsupported
	}
	if offset == 0 {
		return r.pos, nil
	}
	// archive/tar skips the n bytes of data its map left, n == credit when the data was as
	// long as the map.
	if r.seeked || r.credit < 2 || offset != r.credit-1 {
		return 0, errSparseData
	}
	r.seeked, r.credit, r.pos = true, 1, r.pos+offset
	return r.pos, nil
}

// skipRead is a read while archive/tar skips a directly read sparse entry: the last byte of
// its data (already read: any value does, archive/tar discards it), or, for an entry of no
// data, the next header.
func (r *rawReader) skipRead(p []byte) (int, error) {
	switch {
	case r.credit == 1 && len(p) == 1:
		r.pending, r.credit = false, 0
		r.pos++
		p[0] = 0
		return 1, nil
	case r.credit == 0 && len(p) != 1:
		// archive/tar skipped nothing, no byte of padding follows, and it reads a header.
		r.pending = false
		return r.Read(p)
	}
	return 0, errSparseData
}

// skipped tells r that n bytes of data were read directly, which archive/tar skips next.
func (r *rawReader) skipped(n int64) { r.pending, r.credit, r.seeked = true, n, false }

// readData reads stored data directly, for a sparseContent.
func (r *rawReader) readData(p []byte) (int, error) {
	n, err := io.ReadFull(r.r, p)
	r.pos += int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// sparseContent is the content of a sparse entry whose map was found: its fragments of
// stored data, read from the stream under archive/tar, and holes between them that are never
// read. Read gives the bytes archive/tar's Read gives, holes as zeros; the extractor writes
// the fragments at their offsets instead (copyFragments).
type sparseContent struct {
	raw   *rawReader
	frags []fragment
	size  int64

	i     int   // fragment being read
	done  int64 // bytes of fragment i read
	pos   int64 // offset of the next byte Read gives
	read  int64 // stored bytes read
	ended bool  // all read: archive/tar's skip is checked
}

// data is the stored bytes of all fragments.
func (c *sparseContent) data() int64 {
	var n int64
	for _, f := range c.frags {
		n += f.n
	}
	return n
}

// next reads stored data into p from the current fragment, returning its file offset.
func (c *sparseContent) next(p []byte) (off int64, n int, err error) {
	for c.i < len(c.frags) && c.done == c.frags[c.i].n {
		c.i, c.done = c.i+1, 0
	}
	if c.i == len(c.frags) {
		c.end()
		return 0, 0, io.EOF
	}
	f := c.frags[c.i]
	p = p[:min(int64(len(p)), f.n-c.done)]
	n, err = c.raw.readData(p)
	off = f.off + c.done
	c.done += int64(n)
	c.read += int64(n)
	return off, n, err
}

// end marks all data read, once: archive/tar is to skip exactly that much.
func (c *sparseContent) end() {
	if !c.ended {
		c.ended = true
		c.raw.skipped(c.read)
	}
}

func (c *sparseContent) Read(p []byte) (int, error) {
	for c.i < len(c.frags) && c.done == c.frags[c.i].n {
		c.i, c.done = c.i+1, 0
	}
	if c.pos == c.size {
		c.end()
		return 0, io.EOF
	}
	if c.i == len(c.frags) || c.pos < c.frags[c.i].off {
		// A hole, up to the next fragment or the end.
		end := c.size
		if c.i < len(c.frags) {
			end = c.frags[c.i].off
		}
		n := int(min(int64(len(p)), end-c.pos))
		clear(p[:n])
		c.pos += int64(n)
		return n, nil
	}
	_, n, err := c.next(p)
	c.pos += int64(n)
	return n, err
}

// finish checks, after the extractor is done with the entry, that it read all or none of it:
// none leaves archive/tar to skip the data as it skips any unread content.
func (c *sparseContent) finish() error {
	if !c.ended && c.read > 0 {
		return fmt.Errorf("read %d of the %d bytes of a sparse entry's data", c.read, c.data())
	}
	return nil
}

// sparseContentOf returns the content of hdr, just returned by archive/tar's Next over raw,
// as a sparseContent when hdr is a sparse entry whose map can be found (old GNU, PAX 0.0, 0.1
// and 1.0), or nil for archive/tar's Reader to read it.
func sparseContentOf(raw *rawReader, hdr *tar.Header) *sparseContent {
	var frags []fragment
	var ok bool
	switch rec := hdr.PAXRecords; {
	case hdr.Typeflag == tar.TypeGNUSparse:
		frags, ok = oldGNUSparseMap(raw.capture, hdr.Size)
	case rec["GNU.sparse.major"] == "1" && rec["GNU.sparse.minor"] == "0":
		frags, ok = pax10SparseMap(raw.capture)
	default:
		frags, ok = paxSparseMap(hdr)
	}
	if !ok || !validFragments(frags, hdr.Size) {
		return nil
	}
	var nonEmpty []fragment
	for _, f := range frags {
		if f.n > 0 {
			nonEmpty = append(nonEmpty, f)
		}
	}
	return &sparseContent{raw: raw, frags: nonEmpty, size: hdr.Size}
}

// validFragments is archive/tar's check of a map: fragments in order, apart, within size.
func validFragments(frags []fragment, size int64) bool {
	if size < 0 {
		return false
	}
	var end int64
	for _, f := range frags {
		if f.off < 0 || f.n < 0 || f.off > 1<<63-1-f.n || f.off+f.n > size || f.off < end {
			return false
		}
		end = f.off + f.n
	}
	return true
}

// paxSparseMap is the map of a PAX 0.0 or 0.1 entry, from its records, read as archive/tar
// reads it. PAX 1.0, another version, or no map: not ok.
func paxSparseMap(hdr *tar.Header) ([]fragment, bool) {
	rec := hdr.PAXRecords
	major, minor := rec["GNU.sparse.major"], rec["GNU.sparse.minor"]
	switch {
	case major == "0" && (minor == "0" || minor == "1"):
	case major != "" || minor != "":
		return nil, false // 1.0 or a version archive/tar does not read as sparse
	case rec["GNU.sparse.map"] == "":
		return nil, false
	}
	count, err := strconv.ParseInt(rec["GNU.sparse.numblocks"], 10, 0)
	if err != nil || count < 0 || count > 1<<20 {
		return nil, false
	}
	fields := strings.Split(rec["GNU.sparse.map"], ",")
	if len(fields) == 1 && fields[0] == "" {
		fields = nil
	}
	if int64(len(fields)) != 2*count {
		return nil, false
	}
	frags := make([]fragment, 0, count)
	for i := 0; i < len(fields); i += 2 {
		off, err1 := strconv.ParseInt(fields[i], 10, 64)
		n, err2 := strconv.ParseInt(fields[i+1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, false
		}
		frags = append(frags, fragment{off, n})
	}
	return frags, true
}

// maxMapScan bounds the bytes pax10SparseMap scans for the first lines of candidate maps.
const maxMapScan = 1 << 20

// pax10SparseMap finds the map of a PAX 1.0 entry in tail, the bytes archive/tar read during
// Next: they end with the map, decimal numbers one a line (the count of fragments, then each
// one's offset and length) in whole blocks, right after the entry's header. archive/tar reads
// the map's blocks until they hold the 2*count+1 lines it needs, no more; so the map starts
// at a block after one with a valid header checksum, from which the count on the first line
// needs exactly the blocks up to the end. Only when exactly one start fits is it known to be
// where archive/tar read the map; a crafted layer where two do takes the slow path.
func pax10SparseMap(tail []byte) ([]fragment, bool) {
	tail = tail[len(tail)%blockSize:]
	nb := len(tail) / blockSize
	// lines[i]: newlines in the blocks before block i.
	lines := make([]int64, nb+1)
	for i := range nb {
		lines[i+1] = lines[i] + int64(bytes.Count(tail[i*blockSize:(i+1)*blockSize], []byte{'\n'}))
	}
	start, count := -1, int64(0)
	scanned := 0
	for s := nb - 1; s >= 1; s-- {
		if !validChecksum(tail[(s-1)*blockSize : s*blockSize]) {
			continue
		}
		if lines[nb] == lines[s] {
			continue // no newline after s: not where a map starts
		}
		// The count's line. Scanning every candidate to its newline would cost the square of
		// the tail (megabytes of header-like blocks with no newline: a skipped body, a long
		// name): past maxMapScan bytes scanned in all, the entry takes the slow path.
		rest := tail[s*blockSize:]
		i := bytes.IndexByte(rest[:min(len(rest), maxMapScan-scanned)], '\n')
		if i < 0 {
			return nil, false
		}
		scanned += i + 1
		first := rest[:i]
		n, err := strconv.ParseInt(string(first), 10, 0)
		if err != nil || n < 0 || n > 1<<20 {
			continue
		}
		// archive/tar stops at the first block that brings the lines to 2n+1.
		need := 2*n + 1
		if lines[nb]-lines[s] < need || lines[nb-1]-lines[s] >= need {
			continue
		}
		if start >= 0 {
			return nil, false
		}
		start, count = s, n
	}
	if start < 0 {
		return nil, false
	}
	tokens := strings.Split(string(tail[start*blockSize:]), "\n")[1:]
	frags := make([]fragment, 0, count)
	for i := range count {
		off, err1 := strconv.ParseInt(tokens[2*i], 10, 64)
		n, err2 := strconv.ParseInt(tokens[2*i+1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, false
		}
		frags = append(frags, fragment{off, n})
	}
	return frags, true
}

// Old GNU sparse header layout (GNU tar's tar.h, struct oldgnu_header and sparse_header):
// four map entries in the header, 21 in each extension block, each a 12-byte offset and a
// 12-byte length, then an is-extended byte; the real size follows the header's entries.
const (
	blockSize        = 512
	gnuSparseOff     = 386
	gnuHeaderEntries = 4
	gnuExtEntries    = 21
	gnuEntrySize     = 24
	gnuIsExtended    = gnuSparseOff + gnuHeaderEntries*gnuEntrySize // 482
	gnuRealSize      = gnuIsExtended + 1                            // 483, 12 bytes
	extIsExtended    = gnuExtEntries * gnuEntrySize                 // 504
)

// oldGNUSparseMap finds the map of an old GNU sparse entry in tail, the bytes archive/tar
// read during Next: they end with the entry's header and its extension blocks. The header
// is the block, counting back from the end, that is a GNU 'S' header with a valid checksum
// and whose is-extended chain (each block's flag says whether another follows) ends exactly
// at the end. Only when exactly one block fits is it known to be archive/tar's header; a
// crafted layer where two do takes the slow path. The real size must be hdr.Size.
func oldGNUSparseMap(tail []byte, size int64) ([]fragment, bool) {
	tail = tail[len(tail)%blockSize:]
	nb := len(tail) / blockSize
	if nb == 0 {
		return nil, false
	}
	block := func(i int) []byte { return tail[(nb-i)*blockSize : (nb-i+1)*blockSize] } // i-th from the end, from 1
	// run: how many blocks before the last one have their extension flag set, counting back
	// from the one before the last.
	run := 0
	for i := 2; i <= nb && block(i)[extIsExtended] != 0; i++ {
		run++
	}
	found := 0
	for i := 1; i <= nb; i++ {
		h := block(i)
		if i == 1 && h[gnuIsExtended] != 0 {
			continue
		}
		if i > 1 && (h[gnuIsExtended] == 0 || block(1)[extIsExtended] != 0 || i-2 > run) {
			continue
		}
		if h[156] != tar.TypeGNUSparse || string(h[257:265]) != "ustar  \x00" || !validChecksum(h) {
			continue
		}
		if found != 0 {
			return nil, false
		}
		found = i
	}
	if found == 0 {
		return nil, false
	}
	h := block(found)
	if real, ok := parseNumeric(h[gnuRealSize : gnuRealSize+12]); !ok || real != size {
		return nil, false
	}
	var frags []fragment
	entries := func(b []byte, count int) bool {
		for e := range count {
			f := b[e*gnuEntrySize : (e+1)*gnuEntrySize]
			if f[0] == 0 {
				break // as GNU tar and archive/tar end a block's entries
			}
			off, ok1 := parseNumeric(f[:12])
			n, ok2 := parseNumeric(f[12:])
			if !ok1 || !ok2 {
				return false
			}
			frags = append(frags, fragment{off, n})
		}
		return true
	}
	if !entries(h[gnuSparseOff:], gnuHeaderEntries) {
		return nil, false
	}
	for i := found - 1; i >= 1; i-- {
		if !entries(block(i), gnuExtEntries) {
			return nil, false
		}
	}
	return frags, true
}

// validChecksum reports whether a header block's checksum field holds the sum of its bytes,
// the field counted as spaces, unsigned or signed (old writers summed signed chars).
func validChecksum(h []byte) bool {
	want, ok := parseOctal(h[148:156])
	if !ok {
		return false
	}
	var unsigned, signed int64
	for i, c := range h {
		if i >= 148 && i < 156 {
			c = ' '
		}
		unsigned += int64(c)
		signed += int64(int8(c))
	}
	return want == unsigned || want == signed
}

// parseNumeric reads a numeric header field: octal, or base-256 when the first byte's high
// bit is set (GNU's extension for values octal cannot hold), as archive/tar reads them.
func parseNumeric(b []byte) (int64, bool) {
	if len(b) == 0 || b[0]&0x80 == 0 {
		return parseOctal(b)
	}
	var inv byte // base-256 negatives are two's complement: invert, read, invert back
	if b[0]&0x40 != 0 {
		inv = 0xff
	}
	var x uint64
	for i, c := range b {
		c ^= inv
		if i == 0 {
			c &= 0x7f
		}
		if x>>56 != 0 {
			return 0, false
		}
		x = x<<8 | uint64(c)
	}
	if x>>63 != 0 {
		return 0, false
	}
	if inv != 0 {
		return ^int64(x), true
	}
	return int64(x), true
}

// parseOctal reads an octal field padded with spaces or NULs; empty is 0.
func parseOctal(b []byte) (int64, bool) {
	b = bytes.Trim(b, " \x00")
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) == 0 {
		return 0, true
	}
	x, err := strconv.ParseUint(string(b), 8, 64)
	return int64(x), err == nil
}

// Package sparsetar writes a regular file with holes as a sparse tar entry, as GNU tar
// --sparse writes it in PAX format 1.0
// (https://www.gnu.org/software/tar/manual/html_node/Sparse-Formats.html): a PAX header
// names the file (GNU.sparse.name) and its size (GNU.sparse.realsize); the entry's content
// starts with the map (the number of fragments, then each one's offset and length, decimal
// numbers on lines of their own, padded to a block) and goes on with the fragments' data. A
// reader that knows the format (archive/tar, GNU tar, bsdtar, Python's tarfile,
// layers.Apply) makes the file with its holes; the data stored is the file's data, whatever
// its size. cp's and export's tree writers use it.
//
// archive/tar writes no sparse entry (https://go.dev/issue/22735) and drops GNU.sparse.*
// records from a header's PAXRecords, so the PAX header is written here, onto the stream
// under the tar.Writer, and the entry's own header, which only a USTAR block needs, by it.
package sparsetar

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/ctxio"
)

// Fragment is a run of a file's data: its offset and length.
type Fragment struct{ Off, N int64 }

// MaxFragments bounds the fragments of one sparse entry: archive/tar (and so layers.Apply)
// refuses a map of more than 1 MiB, and a fragment takes up to 40 bytes of it. A variable
// for tests.
var MaxFragments = 20000

// MaxMergedHoles bounds the bytes of holes a file's map may take in as data when the file
// has more runs of data than MaxFragments: the holes between the runs closest together are
// written as zeros. Past it the copy fails: a file of a million scattered blocks of data
// must not cost the copy its whole size in zeros, as a dense copy would. A variable for tests.
var MaxMergedHoles int64 = 4 << 30

// ErrFragmented: a file whose data is in too many runs, too far apart, to be copied sparse.
var ErrFragmented = errors.New("a sparse file of too many runs of data, too far apart")

// seek is unix.Seek; a variable for tests, which change the file between two seeks.
var seek = unix.Seek

// Map is the runs of data of f, of size bytes, found with SEEK_DATA and SEEK_HOLE; nil
// when it has no hole (or its filesystem does not tell), and the file is written whole. A
// file of holes only has an empty map, not nil: its entry holds no data.
func Map(ctx context.Context, f *os.File, size int64) ([]Fragment, error) {
	fd := int(f.Fd())
	frags := []Fragment{}
	var merged int64
	for off := int64(0); off < size; {
		if len(frags)%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		start, err := seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // no data past off: a hole to the end
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
			return nil, nil // no SEEK_DATA here
		}
		if err != nil {
			return nil, fmt.Errorf("finding data: %w", err)
		}
		if start >= size {
			break
		}
		end, err := seek(fd, start, unix.SEEK_HOLE)
		if errors.Is(err, unix.ENXIO) {
			break // the file shrank under start meanwhile: what it lost is written as zeros
		}
		if err != nil {
			return nil, fmt.Errorf("finding holes: %w", err)
		}
		end = min(max(end, start+1), size) // past size: the file grew meanwhile
		frags = append(frags, Fragment{start, end - start})
		off = end
		if len(frags) > 2*MaxFragments {
			if frags, merged, err = mergeFragments(frags, MaxFragments, merged); err != nil {
				return nil, err
			}
		}
	}
	if len(frags) > MaxFragments {
		var err error
		if frags, _, err = mergeFragments(frags, MaxFragments, merged); err != nil {
			return nil, err
		}
	}
	if len(frags) == 1 && frags[0] == (Fragment{0, size}) {
		return nil, nil
	}
	return frags, nil
}

// mergeFragments merges the fragments separated by the smallest holes until at most limit
// are left, counting the bytes of holes taken in as data on merged.
func mergeFragments(frags []Fragment, limit int, merged int64) ([]Fragment, int64, error) {
	gaps := make([]int64, 0, len(frags)-1)
	for i := 1; i < len(frags); i++ {
		gaps = append(gaps, frags[i].Off-(frags[i-1].Off+frags[i-1].N))
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	// Gaps below the threshold merge, and as many equal to it as are still needed.
	need := len(frags) - limit
	threshold := gaps[need-1]
	equal := 0
	for _, g := range gaps[:need] {
		if g == threshold {
			equal++
		}
	}
	out := frags[:1]
	for _, f := range frags[1:] {
		last := &out[len(out)-1]
		gap := f.Off - (last.Off + last.N)
		if gap < threshold || gap == threshold && equal > 0 {
			if gap == threshold {
				equal--
			}
			if merged += gap; merged > MaxMergedHoles {
				return nil, merged, ErrFragmented
			}
			last.N = f.Off + f.N - last.Off
			continue
		}
		out = append(out, f)
	}
	return out, merged, nil
}

// WriteFile writes the regular file f, of hdr.Size bytes, as a sparse entry of the
// fragments Map found, to tw, which writes to w: hdr is its header as a whole file would have
// it (its PAXRecords, xattrs, go in the PAX header). The bytes of a fragment the file no
// longer has (it shrank while it was read) are written as zeros, so the entry stays whole.
func WriteFile(ctx context.Context, w io.Writer, tw *tar.Writer, f *os.File, hdr *tar.Header, frags []Fragment) error {
	size := hdr.Size
	if len(frags) == 0 || frags[len(frags)-1].Off+frags[len(frags)-1].N < size {
		// As GNU tar ends a map: a fragment of nothing at the end, for a file that ends in a hole.
		frags = append(frags, Fragment{size, 0})
	}
	var m bytes.Buffer
	m.WriteString(strconv.Itoa(len(frags)) + "\n")
	var data int64
	for _, fr := range frags {
		m.WriteString(strconv.FormatInt(fr.Off, 10) + "\n" + strconv.FormatInt(fr.N, 10) + "\n")
		data += fr.N
	}
	m.Write(make([]byte, padding(int64(m.Len()))))

	records := [][2]string{
		{"GNU.sparse.major", "1"},
		{"GNU.sparse.minor", "0"},
		{"GNU.sparse.name", hdr.Name},
		{"GNU.sparse.realsize", strconv.FormatInt(size, 10)},
	}
	var keys []string
	for k := range hdr.PAXRecords {
		if !strings.HasPrefix(k, "GNU.sparse.") && k != "path" && k != "size" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		records = append(records, [2]string{k, hdr.PAXRecords[k]})
	}
	// The USTAR header below holds what fits it; the rest goes in the PAX header.
	entry := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     "GNUSparseFile.0/file",
		Mode:     hdr.Mode,
		Uid:      hdr.Uid,
		Gid:      hdr.Gid,
		ModTime:  hdr.ModTime.Truncate(1e9),
		Size:     int64(m.Len()) + data,
		Format:   tar.FormatUSTAR,
	}
	const maxOctal7 = 1<<21 - 1
	if entry.Uid < 0 || entry.Uid > maxOctal7 {
		records = append(records, [2]string{"uid", strconv.Itoa(hdr.Uid)})
		entry.Uid = 0
	}
	if entry.Gid < 0 || entry.Gid > maxOctal7 {
		records = append(records, [2]string{"gid", strconv.Itoa(hdr.Gid)})
		entry.Gid = 0
	}
	if sec := hdr.ModTime.Unix(); sec < 0 || sec >= 1<<33 || hdr.ModTime.Nanosecond() != 0 {
		records = append(records, [2]string{"mtime", paxTime(hdr.ModTime.Unix(), hdr.ModTime.Nanosecond())})
		if sec < 0 || sec >= 1<<33 {
			entry.ModTime = time0
		}
	}
	// More than 8 GiB of map and data do not fit the USTAR block's 11 octal digits, and
	// tar.Writer would refuse it: the PAX header holds the size, the USTAR block (written
	// here, tw's for a size of 0) none, and the content goes onto w, padded here.
	var out io.Writer = tw
	var block []byte
	if entry.Size > maxUSTARSize {
		records = append(records, [2]string{"size", strconv.FormatInt(entry.Size, 10)})
		var b bytes.Buffer
		size := entry.Size
		entry.Size = 0
		if err := tar.NewWriter(&b).WriteHeader(entry); err != nil {
			return err
		}
		entry.Size = size
		block, out = b.Bytes(), w
	}
	// Pads the entry before: what goes onto w next starts a block.
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := writePAXHeader(w, records); err != nil {
		return err
	}
	if block != nil {
		if _, err := w.Write(block); err != nil {
			return err
		}
	} else if err := tw.WriteHeader(entry); err != nil {
		return err
	}
	if _, err := out.Write(m.Bytes()); err != nil {
		return err
	}
	for _, fr := range frags {
		n, err := io.Copy(out, ctxio.NewReader(ctx, io.NewSectionReader(f, fr.Off, fr.N)))
		if err == nil && n < fr.N {
			// The file shrank while it was read: the entry keeps the size its map says.
			_, err = io.CopyN(out, ctxio.NewReader(ctx, zeros{}), fr.N-n)
		}
		if err != nil {
			return err
		}
	}
	if block != nil {
		_, err := w.Write(make([]byte, padding(entry.Size)))
		return err
	}
	return nil
}

// maxUSTARSize is the largest size a USTAR block holds (11 octal digits); a variable for tests.
var maxUSTARSize int64 = 1<<33 - 1

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// paxTime is a PAX time: seconds, and a fraction when there is one.
func paxTime(sec int64, nsec int) string {
	if nsec == 0 {
		return strconv.FormatInt(sec, 10)
	}
	if sec < 0 {
		// -1.5 is 1.5 s before the epoch: seconds and nanoseconds both negative.
		sec, nsec = sec+1, 1e9-nsec
		s := fmt.Sprintf("%d.%09d", sec, nsec)
		if sec == 0 {
			s = "-" + s
		}
		return s
	}
	return fmt.Sprintf("%d.%09d", sec, nsec)
}

// time0 is the epoch: the USTAR header's time when the PAX header holds one it cannot.
var time0 = time.Unix(0, 0)

// padding is how many zeros end n bytes of content at a block's end.
func padding(n int64) int64 { return -n & 511 }

// writePAXHeader writes a PAX extended header ('x') of records, in their order, to w.
func writePAXHeader(w io.Writer, records [][2]string) error {
	var body bytes.Buffer
	for _, r := range records {
		rest := " " + r[0] + "=" + r[1] + "\n"
		n := len(rest) + 1
		for n != len(strconv.Itoa(n))+len(rest) {
			n = len(strconv.Itoa(n)) + len(rest)
		}
		body.WriteString(strconv.Itoa(n) + rest)
	}
	var blk [512]byte
	copy(blk[0:100], "PaxHeaders.0/file")
	copy(blk[100:108], "0000644\x00")
	copy(blk[108:116], "0000000\x00")
	copy(blk[116:124], "0000000\x00")
	copy(blk[124:136], fmt.Sprintf("%011o\x00", body.Len()))
	copy(blk[136:148], "00000000000\x00")
	blk[156] = 'x'
	copy(blk[257:263], "ustar\x00")
	copy(blk[263:265], "00")
	copy(blk[148:156], "        ")
	var sum int64
	for _, b := range blk {
		sum += int64(b)
	}
	copy(blk[148:156], fmt.Sprintf("%06o\x00 ", sum))
	body.Write(make([]byte, padding(int64(body.Len()))))
	if _, err := w.Write(blk[:]); err != nil {
		return err
	}
	_, err := w.Write(body.Bytes())
	return err
}

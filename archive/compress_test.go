package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/strata-run/strata/cache"
)

// busyboxArchive is the busybox layout saved as a docker-archive.
func busyboxArchive(t *testing.T) []byte {
	t.Helper()
	s := newStore(t)
	loaded, err := LoadDir(context.Background(), s, busyboxDir(t), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Save(context.Background(), &out, s, []cache.Ref{{Name: loaded[0].Ref, Descriptor: loaded[0].Manifest}}, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// compressWith runs a compressor (xz, bzip2) over b, skipping the test when it is missing.
func compressWith(t *testing.T, b []byte, name string, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("no %s here", name)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(b)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, errOut.String())
	}
	return out.Bytes()
}

func xzWrite(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := xz.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestLoadXzBzip2: an archive compressed with xz or bzip2 loads, as docker load reads it;
// both failed with "archive/tar: invalid tar header". Every form the xz tool writes is read:
// presets, several blocks, each check, streams concatenated with padding between.
func TestLoadXzBzip2(t *testing.T) {
	plain := busyboxArchive(t)
	tests := []struct {
		name string
		data func(t *testing.T) []byte
	}{
		{"xz (Go writer)", func(t *testing.T) []byte { return xzWrite(t, plain) }},
		{"xz", func(t *testing.T) []byte { return compressWith(t, plain, "xz", "-c") }},
		{"xz -9e", func(t *testing.T) []byte { return compressWith(t, plain, "xz", "-9e", "-c") }},
		{"xz -0", func(t *testing.T) []byte { return compressWith(t, plain, "xz", "-0", "-c") }},
		{"xz blocks", func(t *testing.T) []byte {
			return compressWith(t, plain, "xz", "-T2", "--block-size=65536", "-c")
		}},
		{"xz sha256", func(t *testing.T) []byte { return compressWith(t, plain, "xz", "--check=sha256", "-c") }},
		{"xz crc32", func(t *testing.T) []byte { return compressWith(t, plain, "xz", "--check=crc32", "-c") }},
		{"xz no check", func(t *testing.T) []byte { return compressWith(t, plain, "xz", "--check=none", "-c") }},
		{"xz streams", func(t *testing.T) []byte {
			// Split in two streams, with stream padding between, as `cat a.xz b.xz` makes.
			half := len(plain) / 2
			a := compressWith(t, plain[:half], "xz", "-c")
			b := compressWith(t, plain[half:], "xz", "-c")
			return append(append(a, make([]byte, 8)...), b...)
		}},
		{"bzip2", func(t *testing.T) []byte { return compressWith(t, plain, "bzip2", "-c") }},
		{"bzip2 -1", func(t *testing.T) []byte { return compressWith(t, plain, "bzip2", "-1", "-c") }},
		{"bzip2 streams", func(t *testing.T) []byte {
			half := len(plain) / 2
			return append(compressWith(t, plain[:half], "bzip2", "-c"), compressWith(t, plain[half:], "bzip2", "-c")...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data(t)
			got, err := Load(context.Background(), newStore(t), bytes.NewReader(data), LoadOptions{})
			if err != nil {
				t.Fatalf("Load = %v", err)
			}
			if len(got) != 1 || got[0].Ref != "docker.io/library/busybox:1.38.0-musl" {
				t.Errorf("Load = %+v", got)
			}
		})
	}
}

// xzWithDict is a small xz stream whose block header asks for the dictionary code dict
// (40: 4 GiB - 1), its CRC32 made right again.
func xzWithDict(t *testing.T, dict byte) []byte {
	t.Helper()
	b := xzWrite(t, []byte("an archive"))
	hdr := b[12 : 12+(int(b[12])+1)*4]
	i := bytes.Index(hdr, []byte{0x21, 0x01})
	if i < 0 {
		t.Fatalf("no LZMA2 filter in the block header % x", hdr)
	}
	hdr[i+2] = dict
	body := hdr[:len(hdr)-4]
	crc := crc32.ChecksumIEEE(body)
	hdr[len(hdr)-4], hdr[len(hdr)-3], hdr[len(hdr)-2], hdr[len(hdr)-1] = byte(crc), byte(crc>>8), byte(crc>>16), byte(crc>>24)
	return b
}

// TestLoadXzDictionaryBomb: an xz block header of a few bytes asks for a dictionary of up to
// 4 GiB, which the decoder allocates whole: refused over the bound, as zstd's window is.
func TestLoadXzDictionaryBomb(t *testing.T) {
	// The stream decodes with its own dictionary, and with one at the bound (code 30 is
	// 128 MiB; xz -9 writes 28, 64 MiB).
	for _, code := range []byte{0, 28, 30} {
		r, err := newXzReader(bytes.NewReader(xzWithDict(t, code)))
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(r); err != nil || string(b) != "an archive" {
			t.Errorf("dictionary code %d: read %q, %v", code, b, err)
		}
	}
	for _, code := range []byte{31, 36, 40} {
		loadFails(t, bytes.NewReader(xzWithDict(t, code)), LoadOptions{}, ErrTooLarge, "dictionary")
	}
}

// TestXzGateDamaged: damaged xz streams fail, never by a panic of the structure reader in
// front of the decoder, and it never refuses a stream xz reads.
func TestXzGateDamaged(t *testing.T) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "x", Size: 20000, Mode: 0o644})
	rnd := rand.New(rand.NewPCG(1, 2))
	payload := make([]byte, 20000)
	for i := range payload {
		payload[i] = byte(rnd.IntN(4))
	}
	tw.Write(payload)
	tw.Close()
	good := xzWrite(t, tb.Bytes())
	for i := range 300 {
		b := append([]byte(nil), good...)
		switch i % 3 {
		case 0:
			b[rnd.IntN(len(b))] ^= byte(1 + rnd.IntN(255))
		case 1:
			b = b[:rnd.IntN(len(b))]
		case 2:
			b[rnd.IntN(min(len(b), 64))] = byte(rnd.IntN(256))
		}
		gated, gerr := readXz(b, true)
		plain, perr := readXz(b, false)
		if perr != nil || gerr == nil && bytes.Equal(gated, plain) {
			continue
		}
		// The decoder is lenient (it reads an LZMA chunk past a packed size made
		// wrong); the gate may refuse what it reads, only not a stream xz itself reads.
		if _, err := exec.LookPath("xz"); err != nil {
			continue
		}
		cmd := exec.Command("xz", "-t")
		cmd.Stdin = bytes.NewReader(b)
		if cmd.Run() == nil {
			t.Fatalf("mutation %d: xz reads it, the gate says %v", i, gerr)
		}
	}
}

func readXz(b []byte, gated bool) ([]byte, error) {
	var r io.Reader = bytes.NewReader(b)
	if gated {
		r = &xzGate{r: r, maxDict: 1 << 40, st: xzStreamHeader, need: 12}
	}
	zr, err := xz.NewReader(r)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// TestDecompressMagic: only a real header picks a decompressor; "BZ" alone, or "BZh0", is
// the start of some other file.
func TestDecompressMagic(t *testing.T) {
	for _, head := range []string{"BZh", "BZh0", "BZx9", "\xfd7zX", ""} {
		r, done, err := decompress(strings.NewReader(head))
		if err != nil {
			t.Fatalf("decompress(%q) = %v", head, err)
		}
		b, err := io.ReadAll(r)
		done()
		if err != nil || string(b) != head {
			t.Errorf("decompress(%q) read %q, %v; want it as it is", head, b, err)
		}
	}
	if _, _, err := decompress(strings.NewReader("\xfd7zXZ\x00garbage")); err == nil {
		t.Error("decompress of a damaged xz header succeeded")
	}
	r, done, err := decompress(strings.NewReader("BZh9garbage"))
	if err == nil {
		_, err = io.ReadAll(r)
		done()
	}
	if err == nil || errors.Is(err, io.EOF) {
		t.Errorf("a damaged bzip2 stream read as %v", err)
	}
}

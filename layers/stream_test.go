package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// sampleTar is a small layer with one of most things.
func sampleTar(t testing.TB) []byte {
	return tarOf(t,
		dir("etc/", 0o755),
		file("etc/hostname", "strata\n", 0o644),
		symlink("etc/localtime", "/usr/share/zoneinfo/UTC"),
		hardlink("etc/hostname.bak", "etc/hostname"),
		file("usr/bin/tool", strings.Repeat("binary", 1000), 0o755),
	)
}

func TestApplyCompressions(t *testing.T) {
	raw := sampleTar(t)
	// GNU tar pads to a 10 KiB record; the padding is part of the DiffID.
	padded := append(append([]byte{}, raw...), make([]byte, 10240-len(raw)%10240)...)
	tests := []struct {
		name   string
		layer  []byte
		diffOf []byte
		mt     types.MediaType
	}{
		{"plain, detected", raw, raw, ""},
		{"plain, OCI", raw, raw, types.OCIUncompressedLayer},
		{"plain, docker", raw, raw, types.DockerUncompressedLayer},
		{"padded plain", padded, padded, types.OCIUncompressedLayer},
		{"gzip, detected", gzipOf(t, raw), raw, ""},
		{"gzip, OCI", gzipOf(t, raw), raw, types.OCILayer},
		{"gzip, docker", gzipOf(t, raw), raw, types.DockerLayer},
		{"gzip, two members", append(gzipOf(t, raw[:700]), gzipOf(t, raw[700:])...), raw, types.OCILayer},
		{"padded gzip", gzipOf(t, padded), padded, types.OCILayer},
		{"zstd, detected", zstdOf(t, raw), raw, ""},
		{"zstd, OCI", zstdOf(t, raw), raw, types.OCILayerZStd},
		{"padded zstd", zstdOf(t, padded), padded, types.OCILayerZStd},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := newJail(t)
			got, err := Apply(context.Background(), j.root, bytes.NewReader(tc.layer), Options{MediaType: tc.mt, IgnoreOwners: true})
			j.check(t)
			if err != nil {
				t.Fatalf("Apply(%s) = %v", tc.name, err)
			}
			if want := sha256Hash(tc.diffOf); got != want {
				t.Errorf("Apply(%s) DiffID = %s, want %s", tc.name, got, want)
			}
			wantFile(t, j.root, "etc/hostname.bak", "strata\n", 0o644)
			wantFile(t, j.root, "usr/bin/tool", strings.Repeat("binary", 1000), 0o755)
		})
	}
}

// TestApplyEmptyStream: an empty plain stream is an empty tar, as the tar reader (and docker)
// take it, not a failure.
func TestApplyEmptyStream(t *testing.T) {
	for _, mt := range []types.MediaType{"", types.OCIUncompressedLayer} {
		got, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(nil), Options{MediaType: mt, IgnoreOwners: true})
		if err != nil {
			t.Fatalf("Apply(empty, %q) = %v", mt, err)
		}
		if want := sha256Hash(nil); got != want {
			t.Errorf("Apply(empty, %q) DiffID = %s, want %s", mt, got, want)
		}
	}
}

func TestApplyExpectDiffID(t *testing.T) {
	raw := sampleTar(t)
	tests := []struct {
		name    string
		expect  []byte
		wantErr error
	}{
		{"match", raw, nil},
		{"mismatch", []byte("another layer"), ErrDiffIDMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{IgnoreOwners: true, ExpectDiffID: sha256Hash(tc.expect)}
			_, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(gzipOf(t, raw)), opts)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Apply(%s) = %v, want %v", tc.name, err, tc.wantErr)
			}
		})
	}
}

// TestApplyMislabeledStreams: a layer whose media type says another compression than its
// bytes is read as its bytes say, as docker, containerd and podman read it (they detect the
// compression from the stream): it failed with "stream does not match its media type", so
// images of registries that label plain tars gzip (or the reverse) could not be pulled.
func TestApplyMislabeledStreams(t *testing.T) {
	raw := sampleTar(t)
	gz, zs := gzipOf(t, raw), zstdOf(t, raw)
	tests := []struct {
		name  string
		layer []byte
		mt    types.MediaType
	}{
		{"gzip label on a plain tar", raw, types.OCILayer},
		{"docker gzip label on a plain tar", raw, types.DockerLayer},
		{"tar label on a gzip stream", gz, types.OCIUncompressedLayer},
		{"docker tar label on a zstd stream", zs, types.DockerUncompressedLayer},
		{"zstd label on a gzip stream", gz, types.OCILayerZStd},
		{"gzip label on a zstd stream", zs, types.DockerLayer},
		{"vendor zstd label on a plain tar", raw, "application/vnd.example.layer.v1.tar+zstd"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := newJail(t)
			got, err := Apply(context.Background(), j.root, bytes.NewReader(tc.layer), Options{MediaType: tc.mt, IgnoreOwners: true, ExpectDiffID: sha256Hash(raw)})
			j.check(t)
			if err != nil {
				t.Fatalf("Apply(%s) = %v", tc.name, err)
			}
			if want := sha256Hash(raw); got != want {
				t.Errorf("Apply(%s) DiffID = %s, want %s", tc.name, got, want)
			}
			wantFile(t, j.root, "etc/hostname", "strata\n", 0o644)
		})
	}
	// An empty stream under a gzip label is an empty tar, as without a label.
	j := newJail(t)
	if _, err := Apply(context.Background(), j.root, bytes.NewReader(nil), Options{MediaType: types.OCILayer, IgnoreOwners: true}); err != nil {
		t.Errorf("Apply(gzip label on nothing) = %v", err)
	}
}

func TestApplyBadStreams(t *testing.T) {
	raw := sampleTar(t)
	gz := gzipOf(t, raw)
	tests := []struct {
		name    string
		layer   []byte
		mt      types.MediaType
		wantErr error
	}{
		{"not a layer media type", raw, types.OCIConfigJSON, ErrUnsupportedMediaType},
		{"truncated tar", raw[:len(raw)-1500], "", io.ErrUnexpectedEOF},
		{"truncated tar header", raw[:700], "", io.ErrUnexpectedEOF},
		{"shorter than the magic bytes", raw[:3], "", io.ErrUnexpectedEOF},
		{"truncated gzip", gz[:len(gz)/2], "", io.ErrUnexpectedEOF},
		{"gzip with a bad checksum", flipLast(gz, 6), "", gzip.ErrChecksum},
		// Bytes after the last member or frame are read as another one, and fail.
		{"gzip with trailing zeros", append(append([]byte{}, gz...), make([]byte, 512)...), "", gzip.ErrHeader},
		{"zstd with trailing garbage", append(zstdOf(t, raw), "junk"...), "", zstd.ErrMagicMismatch},
		// A frame that asks for a 1 GiB window, beyond zstdMaxWindow, then one empty raw block.
		{"zstd window over the limit", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa0, 0x01, 0x00, 0x00}, "", zstd.ErrWindowSizeExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := newJail(t)
			_, err := Apply(context.Background(), j.root, bytes.NewReader(tc.layer), Options{MediaType: tc.mt, IgnoreOwners: true})
			j.check(t)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Apply(%s) = %v, want %v", tc.name, err, tc.wantErr)
			}
		})
	}
}

// flipLast returns b with the byte n from the end inverted.
func flipLast(b []byte, n int) []byte {
	c := append([]byte{}, b...)
	c[len(c)-n] ^= 0xff
	return c
}

// zeroBomb is a compressed tar holding one file of size zeros: a few hundred KiB that inflate
// to size bytes.
func zeroBomb(t testing.TB, size int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "zeros", Size: size, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeroReader{}, size); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestApplyDecompressionBomb(t *testing.T) {
	bomb := zeroBomb(t, 64<<20)
	j := newJail(t)
	const maxSize = 1 << 20
	_, err := Apply(context.Background(), j.root, bytes.NewReader(bomb), Options{MaxSize: maxSize, IgnoreOwners: true})
	j.check(t)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Apply(%d-byte bomb) = %v, want %v", len(bomb), err, ErrTooLarge)
	}
	fi, err := os.Stat(j.root + "/zeros")
	if err == nil && fi.Size() > maxSize {
		t.Errorf("bomb wrote %d bytes, MaxSize is %d", fi.Size(), maxSize)
	}
}

func TestApplyCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Apply(ctx, t.TempDir(), bytes.NewReader(sampleTar(t)), Options{IgnoreOwners: true})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Apply(canceled) = %v, want %v", err, context.Canceled)
	}
}

func TestApplyMissingDir(t *testing.T) {
	_, err := Apply(context.Background(), t.TempDir()+"/absent", bytes.NewReader(sampleTar(t)), Options{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Apply(absent dir) = %v, want %v", err, os.ErrNotExist)
	}
}

func TestApplyProgress(t *testing.T) {
	var calls, entries int
	var written int64
	opts := Options{IgnoreOwners: true, Progress: func(w int64, e int) { calls, written, entries = calls+1, w, e }}
	if _, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(sampleTar(t)), opts); err != nil {
		t.Fatal(err)
	}
	if want := int64(len("strata\n") + 6000); calls == 0 || written != want || entries != 5 {
		t.Errorf("last Progress = (%d, %d) after %d calls, want (%d, 5)", written, entries, calls, want)
	}
}

func TestDecompress(t *testing.T) {
	raw := sampleTar(t)
	tests := []struct {
		name  string
		layer []byte
		mt    types.MediaType
	}{
		{"plain", raw, types.OCIUncompressedLayer},
		{"gzip", gzipOf(t, raw), types.OCILayer},
		{"zstd", zstdOf(t, raw), types.OCILayerZStd},
		{"vendor gzip suffix", gzipOf(t, raw), "application/vnd.example.layer.v1.tar+gzip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Twice: the second run takes the pooled decoder.
			for range 2 {
				rc, err := Decompress(bytes.NewReader(tc.layer), tc.mt)
				if err != nil {
					t.Fatalf("Decompress(%s) = %v", tc.name, err)
				}
				got, err := io.ReadAll(rc)
				if err != nil || !bytes.Equal(got, raw) {
					t.Errorf("Decompress(%s) read %d bytes, %v; want the %d-byte tar", tc.name, len(got), err, len(raw))
				}
				if err := rc.Close(); err != nil {
					t.Errorf("Close() = %v", err)
				}
			}
		})
	}
}

func TestCompressionOf(t *testing.T) {
	tests := []struct {
		mt   types.MediaType
		want Compression
	}{
		{types.OCILayer, Gzip},
		{types.OCIRestrictedLayer, Gzip},
		{types.DockerForeignLayer, Gzip},
		{types.OCILayerZStd, Zstd},
		{types.OCIUncompressedRestrictedLayer, Uncompressed},
		{"application/vnd.example.v1.tar+zstd", Zstd},
	}
	for _, tc := range tests {
		if got, err := CompressionOf(tc.mt); err != nil || got != tc.want {
			t.Errorf("CompressionOf(%s) = %v, %v; want %v", tc.mt, got, err, tc.want)
		}
	}
	if _, err := CompressionOf(types.OCIManifestSchema1); !errors.Is(err, ErrUnsupportedMediaType) {
		t.Errorf("CompressionOf(manifest) = %v, want %v", err, ErrUnsupportedMediaType)
	}
}

// TestApplyConcurrent applies layers side by side, as the snapshotter does during a pull: the
// decoder and buffer pools are shared (run with -race).
func TestApplyConcurrent(t *testing.T) {
	raw := sampleTar(t)
	layers := []struct {
		data []byte
		mt   types.MediaType
	}{{gzipOf(t, raw), types.OCILayer}, {zstdOf(t, raw), types.OCILayerZStd}, {raw, types.OCIUncompressedLayer}}
	want := sha256Hash(raw)
	errs := make(chan error, 4*len(layers))
	for range 4 {
		for _, l := range layers {
			go func() {
				got, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(l.data), Options{MediaType: l.mt, IgnoreOwners: true, ExpectDiffID: want})
				if err == nil && got != want {
					err = fmt.Errorf("DiffID %s, want %s", got, want)
				}
				errs <- err
			}()
		}
	}
	for range 4 * len(layers) {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Apply() = %v", err)
		}
	}
}

package sharebench

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/registry"
)

// entry is one tar entry of a test layer.
type entry struct {
	name     string
	typeflag byte
	size     int
	linkname string
}

// tarOf builds an uncompressed layer; file contents are size bytes of a repeating pattern.
func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typeflag, Linkname: e.linkname, Mode: 0o644, Size: int64(e.size)}
		if e.typeflag == tar.TypeDir {
			h.Mode = 0o755
		}
		if e.typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write(bytes.Repeat([]byte{byte(len(e.name))}, e.size)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestUnpackedSize(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		block   int64
		want    int64
	}{
		{"empty", nil, 4096, 0},
		{"one small file", []entry{{name: "a", typeflag: tar.TypeReg, size: 1}}, 4096, 4096},
		{"file of exactly a block", []entry{{name: "a", typeflag: tar.TypeReg, size: 4096}}, 4096, 4096},
		{"file a byte over", []entry{{name: "a", typeflag: tar.TypeReg, size: 4097}}, 4096, 8192},
		{"empty file", []entry{{name: "a", typeflag: tar.TypeReg}}, 4096, 0},
		{"directories", []entry{{name: "etc/", typeflag: tar.TypeDir}, {name: "etc/ssl/", typeflag: tar.TypeDir}}, 4096, 8192},
		{"hard link and symlink take no block", []entry{
			{name: "a", typeflag: tar.TypeReg, size: 10},
			{name: "b", typeflag: tar.TypeLink, linkname: "a"},
			{name: "c", typeflag: tar.TypeSymlink, linkname: "a"},
		}, 4096, 4096},
		{"whiteouts take no block", []entry{
			{name: "etc/", typeflag: tar.TypeDir},
			{name: "etc/.wh.passwd", typeflag: tar.TypeReg},
			{name: "etc/.wh..wh..opq", typeflag: tar.TypeReg},
		}, 4096, 4096},
		{"other block size", []entry{{name: "a", typeflag: tar.TypeReg, size: 1500}}, 1024, 2048},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tarOf(t, tt.entries...)
			for _, form := range []struct {
				name string
				blob []byte
			}{{"tar", raw}, {"gzip", gz(t, raw)}} {
				got, err := UnpackedSize(bytes.NewReader(form.blob), "", tt.block)
				if err != nil || got != tt.want {
					t.Errorf("UnpackedSize(%s) = %d, %v, want %d, nil", form.name, got, err, tt.want)
				}
			}
		})
	}
}

func TestUnpackedSizeRejects(t *testing.T) {
	tests := []struct {
		name  string
		blob  []byte
		block int64
	}{
		{"garbage", []byte(strings.Repeat("x", 1024)), 4096},
		{"truncated in a file", tarOf(t, entry{name: "a", typeflag: tar.TypeReg, size: 100000})[:2000], 4096},
		{"zero block", tarOf(t), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := UnpackedSize(bytes.NewReader(tt.blob), "", tt.block); err == nil {
				t.Errorf("UnpackedSize = %d, nil, want an error", got)
			}
		})
	}
}

func TestParseRegistry(t *testing.T) {
	tests := []struct {
		in      string
		want    Registry
		wantErr bool
	}{
		{in: "http://127.0.0.1:5000", want: Registry{Host: "127.0.0.1:5000", Insecure: true}},
		{in: "https://registry.example.com/", want: Registry{Host: "registry.example.com"}},
		{in: "registry.example.com:443", want: Registry{Host: "registry.example.com:443"}},
		{in: "ftp://example.com", wantErr: true},
		{in: "http://example.com/v2/app", wantErr: true},
		{in: "http://user:pw@example.com", wantErr: true},
		{in: "http://", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseRegistry(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseRegistry(%q) = %+v, %v, want %+v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestQualify(t *testing.T) {
	r := Registry{Host: "127.0.0.1:5000"}
	tests := []struct{ in, want string }{
		{"bench/app:0", "127.0.0.1:5000/bench/app:0"},
		{"alpine", "127.0.0.1:5000/alpine"},
		{"docker.io/library/alpine:3.20", "docker.io/library/alpine:3.20"},
		{"localhost/app", "localhost/app"},
		{"other:5001/app@sha256:" + strings.Repeat("a", 64), "other:5001/app@sha256:" + strings.Repeat("a", 64)},
	}
	for _, tt := range tests {
		if got := r.Qualify(tt.in); got != tt.want {
			t.Errorf("Qualify(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := (Registry{}).Qualify("bench/app:0"); got != "bench/app:0" {
		t.Errorf("Qualify without a registry = %q, want the image as given", got)
	}
}

// testRegistry serves an in-memory registry on loopback (plain HTTP, which the puller allows
// for loopback hosts) and returns its host.
func testRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// layerOf makes a gzip layer of the entries.
func layerOf(t *testing.T, entries ...entry) v1.Layer {
	t.Helper()
	raw := tarOf(t, entries...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// push writes an image of the layers to host/repo:tag.
func push(t *testing.T, host, repoTag string, ls ...v1.Layer) {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, ls...)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

func size(t *testing.T, l v1.Layer) int64 {
	t.Helper()
	n, err := l.Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRun pulls three images that share a base layer: the first brings the base, the others
// only their own layer, and the third is the second again under another tag.
func TestRun(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	host := testRegistry(t)
	base := layerOf(t,
		entry{name: "etc/", typeflag: tar.TypeDir},
		entry{name: "etc/os-release", typeflag: tar.TypeReg, size: 10000},
		entry{name: "etc/hosts", typeflag: tar.TypeLink, linkname: "etc/os-release"},
	)
	app0 := layerOf(t, entry{name: "app0", typeflag: tar.TypeReg, size: 5000})
	app1 := layerOf(t, entry{name: "app1", typeflag: tar.TypeReg, size: 300})
	push(t, host, "bench/app:0", base, app0)
	push(t, host, "bench/app:1", base, app1)
	push(t, host, "bench/again:1", base, app1)

	root := t.TempDir()
	var progressed []string
	rep, err := Run(context.Background(), []string{host + "/bench/app:0", host + "/bench/app:1", host + "/bench/again:1"},
		Options{Root: root, Progress: func(r Row) { progressed = append(progressed, r.Ref) }})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if rep.BlockSize <= 0 || rep.Driver == "" || rep.Root != root {
		t.Errorf("report header = root %q, driver %q, block %d", rep.Root, rep.Driver, rep.BlockSize)
	}
	if len(rep.Images) != 3 || len(progressed) != 3 {
		t.Fatalf("Run measured %d images and reported %d, want 3", len(rep.Images), len(progressed))
	}
	block := rep.BlockSize
	roundUp := func(n int64) int64 { return (n + block - 1) / block * block }
	tests := []struct {
		name                string
		layers, fresh, have int
		downloaded          int64
		ideal               int64
	}{
		{"app:0 brings the base", 2, 2, 0, size(t, base) + size(t, app0),
			size(t, base) + block + roundUp(10000) + size(t, app0) + roundUp(5000)},
		{"app:1 shares the base", 2, 1, 1, size(t, app1), size(t, app1) + roundUp(300)},
		{"again:1 shares both", 2, 0, 2, 0, 0},
	}
	var growth int64
	for i, tt := range tests {
		r := rep.Images[i]
		if r.Layers != tt.layers || r.New != tt.fresh || r.Shared != tt.have {
			t.Errorf("%s: layers %d, new %d, shared %d, want %d, %d, %d", tt.name, r.Layers, r.New, r.Shared, tt.layers, tt.fresh, tt.have)
		}
		if r.Downloaded != tt.downloaded {
			t.Errorf("%s: downloaded %d bytes, want %d", tt.name, r.Downloaded, tt.downloaded)
		}
		if r.Ideal != tt.ideal {
			t.Errorf("%s: ideal %d, want %d", tt.name, r.Ideal, tt.ideal)
		}
		if r.Seconds <= 0 || !strings.HasPrefix(r.Digest, "sha256:") || !strings.HasPrefix(r.Ref, host+"/bench/") {
			t.Errorf("%s: row %+v lacks its time, digest or ref", tt.name, r)
		}
		growth += r.Growth
	}
	// A stored image costs blobs and layer dirs at least; an image whose layers are all
	// shared costs its manifest, config and index entry only: far less than one block per
	// layer of its files would.
	if g := rep.Images[0].Growth; g < rep.Images[0].Ideal {
		t.Errorf("app:0 grew the root by %d bytes, less than its ideal %d", g, rep.Images[0].Ideal)
	}
	if g := rep.Images[2].Growth; g >= rep.Images[1].Growth {
		t.Errorf("again:1 (all layers shared) grew the root by %d bytes, not less than app:1's %d", g, rep.Images[1].Growth)
	}
	tot := rep.Totals
	if tot.Growth != growth || tot.Layers != 6 || tot.New != 3 || tot.Shared != 3 || tot.Ideal != tests[0].ideal+tests[1].ideal {
		t.Errorf("totals = %+v, want the sum of the rows", tot)
	}
	if want := float64(tot.Growth) / float64(tot.Ideal); tot.Ratio != want {
		t.Errorf("ratio = %v, want growth/ideal = %v", tot.Ratio, want)
	}
}

// TestRunKeepsRowsOnError checks that an image missing from the registry ends the run with
// an error naming it, and the images before it stay measured.
func TestRunKeepsRowsOnError(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	host := testRegistry(t)
	push(t, host, "bench/app:0", layerOf(t, entry{name: "a", typeflag: tar.TypeReg, size: 10}))
	rep, err := Run(context.Background(), []string{host + "/bench/app:0", host + "/bench/missing:1"}, Options{Root: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "bench/missing:1") {
		t.Fatalf("Run = %v, want an error naming bench/missing:1", err)
	}
	var rerr *registry.Error
	if !errors.As(err, &rerr) {
		t.Errorf("Run error %v does not wrap the registry's *registry.Error", err)
	}
	if rep == nil || len(rep.Images) != 1 {
		t.Fatalf("Run report = %+v, want the first image measured", rep)
	}
}

func TestRunRefusesBadInput(t *testing.T) {
	tests := []struct {
		name string
		refs []string
		root string
	}{
		{"no images", nil, t.TempDir()},
		{"no root", []string{"127.0.0.1:1/a"}, ""},
		{"bad reference", []string{"UPPER/Case"}, t.TempDir()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if rep, err := Run(context.Background(), tt.refs, Options{Root: tt.root}); err == nil {
				t.Errorf("Run(%q) = %+v, nil, want an error", tt.refs, rep)
			}
		})
	}
}

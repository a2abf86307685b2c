package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/internal/testimages"
)

// tarEntry is one entry of a layer built in code. Type defaults to a regular file holding Body.
type tarEntry struct {
	Name     string
	Type     byte
	Body     string
	Link     string
	Mode     int64
	Major    int64
	Minor    int64
	Xattrs   map[string]string
	BodySize int // with Body empty: this many bytes of zeros
}

// tarBytes writes entries as an uncompressed tar stream.
func tarBytes(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Name:     e.Name,
			Typeflag: e.Type,
			Linkname: e.Link,
			Mode:     e.Mode,
			Devmajor: e.Major,
			Devminor: e.Minor,
			ModTime:  time.Unix(1700000000, 0),
			Format:   tar.FormatPAX,
		}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
			if hdr.Typeflag == tar.TypeDir {
				hdr.Mode = 0o755
			}
		}
		if len(e.Xattrs) > 0 {
			hdr.PAXRecords = map[string]string{}
			for k, v := range e.Xattrs {
				hdr.PAXRecords["SCHILY.xattr."+k] = v
			}
		}
		body := []byte(e.Body)
		if len(body) == 0 && e.BodySize > 0 {
			body = make([]byte, e.BodySize)
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("writing tar header %q: %v", e.Name, err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write(body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gzipBytes compresses b.
func gzipBytes(t *testing.T, b []byte) []byte {
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

func sha256Hash(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// rawLayer is a layer whose blob, media type and DiffID are whatever the test says. A registry
// stores what it is given, so a lying layer reaches strata as it would from a hostile registry.
type rawLayer struct {
	blob   []byte
	mt     types.MediaType
	diffID v1.Hash
}

var _ v1.Layer = (*rawLayer)(nil)

func (l *rawLayer) Digest() (v1.Hash, error)            { return sha256Hash(l.blob), nil }
func (l *rawLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *rawLayer) Size() (int64, error)                { return int64(len(l.blob)), nil }
func (l *rawLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
func (l *rawLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.blob)), nil
}

// Uncompressed is never needed to push; a lying layer has no honest answer.
func (l *rawLayer) Uncompressed() (io.ReadCloser, error) {
	return nil, errors.New("rawLayer: uncompressed stream not available")
}

// gzipLayer is an honest gzip layer of entries.
func gzipLayer(t *testing.T, entries []tarEntry) *rawLayer {
	t.Helper()
	raw := tarBytes(t, entries)
	return &rawLayer{blob: gzipBytes(t, raw), mt: types.OCILayer, diffID: sha256Hash(raw)}
}

// alpineBase is the amd64 or arm64 alpine image from testdata, for images that need a shell.
func alpineBase(t *testing.T) v1.Image {
	t.Helper()
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	img, err := testimages.AlpineImage(td, testimages.AlpineVersion, runtime.GOARCH)
	if err != nil {
		t.Skipf("no alpine base for %s: %v", runtime.GOARCH, err)
	}
	return img
}

// scratchBase is an empty image for this host's platform.
func scratchBase(t *testing.T) v1.Image {
	t.Helper()
	img, err := mutate.ConfigFile(mutate.MediaType(empty.Image, types.OCIManifestSchema1), &v1.ConfigFile{
		OS:           "linux",
		Architecture: runtime.GOARCH,
		RootFS:       v1.RootFS{Type: "layers"},
		Config:       v1.Config{Cmd: []string{"/bin/sh"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// pushImage appends layers to base and pushes the image to the registry as repo:tag; it returns
// the reference strata pulls (through the counting proxy) and the image pushed.
func pushImage(t *testing.T, reg *registry, repoTag string, base v1.Image, ls ...v1.Layer) (string, v1.Image) {
	t.Helper()
	adds := make([]mutate.Addendum, len(ls))
	for i, l := range ls {
		adds[i] = mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "strata integration test"}}
	}
	img, err := mutate.Append(base, adds...)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(reg.Upstream+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithJobs(16)); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return reg.Host + "/" + repoTag, img
}

// duBytes is `du -s -B1 dir`: the disk blocks of a tree, hard links once, as an admin sees it.
func duBytes(t *testing.T, dirs ...string) int64 {
	t.Helper()
	out, err := exec.Command("du", append([]string{"-s", "-c", "-B1"}, dirs...)...).Output()
	if err != nil {
		t.Fatalf("du %v: %v", dirs, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	n, err := strconv.ParseInt(strings.Fields(lines[len(lines)-1])[0], 10, 64)
	if err != nil {
		t.Fatalf("parsing du output %q: %v", out, err)
	}
	return n
}

// layerDirs lists the names under <root>/snapshots: complete layer dirs (64 hex) and others
// (temporary dirs, locks).
func layerDirs(t *testing.T, root string) (complete, other []string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "snapshots"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if isHex64(e.Name()) {
			complete = append(complete, e.Name())
		} else {
			other = append(other, e.Name())
		}
	}
	return complete, other
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// FuzzStoreIndex opens a store whose index.json, manifest, config and index blobs are
// hostile (another tool's layout, a damaged disk): in index.json and the nested index, @M, @m,
// @I and @i stand for the manifest's and the nested index's digest and size; in the manifest,
// @C and @c for the config's. Every read (open, list, resolve, a platform's image, blobs,
// layer pairs, info) returns a value or a one-line error, never a panic or a hang.
func FuzzStoreIndex(f *testing.F) {
	const (
		index  = `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"@M","size":@m,"annotations":{"io.containerd.image.name":"docker.io/library/a:1","org.opencontainers.image.ref.name":"docker.io/library/a:1"}},{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"@I","size":@i,"annotations":{"org.opencontainers.image.ref.name":"docker.io/library/b:1"}}]}`
		nested = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"@M","size":@m,"platform":{"architecture":"amd64","os":"linux"}},{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"@I","size":@i}]}`
		man    = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"@C","size":@c},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef","size":32}]}`
		config = `{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z","config":{"Env":["A=1"],"Labels":{"a":"b"},"Healthcheck":{"Test":["CMD","true"],"StartInterval":1}},"rootfs":{"type":"layers","diff_ids":["sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"]},"history":[{"created":"2024-01-01T00:00:00Z"}]}`
	)
	f.Add([]byte(index), []byte(nested), []byte(man), []byte(config))
	f.Add([]byte(`{"manifests":[{"digest":"@M","size":-1},{"digest":"sha512:00","size":1e99}]}`), []byte(`{}`), []byte(`{"config":{"digest":"@M"}}`), []byte(`null`))
	f.Add([]byte(`{"manifests":[{"digest":"@I","size":@i,"mediaType":"application/vnd.oci.image.index.v1+json"}]}`), []byte(`{"manifests":[{"digest":"@I","size":@i,"mediaType":"application/vnd.oci.image.index.v1+json"}]}`), []byte(man), []byte(`{"rootfs":{"diff_ids":[]}}`))
	dir := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, idx, nestedIdx, manifest, config []byte) {
		n++
		root := filepath.Join(dir, strconv.Itoa(n))
		t.Cleanup(func() { os.RemoveAll(root) })
		if err := os.MkdirAll(filepath.Join(root, "blobs", "sha256"), 0o755); err != nil {
			t.Fatal(err)
		}
		put := func(b []byte) (digest, size string) {
			sum := sha256.Sum256(b)
			h := hex.EncodeToString(sum[:])
			if err := os.WriteFile(filepath.Join(root, "blobs", "sha256", h), b, 0o644); err != nil {
				t.Fatal(err)
			}
			return "sha256:" + h, strconv.Itoa(len(b))
		}
		cd, cs := put(config)
		manifest = []byte(strings.NewReplacer("@C", cd, "@c", cs).Replace(string(manifest)))
		md, ms := put(manifest)
		// The nested index may name itself only by a digest it cannot hold: @I in it is the
		// digest of its bytes with @I and @i left as they are.
		id, is := put([]byte(strings.NewReplacer("@M", md, "@m", ms).Replace(string(nestedIdx))))
		id, is = put([]byte(strings.NewReplacer("@M", md, "@m", ms, "@I", id, "@i", is).Replace(string(nestedIdx))))
		top := []byte(strings.NewReplacer("@M", md, "@m", ms, "@I", id, "@i", is).Replace(string(idx)))
		if err := os.WriteFile(filepath.Join(root, "index.json"), top, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		check := func(what string, err error) {
			t.Helper()
			if err != nil && strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("%s: error is not one line: %q", what, err)
			}
		}
		s, err := Open(root)
		check("Open", err)
		if err != nil {
			if !errors.Is(err, ErrInvalidLayout) {
				t.Errorf("Open of a damaged index = %v, not ErrInvalidLayout", err)
			}
			return
		}
		refs, err := s.List()
		check("List", err)
		_, err = s.Infos()
		check("Infos", err)
		for _, r := range refs {
			_, err := s.Resolve(r.Name)
			check("Resolve", err)
			_, err = s.Info(r)
			check("Info", err)
			d, err := s.ImageFor(r, v1.Platform{OS: "linux", Architecture: "amd64"})
			check("ImageFor", err)
			if err != nil {
				d = r.Descriptor
			}
			_, err = s.Blobs(d)
			check("Blobs", err)
			_ = s.Complete(d)
			_, err = s.LayerPairs(d)
			check("LayerPairs", err)
			if img, err := s.Image(d.Digest); err == nil {
				_, err = img.ConfigFile()
				check("ConfigFile", err)
				_, err = img.Layers()
				check("Layers", err)
			}
		}
		for _, q := range []string{"a:1", "b", md[len("sha256:"):][:12], md} {
			_, err := s.FindImage(q)
			check("FindImage", err)
		}
		_, err = s.Unnamed([]v1.Hash{{Algorithm: "sha256", Hex: md[len("sha256:"):]}})
		check("Unnamed", err)
	})
}

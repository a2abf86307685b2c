package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
)

// FuzzLoad feeds Load mutations of real archives: it must never panic, and when it fails it
// must leave the store without blobs or refs.
func FuzzLoad(f *testing.F) {
	src := newStore(f)
	img, err := random.Image(512, 2)
	if err != nil {
		f.Fatal(err)
	}
	ref := put(f, src, "example.com/fuzz:1", img)
	f.Add(save(f, src, DockerArchive, ref))
	f.Add(save(f, src, OCIArchive, ref))
	f.Add(writeTar(f, []tarEntry{file("manifest.json", []byte(`[{"Config":"c.json","RepoTags":["x:1"],"Layers":["l/layer.tar"]}]`)), file("c.json", []byte(`{"rootfs":{"diff_ids":[]}}`))}))
	// Names with escapes and of a kilobyte, in manifest.json and for its files.
	f.Add(writeTar(f, []tarEntry{file("manifest.json", []byte(`[{"Config":"c\u001b[2J.json","RepoTags":["x:\u001b[2J","`+strings.Repeat("y", 2000)+`:1"],"Layers":["l/`+strings.Repeat("z", 1000)+`.tar"]}]`)), file("c.json", []byte(`{"rootfs":{"diff_ids":[]}}`))}))
	f.Add(writeTar(f, []tarEntry{file("manifest.json", []byte(`[{"Config":"c.json","RepoTags":["x:\u001b[2J","`+strings.Repeat("y", 2000)+`:1"],"Layers":[]}]`)), file("c.json", []byte(`{"rootfs":{"type":"layers","diff_ids":[]}}`))}))
	// Links, one before its target and one through another: old docker archives hold them.
	f.Add(writeTar(f, []tarEntry{
		{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "a/layer.tar", Linkname: "../b/layer.tar"}},
		{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "b/layer.tar", Linkname: "../c/layer.tar"}},
		file("c/layer.tar", make([]byte, 1024)),
		file("manifest.json", []byte(`[{"Config":"c.json","RepoTags":["x:1"],"Layers":["a/layer.tar","b/layer.tar"]}]`)),
		file("c.json", []byte(`{"rootfs":{"diff_ids":["sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef","sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"]}}`)),
	}))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newStore(t)
		if _, err := Load(context.Background(), s, bytes.NewReader(data), LoadOptions{}); err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\n\r\x1b") || len(msg) > 8192 {
				t.Errorf("failed Load(%q…): error is not one short plain line: %.300q (%d bytes)", data[:min(len(data), 32)], msg, len(msg))
			}
			if b := storedBlobs(t, s); len(b) != 0 {
				t.Errorf("failed Load(%q…) = %v left %d blobs", data[:min(len(data), 32)], err, len(b))
			}
			if refs, _ := s.List(); len(refs) != 0 {
				t.Errorf("failed Load = %v left refs %v", err, refs)
			}
		}
	})
}

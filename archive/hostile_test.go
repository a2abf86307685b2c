package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/cache"
)

// TestLoadHostile feeds Load archives built to break it. Each must fail with a one-line error
// that says why, and leave the store as it was: no blob, no ref, no staging directory.
func TestLoadHostile(t *testing.T) {
	src := newStore(t)
	ref := put(t, src, "docker.io/library/alpine:3.20.3", alpine(t))
	good := readTar(t, save(t, src, OCIArchive, ref))
	info, err := src.Info(ref)
	if err != nil {
		t.Fatal(err)
	}
	layerName := blobName(info.Layers[0].Digest)

	// with returns the good archive changed by fn.
	with := func(fn func([]tarEntry) []tarEntry) []byte {
		ents := make([]tarEntry, len(good))
		copy(ents, good)
		return writeTar(t, fn(ents))
	}
	replace := func(name string, fn func(e *tarEntry)) func([]tarEntry) []tarEntry {
		return func(ents []tarEntry) []tarEntry {
			for i := range ents {
				if ents[i].hdr.Name == name {
					e := ents[i]
					e.data = bytes.Clone(e.data)
					fn(&e)
					ents[i] = e
				}
			}
			return ents
		}
	}
	appendEntry := func(e tarEntry) func([]tarEntry) []tarEntry {
		return func(ents []tarEntry) []tarEntry { return append(ents, e) }
	}
	huge := bytes.Repeat([]byte(" "), maxJSON+1)

	tests := []struct {
		name    string
		archive []byte
		want    error  // matched with errors.Is when set
		wantMsg string // a substring of the message
	}{
		{"dot-dot name", with(appendEntry(file("../evil", []byte("x")))), ErrUnsafeEntry, "leaves the archive"},
		{"dot-dot inside name", with(appendEntry(file("blobs/../../evil", []byte("x")))), ErrUnsafeEntry, "leaves the archive"},
		{"absolute name", with(appendEntry(file("/etc/evil", []byte("x")))), ErrUnsafeEntry, "absolute"},
		{"symlink to host file", with(appendEntry(tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "blobs/sha256/x", Linkname: "/etc/passwd"}})), ErrUnsafeEntry, "links to"},
		{"symlink out of archive", with(appendEntry(tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "a", Linkname: "../../etc/passwd"}})), ErrUnsafeEntry, "links to"},
		{"hard link to missing entry", with(appendEntry(tarEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "a", Linkname: "later"}})), ErrUnsafeEntry, "not an earlier file"},
		{"device", with(appendEntry(tarEntry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev", Devmajor: 1, Devminor: 3}})), ErrUnsafeEntry, "type"},
		{"duplicate entry", with(appendEntry(file("index.json", []byte("{}")))), ErrUnsafeEntry, "twice"},
		{"layer digest mismatch", with(replace(layerName, func(e *tarEntry) { e.data[len(e.data)/2] ^= 0xff })), cache.ErrDigestMismatch, layerName},
		{"blob symlink to other blob", with(func(ents []tarEntry) []tarEntry {
			return replace(layerName, func(e *tarEntry) {
				*e = tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: layerName, Linkname: "../../index.json"}}
			})(ents)
		}), nil, "index.json"},
		{"missing layer", with(func(ents []tarEntry) []tarEntry {
			var out []tarEntry
			for _, e := range ents {
				if e.hdr.Name != layerName {
					out = append(out, e)
				}
			}
			return out
		}), errMissing, "missing"},
		{"size in manifest lies", with(func(ents []tarEntry) []tarEntry {
			return lieAboutSize(t, ents, info.Manifest.Digest)
		}), nil, "manifest"},
		{"huge index.json", with(replace("index.json", func(e *tarEntry) { e.data = huge })), nil, "allowed"},
		{"truncated", func() []byte {
			b := save(t, src, OCIArchive, ref)
			return b[:len(b)/2]
		}(), nil, "unexpected EOF"},
		{"not a tar", []byte("hello, this is not an archive at all"), nil, "reading archive"},
		{"empty", nil, nil, "empty"},
		{"no index", writeTar(t, []tarEntry{file("hello", []byte("x"))}), nil, "not an image archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			s, err := cache.Open(filepath.Join(root, "oci"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Load(context.Background(), s, bytes.NewReader(tt.archive), LoadOptions{})
			if err == nil {
				t.Fatalf("Load() = %+v, want an error", got)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Load() = %v, want %v", err, tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantMsg) || strings.Contains(msg, "\n") {
				t.Errorf("Load() = %q, want one line containing %q", msg, tt.wantMsg)
			}
			if b := storedBlobs(t, s); len(b) != 0 {
				t.Errorf("store holds %d blobs after a failed load", len(b))
			}
			if refs, _ := s.List(); len(refs) != 0 {
				t.Errorf("store holds refs %v after a failed load", refs)
			}
			ents, _ := os.ReadDir(root)
			for _, e := range ents {
				if e.Name() != "oci" {
					t.Errorf("%s left beside the store", e.Name())
				}
			}
		})
	}
}

// lieAboutSize rewrites index.json to claim a wrong size for manifest d.
func lieAboutSize(t *testing.T, ents []tarEntry, d v1.Hash) []tarEntry {
	t.Helper()
	for i, e := range ents {
		if e.hdr.Name != "index.json" {
			continue
		}
		var idx v1.IndexManifest
		if err := json.Unmarshal(e.data, &idx); err != nil {
			t.Fatal(err)
		}
		for j := range idx.Manifests {
			if idx.Manifests[j].Digest == d {
				idx.Manifests[j].Size++
			}
		}
		b, err := json.Marshal(idx)
		if err != nil {
			t.Fatal(err)
		}
		ents[i].data = b
	}
	return ents
}

// TestLoadHostileDir: a layout directory whose blob is a symlink to a host file must not be
// read through the link.
func TestLoadHostileDir(t *testing.T) {
	src := newStore(t)
	ref := put(t, src, "docker.io/library/alpine:3.20.3", alpine(t))
	dir := filepath.Join(t.TempDir(), "layout")
	if err := SaveDir(context.Background(), dir, src, []cache.Ref{ref}, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := src.Info(ref)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "blobs", "sha256", info.ID.Hex)
	if err := os.Remove(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", cfg); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	_, err = LoadDir(context.Background(), s, dir, LoadOptions{})
	if !errors.Is(err, ErrUnsafeEntry) {
		t.Fatalf("LoadDir() = %v, want %v", err, ErrUnsafeEntry)
	}
	if b := storedBlobs(t, s); len(b) != 0 {
		t.Errorf("store holds %d blobs after a failed load", len(b))
	}
}

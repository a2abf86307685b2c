package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/cache"
)

// unpack writes ents into dir as tar xf would: directories, files and symlinks.
func unpack(t *testing.T, ents []tarEntry, dir string) {
	t.Helper()
	for _, e := range ents {
		p := filepath.Join(dir, e.hdr.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch e.hdr.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeSymlink:
			err = os.Symlink(e.hdr.Linkname, p)
		default:
			err = os.WriteFile(p, e.data, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoadOldDockerLinkFirst: docker save before version 25 writes a layer.tar two layer
// directories share once and links the other to it ("../<id>/layer.tar"), then tars the
// directories in the order of their names: the link comes before its target as often as
// not. Such an archive was refused ("not an earlier file of the archive"), and so was the
// directory tar xf makes of it ("goes through a symlink"), both of which docker loads.
func TestLoadOldDockerLinkFirst(t *testing.T) {
	archive, _, _ := oldDockerArchive(t)
	var link, rest []tarEntry
	for _, e := range readTar(t, archive) {
		if strings.HasPrefix(e.hdr.Name, "bbbb/") {
			link = append(link, e)
		} else {
			rest = append(rest, e)
		}
	}
	if len(link) != 2 || link[1].hdr.Typeflag != tar.TypeSymlink {
		t.Fatalf("bbbb/ entries = %v, want the directory and its layer.tar symlink", link)
	}
	ents := append(link, rest...)
	check := func(t *testing.T, s *cache.Store, got []Loaded, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("load = %v", err)
		}
		if len(got) != 3 {
			t.Fatalf("load = %+v, want 3 refs", got)
		}
		if n := len(storedBlobs(t, s)); n != 6 {
			t.Errorf("store has %d blobs, want 6", n)
		}
	}
	t.Run("tar", func(t *testing.T) {
		s := newStore(t)
		got, err := Load(context.Background(), s, bytes.NewReader(writeTar(t, ents)), LoadOptions{})
		check(t, s, got, err)
	})
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		unpack(t, ents, dir)
		s := newStore(t)
		got, err := LoadDir(context.Background(), s, dir, LoadOptions{})
		check(t, s, got, err)
	})
}

// TestLoadLinksHostile: links are followed only to files of the archive, in a tar stream
// and in a directory alike, however they chain; a loop, a dangling link, a link out of the
// directory or to something not a regular file fails at once with one line, and a layer
// reached by a thousand links is hashed once.
func TestLoadLinksHostile(t *testing.T) {
	layer := bytes.Repeat([]byte("layer"), 1<<10)
	cfg := mustJSON(t, v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{sha256Hash(layer)}}})
	image := func(layers ...string) []tarEntry {
		cfg := cfg
		if len(layers) > 1 {
			ids := make([]v1.Hash, len(layers))
			for i := range ids {
				ids[i] = sha256Hash(layer)
			}
			cfg = mustJSON(t, v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers", DiffIDs: ids}})
		}
		return []tarEntry{
			file("c.json", cfg),
			file("manifest.json", mustJSON(t, []dockerManifest{{Config: "c.json", RepoTags: []string{"links:1"}, Layers: layers}})),
		}
	}
	symlink := func(name, target string) tarEntry {
		return tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target}}
	}
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, layer, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ents    []tarEntry
		dirOnly func(t *testing.T, dir string) // extra setup of the directory; the tar is skipped
		want    error
		wantMsg string
	}{
		{name: "loop", ents: append(image("a/layer.tar"), symlink("a/layer.tar", "../b/layer.tar"), symlink("b/layer.tar", "../a/layer.tar")), want: ErrUnsafeEntry},
		{name: "link to itself", ents: append(image("a/layer.tar"), symlink("a/layer.tar", "layer.tar")), want: ErrUnsafeEntry},
		{name: "dangling", ents: append(image("a/layer.tar"), symlink("a/layer.tar", "../nowhere")), wantMsg: "a/layer.tar"},
		{name: "out of the archive", ents: append(image("a/layer.tar"), symlink("a/layer.tar", "../../outside")), want: ErrUnsafeEntry},
		{name: "absolute", ents: append(image("a/layer.tar"), symlink("a/layer.tar", outside)), want: ErrUnsafeEntry},
		{name: "to a directory", ents: append(image("a/layer.tar"), tarEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "d/"}}, symlink("a/layer.tar", "../d")), want: ErrUnsafeEntry},
		{name: "blob name to other content", ents: append(image("blobs/sha256/"+strings.Repeat("0", 64)), symlink("blobs/sha256/"+strings.Repeat("0", 64), "../../l.tar"), file("l.tar", layer))},
		{name: "to /dev/zero", ents: append(image("a/layer.tar"), symlink("a/layer.tar", "/dev/zero")), want: ErrUnsafeEntry},
		{name: "to a FIFO", ents: append(image("a/layer.tar"), symlink("a/layer.tar", "../fifo")), dirOnly: func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, want: ErrUnsafeEntry},
		{name: "through a directory link", ents: append(image("a/layer.tar"), symlink("a/layer.tar", "../d/l.tar"), file("real/l.tar", layer), symlink("d", "real")), want: ErrUnsafeEntry},
	}
	for _, tt := range tests {
		for _, form := range []string{"tar", "directory"} {
			if tt.dirOnly != nil && form == "tar" {
				continue
			}
			t.Run(tt.name+"/"+form, func(t *testing.T) {
				s := newStore(t)
				done := make(chan error, 1)
				go func() {
					var err error
					if form == "tar" {
						_, err = Load(context.Background(), s, bytes.NewReader(writeTar(t, tt.ents)), LoadOptions{})
					} else {
						dir := t.TempDir()
						unpack(t, tt.ents, dir)
						if tt.dirOnly != nil {
							tt.dirOnly(t, dir)
						}
						_, err = LoadDir(context.Background(), s, dir, LoadOptions{})
					}
					done <- err
				}()
				var err error
				select {
				case err = <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("load still runs after 10s")
				}
				if err == nil {
					t.Fatal("load succeeded, want an error")
				}
				if tt.want != nil && !errors.Is(err, tt.want) {
					t.Errorf("load = %v, want %v", err, tt.want)
				}
				if msg := err.Error(); !strings.Contains(msg, tt.wantMsg) || strings.Contains(msg, "\n") {
					t.Errorf("load = %q, want one line containing %q", msg, tt.wantMsg)
				}
				if refs, _ := s.List(); len(refs) != 0 {
					t.Errorf("store holds refs %v after a failed load", refs)
				}
			})
		}
	}

	// A chain of links that resolves, the first link before everything: loads.
	chain := append([]tarEntry{symlink("a/layer.tar", "../b/layer.tar"), symlink("b/layer.tar", "../c/layer.tar")},
		append(image("a/layer.tar", "b/layer.tar"), file("c/layer.tar", layer))...)
	for _, form := range []string{"tar", "directory"} {
		t.Run("chain/"+form, func(t *testing.T) {
			var err error
			if form == "tar" {
				_, err = Load(context.Background(), newStore(t), bytes.NewReader(writeTar(t, chain)), LoadOptions{})
			} else {
				dir := t.TempDir()
				unpack(t, chain, dir)
				_, err = LoadDir(context.Background(), newStore(t), dir, LoadOptions{})
			}
			if err != nil {
				t.Fatalf("load = %v", err)
			}
		})
	}

	// A directory whose manifest.json names one 32 MiB layer.tar through 1000 links: each
	// read whole again would be 32 GB of hashing.
	t.Run("many links to one layer", func(t *testing.T) {
		dir := linkedLayerDir(t, func(dir, name string) error { return os.Symlink("../../l.tar", filepath.Join(dir, name)) })
		done := make(chan error, 1)
		go func() {
			_, err := LoadDir(context.Background(), newStore(t), dir, LoadOptions{})
			done <- err
		}()
		select {
		case err := <-done:
			// Unnamed: planned whole, then stored unnamed.
			if err != nil {
				t.Fatalf("LoadDir() = %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("LoadDir() still runs after 10s")
		}
	})
}

// TestLoadDirHardLinkedLayer: an unpacked archive whose manifest.json names one layer.tar of
// 32 MiB under a thousand hard links is hashed once: each name was read whole again, 32 GB
// of hashing for a directory of 32 MiB (the same amplification TestLoadDirRepeatedLayer
// covers for one name listed a thousand times, and the links test for symlinks).
func TestLoadDirHardLinkedLayer(t *testing.T) {
	dir := linkedLayerDir(t, func(dir, name string) error { return os.Link(filepath.Join(dir, "l.tar"), filepath.Join(dir, name)) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := LoadDir(ctx, newStore(t), dir, LoadOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		// Unnamed: planned whole, then stored unnamed.
		if err != nil {
			t.Fatalf("LoadDir() = %v", err)
		}
	case <-time.After(10 * time.Second):
		cancel()
		<-done
		t.Fatal("LoadDir() still runs after 10s")
	}
}

// linkedLayerDir writes an unpacked docker archive whose manifest.json names one 32 MiB
// layer, l.tar, under 1000 names l/N/layer.tar that link makes (a symlink, a hard link).
func linkedLayerDir(t *testing.T, link func(dir, name string) error) string {
	t.Helper()
	big := bytes.Repeat([]byte("strata"), (32<<20)/6)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "l.tar"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	names, ids := make([]string, n), make([]v1.Hash, n)
	id := sha256Hash(big)
	for i := range n {
		names[i] = fmt.Sprintf("l/%d/layer.tar", i)
		ids[i] = id
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(names[i])), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := link(dir, names[i]); err != nil {
			t.Fatal(err)
		}
	}
	cfg := mustJSON(t, v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers", DiffIDs: ids}})
	if err := os.WriteFile(filepath.Join(dir, "c.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), mustJSON(t, []dockerManifest{{Config: "c.json", Layers: names}}), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

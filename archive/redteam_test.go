package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/strata-run/strata/internal/freespace"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
)

// paxRecords is the body of a PAX extended header holding recs, each record prefixed by its
// own length as POSIX pax format says.
func paxRecords(recs map[string]string) []byte {
	keys := make([]string, 0, len(recs))
	for k := range recs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		line := " " + k + "=" + recs[k] + "\n"
		n := len(line) + 1
		for len(fmt.Sprint(n))+len(line) != n {
			n = len(fmt.Sprint(n)) + len(line)
		}
		fmt.Fprintf(&b, "%d%s", n, line)
	}
	return b.Bytes()
}

// setTypeflag rewrites the typeflag of the header block at off in a tar stream and fixes its
// checksum: archive/tar writes neither PAX headers of any content nor GNU sparse entries,
// which hostile archives are free to hold.
func setTypeflag(b []byte, off int, flag byte) {
	blk := b[off : off+512]
	blk[156] = flag
	var sum int64
	for i, c := range blk {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
	}
	copy(blk[148:156], fmt.Sprintf("%06o\x00 ", sum))
}

// sparseTar is a tar of one entry, name, that claims size bytes as a GNU sparse file in PAX
// form (format 0.1) holding a single byte of data, at its end: a few hundred bytes on the
// wire for a file of any size.
func sparseTar(t *testing.T, name string, size int64) []byte {
	t.Helper()
	recs := paxRecords(map[string]string{
		"GNU.sparse.major":     "0",
		"GNU.sparse.minor":     "1",
		"GNU.sparse.name":      name,
		"GNU.sparse.size":      fmt.Sprint(size),
		"GNU.sparse.numblocks": "1",
		"GNU.sparse.map":       fmt.Sprintf("%d,1", size-1),
	})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "PaxHeader", Size: int64(len(recs)), Format: tar.FormatUSTAR}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(recs); err != nil {
		t.Fatal(err)
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "sparse", Size: 1, Format: tar.FormatUSTAR}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte{'x'}); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	setTypeflag(b, 0, tar.TypeXHeader)
	return b
}

// TestLoadSparseEntry: a sparse entry claims a size its archive does not hold; archive/tar
// reads its holes as zeros, so a 2 KiB archive made Load stage a terabyte of them (up to
// MaxSize, or until the disk had 256 MiB left). It is refused at its header.
func TestLoadSparseEntry(t *testing.T) {
	// archive/tar hands the PAX form out as a regular file of the full size.
	b := sparseTar(t, "blobs/sha256/"+fmt.Sprintf("%064d", 0), 1<<40)
	hdr, err := tar.NewReader(bytes.NewReader(b)).Next()
	if err != nil || hdr.Typeflag != tar.TypeReg || hdr.Size != 1<<40 {
		t.Fatalf("reading the sparse tar = %+v, %v; want a regular file of 1 TiB", hdr, err)
	}
	// And the old GNU form as its own type.
	var old bytes.Buffer
	tw := tar.NewWriter(&old)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "index.json", Size: 0, Format: tar.FormatGNU}); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	oldGNU := old.Bytes()
	setTypeflag(oldGNU, 0, tar.TypeGNUSparse)

	tests := []struct {
		name    string
		archive []byte
	}{
		{"pax sparse blob of a terabyte", b},
		{"pax sparse index.json", sparseTar(t, "index.json", 64<<20)},
		{"old gnu sparse", oldGNU},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// MaxSize stays the default: the refusal must not depend on it.
			loadFails(t, bytes.NewReader(tt.archive), LoadOptions{}, ErrUnsafeEntry, "sparse")
		})
	}
}

// TestLoadLongNames: every entry of a tar stream is kept by name until the plan is made, and
// names may be PATH_MAX long: maxEntries of them took 700 MiB of heap, from an archive that
// gzips to a few MB. Load stops once the names take more than maxNameBytes, long before
// maxEntries.
func TestLoadLongNames(t *testing.T) {
	for name, typ := range map[string]byte{"files": tar.TypeReg, "symlinks": tar.TypeSymlink} {
		t.Run(name, func(t *testing.T) {
			pr, pw := io.Pipe()
			written := make(chan int, 1)
			go func() {
				tw := tar.NewWriter(pw)
				pad := strings.Repeat("n", maxNameLen-16)
				err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "target", Mode: 0o644})
				n := 0
				for ; n < maxEntries && err == nil; n++ {
					hdr := &tar.Header{Typeflag: typ, Name: fmt.Sprintf("%s%d", pad, n), Mode: 0o644}
					if typ == tar.TypeSymlink {
						hdr.Linkname = "target"
					}
					err = tw.WriteHeader(hdr)
				}
				written <- n
				pw.CloseWithError(errors.Join(err, tw.Close()))
			}()
			loadFails(t, pr, LoadOptions{}, nil, "names of its entries")
			pr.Close()
			if n := <-written; n > 2*maxNameBytes/maxNameLen {
				t.Errorf("Load read %d entries of %d bytes before it stopped, want at most %d", n, maxNameLen, 2*maxNameBytes/maxNameLen)
			}
		})
	}
}

// TestLoadErrorLines: the strings an error quotes from an archive (entry names, media types,
// platforms, JSON values) are hostile. An error is one short line whatever they hold: a
// newline used to split it, an escape sequence went to the terminal as it was, and a digest
// or media type of megabytes made a message of megabytes.
func TestLoadErrorLines(t *testing.T) {
	cfgEnt, cfg := blobEntry(types.OCIConfigJSON, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	// image is an archive whose one image manifest has media type mt.
	image := func(mt types.MediaType) []tarEntry {
		manEnt, man := blobEntry(mt, mustJSON(t, v1.Manifest{SchemaVersion: 2, MediaType: mt, Config: cfg, Layers: []v1.Descriptor{}}))
		man.Annotations = map[string]string{refNameAnnotation: "example.com/a:1"}
		return []tarEntry{cfgEnt, manEnt, file("index.json", mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{man}}))}
	}
	// platforms is an archive whose index lists the image for each of these platforms.
	platforms := func(ps ...v1.Platform) []tarEntry {
		manEnt, man := blobEntry(types.OCIManifestSchema1, mustJSON(t, v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfg, Layers: []v1.Descriptor{}}))
		var ds []v1.Descriptor
		for _, p := range ps {
			d := man
			d.Platform = &p
			ds = append(ds, d)
		}
		idxEnt, idx := blobEntry(types.OCIImageIndex, mustJSON(t, v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: ds}))
		idx.Annotations = map[string]string{refNameAnnotation: "example.com/a:1"}
		return []tarEntry{cfgEnt, manEnt, idxEnt, file("index.json", mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{idx}}))}
	}
	var many []v1.Platform
	for i := range 1000 {
		many = append(many, v1.Platform{OS: "linux", Architecture: fmt.Sprintf("arch%d%s", i, strings.Repeat("x", 1000))})
	}
	digest := func(d string) []tarEntry {
		return []tarEntry{file("index.json", []byte(`{"schemaVersion":2,"manifests":[{"digest":"`+d+`","size":10}]}`))}
	}
	docker := func(config string) []tarEntry {
		return []tarEntry{file("c.json", []byte(config)), file("manifest.json", []byte(`[{"Config":"c.json","RepoTags":["a:1"],"Layers":[]}]`))}
	}
	const escape = "\x1b]0;owned\x07\x1b[2J"
	mb := strings.Repeat("a", 3<<20)
	s390x := v1.Platform{OS: "linux", Architecture: "s390x"}

	tests := []struct {
		name string
		ents []tarEntry
		opts LoadOptions
		want string
	}{
		{"device named with a newline", []tarEntry{{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "a\nb", Devmajor: 1, Devminor: 3}}}, LoadOptions{}, "control characters"},
		{"file named with an escape sequence", []tarEntry{file("x"+escape, []byte("x"))}, LoadOptions{}, "control characters"},
		{"file named in latin-1", []tarEntry{file("caf\xe9", []byte("x"))}, LoadOptions{}, "not UTF-8"},
		{"manifest.json config with a newline", []tarEntry{file("manifest.json", []byte(`[{"Config":"c\nx.json","Layers":[]}]`))}, LoadOptions{}, "control characters"},
		{"media type with an escape sequence", image(types.MediaType(escape + "\nline two")), LoadOptions{}, "unsupported media type"},
		{"media type of 3 MB", image(types.MediaType(mb)), LoadOptions{}, "unsupported media type"},
		{"media type of 3 MB, one platform", image(types.MediaType(mb)), LoadOptions{Platform: s390x}, "unsupported media type"},
		{"digest of 3 MB", digest("sha256:" + mb), LoadOptions{}, "parsing index.json"},
		{"hash name of 3 MB", digest(mb + ":aa"), LoadOptions{}, "parsing index.json"},
		{"config diff id of 3 MB", docker(`{"rootfs":{"type":"layers","diff_ids":["sha256:` + mb + `"]}}`), LoadOptions{}, "parsing config"},
		{"config created of 3 MB", docker(`{"created":"` + mb + `","rootfs":{"type":"layers","diff_ids":[]}}`), LoadOptions{}, "parsing config"},
		{"platform with an escape sequence", platforms(v1.Platform{OS: escape, Architecture: "\n"}), LoadOptions{Platform: s390x}, "no matching platform"},
		{"a thousand platforms of a KB", platforms(many...), LoadOptions{Platform: s390x}, "no matching platform"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			s, err := cache.Open(filepath.Join(root, "oci"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Load(context.Background(), s, bytes.NewReader(writeTar(t, tt.ents)), tt.opts)
			if err == nil {
				t.Fatal("Load() succeeded, want an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || len(msg) > 1024 || strings.ContainsFunc(msg, unicode.IsControl) || !utf8.ValidString(msg) {
				t.Errorf("Load() = %.300q (%d bytes), want one printable line of at most 1024 bytes containing %q", msg, len(msg), tt.want)
			}
		})
	}
}

// TestPruneStagingKilledBeforeLock: a load killed between making its staging dir and creating
// the lock file in it left a dir no lock could tell from one a live load was about to lock,
// and it stayed unlockedMaxAge (10 minutes). Loads now hold the parent's shared lock for that
// step, so PruneStaging removes such a dir at once, unless a load holds the parent: then it
// may be that load's, and stays.
func TestPruneStagingKilledBeforeLock(t *testing.T) {
	parent := t.TempDir()
	dead := filepath.Join(parent, newStagingPrefix+"dead")
	if err := os.Mkdir(dead, 0o700); err != nil {
		t.Fatal(err)
	}
	// A load between its mkdir and its lock, in another process: the shared lock on the
	// parent is taken through another open file, as another process's would be.
	unlock, ok := lockParent(parent, unix.LOCK_SH, 0)
	if !ok {
		t.Skip("flock on a directory not supported here")
	}
	PruneStaging(parent)
	if _, err := os.Stat(dead); err != nil {
		t.Fatalf("PruneStaging removed %s while a load held the parent: %v", dead, err)
	}
	unlock()
	PruneStaging(parent)
	if _, err := os.Stat(dead); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("PruneStaging left %s, a fresh staging dir without a lock file no load holds (%v)", dead, err)
	}
	// A load's next staging dir is not held up by PruneStaging or the parent's lock.
	dir, done, err := stagingDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if err := done(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("%d entries left in %s after %s was done, want none", len(ents), parent, filepath.Base(dir))
	}
}

// TestLoadDirNoRoom: a layout directory is read in place, and what it holds may be sparse: a
// file of 512 MiB that takes no disk, unpacked from a tiny tar.gz, under a descriptor that
// gives its size. WriteBlob copied it whole into the store until the disk was full (here a
// 300 MiB tmpfs); LoadDir now refuses before the first blob, leaving the disk as it was.
func TestLoadDirNoRoom(t *testing.T) {
	storeFS := t.TempDir()
	if err := unix.Mount("tmpfs", storeFS, "tmpfs", 0, "size=300m"); err != nil {
		t.Skipf("mounting a tmpfs for the store (needs root): %v", err)
	}
	t.Cleanup(func() { unix.Unmount(storeFS, unix.MNT_DETACH) })
	s, err := cache.Open(filepath.Join(storeFS, "oci"))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	const size = 512 << 20
	layer := v1.Descriptor{MediaType: types.OCILayer, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("5", 64)}, Size: size}
	f, err := os.Create(filepath.Join(blobs, layer.Digest.Hex))
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(f.Truncate(size), f.Close()); err != nil {
		t.Fatal(err)
	}
	write := func(b []byte) v1.Hash {
		h := sha256Hash(b)
		if err := os.WriteFile(filepath.Join(blobs, h.Hex), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return h
	}
	cfgRaw := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("6", 64) + `"]}}`)
	cfg := v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: write(cfgRaw), Size: int64(len(cfgRaw))}
	manRaw := mustJSON(t, v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfg, Layers: []v1.Descriptor{layer}})
	man := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: write(manRaw), Size: int64(len(manRaw)),
		Annotations: map[string]string{refNameAnnotation: "example.com/sparse:1"}}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{man}}), 0o644); err != nil {
		t.Fatal(err)
	}

	_, err = LoadDir(context.Background(), s, dir, LoadOptions{})
	if !errors.Is(err, ErrTooLarge) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("LoadDir() = %v, want one line wrapping %v", err, ErrTooLarge)
	}
	if b := storedBlobs(t, s); len(b) != 0 {
		t.Errorf("store holds %d blobs after a refused load", len(b))
	}
	var st unix.Statfs_t
	if err := unix.Statfs(storeFS, &st); err != nil {
		t.Fatal(err)
	}
	if used := int64(st.Blocks-st.Bfree) * st.Bsize; used > 1<<20 {
		t.Errorf("%d bytes of the store's disk used after a refused load, want under 1 MiB", used)
	}
}

// TestLoadHostileMore: hostile shapes the other tables do not hold, each failing in one line
// and storing nothing.
func TestLoadHostileMore(t *testing.T) {
	src := newStore(t)
	ref := put(t, src, "docker.io/library/alpine:3.20.3", alpine(t))
	good := readTar(t, save(t, src, DockerArchive, ref))
	info, err := src.Info(ref)
	if err != nil {
		t.Fatal(err)
	}
	layerName := blobName(info.Layers[0].Digest)
	cfgName := blobName(info.ID)
	// edit returns the good archive with fn applied to a copy of each entry.
	edit := func(fn func(ents []tarEntry) []tarEntry) []byte {
		ents := make([]tarEntry, len(good))
		for i, e := range good {
			e.data = bytes.Clone(e.data)
			ents[i] = e
		}
		return writeTar(t, fn(ents))
	}
	// manifestJSON rewrites manifest.json, dropping index.json so that it is what is read.
	manifestJSON := func(mj string) []byte {
		return edit(func(ents []tarEntry) []tarEntry {
			var out []tarEntry
			for _, e := range ents {
				switch e.hdr.Name {
				case "index.json":
				case "manifest.json":
					out = append(out, file("manifest.json", []byte(mj)))
				default:
					out = append(out, e)
				}
			}
			return out
		})
	}
	// layerSize rewrites the manifest so that it gives the layer size n, renaming it.
	layerSize := func(delta int64) []byte {
		return edit(func(ents []tarEntry) []tarEntry {
			var man v1.Manifest
			var manName string
			for _, e := range ents {
				if e.hdr.Name == blobName(ref.Descriptor.Digest) {
					manName = e.hdr.Name
					if err := json.Unmarshal(e.data, &man); err != nil {
						t.Fatal(err)
					}
				}
			}
			man.Layers[0].Size += delta
			raw := mustJSON(t, man)
			d := v1.Descriptor{MediaType: ref.Descriptor.MediaType, Digest: sha256Hash(raw), Size: int64(len(raw)),
				Annotations: map[string]string{refNameAnnotation: "example.com/lie:1"}}
			var out []tarEntry
			for _, e := range ents {
				switch e.hdr.Name {
				case manName, "manifest.json":
				case "index.json":
					out = append(out, file(blobName(d.Digest), raw), file("index.json", mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{d}})))
				default:
					out = append(out, e)
				}
			}
			return out
		})
	}
	appendEntries := func(extra ...tarEntry) []byte {
		return edit(func(ents []tarEntry) []tarEntry { return append(ents, extra...) })
	}
	dup := func(name, again string) []byte {
		return edit(func(ents []tarEntry) []tarEntry {
			for _, e := range ents {
				if e.hdr.Name == name {
					e.hdr.Name = again
					e.data = append(bytes.Clone(e.data), ' ')
					return append(ents, e)
				}
			}
			t.Fatalf("no %s in the archive", name)
			return nil
		})
	}

	tests := []struct {
		name    string
		archive []byte
		want    error
		wantMsg string
	}{
		{"index.json again as ./index.json", dup("index.json", "./index.json"), ErrUnsafeEntry, "twice"},
		{"index.json again as .//index.json", dup("index.json", ".//index.json"), ErrUnsafeEntry, "twice"},
		{"blob again, differing", dup(cfgName, "./"+cfgName), ErrUnsafeEntry, "twice"},
		{"hard link over an earlier entry", appendEntries(tarEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "index.json", Linkname: "manifest.json"}}), ErrUnsafeEntry, "twice"},
		{"symlink index.json to /etc/shadow", edit(func(ents []tarEntry) []tarEntry {
			for i := range ents {
				if ents[i].hdr.Name == "index.json" {
					ents[i] = tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "index.json", Linkname: "/etc/shadow"}}
				}
			}
			return ents
		}), ErrUnsafeEntry, "links to"},
		{"blob a hard link to /etc/shadow", appendEntries(tarEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "blobs/sha256/" + strings.Repeat("0", 64), Linkname: "/etc/shadow"}}), ErrUnsafeEntry, "links to"},
		{"fifo", appendEntries(tarEntry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "oci-layout"}}), ErrUnsafeEntry, "type"},
		{"layer size smaller than the blob", layerSize(-1), cache.ErrSizeMismatch, "descriptor says"},
		{"layer size larger than the blob", layerSize(+1), cache.ErrSizeMismatch, "descriptor says"},
		{"layer size of an exabyte", layerSize(1 << 60), cache.ErrSizeMismatch, "descriptor says"},
		{"repo tag escaping", manifestJSON(`[{"Config":"` + cfgName + `","RepoTags":["../x"],"Layers":["` + layerName + `"]}]`), registry.ErrInvalidReference, "image sha256:"},
		{"repo tag of 10 KB", manifestJSON(`[{"Config":"` + cfgName + `","RepoTags":["a:` + strings.Repeat("b", 10<<10) + `"],"Layers":["` + layerName + `"]}]`), registry.ErrInvalidReference, "more than"},
		{"repo tag with control characters", manifestJSON(`[{"Config":"` + cfgName + `","RepoTags":["a:\u001b[2J"],"Layers":["` + layerName + `"]}]`), registry.ErrInvalidReference, "image sha256:"},
		{"config is the layer", manifestJSON(`[{"Config":"` + layerName + `","RepoTags":["a:1"],"Layers":["` + layerName + `"]}]`), nil, "config"},
		{"config is manifest.json", manifestJSON(`[{"Config":"manifest.json","RepoTags":["a:1"],"Layers":[]}]`), nil, "parsing config"},
		{"layer is the config", manifestJSON(`[{"Config":"` + cfgName + `","RepoTags":["a:1"],"Layers":["` + cfgName + `"]}]`), errDiffID, "DiffID"},
		{"layer is a directory", manifestJSON(`[{"Config":"` + cfgName + `","RepoTags":["a:1"],"Layers":["blobs/sha256"]}]`), errMissing, "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loadFails(t, bytes.NewReader(tt.archive), LoadOptions{}, tt.want, tt.wantMsg)
		})
	}
}

// TestLoadDirSpecialFiles: files of a layout directory that are not regular files. oci-layout
// is never read, so a FIFO there must not hang the load; anything Load reads must be a regular
// file beneath the directory.
func TestLoadDirSpecialFiles(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(t *testing.T, dir, cfg string)
		ok      bool
	}{
		{"oci-layout a fifo", func(t *testing.T, dir, _ string) {
			p := filepath.Join(dir, "oci-layout")
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"index.json a fifo", func(t *testing.T, dir, _ string) {
			p := filepath.Join(dir, "index.json")
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"config a char device", func(t *testing.T, _, cfg string) {
			if err := os.Remove(cfg); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mknod(cfg, unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5))); err != nil {
				t.Skipf("mknod (needs root): %v", err)
			}
		}, false},
		{"blobs a symlink to a copy outside", func(t *testing.T, dir, _ string) {
			blobs := filepath.Join(dir, "blobs")
			moved := filepath.Join(t.TempDir(), "blobs")
			if err := os.Rename(blobs, moved); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(moved, blobs); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, cfg := hostileLayout(t)
			tt.breakIt(t, dir, cfg)
			s := newStore(t)
			done := make(chan error, 1)
			go func() {
				_, err := LoadDir(context.Background(), s, dir, LoadOptions{})
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatal("LoadDir hangs")
			}
			if tt.ok {
				if err != nil {
					t.Fatalf("LoadDir() = %v, want it loaded", err)
				}
				return
			}
			if !errors.Is(err, ErrUnsafeEntry) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("LoadDir() = %v, want one line wrapping %v", err, ErrUnsafeEntry)
			}
			if b := storedBlobs(t, s); len(b) != 0 {
				t.Errorf("store holds %d blobs after a failed load", len(b))
			}
		})
	}
}

// TestLoadDirSparseDocker: an unpacked old docker archive names its config and layers by
// path, so LoadDir hashes them. A sparse config of 64 GiB was hashed whole (most of a minute)
// before its size refused it, and a sparse layer larger than the disk (the better part of an
// hour) before the store's room did. Both are refused before a byte is read.
func TestLoadDirSparseDocker(t *testing.T) {
	var st unix.Statfs_t
	dir := t.TempDir()
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	beyond := int64(st.Bavail)*st.Bsize + 1<<30
	tests := []struct {
		name            string
		cfgSize, lySize int64
		want            string
	}{
		{"config of 64 GiB", 64 << 30, 1024, "allowed"},
		{"layer larger than the disk", 0, beyond, "free"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := []byte(`{"rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("1", 64) + `"]}}`)
			if err := os.WriteFile(filepath.Join(dir, "c.json"), cfg, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(dir, "l"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "l", "layer.tar"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.cfgSize > 0 {
				if err := os.Truncate(filepath.Join(dir, "c.json"), tt.cfgSize); err != nil {
					t.Skipf("a sparse file of %d bytes: %v", tt.cfgSize, err)
				}
			}
			if err := os.Truncate(filepath.Join(dir, "l", "layer.tar"), tt.lySize); err != nil {
				t.Skipf("a sparse file of %d bytes: %v", tt.lySize, err)
			}
			mj := `[{"Config":"c.json","RepoTags":["example.com/sparse:1"],"Layers":["l/layer.tar"]}]`
			if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(mj), 0o644); err != nil {
				t.Fatal(err)
			}
			s := newStore(t)
			start := time.Now()
			_, err := LoadDir(context.Background(), s, dir, LoadOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadDir() = %v, want an error saying %q", err, tt.want)
			}
			// Refused at once; reading would take a minute or more even of zeros.
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("LoadDir took %v to refuse, want it refused before reading", d)
			}
			if b := storedBlobs(t, s); len(b) != 0 {
				t.Errorf("store holds %d blobs after a failed load", len(b))
			}
		})
	}
}

// TestSaveDirSwapped: SaveDir writes into a directory that may be another user's (an empty
// /tmp/out made in advance), who can add to it while the save runs. A symlink put in place of
// index.json, or of blobs/sha256, must not make the save write outside the directory: it
// wrote index.json through the link (over any file root can write) and blobs into the link's
// target.
func TestSaveDirSwapped(t *testing.T) {
	src := newStore(t)
	ref := put(t, src, "docker.io/library/alpine:3.20.3", alpine(t))
	tests := []struct {
		name  string
		plant func(t *testing.T, dir, outside string)
	}{
		{"index.json a symlink", func(t *testing.T, dir, outside string) {
			if err := os.Symlink(filepath.Join(outside, "precious"), filepath.Join(dir, "index.json")); err != nil {
				t.Fatal(err)
			}
		}},
		{"oci-layout a symlink", func(t *testing.T, dir, outside string) {
			if err := os.Symlink(filepath.Join(outside, "precious"), filepath.Join(dir, "oci-layout")); err != nil {
				t.Fatal(err)
			}
		}},
		{"blobs/sha256 a symlink", func(t *testing.T, dir, outside string) {
			blobs := filepath.Join(dir, "blobs", "sha256")
			if err := os.Rename(blobs, filepath.Join(dir, "moved")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, blobs); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, outside := filepath.Join(t.TempDir(), "out"), t.TempDir()
			if err := os.Mkdir(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			precious := filepath.Join(outside, "precious")
			if err := os.WriteFile(precious, []byte("keep me"), 0o600); err != nil {
				t.Fatal(err)
			}
			planted := false
			opts := SaveOptions{Progress: func(Event) {
				if !planted {
					planted = true
					tt.plant(t, dir, outside)
				}
			}}
			err := SaveDir(context.Background(), dir, src, []cache.Ref{ref}, opts)
			if err == nil {
				t.Errorf("SaveDir() succeeded with %s planted, want an error", tt.name)
			}
			if b, rerr := os.ReadFile(precious); rerr != nil || string(b) != "keep me" {
				t.Errorf("%s became %.30q, %v: written through the symlink", precious, b, rerr)
			}
			ents, _ := os.ReadDir(outside)
			if len(ents) != 1 {
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Errorf("%s holds %v after the save, want only precious", outside, names)
			}
		})
	}
}

// TestSaveDirFailedLeavesNothing: a SaveDir that fails removes what it wrote, and the
// directory too when it made it: a failed save leaves nothing under the name.
func TestSaveDirFailedLeavesNothing(t *testing.T) {
	src := newStore(t)
	ref := put(t, src, "docker.io/library/alpine:3.20.3", alpine(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	made := filepath.Join(t.TempDir(), "out")
	if err := SaveDir(ctx, made, src, []cache.Ref{ref}, SaveOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("SaveDir(cancelled) = %v, want %v", err, context.Canceled)
	}
	if _, err := os.Lstat(made); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s left after a failed save (%v)", made, err)
	}
	// A directory that was there stays, empty.
	given := t.TempDir()
	if err := SaveDir(ctx, given, src, []cache.Ref{ref}, SaveOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("SaveDir(cancelled) = %v, want %v", err, context.Canceled)
	}
	if ents, err := os.ReadDir(given); err != nil || len(ents) != 0 {
		t.Errorf("%s after a failed save: %d entries, %v; want it there and empty", given, len(ents), err)
	}
}

// TestLoadDirCancelWhileHashing: an unpacked old docker archive's layers are hashed before
// anything is stored, which for a big layer takes minutes: a cancelled load (Ctrl-C) must
// stop there, not hash on to the end.
func TestLoadDirCancelWhileHashing(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	size := min(int64(32<<30), (int64(st.Bavail)*st.Bsize-freespace.OfBlocks(st.Blocks, st.Bsize))/2)
	if size < 4<<30 {
		t.Skipf("%d bytes of room: too little for the big layer", size)
	}
	cfg := []byte(`{"rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("1", 64) + `"]}}`)
	if err := os.WriteFile(filepath.Join(dir, "c.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "l"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "l", "layer.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(f.Truncate(size), f.Close()); err != nil {
		t.Skipf("a sparse file of %d bytes: %v", size, err)
	}
	mj := `[{"Config":"c.json","RepoTags":["example.com/big:1"],"Layers":["l/layer.tar"]}]`
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(mj), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err = LoadDir(ctx, newStore(t), dir, LoadOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("LoadDir() cancelled while hashing = %v, want %v", err, context.Canceled)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("LoadDir took %v to stop once cancelled", d)
	}
}

// TestLoadHeadersWithoutEnd: archive/tar reads PAX headers in a loop until one names an entry,
// so a stream of nothing but PAX headers (what a gzip of a few MB unpacks to GBs of) was read
// to its end: a GB in 15 s here, and a cancelled load went on reading. Load stops after
// maxHeaderBytes of headers, and at once when cancelled.
func TestLoadHeadersWithoutEnd(t *testing.T) {
	var one bytes.Buffer
	recs := paxRecords(map[string]string{"comment": strings.Repeat("c", 4000)})
	tw := tar.NewWriter(&one)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "PaxHeader", Size: int64(len(recs)), Format: tar.FormatUSTAR}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(recs); err != nil {
		t.Fatal(err)
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	header := one.Bytes()
	setTypeflag(header, 0, tar.TypeXHeader)
	// endless writes header after header until the pipe is closed, then says how many bytes.
	endless := func() (*io.PipeReader, chan int64) {
		pr, pw := io.Pipe()
		wrote := make(chan int64, 1)
		go func() {
			var n int64
			for {
				m, err := pw.Write(header)
				n += int64(m)
				if err != nil {
					wrote <- n
					return
				}
			}
		}()
		return pr, wrote
	}

	t.Run("bounded", func(t *testing.T) {
		pr, wrote := endless()
		loadFails(t, pr, LoadOptions{}, nil, "tar headers")
		pr.Close()
		if n := <-wrote; n > 2*maxHeaderBytes {
			t.Errorf("Load read %d MiB of headers, want at most %d", n>>20, 2*maxHeaderBytes>>20)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		pr, wrote := endless()
		defer func() { pr.Close(); <-wrote }()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		done := make(chan error, 1)
		go func() {
			_, err := Load(ctx, newStore(t), pr, LoadOptions{})
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Load() cancelled = %v, want %v", err, context.Canceled)
			}
		case <-time.After(20 * time.Second):
			t.Error("Load still reading 20 s after it was cancelled")
		}
	})
}

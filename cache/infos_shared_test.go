package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// TestInfosReadsEachImageOnce: Infos of a store holding thousands of names of one image
// reads that image once, not once per name: it read and hashed the same manifest and config
// for each tag, and `images`, `system df`, every rmi and prune took seconds on a store of
// 5000 tags of three images (0.3 ms a name). Each name still gets its own Ref and its own
// descriptor from index.json (whose annotations differ: the digest it was pulled by).
func TestInfosReadsEachImageOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	img := imageOf(t, seededLayers(t, 7, 2, 1024)...)
	reg := newFakeRegistry(t, img)
	if _, err := s.WriteImage(ctx, "example.com/one:0", img, WriteOptions{Fetch: reg.fetch}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "index.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	one := idx.Manifests[0]
	const names = 3000
	for i := 1; i < names; i++ {
		d := one
		d.Annotations = map[string]string{RefNameAnnotation: fmt.Sprintf("example.com/one:%d", i), "note": fmt.Sprint(i)}
		idx.Manifests = append(idx.Manifests, d)
	}
	if raw, err = json.Marshal(idx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	// Each read of the image opens its manifest and config blobs: counted with inotify, not
	// timed, so that a loaded machine cannot fail the test.
	opens := watchOpens(t, filepath.Join(dir, blobsDir, "sha256"))
	infos, err := s.Infos()
	if err != nil {
		t.Fatal(err)
	}
	manifestOpens := opens(one.Digest.Hex)
	if len(infos) != names {
		t.Fatalf("Infos = %d images, want %d", len(infos), names)
	}
	for i, info := range infos {
		want := fmt.Sprintf("example.com/one:%d", i)
		note := ""
		if i > 0 {
			note = fmt.Sprint(i)
		}
		if info.Ref != want || info.Manifest.Annotations["note"] != note || info.Damaged != nil || info.ID != infos[0].ID || info.Size != infos[0].Size {
			t.Fatalf("Infos[%d] = ref %s, annotations %v, damaged %v, ID %s, size %d; want %s with its own descriptor and the image's ID and size",
				i, info.Ref, info.Manifest.Annotations, info.Damaged, info.ID, info.Size, want)
		}
	}
	// Read once, the image's blobs are opened a few times at most; read per name, they
	// were opened 3000 times.
	if manifestOpens == 0 || manifestOpens > 3 {
		t.Errorf("Infos of %d names of one image opened its manifest %d times, want it read once", names, manifestOpens)
	}
}

// watchOpens watches dir for files opened in it; the function it returns tells how many
// times the file name was opened since.
func watchOpens(t *testing.T, dir string) func(name string) int {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Skipf("inotify: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_OPEN); err != nil {
		t.Fatalf("watching %s: %v", dir, err)
	}
	return func(name string) int {
		t.Helper()
		count := 0
		buf := make([]byte, 64<<10)
		for {
			n, err := unix.Read(fd, buf)
			if err == unix.EAGAIN {
				return count
			}
			if err != nil {
				t.Fatalf("reading inotify events: %v", err)
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
					t.Fatal("inotify queue overflowed: far too many opens")
				}
				name0 := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
				if string(bytes.TrimRight(name0, "\x00")) == name {
					count++
				}
				off += unix.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}

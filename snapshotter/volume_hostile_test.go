package snapshotter

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// netRawCap is a security.capability value (VFS_CAP_REVISION_2, effective) granting
// CAP_NET_RAW, as ping's in many images.
const netRawCap = "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

// TestPopulateVolumeHostilePaths resolves VOLUME paths an image author can make awkward, in
// the merged view of two layers, and checks which directory of the image each volume copies
// (by the marker file it holds), or the one-line error it gets.
func TestPopulateVolumeHostilePaths(t *testing.T) {
	s, base := newTestSnapshotter(t, drivers[0])
	bottom := buildLayer(t,
		dir("etc/"), file("etc/marker", "etc"),
		dir("srv/"), file("srv/marker", "srv"),
		symlink("was-link", "/etc"),
		dir("was-dir/"), file("was-dir/marker", "was-dir"),
		dir("gone/"), file("gone/marker", "gone"),
		dir("opq/"), dir("opq/sub/"), file("opq/sub/marker", "opq"),
		symlink("loop1", "/loop2"), symlink("loop2", "loop1"),
		symlink("up", "../../../../../srv"),
		symlink("chain1", "chain2"), symlink("chain2", "/srv/../chain3"), symlink("chain3", "etc"),
		symlink("dangling", "/nowhere/deeper"),
		symlink("tofile", "/etc/marker"),
		entry{name: "fifo", typ: tar.TypeFifo, mode: 0o600},
		entry{name: "null", typ: tar.TypeChar, mode: 0o666, devmajor: 1, devminor: 3},
		dir("\xff\xfe/"), file("\xff\xfe/marker", "binary"),
		dir("hl/"), file("etc/target", "linked"), hardlink("hl/link", "etc/target"),
		dir("caps/"), entry{name: "caps/ping", body: "ping", mode: 0o4755, xattrs: map[string]string{"security.capability": netRawCap}},
	)
	top := buildLayer(t,
		dir("was-link/"), file("was-link/marker", "was-link"),
		symlink("was-dir", "/srv"),
		file(".wh.gone", ""),
		dir("opq/"), file("opq/.wh..wh..opq", ""),
	)
	unpack(t, s, bottom)
	unpack(t, s, top)
	diffIDs := []v1.Hash{bottom.diffID, top.diffID}
	cdir := filepath.Join(base, "containers", "c1")
	if _, err := s.Prepare(t.Context(), cdir, diffIDs, false); err != nil {
		t.Fatal(err)
	}
	vols := filepath.Join(cdir, "volumes")
	for i, tc := range []struct {
		target string
		marker string // "" for an empty volume
		err    string
	}{
		{target: "/was-link", marker: "was-link"}, // a dir above a symlink: the dir
		{target: "/was-dir", marker: "srv"},       // a symlink above a dir: where it leads
		{target: "/gone"},                         // whited out: empty
		{target: "/opq/sub"},                      // under an opaque dir: empty
		{target: "/loop1", err: "too many"},
		{target: "/up", marker: "srv"}, // .. stops at the image's root
		{target: "/chain1", marker: "etc"},
		{target: "/dangling"},
		{target: "/tofile", err: "cannot mount volume over existing file"},
		{target: "/tofile/sub"},
		{target: "/fifo", err: "cannot mount volume over existing file"},
		{target: "/null", err: "cannot mount volume over existing file"},
		{target: "/\xff\xfe", marker: "binary"},
		{target: "/hl"},
		{target: "/caps"},
		{target: "/opq"},
	} {
		dst := filepath.Join(vols, string(rune('a'+i)))
		err := s.PopulateVolume(t.Context(), cdir, diffIDs, tc.target, dst)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("PopulateVolume(%q) = %v, want one line with %q", tc.target, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("PopulateVolume(%q) = %v", tc.target, err)
			continue
		}
		if tc.target == "/hl" {
			var st unix.Stat_t
			if err := unix.Lstat(filepath.Join(dst, "link"), &st); err != nil || st.Nlink != 1 {
				t.Errorf("/hl/link, a hard link to a file outside the volume: nlink %d, %v; want a file of its own", st.Nlink, err)
			}
			wantContent(t, filepath.Join(dst, "link"), "linked")
			continue
		}
		switch tc.target {
		case "/caps":
			// As docker's copy: the file keeps its capabilities and setuid bit (the volume
			// is nosuid no more than the root is), which a chown after them would clear.
			wantStat(t, filepath.Join(dst, "ping"), unix.S_IFREG|0o4755, 0, 0)
			buf := make([]byte, 64)
			if n, err := unix.Lgetxattr(filepath.Join(dst, "ping"), "security.capability", buf); err != nil || string(buf[:n]) != netRawCap {
				t.Errorf("/caps/ping security.capability = %x, %v; want %x", buf[:max(n, 0)], err, netRawCap)
			}
			continue
		case "/opq":
			// Overlay's marker is the layer dir's, not the directory's: a volume has none.
			for _, name := range opaqueXattrs {
				if _, err := unix.Lgetxattr(dst, name, nil); !errors.Is(err, unix.ENODATA) {
					t.Errorf("volume of an opaque dir: getxattr %s = %v, want ENODATA", name, err)
				}
			}
		}
		got, err := os.ReadFile(filepath.Join(dst, "marker"))
		switch {
		case tc.marker == "" && !errors.Is(err, os.ErrNotExist):
			t.Errorf("PopulateVolume(%q) copied marker %q, want an empty volume", tc.target, got)
		case tc.marker != "" && string(got) != tc.marker:
			t.Errorf("PopulateVolume(%q) copied marker %q, %v; want %q", tc.target, got, err, tc.marker)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(vols, ".tmp-*")); len(m) > 0 {
		t.Errorf("left behind: %v", m)
	}
}

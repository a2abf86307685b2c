package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/testutil"
)

// TestApplyXattrPolicy pins which xattrs a layer may set. Data namespaces (user.*, trusted.*),
// file capabilities, POSIX ACLs and IMA/EVM values (checked against the host's keys) travel
// with images. Overlay's own xattrs would forge whiteouts, redirects and metacopy files in a
// lowerdir; other security.* names are labels of the host's MAC policy, which an image must
// not pick (Smack's SMACK64EXEC runs a program under the label it names, an SELinux label can
// be the entry point to a more privileged domain); system.* beyond POSIX ACLs are
// filesystem-specific.
// umoci drops security.selinux and system.nfs4_acl on extraction for the same reasons
// (oci/layer/tar_extract.go). Root: only root may set trusted.* and security.*, and without
// an LSM claiming them ext4 stores any security.* name, so a dropped one would show.
func TestApplyXattrPolicy(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	// Well-formed values, should the host run IMA or EVM: a sha256 digest
	// (IMA_XATTR_DIGEST_NG), and an EVM portable signature's type and version.
	ima := "\x04\x04" + strings.Repeat("\x00", 32)
	evm := "\x05\x02" + strings.Repeat("\x00", 8)
	dropped := map[string]string{
		"SCHILY.xattr.security.selinux":               "system_u:object_r:unconfined_exec_t:s0",
		"SCHILY.xattr.security.SMACK64EXEC":           "_",
		"SCHILY.xattr.security.SMACK64TRANSMUTE":      "TRUE",
		"SCHILY.xattr.security.apparmor":              "unconfined",
		"SCHILY.xattr.trusted.overlay.opaque":         "y",
		"SCHILY.xattr.trusted.overlay.redirect":       "/other",
		"SCHILY.xattr.trusted.overlay.metacopy":       "",
		"SCHILY.xattr.trusted.overlay.origin":         "\x00\xfb",
		"SCHILY.xattr.trusted.overlay.upper":          "\x00\xfb",
		"SCHILY.xattr.trusted.overlay.lowerdata":      "/x",
		"SCHILY.xattr.user.overlay.redirect":          "/other",
		"LIBARCHIVE.xattr.trusted%2Eoverlay%2Eopaque": "eQ==",
		"LIBARCHIVE.xattr.security%2Eselinux":         "eA==",
	}
	kept := map[string]string{
		"SCHILY.xattr.security.ima":    ima,
		"SCHILY.xattr.security.evm":    evm,
		"SCHILY.xattr.user.note":       "kept",
		"SCHILY.xattr.trusted.note":    "kept",
		"SCHILY.xattr.trusted.overlay": "kept", // not in overlay's namespace: no dot after it
	}
	records := map[string]string{}
	for k, v := range dropped {
		records[k] = v
	}
	for k, v := range kept {
		records[k] = v
	}
	with := func(e ent) ent { return e.with(func(h *tar.Header) { h.PAXRecords = records }) }
	const acl = "\x02\x00\x00\x00" +
		"\x01\x00\x07\x00\xff\xff\xff\xff" + "\x02\x00\x04\x00\xe8\x03\x00\x00" +
		"\x04\x00\x05\x00\xff\xff\xff\xff" + "\x10\x00\x05\x00\xff\xff\xff\xff" +
		"\x20\x00\x05\x00\xff\xff\xff\xff"
	entries := []ent{
		with(dir("./", 0o755)),
		with(dir("d/", 0o755)),
		file("f", "x", 0o755).with(func(h *tar.Header) {
			h.PAXRecords = map[string]string{"SCHILY.xattr.system.posix_acl_access": acl}
			for k, v := range records {
				h.PAXRecords[k] = v
			}
		}),
		with(symlink("l", "f")),
		with(node("p", tar.TypeFifo, 0, 0)),
	}
	for _, mode := range []WhiteoutMode{WhiteoutOverlay, WhiteoutUserXattr, WhiteoutKeep} {
		t.Run(mode.String(), func(t *testing.T) {
			j := newJail(t)
			if _, err := Apply(context.Background(), j.root, bytes.NewReader(tarOf(t, entries...)), Options{Whiteouts: mode}); err != nil {
				t.Fatalf("Apply(xattrs, %s) = %v", mode, err)
			}
			j.check(t)
			// A POSIX ACL (version 2; user::rwx, user:1000:r--, group::r-x, mask::r-x,
			// other::r-x) is kept where the filesystem takes one.
			wantXattr(t, j.root, "f", "system.posix_acl_access", acl)
			for _, name := range []string{".", "d", "f", "l", "p"} {
				for _, x := range []string{"security.selinux", "security.SMACK64EXEC", "security.SMACK64TRANSMUTE",
					"security.apparmor", "trusted.overlay.opaque",
					"trusted.overlay.redirect", "trusted.overlay.metacopy", "trusted.overlay.origin",
					"trusted.overlay.upper", "trusted.overlay.lowerdata", "user.overlay.redirect", "user.overlay.opaque"} {
					wantNoXattr(t, j.root, name, x)
				}
				wantXattr(t, j.root, name, "trusted.note", "kept")
				wantXattr(t, j.root, name, "security.ima", ima)
				wantXattr(t, j.root, name, "security.evm", evm)
				wantXattr(t, j.root, name, "trusted.overlay", "kept")
				if name != "l" && name != "p" { // user.* only on files and directories
					wantXattr(t, j.root, name, "user.note", "kept")
				}
			}
		})
	}
}

// TestApplyDefaultACLNotInherited: a directory's default POSIX ACL is set with its mode,
// after its children: set at once, every file and directory the layer put in it inherited
// an access ACL (and a directory the default ACL too) that the tar does not give it, so a
// directory of mode 0750 read as its tar says was readable by the ACL's named user (the
// differential test in snapshotter found it).
func TestApplyDefaultACLNotInherited(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	// Version 2: user::rwx, user:1000:r-x, group::r-x, mask::r-x, other::---.
	const acl = "\x02\x00\x00\x00" +
		"\x01\x00\x07\x00\xff\xff\xff\xff" + "\x02\x00\x05\x00\xe8\x03\x00\x00" +
		"\x04\x00\x05\x00\xff\xff\xff\xff" + "\x10\x00\x05\x00\xff\xff\xff\xff" +
		"\x20\x00\x00\x00\xff\xff\xff\xff"
	withACL := func(h *tar.Header) {
		h.PAXRecords = map[string]string{"SCHILY.xattr.system.posix_acl_default": acl}
	}
	entries := []ent{
		dir("d/", 0o750).with(withACL),
		file("d/f", "x", 0o640),
		dir("d/sub/", 0o750),
		file("d/sub/g", "y", 0o600),
		node("d/p", tar.TypeFifo, 0, 0),
	}
	j := newJail(t)
	if _, err := Apply(context.Background(), j.root, bytes.NewReader(tarOf(t, entries...)), Options{}); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	wantXattr(t, j.root, "d", "system.posix_acl_default", acl)
	for _, name := range []string{"d", "d/f", "d/sub", "d/sub/g", "d/p"} {
		wantNoXattr(t, j.root, name, "system.posix_acl_access")
	}
	for _, name := range []string{"d/sub", "d/sub/g"} {
		wantNoXattr(t, j.root, name, "system.posix_acl_default")
	}
}

// TestApplyRepeatedDirXattrs: a directory entry repeated in one layer takes the xattrs of the
// later entry alone, as it takes its mode (umoci does the same); the earlier entry's piled up.
// Overlay's opaque marker, which a whiteout set between them, stays.
func TestApplyRepeatedDirXattrs(t *testing.T) {
	withXattr := func(k, v string) func(h *tar.Header) {
		return func(h *tar.Header) { h.PAXRecords = map[string]string{"SCHILY.xattr." + k: v} }
	}
	entries := []ent{
		dir("d/", 0o700).with(withXattr("user.a", "1")),
		file("d/.wh..wh..opq", "", 0o644),
		file("d/x", "x", 0o644),
		dir("d/", 0o751).with(withXattr("user.b", "2")),
	}
	j := newJail(t)
	if _, err := Apply(context.Background(), j.root, bytes.NewReader(tarOf(t, entries...)), Options{Whiteouts: WhiteoutUserXattr, IgnoreOwners: true}); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	wantMode(t, j.root, "d", fs.ModeDir|0o751)
	wantNoXattr(t, j.root, "d", "user.a")
	wantXattr(t, j.root, "d", "user.b", "2")
	wantXattr(t, j.root, "d", "user.overlay.opaque", "y")
}

// TestApplyRepeatedRootXattrs: a "./" entry repeated in one layer takes the later entry's
// xattrs alone, as another directory does (TestApplyRepeatedDirXattrs): the earlier entry's
// stayed on the layer dir's root, which becomes the container's "/" (copyRootAttrs).
func TestApplyRepeatedRootXattrs(t *testing.T) {
	withXattr := func(k, v string) func(h *tar.Header) {
		return func(h *tar.Header) { h.PAXRecords = map[string]string{"SCHILY.xattr." + k: v} }
	}
	entries := []ent{
		dir("./", 0o700).with(withXattr("user.a", "1")),
		file(".wh..wh..opq", "", 0o644),
		file("x", "x", 0o644),
		dir("./", 0o751).with(withXattr("user.b", "2")),
	}
	j := newJail(t)
	if _, err := Apply(context.Background(), j.root, bytes.NewReader(tarOf(t, entries...)), Options{Whiteouts: WhiteoutUserXattr, IgnoreOwners: true}); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	wantMode(t, j.root, ".", fs.ModeDir|0o751)
	wantNoXattr(t, j.root, ".", "user.a")
	wantXattr(t, j.root, ".", "user.b", "2")
	wantXattr(t, j.root, ".", "user.overlay.opaque", "y")
}

// TestApplyXattrNamedTwice: a layer whose PAX records give one xattr twice, as star/GNU's
// SCHILY.xattr and libarchive's LIBARCHIVE.xattr (bsdtar writes both, with one value), or as
// two URL encodings of its name, is applied the same way every time: the SCHILY value, which
// docker and containerd read (they ignore libarchive's records), else the libarchive record
// whose key sorts first. The records came in a map, and whichever came last in Go's random
// order won: the same layer, by its DiffID, unpacked with another value on another run.
func TestApplyXattrNamedTwice(t *testing.T) {
	for _, tc := range []struct {
		name    string
		records map[string]string
		want    string
	}{
		{"SCHILY and LIBARCHIVE", map[string]string{"SCHILY.xattr.user.a": "schily", "LIBARCHIVE.xattr.user.a": "bGliYXJjaGl2ZQ=="}, "schily"},
		{"two libarchive encodings", map[string]string{"LIBARCHIVE.xattr.user.a": "c2Vjb25k", "LIBARCHIVE.xattr.user%2Ea": "Zmlyc3Q="}, "first"},
		{"all three", map[string]string{"LIBARCHIVE.xattr.user%2Ea": "Zmlyc3Q=", "SCHILY.xattr.user.a": "schily", "LIBARCHIVE.xattr.user.a": "c2Vjb25k"}, "schily"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, e := range []ent{file("f", "x", 0o644), dir("f", 0o755)} {
				// Go's map order differs from one range to the next: 20 tries see both
				// orders of two records all but once in a million.
				for range 20 {
					j := newJail(t)
					b := tarOf(t, e.with(func(h *tar.Header) { h.PAXRecords = tc.records }))
					if _, err := Apply(context.Background(), j.root, bytes.NewReader(b), Options{MinFreeBytes: -1}); err != nil {
						t.Fatal(err)
					}
					if got, err := getXattr(j.root, "f", "user.a"); err != nil || got != tc.want {
						t.Fatalf("%s: user.a = %q, %v; want %q", typeName(e.hdr.Typeflag), got, err, tc.want)
					}
				}
			}
		})
	}
}

// TestApplyLibarchiveXattrNames: libarchive's records name an xattr with only its bytes
// outside 33..126, '%' and '=' as %XX (url_encode in archive_write_set_format_pax.c), and read
// back every %XX of hex digits and nothing else (url_decode in archive_read_support_format_tar.c):
// a '+' is a '+', a '%' not followed by two hex digits a '%'. Apply read them as a URL's query
// (url.QueryUnescape): bsdtar's record of user.a+b set user.a b besides the SCHILY record's
// user.a+b, and a name with a lone '%' failed the layer.
func TestApplyLibarchiveXattrNames(t *testing.T) {
	for _, tc := range []struct {
		name    string
		records map[string]string
		want    []string
	}{
		{"a plus, as bsdtar writes it", map[string]string{"SCHILY.xattr.user.a+b": "v", "LIBARCHIVE.xattr.user.a+b": "dg=="}, []string{"user.a+b"}},
		{"a plus alone", map[string]string{"LIBARCHIVE.xattr.user.a+b": "dg=="}, []string{"user.a+b"}},
		{"a lone percent", map[string]string{"LIBARCHIVE.xattr.user.50%": "dg==", "LIBARCHIVE.xattr.user.%zz": "dg=="}, []string{"user.%zz", "user.50%"}},
		{"escapes", map[string]string{"LIBARCHIVE.xattr.user.a%3Db%25c%20d": "dg=="}, []string{"user.a=b%c d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := newJail(t)
			b := tarOf(t, file("f", "x", 0o644).with(func(h *tar.Header) { h.PAXRecords = tc.records }))
			if _, err := Apply(context.Background(), j.root, bytes.NewReader(b), Options{MinFreeBytes: -1}); err != nil {
				t.Fatal(err)
			}
			names, err := listXattrs(filepath.Join(j.root, "f"))
			if err != nil {
				t.Fatal(err)
			}
			var user []string
			for _, n := range names {
				if strings.HasPrefix(n, "user.") {
					user = append(user, n)
				}
			}
			slices.Sort(user)
			if !slices.Equal(user, tc.want) {
				t.Fatalf("xattrs %q; want %q", user, tc.want)
			}
			for _, n := range user {
				if got, err := getXattr(j.root, "f", n); err != nil || got != "v" {
					t.Errorf("%s = %q, %v; want \"v\"", n, got, err)
				}
			}
		})
	}
}

func listXattrs(p string) ([]string, error) {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range strings.Split(string(buf[:n]), "\x00") {
		if s != "" {
			names = append(names, s)
		}
	}
	return names, nil
}

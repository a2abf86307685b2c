package snapshotter

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/layers"
	"golang.org/x/sys/unix"
)

// The differential test: a seeded generator of multi-layer images that exercise the OCI layer
// semantics (image-spec layer.md: changesets, whiteouts, opaque whiteouts, hard links), a
// reference that applies the layers in order to an in-memory tree by those rules alone, and a
// comparison of the tree a container sees, through each driver's Prepare and mounts, with it.
//
// The images replace files by directories and directories by files, white out files and
// directories, make directories opaque over lower content, delete and re-add names (in one
// layer and in later ones, whiteouts before or after the layer's own entries), hard link
// files of a layer (whose targets later layers replace or delete), make symlinks (relative,
// absolute, dangling, through other symlinks), device nodes and fifos, with setuid, setgid
// and sticky modes, owners, mtimes (before 1970, after 2038, with nanoseconds), xattrs
// (user.*, trusted.*, security.capability, default ACLs), empty files, NAME_MAX names, deep
// paths and names with spaces, newlines, colons, backslashes and UTF-8. The reference is
// checked against umoci where it is installed (TestDifferentialUmoci).
//
// Left out on purpose: entries below a lower layer's symlink (a layer dir resolves them in
// the layer alone, umoci through the image below; differs build no such layer), directories a
// layer leaves implicit (they take root's 0755 in the layer dir, and overlay shows the
// topmost copy, as docker's overlay2 does; in-place unpackers keep the lower's), and the
// image's root directory ("./"), whose attributes a container's upper decides.
//
// STRATA_DIFF_SEEDS=N runs N seeds instead of the few of `make test`; STRATA_DIFF_SEED=S runs
// seed S alone (to replay a failure the test names).

// genEntry is one tar entry of a generated layer.
type genEntry struct {
	hdr  tar.Header
	body []byte
}

// refNode is one inode of the reference tree; hard links share the pointer.
type refNode struct {
	typ          byte // tar.TypeReg, TypeDir, TypeSymlink, TypeChar, TypeBlock, TypeFifo
	mode         int64
	uid, gid     int
	mtime        time.Time
	body         []byte
	link         string
	major, minor int64
	xattrs       map[string]string
}

// refTree maps clean relative paths ("a/b") to nodes; the root is not in it.
type refTree map[string]*refNode

func under(p, dir string) bool { return dir == "" || strings.HasPrefix(p, dir+"/") }

func splitRel(name string) (dir, base string) {
	dir, base = path.Split(name)
	return strings.TrimSuffix(dir, "/"), base
}

// refApply applies one layer to tree by the image-spec rules: a whiteout ".wh.NAME" deletes
// NAME and everything below it from the layers below (never what this layer itself made), an
// opaque whiteout the lower children of its directory; any other entry replaces what is at
// its name, except a directory over a directory, which keeps the children and takes the new
// metadata; a hard link is another name of its target's inode.
func refApply(tree refTree, l []genEntry) {
	added := map[string]bool{}
	for _, e := range l {
		name := strings.Trim(path.Clean("/"+e.hdr.Name), "/")
		dir, base := splitRel(name)
		switch {
		case base == whiteoutOpaque:
			for p := range tree {
				if under(p, dir) && !added[p] {
					delete(tree, p)
				}
			}
			continue
		case strings.HasPrefix(base, whiteoutPrefix):
			target := path.Join(dir, base[len(whiteoutPrefix):])
			for p := range tree {
				if (p == target || under(p, target)) && !added[p] {
					delete(tree, p)
				}
			}
			continue
		}
		for d := dir; d != "" && d != "."; d, _ = splitRel(d) {
			if n := tree[d]; n == nil || n.typ != tar.TypeDir {
				panic(fmt.Sprintf("generator bug: %s has no parent directory %s", name, d))
			}
		}
		old := tree[name]
		if old == nil || old.typ != tar.TypeDir || e.hdr.Typeflag != tar.TypeDir {
			for p := range tree {
				if p == name || under(p, name) {
					delete(tree, p)
				}
			}
		}
		added[name] = true
		if e.hdr.Typeflag == tar.TypeLink {
			target := strings.Trim(path.Clean("/"+e.hdr.Linkname), "/")
			if tree[target] == nil {
				panic("generator bug: hard link to nothing: " + target)
			}
			tree[name] = tree[target]
			continue
		}
		n := &refNode{typ: e.hdr.Typeflag, mode: e.hdr.Mode & 0o7777, uid: e.hdr.Uid, gid: e.hdr.Gid, mtime: e.hdr.ModTime,
			body: e.body, link: e.hdr.Linkname, major: e.hdr.Devmajor, minor: e.hdr.Devminor, xattrs: xattrsOf(&e.hdr)}
		if n.typ != tar.TypeSymlink {
			n.link = ""
		}
		tree[name] = n
	}
}

func xattrsOf(h *tar.Header) map[string]string {
	x := map[string]string{}
	for k, v := range h.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			x[name] = v
		}
	}
	return x
}

// gen builds one image; its picks depend only on the seed.
type gen struct {
	r     *rand.Rand
	tree  refTree // the image so far, all layers below the one being made
	n     int     // for fresh names
	gone  []string
	layer []genEntry
	// Per layer: names this layer put an entry at, names whose lower content it deleted or
	// replaced (nothing below them may be picked), directories it made or re-emitted (which
	// may take children), and its regular files (hard link targets).
	touched map[string]bool
	dead    map[string]bool
	dirs    map[string]bool
	files   []string
	genOpts
}

// genOpts shape what the generator makes.
type genOpts struct {
	// late lets whiteouts and opaque markers come after the layer's own entries at their
	// names, which the image-spec allows, but which writers are asked not to do.
	late bool
	// short keeps names to NAME_MAX-4 bytes, so that ".wh." and any name is a file name.
	short bool
}

var capValue = string([]byte{0x01, 0x00, 0x00, 0x02, // VFS_CAP_REVISION_2, effective
	0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, // permitted: CAP_NET_BIND_SERVICE; inheritable
	0, 0, 0, 0, 0, 0, 0, 0})

// defaultACL is a POSIX ACL (v2) of user::rwx, user:1000:r-x, group::r-x, mask::r-x,
// other::r-x.
var defaultACL = string([]byte{2, 0, 0, 0,
	1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff,
	2, 0, 5, 0, 0xe8, 3, 0, 0,
	4, 0, 5, 0, 0xff, 0xff, 0xff, 0xff,
	0x10, 0, 5, 0, 0xff, 0xff, 0xff, 0xff,
	0x20, 0, 5, 0, 0xff, 0xff, 0xff, 0xff})

func (g *gen) pick(n int) int { return g.r.IntN(n) }

func (g *gen) name() string {
	g.n++
	n := strconv.Itoa(g.n)
	switch g.pick(12) {
	case 0:
		if g.short {
			return strings.Repeat("L", 251-len(n)-1) + "-" + n
		}
		return strings.Repeat("L", 255-len(n)-1) + "-" + n // NAME_MAX
	case 1:
		return "sp ace\t" + n
	case 2:
		return "ünï€ødé-" + n
	case 3:
		return "co:lon\\back=eq%" + n
	case 4:
		return "..dots" + n
	case 5:
		return ".whx" + n // like a whiteout, but not one
	case 6:
		return "-dash*?[" + n + "]"
	case 7:
		return "new\nline" + n
	case 8:
		return "'q\"" + n
	}
	return "n" + n
}

func (g *gen) mode(dir bool) int64 {
	modes := []int64{0o644, 0o600, 0o755, 0o700, 0o444, 0o000, 0o4755, 0o2755, 0o6711, 0o1777, 0o3770, 0o7777, 0o640}
	if dir {
		modes = []int64{0o755, 0o700, 0o1777, 0o2775, 0o555, 0o711, 0o3777, 0o750}
	}
	return modes[g.pick(len(modes))]
}

func (g *gen) owner() int { return []int{0, 0, 1, 1000, 65534, 123456}[g.pick(6)] }

func (g *gen) mtime() time.Time {
	sec := int64(1_000_000_000 + g.pick(1_000_000_000))
	nsec := int64(0)
	switch g.pick(4) {
	case 0:
		nsec = int64(g.pick(1_000_000_000))
	case 1:
		sec = -int64(g.pick(1_000_000)) // before 1970
	case 2:
		sec = 4_000_000_000 + sec // after 2038
	}
	return time.Unix(sec, nsec)
}

func (g *gen) xattrs(file bool) map[string]string {
	x := map[string]string{}
	if g.pick(3) == 0 {
		x["user.k"+strconv.Itoa(g.pick(3))] = []string{"", "v", "bin\x00ary\xff", strings.Repeat("x", 200)}[g.pick(4)]
	}
	if g.pick(6) == 0 {
		x["trusted.t"] = "t"
	}
	if file && g.pick(5) == 0 {
		x["security.capability"] = capValue
	}
	if !file && g.pick(5) == 0 {
		// Inherited by what is created in it, unless the creator says otherwise.
		x["system.posix_acl_default"] = defaultACL
	}
	return x
}

func (g *gen) header(name string, typ byte, mode int64, x map[string]string) tar.Header {
	h := tar.Header{Name: name, Typeflag: typ, Mode: mode, Uid: g.owner(), Gid: g.owner(), ModTime: g.mtime(), Format: tar.FormatPAX}
	for k, v := range x {
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		h.PAXRecords["SCHILY.xattr."+k] = v
	}
	return h
}

// alive reports whether the lower path p may be picked in this layer: present, and neither it
// nor a parent deleted or replaced by this layer.
func (g *gen) alive(p string) bool {
	if g.tree[p] == nil {
		return false
	}
	for q := p; q != ""; q, _ = splitRel(q) {
		if g.dead[q] {
			return false
		}
	}
	return true
}

// lower lists the lower paths this layer may still change, sorted, matching ok.
func (g *gen) lower(ok func(p string, n *refNode) bool) []string {
	var out []string
	for p, n := range g.tree {
		if g.alive(p) && !g.touched[p] && ok(p, n) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// untouchedBelow reports whether this layer put nothing at or below p.
func (g *gen) untouchedBelow(p string) bool {
	for q := range g.touched {
		if q == p || under(q, p) {
			return false
		}
	}
	return true
}

// parentDir picks a directory to put a new entry in: the root, a lower one or one this layer
// made.
func (g *gen) parentDir() string {
	c := []string{""}
	c = append(c, g.lower(func(p string, n *refNode) bool { return n.typ == tar.TypeDir })...)
	for d := range g.dirs {
		c = append(c, d)
	}
	sort.Strings(c)
	c = compactStrings(c)
	return c[g.pick(len(c))]
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// parents emits the lower directories on the way to p that this layer has not emitted yet,
// with the metadata they have, as a differ writes a changed file's parents.
func (g *gen) parents(p string) {
	dir, _ := splitRel(p)
	if dir == "" || g.dirs[dir] {
		return
	}
	g.parents(dir)
	n := g.tree[dir]
	h := tar.Header{Name: dir + "/", Typeflag: tar.TypeDir, Mode: n.mode, Uid: n.uid, Gid: n.gid, ModTime: n.mtime, Format: tar.FormatPAX}
	for k, v := range n.xattrs {
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		h.PAXRecords["SCHILY.xattr."+k] = v
	}
	g.emit(genEntry{hdr: h})
	g.dirs[dir] = true
}

func (g *gen) emit(e genEntry) {
	name := strings.TrimSuffix(e.hdr.Name, "/")
	if _, base := splitRel(name); !strings.HasPrefix(base, whiteoutPrefix) {
		g.touched[name] = true
	}
	if e.hdr.Typeflag == tar.TypeReg {
		e.hdr.Size = int64(len(e.body))
	}
	g.layer = append(g.layer, e)
}

func (g *gen) newFile(p string) {
	g.parents(p)
	var body []byte
	switch g.pick(4) {
	case 0: // empty
	case 1:
		body = bytes.Repeat([]byte{byte(g.pick(256))}, 1+g.pick(70000))
	default:
		body = []byte(fmt.Sprintf("content of %q %d\n", p, g.pick(1000)))
	}
	g.emit(genEntry{hdr: g.header(p, tar.TypeReg, g.mode(false), g.xattrs(true)), body: body})
	g.files = append(g.files, p)
}

func (g *gen) newDir(p string) {
	g.parents(p)
	g.emit(genEntry{hdr: g.header(p+"/", tar.TypeDir, g.mode(true), g.xattrs(false))})
	g.dirs[p] = true
}

func (g *gen) newSymlink(p string) {
	g.parents(p)
	var target string
	all := g.lower(func(string, *refNode) bool { return true })
	switch g.pick(5) {
	case 0:
		target = "/does/not/exist"
	case 1:
		if len(all) > 0 {
			target = "/" + all[g.pick(len(all))]
		}
	case 2:
		if len(all) > 0 {
			dir, _ := splitRel(p)
			rel, _ := filepath.Rel("/"+dir, "/"+all[g.pick(len(all))])
			target = rel
		}
	case 3:
		links := g.lower(func(_ string, n *refNode) bool { return n.typ == tar.TypeSymlink })
		if len(links) > 0 {
			target = "/" + links[g.pick(len(links))] + "/x"
		}
	}
	if target == "" {
		target = "../../.." + "/etc/passwd"
	}
	// Only trusted.*: no ACLs on symlinks, and Linux takes user.* xattrs only on files and
	// directories (Apply drops them, umoci fails on them).
	x := map[string]string{}
	if g.pick(6) == 0 {
		x["trusted.t"] = "link"
	}
	g.emit(genEntry{hdr: g.header(p, tar.TypeSymlink, 0o777, x)})
	g.layer[len(g.layer)-1].hdr.Linkname = target
}

func (g *gen) newNode(p string) {
	g.parents(p)
	typ := []byte{tar.TypeChar, tar.TypeBlock, tar.TypeFifo}[g.pick(3)]
	h := g.header(p, typ, g.mode(false)&0o777, nil)
	if typ != tar.TypeFifo {
		h.Devmajor, h.Devminor = int64(1+g.pick(10)), int64(g.pick(300))
	}
	g.emit(genEntry{hdr: h})
}

// fresh is a new name in a directory that may take one.
func (g *gen) fresh() string { return path.Join(g.parentDir(), g.name()) }

func (g *gen) whiteout(p string) {
	g.parents(p)
	dir, base := splitRel(p)
	g.emit(genEntry{hdr: tar.Header{Name: path.Join(dir, whiteoutPrefix+base), Typeflag: tar.TypeReg, Mode: 0o600, Format: tar.FormatPAX}})
	g.dead[p] = true
	g.gone = append(g.gone, p)
}

func (g *gen) op() {
	switch g.pick(16) {
	case 0, 1, 2: // a new file
		g.newFile(g.fresh())
	case 3: // a new directory, sometimes deep, with a file in it
		p := g.fresh()
		for i := g.pick(3) * g.pick(15); i >= 0; i-- {
			g.newDir(p)
			p = path.Join(p, "d"+strconv.Itoa(i))
		}
		g.newFile(p)
	case 4:
		g.newSymlink(g.fresh())
	case 5: // hard links to files of this layer
		if len(g.files) > 0 {
			target := g.files[g.pick(len(g.files))]
			if g.touched[target] && !g.deadOrBelow(target) {
				p := g.fresh()
				g.parents(p)
				h := tar.Header{Name: p, Typeflag: tar.TypeLink, Linkname: target, Mode: 0o644, Format: tar.FormatPAX}
				g.emit(genEntry{hdr: h})
			}
		}
	case 6: // a file (or symlink, node) replaced by a directory
		c := g.lower(func(p string, n *refNode) bool { return n.typ != tar.TypeDir })
		if len(c) > 0 {
			p := c[g.pick(len(c))]
			if g.pick(2) == 0 {
				g.whiteout(p)
			} else {
				g.dead[p] = true
			}
			g.newDir(p)
			g.newFile(path.Join(p, g.name()))
		}
	case 7: // a directory replaced by a file or symlink
		c := g.lower(func(p string, n *refNode) bool { return n.typ == tar.TypeDir && g.untouchedBelow(p) })
		if len(c) > 0 {
			p := c[g.pick(len(c))]
			if g.pick(2) == 0 {
				g.whiteout(p)
			} else {
				g.dead[p] = true
			}
			if g.pick(3) == 0 {
				g.newSymlink(p)
			} else {
				g.newFile(p)
			}
		}
	case 8, 9: // a whiteout, of anything
		c := g.lower(func(p string, n *refNode) bool { return g.untouchedBelow(p) })
		if len(c) > 0 {
			g.whiteout(c[g.pick(len(c))])
		}
	case 10: // an opaque directory over a lower one with content
		c := g.lower(func(p string, n *refNode) bool {
			if n.typ != tar.TypeDir || !g.untouchedBelow(p) {
				return false
			}
			for q := range g.tree {
				if under(q, p) {
					return true
				}
			}
			return false
		})
		if len(c) > 0 {
			p := c[g.pick(len(c))]
			g.newDir(p)
			for q := range g.tree {
				if under(q, p) {
					g.dead[q] = true
				}
			}
			// The marker before the new children, as the image-spec asks writers, or after.
			late := g.pick(2) == 0 && g.late
			if !late {
				g.emit(genEntry{hdr: tar.Header{Name: p + "/" + whiteoutOpaque, Typeflag: tar.TypeReg, Mode: 0o600, Format: tar.FormatPAX}})
			}
			for i := g.pick(3); i > 0; i-- {
				g.newFile(path.Join(p, g.name()))
			}
			if late {
				g.emit(genEntry{hdr: tar.Header{Name: p + "/" + whiteoutOpaque, Typeflag: tar.TypeReg, Mode: 0o600, Format: tar.FormatPAX}})
			}
		}
	case 11: // whiteout and re-add in the same layer, the whiteout first or last
		c := g.lower(func(p string, n *refNode) bool { return g.untouchedBelow(p) })
		if len(c) > 0 {
			p := c[g.pick(len(c))]
			late := g.pick(2) == 0 && g.late
			if !late {
				g.whiteout(p)
			}
			g.dead[p] = true
			if g.pick(2) == 0 {
				g.newDir(p)
				g.newFile(path.Join(p, g.name()))
			} else {
				g.newFile(p)
			}
			if late {
				g.whiteout(p)
			}
		}
	case 12: // re-add, in a later layer, a name deleted before
		var c []string
		for _, p := range g.gone {
			dir, _ := splitRel(p)
			if g.tree[p] == nil && !g.touched[p] && (dir == "" || g.alive(dir) && g.tree[dir].typ == tar.TypeDir) {
				c = append(c, p)
			}
		}
		if len(c) > 0 {
			p := c[g.pick(len(c))]
			if g.pick(2) == 0 {
				g.newDir(p)
			} else {
				g.newFile(p)
			}
		}
	case 13: // new metadata (and for a file, content) on a lower file or directory
		c := g.lower(func(p string, n *refNode) bool {
			return (n.typ == tar.TypeDir || n.typ == tar.TypeReg) && !g.dirs[p]
		})
		if len(c) > 0 {
			p := c[g.pick(len(c))]
			if g.tree[p].typ == tar.TypeDir {
				g.newDir(p)
			} else {
				g.dead[p] = true
				g.newFile(p)
			}
		}
	case 14:
		g.newNode(g.fresh())
	case 15: // replace a lower file that has hard links (or any file) by a new one
		c := g.lower(func(p string, n *refNode) bool { return n.typ == tar.TypeReg })
		var linked []string
		for _, p := range c {
			for q, m := range g.tree {
				if q != p && m == g.tree[p] {
					linked = append(linked, p)
					break
				}
			}
		}
		if len(linked) > 0 {
			c = linked
		}
		if len(c) > 0 {
			p := c[g.pick(len(c))]
			g.dead[p] = true
			if g.pick(2) == 0 {
				g.whiteout(p)
			} else {
				g.newFile(p)
			}
		}
	}
}

func (g *gen) deadOrBelow(p string) bool {
	for q := p; q != ""; q, _ = splitRel(q) {
		if g.dead[q] && q != p {
			return true
		}
	}
	return false
}

// genImage makes an image of 2 to 6 layers from seed, and the tree the image-spec says it is.
func genImage(seed uint64, o genOpts) ([][]genEntry, refTree) {
	g := &gen{r: rand.New(rand.NewPCG(seed, 0x5eed)), tree: refTree{}, genOpts: o}
	var image [][]genEntry
	for i := 2 + g.pick(5); i > 0; i-- {
		g.layer, g.touched, g.dead, g.dirs, g.files = nil, map[string]bool{}, map[string]bool{}, map[string]bool{}, nil
		ops := 4 + g.pick(12)
		if len(image) == 0 {
			ops += 10
		}
		for range ops {
			g.op()
		}
		refApply(g.tree, g.layer)
		image = append(image, g.layer)
	}
	return image, g.tree
}

// tarLayer writes a generated layer as a gzipped tar.
func tarLayer(t *testing.T, entries []genEntry) layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("%q: %v", h.Name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return layerOf(t, buf.Bytes())
}

// seen is what a container sees of one path.
type seen struct {
	typ      string
	perm     uint32
	uid, gid int
	size     int64
	sum      string
	link     string
	rdev     string
	mtime    string
	xattrs   string
	hardlink string // the first path of its hard link group, "" alone
}

func (s seen) String() string {
	return fmt.Sprintf("{%s %04o %d:%d size=%d sum=%.12s link=%q rdev=%s mtime=%s xattrs=%s hardlink=%q}",
		s.typ, s.perm, s.uid, s.gid, s.size, s.sum, s.link, s.rdev, s.mtime, s.xattrs, s.hardlink)
}

func typeOf(t byte) string {
	switch t {
	case tar.TypeReg:
		return "file"
	case tar.TypeDir:
		return "dir"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeChar:
		return "char"
	case tar.TypeBlock:
		return "block"
	case tar.TypeFifo:
		return "fifo"
	}
	return "type " + string(t)
}

func fmtXattrs(x map[string]string) string {
	var xs []string
	for k, v := range x {
		xs = append(xs, k+"="+hex.EncodeToString([]byte(v)))
	}
	sort.Strings(xs)
	return strings.Join(xs, ",")
}

func fmtTime(t time.Time) string {
	return strconv.FormatInt(t.Unix(), 10) + "." + fmt.Sprintf("%09d", t.Nanosecond())
}

// refSeen is the reference tree as a container must see it.
func refSeen(tree refTree) map[string]seen {
	out := map[string]seen{}
	first, count := map[*refNode]string{}, map[*refNode]int{}
	for p, n := range tree {
		if n.typ == tar.TypeReg {
			count[n]++
			if f, ok := first[n]; !ok || p < f {
				first[n] = p
			}
		}
	}
	for p, n := range tree {
		s := seen{typ: typeOf(n.typ), perm: uint32(n.mode), uid: n.uid, gid: n.gid, link: n.link,
			mtime: fmtTime(n.mtime), xattrs: fmtXattrs(n.xattrs)}
		switch n.typ {
		case tar.TypeReg:
			sum := sha256.Sum256(n.body)
			s.size, s.sum = int64(len(n.body)), hex.EncodeToString(sum[:])
			if count[n] > 1 {
				s.hardlink = first[n]
			}
		case tar.TypeSymlink:
			s.size = int64(len(n.link))
			// The kernel takes user.* xattrs only on files and directories.
			x := map[string]string{}
			for k, v := range n.xattrs {
				if !strings.HasPrefix(k, "user.") {
					x[k] = v
				}
			}
			s.xattrs = fmtXattrs(x)
		case tar.TypeChar, tar.TypeBlock:
			s.rdev = fmt.Sprintf("%d:%d", n.major, n.minor)
		}
		out[p] = s
	}
	return out
}

// walkSeen reads the tree under root as a container sees it.
func walkSeen(t *testing.T, root string) map[string]seen {
	t.Helper()
	out := map[string]seen{}
	groups := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		if rel == "" {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		s := seen{perm: st.Mode & 0o7777, uid: int(st.Uid), gid: int(st.Gid), mtime: fmt.Sprintf("%d.%09d", st.Mtim.Sec, st.Mtim.Nsec)}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			s.typ = "dir"
		case unix.S_IFLNK:
			s.typ, s.size, s.perm = "symlink", st.Size, 0o777
			if s.link, err = os.Readlink(p); err != nil {
				return err
			}
		case unix.S_IFREG:
			s.typ, s.size = "file", st.Size
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			s.sum = hex.EncodeToString(sum[:])
			if st.Nlink > 1 {
				k := fmt.Sprint(st.Dev, ":", st.Ino)
				groups[k] = append(groups[k], rel)
			}
		case unix.S_IFCHR, unix.S_IFBLK:
			s.typ = "char"
			if st.Mode&unix.S_IFMT == unix.S_IFBLK {
				s.typ = "block"
			}
			s.rdev = fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		case unix.S_IFIFO:
			s.typ = "fifo"
		default:
			s.typ = fmt.Sprintf("mode %o", st.Mode&unix.S_IFMT)
		}
		names, err := listXattrs(p)
		if err != nil {
			return err
		}
		x := map[string]string{}
		for _, n := range names {
			v, err := getXattr(p, n)
			if err != nil {
				return err
			}
			x[n] = string(v)
		}
		s.xattrs = fmtXattrs(x)
		out[rel] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if len(g) < 2 {
			continue
		}
		sort.Strings(g)
		for _, p := range g {
			s := out[p]
			s.hardlink = g[0]
			out[p] = s
		}
	}
	return out
}

// diffSeen lists the differences of got from want, sorted.
func diffSeen(got, want map[string]seen) []string {
	var out []string
	for p, w := range want {
		if g, ok := got[p]; !ok {
			out = append(out, fmt.Sprintf("%q missing, want %v", p, w))
		} else if g != w {
			out = append(out, fmt.Sprintf("%q = %v, want %v", p, g, w))
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			out = append(out, fmt.Sprintf("%q unexpected: %v", p, g))
		}
	}
	sort.Strings(out)
	return out
}

// diffSeeds is the seeds a run covers: a few for `make test`, more with STRATA_DIFF_SEEDS.
func diffSeeds(t *testing.T) []uint64 {
	if s := os.Getenv("STRATA_DIFF_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("STRATA_DIFF_SEED=%q: %v", s, err)
		}
		return []uint64{n}
	}
	n := 6
	if s := os.Getenv("STRATA_DIFF_SEEDS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatalf("STRATA_DIFF_SEEDS=%q: %v", s, err)
		}
	} else if testing.Short() {
		n = 2
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	return seeds
}

func dumpImage(t *testing.T, image [][]genEntry) {
	t.Helper()
	for i, l := range image {
		t.Logf("layer %d:", i)
		for _, e := range l {
			t.Logf("  %c %q %04o %d:%d link=%q size=%d", e.hdr.Typeflag, e.hdr.Name, e.hdr.Mode, e.hdr.Uid, e.hdr.Gid, e.hdr.Linkname, len(e.body))
		}
	}
}

// checkImage unpacks image with s, prepares a container of it in base/containers/<name>, and
// returns the differences of what it sees from what refApply says.
func checkImage(t *testing.T, s *Snapshotter, base, name string, image [][]genEntry) []string {
	t.Helper()
	return checkImageRO(t, s, base, name, image, false)
}

// checkImageRO is checkImage for a read-only container (readOnly) or a writable one. A
// read-only one also shows the runtime mount points the image lacks (runtimeMountpoints),
// which are left out: the generator never makes those names.
func checkImageRO(t *testing.T, s *Snapshotter, base, name string, image [][]genEntry, readOnly bool) []string {
	t.Helper()
	var ids []v1.Hash
	tree := refTree{}
	for _, l := range image {
		tl := tarLayer(t, l)
		unpack(t, s, tl)
		ids = append(ids, tl.diffID)
		refApply(tree, l)
	}
	cdir := filepath.Join(base, "containers", name)
	mounts, err := s.Prepare(t.Context(), cdir, ids, readOnly)
	if err != nil {
		t.Fatalf("%s: Prepare = %v", name, err)
	}
	rootfs := filepath.Join(cdir, "rootfs")
	mountAll(t, mounts, rootfs)
	got := walkSeen(t, rootfs)
	if readOnly {
		for _, p := range runtimeMountpoints {
			delete(got, strings.TrimSuffix(p, "/"))
		}
	}
	diffs := diffSeen(got, refSeen(tree))
	// At once, not at the end of the test: a sweep of hundreds of seeds would stack as many
	// mounts.
	if err := s.Remove(t.Context(), cdir); err != nil {
		t.Fatalf("%s: Remove = %v", name, err)
	}
	return diffs
}

// TestDifferentialLayers compares, for generated images, what a container sees through each
// driver with what the image-spec's rules give (refApply).
func TestDifferentialLayers(t *testing.T) {
	seeds := diffSeeds(t)
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			s, base := newTestSnapshotter(t, d)
			for _, seed := range seeds {
				image, _ := genImage(seed, genOpts{late: true})
				// Every other seed read-only: over the image a layer of mount points.
				diffs := checkImageRO(t, s, base, strconv.FormatUint(seed, 10), image, seed%2 == 0)
				for _, m := range diffs {
					t.Errorf("seed %d: %s", seed, m)
				}
				if len(diffs) > 0 {
					dumpImage(t, image)
				}
			}
		})
	}
}

// dirEnt, fileEnt and whEnt are entries of the hand-written images below.
func dirEnt(name string, mode int64, x map[string]string) genEntry {
	h := tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: mode, ModTime: time.Unix(1e9, 0), Format: tar.FormatPAX}
	for k, v := range x {
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		h.PAXRecords["SCHILY.xattr."+k] = v
	}
	return genEntry{hdr: h}
}

func fileEnt(name, body string, mode int64) genEntry {
	return genEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(body)), ModTime: time.Unix(1e9, 0), Format: tar.FormatPAX}, body: []byte(body)}
}

func whEnt(name string) genEntry {
	return genEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600, Format: tar.FormatPAX}}
}

// TestDifferentialKeptWhiteouts runs the generated images through the vfs driver's other
// form, for a store where overlay's markers cannot be made (a root on overlayfs): layer dirs
// keep the ".wh." files (layers.WhiteoutKeep) and the copy applies them (applyCopy). Names
// stay 4 bytes short of NAME_MAX: a whiteout of a longer name makes no file name, and this
// form cannot keep it (Apply fails with ENAMETOOLONG).
func TestDifferentialKeptWhiteouts(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	for _, seed := range diffSeeds(t) {
		image, tree := genImage(seed, genOpts{late: true, short: true})
		dir := t.TempDir()
		rootfs := filepath.Join(dir, "rootfs")
		if err := os.Mkdir(rootfs, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, l := range image {
			tl := tarLayer(t, l)
			ld := filepath.Join(dir, strconv.Itoa(i))
			if err := os.Mkdir(ld, 0o755); err != nil {
				t.Fatal(err)
			}
			if _, err := layers.Apply(t.Context(), ld, bytes.NewReader(tl.gz), layers.Options{Whiteouts: layers.WhiteoutKeep}); err != nil {
				t.Fatalf("seed %d: Apply(layer %d) = %v", seed, i, err)
			}
			if err := applyCopy(t.Context(), ld, rootfs, -1); err != nil {
				t.Fatalf("seed %d: applyCopy(layer %d) = %v", seed, i, err)
			}
		}
		for _, m := range diffSeen(walkSeen(t, rootfs), refSeen(tree)) {
			t.Errorf("seed %d: %s", seed, m)
		}
	}
}

// TestDifferentialCases are images the generator found strata wrong on, kept as they are.
func TestDifferentialCases(t *testing.T) {
	cases := []struct {
		name  string
		image [][]genEntry
	}{
		// vfs merged an upper layer's directory into the lower's copy keeping the lower's
		// xattrs, where overlay shows the upper's alone.
		{"dir-xattrs-replaced", [][]genEntry{
			{dirEnt("d", 0o755, map[string]string{"user.k": "lower", "trusted.t": "t"}), fileEnt("d/f", "f", 0o644)},
			{dirEnt("d", 0o700, map[string]string{"user.other": "upper"}), fileEnt("d/g", "g", 0o644)},
		}},
		// A default ACL of a lower layer's directory: the vfs copy made the upper layer's
		// files in it inheriting ACLs the layer does not give them.
		{"lower-default-acl", [][]genEntry{
			{dirEnt("d", 0o750, map[string]string{"system.posix_acl_default": defaultACL})},
			{dirEnt("d", 0o750, map[string]string{"system.posix_acl_default": defaultACL}), fileEnt("d/f", "f", 0o640), dirEnt("d/sub", 0o750, nil)},
		}},
		// A default ACL in the same layer: Apply set it before the directory's children,
		// which inherited it.
		{"same-layer-default-acl", [][]genEntry{
			{dirEnt("d", 0o750, map[string]string{"system.posix_acl_default": defaultACL}), fileEnt("d/f", "f", 0o640),
				dirEnt("d/sub", 0o750, nil), fileEnt("d/sub/g", "g", 0o600)},
		}},
		{"late-whiteouts", [][]genEntry{
			{dirEnt("d", 0o755, nil), fileEnt("d/old", "old", 0o644), fileEnt("x", "lower", 0o644), dirEnt("o", 0o755, nil), fileEnt("o/old", "old", 0o644)},
			{dirEnt("d", 0o755, nil), fileEnt("d/new", "new", 0o644), whEnt(".wh.d"), fileEnt("x", "upper", 0o644), whEnt(".wh.x"),
				dirEnt("o", 0o755, nil), fileEnt("o/new", "new", 0o644), whEnt("o/.wh..wh..opq")},
		}},
		// Not found wrong, kept as checks of what the generator does not make.
		{"root-opaque", [][]genEntry{
			{dirEnt("d", 0o755, nil), fileEnt("d/f", "f", 0o644), fileEnt("x", "x", 0o644)},
			{whEnt(".wh..wh..opq"), fileEnt("y", "y", 0o644)},
		}},
		{"hardlinks-to-non-files", [][]genEntry{
			{{hdr: tar.Header{Name: "s", Typeflag: tar.TypeSymlink, Linkname: "../t", Mode: 0o777, ModTime: time.Unix(1e9, 0), Format: tar.FormatPAX}},
				{hdr: tar.Header{Name: "hs", Typeflag: tar.TypeLink, Linkname: "s", Format: tar.FormatPAX}},
				{hdr: tar.Header{Name: "p", Typeflag: tar.TypeFifo, Mode: 0o640, Uid: 7, ModTime: time.Unix(1e9, 0), Format: tar.FormatPAX}},
				{hdr: tar.Header{Name: "hp", Typeflag: tar.TypeLink, Linkname: "p", Format: tar.FormatPAX}},
				{hdr: tar.Header{Name: "c", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666, ModTime: time.Unix(1e9, 0), Format: tar.FormatPAX}},
				{hdr: tar.Header{Name: "hc", Typeflag: tar.TypeLink, Linkname: "c", Format: tar.FormatPAX}}},
			{whEnt(".wh.s"), whEnt(".wh.c")},
		}},
		// A layer that replaced a directory by a file or a symlink and then made it a
		// directory again showed through the new one what the replacement deleted below.
		{"nondir-then-dir", nonDirThenDir},
		// Whiteouts a layer puts below a directory that is opaque in it (made so by the
		// opaque marker, or by Apply for the layer's own directory it whites out): overlayfs
		// listed them in the container as names that cannot be looked up.
		{"whiteouts-below-opaque", [][]genEntry{
			{dirEnt("d", 0o755, nil), fileEnt("d/y", "y", 0o644), dirEnt("f", 0o755, nil), fileEnt("f/z", "z", 0o644),
				dirEnt("h", 0o755, nil), dirEnt("h/i", 0o755, nil), fileEnt("h/i/j", "j", 0o644)},
			{dirEnt("d", 0o755, nil), whEnt("d/.wh.y"), whEnt(".wh.d"), dirEnt("f", 0o755, nil), whEnt("f/.wh.z"), whEnt("f/.wh..wh..opq"),
				whEnt(".wh.h"), dirEnt("h", 0o755, nil), dirEnt("h/i", 0o755, nil), whEnt("h/i/.wh.j")},
		}},
		{"repeated-names", [][]genEntry{
			{fileEnt("f", "one", 0o644), fileEnt("f", "two", 0o600), dirEnt("d", 0o700, map[string]string{"user.a": "1"}),
				fileEnt("d/x", "x", 0o644), dirEnt("d", 0o751, map[string]string{"user.b": "2"}),
				fileEnt("a", "old", 0o644), {hdr: tar.Header{Name: "b", Typeflag: tar.TypeLink, Linkname: "a", Format: tar.FormatPAX}},
				fileEnt("a", "new", 0o644), dirEnt("e", 0o755, nil), fileEnt("e", "file now", 0o644), fileEnt("g", "g", 0o644), dirEnt("g", 0o755, nil)},
		}},
	}
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			s, base := newTestSnapshotter(t, d)
			for _, c := range cases {
				for _, m := range checkImage(t, s, base, c.name, c.image) {
					t.Errorf("%s: %s", c.name, m)
				}
			}
		})
	}
}

// nonDirThenDir is an image whose upper layer replaces two lower directories, one by a file
// and one by a symlink, and then makes each a directory again: nothing of the lower ones shows.
var nonDirThenDir = [][]genEntry{
	{dirEnt("d", 0o755, nil), fileEnt("d/old", "old", 0o644), dirEnt("e", 0o755, nil), fileEnt("e/old", "old", 0o644)},
	{fileEnt("d", "file", 0o644), dirEnt("d", 0o755, nil), fileEnt("d/new", "new", 0o644),
		{hdr: tar.Header{Name: "e", Typeflag: tar.TypeSymlink, Linkname: "d", Mode: 0o777, ModTime: time.Unix(1e9, 0), Format: tar.FormatPAX}},
		dirEnt("e", 0o755, nil)},
}

// TestKeptWhiteoutsNonDirThenDir runs nonDirThenDir through the kept-whiteouts form (layer
// dirs with .wh. files, applied by the vfs copy), which TestDifferentialCases does not reach:
// the directory made over the layer's own file holds an opaque marker file.
func TestKeptWhiteoutsNonDirThenDir(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	tree := refTree{}
	for i, l := range nonDirThenDir {
		tl := tarLayer(t, l)
		ld := filepath.Join(dir, strconv.Itoa(i))
		if err := os.Mkdir(ld, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := layers.Apply(t.Context(), ld, bytes.NewReader(tl.gz), layers.Options{Whiteouts: layers.WhiteoutKeep}); err != nil {
			t.Fatalf("Apply(layer %d) = %v", i, err)
		}
		if err := applyCopy(t.Context(), ld, rootfs, -1); err != nil {
			t.Fatalf("applyCopy(layer %d) = %v", i, err)
		}
		refApply(tree, l)
	}
	for _, m := range diffSeen(walkSeen(t, rootfs), refSeen(tree)) {
		t.Error(m)
	}
}

// writeLayout writes image as an OCI image layout in dir, tagged "t", for a peer to unpack.
func writeLayout(t *testing.T, dir string, image [][]genEntry) {
	t.Helper()
	blob := func(b []byte) (string, int) {
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", h), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return "sha256:" + h, len(b)
	}
	var diffIDs, descs []string
	for _, l := range image {
		tl := tarLayer(t, l)
		d, n := blob(tl.gz)
		diffIDs = append(diffIDs, strconv.Quote(tl.diffID.String()))
		descs = append(descs, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}`, d, n))
	}
	cd, cn := blob([]byte(`{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[` + strings.Join(diffIDs, ",") + `]}}`))
	md, mn := blob([]byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[%s]}`,
		cd, cn, strings.Join(descs, ","))))
	index := fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d,"annotations":{"org.opencontainers.image.ref.name":"t"}}]}`, md, mn)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDifferentialUmoci checks the reference itself against a peer: `umoci unpack` of the
// generated images (run when umoci is installed, as root, which it needs to keep owners and
// make device nodes). umoci drops xattrs whose value is empty, which strata sets as docker
// does (a PAX record with an empty value reads as deleting the record in POSIX's terms; the
// image-spec says nothing): those are left out of the comparison. Its images put whiteouts
// before the entries at their names: umoci gives a directory whose whiteout or opaque marker
// comes after its entry the time of the unpack as mtime, not the tar's.
func TestDifferentialUmoci(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	umoci, err := exec.LookPath("umoci")
	if err != nil {
		t.Skip("umoci not installed")
	}
	for _, seed := range diffSeeds(t) {
		image, tree := genImage(seed, genOpts{})
		dir := t.TempDir()
		writeLayout(t, filepath.Join(dir, "oci"), image)
		bundle := filepath.Join(dir, "bundle")
		if out, err := exec.Command(umoci, "unpack", "--image", filepath.Join(dir, "oci")+":t", bundle).CombinedOutput(); err != nil {
			t.Fatalf("seed %d: umoci unpack: %v\n%s", seed, err, out)
		}
		for _, m := range diffSeen(withoutEmptyXattrs(walkSeen(t, filepath.Join(bundle, "rootfs"))), withoutEmptyXattrs(refSeen(tree))) {
			t.Errorf("seed %d: umoci: %s", seed, m)
		}
	}
}

// withoutEmptyXattrs drops the xattrs with empty values from tree.
func withoutEmptyXattrs(tree map[string]seen) map[string]seen {
	for p, s := range tree {
		var kept []string
		for _, x := range strings.Split(s.xattrs, ",") {
			if x != "" && !strings.HasSuffix(x, "=") {
				kept = append(kept, x)
			}
		}
		s.xattrs = strings.Join(kept, ",")
		tree[p] = s
	}
	return tree
}

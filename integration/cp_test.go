package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/strata-run/strata/internal/testimages"
	"golang.org/x/sys/unix"
)

const cpImage = "busybox:1.38.0-musl"

// tarOf builds a tar of entries: a name ending in "/" is a directory, "name->target" a
// symlink, "name=c:MAJ" a character device; anything else a file with its value as content.
func tarOf(t *testing.T, entries ...[2]string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		name, v := e[0], e[1]
		h := &tar.Header{Name: name, Mode: 0o644, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		switch {
		case strings.HasSuffix(name, "/"):
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		case strings.HasPrefix(v, "->"):
			h.Typeflag, h.Linkname = tar.TypeSymlink, v[2:]
		case v == "chr":
			h.Typeflag, h.Devmajor, h.Devminor, h.Mode = tar.TypeChar, 1, 3, 0o666
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(v))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(v))
		}
	}
	tw.Close()
	return b.Bytes()
}

// tarEntries reads a tar: name to content ("dir" for a directory, "->target" for a symlink)
// and the headers by name.
func tarEntries(t *testing.T, data string) (map[string]string, map[string]*tar.Header) {
	t.Helper()
	out, hdrs := map[string]string{}, map[string]*tar.Header{}
	tr := tar.NewReader(strings.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, hdrs
		}
		if err != nil {
			t.Fatalf("reading the tar of cp: %v", err)
		}
		hdrs[h.Name] = h
		switch h.Typeflag {
		case tar.TypeDir:
			out[h.Name] = "dir"
		case tar.TypeSymlink:
			out[h.Name] = "->" + h.Linkname
		default:
			b, _ := io.ReadAll(tr)
			out[h.Name] = string(b)
		}
	}
}

// ctrRead is what the container holds at p: `cp c:p -`'s entries.
func ctrRead(t *testing.T, root, c, p string) map[string]string {
	t.Helper()
	r := mustStrata(t, root, "cp", c+":"+p, "-")
	m, _ := tarEntries(t, r.Stdout)
	return m
}

func writeFiles(t *testing.T, files map[string]string) {
	t.Helper()
	for p, v := range files {
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Errorf("%v", err)
	}
	return string(b)
}

// cpContainers makes a running, a created and an exited container of busybox; the created
// and exited ones print /tmp/hf and /tmp/hd/sub/b when started.
func cpContainers(t *testing.T, root string) []string {
	t.Helper()
	show := "cat /tmp/hf /tmp/hd/sub/b 2>/dev/null; true"
	mustStrata(t, root, "run", "-d", "--name", "cp-run", cpImage, "sleep", "600")
	mustStrata(t, root, "create", "--name", "cp-created", cpImage, "sh", "-c", show)
	mustStrata(t, root, "run", "--name", "cp-exited", cpImage, "sh", "-c", show)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "cp-run", "cp-created", "cp-exited") })
	return []string{"cp-run", "cp-created", "cp-exited"}
}

// TestCpBothWays copies a file and a directory into and out of a running, a created and an
// exited container; what went into a stopped one is what it sees once started.
func TestCpBothWays(t *testing.T) {
	root := busyboxRoot(t)
	host := t.TempDir()
	writeFiles(t, map[string]string{host + "/hf": "file\n", host + "/hd/a": "A", host + "/hd/sub/b": "B\n"})
	for _, c := range cpContainers(t, root) {
		t.Run(c, func(t *testing.T) {
			out := t.TempDir()
			mustStrata(t, root, "cp", host+"/hf", c+":/tmp/hf")
			mustStrata(t, root, "cp", host+"/hd", c+":/tmp/")
			mustStrata(t, root, "cp", c+":/tmp/hf", out+"/hf")
			mustStrata(t, root, "cp", c+":/tmp/hd", out+"/hd")
			mustStrata(t, root, "cp", c+":/etc/passwd", out)
			if got := readFile(t, out+"/hf") + readFile(t, out+"/hd/a") + readFile(t, out+"/hd/sub/b"); got != "file\nAB\n" {
				t.Errorf("copied back = %q", got)
			}
			if !strings.HasPrefix(readFile(t, out+"/passwd"), "root:x:0:0:") {
				t.Errorf("the image's /etc/passwd did not come out")
			}
			if c == "cp-run" {
				if got := mustStrata(t, root, "exec", c, "cat", "/tmp/hf", "/tmp/hd/sub/b").Stdout; got != "file\nB\n" {
					t.Errorf("the running container sees %q", got)
				}
				return
			}
			if got := mustStrata(t, root, "start", "-a", c).Stdout; got != "file\nB\n" {
				t.Errorf("started, the container sees %q", got)
			}
		})
	}
}

// TestCpRemovedOnExit: a created --rm container, whose overlay is volatile, takes a copy and
// still starts (the copy's mount leaves no mark its start refuses), then goes.
func TestCpRemovedOnExit(t *testing.T) {
	root := busyboxRoot(t)
	host := t.TempDir()
	writeFiles(t, map[string]string{host + "/f": "rm\n"})
	mustStrata(t, root, "create", "--rm", "--name", "cp-rm", cpImage, "cat", "/f")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "cp-rm") })
	mustStrata(t, root, "cp", host+"/f", "cp-rm:/f")
	mustStrata(t, root, "cp", "cp-rm:/f", host+"/back")
	if got := mustStrata(t, root, "start", "-a", "cp-rm").Stdout; got != "rm\n" {
		t.Errorf("started, the --rm container printed %q", got)
	}
}

// TestCpPathRules plays the SRC_PATH/DEST_PATH table of docker cp's documentation, both ways,
// with a running and a stopped container.
func TestCpPathRules(t *testing.T) {
	root := busyboxRoot(t)
	mustStrata(t, root, "run", "-d", "--name", "pr-run", cpImage, "sleep", "600")
	mustStrata(t, root, "create", "--name", "pr-stopped", cpImage, "true")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "pr-run", "pr-stopped") })
	setup := tarOf(t, [2]string{"t/", ""}, [2]string{"t/file", "old"}, [2]string{"t/d1/", ""},
		[2]string{"t/d2/", ""}, [2]string{"t/d3/", ""}, [2]string{"t/d4/", ""}, [2]string{"t/d4/hd", "a file"},
		[2]string{"t/src/", ""}, [2]string{"t/src/a", "A"}, [2]string{"t/srcfile", "S"})
	host := t.TempDir()
	writeFiles(t, map[string]string{host + "/hf": "H", host + "/hd/a": "A"})

	for _, c := range []string{"pr-run", "pr-stopped"} {
		t.Run(c+"/to", func(t *testing.T) {
			if r := strataStdin(t, root, bytes.NewReader(setup), nil, "cp", "-", c+":/"); r.Code != 0 {
				t.Fatalf("cp - %s:/: %d %s", c, r.Code, r.Stderr)
			}
			for _, tc := range []struct {
				src, dst, want string // want: an error, or the path to read and its entries
				check          map[string]string
			}{
				{src: "hf", dst: "/t/new", check: map[string]string{"new": "H"}},
				{src: "hf", dst: "/t/missing/", want: "no such directory"},
				{src: "hf", dst: "/t/file", check: map[string]string{"file": "H"}},
				{src: "hf", dst: "/t/d1", check: map[string]string{"d1/": "dir", "d1/hf": "H"}},
				{src: "hd", dst: "/t/newdir", check: map[string]string{"newdir/": "dir", "newdir/a": "A"}},
				{src: "hd", dst: "/t/file", want: "cannot copy directory"},
				{src: "hd", dst: "/t/d2", check: map[string]string{"d2/": "dir", "d2/hd/": "dir", "d2/hd/a": "A"}},
				{src: "hd/.", dst: "/t/d3", check: map[string]string{"d3/": "dir", "d3/a": "A"}},
				{src: "hd", dst: "/t/d4", want: `cannot overwrite non-directory "/hd" with directory`},
				{src: "hf", dst: "/nonexistent/x", want: "Could not find the file /nonexistent in container " + c},
				{src: "missing", dst: "/t/", want: "no such file or directory"},
			} {
				r := strata(t, root, "cp", host+"/"+tc.src, c+":"+tc.dst)
				if tc.want != "" {
					if r.Code != 1 || !strings.Contains(r.Stderr, tc.want) || strings.Count(r.Stderr, "\n") != 1 {
						t.Errorf("cp %s %s: exit %d %q, want 1 and %q", tc.src, tc.dst, r.Code, r.Stderr, tc.want)
					}
					continue
				}
				if r.Code != 0 {
					t.Errorf("cp %s %s: exit %d %s", tc.src, tc.dst, r.Code, r.Stderr)
					continue
				}
				got := ctrRead(t, root, c, tc.dst)
				for k, v := range tc.check {
					if got[k] != v {
						t.Errorf("cp %s %s: %s is %q, want %q (all: %v)", tc.src, tc.dst, k, got[k], v, got)
					}
				}
			}
		})
		t.Run(c+"/from", func(t *testing.T) {
			out := t.TempDir()
			writeFiles(t, map[string]string{out + "/file": "old", out + "/d1/": "", out + "/d2/": "", out + "/d3/": "", out + "/d4/src": "a file"})
			for _, tc := range []struct {
				src, dst, want string
				check          map[string]string
			}{
				{src: "/t/srcfile", dst: "new", check: map[string]string{"new": "S"}},
				{src: "/t/srcfile", dst: "missing/", want: "no such directory"},
				{src: "/t/srcfile", dst: "file", check: map[string]string{"file": "S"}},
				{src: "/t/srcfile", dst: "d1", check: map[string]string{"d1/srcfile": "S"}},
				{src: "/t/src", dst: "newdir", check: map[string]string{"newdir/a": "A"}},
				{src: "/t/src", dst: "file", want: "cannot copy directory"},
				{src: "/t/src", dst: "d2", check: map[string]string{"d2/src/a": "A"}},
				{src: "/t/src/.", dst: "d3", check: map[string]string{"d3/a": "A"}},
				{src: "/t/src", dst: "d4", want: `cannot overwrite non-directory "/src" with directory`},
				{src: "/t/nope", dst: "x", want: "Could not find the file /t/nope in container " + c},
				{src: "/t/srcfile/.", dst: "x", want: "not a directory"},
				{src: "/t/srcfile", dst: "nodir/x", want: "invalid output path: directory"},
			} {
				r := strata(t, root, "cp", c+":"+tc.src, filepath.Join(out, tc.dst)+map[bool]string{true: "/"}[strings.HasSuffix(tc.dst, "/")])
				if tc.want != "" {
					if r.Code != 1 || !strings.Contains(r.Stderr, tc.want) || strings.Count(r.Stderr, "\n") != 1 {
						t.Errorf("cp %s %s: exit %d %q, want 1 and %q", tc.src, tc.dst, r.Code, r.Stderr, tc.want)
					}
					continue
				}
				if r.Code != 0 {
					t.Errorf("cp %s %s: exit %d %s", tc.src, tc.dst, r.Code, r.Stderr)
					continue
				}
				for k, v := range tc.check {
					if got := readFile(t, filepath.Join(out, k)); got != v {
						t.Errorf("cp %s %s: %s is %q, want %q", tc.src, tc.dst, k, got, v)
					}
				}
			}
		})
	}
}

// TestCpHostileSymlinks: a container's symlinks to a host path, absolute or climbing with
// "../", lead inside the container, both ways, for a running and a stopped container; a tar
// streamed in cannot climb out, nor write through a symlink it plants; a device node a
// container holds is not made on the host.
func TestCpHostileSymlinks(t *testing.T) {
	root := busyboxRoot(t)
	secret := t.TempDir() // on the host; the containers have a dir of the same path
	writeFiles(t, map[string]string{secret + "/secret": "host"})
	mustStrata(t, root, "run", "-d", "--name", "hs-run", cpImage, "sleep", "600")
	mustStrata(t, root, "create", "--name", "hs-stopped", cpImage, "true")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "hs-run", "hs-stopped") })
	up := strings.Repeat("../", 12)
	plant := tarOf(t, [2]string{"esc", "->" + secret}, [2]string{"up", "->" + up},
		[2]string{"rel", "->" + up + strings.TrimPrefix(secret, "/")}, [2]string{"etclink", "->/etc"},
		[2]string{"node", "chr"})
	host := t.TempDir()
	writeFiles(t, map[string]string{host + "/f": "from host"})

	for _, c := range []string{"hs-run", "hs-stopped"} {
		t.Run(c, func(t *testing.T) {
			if r := strataStdin(t, root, bytes.NewReader(plant), nil, "cp", "-", c+":/"); r.Code != 0 {
				t.Fatalf("planting: %d %s", r.Code, r.Stderr)
			}
			out := t.TempDir()
			// Out: never the host's file.
			for _, src := range []string{"/esc/secret", "/up" + secret + "/secret", "/rel/secret", "/esc/", "/rel/."} {
				for _, flags := range [][]string{nil, {"-L"}} {
					dst := filepath.Join(out, "o")
					os.RemoveAll(dst)
					strata(t, root, append(append([]string{"cp"}, flags...), c+":"+src, dst)...)
					filepath.Walk(dst, func(p string, fi os.FileInfo, err error) error {
						if err == nil && fi.Mode().IsRegular() && readFile(t, p) == "host" {
							t.Errorf("cp %v %s:%s brought the host's file out", flags, c, src)
						}
						return nil
					})
				}
			}
			// -L on a link out of the root gives the container's path, which is missing.
			if r := strata(t, root, "cp", "-L", c+":/esc", out+"/l"); r.Code != 1 || !strings.Contains(r.Stderr, "Could not find the file") {
				t.Errorf("cp -L of a link to a host path: %d %q", r.Code, r.Stderr)
			}
			// In: lands in the container, under its own path.
			for _, dst := range []string{"/esc/", "/up" + secret + "/", "/rel/", "/etclink/"} {
				if r := strata(t, root, "cp", host+"/f", c+":"+dst); r.Code != 0 {
					// A link to a dir the container lacks: docker's answer too.
					if !strings.Contains(r.Stderr, "no such directory") {
						t.Errorf("cp f %s: %d %s", dst, r.Code, r.Stderr)
					}
				}
			}
			if got := ctrRead(t, root, c, "/etc/f"); got["f"] != "from host" {
				t.Errorf("cp f %s:/etclink/ did not land in the container's /etc: %v", c, got)
			}
			if _, err := os.Stat("/etc/f"); err == nil {
				t.Fatalf("cp into %s:/etclink/ wrote the host's /etc/f", c)
			}
			// A hostile tar: climbing names, absolute names, a symlink then a name through it.
			for i, bad := range [][]byte{
				tarOf(t, [2]string{up + strings.TrimPrefix(secret, "/") + "/t1", "x"}),
				tarOf(t, [2]string{secret + "/t2", "x"}),
				tarOf(t, [2]string{"l", "->" + secret}, [2]string{"l/t3", "x"}),
				tarOf(t, [2]string{"l2", "->" + up}, [2]string{"l2" + secret + "/t4", "x"}),
			} {
				r := strataStdin(t, root, bytes.NewReader(bad), nil, "cp", "-", c+":/tmp")
				if r.Code != 0 && strings.Count(r.Stderr, "\n") != 1 {
					t.Errorf("hostile tar %d: %d %q", i, r.Code, r.Stderr)
				}
			}
			entries, _ := os.ReadDir(secret)
			if len(entries) != 1 || readFile(t, secret+"/secret") != "host" {
				t.Errorf("the host's dir %s changed: %v", secret, entries)
			}
			// The container's device node stays out of the host, and a copy of it alone
			// says so rather than copying nothing with success.
			if r := strata(t, root, "cp", c+":/node", out+"/node"); r.Code != 1 || !strings.Contains(r.Stderr, "/node: cannot copy a device node to the host") || strings.Count(r.Stderr, "\n") != 1 {
				t.Errorf("cp of a node: %d %q, want 1 and one line", r.Code, r.Stderr)
			}
			if r := strata(t, root, "cp", c+":/node", "-"); r.Code != 0 || !strings.Contains(r.Stdout, "node") {
				t.Errorf("cp of a node to a tar stream: %d %s", r.Code, r.Stderr)
			}
			if _, err := os.Lstat(out + "/node"); err == nil {
				t.Errorf("cp %s:/node made a device node on the host", c)
			}
		})
	}
}

// TestCpSwappedParent: a running container swaps a directory on the copy's path for a symlink
// to the host path of the same name, over and over; copies in and out never reach the host.
func TestCpSwappedParent(t *testing.T) {
	root := busyboxRoot(t)
	secret := t.TempDir()
	writeFiles(t, map[string]string{secret + "/secret": "host"})
	script := `mkdir -p ` + secret + ` && echo ctr > ` + secret + `/secret; ` +
		`while :; do rm -rf /sw; mkdir /sw; echo ctr > /sw/secret; rm -rf /sw; ln -s ` + secret + ` /sw; done`
	mustStrata(t, root, "run", "-d", "--name", "sw", cpImage, "sh", "-c", script)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "sw") })
	host := t.TempDir()
	writeFiles(t, map[string]string{host + "/new": "x", host + "/secret": "overwritten"})
	out := t.TempDir()
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; time.Now().Before(deadline) && i < 60; i++ {
		strata(t, root, "cp", host+"/new", "sw:/sw/")
		strata(t, root, "cp", host+"/secret", "sw:/sw/secret")
		os.Remove(out + "/s")
		if r := strata(t, root, "cp", "sw:/sw/secret", out+"/s"); r.Code == 0 && readFile(t, out+"/s") == "host" {
			t.Fatalf("cp out through a swapped symlink read the host's file")
		}
	}
	entries, _ := os.ReadDir(secret)
	if len(entries) != 1 || readFile(t, secret+"/secret") != "host" {
		t.Errorf("the host's dir %s changed: %v", secret, entries)
	}
}

// TestCpTarStreams: "-" streams a tar out (the entries named after the source) and reads one
// in, into a directory only.
func TestCpTarStreams(t *testing.T) {
	root := busyboxRoot(t)
	mustStrata(t, root, "run", "-d", "--name", "ts", cpImage, "sleep", "600")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "ts") })
	in := tarOf(t, [2]string{"dir/", ""}, [2]string{"dir/a", "A"}, [2]string{"dir/ln", "->a"})
	if r := strataStdin(t, root, bytes.NewReader(in), nil, "cp", "-", "ts:/tmp"); r.Code != 0 || r.Stdout != "" {
		t.Fatalf("cp - ts:/tmp: %d %q %s", r.Code, r.Stdout, r.Stderr)
	}
	got, hdrs := tarEntries(t, mustStrata(t, root, "cp", "ts:/tmp/dir", "-").Stdout)
	if got["dir/"] != "dir" || got["dir/a"] != "A" || got["dir/ln"] != "->a" || len(got) != 3 {
		t.Errorf("cp ts:/tmp/dir - = %v", got)
	}
	if h := hdrs["dir/a"]; h == nil || h.Uid != 0 || h.Mode != 0o644 {
		t.Errorf("dir/a's header: %+v", h)
	}
	// -L: the entries take the target's name, as docker's stream has them.
	got, _ = tarEntries(t, mustStrata(t, root, "cp", "-L", "ts:/tmp/dir/ln", "-").Stdout)
	if got["a"] != "A" || len(got) != 1 {
		t.Errorf("cp -L ts:/tmp/dir/ln - = %v", got)
	}
	got, _ = tarEntries(t, mustStrata(t, root, "cp", "ts:/tmp/dir/.", "-").Stdout)
	if got["./a"] != "A" {
		t.Errorf("cp ts:/tmp/dir/. - = %v", got)
	}
	if r := strataStdin(t, root, bytes.NewReader(in), nil, "cp", "-", "ts:/tmp/dir/a"); r.Code != 1 || !strings.Contains(r.Stderr, `destination "ts:/tmp/dir/a" must be a directory`) {
		t.Errorf("cp - to a file: %d %q", r.Code, r.Stderr)
	}
	if r := strataStdin(t, root, strings.NewReader("not a tar at all, not at all"), nil, "cp", "-", "ts:/tmp"); r.Code != 1 || strings.Count(r.Stderr, "\n") != 1 {
		t.Errorf("cp - of garbage: %d %q", r.Code, r.Stderr)
	}
}

// TestCpArchiveOwnership: without -a a copy belongs to the receiving end's root (the
// container's, or the user running cp) and loses its set-id bits; -a keeps uid and gid.
func TestCpArchiveOwnership(t *testing.T) {
	root := busyboxRoot(t)
	mustStrata(t, root, "create", "--name", "own", cpImage, "true")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "own") })
	host := t.TempDir()
	f := host + "/f"
	writeFiles(t, map[string]string{f: "x"})
	if err := os.Chown(f, 1234, 5678); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Chmod(f, 0o4755); err != nil { // os.Chmod takes os.ModeSetuid, not 04000
		t.Fatal(err)
	}
	mustStrata(t, root, "cp", f, "own:/plain")
	mustStrata(t, root, "cp", "-a", f, "own:/kept")
	_, hdrs := tarEntries(t, mustStrata(t, root, "cp", "own:/plain", "-").Stdout)
	if h := hdrs["plain"]; h == nil || h.Uid != 0 || h.Gid != 0 || h.Mode != 0o755 {
		t.Errorf("without -a: %+v, want 0:0 0755", h)
	}
	_, hdrs = tarEntries(t, mustStrata(t, root, "cp", "own:/kept", "-").Stdout)
	if h := hdrs["kept"]; h == nil || h.Uid != 1234 || h.Gid != 5678 || h.Mode != 0o4755 {
		t.Errorf("with -a: %+v, want 1234:5678 04755", h)
	}
	out := t.TempDir()
	mustStrata(t, root, "cp", "own:/kept", out+"/plain")
	mustStrata(t, root, "cp", "-a", "own:/kept", out+"/kept")
	for name, want := range map[string][2]uint32{"plain": {0, 0}, "kept": {1234, 5678}} {
		var st syscall.Stat_t
		if err := syscall.Stat(out+"/"+name, &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != want[0] || st.Gid != want[1] {
			t.Errorf("%s on the host: %d:%d, want %v", name, st.Uid, st.Gid, want)
		}
	}
}

// TestCpReadOnly: docker's refusals of a copy into a --read-only root and a read-only volume,
// running or stopped, while a copy out works and a writable tmpfs takes one.
func TestCpReadOnly(t *testing.T) {
	root := busyboxRoot(t)
	vol := t.TempDir()
	host := t.TempDir()
	writeFiles(t, map[string]string{host + "/f": "x"})
	mustStrata(t, root, "run", "-d", "--name", "ro-run", "--read-only", "--tmpfs", "/tmp", "-v", vol+":/ro:ro", cpImage, "sleep", "600")
	mustStrata(t, root, "create", "--name", "ro-stopped", "--read-only", "-v", vol+":/ro:ro", "-v", vol+":/rw", cpImage, "true")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "ro-run", "ro-stopped") })
	for _, c := range []string{"ro-run", "ro-stopped"} {
		for dst, want := range map[string]string{"/etc/": "container rootfs is marked read-only", "/ro/": "mounted volume is marked read-only"} {
			if r := strata(t, root, "cp", host+"/f", c+":"+dst); r.Code != 1 || !strings.HasSuffix(r.Stderr, want+"\n") {
				t.Errorf("cp f %s:%s: %d %q, want %q", c, dst, r.Code, r.Stderr, want)
			}
		}
		mustStrata(t, root, "cp", c+":/etc/passwd", host+"/passwd-"+c)
	}
	mustStrata(t, root, "cp", host+"/f", "ro-run:/tmp/")
	mustStrata(t, root, "cp", host+"/f", "ro-stopped:/rw/")
	if readFile(t, vol+"/f") != "x" {
		t.Errorf("cp into a stopped container's volume did not reach it")
	}
	// A stopped container's symlink into one of its mounts: with the mounts in its detached
	// root, the copy reaches the mount, as docker's; where the kernel mounts nothing there,
	// the overlay has only the empty mountpoint, so the copy is refused rather than lost in it.
	mustStrata(t, root, "create", "--name", "vol-stopped", "-v", vol+":/rw", cpImage, "true")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "vol-stopped") })
	if r := strataStdin(t, root, bytes.NewReader(tarOf(t, [2]string{"lnk", "->/rw"}, [2]string{"rw/", ""})), nil, "cp", "-", "vol-stopped:/"); r.Code != 0 {
		t.Fatalf("planting: %d %s", r.Code, r.Stderr)
	}
	os.Remove(vol + "/f")
	r := strata(t, root, "cp", host+"/f", "vol-stopped:/lnk/")
	switch {
	case detachedMountsNest(t):
		if r.Code != 0 || readFile(t, vol+"/f") != "x" {
			t.Errorf("cp through a symlink into a stopped container's mount: %d %q, want the file in the mount", r.Code, r.Stderr)
		}
	case r.Code != 1 || !strings.Contains(r.Stderr, "a symlink leads into the container's mount /rw"):
		t.Errorf("cp through a symlink into a stopped container's mount: %d %q", r.Code, r.Stderr)
	}
}

// TestCpSummary: on a terminal cp says what it copied, on stderr, as docker does; -q and a
// stdout that is no terminal keep it quiet.
func TestCpSummary(t *testing.T) {
	root := busyboxRoot(t)
	mustStrata(t, root, "create", "--name", "sum", cpImage, "true")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "sum") })
	host := t.TempDir()
	writeFiles(t, map[string]string{host + "/f": strings.Repeat("x", 1234)})
	user, tty, err := pty.Open()
	if err != nil {
		t.Skipf("skipping: no pty on this machine: %v", err)
	}
	defer user.Close()
	go io.Copy(io.Discard, user)
	runTTY := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, strataBin, append([]string{"--root", root}, args...)...)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = tty, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("cp %v: %v %s", args, err, stderr.String())
		}
		return stderr.String()
	}
	if got := runTTY("cp", host+"/f", "sum:/f"); !strings.HasPrefix(got, "Successfully copied 1.23kB (transferred ") || !strings.HasSuffix(got, " to sum:/f\n") {
		t.Errorf("to a container: %q", got)
	}
	if got := runTTY("cp", "sum:/f", host+"/g"); !strings.HasPrefix(got, "Successfully copied 1.23kB") || !strings.HasSuffix(got, " to "+host+"/g\n") {
		t.Errorf("from a container: %q", got)
	}
	if got := runTTY("cp", "-q", "sum:/f", host+"/g"); got != "" {
		t.Errorf("-q: %q", got)
	}
	if got := mustStrata(t, root, "cp", "sum:/f", host+"/g"); got.Stderr != "" || got.Stdout != "" {
		t.Errorf("no terminal: %+v", got)
	}
}

// TestCpHostDestNearlyFull: a copy out to a host filesystem with little room left goes as far
// as the room goes, as docker's does; strata's free-space floor is for its own store (it
// refused a 6-byte file on a filesystem 96% full, in a layer's words).
func TestCpHostDestNearlyFull(t *testing.T) {
	root := busyboxRoot(t)
	dir := nearlyFullTmpfs(t)
	mustStrata(t, root, "create", "--name", "nf", cpImage, "true")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "nf") })
	if r := strata(t, root, "cp", "nf:/etc/passwd", dir+"/passwd"); r.Code != 0 {
		t.Fatalf("cp to a nearly full host filesystem: %d %s", r.Code, r.Stderr)
	}
	if fi, err := os.Stat(dir + "/passwd"); err != nil || fi.Size() == 0 {
		t.Errorf("passwd not copied: %v", err)
	}
}

// TestCpKernelFS: a copy into a running container's /proc, /sys, /dev/pts or /dev/mqueue is
// refused in one line that says so (procfs has no room to report, so it read as a full
// disk); its /dev, a tmpfs, takes one.
func TestCpKernelFS(t *testing.T) {
	root := busyboxRoot(t)
	host := t.TempDir()
	writeFiles(t, map[string]string{host + "/f": "x"})
	mustStrata(t, root, "run", "-d", "--name", "kfs", cpImage, "sleep", "600")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "kfs") })
	for dst, want := range map[string]string{
		"/proc/1/":    "/proc/1: cannot copy into the kernel's proc filesystem",
		"/proc/f":     "/proc: cannot copy into the kernel's proc filesystem",
		"/sys/":       "/sys: cannot copy into the kernel's sysfs filesystem",
		"/dev/pts/":   "/dev/pts: cannot copy into the kernel's devpts filesystem",
		"/dev/mqueue": "/dev/mqueue: cannot copy into the kernel's mqueue filesystem",
	} {
		if r := strata(t, root, "cp", host+"/f", "kfs:"+dst); r.Code != 1 || r.Stderr != "strata: "+want+"\n" {
			t.Errorf("cp f kfs:%s: %d %q, want %q", dst, r.Code, r.Stderr, want)
		}
	}
	mustStrata(t, root, "cp", host+"/f", "kfs:/dev/")
	if got := mustStrata(t, root, "exec", "kfs", "cat", "/dev/f").Stdout; got != "x" {
		t.Errorf("cp into /dev: %q", got)
	}
}

// TestCpVolumeNoFloor: a copy into a bind of another filesystem nearly full goes as far as
// the room goes, running or stopped, as docker's does; the store's free-space floor is for
// the store's filesystem.
func TestCpVolumeNoFloor(t *testing.T) {
	root := busyboxRoot(t)
	dir := nearlyFullTmpfs(t)
	host := t.TempDir()
	writeFiles(t, map[string]string{host + "/f": "x"})
	mustStrata(t, root, "run", "-d", "--name", "vf-run", "-v", dir+":/vol", cpImage, "sleep", "600")
	mustStrata(t, root, "create", "--name", "vf-stopped", "-v", dir+":/vol", cpImage, "true")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "vf-run", "vf-stopped") })
	for _, c := range []string{"vf-run", "vf-stopped"} {
		if r := strata(t, root, "cp", host+"/f", c+":/vol/"+c); r.Code != 0 {
			t.Errorf("cp into %s's nearly full volume: %d %s", c, r.Code, r.Stderr)
		} else if got := readFile(t, dir+"/"+c); got != "x" {
			t.Errorf("%s: %q", c, got)
		}
	}
}

// nearlyFullTmpfs mounts a 20 MiB tmpfs, removed when the test ends, with 512 KiB of it free:
// a filesystem below strata's free-space floor for its store.
func nearlyFullTmpfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=20m"); err != nil {
		t.Skipf("skipping: mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	if err := os.WriteFile(dir+"/fill", make([]byte, 19<<20+512<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// detachedMountsNest says whether this kernel mounts on a detached mount (Linux 6.15), as a
// stopped container's copy mounts its volumes in its detached root; before, the copy finds
// them by name.
func detachedMountsNest(t *testing.T) bool {
	t.Helper()
	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return false
	}
	defer unix.Close(fsfd)
	if unix.FsconfigCreate(fsfd) != nil {
		return false
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(mfd)
	tree, err := unix.OpenTree(unix.AT_FDCWD, t.TempDir(), unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return false
	}
	defer unix.Close(tree)
	return unix.MoveMount(tree, "", mfd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH) == nil
}

// TestCpStoppedVolumes copies into and out of a stopped container's binds and volumes as docker
// cp does, which mounts them for the copy: the copy reached a bind only by its own path, so
// a tree copied into the dir above one went into the mountpoint beneath it (hidden once the
// container runs), a copy out of that dir left the bind's files out ("Could not find the
// file" where the dir was only made at start), a symlink in a bind led inside the bind ("/" of
// it) rather than where it leads in the container, a file's bind could not be read ("not a
// directory"), and an anonymous or named volume refused every copy ("only there while it
// runs").
func TestCpStoppedVolumes(t *testing.T) {
	root := busyboxRoot(t)
	if !detachedMountsNest(t) {
		t.Skip("skipping: this kernel mounts nothing on a detached mount (Linux 6.15), and the copy finds the volumes by name")
	}
	nested, links, ro, host, out := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	writeFiles(t, map[string]string{nested + "/vf": "vol", host + "/f": "x", host + "/tree/y/f": "in", host + "/tree/t": "top", host + "/fb": "fb"})
	for name, to := range map[string]string{"root": "/", "etcl": "/etc"} {
		if err := os.Symlink(to, filepath.Join(links, name)); err != nil {
			t.Fatal(err)
		}
	}
	const vol = "cpsv-vol"
	mustStrata(t, root, "create", "--name", "sv", "-v", nested+":/x/y", "-v", links+":/links", "-v", "/data",
		"-v", vol+":/nv", "-v", ro+":/ro:ro", "-v", host+"/fb:/etc/fb", cpImage, "sh", "-c", "cat /x/y/f /x/t /f /etc/f /data/f /nv/f")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "-v", "sv"); strata(t, root, "volume", "rm", vol) })

	mustStrata(t, root, "cp", host+"/tree/.", "sv:/x/")
	if got := readFile(t, nested+"/f"); got != "in" {
		t.Errorf("cp tree/. sv:/x/: the bind at /x/y holds f = %q, want %q", got, "in")
	}
	mustStrata(t, root, "cp", "sv:/x", out)
	if got := readFile(t, out+"/x/y/vf"); got != "vol" {
		t.Errorf("cp sv:/x: x/y/vf = %q, want the bind's file", got)
	}
	mustStrata(t, root, "cp", host+"/f", "sv:/links/root/")
	mustStrata(t, root, "cp", host+"/f", "sv:/links/etcl/")
	if names, _ := os.ReadDir(links); len(names) != 2 {
		t.Errorf("copies through the bind's symlinks to / and /etc wrote into the bind: %v", names)
	}
	if got := ctrRead(t, root, "sv", "/links/root/etc/f"); got["f"] != "x" {
		t.Errorf("cp sv:/links/root/etc/f = %v", got)
	}
	if got := ctrRead(t, root, "sv", "/etc/fb"); got["fb"] != "fb" {
		t.Errorf("cp sv:/etc/fb of a file's bind = %v", got)
	}
	mustStrata(t, root, "cp", host+"/f", "sv:/data/")
	mustStrata(t, root, "cp", host+"/f", "sv:/nv/")
	if r := strata(t, root, "cp", host+"/f", "sv:/ro/"); r.Code != 1 || r.Stderr != "strata: mounted volume is marked read-only\n" {
		t.Errorf("cp into a read-only bind: %d %q", r.Code, r.Stderr)
	}
	if names, _ := os.ReadDir(ro); len(names) != 0 {
		t.Errorf("the read-only bind holds %v", names)
	}
	if r := strata(t, root, "start", "-a", "sv"); r.Code != 0 || r.Stdout != "intopxxxx" {
		t.Errorf("start -a sv: %d %q %q, want each file copied where the container sees it", r.Code, r.Stdout, r.Stderr)
	}
	for _, d := range []string{root, nested, links, ro} {
		if m := mountsUnder(t, d); len(m) > 0 {
			t.Errorf("mounts left: %v", m)
		}
	}
}

// sharedBind makes dir a mount point of its own in a peer group (mount --bind dir dir;
// --make-shared), as every path of a systemd host is, and unmounts it when the test ends.
func sharedBind(t *testing.T, dir string) {
	t.Helper()
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
}

// TestCpStoppedSharedSource: the binds a copy into a stopped container mounts in its detached
// root are its own, whatever the peer group of their source: a volume nested in a bind of a
// shared mount (any dir of a systemd host), or in the vfs driver's root on one, was mounted
// in a clone that stayed the source's peer, so the kernel propagated it to the host, where
// it stayed mounted (on the bind's source dir, or in the container's dir) after the copy.
func TestCpStoppedSharedSource(t *testing.T) {
	requiresContainers(t)
	if !detachedMountsNest(t) {
		t.Skip("skipping: this kernel mounts nothing on a detached mount (Linux 6.15), and the copy finds the volumes by name")
	}
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	for _, driver := range []string{"overlay", "vfs"} {
		t.Run(driver, func(t *testing.T) {
			root := newRoot(t)
			sharedBind(t, root)
			mustStrata(t, root, "--storage-driver", driver, "load", "-q", "-i", filepath.Join(td, "busybox", "busybox-1.38.0-musl-oci"))
			shared, nested, host := t.TempDir(), t.TempDir(), t.TempDir()
			sharedBind(t, shared)
			writeFiles(t, map[string]string{host + "/f": "x"})
			mustStrata(t, root, "--storage-driver", driver, "create", "--name", "sh", "-v", shared+":/a", "-v", nested+":/a/sub", "-v", nested+":/b", cpImage, "true")
			t.Cleanup(func() { strata(t, root, "--storage-driver", driver, "rm", "-f", "sh") })
			mustStrata(t, root, "--storage-driver", driver, "cp", host+"/f", "sh:/a/sub/")
			if got := readFile(t, nested+"/f"); got != "x" {
				t.Errorf("cp f sh:/a/sub/: the bind at /a/sub holds f = %q, want %q", got, "x")
			}
			if m := mountsUnder(t, shared); len(m) != 1 {
				t.Errorf("mounted on the host after the copy: %v, want only %s", m, shared)
			}
			if m := mountsUnder(t, root); len(m) != 1 {
				t.Errorf("mounted on the host after the copy: %v, want only %s", m, root)
			}
		})
	}
}

package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

var imageIDLine = regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`)

// tarNames lists the entries of the plain tar data, in order.
func tarNames(t *testing.T, data string) []string {
	t.Helper()
	tr := tar.NewReader(strings.NewReader(data))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("reading the tar: %v", err)
		}
		names = append(names, h.Name)
	}
}

// TestCommit plays docker commit: a container that adds, changes and deletes files (a file of
// the image's, a directory of the image's, and a directory removed and made again, which
// overlayfs marks opaque) is committed; a container of the new image sees exactly that
// filesystem (export lists the same entries), shares the image's layers, and runs the
// config -c gave. The layer is the same tar each time (entries sorted, mtimes kept), the
// running container is paused only while it is read, and an unnamed commit runs by its ID.
func TestCommit(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	script := `echo x >> /etc/passwd; echo new > /added; rm /bin/wget; rm -rf /home; ` +
		`rm -rf /etc/network && mkdir /etc/network && echo y > /etc/network/new; ` +
		`mkdir -p /srv/a/b; ln -s /etc/passwd /srv/lnk; ln /added /srv/hard; chmod 4755 /srv/a`
	mustStrata(t, root, "run", "--name", "c1", "-e", "FOO=bar", img, "sh", "-c", script)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "c1", "c2", "c3", "c4", "up") })

	out := mustStrata(t, root, "commit", "-m", "the message", "-a", "me", "c1", "committed:1").Stdout
	if !imageIDLine.MatchString(out) {
		t.Fatalf("commit printed %q, want sha256:<id>", out)
	}
	check := `test "$(tail -1 /etc/passwd)" = x && test "$(cat /added)" = new && ! test -e /bin/wget && ` +
		`! test -e /home && test "$(ls /etc/network)" = new && test -d /srv/a/b && ` +
		`test "$(readlink /srv/lnk)" = /etc/passwd && test /srv/hard -ef /added && test -u /srv/a && ` +
		`test -e /bin/sh && test "$FOO" = bar && echo ok`
	if got := mustStrata(t, root, "run", "--rm", "committed:1", "sh", "-c", check).Stdout; got != "ok\n" {
		t.Fatalf("the committed image's filesystem: %q", got)
	}
	// The whole view: the same entries as the container's.
	mustStrata(t, root, "run", "--name", "c2", "committed:1", "true")
	a := tarNames(t, mustStrata(t, root, "export", "c1").Stdout)
	b := tarNames(t, mustStrata(t, root, "export", "c2").Stdout)
	if !slices.Equal(a, b) {
		t.Errorf("export of the committed image's container differs:\n%v\n%v", a, b)
	}
	if d := mustStrata(t, root, "diff", "c2").Stdout; d != "" {
		t.Errorf("a container of the committed image changed nothing, diff says %q", d)
	}

	// The image's layers are shared: the same DiffIDs, one more on top.
	layersOf := func(ref string) []string {
		return strings.Fields(mustStrata(t, root, "image", "inspect", "--format", `{{range .RootFS.Layers}}{{.}} {{end}}`, ref).Stdout)
	}
	base, mine := layersOf(img), layersOf("committed:1")
	if len(mine) != len(base)+1 || !slices.Equal(mine[:len(base)], base) {
		t.Errorf("layers %v, want %v and one more", mine, base)
	}
	if _, err := os.Stat(filepath.Join(root, "snapshots", strings.TrimPrefix(mine[len(mine)-1], "sha256:"))); err != nil {
		t.Errorf("the new layer is not unpacked: %v", err)
	}
	hist := mustStrata(t, root, "history", "--no-trunc", "committed:1").Stdout
	if !strings.Contains(hist, "the message") {
		t.Errorf("history has no commit message:\n%s", hist)
	}
	// Reproducible: the same changes make the same layer.
	mustStrata(t, root, "commit", "c1", "committed:2")
	if again := layersOf("committed:2"); again[len(again)-1] != mine[len(mine)-1] {
		t.Errorf("a second commit made layer %s, the first %s", again[len(again)-1], mine[len(mine)-1])
	}

	// -c: docker's Dockerfile subset, exec and shell forms.
	mustStrata(t, root, "commit", "-c", `CMD ["echo","hi"]`, "c1", "committed:cmd")
	if got := mustStrata(t, root, "run", "--rm", "committed:cmd").Stdout; got != "hi\n" {
		t.Errorf("commit -c CMD: run printed %q, want hi", got)
	}
	mustStrata(t, root, "commit", "-c", "ENV A=1 B=\"two words\"", "-c", "WORKDIR /srv", "-c", "CMD echo $A $B $(pwd)", "c1", "committed:shell")
	if got := mustStrata(t, root, "run", "--rm", "committed:shell").Stdout; got != "1 two words /srv\n" {
		t.Errorf("commit -c ENV, WORKDIR and a shell-form CMD: run printed %q", got)
	}
	mustStrata(t, root, "commit", "-c", "ENTRYPOINT [\"echo\"]", "-c", "EXPOSE 80 53/udp", "-c", "LABEL a=b", "-c", "USER 1:2", "-c", "VOLUME /data", "c1", "committed:ep")
	cfg := mustStrata(t, root, "image", "inspect", "--format", `{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{json .Config.ExposedPorts}} {{json .Config.Labels}} {{.Config.User}} {{json .Config.Volumes}}`, "committed:ep").Stdout
	if want := `["echo"] null {"53/udp":{},"80/tcp":{}} {"a":"b"} 1:2 {"/data":{}}` + "\n"; cfg != want {
		t.Errorf("commit -c config:\n%s\nwant\n%s", cfg, want)
	}

	// A running container is frozen only while it is read; no name makes a dangling image
	// that runs by its ID.
	mustStrata(t, root, "run", "-d", "--name", "up", img, "sh", "-c", "echo live > /live; sleep 1000")
	waitFor(t, func() bool { return strings.Contains(strata(t, root, "diff", "up").Stdout, "/live") })
	id := strings.TrimSpace(mustStrata(t, root, "commit", "up").Stdout)
	if st := mustStrata(t, root, "inspect", "--format", "{{.State.Status}} {{.State.Paused}}", "up").Stdout; st != "running false\n" {
		t.Errorf("after commit the container is %q, want running and not paused", st)
	}
	if got := mustStrata(t, root, "run", "--rm", strings.TrimPrefix(id, "sha256:")[:12], "cat", "/live").Stdout; got != "live\n" {
		t.Errorf("run of the unnamed commit printed %q", got)
	}
	// A container that changed nothing: an empty layer, the image's layers alone.
	mustStrata(t, root, "run", "--name", "c3", "--read-only", img, "true")
	mustStrata(t, root, "commit", "c3", "committed:empty")
	if got := layersOf("committed:empty"); !slices.Equal(got, base) {
		t.Errorf("commit of a read-only container: layers %v, want the image's %v", got, base)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 250; i++ {
		if cond() {
			return
		}
		exec.Command("sleep", "0.02").Run()
	}
	t.Fatal("timed out waiting")
}

// TestExportImport plays docker export and import: export writes the merged view of a stopped
// and of a running container (the image's files, the container's changes, no whiteout), to
// stdout or -o; import makes of it (plain, gzip, from a file, stdin or an http URL on
// 127.0.0.1) a one-layer image that runs, with -c's config and -m's comment.
func TestExportImport(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	// A symlink the container makes where the image has a directory leads to a host dir with a
	// secret: the export writes the link, never what it leads to on the host.
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "secret"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustStrata(t, root, "run", "--name", "e1", img, "sh", "-c", "rm /bin/ls; rm -rf /etc/network; echo hi > /added; rm -rf /home && ln -s "+host+" /home")
	mustStrata(t, root, "run", "-d", "--name", "e2", img, "sh", "-c", "echo run > /running; sleep 1000")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "e1", "e2") })

	data := mustStrata(t, root, "export", "e1").Stdout
	names := tarNames(t, data)
	for _, want := range []string{"added", "bin/sh", "etc/passwd"} {
		if !slices.Contains(names, want) {
			t.Errorf("export has no %s", want)
		}
	}
	for _, n := range names {
		if strings.Contains(n, ".wh.") || n == "bin/ls" || strings.HasPrefix(n, "etc/network") || strings.HasPrefix(n, "home/") {
			t.Errorf("export has %s", n)
		}
	}
	out := filepath.Join(t.TempDir(), "e1.tar")
	mustStrata(t, root, "export", "-o", out, "e1")
	if b, err := os.ReadFile(out); err != nil || string(b) != data {
		t.Errorf("export -o wrote another tar than to stdout (%v)", err)
	}
	waitFor(t, func() bool { return slices.Contains(tarNames(t, strata(t, root, "export", "e2").Stdout), "running") })

	id := mustStrata(t, root, "import", "-c", `CMD ["cat","/added"]`, out, "imported:1").Stdout
	if !imageIDLine.MatchString(id) {
		t.Fatalf("import printed %q", id)
	}
	if got := mustStrata(t, root, "run", "--rm", "imported:1").Stdout; got != "hi\n" {
		t.Errorf("run of the imported image printed %q", got)
	}
	if got := mustStrata(t, root, "run", "--rm", "imported:1", "sh", "-c", "test -e /bin/ls || echo gone").Stdout; got != "gone\n" {
		t.Errorf("the imported image has /bin/ls")
	}
	if got := mustStrata(t, root, "image", "inspect", "--format", "{{len .RootFS.Layers}} {{.Os}}", "imported:1").Stdout; got != "1 linux\n" {
		t.Errorf("imported image: %q, want one layer for linux", got)
	}
	if h := mustStrata(t, root, "history", "imported:1").Stdout; !strings.Contains(h, "Imported from "+out) {
		t.Errorf("history of the imported image:\n%s", h)
	}
	// gzip from stdin, with a message.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(data))
	zw.Close()
	mustRun(t, os.Environ(), gz.String(), root, "import", "-m", "from stdin", "-", "imported:2")
	if h := mustStrata(t, root, "history", "imported:2").Stdout; !strings.Contains(h, "from stdin") {
		t.Errorf("history of the image imported from stdin:\n%s", h)
	}
	// zstd, as a file.
	var zs bytes.Buffer
	zsw, err := zstd.NewWriter(&zs)
	if err != nil {
		t.Fatal(err)
	}
	zsw.Write([]byte(data))
	zsw.Close()
	zfile := filepath.Join(t.TempDir(), "rootfs.tar.zst")
	if err := os.WriteFile(zfile, zs.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	mustStrata(t, root, "image", "import", zfile, "imported:zstd")
	if got := mustStrata(t, root, "run", "--rm", "imported:zstd", "cat", "/added").Stdout; got != "hi\n" {
		t.Errorf("run of the image imported from zstd printed %q", got)
	}
	// An http URL on 127.0.0.1.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rootfs.tar.gz" {
			http.NotFound(w, r)
			return
		}
		w.Write(gz.Bytes())
	}))
	defer srv.Close()
	mustStrata(t, root, "import", srv.URL+"/rootfs.tar.gz", "imported:3")
	if got := mustStrata(t, root, "run", "--rm", "imported:3", "cat", "/added").Stdout; got != "hi\n" {
		t.Errorf("run of the image imported from a URL printed %q", got)
	}
	if r := strata(t, root, "import", srv.URL+"/missing", "imported:4"); r.Code != 1 || !strings.Contains(r.Stderr, "404") {
		t.Errorf("import of a missing URL: exit %d, %q", r.Code, r.Stderr)
	}
}

// TestImportHostile imports tarballs made to write outside the layer: a "../" path, and an
// absolute symlink to a host dir with a file written through it. Each is refused or kept
// inside the image; nothing reaches the host, and a refused one leaves no image and no blob.
// A tarball larger than STRATA_MAX_LAYER_SIZE is refused too.
func TestImportHostile(t *testing.T) {
	root := busyboxRoot(t)
	host := t.TempDir()
	mk := func(entries ...*tar.Header) string {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range entries {
			if h.Typeflag == tar.TypeReg {
				h.Size = int64(len("pwned"))
			}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				tw.Write([]byte("pwned"))
			}
		}
		tw.Close()
		p := filepath.Join(t.TempDir(), "hostile.tar")
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	blobs := func() int {
		e, _ := os.ReadDir(filepath.Join(root, "oci", "blobs", "sha256"))
		return len(e)
	}
	cases := map[string]string{
		"dotdot": mk(&tar.Header{Typeflag: tar.TypeReg, Name: "../../../../../../" + strings.TrimPrefix(host, "/") + "/pwned", Mode: 0o644}),
		"symlink": mk(
			&tar.Header{Typeflag: tar.TypeSymlink, Name: "evil", Linkname: host, Mode: 0o777},
			&tar.Header{Typeflag: tar.TypeReg, Name: "evil/pwned", Mode: 0o644},
		),
		"abs": mk(&tar.Header{Typeflag: tar.TypeReg, Name: host + "/pwned", Mode: 0o644}),
	}
	for name, p := range cases {
		before := blobs()
		r := strata(t, root, "import", p, "hostile:"+name)
		if _, err := os.Stat(filepath.Join(host, "pwned")); err == nil {
			t.Fatalf("import of the %s tarball wrote on the host", name)
		}
		if r.Code != 0 {
			if strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 || !strings.HasPrefix(r.Stderr, "strata: ") {
				t.Errorf("%s: error not one line: %q", name, r.Stderr)
			}
			if blobs() != before {
				t.Errorf("%s: a refused import left blobs", name)
			}
			continue
		}
		// Contained: whatever it made is inside the image.
		strata(t, root, "run", "--rm", "hostile:"+name, "true")
		if _, err := os.Stat(filepath.Join(host, "pwned")); err == nil {
			t.Fatalf("running the %s import wrote on the host", name)
		}
	}
	// A bomb: 8 MiB of zeros, gzip'd, against a 1 MiB bound.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "zeros", Size: 8 << 20, Mode: 0o644})
	tw.Write(make([]byte, 8<<20))
	tw.Close()
	zw.Close()
	bomb := filepath.Join(t.TempDir(), "bomb.tgz")
	os.WriteFile(bomb, gz.Bytes(), 0o644)
	before := blobs()
	r := run(t, append(os.Environ(), "STRATA_MAX_LAYER_SIZE=1048576"), "", root, "import", bomb, "bomb:1")
	if r.Code != 1 || !strings.Contains(r.Stderr, "bytes") {
		t.Errorf("import of a bomb: exit %d, %q", r.Code, r.Stderr)
	}
	if blobs() != before {
		t.Errorf("a refused import left blobs")
	}
}

package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/strata-run/strata/internal/testimages"
	"github.com/strata-run/strata/internal/testutil"
)

// detached starts `strata run -d args...` and removes the container (rm -f, by ID) when the
// test ends. It returns the container's ID.
func detached(t *testing.T, root string, args ...string) string {
	t.Helper()
	r := mustStrata(t, root, append([]string{"run", "-d"}, args...)...)
	id := strings.TrimSpace(r.Stdout)
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want a container ID", r.Stdout)
	}
	t.Cleanup(func() { strata(t, root, "rm", "-f", id) })
	return id
}

// containerPid is the host pid of a running container's PID 1.
func containerPid(t *testing.T, root, id string) int {
	t.Helper()
	out := mustStrata(t, root, "inspect", "--format", "{{.State.Pid}}", id)
	pid, err := strconv.Atoi(strings.TrimSpace(out.Stdout))
	if err != nil || pid <= 0 {
		t.Fatalf("inspect --format {{.State.Pid}} = %q", out.Stdout)
	}
	return pid
}

// TestExecBusybox runs `ps` in a busybox container, whose PID 1 is the entrypoint, and checks
// exec's flags and exit statuses.
func TestExecBusybox(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	ref := reg.Host + "/library/busybox:1.38.0-musl"
	mustStrata(t, root, "pull", ref)
	id := detached(t, root, "--name", "bb", "-e", "IMG=set", ref, "sleep", "1000")

	ps := mustStrata(t, root, "exec", "bb", "ps", "-o", "pid,args")
	lines := strings.Split(strings.TrimSpace(ps.Stdout), "\n")
	if len(lines) < 2 || strings.Join(strings.Fields(lines[1]), " ") != "1 sleep 1000" {
		t.Errorf("exec ps printed %q, want PID 1 to be the entrypoint 'sleep 1000'", ps.Stdout)
	}
	tests := []struct {
		args     []string
		wantCode int
		want     string
	}{
		{args: []string{"bb", "sh", "-c", "echo $IMG $X"}, want: "set"},
		{args: []string{"-e", "X=y", "bb", "sh", "-c", "echo $IMG $X"}, want: "set y"},
		{args: []string{"-w", "/tmp", "bb", "pwd"}, want: "/tmp"},
		{args: []string{"-u", "nobody", "bb", "id", "-u"}, want: "65534"},
		{args: []string{id[:12], "hostname"}, want: id[:12]},
		{args: []string{"bb", "sh", "-c", "exit 7"}, wantCode: 7},
		{args: []string{"bb", "nosuchcommand"}, wantCode: 127},
		{args: []string{"bb", "/etc/passwd"}, wantCode: 126},
		{args: []string{"nosuchcontainer", "true"}, wantCode: 1}, // docker's CLI: the daemon's error, exit 1
	}
	for _, tt := range tests {
		r := strata(t, root, append([]string{"exec"}, tt.args...)...)
		if r.Code != tt.wantCode {
			t.Errorf("exec %q = %d, want %d (stderr %q)", tt.args, r.Code, tt.wantCode, r.Stderr)
			continue
		}
		if tt.want != "" && strings.TrimSpace(r.Stdout) != tt.want {
			t.Errorf("exec %q printed %q, want %q", tt.args, r.Stdout, tt.want)
		}
		if (tt.wantCode >= 125 || tt.wantCode == 1) && strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
			t.Errorf("exec %q: stderr %q, want one line", tt.args, r.Stderr)
		}
	}

	top := mustStrata(t, root, "top", "bb")
	pid := containerPid(t, root, "bb")
	if !strings.Contains(top.Stdout, fmt.Sprintf("%d ", pid)) || !strings.Contains(top.Stdout, "sleep 1000") {
		t.Errorf("top printed %q, want host pid %d running sleep 1000", top.Stdout, pid)
	}
	stats := mustStrata(t, root, "stats", "--no-stream", "--format", "{{.Name}} {{.Pids}}", "bb")
	if strings.TrimSpace(stats.Stdout) != "bb 1" {
		t.Errorf("stats --no-stream printed %q, want 'bb 1'", stats.Stdout)
	}
}

// inspectedContainer is the part of `strata inspect`'s JSON this file reads.
type inspectedContainer struct {
	ID    string `json:"Id"`
	State struct {
		Pid int
	}
	Process *struct {
		Pid        int
		NSpid      []int
		Namespaces []struct {
			Type   string
			Inode  uint64
			Link   string
			Shared bool
		}
		Cgroup *struct {
			Dir    string
			Limits struct {
				Memory    int64 `json:"memory"`
				PidsLimit int64 `json:"pidsLimit"`
			}
		}
		RootFS *struct {
			Lowers []struct {
				DiffID, Digest string
				Size           int64
			}
			Upper string
		}
	}
}

// TestProcessCard compares the card of `strata inspect` with readlink /proc/PID/ns/* and lsns,
// the image's layers and the cgroup's limits, and `explain` with the card.
func TestProcessCard(t *testing.T) {
	requiresContainers(t)
	testutil.Requires(t, testutil.Command("lsns"))
	reg := startRegistry(t)
	root := newRoot(t)
	ref := reg.Host + "/library/alpine:3.20.3"
	mustStrata(t, root, "pull", ref)
	detached(t, root, "--name", "card", "--memory", "64m", "--pids-limit", "50", ref, "sleep", "1000")

	var got []inspectedContainer
	out := mustStrata(t, root, "inspect", "card")
	if err := json.Unmarshal([]byte(out.Stdout), &got); err != nil || len(got) != 1 || got[0].Process == nil {
		t.Fatalf("inspect card = %v, %s", err, out.Stdout)
	}
	card := got[0].Process
	pid := got[0].State.Pid
	if card.Pid != pid || len(card.NSpid) != 2 || card.NSpid[1] != 1 {
		t.Errorf("card Pid %d NSpid %v, want %d and pid 1 inside", card.Pid, card.NSpid, pid)
	}

	lsnsOut, err := exec.Command("lsns", "-J", "-o", "NS,TYPE", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		t.Fatal(err)
	}
	var lsns struct {
		Namespaces []struct {
			NS   uint64 `json:"ns"`
			Type string `json:"type"`
		} `json:"namespaces"`
	}
	if err := json.Unmarshal(lsnsOut, &lsns); err != nil {
		t.Fatal(err)
	}
	fromLsns := map[string]uint64{}
	for _, n := range lsns.Namespaces {
		fromLsns[n.Type] = n.NS
	}
	own := map[string]bool{"mnt": true, "uts": true, "ipc": true, "pid": true, "net": true, "cgroup": true}
	var explainWant []string
	for _, ns := range card.Namespaces {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns.Type))
		if err != nil {
			t.Fatal(err)
		}
		if ns.Link != link || ns.Inode != fromLsns[ns.Type] {
			t.Errorf("card %s = %s (%d); readlink %s, lsns %d", ns.Type, ns.Link, ns.Inode, link, fromLsns[ns.Type])
		}
		if ns.Shared == own[ns.Type] {
			t.Errorf("card %s: Shared %v, want %v", ns.Type, ns.Shared, !own[ns.Type])
		}
		if !ns.Shared {
			explainWant = append(explainWant, fmt.Sprintf("%s %d", ns.Type, ns.Inode))
		}
	}
	if len(card.Namespaces) != len(fromLsns) {
		t.Errorf("card has %d namespaces, lsns %d", len(card.Namespaces), len(fromLsns))
	}

	if cg := card.Cgroup; cg == nil || cg.Limits.Memory != 64<<20 || cg.Limits.PidsLimit != 50 {
		t.Errorf("card cgroup = %+v, want memory 64m and pids 50 read back", cg)
	}
	layers := mustStrata(t, root, "image", "inspect", "--format", "{{json .RootFS.Layers}}", ref)
	var diffIDs []string
	if err := json.Unmarshal([]byte(layers.Stdout), &diffIDs); err != nil {
		t.Fatal(err)
	}
	if r := card.RootFS; r == nil || len(r.Lowers) != 1 || r.Lowers[0].DiffID != diffIDs[0] ||
		!strings.HasPrefix(r.Lowers[0].Digest, "sha256:") || r.Lowers[0].Size <= 0 || r.Upper == "" {
		t.Errorf("card rootfs = %+v, want one lower with DiffID %v, its digest and size, and an upper", card.RootFS, diffIDs)
	}

	if f := mustStrata(t, root, "inspect", "--format", "{{.Process.Pid}} {{.Process.Security.NoNewPrivs}}", "card"); strings.TrimSpace(f.Stdout) != fmt.Sprintf("%d true", pid) {
		t.Errorf("inspect --format '{{.Process.Pid}} {{.Process.Security.NoNewPrivs}}' = %q, want %d true", f.Stdout, pid)
	}
	// A name that is no container is an image, as with docker inspect; neither is an error.
	if img := mustStrata(t, root, "inspect", "--format", "{{.Id}}", ref); !strings.HasPrefix(img.Stdout, "sha256:") {
		t.Errorf("inspect IMAGE = %q, want the image ID", img.Stdout)
	}
	if r := strata(t, root, "inspect", "nosuchthing"); r.Code == 0 || strings.TrimSpace(r.Stdout) != "[]" || !strings.Contains(r.Stderr, "no such object: nosuchthing") {
		t.Errorf("inspect nosuchthing = %d, %q, %q, want an error and []", r.Code, r.Stdout, r.Stderr)
	}
	text := mustStrata(t, root, "inspect", "--proc", "card")
	explain := mustStrata(t, root, "explain", "card")
	for _, w := range explainWant {
		if !strings.Contains(explain.Stdout, w) {
			t.Errorf("explain does not name %q:\n%s", w, explain.Stdout)
		}
		if _, inode, _ := strings.Cut(w, " "); !strings.Contains(text.Stdout, inode) {
			t.Errorf("inspect --proc does not name inode %s:\n%s", inode, text.Stdout)
		}
	}
	for _, cmd := range []string{fmt.Sprintf("ls -l /proc/%d/ns", pid), fmt.Sprintf("lsns -p %d", pid), fmt.Sprintf("nsenter --net --target %d ip addr", pid)} {
		if !strings.Contains(explain.Stdout, cmd) {
			t.Errorf("explain lacks %q:\n%s", cmd, explain.Stdout)
		}
	}
}

// TestEnterNetRunsHostIP runs the host's `ip` in a container's network namespace: it sees
// only the container's lo.
func TestEnterNetRunsHostIP(t *testing.T) {
	requiresContainers(t)
	testutil.Requires(t, testutil.Command("ip"))
	reg := startRegistry(t)
	root := newRoot(t)
	ref := reg.Host + "/library/alpine:3.20.3"
	mustStrata(t, root, "pull", ref)
	detached(t, root, "--name", "net", ref, "sleep", "1000")

	out := mustStrata(t, root, "enter", "net", "--", "ip", "-o", "link")
	lines := strings.Split(strings.TrimSpace(out.Stdout), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], ": lo:") {
		t.Errorf("enter net -- ip -o link = %q, want only lo", lines)
	}
	host, err := exec.Command("ip", "-o", "link").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(host), "\n") > 1 && len(lines) == strings.Count(string(host), "\n") {
		t.Errorf("enter saw as many interfaces as the host: %q", lines)
	}
}

// TestStaticBinaryImage runs an image whose only file is a static busybox: `exec sh` has
// nothing to run (127), while `enter --ns all` runs host tools against it.
func TestStaticBinaryImage(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	ref := reg.Host + "/test/static:1"
	pushStaticImage(t, reg.Upstream+"/test/static:1")
	mustStrata(t, root, "pull", ref)
	id := detached(t, root, "--name", "static", ref)
	pid := containerPid(t, root, "static")

	if r := strata(t, root, "exec", "static", "sh", "-c", "true"); r.Code != 127 {
		t.Errorf("exec static sh = %d, want 127 (stderr %q)", r.Code, r.Stderr)
	}
	script := fmt.Sprintf("test -x /proc/%[1]d/root/busybox && echo has-busybox; test -e /proc/%[1]d/root/bin || echo no-bin; hostname; readlink /proc/self/ns/mnt", pid)
	out := mustStrata(t, root, "enter", "--ns", "all", "static", "--", "sh", "-c", script)
	mnt, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(out.Stdout)
	want := []string{"has-busybox", "no-bin", id[:12], mnt}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("enter --ns all -- sh -c %q printed %q, want %q", script, got, want)
	}
}

// pushStaticImage pushes to ref a one-layer image whose only file is /busybox, busybox's static
// binary from testdata, with entrypoint ["/busybox", "sleep", "1000"].
func pushStaticImage(t *testing.T, ref string) {
	t.Helper()
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := testimages.Busybox(td)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) == 0 {
		t.Fatalf("busybox index: %v", err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	bin := busyboxBinary(t, img)
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	if err := tw.WriteHeader(&tar.Header{Name: "busybox", Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(bin); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar.Bytes())), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	static, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	static, err = mutate.Config(static, v1.Config{Entrypoint: []string{"/busybox", "sleep", "1000"}})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := static.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf.OS, cf.Architecture = "linux", testimages.HostArch()
	if static, err = mutate.ConfigFile(static, cf); err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := remote.Write(tag, static, remote.WithContext(ctx)); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

// busyboxBinary returns bin/busybox from the busybox image's layer. In the upstream layer it
// is a hard link to the one regular file of /bin ("bin/["), which comes first.
func busyboxBinary(t *testing.T, img v1.Image) []byte {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) == 0 {
		t.Fatalf("busybox layers: %v", err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("bin/busybox not found in the busybox layer: %v", err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		switch {
		case h.Typeflag == tar.TypeReg && strings.HasPrefix(name, "bin/"):
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[name] = b
			if name == "bin/busybox" {
				return b
			}
		case h.Typeflag == tar.TypeLink && name == "bin/busybox":
			if b, ok := files[strings.TrimPrefix(h.Linkname, "./")]; ok {
				return b
			}
			t.Fatalf("bin/busybox links to %s, which is not a regular file before it", h.Linkname)
		}
	}
}

// TestExecStdinDetachSignals checks exec -i, exec -d, and that a signal sent to `strata exec`
// reaches the command, which decides what to do with it.
func TestExecStdinDetachSignals(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	ref := reg.Host + "/library/busybox:1.38.0-musl"
	mustStrata(t, root, "pull", ref)
	detached(t, root, "--name", "sig", ref, "sleep", "1000")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in := exec.CommandContext(ctx, strataBin, "--root", root, "exec", "-i", "sig", "cat")
	in.Stdin = strings.NewReader("from stdin")
	if out, err := in.Output(); err != nil || string(out) != "from stdin" {
		t.Errorf("exec -i cat = %q, %v, want %q", out, err, "from stdin")
	}

	mustStrata(t, root, "exec", "-d", "sig", "sh", "-c", "echo detached > /tmp/d")
	r := mustStrata(t, root, "exec", "sig", "sh", "-c", "while [ ! -s /tmp/d ]; do sleep 0.05; done; cat /tmp/d")
	if strings.TrimSpace(r.Stdout) != "detached" {
		t.Errorf("the file of exec -d holds %q, want detached", r.Stdout)
	}

	sig := exec.CommandContext(ctx, strataBin, "--root", root, "exec", "sig", "sh", "-c", `trap "echo got TERM; exit 5" TERM; echo ready; while :; do sleep 0.1; done`)
	stdout, err := sig.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sig.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("exec with a TERM trap printed %q, %v, want ready", buf, err)
	}
	if err := sig.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stdout)
	err = sig.Wait()
	if sig.ProcessState.ExitCode() != 5 || strings.TrimSpace(string(rest)) != "got TERM" {
		t.Errorf("exec after SIGTERM = %v, printed %q, want exit 5 and 'got TERM'", err, rest)
	}
}

// TestRunForwardsTermAndInt: SIGTERM and SIGINT sent to a foreground `strata run` reach the
// container, which decides, as docker run's --sig-proxy passes them; they used to SIGKILL it
// (137), so a `timeout` or a systemd stop of strata skipped the container's shutdown.
func TestRunForwardsTermAndInt(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	for _, s := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		run := exec.CommandContext(ctx, strataBin, "--root", root, "run", "--rm", "alpine", "sh", "-c",
			`trap "echo got it; exit 5" TERM INT; echo ready; while :; do sleep 0.1; done`)
		stdout, err := run.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := run.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 6)
		if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "ready\n" {
			t.Fatalf("run with a trap printed %q, %v, want ready", buf, err)
		}
		if err := run.Process.Signal(s); err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(stdout)
		err = run.Wait()
		if run.ProcessState.ExitCode() != 5 || strings.TrimSpace(string(rest)) != "got it" {
			t.Errorf("run after %v = %v, printed %q, want exit 5 and 'got it'", s, err, rest)
		}
	}
}

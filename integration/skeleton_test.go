package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPullStoresVerifiedBlobs pulls alpine from docker-registry and checks that every stored
// blob hashes to its name, and that a second pull downloads no blob.
func TestPullStoresVerifiedBlobs(t *testing.T) {
	reg := startRegistry(t)
	root := newRoot(t)
	ref := reg.Host + "/library/alpine:3.20.3"

	mustStrata(t, root, "pull", ref)
	if n := reg.BlobGets(); n != 2 {
		t.Errorf("first pull fetched %d blobs, want 2 (config and layer); requests: %v", n, reg.Requests())
	}
	blobs := filepath.Join(root, "oci", "blobs", "sha256")
	entries, err := os.ReadDir(blobs)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 3 {
		t.Fatalf("store holds %d blobs, want at least manifest, config and layer", len(entries))
	}
	for _, e := range entries {
		if got := sha256File(t, filepath.Join(blobs, e.Name())); got != e.Name() {
			t.Errorf("blob %s hashes to %s", e.Name(), got)
		}
	}

	reg.Reset()
	second := mustStrata(t, root, "pull", ref)
	if n := reg.BlobGets(); n != 0 {
		t.Errorf("second pull fetched %d blobs, want 0; requests: %v", n, reg.Requests())
	}
	if !strings.Contains(second.Stdout, "Image is up to date") {
		t.Errorf("second pull said %q, want 'Image is up to date'", second.Stdout)
	}
}

// TestMirrorServesDockerHubNames pulls `alpine` through --registry-mirror, as air-gapped
// sites do, and runs it.
func TestMirrorServesDockerHubNames(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)

	out := mustStrata(t, root, "--registry-mirror", "http://"+reg.Host, "pull", "alpine")
	if !strings.Contains(out.Stdout, "docker.io/library/alpine:latest") {
		t.Errorf("pull alpine printed %q, want the full reference docker.io/library/alpine:latest", out.Stdout)
	}
	images := mustStrata(t, root, "images")
	if !strings.Contains(images.Stdout, "alpine") || !strings.Contains(images.Stdout, "latest") {
		t.Errorf("images = %q, want alpine latest", images.Stdout)
	}
	run := mustStrata(t, root, "run", "--rm", "alpine", "cat", "/etc/alpine-release")
	if strings.TrimSpace(run.Stdout) != "3.20.3" {
		t.Errorf("cat /etc/alpine-release = %q, want 3.20.3", run.Stdout)
	}
}

// TestRunExitCodes checks docker's exit status rules and one-line errors.
func TestRunExitCodes(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	mustStrata(t, root, "--registry-mirror", "http://"+reg.Host, "pull", "alpine")

	if r := strata(t, root, "run", "--rm", "alpine", "sh", "-c", "exit 3"); r.Code != 3 {
		t.Errorf("run sh -c 'exit 3' = %d, want 3 (stderr %q)", r.Code, r.Stderr)
	}
	r := strata(t, root, "run", "--rm", "alpine", "nosuchcmd")
	if r.Code != 127 {
		t.Errorf("run nosuchcmd = %d, want 127", r.Code)
	}
	assertOneLineError(t, r.Stderr, "nosuchcmd")
	if r := strata(t, root, "run", "--rm", "alpine", "/etc/hostname"); r.Code != 126 {
		t.Errorf("run /etc/hostname (not executable) = %d, want 126 (stderr %q)", r.Code, r.Stderr)
	}
	r = strata(t, root, "run", "--rm", "nosuchimage")
	if r.Code != 125 {
		t.Errorf("run of a missing image = %d, want 125", r.Code)
	}
	assertOneLineError(t, r.Stderr, "strata pull")
}

// TestPullBadReference checks that unreachable and malformed references fail with one line
// and status 1.
func TestPullBadReference(t *testing.T) {
	root := newRoot(t)
	for _, ref := range []string{"nosuch.invalid/x", "Invalid//Ref", "127.0.0.1:1/x:latest"} {
		r := strata(t, root, "pull", ref)
		if r.Code != 1 {
			t.Errorf("pull %s = exit %d, want 1 (stderr %q)", ref, r.Code, r.Stderr)
		}
		assertOneLineError(t, r.Stderr, "")
	}
	if os.Geteuid() == 0 && fakeDNSQueries.Load() == 0 {
		t.Errorf("the unknown host was not looked up through the test's NXDOMAIN responder")
	}
}

// TestRunRemovesEverything checks that run --rm leaves no mount under the root, no container
// and no cgroup, and that the container has its own namespaces.
func TestRunRemovesEverything(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	mustStrata(t, root, "--registry-mirror", "http://"+reg.Host, "pull", "alpine")

	out := mustStrata(t, root, "run", "--rm", "alpine", "sh", "-c", "hostname; for n in pid mnt net uts ipc cgroup; do readlink /proc/self/ns/$n; done")
	lines := strings.Fields(out.Stdout)
	if len(lines) != 7 {
		t.Fatalf("output %q, want hostname and 6 namespace links", out.Stdout)
	}
	hostname := lines[0]
	if len(hostname) != 12 {
		t.Errorf("hostname %q, want the 12-hex short container ID", hostname)
	}
	for i, ns := range []string{"pid", "mnt", "net", "uts", "ipc", "cgroup"} {
		host, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		if lines[i+1] == host {
			t.Errorf("container's %s namespace %s is the host's", ns, host)
		}
	}
	if m := mountsUnder(t, root); len(m) != 0 {
		t.Errorf("mounts left under the root after run --rm: %v", m)
	}
	if ps := mustStrata(t, root, "ps", "-a", "-q"); strings.TrimSpace(ps.Stdout) != "" {
		t.Errorf("ps -a -q after run --rm = %q, want nothing", ps.Stdout)
	}
	cgroupDirs, _ := filepath.Glob("/sys/fs/cgroup/*/strata/" + hostname + "*")
	v2, _ := filepath.Glob("/sys/fs/cgroup/strata/" + hostname + "*")
	if left := append(cgroupDirs, v2...); len(left) != 0 {
		t.Errorf("cgroups left after run --rm: %v", left)
	}
}

// TestPsAndRm runs a container without --rm, lists it, and removes it.
func TestPsAndRm(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	mustStrata(t, root, "--registry-mirror", "http://"+reg.Host, "pull", "alpine")

	mustStrata(t, root, "run", "--name", "kept", "alpine", "true")
	ps := mustStrata(t, root, "ps", "-a")
	if !strings.Contains(ps.Stdout, "kept") || !strings.Contains(ps.Stdout, "Exited (0)") {
		t.Errorf("ps -a = %q, want the container 'kept' Exited (0)", ps.Stdout)
	}
	if r := strata(t, root, "run", "--name", "kept", "alpine", "true"); r.Code != 125 || !strings.Contains(r.Stderr, "already in use") {
		t.Errorf("second run --name kept = %d %q, want 125 and 'already in use'", r.Code, r.Stderr)
	}
	mustStrata(t, root, "rm", "kept")
	if ps := mustStrata(t, root, "ps", "-a", "-q"); strings.TrimSpace(ps.Stdout) != "" {
		t.Errorf("ps -a -q after rm = %q, want nothing", ps.Stdout)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "containers"))
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			t.Errorf("containers dir after rm holds %s", e.Name())
		}
	}
}

func assertOneLineError(t *testing.T, stderr, want string) {
	t.Helper()
	s := strings.TrimRight(stderr, "\n")
	if s == "" || strings.Contains(s, "\n") || !strings.HasPrefix(s, "strata: ") {
		t.Errorf("stderr = %q, want one line starting with 'strata: '", stderr)
	}
	if want != "" && !strings.Contains(s, want) {
		t.Errorf("stderr = %q, want it to mention %q", stderr, want)
	}
	if strings.Contains(s, "panic") || strings.Contains(s, "goroutine") {
		t.Errorf("stderr looks like a panic: %q", stderr)
	}
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestPullNoUnpack stores the blobs only, as a mirror's cache wants; run unpacks on first use.
func TestPullNoUnpack(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	ref := reg.Host + "/library/alpine:3.20.3"

	mustStrata(t, root, "pull", "--no-unpack", ref)
	if layers, _ := filepath.Glob(filepath.Join(root, "snapshots", "[0-9a-f]*")); len(layers) != 0 {
		t.Errorf("pull --no-unpack unpacked %v", layers)
	}
	reg.Reset()
	if again := mustStrata(t, root, "pull", "--no-unpack", ref); !strings.Contains(again.Stdout, "Image is up to date") {
		t.Errorf("second pull --no-unpack said %q, want up to date", again.Stdout)
	}
	if n := reg.BlobGets(); n != 0 {
		t.Errorf("second pull --no-unpack fetched %d blobs", n)
	}
	if out := mustStrata(t, root, "run", "--rm", ref, "cat", "/etc/alpine-release"); strings.TrimSpace(out.Stdout) != "3.20.3" {
		t.Errorf("run after pull --no-unpack = %q, want 3.20.3", out.Stdout)
	}
}

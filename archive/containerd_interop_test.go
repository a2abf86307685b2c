package archive

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
)

// startContainerd runs a containerd of the test's own (root, state and socket in a temp dir,
// no CRI) and returns the ctr arguments that talk to it. The daemon is killed by PID at the end.
func startContainerd(t *testing.T) []string {
	t.Helper()
	testutil.Requires(t, testutil.Root, testutil.Command("containerd"), testutil.Command("ctr"))
	dir, err := os.MkdirTemp("", "ctrd") // short: the socket path must fit sun_path
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "c.sock")
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = ""
[metrics]
  address = ""
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc")
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("containerd", "--config", filepath.Join(dir, "config.toml"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting containerd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
		// Unpacked snapshots may be mounted for a moment during import; nothing stays.
		_ = exec.Command("umount", "-R", filepath.Join(dir, "root")).Run()
		os.RemoveAll(dir)
	})
	args := []string{"--address", sock, "--namespace", "strata-test"}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := exec.Command("ctr", append(args, "version")...).Run(); err == nil {
			return args
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			t.Skipf("skipping: containerd did not start here: %s", lastLines(string(log), 3))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, " | ")
}

// TestContainerdImportsOurDockerArchive: containerd's importer (what `docker load` runs on
// Docker's containerd image store, and `ctr images import`) reads strata's default archive,
// with the image's name, its config (the image ID) and every layer.
func TestContainerdImportsOurDockerArchive(t *testing.T) {
	ctr := startContainerd(t)
	file := busyboxDockerArchive(t)
	if out, err := exec.Command("ctr", append(ctr, "images", "import", "--no-unpack", file)...).CombinedOutput(); err != nil {
		t.Fatalf("ctr images import: %v\n%s", err, out)
	}
	images, err := exec.Command("ctr", append(ctr, "images", "ls", "-q")...).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr images ls: %v\n%s", err, images)
	}
	if !strings.Contains(string(images), "docker.io/library/busybox:1.38.0-musl") {
		t.Errorf("containerd has images %q, want docker.io/library/busybox:1.38.0-musl", images)
	}
	content, err := exec.Command("ctr", append(ctr, "content", "ls", "-q")...).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr content ls: %v\n%s", err, content)
	}
	if !strings.Contains(string(content), "sha256:654fc8fd836e35f4a64586bddf8f59b9029b48cf80f520834c6c98ca8ab5def9") {
		t.Errorf("containerd's content lacks busybox's config (the image ID):\n%s", content)
	}
	if out, err := exec.Command("ctr", append(ctr, "images", "check")...).CombinedOutput(); err != nil || !strings.Contains(string(out), "complete") {
		t.Errorf("ctr images check: %v\n%s", err, out)
	}
}

// busyboxDockerArchive writes the busybox layout of testdata as strata's default archive and
// returns its path.
func busyboxDockerArchive(t *testing.T) string {
	t.Helper()
	src := newStore(t)
	if _, err := LoadDir(t.Context(), src, busyboxDir(t), LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	refs, err := src.List()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "busybox.tar")
	if err := os.WriteFile(file, save(t, src, DockerArchive, refs...), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

package integration

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestRunMountOnDev runs containers with a mount at /dev itself. A bind there (-v /dev, an image's
// VOLUME /dev, the host's /dev) is kept as it is, as runc keeps it, but for a null device at a
// volume's /dev/null; a tmpfs gets the standard nodes on top. Either way the masks still hide /proc/interrupts: they used to bind /dev/null by
// path after the user's mount hid it, and every such run failed with "mask /proc/interrupts".
func TestRunMountOnDev(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	const plain, withVolume = "devmount/plain:1", "devmount/volume:1"
	loadVolumeImage(t, root, plain, nil, nil)
	loadVolumeImage(t, root, withVolume, nil, nil, "/dev")

	// The masked /proc/interrupts reads empty; the host's has a line per CPU.
	const probe = "wc -c < /proc/interrupts; ls -A /dev | tr '\\n' ' '"
	emptyDir := t.TempDir()
	standard := []string{"fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		standard = append([]string{"core"}, standard...) // the link to it, as runc makes it
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string // /dev's entries; nil: the host's own
	}{
		{"anonymous volume", []string{"-v", "/dev", plain}, []string{"null"}},
		{"image VOLUME", []string{withVolume}, []string{"null"}},
		{"tmpfs", []string{"--tmpfs", "/dev", plain}, standard},
		// An empty host dir stays empty, as docker leaves it; the command's stdin comes from the
		// null device kept before the bind (it was opened by path: "no such file").
		{"empty host dir", []string{"-v", emptyDir + ":/dev", plain}, []string{}},
		{"empty host dir privileged", []string{"--privileged", "-v", emptyDir + ":/dev", plain}, []string{}},
		{"host /dev", []string{"-v", "/dev:/dev", plain}, nil},
		{"host /dev privileged", []string{"--privileged", "-v", "/dev:/dev", plain}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", "--rm"}, tc.args...)
			r := strata(t, root, append(args, "sh", "-c", probe)...)
			if r.Code != 0 {
				t.Fatalf("run %v: exit %d, stderr %q", tc.args, r.Code, r.Stderr)
			}
			size, list, _ := strings.Cut(r.Stdout, "\n")
			masked := strings.TrimSpace(size) == "0"
			if privileged := slices.Contains(tc.args, "--privileged"); masked == privileged {
				t.Errorf("run %v: /proc/interrupts has %s bytes, want it masked unless privileged", tc.args, size)
			}
			got := strings.Fields(list)
			if tc.want == nil {
				if !slices.Contains(got, "null") || len(got) < len(hostDevEntries(t)) {
					t.Errorf("run %v: /dev holds %v, want the host's %v", tc.args, got, hostDevEntries(t))
				}
				return
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("run %v: /dev holds %v, want %v", tc.args, got, tc.want)
			}
		})
	}

	t.Run("tmpfs nodes work", func(t *testing.T) {
		r := strata(t, root, "run", "--rm", "--tmpfs", "/dev", plain, "sh", "-c",
			"echo x > /dev/null && head -c 3 /dev/zero | wc -c && grep -c ' /dev/pts devpts ' /proc/mounts && grep -c ' /dev tmpfs ' /proc/mounts")
		if r.Code != 0 || r.Stdout != "3\n1\n1\n" {
			t.Errorf("run --tmpfs /dev: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
	})
}

// hostDevEntries lists the host's /dev.
func hostDevEntries(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir("/dev")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestRunReadOnlyTmpfs: a read-only tmpfs (--tmpfs /x:ro, --mount type=tmpfs,readonly) is
// mounted writable, gets what goes in it (the standard nodes of a /dev, the mount points of
// the user's mounts beneath it), then is made read-only, itself alone, as runc does
// (finalizeRootfs): --tmpfs /dev:ro failed ("mount /dev/pts: mkdir: read-only file system"),
// and so did a bind below a read-only tmpfs.
func TestRunReadOnlyTmpfs(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	const ref = "devmount/rotmpfs:1"
	loadVolumeImage(t, root, ref, nil, nil)
	host := t.TempDir()
	for _, tc := range []struct {
		name  string
		args  []string
		probe string
		want  string
	}{
		{"dev", []string{"--tmpfs", "/dev:ro"},
			"echo x > /dev/null && touch /dev/shm/w && head -c 2 /dev/zero | wc -c; touch /dev/new 2>/dev/null || echo ro; grep -c ' /dev tmpfs ro,' /proc/mounts",
			"2\nro\n1\n"},
		{"mount dev", []string{"--mount", "type=tmpfs,dst=/dev,readonly"},
			"touch /dev/shm/w && touch /dev/new 2>/dev/null || echo ro", "ro\n"},
		{"bind beneath", []string{"--tmpfs", "/x:ro,mode=1777", "-v", host + ":/x/sub"},
			"touch /x/sub/w && stat -c %a /x; touch /x/new 2>/dev/null || echo ro", "1777\nro\n"},
		{"volume beneath", []string{"--mount", "type=tmpfs,dst=/x,readonly", "-v", "/x/a/vol"},
			"touch /x/a/vol/w && touch /x/new 2>/dev/null || echo ro", "ro\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"run", "--rm"}, tc.args...), ref, "sh", "-c", tc.probe)
			if r := strata(t, root, args...); r.Code != 0 || r.Stdout != tc.want {
				t.Errorf("run %v: exit %d, stdout %q, stderr %q; want %q", tc.args, r.Code, r.Stdout, r.Stderr, tc.want)
			}
		})
	}
	if _, err := os.Stat(host + "/w"); err != nil {
		t.Errorf("the bind beneath the read-only tmpfs: %v", err)
	}
}

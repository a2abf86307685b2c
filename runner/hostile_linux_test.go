package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/mount"
	"golang.org/x/sys/unix"
)

// TestRunBindOverHostileFiles: an image whose bind targets (/etc/hosts, /etc/resolv.conf, a -v
// file's target) are a FIFO or a device node gets the binds over them, as with docker; the
// init never opens them, so it neither hangs on the FIFO nor fails on the nodev root.
func TestRunBindOverHostileFiles(t *testing.T) {
	for _, ro := range []bool{false, true} {
		spec := testSpec(t, "cat", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/vol")
		spec.Root[0].Options = append(spec.Root[0].Options, "nodev") // as the snapshotter mounts it
		spec.ReadOnly = ro
		spec.Hostname = "inside"
		etc := filepath.Join(spec.Dir, "upper", "etc")
		if err := os.MkdirAll(etc, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, err := range []error{
			unix.Mkfifo(filepath.Join(etc, "hosts"), 0o644),
			unix.Mknod(filepath.Join(etc, "resolv.conf"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3))),
			unix.Mkfifo(filepath.Join(etc, "hostname"), 0o644),
			unix.Mkfifo(filepath.Join(spec.Dir, "upper", "vol"), 0o644),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		src := filepath.Join(t.TempDir(), "vol")
		if err := os.WriteFile(src, []byte("volume\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		spec.Mounts = []mount.Mount{{Type: "bind", Source: src, Target: "/vol", Options: []string{"rbind"}}}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var out bytes.Buffer
		code, err := Run(ctx, spec, Stdio{Stdout: &out})
		hung := ctx.Err() != nil
		cancel()
		if hung {
			t.Fatalf("read-only %v: Run hung on an image whose bind targets are FIFOs", ro)
		}
		if err != nil || code != 0 || !bytes.Contains(out.Bytes(), []byte("127.0.1.1\tinside\n")) ||
			!bytes.HasSuffix(out.Bytes(), []byte("inside\nvolume\n")) {
			t.Errorf("read-only %v: Run = %d, %v, %q; want strata's files and the volume", ro, code, err, out.String())
		}
	}
}

// TestRunMountThroughSymlinkIntoProc: the image's symlinks cannot lead a mount where
// validateMountTargets refuses one by name, on or inside /proc (over the masks, or over the
// cap_last_cap the init reads to drop capabilities) or onto the root; a file runc allows
// there may still be bound through one.
func TestRunMountThroughSymlinkIntoProc(t *testing.T) {
	vol := t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "cap_last_cap"), []byte("3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "cpuinfo")
	if err := os.WriteFile(file, []byte("lxcfs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, link, target string
		mount              mount.Mount
		want               string // the error; "" for a run that prints the bound file
	}{
		{"bind into /proc/sys", "/proc/sys/kernel", "data", mount.Mount{Type: "bind", Source: vol, Target: "/data"}, "/data in the image leads into /proc"},
		{"relative link", "../proc", "data", mount.Mount{Type: "tmpfs", Target: "/data"}, "/data in the image leads into /proc"},
		{"parent of the target", "/proc/sys", "data", mount.Mount{Type: "bind", Source: vol, Target: "/data/kernel"}, "/data/kernel in the image leads into /proc"},
		{"etc files", "/proc/sys/kernel", "etc", mount.Mount{}, "/etc/hostname in the image leads into /proc"},
		{"onto the root", "/", "data", mount.Mount{Type: "bind", Source: vol, Target: "/data"}, "/data in the image leads to the root"},
		{"allowed file", "/proc/cpuinfo", "data", mount.Mount{Type: "bind", Source: file, Target: "/data"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec(t, "cat", "/proc/cpuinfo")
			if err := os.RemoveAll(filepath.Join(spec.Dir, "upper", tt.target)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(tt.link, filepath.Join(spec.Dir, "upper", tt.target)); err != nil {
				t.Fatal(err)
			}
			if tt.mount.Type != "" {
				spec.Mounts = []mount.Mount{tt.mount}
			}
			code, out, _, err := runOut(t, spec)
			if tt.want == "" {
				if err != nil || code != 0 || out != "lxcfs\n" {
					t.Errorf("Run = %d, %v, %q; want the bound file", code, err, out)
				}
			} else if code != ExitOwnError || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %d, %v, want 125 and %q", code, err, tt.want)
			}
		})
	}
}

// TestOpenRegularKernelFiles: the init and exec's helper read the container's /etc/passwd
// with all capabilities; a link to a file of procfs or sysfs (/proc/kmsg, which such a read
// drains) counts as absent, as a FIFO does.
func TestOpenRegularKernelFiles(t *testing.T) {
	regular := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(regular, []byte("root:x:0:0::/root:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if f := openRegular(regular); f == nil {
		t.Errorf("openRegular(%s) = nil, want the file", regular)
	} else {
		f.Close()
	}
	for _, p := range []string{"/proc/self/status", "/sys/kernel/uevent_seqnum"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if f := openRegular(p); f != nil {
			f.Close()
			t.Errorf("openRegular(%s) opened it, want nil: a kernel file is not the image's", p)
		}
	}
}

// TestRunHugePasswd: an image's /etc/passwd and /etc/group of tens of MB (a layer of a few
// KB compresses to that) are read in the container's memory limit: the init, which runs
// without a garbage collector, keeps only the lines that name the user.
func TestRunHugePasswd(t *testing.T) {
	spec := testSpec(t, "grep", "-E", "^(Uid|Gid|Groups):", "/proc/self/status")
	spec.Resources.Memory = 64 << 20
	spec.User = "w"
	etc := filepath.Join(spec.Dir, "upper", "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, file := range map[string]struct{ filler, last string }{
		"passwd": {"a:x:1:1::/:/bin/sh\n", "w:x:7:8::/home/w:/bin/sh\n"},
		"group":  {"g:x:1:a,b\n", "wg:x:77:w\n"},
	} {
		data := append(bytes.Repeat([]byte(file.filler), 32<<20/len(file.filler)), file.last...)
		if err := os.WriteFile(filepath.Join(etc, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := strings.Join(strings.Fields(mustRun(t, spec)), " ")
	if want := "Uid: 7 7 7 7 Gid: 8 8 8 8 Groups: 8 77"; got != want {
		t.Errorf("-u w = %q, want %q", got, want)
	}
}

// TestRunWorkdirThroughDanglingSymlink: a missing working directory is made where the image's
// symlinks lead, even a link to nowhere yet, as docker makes it; inside the root, whatever
// the link says.
func TestRunWorkdirThroughDanglingSymlink(t *testing.T) {
	for link, want := range map[string]string{
		"/nowhere/dir":                  "/nowhere/dir/sub",
		"../../nowhere":                 "/nowhere/sub",
		"/proc/self/root/../../nowhere": "/nowhere/sub",
	} {
		spec := testSpec(t, "sh", "-c", "cd -P . && pwd")
		if err := os.Symlink(link, filepath.Join(spec.Dir, "upper", "w")); err != nil {
			t.Fatal(err)
		}
		spec.Cwd = "/w/sub"
		code, out, _, err := runOut(t, spec)
		if err != nil || code != 0 || strings.TrimSpace(out) != want {
			t.Errorf("-w /w/sub with /w -> %s: Run = %d, %v, %q; want it made at %s", link, code, err, out, want)
		}
	}
}

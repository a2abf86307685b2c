package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
	"golang.org/x/sys/unix"
)

// TestRunMountThroughSymlinkOntoDev: the plan gives a mount named /dev or /dev/null the null
// device it keeps for the masks and the command's stdin; one the image's symlinks lead there
// instead is refused by what it covers, as one onto the root is. It used to fail at a mask
// ("mask /proc/interrupts: no such file or directory"), or, for an etc file, ran with the
// container's hostname file as /dev/null under -i and bound over /proc/kcore.
func TestRunMountThroughSymlinkOntoDev(t *testing.T) {
	vol := t.TempDir()
	tests := []struct {
		name, link, target string
		mount              mount.Mount
		stdin              bool
		want               string // the error; "" for a run that succeeds
	}{
		{"a volume onto /dev", "/dev", "data", mount.Mount{Type: TypeVolume, Source: vol, Target: "/data", Options: []string{"rbind", "nodev"}}, false, "/data in the image leads to /dev"},
		{"a tmpfs onto /dev", "../dev", "data", mount.Mount{Type: "tmpfs", Target: "/data"}, false, "/data in the image leads to /dev"},
		{"a bind onto /dev/null", "/dev/null", "data", mount.Mount{Type: "bind", Source: filepath.Join(vol, "f"), Target: "/data"}, false, "/data in the image leads to /dev/null"},
		{"/etc/hostname onto /dev/null", "/dev/null", "etc/hostname", mount.Mount{}, false, "/etc/hostname in the image leads to /dev/null"},
		{"/etc/hostname onto /dev/null with -i", "/dev/null", "etc/hostname", mount.Mount{}, true, "/etc/hostname in the image leads to /dev/null"},
		{"a bind onto /dev/shm", "/dev/shm", "data", mount.Mount{Type: "bind", Source: vol, Target: "/data"}, false, ""},
	}
	if err := os.WriteFile(filepath.Join(vol, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec(t, "sh", "-c", "test -c /dev/null && test -c /dev/zero")
			spec.Stdin = tt.stdin
			if err := os.RemoveAll(filepath.Join(spec.Dir, "upper", tt.target)); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(spec.Dir, "upper", tt.target)
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(tt.link, link); err != nil {
				t.Fatal(err)
			}
			if tt.mount.Type != "" {
				spec.Mounts = []mount.Mount{tt.mount}
			}
			code, _, stderr, err := runOut(t, spec)
			if tt.want == "" {
				if err != nil || code != 0 {
					t.Errorf("Run = %d, %v (stderr %q); want 0", code, err, stderr)
				}
			} else if code != ExitOwnError || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %d, %v, want 125 and %q", code, err, tt.want)
			}
		})
	}
}

// TestRunWorkdirCleaned: a working directory with "..", "." and doubled slashes is the clean
// one, as docker's, made and entered; a ".." after a name the image lacks failed the chdir.
func TestRunWorkdirCleaned(t *testing.T) {
	spec := testSpec(t, "pwd")
	spec.Cwd = "//a/./nosuch//../c/"
	if got := mustRun(t, spec); got != "/a/c" {
		t.Errorf("pwd in %q = %q, want /a/c", spec.Cwd, got)
	}
}

// TestRunDevVolumeNull: a volume at /dev gets the null device at its /dev/null, made when
// missing and bound over a FIFO; the image's symlink there is refused, where the bind went
// where it led and made the container's /etc/passwd a null device, and a directory is named
// one (the kernel's ENOTDIR said "not a directory").
func TestRunDevVolumeNull(t *testing.T) {
	tests := []struct {
		name string
		make func(null string) error
		want string // the error; "" for a run that finds the null device
	}{
		{"missing", func(string) error { return nil }, ""},
		{"a FIFO", func(null string) error { return unix.Mkfifo(null, 0o644) }, ""},
		{"a symlink to /etc/passwd", func(null string) error { return os.Symlink("/etc/passwd", null) }, "/dev/null in the image is a symlink"},
		{"a dangling symlink", func(null string) error { return os.Symlink("/nowhere", null) }, "/dev/null in the image is a symlink"},
		{"a directory", func(null string) error { return os.Mkdir(null, 0o755) }, "null /dev/null: is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vol := t.TempDir()
			if err := tt.make(filepath.Join(vol, "null")); err != nil {
				t.Fatal(err)
			}
			spec := testSpec(t, "sh", "-c", "test -c /dev/null && ! test -L /dev/null && grep -c ^root: /etc/passwd")
			spec.Mounts = []mount.Mount{{Type: TypeVolume, Source: vol, Target: "/dev", Options: []string{"rbind", "nodev"}}}
			code, out, stderr, err := runOut(t, spec)
			if tt.want == "" {
				if err != nil || code != 0 || out != "1\n" {
					t.Errorf("Run = %d, %v, %q (stderr %q); want 0 and 1", code, err, out, stderr)
				}
			} else if code != ExitOwnError || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %d, %v, %q; want 125 and %q", code, err, out, tt.want)
			}
		})
	}
}

// TestRunDevSymlink: an image whose /dev is a symlink runs, as with runc, which follows it
// inside the root: /dev's tmpfs, devpts, shm, mqueue and the nodes are made in the dir it
// leads to (made when it dangles), the masks still get a null device when a volume covers
// that dir, and a link that would lead the tmpfs over the root or into /proc or /sys, or
// onto a file, is refused. A link whose text names a host dir (or climbs to one) stays
// inside the root: the host dir gets no mount and no file.
func TestRunDevSymlink(t *testing.T) {
	host := t.TempDir()
	vol := t.TempDir()
	if err := os.Mkdir(filepath.Join(vol, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	up := strings.Repeat("../", 12) + strings.TrimPrefix(host, "/")
	check := `cd -P /dev && pwd && test -c /dev/null && test -c /dev/zero && echo x >/dev/null && test -c /dev/pts/ptmx && test -d /dev/shm && ` +
		`grep -c ' /proc/keys ' /proc/self/mountinfo`
	tests := []struct {
		name, link string
		dirs       []string // made in the image first
		data       string   // where the image's /data links to, if anywhere
		mounts     []mount.Mount
		want       string // stdout, or the error
		fails      bool
	}{
		{name: "to a dir of the image", link: "newdev", dirs: []string{"newdev"}, want: "/newdev\n1\n"},
		{name: "dangling, deep", link: "/a/b/dev", want: "/a/b/dev\n1\n"},
		{name: "to a host dir's name", link: host, want: host + "\n1\n"},
		{name: "climbing to a host dir", link: up, want: host + "\n1\n"},
		{name: "a chain", link: "/l1", dirs: []string{"d2"}, want: "/d2\n1\n"},
		{name: "into a volume", link: "/data/dev", dirs: []string{"data/dev"},
			mounts: []mount.Mount{{Type: TypeVolume, Source: vol, Target: "/data", Options: []string{"rbind"}}},
			want:   "/data/dev\n"}, // the volume hides the nodes: the masks still get one
		{name: "a user's bind under it", link: "newdev", dirs: []string{"newdev"},
			mounts: []mount.Mount{{Type: "bind", Source: vol, Target: "/dev/v"}}, want: "/newdev\n1\n"},
		{name: "a volume led onto it", link: "newdev", dirs: []string{"newdev"}, data: "/newdev",
			mounts: []mount.Mount{{Type: TypeVolume, Source: vol, Target: "/data", Options: []string{"rbind"}}},
			want:   "/data in the image leads to /dev", fails: true},
		{name: "a file led onto its null", link: "newdev", dirs: []string{"newdev"}, data: "../newdev/null",
			mounts: []mount.Mount{{Type: "bind", Source: filepath.Join(vol, "f"), Target: "/data"}},
			want:   "/data in the image leads to /dev/null", fails: true},
		{name: "to the root", link: "../../..", want: "/dev in the image leads to the root", fails: true},
		{name: "into /proc", link: "/proc/self", want: "/dev in the image leads to /proc/1, inside /proc or /sys", fails: true},
		{name: "into /sys", link: "/sys/kernel", want: "/dev in the image leads to /sys/kernel, inside /proc or /sys", fails: true},
		{name: "to a file", link: "/etc/passwd", want: "/dev in the image is a symlink to /etc/passwd, which is not a directory", fails: true},
		{name: "a loop", link: "dev", want: "/dev in the image is a symlink: too many levels of symbolic links", fails: true},
		{name: "through a magic link", link: "/proc/self/cwd", want: "/dev in the image is a symlink: too many levels of symbolic links", fails: true},
		{name: "dangling under a file", link: "/etc/passwd/x", want: "/dev in the image is a symlink: not a directory", fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"sh", "-c", check}
			if len(tt.mounts) > 0 && tt.mounts[0].Target == "/data" {
				args = []string{"sh", "-c", `cd -P /dev && pwd && grep -q ' /proc/keys ' /proc/self/mountinfo`}
			}
			spec := testSpec(t, args...)
			upper := filepath.Join(spec.Dir, "upper")
			for _, d := range tt.dirs {
				if err := os.MkdirAll(filepath.Join(upper, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink("/d2", filepath.Join(upper, "l1")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(tt.link, filepath.Join(upper, "dev")); err != nil {
				t.Fatal(err)
			}
			if tt.data != "" {
				if err := os.Symlink(tt.data, filepath.Join(upper, "data")); err != nil {
					t.Fatal(err)
				}
			}
			spec.Mounts = tt.mounts
			code, stdout, stderr, err := runOut(t, spec)
			if tt.fails {
				if code != ExitOwnError || err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("Run = %d, %v, want 125 and %q", code, err, tt.want)
				}
			} else if code != 0 || err != nil || stdout != tt.want {
				t.Errorf("Run = %d, %v, stdout %q (stderr %q); want 0 and %q", code, err, stdout, stderr, tt.want)
			}
			if names, err := os.ReadDir(host); err != nil || len(names) != 0 {
				t.Errorf("host dir holds %v, %v; want nothing", names, err)
			}
			if m, err := mountpointsUnder(host); err != nil || len(m) != 0 {
				t.Errorf("mounts on the host dir: %v, %v", m, err)
			}
		})
	}
}

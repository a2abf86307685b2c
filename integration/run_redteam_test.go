package integration

import (
	"archive/tar"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestRunHostileImageFiles runs images whose own files, and the config naming them, are traps
// for what the init does before the command runs: the places it mounts on (/etc's files,
// /dev, /proc, /sys, volumes) made symlinks, FIFOs, files or directories, the working
// directory and the entrypoint odd. Each runs as docker's does or is refused in one line
// with docker's status (125 strata's, 126/127 the command's), in seconds, touching nothing
// of the host's and leaving no container or mount.
func TestRunHostileImageFiles(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	host := t.TempDir()
	t.Cleanup(func() {
		if names, err := os.ReadDir(host); err != nil || len(names) != 0 {
			t.Errorf("host dir holds %v, %v; want nothing", names, err)
		}
		if m := mountsUnder(t, host); len(m) > 0 {
			t.Errorf("mounts left on the host dir: %v", m)
		}
		if r := strata(t, root, "ps", "-aq"); r.Stdout != "" {
			t.Errorf("containers left: %q", r.Stdout)
		}
	})
	whiteout := func(name string) tar.Header {
		return tar.Header{Name: ".wh." + name, Typeflag: tar.TypeReg, Mode: 0o644}
	}
	link := func(name, to string) tar.Header {
		return tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: to, Mode: 0o777}
	}
	file := func(name string, mode int64) tar.Header {
		return tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode}
	}
	fifo := func(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeFifo, Mode: 0o755} }
	dir := func(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755} }
	entrypoint := func(p string) func(*v1.Config) { return func(c *v1.Config) { c.Entrypoint = []string{p} } }
	volumes := func(vs ...string) func(*v1.Config) {
		return func(c *v1.Config) {
			c.Volumes = map[string]struct{}{}
			for _, v := range vs {
				c.Volumes[v] = struct{}{}
			}
		}
	}
	echo := []string{"sh", "-c", "echo ok"}
	const nulHome = "root:x:0:0:root:/ro\x00ot:/bin/sh\nw:x:7:8::/home/w:/bin/sh\n"
	devOK := []string{"sh", "-c", "cd -P /dev && pwd && test -c /dev/null && test -c /dev/pts/ptmx && echo x >/dev/null && echo ok"}
	for _, tc := range []struct {
		name    string
		headers []tar.Header
		bodies  map[string]string
		edit    func(*v1.Config)
		flags   []string
		args    []string
		code    int
		want    string // stdout for 0, a part of the one line of stderr otherwise
	}{
		// /etc and the files strata binds over the image's.
		{name: "/etc a link to a host dir", headers: []tar.Header{whiteout("etc"), link("etc", host)}, args: []string{"/bin/echo", "ok"}, want: "ok\n"},
		{name: "/etc a link past the root", headers: []tar.Header{whiteout("etc"), link("etc", strings.Repeat("../", 12)+host)}, args: []string{"/bin/echo", "ok"}, want: "ok\n"},
		{name: "/etc a link to /proc/self", headers: []tar.Header{whiteout("etc"), link("etc", "/proc/self")}, args: []string{"/bin/echo", "ok"}, code: 125, want: "bind /etc/hostname: create /proc/1/hostname: no such file or directory"},
		{name: "/etc a FIFO", headers: []tar.Header{whiteout("etc"), fifo("etc")}, args: []string{"/bin/echo", "ok"}, code: 125, want: "bind /etc/hostname: not a directory"},
		{name: "/etc/hosts a dir", headers: []tar.Header{dir("etc/hosts/")}, args: echo, code: 125, want: "bind /etc/hosts: mount /etc/hosts: is a directory"},
		{name: "/etc/hosts a link loop", headers: []tar.Header{link("etc/hosts", "hosts")}, args: echo, code: 125, want: "bind /etc/hosts: too many levels of symbolic links"},
		{name: "/etc/resolv.conf a FIFO", headers: []tar.Header{fifo("etc/resolv.conf")}, args: echo, want: "ok\n"},
		{name: "/etc/resolv.conf a link into a missing /run", headers: []tar.Header{link("etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf")},
			args: []string{"ls", "/run/systemd/resolve"}, want: "stub-resolv.conf\n"},
		{name: "/etc/hostname a link to /dev/null", headers: []tar.Header{link("etc/hostname", "/dev/null")}, args: echo, code: 125, want: "/etc/hostname in the image leads to /dev/null"},
		{name: "/etc/hostname a link to /dev/null, -i", headers: []tar.Header{link("etc/hostname", "/dev/null")}, flags: []string{"-i"}, args: echo, code: 125, want: "/etc/hostname in the image leads to /dev/null"},
		{name: "/etc/hostname a link to /dev", headers: []tar.Header{link("etc/hostname", "/dev")}, args: echo, code: 125, want: "/etc/hostname in the image leads to /dev"},
		// A home field of the image's passwd that $HOME cannot hold, a NUL byte or more than
		// the kernel takes: runc fails the start (setenv: invalid argument, or its execve;
		// docker's CLI exits 125).
		{name: "/etc/passwd with a NUL in root's home", headers: []tar.Header{file("etc/passwd", 0o644)}, bodies: map[string]string{"etc/passwd": nulHome},
			args: echo, code: 125, want: `setting user: the home directory in /etc/passwd, "/ro\x00ot", contains a NUL byte`},
		{name: "/etc/passwd with a NUL in root's home, HOME set", headers: []tar.Header{file("etc/passwd", 0o644)}, bodies: map[string]string{"etc/passwd": nulHome},
			flags: []string{"-e", "HOME=/h"}, args: []string{"sh", "-c", "echo $HOME"}, want: "/h\n"},
		{name: "/etc/passwd with root's home of 140 KB", headers: []tar.Header{file("etc/passwd", 0o644)},
			bodies: map[string]string{"etc/passwd": "root:x:0:0:root:/" + strings.Repeat("h", 140_000) + ":/bin/sh\n"},
			args:   echo, code: 125, want: "is over the kernel's limit of"},
		{name: "/etc/passwd a link to /dev/ptmx", headers: []tar.Header{link("etc/passwd", "/dev/ptmx")}, edit: func(c *v1.Config) { c.User = "root" }, args: echo, code: 125, want: "unable to find user root"},

		// The kernel filesystems' mountpoints.
		{name: "/dev a file", headers: []tar.Header{whiteout("dev"), file("dev", 0o644)}, args: echo, code: 125, want: "mount /dev: not a directory"},
		// A /dev that is a symlink is followed inside the root, as runc follows it.
		{name: "/dev a link to a dir of the image", headers: []tar.Header{whiteout("dev"), dir("newdev/"), link("dev", "newdev")}, args: devOK, want: "/newdev\nok\n"},
		{name: "/dev a link to a host dir", headers: []tar.Header{whiteout("dev"), link("dev", host)}, args: devOK, want: host + "\nok\n"},
		{name: "/dev a link past the root to a host dir", headers: []tar.Header{whiteout("dev"), link("dev", strings.Repeat("../", 12)+host)}, flags: []string{"-t"}, args: devOK, want: host + "\r\nok\r\n"},
		{name: "/dev a link past the root", headers: []tar.Header{whiteout("dev"), link("dev", "../../..")}, args: echo, code: 125, want: "/dev in the image leads to the root"},
		{name: "/dev a link into /proc", headers: []tar.Header{whiteout("dev"), link("dev", "/proc/self/fd")}, args: echo, code: 125, want: "/dev in the image leads to /proc/1/fd, inside /proc or /sys"},
		{name: "/dev a link to a file", headers: []tar.Header{whiteout("dev"), link("dev", "/bin/busybox")}, args: echo, code: 125, want: "/dev in the image is a symlink to /bin/busybox, which is not a directory"},
		{name: "/proc a link loop", headers: []tar.Header{whiteout("proc"), link("proc", "proc")}, args: echo, code: 125, want: "/proc in the image is a symlink"},
		{name: "/proc missing", headers: []tar.Header{whiteout("proc")}, args: echo, want: "ok\n"},
		{name: "/sys a link to a host dir", headers: []tar.Header{whiteout("sys"), link("sys", host)}, args: echo, code: 125, want: "/sys in the image is a symlink"},
		{name: "/sys a FIFO", headers: []tar.Header{whiteout("sys"), fifo("sys")}, args: echo, code: 125, want: "mount /sys: not a directory"},
		{name: "/tmp a link to a host dir", headers: []tar.Header{whiteout("tmp"), link("tmp", host)}, args: []string{"sh", "-c", "touch /tmp/x 2>/dev/null; echo ok"}, want: "ok\n"},

		// VOLUMEs on and through them.
		{name: "a VOLUME through a link to /dev", headers: []tar.Header{link("d", "/dev")}, edit: volumes("/d"), args: echo, code: 125, want: "/d in the image leads to /dev"},
		{name: "a VOLUME through a link to /dev/null", headers: []tar.Header{link("d", "/dev/null")}, edit: volumes("/d"), args: echo, code: 125, want: "/d in the image leads to /dev/null"},
		{name: "VOLUME /dev", edit: volumes("/dev"), args: []string{"sh", "-c", "test -c /dev/null && echo ok"}, want: "ok\n"},
		{name: "VOLUME /dev, its null a FIFO", headers: []tar.Header{fifo("dev/null")}, edit: volumes("/dev"), args: []string{"sh", "-c", "test -c /dev/null && echo ok"}, want: "ok\n"},
		{name: "VOLUME /dev, its null a link to /etc/passwd", headers: []tar.Header{link("dev/null", "/etc/passwd")}, edit: volumes("/dev"), args: echo, code: 125, want: "/dev/null in the image is a symlink to /etc/passwd, which strata does not mount through"},
		{name: "VOLUME /dev, its null a dir", headers: []tar.Header{dir("dev/null/")}, edit: volumes("/dev"), args: echo, code: 125, want: "null /dev/null: is a directory"},
		{name: "VOLUME /etc", edit: volumes("/etc"), args: []string{"sh", "-c", "grep -c localhost /etc/hosts"}, want: "2\n"},
		{name: "a VOLUME under a FIFO", headers: []tar.Header{fifo("f")}, edit: volumes("/f/x"), args: echo, code: 125, want: "bind /f/x: not a directory"},

		// The working directory.
		{name: "WORKDIR to clean", edit: func(c *v1.Config) { c.WorkingDir = "//a/./nosuch//../c/" }, args: []string{"pwd"}, want: "/a/c\n"},
		{name: "WORKDIR .. after a link", headers: []tar.Header{link("l", "/etc/apk")}, edit: func(c *v1.Config) { c.WorkingDir = "/l/.." }, args: []string{"pwd"}, want: "/\n"},
		{name: "WORKDIR a descriptor of the init", edit: func(c *v1.Config) { c.WorkingDir = "/proc/1/fd/3" }, args: []string{"pwd"}, code: 125, want: "mkdir /proc/1/fd/3"},
		{name: "WORKDIR a FIFO", headers: []tar.Header{fifo("w")}, edit: func(c *v1.Config) { c.WorkingDir = "/w" }, args: []string{"pwd"}, code: 125, want: "cannot mkdir: /w is not a directory"},
		{name: "WORKDIR with odd bytes", edit: func(c *v1.Config) { c.WorkingDir = "/a\nb\x01\xff c" }, args: []string{"pwd"}, want: "/a\nb\x01\uFFFD c\n"}, // the config is JSON: \xff reads as U+FFFD

		// The entrypoint.
		// A path that stat fails on (runc's exec.LookPath fails the create) other than as
		// missing or not runnable: docker's CLI says 125 for it.
		{name: "an entrypoint link loop", headers: []tar.Header{link("ep", "ep")}, edit: entrypoint("/ep"), code: 125, want: "too many levels of symbolic links"},
		{name: "an entrypoint under a file", headers: []tar.Header{file("f", 0o755)}, edit: entrypoint("/f/ep"), code: 125, want: `exec: "/f/ep": stat /f/ep: not a directory`},
		{name: "an entrypoint dir", headers: []tar.Header{dir("ep/")}, edit: entrypoint("/ep"), code: 126, want: "is a directory"},
		{name: "an entrypoint FIFO", headers: []tar.Header{fifo("ep")}, edit: entrypoint("/ep"), code: 126, want: "permission denied"},
		{name: "an entrypoint of 0 bytes", headers: []tar.Header{file("ep", 0o755)}, edit: entrypoint("/ep"), code: 126, want: "exec format error"},
		{name: "an entrypoint without its interpreter", headers: []tar.Header{file("ep", 0o755)}, bodies: map[string]string{"ep": "#!/nonexistent\n"}, edit: entrypoint("/ep"), code: 127, want: "no such file or directory"},
		{name: "an entrypoint of a 10 KB #! line", headers: []tar.Header{file("ep", 0o755)}, bodies: map[string]string{"ep": "#!/" + strings.Repeat("a", 10_000) + "\n"}, edit: entrypoint("/ep"), code: 126, want: "exec format error"},
		{name: "an entrypoint that is its own interpreter", headers: []tar.Header{file("ep", 0o755)}, bodies: map[string]string{"ep": "#!/ep\n"}, edit: entrypoint("/ep"), code: 126, want: "too many levels of symbolic links"},
		{name: "an entrypoint not executable by its user", headers: []tar.Header{file("ep", 0o700)}, bodies: map[string]string{"ep": "#!/bin/sh\necho ok\n"},
			edit: func(c *v1.Config) { c.Entrypoint, c.User = []string{"/ep"}, "1000" }, code: 126, want: "permission denied"},
		{name: "an entrypoint executable by others only, as root", headers: []tar.Header{file("ep", 0o001)}, bodies: map[string]string{"ep": "#!/bin/sh\necho ok\n"}, edit: entrypoint("/ep"), want: "ok\n"},
		{name: "/bin missing", headers: []tar.Header{whiteout("bin")}, args: echo, code: 127, want: `exec: "sh": executable file not found in $PATH`},
		{name: "30k arguments of 100 bytes", edit: func(c *v1.Config) {
			c.Entrypoint = []string{"sh", "-c", "echo $#", "x"}
			for range 30_000 {
				c.Cmd = append(c.Cmd, strings.Repeat("a", 100))
			}
		}, code: 126, want: "argument list too long"},
		{name: "USER 4294967294", edit: func(c *v1.Config) { c.User = "4294967294" }, args: []string{"id", "-u"}, code: 125, want: "uids and gids must be in range 0-2147483647"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := fmt.Sprintf("redteam/files:%d", len(tc.name))
			for _, r := range strings.ToLower(tc.name) {
				if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
					ref += string(r)
				}
			}
			loadConfigImage(t, root, ref, tc.headers, tc.bodies, tc.edit)
			start := time.Now()
			r := strata(t, root, append(append(append([]string{"run", "--rm"}, tc.flags...), ref), tc.args...)...)
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("run took %v", d)
			}
			if tc.code == 0 {
				if r.Code != 0 || r.Stdout != tc.want {
					t.Errorf("run: exit %d, stdout %q, stderr %q; want 0 and %q", r.Code, r.Stdout, r.Stderr, tc.want)
				}
				return
			}
			checkRefused(t, "run", r, tc.code, tc.want)
		})
	}

	t.Run("exec as a user whose home has a NUL", func(t *testing.T) {
		const ref = "redteam/files:nulhome-exec"
		loadConfigImage(t, root, ref, []tar.Header{file("etc/passwd", 0o644)}, map[string]string{"etc/passwd": nulHome}, nil)
		id := strings.TrimSpace(mustStrata(t, root, "run", "-d", "-u", "w", ref, "sleep", "60").Stdout)
		t.Cleanup(func() { strata(t, root, "rm", "-f", id) })
		if r := strata(t, root, "exec", id, "sh", "-c", "echo $HOME"); r.Code != 0 || r.Stdout != "/home/w\n" {
			t.Errorf("exec as w: exit %d, stdout %q, stderr %q; want /home/w", r.Code, r.Stdout, r.Stderr)
		}
		checkRefused(t, "exec -u root", strata(t, root, "exec", "-u", "root", id, "true"), 126,
			`setting user: the home directory in /etc/passwd, "/ro\x00ot", contains a NUL byte`)
		mustStrata(t, root, "rm", "-f", id)
	})
}

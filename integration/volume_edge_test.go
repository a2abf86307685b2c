package integration

import (
	"archive/tar"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestTerminalUnderDevVolumes runs images whose VOLUMEs cover the container's /dev with -t.
// docker creates the container and runc then fails to start it: a volume at /dev (docker
// drops the /dev tmpfs and everything under it for it) or at /dev/pts leaves no devpts to
// allocate the terminal from. strata failed as obscurely ("allocating terminal: no such file
// or directory"), and a directory at /dev/console killed the init unheard ("exited while
// setting up the container"). Each is now refused in one line naming the mount, before a
// container is made; without -t they run, and a volume at /dev/shm runs with -t too.
func TestTerminalUnderDevVolumes(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	t.Cleanup(func() {
		if r := strata(t, root, "ps", "-aq"); r.Stdout != "" {
			t.Errorf("containers left: %q", r.Stdout)
		}
	})
	refs := map[string]string{}
	for i, v := range []string{"/dev", "/dev/pts", "/dev/shm", "/dev/console", ""} {
		refs[v] = fmt.Sprintf("devvolume/%d:1", i)
		if v == "" {
			loadVolumeImage(t, root, refs[v], nil, nil)
			continue
		}
		loadVolumeImage(t, root, refs[v], nil, nil, v)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string // stderr's line; "" for a run that works
	}{
		{"VOLUME /dev", []string{"run", "--rm", "-t", refs["/dev"]}, "strata: cannot allocate a terminal (-t): the volume at /dev hides the container's /dev/pts"},
		{"VOLUME /dev read-only", []string{"run", "--rm", "-t", "--read-only", refs["/dev"]}, "strata: cannot allocate a terminal (-t): the volume at /dev hides the container's /dev/pts"},
		{"VOLUME /dev create", []string{"create", "-t", refs["/dev"]}, "strata: cannot allocate a terminal (-t): the volume at /dev hides the container's /dev/pts"},
		{"VOLUME /dev/pts", []string{"run", "--rm", "-t", refs["/dev/pts"]}, "strata: cannot allocate a terminal (-t): the volume at /dev/pts hides the container's /dev/pts"},
		{"VOLUME /dev/console", []string{"run", "--rm", "-t", refs["/dev/console"]}, "strata: cannot allocate a terminal (-t): the volume at /dev/console makes it a directory, where the terminal is bound"},
		{"-v /dev", []string{"run", "--rm", "-t", "-v", "/dev", refs[""]}, "strata: cannot allocate a terminal (-t): the volume at /dev hides the container's /dev/pts"},
		{"--tmpfs /dev/pts", []string{"run", "--rm", "-t", "--tmpfs", "/dev/pts", refs[""]}, "strata: cannot allocate a terminal (-t): the tmpfs at /dev/pts hides the container's /dev/pts"},
		// A bind may hold a terminal (the host's /dev does); one that cannot fails in the init,
		// in a line saying why.
		{"host dir at /dev/console", []string{"run", "--rm", "-t", "-v", t.TempDir() + ":/dev/console", refs[""]}, "strata: run: init: setting up terminal: creating /dev/console: open /dev/console: is a directory"},
		{"empty host dir at /dev/pts", []string{"run", "--rm", "-t", "-v", t.TempDir() + ":/dev/pts", refs[""]}, "strata: run: init: allocating terminal: open /dev/ptmx: no such file or directory"},
		{"VOLUME /dev/shm", []string{"run", "--rm", "-t", refs["/dev/shm"]}, ""},
		{"--tmpfs /dev", []string{"run", "--rm", "-t", "--tmpfs", "/dev", refs[""]}, ""},
		{"VOLUME /dev without -t", []string{"run", "--rm", refs["/dev"]}, ""},
		{"VOLUME /dev/pts without -t", []string{"run", "--rm", refs["/dev/pts"]}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := strata(t, root, append(tc.args, "sh", "-c", "tty || true")...)
			if tc.want != "" {
				if r.Code != 125 || strings.TrimSpace(r.Stderr) != tc.want {
					t.Errorf("%v: exit %d, stderr %q; want 125 and %q", tc.args, r.Code, r.Stderr, tc.want)
				}
				return
			}
			want := "not a tty"
			if tc.args[2] == "-t" {
				want = "/dev/pts/0"
			}
			if r.Code != 0 || strings.TrimSpace(r.Stdout) != want {
				t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", tc.args, r.Code, r.Stdout, r.Stderr, want)
			}
		})
	}

	// Run without -t, such a container takes no exec -t either (runc's fails as its start).
	t.Run("exec -t", func(t *testing.T) {
		mustStrata(t, root, "run", "-d", "--name", "devvolume", refs["/dev"], "sleep", "1000")
		t.Cleanup(func() { strata(t, root, "rm", "-f", "devvolume") })
		r := strata(t, root, "exec", "-t", "devvolume", "tty")
		const want = ": cannot allocate a terminal (-t): the volume at /dev hides the container's /dev/pts"
		if line := strings.TrimSpace(r.Stderr); r.Code != 125 || !strings.HasPrefix(line, "strata: exec in container ") || !strings.HasSuffix(line, want) || strings.Contains(line, "\n") {
			t.Errorf("exec -t: exit %d, stderr %q; want 125 and %q", r.Code, r.Stderr, want)
		}
		if r := strata(t, root, "exec", "devvolume", "echo", "ok"); r.Code != 0 || r.Stdout != "ok\n" {
			t.Errorf("exec: exit %d, stdout %q, stderr %q; want ok", r.Code, r.Stdout, r.Stderr)
		}
	})
}

// TestNestedVolumesReadOnly runs an image of 1000 nested VOLUMEs (/a, /a/a, …, the first few
// holding a file of the image's) under --read-only, where the mount points of all of them are
// made in the image's view before the volumes are filled: each volume copied those below it,
// half a million directories, and the run took 15 s for 200 and did not end in 2 minutes for
// 1000. Each copy now stops at the next volume's mount point: the container sees what it sees
// writable, and in a time that bounds nothing quadratic (about 6 s here; the count of the
// work is snapshotter's TestPopulateNestedVolumesIsLinear).
func TestNestedVolumesReadOnly(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	const n = 1000
	const ref = "nested/volumes:1"
	var headers []tar.Header
	bodies := map[string]string{}
	var volumes []string
	p := ""
	for i := range n {
		p += "a/"
		volumes = append(volumes, "/"+strings.TrimSuffix(p, "/"))
		if i < 5 {
			f := fmt.Sprintf("%sf%d", p, i)
			headers = append(headers, tar.Header{Name: p, Typeflag: tar.TypeDir, Mode: 0o750, Uid: 7, Gid: 8},
				tar.Header{Name: f, Typeflag: tar.TypeReg, Mode: 0o644})
			bodies[f] = fmt.Sprintf("level %d\n", i)
		}
	}
	loadVolumeImage(t, root, ref, headers, bodies, volumes...)
	const probe = "grep -c ' /a' /proc/self/mountinfo; find /a | wc -l; find /a -type f | sort | xargs cat; stat -c '%a %u:%g' /a /a/a/a/a/a /a/a/a/a/a/a"
	want := fmt.Sprintf("%d\n%d\nlevel 4\nlevel 3\nlevel 2\nlevel 1\nlevel 0\n750 7:8\n750 7:8\n755 0:0\n", n, n+5)
	writable := strata(t, root, "run", "--rm", ref, "sh", "-c", probe)
	if writable.Code != 0 || writable.Stdout != want {
		t.Errorf("run: exit %d, stdout %q, stderr %.300q; want %q", writable.Code, writable.Stdout, writable.Stderr, want)
	}
	start := time.Now()
	r := strata(t, root, "run", "--rm", "--read-only", ref, "sh", "-c", probe)
	took := time.Since(start)
	if r.Code != 0 || r.Stdout != want {
		t.Errorf("run --read-only: exit %d, stdout %q, stderr %.300q; want %q", r.Code, r.Stdout, r.Stderr, want)
	}
	if took > time.Minute {
		t.Errorf("run --read-only of %d nested VOLUMEs took %v, want well under a minute", n, took)
	}
	t.Logf("%d nested VOLUMEs: run --read-only in %v", n, took)
}

package integration

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestVolumesHostile runs images whose VOLUMEs an author made awkward, and mounts given in
// docker's odd but valid forms and in bad ones: each works as docker's does, or is refused in
// one line with 125 before any container is made.
func TestVolumesHostile(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)

	t.Run("hundreds of VOLUMEs, nested", func(t *testing.T) {
		const ref = "volumes/many:1"
		const n = 300
		headers := []tar.Header{
			{Name: "n/", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "n/sub/", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "n/sub/m", Typeflag: tar.TypeReg, Mode: 0o644},
			{Name: "v/", Typeflag: tar.TypeDir, Mode: 0o755},
		}
		bodies := map[string]string{"n/sub/m": "nested\n"}
		volumes := []string{"/n", "/n/sub"}
		for i := range n {
			dir := fmt.Sprintf("v/%d/", i)
			headers = append(headers, tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755},
				tar.Header{Name: dir + "m", Typeflag: tar.TypeReg, Mode: 0o644})
			bodies[dir+"m"] = fmt.Sprintf("%d\n", i)
			volumes = append(volumes, "/"+strings.TrimSuffix(dir, "/"))
		}
		loadVolumeImage(t, root, ref, headers, bodies, volumes...)
		start := time.Now()
		r := strata(t, root, "run", "--rm", ref, "sh", "-c",
			"cat /v/0/m /v/299/m /n/sub/m; echo changed > /n/sub/m; cat /n/sub/m; grep -c ' /v/' /proc/self/mountinfo")
		want := "0\n299\nnested\nchanged\n300\n"
		if r.Code != 0 || r.Stdout != want {
			t.Errorf("run: exit %d, stdout %q, stderr %q; want %q", r.Code, r.Stdout, r.Stderr, want)
		}
		t.Logf("%d volumes in %v", n+2, time.Since(start))
	})

	const ref = "volumes/user:1"
	loadVolumeImage(t, root, ref, []tar.Header{
		{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "data/hello", Typeflag: tar.TypeReg, Mode: 0o644},
	}, map[string]string{"data/hello": "from the image\n"}, "/data")

	t.Run("a VOLUME the user mounts on", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--tmpfs", "/data:size=1m,mode=1777"}, "tmpfs 1777 absent\n"},
			{[]string{"--mount", "type=tmpfs,dst=/data/,tmpfs-mode=0700"}, "tmpfs 700 absent\n"},
			{[]string{"--tmpfs", "/data:size=50%"}, "tmpfs 1777 absent\n"},
			{[]string{"--mount", "type=volume,target=/data"}, "ext4 755 from the image\n"},
		} {
			r := strata(t, root, append(append([]string{"run", "--rm"}, tc.args...), ref, "sh", "-c",
				`echo "$(stat -f -c %T /data) $(stat -c %a /data) $(cat /data/hello 2>/dev/null || echo absent)"`)...)
			if fs := strings.Fields(r.Stdout); len(fs) > 0 && fs[0] != "tmpfs" {
				r.Stdout = strings.Replace(r.Stdout, fs[0], "ext4", 1) // whatever holds the container dir
			}
			if r.Code != 0 || r.Stdout != tc.want {
				t.Errorf("run %v: exit %d, stdout %q, stderr %q; want %q", tc.args, r.Code, r.Stdout, r.Stderr, tc.want)
			}
		}
	})

	t.Run("docker's odd but valid forms", func(t *testing.T) {
		host := t.TempDir()
		comma := filepath.Join(host, "a,b")
		if err := os.Mkdir(comma, 0o755); err != nil {
			t.Fatal(err)
		}
		for p, s := range map[string]string{filepath.Join(host, "f"): "dot\n", filepath.Join(comma, "f"): "comma\n"} {
			if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Chdir(host)
		r := strata(t, root, "run", "--rm",
			"-v", ".:/dot:ro,z",
			"--mount", `type=bind,"source=`+comma+`",target=/comma,readonly`,
			"--mount", "Type=Bind,Src=./a,b,Dst=/upper,Bind-Propagation=RPrivate",
			ref, "sh", "-c", "cat /dot/f /comma/f /upper/f; touch /dot/x 2>/dev/null || echo ro")
		// "Src=./a,b" is two fields as CSV reads it: the field "b" alone is refused.
		if r.Code != 125 || !strings.Contains(r.Stderr, `field "b" must be a key=value pair`) {
			t.Errorf("run with an unquoted comma: exit %d, stderr %q; want 125", r.Code, r.Stderr)
		}
		r = strata(t, root, "run", "--rm",
			"-v", ".:/dot:ro,z",
			"--mount", `type=bind,"source=`+comma+`",target=/comma,readonly`,
			"--mount", `Type=Bind,"Src=./a,b",Dst=/upper,Bind-Propagation=RPrivate`,
			ref, "sh", "-c", "cat /dot/f /comma/f /upper/f; touch /dot/x 2>/dev/null || echo ro")
		want := "dot\ncomma\ncomma\nro\n"
		if r.Code != 0 || r.Stdout != want {
			t.Errorf("run: exit %d, stdout %q, stderr %q; want %q", r.Code, r.Stdout, r.Stderr, want)
		}
	})

	t.Run("device nodes and setuid files", func(t *testing.T) {
		// The image's nodes are copied as they are, and the volume is nodev as the root is:
		// a VOLUME holding the host's disk as a node opens nothing. Setuid bits stay, as in
		// docker, whose volumes are not nosuid either.
		const ref = "volumes/devs:1"
		loadVolumeImage(t, root, ref, []tar.Header{
			{Name: "devs/", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "devs/zero", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 5},
			{Name: "devs/suid", Typeflag: tar.TypeReg, Mode: 0o4755},
		}, map[string]string{"devs/suid": "#!/bin/sh\n"}, "/devs")
		r := strata(t, root, "run", "--rm", ref, "sh", "-c",
			"stat -c '%F %t:%T %a' /devs/zero; stat -c %a /devs/suid; head -c1 /devs/zero >/dev/null 2>&1 || echo refused; grep ' /devs ' /proc/self/mountinfo | grep -c nodev")
		want := "character special file 1:5 666\n4755\nrefused\n1\n"
		if r.Code != 0 || r.Stdout != want {
			t.Errorf("run: exit %d, stdout %q, stderr %q; want %q", r.Code, r.Stdout, r.Stderr, want)
		}
	})

	t.Run("VOLUME inside /proc", func(t *testing.T) {
		const ref = "volumes/proc:1"
		loadVolumeImage(t, root, ref, nil, nil, "/data", "/proc/sys")
		before := containerDirs(t, root)
		r := strata(t, root, "run", "--rm", ref, "true")
		want := `strata: invalid VOLUME "/proc/sys" in the image: cannot be mounted because it is inside /proc`
		if r.Code != 125 || strings.TrimSpace(r.Stderr) != want {
			t.Errorf("run: exit %d, stderr %q; want 125 and %q", r.Code, r.Stderr, want)
		}
		if after := containerDirs(t, root); !slices.Equal(before, after) {
			t.Errorf("run left containers: before %v, after %v", before, after)
		}
	})

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"-v", "/a:/b:ro,rw"}, "ro and rw are both a ro or rw"},
			{[]string{"-v", "/data:ro"}, "an anonymous volume takes no options"},
			{[]string{"-v", "/a:/b:nocopy"}, `option "nocopy" is for a volume`},
			{[]string{"--mount", "type=volume,dst=/x,volume-nocopy"}, "volume-nocopy: an empty volume is not supported"},
			{[]string{"--mount", "type=bind,src=/,dst=/x,bind-nonrecursive"}, "bind-nonrecursive: not supported"},
			{[]string{"--mount", "type=volume,dst=/x,bind-propagation=shared"}, "cannot mix 'bind-*' options with mount type 'volume'"},
			{[]string{"--mount", "type=tmpfs,dst=/x,tmpfs-size=nan"}, `invalid size "nan"`},
			{[]string{"--mount", `type=bind,"src=/,dst=/x`}, "invalid --mount"},
			{[]string{"--mount", "type=bind,src=/,dst=/"}, "destination can't be '/'"},
			{[]string{"--mount", "type=tmpfs,dst=rel"}, `target "rel" is not absolute`},
			{[]string{"--mount", "type=tmpfs,dst="}, "target is required"},
			{[]string{"--tmpfs", "/x:size=1e3"}, `invalid size "1e3"`},
			{[]string{"--tmpfs", "/proc/x"}, "inside /proc"},
		} {
			before := containerDirs(t, root)
			r := strata(t, root, append(append([]string{"run", "--rm"}, tc.args...), ref, "true")...)
			lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
			if r.Code != 125 || len(lines) != 1 || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("run %v: exit %d, stderr %q; want 125 and one line with %q", tc.args, r.Code, r.Stderr, tc.want)
			}
			if after := containerDirs(t, root); !slices.Equal(before, after) {
				t.Errorf("run %v left containers: before %v, after %v", tc.args, before, after)
			}
		}
	})
}

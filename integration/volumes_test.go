package integration

import (
	"archive/tar"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// loadVolumeImage loads into root, as ref, alpine with a layer of headers and the image
// config's VOLUMEs set to volumes.
func loadVolumeImage(t *testing.T, root, ref string, headers []tar.Header, bodies map[string]string, volumes ...string) {
	t.Helper()
	loadConfigImage(t, root, ref, headers, bodies, func(c *v1.Config) {
		c.Volumes = map[string]struct{}{}
		for _, v := range volumes {
			c.Volumes[v] = struct{}{}
		}
	})
}

// inspectMounts returns the Mounts of a container as strata inspect prints them.
func inspectMounts(t *testing.T, root, id string) []struct {
	Type, Source, Destination string
	RW                        bool
} {
	t.Helper()
	var out []struct {
		Mounts []struct {
			Type, Source, Destination string
			RW                        bool
		}
	}
	r := mustStrata(t, root, "inspect", id)
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("inspect %s: %v\n%s", id, err, r.Stdout)
	}
	return out[0].Mounts
}

// TestImageVolumes runs an image declaring VOLUMEs as docker run does: each gets an anonymous
// volume filled from the image, writable under --read-only, listed by inspect, replaced by a
// -v at its path, removed with the container; one whose path in the image leads to a host
// directory reads and writes nothing there.
func TestImageVolumes(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "secret"), []byte("host only\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const ref = "volumes/test:1"
	loadVolumeImage(t, root, ref, []tar.Header{
		{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 1000, Gid: 1001},
		{Name: "data/hello", Typeflag: tar.TypeReg, Mode: 0o4755, Uid: 1000, Gid: 1001},
		{Name: "data/link", Typeflag: tar.TypeSymlink, Linkname: host, Mode: 0o777},
		{Name: "data/sub/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 7},
		{Name: "evil", Typeflag: tar.TypeSymlink, Linkname: host, Mode: 0o777},
	}, map[string]string{"data/hello": "from the image\n"}, "/data", "/missing/dir", "/evil")

	t.Run("content", func(t *testing.T) {
		r := mustStrata(t, root, "run", "--rm", ref, "sh", "-c",
			"cat /data/hello; stat -c '%u:%g %a' /data /data/hello /data/sub /missing/dir; readlink /data/link; ls -A /evil /missing/dir")
		want := "from the image\n1000:1001 750\n1000:1001 4755\n7:0 700\n0:0 755\n" + host + "\n/evil:\n\n/missing/dir:\n"
		if r.Stdout != want {
			t.Errorf("run: stdout %q, want %q", r.Stdout, want)
		}
	})

	t.Run("read-only root", func(t *testing.T) {
		r := strata(t, root, "run", "--rm", "--read-only", ref, "sh", "-c",
			"echo new > /data/new && cat /data/new && echo m > /missing/dir/m && cat /missing/dir/m; if touch /etc/x 2>/dev/null; then echo root writable; fi")
		if r.Code != 0 || r.Stdout != "new\nm\n" {
			t.Errorf("run --read-only: exit %d, stdout %q, stderr %q; want the volumes writable and the root not", r.Code, r.Stdout, r.Stderr)
		}
	})

	t.Run("symlink out of the image", func(t *testing.T) {
		r := strata(t, root, "run", "--rm", ref, "sh", "-c", "cat /evil/secret; echo pwned > /evil/x; ls -A /evil")
		if strings.Contains(r.Stdout, "host only") || r.Stdout != "x\n" {
			t.Errorf("run: stdout %q, stderr %q; want the volume's own x only", r.Stdout, r.Stderr)
		}
		names, err := os.ReadDir(host)
		if err != nil || len(names) != 1 || names[0].Name() != "secret" {
			t.Errorf("host dir holds %v, %v; want secret only", names, err)
		}
	})

	t.Run("-v replaces it", func(t *testing.T) {
		bind := t.TempDir()
		if err := os.WriteFile(filepath.Join(bind, "mine"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		id := strings.TrimSpace(mustStrata(t, root, "create", "-v", bind+":/data", "--tmpfs", "/evil", ref, "ls", "/data").Stdout)
		t.Cleanup(func() { strata(t, root, "rm", "-f", id) })
		var got []string
		for _, m := range inspectMounts(t, root, id) {
			got = append(got, m.Type+" "+m.Destination)
		}
		want := []string{"bind /data", "tmpfs /evil", "volume /missing/dir"}
		if !slices.Equal(got, want) {
			t.Errorf("inspect Mounts = %v, want %v", got, want)
		}
		mustStrata(t, root, "start", id)
		mustStrata(t, root, "wait", id)
		if out := mustStrata(t, root, "logs", id).Stdout; out != "mine\n" {
			t.Errorf("ls /data = %q, want the bind's \"mine\"", out)
		}
	})

	t.Run("inspect, restart and rm", func(t *testing.T) {
		id := strings.TrimSpace(mustStrata(t, root, "create", ref, "sh", "-c", "cat /data/hello; echo again >> /data/hello").Stdout)
		mounts := inspectMounts(t, root, id)
		if len(mounts) != 3 {
			t.Fatalf("inspect Mounts = %+v, want 3 volumes", mounts)
		}
		dir := filepath.Join(root, "containers", id)
		for _, m := range mounts {
			if m.Type != "volume" || !m.RW || !strings.HasPrefix(m.Source, dir+"/") {
				t.Errorf("inspect mount %+v: want a read-write volume in %s", m, dir)
			}
		}
		if mounts[0].Destination != "/data" {
			t.Fatalf("inspect Mounts[0] = %+v, want /data", mounts[0])
		}
		if b, err := os.ReadFile(filepath.Join(mounts[0].Source, "hello")); err != nil || string(b) != "from the image\n" {
			t.Errorf("volume's hello = %q, %v; want the image's", b, err)
		}
		// The volume is filled once: a second start sees what the first wrote.
		for range 2 {
			mustStrata(t, root, "start", id)
			mustStrata(t, root, "wait", id)
		}
		if out := mustStrata(t, root, "logs", id).Stdout; out != "from the image\nfrom the image\nagain\n" {
			t.Errorf("two starts printed %q", out)
		}
		mustStrata(t, root, "rm", id)
		if _, err := os.Lstat(dir); !os.IsNotExist(err) {
			t.Errorf("after rm, %s: %v; want it gone", dir, err)
		}
	})

	t.Run("run --rm leaves nothing", func(t *testing.T) {
		before := containerDirs(t, root)
		mustStrata(t, root, "run", "--rm", ref, "sh", "-c", "echo x > /data/x")
		if after := containerDirs(t, root); !slices.Equal(before, after) {
			t.Errorf("containers before %v, after run --rm %v", before, after)
		}
	})
}

// containerDirs lists the container dirs under root (not the name index, .names).
func containerDirs(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestImageVolumesRefused: a VOLUME that cannot be mounted fails the run with strata's own
// status and one line, and leaves no container.
func TestImageVolumesRefused(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	for _, tc := range []struct {
		volume, want string
	}{
		{"/", `invalid VOLUME "/" in the image`},
		{"relative", `invalid VOLUME "relative" in the image: not an absolute path`},
		{"/etc/hostname", "cannot mount volume over existing file"},
		{"/rootlink", "leads to the image's root"},
	} {
		ref := "volumes/refused:" + strings.Trim(strings.ReplaceAll(tc.volume, "/", "-"), "-") + "x"
		loadVolumeImage(t, root, ref, []tar.Header{
			{Name: "rootlink", Typeflag: tar.TypeSymlink, Linkname: "/", Mode: 0o777},
		}, nil, tc.volume)
		r := strata(t, root, "run", "--rm", ref, "true")
		lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
		if r.Code != 125 || len(lines) != 1 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("run with VOLUME %q: exit %d, stderr %q; want 125 and one line with %q", tc.volume, r.Code, r.Stderr, tc.want)
		}
		if dirs := containerDirs(t, root); len(dirs) != 0 {
			t.Errorf("run with VOLUME %q left containers %v", tc.volume, dirs)
		}
	}
}

// TestAnonymousVolumeFlags: -v /path and --mount type=volume without a source make anonymous
// volumes as docker does: filled from the image, writable under --read-only unless asked
// read-only, listed by inspect in docker's shape with a stable name, counted by system df,
// removed with the container. A name that is no volume name is refused in one line.
func TestAnonymousVolumeFlags(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	const ref = "volumes/flags:1"
	big := strings.Repeat("b", 256<<10)
	loadVolumeImage(t, root, ref, []tar.Header{
		{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 1000, Gid: 1001},
		{Name: "data/hello", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 1000, Gid: 1001},
		{Name: "data/big", Typeflag: tar.TypeReg, Mode: 0o644},
	}, map[string]string{"data/hello": "from the image\n", "data/big": big}, "/declared")

	t.Run("content and modes", func(t *testing.T) {
		r := strata(t, root, "run", "--rm", "--read-only", "-v", "/data", "-v", "/fresh", "--mount", "type=volume,target=/mv,readonly", ref, "sh", "-c",
			"cat /data/hello; stat -c '%u:%g %a' /data /fresh; echo x > /fresh/x && cat /fresh/x; echo y >> /data/hello && tail -1 /data/hello; if touch /mv/y 2>/dev/null; then echo mv writable; fi")
		want := "from the image\n1000:1001 750\n0:0 755\nx\ny\n"
		if r.Code != 0 || r.Stdout != want {
			t.Errorf("run: exit %d, stdout %q, stderr %q; want %q", r.Code, r.Stdout, r.Stderr, want)
		}
	})

	t.Run("inspect, df and rm", func(t *testing.T) {
		host := t.TempDir()
		id := strings.TrimSpace(mustStrata(t, root, "create", "-v", "/data", "--mount", "type=volume,dst=/mv", "-v", host+":/b:ro",
			"--mount", "type=tmpfs,target=/t", "-v", "/declared", ref, "true").Stdout)
		t.Cleanup(func() { strata(t, root, "rm", "-f", id) })
		dir := filepath.Join(root, "containers", id)
		var got []map[string]any
		for range 2 { // the same names each time
			var out []struct{ Mounts []map[string]any }
			r := mustStrata(t, root, "inspect", id)
			if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || len(out) != 1 {
				t.Fatalf("inspect %s: %v\n%s", id, err, r.Stdout)
			}
			if got != nil && !reflect.DeepEqual(got, out[0].Mounts) {
				t.Errorf("inspect twice: Mounts %v, then %v", got, out[0].Mounts)
			}
			got = out[0].Mounts
		}
		if len(got) != 5 {
			t.Fatalf("inspect Mounts = %v, want 5 (one volume at /declared)", got)
		}
		names := map[any]bool{}
		for i, m := range got {
			want := map[string]any{"Type": "volume", "Destination": m["Destination"], "Source": m["Source"], "Name": m["Name"],
				"Driver": "local", "Mode": "", "RW": true, "Propagation": ""}
			switch m["Destination"] {
			case "/mv":
				want["Mode"] = "z" // docker's for a --mount volume
			case "/b":
				want = map[string]any{"Type": "bind", "Source": host, "Destination": "/b", "Mode": "ro", "RW": false, "Propagation": "rprivate"}
			case "/t":
				want = map[string]any{"Type": "tmpfs", "Source": "", "Destination": "/t", "Mode": "", "RW": true, "Propagation": ""}
			}
			if !reflect.DeepEqual(m, want) {
				t.Errorf("inspect Mounts[%d] = %v, want %v", i, m, want)
			}
			if want["Type"] != "volume" {
				continue
			}
			name, _ := m["Name"].(string)
			if len(name) != 64 || strings.Trim(name, "0123456789abcdef") != "" || names[name] {
				t.Errorf("volume %v: name %q, want 64 hex digits of its own", m["Destination"], name)
			}
			names[name] = true
			if src, _ := m["Source"].(string); !strings.HasPrefix(src, dir+"/volumes/") {
				t.Errorf("volume %v: source %q, want a dir of %s/volumes", m["Destination"], src, dir)
			}
		}

		// Never started, the container's writes are its /data volume's copy of the image.
		var size int64 = -1
		for _, c := range systemDf(t, root).Containers {
			if c.ID == id {
				size = c.Size
			}
		}
		if size < int64(len(big)) {
			t.Errorf("system df: container size %d, want at least its volume's %d", size, len(big))
		}

		mustStrata(t, root, "rm", id)
		if _, err := os.Lstat(dir); !os.IsNotExist(err) {
			t.Errorf("after rm, %s: %v; want it gone", dir, err)
		}
	})

	t.Run("run --rm leaves nothing", func(t *testing.T) {
		before := containerDirs(t, root)
		mustStrata(t, root, "run", "--rm", "-v", "/data", "--mount", "type=volume,target=/mv", ref, "sh", "-c", "echo x > /data/x; echo y > /mv/y")
		if after := containerDirs(t, root); !slices.Equal(before, after) {
			t.Errorf("containers before %v, after run --rm %v", before, after)
		}
	})

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			// Named volumes are TestNamedVolumes'; these are no volume names.
			{[]string{"-v", "a/b:/x"}, `invalid volume specification "a/b:/x": invalid volume name: "a/b" includes invalid characters for a local volume name`},
			{[]string{"-v", "n:/x:ro"}, "invalid characters for a local volume name"},
			{[]string{"--mount", "source=../x,target=/x"}, `invalid --mount "source=../x,target=/x": invalid volume name`},
			{[]string{"--mount", "type=volume,src=a b,dst=/x"}, "invalid characters for a local volume name"},
			{[]string{"-v", "/etc/hostname"}, "cannot mount volume over existing file"},
			{[]string{"-v", "/"}, "destination can't be '/'"},
			{[]string{"-v", "/data", "-v", "/data"}, "duplicate mount point: /data"},
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

package integration

import (
	"archive/tar"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestNamedVolumes runs containers on docker's named volumes: what one writes the next reads,
// :ro is read-only, rm and rm -v keep the volume, inspect lists it by name, and an empty
// volume is filled from the image (owners, modes, setuid bits, symlinks as symlinks) unless
// nocopy.
func TestNamedVolumes(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	host := t.TempDir()
	const ref = "namedvol/test:1"
	loadVolumeImage(t, root, ref, []tar.Header{
		{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 1000, Gid: 1001},
		{Name: "data/hello", Typeflag: tar.TypeReg, Mode: 0o4755, Uid: 1000, Gid: 1001},
		{Name: "data/link", Typeflag: tar.TypeSymlink, Linkname: host, Mode: 0o777},
		{Name: "data/up", Typeflag: tar.TypeSymlink, Linkname: "../../../../../etc", Mode: 0o777},
		{Name: "data/sub/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 7},
	}, map[string]string{"data/hello": "from the image\n"})
	volumes := filepath.Join(root, "volumes")

	t.Run("shared", func(t *testing.T) {
		mustStrata(t, root, "run", "--name", "writer", "-v", "shared:/v", ref, "sh", "-c", "echo one > /v/f")
		mustStrata(t, root, "rm", "-v", "writer")
		if r := mustStrata(t, root, "run", "--rm", "--mount", "type=volume,source=shared,target=/w", ref, "cat", "/w/f"); r.Stdout != "one\n" {
			t.Errorf("second container read %q, want the first one's write", r.Stdout)
		}
		r := strata(t, root, "run", "--rm", "-v", "shared:/v:ro", ref, "sh", "-c", "cat /v/f; echo two > /v/f")
		if r.Code == 0 || r.Stdout != "one\n" || !strings.Contains(r.Stderr, "Read-only file system") {
			t.Errorf("run with :ro: exit %d, stdout %q, stderr %q; want the write refused", r.Code, r.Stdout, r.Stderr)
		}
		if b, err := os.ReadFile(filepath.Join(volumes, "shared", "_data", "f")); err != nil || string(b) != "one\n" {
			t.Errorf("volume's file: %q, %v", b, err)
		}
	})

	t.Run("copy-up", func(t *testing.T) {
		r := mustStrata(t, root, "run", "--rm", "-v", "filled:/data", ref, "sh", "-c",
			"cat /data/hello; stat -c '%u:%g %a' /data /data/hello /data/sub; readlink /data/link; readlink /data/up")
		want := "from the image\n1000:1001 750\n1000:1001 4755\n7:0 700\n" + host + "\n../../../../../etc\n"
		if r.Stdout != want {
			t.Errorf("copied volume: %q, want %q", r.Stdout, want)
		}
		// On the host the symlinks are symlinks, never followed: nothing of the host's
		// directories came in, nothing went out.
		data := filepath.Join(volumes, "filled", "_data")
		for _, l := range []string{"link", "up"} {
			if fi, err := os.Lstat(filepath.Join(data, l)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("%s in the volume: %v, %v; want a symlink", l, fi, err)
			}
		}
		if ents, _ := os.ReadDir(host); len(ents) != 0 {
			t.Errorf("the host dir a symlink points to got %v", ents)
		}
		if ents, _ := os.ReadDir(filepath.Join(volumes, "filled")); len(ents) != 2 {
			t.Errorf("volume dir holds %v; want _data and volume.json, no temp dir", ents)
		}
		// A volume with content is not filled again: the image's file, removed, stays gone.
		mustStrata(t, root, "run", "--rm", "-v", "filled:/data", ref, "rm", "/data/hello")
		if r := mustStrata(t, root, "run", "--rm", "-v", "filled:/data", ref, "ls", "/data"); strings.Contains(r.Stdout, "hello") {
			t.Errorf("non-empty volume filled again: %q", r.Stdout)
		}
		// alpine's /etc, as docker's example.
		if r := mustStrata(t, root, "run", "--rm", "-v", "etc:/etc", ref, "cat", "/etc/alpine-release"); r.Stdout == "" {
			t.Error("no /etc/alpine-release in a volume copied from alpine's /etc")
		}
		if _, err := os.Stat(filepath.Join(volumes, "etc", "_data", "passwd")); err != nil {
			t.Errorf("volume of /etc: %v", err)
		}
		if r := mustStrata(t, root, "run", "--rm", "-v", "empty:/data:nocopy", ref, "ls", "-A", "/data"); r.Stdout != "" {
			t.Errorf("nocopy volume holds %q, want nothing", r.Stdout)
		}
		if r := mustStrata(t, root, "run", "--rm", "--mount", "src=empty2,dst=/data,volume-nocopy", ref, "ls", "-A", "/data"); r.Stdout != "" {
			t.Errorf("volume-nocopy volume holds %q, want nothing", r.Stdout)
		}
		// A --mount's volume-label labels the volume it makes, not one that exists.
		mustStrata(t, root, "run", "--rm", "--mount", "src=labelled,dst=/data,volume-label=made.by=mount", "--mount", "src=empty2,dst=/e,volume-label=x=y", ref, "true")
		if r := mustStrata(t, root, "volume", "ls", "-q", "--filter", "label=made.by=mount"); r.Stdout != "labelled\n" {
			t.Errorf("volume ls --filter label=made.by=mount: %q", r.Stdout)
		}
		if r := mustStrata(t, root, "volume", "ls", "-q", "--filter", "label=x"); r.Stdout != "" {
			t.Errorf("volume-label relabelled an existing volume: %q", r.Stdout)
		}
	})

	t.Run("inspect", func(t *testing.T) {
		id := strings.TrimSpace(mustStrata(t, root, "create", "-v", "insp:/data:ro", "--mount", "type=volume,src=insp2,dst=/d2", ref).Stdout)
		t.Cleanup(func() { strata(t, root, "rm", id) })
		var out []struct {
			Mounts []struct {
				Type, Name, Source, Destination, Driver, Mode string
				RW                                            bool
			}
			HostConfig struct {
				Binds  []string
				Mounts []struct{ Type, Source, Target string }
			}
		}
		if err := json.Unmarshal([]byte(mustStrata(t, root, "inspect", id).Stdout), &out); err != nil || len(out) != 1 {
			t.Fatalf("inspect: %v", err)
		}
		m := out[0].Mounts
		if len(m) != 2 || m[0].Type != "volume" || m[0].Name != "insp" || m[0].Source != filepath.Join(volumes, "insp", "_data") ||
			m[0].Destination != "/data" || m[0].RW || m[0].Driver != "local" || m[1].Name != "insp2" || !m[1].RW {
			t.Errorf("Mounts: %+v", m)
		}
		h := out[0].HostConfig
		if !slices.Equal(h.Binds, []string{"insp:/data:ro"}) || len(h.Mounts) != 1 || h.Mounts[0].Source != "insp2" || h.Mounts[0].Type != "volume" {
			t.Errorf("HostConfig: %+v", h)
		}
		// A created container uses its volumes: they are not removed.
		r := strata(t, root, "volume", "rm", "insp")
		if r.Code != 1 || !strings.Contains(r.Stderr, "remove insp: volume is in use - ["+id+"]") {
			t.Errorf("volume rm of a volume in use: exit %d, stderr %q", r.Code, r.Stderr)
		}
		if r := strata(t, root, "volume", "prune", "-a", "-f"); strings.Contains(r.Stdout, "insp") {
			t.Errorf("prune -a removed a volume in use: %q", r.Stdout)
		}
	})

	t.Run("anonymous in use", func(t *testing.T) {
		// A container's anonymous volume never shared lives in its dir, under the name
		// inspect gives it: volume rm of that name is refused as docker refuses a volume in
		// use ("remove NAME: volume is in use - [ID]"), not "no such volume".
		id := strings.TrimSpace(mustStrata(t, root, "create", "-v", "/anon", ref).Stdout)
		t.Cleanup(func() { strata(t, root, "rm", "-v", id) })
		name := strings.TrimSpace(mustStrata(t, root, "inspect", "--format", "{{(index .Mounts 0).Name}}", id).Stdout)
		r := strata(t, root, "volume", "rm", name)
		if r.Code != 1 || r.Stdout != "" || !strings.Contains(r.Stderr, "remove "+name+": volume is in use - ["+id+"]") {
			t.Errorf("volume rm of container's anonymous volume %s: exit %d, stdout %q, stderr %q", name, r.Code, r.Stdout, r.Stderr)
		}
	})
}

// TestVolumeCommands: docker's volume create, ls, inspect, rm and prune, their output and
// errors.
func TestVolumeCommands(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	const ref = "namedvol/cmds:1"
	loadVolumeImage(t, root, ref, nil, nil)

	if r := mustStrata(t, root, "volume", "create", "-l", "tier=db", "--label", "keep", "vol1"); r.Stdout != "vol1\n" {
		t.Errorf("volume create: %q", r.Stdout)
	}
	mustStrata(t, root, "volume", "create", "--name", "vol2")
	mustStrata(t, root, "volume", "create", "vol1") // exists: kept as it is
	anon := strings.TrimSpace(mustStrata(t, root, "volume", "create").Stdout)
	if len(anon) != 64 {
		t.Errorf("volume create without a name made %q, want 64 hex digits", anon)
	}
	if r := strata(t, root, "volume", "create", "--name", "a1", "b1"); r.Code != 1 || !strings.Contains(r.Stderr, "conflicting options") {
		t.Errorf("create --name a1 b1: exit %d, %q", r.Code, r.Stderr)
	}

	var vols []struct {
		CreatedAt, Driver, Mountpoint, Name, Scope string
		Labels                                     map[string]string
		Options                                    map[string]string
	}
	if err := json.Unmarshal([]byte(mustStrata(t, root, "volume", "inspect", "vol1").Stdout), &vols); err != nil || len(vols) != 1 {
		t.Fatalf("volume inspect: %v", err)
	}
	v := vols[0]
	if v.Name != "vol1" || v.Driver != "local" || v.Scope != "local" || v.Mountpoint != filepath.Join(root, "volumes", "vol1", "_data") ||
		v.CreatedAt == "" || v.Labels["tier"] != "db" || v.Labels["keep"] != "" || len(v.Labels) != 2 {
		t.Errorf("volume inspect: %+v", v)
	}
	// docker inspect finds a volume by its name too, after containers and images.
	for _, args := range [][]string{{"inspect", "-f", "{{.Mountpoint}}", "vol2"}, {"inspect", "--type", "volume", "-f", "{{.Mountpoint}}", "vol2"}} {
		if r := mustStrata(t, root, args...); r.Stdout != filepath.Join(root, "volumes", "vol2", "_data")+"\n" {
			t.Errorf("%v: %q", args, r.Stdout)
		}
	}
	if r := strata(t, root, "inspect", "--type", "volume", "alpine"); r.Code != 1 || !strings.Contains(r.Stderr, "get alpine: no such volume") {
		t.Errorf("inspect --type volume of an image: exit %d, %q", r.Code, r.Stderr)
	}
	if r := mustStrata(t, root, "volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "vol2"); r.Stdout != "vol2 local\n" {
		t.Errorf("inspect -f: %q", r.Stdout)
	}
	if r := strata(t, root, "volume", "inspect", "vol2", "nope"); r.Code != 1 || !strings.Contains(r.Stderr, "get nope: no such volume") || !strings.Contains(r.Stdout, `"vol2"`) {
		t.Errorf("inspect of a missing volume: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}

	mustStrata(t, root, "create", "--name", "user", "-v", "vol2:/x", ref)
	if r := mustStrata(t, root, "ps", "-a", "--filter", "volume=vol2", "--format", "{{.Names}} {{.Mounts}}"); r.Stdout != "user vol2\n" {
		t.Errorf("ps --filter volume=vol2: %q", r.Stdout)
	}
	if r := mustStrata(t, root, "volume", "ls"); r.Stdout != "DRIVER    VOLUME NAME\nlocal     "+anon+"\nlocal     vol1\nlocal     vol2\n" {
		t.Errorf("volume ls:\n%s", r.Stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-q", "--filter", "dangling=true"}, anon + "\nvol1\n"},
		{[]string{"-q", "-f", "dangling=false"}, "vol2\n"},
		{[]string{"-q", "--filter", "label=tier=db"}, "vol1\n"},
		{[]string{"-q", "--filter", "label=keep"}, "vol1\n"},
		{[]string{"-q", "--filter", "label!=tier=db"}, anon + "\nvol2\n"},
		{[]string{"-q", "--filter", "name=ol"}, "vol1\nvol2\n"},
		{[]string{"--format", "{{.Name}}:{{.Label \"tier\"}}", "-f", "name=vol1"}, "vol1:db\n"},
	} {
		if r := mustStrata(t, root, append([]string{"volume", "ls"}, tc.args...)...); r.Stdout != tc.want {
			t.Errorf("volume ls %v: %q, want %q", tc.args, r.Stdout, tc.want)
		}
	}

	var df struct {
		Summary []struct {
			Type          string
			Total, Active int
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(mustStrata(t, root, "system", "df", "-v", "--format", "json").Stdout), &df); err != nil || len(df.Summary) != 3 ||
		df.Summary[2].Type != "Local Volumes" || df.Summary[2].Total != 3 || df.Summary[2].Active != 1 {
		t.Errorf("system df: %+v, %v; want a Local Volumes row of 3 volumes, 1 active", df.Summary, err)
	}
	if r := mustStrata(t, root, "system", "df", "-v"); !strings.Contains(r.Stdout, "\nLocal Volumes space usage:\n\nVOLUME NAME") || !regexp.MustCompile(`\nvol2 +1 +0B\n`).MatchString(r.Stdout) {
		t.Errorf("system df -v: no volume table with vol2's one link:\n%s", r.Stdout)
	}
	// Without -a, prune removes the unused anonymous volumes: the one volume create made
	// without a name, as docker's (its daemon labels such a volume anonymous).
	if r := mustStrata(t, root, "volume", "prune", "-f"); r.Stdout != "Deleted Volumes:\n"+anon+"\n\nTotal reclaimed space: 0B\n" {
		t.Errorf("volume prune without -a: %q; want the unnamed volume alone", r.Stdout)
	}
	if r := mustStrata(t, root, "volume", "prune", "-a", "-f", "--filter", "label=tier"); r.Stdout != "Deleted Volumes:\nvol1\n\nTotal reclaimed space: 0B\n" {
		t.Errorf("volume prune -a --filter label=tier: %q", r.Stdout)
	}
	r := strata(t, root, "volume", "rm", "vol2", anon, "missing")
	if r.Code != 1 || r.Stdout != "" || !strings.Contains(r.Stderr, "remove "+anon+": no such volume") || !strings.Contains(r.Stderr, "volume is in use") || !strings.Contains(r.Stderr, "remove missing: no such volume") {
		t.Errorf("volume rm: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	mustStrata(t, root, "volume", "rm", "-f", "missing")
	mustStrata(t, root, "rm", "-v", "user")
	if r := mustStrata(t, root, "volume", "ls", "-q"); r.Stdout != "vol2\n" {
		t.Errorf("rm -v of its container removed the named volume: ls %q", r.Stdout)
	}
	if r := mustStrata(t, root, "volume", "prune", "-af"); !strings.Contains(r.Stdout, "vol2") {
		t.Errorf("prune -a: %q", r.Stdout)
	}
	if r := mustStrata(t, root, "volume", "ls", "-q"); r.Stdout != "" {
		t.Errorf("volumes left: %q", r.Stdout)
	}
}

// TestNamedVolumesHostile: a volume dir or data dir replaced by a symlink on disk is refused
// by run, start and inspect, nothing is written where it leads; bad names never reach the
// disk.
func TestNamedVolumesHostile(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	const ref = "namedvol/hostile:1"
	loadVolumeImage(t, root, ref, nil, nil)
	target := t.TempDir()
	volumes := filepath.Join(root, "volumes")

	mustStrata(t, root, "create", "--name", "hc", "-v", "hv:/x", ref, "touch", "/x/escaped")
	vdir := filepath.Join(volumes, "hv")
	if err := os.Rename(vdir, filepath.Join(target, "hv")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(target, "hv"), vdir); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"start", "-a", "hc"}, {"run", "--rm", "-v", "hv:/x", ref, "touch", "/x/escaped"}, {"volume", "inspect", "hv"}} {
		if r := strata(t, root, args...); r.Code == 0 || !strings.Contains(r.Stderr, "is a symlink") {
			t.Errorf("%v with the volume dir a symlink: exit %d, stderr %q", args, r.Code, r.Stderr)
		}
	}
	os.Remove(vdir)
	os.Rename(filepath.Join(target, "hv"), vdir)
	data := filepath.Join(vdir, "_data")
	os.Remove(data)
	if err := os.Symlink(target, data); err != nil {
		t.Fatal(err)
	}
	if r := strata(t, root, "start", "-a", "hc"); r.Code == 0 || !strings.Contains(r.Stderr, "_data is a symlink") {
		t.Errorf("start with _data a symlink: exit %d, stderr %q", r.Code, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(target, "escaped")); err == nil {
		t.Error("a container wrote through the symlinked volume")
	}
	os.Remove(data)
	os.Mkdir(data, 0o755)
	mustStrata(t, root, "start", "-a", "hc")
	mustStrata(t, root, "rm", "hc")

	for _, name := range []string{"../x", "a/b", "x", ".hidden", "a b", "_x", strings.Repeat("a", 256)} {
		if r := strata(t, root, "volume", "create", name); r.Code == 0 || !strings.Contains(r.Stderr, "invalid") {
			t.Errorf("volume create %q: exit %d, stderr %q", name, r.Code, r.Stderr)
		}
		if r := strata(t, root, "volume", "rm", name); r.Code == 0 {
			t.Errorf("volume rm %q: exit 0", name)
		}
	}
	if ents, _ := os.ReadDir(volumes); len(ents) != 1 {
		t.Errorf("volume store holds %v; want hv only", ents)
	}
	if ents, _ := os.ReadDir(filepath.Dir(root)); slices.ContainsFunc(ents, func(e os.DirEntry) bool { return e.Name() == "x" }) {
		t.Error("a volume name made a dir outside the store")
	}
}

// TestNamedVolumeConcurrentCopyUp runs containers on one new volume at once: it is made once
// and filled once, whole, and a volume rm waits for the runs recording their containers.
func TestNamedVolumeConcurrentCopyUp(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	const ref = "namedvol/race:1"
	loadVolumeImage(t, root, ref, nil, nil)
	var wg sync.WaitGroup
	results := make([]result, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = strata(t, root, "run", "--rm", "-v", "race:/etc", ref, "sh", "-c", "ls /etc | wc -l")
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.Code != 0 || r.Stdout != results[0].Stdout {
			t.Errorf("run %d: exit %d, stdout %q (run 0: %q), stderr %q", i, r.Code, r.Stdout, results[0].Stdout, r.Stderr)
		}
	}
	ents, err := os.ReadDir(filepath.Join(root, "volumes", "race"))
	if err != nil || len(ents) != 2 {
		t.Errorf("volume dir: %v, %v; want _data and volume.json alone", ents, err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "volumes")); len(ents) != 1 {
		t.Errorf("volume store: %v", ents)
	}
}

// TestNamedVolumeRmRace runs create -v NAME and volume rm NAME at once: the removal either
// comes first (the create makes the volume again) or sees the container and refuses; never a
// container whose volume is gone.
func TestNamedVolumeRmRace(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	const ref = "namedvol/rmrace:1"
	loadVolumeImage(t, root, ref, nil, nil)
	for i := range 6 {
		mustStrata(t, root, "volume", "create", "rv")
		var wg sync.WaitGroup
		var created, removed result
		wg.Add(2)
		go func() {
			defer wg.Done()
			created = strata(t, root, "create", "--name", "rc", "-v", "rv:/x", ref, "true")
		}()
		go func() { defer wg.Done(); removed = strata(t, root, "volume", "rm", "rv") }()
		wg.Wait()
		if created.Code != 0 {
			t.Fatalf("round %d: create: exit %d, %q", i, created.Code, created.Stderr)
		}
		if removed.Code != 0 && !strings.Contains(removed.Stderr, "volume is in use") {
			t.Errorf("round %d: volume rm: exit %d, %q", i, removed.Code, removed.Stderr)
		}
		mustStrata(t, root, "volume", "inspect", "rv")
		mustStrata(t, root, "start", "-a", "rc")
		mustStrata(t, root, "rm", "rc")
		mustStrata(t, root, "volume", "rm", "rv")
	}
}

// TestNamedVolumeMountLabelsTooBig: volume-label= of many --mount of one volume, each under
// the argument size but together more than a volume.json strata reads back, refuse the run
// in one line with 125, and no volume is left; it made the volume, then failed on it, and
// every volume ls, inspect and run refused it after ("volume.json is not a file strata wrote").
func TestNamedVolumeMountLabelsTooBig(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	const ref = "namedvol/labels:1"
	loadVolumeImage(t, root, ref, nil, nil)
	big := strings.Repeat("<", 100000) // \u003c in JSON: 600 kB a label
	args := []string{"run", "--rm"}
	for i := range 3 {
		args = append(args, "--mount", "type=volume,src=labelled,dst=/a"+string(rune('0'+i))+",volume-label=k"+string(rune('0'+i))+"="+big)
	}
	r := strata(t, root, append(args, ref, "true")...)
	if r.Code != 125 || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 || !strings.Contains(r.Stderr, "labels take") {
		t.Errorf("run with 1.8 MB of volume labels: exit %d, stderr %.300q; want 125 and one line on the labels", r.Code, r.Stderr)
	}
	if r := mustStrata(t, root, "volume", "ls", "-q"); r.Stdout != "" || r.Stderr != "" {
		t.Errorf("volume ls after the refused run: stdout %q, stderr %.300q; want nothing", r.Stdout, r.Stderr)
	}
	if r := mustStrata(t, root, "ps", "-aq"); r.Stdout != "" {
		t.Errorf("ps -a after the refused run: %q", r.Stdout)
	}
}

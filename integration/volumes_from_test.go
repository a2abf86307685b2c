package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestVolumesFrom runs containers with docker's --volumes-from: the new container mounts the
// other's named volumes, anonymous volumes (-v /path and the image's VOLUMEs) and binds, not
// its tmpfs; :ro makes them read-only; its own -v wins at the same path; a chain lends what
// it was lent. An anonymous volume so shared stays while any container mounts it: rm of its
// first container keeps it, volume rm refuses it, and rm of the last one removes it.
func TestVolumesFrom(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	host := t.TempDir()
	const ref = "volfrom/test:1"
	loadVolumeImage(t, root, ref, nil, nil, "/vol")
	volumes := filepath.Join(root, "volumes")

	mustStrata(t, root, "run", "--name", "src", "-v", "named:/data", "-v", "/anon", "-v", host+":/host",
		"--tmpfs", "/scratch", ref, "sh", "-c", "echo named > /data/f; echo anon > /anon/f; echo vol > /vol/f")

	t.Run("lent", func(t *testing.T) {
		r := mustStrata(t, root, "run", "--rm", "--volumes-from", "src", ref, "sh", "-c",
			"cat /data/f /anon/f /vol/f; echo from-b > /anon/g; echo host > /host/h; grep -c ' /scratch ' /proc/mounts || true")
		if r.Stdout != "named\nanon\nvol\n0\n" {
			t.Errorf("container with --volumes-from src read %q; want src's three files and no tmpfs", r.Stdout)
		}
		if b, err := os.ReadFile(filepath.Join(host, "h")); err != nil || string(b) != "host\n" {
			t.Errorf("src's bind, written through --volumes-from: %q, %v", b, err)
		}
		// src sees the other container's write in its own anonymous volume.
		if r := mustStrata(t, root, "start", "-a", "src"); r.Stdout != "" {
			t.Errorf("start -a src: %q", r.Stdout)
		}
		if r := mustStrata(t, root, "run", "--rm", "--volumes-from", "src:rw", ref, "cat", "/anon/g"); r.Stdout != "from-b\n" {
			t.Errorf("second reader: %q", r.Stdout)
		}
	})

	t.Run("readonly", func(t *testing.T) {
		for _, p := range []string{"/data/x", "/anon/x", "/vol/x", "/host/x"} {
			r := strata(t, root, "run", "--rm", "--volumes-from", "src:ro", ref, "touch", p)
			if r.Code == 0 || !strings.Contains(r.Stderr, "Read-only file system") {
				t.Errorf("touch %s with --volumes-from src:ro: exit %d, %q; want it refused", p, r.Code, r.Stderr)
			}
		}
	})

	t.Run("own wins", func(t *testing.T) {
		r := mustStrata(t, root, "run", "--rm", "--volumes-from", "src", "-v", "other:/data", "--tmpfs", "/anon", ref, "sh", "-c", "ls -A /data /anon; cat /vol/f")
		if r.Stdout != "/anon:\n\n/data:\nvol\n" {
			t.Errorf("own -v and --tmpfs over lent mounts: %q; want them empty and /vol lent", r.Stdout)
		}
	})

	t.Run("inspect", func(t *testing.T) {
		mustStrata(t, root, "create", "--name", "reader", "--volumes-from", "src:ro", ref, "true")
		t.Cleanup(func() { strata(t, root, "rm", "reader") })
		var out []struct {
			Mounts []struct {
				Type, Name, Source, Destination, Mode string
				RW                                    bool
			}
			HostConfig struct {
				Binds       []string
				VolumesFrom []string
			}
			Config struct{ Volumes map[string]struct{} }
		}
		if err := json.Unmarshal([]byte(mustStrata(t, root, "inspect", "reader").Stdout), &out); err != nil || len(out) != 1 {
			t.Fatalf("inspect: %v", err)
		}
		d := out[0]
		if !slices.Equal(d.HostConfig.VolumesFrom, []string{"src:ro"}) || d.HostConfig.Binds != nil || d.Config.Volumes != nil {
			t.Errorf("HostConfig.VolumesFrom %v, Binds %v, Config.Volumes %v; want [src:ro], null, null", d.HostConfig.VolumesFrom, d.HostConfig.Binds, d.Config.Volumes)
		}
		dests := map[string]string{}
		for _, m := range d.Mounts {
			dests[m.Destination] = m.Type
			if m.RW || m.Mode != "" {
				t.Errorf("mount %+v: want read-only, no mode", m)
			}
			if m.Type == "volume" && m.Source != filepath.Join(volumes, m.Name, "_data") {
				t.Errorf("volume %+v: want its source in the volume store", m)
			}
		}
		if len(dests) != 4 || dests["/data"] != "volume" || dests["/anon"] != "volume" || dests["/vol"] != "volume" || dests["/host"] != "bind" {
			t.Errorf("Mounts: %+v", d.Mounts)
		}
	})

	t.Run("chain", func(t *testing.T) {
		mustStrata(t, root, "create", "--name", "middle", "--volumes-from", "src", "-v", "mid:/mid", ref, "true")
		t.Cleanup(func() { strata(t, root, "rm", "middle") })
		r := mustStrata(t, root, "run", "--rm", "--volumes-from", "middle", ref, "sh", "-c", "cat /anon/f /data/f; ls -d /mid")
		if r.Stdout != "anon\nnamed\n/mid\n" {
			t.Errorf("from middle, which has src's: %q", r.Stdout)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--volumes-from", "nosuch"}, "No such container: nosuch"},
			{[]string{"--name", "self", "--volumes-from", "self"}, "No such container: self"},
			{[]string{"--volumes-from", "src:rx"}, `invalid mode: "rx"`},
			{[]string{"--volumes-from", "src:rshared"}, `invalid mode: "rshared"`},
			{[]string{"--volumes-from", ""}, "cannot be an empty string"},
		} {
			for _, cmd := range []string{"run", "create"} {
				r := strata(t, root, append(append([]string{cmd, "--rm"}, tc.args...), ref, "true")...)
				if r.Code != 125 || !strings.Contains(r.Stderr, tc.want) || strings.Count(r.Stderr, "\n") != 1 {
					t.Errorf("%s %v: exit %d, %q; want 125 and one line with %q", cmd, tc.args, r.Code, r.Stderr, tc.want)
				}
			}
		}
		if r := mustStrata(t, root, "ps", "-aq"); strings.Count(r.Stdout, "\n") != 1 { // src
			t.Errorf("containers left by failed runs: %q", r.Stdout)
		}
	})

	t.Run("shared anonymous volume", func(t *testing.T) {
		var anon string
		for _, m := range inspectMounts(t, root, "src") {
			if m.Destination == "/anon" {
				anon = filepath.Base(filepath.Dir(m.Source))
			}
		}
		if anon == "" {
			t.Fatal("no /anon mount in src")
		}
		if r := mustStrata(t, root, "volume", "ls", "-q"); !strings.Contains(r.Stdout, anon) {
			t.Errorf("volume ls: %q; want the shared anonymous volume %s", r.Stdout, anon)
		}
		mustStrata(t, root, "create", "--name", "keeper", "--volumes-from", "src", ref, "cat", "/anon/f")
		mustStrata(t, root, "rm", "-v", "src")
		if r := mustStrata(t, root, "start", "-a", "keeper"); r.Stdout != "anon\n" {
			t.Errorf("keeper read %q after rm -v src; want the anonymous volume kept", r.Stdout)
		}
		r := strata(t, root, "volume", "rm", anon)
		if r.Code != 1 || !strings.Contains(r.Stderr, "volume is in use") {
			t.Errorf("volume rm of a volume keeper uses: exit %d, %q", r.Code, r.Stderr)
		}
		r = strata(t, root, "volume", "rm", "named")
		if r.Code != 1 || !strings.Contains(r.Stderr, "volume is in use") {
			t.Errorf("volume rm of the named volume keeper got from src: exit %d, %q", r.Code, r.Stderr)
		}
		// prune without -a removes unused anonymous volumes only: this one is used.
		mustStrata(t, root, "volume", "prune", "-f")
		if _, err := os.Stat(filepath.Join(volumes, anon, "_data", "f")); err != nil {
			t.Errorf("volume prune removed a used anonymous volume: %v", err)
		}
		// ... but an unused one that carries docker's anonymous label, and no named volume.
		mustStrata(t, root, "volume", "create", "-l", "com.docker.volume.anonymous=", "unusedanon")
		mustStrata(t, root, "volume", "create", "unusednamed")
		if r := mustStrata(t, root, "volume", "prune", "-f"); !strings.Contains(r.Stdout, "Deleted Volumes:\nunusedanon\n\n") {
			t.Errorf("volume prune -f: %q; want unusedanon deleted, only", r.Stdout)
		}
		if r := mustStrata(t, root, "volume", "ls", "-q"); !strings.Contains(r.Stdout, "unusednamed\n") || strings.Contains(r.Stdout, "unusedanon") {
			t.Errorf("volume ls after prune: %q", r.Stdout)
		}
		mustStrata(t, root, "rm", "keeper")
		if _, err := os.Stat(filepath.Join(volumes, anon)); !os.IsNotExist(err) {
			t.Errorf("the anonymous volume after its last container went: %v; want it removed", err)
		}
		if _, err := os.Stat(filepath.Join(volumes, "named", "_data", "f")); err != nil {
			t.Errorf("the named volume after rm: %v; want it kept", err)
		}
	})
}

// TestVolumesFromRunning lends the anonymous volume of a running container: it is moved into
// the volume store under the container, whose mount follows it, so each sees the other's
// writes.
func TestVolumesFromRunning(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	const ref = "volfrom/test:1"
	loadVolumeImage(t, root, ref, nil, nil)
	mustStrata(t, root, "run", "-d", "--name", "live", "-v", "/anon", ref, "sleep", "600")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "live") })
	mustStrata(t, root, "exec", "live", "sh", "-c", "echo 1 > /anon/f")
	if r := mustStrata(t, root, "run", "--rm", "--volumes-from", "live", ref, "sh", "-c", "cat /anon/f; echo 2 > /anon/g"); r.Stdout != "1\n" {
		t.Errorf("reader of a running container's volume: %q", r.Stdout)
	}
	mustStrata(t, root, "exec", "live", "sh", "-c", "echo 3 > /anon/h")
	if r := mustStrata(t, root, "exec", "live", "cat", "/anon/g"); r.Stdout != "2\n" {
		t.Errorf("live reads %q, want the reader's write", r.Stdout)
	}
	if r := mustStrata(t, root, "run", "--rm", "--volumes-from", "live", ref, "cat", "/anon/h"); r.Stdout != "3\n" {
		t.Errorf("second reader: %q; want live's write after the volume moved", r.Stdout)
	}
	// live keeps it across a restart: its config names the stored volume now.
	mustStrata(t, root, "restart", "-t", "0", "live")
	if r := mustStrata(t, root, "exec", "live", "cat", "/anon/f"); r.Stdout != "1\n" {
		t.Errorf("after restart live reads %q", r.Stdout)
	}
}

// TestVolumesFromDamagedConfig lends the mounts of a container whose config.json was edited:
// garbled mounts, a relative target, an anonymous volume pointing out of the container's dir.
// Each fails the run in one line, exit 125, and nothing of the host is mounted.
func TestVolumesFromDamagedConfig(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	const ref = "volfrom/test:1"
	loadVolumeImage(t, root, ref, nil, nil)
	id := strings.TrimSpace(mustStrata(t, root, "create", "--name", "victim", "-v", "/anon", ref, "true").Stdout)
	cfgPath := filepath.Join(root, "containers", id, "config.json")
	orig, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(spec map[string]any)) {
		var cfg map[string]any
		if err := json.Unmarshal(orig, &cfg); err != nil {
			t.Fatal(err)
		}
		f(cfg["spec"].(map[string]any))
		b, _ := json.Marshal(cfg)
		if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		edit func(spec map[string]any)
		raw  string
	}{
		{name: "mounts not a list", edit: func(s map[string]any) { s["mounts"] = "garbage" }},
		{name: "relative target", edit: func(s map[string]any) {
			s["mounts"] = []any{map[string]any{"type": "bind", "source": "/etc", "target": "etc"}}
		}},
		{name: "no source", edit: func(s map[string]any) {
			s["mounts"] = []any{map[string]any{"type": "bind", "target": "/x"}}
		}},
		{name: "anonymous volume out of the dir", edit: func(s map[string]any) {
			s["mounts"] = []any{map[string]any{"type": "volume", "source": "/etc", "target": "/x", "options": []string{"rbind"}}}
		}},
		{name: "truncated", raw: string(orig[:len(orig)/2])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.edit != nil {
				edit(tc.edit)
			} else if err := os.WriteFile(cfgPath, []byte(tc.raw), 0o600); err != nil {
				t.Fatal(err)
			}
			r := strata(t, root, "run", "--rm", "--volumes-from", "victim", ref, "ls", "/x")
			if r.Code != 125 || strings.Count(r.Stderr, "\n") != 1 || !strings.HasPrefix(r.Stderr, "strata: ") {
				t.Errorf("exit %d, stdout %q, stderr %q; want 125 and one line", r.Code, r.Stdout, r.Stderr)
			}
			if _, err := os.Stat("/etc/passwd"); err != nil {
				t.Errorf("/etc/passwd: %v", err)
			}
		})
	}
	if err := os.WriteFile(cfgPath, orig, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestVolumesFromShareCutShort: a share of an anonymous volume killed part-way leaves the
// stored volume made but empty (killed before the move), or holding the data while the
// container's config.json still names its own dir (killed before the record). The next
// --volumes-from takes it up from either and loses nothing.
func TestVolumesFromShareCutShort(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	const ref = "volfrom/test:1"
	loadVolumeImage(t, root, ref, nil, nil)
	for _, moved := range []bool{false, true} {
		name := "cut" + map[bool]string{false: "made", true: "moved"}[moved]
		id := strings.TrimSpace(mustStrata(t, root, "create", "--name", name, "-v", "/anon", ref, "true").Stdout)
		ms := inspectMounts(t, root, id)
		if len(ms) != 1 {
			t.Fatalf("mounts of %s: %+v", name, ms)
		}
		if err := os.WriteFile(filepath.Join(ms[0].Source, "f"), []byte("kept\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var out []struct{ Mounts []struct{ Name string } }
		if err := json.Unmarshal([]byte(mustStrata(t, root, "inspect", id).Stdout), &out); err != nil || len(out) != 1 {
			t.Fatal(err)
		}
		vol := filepath.Join(root, "volumes", out[0].Mounts[0].Name)
		if err := os.MkdirAll(vol, 0o755); err != nil {
			t.Fatal(err)
		}
		meta := `{"name":"` + out[0].Mounts[0].Name + `","created":"2026-01-01T00:00:00Z","labels":{"com.docker.volume.anonymous":""}}`
		if err := os.WriteFile(filepath.Join(vol, "volume.json"), []byte(meta), 0o600); err != nil {
			t.Fatal(err)
		}
		if moved {
			if err := os.Rename(ms[0].Source, filepath.Join(vol, "_data")); err != nil {
				t.Fatal(err)
			}
		} else if err := os.Mkdir(filepath.Join(vol, "_data"), 0o755); err != nil {
			t.Fatal(err)
		}
		// The moved data is the container's own, which its config still places in its dir:
		// prune must keep it for the next share to take up.
		mustStrata(t, root, "volume", "prune", "-f")
		if _, err := os.Stat(filepath.Join(vol, "volume.json")); err != nil {
			t.Fatalf("moved=%v: volume prune removed the volume a cut-short share made: %v", moved, err)
		}
		if r := mustStrata(t, root, "run", "--rm", "--volumes-from", name, ref, "cat", "/anon/f"); r.Stdout != "kept\n" {
			t.Errorf("moved=%v: --volumes-from %s read %q, want the volume's file", moved, name, r.Stdout)
		}
		if r := mustStrata(t, root, "start", "-a", name); r.Code != 0 {
			t.Errorf("start %s after the share: %+v", name, r)
		}
		if m := inspectMounts(t, root, id); len(m) != 1 || m[0].Source != filepath.Join(vol, "_data") {
			t.Errorf("moved=%v: %s's mounts after the share: %+v", moved, name, m)
		}
	}
}

// TestVolumesFromAutoRemove: a --rm container whose anonymous volume another container
// mounted while it ran removes that volume when it exits and no other container mounts it:
// its monitor, which read the container's config before the share, reads it again.
func TestVolumesFromAutoRemove(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	const ref = "volfrom/test:1"
	loadVolumeImage(t, root, ref, nil, nil)
	mustStrata(t, root, "run", "-d", "--rm", "--name", "brief", "-v", "/anon", ref, "sleep", "600")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "brief") })
	mustStrata(t, root, "exec", "brief", "sh", "-c", "echo x > /anon/f")
	if r := mustStrata(t, root, "run", "--rm", "--volumes-from", "brief", ref, "cat", "/anon/f"); r.Stdout != "x\n" {
		t.Fatalf("reader: %q", r.Stdout)
	}
	if r := mustStrata(t, root, "volume", "ls", "-q"); strings.Count(r.Stdout, "\n") != 1 {
		t.Fatalf("volume ls while brief runs: %q; want its shared volume", r.Stdout)
	}
	mustStrata(t, root, "kill", "brief")
	// Its monitor removes it, and then the volume: waited for as the store shows it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := mustStrata(t, root, "volume", "ls", "-q")
		if r.Stdout == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("volume ls 30 s after brief was killed: %q; want its volume removed with it", r.Stdout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

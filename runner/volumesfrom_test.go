package runner

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
)

func TestParseVolumesFrom(t *testing.T) {
	for _, tc := range []struct {
		in       string
		ref      string
		readonly bool
		err      string
	}{
		{in: "data", ref: "data"},
		{in: "data:rw", ref: "data"},
		{in: "data:ro", ref: "data", readonly: true},
		{in: "data:ro,z", ref: "data", readonly: true},
		{in: "data:Z", ref: "data"},
		{in: "0123abcd:cached", ref: "0123abcd"},
		{in: "data:", ref: "data"},
		{in: "", err: "cannot be an empty string"},
		{in: ":ro", err: "no container named"},
		{in: "data:xx", err: `invalid mode: "xx"`},
		{in: "data:ro,rw", err: "invalid mode"},
		{in: "data:rshared", err: "invalid mode"}, // a propagation is the lender's
		{in: "data:nocopy", err: "invalid mode"},  // nothing is copied anyway
		{in: "data:ro:ro", err: "invalid mode"},
	} {
		ref, ro, err := ParseVolumesFrom(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseVolumesFrom(%q) = %q, %v, %v; want error %q", tc.in, ref, ro, err, tc.err)
			}
			continue
		}
		if err != nil || ref != tc.ref || ro != tc.readonly {
			t.Errorf("ParseVolumesFrom(%q) = %q, %v, %v; want %q, %v", tc.in, ref, ro, err, tc.ref, tc.readonly)
		}
	}
}

func TestLentMounts(t *testing.T) {
	const id = "aaaa0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"
	named := namedVolumeMount("data", "/data", false, true, "rw,nocopy")
	named.Source = "/root/volumes/data/_data"
	anon := mount.Mount{Type: TypeVolume, Source: "/root/volumes/h/_data", Target: "/anon", Options: []string{"rbind", "nodev", optModePrefix + "z", optVolumeNamePrefix + "h1", optAnonymous}}
	bind := mount.Mount{Type: "bind", Source: "/srv", Target: "/srv", Options: []string{"rbind", "ro", "rslave", optModePrefix + "ro,rslave", optCreate}}
	tmpfs := mount.Mount{Type: "tmpfs", Source: "tmpfs", Target: "/t", Options: []string{"nosuid"}}
	src := &Container{ID: id, Config: Config{Spec: Spec{Mounts: []mount.Mount{named, anon, bind, tmpfs}}}}

	got, err := LentMounts(src, false)
	if err != nil {
		t.Fatal(err)
	}
	from := optFromPrefix + id
	want := []mount.Mount{
		{Type: TypeVolume, Source: named.Source, Target: "/data", Options: []string{"rbind", "nodev", optVolumeNamePrefix + "data", from}},
		{Type: TypeVolume, Source: anon.Source, Target: "/anon", Options: []string{"rbind", "nodev", optVolumeNamePrefix + "h1", optAnonymous, from}},
		{Type: "bind", Source: "/srv", Target: "/srv", Options: []string{"rbind", "rslave", optCreate, "ro", from}},
	}
	if !slices.EqualFunc(got, want, mountEqual) {
		t.Errorf("LentMounts(rw) = %v, want %v", got, want)
	}
	// :ro makes every one read-only, and a lent mount no longer shows a mode.
	got, _ = LentMounts(src, true)
	for _, m := range got {
		if !slices.Contains(m.Options, "ro") || mountMode(m) != "" {
			t.Errorf("LentMounts(ro): %v", m)
		}
		if id, ok := VolumesFrom(m); !ok || id != src.ID {
			t.Errorf("VolumesFrom(%v) = %q, %v", m, id, ok)
		}
	}

	// What a damaged config.json holds is refused in one line.
	for _, bad := range []mount.Mount{
		{Type: "bind", Source: "/srv", Target: "relative"},
		{Type: "bind", Source: "/srv", Target: "/a/../b"},
		{Type: "bind", Source: "/srv", Target: "/"},
		{Type: "bind", Source: "", Target: "/x"},
		{Type: "bind", Source: "rel", Target: "/x"},
		{Type: "proc", Source: "proc", Target: "/x"},
		{Type: TypeVolume, Source: "/c/volumes/0", Target: "/x"}, // anonymous, not shared
		{Type: TypeVolume, Source: "/v", Target: "/x", Options: []string{optVolumeNamePrefix + "../etc"}},
	} {
		c := &Container{ID: id, Config: Config{Spec: Spec{Mounts: []mount.Mount{bad}}}}
		if _, err := LentMounts(c, false); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("LentMounts(%v) = %v, want a one-line error", bad, err)
		}
	}
	broken := &Container{ID: id, Broken: errors.New("container is broken: config.json: unexpected EOF")}
	if _, err := LentMounts(broken, false); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("LentMounts(broken) = %v", err)
	}
}

func mountEqual(a, b mount.Mount) bool {
	return a.Type == b.Type && a.Source == b.Source && a.Target == b.Target && slices.Equal(a.Options, b.Options)
}

func TestMergeVolumesFrom(t *testing.T) {
	own := []mount.Mount{{Type: "bind", Source: "/mine", Target: "/data"}, {Type: "tmpfs", Target: "/t/"}}
	a := []mount.Mount{{Type: "bind", Source: "/a", Target: "/data"}, {Type: "bind", Source: "/a1", Target: "/one"}, {Type: "bind", Source: "/a2", Target: "/t"}}
	b := []mount.Mount{{Type: "bind", Source: "/b", Target: "/one"}, {Type: "bind", Source: "/b2", Target: "/two"}}
	got := MergeVolumesFrom(own, [][]mount.Mount{a, b})
	var srcs []string
	for _, m := range got {
		srcs = append(srcs, m.Source)
	}
	// The container's own win; a later lender's replace an earlier's at its place.
	if want := []string{"/mine", "", "/b", "/b2"}; !slices.Equal(srcs, want) {
		t.Errorf("MergeVolumesFrom = %v, want sources %v", got, want)
	}
	if got := MergeVolumesFrom(own, nil); !slices.EqualFunc(got, own, mountEqual) {
		t.Errorf("MergeVolumesFrom(own, nil) = %v", got)
	}
}

func TestInspectLentMounts(t *testing.T) {
	const id = "bbbb0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"
	lent := []mount.Mount{
		{Type: TypeVolume, Source: "/r/volumes/data/_data", Target: "/data", Options: []string{"rbind", optVolumeNamePrefix + "data", "ro", optFromPrefix + "x"}},
		{Type: TypeVolume, Source: "/r/volumes/h1/_data", Target: "/anon", Options: []string{"rbind", optVolumeNamePrefix + "h1", optAnonymous, optFromPrefix + "x"}},
		{Type: "bind", Source: "/srv", Target: "/srv", Options: []string{"rbind", optCreate, optFromPrefix + "x"}},
	}
	own := mount.Mount{Type: TypeVolume, Source: "/r/volumes/h2/_data", Target: "/vol", Options: []string{"rbind", optVolumeNamePrefix + "h2", optAnonymous}}
	c := &Container{ID: id, Config: Config{VolumesFrom: []string{"x:ro"}, Spec: Spec{Mounts: append(lent, own)}}}
	d := Inspect(c)
	if !slices.Equal(d.HostConfig.VolumesFrom, []string{"x:ro"}) || d.HostConfig.Binds != nil || d.HostConfig.Mounts != nil {
		t.Errorf("HostConfig: VolumesFrom %v, Binds %v, Mounts %v; want only VolumesFrom", d.HostConfig.VolumesFrom, d.HostConfig.Binds, d.HostConfig.Mounts)
	}
	// A shared anonymous volume of its own is still one of Config.Volumes; lent ones are not.
	if len(d.Config.Volumes) != 1 {
		t.Errorf("Config.Volumes = %v, want /vol only", d.Config.Volumes)
	}
	if len(d.Mounts) != 4 || d.Mounts[0].Name != "data" || d.Mounts[0].RW || d.Mounts[1].Name != "h1" || d.Mounts[2].Type != "bind" || d.Mounts[3].Name != "h2" {
		t.Errorf("Mounts = %+v", d.Mounts)
	}
}

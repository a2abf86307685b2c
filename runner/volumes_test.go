package runner

import (
	"slices"
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
	"golang.org/x/sys/unix"
)

// TestAnonymousVolumes: the user's anonymous volumes (-v /path, --mount type=volume) and the
// image's VOLUMEs are numbered in one sequence, the user's first, where they stand.
func TestAnonymousVolumes(t *testing.T) {
	const dir = "/root/containers/c1"
	set := func(paths ...string) map[string]struct{} {
		m := map[string]struct{}{}
		for _, p := range paths {
			m[p] = struct{}{}
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		volumes map[string]struct{}
		user    []mount.Mount
		want    []string // target=source, in order
		wantErr string
	}{
		{name: "none", volumes: nil},
		{name: "sorted and numbered", volumes: set("/var/lib/db", "/data"),
			want: []string{"/data=" + dir + "/volumes/0", "/var/lib/db=" + dir + "/volumes/1"}},
		{name: "cleaned and merged", volumes: set("/data/", "/data", "/x/../y"),
			want: []string{"/data=" + dir + "/volumes/0", "/y=" + dir + "/volumes/1"}},
		{name: "a user mount replaces it", volumes: set("/data", "/logs"),
			user: []mount.Mount{{Type: "bind", Source: "/host", Target: "/data/"}, {Type: "tmpfs", Target: "/other"}},
			want: []string{"/logs=" + dir + "/volumes/0"}},
		{name: "user volumes first", volumes: set("/logs", "/data"),
			user: []mount.Mount{{Type: "tmpfs", Target: "/t"}, {Type: TypeVolume, Target: "/u", Options: []string{"rbind", "nodev"}},
				{Type: TypeVolume, Target: "/data", Options: []string{"rbind", "nodev", "ro"}}},
			want: []string{"/u=" + dir + "/volumes/0", "/data=" + dir + "/volumes/1", "/logs=" + dir + "/volumes/2"}},
		{name: "user volumes only", user: []mount.Mount{{Type: TypeVolume, Target: "/u", Options: []string{"rbind", "nodev"}}},
			want: []string{"/u=" + dir + "/volumes/0"}},
		{name: "no volume at all", user: []mount.Mount{{Type: "bind", Source: "/h", Target: "/b"}}},
		{name: "a user mount below it does not", volumes: set("/data"),
			user: []mount.Mount{{Type: "tmpfs", Target: "/data/sub"}},
			want: []string{"/data=" + dir + "/volumes/0"}},
		{name: "relative", volumes: set("data"), wantErr: `invalid VOLUME "data" in the image: not an absolute path`},
		{name: "empty", volumes: set(""), wantErr: `invalid VOLUME "" in the image: not an absolute path`},
		{name: "root", volumes: set("/"), wantErr: `invalid VOLUME "/" in the image: a volume can't be mounted on '/'`},
		{name: "root through dot-dot", volumes: set("/a/.."), wantErr: `invalid VOLUME "/a/.." in the image`},
		{name: "above the root", volumes: set("/.."), wantErr: `invalid VOLUME "/.." in the image`},
		{name: "proc", volumes: set("/data", "/proc"), wantErr: `invalid VOLUME "/proc" in the image: cannot be mounted because it is inside /proc`},
		{name: "inside proc", volumes: set("/proc/sys/kernel/"), wantErr: `invalid VOLUME "/proc/sys/kernel" in the image: cannot be mounted because it is inside /proc`},
		{name: "proc through dot-dot", volumes: set("/x/../proc/self"), wantErr: `invalid VOLUME "/proc/self" in the image: cannot be mounted`},
		{name: "proc file the user binds", volumes: set("/proc/cpuinfo", "/data"),
			user: []mount.Mount{{Type: "bind", Source: "/h/cpuinfo", Target: "/proc/cpuinfo"}},
			want: []string{"/data=" + dir + "/volumes/0"}},
		{name: "like proc", volumes: set("/procfs"), want: []string{"/procfs=" + dir + "/volumes/0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AnonymousVolumes(tc.volumes, tc.user, dir)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("AnonymousVolumes(%v) = %v, %v; want error %q", tc.volumes, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("AnonymousVolumes(%v) = %v", tc.volumes, err)
			}
			var pairs []string
			for _, m := range got {
				if m.Type != TypeVolume {
					continue
				}
				if !slices.Equal(m.Options[:2], []string{"rbind", "nodev"}) {
					t.Errorf("AnonymousVolumes(%v) made %+v, want a nodev volume", tc.volumes, m)
				}
				pairs = append(pairs, m.Target+"="+m.Source)
			}
			if n := len(got) - len(pairs); n != len(tc.user)-userVolumes(tc.user) {
				t.Errorf("AnonymousVolumes(%v) = %v: the user's other mounts changed", tc.volumes, got)
			}
			if !slices.Equal(pairs, tc.want) {
				t.Errorf("AnonymousVolumes(%v) = %v, want %v", tc.volumes, pairs, tc.want)
			}
		})
	}
}

// TestPlanVolume: an anonymous volume is bound like -v, read-write and nodev, after the
// parent mounts and before the read-only remount of the root, which leaves it writable.
func TestPlanVolume(t *testing.T) {
	mounts, err := AnonymousVolumes(map[string]struct{}{"/data/db": {}}, []mount.Mount{{Type: "tmpfs", Source: "tmpfs", Target: "/data"}}, "/c")
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{ID: "c", Dir: "/c", ReadOnly: true, Args: []string{"true"}, Mounts: mounts}
	if err := spec.validateInput(); err != nil {
		t.Fatalf("validateInput() = %v", err)
	}
	steps := plan(spec)
	i := stepIndex(steps, OpBind, "/data/db")
	if i < 0 {
		t.Fatalf("plan has no bind of /data/db: %+v", steps)
	}
	s := steps[i]
	if s.Source != "/c/volumes/0" || s.Flags != unix.MS_NODEV || s.Create {
		t.Errorf("volume step = %+v, want a bind of /c/volumes/0 with MS_NODEV only", s)
	}
	if parent := stepIndex(steps, OpMount, "/data"); parent < 0 || parent > i {
		t.Errorf("tmpfs on /data at step %d, volume at %d: want the parent first", parent, i)
	}
	if ro := stepIndex(steps, OpReadOnly, "/"); ro < i {
		t.Errorf("read-only remount at step %d, volume at %d: want the volume first", ro, i)
	}
}

// userVolumes counts the TypeVolume mounts of mounts.
func userVolumes(mounts []mount.Mount) int {
	n := 0
	for _, m := range mounts {
		if m.Type == TypeVolume {
			n++
		}
	}
	return n
}

// TestAnonymousVolumesKeepsInput: placing volumes never writes into the caller's slice.
func TestAnonymousVolumesKeepsInput(t *testing.T) {
	user := []mount.Mount{{Type: TypeVolume, Target: "/u"}}
	got, err := AnonymousVolumes(nil, user, "/c")
	if err != nil || len(got) != 1 || got[0].Source != "/c/volumes/0" {
		t.Fatalf("AnonymousVolumes = %+v, %v; want /u at /c/volumes/0", got, err)
	}
	if user[0].Source != "" {
		t.Errorf("AnonymousVolumes set the caller's mount's Source to %q", user[0].Source)
	}
}

// TestVolumeName: a volume's name is 64 hex digits, the same for the same volume and
// different for another volume or container.
func TestVolumeName(t *testing.T) {
	a := VolumeName("id1", "/c/id1/volumes/0")
	if len(a) != 64 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("VolumeName = %q, want 64 hex digits", a)
	}
	if b := VolumeName("id1", "/elsewhere/volumes/0"); b != a {
		t.Errorf("VolumeName of the same volume: %q and %q", a, b)
	}
	if b := VolumeName("id1", "/c/id1/volumes/1"); b == a {
		t.Errorf("VolumeName of volumes 0 and 1 are both %q", a)
	}
	if b := VolumeName("id2", "/c/id2/volumes/0"); b == a {
		t.Errorf("VolumeName of two containers' volume 0 are both %q", a)
	}
}

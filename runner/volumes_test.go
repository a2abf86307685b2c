package runner

import (
	"slices"
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
	"golang.org/x/sys/unix"
)

func TestImageVolumes(t *testing.T) {
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
		{name: "a user mount below it does not", volumes: set("/data"),
			user: []mount.Mount{{Type: "tmpfs", Target: "/data/sub"}},
			want: []string{"/data=" + dir + "/volumes/0"}},
		{name: "relative", volumes: set("data"), wantErr: `invalid VOLUME "data" in the image: not an absolute path`},
		{name: "empty", volumes: set(""), wantErr: `invalid VOLUME "" in the image: not an absolute path`},
		{name: "root", volumes: set("/"), wantErr: `invalid VOLUME "/" in the image: a volume can't be mounted on '/'`},
		{name: "root through dot-dot", volumes: set("/a/.."), wantErr: `invalid VOLUME "/a/.." in the image`},
		{name: "above the root", volumes: set("/.."), wantErr: `invalid VOLUME "/.." in the image`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ImageVolumes(tc.volumes, tc.user, dir)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("ImageVolumes(%v) = %v, %v; want error %q", tc.volumes, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ImageVolumes(%v) = %v", tc.volumes, err)
			}
			var pairs []string
			for _, m := range got {
				if m.Type != TypeVolume || !slices.Equal(m.Options, []string{"rbind", "nodev"}) {
					t.Errorf("ImageVolumes(%v) made %+v, want a read-write nodev volume", tc.volumes, m)
				}
				pairs = append(pairs, m.Target+"="+m.Source)
			}
			if !slices.Equal(pairs, tc.want) {
				t.Errorf("ImageVolumes(%v) = %v, want %v", tc.volumes, pairs, tc.want)
			}
		})
	}
}

// TestPlanVolume: an anonymous volume is bound like -v, read-write and nodev, after the
// parent mounts and before the read-only remount of the root, which leaves it writable.
func TestPlanVolume(t *testing.T) {
	vols, err := ImageVolumes(map[string]struct{}{"/data/db": {}}, nil, "/c")
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{ID: "c", Dir: "/c", ReadOnly: true, Args: []string{"true"},
		Mounts: append([]mount.Mount{{Type: "tmpfs", Source: "tmpfs", Target: "/data"}}, vols...)}
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

package runner

import (
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
	"golang.org/x/sys/unix"
)

// stepIndex returns the index of the first step with op and target, or -1.
func stepIndex(steps []Step, op Op, target string) int {
	return slices.IndexFunc(steps, func(s Step) bool { return s.Op == op && s.Target == target })
}

func TestPlanOrder(t *testing.T) {
	spec := Spec{
		ID: "id", Dir: "/c", Root: []mount.Mount{{Type: "overlay", Target: "/"}},
		Mounts: []mount.Mount{
			{Type: "bind", Source: "/h/inner", Target: "/data/inner", Options: []string{"rbind"}},
			{Type: "bind", Source: "/h/data", Target: "/data", Options: []string{"rbind", "ro"}},
			{Type: "tmpfs", Source: "tmpfs", Target: "/dev/shm", Options: []string{"size=1024"}},
		},
		Cwd:      "/work",
		ReadOnly: true,
	}
	steps := plan(spec)
	// Each pair must appear in this order.
	before := [][2]struct {
		op     Op
		target string
	}{
		{{OpRoot, "/"}, {OpMount, "/proc"}},
		{{OpMount, "/dev"}, {OpMount, "/dev/pts"}},
		{{OpMount, "/dev"}, {OpDevice, "/dev/null"}},
		{{OpBind, "/data"}, {OpBind, "/data/inner"}},
		{{OpBind, "/etc/hosts"}, {OpPivot, "/"}},
		{{OpBind, "/data/inner"}, {OpPivot, "/"}},
		{{OpPivot, "/"}, {OpMask, "/proc/kcore"}},
		{{OpPivot, "/"}, {OpReadOnly, "/proc/sys"}},
		{{OpMkdir, "/work"}, {OpReadOnly, "/"}},
	}
	for _, p := range before {
		i, j := stepIndex(steps, p[0].op, p[0].target), stepIndex(steps, p[1].op, p[1].target)
		if i < 0 || j < 0 || i > j {
			t.Errorf("plan: %s %s (at %d) should come before %s %s (at %d)", p[0].op, p[0].target, i, p[1].op, p[1].target, j)
		}
	}
	// The user's tmpfs on /dev/shm comes after the default one, so it wins.
	var shm []int
	for i, s := range steps {
		if s.Target == "/dev/shm" {
			shm = append(shm, i)
		}
	}
	if len(shm) != 2 || steps[shm[1]].Data != "size=1024" {
		t.Errorf("plan: /dev/shm steps %v, want the default then the user's", shm)
	}
	if s := steps[stepIndex(steps, OpBind, "/data")]; s.Flags&unix.MS_RDONLY == 0 {
		t.Errorf("plan: ro bind /data has flags %#x, want MS_RDONLY", s.Flags)
	}
	if s := steps[stepIndex(steps, OpBind, "/etc/resolv.conf")]; s.Source != "/c/resolv.conf" {
		t.Errorf("plan: /etc/resolv.conf from %q, want the container dir's", s.Source)
	}
}

func TestPlanOptions(t *testing.T) {
	base := Spec{ID: "id", Dir: "/c", Root: []mount.Mount{{Type: "overlay"}}}
	tests := []struct {
		name  string
		edit  func(*Spec)
		check func(t *testing.T, steps []Step)
	}{
		{"default masks and read-only paths", func(*Spec) {}, func(t *testing.T, steps []Step) {
			for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/sys/firmware", "/proc/acpi"} {
				if stepIndex(steps, OpMask, p) < 0 {
					t.Errorf("no mask for %s", p)
				}
			}
			for _, p := range []string{"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"} {
				if stepIndex(steps, OpReadOnly, p) < 0 {
					t.Errorf("no read-only step for %s", p)
				}
			}
			if stepIndex(steps, OpReadOnly, "/") >= 0 {
				t.Errorf("root made read-only without --read-only")
			}
			if s := steps[stepIndex(steps, OpMount, "/sys")]; s.Flags&unix.MS_RDONLY == 0 {
				t.Errorf("/sys not read-only")
			}
		}},
		{"privileged", func(s *Spec) { s.Privileged = true }, func(t *testing.T, steps []Step) {
			if stepIndex(steps, OpMask, "/proc/kcore") >= 0 || stepIndex(steps, OpReadOnly, "/proc/sys") >= 0 {
				t.Errorf("privileged container still masks paths")
			}
			if s := steps[stepIndex(steps, OpMount, "/sys")]; s.Flags&unix.MS_RDONLY != 0 {
				t.Errorf("privileged /sys is read-only")
			}
		}},
		{"user mount over /etc/hosts", func(s *Spec) {
			s.Mounts = []mount.Mount{{Type: "bind", Source: "/my/hosts", Target: "/etc/hosts"}}
		}, func(t *testing.T, steps []Step) {
			n := 0
			for _, s := range steps {
				if s.Target == "/etc/hosts" {
					n++
					if s.Source != "/my/hosts" {
						t.Errorf("/etc/hosts bound from %q, want the user's", s.Source)
					}
				}
			}
			if n != 1 {
				t.Errorf("%d steps for /etc/hosts, want 1", n)
			}
		}},
		{"-v creates its source", func(s *Spec) {
			m, _ := ParseVolume("/a:/b")
			s.Mounts = []mount.Mount{m}
		}, func(t *testing.T, steps []Step) {
			if s := steps[stepIndex(steps, OpBind, "/b")]; !s.Create {
				t.Errorf("-v bind step %+v does not create its source", s)
			}
		}},
		{"tmpfs options", func(s *Spec) {
			m, _ := ParseTmpfs("/t:size=1k,ro")
			s.Mounts = []mount.Mount{m}
		}, func(t *testing.T, steps []Step) {
			s := steps[stepIndex(steps, OpMount, "/t")]
			want := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC) // ro comes last (TestPlanReadOnlyTmpfs)
			if s.FSType != "tmpfs" || s.Flags != want || s.Data != "size=1024" {
				t.Errorf("tmpfs step = %+v, want flags %#x data size=1024", s, want)
			}
			if ro := stepIndex(steps, OpReadOnly, "/t"); ro < 0 || steps[ro].Data != readOnlyMount {
				t.Errorf("no step makes the ro tmpfs read-only")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := base
			tt.edit(&spec)
			tt.check(t, plan(spec))
		})
	}
}

func TestDepth(t *testing.T) {
	for in, want := range map[string]int{"/": 0, "": 0, "/a": 1, "/a/b/": 2, "a/b/c": 3, "/a/../b": 1} {
		if got := depth(in); got != want {
			t.Errorf("depth(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestPlanPrivilegedDevices(t *testing.T) {
	host := hostInfo{Devices: []string{"null", "fuse", "net/tun"}}
	spec := Spec{ID: "id", Dir: "/c", Root: []mount.Mount{{Type: "overlay"}}}
	if i := stepIndex(planWith(spec, host), OpDevice, "/dev/fuse"); i >= 0 {
		t.Errorf("unprivileged plan makes /dev/fuse")
	}
	spec.Privileged = true
	steps := planWith(spec, host)
	for _, d := range []string{"/dev/null", "/dev/zero", "/dev/fuse", "/dev/net/tun"} {
		if stepIndex(steps, OpDevice, d) < 0 {
			t.Errorf("privileged plan lacks the device %s", d)
		}
	}
	n := 0
	for _, s := range steps {
		if s.Target == "/dev/null" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("privileged plan binds /dev/null %d times, want 1", n)
	}
}

// TestPlanJoin checks where the init waits to join its cgroup: after everything but the
// cgroup filesystems, which follow it after the pivot; before the user's mounts when one of
// them lies on /sys or the cgroup tree and must stay on top.
func TestPlanJoin(t *testing.T) {
	host := hostInfo{Cgroups: []cgroupMount{
		{"/sys/fs/cgroup/memory", "cgroup", "rw,memory"},
		{"/sys/fs/cgroup/unified", "cgroup2", "rw"},
	}}
	base := Spec{ID: "id", Dir: "/c", Root: []mount.Mount{{Type: "overlay"}}, Cwd: "/w", ReadOnly: true}
	joins := func(steps []Step) (at, n int) {
		at = -1
		for i, s := range steps {
			if s.Op == OpJoin {
				at, n = i, n+1
			}
		}
		return at, n
	}

	steps := planWith(base, host)
	join, n := joins(steps)
	if n != 1 {
		t.Fatalf("plan has %d join steps, want 1", n)
	}
	// And last, the working directory's second step, for one the image's symlinks lead
	// into the cgroup tree (it makes nothing else).
	if last := steps[len(steps)-1]; last.Op != OpMkdir || last.Target != "/w" || last.Data != mkdirIfLeft {
		t.Errorf("last step %+v, want the working directory's mkdir of %q", last, mkdirIfLeft)
	} else {
		steps = steps[:len(steps)-1]
	}
	for _, s := range steps[join+1:] {
		if !strings.HasPrefix(s.Target, cgroupfsRoot) {
			t.Errorf("step %s %s comes after the join; only the cgroup filesystems should", s.Op, s.Target)
		}
	}
	if got := len(steps) - join - 1; got != len(cgroupSteps(host.Cgroups, nil, false)) {
		t.Errorf("%d steps after the join, want the %d cgroup steps", got, len(cgroupSteps(host.Cgroups, nil, false)))
	}
	if pivot := stepIndex(steps, OpPivot, "/"); pivot < 0 || pivot > join {
		t.Errorf("pivot at %d, join at %d: the pivot should come first", pivot, join)
	}
	if ro := stepIndex(steps, OpReadOnly, "/"); ro > join {
		t.Errorf("read-only root at %d after the join at %d", ro, join)
	}

	for _, target := range []string{"/sys", "/sys/fs", "/sys/fs/cgroup", "/sys/fs/cgroup/memory/x"} {
		spec := base
		spec.Mounts = []mount.Mount{{Type: "bind", Source: "/h", Target: target}}
		steps := planWith(spec, host)
		join, n := joins(steps)
		user := stepIndex(steps, OpBind, path.Clean(target))
		cg := stepIndex(steps, OpMount, "/sys/fs/cgroup/memory")
		if n != 1 || cg < join || user < cg || stepIndex(steps, OpPivot, "/") < user {
			t.Errorf("-v on %s: join at %d (%d of them), cgroup mount at %d, user mount at %d: want join, cgroups, the user's mount, pivot", target, join, n, cg, user)
		}
	}

	// No cgroup filesystem on the host: the join is still there, last.
	steps = planWith(base, hostInfo{})
	if join, n := joins(steps); n != 1 || join != len(steps)-1 {
		t.Errorf("without cgroups: join at %d of %d steps (%d joins), want last", join, len(steps), n)
	}
}

func TestCoversCgroupfs(t *testing.T) {
	for target, want := range map[string]bool{
		"/sys": true, "/sys/": true, "/sys/fs": true, "/sys/fs/cgroup": true, "/sys/fs/cgroup/x/y": true,
		"sys/fs/cgroup": true, "/sys/fs/cgroupx": false, "/sys/kernel": false, "/": false, "/data": false,
	} {
		if got := coversCgroupfs(target); got != want {
			t.Errorf("coversCgroupfs(%q) = %v, want %v", target, got, want)
		}
	}
}

// TestPlanMountOnDev: a filesystem mounted at /dev takes the default tmpfs's place, under the
// standard nodes; a bind or volume there goes on top of them, and the masks keep the null
// device made beneath it.
func TestPlanMountOnDev(t *testing.T) {
	tmpfs := mount.Mount{Type: "tmpfs", Source: "tmpfs", Target: "/dev/", Options: []string{"nosuid", "nodev", "noexec", "size=1024"}}
	host := mount.Mount{Type: "bind", Source: "/dev", Target: "/dev", Options: []string{"rbind"}}
	volume := mount.Mount{Type: TypeVolume, Source: "/c/volumes/v", Target: "/dev", Options: []string{"rbind", "nodev"}}
	for _, tc := range []struct {
		name       string
		mounts     []mount.Mount
		privileged bool
		keep, null bool
	}{
		{"none", nil, false, false, false},
		{"tmpfs", []mount.Mount{tmpfs}, false, false, false},
		{"host bind", []mount.Mount{host}, false, true, false},
		// Kept privileged too: the init opens it as the command's stdin without -i.
		{"host bind privileged", []mount.Mount{host}, true, true, false},
		{"volume", []mount.Mount{volume}, false, true, true},
		{"volume privileged", []mount.Mount{volume}, true, true, true},
		{"file at /dev/null", []mount.Mount{{Type: "bind", Source: "/h/f", Target: "/dev/null"}}, false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps := plan(Spec{ID: "id", Dir: "/c", Mounts: tc.mounts, Privileged: tc.privileged})
			var devs []Step
			for _, s := range steps {
				if s.Target == "/dev" {
					devs = append(devs, s)
				}
			}
			null := stepIndex(steps, OpDevice, "/dev/null")
			pts := stepIndex(steps, OpMount, "/dev/pts")
			keep := stepIndex(steps, OpKeepNull, "/dev/null")
			if (keep >= 0) != tc.keep || keep >= 0 && (keep < null || keep > stepIndex(steps, OpPivot, "/")) {
				t.Errorf("plan: keepnull at %d (device null at %d), want one after it: %v", keep, null, tc.keep)
			}
			nullBind := stepIndex(steps, OpNull, "/dev/null")
			if (nullBind >= 0) != tc.null {
				t.Errorf("plan: null at %d, want one: %v", nullBind, tc.null)
			}
			if tc.mounts == nil || tc.mounts[0].Target != "/dev" && tc.mounts[0].Target != "/dev/" {
				return
			}
			switch tc.mounts[0].Type {
			case "tmpfs":
				if len(devs) != 1 || devs[0].Data != "size=1024" || devs[0].Flags&unix.MS_NODEV != 0 || stepIndex(steps, OpMount, "/dev") > pts {
					t.Errorf("plan: /dev steps %+v, want only the user's tmpfs, without nodev, before /dev/pts", devs)
				}
			default:
				user := slices.IndexFunc(steps, func(s Step) bool { return s.Op == OpBind && s.Target == "/dev" })
				if len(devs) != 2 || devs[0].FSType != "tmpfs" || user < null || user < keep || tc.null && nullBind < user {
					t.Errorf("plan: /dev steps %+v, user's at %d, want the default tmpfs, its nodes, then the user's bind and its null", devs, user)
				}
			}
		})
	}
}

// TestPlanCwdInCgroupfs: a working directory in the cgroup tree is made after the cgroup
// filesystems, which are mounted last, or it was looked for in sysfs beneath them (docker's
// runc makes it once every mount is made); any other is made before the read-only root.
func TestPlanCwdInCgroupfs(t *testing.T) {
	host := hostInfo{Cgroups: []cgroupMount{
		{"/sys/fs/cgroup/memory", "cgroup", "rw,memory"},
		{"/sys/fs/cgroup/unified", "cgroup2", "rw"},
	}}
	for _, tt := range []struct {
		cwd     string
		mount   string // a user mount's target, "" for none
		cgroups bool   // made after the cgroup filesystems
		ro      bool   // made after the read-only root
	}{
		{"/sys/fs/cgroup/memory", "", true, true},
		{"/sys/fs/cgroup/memory/x/..", "", true, true},
		{"/sys/fs/cgroup", "", true, true},
		{"/sys/fs/cgroupx", "", false, false},
		{"/work", "", false, false},
		{"/sys/kernel", "", false, false},
		// A mount on the cgroup tree moves the cgroup filesystems before the pivot.
		{"/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory/x", true, false},
	} {
		spec := Spec{ID: "id", Dir: "/c", Root: []mount.Mount{{Type: "overlay"}}, Cwd: tt.cwd, ReadOnly: true}
		if tt.mount != "" {
			spec.Mounts = []mount.Mount{{Type: "bind", Source: "/h", Target: tt.mount}}
		}
		steps := planWith(spec, host)
		mk, cg := stepIndex(steps, OpMkdir, path.Clean(tt.cwd)), stepIndex(steps, OpMount, "/sys/fs/cgroup/memory")
		pivot, ro := stepIndex(steps, OpPivot, "/"), stepIndex(steps, OpReadOnly, "/")
		if mk < 0 || cg < 0 || ro < 0 || mk < pivot || (mk > cg) != tt.cgroups || (mk > ro) != tt.ro {
			t.Errorf("cwd %s, mount %q: mkdir at %d, cgroup mount at %d, pivot at %d, read-only root at %d; want the mkdir after the pivot, after the cgroup mounts: %v, after the read-only root: %v",
				tt.cwd, tt.mount, mk, cg, pivot, ro, tt.cgroups, tt.ro)
		}
		// One made before the cgroup filesystems mounted after it may be left to a second
		// step after them, which makes only what the first left: the image's symlinks may
		// lead it there.
		var mkdirs []Step
		for _, s := range steps {
			if s.Op == OpMkdir {
				mkdirs = append(mkdirs, s)
			}
		}
		want := []Step{{Op: OpMkdir, Target: path.Clean(tt.cwd)}}
		if !tt.cgroups {
			want = []Step{
				{Op: OpMkdir, Target: path.Clean(tt.cwd), Data: mkdirCgroupfsLater},
				{Op: OpMkdir, Target: path.Clean(tt.cwd), Data: mkdirIfLeft},
			}
			if last := len(steps) - 1; steps[last] != want[1] || last < cg {
				t.Errorf("cwd %s: last step %+v, want %+v, after the cgroup mounts", tt.cwd, steps[last], want[1])
			}
		}
		if !slices.Equal(mkdirs, want) {
			t.Errorf("cwd %s, mount %q: mkdir steps %+v, want %+v", tt.cwd, tt.mount, mkdirs, want)
		}
	}
}

// TestPlanReadOnlyTmpfs: a read-only tmpfs of the user's, at /dev or elsewhere, is mounted
// writable and made read-only after the pivot, once the mounts beneath it are made; a bind
// keeps its ro on its own step, and a writable tmpfs gets no second step.
func TestPlanReadOnlyTmpfs(t *testing.T) {
	mounts := []mount.Mount{
		{Type: "bind", Source: "/h", Target: "/x/sub", Options: []string{"rbind", "ro"}},
		{Type: "tmpfs", Source: "tmpfs", Target: "/x", Options: []string{"ro", "size=1024"}},
		{Type: "tmpfs", Source: "tmpfs", Target: "/dev", Options: []string{"ro"}},
		{Type: "tmpfs", Source: "tmpfs", Target: "/w", Options: []string{"rw"}},
	}
	steps := plan(Spec{ID: "id", Dir: "/c", Mounts: mounts})
	pivot := stepIndex(steps, OpPivot, "/")
	for _, target := range []string{"/x", "/dev"} {
		m := stepIndex(steps, OpMount, target)
		ro := stepIndex(steps, OpReadOnly, target)
		if m < 0 || steps[m].Flags&unix.MS_RDONLY != 0 {
			t.Errorf("plan: tmpfs %s mounted at step %d, %+v; want writable", target, m, steps[max(m, 0)])
		}
		if ro < pivot || steps[ro].Data != readOnlyMount {
			t.Errorf("plan: tmpfs %s made read-only at step %d (pivot %d), want after the pivot", target, ro, pivot)
		}
	}
	if bind := stepIndex(steps, OpBind, "/x/sub"); bind < 0 || steps[bind].Flags&unix.MS_RDONLY == 0 || stepIndex(steps, OpReadOnly, "/x/sub") >= 0 {
		t.Errorf("plan: the read-only bind's step %d, want ro on it and no other", bind)
	}
	if stepIndex(steps, OpReadOnly, "/w") >= 0 {
		t.Error("plan: a writable tmpfs made read-only")
	}
}

package cgroups

import (
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// fakes returns one fake host of each layout.
func fakes(t *testing.T, o fakeOpts) map[string]*hierarchy {
	hy := o
	hy.hybrid = true
	return map[string]*hierarchy{"v1": fakeV1(t, o), "hybrid": fakeV1(t, hy), "v2": fakeV2(t, o)}
}

func TestLimitsRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		r    Resources
		want Resources // what the kernel files say back
	}{
		{"none", Resources{}, Resources{}},
		{"memory gets docker's swap", Resources{Memory: 64 << 20}, Resources{Memory: 64 << 20, MemorySwap: 128 << 20}},
		{"memory and swap", Resources{Memory: 64 << 20, MemorySwap: 100 << 20}, Resources{Memory: 64 << 20, MemorySwap: 100 << 20}},
		{"unlimited swap", Resources{Memory: 64 << 20, MemorySwap: -1}, Resources{Memory: 64 << 20, MemorySwap: -1}},
		{"everything", Resources{Memory: 1 << 30, MemorySwap: 2 << 30, CPUs: 1.25, CPUShares: 1024, CpusetCpus: "1-2", PidsLimit: 64},
			Resources{Memory: 1 << 30, MemorySwap: 2 << 30, CPUs: 1.25, CpusetCpus: "1-2", PidsLimit: 64}},
	}
	for _, tt := range tests {
		for layout, h := range fakes(t, fakeOpts{}) {
			t.Run(tt.name+"/"+layout, func(t *testing.T) {
				c, err := h.create("c1", tt.r)
				if err != nil {
					t.Fatal(err)
				}
				got, err := c.Limits()
				if err != nil || !got.Equal(tt.want) {
					t.Errorf("Limits() = %+v, %v, want %+v", got, err, tt.want)
				}
				loaded, err := h.load("c1")
				if err != nil {
					t.Fatalf("load = %v", err)
				}
				if loaded.Path() != c.Path() {
					t.Errorf("loaded Path() = %q, want %q", loaded.Path(), c.Path())
				}
				if got, err := loaded.Limits(); err != nil || !got.Equal(tt.want) {
					t.Errorf("loaded Limits() = %+v, %v, want %+v", got, err, tt.want)
				}
			})
		}
	}
}

// Shares survive the trip through v2's cpu.weight only approximately; v1 keeps them exactly.
func TestLimitsShares(t *testing.T) {
	for layout, h := range fakes(t, fakeOpts{}) {
		c, err := h.create("c1", Resources{CPUShares: 512})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Limits()
		want := uint64(512)
		if layout == "v2" {
			want = weightToShares(sharesToWeight(512))
		}
		if err != nil || got.CPUShares != want {
			t.Errorf("%s: Limits().CPUShares = %d, %v, want %d", layout, got.CPUShares, err, want)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	for layout, h := range fakes(t, fakeOpts{}) {
		if _, err := h.load("nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: load(missing) = %v, want ErrNotFound", layout, err)
		}
		if _, err := h.load("../x"); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: load(../x) = %v, want ErrInvalid", layout, err)
		}
	}
}

func TestDeleteBusy(t *testing.T) {
	for layout, h := range fakes(t, fakeOpts{}) {
		t.Run(layout, func(t *testing.T) {
			c, err := h.create("c1", Resources{})
			if err != nil {
				t.Fatal(err)
			}
			// A process the fake kernel still lists keeps the cgroup busy.
			procs := filepath.Join(c.Path(), "cgroup.procs")
			mustWrite(t, procs, "4242\n")
			err = c.Delete()
			if !errors.Is(err, ErrBusy) || !errors.Is(err, unix.EBUSY) {
				t.Fatalf("Delete() with a process = %v, want ErrBusy", err)
			}
			if !isDir(c.Path()) {
				t.Errorf("busy %s was removed", c.Path())
			}
			mustWrite(t, procs, "")
			if err := c.Delete(); err != nil {
				t.Fatalf("Delete() = %v", err)
			}
			for _, d := range c.dirs {
				if isDir(d) {
					t.Errorf("Delete left %s", d)
				}
			}
			if err := c.Delete(); err != nil {
				t.Errorf("second Delete() = %v, want nil", err)
			}
		})
	}
}

func TestStatsFake(t *testing.T) {
	for layout, h := range fakes(t, fakeOpts{}) {
		t.Run(layout, func(t *testing.T) {
			c, err := h.create("c1", Resources{Memory: 64 << 20, PidsLimit: 9})
			if err != nil {
				t.Fatal(err)
			}
			want := Stats{MemoryUsage: 5 << 20, MemoryInactiveFile: 1 << 20, MemoryLimit: 64 << 20, PidsCurrent: 3, PidsLimit: 9, CPUUsageNs: 7000}
			if c.dir != "" {
				writeAll(t, c.dir, map[string]string{
					"memory.current": "5242880\n",
					"memory.stat":    "anon 4194304\nfile 1048576\ninactive_file 1048576\nactive_file 0\n",
					"pids.current":   "3\n",
					"cpu.stat":       "usage_usec 7\nuser_usec 5\nsystem_usec 2\n",
				})
			} else {
				writeAll(t, c.ctrls["memory"], map[string]string{
					"memory.usage_in_bytes": "5242880\n",
					"memory.stat":           "cache 1048576\ninactive_file 0\ntotal_inactive_file 1048576\n",
				})
				mustWrite(t, filepath.Join(c.ctrls["pids"], "pids.current"), "3\n")
				mustWrite(t, filepath.Join(c.ctrls["cpuacct"], "cpuacct.usage"), "7000\n")
			}
			if got, err := c.Stats(); err != nil || got != want {
				t.Errorf("Stats() = %+v, %v, want %+v", got, err, want)
			}
		})
	}
}

// Without limits, v1 reports PAGE_COUNTER_MAX bytes and v2 "max": both must read as 0.
func TestStatsUnlimited(t *testing.T) {
	for layout, h := range fakes(t, fakeOpts{}) {
		c, err := h.create("c1", Resources{})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.Stats(); err != nil || got.MemoryLimit != 0 || got.PidsLimit != 0 {
			t.Errorf("%s: Stats() = %+v, %v, want no limits", layout, got, err)
		}
	}
}

func TestOOMKilledFake(t *testing.T) {
	tests := []struct {
		name   string
		v2     bool
		events string
		want   bool
	}{
		{"v2 none", true, "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n", false},
		{"v2 killed", true, "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\noom_group_kill 0\n", true},
		{"v1 none", false, "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n", false},
		{"v1 killed", false, "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n", true},
		// Before Linux 4.13 memory.oom_control had no oom_kill: under_oom is all there is.
		{"v1 old kernel", false, "oom_kill_disable 0\nunder_oom 1\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c *Cgroup
			var err error
			if tt.v2 {
				c, err = fakeV2(t, fakeOpts{}).create("c1", Resources{})
				if err == nil {
					mustWrite(t, filepath.Join(c.dir, "memory.events"), tt.events)
				}
			} else {
				c, err = fakeV1(t, fakeOpts{}).create("c1", Resources{})
				if err == nil {
					mustWrite(t, filepath.Join(c.ctrls["memory"], "memory.oom_control"), tt.events)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := c.OOMKilled(); err != nil || got != tt.want {
				t.Errorf("OOMKilled() = %v, %v, want %v", got, err, tt.want)
			}
		})
	}
}

func TestDirFDFake(t *testing.T) {
	for layout, h := range fakes(t, fakeOpts{}) {
		c, err := h.create("c1", Resources{})
		if err != nil {
			t.Fatal(err)
		}
		fd, ok := c.DirFD()
		if layout != "v2" {
			if ok {
				t.Errorf("%s: DirFD() = %d, true, want ok false", layout, fd)
			}
			continue
		}
		var st unix.Stat_t
		if !ok || unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			t.Fatalf("v2: DirFD() = %d, %v, want a directory fd", fd, ok)
		}
		if again, _ := c.DirFD(); again != fd {
			t.Errorf("second DirFD() = %d, want the same fd %d", again, fd)
		}
		if err := c.Delete(); err != nil {
			t.Fatal(err)
		}
		if err := unix.Fstat(fd, &st); err != unix.EBADF {
			t.Errorf("after Delete, fstat(fd) = %v, want EBADF (closed)", err)
		}
	}
}

// With no process left, Kill only pokes cgroup.kill (where there is one) and returns; it never
// freezes. No PID is ever written into a fake cgroup.procs here: Kill would signal it for real.
func TestKillEmptyFake(t *testing.T) {
	for layout, h := range fakes(t, fakeOpts{}) {
		c, err := h.create("c1", Resources{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Kill(); err != nil {
			t.Errorf("%s: Kill() = %v", layout, err)
		}
		node := c.dir
		if node == "" {
			node = c.unified
		}
		if node != "" {
			if got := readFake(t, filepath.Join(node, "cgroup.kill")); got != "1" {
				t.Errorf("%s: cgroup.kill = %q, want 1", layout, got)
			}
		}
		if d := c.ctrls["freezer"]; d != "" {
			if got := readFake(t, filepath.Join(d, "freezer.state")); got != "THAWED" {
				t.Errorf("%s: freezer.state = %q, want THAWED", layout, got)
			}
		}
		if err := c.Delete(); err != nil {
			t.Errorf("%s: Delete() = %v", layout, err)
		}
		if err := c.Kill(); err != nil {
			t.Errorf("%s: Kill() after Delete = %v, want nil", layout, err)
		}
	}
}

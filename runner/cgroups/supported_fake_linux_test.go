package cgroups

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckSupported: a limit whose controller the host lacks is refused before anything is
// made, in New's words less the cgroup's name; one it has, or no limit at all, passes. A v2
// host offering only hugetlb is this hybrid host's cgroup2 tree seen as a pure v2 layout
// (integration's TestPureV2Layout); a v1 host without pids is an old kernel's.
func TestCheckSupported(t *testing.T) {
	all := Resources{Memory: 64 << 20, CPUs: 0.5, CPUShares: 512, CpusetCpus: "0", PidsLimit: 20}
	for _, tc := range []struct {
		name string
		h    func(t *testing.T) *hierarchy
		r    Resources
		want string // "" when supported
	}{
		{"v2 all", func(t *testing.T) *hierarchy { return fakeV2(t, fakeOpts{}) }, all, ""},
		{"v2 hugetlb none", func(t *testing.T) *hierarchy { return fakeV2(t, fakeOpts{controllers: []string{"hugetlb"}}) }, Resources{}, ""},
		{"v2 hugetlb memory", func(t *testing.T) *hierarchy { return fakeV2(t, fakeOpts{controllers: []string{"hugetlb"}}) },
			Resources{Memory: 64 << 20}, "setting memory limit: limit not supported by this host's cgroups: the memory controller is not available"},
		{"v2 hugetlb pids", func(t *testing.T) *hierarchy { return fakeV2(t, fakeOpts{controllers: []string{"hugetlb"}}) },
			Resources{PidsLimit: 20}, "pids controller is not available"},
		{"v2 empty cpus", func(t *testing.T) *hierarchy { return fakeV2(t, fakeOpts{controllers: []string{}}) },
			Resources{CPUs: 1}, "cgroup.controllers offers: none)"},
		{"v2 no cpuset", func(t *testing.T) *hierarchy {
			return fakeV2(t, fakeOpts{controllers: []string{"cpu", "memory", "pids"}})
		}, all, "setting cpuset cpus"},
		// io.max has no 0 (the kernel's ERANGE); v1's blkio.throttle files take it as no limit.
		{"v2 read bps 0", func(t *testing.T) *hierarchy { return fakeV2(t, fakeOpts{}) }, zeroRate(func(r *Resources) *[]ThrottleDevice { return &r.BlkioDeviceReadBps }),
			`setting --device-read-bps "/dev/vda:0": limit not supported by this host's cgroups: cgroup v2's io.max takes no rate of 0`},
		{"v2 write bps 0", func(t *testing.T) *hierarchy { return fakeV2(t, fakeOpts{}) }, zeroRate(func(r *Resources) *[]ThrottleDevice { return &r.BlkioDeviceWriteBps }),
			`setting --device-write-bps "/dev/vda:0"`},
		{"v2 read iops 0", func(t *testing.T) *hierarchy { return fakeV2(t, fakeOpts{}) }, zeroRate(func(r *Resources) *[]ThrottleDevice { return &r.BlkioDeviceReadIOps }),
			`setting --device-read-iops "/dev/vda:0"`},
		{"v2 write iops 0", func(t *testing.T) *hierarchy { return fakeV2(t, fakeOpts{}) }, zeroRate(func(r *Resources) *[]ThrottleDevice { return &r.BlkioDeviceWriteIOps }),
			`setting --device-write-iops "/dev/vda:0"`},
		{"v2 write iops 1", func(t *testing.T) *hierarchy { return fakeV2(t, fakeOpts{}) },
			Resources{BlkioDeviceWriteIOps: []ThrottleDevice{{Path: "/dev/vda", Major: 254, Rate: 1}}}, ""},
		{"v1 read bps 0", func(t *testing.T) *hierarchy { return fakeV1(t, fakeOpts{}) }, zeroRate(func(r *Resources) *[]ThrottleDevice { return &r.BlkioDeviceReadBps }), ""},
		{"v1 all", func(t *testing.T) *hierarchy { return fakeV1(t, fakeOpts{}) }, all, ""},
		{"hybrid all", func(t *testing.T) *hierarchy { return fakeV1(t, fakeOpts{hybrid: true}) }, all, ""},
		{"v1 no pids", func(t *testing.T) *hierarchy {
			return fakeV1(t, fakeOpts{controllers: []string{"memory", "cpu", "cpuacct", "cpuset", "freezer", "devices"}})
		}, all, "setting pids limit: limit not supported by this host's cgroups: the pids controller is not mounted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h(t)
			err := h.checkSupported(tc.r)
			if tc.want == "" {
				if err != nil {
					t.Errorf("checkSupported(%+v) = %v, want nil", tc.r, err)
				}
				// Nor does New refuse it.
				c, nerr := h.create(strings.Repeat("8", 64), tc.r)
				if nerr != nil {
					t.Errorf("New(%+v) = %v, want a cgroup as checkSupported passed it", tc.r, nerr)
				} else if err := c.Delete(); err != nil {
					t.Error(err)
				}
				return
			}
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("checkSupported(%+v) = %v, want ErrUnsupported saying %q", tc.r, err, tc.want)
			}
			// New refuses it too, later: the check must not refuse what New would make.
			if _, nerr := h.create(strings.Repeat("8", 64), tc.r); !errors.Is(nerr, ErrUnsupported) {
				t.Errorf("New(%+v) = %v, want ErrUnsupported as checkSupported said", tc.r, nerr)
			}
		})
	}
}

// zeroRate is a limit of rate 0 on /dev/vda (254:0) of the kind field picks, after a limit
// of 1 MiB/s read that the host takes, so that the 0 is not the first thing written.
func zeroRate(field func(*Resources) *[]ThrottleDevice) Resources {
	r := Resources{BlkioDeviceReadBps: []ThrottleDevice{{Path: "/dev/vda", Major: 254, Rate: 1 << 20}}}
	*field(&r) = append(*field(&r), ThrottleDevice{Path: "/dev/vda", Major: 254, Rate: 0})
	return r
}

package cgroups

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestExtraLimitsV1 checks the files docker's remaining cgroup flags write on v1.
func TestExtraLimitsV1(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    fakeOpts
		r    Resources
		want map[string]string // controller/file → contents
	}{
		{"cpu period", fakeOpts{}, Resources{CPUPeriod: 50000}, map[string]string{"cpu/cpu.cfs_period_us": "50000", "cpu/cpu.cfs_quota_us": "-1"}},
		{"cpu quota", fakeOpts{}, Resources{CPUQuota: 25000}, map[string]string{"cpu/cpu.cfs_period_us": "100000", "cpu/cpu.cfs_quota_us": "25000"}},
		{"period and quota", fakeOpts{}, Resources{CPUPeriod: 20000, CPUQuota: 30000}, map[string]string{"cpu/cpu.cfs_period_us": "20000", "cpu/cpu.cfs_quota_us": "30000"}},
		{"cpuset mems", fakeOpts{}, Resources{CpusetMems: "0"}, map[string]string{"cpuset/cpuset.mems": "0", "cpuset/cpuset.cpus": "0-3"}},
		{"reservation", fakeOpts{}, Resources{MemoryReservation: 32 << 20}, map[string]string{"memory/memory.soft_limit_in_bytes": "33554432"}},
		{"swappiness", fakeOpts{}, Resources{MemorySwappiness: 0, MemorySwappinessSet: true}, map[string]string{"memory/memory.swappiness": "0"}},
		{"oom kill disable", fakeOpts{}, Resources{OomKillDisable: true}, map[string]string{"memory/memory.oom_control": "1"}},
		{"blkio weight", fakeOpts{}, Resources{BlkioWeight: 300}, map[string]string{"blkio/blkio.weight": "300"}},
		{"blkio weight bfq", fakeOpts{bfq: true}, Resources{BlkioWeight: 10}, map[string]string{"blkio/blkio.bfq.weight": "10"}},
		{"device read bps", fakeOpts{}, Resources{BlkioDeviceReadBps: []ThrottleDevice{{Path: "/dev/vda", Major: 254, Minor: 0, Rate: 1 << 20}}},
			map[string]string{"blkio/blkio.throttle.read_bps_device": "254:0 1048576"}},
		// v1 takes a rate of 0 as no limit (v2's io.max refuses it: TestCheckSupported).
		{"device read bps 0", fakeOpts{}, Resources{BlkioDeviceReadBps: []ThrottleDevice{{Path: "/dev/vda", Major: 254, Minor: 0, Rate: 0}}},
			map[string]string{"blkio/blkio.throttle.read_bps_device": "254:0 0"}},
		{"weight device", fakeOpts{}, Resources{BlkioWeightDevice: []WeightDevice{{Path: "/dev/sda", Major: 8, Minor: 0, Weight: 300}}},
			map[string]string{"blkio/blkio.weight_device": "8:0 300"}},
		{"weight device bfq", fakeOpts{bfq: true}, Resources{BlkioWeightDevice: []WeightDevice{{Path: "/dev/sda", Major: 8, Minor: 0, Weight: 300}}},
			map[string]string{"blkio/blkio.bfq.weight_device": "8:0 300"}},
		{"device write bps", fakeOpts{}, Resources{BlkioDeviceWriteBps: []ThrottleDevice{{Path: "/dev/sda", Major: 8, Minor: 0, Rate: 4096}}},
			map[string]string{"blkio/blkio.throttle.write_bps_device": "8:0 4096"}},
		{"device iops", fakeOpts{}, Resources{BlkioDeviceReadIOps: []ThrottleDevice{{Path: "/dev/sda", Major: 8, Minor: 0, Rate: 100}},
			BlkioDeviceWriteIOps: []ThrottleDevice{{Path: "/dev/sdb", Major: 8, Minor: 16, Rate: 50}}},
			map[string]string{"blkio/blkio.throttle.read_iops_device": "8:0 100", "blkio/blkio.throttle.write_iops_device": "8:16 50"}},
		{"none", fakeOpts{}, Resources{}, map[string]string{"memory/memory.swappiness": "60", "blkio/blkio.weight": "500",
			"memory/memory.soft_limit_in_bytes": "9223372036854771712"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := fakeV1(t, tt.o)
			c, err := h.create("c1", tt.r)
			if err != nil {
				t.Fatalf("create(%+v) = %v", tt.r, err)
			}
			defer c.Delete()
			for file, want := range tt.want {
				ctrl, f, _ := strings.Cut(file, "/")
				if got := readFake(t, filepath.Join(h.root, ctrl, "strata", "c1", f)); got != want {
					t.Errorf("%s = %q, want %q", file, got, want)
				}
			}
		})
	}
}

// TestExtraLimitsV2 is TestExtraLimitsV1 on v2.
func TestExtraLimitsV2(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    fakeOpts
		r    Resources
		want map[string]string
	}{
		{"cpu period", fakeOpts{}, Resources{CPUPeriod: 50000}, map[string]string{"cpu.max": "max 50000"}},
		{"period and quota", fakeOpts{}, Resources{CPUPeriod: 20000, CPUQuota: 30000}, map[string]string{"cpu.max": "30000 20000"}},
		// The quota alone: the kernel keeps the period (the fake takes the write as is).
		{"cpu quota", fakeOpts{}, Resources{CPUQuota: 25000}, map[string]string{"cpu.max": "25000"}},
		{"cpuset mems", fakeOpts{}, Resources{CpusetMems: "0"}, map[string]string{"cpuset.mems": "0"}},
		{"reservation", fakeOpts{}, Resources{MemoryReservation: 32 << 20}, map[string]string{"memory.low": "33554432"}},
		// runc's scale: 10 → 1, 500 → 5000, 1000 → 10000.
		{"io weight", fakeOpts{}, Resources{BlkioWeight: 500}, map[string]string{"io.weight": "4950"}},
		{"io weight min", fakeOpts{}, Resources{BlkioWeight: 10}, map[string]string{"io.weight": "1"}},
		{"io weight max", fakeOpts{}, Resources{BlkioWeight: 1000}, map[string]string{"io.weight": "10000"}},
		{"bfq weight", fakeOpts{bfq: true}, Resources{BlkioWeight: 500}, map[string]string{"io.bfq.weight": "500"}},
		{"device read bps", fakeOpts{}, Resources{BlkioDeviceReadBps: []ThrottleDevice{{Path: "/dev/vda", Major: 254, Minor: 0, Rate: 1 << 20}}},
			map[string]string{"io.max": "254:0 rbps=1048576"}},
		// io.weight's scale, as the container's own weight: 300 → 2930.
		{"weight device", fakeOpts{}, Resources{BlkioWeightDevice: []WeightDevice{{Path: "/dev/sda", Major: 8, Minor: 0, Weight: 300}}},
			map[string]string{"io.weight": "8:0 2930"}},
		{"weight device bfq", fakeOpts{bfq: true}, Resources{BlkioWeightDevice: []WeightDevice{{Path: "/dev/sda", Major: 8, Minor: 0, Weight: 300}}},
			map[string]string{"io.bfq.weight": "8:0 300"}},
		// One write per limit: the kernel merges them into the device's line (the fake keeps
		// the last).
		{"device iops", fakeOpts{}, Resources{BlkioDeviceWriteIOps: []ThrottleDevice{{Path: "/dev/sda", Major: 8, Minor: 0, Rate: 50}}},
			map[string]string{"io.max": "8:0 wiops=50"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := fakeV2(t, tt.o)
			c, err := h.create("c1", tt.r)
			if err != nil {
				t.Fatalf("create(%+v) = %v", tt.r, err)
			}
			defer c.Delete()
			for file, want := range tt.want {
				if got := readFake(t, filepath.Join(h.root, "strata", "c1", file)); got != want {
					t.Errorf("%s = %q, want %q", file, got, want)
				}
			}
		})
	}
}

// TestExtraLimitsUnenforceable: a limit the host cannot apply is an error, never a no-op.
func TestExtraLimitsUnenforceable(t *testing.T) {
	for _, tt := range []struct {
		name string
		h    func(t *testing.T) *hierarchy
		r    Resources
		want string
	}{
		{"v1 no weight file", func(t *testing.T) *hierarchy { return fakeV1(t, fakeOpts{noWeight: true}) }, Resources{BlkioWeight: 100}, "no I/O scheduler of this host weighs I/O by cgroup"},
		{"v2 no weight file", func(t *testing.T) *hierarchy { return fakeV2(t, fakeOpts{noWeight: true}) }, Resources{BlkioWeight: 100}, "no I/O scheduler of this host weighs I/O by cgroup"},
		{"v2 no io controller", func(t *testing.T) *hierarchy {
			return fakeV2(t, fakeOpts{controllers: []string{"cpu", "cpuset", "memory", "pids"}})
		}, Resources{BlkioWeight: 100}, "io controller not enabled"},
		{"v1 no blkio", func(t *testing.T) *hierarchy {
			return fakeV1(t, fakeOpts{controllers: []string{"memory", "pids", "freezer"}})
		}, Resources{BlkioWeight: 100}, "the blkio controller is not mounted"},
		{"v1 mems not there", func(t *testing.T) *hierarchy { return fakeV1(t, fakeOpts{}) }, Resources{CpusetMems: "1"},
			"Requested memory nodes are not available - requested 1, available: 0"},
		{"v2 mems not there", func(t *testing.T) *hierarchy { return fakeV2(t, fakeOpts{}) }, Resources{CpusetMems: "0-2"},
			"Requested memory nodes are not available - requested 0-2, available: 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h(t)
			_, err := h.create("c1", tt.r)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("create(%+v) = %v, want an error containing %q", tt.r, err, tt.want)
			}
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("create = %v, want ErrUnsupported", err)
			}
			if left := dirsUnder(t, h.root); strings.Contains(strings.Join(left, " "), "c1") {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// TestStatsBlockIO: BLOCK I/O sums the devices' Read and Write (v1) or rbytes and wbytes (v2).
func TestStatsBlockIO(t *testing.T) {
	h1 := fakeV1(t, fakeOpts{})
	c1, err := h1.create("c1", Resources{})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(h1.root, "blkio", "strata", "c1", "blkio.throttle.io_service_bytes_recursive"),
		"8:0 Read 4096\n8:0 Write 100\n8:0 Sync 4196\n8:0 Total 4196\n8:16 Read 1000\n8:16 Write 23\nTotal 5219\n")
	// bfq counts what throttle does not (a device with no throttle rule), and the same I/O
	// on a device both count is not counted twice.
	mustWrite(t, filepath.Join(h1.root, "blkio", "strata", "c1", "blkio.bfq.io_service_bytes_recursive"),
		"8:0 Read 4096\n8:0 Write 100\n8:32 Read 500\n8:32 Write 7\nTotal 4703\n")
	h2 := fakeV2(t, fakeOpts{})
	c2, err := h2.create("c1", Resources{})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(h2.root, "strata", "c1", "io.stat"),
		"8:0 rbytes=4096 wbytes=100 rios=1 wios=1 dbytes=0 dios=0\n8:16 rbytes=1000 wbytes=23 rios=2 wios=1 dbytes=0 dios=0\n")
	for _, c := range []*Cgroup{c1, c2} {
		s, err := c.Stats()
		if err != nil {
			t.Fatal(err)
		}
		wantR, wantW := uint64(5096), uint64(123)
		if c == c1 {
			wantR, wantW = 5596, 130
		}
		if s.BlkioRead != wantR || s.BlkioWrite != wantW {
			t.Errorf("%s: BlkioRead, BlkioWrite = %d, %d; want %d, %d", c.Path(), s.BlkioRead, s.BlkioWrite, wantR, wantW)
		}
	}
}

// TestEqualEveryField: Equal tells apart Resources that differ in any one field, so a field
// added later and forgotten there (an early cgroup reused with other limits) fails here.
func TestEqualEveryField(t *testing.T) {
	typ := reflect.TypeOf(Resources{})
	for i := range typ.NumField() {
		var r Resources
		f := reflect.ValueOf(&r).Elem().Field(i)
		switch f.Kind() {
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int64:
			f.SetInt(7)
		case reflect.Uint64, reflect.Uint16:
			f.SetUint(7)
		case reflect.Float64:
			f.SetFloat(0.5)
		case reflect.String:
			f.SetString("x")
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		default:
			t.Fatalf("field %s: kind %s not covered by this test", typ.Field(i).Name, f.Kind())
		}
		if r.Equal(Resources{}) || (Resources{}).Equal(r) {
			t.Errorf("Equal does not compare %s", typ.Field(i).Name)
		}
	}
}

package cgroups

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestValidateRedTeam: limits that Validate let through and the kernel then refused, in
// words naming strata's internals, or that cost seconds of CPU:
//   - a blank --cpuset-cpus was written as is, left the cgroup without CPUs, and the init
//     failed to join it with "no space left on device";
//   - a --pids-limit above PID_MAX_LIMIT came back as "write …/pids.max: invalid argument";
//   - a 128 KB --cpuset-cpus of "0-4095," repeated was taken, parsed CPU by CPU into a map
//     (5 s), and quoted back whole.
func TestValidateRedTeam(t *testing.T) {
	long := strings.Repeat("0-4095,", 18000) + "0"
	for _, tt := range []struct {
		name string
		r    Resources
		want string // the error; "" for none
	}{
		{"blank cpuset", Resources{CpusetCpus: " "}, `invalid cpuset cpus value " ": no CPU in the list`},
		{"whitespace cpuset", Resources{CpusetCpus: "\t\n"}, `invalid cpuset cpus value "\t\n": no CPU in the list`},
		{"cpuset with spaces around", Resources{CpusetCpus: " 0 "}, ""},
		{"pids above the kernel's", Resources{PidsLimit: maxPids + 1}, `invalid pids-limit value "4194305": the kernel's maximum is 4194304`},
		{"pids far above", Resources{PidsLimit: 1 << 62}, `invalid pids-limit value "4611686018427387904": the kernel's maximum is 4194304`},
		{"pids at the kernel's", Resources{PidsLimit: maxPids}, ""},
		{"pids unlimited", Resources{PidsLimit: -1}, ""},
		{"pids zero", Resources{PidsLimit: 0}, ""},
		// A damaged config's device numbers never reach a cgroup file.
		{"throttle device negative", Resources{BlkioDeviceReadBps: []ThrottleDevice{{Path: "/dev/x", Major: -1, Rate: 1}}}, `invalid block I/O device value "-1:0": not a device number`},
		{"throttle device huge", Resources{BlkioDeviceWriteIOps: []ThrottleDevice{{Path: "/dev/x", Major: 8, Minor: 1 << 40, Rate: 1}}}, `invalid block I/O device value "8:1099511627776": not a device number`},
		{"throttle device", Resources{BlkioDeviceReadIOps: []ThrottleDevice{{Path: "/dev/sda", Major: 8, Minor: 0, Rate: 1}}}, ""},
		{"weight device low", Resources{BlkioWeightDevice: []WeightDevice{{Path: "/dev/sda", Major: 8, Weight: 9}}}, `invalid blkio-weight-device value "9": Range of blkio weight is from 10 to 1000`},
		{"weight device numbers", Resources{BlkioWeightDevice: []WeightDevice{{Path: "/dev/sda", Major: -8, Weight: 100}}}, `invalid block I/O device value "-8:0": not a device number`},
		{"cpuset too long", Resources{CpusetCpus: long},
			`invalid cpuset cpus value "` + long[:64] + `"… (126001 bytes): 126001 bytes, the kernel takes at most 49252`},
		{"cpuset bad and long", Resources{CpusetCpus: strings.Repeat("x", 1000)},
			`invalid cpuset cpus value "` + strings.Repeat("x", 64) + `"… (1000 bytes)`},
		// docker's refusals of the limits run and update added later, in its words.
		{"cpus and period", Resources{CPUs: 1, CPUPeriod: 50000}, "Conflicting options: Nano CPUs and CPU Period cannot both be set"},
		{"cpus and quota", Resources{CPUs: 1, CPUQuota: 50000}, "Conflicting options: Nano CPUs and CPU Quota cannot both be set"},
		{"period low", Resources{CPUPeriod: 999}, `invalid cpu-period value "999": CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)`},
		{"period high", Resources{CPUPeriod: 1000001}, `invalid cpu-period value "1000001": CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)`},
		{"period negative", Resources{CPUPeriod: -5}, `invalid cpu-period value "-5": CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)`},
		{"quota low", Resources{CPUQuota: 999}, `invalid cpu-quota value "999": CPU cfs quota can not be less than 1ms (i.e. 1000)`},
		{"quota negative", Resources{CPUQuota: -2}, `invalid cpu-quota value "-2": CPU cfs quota can not be less than 1ms (i.e. 1000)`},
		{"quota unlimited", Resources{CPUQuota: -1}, ""},
		{"reservation low", Resources{MemoryReservation: 1 << 20}, `invalid memory-reservation value "1048576": Minimum memory reservation allowed is 6MB`},
		{"reservation above memory", Resources{Memory: 64 << 20, MemoryReservation: 128 << 20},
			`invalid memory-reservation value "134217728": Minimum memory limit can not be less than memory reservation limit, see usage`},
		{"swappiness high", Resources{MemorySwappiness: 101, MemorySwappinessSet: true}, `invalid memory-swappiness value "101": valid memory swappiness range is 0-100`},
		{"swappiness negative", Resources{MemorySwappiness: -1, MemorySwappinessSet: true}, `invalid memory-swappiness value "-1": valid memory swappiness range is 0-100`},
		{"swappiness zero", Resources{MemorySwappiness: 0, MemorySwappinessSet: true}, ""},
		{"blkio low", Resources{BlkioWeight: 9}, `invalid blkio-weight value "9": Range of blkio weight is from 10 to 1000`},
		{"blkio high", Resources{BlkioWeight: 1001}, `invalid blkio-weight value "1001": Range of blkio weight is from 10 to 1000`},
		{"mems blank", Resources{CpusetMems: " "}, `invalid cpuset mems value " ": no memory node in the list`},
		{"mems bad", Resources{CpusetMems: "0-"}, `invalid cpuset mems value "0-"`},
		{"mems too high", Resources{CpusetMems: "2000"}, `invalid cpuset mems value "2000": node 2000 out of range`},
		// Past the CPUs' bound too: a node, not a "cpu 4294967295 out of range".
		{"mems far too high", Resources{CpusetMems: "0-4294967295"}, `invalid cpuset mems value "0-4294967295": node 4294967295 out of range`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("Validate() = %v, want %s", err, tt.want)
			case tt.want != "" && !errors.Is(err, ErrInvalid):
				t.Errorf("Validate() = %v, want ErrInvalid", err)
			}
		})
	}
}

// TestParseCPUListLongest: the longest list the kernel takes (max_write_len of cpuset.cpus for
// 8192 CPUs), every part the full range, parses in well under a quarter of a second with
// every CPU in it; one byte more is refused. The map it built before took over a second.
func TestParseCPUListLongest(t *testing.T) {
	var b strings.Builder
	for b.Len()+len(",0-8191") <= maxCPUList {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString("0-8191")
	}
	list := b.String()
	start := time.Now()
	set, err := parseCPUList(list)
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("parseCPUList of %d bytes took %v", len(list), d)
	}
	if err != nil || set.count() != maxCPU+1 || !set.has(0) || !set.has(maxCPU) || set.has(maxCPU+1) {
		t.Fatalf("parseCPUList of %d bytes = %v CPUs, %v; want all %d", len(list), set.count(), err, maxCPU+1)
	}
	if _, err := parseCPUList(list + strings.Repeat(" ", maxCPUList-len(list)+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("parseCPUList of %d bytes = %v, want ErrInvalid", maxCPUList+1, err)
	}
	// Ranges that start and end inside words, and whole words.
	set, err = parseCPUList("3-70,128-255,8190")
	if err != nil {
		t.Fatal(err)
	}
	for cpu := 0; cpu <= maxCPU; cpu++ {
		want := cpu >= 3 && cpu <= 70 || cpu >= 128 && cpu <= 255 || cpu == 8190
		if set.has(cpu) != want {
			t.Errorf("parseCPUList(\"3-70,128-255,8190\") has %d: %v, want %v", cpu, set.has(cpu), want)
		}
	}
}

package cgroups

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-run/strata/internal/quote"
)

// Resources are a container's limits; the zero value of every field means no limit, except
// for devices: the zero value confines a container to DefaultDevices, as docker does. The
// fields mean what docker run's flags of the same name mean.
type Resources struct {
	// Memory is --memory in bytes.
	Memory int64 `json:"memory,omitempty"`
	// MemorySwap is --memory-swap in bytes: memory plus swap, as docker counts it. -1 means
	// unlimited swap; 0 with Memory set means docker's default of twice Memory (swap equal to
	// Memory), applied only where the host accounts swap.
	MemorySwap int64 `json:"memorySwap,omitempty"`
	// CPUs is --cpus: a CFS quota of CPUs*100000 µs per 100000 µs period.
	CPUs float64 `json:"cpus,omitempty"`
	// CPUShares is --cpu-shares (2-262144, default 1024); on v2 it becomes cpu.weight.
	CPUShares uint64 `json:"cpuShares,omitempty"`
	// CpusetCpus is --cpuset-cpus, a kernel CPU list such as "0-1,3".
	CpusetCpus string `json:"cpusetCpus,omitempty"`
	// PidsLimit is --pids-limit; zero or negative (docker's -1) means unlimited.
	PidsLimit int64 `json:"pidsLimit,omitempty"`
	// CPUPeriod and CPUQuota are --cpu-period and --cpu-quota in µs: the CFS period (1000 to
	// 1000000) and quota (at least 1000, -1 unlimited). Either conflicts with CPUs, as in docker.
	CPUPeriod int64 `json:"cpuPeriod,omitempty"`
	CPUQuota  int64 `json:"cpuQuota,omitempty"`
	// CpusetMems is --cpuset-mems, a kernel list of memory nodes such as "0".
	CpusetMems string `json:"cpusetMems,omitempty"`
	// MemoryReservation is --memory-reservation in bytes: v1 memory.soft_limit_in_bytes, v2
	// memory.low.
	MemoryReservation int64 `json:"memoryReservation,omitempty"`
	// MemorySwappiness is --memory-swappiness (0 to 100) when MemorySwappinessSet. Only v1 has
	// the knob; on v2 it is dropped with docker's warning before it is recorded.
	MemorySwappiness    int64 `json:"memorySwappiness,omitempty"`
	MemorySwappinessSet bool  `json:"memorySwappinessSet,omitempty"`
	// OomKillDisable is --oom-kill-disable (v1 memory.oom_control; dropped on v2 as docker does).
	OomKillDisable bool `json:"oomKillDisable,omitempty"`
	// BlkioWeight is --blkio-weight (10 to 1000): v1 blkio.bfq.weight or blkio.weight, v2
	// io.bfq.weight or io.weight (scaled to 1-10000, as runc).
	BlkioWeight uint16 `json:"blkioWeight,omitempty"`
	// BlkioDeviceReadBps, BlkioDeviceWriteBps, BlkioDeviceReadIOps and BlkioDeviceWriteIOps
	// are --device-read-bps, --device-write-bps, --device-read-iops and --device-write-iops:
	// v1 blkio.throttle.*_device, v2 io.max's rbps, wbps, riops and wiops.
	BlkioDeviceReadBps   []ThrottleDevice `json:"blkioDeviceReadBps,omitempty"`
	BlkioDeviceWriteBps  []ThrottleDevice `json:"blkioDeviceWriteBps,omitempty"`
	BlkioDeviceReadIOps  []ThrottleDevice `json:"blkioDeviceReadIOps,omitempty"`
	BlkioDeviceWriteIOps []ThrottleDevice `json:"blkioDeviceWriteIOps,omitempty"`
	// BlkioWeightDevice is --blkio-weight-device: a weight (10 to 1000) per block device, in
	// the file --blkio-weight writes (v2's io.weight scaled as it).
	BlkioWeightDevice []WeightDevice `json:"blkioWeightDevice,omitempty"`
	// CgroupParent is --cgroup-parent: the cgroup the container's is made in, relative to
	// strata's own parent or absolute from each tree's root (ValidateCgroupParent); "" for
	// strata's. Not a limit, but where the limits go: New places the cgroup by it, and Load
	// and the others find it by Key.
	CgroupParent string `json:"cgroupParent,omitempty"`
	// AllDevices lets the container open every device node (--privileged); otherwise it may
	// create any node but open only DefaultDevices.
	AllDevices bool `json:"allDevices,omitempty"`
	// Devices are the device rules the user added (--device, --device-cgroup-rule) to
	// DefaultDevices; AllDevices makes them moot.
	Devices []DeviceRule `json:"devices,omitempty"`
}

// ThrottleDevice is one block I/O limit of a device: Rate bytes (or operations) a second on
// the block device Major:Minor, which Path named when the limit was given.
type ThrottleDevice struct {
	Path  string `json:"path"`
	Major int64  `json:"major"`
	Minor int64  `json:"minor"`
	Rate  uint64 `json:"rate"`
}

// WeightDevice is one --blkio-weight-device: the block I/O weight (10 to 1000) of the block
// device Major:Minor, which Path named.
type WeightDevice struct {
	Path   string `json:"path"`
	Major  int64  `json:"major"`
	Minor  int64  `json:"minor"`
	Weight uint16 `json:"weight"`
}

// throttle is one kind of ThrottleDevice limit, docker's flag for it and the files it is
// written to.
type throttle struct {
	flag, v1File, v2Key string
	devices             []ThrottleDevice
}

// throttles are r's block I/O limits, by kind.
func (r Resources) throttles() []throttle {
	return []throttle{
		{"device-read-bps", "blkio.throttle.read_bps_device", "rbps", r.BlkioDeviceReadBps},
		{"device-write-bps", "blkio.throttle.write_bps_device", "wbps", r.BlkioDeviceWriteBps},
		{"device-read-iops", "blkio.throttle.read_iops_device", "riops", r.BlkioDeviceReadIOps},
		{"device-write-iops", "blkio.throttle.write_iops_device", "wiops", r.BlkioDeviceWriteIOps},
	}
}

// checkZeroRatesV2 refuses a block I/O limit of rate 0 where it would go to cgroup v2's
// io.max, which has no 0: the kernel answers ERANGE (blk-throttle.c tg_set_limit; no limit is
// "max"), where v1's blkio.throttle files take 0 as "no limit". runc writes the 0 as given and
// its start fails with "numerical result out of range", closed as an invalid configuration
// (opencontainers/runc#3336); docker passes the 0 to runc, so on v2 its run fails the same way,
// and on v1 it runs without a limit. strata refuses it before anything is made, saying why.
func (r Resources) checkZeroRatesV2() error {
	for _, t := range r.throttles() {
		for _, d := range t.devices {
			if d.Rate == 0 {
				return fmt.Errorf("setting --%s %s: %w: cgroup v2's io.max takes no rate of 0 (leave the flag out for no limit)",
					t.flag, quote.Value(d.Path+":0"), ErrUnsupported)
			}
		}
	}
	return nil
}

// hasThrottles says whether r limits any device's block I/O.
func (r Resources) hasThrottles() bool {
	return len(r.BlkioDeviceReadBps)+len(r.BlkioDeviceWriteBps)+len(r.BlkioDeviceReadIOps)+len(r.BlkioDeviceWriteIOps) > 0
}

// Equal says whether r and o are the same limits (Resources has a list: == does not compile).
func (r Resources) Equal(o Resources) bool {
	return r.Memory == o.Memory && r.MemorySwap == o.MemorySwap && r.CPUs == o.CPUs &&
		r.CPUShares == o.CPUShares && r.CpusetCpus == o.CpusetCpus && r.PidsLimit == o.PidsLimit &&
		r.AllDevices == o.AllDevices && slices.Equal(r.Devices, o.Devices) &&
		r.CPUPeriod == o.CPUPeriod && r.CPUQuota == o.CPUQuota && r.CpusetMems == o.CpusetMems &&
		r.MemoryReservation == o.MemoryReservation && r.OomKillDisable == o.OomKillDisable &&
		r.BlkioWeight == o.BlkioWeight &&
		slices.Equal(r.BlkioDeviceReadBps, o.BlkioDeviceReadBps) && slices.Equal(r.BlkioDeviceWriteBps, o.BlkioDeviceWriteBps) &&
		slices.Equal(r.BlkioDeviceReadIOps, o.BlkioDeviceReadIOps) && slices.Equal(r.BlkioDeviceWriteIOps, o.BlkioDeviceWriteIOps) &&
		slices.Equal(r.BlkioWeightDevice, o.BlkioWeightDevice) &&
		r.MemorySwappiness == o.MemorySwappiness && r.MemorySwappinessSet == o.MemorySwappinessSet &&
		r.CgroupParent == o.CgroupParent
}

// Kernel and docker bounds for the limits.
const (
	// cfsPeriod is the CFS period docker and runc use for --cpus, in µs.
	cfsPeriod = 100000
	// minMemory is docker's floor for --memory: below it a container cannot even start.
	minMemory = 6 << 20
	// minShares and maxShares bound cpu.shares in the kernel (MIN_SHARES, MAX_SHARES).
	minShares = 2
	maxShares = 262144
	// maxCPU bounds CPU numbers in a cpuset list, so "0-4000000000" cannot allocate gigabytes.
	maxCPU = 8191
	// maxCPUList bounds the length of a cpuset list: the kernel takes no longer write to
	// cpuset.cpus (max_write_len, 100 + 6 * NR_CPUS, in kernel/cgroup/cpuset.c) for the
	// 8192 CPUs maxCPU allows.
	maxCPUList = 100 + 6*(maxCPU+1)
	// maxPids is the largest pids.max the kernel takes (PID_MAX_LIMIT on 64-bit, 4 Mi); a
	// larger one was written and came back as EINVAL naming the cgroup's file.
	maxPids = 4 << 20
)

// ParseMemory parses a docker memory size: a number with an optional unit b, k, m, g, t or p
// (binary multiples, case-insensitive, optionally followed by "b" or "ib" as in "512MiB").
// A plain number is bytes; a fraction is allowed with a unit ("1.5g").
func ParseMemory(s string) (int64, error) {
	bad := &ValueError{What: "memory", Value: s}
	t := strings.ToLower(strings.TrimSpace(s))
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	if num == "" || strings.Count(num, ".") > 1 || num[0] == '.' || num[len(num)-1] == '.' {
		return 0, bad
	}
	shift := 0
	if unit != "" {
		if p := strings.IndexByte("kmgtp", unit[0]); p >= 0 {
			shift = 10 * (p + 1)
			unit = strings.TrimPrefix(unit[1:], "i")
		}
		if unit != "" && unit != "b" {
			return 0, bad
		}
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseUint(num, 10, 63)
		if err != nil || n > math.MaxInt64>>shift {
			bad.Reason = "out of range"
			return 0, bad
		}
		return int64(n) << shift, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, bad
	}
	f *= float64(int64(1) << shift)
	if f >= math.MaxInt64 {
		bad.Reason = "out of range"
		return 0, bad
	}
	return int64(f), nil
}

// ParseMemorySwap parses --memory-swap: "-1" (unlimited swap) or a size as ParseMemory reads it.
func ParseMemorySwap(s string) (int64, error) {
	if strings.TrimSpace(s) == "-1" {
		return -1, nil
	}
	n, err := ParseMemory(s)
	if ve, ok := err.(*ValueError); ok {
		ve.What = "memory-swap"
	}
	return n, err
}

// ParseCPUs parses --cpus: a decimal number of CPUs from 0.01 to the number of CPUs this process
// may run on. "0" means no limit, as in docker.
func ParseCPUs(s string) (float64, error) {
	return parseCPUs(s, runtime.NumCPU())
}

func parseCPUs(s string, ncpu int) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if errors.Is(err, strconv.ErrSyntax) {
		// docker's CLI reads a rational number (big.Rat): "1/2" is its half a CPU, "0x1" one.
		if r, ok := new(big.Rat).SetString(strings.TrimSpace(s)); ok {
			f, _ = r.Float64()
			err = nil
		}
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, &ValueError{What: "cpus", Value: s}
	}
	// As docker: a value is whole nanoCPUs, or too precise ("1e-400" would otherwise read as
	// 0, no limit at all).
	if r, ok := new(big.Rat).SetString(strings.TrimSpace(s)); !ok || !r.Mul(r, big.NewRat(1e9, 1)).IsInt() {
		return 0, &ValueError{What: "cpus", Value: s, Reason: "value is too precise"}
	}
	if f == 0 {
		return 0, nil
	}
	if f < 0.01 || f > float64(ncpu) {
		return 0, &ValueError{What: "cpus", Value: s, Reason: fmt.Sprintf(
			"range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", ncpu, ncpu)}
	}
	return f, nil
}

// Validate rejects limits no kernel could apply; New checks them again before any directory
// is made, and a command checks them before it creates anything else.
func (r Resources) Validate() error {
	switch {
	case r.Memory < 0:
		return &ValueError{What: "memory", Value: strconv.FormatInt(r.Memory, 10), Reason: "must not be negative"}
	case r.Memory > 0 && r.Memory < minMemory:
		return &ValueError{What: "memory", Value: strconv.FormatInt(r.Memory, 10), Reason: "minimum memory limit allowed is 6MB"}
	case r.MemorySwap < -1:
		return &ValueError{What: "memory-swap", Value: strconv.FormatInt(r.MemorySwap, 10), Reason: "must be -1 (unlimited) or a size"}
	case r.MemorySwap > 0 && r.Memory == 0:
		return &ValueError{What: "memory-swap", Value: strconv.FormatInt(r.MemorySwap, 10), Reason: "a memory-swap limit needs a memory limit too"}
	case r.MemorySwap > 0 && r.MemorySwap < r.Memory:
		return &ValueError{What: "memory-swap", Value: strconv.FormatInt(r.MemorySwap, 10), Reason: "minimum memoryswap limit should be larger than memory limit"}
	case math.IsNaN(r.CPUs) || math.IsInf(r.CPUs, 0) || r.CPUs < 0 || (r.CPUs > 0 && r.CPUs < 0.01) || r.CPUs > maxCPU+1:
		return &ValueError{What: "cpus", Value: strconv.FormatFloat(r.CPUs, 'f', -1, 64), Reason: "out of range"}
	case r.CPUShares != 0 && (r.CPUShares < minShares || r.CPUShares > maxShares):
		return &ValueError{What: "cpu-shares", Value: strconv.FormatUint(r.CPUShares, 10), Reason: "must be between 2 and 262144"}
	case r.PidsLimit > maxPids:
		// Zero or negative stays docker's "unlimited".
		return &ValueError{What: "pids-limit", Value: strconv.FormatInt(r.PidsLimit, 10), Reason: fmt.Sprintf("the kernel's maximum is %d", maxPids)}
	}
	for _, d := range r.Devices {
		if err := d.validate(); err != nil {
			return err
		}
	}
	if err := r.validateExtra(); err != nil {
		return err
	}
	if r.CpusetCpus != "" {
		// Blank is no list: written as is, it left the cgroup no CPU, and the init failed
		// to join it with "no space left on device".
		if strings.TrimSpace(r.CpusetCpus) == "" {
			return &ValueError{What: "cpuset cpus", Value: r.CpusetCpus, Reason: "no CPU in the list"}
		}
		if _, err := parseCPUList(r.CpusetCpus); err != nil {
			return err
		}
	}
	return nil
}

// quota is the CFS quota in µs for r.CPUs over cfsPeriod; the kernel's floor is 1000 µs.
func (r Resources) quota() int64 {
	return max(int64(math.Round(r.CPUs*cfsPeriod)), 1000)
}

// swapTotal is the memory+swap limit to apply: r.MemorySwap, or docker's default of twice the
// memory. implicit reports that the user did not ask for it, so a host without swap accounting
// may skip it.
func (r Resources) swapTotal() (total int64, implicit bool) {
	if r.MemorySwap == 0 && r.Memory > 0 {
		if r.Memory > math.MaxInt64/2 {
			return -1, true // twice would wrap to a negative: no limit is what it means
		}
		return 2 * r.Memory, true
	}
	return r.MemorySwap, false
}

// sharesToWeight converts cpu.shares (2-262144, default 1024) to cgroup v2 cpu.weight (1-10000,
// default 100). It is the quadratic fit in log2 space that crun 1.23 and runc (opencontainers/
// cgroups v0.0.5) adopted: it maps the minimum, the default and the maximum exactly (2→1,
// 1024→100, 262144→10000), where the older linear formula turned the default 1024 into 39.
func sharesToWeight(shares uint64) uint64 {
	switch {
	case shares == 0:
		return 0
	case shares <= minShares:
		return 1
	case shares >= maxShares:
		return 10000
	}
	l := math.Log2(float64(shares))
	return uint64(math.Ceil(math.Pow(10, (l*l+125*l)/612-7.0/34)))
}

// weightToShares inverts sharesToWeight for reading limits back; the round trip is exact for
// the default and the bounds and within a few shares elsewhere (the forward map rounds up).
func weightToShares(weight uint64) uint64 {
	switch {
	case weight == 0:
		return 0
	case weight <= 1:
		return minShares
	case weight >= 10000:
		return maxShares
	}
	// Solve l² + 125·l − 612·(log10(w) + 7/34) = 0 for l = log2(shares).
	c := 612 * (math.Log10(float64(weight)) + 7.0/34)
	l := (-125 + math.Sqrt(125*125+4*c)) / 2
	return uint64(math.Round(math.Exp2(l)))
}

// cpuSet is a set of CPU numbers, parsed from a kernel CPU list: a bit per CPU up to maxCPU,
// so a range costs a few word writes whatever its size ("0-8191" repeated 7000 times, the
// longest list the kernel takes, parses in a millisecond; a map of CPUs took seconds).
type cpuSet [(maxCPU + 1) / 64]uint64

// addRange adds the CPUs a to b, both at most maxCPU.
func (s *cpuSet) addRange(a, b int) {
	for a <= b {
		if a%64 == 0 && b-a >= 63 {
			s[a/64] = ^uint64(0)
			a += 64
			continue
		}
		s[a/64] |= 1 << (a % 64)
		a++
	}
}

// has reports whether cpu is in s.
func (s *cpuSet) has(cpu int) bool { return cpu >= 0 && cpu <= maxCPU && s[cpu/64]&(1<<(cpu%64)) != 0 }

// count is the number of CPUs in s.
func (s *cpuSet) count() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// parseCPUList parses a kernel CPU list ("0-3,5", whitespace around it ignored; "" is empty).
func parseCPUList(s string) (*cpuSet, error) {
	set := new(cpuSet)
	if len(s) > maxCPUList {
		return nil, &ValueError{What: "cpuset cpus", Value: s, Reason: fmt.Sprintf("%d bytes, the kernel takes at most %d", len(s), maxCPUList)}
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return set, nil
	}
	bad := func(reason string) error { return &ValueError{What: "cpuset cpus", Value: s, Reason: reason} }
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 || lo != strings.TrimSpace(lo) || strings.HasPrefix(lo, "+") {
			return nil, bad("")
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || strings.HasPrefix(hi, "+") {
				return nil, bad("")
			}
		}
		if b > maxCPU {
			return nil, bad(fmt.Sprintf("cpu %d out of range", b))
		}
		set.addRange(a, b)
	}
	return set, nil
}

// missing returns the CPUs of s not in allowed, in the kernel's list format ("" if none).
func (s *cpuSet) missing(allowed *cpuSet) string {
	var out []string
	for cpu := 0; cpu <= maxCPU; cpu++ {
		if s.has(cpu) && !allowed.has(cpu) {
			out = append(out, strconv.Itoa(cpu))
		}
	}
	return strings.Join(out, ",")
}

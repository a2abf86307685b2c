package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Stats is a snapshot of a cgroup's usage, for `strata stats` and `strata inspect`. A limit of
// 0 means none; a counter whose controller is not mounted stays 0.
type Stats struct {
	// MemoryUsage is the memory charged to the cgroup in bytes, page cache included.
	MemoryUsage uint64 `json:"memoryUsage"`
	// MemoryInactiveFile is the reclaimable page cache in bytes; docker's stats shows
	// MemoryUsage minus this as the container's usage.
	MemoryInactiveFile uint64 `json:"memoryInactiveFile"`
	// MemoryLimit is the memory limit in bytes, 0 when unlimited.
	MemoryLimit uint64 `json:"memoryLimit"`
	// PidsCurrent is the number of tasks (processes and threads) in the cgroup.
	PidsCurrent uint64 `json:"pidsCurrent"`
	// PidsLimit is the pids limit, 0 when unlimited.
	PidsLimit uint64 `json:"pidsLimit"`
	// CPUUsageNs is the CPU time the cgroup's tasks have used, in nanoseconds.
	CPUUsageNs uint64 `json:"cpuUsageNs"`
	// BlkioRead and BlkioWrite are the bytes the cgroup's tasks read from and wrote to block
	// devices: v1 blkio.throttle.io_service_bytes_recursive, v2 io.stat's rbytes and wbytes,
	// summed over the devices, as docker stats's BLOCK I/O.
	BlkioRead  uint64 `json:"blkioRead"`
	BlkioWrite uint64 `json:"blkioWrite"`
}

// unlimitedV1 is where a v1 counter stops meaning a limit: an unlimited memory limit reads as
// PAGE_COUNTER_MAX pages (9223372036854771712 with 4 KiB pages), never a real size.
const unlimitedV1 = 1 << 62

// Stats reads the cgroup's current usage.
func (c *Cgroup) Stats() (Stats, error) {
	var s Stats
	var err error
	if c.dir != "" {
		err = c.statsV2(&s)
	} else {
		err = c.statsV1(&s)
	}
	if err != nil {
		return Stats{}, fmt.Errorf("reading stats of cgroup %s: %w", c.display(), err)
	}
	return s, nil
}

// reader collects the first error of a run of reads, so a stats function reads as a list. A
// missing file reads as 0: on v2 a controller that is not enabled has no files, and on v1 a
// controller may not be mounted.
type reader struct{ err error }

// int reads dir/file as a non-negative number; "max" and v1's huge "unlimited" read as 0.
func (r *reader) int(dir, file string) uint64 {
	if r.err != nil || dir == "" {
		return 0
	}
	n, err := readInt(dir, file)
	if err != nil {
		if !isNotExist(err) {
			r.err = err
		}
		return 0
	}
	if n < 0 || n >= unlimitedV1 {
		return 0
	}
	return uint64(n)
}

// keyed reads key from the flat keyed file dir/file; a missing key reads as 0.
func (r *reader) keyed(dir, file, key string) uint64 {
	if r.err != nil || dir == "" {
		return 0
	}
	n, _, err := readKeyed(dir, file, key)
	if err != nil {
		if !isNotExist(err) {
			r.err = err
		}
		return 0
	}
	return uint64(max(n, 0))
}

func (c *Cgroup) statsV2(s *Stats) error {
	var r reader
	d := c.dir
	s.MemoryUsage = r.int(d, "memory.current")
	s.MemoryInactiveFile = r.keyed(d, "memory.stat", "inactive_file")
	s.MemoryLimit = r.int(d, "memory.max")
	s.PidsCurrent = r.int(d, "pids.current")
	s.PidsLimit = r.int(d, "pids.max")
	s.CPUUsageNs = r.keyed(d, "cpu.stat", "usage_usec") * 1000
	s.BlkioRead, s.BlkioWrite = r.ioStat(d)
	if r.err == nil && s.PidsCurrent == 0 {
		// Without the pids controller (a v2 host that has it off, or whose v1 hierarchies
		// hold it) there is no pids.current, and stats showed 0 tasks for a running
		// container: the tasks are counted from cgroup.threads, which every v2 cgroup has,
		// in the cgroup and those made under it, as pids.current counts them.
		if _, err := readFile(d, "pids.current"); isNotExist(err) {
			s.PidsCurrent = countThreads(d)
		}
	}
	return r.err
}

// countThreads counts the tasks listed in cgroup.threads of dir and of the cgroups under it;
// what cannot be read counts as none.
func countThreads(dir string) uint64 {
	s, err := readFile(dir, "cgroup.threads")
	if err != nil {
		return 0
	}
	n := uint64(len(strings.Fields(s)))
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			n += countThreads(filepath.Join(dir, e.Name()))
		}
	}
	return n
}

func (c *Cgroup) statsV1(s *Stats) error {
	var r reader
	mem, pids := c.ctrls["memory"], c.ctrls["pids"]
	s.MemoryUsage = r.int(mem, "memory.usage_in_bytes")
	s.MemoryInactiveFile = r.keyed(mem, "memory.stat", "total_inactive_file")
	s.MemoryLimit = r.int(mem, "memory.limit_in_bytes")
	s.PidsCurrent = r.int(pids, "pids.current")
	s.PidsLimit = r.int(pids, "pids.max")
	s.CPUUsageNs = r.int(c.ctrls["cpuacct"], "cpuacct.usage")
	s.BlkioRead, s.BlkioWrite = r.blkioV1(c.ctrls["blkio"])
	return r.err
}

// OOMKilled reports whether the kernel's OOM killer has killed a process of this cgroup:
// oom_kill in memory.events (v2) or memory.oom_control (v1, Linux 4.13+). On older v1 kernels
// without that counter it falls back to under_oom, which only says the cgroup is at its limit
// right now. Without a memory controller it reports false.
func (c *Cgroup) OOMKilled() (bool, error) {
	dir, file := c.dir, "memory.events"
	if dir == "" {
		dir, file = c.ctrls["memory"], "memory.oom_control"
		if dir == "" {
			return false, nil
		}
	}
	n, ok, err := readKeyed(dir, file, "oom_kill")
	if err == nil && !ok && c.dir == "" {
		n, _, err = readKeyed(dir, file, "under_oom")
	}
	if err != nil {
		if isNotExist(err) && c.dir != "" {
			return false, nil // memory controller not enabled on v2
		}
		return false, fmt.Errorf("reading oom state of cgroup %s: %w", c.display(), err)
	}
	return n > 0, nil
}

// Limits reads the limits back from the kernel's files, in Resources' terms: what the process
// card of `strata inspect` shows. Values the kernel rounds (cpu.weight on v2) come back as the
// nearest equivalent; a default value reads as 0 (no limit).
func (c *Cgroup) Limits() (Resources, error) {
	var r Resources
	var err error
	if c.dir != "" {
		err = c.limitsV2(&r)
	} else {
		err = c.limitsV1(&r)
	}
	if err != nil {
		return Resources{}, fmt.Errorf("reading limits of cgroup %s: %w", c.display(), err)
	}
	return r, nil
}

func (c *Cgroup) limitsV2(res *Resources) error {
	var r reader
	d := c.dir
	res.Memory = int64(r.int(d, "memory.max"))
	if swap, err := readInt(d, "memory.swap.max"); err == nil {
		switch {
		case swap >= 0 && res.Memory > 0:
			res.MemorySwap = res.Memory + swap
		case swap < 0 && res.Memory > 0:
			res.MemorySwap = -1
		}
	} else if !isNotExist(err) {
		return err
	}
	if q, p, err := readCPUMax(d); err == nil {
		if q > 0 && p > 0 {
			res.CPUs = float64(q) / float64(p)
		}
	} else if !isNotExist(err) {
		return err
	}
	if w := r.int(d, "cpu.weight"); w != 100 {
		res.CPUShares = weightToShares(w)
	}
	res.PidsLimit = int64(r.int(d, "pids.max"))
	if r.err == nil {
		// Unset, cpuset.cpus is empty on v2: the cgroup uses all its parent allows.
		cpus, err := readTrim(d, "cpuset.cpus")
		if err != nil && !isNotExist(err) {
			return err
		}
		res.CpusetCpus = cpus
	}
	return r.err
}

// readCPUMax parses v2 cpu.max, "<quota|max> <period>"; quota -1 means none.
func readCPUMax(dir string) (quota, period int64, err error) {
	s, err := readTrim(dir, "cpu.max")
	if err != nil {
		return 0, 0, err
	}
	q, p, _ := strings.Cut(s, " ")
	if q == "max" {
		return -1, 0, nil
	}
	if quota, err = strconv.ParseInt(q, 10, 64); err == nil {
		period, err = strconv.ParseInt(p, 10, 64)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("parsing %s: %q: %w", filepath.Join(dir, "cpu.max"), s, err)
	}
	return quota, period, nil
}

func (c *Cgroup) limitsV1(res *Resources) error {
	var r reader
	mem, cpu := c.ctrls["memory"], c.ctrls["cpu"]
	res.Memory = int64(r.int(mem, "memory.limit_in_bytes"))
	if mem != "" && res.Memory > 0 {
		switch total, err := readInt(mem, "memory.memsw.limit_in_bytes"); {
		case isNotExist(err):
		case err != nil:
			return err
		case total >= unlimitedV1 || total < 0:
			res.MemorySwap = -1
		default:
			res.MemorySwap = total
		}
	}
	if cpu != "" {
		quota, err := readInt(cpu, "cpu.cfs_quota_us")
		if err != nil {
			return err
		}
		if period := r.int(cpu, "cpu.cfs_period_us"); quota > 0 && period > 0 {
			res.CPUs = float64(quota) / float64(period)
		}
		if shares := r.int(cpu, "cpu.shares"); shares != 1024 {
			res.CPUShares = shares
		}
	}
	if d := c.ctrls["cpuset"]; d != "" && r.err == nil {
		// A v1 cpuset always lists CPUs; it is a limit only when narrower than the parent's.
		cpus, err := readTrim(d, "cpuset.cpus")
		if err != nil {
			return err
		}
		parent, err := readTrim(filepath.Dir(d), "cpuset.cpus")
		if err != nil {
			return err
		}
		if cpus != parent {
			res.CpusetCpus = cpus
		}
	}
	res.PidsLimit = int64(r.int(c.ctrls["pids"], "pids.max"))
	return r.err
}

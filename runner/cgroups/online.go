package cgroups

import (
	"fmt"
	"os"
	"strings"
)

// onlineCPUsFile lists the CPUs the kernel has online ("0-3,6"), the cpuset of the cgroup
// hierarchy's root.
const onlineCPUsFile = "/sys/devices/system/cpu/online"

// CheckCpusOnline refuses a --cpuset-cpus list that names a CPU the host does not have
// online, as docker's daemon refuses it at create ("Requested CPUs are not available"): the
// cgroup's own check comes only at start, after the container was made, and a created one
// could then never start. A host whose list cannot be read is left to that check.
func CheckCpusOnline(cpus string) error {
	return checkCpusOnline(cpus, onlineCPUsFile)
}

func checkCpusOnline(cpus, file string) error {
	req, err := parseCPUList(cpus)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	onlineStr := strings.TrimSpace(string(b))
	online, err := parseCPUList(onlineStr)
	if err != nil || online.count() == 0 {
		return nil
	}
	if req.missing(online) != "" {
		// As docker says it, without the list of the missing ones ("0-8191" would make it
		// thousands of numbers long).
		return &ValueError{What: "cpuset cpus", Value: cpus, Reason: fmt.Sprintf("requested CPUs are not available (available: %s)", onlineStr)}
	}
	return nil
}

// onlineMemsFile lists the memory nodes the kernel has online ("0"); a kernel without NUMA
// has no such file, and node 0 alone.
const onlineMemsFile = "/sys/devices/system/node/online"

// CheckMemsOnline is CheckCpusOnline for --cpuset-mems, in docker's words ("Requested memory
// nodes are not available").
func CheckMemsOnline(mems string) error {
	return checkMemsOnline(mems, onlineMemsFile)
}

func checkMemsOnline(mems, file string) error {
	req, err := parseMemList(mems)
	if err != nil {
		return err
	}
	onlineStr := "0"
	if b, err := os.ReadFile(file); err == nil {
		onlineStr = strings.TrimSpace(string(b))
	}
	online, err := parseCPUList(onlineStr)
	if err != nil || online.count() == 0 {
		return nil
	}
	if req.missing(online) != "" {
		return &ValueError{What: "cpuset mems", Value: mems, Reason: fmt.Sprintf("requested memory nodes are not available (available: %s)", onlineStr)}
	}
	return nil
}

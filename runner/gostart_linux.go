package runner

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A Go program's runtime opens a few files as it starts, before main, with a plain blocking
// open(2) and read(2) (Go 1.26: osinit's transparent huge page size, and the CPU limit files
// of the cgroup it is in, which defaultGOMAXPROCSInit reads). strata's helper starts inside a
// container's mount namespace twice: --init's reaper (exec'd by the init after pivot_root) and
// the limits-exec that an exec with tight --ulimit values starts in the command's place. There
// those files are the container's to place: a volume under /sys can put a FIFO or a terminal
// at /sys/kernel/mm/transparent_hugepage/hpage_pmd_size, or bind one over
// /sys/fs/cgroup/cpu/cpu.cfs_quota_us, and the runtime then blocked in open(2) for ever: `run
// --init` never ran the command, and `exec` never returned. checkGoStart refuses such a
// container instead, just before the helper is exec'd; a file swapped in between the check and
// the runtime's open (by a process sharing the volume) still blocks it (docs/design.md, known
// limits).

// goStartTHP is the file osinit reads the huge page size from.
const goStartTHP = "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"

// checkGoStart returns an error naming the first of goStartFiles, as a process whose /proc
// dir is procDir sees them, that would block the runtime's open or read: a FIFO or a
// character device. Files that are missing or cannot be read are what the runtime does
// without.
func checkGoStart(procDir string) error {
	for _, f := range goStartFiles(procDir) {
		var st unix.Stat_t
		if err := unix.Stat(f, &st); err != nil {
			continue
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFIFO, unix.S_IFCHR:
			kind := "a fifo"
			if st.Mode&unix.S_IFMT == unix.S_IFCHR {
				kind = "a character device"
			}
			return fmt.Errorf("%s in the container is %s, which strata's helper (a Go program, whose runtime opens it as it starts) would block on", f, kind)
		}
	}
	return nil
}

// goStartFiles are the files the Go runtime opens as it starts: goStartTHP and, for each
// cgroup mount of procDir's mountinfo that the process's CPU cgroup (procDir's cgroup) is
// under, its CPU limit files (cpu.max on v2; cpu.cfs_quota_us and cpu.cfs_period_us on v1).
func goStartFiles(procDir string) []string {
	files := []string{goStartTHP}
	cg, err := readSmallFile(filepath.Join(procDir, "cgroup"), 1<<20)
	if err != nil {
		return files
	}
	var v2Path string
	var v1Paths []string
	for _, line := range strings.Split(string(cg), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2Path = parts[2]
		case slices.Contains(strings.Split(parts[1], ","), "cpu"):
			v1Paths = append(v1Paths, parts[2])
		}
	}
	mi, err := readSmallFile(filepath.Join(procDir, "mountinfo"), 16<<20)
	if err != nil {
		return files
	}
	for _, line := range strings.Split(string(mi), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 {
			continue
		}
		root, point := unescapeMountinfo(f[3]), unescapeMountinfo(f[4])
		var paths, names []string
		switch {
		case g[0] == "cgroup2" && v2Path != "":
			paths, names = []string{v2Path}, []string{"cpu.max"}
		case g[0] == "cgroup" && slices.Contains(strings.Split(g[2], ","), "cpu"):
			paths, names = v1Paths, []string{"cpu.cfs_quota_us", "cpu.cfs_period_us"}
		}
		for _, p := range paths {
			rel, err := filepath.Rel(root, p)
			if err != nil || strings.HasPrefix(rel, "..") {
				continue
			}
			for _, n := range names {
				files = append(files, filepath.Join(point, rel, n))
			}
		}
	}
	return files
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space, \011, \012, \134).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

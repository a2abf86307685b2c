package runner

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pageOutExecutable drops this process's mappings of its own binary's read-only pages (text
// and rodata) with MADV_DONTNEED. A detached container's monitor touches most of strata's 18 MB
// binary while it starts the container (every package's init, the spawn path), then sleeps
// in wait(2) for days: without this those clean file pages stay in its RSS, about 8 MiB per
// container. MADV_PAGEOUT would skip them while other monitors map the same pages; DONTNEED
// only unmaps them here. The pages stay in the page cache, shared; what the monitor needs
// later (log copying, reaping) faults back in. Errors are ignored: this only trims memory.
func pageOutExecutable() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "start-end perms offset dev inode path"
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || strings.Join(fields[5:], " ") != exe {
			continue
		}
		// Only read-only mappings: DONTNEED on the writable data segment would throw away
		// the process's globals. Read-only pages refault, unchanged, from the file.
		if strings.Contains(fields[1], "w") {
			continue
		}
		start, end, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		lo, err1 := strconv.ParseUint(start, 16, 64)
		hi, err2 := strconv.ParseUint(end, 16, 64)
		if err1 != nil || err2 != nil || hi <= lo {
			continue
		}
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(lo), uintptr(hi-lo), unix.MADV_DONTNEED)
	}
}

package proccard

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// errESRCH is what reading a /proc file of a process that exited meanwhile returns.
var errESRCH = unix.ESRCH

// Processes returns every process in the pid namespace of pid (the container's PID 1), as
// `strata top` lists them, by host PID. A process belongs to the container when its
// /proc/<pid>/ns/pid is the same namespace: that counts what `exec` started and leaves out
// strata's own helpers, which only share the cgroup.
func Processes(pid int) ([]Process, error) {
	var want unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/pid", pid), &want); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
			return nil, ErrNoProcess
		}
		return nil, fmt.Errorf("reading pid namespace of %d: %w", pid, err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var out []Process
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(fmt.Sprintf("/proc/%d/ns/pid", p), &st) != nil || st.Ino != want.Ino || st.Dev != want.Dev {
			continue
		}
		pr, err := readProcess(p)
		if err != nil {
			continue // exited while we looked
		}
		out = append(out, pr.Process)
	}
	slices.SortFunc(out, func(a, b Process) int { return a.Pid - b.Pid })
	return out, nil
}

var (
	passwdOnce sync.Once
	passwd     map[int]string
)

// userName returns the host's name for uid, "" when /etc/passwd has none. The container's
// processes may have uids the host does not name; top prints the number then.
func userName(uid int) string {
	passwdOnce.Do(func() {
		passwd = map[int]string{}
		f, err := os.Open("/etc/passwd")
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Split(sc.Text(), ":")
			if len(fields) < 3 {
				continue
			}
			if n, err := strconv.Atoi(fields[2]); err == nil {
				if _, dup := passwd[n]; !dup {
					passwd[n] = fields[0]
				}
			}
		}
	})
	return passwd[uid]
}

// dirSize sums the sizes of the regular files under dir, each hard-linked inode once.
func dirSize(dir string) (int64, error) {
	type key struct{ dev, ino uint64 }
	seen := map[key]bool{}
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		k := key{st.Dev, st.Ino}
		if st.Nlink > 1 {
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		total += st.Size
		return nil
	})
	return total, err
}

package proccard

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/strata-run/strata/mount"
	"github.com/strata-run/strata/runner/cgroups"
	"golang.org/x/sys/unix"
)

// ErrNoProcess means the process is gone (or never was): the container is not running.
var ErrNoProcess = errors.New("no such process")

// Options are what the card needs besides the pid. Each is optional: a missing one leaves its
// part of the card out.
type Options struct {
	// Cgroup is the container's cgroup, from cgroups.Load(container ID).
	Cgroup *cgroups.Cgroup
	// Root are the container's root mounts (runner.Spec.Root), overlay options included.
	Root []mount.Mount
	// Layers maps a layer's DiffID ("sha256:…") to its compressed blob in the image store.
	Layers map[string]Blob
}

// nsTypes are the namespace types in lsns's order.
var nsTypes = []string{"mnt", "uts", "ipc", "pid", "net", "cgroup", "user", "time"}

// maxParents bounds the parent chain: a pid loop cannot happen, but /proc is read while
// processes come and go.
const maxParents = 64

// Read builds the card of host process pid, the container's PID 1. A pid that does not exist
// is ErrNoProcess.
func Read(pid int, opts Options) (*Card, error) {
	self, err := readProcess(pid)
	if err != nil {
		return nil, fmt.Errorf("reading process card of pid %d: %w", pid, err)
	}
	c := &Card{Pid: pid, NSpid: self.NSpid, Command: self.Command, UID: self.UID, GID: self.gid,
		Security: securityFromStatus(self.status)}
	for p := self.PPid; p > 0 && len(c.Parents) < maxParents; {
		parent, err := readProcess(p)
		if err != nil {
			break // exited meanwhile: the chain ends here
		}
		c.Parents = append(c.Parents, parent.Process)
		p = parent.PPid
	}
	if c.HostRef, c.Namespaces, err = namespaces(pid); err != nil {
		return nil, fmt.Errorf("reading process card of pid %d: %w", pid, err)
	}
	for _, ns := range c.Namespaces {
		if ns.Type == "time" && !ns.Shared {
			c.TimeOffsets = readTimeOffsets(pid)
		}
	}
	if opts.Cgroup != nil {
		if c.Cgroup, err = readCgroup(pid, opts.Cgroup); err != nil {
			return nil, fmt.Errorf("reading process card of pid %d: %w", pid, err)
		}
	}
	if len(opts.Root) > 0 {
		c.RootFS = readRootFS(opts.Root, opts.Layers)
	}
	return c, nil
}

// proc is a Process plus what only the card's own process needs.
type proc struct {
	Process
	gid    int
	status map[string]string // every field of /proc/<pid>/status
}

// readProcess reads /proc/<pid>/status and cmdline.
func readProcess(pid int) (proc, error) {
	dir, err := openProcDir(pid)
	if err != nil {
		return proc{}, err
	}
	defer unix.Close(dir)
	return readProcessAt(dir, pid)
}

// openProcDir opens /proc/<pid>, whose files then stay those of that process: once it has
// exited they fail, even when a new process has taken its pid (by name they would be the
// newcomer's). A pid that does not exist is ErrNoProcess.
func openProcDir(pid int) (int, error) {
	dir, err := unix.Open("/proc/"+strconv.Itoa(pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
		return -1, ErrNoProcess
	}
	if err != nil {
		return -1, fmt.Errorf("opening /proc/%d: %w", pid, err)
	}
	return dir, nil
}

// readAt reads the file name of the /proc/<pid> dir open at dir.
func readAt(dir int, name string) ([]byte, error) {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	return io.ReadAll(f)
}

// readProcessAt reads status and cmdline of process pid, whose /proc dir is open at dir.
func readProcessAt(dir, pid int) (proc, error) {
	status, err := readAt(dir, "status")
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, errESRCH) {
		return proc{}, ErrNoProcess
	}
	if err != nil {
		return proc{}, err
	}
	p := proc{Process: Process{Pid: pid}, status: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		p.status[key] = strings.TrimSpace(val)
		f := strings.Fields(val)
		switch key {
		case "Name":
			p.Comm = strings.TrimSpace(val)
		case "State":
			if len(f) > 0 {
				p.State = f[0]
			}
		case "PPid":
			p.PPid = atoi(f)
		case "Uid":
			p.UID = atoi(f)
		case "Gid":
			p.gid = atoi(f)
		case "NSpid":
			for _, s := range f {
				if n, err := strconv.Atoi(s); err == nil {
					p.NSpid = append(p.NSpid, n)
				}
			}
		}
	}
	if cmd, err := readAt(dir, "cmdline"); err == nil && len(cmd) > 0 {
		p.Command = strings.Split(strings.TrimSuffix(string(cmd), "\x00"), "\x00")
	}
	p.User = userName(p.UID)
	return p, nil
}

// atoi parses the first field, 0 when there is none.
func atoi(f []string) int {
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

// namespaces reads pid's namespace links and compares each with the host's.
func namespaces(pid int) (string, []Namespace, error) {
	hostRef, hostDir := "pid 1", "/proc/1/ns"
	if _, err := os.Readlink(hostDir + "/mnt"); err != nil {
		// Reading another process's ns links needs ptrace access; some inits refuse it.
		hostRef, hostDir = "strata", "/proc/self/ns"
	}
	var out []Namespace
	for _, t := range nsTypes {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, t))
		if errors.Is(err, os.ErrNotExist) {
			if _, perr := os.Stat(fmt.Sprintf("/proc/%d", pid)); perr != nil {
				return "", nil, ErrNoProcess
			}
			continue // a kernel without this namespace type
		}
		if err != nil {
			return "", nil, fmt.Errorf("reading %s namespace: %w", t, err)
		}
		ns := Namespace{Type: t, Link: link, Inode: linkInode(link)}
		if host, err := os.Readlink(hostDir + "/" + t); err == nil {
			ns.Shared = host == link
		}
		out = append(out, ns)
	}
	return hostRef, out, nil
}

// linkInode parses the inode of "net:[4026532281]".
func linkInode(link string) uint64 {
	i, j := strings.IndexByte(link, '['), strings.IndexByte(link, ']')
	if i < 0 || j < i {
		return 0
	}
	n, _ := strconv.ParseUint(link[i+1:j], 10, 64)
	return n
}

// readCgroup reads the cgroup part of the card.
func readCgroup(pid int, cg *cgroups.Cgroup) (*Cgroup, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoProcess
	}
	if err != nil {
		return nil, fmt.Errorf("reading cgroup membership: %w", err)
	}
	c := &Cgroup{Mode: cgroups.Mode(), Dir: cg.Path()}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" {
			c.Lines = append(c.Lines, l)
		}
	}
	c.Files = cgroupFiles(c.Mode, c.Lines)
	if c.Limits, err = cg.Limits(); err != nil {
		return nil, err
	}
	if c.Usage, err = cg.Stats(); err != nil {
		return nil, err
	}
	return c, nil
}

// cgroupRoot is where the host mounts cgroupfs.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupFiles lists the existing files behind Limits and Usage, from the membership lines:
// "0::/strata/<id>" is the v2 tree, "4:memory:/strata/<id>" a v1 controller's. On hybrid
// hosts the v2 tree holds no limits and is left out.
func cgroupFiles(mode string, lines []string) []string {
	want := map[string][]string{
		"":        {"memory.max", "memory.current", "pids.max", "pids.current", "cpu.max", "cpu.weight", "cpu.stat", "cpuset.cpus"},
		"memory":  {"memory.limit_in_bytes", "memory.usage_in_bytes"},
		"pids":    {"pids.max", "pids.current"},
		"cpu":     {"cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares"},
		"cpuacct": {"cpuacct.usage"},
		"cpuset":  {"cpuset.cpus"},
	}
	var out []string
	for _, l := range lines {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 || parts[2] == "/" {
			continue
		}
		ctrls, path := parts[1], parts[2]
		dir := filepath.Join(cgroupRoot, ctrls, path)
		var names []string
		if ctrls == "" {
			if mode != "v2" {
				continue
			}
			dir = filepath.Join(cgroupRoot, path)
			names = want[""]
		} else {
			for _, ctrl := range strings.Split(ctrls, ",") {
				names = append(names, want[ctrl]...)
			}
		}
		for _, n := range names {
			p := filepath.Join(dir, n)
			if _, err := os.Stat(p); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// sizeBudget bounds the time a card spends measuring its layers and upper dir. The container
// writes its upper dir: one that made millions of files (or an image of that many) made every
// inspect, inspect --format '{{.State.Pid}}' and explain walk them all, seconds to minutes
// each, where docker inspect measures nothing without --size. Past it, a size is what was
// counted by then, marked partial.
var sizeBudget = time.Second

// readRootFS describes the root mount: lowerdirs mapped to layers, and the upperdir's size.
func readRootFS(root []mount.Mount, blobs map[string]Blob) *RootFS {
	deadline := time.Now().Add(sizeBudget)
	m := root[0]
	r := &RootFS{Type: m.Type}
	var lowers []string
	if m.Type == "overlay" {
		lowers, r.Upper, r.Work = m.OverlayDirs()
	} else {
		lowers = []string{m.Source}
	}
	// The upper dir first, in half the budget, so that the image's layers have the rest:
	// the container decides what its upper dir holds.
	if r.Upper != "" {
		r.UpperSize, r.UpperSizePartial, _ = dirSize(r.Upper, time.Now().Add(sizeBudget/2))
	}
	for _, d := range lowers {
		l := Layer{Dir: d}
		if hex := filepath.Base(d); isHex64(hex) {
			l.DiffID = "sha256:" + hex
			if b, ok := blobs[l.DiffID]; ok {
				l.Digest, l.Size = b.Digest, b.Size
			}
		}
		l.DiskSize, l.DiskSizePartial, _ = dirSize(d, deadline)
		r.Lowers = append(r.Lowers, l)
	}
	return r
}

// isHex64 reports whether s is a 64-character lower-case hex string, a sha256 in hex.
func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// readTimeOffsets parses /proc/<pid>/timens_offsets, lines of "<clock> <secs> <nsecs>" with
// the clock by name or by number (1 monotonic, 7 boottime); nil when it cannot be read.
func readTimeOffsets(pid int) *TimeOffsets {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/timens_offsets", pid))
	if err != nil {
		return nil
	}
	return parseTimeOffsets(string(b))
}

// parseTimeOffsets parses the content of a timens_offsets file.
func parseTimeOffsets(s string) *TimeOffsets {
	t := &TimeOffsets{}
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		secs, err1 := strconv.ParseInt(f[1], 10, 64)
		nsecs, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		v := float64(secs) + float64(nsecs)/1e9
		switch f[0] {
		case "monotonic", "1":
			t.Monotonic = v
		case "boottime", "7":
			t.Boottime = v
		}
	}
	return t
}

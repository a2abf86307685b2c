package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The fake cgroupfs: a tree in t.TempDir() whose mkdir hook creates the interface files the
// kernel would show in a new cgroup, and whose rmdir hook refuses a cgroup with processes or
// children (EBUSY), as cgroupfs does. Writes land in plain files, so a test reads back exactly
// what the package wrote. This is how the v2 code is tested on this hybrid host, whose only
// cgroup2 tree (unified/) has no controller but hugetlb.

// fakeOpts varies the fake host.
type fakeOpts struct {
	noSwap      bool     // no swap accounting: no memory.swap.max / memory.memsw.*
	controllers []string // v2: what the root offers; v1: which controllers are mounted
	hybrid      bool     // v1: add a cgroup2 tree at unified/
	cpus        string   // CPUs the root allows, "0-3" when empty
	noWeight    bool     // no block I/O weight file (no bfq, no cfq or io.cost)
	bfq         bool     // the bfq scheduler's weight file rather than the generic one
}

func (o fakeOpts) allowedCPUs() string {
	if o.cpus == "" {
		return "0-3"
	}
	return o.cpus
}

func mustWrite(t testing.TB, p, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeAll(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		mustWrite(t, filepath.Join(dir, name), data)
	}
}

// readFake returns a fake file's contents without its trailing newline.
func readFake(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// fakeRmdir behaves like rmdir(2) on cgroupfs: EBUSY while processes or child cgroups remain.
func fakeRmdir(p string) error {
	ents, err := os.ReadDir(p)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			return &os.PathError{Op: "rmdir", Path: p, Err: unix.EBUSY}
		}
	}
	if b, err := os.ReadFile(filepath.Join(p, "cgroup.procs")); err == nil && strings.TrimSpace(string(b)) != "" {
		return &os.PathError{Op: "rmdir", Path: p, Err: unix.EBUSY}
	}
	return os.RemoveAll(p)
}

// fakeDevicesFile is where the fake records the device rules a cgroup2 directory got: a
// directory in t.TempDir() cannot take a BPF program.
const fakeDevicesFile = "fake.devices"

// fakeAttachDevices stands in for attachDeviceProgram: it writes the rules, one a line, and
// refuses a second attach as a program cannot be attached twice by strata.
func fakeAttachDevices(dir string, rules []DeviceRule) error {
	p := filepath.Join(dir, fakeDevicesFile)
	var lines []string
	for _, r := range rules {
		lines = append(lines, r.String())
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strings.Join(lines, "\n") + "\n")
	return errors.Join(err, f.Close())
}

// fakeV2 builds a fake pure-v2 host.
func fakeV2(t testing.TB, o fakeOpts) *hierarchy {
	t.Helper()
	root := t.TempDir()
	ctrls := o.controllers
	if ctrls == nil {
		ctrls = []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids"}
	}
	writeAll(t, root, map[string]string{
		"cgroup.controllers":     strings.Join(ctrls, " ") + "\n",
		"cgroup.subtree_control": "\n",
		"cgroup.procs":           "1\n",
		"cpuset.cpus.effective":  o.allowedCPUs() + "\n",
		"cpuset.mems.effective":  "0\n",
	})
	h := newHierarchy(root, modeV2)
	h.wait, h.rmWait = 20*time.Millisecond, 20*time.Millisecond
	h.rmdir = fakeRmdir
	h.attachDevices = fakeAttachDevices
	// The kernel lists enabled controllers in subtree_control; the fake keeps that list, and a
	// controller the root does not offer is refused as the kernel would.
	h.enable = func(dir, ctrl string) error {
		if !slices.Contains(ctrls, ctrl) {
			return &os.PathError{Op: "write", Path: filepath.Join(dir, "cgroup.subtree_control"), Err: unix.ENOENT}
		}
		p := filepath.Join(dir, "cgroup.subtree_control")
		on := strings.Fields(readFake(t, p))
		if !slices.Contains(on, ctrl) {
			on = append(on, ctrl)
		}
		mustWrite(t, p, strings.Join(on, " ")+"\n")
		return nil
	}
	h.mkdir = func(p string) error {
		if err := os.Mkdir(p, 0o755); err != nil {
			return err
		}
		parent := filepath.Dir(p)
		enabled := strings.Fields(readFake(t, filepath.Join(parent, "cgroup.subtree_control")))
		files := map[string]string{
			"cgroup.procs":           "",
			"cgroup.controllers":     strings.Join(enabled, " ") + "\n",
			"cgroup.subtree_control": "\n",
			"cgroup.kill":            "",
			"cgroup.freeze":          "0\n",
			"cgroup.events":          "populated 0\nfrozen 0\n",
		}
		for _, c := range enabled {
			switch c {
			case "memory":
				files["memory.max"] = "max\n"
				files["memory.current"] = "0\n"
				files["memory.events"] = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"
				files["memory.stat"] = "anon 0\nfile 0\ninactive_file 0\n"
				files["memory.low"] = "0\n"
				if !o.noSwap {
					files["memory.swap.max"] = "max\n"
					files["memory.swap.current"] = "0\n"
				}
			case "cpu":
				files["cpu.max"] = "max 100000\n"
				files["cpu.weight"] = "100\n"
				files["cpu.stat"] = "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"
			case "cpuset":
				files["cpuset.cpus"] = "\n"
				files["cpuset.mems"] = "\n"
				files["cpuset.cpus.effective"] = readFake(t, filepath.Join(parent, "cpuset.cpus.effective")) + "\n"
				files["cpuset.mems.effective"] = readFake(t, filepath.Join(parent, "cpuset.mems.effective")) + "\n"
			case "pids":
				files["pids.max"] = "max\n"
				files["pids.current"] = "0\n"
			case "io":
				files["io.stat"], files["io.max"] = "", ""
				switch {
				case o.noWeight:
				case o.bfq:
					files["io.bfq.weight"] = "default 100\n"
				default:
					files["io.weight"] = "default 100\n"
				}
			}
		}
		writeAll(t, p, files)
		return nil
	}
	return h
}

// fakeV1 builds a fake v1 (or, with o.hybrid, hybrid) host with one mount per controller.
func fakeV1(t testing.TB, o fakeOpts) *hierarchy {
	t.Helper()
	root := t.TempDir()
	ctrls := o.controllers
	if ctrls == nil {
		ctrls = v1Controllers
	}
	for _, c := range ctrls {
		dir := filepath.Join(root, c)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, filepath.Join(dir, "cgroup.procs"), "1\n")
		if c == "cpuset" {
			writeAll(t, dir, map[string]string{
				"cpuset.cpus":           o.allowedCPUs() + "\n",
				"cpuset.effective_cpus": o.allowedCPUs() + "\n",
				"cpuset.mems":           "0\n",
				"cgroup.clone_children": "0\n",
			})
		}
	}
	mode := modeV1
	if o.hybrid {
		if err := os.Mkdir(filepath.Join(root, unifiedDir), 0o755); err != nil {
			t.Fatal(err)
		}
		mode = modeHybrid
	}
	h := newHierarchy(root, mode)
	h.wait, h.rmWait = 20*time.Millisecond, 20*time.Millisecond
	h.scanV1()
	if o.hybrid {
		h.unified = filepath.Join(root, unifiedDir)
	}
	h.rmdir = fakeRmdir
	h.attachDevices = fakeAttachDevices
	h.mkdir = func(p string) error {
		if err := os.Mkdir(p, 0o755); err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		ctrl, _, _ := strings.Cut(rel, "/")
		parent := filepath.Dir(p)
		files := map[string]string{"cgroup.procs": "", "tasks": "", "notify_on_release": "0\n"}
		switch ctrl {
		case unifiedDir:
			files["cgroup.kill"] = ""
			files["cgroup.freeze"] = "0\n"
		case "memory":
			files["memory.limit_in_bytes"] = "9223372036854771712\n"
			files["memory.usage_in_bytes"] = "0\n"
			files["memory.oom_control"] = "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"
			files["memory.stat"] = "cache 0\nrss 0\ntotal_inactive_file 0\n"
			files["memory.soft_limit_in_bytes"] = "9223372036854771712\n"
			files["memory.swappiness"] = "60\n"
			if !o.noSwap {
				files["memory.memsw.limit_in_bytes"] = "9223372036854771712\n"
			}
		case "cpu":
			files["cpu.cfs_period_us"] = "100000\n"
			files["cpu.cfs_quota_us"] = "-1\n"
			files["cpu.shares"] = "1024\n"
		case "cpuacct":
			files["cpuacct.usage"] = "0\n"
		case "cpuset":
			// The kernel copies the parent's CPUs and memory nodes only with clone_children.
			files["cgroup.clone_children"] = "0\n"
			files["cpuset.cpus"], files["cpuset.mems"] = "\n", "\n"
			if readFake(t, filepath.Join(parent, "cgroup.clone_children")) == "1" {
				files["cpuset.cpus"] = readFake(t, filepath.Join(parent, "cpuset.cpus")) + "\n"
				files["cpuset.mems"] = readFake(t, filepath.Join(parent, "cpuset.mems")) + "\n"
			}
		case "pids":
			files["pids.max"] = "max\n"
			files["pids.current"] = "0\n"
			files["pids.events"] = "max 0\n"
		case "freezer":
			files["freezer.state"] = "THAWED\n"
		case "blkio":
			files["blkio.throttle.io_service_bytes_recursive"] = "Total 0\n"
			for _, f := range []string{"read_bps_device", "write_bps_device", "read_iops_device", "write_iops_device"} {
				files["blkio.throttle."+f] = ""
			}
			switch {
			case o.noWeight:
			case o.bfq:
				files["blkio.bfq.weight"] = "100\n"
				files["blkio.bfq.weight_device"] = ""
			default:
				files["blkio.weight"] = "500\n"
				files["blkio.weight_device"] = ""
			}
		case "devices":
			// The fake keeps only the last write of each file; the host test reads the
			// kernel's whole list.
			files["devices.allow"], files["devices.deny"] = "", ""
			files["devices.list"] = "a *:* rwm\n"
		}
		writeAll(t, p, files)
		return nil
	}
	return h
}

// dirsUnder lists every directory below root (relative paths), for "nothing left behind" checks.
func dirsUnder(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

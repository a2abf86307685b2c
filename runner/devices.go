package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"github.com/strata-run/strata/internal/quote"
	"github.com/strata-run/strata/runner/cgroups"
	"golang.org/x/sys/unix"
)

// DeviceMapping is one --device as docker's HostConfig.Devices shows it: the host's node (or
// a directory of nodes), where it goes in the container, and what the device cgroup lets the
// container do with it (a combination of r, w and m).
type DeviceMapping struct {
	PathOnHost        string `json:"PathOnHost"`
	PathInContainer   string `json:"PathInContainer"`
	CgroupPermissions string `json:"CgroupPermissions"`
}

// DeviceNode is a host device node a container gets (ResolveDevices): Source is the node on
// the host, symlinks resolved; Target the container path it is made at.
type DeviceNode struct {
	Source string `json:"source"`
	Target string `json:"target"`
}

// validDeviceMode is docker's check of a --device's permissions (cli opts validDeviceMode):
// one to three of r, w and m, none twice.
func validDeviceMode(mode string) bool {
	if mode == "" || len(mode) > 3 {
		return false
	}
	for i, c := range mode {
		if c != 'r' && c != 'w' && c != 'm' || strings.ContainsRune(mode[:i], c) {
			return false
		}
	}
	return true
}

// ParseDevice parses one --device as docker's CLI does (validateLinuxPath, then
// parseLinuxDevice): HOST[:CONTAINER][:PERMS], where a second field that is a valid mode is
// the permissions ("/dev/sda:rw"), the container path defaults to the host's, and the
// permissions to rwm. Both paths must be absolute; the container path is cleaned.
func ParseDevice(v string) (DeviceMapping, error) {
	fail := func(format string, a ...any) (DeviceMapping, error) {
		return DeviceMapping{}, fmt.Errorf("invalid --device %s: "+format, append([]any{quote.Value(v)}, a...)...)
	}
	parts := strings.Split(v, ":")
	d := DeviceMapping{PathOnHost: parts[0], CgroupPermissions: "rwm"}
	switch len(parts) {
	case 1:
	case 2:
		if validDeviceMode(parts[1]) {
			d.CgroupPermissions = parts[1]
		} else {
			d.PathInContainer = parts[1]
		}
	case 3:
		d.PathInContainer, d.CgroupPermissions = parts[1], parts[2]
		if !validDeviceMode(parts[2]) {
			return fail("bad mode specified: %s (want one to three of r, w and m)", quote.Value(parts[2]))
		}
	default:
		return fail("want HOST[:CONTAINER][:PERMISSIONS]")
	}
	if d.PathOnHost == "" {
		return fail("empty host path")
	}
	if strings.IndexByte(v, 0) >= 0 {
		return fail("contains a NUL byte")
	}
	if !path.IsAbs(d.PathOnHost) {
		return fail("host path %s is not an absolute path", quote.Value(d.PathOnHost))
	}
	if d.PathInContainer == "" {
		d.PathInContainer = d.PathOnHost
	}
	if !path.IsAbs(d.PathInContainer) {
		return fail("%s is not an absolute path", quote.Value(d.PathInContainer))
	}
	d.PathInContainer = path.Clean(d.PathInContainer)
	if d.PathInContainer == "/" {
		return fail("the container path can't be '/'")
	}
	if underKernelFS(d.PathInContainer) {
		return fail("the container path can't be in /proc or /sys")
	}
	return d, nil
}

// maxDeviceWalk bounds how many entries a --device of a directory visits: docker walks the
// whole tree, and "--device /" would walk the host's every file.
const maxDeviceWalk = 100000

// errDeviceWalkDone stops a directory's walk at maxDeviceWalk.
var errDeviceWalkDone = errors.New("too many files")

// ResolveDevices finds the host nodes of ds as docker's daemon does (oci devicesFromPath): a
// symlink given as the host path is resolved; a char or block device is that node; a
// directory gives every device node under it (symlinks in it skipped), each at its path
// below the container path. Anything else is refused. It returns the nodes to make and the
// device cgroup rules that allow them, with each mapping's permissions.
func ResolveDevices(ds []DeviceMapping) ([]DeviceNode, []cgroups.DeviceRule, error) {
	var nodes []DeviceNode
	var rules []cgroups.DeviceRule
	add := func(host, ctr string, st *unix.Stat_t, perms string) {
		typ := byte('c')
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			typ = 'b'
		}
		nodes = append(nodes, DeviceNode{Source: host, Target: ctr})
		rules = append(rules, cgroups.DeviceRule{Type: typ, Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)), Access: perms})
	}
	for _, d := range ds {
		fail := func(err error) ([]DeviceNode, []cgroups.DeviceRule, error) {
			return nil, nil, fmt.Errorf("error gathering device information while adding custom device %s: %w", quote.Value(d.PathOnHost), err)
		}
		host := d.PathOnHost
		var st unix.Stat_t
		if err := unix.Lstat(host, &st); err != nil {
			return fail(err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			resolved, err := filepath.EvalSymlinks(host)
			if err != nil {
				return fail(err)
			}
			host = resolved
			if err := unix.Lstat(host, &st); err != nil {
				return fail(err)
			}
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR, unix.S_IFBLK:
			add(host, d.PathInContainer, &st, d.CgroupPermissions)
			continue
		case unix.S_IFDIR:
		default:
			return fail(errors.New("not a device node"))
		}
		found, seen := 0, 0
		err := filepath.WalkDir(host, func(p string, e fs.DirEntry, err error) error {
			if seen++; seen > maxDeviceWalk {
				return errDeviceWalkDone
			}
			if err != nil || e.Type()&(fs.ModeDevice|fs.ModeCharDevice) == 0 {
				return nil // as docker: what cannot be read, or is no device, is skipped
			}
			var st unix.Stat_t
			if unix.Lstat(p, &st) != nil {
				return nil
			}
			if k := st.Mode & unix.S_IFMT; k != unix.S_IFCHR && k != unix.S_IFBLK {
				return nil
			}
			rel, rerr := filepath.Rel(host, p)
			if rerr != nil {
				return nil
			}
			add(p, path.Join(d.PathInContainer, filepath.ToSlash(rel)), &st, d.CgroupPermissions)
			found++
			return nil
		})
		if errors.Is(err, errDeviceWalkDone) {
			return fail(fmt.Errorf("the directory holds more than %d files", maxDeviceWalk))
		}
		if found == 0 {
			return fail(errors.New("not a device node, nor a directory holding any"))
		}
	}
	return nodes, rules, nil
}

// validateDevices refuses a device the init could not make, or should not: a container
// path that is not absolute, the root, or on or inside /proc or /sys, kernel filesystems
// strata mounts and masks, and one given twice.
func validateDevices(nodes []DeviceNode) error {
	if len(nodes) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		t := path.Clean("/" + n.Target)
		switch {
		case !path.IsAbs(n.Target) || strings.IndexByte(n.Target, 0) >= 0 || strings.IndexByte(n.Source, 0) >= 0:
			return fmt.Errorf("invalid device %s: the container path must be absolute", quote.Value(n.Target))
		case t == "/":
			return fmt.Errorf("invalid device %s: the container path can't be '/'", quote.Value(n.Target))
		case underKernelFS(t):
			return fmt.Errorf("invalid device %s: the container path can't be in /proc or /sys", quote.Value(n.Target))
		case seen[t]:
			return fmt.Errorf("invalid device %s: given twice", quote.Value(n.Target))
		}
		seen[t] = true
	}
	return nil
}

// underKernelFS says whether the clean container path p is on or inside /proc or /sys.
func underKernelFS(p string) bool {
	for _, k := range []string{"/proc", "/sys"} {
		if p == k || strings.HasPrefix(p, k+"/") {
			return true
		}
	}
	return false
}

// validateDeviceCgroupRules checks the --device-cgroup-rule values a Spec keeps as given.
func validateDeviceCgroupRules(rules []string) error {
	for _, r := range rules {
		if _, err := cgroups.ParseDeviceRule(r); err != nil {
			return err
		}
	}
	return nil
}

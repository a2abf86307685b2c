package runner

import (
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-run/strata/mount"
	"golang.org/x/sys/unix"
)

// Op is what one plan Step does.
type Op string

// The init's operations. Before OpPivot a Target is a container path resolved under the
// rootfs (never escaping it through the image's symlinks); after it, the container's own path.
const (
	// OpRoot mounts Step.Mount (one of Spec.Root) at its Target under the rootfs ("/" is the
	// rootfs itself).
	OpRoot Op = "root"
	// OpMount mounts a filesystem of FSType with Flags and Data at Target, creating the dir.
	OpMount Op = "mount"
	// OpBind bind mounts the host path Source at Target (a file or dir like Source), then
	// remounts it with Flags (ro, nosuid, ...) and applies Propagation.
	OpBind Op = "bind"
	// OpDevice makes Target a device node like the host's Source: mknod with its type,
	// numbers and mode, or, where the init may not mknod (no CAP_MKNOD), a bind of it.
	OpDevice Op = "device"
	// OpUserDevice is OpDevice for a --device: Target is the user's path, which the image's
	// symlinks may lead elsewhere inside the root (never into /proc or /sys), and what the
	// image has there, unless a directory or another device, is replaced by the node.
	OpUserDevice Op = "userdevice"
	// OpSysctl writes Data to Target, a file under the container's /proc/sys, for the
	// sysctl Source (--sysctl), opened without following any symlink or leaving procfs.
	OpSysctl Op = "sysctl"
	// OpSymlink creates Target as a symlink to Source.
	OpSymlink Op = "symlink"
	// OpMkdir creates Target (and parents) if missing, mode 0755: the working directory.
	// Data mkdirCgroupfsLater lets it leave a Target the image's symlinks lead into the
	// cgroup tree, not mounted yet, to the step of Data mkdirIfLeft after the cgroup
	// filesystems, which makes only a Target left so.
	OpMkdir Op = "mkdir"
	// OpPivot makes the rootfs the root and detaches the old one.
	OpPivot Op = "pivot"
	// OpMask hides Target: /dev/null over a file, an empty read-only tmpfs over a dir.
	// Missing targets are skipped.
	OpMask Op = "mask"
	// OpReadOnly makes Target a read-only bind of itself; missing targets are skipped.
	OpReadOnly Op = "readonly"
	// OpKeepNull opens Target, the container's /dev/null just made by OpDevice, and keeps it
	// for the masks, which then bind it from the descriptor: a user mount on /dev (or
	// /dev/null) hides the path, and what is there after it need not be a null device (a
	// --device at /dev/null replaces it).
	OpKeepNull Op = "keepnull"
	// OpNull binds the null device OpKeepNull kept at Target, creating an empty file there
	// (a symlink there is refused): the /dev/null of a volume at /dev.
	OpNull Op = "null"
	// OpJoin makes the cgroup namespace, rooted at the container's cgroup the init is in, and
	// the time namespace. Every plan has one: the steps before it run while the parent writes
	// the etc files and compiles the seccomp filter (the init waits for its go-ahead before
	// the first bind of an etc file, or here); the cgroup filesystems come after it.
	OpJoin Op = "join"
)

// Step is one thing the init does to build the container's filesystem.
type Step struct {
	Op     Op           `json:"op"`
	Target string       `json:"target"`
	Source string       `json:"source,omitempty"`
	FSType string       `json:"fstype,omitempty"`
	Flags  uintptr      `json:"flags,omitempty"`
	Data   string       `json:"data,omitempty"`
	Mount  *mount.Mount `json:"mount,omitempty"`
	// Propagation is applied to a bind after it is made (MS_PRIVATE, MS_SLAVE|MS_REC, ...).
	Propagation uintptr `json:"propagation,omitempty"`
	// Create makes a missing bind Source as a directory on the host (-v does, as docker).
	Create bool `json:"create,omitempty"`
}

// maskedPaths and readonlyPaths are Docker's defaults (moby oci/defaults.go): kernel
// interfaces that leak host data or allow host changes.
var (
	maskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// hostDevices are the device nodes every container gets, made like the host's /dev ones
// (OpDevice: a node of the same numbers, as runc makes them, or a bind of the host's).
var hostDevices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// etcFiles are the files strata writes in the container dir and binds over the image's, so the
// image's own copies stay untouched (Docker does the same).
var etcFiles = []string{"hostname", "hosts", "resolv.conf"}

// isEtcFile says whether source is one of the etcFiles strata writes for spec's container.
func isEtcFile(spec Spec, source string) bool {
	for _, f := range etcFiles {
		if source == path.Join(spec.Dir, f) {
			return true
		}
	}
	return false
}

// plan computes the init's filesystem steps for spec, in order. It is plain data: the
// decisions (what to mount where, in which order, what to hide) are tested without root.
func plan(spec Spec) []Step { return planWith(spec, hostInfo{}) }

// hostInfo is what the plan needs to know about the host, gathered by the init before it
// builds the container (hostInfoNow) and passed in as data, so plans stay testable.
type hostInfo struct {
	// Cgroups and CgroupLinks are the cgroup filesystems under /sys/fs/cgroup and the
	// symlinks beside them (see cgroupSteps).
	Cgroups     []cgroupMount
	CgroupLinks map[string]string
	// Devices are the host's device nodes under /dev, as /dev-relative paths ("fuse",
	// "net/tun"); a privileged container gets them all, as with docker run --privileged.
	Devices []string
	// NoKcore says the host's kernel has no /proc/kcore (CONFIG_PROC_KCORE off): no
	// /dev/core link to it is made, as runc makes none (setupDevSymlinks).
	NoKcore bool
}

// deviceOnMount says whether the clean container path target is a mount point of the
// container's (its /dev, /dev/pts, /dev/shm, /dev/mqueue, the etc files, a user's mount), where
// a --device is not made, as with docker: runc mounts before it makes the devices, and its
// mknod, finding the mount point there (EEXIST), skips the device silently.
func deviceOnMount(spec Spec, target string) bool {
	switch target {
	case "/dev", "/dev/pts", "/dev/mqueue":
		return true
	case "/dev/shm":
		return spec.IpcMode != IPCNone // none mounts nothing there
	}
	if f, ok := strings.CutPrefix(target, "/etc/"); ok && slices.Contains(etcFiles, f) {
		return true
	}
	return slices.ContainsFunc(spec.Mounts, func(m mount.Mount) bool { return path.Clean("/"+m.Target) == target })
}

// DevicesOnMounts lists the --device nodes of spec that go at a mount point of the
// container and are not made (deviceOnMount), for a warning: docker skips them silently.
func DevicesOnMounts(spec Spec) []DeviceNode {
	var out []DeviceNode
	for _, n := range spec.DeviceNodes {
		if deviceOnMount(spec, path.Clean("/"+n.Target)) {
			out = append(out, n)
		}
	}
	return out
}

// planWith is plan on a host described by host.
func planWith(spec Spec, host hostInfo) []Step {
	const (
		nosuid = unix.MS_NOSUID
		nodev  = unix.MS_NODEV
		noexec = unix.MS_NOEXEC
	)
	var steps []Step
	for i := range spec.Root {
		target := path.Clean("/" + spec.Root[i].Target)
		steps = append(steps, Step{Op: OpRoot, Target: target, Mount: &spec.Root[i]})
	}
	sysFlags := uintptr(nosuid | noexec | nodev | unix.MS_RDONLY)
	if spec.Privileged {
		sysFlags &^= unix.MS_RDONLY
	}
	// User mounts go on top of the defaults, parents before children (docker sorts by depth),
	// so "-v /a:/x -v /b:/x/y" works whatever the flag order.
	user := slices.Clone(spec.Mounts)
	slices.SortStableFunc(user, func(a, b mount.Mount) int {
		return depth(a.Target) - depth(b.Target)
	})
	// A filesystem the user mounts at /dev (--tmpfs /dev) takes the place of strata's tmpfs
	// and gets the standard nodes, pts, shm and mqueue on top, where runc too makes its
	// devices after the mounts; it is not nodev (--tmpfs's default), or none of them would
	// open. A bind there (-v, a VOLUME) is kept as it is, as runc does
	// (libcontainer/rootfs_linux.go needsSetupDev): it may be the host's own /dev, where
	// nodes and links must not be made; the defaults go beneath it, unseen. A volume, the
	// container's own dir, gets a null device at /dev/null (OpNull), which the init needs.
	dev := Step{Op: OpMount, Target: "/dev", FSType: "tmpfs", Source: "tmpfs", Flags: nosuid | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"}
	// A read-only tmpfs of the user's is mounted writable, and made read-only once all is
	// made in it (its nodes, the mount points of the mounts beneath it), as runc does
	// (finalizeRootfs): read-only at once, --tmpfs /dev:ro and --tmpfs /x:ro -v /h:/x/sub
	// failed at the first mkdir in it.
	var readOnlyTmpfs []string
	deferReadOnly := func(s Step) Step {
		if s.Op == OpMount && s.FSType == "tmpfs" && s.Flags&unix.MS_RDONLY != 0 {
			s.Flags &^= unix.MS_RDONLY
			readOnlyTmpfs = append(readOnlyTmpfs, s.Target)
		}
		return s
	}
	if i := slices.IndexFunc(user, func(m mount.Mount) bool {
		return path.Clean("/"+m.Target) == "/dev" && m.Type != "bind" && m.Type != TypeVolume
	}); i >= 0 {
		dev = deferReadOnly(userMountStep(user[i]))
		dev.Flags &^= unix.MS_NODEV
		user = slices.Delete(user, i, i+1)
	}
	// The masks bind /dev/null after the pivot, and the init opens it as the command's stdin
	// without -i; if a user mount hides the one made here, both use a descriptor opened
	// before (runc's masks bind from /dev/null by path and skip it when it is missing,
	// leaving the paths unmasked).
	devVolume := slices.ContainsFunc(user, func(m mount.Mount) bool {
		return path.Clean("/"+m.Target) == "/dev" && m.Type == TypeVolume
	})
	hidesNull := devVolume || slices.ContainsFunc(user, func(m mount.Mount) bool {
		t := path.Clean("/" + m.Target)
		return t == "/dev" || t == "/dev/null"
	})
	steps = append(steps,
		Step{Op: OpMount, Target: "/proc", FSType: "proc", Source: "proc", Flags: nosuid | noexec | nodev},
		dev,
		Step{Op: OpMount, Target: "/dev/pts", FSType: "devpts", Source: "devpts", Flags: nosuid | noexec, Data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
	)
	shmPropagation := uintptr(0) // as the user's binds get it below
	if rootPropagation(spec) != rprivate {
		shmPropagation = rprivate
	}
	steps = append(steps, shmSteps(spec, nosuid|noexec|nodev, shmPropagation)...)
	steps = append(steps,
		Step{Op: OpMount, Target: "/dev/mqueue", FSType: "mqueue", Source: "mqueue", Flags: nosuid | noexec | nodev},
		Step{Op: OpMount, Target: "/sys", FSType: "sysfs", Source: "sysfs", Flags: sysFlags},
	)
	// The cgroup filesystems go last, after the pivot, so that all the rest is done before
	// the init waits to join its cgroup; unless the user mounts something on /sys or the
	// cgroup tree, which must then lie on top of them, as it does with docker.
	cgroupfs := append([]Step{{Op: OpJoin}}, cgroupSteps(host.Cgroups, host.CgroupLinks, spec.Privileged)...)
	late := !slices.ContainsFunc(spec.Mounts, func(m mount.Mount) bool { return coversCgroupfs(m.Target) })
	if !late {
		steps = append(steps, cgroupfs...)
	}
	devices := hostDevices
	if spec.Privileged {
		devices = slices.Clone(hostDevices)
		for _, d := range host.Devices {
			// A --device at the same path takes its place, as the user asked.
			if !slices.Contains(devices, d) && !slices.ContainsFunc(spec.DeviceNodes, func(n DeviceNode) bool { return path.Clean("/"+n.Target) == "/dev/"+d }) {
				devices = append(devices, d)
			}
		}
	}
	// A --device at a standard device's path takes its place, as with docker: runc's
	// default devices and the spec's are one list, a spec device replacing the default of
	// its path (libcontainer/specconv createDevices). The null device is made and kept
	// first all the same (OpKeepNull): the masks and the command's stdin without -i use it,
	// never the user's device, which replaces the node (userDevice).
	userDev := func(p string) bool {
		return slices.ContainsFunc(spec.DeviceNodes, func(n DeviceNode) bool { return path.Clean("/"+n.Target) == p })
	}
	for _, d := range devices {
		switch t := "/dev/" + d; {
		case d == "null" && userDev(t):
			steps = append(steps, Step{Op: OpDevice, Source: t, Target: t}, Step{Op: OpKeepNull, Target: t})
		case !userDev(t):
			steps = append(steps, Step{Op: OpDevice, Source: t, Target: t})
		}
	}
	for _, n := range spec.DeviceNodes {
		if t := path.Clean("/" + n.Target); !deviceOnMount(spec, t) {
			steps = append(steps, Step{Op: OpUserDevice, Source: n.Source, Target: t})
		}
	}
	// The standard links go where nothing of the user's goes: runc makes them after the
	// mounts and the devices and leaves what is there already (setupDevSymlinks ignores
	// EEXIST), so a --device or a mount at /dev/stdin (or at /dev/fd/1, beneath /dev/fd) is
	// the user's, where the link replaced it (or failed on the dir made for it). /dev/ptmx
	// is always the link: runc makes no --device there and replaces what is there
	// (setupPtmx).
	userAt := func(link string) bool {
		at := func(t string) bool {
			t = path.Clean("/" + t)
			return t == link || strings.HasPrefix(t, link+"/")
		}
		return slices.ContainsFunc(spec.DeviceNodes, func(n DeviceNode) bool { return at(n.Target) }) ||
			slices.ContainsFunc(user, func(m mount.Mount) bool { return at(m.Target) })
	}
	for _, l := range [][2]string{
		{"pts/ptmx", "/dev/ptmx"}, {"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"}, {"/proc/kcore", "/dev/core"},
	} {
		if l[1] != "/dev/ptmx" && userAt(l[1]) || l[1] == "/dev/core" && host.NoKcore {
			continue
		}
		steps = append(steps, Step{Op: OpSymlink, Source: l[0], Target: l[1]})
	}

	if hidesNull {
		steps = append(steps, Step{Op: OpKeepNull, Target: "/dev/null"})
	}

	// Under a slave root (rootPropagation) a bind of a host path is the host's slave: one
	// that asks for no propagation is made rprivate, docker's default, as before.
	private := uintptr(0)
	if rootPropagation(spec) != rprivate {
		private = rprivate
	}
	covered := map[string]bool{}
	for _, m := range user {
		covered[path.Clean(m.Target)] = true
		step := deferReadOnly(userMountStep(m))
		if step.Op == OpBind && step.Propagation == 0 {
			step.Propagation = private
		}
		steps = append(steps, step)
		if devVolume && m.Type == TypeVolume && path.Clean("/"+m.Target) == "/dev" {
			steps = append(steps, Step{Op: OpNull, Target: "/dev/null"})
		}
	}
	for _, f := range etcFiles {
		if !covered["/etc/"+f] {
			steps = append(steps, Step{Op: OpBind, Source: path.Join(spec.Dir, f), Target: "/etc/" + f, Propagation: private})
		}
	}
	steps = append(steps, Step{Op: OpPivot, Target: "/"})
	// In the container's namespaces, before /proc/sys is made read-only (runc's order).
	if len(spec.Sysctls) > 0 {
		steps = append(steps, sysctlSteps(spec.Sysctls)...)
	}
	if !spec.Privileged {
		for _, p := range maskedPaths {
			steps = append(steps, Step{Op: OpMask, Target: p})
		}
		for _, p := range readonlyPaths {
			steps = append(steps, Step{Op: OpReadOnly, Target: p})
		}
	}
	// The working directory is made where runc makes it, once the filesystems are mounted
	// and before the root is made read-only (docker makes it in the image's layer first).
	// One in the cgroup tree waits for the cgroup filesystems: made before them, it was
	// made (or not found) in sysfs, beneath them.
	// One the image's symlinks lead there (WORKDIR /cg, /cg -> /sys/fs/cgroup/memory) is
	// known only once they are read: the init leaves it to a second step after them.
	cwd := Step{Op: OpMkdir, Target: spec.withDefaults().Cwd}
	cwdLate := late && coversCgroupfs(cwd.Target)
	leaves := late && len(cgroupfs) > 1 // the join, and cgroup filesystems to leave it to
	if !cwdLate {
		early := cwd
		if leaves {
			early.Data = mkdirCgroupfsLater
		}
		steps = append(steps, early)
	}
	for _, t := range readOnlyTmpfs {
		steps = append(steps, Step{Op: OpReadOnly, Target: t, Data: readOnlyMount})
	}
	if spec.ReadOnly {
		steps = append(steps, Step{Op: OpReadOnly, Target: "/"})
	}
	if late {
		steps = append(steps, cgroupfs...)
	}
	if cwdLate {
		steps = append(steps, cwd)
	} else if leaves {
		cwd.Data = mkdirIfLeft
		steps = append(steps, cwd)
	}
	return steps
}

// readOnlyMount is the Data of an OpReadOnly that makes the tmpfs the user mounted at its
// Target read-only, that mount alone (not the mounts beneath it).
const readOnlyMount = "mount"

// The Data of an OpMkdir that may leave its working directory to a later one: one the
// image's symlinks lead into the cgroup tree, before the cgroup filesystems are mounted, is
// made by the step of mkdirIfLeft after them (a step that makes nothing else).
const (
	mkdirCgroupfsLater = "cgroupfs-later"
	mkdirIfLeft        = "if-left"
)

// rprivate is docker's default propagation of a bind, and strata's of the init's copy of the
// host's mounts.
const rprivate = unix.MS_PRIVATE | unix.MS_REC

// rootPropagation is the propagation the init gives its copy of the host's mounts before it
// builds the container: rprivate, unless a bind asks for slave or shared propagation (-v
// /src:/dst:rslave, --mount bind-propagation=slave, ...), and then rslave, as runc makes it:
// such a bind, of a host path on a shared mount, then stays the host's slave, and what the
// host mounts under its source shows in the container (made rprivate first, the copy was
// nobody's slave, and the option did nothing). Neither lets a mount the container makes reach
// the host; a shared bind's peers are the container's own.
func rootPropagation(spec Spec) uintptr {
	for _, m := range spec.Mounts {
		if m.Type != "bind" {
			continue
		}
		if userMountStep(m).Propagation&(unix.MS_SLAVE|unix.MS_SHARED) != 0 {
			return unix.MS_SLAVE | unix.MS_REC
		}
	}
	return rprivate
}

// coversCgroupfs says whether a mount at target would hide or hold the cgroup filesystems:
// /sys, /sys/fs, /sys/fs/cgroup or anything under it.
func coversCgroupfs(target string) bool {
	t := path.Clean("/" + target)
	return t == "/sys" || t == "/sys/fs" || t == cgroupfsRoot || strings.HasPrefix(t, cgroupfsRoot+"/")
}

// depth counts a path's components: "/" is 0, "/a/b" is 2.
func depth(p string) int {
	p = path.Clean("/" + p)
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// userMountStep turns one -v/--mount/--tmpfs mount, or an image VOLUME's volume, into a step.
func userMountStep(m mount.Mount) Step {
	var flags, propagation uintptr
	var data []string
	create := false
	for _, o := range m.Options {
		switch o {
		case "ro":
			flags |= unix.MS_RDONLY
		case "rw":
			flags &^= unix.MS_RDONLY
		case "nosuid":
			flags |= unix.MS_NOSUID
		case "nodev":
			flags |= unix.MS_NODEV
		case "noexec":
			flags |= unix.MS_NOEXEC
		case "exec":
			flags &^= unix.MS_NOEXEC
		case "suid":
			flags &^= unix.MS_NOSUID
		case "dev":
			flags &^= unix.MS_NODEV
		case "bind", "rbind":
		case "private":
			propagation = unix.MS_PRIVATE
		case "rprivate":
			propagation = unix.MS_PRIVATE | unix.MS_REC
		case "shared":
			propagation = unix.MS_SHARED
		case "rshared":
			propagation = unix.MS_SHARED | unix.MS_REC
		case "slave":
			propagation = unix.MS_SLAVE
		case "rslave":
			propagation = unix.MS_SLAVE | unix.MS_REC
		case "unbindable":
			propagation = unix.MS_UNBINDABLE
		case "runbindable":
			propagation = unix.MS_UNBINDABLE | unix.MS_REC
		// The access-time flags are the mount's, not the filesystem's: given to tmpfs as
		// data, the kernel would refuse them.
		case "atime":
			flags &^= unix.MS_NOATIME
		case "noatime":
			flags |= unix.MS_NOATIME
		case "diratime":
			flags &^= unix.MS_NODIRATIME
		case "nodiratime":
			flags |= unix.MS_NODIRATIME
		case "relatime":
			flags = flags&^unix.MS_STRICTATIME | unix.MS_RELATIME
		case "norelatime":
			flags &^= unix.MS_RELATIME
		case "strictatime":
			flags = flags&^unix.MS_RELATIME | unix.MS_STRICTATIME
		case "nostrictatime":
			flags &^= unix.MS_STRICTATIME
		case optCreate:
			create = true
		default:
			data = append(data, o)
		}
	}
	if m.Type == "bind" || m.Type == TypeVolume {
		// An anonymous volume is a directory of the container dir, bound as -v binds one.
		return Step{Op: OpBind, Source: m.Source, Target: path.Clean(m.Target), Flags: flags, Propagation: propagation, Create: create}
	}
	src := m.Source
	if src == "" {
		src = m.Type
	}
	return Step{Op: OpMount, Source: src, Target: path.Clean(m.Target), FSType: m.Type, Flags: flags, Data: strings.Join(data, ",")}
}

// tmpfsSize is a tmpfs size= option for n bytes: in KiB when it is whole ones, as the
// default's 65536k reads, else in bytes (the kernel rounds it up to whole pages).
func tmpfsSize(n int64) string {
	if n%1024 == 0 {
		return strconv.FormatInt(n>>10, 10) + "k"
	}
	return strconv.FormatInt(n, 10)
}

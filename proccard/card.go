package proccard

import (
	"github.com/strata-run/strata/runner/cgroups"
)

// Card is the process card of one container, as the host sees it. Field names are
// Docker-style CamelCase so `strata inspect --format '{{.Process.Namespaces}}'` reads well.
type Card struct {
	// Pid is the host PID of the container's PID 1.
	Pid int `json:"Pid"`
	// NSpid are the process's PIDs from the host's pid namespace inwards (NSpid in
	// /proc/<pid>/status): [host PID, PID in the container].
	NSpid []int `json:"NSpid"`
	// Command is /proc/<pid>/cmdline.
	Command []string `json:"Command"`
	// User is the process's real uid and gid.
	UID int `json:"Uid"`
	GID int `json:"Gid"`
	// Security are the process's capabilities, no_new_privs and seccomp mode.
	Security Security `json:"Security"`
	// Parents is the chain of parent processes, nearest first, ending at the host's PID 1.
	Parents []Process `json:"Parents"`
	// HostRef says what "the host" is for Namespace.Shared: "pid 1", or "strata" when PID 1's
	// namespaces cannot be read (a VM whose init hides them).
	HostRef string `json:"HostRef"`
	// Namespaces are mnt, uts, ipc, pid, net, cgroup, user and time, in lsns order.
	Namespaces []Namespace `json:"Namespaces"`
	// TimeOffsets are the clock offsets of the process's time namespace when it has its own
	// (/proc/<pid>/timens_offsets), else nil.
	TimeOffsets *TimeOffsets `json:"TimeOffsets,omitempty"`
	// Cgroup is the process's cgroup; nil when Options.Cgroup is nil.
	Cgroup *Cgroup `json:"Cgroup,omitempty"`
	// RootFS is the container's root filesystem; nil when Options.Root is empty.
	RootFS *RootFS `json:"RootFS,omitempty"`
}

// Process is one process as /proc shows it.
type Process struct {
	Pid  int    `json:"Pid"`
	PPid int    `json:"PPid"`
	Comm string `json:"Comm"`
	// State is the kernel's one-letter state, as ps shows it: R, S, D, T, Z (a zombie, exited
	// and not yet reaped), …
	State string `json:"State,omitempty"`
	// Command is the full command line; empty for kernel threads.
	Command []string `json:"Command,omitempty"`
	// NSpid is the process's PID in each pid namespace, the host's first.
	NSpid []int `json:"NSpid,omitempty"`
	// ContainerPid is the process's PID in the container's pid namespace, what the
	// container's own ps shows; set by Processes only (a process in a pid namespace nested in
	// the container's has more NSpid entries after it).
	ContainerPid int `json:"ContainerPid,omitempty"`
	// UID is the real uid; User its name from the host's /etc/passwd, when it has one.
	UID  int    `json:"Uid"`
	User string `json:"User,omitempty"`
}

// Namespace is one of the process's namespaces.
type Namespace struct {
	// Type is the /proc/<pid>/ns name: mnt, uts, ipc, pid, net, cgroup, user, time.
	Type string `json:"Type"`
	// Inode is the namespace's inode number, what lsns prints in its NS column.
	Inode uint64 `json:"Inode"`
	// Link is the symlink's target, "net:[4026532281]".
	Link string `json:"Link"`
	// Shared reports whether the host (see Card.HostRef) is in the same namespace.
	Shared bool `json:"Shared"`
}

// Cgroup is the process's cgroup: membership from /proc, limits and usage from cgroupfs.
type Cgroup struct {
	// Mode is the host's cgroup layout: v1, v2 or hybrid.
	Mode string `json:"Mode"`
	// Dir is the cgroup directory users look at first (v2, or v1's memory controller).
	Dir string `json:"Dir"`
	// Lines are /proc/<pid>/cgroup, "hierarchy-ID:controllers:path".
	Lines []string `json:"Lines"`
	// Files are the cgroupfs files the limits and usage come from, for `cat`.
	Files []string `json:"Files"`
	// Limits are read back from the kernel; 0 is no limit.
	Limits cgroups.Resources `json:"Limits"`
	// Usage is the current usage.
	Usage cgroups.Stats `json:"Usage"`
}

// RootFS is the container's root filesystem mount.
type RootFS struct {
	// Type is the mount type: overlay, or bind for a single read-only layer or vfs.
	Type string `json:"Type"`
	// Lowers are the overlay's lowerdirs, top layer first, as overlay lists them.
	Lowers []Layer `json:"Lowers"`
	// Upper and Work are the overlay's upperdir and workdir; empty for a read-only root.
	Upper string `json:"Upper,omitempty"`
	Work  string `json:"Work,omitempty"`
	// UpperSize is the bytes the container has written (the upperdir's files).
	UpperSize int64 `json:"UpperSize"`
	// UpperSizePartial: counting stopped at sizeBudget, UpperSize is what was counted by then.
	UpperSizePartial bool `json:"UpperSizePartial,omitempty"`
}

// Layer is one lowerdir and the image layer it holds.
type Layer struct {
	// Dir is the layer dir, <root>/snapshots/<hex of DiffID>.
	Dir string `json:"Dir"`
	// DiffID is the digest of the uncompressed layer tar, from the dir's name.
	DiffID string `json:"DiffID,omitempty"`
	// Digest and Size are the compressed blob's digest and size from the image manifest;
	// empty when the image is no longer in the store.
	Digest string `json:"Digest,omitempty"`
	Size   int64  `json:"Size,omitempty"`
	// DiskSize is the bytes of the unpacked files in Dir.
	DiskSize int64 `json:"DiskSize"`
	// DiskSizePartial: counting stopped at sizeBudget, DiskSize is what was counted by then.
	DiskSizePartial bool `json:"DiskSizePartial,omitempty"`
}

// Blob is an image layer as the image store knows it, keyed by DiffID in Options.Layers.
type Blob struct {
	Digest string
	Size   int64
}

// TimeOffsets are a time namespace's clock offsets, in seconds.
type TimeOffsets struct {
	Monotonic float64 `json:"Monotonic"`
	Boottime  float64 `json:"Boottime"`
}

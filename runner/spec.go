package runner

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/strata-run/strata/internal/quote"
	"github.com/strata-run/strata/mount"
	"github.com/strata-run/strata/runner/cgroups"
	"github.com/strata-run/strata/runner/seccomp"
)

// Network modes for Spec.Network.
const (
	// NetworkNone gives the container a fresh network namespace with only lo, brought up.
	NetworkNone = "none"
	// NetworkHost shares the host's network namespace.
	NetworkHost = "host"
)

// Seccomp modes for Spec.Seccomp; any other value is a profile's JSON.
const (
	// SeccompDefault applies Docker's default profile (runner/seccomp.Default).
	SeccompDefault = ""
	// SeccompUnconfined applies no filter (--security-opt seccomp=unconfined).
	SeccompUnconfined = "unconfined"
)

// Spec is everything needed to run one container, as plain data. It is stored as JSON in the
// container's config.json and travels from the parent to the init in initwire.go's form.
type Spec struct {
	// ID is the container's 64-hex ID; the cgroup is named after it.
	ID string `json:"id"`
	// Dir is the container dir; the rootfs is assembled at Dir/rootfs.
	Dir string `json:"dir"`
	// Root are the mounts that make up the root filesystem, in order (Target "/" or relative).
	// For ReadOnly the init creates no mountpoints: the caller makes the missing ones first
	// (strata run does with snapshotter.AddMountpoints), and the init remounts the root
	// read-only last, as Docker does.
	Root []mount.Mount `json:"root"`
	// Mounts are the user's binds and tmpfs mounts; Targets are paths inside the container.
	Mounts []mount.Mount `json:"mounts,omitempty"`
	// Args is the command: MergeCommand of the image's entrypoint and cmd and the flags.
	Args []string `json:"args"`
	// Env is the environment, KEY=VALUE; see MergeEnv. PATH and HOSTNAME are added if absent.
	Env []string `json:"env,omitempty"`
	// Cwd is the working directory inside the container ("/" when empty); created if missing.
	Cwd string `json:"cwd,omitempty"`
	// User is "name", "uid", "name:group" or "uid:gid", resolved through the container's
	// /etc/passwd and /etc/group. Empty means root.
	User string `json:"user,omitempty"`
	// Hostname is the UTS hostname and the content of /etc/hostname; defaults to ID[:12].
	Hostname string `json:"hostname,omitempty"`
	// Domainname is the UTS NIS domain name (--domainname), set in the container's own UTS
	// namespace; none when empty.
	Domainname string `json:"domainname,omitempty"`
	// Terminal allocates a pseudo-terminal for the container's stdio (-t).
	Terminal bool `json:"terminal,omitempty"`
	// Stdin keeps stdin attached (-i); otherwise the container reads /dev/null.
	Stdin bool `json:"stdin,omitempty"`
	// ReadOnly remounts the root read-only after the mounts are in place (--read-only).
	ReadOnly bool `json:"readOnly,omitempty"`
	// Network is NetworkNone (the default when empty) or NetworkHost.
	Network string `json:"network,omitempty"`
	// Resources are the cgroup limits.
	Resources cgroups.Resources `json:"resources"`
	// CapAdd and CapDrop adjust Docker's default capability set; "ALL" is accepted in both.
	CapAdd  []string `json:"capAdd,omitempty"`
	CapDrop []string `json:"capDrop,omitempty"`
	// Privileged keeps every capability, skips seccomp, masked and read-only paths.
	Privileged bool `json:"privileged,omitempty"`
	// Seccomp is SeccompDefault, SeccompUnconfined, or the JSON of a profile in Docker's
	// shape (--security-opt seccomp=FILE: the CLI reads the file, as docker sends its
	// content in HostConfig.SecurityOpt).
	Seccomp string `json:"seccomp,omitempty"`
	// NoNewPrivileges is always set by the init unless Privileged; this field lets a caller
	// also set it for privileged containers (--security-opt no-new-privileges).
	NoNewPrivileges bool `json:"noNewPrivileges,omitempty"`
	// Init runs a small reaper as PID 1 that forwards signals to the command (--init).
	Init bool `json:"init,omitempty"`
	// ExtraHosts are "name:ip" lines added to /etc/hosts (--add-host).
	ExtraHosts []string `json:"extraHosts,omitempty"`
	// DNS replaces the host's nameservers in /etc/resolv.conf when set (--dns).
	DNS []string `json:"dns,omitempty"`
	// DNSSearch replaces the search domains (--dns-search; "." alone for none), DNSOptions
	// the options (--dns-option) of /etc/resolv.conf when set.
	DNSSearch  []string `json:"dnsSearch,omitempty"`
	DNSOptions []string `json:"dnsOptions,omitempty"`
	// Time gives the container a time namespace of its own (--ns time=new); nil shares the
	// host's. See TimeNamespace.
	Time *TimeNamespace `json:"time,omitempty"`
	// Ulimits are the resource limits the init sets before it execs the command (--ulimit);
	// the others are strata's own, as it was started with.
	Ulimits []Ulimit `json:"ulimits,omitempty"`
	// GroupAdd are the --group-add values, group names or numbers the container's processes
	// (and, as docker's, those exec runs) get as supplementary groups; see ResolveUserGroups.
	// They are resolved when a process starts, in the container's /etc/group.
	GroupAdd []string `json:"groupAdd,omitempty"`
	// ShmSize is the size in bytes of the container's /dev/shm tmpfs (--shm-size); 0 is
	// DefaultShmSize.
	ShmSize int64 `json:"shmSize,omitempty"`
	// CgroupNS is CgroupNSHost for a container that keeps the host's cgroup namespace
	// (--cgroupns host); empty, or CgroupNSPrivate, gives it one of its own.
	CgroupNS string `json:"cgroupns,omitempty"`
	// Devices are the --device values as given (inspect's HostConfig.Devices); DeviceNodes
	// the host nodes they resolved to when the container was created (ResolveDevices),
	// which the init makes, and whose cgroup rules are in Resources.Devices.
	Devices     []DeviceMapping `json:"devices,omitempty"`
	DeviceNodes []DeviceNode    `json:"deviceNodes,omitempty"`
	// DeviceCgroupRules are the --device-cgroup-rule values as given; their rules are in
	// Resources.Devices too.
	DeviceCgroupRules []string `json:"deviceCgroupRules,omitempty"`
	// Sysctls are the --sysctl values the init writes in the container's namespaces.
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// OomScoreAdj is --oom-score-adj, set by the init before it execs the command; nil
	// leaves strata's own.
	OomScoreAdj *int `json:"oomScoreAdj,omitempty"`
	// PidMode, IpcMode and UTSMode are docker's --pid, --ipc and --uts: "" for a namespace
	// of the container's own, NSHost, "container:ID" (pid, ipc), or an IPC* mode; Network
	// may be "container:ID" too. See nsshare.go.
	PidMode string `json:"pidMode,omitempty"`
	IpcMode string `json:"ipcMode,omitempty"`
	UTSMode string `json:"utsMode,omitempty"`
	// UsernsMode is docker's --userns: "" or NSHost, as given (inspect shows it); either way
	// the container is in the host's user namespace.
	UsernsMode string `json:"usernsMode,omitempty"`
}

// cgroupnsMode is the container's cgroup namespace mode as inspect shows it, docker's
// HostConfig.CgroupnsMode: "host" or "private".
func (s Spec) cgroupnsMode() string {
	if s.CgroupNS == CgroupNSHost {
		return CgroupNSHost
	}
	return CgroupNSPrivate
}

// Cgroup namespace modes for Spec.CgroupNS, docker's --cgroupns values.
const (
	// CgroupNSPrivate gives the container a cgroup namespace rooted at its own cgroup, as
	// an empty CgroupNS does: it sees its cgroup as "/" in /proc/self/cgroup, and only its
	// own cgroups under /sys/fs/cgroup.
	CgroupNSPrivate = "private"
	// CgroupNSHost keeps the host's cgroup namespace: /proc/self/cgroup shows the
	// container's cgroups by their paths on the host, and the cgroup filesystems mounted
	// at /sys/fs/cgroup (read-only unless --privileged) show the host's whole hierarchies,
	// as cgroup2's does under docker's --cgroupns host.
	CgroupNSHost = "host"
)

// ParseCgroupNS reads a --cgroupns value as docker's CLI does: host, private, or empty for
// the default, private. It returns the Spec's CgroupNS: CgroupNSHost, or "" for private.
func ParseCgroupNS(v string) (string, error) {
	switch v {
	case CgroupNSHost:
		return CgroupNSHost, nil
	case CgroupNSPrivate, "":
		return "", nil
	}
	return "", fmt.Errorf("--cgroupns: invalid CGROUP mode %s: want host or private", quote.Value(v))
}

// DefaultShmSize is the size of a container's /dev/shm when Spec.ShmSize is 0: docker's
// default (daemon config.DefaultShmSize).
const DefaultShmSize = 64 << 20

// shmSize is the size of the container's /dev/shm in bytes.
func (s Spec) shmSize() int64 {
	if s.ShmSize <= 0 {
		return DefaultShmSize
	}
	return s.ShmSize
}

// withDefaults fills in the documented defaults.
func (s Spec) withDefaults() Spec {
	if s.Network == "" {
		s.Network = NetworkNone
	}
	if s.Hostname == "" && (s.Network == NetworkHost || s.UTSMode == NSHost) {
		// As docker: a container on the host's network (or UTS namespace) is named like
		// the host.
		s.Hostname, _ = os.Hostname()
	}
	if s.Hostname == "" {
		s.Hostname = s.ID
		if len(s.Hostname) > 12 {
			s.Hostname = s.Hostname[:12]
		}
	}
	switch {
	case s.Cwd == "":
		s.Cwd = "/"
	case path.IsAbs(s.Cwd):
		// As docker (container.SetupWorkingDirectory), the working directory is cleaned
		// first: "/a/b/.." is "/a", whether b exists or not, or leads elsewhere.
		s.Cwd = path.Clean(s.Cwd)
	}
	if s.Privileged {
		// As docker: a privileged container may open every device, not only the defaults.
		s.Resources.AllDevices = true
	}
	return s
}

// seccompConfined says whether the container's processes get a seccomp filter: all but
// --privileged and seccomp=unconfined ones.
func (s Spec) seccompConfined() bool { return s.Seccomp != SeccompUnconfined && !s.Privileged }

// validate rejects a Spec the init could not run, before anything is created.
func (s Spec) validate() error {
	switch {
	case s.ID == "":
		return errors.New("spec has no container id")
	case s.Dir == "":
		return errors.New("spec has no container dir")
	case len(s.Root) == 0:
		return errors.New("spec has no root mounts")
	}
	if err := validateNSTargets(s); err != nil {
		return err
	}
	return s.validateInput()
}

// ValidateInput checks what the user chose, as creating a container with s checks it, for a
// command to refuse bad flags before it looks for the image.
func (s Spec) ValidateInput() error { return s.withDefaults().validateInput() }

// validateInput checks what the user chose (command, working directory, network, seccomp,
// capabilities, hostname, --add-host, --dns, --ulimit, --shm-size, the --pids-limit of --init), so that a bad value fails before a container is created.
func (s Spec) validateInput() error {
	if len(s.Args) == 0 {
		return ErrNoCommand
	}
	if err := validateExecStrings(s); err != nil {
		return err
	}
	if s.Cwd != "" && !path.IsAbs(s.Cwd) {
		return fmt.Errorf("the working directory %.64q is invalid, it needs to be an absolute path", s.Cwd)
	}
	if ref, isC := NSContainer(s.Network); s.Network != NetworkNone && s.Network != NetworkHost && s.Network != "" && (!isC || ref == "") {
		// Said what works instead: docker users reach for bridge and their own networks.
		return fmt.Errorf("network %s: %w: strata makes no networks; use none (only lo, the default), host, or container:NAME|ID", quote.Value(s.Network), ErrUnsupported)
	}
	if err := validateNSModes(s); err != nil {
		return err
	}
	if _, err := ParseCgroupNS(s.CgroupNS); err != nil {
		return err
	}
	if err := validateMountTargets(s.Mounts); err != nil {
		return err
	}
	if s.Terminal {
		if err := validateTerminalMounts(s.Mounts); err != nil {
			return err
		}
	}
	// The host's own name, which a container on the host's network takes, is the host's
	// business; any other is checked, a newline in it would write lines into /etc/hosts.
	if err := validateHostname(s.Hostname); err != nil {
		if host, _ := os.Hostname(); s.Network != NetworkHost && s.UTSMode != NSHost || s.Hostname != host {
			return err
		}
	}
	if err := validateDomainname(s); err != nil {
		return err
	}
	if s.Seccomp != SeccompDefault && s.Seccomp != SeccompUnconfined {
		if _, err := seccomp.Parse([]byte(s.Seccomp)); err != nil {
			return err
		}
	}
	if _, err := capabilities(s); err != nil {
		return err
	}
	if _, err := hostsFile(s.Network, s.Hostname, nil, s.ExtraHosts); err != nil {
		return err
	}
	if _, err := resolvConf(s, nil); err != nil {
		return err
	}
	for _, u := range s.Ulimits {
		if err := u.validate(); err != nil {
			return fmt.Errorf("invalid ulimit %s: %w", u.Name, err)
		}
	}
	if err := validateInitPids(s); err != nil {
		return err
	}
	if err := validateInitData(s); err != nil {
		return err
	}
	if err := validateInitNofile(s); err != nil {
		return err
	}
	if err := validateDevices(s.DeviceNodes); err != nil {
		return err
	}
	if err := validateDeviceCgroupRules(s.DeviceCgroupRules); err != nil {
		return err
	}
	for k, v := range s.Sysctls {
		if err := validateSysctl(k, v, s.Network); err != nil {
			return err
		}
		if err := hostNamespaceSysctl(k, s.IpcMode, s.UTSMode); err != nil {
			return err
		}
	}
	if err := validateOomScoreAdj(s.OomScoreAdj); err != nil {
		return err
	}
	if s.ShmSize < 0 {
		// docker's daemon refuses it in these words; its CLI, as strata's, takes no sign.
		return fmt.Errorf("invalid --shm-size %d: SHM size can not be less than 0", s.ShmSize)
	}
	return nil
}

// validateExecStrings refuses what execve or a path lookup would refuse whatever the
// container holds: a NUL byte in the command, the environment, the working directory or the
// user (they come from the image's config, which JSON lets carry one), and one argument or
// variable longer than the kernel takes (MAX_ARG_STRLEN, 32 pages). The init failed at exec
// with EINVAL or E2BIG, as 126; docker fails them as its own error, 125. A total size over what
// execve takes under any stack limit (maxExecStrings) is refused too; below that the limit
// depends on the stack limit the container's process gets, and is left to execve. A variable of
// the image's without "=" or with an empty name is refused too, as runc refuses it
// (populateProcessEnvironment); MergeEnv already resolved the flags' "NAME" form.
func validateExecStrings(s Spec) error {
	maxLen := 32 * os.Getpagesize()
	for i, a := range s.Args {
		switch {
		case strings.IndexByte(a, 0) >= 0:
			return fmt.Errorf("invalid command: argument %d %.64q contains a NUL byte", i, a)
		case len(a) >= maxLen:
			return fmt.Errorf("invalid command: argument %d %.64q… is %d bytes, over the kernel's limit of %d for one", i, a, len(a), maxLen-1)
		}
	}
	for _, kv := range s.Env {
		name, _, hasValue := strings.Cut(kv, "=")
		switch {
		case !hasValue:
			return fmt.Errorf("invalid environment variable %.64q: missing '='", name)
		case name == "":
			return fmt.Errorf("invalid environment variable %.64q: empty name", kv)
		case strings.IndexByte(kv, 0) >= 0:
			return fmt.Errorf("invalid environment variable %.64q: contains a NUL byte", name)
		case len(kv) >= maxLen:
			return fmt.Errorf("invalid environment variable %.64q: %d bytes, over the kernel's limit of %d for one", name, len(kv), maxLen-1)
		}
	}
	total := 0
	for _, a := range s.Args {
		total += envSize(a)
	}
	for _, kv := range s.Env {
		total += envSize(kv)
	}
	if total > maxExecStrings {
		return fmt.Errorf("invalid command: its arguments and environment take %d bytes, over the %d the kernel passes to a command", total, maxExecStrings)
	}
	if strings.IndexByte(s.Cwd, 0) >= 0 {
		return fmt.Errorf("the working directory %.64q is invalid: it contains a NUL byte", s.Cwd)
	}
	if strings.IndexByte(s.User, 0) >= 0 {
		return fmt.Errorf("invalid user %.64q: contains a NUL byte", s.User)
	}
	return nil
}

// procMountAllowed are the files under /proc a bind may cover, as runc allows them (lxcfs
// serves these per container); nothing else may be mounted on or inside /proc.
var procMountAllowed = map[string]bool{
	"/proc/cpuinfo": true, "/proc/diskstats": true, "/proc/meminfo": true, "/proc/stat": true,
	"/proc/swaps": true, "/proc/uptime": true, "/proc/loadavg": true, "/proc/slabinfo": true,
	"/proc/net/dev": true, "/proc/sys/kernel/ns_last_pid": true,
}

// validateMountTargets refuses, as docker and runc do, a user mount over the container's
// root, two mounts on one point (the second would silently hide the first), and one on or
// inside /proc: a bind there would replace the masked and read-only parts of the
// container's procfs (/proc/sys, /proc/kcore) with whatever its source holds.
func validateMountTargets(mounts []mount.Mount) error {
	seen := make(map[string]bool, len(mounts))
	for _, m := range mounts {
		target := path.Clean(m.Target)
		switch {
		case target == "/":
			return fmt.Errorf("invalid mount destination %s: destination can't be '/'", quote.Value(m.Target))
		case seen[target]:
			return fmt.Errorf("duplicate mount point: %s", target)
		case (target == "/proc" || strings.HasPrefix(target, "/proc/")) && !(m.Type == "bind" && procMountAllowed[target]):
			return fmt.Errorf("invalid mount destination %s: cannot be mounted because it is inside /proc", quote.Value(m.Target))
		case target == "/dev/ptmx" || strings.HasPrefix(target, "/dev/ptmx/"):
			// The link to the devpts's ptmx goes there whatever is there: runc replaces
			// it (setupPtmx) and fails on a mount ("device or resource busy"); followed, a
			// bind hid the devpts's ptmx and no pty opened.
			return fmt.Errorf("invalid mount destination %s: /dev/ptmx is the container's link to its /dev/pts/ptmx", quote.Value(m.Target))
		}
		seen[target] = true
	}
	return nil
}

// validateTerminalMounts refuses, for a container with a terminal (-t), a volume or tmpfs
// where the init makes the terminal: a volume at /dev or /dev/pts, or a tmpfs at /dev/pts,
// hides the container's devpts, whose ptmx allocates the pty (a volume is nodev, so even an
// image's own ptmx in it opens nothing), and a volume or tmpfs at /dev/console is a directory
// the pty cannot be bound on. docker creates such a container and runc then fails to start
// it ("open /dev/pts/ptmx: no such file or directory"); the init failed as obscurely.
// A tmpfs at /dev gets the container's devpts on top, and a bind is left to the init: the
// host's /dev or /dev/pts holds a working ptmx.
func validateTerminalMounts(mounts []mount.Mount) error {
	for _, m := range mounts {
		if m.Type != TypeVolume && m.Type != "tmpfs" {
			continue
		}
		kind := "volume"
		if m.Type == "tmpfs" {
			kind = "tmpfs"
		}
		switch t := path.Clean("/" + m.Target); {
		case t == "/dev" && m.Type == TypeVolume, t == "/dev/pts":
			return fmt.Errorf("cannot allocate a terminal (-t): the %s at %s hides the container's /dev/pts", kind, t)
		case t == "/dev/console":
			return fmt.Errorf("cannot allocate a terminal (-t): the %s at /dev/console makes it a directory, where the terminal is bound", kind)
		}
	}
	return nil
}

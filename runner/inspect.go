package runner

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-run/strata/mount"
)

// InspectData is a container as `strata inspect` prints it: the subset of docker's
// ContainerJSON that strata has, with docker's field names so scripts and templates that read
// `docker inspect` output (`{{.State.Pid}}`) work unchanged. Image is the image's ID, as
// docker's; Config.Image the name it was run as.
type InspectData struct {
	ID string `json:"Id"`
	// Created and the State's times are strings in RFC 3339 with nanoseconds (UTC), as
	// docker's: `{{.Created}}` prints that, not Go's time format.
	Created string       `json:"Created"`
	Path    string       `json:"Path"`
	Args    []string     `json:"Args"`
	State   InspectState `json:"State"`
	Image   string       `json:"Image"`
	// ResolvConfPath, HostnamePath and HostsPath are the files strata writes in the container
	// dir at each start and binds over the image's; "" until the container first started, as
	// docker's.
	ResolvConfPath string `json:"ResolvConfPath"`
	HostnamePath   string `json:"HostnamePath"`
	HostsPath      string `json:"HostsPath"`
	LogPath        string `json:"LogPath"`
	Name           string `json:"Name"`
	RestartCount   int    `json:"RestartCount"`
	// Driver is strata's snapshotter driver that made the root: "overlay" or "vfs".
	Driver   string `json:"Driver"`
	Platform string `json:"Platform"`
	// MountLabel, ProcessLabel and AppArmorProfile are "": strata applies no SELinux label
	// and no AppArmor profile.
	MountLabel      string             `json:"MountLabel"`
	ProcessLabel    string             `json:"ProcessLabel"`
	AppArmorProfile string             `json:"AppArmorProfile"`
	HostConfig      InspectHostConfig  `json:"HostConfig"`
	GraphDriver     InspectGraphDriver `json:"GraphDriver"`
	// SizeRw and SizeRootFs are there only when asked (inspect -s), as docker's.
	SizeRw          *int64                 `json:"SizeRw,omitempty"`
	SizeRootFs      *int64                 `json:"SizeRootFs,omitempty"`
	Mounts          []InspectMount         `json:"Mounts"`
	Config          InspectConfig          `json:"Config"`
	NetworkSettings InspectNetworkSettings `json:"NetworkSettings"`
}

// InspectGraphDriver is docker's GraphDriver: the driver and, for overlay, the dirs of the
// container's root as overlay2 names them (LowerDir top first, ":" between, as the mount's
// lowerdir option; UpperDir and WorkDir but for a --read-only root, which has neither).
// MergedDir is where the init mounts the root, inside the container's mount namespace
// only: from the host, /proc/PID/root shows it. Data is null for vfs, as docker's vfs.
type InspectGraphDriver struct {
	Data map[string]string `json:"Data"`
	Name string            `json:"Name"`
}

// InspectState is docker's State object.
type InspectState struct {
	Status     string `json:"Status"`
	Running    bool   `json:"Running"`
	Paused     bool   `json:"Paused"`
	Restarting bool   `json:"Restarting"`
	OOMKilled  bool   `json:"OOMKilled"`
	Dead       bool   `json:"Dead"`
	Pid        int    `json:"Pid"`
	ExitCode   int    `json:"ExitCode"`
	Error      string `json:"Error"`
	// StartedAt and FinishedAt are "0001-01-01T00:00:00Z" until it happened, as docker's.
	StartedAt  string `json:"StartedAt"`
	FinishedAt string `json:"FinishedAt"`
	// Health is docker's, nil (left out of the JSON) for a container without a healthcheck
	// that runs, or one that never started with it, as docker's: `{{if .State.Health}}` in a
	// wait-until-healthy script, or `{{.State.Health}}` (<nil>), must not fail on a field
	// that is not there.
	Health *Health `json:"Health,omitempty"`
}

// InspectNetworkSettings is docker's NetworkSettings: strata's containers have a network of
// their own with only lo (none) or the host's, so there is no address, gateway or port.
type InspectNetworkSettings struct {
	Bridge      string                    `json:"Bridge"`
	SandboxID   string                    `json:"SandboxID"`
	Ports       map[string]any            `json:"Ports"`
	Gateway     string                    `json:"Gateway"`
	IPAddress   string                    `json:"IPAddress"`
	IPPrefixLen int                       `json:"IPPrefixLen"`
	MacAddress  string                    `json:"MacAddress"`
	Networks    map[string]InspectNetwork `json:"Networks"`
}

// InspectNetwork is one entry of docker's NetworkSettings.Networks.
type InspectNetwork struct {
	NetworkID   string `json:"NetworkID"`
	EndpointID  string `json:"EndpointID"`
	Gateway     string `json:"Gateway"`
	IPAddress   string `json:"IPAddress"`
	IPPrefixLen int    `json:"IPPrefixLen"`
	MacAddress  string `json:"MacAddress"`
}

// InspectRestartPolicy is docker's HostConfig.RestartPolicy (--restart).
type InspectRestartPolicy struct {
	Name              string `json:"Name"`
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

// InspectLogConfig is docker's HostConfig.LogConfig: the logging driver (log.json is docker's
// json-file format) and its options.
type InspectLogConfig struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

// inspectTime is t as docker's inspect writes its times.
func inspectTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// InspectConfig is docker's Config object.
type InspectConfig struct {
	Hostname   string `json:"Hostname"`
	Domainname string `json:"Domainname"`
	User       string `json:"User"`
	// AttachStdin, AttachStdout and AttachStderr are what run and create attached (nothing
	// for run -d), as docker's CLI asks them.
	AttachStdin  bool `json:"AttachStdin"`
	AttachStdout bool `json:"AttachStdout"`
	AttachStderr bool `json:"AttachStderr"`
	// ExposedPorts are the image's EXPOSE ports the container was created with ("80/tcp"),
	// left out without any, as docker leaves it out without EXPOSE or --expose.
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Tty          bool                `json:"Tty"`
	OpenStdin    bool                `json:"OpenStdin"`
	// StdinOnce is true for -i with stdin attached: it closes when that client leaves.
	StdinOnce bool     `json:"StdinOnce"`
	Env       []string `json:"Env"`
	Cmd       []string `json:"Cmd"`
	// Healthcheck is the image's HEALTHCHECK, left out (nil) without one, as docker's.
	Healthcheck *HealthConfig `json:"Healthcheck,omitempty"`
	ArgsEscaped bool          `json:"ArgsEscaped,omitempty"`
	Image       string        `json:"Image"`
	// Volumes are the container's anonymous volumes of -v /path and the image's VOLUMEs, as
	// docker lists them (null when there is none); --mount volumes are in HostConfig.Mounts.
	Volumes map[string]struct{} `json:"Volumes"`
	// Entrypoint is null without one, as docker's.
	Entrypoint []string `json:"Entrypoint"`
	WorkingDir string   `json:"WorkingDir"`
	// NetworkDisabled and MacAddress are docker's zero values, left out as docker's: strata
	// has neither flag.
	NetworkDisabled bool   `json:"NetworkDisabled,omitempty"`
	MacAddress      string `json:"MacAddress,omitempty"`
	// OnBuild is null, as docker's for a container.
	OnBuild []string `json:"OnBuild"`
	// Labels is {} without labels, as docker's.
	Labels map[string]string `json:"Labels"`
	// StopSignal and StopTimeout are shown only when set, as docker shows them.
	StopSignal  string `json:"StopSignal,omitempty"`
	StopTimeout *int   `json:"StopTimeout,omitempty"`
	// Shell is null, left out as docker's for a container (docker does not copy the image's).
	Shell []string `json:"Shell,omitempty"`
}

// InspectHostConfig is docker's HostConfig object (moby api/types/container HostConfig and
// its Resources), in docker's field order and with its zero values: null for a list the
// docker CLI sends as nil, [] for one it sends empty (Dns, Ulimits, the devices), {} for
// PortBindings. The values are those strata applied; what strata has no flag for is docker's
// default, which is also what strata does (IpcMode "private", CgroupnsMode "private": every
// container gets its own IPC and cgroup namespace). ShmSize is in bytes, 64 MiB by default.
type InspectHostConfig struct {
	// Binds are the -v binds, "host:container[:mode]" as the user wrote them (the host path
	// made absolute); null without one, as docker's.
	Binds           []string             `json:"Binds"`
	ContainerIDFile string               `json:"ContainerIDFile"`
	LogConfig       InspectLogConfig     `json:"LogConfig"`
	NetworkMode     string               `json:"NetworkMode"`
	PortBindings    map[string]any       `json:"PortBindings"`
	RestartPolicy   InspectRestartPolicy `json:"RestartPolicy"`
	AutoRemove      bool                 `json:"AutoRemove"`
	VolumeDriver    string               `json:"VolumeDriver"`
	VolumesFrom     []string             `json:"VolumesFrom"`
	ConsoleSize     [2]uint              `json:"ConsoleSize"`
	CapAdd          []string             `json:"CapAdd"`
	CapDrop         []string             `json:"CapDrop"`
	CgroupnsMode    string               `json:"CgroupnsMode"`
	DNS             []string             `json:"Dns"`
	DNSOptions      []string             `json:"DnsOptions"`
	DNSSearch       []string             `json:"DnsSearch"`
	ExtraHosts      []string             `json:"ExtraHosts"`
	GroupAdd        []string             `json:"GroupAdd"`
	IpcMode         string               `json:"IpcMode"`
	Cgroup          string               `json:"Cgroup"`
	Links           []string             `json:"Links"`
	OomScoreAdj     int                  `json:"OomScoreAdj"`
	PidMode         string               `json:"PidMode"`
	Privileged      bool                 `json:"Privileged"`
	PublishAllPorts bool                 `json:"PublishAllPorts"`
	ReadonlyRootfs  bool                 `json:"ReadonlyRootfs"`
	SecurityOpt     []string             `json:"SecurityOpt"`
	// Tmpfs maps each tmpfs mount's target to the options the user gave (sizes in bytes),
	// as docker's --tmpfs; it is left out when there is none, as docker's. strata's record
	// does not tell a --mount type=tmpfs from a --tmpfs, so both are listed here.
	Tmpfs      map[string]string `json:"Tmpfs,omitempty"`
	UTSMode    string            `json:"UTSMode"`
	UsernsMode string            `json:"UsernsMode"`
	ShmSize    int64             `json:"ShmSize"`
	// Sysctls are the --sysctl values, left out without one, as docker's.
	Sysctls   map[string]string `json:"Sysctls,omitempty"`
	Isolation string            `json:"Isolation"`

	CPUShares            uint64                  `json:"CpuShares"`
	Memory               int64                   `json:"Memory"`
	NanoCPUs             int64                   `json:"NanoCpus"`
	CgroupParent         string                  `json:"CgroupParent"`
	BlkioWeight          uint16                  `json:"BlkioWeight"`
	BlkioWeightDevice    []InspectWeightDevice   `json:"BlkioWeightDevice"`
	BlkioDeviceReadBps   []InspectThrottleDevice `json:"BlkioDeviceReadBps"`
	BlkioDeviceWriteBps  []InspectThrottleDevice `json:"BlkioDeviceWriteBps"`
	BlkioDeviceReadIOps  []InspectThrottleDevice `json:"BlkioDeviceReadIOps"`
	BlkioDeviceWriteIOps []InspectThrottleDevice `json:"BlkioDeviceWriteIOps"`
	CPUPeriod            int64                   `json:"CpuPeriod"`
	CPUQuota             int64                   `json:"CpuQuota"`
	CPURealtimePeriod    int64                   `json:"CpuRealtimePeriod"`
	CPURealtimeRuntime   int64                   `json:"CpuRealtimeRuntime"`
	CpusetCpus           string                  `json:"CpusetCpus"`
	CpusetMems           string                  `json:"CpusetMems"`
	Devices              []InspectDeviceMapping  `json:"Devices"`
	DeviceCgroupRules    []string                `json:"DeviceCgroupRules"`
	DeviceRequests       []any                   `json:"DeviceRequests"`
	MemoryReservation    int64                   `json:"MemoryReservation"`
	// MemorySwap is twice Memory when only --memory was given, as docker fills it in (and
	// strata applies it where the host accounts swap).
	MemorySwap       int64  `json:"MemorySwap"`
	MemorySwappiness *int64 `json:"MemorySwappiness"`
	OomKillDisable   *bool  `json:"OomKillDisable"`
	// PidsLimit is null without a limit, as docker's.
	PidsLimit *int64 `json:"PidsLimit"`
	// Ulimits is [] without --ulimit, as docker run's containers show it.
	Ulimits            []Ulimit `json:"Ulimits"`
	CPUCount           int64    `json:"CpuCount"`
	CPUPercent         int64    `json:"CpuPercent"`
	IOMaximumIOps      uint64   `json:"IOMaximumIOps"`
	IOMaximumBandwidth uint64   `json:"IOMaximumBandwidth"`

	// Mounts are the --mount binds and volumes as docker's mount.Mount; left out when there
	// is none, as docker's.
	Mounts []InspectHostMount `json:"Mounts,omitempty"`
	// MaskedPaths and ReadonlyPaths are the /proc and /sys paths the init masks or makes
	// read-only; null for a privileged container, which gets neither.
	MaskedPaths   []string `json:"MaskedPaths"`
	ReadonlyPaths []string `json:"ReadonlyPaths"`
	// Init is true with --init and left out otherwise, as docker's (the CLI sends it only
	// when the flag is given).
	Init *bool `json:"Init,omitempty"`
}

// InspectWeightDevice, InspectThrottleDevice and InspectDeviceMapping are the element types of
// docker's device lists; strata fills only Devices (--device), the others are always empty.
type (
	InspectWeightDevice struct {
		Path   string `json:"Path"`
		Weight uint16 `json:"Weight"`
	}
	InspectThrottleDevice struct {
		Path string `json:"Path"`
		Rate uint64 `json:"Rate"`
	}
	InspectDeviceMapping struct {
		PathOnHost        string `json:"PathOnHost"`
		PathInContainer   string `json:"PathInContainer"`
		CgroupPermissions string `json:"CgroupPermissions"`
	}
)

// InspectHostMount is one --mount in HostConfig.Mounts, as docker's mount.Mount shows what the
// CLI sent: a volume without its Source (strata places it; Mounts shows where), BindOptions
// only when a propagation was asked.
type InspectHostMount struct {
	Type          string                `json:"Type,omitempty"`
	Source        string                `json:"Source,omitempty"`
	Target        string                `json:"Target,omitempty"`
	ReadOnly      bool                  `json:"ReadOnly,omitempty"`
	BindOptions   *InspectBindOptions   `json:"BindOptions,omitempty"`
	VolumeOptions *InspectVolumeOptions `json:"VolumeOptions,omitempty"`
}

// InspectBindOptions is docker's mount.BindOptions.
type InspectBindOptions struct {
	Propagation string `json:"Propagation,omitempty"`
}

// InspectMount is one entry of docker's Mounts list, in the shape of its MountPoint (moby
// api/types/container): Name and Driver only for volumes, Mode as the user wrote a -v's
// options ("ro,z"; "" for --mount binds and anonymous volumes, "z" for --mount volumes),
// Propagation for binds only ("rprivate" unless asked otherwise). A tmpfs has no Source.
type InspectMount struct {
	Type        string `json:"Type,omitempty"`
	Name        string `json:"Name,omitempty"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	Driver      string `json:"Driver,omitempty"`
	Mode        string `json:"Mode"`
	RW          bool   `json:"RW"`
	Propagation string `json:"Propagation"`
}

// Inspect returns c as docker inspect shows a container.
func Inspect(c *Container) InspectData {
	spec := c.Config.Spec
	st := c.State
	// Apart as docker shows them; a record that says more than it has (hand-edited, or from
	// before strata kept the count) shows all as the command.
	entrypoint, cmd := []string(nil), spec.Args
	if n := c.Config.EntrypointArgs; n > 0 && n <= len(spec.Args) {
		entrypoint, cmd = spec.Args[:n], spec.Args[n:]
		if len(cmd) == 0 {
			cmd = nil
		}
	}
	d := InspectData{
		ID:       c.ID,
		Created:  inspectTime(c.Config.Created),
		Image:    c.Config.ImageID,
		Name:     "/" + c.Config.Name,
		LogPath:  inspectLogPath(c),
		Platform: "linux",
		State: InspectState{
			// c.State is effective(): "running" is a live container or one whose monitor is
			// recording its exit, as ps shows both.
			Status: string(st.Status), Running: st.Status == StatusRunning, Dead: st.Status == StatusDead,
			Pid: st.Pid, ExitCode: st.ExitCode, OOMKilled: st.OOMKilled, Error: st.Error,
			StartedAt: inspectTime(st.StartedAt), FinishedAt: inspectTime(st.FinishedAt),
			Health: ReadHealth(c),
		},
		Config: InspectConfig{
			Hostname: withNetworkDonor(spec.withDefaults()).Hostname, Domainname: spec.Domainname, User: spec.User, Tty: spec.Terminal,
			OpenStdin: spec.Stdin, Env: spec.Env, Image: c.Config.Image,
			Entrypoint: entrypoint, Cmd: cmd,
			WorkingDir: spec.Cwd, StopSignal: c.Config.StopSignal, StopTimeout: c.Config.StopTimeout,
			Labels: c.Config.Labels, ExposedPorts: c.Config.ExposedPorts,
			AttachStdin: c.Config.AttachStdin, AttachStdout: c.Config.AttachStdout,
			AttachStderr: c.Config.AttachStderr, StdinOnce: c.Config.StdinOnce,
			ArgsEscaped: c.Config.ArgsEscaped, Healthcheck: c.Config.Healthcheck,
		},
		HostConfig:  inspectHostConfig(c),
		GraphDriver: inspectGraphDriver(c),
	}
	d.Driver = d.GraphDriver.Name
	d.RestartCount = st.RestartCount
	switch {
	case st.Restarting:
		// Docker's restarting container is running, between two runs, without a pid.
		d.State.Status, d.State.Running, d.State.Restarting = "restarting", true, true
	case Paused(c):
		d.State.Status, d.State.Paused = "paused", true
	case st.NeverStarted():
		// As docker's: its exit code and error stay, and it never finished either.
		d.State.Status, d.State.FinishedAt = string(StatusCreated), inspectTime(time.Time{})
	}
	if d.Config.Labels == nil {
		d.Config.Labels = map[string]string{}
	}
	if d.Image == "" {
		d.Image = c.Config.Image // made before strata kept the image's ID
	}
	d.ResolvConfPath, d.HostnamePath, d.HostsPath = etcPath(c, "resolv.conf"), etcPath(c, "hostname"), etcPath(c, "hosts")
	network := spec.withDefaults().Network
	d.NetworkSettings = InspectNetworkSettings{
		Ports:    map[string]any{},
		Networks: map[string]InspectNetwork{network: {}},
	}
	if _, joined := NSContainer(network); joined {
		d.NetworkSettings.Networks = map[string]InspectNetwork{} // on another's network: {}, as docker's
	}
	if len(spec.Args) > 0 {
		d.Path, d.Args = spec.Args[0], spec.Args[1:]
	}
	d.Mounts = []InspectMount{} // [] when there is none, as docker's: jq's .Mounts[] fails on null
	for _, m := range spec.Mounts {
		d.Mounts = append(d.Mounts, inspectMount(c, m))
		_, named := NamedVolume(m)
		_, lent := VolumesFrom(m)
		if m.Type == TypeVolume && mountMode(m) != "z" && (!named || AnonymousNamed(m)) && !lent { // -v /path or the image's VOLUME
			if d.Config.Volumes == nil {
				d.Config.Volumes = map[string]struct{}{}
			}
			d.Config.Volumes[m.Target] = struct{}{}
		}
	}
	return d
}

// inspectLogPath is docker's LogPath: the json-file log's path; "" for none, which keeps no
// log, and for local, whose files docker keeps out of its API (see LogDriverLocal).
func inspectLogPath(c *Container) string {
	if c.Config.LogConfig.driver() != LogDriverJSONFile {
		return ""
	}
	return c.Dir + "/" + logFile
}

// inspectHostConfig is docker's HostConfig of c.
func inspectHostConfig(c *Container) InspectHostConfig {
	spec := c.Config.Spec
	res := spec.Resources
	h := InspectHostConfig{
		LogConfig:     c.Config.LogConfig.inspect(),
		NetworkMode:   spec.withDefaults().Network,
		PortBindings:  map[string]any{},
		RestartPolicy: InspectRestartPolicy{Name: RestartNo},
		AutoRemove:    c.Config.AutoRemove,
		ConsoleSize:   [2]uint{uint(c.Config.ConsoleSize[0]), uint(c.Config.ConsoleSize[1])},
		CapAdd:        spec.CapAdd, CapDrop: spec.CapDrop,
		CgroupnsMode: spec.cgroupnsMode(), IpcMode: spec.ipcMode(),
		PidMode: spec.PidMode, UTSMode: spec.UTSMode, UsernsMode: spec.UsernsMode,
		DNS:        append([]string{}, spec.DNS...),
		DNSOptions: append([]string{}, spec.DNSOptions...),
		DNSSearch:  append([]string{}, spec.DNSSearch...),
		ExtraHosts: spec.ExtraHosts, GroupAdd: spec.GroupAdd,
		Privileged: spec.Privileged, ReadonlyRootfs: spec.ReadOnly,
		ShmSize:   spec.shmSize(),
		CPUShares: res.CPUShares, Memory: res.Memory,
		// Rounded: 1.001 CPUs are 1001000000, not the float product's 1000999999.99...
		NanoCPUs:             int64(math.Round(res.CPUs * 1e9)),
		BlkioWeightDevice:    []InspectWeightDevice{},
		BlkioDeviceReadBps:   []InspectThrottleDevice{},
		BlkioDeviceWriteBps:  []InspectThrottleDevice{},
		BlkioDeviceReadIOps:  []InspectThrottleDevice{},
		BlkioDeviceWriteIOps: []InspectThrottleDevice{},
		CpusetCpus:           res.CpusetCpus,
		Devices:              []InspectDeviceMapping{},
		DeviceCgroupRules:    spec.DeviceCgroupRules,
		MemorySwap:           res.MemorySwap,
		Ulimits:              append([]Ulimit{}, spec.Ulimits...),
	}
	if res.Memory > 0 && res.MemorySwap == 0 {
		h.MemorySwap = 2 * res.Memory // cgroups.Resources' default, as docker's
	}
	if res.PidsLimit > 0 {
		h.PidsLimit = &res.PidsLimit
	}
	for _, d := range spec.Devices {
		h.Devices = append(h.Devices, InspectDeviceMapping(d))
	}
	if len(spec.Sysctls) > 0 {
		h.Sysctls = spec.Sysctls
	}
	if spec.OomScoreAdj != nil {
		h.OomScoreAdj = *spec.OomScoreAdj
	}
	inspectCgroupExtra(&h, res)
	if spec.Init {
		h.Init = &spec.Init
	}
	if !spec.Privileged {
		h.MaskedPaths = append([]string(nil), maskedPaths...)
		h.ReadonlyPaths = append([]string(nil), readonlyPaths...)
	}
	switch spec.Seccomp {
	case SeccompDefault:
	case SeccompUnconfined:
		h.SecurityOpt = append(h.SecurityOpt, "seccomp=unconfined")
	default: // a profile's JSON, compacted as docker's CLI sends it
		profile := []byte(spec.Seccomp)
		var b bytes.Buffer
		if json.Compact(&b, profile) == nil {
			profile = b.Bytes()
		}
		h.SecurityOpt = append(h.SecurityOpt, "seccomp="+string(profile))
	}
	if spec.NoNewPrivileges {
		h.SecurityOpt = append(h.SecurityOpt, "no-new-privileges")
	}
	for _, m := range spec.Mounts {
		if _, lent := VolumesFrom(m); lent {
			continue // HostConfig.VolumesFrom names them, as docker's
		}
		mode := mountMode(m)
		if name, ok := NamedVolume(m); ok && !AnonymousNamed(m) {
			inspectNamedVolume(&h, m, name)
			continue
		}
		switch {
		case m.Type == "bind" && slices.Contains(m.Options, optCreate): // -v
			b := m.Source + ":" + m.Target
			if mode != "" {
				b += ":" + mode
			}
			h.Binds = append(h.Binds, b)
		case m.Type == "bind": // --mount
			hm := InspectHostMount{Type: "bind", Source: m.Source, Target: m.Target, ReadOnly: slices.Contains(m.Options, "ro")}
			for _, o := range m.Options {
				if propagations[o] {
					hm.BindOptions = &InspectBindOptions{Propagation: o}
				}
			}
			h.Mounts = append(h.Mounts, hm)
		case m.Type == TypeVolume && mode == "z": // --mount type=volume
			h.Mounts = append(h.Mounts, InspectHostMount{Type: TypeVolume, Target: m.Target, ReadOnly: slices.Contains(m.Options, "ro")})
		case m.Type == "tmpfs":
			if h.Tmpfs == nil {
				h.Tmpfs = map[string]string{}
			}
			h.Tmpfs[m.Target] = strings.Join(tmpfsUserOptions(m), ",")
		}
	}
	if p := c.Config.RestartPolicy; p.Restarts() {
		h.RestartPolicy = InspectRestartPolicy(p)
	}
	h.VolumesFrom = c.Config.VolumesFrom
	return h
}

// propagations are the mount options that set a bind's propagation.
var propagations = map[string]bool{"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true}

// mountMode is the mode a -v or --mount volume recorded (optModePrefix), "" without one.
func mountMode(m mount.Mount) string {
	for _, o := range m.Options {
		if mode, ok := strings.CutPrefix(o, optModePrefix); ok {
			return mode
		}
	}
	return ""
}

// tmpfsUserOptions are the options of tmpfs mount m after the defaults tmpfsMount starts with:
// those the user gave, as the init applies them.
func tmpfsUserOptions(m mount.Mount) []string {
	opts := m.Options
	if defaults := tmpfsMount("").Options; len(opts) >= len(defaults) && slices.Equal(opts[:len(defaults)], defaults) {
		opts = opts[len(defaults):]
	}
	return opts
}

// lowerdirEscaper escapes a layer dir as the lowerdir option lists it (overlayfs reads "\:"
// as a colon in a path).
var lowerdirEscaper = strings.NewReplacer(`\`, `\\`, `:`, `\:`)

// inspectGraphDriver is docker's GraphDriver of c, from the mount that makes its root.
func inspectGraphDriver(c *Container) InspectGraphDriver {
	dir := c.Config.Spec.Dir
	if dir == "" {
		dir = c.Dir
	}
	for _, m := range c.Config.Spec.Root {
		if m.Type != "overlay" {
			continue
		}
		lowers, upper, work := m.OverlayDirs()
		for i, l := range lowers {
			lowers[i] = lowerdirEscaper.Replace(l)
		}
		data := map[string]string{
			"LowerDir":  strings.Join(lowers, ":"),
			"MergedDir": filepath.Join(dir, "rootfs"),
		}
		if upper != "" {
			data["UpperDir"] = upper
		}
		if work != "" {
			data["WorkDir"] = work
		}
		return InspectGraphDriver{Name: "overlay", Data: data}
	}
	return InspectGraphDriver{Name: "vfs"}
}

// etcPath is the path of c's etc file name (one of etcFiles) once strata wrote it, at the
// container's first start; "" before, as docker's.
func etcPath(c *Container, name string) string {
	if c.notDir || c.Dir == "" {
		return ""
	}
	p := filepath.Join(c.Dir, name)
	if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	return p
}

// inspectMount is m as docker inspect lists a mount point.
func inspectMount(c *Container, m mount.Mount) InspectMount {
	im := InspectMount{Type: m.Type, Source: m.Source, Destination: m.Target, RW: true}
	for _, o := range m.Options {
		switch o {
		case "ro":
			im.RW = false
		case "rw":
			im.RW = true
		case "private", "rprivate", "shared", "rshared", "slave", "rslave":
			im.Propagation = o
		default:
			if mode, ok := strings.CutPrefix(o, optModePrefix); ok {
				im.Mode = mode
			}
		}
	}
	switch m.Type {
	case "bind":
		if im.Propagation == "" {
			im.Propagation = "rprivate" // the init made / rprivate before it binds anything
		}
	case TypeVolume:
		im.Name = MountVolumeName(c.ID, m)
		im.Driver = "local"
		im.Propagation = ""
	case "tmpfs":
		im.Source = ""
	}
	return im
}

// ExposedPorts is an image config's ExposedPorts as a container records them, each key as
// docker writes it, "PORT/PROTO" ("80" is "80/tcp", the protocol in lower case); nil for
// none. A key that is no port or range of ports is left out.
func ExposedPorts(image map[string]struct{}) map[string]struct{} {
	var out map[string]struct{}
	for k := range image {
		port, proto, ok := strings.Cut(k, "/")
		if !ok || proto == "" {
			proto = "tcp"
		}
		if !validPorts(port) {
			continue
		}
		if out == nil {
			out = map[string]struct{}{}
		}
		out[port+"/"+strings.ToLower(proto)] = struct{}{}
	}
	return out
}

// validPorts reports whether s is a port, 1 to 65535, or a range of them ("8000-8010").
func validPorts(s string) bool {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil || a == 0 {
		return false
	}
	if !isRange {
		return true
	}
	b, err := strconv.ParseUint(hi, 10, 16)
	return err == nil && b >= a
}

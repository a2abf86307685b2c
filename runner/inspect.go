package runner

import (
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
	Created         string                 `json:"Created"`
	Path            string                 `json:"Path"`
	Args            []string               `json:"Args"`
	State           InspectState           `json:"State"`
	Image           string                 `json:"Image"`
	LogPath         string                 `json:"LogPath"`
	Name            string                 `json:"Name"`
	RestartCount    int                    `json:"RestartCount"`
	Driver          string                 `json:"Driver"`
	Platform        string                 `json:"Platform"`
	HostConfig      InspectHostConfig      `json:"HostConfig"`
	Mounts          []InspectMount         `json:"Mounts"`
	Config          InspectConfig          `json:"Config"`
	NetworkSettings InspectNetworkSettings `json:"NetworkSettings"`
	// SizeRw and SizeRootFs are there only when asked (inspect -s), as docker's.
	SizeRw     *int64 `json:"SizeRw,omitempty"`
	SizeRootFs *int64 `json:"SizeRootFs,omitempty"`
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

// InspectRestartPolicy is docker's HostConfig.RestartPolicy: strata restarts nothing.
type InspectRestartPolicy struct {
	Name              string `json:"Name"`
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

// InspectLogConfig is docker's HostConfig.LogConfig: log.json is docker's json-file format.
type InspectLogConfig struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

// inspectTime is t as docker's inspect writes its times.
func inspectTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// InspectConfig is docker's Config object.
type InspectConfig struct {
	Hostname  string   `json:"Hostname"`
	User      string   `json:"User"`
	Tty       bool     `json:"Tty"`
	OpenStdin bool     `json:"OpenStdin"`
	Env       []string `json:"Env"`
	Cmd       []string `json:"Cmd"`
	Image     string   `json:"Image"`
	// Entrypoint is null without one, as docker's.
	Entrypoint []string `json:"Entrypoint"`
	WorkingDir string   `json:"WorkingDir"`
	// Labels is {} as docker's for a container without labels: strata sets none.
	Labels map[string]string `json:"Labels"`
	// StopSignal and StopTimeout are shown only when set, as docker shows them.
	StopSignal  string `json:"StopSignal,omitempty"`
	StopTimeout *int   `json:"StopTimeout,omitempty"`
}

// InspectHostConfig is docker's HostConfig object.
type InspectHostConfig struct {
	LogConfig      InspectLogConfig     `json:"LogConfig"`
	NetworkMode    string               `json:"NetworkMode"`
	RestartPolicy  InspectRestartPolicy `json:"RestartPolicy"`
	AutoRemove     bool                 `json:"AutoRemove"`
	Privileged     bool                 `json:"Privileged"`
	ReadonlyRootfs bool                 `json:"ReadonlyRootfs"`
	CapAdd         []string             `json:"CapAdd"`
	CapDrop        []string             `json:"CapDrop"`
	Init           bool                 `json:"Init"`
	Memory         int64                `json:"Memory"`
	MemorySwap     int64                `json:"MemorySwap"`
	NanoCPUs       int64                `json:"NanoCpus"`
	CPUShares      uint64               `json:"CpuShares"`
	CpusetCpus     string               `json:"CpusetCpus"`
	PidsLimit      int64                `json:"PidsLimit"`
	SecurityOpt    []string             `json:"SecurityOpt"`
	// Ulimits is [] without --ulimit, as docker run's containers show it.
	Ulimits []Ulimit `json:"Ulimits"`
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
		LogPath:  c.Dir + "/" + logFile,
		Driver:   "vfs",
		Platform: "linux",
		State: InspectState{
			// c.State is effective(): "running" is a live container or one whose monitor is
			// recording its exit, as ps shows both.
			Status: string(st.Status), Running: st.Status == StatusRunning, Dead: st.Status == StatusDead,
			Pid: st.Pid, ExitCode: st.ExitCode, OOMKilled: st.OOMKilled, Error: st.Error,
			StartedAt: inspectTime(st.StartedAt), FinishedAt: inspectTime(st.FinishedAt),
		},
		Config: InspectConfig{
			Hostname: spec.withDefaults().Hostname, User: spec.User, Tty: spec.Terminal,
			OpenStdin: spec.Stdin, Env: spec.Env, Image: c.Config.Image,
			Entrypoint: entrypoint, Cmd: cmd,
			WorkingDir: spec.Cwd, StopSignal: c.Config.StopSignal, StopTimeout: c.Config.StopTimeout,
			Labels: map[string]string{},
		},
		HostConfig: InspectHostConfig{
			LogConfig:     InspectLogConfig{Type: "json-file", Config: map[string]string{}},
			RestartPolicy: InspectRestartPolicy{Name: "no"},
			NetworkMode:   spec.withDefaults().Network, AutoRemove: c.Config.AutoRemove,
			Privileged: spec.Privileged, ReadonlyRootfs: spec.ReadOnly, CapAdd: spec.CapAdd,
			CapDrop: spec.CapDrop, Init: spec.Init, Memory: spec.Resources.Memory,
			MemorySwap: spec.Resources.MemorySwap, NanoCPUs: int64(spec.Resources.CPUs * 1e9),
			CPUShares: spec.Resources.CPUShares, CpusetCpus: spec.Resources.CpusetCpus,
			PidsLimit: spec.Resources.PidsLimit,
		},
	}
	if d.Image == "" {
		d.Image = c.Config.Image // made before strata kept the image's ID
	}
	network := spec.withDefaults().Network
	d.NetworkSettings = InspectNetworkSettings{
		Ports:    map[string]any{},
		Networks: map[string]InspectNetwork{network: {}},
	}
	for _, m := range spec.Root {
		if m.Type == "overlay" {
			d.Driver = "overlay"
		}
	}
	if len(spec.Args) > 0 {
		d.Path, d.Args = spec.Args[0], spec.Args[1:]
	}
	switch spec.Seccomp {
	case SeccompDefault:
	case SeccompUnconfined:
		d.HostConfig.SecurityOpt = append(d.HostConfig.SecurityOpt, "seccomp=unconfined")
	default: // a profile's JSON, shown as docker inspect shows it
		d.HostConfig.SecurityOpt = append(d.HostConfig.SecurityOpt, "seccomp="+spec.Seccomp)
	}
	d.HostConfig.Ulimits = append([]Ulimit{}, spec.Ulimits...)
	d.Mounts = []InspectMount{} // [] when there is none, as docker's: jq's .Mounts[] fails on null
	for _, m := range spec.Mounts {
		d.Mounts = append(d.Mounts, inspectMount(c, m))
	}
	return d
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
		im.Name = VolumeName(c.ID, m.Source)
		im.Driver = "local"
		im.Propagation = ""
	case "tmpfs":
		im.Source = ""
	}
	return im
}

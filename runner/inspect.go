package runner

import (
	"strings"
	"time"

	"github.com/strata-run/strata/mount"
)

// InspectData is a container as `strata inspect` prints it: the subset of docker's
// ContainerJSON that strata has, with docker's field names so scripts and templates that read
// `docker inspect` output (`{{.State.Pid}}`) work unchanged.
type InspectData struct {
	ID         string            `json:"Id"`
	Created    time.Time         `json:"Created"`
	Path       string            `json:"Path"`
	Args       []string          `json:"Args"`
	State      InspectState      `json:"State"`
	Image      string            `json:"Image"`
	Name       string            `json:"Name"`
	Config     InspectConfig     `json:"Config"`
	HostConfig InspectHostConfig `json:"HostConfig"`
	Mounts     []InspectMount    `json:"Mounts"`
	LogPath    string            `json:"LogPath"`
}

// InspectState is docker's State object.
type InspectState struct {
	Status     string    `json:"Status"`
	Running    bool      `json:"Running"`
	Pid        int       `json:"Pid"`
	ExitCode   int       `json:"ExitCode"`
	OOMKilled  bool      `json:"OOMKilled"`
	Error      string    `json:"Error"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
}

// InspectConfig is docker's Config object.
type InspectConfig struct {
	Hostname   string   `json:"Hostname"`
	User       string   `json:"User"`
	Tty        bool     `json:"Tty"`
	OpenStdin  bool     `json:"OpenStdin"`
	Env        []string `json:"Env"`
	Cmd        []string `json:"Cmd"`
	Image      string   `json:"Image"`
	WorkingDir string   `json:"WorkingDir"`
	// StopSignal and StopTimeout are shown only when set, as docker shows them.
	StopSignal  string `json:"StopSignal,omitempty"`
	StopTimeout *int   `json:"StopTimeout,omitempty"`
}

// InspectHostConfig is docker's HostConfig object.
type InspectHostConfig struct {
	NetworkMode    string   `json:"NetworkMode"`
	AutoRemove     bool     `json:"AutoRemove"`
	Privileged     bool     `json:"Privileged"`
	ReadonlyRootfs bool     `json:"ReadonlyRootfs"`
	CapAdd         []string `json:"CapAdd"`
	CapDrop        []string `json:"CapDrop"`
	Init           bool     `json:"Init"`
	Memory         int64    `json:"Memory"`
	MemorySwap     int64    `json:"MemorySwap"`
	NanoCPUs       int64    `json:"NanoCpus"`
	CPUShares      uint64   `json:"CpuShares"`
	CpusetCpus     string   `json:"CpusetCpus"`
	PidsLimit      int64    `json:"PidsLimit"`
	SecurityOpt    []string `json:"SecurityOpt"`
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
	d := InspectData{
		ID:      c.ID,
		Created: c.Config.Created,
		Image:   c.Config.Image,
		Name:    "/" + c.Config.Name,
		LogPath: c.Dir + "/" + logFile,
		State: InspectState{
			// c.State is effective(): "running" is a live container or one whose monitor is
			// recording its exit, as ps shows both.
			Status: string(st.Status), Running: st.Status == StatusRunning, Pid: st.Pid, ExitCode: st.ExitCode,
			OOMKilled: st.OOMKilled, Error: st.Error, StartedAt: st.StartedAt, FinishedAt: st.FinishedAt,
		},
		Config: InspectConfig{
			Hostname: spec.withDefaults().Hostname, User: spec.User, Tty: spec.Terminal,
			OpenStdin: spec.Stdin, Env: spec.Env, Cmd: spec.Args, Image: c.Config.Image,
			WorkingDir: spec.Cwd, StopSignal: c.Config.StopSignal, StopTimeout: c.Config.StopTimeout,
		},
		HostConfig: InspectHostConfig{
			NetworkMode: spec.withDefaults().Network, AutoRemove: c.Config.AutoRemove,
			Privileged: spec.Privileged, ReadonlyRootfs: spec.ReadOnly, CapAdd: spec.CapAdd,
			CapDrop: spec.CapDrop, Init: spec.Init, Memory: spec.Resources.Memory,
			MemorySwap: spec.Resources.MemorySwap, NanoCPUs: int64(spec.Resources.CPUs * 1e9),
			CPUShares: spec.Resources.CPUShares, CpusetCpus: spec.Resources.CpusetCpus,
			PidsLimit: spec.Resources.PidsLimit,
		},
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

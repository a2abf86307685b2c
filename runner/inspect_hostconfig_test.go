package runner

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
	"github.com/strata-run/strata/runner/cgroups"
)

// dockerHostConfigKeys are the keys of docker's HostConfig in `docker inspect` of a container
// (docker 28, moby api/types/container HostConfig and Resources) that are always there;
// Tmpfs, Mounts and Init only when set, Runtime, KernelMemory* and the Windows-only
// Annotations, StorageOpt and Sysctls not at all here.
var dockerHostConfigKeys = []string{
	"Binds", "ContainerIDFile", "LogConfig", "NetworkMode", "PortBindings", "RestartPolicy",
	"AutoRemove", "VolumeDriver", "VolumesFrom", "ConsoleSize", "CapAdd", "CapDrop",
	"CgroupnsMode", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts", "GroupAdd", "IpcMode",
	"Cgroup", "Links", "OomScoreAdj", "PidMode", "Privileged", "PublishAllPorts",
	"ReadonlyRootfs", "SecurityOpt", "UTSMode", "UsernsMode", "ShmSize", "Isolation",
	"CpuShares", "Memory", "NanoCpus", "CgroupParent", "BlkioWeight", "BlkioWeightDevice",
	"BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps",
	"CpuPeriod", "CpuQuota", "CpuRealtimePeriod", "CpuRealtimeRuntime", "CpusetCpus",
	"CpusetMems", "Devices", "DeviceCgroupRules", "DeviceRequests", "MemoryReservation",
	"MemorySwap", "MemorySwappiness", "OomKillDisable", "PidsLimit", "Ulimits", "CpuCount",
	"CpuPercent", "IOMaximumIOps", "IOMaximumBandwidth", "MaskedPaths", "ReadonlyPaths",
}

// inspectJSON is Inspect(c) as JSON read back into maps, with each of HostConfig's values as
// its raw JSON, as a script reading `strata inspect` sees them.
func inspectJSON(t *testing.T, c *Container) (all map[string]json.RawMessage, hc map[string]string) {
	t.Helper()
	b, err := json.Marshal(Inspect(c))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(all["HostConfig"], &raw); err != nil {
		t.Fatal(err)
	}
	hc = map[string]string{}
	for k, v := range raw {
		hc[k] = string(v)
	}
	return all, hc
}

// TestInspectHostConfigDefaults: a container made without flags has docker's HostConfig keys,
// each with docker's zero value: null, [] or {} as the docker CLI and daemon leave it, no
// Tmpfs, Mounts or Init, and strata's real defaults for ShmSize, IPC and cgroup namespaces.
func TestInspectHostConfigDefaults(t *testing.T) {
	id := strings.Repeat("cd", 32)
	c := &Container{ID: id, Dir: t.TempDir(), Config: Config{Spec: Spec{ID: id, Args: []string{"sh"}}}}
	_, hc := inspectJSON(t, c)
	for _, k := range dockerHostConfigKeys {
		if _, ok := hc[k]; !ok {
			t.Errorf("HostConfig has no %s", k)
		}
	}
	for k := range hc {
		if !slices.Contains(dockerHostConfigKeys, k) {
			t.Errorf("HostConfig.%s = %s, which docker does not show for a container without flags", k, hc[k])
		}
	}
	want := map[string]string{
		"Binds": "null", "ContainerIDFile": `""`, "LogConfig": `{"Type":"json-file","Config":{}}`,
		"NetworkMode": `"none"`, "PortBindings": "{}", "RestartPolicy": `{"Name":"no","MaximumRetryCount":0}`,
		"AutoRemove": "false", "VolumesFrom": "null", "ConsoleSize": "[0,0]",
		"CapAdd": "null", "CapDrop": "null", "CgroupnsMode": `"private"`,
		"Dns": "[]", "DnsOptions": "[]", "DnsSearch": "[]", "ExtraHosts": "null", "GroupAdd": "null",
		"IpcMode": `"private"`, "Links": "null", "OomScoreAdj": "0", "PidMode": `""`,
		"Privileged": "false", "ReadonlyRootfs": "false", "SecurityOpt": "null",
		"ShmSize": "67108864", "CpuShares": "0", "Memory": "0", "NanoCpus": "0",
		"BlkioWeightDevice": "[]", "BlkioDeviceReadBps": "[]", "BlkioDeviceWriteIOps": "[]",
		"CpuPeriod": "0", "CpuQuota": "0", "CpusetCpus": `""`, "CpusetMems": `""`,
		"Devices": "[]", "DeviceCgroupRules": "null", "DeviceRequests": "null",
		"MemorySwap": "0", "MemorySwappiness": "null", "OomKillDisable": "null",
		"PidsLimit": "null", "Ulimits": "[]",
		"MaskedPaths":   mustJSON(t, maskedPaths),
		"ReadonlyPaths": mustJSON(t, readonlyPaths),
	}
	for k, v := range want {
		if hc[k] != v {
			t.Errorf("HostConfig.%s = %s, want %s", k, hc[k], v)
		}
	}
}

// TestInspectHostConfigFlags: a container made with a mix of flags shows each in docker's
// HostConfig as strata applied it: -v binds in Binds as written, --mount binds and volumes in
// Mounts as docker's mount.Mount, tmpfs in Tmpfs with the user's options, the limits (twice
// the memory as swap when only --memory is given, --cpus as NanoCpus), and the security
// options; -v and image volumes in Config.Volumes.
func TestInspectHostConfigFlags(t *testing.T) {
	id := strings.Repeat("ef", 32)
	dir := filepath.Join(t.TempDir(), id)
	must := func(m mount.Mount, err error) mount.Mount {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	mounts := []mount.Mount{
		must(ParseVolume("/srv/data:/data")),
		must(ParseVolume("/srv/conf:/etc/app:ro,z")),
		must(ParseMount("type=bind,source=/,target=/host,readonly")),
		must(ParseMount("type=bind,src=/,dst=/host2,bind-propagation=rslave")),
		must(ParseMount("type=volume,target=/cache,ro")),
		must(ParseVolume("/anon")),
		must(ParseTmpfs("/run")),
		must(ParseTmpfs("/tmp:size=64m,mode=1777")),
	}
	mounts, err := AnonymousVolumes(map[string]struct{}{"/imagevol": {}}, mounts, dir)
	if err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: id, Dir: dir, Config: Config{AutoRemove: true, Spec: Spec{
		ID: id, Dir: dir, Args: []string{"sh"}, Mounts: mounts, Network: NetworkHost,
		Resources: cgroups.Resources{Memory: 64 << 20, CPUs: 1.001, CPUShares: 512,
			CpusetCpus: "0", PidsLimit: 50},
		CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"ALL"}, ReadOnly: true, Init: true,
		Seccomp: SeccompUnconfined, NoNewPrivileges: true,
		DNS: []string{"127.0.0.1"}, ExtraHosts: []string{"db:127.0.0.2"},
		Ulimits: []Ulimit{{Name: "nofile", Soft: 100, Hard: 200}},
	}}}
	all, hc := inspectJSON(t, c)
	want := map[string]string{
		"Binds": `["/srv/data:/data","/srv/conf:/etc/app:ro,z"]`,
		"Mounts": `[{"Type":"bind","Source":"/","Target":"/host","ReadOnly":true},` +
			`{"Type":"bind","Source":"/","Target":"/host2","BindOptions":{"Propagation":"rslave"}},` +
			`{"Type":"volume","Target":"/cache","ReadOnly":true}]`,
		"Tmpfs":       `{"/run":"","/tmp":"size=67108864,mode=1777"}`,
		"NetworkMode": `"host"`, "AutoRemove": "true",
		"Memory": "67108864", "MemorySwap": "134217728", "NanoCpus": "1001000000",
		"CpuShares": "512", "CpusetCpus": `"0"`, "PidsLimit": "50",
		"CapAdd": `["NET_ADMIN"]`, "CapDrop": `["ALL"]`, "ReadonlyRootfs": "true", "Init": "true",
		"SecurityOpt": `["seccomp=unconfined","no-new-privileges"]`,
		"Dns":         `["127.0.0.1"]`, "ExtraHosts": `["db:127.0.0.2"]`,
		"Ulimits": `[{"Name":"nofile","Hard":200,"Soft":100}]`,
	}
	for k, v := range want {
		if hc[k] != v {
			t.Errorf("HostConfig.%s = %s\nwant %s", k, hc[k], v)
		}
	}
	var cfg struct{ Volumes map[string]any }
	if err := json.Unmarshal(all["Config"], &cfg); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(cfg.Volumes)); !slices.Equal(got, []string{"/anon", "/imagevol"}) {
		t.Errorf("Config.Volumes = %q, want /anon and /imagevol (not the --mount volume)", got)
	}

	// --memory-swap as given, -1 too; a privileged container has no masked paths; a seccomp
	// profile compacted as docker's CLI sends it.
	c.Config.Spec.Resources.MemorySwap = -1
	c.Config.Spec.Privileged = true
	c.Config.Spec.Seccomp = "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n"
	c.Config.Spec.NoNewPrivileges = false
	_, hc = inspectJSON(t, c)
	for k, v := range map[string]string{
		"MemorySwap": "-1", "Privileged": "true", "MaskedPaths": "null", "ReadonlyPaths": "null",
		"SecurityOpt": `["seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}"]`,
	} {
		if hc[k] != v {
			t.Errorf("HostConfig.%s = %s, want %s", k, hc[k], v)
		}
	}
}

// TestInspectHostConfigAsApplied: what HostConfig says strata applies is what the init's plan
// does: a /dev/shm of ShmSize, and the masked and read-only paths.
func TestInspectHostConfigAsApplied(t *testing.T) {
	id := strings.Repeat("12", 32)
	spec := Spec{ID: id, Dir: "/c/" + id, Args: []string{"sh"}, Root: []mount.Mount{{Type: "bind", Source: "/c/rootfs", Target: "/"}}}
	h := Inspect(&Container{ID: id, Config: Config{Spec: spec}}).HostConfig
	var masked, readonly []string
	shm := ""
	for _, s := range plan(spec) {
		switch {
		case s.Op == OpMount && s.Target == "/dev/shm":
			shm = s.Data
		case s.Op == OpMask:
			masked = append(masked, s.Target)
		case s.Op == OpReadOnly && s.Target != "/":
			readonly = append(readonly, s.Target)
		}
	}
	if want := "size=" + strconv.FormatInt(h.ShmSize>>10, 10) + "k"; !strings.Contains(shm, want) {
		t.Errorf("the plan mounts /dev/shm with %q, want %s as HostConfig.ShmSize %d says", shm, want, h.ShmSize)
	}
	if !slices.Equal(masked, h.MaskedPaths) || !slices.Equal(readonly, h.ReadonlyPaths) {
		t.Errorf("the plan masks %q and makes %q read-only; HostConfig says %q and %q", masked, readonly, h.MaskedPaths, h.ReadonlyPaths)
	}
}

// TestInspectGraphDriver: GraphDriver names the driver that made the root and, for overlay,
// its dirs as overlay2's are shown (top lower first, a colon in a path escaped as the mount
// option has it); a read-only root has no upper and work; vfs has no data, as docker's.
func TestInspectGraphDriver(t *testing.T) {
	id := strings.Repeat("34", 32)
	dir := "/var/lib/strata/containers/" + id
	overlay := mount.Mount{Type: "overlay", Source: "overlay", Target: "/", Options: []string{
		`lowerdir=/l/top:/l/we\:ird:/l/base`, "nodev",
		"upperdir=" + dir + "/upper", "workdir=" + dir + "/work",
	}}
	for _, tt := range []struct {
		name   string
		root   []mount.Mount
		driver string
		data   string
	}{
		{"overlay", []mount.Mount{overlay}, "overlay",
			`{"LowerDir":"/l/top:/l/we\\:ird:/l/base","MergedDir":"` + dir + `/rootfs","UpperDir":"` + dir + `/upper","WorkDir":"` + dir + `/work"}`},
		{"overlay read-only", []mount.Mount{{Type: "overlay", Source: "overlay", Target: "/", Options: []string{"lowerdir=/l/stubs:/l/base", "nodev", "ro"}}}, "overlay",
			`{"LowerDir":"/l/stubs:/l/base","MergedDir":"` + dir + `/rootfs"}`},
		{"vfs", []mount.Mount{{Type: "bind", Source: dir + "/rootfs", Target: "/", Options: []string{"rbind", "nodev"}}}, "vfs", "null"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &Container{ID: id, Dir: dir, Config: Config{Spec: Spec{ID: id, Dir: dir, Args: []string{"sh"}, Root: tt.root}}}
			all, _ := inspectJSON(t, c)
			var gd struct {
				Data json.RawMessage
				Name string
			}
			if err := json.Unmarshal(all["GraphDriver"], &gd); err != nil {
				t.Fatal(err)
			}
			if gd.Name != tt.driver || string(gd.Data) != tt.data {
				t.Errorf("GraphDriver = %s, want Name %q, Data %s", all["GraphDriver"], tt.driver, tt.data)
			}
			if d := string(all["Driver"]); d != strconv.Quote(tt.driver) {
				t.Errorf("Driver = %s, want %q", d, tt.driver)
			}
		})
	}
}

// TestInspectEtcPaths: ResolvConfPath, HostnamePath and HostsPath are "" until strata wrote the
// files (at the first start), as docker's, then their paths in the container dir.
func TestInspectEtcPaths(t *testing.T) {
	id := strings.Repeat("56", 32)
	dir := t.TempDir()
	c := &Container{ID: id, Dir: dir, Config: Config{Spec: Spec{ID: id, Dir: dir, Args: []string{"sh"}}}}
	d := Inspect(c)
	if d.ResolvConfPath != "" || d.HostnamePath != "" || d.HostsPath != "" {
		t.Errorf("before a start: paths %q %q %q, want none", d.ResolvConfPath, d.HostnamePath, d.HostsPath)
	}
	if err := writeEtcFiles(c.Config.Spec); err != nil {
		t.Fatal(err)
	}
	// A directory in a file's place is not the file strata wrote.
	if err := os.Remove(filepath.Join(dir, "hosts")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "hosts"), 0o755); err != nil {
		t.Fatal(err)
	}
	d = Inspect(c)
	if d.ResolvConfPath != filepath.Join(dir, "resolv.conf") || d.HostnamePath != filepath.Join(dir, "hostname") || d.HostsPath != "" {
		t.Errorf("after writeEtcFiles: paths %q %q %q, want resolv.conf and hostname in %s, no hosts", d.ResolvConfPath, d.HostnamePath, d.HostsPath, dir)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

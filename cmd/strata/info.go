package main

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/safefile"
	"github.com/strata-run/strata/proccard"
	"github.com/strata-run/strata/registry"
	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/runner/cgroups"
	"github.com/strata-run/strata/snapshotter"
)

// systemInfo is what `strata info` reports, with the field names of docker's API
// (system.Info), so `--format '{{.Containers}}'` and `{{json .}}` read as docker's. Only
// what a daemonless tool can tell is there; what cannot be read says "unknown".
type systemInfo struct {
	Containers        int
	ContainersRunning int
	ContainersPaused  int
	ContainersStopped int
	Images            int
	Driver            string
	DriverStatus      [][2]string
	MemoryLimit       bool
	SwapLimit         bool
	LoggingDriver     string
	CgroupDriver      string
	CgroupVersion     string
	KernelVersion     string
	OperatingSystem   string
	OSVersion         string
	OSType            string
	Architecture      string
	NCPU              int
	MemTotal          int64
	DockerRootDir     string
	Name              string
	ServerVersion     string
	RegistryConfig    infoRegistryConfig
	SecurityOptions   []string
	// IndexServerAddress is Docker Hub's index, where search and docker.io credentials go.
	IndexServerAddress string
	// HttpProxy, HttpsProxy and NoProxy are the proxies strata's registry requests go
	// through (from its environment, as Go reads it), credentials masked as docker masks them.
	HttpProxy  string //nolint:revive // docker's names, which templates use
	HttpsProxy string //nolint:revive
	NoProxy    string
	// Swarm is docker's swarm state: strata never joins one.
	Swarm      infoSwarm
	SystemTime string
	Warnings   []string
	ClientInfo infoClient
	// cgroupMode is the layout as runner/cgroups names it ("hybrid" shows in the text).
	cgroupMode string
}

// infoSwarm is docker info's Swarm, as a node in no swarm shows it.
type infoSwarm struct {
	NodeID, NodeAddr, LocalNodeState string
	ControlAvailable                 bool
	Error                            string
	RemoteManagers                   []string
}

// proxyEnv is the proxy variable name (or its lower-case form) as Go's net/http reads it,
// with a user and password in it masked as docker's info masks them.
func proxyEnv(name string) string {
	v := os.Getenv(name)
	if v == "" {
		v = os.Getenv(strings.ToLower(name))
	}
	if u, err := url.Parse(v); err == nil && u.User != nil {
		u.User = url.UserPassword("xxxxx", "xxxxx")
		v = u.String()
	}
	return v
}

// infoRegistryConfig is docker's registry.ServiceConfig, as far as strata has it.
type infoRegistryConfig struct {
	InsecureRegistryCIDRs []string
	IndexConfigs          map[string]infoIndex
	Mirrors               []string
}

// infoIndex is one registry's settings (docker's registry.IndexInfo).
type infoIndex struct {
	Name     string
	Mirrors  []string
	Secure   bool
	Official bool
}

// infoClient is docker info's client part.
type infoClient struct {
	Debug     bool
	Version   string
	GoVersion string
	Os        string
	Arch      string
}

// unknown is what info says of a value it could not read.
const unknown = "unknown"

// infoHost is where info reads the host: /proc, /sys/fs/cgroup, /etc/os-release (tests point
// them at fakes).
type infoHost struct {
	proc, cgroup, osRelease string
	cgroupMode              func() string
}

var realHost = infoHost{proc: "/proc", cgroup: "/sys/fs/cgroup", osRelease: "/etc/os-release", cgroupMode: cgroups.Mode}

func newInfoCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Show system-wide information: containers, images, storage, cgroups, kernel, registries",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// A bad template fails before anything is read.
			if format != "" && format != "json" {
				if _, _, err := renderTemplate(format, []systemInfo(nil)); err != nil {
					return err
				}
			}
			info := gatherInfo(g, realHost)
			switch format {
			case "":
				printInfo(cmd.OutOrStdout(), info)
				for _, w := range info.Warnings {
					fmt.Fprintln(cmd.ErrOrStderr(), w)
				}
				return nil
			case "json":
				format = "{{json .}}"
			}
			b, _, err := renderTemplate(format, []systemInfo{info})
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "a Go template over docker's info fields ('{{.Containers}}', '{{.Driver}}', '{{json .}}'), or json")
	return cmd
}

// gatherInfo reads everything info shows. Nothing here fails: a part that cannot be read is
// "unknown" or zero, and a store that does not exist yet is empty (info makes nothing).
func gatherInfo(g *globals, h infoHost) systemInfo {
	info := systemInfo{
		LoggingDriver: "json-file",
		OSType:        runtime.GOOS,
		NCPU:          runtime.NumCPU(),
		DockerRootDir: g.root,
		ServerVersion: version,
		ClientInfo:    infoClient{Debug: g.debug, Version: version, GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH},
		// docker's registry.IndexServer.
		IndexServerAddress: "https://index.docker.io/v1/",
		HttpProxy:          proxyEnv("HTTP_PROXY"),
		HttpsProxy:         proxyEnv("HTTPS_PROXY"),
		NoProxy:            proxyEnv("NO_PROXY"),
		Swarm:              infoSwarm{LocalNodeState: "inactive"},
		SystemTime:         time.Now().Format(time.RFC3339Nano),
	}
	info.Name, _ = os.Hostname()
	var uts unix.Utsname
	info.KernelVersion, info.Architecture = unknown, unknown
	if unix.Uname(&uts) == nil {
		info.KernelVersion = unix.ByteSliceToString(uts.Release[:])
		info.Architecture = unix.ByteSliceToString(uts.Machine[:])
	}
	info.OperatingSystem, info.OSVersion = osRelease(h.osRelease)
	info.MemTotal = meminfoTotal(filepath.Join(h.proc, "meminfo"))
	infoContainers(g, &info)
	infoImages(g, &info)
	infoStorage(g, &info)
	infoCgroups(h, &info)
	infoRegistries(g, &info)
	info.SecurityOptions = securityOptions(h)
	return info
}

// infoContainers counts the containers by state, as docker's Running, Paused and Stopped.
func infoContainers(g *globals, info *systemInfo) {
	if _, err := os.Lstat(g.containersDir()); err != nil {
		return
	}
	store, err := g.openContainers()
	if err != nil {
		info.Warnings = append(info.Warnings, "WARNING: the container store cannot be read: "+oneLine(err.Error()))
		return
	}
	list, err := store.List()
	if err != nil {
		info.Warnings = append(info.Warnings, "WARNING: the container store cannot be read: "+oneLine(err.Error()))
	}
	for _, c := range list {
		info.Containers++
		switch {
		case runner.Paused(c):
			info.ContainersPaused++
		case c.State.Status == runner.StatusRunning || c.State.Restarting:
			info.ContainersRunning++
		default:
			info.ContainersStopped++
		}
	}
}

// infoImages counts the images as `images -a` lists them: by ID, the dangling ones too.
func infoImages(g *globals, info *systemInfo) {
	if _, err := os.Lstat(filepath.Join(g.storeDir(), "index.json")); err != nil {
		return
	}
	store, err := cache.Open(g.storeDir())
	if err != nil {
		// A damaged index.json: images refuses to list, and info says why rather than
		// counting no image.
		info.Warnings = append(info.Warnings, "WARNING: the image store cannot be read: "+oneLine(err.Error()))
		return
	}
	ids := map[string]bool{}
	if infos, err := store.Infos(); err == nil {
		for _, i := range infos {
			ids[i.ID.String()] = true
		}
	} else {
		info.Warnings = append(info.Warnings, "WARNING: the image store cannot be read: "+oneLine(err.Error()))
	}
	if un, err := store.Unreached(); err == nil {
		for _, i := range un {
			ids[i.ID.String()] = true
		}
	}
	info.Images = len(ids)
}

// infoStorage names the layer storage and the filesystem under it. Decided as the
// snapshotter decides, without its probe mount: --storage-driver, else overlay where it was
// mounted before (its mark) or where the kernel has it, else vfs.
func infoStorage(g *globals, info *systemInfo) {
	driver := snapshotter.Driver(g.storageDriver)
	if driver == "" {
		driver = snapshotter.VFS
		if _, err := os.Lstat(filepath.Join(g.snapshotsDir(), ".overlay-ok")); err == nil || kernelHasOverlay() {
			driver = snapshotter.Overlay
		}
	}
	info.Driver = string(driver)
	dir := existingParent(g.root)
	info.DriverStatus = [][2]string{{"Backing Filesystem", backingFS(dir)}, {"Supports d_type", supportsDType(dir)}}
}

// kernelHasOverlay says whether /proc/filesystems lists overlay.
func kernelHasOverlay() bool {
	b, err := readSmall("/proc/filesystems")
	return err == nil && bytes.Contains(b, []byte("\toverlay\n"))
}

// existingParent is dir or its nearest ancestor that exists.
func existingParent(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil || dir == "/" || dir == "." {
			return dir
		}
		dir = filepath.Dir(dir)
	}
}

// backingFS names dir's filesystem as docker does ("extfs", "xfs", "btrfs", "tmpfs").
func backingFS(dir string) string {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return unknown
	}
	names := map[int64]string{
		unix.EXT4_SUPER_MAGIC: "extfs", unix.XFS_SUPER_MAGIC: "xfs", unix.BTRFS_SUPER_MAGIC: "btrfs",
		unix.TMPFS_MAGIC: "tmpfs", unix.OVERLAYFS_SUPER_MAGIC: "overlayfs", 0x2fc12fc1: "zfs",
		unix.NFS_SUPER_MAGIC: "nfs", unix.F2FS_SUPER_MAGIC: "f2fs", unix.SQUASHFS_MAGIC: "squashfs",
		unix.RAMFS_MAGIC: "ramfs", unix.FUSE_SUPER_MAGIC: "fuse",
	}
	if n, ok := names[int64(st.Type)]; ok {
		return n
	}
	return fmt.Sprintf("<unknown> (0x%x)", st.Type)
}

// supportsDType says whether dir's filesystem reports file types in its directory entries
// (overlay needs it: docker warns of xfs made with ftype=0): the type of its "." entry.
func supportsDType(dir string) string {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return unknown
	}
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	n, err := unix.ReadDirent(fd, buf)
	if err != nil || n < 19 {
		return unknown
	}
	// linux_dirent64: ino (8), off (8), reclen (2), type (1), name.
	for off := 0; off+19 <= n; {
		reclen := int(buf[off+16]) | int(buf[off+17])<<8
		if reclen == 0 {
			break
		}
		if buf[off+18] != unix.DT_UNKNOWN {
			return "true"
		}
		off += reclen
	}
	return "false"
}

// infoCgroups reads the cgroup layout and what it can limit; the warnings are docker's.
func infoCgroups(h infoHost, info *systemInfo) {
	info.cgroupMode = h.cgroupMode()
	info.CgroupDriver = "cgroupfs"
	switch info.cgroupMode {
	case "v2":
		info.CgroupVersion = "2"
		controllers, _ := readSmall(filepath.Join(h.cgroup, "cgroup.controllers"))
		info.MemoryLimit = hasWord(string(controllers), "memory")
		// The root has no memory.swap.max: the kernel has swap accounting when a child has.
		info.SwapLimit = info.MemoryLimit && anyChildHas(h.cgroup, "memory.swap.max")
	case "v1", "hybrid":
		info.CgroupVersion = "1"
		mem := filepath.Join(h.cgroup, "memory")
		info.MemoryLimit = exists(filepath.Join(mem, "memory.limit_in_bytes"))
		info.SwapLimit = exists(filepath.Join(mem, "memory.memsw.limit_in_bytes"))
	default:
		info.CgroupDriver, info.CgroupVersion = "none", unknown
		info.Warnings = append(info.Warnings, "WARNING: no cgroup filesystem is mounted: containers run without limits")
		return
	}
	if !info.MemoryLimit {
		info.Warnings = append(info.Warnings, "WARNING: No memory limit support")
	}
	if !info.SwapLimit {
		info.Warnings = append(info.Warnings, "WARNING: No swap limit support")
	}
}

// anyChildHas says whether some cgroup right under dir has the file name.
func anyChildHas(dir, name string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.IsDir() && exists(filepath.Join(dir, e.Name(), name)) {
			return true
		}
	}
	return false
}

// infoRegistries are the mirrors and insecure registries strata's flags, environment and
// registries.json give. localhost and 127.0.0.1 are always plain HTTP, as docker's
// 127.0.0.0/8.
func infoRegistries(g *globals, info *systemInfo) {
	rc := infoRegistryConfig{InsecureRegistryCIDRs: []string{"127.0.0.0/8", "localhost"}, IndexConfigs: map[string]infoIndex{}}
	if g.insecure {
		rc.InsecureRegistryCIDRs = append(rc.InsecureRegistryCIDRs, "*")
	}
	rc.InsecureRegistryCIDRs = append(rc.InsecureRegistryCIDRs, g.insecureRegistries...)
	// A mirror given with user:password@ (which pulls refuse) is shown without its password.
	rc.Mirrors = []string{}
	for _, m := range g.mirrors {
		rc.Mirrors = append(rc.Mirrors, registry.RedactMirror(m))
	}
	cfg, err := registry.LoadConfig(g.registriesFile())
	if err != nil {
		info.Warnings = append(info.Warnings, "WARNING: "+oneLine(err.Error()))
		cfg = &registry.Config{}
	}
	hosts := make([]string, 0, len(cfg.Registries))
	for h := range cfg.Registries {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	hub := infoIndex{Name: "docker.io", Mirrors: rc.Mirrors, Secure: !g.insecure, Official: true}
	for _, h := range hosts {
		r := cfg.Registries[h]
		if h == "docker.io" {
			hub.Mirrors = append(append([]string{}, hub.Mirrors...), r.Mirrors...)
			rc.Mirrors = hub.Mirrors
			hub.Secure = hub.Secure && !r.Insecure
			continue
		}
		if r.Insecure {
			rc.InsecureRegistryCIDRs = append(rc.InsecureRegistryCIDRs, h)
		}
		rc.IndexConfigs[h] = infoIndex{Name: h, Mirrors: append([]string{}, r.Mirrors...), Secure: !r.Insecure && !g.insecure}
	}
	rc.IndexConfigs["docker.io"] = hub
	info.RegistryConfig = rc
}

// securityOptions are docker's: what every container gets by default.
func securityOptions(h infoHost) []string {
	var opts []string
	status, _ := readSmall(filepath.Join(h.proc, "self", "status"))
	if bytes.Contains(status, []byte("\nSeccomp:")) {
		opts = append(opts, "name=seccomp,profile=builtin")
	}
	// strata sets no_new_privs on every container, as dockerd --no-new-privileges.
	opts = append(opts, "name=no-new-privileges")
	if exists(filepath.Join(h.proc, "self", "ns", "cgroup")) {
		opts = append(opts, "name=cgroupns")
	}
	if os.Geteuid() != 0 {
		opts = append(opts, "name=rootless")
	}
	return opts
}

// osRelease is PRETTY_NAME and VERSION_ID of an os-release file; unknown when missing.
func osRelease(path string) (name, ver string) {
	b, err := readSmall(path)
	if err != nil {
		return unknown, ""
	}
	vals := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `"'`)
		}
		vals[k] = escapeUnprintable(v)
	}
	name = vals["PRETTY_NAME"]
	if name == "" {
		name = strings.TrimSpace(vals["NAME"] + " " + vals["VERSION"])
	}
	if name == "" {
		name = unknown
	}
	return name, vals["VERSION_ID"]
}

// meminfoTotal is MemTotal of a meminfo file in bytes; 0 when unknown.
func meminfoTotal(path string) int64 {
	b, err := readSmall(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// maxInfoFile bounds what info reads of one host file.
const maxInfoFile = 1 << 20

// readSmall reads a host file, bounded, never blocking on a FIFO, only a regular file (a
// /proc or /sys one is).
func readSmall(path string) ([]byte, error) {
	return safefile.Read(path, os.O_RDONLY, maxInfoFile)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// printInfo writes info in docker info's layout.
func printInfo(w io.Writer, info systemInfo) {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	p("Client:")
	p(" Version:    %s", info.ClientInfo.Version)
	p(" Go version: %s", info.ClientInfo.GoVersion)
	p(" OS/Arch:    %s/%s", info.ClientInfo.Os, info.ClientInfo.Arch)
	p(" Debug Mode: %t", info.ClientInfo.Debug)
	for _, px := range [][2]string{{"HTTP Proxy", info.HttpProxy}, {"HTTPS Proxy", info.HttpsProxy}, {"No Proxy", info.NoProxy}} {
		if px[1] != "" {
			p(" %s: %s", px[0], escapeUnprintable(px[1]))
		}
	}
	p("")
	p("Server:")
	p(" Containers: %d", info.Containers)
	p("  Running: %d", info.ContainersRunning)
	p("  Paused: %d", info.ContainersPaused)
	p("  Stopped: %d", info.ContainersStopped)
	p(" Images: %d", info.Images)
	p(" Server Version: %s (daemonless)", info.ServerVersion)
	p(" Storage Driver: %s", info.Driver)
	for _, kv := range info.DriverStatus {
		p("  %s: %s", kv[0], kv[1])
	}
	p(" Logging Driver: %s", info.LoggingDriver)
	p(" Cgroup Driver: %s", info.CgroupDriver)
	if info.cgroupMode == "hybrid" {
		p(" Cgroup Version: %s (hybrid: v1 controllers, cgroup2 at unified/)", info.CgroupVersion)
	} else {
		p(" Cgroup Version: %s", info.CgroupVersion)
	}
	if len(info.SecurityOptions) > 0 {
		p(" Security Options:")
		for _, o := range info.SecurityOptions {
			// docker's layout: "name=seccomp,profile=builtin" is "seccomp" and its profile.
			parts := strings.Split(o, ",")
			p("  %s", strings.TrimPrefix(parts[0], "name="))
			for _, kv := range parts[1:] {
				k, v, _ := strings.Cut(kv, "=")
				p("   %s: %s", strings.ToUpper(k[:1])+k[1:], v)
			}
		}
	}
	p(" Kernel Version: %s", info.KernelVersion)
	p(" Operating System: %s", info.OperatingSystem)
	p(" OSType: %s", info.OSType)
	p(" Architecture: %s", info.Architecture)
	p(" CPUs: %d", info.NCPU)
	if info.MemTotal > 0 {
		p(" Total Memory: %s", proccard.Bytes(info.MemTotal))
	} else {
		p(" Total Memory: %s", unknown)
	}
	p(" Name: %s", info.Name)
	p(" Docker Root Dir: %s", info.DockerRootDir)
	p(" Debug Mode: %t", info.ClientInfo.Debug)
	for _, px := range [][2]string{{"HTTP Proxy", info.HttpProxy}, {"HTTPS Proxy", info.HttpsProxy}, {"No Proxy", info.NoProxy}} {
		if px[1] != "" {
			p(" %s: %s", px[0], escapeUnprintable(px[1]))
		}
	}
	if len(info.RegistryConfig.InsecureRegistryCIDRs) > 0 {
		p(" Insecure Registries:")
		for _, r := range info.RegistryConfig.InsecureRegistryCIDRs {
			p("  %s", r)
		}
	}
	var mirrors []string
	for _, m := range info.RegistryConfig.Mirrors {
		mirrors = append(mirrors, m)
	}
	for _, h := range sortedKeys(info.RegistryConfig.IndexConfigs) {
		if h == "docker.io" {
			continue
		}
		for _, m := range info.RegistryConfig.IndexConfigs[h].Mirrors {
			mirrors = append(mirrors, m+" (for "+h+")")
		}
	}
	if len(mirrors) > 0 {
		p(" Registry Mirrors:")
		for _, m := range mirrors {
			p("  %s", m)
		}
	}
	p("")
	io.WriteString(w, escapeText(b.String()))
}

// escapeText escapes what would act on a terminal in each line of s (a hostname, an
// os-release value, a mirror from registries.json).
func escapeText(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = escapeUnprintable(l)
	}
	return strings.Join(lines, "\n")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

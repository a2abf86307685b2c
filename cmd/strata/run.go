package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/mount"
	"github.com/strata-run/strata/registry"
	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/runner/cgroups"
	"github.com/strata-run/strata/runner/seccomp"
	"github.com/strata-run/strata/snapshotter"
)

// runOptions are docker run's flags that strata implements.
type runOptions struct {
	name        string
	rm          bool
	detach      bool
	interactive bool
	tty         bool
	entrypoint  string
	env         []string
	envFiles    []string
	labels      []string
	labelFiles  []string
	workdir     string
	user        string
	hostname    string
	volumes     []string
	mounts      []string
	volumesFrom []string
	tmpfs       []string
	readOnly    bool
	network     string
	init        bool
	privileged  bool
	capAdd      []string
	capDrop     []string
	securityOpt []string
	addHosts    []string
	dns         []string
	cidFile     string
	dnsSearch   []string
	dnsOptions  []string
	memory      string
	memorySwap  string
	cpus        string
	cpuShares   uint64
	cpusetCpus  string
	pidsLimit   int64
	namespaces  []string
	timeOffset  string
	cgroupns    string
	ns          nsOptions // --pid, --ipc, --uts
	platform    string
	// pull is --pull: always, missing, or never (""): strata's default, as issue #5 wants,
	// says to pull an image that is not in the store instead of pulling it (docker's is
	// missing).
	pull        string
	stopSignal  string
	stopTimeout int
	ulimits     []string
	groupAdd    []string
	shmSize     string
	expose      []string // --expose: ports recorded in Config.ExposedPorts, as EXPOSE
	quiet       bool     // -q: nothing of a --pull's progress
	domainname  string   // --domainname
	// publish and publishAll are docker flags strata refuses in words of its own (see
	// checkUnsupported) rather than as unknown flags.
	publish    []string
	publishAll bool
	// bridgeOnly are docker's flags of a container's place on a bridge network (--ip,
	// --mac-address, --network-alias, --link…), by name, when given.
	bridgeOnly []string
	restart    string        // --restart (run_attach.go)
	logDriver  string        // --log-driver
	logOpts    []string      // --log-opt
	attach     attachStreams // -a
	sigProxy   bool          // --sig-proxy
	// detachKeys is run's --detach-keys, keys what it parses to (run_detach.go).
	detachKeys string
	keys       []byte
	deviceOptions
	health healthOptions // --health-*, --no-healthcheck

	entrypointSet  bool
	stopTimeoutSet bool
	shmSizeSet     bool // --shm-size was given, if only as ""
	// memorySet, memorySwapSet and cpusSet say that --memory, --memory-swap and --cpus
	// were given, if only as "": docker refuses an empty size or number of CPUs
	// (`-m "$LIMIT"` with LIMIT unset), and strata ran the container without the limit.
	memorySet     bool
	memorySwapSet bool
	cpusSet       bool
	cgroupOpts
	create bool // `strata create`: make the container, start nothing
}

// noteChanged records which of cmd's flags were given, for those whose empty value is not
// their absence.
func (o *runOptions) noteChanged(cmd *cobra.Command) {
	f := cmd.Flags()
	o.entrypointSet = f.Changed("entrypoint")
	o.stopTimeoutSet = f.Changed("stop-timeout")
	o.shmSizeSet = f.Changed("shm-size")
	o.memorySet = f.Changed("memory")
	o.memorySwapSet = f.Changed("memory-swap")
	o.cpusSet = f.Changed("cpus")
	o.reservationSet = f.Changed("memory-reservation")
}

func newRunCmd(g *globals) *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Run a command in a new container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.noteChanged(cmd)
			keys, err := runner.ParseDetachKeys(o.detachKeys)
			if err != nil {
				return usageError(cmd, fmt.Errorf("invalid --detach-keys %s: %w", quoteValue(o.detachKeys), err))
			}
			o.keys = keys
			return runRun(cmd.Context(), g, &o, args[0], args[1:], cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVarP(&o.detach, "detach", "d", false, "run in the background and print the container ID")
	cmd.Flags().BoolVar(&o.sigProxy, "sig-proxy", true, "pass the signals strata receives on to the container")
	cmd.Flags().StringVar(&o.detachKeys, "detach-keys", runner.DefaultDetachKeys, "with -it, the keys that detach, leaving the container running (as attach's)")
	addContainerFlags(cmd, &o)
	return cmd
}

// newCreateCmd is docker create: the container as run would make it, not started; `strata
// start` runs it.
func newCreateCmd(g *globals) *cobra.Command {
	o := runOptions{create: true}
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container without starting it",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.noteChanged(cmd)
			return runRun(cmd.Context(), g, &o, args[0], args[1:], cmd.OutOrStdout())
		},
	}
	addContainerFlags(cmd, &o)
	return cmd
}

// addContainerFlags adds the flags run and create share to cmd.
func addContainerFlags(cmd *cobra.Command, o *runOptions) {
	f := cmd.Flags()
	// Everything after IMAGE belongs to the container's command.
	f.SetInterspersed(false)
	f.StringVar(&o.name, "name", "", "assign a name to the container")
	f.StringVar(&o.cidFile, "cidfile", "", "write the container ID to this file (refused if it exists)")
	f.BoolVar(&o.rm, "rm", false, "remove the container when it exits")
	f.BoolVarP(&o.interactive, "interactive", "i", false, "keep stdin open")
	f.BoolVarP(&o.tty, "tty", "t", false, "allocate a pseudo-terminal")
	f.StringVar(&o.entrypoint, "entrypoint", "", "override the image's entrypoint")
	stringArrayVar(f, &o.env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to take it from here)")
	stringArrayVar(f, &o.envFiles, "env-file", "", nil, "read environment variables from a file")
	stringArrayVar(f, &o.labels, "label", "l", nil, "set a label on the container (KEY=VALUE, or KEY for an empty value)")
	stringArrayVar(f, &o.labelFiles, "label-file", "", nil, "read labels from a file (KEY=VALUE lines)")
	f.StringVarP(&o.workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVarP(&o.user, "user", "u", "", "user[:group] to run as (name or number)")
	// -h is --hostname, as in docker run; help is --help only.
	f.Bool("help", false, "help for "+cmd.Name())
	f.StringVarP(&o.hostname, "hostname", "h", "", "container host name (default: the short container ID)")
	f.StringVar(&o.domainname, "domainname", "", "container NIS domain name")
	stringArrayVar(f, &o.volumes, "volume", "v", nil, "bind mount a host path, /host:/ctr[:ro], mount a named volume, name:/ctr[:ro] (made on first use), or make an anonymous volume, /ctr")
	stringArrayVar(f, &o.mounts, "mount", "", nil, "attach a mount: type=bind,source=…,target=…[,readonly], type=tmpfs,target=…, or type=volume,source=NAME,target=… (a named volume; anonymous without source)")
	stringArrayVar(f, &o.volumesFrom, "volumes-from", "", nil, "mount the volumes and binds of another container, CONTAINER[:ro|rw] (its tmpfs mounts stay its own; -v, --mount and --tmpfs win at the same path)")
	stringArrayVar(f, &o.tmpfs, "tmpfs", "", nil, "mount a tmpfs: /path[:options]")
	f.BoolVar(&o.readOnly, "read-only", false, "mount the container's root read-only")
	f.StringVar(&o.network, "network", runner.NetworkNone, "network: none (only lo), host, or container:NAME|ID (join a running container's)")
	// docker keeps --net as a hidden alias of --network, and scripts still use it.
	f.StringVar(&o.network, "net", runner.NetworkNone, "alias of --network")
	_ = f.MarkHidden("net")
	f.BoolVar(&o.init, "init", false, "run a small init as PID 1 that forwards signals and reaps")
	f.BoolVar(&o.privileged, "privileged", false, "give the container every capability and no seccomp filter")
	stringArrayVar(f, &o.capAdd, "cap-add", "", nil, "add a Linux capability")
	stringArrayVar(f, &o.capDrop, "cap-drop", "", nil, "drop a Linux capability")
	stringArrayVar(f, &o.securityOpt, "security-opt", "", nil, "seccomp=unconfined|builtin|PROFILE.json (Docker's format), no-new-privileges[=BOOL]; label=disable and apparmor=unconfined are accepted (strata applies neither), and writable-cgroups as strata mounts the cgroups (false; true with --privileged)")
	stringArrayVar(f, &o.addHosts, "add-host", "", nil, "add a host:ip line to /etc/hosts")
	stringArrayVar(f, &o.dns, "dns", "", nil, "set a DNS server")
	stringArrayVar(f, &o.dnsSearch, "dns-search", "", nil, `set a DNS search domain ("." for none)`)
	stringArrayVar(f, &o.dnsOptions, "dns-option", "", nil, "set a DNS option, e.g. ndots:2")
	f.StringVarP(&o.memory, "memory", "m", "", "memory limit (e.g. 512m)")
	f.StringVar(&o.memorySwap, "memory-swap", "", "memory plus swap limit, or -1 for unlimited swap")
	f.StringVar(&o.cpus, "cpus", "", "number of CPUs (e.g. 1.5)")
	f.VarP((*cpuSharesValue)(&o.cpuShares), "cpu-shares", "c", "relative CPU weight")
	f.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs the container may use (e.g. 0-1)")
	f.Int64Var(&o.pidsLimit, "pids-limit", 0, "maximum number of processes")
	addCgroupFlags(f, &o.cgroupOpts)
	f.StringSliceVar(&o.namespaces, "ns", nil, "extra namespaces: time=new gives the container its own clocks")
	f.StringVar(&o.timeOffset, "time-offset", "", "with --ns time=new: monotonic=SECS,boottime=SECS")
	addNamespaceFlags(f, &o.ns)
	f.StringVar(&o.cgroupns, "cgroupns", "", `cgroup namespace: "private" (the default: its own) or "host" (the host's)`)
	f.StringVar(&o.platform, "platform", "", "os/arch[/variant] of the image to run, from a multi-platform one in the store (default: this host's)")
	f.StringVar(&o.pull, "pull", "never", `pull the image first: "always", "missing" (when it is not in the store) or "never" (say to pull it)`)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print nothing of a --pull's progress")
	addContentTrustFlag(cmd)
	f.StringVar(&o.stopSignal, "stop-signal", "", "signal stop sends first (default: the image's STOPSIGNAL, else SIGTERM)")
	f.IntVar(&o.stopTimeout, "stop-timeout", runner.DefaultStopTimeout, "seconds stop waits before SIGKILL when not given -t")
	addHealthFlags(f, &o.health)
	stringArrayVar(f, &o.ulimits, "ulimit", "", nil, "set a resource limit, TYPE=SOFT[:HARD] (e.g. nofile=1024:2048; -1 is unlimited)")
	stringArrayVar(f, &o.groupAdd, "group-add", "", nil, "add a supplementary group (a name in the container's /etc/group, or a number)")
	f.StringVar(&o.shmSize, "shm-size", "", "size of /dev/shm, bytes or with a unit b, k, m or g (default 64m)")
	f.StringVar(&o.restart, "restart", "no", "restart policy when the container exits: no, always, unless-stopped or on-failure[:max-retries] (its monitor restarts it; without -d, run shows the first run and exits with its status; nothing restarts it after a reboot)")
	f.StringVar(&o.logDriver, "log-driver", runner.LogDriverJSONFile, "logging driver: json-file (log.json, which logs reads), local (json-file bounded as docker's local: 20 MiB files, 5, gzipped) or none (no log kept)")
	stringArrayVar(f, &o.logOpts, "log-opt", "", nil, "json-file and local option: max-size=SIZE (10k, 10m, 1g: rotate log.json past it), max-file=N (files kept, with max-size), compress=true (gzip the rotated files); labels=, labels-regex=, env=, env-regex=, tag= (attributes of each entry: logs --details)")
	f.VarP(&o.attach, "attach", "a", "attach to STDIN, STDOUT or STDERR (default: STDOUT and STDERR)")
	stringArrayVar(f, &o.expose, "expose", "", nil, "record a port or a range as exposed, PORT[-PORT][/PROTO], as EXPOSE does (inspect shows it; nothing is published)")
	addDeviceFlags(f, &o.deviceOptions)
	// docker's flags that need what strata has not: a bridge network. Hidden, and
	// refused with a reason where an unknown flag would leave the user guessing.
	stringArrayVar(f, &o.publish, "publish", "p", nil, "not supported: needs a bridge network")
	f.BoolVarP(&o.publishAll, "publish-all", "P", false, "not supported: needs a bridge network")
	for _, name := range []string{"publish", "publish-all"} {
		_ = f.MarkHidden(name)
	}
	for _, name := range []string{"ip", "ip6", "mac-address", "network-alias", "net-alias", "link", "link-local-ip"} {
		f.Var(&bridgeFlag{name: name, given: &o.bridgeOnly}, name, "not supported: needs a bridge network")
		_ = f.MarkHidden(name)
	}
	// docker keeps --dns-opt as a hidden alias of --dns-option: one value, so both add to it.
	f.Var(f.Lookup("dns-option").Value, "dns-opt", "alias of --dns-option")
	_ = f.MarkHidden("dns-opt")
}

// bridgeFlag is a flag of docker's that only a bridge network gives a meaning to: its value
// is taken, and checkUnsupported refuses it with that reason rather than as an unknown flag.
type bridgeFlag struct {
	name  string
	given *[]string
}

func (b *bridgeFlag) String() string { return "" }
func (b *bridgeFlag) Type() string   { return "string" }
func (b *bridgeFlag) Set(string) error {
	if !slices.Contains(*b.given, b.name) {
		*b.given = append(*b.given, b.name)
	}
	return nil
}

// exposedPorts are the image's exposed ports and --expose's, as Config.ExposedPorts keys them.
func (o *runOptions) exposedPorts(image map[string]struct{}) (map[string]struct{}, error) {
	out := runner.ExposedPorts(image)
	for _, v := range o.expose {
		ports, err := exposedPorts("--expose", v)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = map[string]struct{}{}
		}
		for _, p := range ports {
			out[p] = struct{}{}
		}
	}
	return out, nil
}

// checkUnsupported refuses docker's flags that strata takes only to explain why not.
func (o *runOptions) checkUnsupported() error {
	if len(o.publish) > 0 || o.publishAll {
		return errors.New("publishing ports (-p, -P) needs a bridge network, which strata does not make: the container has --network none, or the host's ports with --network host")
	}
	if len(o.bridgeOnly) > 0 {
		return fmt.Errorf("--%s needs a bridge network, which strata does not make: the container has --network none (only lo), the host's with --network host, or another container's with --network container:NAME", o.bridgeOnly[0])
	}
	return nil
}

// stopConfig is the container's stop signal and timeout: the flags, else the image's
// STOPSIGNAL (a timeout left unset is stop's default). Only --stop-signal is checked, as
// docker's daemon checks the user's config before it merges the image's: an image's
// STOPSIGNAL that does not parse is recorded as it is and stop sends SIGTERM instead
// (runner.StopSignalOf), as docker's container.StopSignal falls back. No signal's name is
// longer than a few bytes, so a bad one is kept only up to maxImageStopSignal bytes: an
// image's megabyte is not copied into config.json, which every ps reads.
func (o *runOptions) stopConfig(cfg *v1.ConfigFile) (signal string, timeout *int, err error) {
	signal = o.stopSignal
	if signal != "" {
		if _, err := runner.ParseSignal(signal); err != nil {
			if len(signal) > 32 {
				// No signal is named so long; a megabyte is not repeated.
				err = fmt.Errorf("invalid signal %.32q…", signal)
			}
			return "", nil, fmt.Errorf("invalid --stop-signal: %w", err)
		}
	} else {
		signal = cutString(cfg.Config.StopSignal, maxImageStopSignal)
	}
	if o.stopTimeoutSet {
		// Any value, as docker's: a negative one is stop's "forever" (stopGrace).
		t := o.stopTimeout
		timeout = &t
	}
	return signal, timeout, nil
}

// maxImageStopSignal is how much of an image's STOPSIGNAL a container records: the longest
// name docker knows, "SIGRTMAX-14", is 11 bytes, so a longer value is never a signal and
// stops with SIGTERM whether it is cut or not.
const maxImageStopSignal = 64

// cutString is s cut to at most max bytes, never inside a rune.
func cutString(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// pullFirst pulls image as --pull asks, before the container is made: always, or when the
// store does not have it (missing), as docker run does, its progress on stderr (stdout is the
// container's).
func pullFirst(ctx context.Context, g *globals, o *runOptions, image string, platform v1.Platform) error {
	switch o.pull {
	case "", "never":
		return nil
	case "missing":
		store, err := g.openStore()
		if err != nil {
			return err
		}
		if _, _, _, err := findLocalImage(store, image, platform, o.platform != ""); err == nil {
			return nil
		}
		fmt.Fprintf(os.Stderr, "Unable to find image '%s' locally\n", image)
	case "always":
	default:
		return fmt.Errorf("invalid --pull %s: want always, missing or never", quoteValue(o.pull))
	}
	var progress io.Writer = os.Stderr
	if o.quiet {
		progress = io.Discard // as docker's -q: its error still fails the run
	}
	if err := runPull(ctx, g, pullOptions{platform: o.platform, concurrency: 3, progress: "auto"}, image, progress, progress); err != nil {
		return err
	}
	refEvent(g, "pull", image)
	return nil
}

func runRun(ctx context.Context, g *globals, o *runOptions, image string, args []string, out io.Writer) (err error) {
	// Bad flag values fail before anything is looked up or created.
	if !o.create && !o.detach {
		if err := checkTTY(o.interactive, o.tty, os.Stdin); err != nil {
			return withCode(ttyErrorCode, err)
		}
	}
	if err := o.checkUnsupported(); err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	if _, err := o.exposedPorts(nil); err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	restartPolicy, err := o.checkAttachRestart()
	if err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	logConfig, err := runner.ParseLogConfig(o.logDriver, o.logOpts)
	if err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	res, err := o.resources()
	if err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	if _, err := o.shmBytes(); err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	if _, _, err := o.stopConfig(&v1.ConfigFile{}); err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	healthcheck, err := o.health.config()
	if err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	// As docker's CLI, a bad --label is refused before the image is looked for.
	for _, l := range o.labels {
		if err := runner.ValidateLabel(l); err != nil {
			return withCode(runner.ExitOwnError, err)
		}
	}
	if len(o.ulimits) > 0 {
		us, err := runner.ParseUlimits(o.ulimits)
		if err == nil {
			err = runner.CheckUlimits(us)
		}
		if err != nil {
			return withCode(runner.ExitOwnError, err)
		}
	}
	platform := registry.DefaultPlatform()
	if o.platform != "" {
		if platform, err = registry.ParsePlatform(o.platform); err != nil {
			return withCode(runner.ExitOwnError, err)
		}
	}
	// Every other flag is checked too, as the container's Spec, before the image is looked
	// for or pulled: docker's daemon checks a container's settings before it looks for its
	// image, and a --pull downloaded the image before a typo in -v was refused.
	if err := o.checkSpec(args); err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	cid, err := createCIDFile(o.cidFile)
	if err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	defer cid.removeUnwritten()
	// As docker: a name that is no reference ("ALPINE", "a//b") is refused as such, not
	// looked for (an image ID, or a prefix of one, is looked for).
	if _, perr := registry.ParseReference(image); perr != nil && !looksLikeID(image) {
		return withCode(runner.ExitOwnError, perr)
	}
	if err := pullFirst(ctx, g, o, image, platform); err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	// Files the user named are read before anything is made or held: a FIFO or <(…) blocks
	// until its writer comes, as with docker, and nothing may wait on it meanwhile (the
	// collection lock, an early init). Their errors come from spec, which reads them again.
	runner.PreloadUserFiles(o.envFiles)
	runner.PreloadLabelFiles(o.labelFiles)
	for _, p := range o.seccompProfiles() {
		_, _ = runner.ReadUserFile(p, maxSeccompProfile)
	}
	id, err := runner.NewID()
	if err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	stdio := o.runStdio()
	if !o.create {
		// The network namespace and the cgroup first, and for a foreground run the init:
		// they are made while the image is looked up and the container created.
		runner.PrepareNetwork(id, o.network)
		early := runner.PrepareCgroup(id, res)
		defer func() {
			if rerr := early.Release(); rerr != nil && err == nil {
				err = withCode(runner.ExitOwnError, rerr)
			}
		}()
		shape := runner.InitShape{Network: o.network, Terminal: o.tty, Stdin: o.interactive, PidMode: o.ns.pid, IpcMode: o.ns.ipc, UTSMode: o.ns.uts}
		if o.detach || o.viaMonitor() {
			early.PrepareMonitor(shape)
		} else {
			early.PrepareInit(shape, stdio)
		}
	}
	store, err := g.openStore()
	if err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	// From the image's lookup to the container's record, no garbage collection (an rmi's, a
	// prune's) may run: it computes what is in use from images and container records, and
	// would take this image's blobs and layer dirs, unpacked or prepared as lowers, for garbage.
	release, err := store.Hold(ctx)
	if err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	defer func() {
		if release != nil {
			release()
		}
	}()
	_, imageID, img, err := findLocalImage(store, image, platform, o.platform != "")
	if err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return withCode(runner.ExitOwnError, fmt.Errorf("reading the config of %s: %w", image, err))
	}
	if err := checkImageOS(cfg.OS); err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	snap, err := g.openSnapshotter()
	if err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	warnSnapshotter(snap)
	if err := ensureLayers(ctx, store, snap, img, cfg); err != nil {
		var damaged *snapshotter.DamagedError
		if errors.As(err, &damaged) {
			err = damagedLayerError(image, damaged)
		} else if errors.Is(err, snapshotter.ErrDiffIDMismatch) {
			err = fmt.Errorf("image %s: %w", image, err) // which image to remove
		}
		return withCode(runner.ExitOwnError, err)
	}
	spec, err := o.spec(cfg, args)
	if err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	stopSignal, stopTimeout, err := o.stopConfig(cfg)
	if err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	labels, err := runner.MergeLabels(cfg.Config.Labels, o.labels, o.labelFiles)
	if err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	exposed, err := o.exposedPorts(cfg.Config.ExposedPorts)
	if err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	containers, err := g.openContainers()
	if err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	if err := resolveNSModes(containers, &spec); err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	// --volumes-from: the other containers' binds and volumes, before the image's VOLUMEs
	// are placed (one a lent mount covers gets no volume of its own) and before the named
	// volumes are held (volume.go: the lent ones must still be there).
	if spec.Mounts, err = volumesFromMounts(ctx, containers, o.volumesFrom, spec.Mounts); err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	// Each -v /path, --mount type=volume and VOLUME of the image that no -v, --mount or
	// --tmpfs covers becomes an anonymous volume in the container dir, filled from the image
	// below, as docker run makes them.
	var volumes []mount.Mount
	if len(cfg.Config.Volumes) > 0 || hasVolume(spec.Mounts) {
		spec.Mounts, err = runner.AnonymousVolumes(cfg.Config.Volumes, spec.Mounts, filepath.Join(containers.Dir(), id))
		if err != nil {
			return withCode(runner.ExitOwnError, err)
		}
		for _, m := range spec.Mounts {
			if _, named := runner.NamedVolume(m); m.Type == runner.TypeVolume && !named {
				volumes = append(volumes, m)
			}
		}
	}
	// A --device at a mount point of the container is not made, as docker's runc makes
	// none there (its mknod finds the mount point and skips it silently): said once here.
	for _, n := range runner.DevicesOnMounts(spec) {
		fmt.Fprintln(os.Stderr, oneLine(fmt.Sprintf("strata: warning: --device %s:%s: %s is a mount point of the container, where no device is made (nor is one with docker)", n.Source, n.Target, path.Clean("/"+n.Target))))
	}
	// Named volumes (-v NAME:/path) are made on first use and held until the container is
	// recorded (volume.go).
	vstore := g.volumeStore()
	namedVolumes, releaseVolumes, err := prepareNamedVolumes(ctx, g, vstore, spec.Mounts)
	if err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	attached := o.create || !o.detach
	create := containers.CreateWithID
	if !o.create {
		// This process runs it, or starts its monitor: its monitor from the start, so a run
		// killed before the container started leaves an orphan the next command sweeps.
		create = containers.CreateToRun
	}
	c, err := create(id, runner.Config{
		Spec:           spec,
		Name:           o.name,
		Image:          image,
		ImageID:        imageID.String(),
		AutoRemove:     o.rm,
		StopSignal:     stopSignal,
		StopTimeout:    stopTimeout,
		EntrypointArgs: len(runner.EffectiveEntrypoint(cfg.Config.Entrypoint, o.entrypointOverride())),
		ExposedPorts:   exposed,
		Labels:         labels,
		// As docker's CLI asks them: stdout and stderr, stdin with -i; nothing for -d.
		AttachStdin:  attached && (o.interactive || o.attach.has("stdin")),
		AttachStdout: attached && o.attach.has("stdout"),
		AttachStderr: attached && o.attach.has("stderr"),
		StdinOnce:    attached && o.interactive,
		// As docker's daemon merges the image's config into the container's.
		ArgsEscaped:   cfg.Config.ArgsEscaped && !o.entrypointSet && len(args) == 0,
		Healthcheck:   runner.MergeHealthConfig(healthcheck, imageHealthcheck(img, cfg)),
		RestartPolicy: restartPolicy,
		LogConfig:     logConfig,
		ConsoleSize:   o.consoleSize(),
		VolumesFrom:   o.volumesFrom,
	}, func(dir string) ([]mount.Mount, error) {
		rootMounts, err := snap.Prepare(ctx, dir, cfg.RootFS.DiffIDs, o.readOnly)
		if err == nil && o.readOnly {
			// A read-only root takes no new directory once mounted: the -v, --mount and
			// --tmpfs targets the image lacks are made now, as docker does, and the working
			// directory, which docker makes at create (a Mount without a type is a
			// directory). One past PATH_MAX is left to the init, which refuses it in a line.
			points := spec.Mounts
			if spec.Cwd != "" && len(spec.Cwd) < unix.PathMax {
				points = append(slices.Clone(spec.Mounts), mount.Mount{Target: spec.Cwd})
			}
			err = snap.AddMountpoints(ctx, dir, cfg.RootFS.DiffIDs, points)
		}
		if err == nil && len(volumes) > 0 {
			vs := make([]snapshotter.Volume, len(volumes))
			for i, v := range volumes {
				vs[i] = snapshotter.Volume{Target: v.Target, Dir: v.Source}
			}
			err = snap.PopulateVolumes(ctx, dir, cfg.RootFS.DiffIDs, vs)
		}
		if err == nil && len(namedVolumes) > 0 {
			err = copyUpVolumes(ctx, snap, dir, cfg.RootFS.DiffIDs, vstore, spec.Mounts)
		}
		if err == nil && o.rm {
			rootMounts = snapshotter.Volatile(rootMounts)
		}
		return rootMounts, err
	})
	releaseVolumes()
	// Recorded (or failed and removed): a collection now sees the container's layers in use.
	if rerr := release(); rerr != nil && err == nil {
		err = rerr
	}
	release = nil
	if err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	if err := cid.write(c.ID); err != nil {
		return withCode(runner.ExitOwnError, err)
	}
	if o.create {
		fmt.Fprintln(out, c.ID)
		return nil
	}
	if o.viaMonitor() {
		return runInteractive(ctx, containers, c, o)
	}
	if o.detach {
		if err := runner.Start(ctx, c); err != nil {
			// Start carries 126/127 for a command that cannot run; anything else is 125.
			return withCode(runner.ExitOwnError, runError(err))
		}
		fmt.Fprintln(out, c.ID)
		return nil
	}
	// From here SIGINT and SIGTERM, which end ctx, go to the container as docker run's
	// --sig-proxy passes them, and it decides: ending ctx killed it, so a `timeout` or a
	// systemd stop of strata SIGKILLed the container without its shutdown. One that came
	// before still ends the run.
	runCtx := ctx
	if ctx.Err() == nil {
		runCtx = context.WithoutCancel(ctx)
	}
	code, err := runner.RunContainer(runCtx, c, stdio)
	// What killed runs left (their --rm containers, their cgroups), once this one is done:
	// best effort, and off the start's path.
	_ = containers.SweepOrphans()
	if err != nil {
		return withCode(runner.ExitOwnError, runError(err))
	}
	return silentExit(code)
}

// checkImageOS refuses an image for another operating system than this host's, as docker's
// daemon refuses it at create (image.CheckOS): load and pull only warn of it, and its
// programs cannot run here. An image without an os is this host's, as docker reads it; one
// for another architecture is not refused here (docker warns and runs it, through binfmt).
func checkImageOS(imageOS string) error {
	if imageOS == "" || strings.EqualFold(imageOS, runtime.GOOS) {
		return nil
	}
	return fmt.Errorf("image operating system %s cannot be used on this platform", quoteValue(imageOS))
}

// imageHealthcheck is img's HEALTHCHECK as the container keeps it, nil without one. It is
// read from the raw config, which has StartInterval (HEALTHCHECK --start-interval) that cfg's
// HealthConfig lacks.
func imageHealthcheck(img v1.Image, cfg *v1.ConfigFile) *runner.HealthConfig {
	hc := cfg.Config.Healthcheck
	if hc == nil {
		return nil
	}
	var raw struct {
		Config struct {
			Healthcheck *runner.HealthConfig `json:"Healthcheck"`
		} `json:"config"`
	}
	if b, err := img.RawConfigFile(); err == nil && json.Unmarshal(b, &raw) == nil && raw.Config.Healthcheck != nil {
		return raw.Config.Healthcheck
	}
	return &runner.HealthConfig{Test: hc.Test, Interval: hc.Interval, Timeout: hc.Timeout, StartPeriod: hc.StartPeriod, Retries: hc.Retries}
}

// runError names the step (`run: exec: "x": executable file not found in $PATH`) and keeps
// the status the runner chose: 126 and 127 for a command that cannot run, 125 otherwise.
func runError(err error) error {
	err = fmt.Errorf("run: %w", err)
	var ec *runner.ExitCodeError
	if errors.As(err, &ec) {
		return &exitError{code: ec.Code, err: err}
	}
	return err
}

// findLocalImage finds an image in the store by reference, image ID or digest prefix; a ref
// that names a multi-platform index gives the image it lists for platform. explicit says
// platform came from --platform: a single-platform image for another one is then refused, as
// docker refuses it. id is what the container records as its image, the ID `strata images`
// shows: the config digest, or the index digest for an index (as docker's containerd image
// store records it).
func findLocalImage(store *cache.Store, arg string, platform v1.Platform, explicit bool) (name string, id v1.Hash, img v1.Image, err error) {
	r, err := findRef(store, arg)
	if err != nil {
		return "", v1.Hash{}, nil, err
	}
	// The name as the user knows it ("alpine:3.20.3") is what a missing platform's error names.
	desc, err := store.ImageFor(cache.Ref{Name: familiarRef(r.Name), Descriptor: r.Descriptor}, platform)
	if err != nil {
		return "", v1.Hash{}, nil, err
	}
	if img, err = store.Image(desc.Digest); err != nil {
		return "", v1.Hash{}, nil, fmt.Errorf("opening image %s: %w", arg, err)
	}
	if id, err = img.ConfigName(); err != nil {
		return "", v1.Hash{}, nil, fmt.Errorf("opening image %s: %w", arg, err)
	}
	if explicit && !r.Descriptor.MediaType.IsIndex() {
		cfg, err := img.ConfigFile()
		if err != nil {
			return "", v1.Hash{}, nil, fmt.Errorf("reading the config of %s: %w", arg, err)
		}
		have := v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
		if !cache.PlatformMatches(platform, have) {
			return "", v1.Hash{}, nil, fmt.Errorf("image %s is for %s, not the requested %s: pull it with --platform %s", arg, have.String(), platform.String(), platform.String())
		}
	}
	if r.Descriptor.MediaType.IsIndex() {
		id = r.Descriptor.Digest
	}
	return r.Name, id, img, nil
}

// damagedLayerError is the one line of a layer dir of image that lost files since its unpack
// and cannot be unpacked again: what to do. The blob comes back with a pull, and the next run
// or start unpacks the layer again from it.
func damagedLayerError(image string, damaged *snapshotter.DamagedError) error {
	return fmt.Errorf("image %s: layer %s lost files since it was unpacked (%s), and its blob is not in the store to unpack it again: pull the image again (strata pull %s), or remove it (strata rmi %s)",
		image, damaged.DiffID, damaged.How, image, image)
}

// ensureLayers unpacks from the store any layer of img whose layer dir is missing (after a
// prune, or a pull that was killed between download and unpack) or lost files since its
// unpack (snapshotter's fingerprints). It reads only the manifest
// and config: asking a stored layer for its DiffID would hash the whole blob.
func ensureLayers(ctx context.Context, store *cache.Store, snap *snapshotter.Snapshotter, img v1.Image, cfg *v1.ConfigFile) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	diffIDs := cfg.RootFS.DiffIDs
	if len(diffIDs) != len(m.Layers) {
		return fmt.Errorf("image has %d layers but its config %d diff ids", len(m.Layers), len(diffIDs))
	}
	for i, l := range m.Layers {
		// A layer dir here is used for this blob only once the blob is proven to be it:
		// one unpacked from another image's blob says nothing of this one, which a pull
		// --no-unpack or a load stored unchecked while the DiffID was not unpacked.
		err := snap.Ensure(ctx, diffIDs[i], l, func() (io.ReadCloser, error) {
			rc, err := store.OpenVerified(l)
			if err != nil {
				return nil, fmt.Errorf("layer %s is missing from the store: pull the image again: %w", l.Digest, err)
			}
			return rc, nil
		})
		// A blob that is not the layer leaves no layer dir of its own: one there after it
		// fails is another blob's. Asked only then, as the common path stats each layer
		// dir once (Ensure) besides its proof.
		if errors.Is(err, snapshotter.ErrDiffIDMismatch) && snap.Has(diffIDs[i]) {
			return notTheLayer(l.Digest, diffIDs[i], snapshotter.ErrDiffIDMismatch)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// resources parses the cgroup flags.
func (o *runOptions) resources() (cgroups.Resources, error) {
	var r cgroups.Resources
	var err error
	if o.memory != "" || o.memorySet {
		if r.Memory, err = cgroups.ParseMemory(o.memory); err != nil {
			return r, err
		}
	}
	if o.memorySwap != "" || o.memorySwapSet {
		if r.MemorySwap, err = cgroups.ParseMemorySwap(o.memorySwap); err != nil {
			return r, err
		}
	}
	if o.cpus != "" || o.cpusSet {
		if r.CPUs, err = cgroups.ParseCPUs(o.cpus); err != nil {
			return r, err
		}
	}
	o.clampCPUShares(os.Stderr)
	r.CPUShares = o.cpuShares
	r.CpusetCpus = o.cpusetCpus
	r.PidsLimit = o.pidsLimit
	r.AllDevices = o.privileged // as the runner's Spec sets it
	if err := o.cgroupOpts.apply(&r, os.Stderr); err != nil {
		return r, err
	}
	if r.Devices, err = o.deviceRules(); err != nil {
		return r, err
	}
	// Checked now: at the cgroup's creation the error would name a cgroup the user never saw.
	if err := r.Validate(); err != nil {
		return r, asGiven(err, map[string]string{"memory": o.memory, "memory-swap": o.memorySwap, "memory-reservation": o.memoryReservation, "cpus": o.cpus})
	}
	// So is a limit whose controller the host lacks (a v2 host without memory or pids).
	if err := cgroups.CheckSupported(r); err != nil {
		return r, err
	}
	if r.CpusetMems != "" {
		if err := cgroups.CheckMemsOnline(r.CpusetMems); err != nil {
			return r, err
		}
	}
	if r.CpusetCpus != "" {
		// Before the container is made, as docker's create: a start could never make its cgroup.
		return r, cgroups.CheckCpusOnline(r.CpusetCpus)
	}
	return r, nil
}

// The bounds of cpu.shares in the kernel (MIN_SHARES, MAX_SHARES), as docker's daemon
// clamps --cpu-shares to them on cgroup v1.
const (
	minCPUShares = 2
	maxCPUShares = 262144
)

// cpuSharesValue is --cpu-shares: a whole number from 0 to docker's bound, its flag's int64
// (past it "out of range", where a uint64 took 2^64-1 and clamped it with a warning).
type cpuSharesValue uint64

func (v *cpuSharesValue) Set(s string) error {
	n, err := strconv.ParseUint(s, 0, 63) // base 0, as pflag's: 0x400 is 1024
	if err != nil {
		return err
	}
	*v = cpuSharesValue(n)
	return nil
}

func (v *cpuSharesValue) String() string { return strconv.FormatUint(uint64(*v), 10) }
func (v *cpuSharesValue) Type() string   { return "uint64" }

// clampCPUShares brings a --cpu-shares out of the kernel's bounds into them, with docker's
// warning on w, and the run goes on: docker takes 1 as 2 and 262145 as 262144 (0 is no
// limit). It changes o, so the second call of resources in a run warns no more.
func (o *runOptions) clampCPUShares(w io.Writer) {
	switch {
	case o.cpuShares == 0:
	case o.cpuShares < minCPUShares:
		fmt.Fprintf(w, "WARNING: Changing requested CPUShares of %d to minimum allowed of %d\n", o.cpuShares, minCPUShares)
		o.cpuShares = minCPUShares
	case o.cpuShares > maxCPUShares:
		fmt.Fprintf(w, "WARNING: Changing requested CPUShares of %d to maximum allowed of %d\n", o.cpuShares, maxCPUShares)
		o.cpuShares = maxCPUShares
	}
}

// shmBytes parses --shm-size as docker reads it (its memory units); 0, or no flag, is the
// runner's default size. An empty value is refused, as docker refuses it.
func (o *runOptions) shmBytes() (int64, error) {
	if o.shmSize == "" && !o.shmSizeSet {
		return 0, nil
	}
	n, err := cgroups.ParseMemory(o.shmSize)
	if err != nil {
		var ve *cgroups.ValueError
		if errors.As(err, &ve) {
			ve.What = "--shm-size"
		}
		return 0, err
	}
	return n, nil
}

// entrypointOverride is --entrypoint's value, or nil when it was not given.
func (o *runOptions) entrypointOverride() *string {
	if o.entrypointSet {
		return &o.entrypoint
	}
	return nil
}

// spec turns the image config and the flags into the runner's Spec (without the container's
// ID, dir and root mounts, which come from creating it).
func (o *runOptions) spec(cfg *v1.ConfigFile, args []string) (runner.Spec, error) {
	argv := runner.MergeCommand(cfg.Config.Entrypoint, cfg.Config.Cmd, o.entrypointOverride(), args)
	if len(argv) == 0 {
		return runner.Spec{}, runner.ErrNoCommand
	}
	env, err := runner.MergeEnv(cfg.Config.Env, o.env, o.envFiles)
	if err != nil {
		return runner.Spec{}, err
	}
	var mounts []mount.Mount
	for _, v := range o.volumes {
		m, err := runner.ParseVolume(v)
		if err != nil {
			return runner.Spec{}, err
		}
		mounts = append(mounts, m)
	}
	for _, v := range o.mounts {
		m, err := runner.ParseMount(v)
		if err != nil {
			return runner.Spec{}, err
		}
		mounts = append(mounts, m)
	}
	for _, v := range o.tmpfs {
		m, err := runner.ParseTmpfs(v)
		if err != nil {
			return runner.Spec{}, err
		}
		mounts = append(mounts, m)
	}
	res, err := o.resources()
	if err != nil {
		return runner.Spec{}, err
	}
	ulimits, err := runner.ParseUlimits(o.ulimits)
	if err != nil {
		return runner.Spec{}, err
	}
	shm, err := o.shmBytes()
	if err != nil {
		return runner.Spec{}, err
	}
	// Cleaned as docker's SetupWorkingDirectory cleans it: the init chdirs to the path as
	// given, and "/a/../b" would go through an /a that nothing made. A relative one is left
	// for the Spec's check to refuse.
	cwd := firstNonEmpty(o.workdir, cfg.Config.WorkingDir)
	if path.IsAbs(cwd) {
		cwd = path.Clean(cwd)
	}
	// Kept in docker's name:ip form, whichever separator was typed, as inspect shows them.
	var extraHosts []string
	for _, h := range o.addHosts {
		n, err := runner.NormalizeExtraHost(h)
		if err != nil {
			return runner.Spec{}, err
		}
		extraHosts = append(extraHosts, n)
	}
	var dns []string
	for _, d := range o.dns {
		n, err := runner.NormalizeDNS(d)
		if err != nil {
			return runner.Spec{}, err
		}
		dns = append(dns, n)
	}
	var dnsSearch []string
	for _, d := range o.dnsSearch {
		n, err := runner.NormalizeDNSSearch(d)
		if err != nil {
			return runner.Spec{}, err
		}
		dnsSearch = append(dnsSearch, n)
	}
	s := runner.Spec{
		Args:       argv,
		Env:        env,
		Cwd:        cwd,
		User:       firstNonEmpty(o.user, cfg.Config.User),
		Hostname:   o.hostname,
		Domainname: o.domainname,
		Terminal:   o.tty,
		Stdin:      o.interactive,
		ReadOnly:   o.readOnly,
		Network:    o.network,
		Resources:  res,
		CapAdd:     o.capAdd,
		CapDrop:    o.capDrop,
		Privileged: o.privileged,
		Init:       o.init,
		ExtraHosts: extraHosts,
		DNS:        dns,
		DNSSearch:  dnsSearch,
		DNSOptions: o.dnsOptions,
		Mounts:     mounts,
		Ulimits:    ulimits,
		GroupAdd:   o.groupAdd,
		ShmSize:    shm,
	}
	if err := o.applyDevices(&s); err != nil {
		return runner.Spec{}, err
	}
	if s.Time, err = runner.ParseTimeNamespace(o.namespaces, o.timeOffset); err != nil {
		return runner.Spec{}, err
	}
	if s.CgroupNS, err = runner.ParseCgroupNS(o.cgroupns); err != nil {
		return runner.Spec{}, err
	}
	if err := o.ns.apply(&s); err != nil {
		return runner.Spec{}, err
	}
	for _, so := range o.securityOpt {
		k, v, hasValue := splitSecurityOpt(so)
		switch {
		case k == "no-new-privileges" && !hasValue:
			s.NoNewPrivileges = true
		case k == "no-new-privileges":
			if s.NoNewPrivileges, err = strconv.ParseBool(v); err != nil {
				return runner.Spec{}, fmt.Errorf("invalid --security-opt %s: want true or false", quoteValue(so))
			}
			if !s.NoNewPrivileges && !o.privileged {
				// docker's default, not strata's: the init sets no_new_privs in every
				// container but a --privileged one.
				return runner.Spec{}, fmt.Errorf("--security-opt %s: %w: strata sets no_new_privs in every container that is not --privileged", quoteValue(so), runner.ErrUnsupported)
			}
		case v == "":
			return runner.Spec{}, fmt.Errorf("invalid --security-opt %s: want KEY=VALUE", quoteValue(so))
		case k == "writable-cgroups":
			// docker's (25 and later): a cgroup tree the container may write to. strata's is
			// read-only but in a --privileged container, as docker's is by default: that
			// default is taken, its opposite refused.
			writable, err := strconv.ParseBool(v)
			if err != nil {
				return runner.Spec{}, fmt.Errorf("invalid --security-opt %s: want true or false", quoteValue(so))
			}
			if writable != o.privileged {
				return runner.Spec{}, fmt.Errorf("--security-opt %s: %w: strata mounts /sys/fs/cgroup read-only in a container that is not --privileged, read-write in one that is", quoteValue(so), runner.ErrUnsupported)
			}
		case k == "seccomp" && v == "unconfined":
			s.Seccomp = runner.SeccompUnconfined
		case k == "seccomp" && v == "builtin": // docker's name for its default profile
			s.Seccomp = runner.SeccompDefault
		case k == "label" && v == "disable", k == "apparmor" && v == "unconfined":
			// What strata does anyway: it gives no SELinux label and no AppArmor profile.
		case k == "seccomp":
			// As docker: the CLI reads the profile and the spec carries its JSON.
			data, err := runner.ReadUserFile(v, maxSeccompProfile)
			if err != nil {
				return runner.Spec{}, fmt.Errorf("--security-opt seccomp: %w", err)
			}
			if _, err := seccomp.Parse(data); err != nil {
				return runner.Spec{}, fmt.Errorf("--security-opt seccomp=%s: %w", v, err)
			}
			s.Seccomp = string(data)
		default:
			return runner.Spec{}, fmt.Errorf("--security-opt %s: %w", quoteValue(so), runner.ErrUnsupported)
		}
	}
	return s, nil
}

// checkSpec checks the flags as the container's Spec takes them, on an image that has a
// command and nothing else: what spec and the Spec's own checks refuse does not depend on the
// image, but for a command, which an --entrypoint "" without one lacks whatever the image.
func (o *runOptions) checkSpec(args []string) error {
	s, err := o.spec(&v1.ConfigFile{Config: v1.Config{Cmd: []string{"sh"}}}, args)
	if err != nil {
		return err
	}
	if err := s.ValidateInput(); err != nil {
		return err
	}
	if err := o.checkNamespaceConflicts(); err != nil {
		return err
	}
	for _, v := range o.volumesFrom {
		if _, _, err := runner.ParseVolumesFrom(v); err != nil {
			return err
		}
	}
	return runner.CheckPropagation(s.Mounts)
}

// hasVolume says whether mounts hold an anonymous volume (-v /path, --mount type=volume).
func hasVolume(mounts []mount.Mount) bool {
	for _, m := range mounts {
		if m.Type == runner.TypeVolume {
			return true
		}
	}
	return false
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// maxSeccompProfile bounds a --security-opt seccomp=FILE; Docker's default profile is 20 KB.
const maxSeccompProfile = 4 << 20

// splitSecurityOpt splits a --security-opt value at its '=' (or docker's older ':', as in
// seccomp:unconfined); hasValue is false when it has neither.
func splitSecurityOpt(so string) (k, v string, hasValue bool) {
	k, v, hasValue = strings.Cut(so, "=")
	if !hasValue && k != "no-new-privileges" {
		k, v, hasValue = strings.Cut(so, ":")
	}
	return k, v, hasValue
}

// seccompProfiles lists the files --security-opt seccomp=FILE names.
func (o *runOptions) seccompProfiles() []string {
	var files []string
	for _, so := range o.securityOpt {
		if k, v, ok := splitSecurityOpt(so); ok && k == "seccomp" && v != "" && v != "unconfined" && v != "builtin" {
			files = append(files, v)
		}
	}
	return files
}

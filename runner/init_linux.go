package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"unsafe"

	"github.com/strata-run/strata/runner/cgroups"
	"golang.org/x/sys/unix"
)

// argv[0] markers: strata re-executed as one of its helpers (moby/sys reexec, runc init.go).
const (
	initMarker    = "strata-init"
	monitorMarker = "strata-monitor"
	reaperMarker  = "strata-reaper"
	// limitsExecMarker is exec's command started through the sealed binary, which sets the
	// limits the helper could not live under and execs it (runLimitsExec).
	limitsExecMarker = "strata-limits-exec"
)

// initPipeFD is the init's end of the socketpair with its parent (ExtraFiles[0]).
const initPipeFD = 3

// containerUmask is the umask a container's command starts with, as with docker (runc's
// default), not the one of the shell that ran strata.
const containerUmask = 0o022

// initResult is one message from the init: {"exec":true} right before it execs the command,
// or the error that stopped it. The socket is close-on-exec, so after "exec" the parent reads
// either an exec error or EOF, which means the command runs (the trick os/exec uses for its
// own exec errors). EOF without "exec" means the init died while setting up.
type initResult struct {
	Exec bool `json:"exec,omitempty"`
	// Console says the message carries the pty master of the command's terminal (-t).
	Console bool   `json:"console,omitempty"`
	Error   string `json:"error,omitempty"`
	Code    int    `json:"code,omitempty"`
	// Kind names the sentinel the error wraps (see remoteSentinels), if any.
	Kind string `json:"kind,omitempty"`
}

// remoteSentinels are the sentinels an init error may wrap. They cross the socket by name, so
// the caller of Run can still branch with errors.Is(err, ErrUnknownUser).
var remoteSentinels = map[string]error{
	"unknown-user": ErrUnknownUser,
	"unsupported":  ErrUnsupported,
	"no-command":   ErrNoCommand,
	"command-path": errCommandPath,
}

// errCommandPath marks a command path that a run cannot start for a reason other than its
// being missing (127) or not runnable (126): a file on the way (ENOTDIR), a symlink loop
// (ELOOP), a name too long. docker's CLI exits 125 for those: runc's exec.LookPath fails the
// create, and the CLI gives 127 and 126 only to "no such file", "permission denied" and "is
// a directory". exec keeps 126 for them, as docker's daemon gives every failed exec.
var errCommandPath = errors.New("command path")

type commandPathError struct{ err error }

func (e commandPathError) Error() string   { return e.err.Error() }
func (e commandPathError) Unwrap() []error { return []error{e.err, errCommandPath} }

// startLookupError is lookPath's error as a run's start reports it (errCommandPath).
func startLookupError(err error) error {
	var ec *ExitCodeError
	if !errors.As(err, &ec) || ec.Code != ExitCannotInvoke || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EISDIR) {
		return err
	}
	return &ExitCodeError{Code: ExitOwnError, Err: commandPathError{ec.Err}}
}

// sentinelKind returns the remoteSentinels name of the sentinel err wraps, or "".
func sentinelKind(err error) string {
	for kind, s := range remoteSentinels {
		if errors.Is(err, s) {
			return kind
		}
	}
	return ""
}

// remoteError is an error the init reported: its message, and the sentinel it wrapped.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }

// Unwrap returns the sentinel the init's error wrapped, or nil.
func (e *remoteError) Unwrap() error { return e.sentinel }

// MaybeInit runs this process as one of strata's helpers when argv[0] says so, and never
// returns in that case. main must call it first, before cobra or anything else looks at the
// arguments; runner's TestMain does the same so the test binary can be its own init.
func MaybeInit() {
	switch os.Args[0] {
	case initMarker:
		runInit()
	case monitorMarker:
		runMonitor()
	case nsjoinMarker:
		runNSJoin()
	case stopKillerMarker:
		runStopKiller()
	}
	// The helpers that start a command with its environment: hideGoEnv's prefix follows.
	switch marker, prefix := splitMarker(os.Args[0]); marker {
	case reaperMarker:
		runReaper(prefix)
	case limitsExecMarker:
		runLimitsExec(prefix)
	}
}

// runInit is the container's init: read the spec, build the container, exec the command.
func runInit() {
	// Capabilities, seccomp and the final execve are per thread: everything happens on this
	// one, so what was set up is what the command inherits.
	runtime.LockOSThread()
	// The init lives for milliseconds and allocates little before it execs: a collection
	// would only delay the container (and its mark workers compete for the CPU).
	debug.SetGCPercent(-1)
	// The directories and files the init makes get exactly the modes it asks for, whatever umask
	// strata was started with; the command gets Docker's 0022 (exec).
	unix.Umask(0)
	pipe := os.NewFile(initPipeFD, "init-pipe")
	args, err := parseInitArgs(os.Args[1:])
	if err == nil && args.pdeathsig {
		err = joinedPidSetup()
	}
	if err == nil {
		// The cgroup first, so that all the init does is accounted and limited there.
		err = cgroups.JoinThread(args.cgroupDirs)
	}
	if err == nil {
		err = joinPreparedNetns(args.netns)
	}
	var start initStart
	loUp := args.netns // a prepared namespace has lo up
	if err != nil {
		// reported below, as any error of the init
	} else if start, err = readInitStart(pipe); err != nil {
		err = fmt.Errorf("reading spec: %w", err)
	} else if args.netnsLater {
		loUp, err = joinLaterNetns(start.Netns)
	}
	if err == nil {
		// What the plan needs from the host: the parent sends what it read while we started
		// (0.2-0.3 ms of parsing mountinfo, which here came after the spec was sent and held
		// up the whole start); a parent that sent none leaves it to us.
		var host hostInfo
		if start.Host != nil {
			host = *start.Host
		} else {
			host = hostCgroupInfo()
		}
		size := unix.Winsize{Row: start.Rows, Col: start.Cols}
		err = initContainer(start.Spec.withDefaults(), host, loUp, size, func() (goAhead, error) {
			m, err := readGoAhead(pipe)
			if err != nil {
				return m, fmt.Errorf("waiting for strata: %w", err)
			}
			if !m.Go {
				return m, errors.New("waiting for strata: told to stop")
			}
			return m, nil
		})
	}
	code := ExitOwnError
	var ec *ExitCodeError
	if errors.As(err, &ec) {
		code = ec.Code
	}
	_ = json.NewEncoder(pipe).Encode(initResult{Error: clipError(err.Error()), Code: code, Kind: sentinelKind(err)})
	os.Exit(code)
}

// execAnnouncement is initResult{Exec: true} as a JSON line, written as it is: the init's
// way to exec uses no encoding/json (see initwire.go).
const execAnnouncement = `{"exec":true}` + "\n"

// announceExec tells the parent that setup is done and execve comes next.
func announceExec() error {
	_, err := unix.Write(initPipeFD, []byte(execAnnouncement))
	return err
}

// initStart is the parent's first message (initwire.go): the container's spec and, for an
// init started with initNetnsLaterArg, the path of the network namespace to join ("": make
// one). Rows and Cols are the size of the user's terminal for -t (0: none): the pty has it
// before the command runs, which might otherwise read it before strata copies it over.
type initStart struct {
	Spec  Spec
	Netns string
	Rows  uint16
	Cols  uint16
	// Host is the host's cgroup filesystems as the parent read them, in its mount namespace,
	// of which the init's is a copy (nil: the init reads them).
	Host *hostInfo
}

// goAhead is the parent's second message (initwire.go): the container may start, with this
// seccomp filter (nil: none), which the parent compiled while the init mounted the root.
type goAhead struct {
	Go      bool
	Seccomp *seccompFilter
}

// initArgs is what the init's argv carries after its marker (spawnInit writes it).
type initArgs struct {
	netns      bool     // initNetnsFD is a network namespace to join (initNetnsArg)
	netnsLater bool     // the first message names the namespace (initNetnsLaterArg)
	pdeathsig  bool     // the init sets its own parent-death signal (initPdeathsigArg)
	cgroupDirs []string // v1 cgroup directories to join ("cgroup=DIR", cgroups.JoinThread)
}

// parseInitArgs reads the init's arguments.
func parseInitArgs(argv []string) (initArgs, error) {
	var a initArgs
	for _, arg := range argv {
		switch dir, isCgroup := strings.CutPrefix(arg, initCgroupArg); {
		case arg == initNetnsArg:
			a.netns = true
		case arg == initNetnsLaterArg:
			a.netnsLater = true
		case arg == initPdeathsigArg:
			a.pdeathsig = true
		case isCgroup && filepath.IsAbs(dir):
			a.cgroupDirs = append(a.cgroupDirs, dir)
		default:
			return a, fmt.Errorf("unknown init argument %q", arg)
		}
	}
	return a, nil
}

// initContainer builds the container and execs its command; it returns only on error.
// host is hostCgroupInfo's; netnsReady says the init is in a network namespace with lo up;
// awaitGoAhead returns once the parent says the container may start.
func initContainer(spec Spec, host hostInfo, netnsReady bool, size unix.Winsize, awaitGoAhead func() (goAhead, error)) error {
	// The init is in the container's cgroup already (born there, or JoinThread). The steps
	// before the plan's join run while the parent compiles the seccomp filter.
	// Nothing we mount may propagate back to the host's mount namespace: / is rprivate, or
	// rslave for a bind that asks for slave or shared propagation (rootPropagation).
	if err := unix.Mount("", "/", "", rootPropagation(spec), ""); err != nil {
		return fmt.Errorf("making / rprivate or rslave: %w", err)
	}
	if spec.UTSMode != NSHost { // the host's UTS namespace keeps the host's name
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("setting hostname: %w", err)
		}
		if spec.Domainname != "" {
			if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
				return fmt.Errorf("setting domainname: %w", err)
			}
		}
	}
	if spec.Network == NetworkNone && !netnsReady { // a prepared one has lo up
		if err := loopbackUp(); err != nil {
			return fmt.Errorf("bringing up lo: %w", err)
		}
	}
	rootfs := filepath.Join(spec.Dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return fmt.Errorf("mounting rootfs: %w", err)
	}
	if spec.Privileged {
		host.Devices = hostDeviceNodes() // only a privileged container gets them
	}
	steps := planWith(spec, host)
	join := slices.IndexFunc(steps, func(s Step) bool { return s.Op == OpJoin })
	if join < 0 {
		return errors.New("mounting rootfs: the plan has no join step")
	}
	pivoted := slices.ContainsFunc(steps[:join], func(s Step) bool { return s.Op == OpPivot })
	// The parent writes the etc files after it sent the spec, while we mount the root, and
	// says go ahead once they are written: that is awaited before the first of their binds.
	etc := slices.IndexFunc(steps[:join], func(s Step) bool { return s.Op == OpBind && isEtcFile(spec, s.Source) })
	if etc < 0 {
		etc = join
	}
	applier := newPlanApplier(rootfs)
	if err := applier.apply(steps[:etc]); err != nil {
		return err
	}
	ahead, err := awaitGoAhead()
	if err != nil {
		return err
	}
	if err := applier.apply(steps[etc:join]); err != nil {
		return err
	}
	var cmd *command
	if pivoted {
		// The container's files are in place: its user and command are found now too.
		if cmd, err = prepareCommand(spec, size); err != nil {
			return err
		}
	}
	if ahead.Seccomp == nil && spec.seccompConfined() {
		return errors.New("loading seccomp filter: strata sent none")
	}
	// Cgroup namespace now, not at clone: the namespace's root is the cgroup we are in when
	// it is created, and the cgroup filesystems mounted below show that root. With
	// --cgroupns host the init keeps the host's, and they show the host's whole hierarchies.
	if spec.CgroupNS != CgroupNSHost {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("creating cgroup namespace: %w", err)
		}
	}
	if err := enterTimeNamespace(spec.Time); err != nil {
		return err
	}
	if err := applier.apply(steps[join+1:]); err != nil {
		return err
	}
	if cmd == nil {
		if cmd, err = prepareCommand(spec, size); err != nil {
			return err
		}
	}
	if err := enterWorkdir(spec.Cwd); err != nil {
		return err
	}
	cmd.seccomp = ahead.Seccomp
	cmd.nullSrc = applier.nullSrc
	return cmd.exec(spec)
}

// command is the container's process as prepareCommand resolved it, ready for exec.
type command struct {
	user    User
	caps    []int
	env     []string
	seccomp *seccompFilter // from the parent (goAhead); nil: none
	// nullSrc is the null device the plan kept before a user's mount covered /dev ("": the
	// container's /dev/null), for a stdin without -i.
	nullSrc string
}

// prepareCommand does, in the container's root, what exec needs and that needs no privilege
// dropped yet: the user from the image's files and the terminal.
func prepareCommand(spec Spec, size unix.Winsize) (*command, error) {
	// openRegular: the image may make /etc/passwd a FIFO (an open that never returns) or a
	// symlink to /dev/urandom (a read that never ends); both count as absent.
	passwd := openRegular("/etc/passwd") // absent: numeric users only, as docker
	group := openRegular("/etc/group")
	// Reading them may allocate as much as the image's files are big: collect meanwhile.
	gc := debug.SetGCPercent(100)
	user, err := ResolveUserGroups(spec.User, spec.GroupAdd, fileOrNil(passwd), fileOrNil(group))
	debug.SetGCPercent(gc)
	passwd.Close()
	group.Close()
	if err != nil {
		return nil, fmt.Errorf("setting user: %w", err)
	}
	env, err := withDefaultEnv(spec.Env, spec.Hostname, user.Home, spec.Terminal)
	if err != nil {
		return nil, fmt.Errorf("setting user: %w", err)
	}
	c := &command{user: user, env: env}
	if c.caps, err = capabilities(spec); err != nil {
		return nil, err
	}
	if spec.Terminal {
		if err := setupConsole(user.UID, size); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// enterWorkdir changes to the container's working directory, once every step of the plan is
// done: one under /sys/fs/cgroup is in the cgroup filesystems mounted last, and entered before
// them it was the dir beneath them (an empty dir of sysfs).
func enterWorkdir(cwd string) error {
	if err := unix.Chdir(cwd); err != nil {
		return fmt.Errorf("changing to working directory %s: %w", cwd, err)
	}
	// A working directory reached through a leaked host fd (/proc/self/fd/N) would sit outside
	// the container's root, and getcwd says so (CVE-2024-21626); refuse to start there.
	if wd, err := unix.Getwd(); err != nil || !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("working directory %s is outside the container", cwd)
	}
	return nil
}

// exec drops to the command's user and capabilities, finds the executable as that user,
// installs the seccomp filter and execs it. It returns only on error.
func (c *command) exec(spec Spec) error {
	if err := validateInitNproc(spec, c.user.UID); err != nil {
		return err
	}
	if !spec.Stdin && !spec.Terminal {
		// Without -i the clone got the host's /dev/null as stdin, which the container could
		// chmod through /proc/self/fd/0: its own takes its place. Opened before the limits
		// are set: the init holds more fds than a --ulimit nofile=8 lets it open (docker's
		// runc opens none after it sets them), and the container did not start.
		null, err := openContainerNullAt(c.nullSrc)
		if err != nil {
			return err
		}
		err = unix.Dup3(int(null.Fd()), 0, 0)
		null.Close()
		if err != nil {
			return fmt.Errorf("setting stdin: %w", err)
		}
	}
	ulimits, data, late := lateDataLimit(spec.Ulimits)
	if late {
		// The command's RLIMIT_NOFILE, which the Go runtime raised for itself and exec puts
		// back: the raw execve below would not.
		restoreNofile()
	}
	// Before the capabilities go: a container given CAP_SYS_RESOURCE keeps it, but the
	// limits are strata's to set (runc sets them in its init too).
	if err := setUlimits(ulimits); err != nil {
		return err
	}
	if late {
		if err := raiseHardLimit(unix.RLIMIT_DATA, data); err != nil {
			return fmt.Errorf("setting ulimit data: %w", err)
		}
	}
	if spec.OomScoreAdj != nil {
		// Before the capabilities go, as runc: a lower score than strata's needs them.
		if err := setOomScoreAdj(*spec.OomScoreAdj); err != nil {
			return err
		}
	}
	if err := dropPrivileges(c.user, c.caps, lastCap()); err != nil {
		return err
	}
	argv0, err := lookPath(spec.Args[0], c.env)
	if err != nil {
		return startLookupError(err)
	}
	args, env := spec.Args, c.env
	if spec.Init {
		// The reaper is this binary (the protected one /proc/self/exe points at) and runs with
		// the privileges just set up; it starts argv0 and forwards signals to it. Its runtime
		// does not read the command's GODEBUG, GOMAXPROCS… (hideGoEnv).
		// Its runtime opens files of the container's as it starts, as this user.
		if err := checkGoStart("/proc/self"); err != nil {
			return fmt.Errorf("--init: %w", err)
		}
		var prefix string
		env, prefix = hideGoEnv(env)
		env = append(env, reaperGoEnv...)
		args = append([]string{withGoEnvPrefix(reaperMarker, prefix), argv0}, spec.Args...)
		argv0 = "/proc/self/exe"
	}
	if !spec.Privileged || spec.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("setting no_new_privs: %w", err)
		}
	}
	if c.seccomp != nil {
		if err := installFilter(c.seccomp); err != nil {
			return fmt.Errorf("loading seccomp filter: %w", err)
		}
	}
	unix.Umask(containerUmask)
	// Every fd but stdio is close-on-exec from here, including any fd a library or the Go
	// runtime opened without it (CVE-2024-21626 leaked a host directory fd this way).
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("marking fds close-on-exec: %w", err)
	}
	var ex *rawExec
	if late {
		if ex, err = newRawExec(argv0, args, env); err != nil {
			return &ExitCodeError{Code: ExitCannotInvoke, Err: fmt.Errorf("exec: %q: %w", spec.Args[0], err)}
		}
	}
	if err := announceExec(); err != nil {
		return fmt.Errorf("reporting to strata: %w", err)
	}
	if late {
		settleHeap()
		err = ex.execWithLimits([]procRlimit{{Resource: unix.RLIMIT_DATA, Cur: data.Cur, Max: data.Max}})
	} else {
		err = unix.Exec(argv0, args, env)
	}
	return execError(spec, err)
}

// execError is the error of the init's execve of the command, or of --init's reaper before it.
// The command was found (lookPath); the reaper is this binary, which the kernel opens through
// /proc/self/exe, so ENOENT there is its ELF interpreter missing from the container's root: a
// dynamically linked strata (a cgo build without its embedded helper, go test -race) cannot be
// a reaper. That is strata's failure (125), not "no such file" about the command the user named.
func execError(spec Spec, err error) error {
	if spec.Init && errors.Is(err, unix.ENOENT) {
		return &ExitCodeError{Code: ExitOwnError, Err: fmt.Errorf(
			"exec: %q: starting --init's reaper: %w: this strata is dynamically linked and the container has no loader for it (build strata with CGO_ENABLED=0)",
			spec.Args[0], err)}
	}
	code := ExitCannotInvoke
	if errors.Is(err, unix.ENOENT) {
		code = ExitNotFound
	}
	return &ExitCodeError{Code: code, Err: fmt.Errorf("exec: %q: %w", spec.Args[0], err)}
}

// lateDataLimit splits a finite --ulimit data (the last one given) from the others: the init
// sets it last, in the syscall before its execve. The kernel refuses a process any new private
// writable mapping above RLIMIT_DATA, and the Go runtime maps tens of MB before main: the init,
// when it then grew its heap (exec's copy of an image's environment of 100k variables), died
// with "fatal error: runtime: out of memory" and a dump of its goroutines, after it had told
// strata the command ran (the container "exited 2").
func lateDataLimit(us []Ulimit) (others []Ulimit, data unix.Rlimit, late bool) {
	for _, u := range us {
		if u.Name == "data" {
			_, data = u.rlimit()
			late = true
		} else {
			others = append(others, u)
		}
	}
	if !late || data.Cur == unix.RLIM_INFINITY {
		return us, data, false
	}
	return others, data, true
}

// raiseHardLimit raises resource's hard limit to want's, if it is below, while the init may:
// lowering it (and the soft limit) later takes no privilege.
func raiseHardLimit(resource int, want unix.Rlimit) error {
	var have unix.Rlimit
	if err := unix.Getrlimit(resource, &have); err != nil {
		return err
	}
	if want.Max == unix.RLIM_INFINITY || (have.Max != unix.RLIM_INFINITY && want.Max > have.Max) {
		have.Max = want.Max
		return unix.Setrlimit(resource, &have)
	}
	return nil
}

// restoreNofile puts back the RLIMIT_NOFILE soft limit the init was started with, which the
// Go runtime raised for itself and which syscall.Exec restores before its execve: an exec of
// nothing fails at once, after the restore.
func restoreNofile() {
	_ = syscall.Exec("", nil, nil)
}

// rawExec is an execve whose arguments were copied before, so that nothing is allocated
// between the last limit set and the exec.
type rawExec struct {
	argv0      *byte
	argv, envv []*byte
}

func newRawExec(argv0 string, args, env []string) (*rawExec, error) {
	p, err := unix.BytePtrFromString(argv0)
	if err != nil {
		return nil, err
	}
	argv, err := syscall.SlicePtrFromStrings(args)
	if err != nil {
		return nil, err
	}
	envv, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return nil, err
	}
	return &rawExec{argv0: p, argv: argv, envv: envv}, nil
}

// settleHeap ends the collection a big environment started before the collector was turned
// off, sweep included, before execWithLimits sets a finite RLIMIT_DATA: the runtime's
// background sweeper of that cycle went on on another thread, allocated for its span sets (an
// mmap) once the limit was set, and the process died "fatal error: runtime: cannot allocate
// memory" before its execve (exec under --ulimit data with 100k variables, one in a few
// dozen on a loaded machine). runtime.GC returns once every span is swept; with the collector
// off, no cycle follows. Only the starts that set such limits pay it.
func settleHeap() { runtime.GC() }

// execWithLimits sets limits and execs; it returns only on error. Raw syscalls only: nothing
// is allocated once a limit is set. A hard limit above this process's, which it may not
// raise, is its own (as setProcRlimit sets it).
func (e *rawExec) execWithLimits(limits []procRlimit) error {
	for i := range limits {
		l := &limits[i]
		lim := unix.Rlimit{Cur: l.Cur, Max: l.Max}
		_, _, errno := unix.RawSyscall6(unix.SYS_PRLIMIT64, 0, uintptr(l.Resource), uintptr(unsafe.Pointer(&lim)), 0, 0, 0)
		if errno == unix.EPERM {
			var have unix.Rlimit
			if _, _, gerr := unix.RawSyscall6(unix.SYS_PRLIMIT64, 0, uintptr(l.Resource), 0, uintptr(unsafe.Pointer(&have)), 0, 0); gerr == 0 {
				lim.Max = min(lim.Max, have.Max)
				lim.Cur = min(lim.Cur, lim.Max)
				_, _, errno = unix.RawSyscall6(unix.SYS_PRLIMIT64, 0, uintptr(l.Resource), uintptr(unsafe.Pointer(&lim)), 0, 0, 0)
			}
		}
		if errno != 0 {
			return fmt.Errorf("setting resource limit %d: %w", l.Resource, errno)
		}
	}
	_, _, errno := unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(e.argv0)),
		uintptr(unsafe.Pointer(&e.argv[0])), uintptr(unsafe.Pointer(&e.envv[0])))
	runtime.KeepAlive(e)
	return errno
}

// runLimitsExec is exec's command in a container whose limits its helper could not live
// under (see limitsExecArgs): the sealed binary, started by the helper in the command's place,
// sets them last and execs it, as the init does. The helper, a Go program, set them on itself
// before it started the command: under a finite RLIMIT_DATA it then copied the command's
// environment and died of "fatal error: runtime: out of memory" with an image's environment
// of 100k variables; under an RLIMIT_NOFILE of a few descriptors it could not fork it.
// argv: limitsExecMarker (and hideGoEnv's prefix), RESOURCE:SOFT:HARD[,...], resolved path,
// command argv...
func runLimitsExec(goEnvPrefix string) {
	// No collection, ever: copying an environment of 100k variables started one, whose mark
	// workers then allocated (mmap) while the limits were set and before the execve, and
	// under RLIMIT_DATA the runtime died ("fatal error: runtime: cannot allocate memory"),
	// one exec in a few dozen, more often on a loaded machine. The init runs with it off too.
	debug.SetGCPercent(-1)
	code, err := limitsExec(os.Args[1:], restoreGoEnv(os.Environ(), goEnvPrefix))
	fmt.Fprintf(os.Stderr, "strata: exec: %v\n", err)
	os.Exit(code)
}

func limitsExec(args, env []string) (int, error) {
	if len(args) < 3 {
		return ExitOwnError, errors.New("want limits and a command")
	}
	var limits []procRlimit
	for _, f := range strings.Split(args[0], ",") {
		var l procRlimit
		if _, err := fmt.Sscanf(f, "%d:%d:%d", &l.Resource, &l.Cur, &l.Max); err != nil {
			return ExitOwnError, fmt.Errorf("invalid limit %q: %w", f, err)
		}
		limits = append(limits, l)
	}
	// The RLIMIT_NOFILE the command had before this binary's runtime raised it, if it is not
	// one of limits.
	restoreNofile()
	ex, err := newRawExec(args[1], args[2:], env)
	if err == nil {
		settleHeap()
		err = ex.execWithLimits(limits)
	}
	if errors.Is(err, unix.ENOENT) {
		return ExitNotFound, fmt.Errorf("%q: %w", args[2], err)
	}
	return ExitCannotInvoke, fmt.Errorf("%q: %w", args[2], err)
}

// limitsExecArgs is the argv that starts command argv (argv0 resolved) through runLimitsExec
// with limits, and the command's env hidden from its runtime with goEnvPrefix (hideGoEnv).
func limitsExecArgs(limits []procRlimit, goEnvPrefix, argv0 string, argv []string) []string {
	fs := make([]string, len(limits))
	for i, l := range limits {
		fs[i] = fmt.Sprintf("%d:%d:%d", l.Resource, l.Cur, l.Max)
	}
	return append([]string{withGoEnvPrefix(limitsExecMarker, goEnvPrefix), strings.Join(fs, ","), argv0}, argv...)
}

// fileOrNil keeps a nil *os.File from becoming a non-nil io.Reader.
func fileOrNil(f *os.File) interface{ Read([]byte) (int, error) } {
	if f == nil {
		return nil
	}
	return f
}

// lookPath finds the command as execve will run it, in the container's $PATH, with runc's
// exec.LookPath and docker's statuses: a path (a name with a slash) that is missing is 127,
// one that cannot be run 126; a name is searched in $PATH, where only an executable file
// counts, and one found nowhere is 127 "executable file not found in $PATH" whatever stood in
// its way. A script in $PATH that is not executable is not found, as docker says of an
// ENTRYPOINT ["docker-entrypoint.sh"] copied without its x bit.
func lookPath(file string, env []string) (string, error) {
	notFound := &ExitCodeError{Code: ExitNotFound, Err: fmt.Errorf("exec: %q: executable file not found in $PATH", file)}
	check := func(p string) error {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.IsDir() {
			return unix.EISDIR
		}
		return unix.Access(p, unix.X_OK)
	}
	if strings.Contains(file, "/") {
		err := check(file)
		switch {
		case err == nil:
			return file, nil
		case errors.Is(err, os.ErrNotExist):
			return "", &ExitCodeError{Code: ExitNotFound, Err: fmt.Errorf("exec: %q: stat %s: no such file or directory", file, file)}
		default:
			return "", &ExitCodeError{Code: ExitCannotInvoke, Err: fmt.Errorf("exec: %q: %w", file, err)}
		}
	}
	if file == "" {
		return "", notFound
	}
	pathEnv, _ := lookupEnv(env, "PATH")
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		// A file there that cannot be run (no x bit, a directory, a dir on the way the user
		// may not search) is passed over as any other miss, as Go's LookPath does.
		if p := filepath.Join(dir, file); check(p) == nil {
			return p, nil
		}
	}
	return "", notFound
}

// loopbackUp sets IFF_UP on lo in the current network namespace, which the kernel creates
// down. An ioctl is enough: netlink would be a dependency for one flag.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

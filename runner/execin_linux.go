package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/strata-run/strata/runner/cgroups"
	"golang.org/x/sys/unix"
)

// ExecOptions are `strata exec`'s flags. The zero value runs Args as the container's user in
// its working directory, stdin on /dev/null, and waits.
type ExecOptions struct {
	// Args is the command; it is looked up in the container's $PATH.
	Args []string
	// Env is added to the container's environment (-e KEY=VALUE), later values winning.
	Env []string
	// Cwd is the working directory inside the container (-w); default the container's.
	Cwd string
	// User overrides the container's user (-u user[:group]).
	User string
	// Terminal allocates a pseudo-terminal (-t); Stdin keeps stdin attached (-i).
	Terminal bool
	Stdin    bool
	// Privileged gives the command every capability (--privileged), whatever the container
	// has. As docker's, it still runs under the container's no_new_privs and seccomp filter,
	// the filter resolved against the container's own capabilities: a privileged exec of a
	// binary the container replaced must not get init_module, mount or open_by_handle_at
	// that the container never had. The container's masked paths stay masked.
	Privileged bool
	// Detach returns once the command runs (-d); its output is discarded. The helper that
	// started it, outside the container's pid namespace and in its cgroup, stays as its
	// parent and reaps it, as docker's shim reaps an exec'd process: an orphan would go to
	// the container's PID 1, which may reap nothing (sleep). With Terminal the helper also
	// keeps the command's terminal open and reads it: closing the terminal would end the
	// command with SIGHUP.
	Detach bool
	// DetachKeys, with Terminal and Stdin (-it, not -d), are read on the user's input: typed,
	// they end Exec with ErrDetached and leave the command running, as docker exec's
	// --detach-keys. Without -t they are bytes like any other, the command's.
	DetachKeys []byte
	// check, when not nil: a health check's run (execCheck), which takes none of the signals
	// strata gets and whose process group is killed at ctx's end or its timeout.
	check *joinCheck
}

// Exec runs a command inside running container c, as `docker exec` does: in every one of its
// namespaces (nsenter --all), in its cgroup, under its root, with its environment plus
// opts.Env, its user, capabilities, no_new_privs and seccomp filter. It returns the command's
// exit status (128+n after signal n); like Run, an *ExitCodeError with 126 or 127 when the
// command cannot be executed or is not found, 125 for strata's own failures. A container that
// is not running is ErrNotRunning.
//
// With Terminal, the command's terminal is a pty of the container's own devpts, as docker
// exec -t gives, so tty(1) names it and it shows in the container's /dev/pts. A command that is still
// running when Exec's ctx ends is killed; one started with Detach runs on, with the container.
func Exec(ctx context.Context, c *Container, opts ExecOptions, stdio Stdio) (int, error) {
	code, err := execIn(ctx, c, opts, stdio)
	if err != nil {
		err = withCode(ExitOwnError, fmt.Errorf("%s: %w", joinDoing("exec in", c, err), err))
		var ec *ExitCodeError
		errors.As(err, &ec)
		return ec.Code, err
	}
	return code, nil
}

func execIn(ctx context.Context, c *Container, opts ExecOptions, stdio Stdio) (int, error) {
	if len(opts.Args) == 0 {
		return ExitOwnError, ErrNoCommand
	}
	spec := c.Config.Spec.withDefaults()
	if opts.Terminal {
		// A container run without -t may have a volume where the terminal comes from.
		if err := validateTerminalMounts(spec.Mounts); err != nil {
			return ExitOwnError, err
		}
	}
	env, err := execEnv(spec.Env, opts.Env)
	if err != nil {
		return ExitOwnError, err
	}
	caps, err := capabilities(spec)
	if err != nil {
		return ExitOwnError, err
	}
	seccompCaps := caps
	if opts.Privileged {
		if caps, err = capabilities(Spec{Privileged: true}); err != nil {
			return ExitOwnError, err
		}
	}
	req := joinRequest{
		Args:           opts.Args,
		Env:            env,
		Cwd:            firstOf(opts.Cwd, spec.Cwd),
		Confine:        true,
		User:           firstOf(opts.User, spec.User),
		GroupAdd:       spec.GroupAdd,
		Caps:           caps,
		NoNewPrivs:     !spec.Privileged || spec.NoNewPrivileges,
		Seccomp:        spec.seccompConfined(),
		SeccompProfile: spec.Seccomp,
		SeccompCaps:    seccompCaps,
		Hostname:       spec.Hostname,
		Ulimits:        spec.Ulimits,
		Terminal:       opts.Terminal,
		Detach:         opts.Detach,
	}
	pid, pidfd, err := joinTarget(c)
	if err != nil {
		return ExitOwnError, err
	}
	defer pidfd.Close()
	if opts.Cwd != "" && !path.IsAbs(opts.Cwd) {
		// docker exec fails the same way, in runc, once the container is known to run:
		// "Cwd must be an absolute path", with 126. The helper would have taken it relative
		// to the root setns left it in, where `-w tmp` reached /tmp.
		return ExitCannotInvoke, &ExitCodeError{Code: ExitCannotInvoke, Err: fmt.Errorf("working directory %q: cwd must be an absolute path", opts.Cwd)}
	}
	if req.Flags, err = containerNamespaces(pid, allNamespaces); err != nil {
		return ExitOwnError, notRunningIfExited(pid, pidfd, err)
	}
	if req.TimeOffsets, err = timeOffsets(pid); err != nil {
		return ExitOwnError, notRunningIfExited(pid, pidfd, err)
	}
	if req.OomScoreAdj, err = oomScoreAdj(pid); err != nil {
		return ExitOwnError, notRunningIfExited(pid, pidfd, err)
	}
	if req.Rlimits, err = processRlimits(pid); err != nil {
		return ExitOwnError, notRunningIfExited(pid, pidfd, err)
	}
	cg, err := cgroups.Load(c.CgroupKey())
	if err != nil {
		return ExitOwnError, notRunningIfExited(pid, pidfd, err)
	}
	// Released, not only closed: Load's hold is an fd too, and a caller that execs again
	// and again (a monitor's health checks) kept one for each.
	defer cg.Release()
	if cgroupFrozen(cg) {
		// The helper joins the cgroup before it answers: it would freeze with the container,
		// and strata wait for its answer for good, deaf to ^C (the signals are the command's).
		return ExitOwnError, notRunningIfExited(pid, pidfd, ErrPaused)
	}
	if opts.Detach {
		stdio = Stdio{}
	}
	code, err := runJoin(ctx, req, pid, pidfd, cg, stdio, opts.Stdin, opts.DetachKeys, opts.check)
	if execJoinedHook != nil {
		execJoinedHook(pid)
	}
	// An error but a detach means the command did not start: a fork into the pid namespace
	// of a PID 1 that has died fails with ENOMEM (126), a join with ESRCH. A detach is the
	// user's, of a command that ran: it stands, whatever PID 1 did since.
	if err != nil && !errors.Is(err, ErrDetached) && errors.Is(notRunningIfExited(pid, pidfd, err), ErrNotRunning) {
		return ExitOwnError, ErrNotRunning
	}
	return code, err
}

// execJoinedHook, when not nil, is called with the PID 1's pid once runJoin returns (tests).
var execJoinedHook func(pid int)

// ErrPaused is an exec into a container whose cgroup is frozen (freezer.state, or a v2
// cgroup.freeze, set by whoever paused it), which docker refuses as well: "container is
// paused, unpause the container before exec".
var ErrPaused = errors.New("container is paused (its cgroup is frozen), unpause the container before exec")

// cgroupFrozen reports whether cg is frozen or freezing, itself or through a parent: on v1 by
// the freezer controller's freezer.state (which shows a parent's freeze too), on v2 and in a
// hybrid host's unified node by cgroup.freeze and the frozen key of cgroup.events.
func cgroupFrozen(cg *cgroups.Cgroup) bool {
	for _, d := range cg.ThreadDirs() {
		b, err := readSmallFile(filepath.Join(d, "freezer.state"), 64)
		if err == nil && strings.TrimSpace(string(b)) != "THAWED" {
			return true
		}
	}
	fd, ok := cg.BirthFD()
	if !ok {
		return false
	}
	dir := fmt.Sprintf("/proc/self/fd/%d", fd)
	if b, err := readSmallFile(filepath.Join(dir, "cgroup.freeze"), 64); err == nil && strings.TrimSpace(string(b)) == "1" {
		return true
	}
	b, err := readSmallFile(filepath.Join(dir, "cgroup.events"), 4096)
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, _ := strings.Cut(l, " "); k == "frozen" && strings.TrimSpace(v) == "1" {
			return true
		}
	}
	return false
}

// execEnv is the exec'd command's environment: the container's, then the -e values, merged
// as MergeEnv merges a run's (a NAME without "=" takes this host's value, or unsets NAME
// when the host has none, as docker's daemon merges an exec's env).
func execEnv(containerEnv, flags []string) ([]string, error) {
	return MergeEnv(containerEnv, flags, nil)
}

// joinDoing is what Exec or Enter tells it was doing when err happened: verb and the
// container, unless err names the container already, as a broken one's error does.
func joinDoing(verb string, c *Container, err error) string {
	if errors.Is(err, ErrBroken) {
		return strings.Fields(verb)[0]
	}
	return verb + " container " + shortID(c.ID)
}

// allNamespaces are the namespaces Exec joins, as nsenter --all: all that differ from strata's.
const allNamespaces = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWPID |
	unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUSER | unix.CLONE_NEWTIME

// containerNamespaces returns which of want pid's namespaces to join: those that differ
// from strata's own, as nsenter --all picks them (joining one's own user namespace is an
// error). A different user namespace is ErrUnsupported; a different time namespace is left
// out, since no Go process can join one: see timeOffsets.
func containerNamespaces(pid int, want uintptr) (uintptr, error) {
	var flags uintptr
	for _, k := range nsKinds {
		if want&k.flag == 0 {
			continue
		}
		differs, err := nsDiffers(pid, k.name)
		if err != nil {
			return 0, err
		}
		if !differs {
			continue
		}
		switch k.flag {
		case unix.CLONE_NEWUSER:
			return 0, fmt.Errorf("joining a user namespace: %w", ErrUnsupported)
		case unix.CLONE_NEWTIME:
			continue
		}
		flags |= k.flag
	}
	return flags, nil
}

// execState is joinTarget's refusal of c as its state stands: broken, restarting or not
// running.
func execState(c *Container) error {
	switch {
	case c.Broken != nil:
		return c.Broken // no config to run anything with
	case !c.State.Running() && c.State.Restarting:
		return ErrRestarting
	case !c.State.Running() || c.State.Pid <= 0:
		return ErrNotRunning
	}
	return nil
}

// CheckExec is Exec's refusal of c as its state stands (not reloaded), as Exec words it and
// with its exit code: broken, restarting, not running or paused; nil if Exec may try.
// docker's daemon refuses such a container before it reads an exec's detach keys.
func CheckExec(c *Container) error {
	err := execState(c)
	if err == nil && Paused(c) {
		err = ErrPaused
	}
	if err == ErrNotRunning {
		err = NotRunningError(c)
	}
	if err == nil {
		return nil
	}
	return withCode(ExitOwnError, fmt.Errorf("%s: %w", joinDoing("exec in", c, err), err))
}

// joinTarget returns the host pid of c's PID 1 and a pidfd of it. The pidfd pins the process:
// once it is open, setns through it reaches this process or fails, never a newcomer reusing
// the pid. Before trusting it, the process's parent must still be c's monitor.
func joinTarget(c *Container) (int, *os.File, error) {
	if err := c.Reload(); errors.Is(err, ErrNotFound) {
		return 0, nil, ErrNotFound // removed since it was looked up
	} else if errors.Is(err, os.ErrNotExist) {
		// Its state.json is lost, its config still there (Reload's removedError otherwise):
		// nothing shows that it runs, as ps shows it. It was "no such container" for a
		// container ps listed.
		return 0, nil, ErrNotRunning
	} else if err != nil {
		return 0, nil, err
	}
	if err := execState(c); err != nil {
		return 0, nil, err
	}
	pid := c.State.Pid
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return 0, nil, ErrNotRunning
	}
	if err != nil {
		return 0, nil, fmt.Errorf("opening pidfd of %d: %w", pid, err)
	}
	pidfd := os.NewFile(uintptr(fd), "pidfd")
	// As Kill: the monitor's child that is in the container's cgroup, or a state.json that
	// names another process (copied from another container, a reused PID) would have us join
	// that one.
	if ppid, err := parentPid(pid); err != nil || ppid != c.State.MonitorPid || !inCgroupOf(pid, c.ID) {
		pidfd.Close()
		return 0, nil, ErrNotRunning
	}
	return pid, pidfd, nil
}

// notRunningIfExited is ErrNotRunning when the container's PID 1 (pid, pidfd) has exited or
// is exiting, else err: a container that stops right after joinTarget found it running loses
// its /proc/<pid>/ns entries and its cgroup, and the helper cannot join it, before its exit
// shows on the pidfd (a PID 1 waits for the rest of its pid namespace to die first).
func notRunningIfExited(pid int, pidfd *os.File, err error) error {
	fds := []unix.PollFd{{Fd: int32(pidfd.Fd()), Events: unix.POLLIN}}
	if n, _ := unix.Poll(fds, 0); n > 0 {
		return ErrNotRunning
	}
	b, rerr := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if rerr != nil {
		return ErrNotRunning
	}
	// Field 9, the flags, holds PF_EXITING from the start of the exit on.
	const pfExiting = 0x4
	if i := bytes.LastIndexByte(b, ')'); i >= 0 {
		if f := bytes.Fields(b[i+1:]); len(f) > 6 {
			if flags, perr := strconv.ParseUint(string(f[6]), 10, 64); perr == nil && flags&pfExiting != 0 {
				return ErrNotRunning
			}
		}
	}
	return err
}

// parentPid reads field 4 of /proc/<pid>/stat.
func parentPid(pid int) (int, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	return strconv.Atoi(string(f[1]))
}

// firstOf returns the first non-empty string.
func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// timeOffsets returns pid's /proc/<pid>/timens_offsets when its time namespace is not
// strata's, "" otherwise. The helper cannot join that namespace (the kernel refuses setns of
// a time namespace to a multi-threaded process) but can create one with the same offsets.
func timeOffsets(pid int) (string, error) {
	differs, err := nsDiffers(pid, "time")
	if err != nil || !differs {
		return "", err
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/timens_offsets", pid))
	if err != nil {
		return "", fmt.Errorf("reading time namespace offsets: %w", err)
	}
	return string(b), nil
}

// oomScoreAdj reads pid's oom_score_adj, which the command gets in place of strata's own: a
// strata started with -900 (a systemd unit's OOMScoreAdjust) made every exec'd command all
// but immune to the OOM killer, while the container's own processes had the value it was run
// with. The container can only raise its PID 1's value, which only it pays for.
func oomScoreAdj(pid int) (*int, error) {
	b, err := readSmallFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid), 64)
	if err != nil {
		return nil, fmt.Errorf("reading oom_score_adj: %w", err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || v < -1000 || v > 1000 {
		return nil, fmt.Errorf("reading oom_score_adj: %q is no score", b)
	}
	return &v, nil
}

// processRlimits reads every resource limit of pid, which the command gets in place of those
// of the shell strata exec was started from: `ulimit -n 256; strata exec c sh` gave the
// command 256 open files where the container's processes have 1048576, and the stack, core
// and nproc limits of the user's shell, where docker's exec'd processes get the container's.
// The container can only lower its PID 1's hard limits (raising them takes a capability it
// does not have unless it was given one), which only its own exec'd commands then pay for.
//
// prlimit(2) of another user's process takes CAP_SYS_RESOURCE, which root lacks on some hosts
// (this one, in a VM or a container): there a PID 1 run with -u nobody, or --init's reaper
// as nobody, failed every exec with "operation not permitted". /proc/<pid>/limits, which
// anyone may read, gives the same values then.
func processRlimits(pid int) ([]procRlimit, error) {
	var out []procRlimit
	for r := 0; r <= unix.RLIMIT_RTTIME; r++ {
		var lim unix.Rlimit
		if err := unix.Prlimit(pid, r, nil, &lim); err != nil {
			if errors.Is(err, unix.EPERM) {
				return procLimits(pid)
			}
			return nil, fmt.Errorf("reading resource limit %d of pid %d: %w", r, pid, err)
		}
		out = append(out, procRlimit{Resource: r, Cur: lim.Cur, Max: lim.Max})
	}
	return out, nil
}

// procLimits reads pid's resource limits from /proc/<pid>/limits: a header, then one line per
// resource in the order of their numbers, "%-25s %-20s %-20s %-10s" of the name, the soft and
// hard limits ("unlimited" or a number) and the unit.
func procLimits(pid int) ([]procRlimit, error) {
	name := fmt.Sprintf("/proc/%d/limits", pid)
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading resource limits of pid %d: %w", pid, err)
	}
	lines := strings.Split(string(b), "\n")
	var out []procRlimit
	for r := 0; r <= unix.RLIMIT_RTTIME; r++ {
		if r+1 >= len(lines) || len(lines[r+1]) < 26 {
			return nil, fmt.Errorf("reading resource limits of pid %d: %s has no line for limit %d", pid, name, r)
		}
		f := strings.Fields(lines[r+1][26:])
		if len(f) < 2 {
			return nil, fmt.Errorf("reading resource limits of pid %d: %s: %q", pid, name, lines[r+1])
		}
		l := procRlimit{Resource: r}
		for i, v := range []*uint64{&l.Cur, &l.Max} {
			if f[i] == "unlimited" {
				*v = unix.RLIM_INFINITY
			} else if *v, err = strconv.ParseUint(f[i], 10, 64); err != nil {
				return nil, fmt.Errorf("reading resource limits of pid %d: %s: %q", pid, name, lines[r+1])
			}
		}
		out = append(out, l)
	}
	return out, nil
}

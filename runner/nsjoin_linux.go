package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"

	"github.com/strata-run/strata/runner/cgroups"
	"github.com/strata-run/strata/runner/seccomp"
	"golang.org/x/sys/unix"
)

// Joining a running container (Exec, Enter) goes through a helper: strata re-executed with
// the argv[0] marker nsjoinMarker. The helper gets a pidfd of the container's PID 1 and a
// joinRequest on a socket, and then, on one locked OS thread:
//
//  1. unshare(CLONE_FS), because setns into a mount namespace refuses a thread whose root and
//     cwd are shared with other threads (every Go thread shares them);
//  2. setns(pidfd, flags) joins every asked namespace in one call (Linux 5.8): all or none;
//  3. for Enter with the mount namespace, fchdir+chroot back to the host's root through an fd
//     opened before step 2, so host tools and host files stay reachable;
//  4. with a terminal, a pty from the devpts of the root it now has (the container's for
//     Exec, so tty(1) inside names it); the master goes back to strata with the answer, as
//     SCM_RIGHTS;
//  5. for Exec, the container's user, capabilities, no_new_privs and seccomp filter, exactly
//     as the init applies them (dropPrivileges, whose kernel facts come from the host's
//     /proc before step 2; the filter compiled then too);
//  6. forks the command from this same thread: a pid namespace is only entered by children
//     (pid_for_children), and the child inherits the thread's namespaces and credentials.
//
// Two namespaces cannot be joined from Go: the user namespace and the time namespace, whose
// setns the kernel refuses to a multi-threaded process (EINVAL, EUSERS); a Go program always
// has threads. strata's containers share the host's user namespace. For a container with a
// time namespace of its own (run --ns time=new) the helper creates a new one with the same
// offsets, which unshare allows: the command reads the container's clocks, from a namespace
// with another inode.
const nsjoinMarker = "strata-nsjoin"

// The helper's inherited fds: ExtraFiles[0] and [1].
const (
	nsjoinSockFD = 3
	nsjoinPidFD  = 4
)

// joinRequest is what the parent sends the helper, once it sits in the container's cgroup.
type joinRequest struct {
	// Flags are the CLONE_NEW* namespaces to join.
	Flags uintptr `json:"flags"`
	// HostRoot returns to the host's root after joining the mount namespace (Enter).
	HostRoot bool     `json:"hostRoot,omitempty"`
	Args     []string `json:"args"`
	Env      []string `json:"env,omitempty"`
	// Cwd is the command's working directory; "" keeps the one setns left (the root).
	Cwd string `json:"cwd,omitempty"`
	// Confine applies the container's user and restrictions below (Exec); Enter runs the
	// command with the caller's own credentials.
	Confine bool   `json:"confine,omitempty"`
	User    string `json:"user,omitempty"`
	// GroupAdd are the container's --group-add groups, which docker's exec'd processes get
	// too, with -u or without (its getUser adds HostConfig.GroupAdd to every user).
	GroupAdd   []string `json:"groupAdd,omitempty"`
	Caps       []int    `json:"caps,omitempty"`
	NoNewPrivs bool     `json:"noNewPrivs,omitempty"`
	Seccomp    bool     `json:"seccomp,omitempty"`
	// SeccompProfile is the container's Spec.Seccomp: "" for Docker's default, or a
	// profile's JSON (--security-opt seccomp=FILE). Used when Seccomp is set.
	SeccompProfile string `json:"seccompProfile,omitempty"`
	// SeccompCaps are the capabilities the profile is resolved against: the container's,
	// which differ from Caps for exec --privileged. Nil: the thread's bounding set once Caps
	// are applied, as the init resolves it.
	SeccompCaps []int  `json:"seccompCaps,omitempty"`
	Hostname    string `json:"hostname,omitempty"`
	// Rlimits are the container's PID 1's resource limits, which the command gets in place
	// of those of the shell strata exec was started from (Exec); Ulimits apply over them.
	Rlimits []procRlimit `json:"rlimits,omitempty"`
	// Ulimits are the container's --ulimit values, which docker's exec'd processes get too.
	Ulimits  []Ulimit `json:"ulimits,omitempty"`
	Terminal bool     `json:"terminal,omitempty"`
	// TimeOffsets are the container's /proc/<pid>/timens_offsets when it has a time
	// namespace of its own: the helper makes one with the same offsets (see below).
	TimeOffsets string `json:"timeOffsets,omitempty"`
	// OomScoreAdj is the container's PID 1's oom_score_adj, which the command gets (Exec) in
	// place of strata's own, as docker's exec'd processes get the container's.
	OomScoreAdj *int `json:"oomScoreAdj,omitempty"`
	// Detach makes the helper answer once the command runs and stay, outside strata's
	// session, as the command's parent until it exits (holdDetached); with Terminal it holds
	// the command's terminal too.
	Detach bool `json:"detach,omitempty"`
	// CgroupDirs are the container's v1 cgroup directories, which the helper's thread joins
	// first (cgroups.JoinThread), so the command it starts is in them.
	CgroupDirs []string `json:"cgroupDirs,omitempty"`
}

// procRlimit is one resource limit of a process, as prlimit(2) reads it.
type procRlimit struct {
	Resource int    `json:"resource"`
	Cur      uint64 `json:"cur"`
	Max      uint64 `json:"max"`
}

// joinAnswer is the helper's one answer: the command's host pid, or why it did not start.
type joinAnswer struct {
	Pid   int    `json:"pid,omitempty"`
	Error string `json:"error,omitempty"`
	Code  int    `json:"code,omitempty"`
}

// runNSJoin is the helper's main.
func runNSJoin() {
	runtime.LockOSThread()
	// Not dumpable until the command's execve makes it so again (CVE-2016-9962): the fork
	// it comes from sits in the container's pid namespace with the container's own uid and
	// capabilities, and a container process could otherwise ptrace it, or open its fds
	// through /proc, before the exec closes them.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		_ = sendAnswer(joinAnswer{Error: fmt.Sprintf("making the helper non-dumpable: %v", err), Code: ExitOwnError}, nil)
		os.Exit(ExitOwnError)
	}
	sock := os.NewFile(nsjoinSockFD, "nsjoin-sock")
	// Caught, never ignored: an ignored signal would stay ignored in the command. The
	// helper relays what it receives to the command, as Run does for a container.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, forwardedSignals...)

	var req joinRequest
	err := json.NewDecoder(sock).Decode(&req)
	var cmd *exec.Cmd
	var master *os.File
	switch {
	case err != nil:
		err = fmt.Errorf("reading request: %w", err)
	case req.Detach:
		// First, while no seccomp profile can forbid it: see holdDetached.
		if _, err = unix.Setsid(); err != nil {
			err = fmt.Errorf("detaching the helper: leaving strata's session: %w", err)
			break
		}
		fallthrough
	default:
		cmd, master, err = joinAndStart(req)
	}
	if err != nil {
		code := ExitOwnError
		var ec *ExitCodeError
		if errors.As(err, &ec) {
			code = ec.Code
		}
		_ = sendAnswer(joinAnswer{Error: err.Error(), Code: code}, nil)
		os.Exit(code)
	}
	if req.Detach {
		holdDetached(cmd, master, sigs)
	}
	// The command runs: should strata be killed now, the helper stays to reap it instead of
	// dying with strata, as docker's shim goes on with an exec whose client died. The
	// orphan went to the container's PID 1, which may reap nothing: a zombie was left there
	// for every exec whose strata was killed. (The command itself ran on either way, with
	// the ends of its pipes or its terminal gone.)
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0)
	_ = sendAnswer(joinAnswer{Pid: cmd.Process.Pid}, master)
	var detached atomic.Bool
	if master != nil {
		master.Close() // strata holds it now; the command's output ends when strata's copy does
		// Unless the user detaches (exec -it's detach keys): strata hands it back then.
		go receiveTerminal(sock, &detached)
	} else {
		sock.Close()
	}
	go func() {
		for s := range sigs {
			if detached.Load() {
				continue // the caller is gone: what reaches the helper now is not the user's
			}
			_ = cmd.Process.Signal(s)
		}
	}()
	_ = cmd.Wait()
	code := exitCode(cmd.ProcessState)
	if code < 0 {
		code = ExitOwnError
	}
	os.Exit(code)
}

// holdDetached is exec -d's helper once the command runs: it stays, as the command's parent,
// reaps it and exits when it does, as docker's shim reaps an exec'd process. Gone, it would
// leave the command to the reaper the kernel picks, the container's PID 1 (Linux 6.18 here),
// which may reap nothing (sleep): every exec -d left a zombie there, and with --pids-limit
// the container soon could not fork at all. With a terminal (-d -t) it also holds the master
// and reads what the command writes: closing it would hang the terminal up, and the kernel
// would send the command SIGHUP; not reading it would block the command once the terminal's
// buffer is full (docker keeps an exec's terminal open in its daemon the same way, and
// discards a detached exec's output). The helper left strata's session before it joined the
// container, so that the user's terminal hanging up does not reach it, and drops the
// parent-death signal here: strata is about to exit. It is in the container's cgroup, and
// dies with the container. Its answer goes without the master, which strata does not need.
func holdDetached(cmd *exec.Cmd, master *os.File, sigs chan os.Signal) {
	signal.Stop(sigs) // nothing to relay from a caller that is gone
	// Only now: dropPrivileges set it again, as it does for the init.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0); err != nil {
		_ = cmd.Process.Kill()
		_ = sendAnswer(joinAnswer{Error: fmt.Sprintf("detaching the helper: clearing its parent-death signal: %v", err), Code: ExitOwnError}, nil)
		os.Exit(ExitOwnError)
	}
	_ = sendAnswer(joinAnswer{Pid: cmd.Process.Pid}, nil)
	unix.Close(nsjoinSockFD)
	if master != nil {
		go func() { _, _ = io.Copy(io.Discard, master) }() // ends with EIO once the terminal is closed
	}
	_ = cmd.Wait()
	os.Exit(0)
}

// receiveTerminal waits on sock for strata to hand the command's terminal back (handOver),
// when its user detaches from exec -it: the helper then holds it open and reads what the
// command writes to it, as holdDetached does for exec -d -t, until the command ends, and
// passes on no more signals, which it tells strata then. It returns when strata closes its
// end without (the command ended, or strata died: the terminal closes with strata's copy, as
// before).
func receiveTerminal(sock *os.File, detached *atomic.Bool) {
	defer sock.Close()
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			return
		}
		if oobn == 0 {
			continue
		}
		got, err := receivedFiles(oob[:oobn])
		if err != nil || len(got) == 0 {
			return
		}
		detached.Store(true)
		// Said once no more signals are passed on: strata exits then (handOver).
		_ = unix.Sendto(int(sock.Fd()), []byte{'k'}, unix.MSG_NOSIGNAL, nil)
		for _, f := range got[1:] {
			f.Close()
		}
		_, _ = io.Copy(io.Discard, got[0]) // ends with EIO once the terminal is closed
		return
	}
}

// maxAnswerError bounds the error text of the helper's and the init's answers, so that an
// answer fits in what strata reads of one however long what the error quotes: a 70 KB command
// name, user or working directory made the answer too long for strata to read, which then
// failed with 125 ("unexpected end of JSON input", "message too long") instead of the 127 or
// 126 and the reason. JSON escapes a byte into at most 6.
const maxAnswerError = 4 << 10

// clipError cuts an answer's error text to maxAnswerError. The middle goes: what failed
// comes first, and why last.
func clipError(s string) string {
	if len(s) <= maxAnswerError {
		return s
	}
	return s[:maxAnswerError/2] + "..." + s[len(s)-maxAnswerError/2:]
}

// sendAnswer writes the helper's one JSON line, with the pty master as SCM_RIGHTS when there
// is one.
func sendAnswer(a joinAnswer, master *os.File) error {
	a.Error = clipError(a.Error)
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	var oob []byte
	if master != nil {
		oob = unix.UnixRights(int(master.Fd()))
	}
	return unix.Sendmsg(nsjoinSockFD, append(b, '\n'), oob, nil, 0)
}

// joinAndStart does steps 1-6 of the comment above and returns the started command and, with
// a terminal, the master side of its pty.
func joinAndStart(req joinRequest) (*exec.Cmd, *os.File, error) {
	cmd, master, err := joinAndStartTTY(req)
	if err != nil && master != nil {
		master.Close()
		master = nil
	}
	return cmd, master, err
}

// joinAndStartTTY is joinAndStart without the cleanup; on failure the helper exits, which
// closes whatever it opened.
func joinAndStartTTY(req joinRequest) (*exec.Cmd, *os.File, error) {
	if len(req.Args) == 0 {
		return nil, nil, ErrNoCommand
	}
	// While the host's /sys/fs/cgroup is still the one this thread sees.
	leave := openPidsLeave(req.CgroupDirs)
	defer closeFiles(leave)
	if err := cgroups.JoinThread(req.CgroupDirs); err != nil {
		return nil, nil, err
	}
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return nil, nil, fmt.Errorf("unsharing fs attributes: %w", err)
	}
	if req.OomScoreAdj != nil {
		// Here, while /proc/self is this process; before the capabilities go, since lowering it
		// takes CAP_SYS_RESOURCE.
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*req.OomScoreAdj)), 0); err != nil {
			return nil, nil, fmt.Errorf("setting oom_score_adj: %w", err)
		}
	}
	if req.TimeOffsets != "" {
		// Here, while /proc is still the host's: /proc/self must name this process.
		if err := newTimeNamespace(req.TimeOffsets); err != nil {
			return nil, nil, err
		}
	}
	// What depends on the kernel's capabilities is read now, from the host's /proc: in the
	// container's mount namespace /proc/sys/kernel/cap_last_cap is whatever a container with
	// CAP_SYS_ADMIN bound over it, and a 5 there left the command every capability of the
	// bounding set, a huge number kept the helper dropping capabilities for good.
	var privs joinPrivs
	if req.Confine {
		var err error
		if privs, err = prepareJoinPrivs(req); err != nil {
			return nil, nil, err
		}
	}
	// Only Enter needs the host's root back; Exec must not even hold it while it forks a
	// command into the container.
	hostRoot := -1
	if req.HostRoot && req.Flags&unix.CLONE_NEWNS != 0 {
		fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("opening host root: %w", err)
		}
		hostRoot = fd
	}
	if err := unix.Setns(nsjoinPidFD, int(req.Flags)); err != nil {
		return nil, nil, fmt.Errorf("joining namespaces %s: %w", nsNames(req.Flags), err)
	}
	unix.Close(nsjoinPidFD)
	if hostRoot >= 0 {
		err := unix.Fchdir(hostRoot)
		if err == nil {
			err = unix.Chroot(".")
		}
		unix.Close(hostRoot)
		if err != nil {
			return nil, nil, fmt.Errorf("returning to host root: %w", err)
		}
	}
	// The terminal comes from the devpts of the root we now have: the container's for exec
	// (as docker exec -t), the host's for enter.
	var master, tty *os.File
	var err error
	if req.Terminal {
		if master, tty, err = openPTY(); err != nil {
			return nil, nil, err
		}
		defer tty.Close()
	}
	// A null device of the helper's own, for an output the container's /dev/null cannot take
	// (one it replaced, or one its user may not open): made while the helper may still mount.
	var spareNull *os.File
	if req.Confine && tty == nil && !allPipes() {
		spareNull, _ = privateNull() // none: the container's /dev/null, or its error
		if spareNull != nil {
			defer spareNull.Close()
		}
	}
	env := req.Env
	// Limits the helper cannot live under are the command's alone (runLimitsExec).
	var late []procRlimit
	if req.Confine {
		req, late = withoutLateLimits(req)
	}
	if req.Confine {
		if env, err = confine(req, tty, privs.last); err != nil {
			return nil, nil, err
		}
	} else if req.Cwd != "" {
		if err := unix.Chdir(req.Cwd); err != nil {
			return nil, nil, &ExitCodeError{Code: ExitCannotInvoke, Err: fmt.Errorf("changing to working directory %s: %w", req.Cwd, err)}
		}
	}
	stdio := [3]*os.File{os.Stdin, os.Stdout, os.Stderr}
	if req.Confine && tty == nil {
		if stdio, err = containerStdio(spareNull); err != nil {
			return nil, nil, err
		}
	}
	argv0, err := lookPath(req.Args[0], env)
	if err != nil {
		return nil, nil, err
	}
	args := req.Args
	if len(late) > 0 {
		// The sealed binary this helper runs, as the command sees it once forked into the
		// container's pid namespace; its runtime does not read the command's GODEBUG… .
		// Its runtime opens files of the container's as it starts (its PID 1's cgroup and
		// mounts are the ones it will have).
		if err := checkGoStart("/proc/1"); err != nil {
			return nil, nil, &ExitCodeError{Code: ExitOwnError, Err: fmt.Errorf("--ulimit: %w", err)}
		}
		var prefix string
		env, prefix = hideGoEnv(env)
		args = limitsExecArgs(late, prefix, argv0, req.Args)
		argv0 = "/proc/self/exe"
	}
	if req.Confine {
		// Last, as in the init: the filter may forbid what came before.
		if req.NoNewPrivs {
			if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
				return nil, nil, fmt.Errorf("setting no_new_privs: %w", err)
			}
		}
		if privs.filter != nil {
			if err := installSeccomp(privs.filter); err != nil {
				return nil, nil, fmt.Errorf("loading seccomp filter: %w", err)
			}
		}
	}
	unix.Umask(containerUmask) // as the container's command has, not the shell's
	// Go's fork passes on every fd without close-on-exec, not only stdio: the pidfd and any
	// fd the runtime opened must not reach the container (the CVE-2024-21626 class).
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return nil, nil, fmt.Errorf("marking fds close-on-exec: %w", err)
	}
	cmd := &exec.Cmd{
		Path:   argv0,
		Args:   args,
		Env:    env,
		Stdin:  stdio[0],
		Stdout: stdio[1],
		Stderr: stdio[2],
		// No Pdeathsig: Go checks getppid() after setting it, and a child in another pid
		// namespace sees 0 there and would kill itself. The parent kills the command by pid.
		SysProcAttr: &syscall.SysProcAttr{},
	}
	if tty != nil {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		cmd.SysProcAttr.Setsid = true
		cmd.SysProcAttr.Setctty = true
		cmd.SysProcAttr.Ctty = 0
	} else if req.Confine {
		// A session of its own, as runc gives every process: otherwise it keeps the user's
		// terminal as its controlling one, and TIOCSTI on its stdio types commands into the
		// user's host shell once strata exits (CVE-2016-10124, lxc-attach).
		cmd.SysProcAttr.Setsid = true
	}
	if err := cmd.Start(); err != nil {
		code := ExitCannotInvoke
		if errors.Is(err, unix.ENOENT) {
			code = ExitNotFound
		}
		return nil, master, &ExitCodeError{Code: code, Err: fmt.Errorf("exec: %q: %w", req.Args[0], err)}
	}
	leavePids(leave)
	return cmd, master, nil
}

// openPidsLeave opens, for each of the v1 cgroup directories dirs that limits pids, the tasks
// file of its parent, which leavePids writes once the command is born. The helper's thread
// joined the container's pids cgroup for the command to be born in it, and then held one of
// the container's --pids-limit slots for as long as the command ran: with --pids-limit 3 and
// a PID 1, `strata exec c sh -c 'sleep 1 & wait'` could not fork, where docker's can (its
// runc init becomes the command). Opened before the join, while this is the host's
// /sys/fs/cgroup and strata's credentials; none opened leaves the thread where it is.
func openPidsLeave(dirs []string) []*os.File {
	var out []*os.File
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pids.max")); err != nil {
			continue
		}
		if f, err := os.OpenFile(filepath.Join(filepath.Dir(d), "tasks"), os.O_WRONLY, 0); err == nil {
			out = append(out, f)
		}
	}
	return out
}

// leavePids moves this thread, whose child the command now is, out of the container's v1
// pids cgroups into their parents (openPidsLeave). Best effort: staying costs the container
// one of its pids, nothing else.
func leavePids(files []*os.File) {
	for _, f := range files {
		_, _ = unix.Write(int(f.Fd()), []byte("0"))
	}
}

// joinPrivs is what the helper reads about the kernel's capabilities before it joins the
// container's mount namespace, where /proc is the container's (prepareJoinPrivs).
type joinPrivs struct {
	// last is the highest capability the kernel knows.
	last int
	// filter is the container's seccomp filter for the command, nil for none.
	filter *seccomp.Program
}

// prepareJoinPrivs reads the kernel's last capability and compiles the container's seccomp
// profile, resolved against req.SeccompCaps (else req.Caps) as far as this thread's bounding
// set holds them: the set dropPrivileges leaves, as the init resolves it.
func prepareJoinPrivs(req joinRequest) (joinPrivs, error) {
	p := joinPrivs{last: lastCap()}
	if !req.Seccomp {
		return p, nil
	}
	caps := req.SeccompCaps
	if caps == nil {
		caps = req.Caps
	}
	var err error
	if p.filter, err = seccompProgram(req.SeccompProfile, boundedCaps(caps)); err != nil {
		return p, fmt.Errorf("loading seccomp filter: %w", err)
	}
	return p, nil
}

// confine applies the container's user, working directory and capabilities to this thread
// (and, for uid and gid, the whole helper) and returns the command's environment. tty, when
// not nil, is the command's terminal: it becomes the user's, as a login's does.
func confine(req joinRequest, tty *os.File, last int) ([]string, error) {
	passwd := openRegular("/etc/passwd") // absent: numeric users only, as docker
	group := openRegular("/etc/group")
	user, err := ResolveUserGroups(req.User, req.GroupAdd, fileOrNil(passwd), fileOrNil(group))
	passwd.Close()
	group.Close()
	if err != nil {
		// 126, as docker exec ends when it cannot resolve the user (its daemon resolves it
		// once the exec has started); docker run's 125 is for a container not yet started.
		return nil, &ExitCodeError{Code: ExitCannotInvoke, Err: fmt.Errorf("setting user: %w", err)}
	}
	env, err := withDefaultEnv(req.Env, req.Hostname, user.Home, req.Terminal)
	if err != nil {
		return nil, &ExitCodeError{Code: ExitCannotInvoke, Err: fmt.Errorf("setting user: %w", err)}
	}
	if tty != nil {
		if err := tty.Chown(int(user.UID), -1); err != nil {
			return nil, fmt.Errorf("giving the terminal to uid %d: %w", user.UID, err)
		}
	}
	cwd := req.Cwd
	if cwd == "" {
		cwd = "/"
	}
	dir, err := procSelfCwd(cwd)
	if err != nil {
		return nil, &ExitCodeError{Code: ExitCannotInvoke, Err: err}
	}
	if err := unix.Chdir(dir); err != nil {
		return nil, &ExitCodeError{Code: ExitCannotInvoke, Err: fmt.Errorf("changing to working directory %s: %w", cwd, err)}
	}
	if err := verifyCwd(cwd); err != nil {
		return nil, &ExitCodeError{Code: ExitCannotInvoke, Err: err}
	}
	for _, l := range req.Rlimits {
		// Before the capabilities go: raising a hard limit takes CAP_SYS_RESOURCE.
		if err := setProcRlimit(l); err != nil {
			return nil, fmt.Errorf("setting the container's resource limit %d: %w", l.Resource, err)
		}
	}
	if err := setUlimits(req.Ulimits); err != nil {
		return nil, err
	}
	// dropPrivileges also makes the helper non-dumpable again once it has the user's uid.
	if err := dropPrivileges(user, req.Caps, last); err != nil {
		return nil, err
	}
	return env, nil
}

// verifyCwd checks that the working directory the helper just entered (named cwd) lies inside
// its root, the container's, as runc's verifyCwd does since CVE-2024-21626: getcwd(2) tells
// one outside it ("(unreachable)/...", which unix.Getwd returns as ENOENT). The helper enters
// it as root with every capability, CAP_SYS_PTRACE among them, so a /proc/<pid>/root or cwd
// on the way (in -w, or a link the container put where its WORKDIR was) leads wherever that
// process's root is: that of a host tool `strata enter --ns pid` runs in the container's pid
// namespace is the host's, and the command ran with the host's / as its working directory.
func verifyCwd(cwd string) error {
	wd, err := unix.Getwd()
	if errors.Is(err, unix.ENOENT) || err == nil && (wd == "" || wd[0] != '/') {
		return fmt.Errorf("working directory %s: it lies outside the container's root, or is gone", cwd)
	}
	if err != nil {
		return fmt.Errorf("working directory %s: checking that it lies inside the container's root: %w", cwd, err)
	}
	return nil
}

// minHelperNofile is the smallest RLIMIT_NOFILE soft limit the helper starts the command
// under itself: its runtime's poller and the fork's pipe take descriptors besides its own.
const minHelperNofile = 64

// minHelperNproc is the smallest RLIMIT_NPROC soft limit the helper starts the command under
// itself: once it runs as the command's user, its threads count toward that user's.
const minHelperNproc = 64

// withoutLateLimits takes out of req the limits the helper cannot live under, each the
// container's PID 1's or the last --ulimit over it: a finite RLIMIT_DATA, an RLIMIT_NOFILE
// under minHelperNofile and an RLIMIT_NPROC under minHelperNproc. The command gets them
// through runLimitsExec.
func withoutLateLimits(req joinRequest) (joinRequest, []procRlimit) {
	final := map[int]procRlimit{}
	for _, l := range req.Rlimits {
		final[l.Resource] = l
	}
	for _, u := range req.Ulimits {
		r, lim := u.rlimit()
		final[r] = procRlimit{Resource: r, Cur: lim.Cur, Max: lim.Max}
	}
	var late []procRlimit
	lateRes := map[int]bool{}
	if l, ok := final[unix.RLIMIT_DATA]; ok && l.Cur != unix.RLIM_INFINITY {
		late, lateRes[unix.RLIMIT_DATA] = append(late, l), true
	}
	if l, ok := final[unix.RLIMIT_NOFILE]; ok && l.Cur < minHelperNofile {
		late, lateRes[unix.RLIMIT_NOFILE] = append(late, l), true
	}
	if l, ok := final[unix.RLIMIT_NPROC]; ok && l.Cur < minHelperNproc {
		late, lateRes[unix.RLIMIT_NPROC] = append(late, l), true
	}
	if len(late) == 0 {
		return req, nil
	}
	var rlimits []procRlimit
	for _, l := range req.Rlimits {
		if !lateRes[l.Resource] {
			rlimits = append(rlimits, l)
		}
	}
	var ulimits []Ulimit
	for _, u := range req.Ulimits {
		if r, _ := u.rlimit(); !lateRes[r] {
			ulimits = append(ulimits, u)
		}
	}
	req.Rlimits, req.Ulimits = rlimits, ulimits
	return req, late
}

// setProcRlimit sets l on this process. Where l's hard limit is above this process's and
// strata lacks CAP_SYS_RESOURCE to raise it (strata itself in a container), it sets the
// closest it may, its own hard limit: an exec from a shell with a lower hard limit than the
// container was started with ran before the command got the container's limits, and must
// still run.
func setProcRlimit(l procRlimit) error {
	lim := unix.Rlimit{Cur: l.Cur, Max: l.Max}
	err := unix.Setrlimit(l.Resource, &lim)
	if !errors.Is(err, unix.EPERM) {
		return err
	}
	var have unix.Rlimit
	if err := unix.Getrlimit(l.Resource, &have); err != nil {
		return err
	}
	lim.Max = min(lim.Max, have.Max) // RLIM_INFINITY is the largest uint64
	lim.Cur = min(lim.Cur, lim.Max)
	return unix.Setrlimit(l.Resource, &lim)
}

// containerStdio returns the exec'd command's stdin, stdout and stderr: the helper's own,
// which strata made pipes, except any that is no pipe or socket (the host's /dev/null that
// strata's os/exec gives a detached command), which becomes the container's /dev/null: no
// host file is reachable through the command's /proc/self/fd. Where the container's cannot
// be opened as the null device (it made /dev/null a FIFO, a file, a directory, a link, or
// one its user may not open), spare takes its place when not nil: docker's exec -d runs
// there, its command's output going to the daemon's /dev/null.
func containerStdio(spare *os.File) ([3]*os.File, error) {
	out := [3]*os.File{os.Stdin, os.Stdout, os.Stderr}
	var null *os.File
	for i, f := range out {
		if isPipe(f) {
			continue
		}
		if null == nil {
			var err error
			if null, err = openContainerNull(); err != nil {
				if spare == nil {
					return out, err
				}
				null = spare
			}
		}
		out[i] = null
	}
	return out, nil
}

// isPipe reports whether f is a pipe or a socket.
func isPipe(f *os.File) bool {
	var st unix.Stat_t
	return unix.Fstat(int(f.Fd()), &st) == nil && (st.Mode&unix.S_IFMT == unix.S_IFIFO || st.Mode&unix.S_IFMT == unix.S_IFSOCK)
}

// allPipes reports whether the helper's stdin, stdout and stderr are all pipes or sockets,
// so that containerStdio needs no null device.
func allPipes() bool {
	return isPipe(os.Stdin) && isPipe(os.Stdout) && isPipe(os.Stderr)
}

// privateNull opens a null device node of its own, on a tmpfs mounted nowhere (fsmount's
// detached mount, gone with the last fd): neither the host's /dev/null, which the command
// could chmod or chown through /proc/self/fd as the container's root, nor a path the
// container can reach or replace. Reopening it through /proc/self/fd gives the null device
// again; the fd is not a directory, so no ".." leads from it to the tmpfs. It takes
// CAP_SYS_ADMIN and CAP_MKNOD, so it runs before the container's credentials.
func privateNull() (*os.File, error) {
	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating a null device: %w", err)
	}
	defer unix.Close(fsfd)
	for _, kv := range [][2]string{{"mode", "0500"}, {"nr_inodes", "2"}} {
		if err := unix.FsconfigSetString(fsfd, kv[0], kv[1]); err != nil {
			return nil, fmt.Errorf("creating a null device: %s: %w", kv[0], err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, fmt.Errorf("creating a null device: %w", err)
	}
	mnt, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOEXEC|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, fmt.Errorf("creating a null device: %w", err)
	}
	defer unix.Close(mnt)
	if err := unix.Mknodat(mnt, "null", unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		return nil, fmt.Errorf("creating a null device: %w", err)
	}
	fd, err := unix.Openat(mnt, "null", unix.O_RDWR|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening a null device: %w", err)
	}
	null := os.NewFile(uintptr(fd), "/dev/null")
	if err := null.Chmod(0o666); err != nil { // as /dev/null, whatever the umask
		null.Close()
		return nil, fmt.Errorf("creating a null device: %w", err)
	}
	return null, nil
}

// openContainerNull opens the container's /dev/null, checked to be the null device: the
// container's own node, which it may have replaced with anything.
func openContainerNull() (*os.File, error) { return openContainerNullAt("") }

// openContainerNullAt is openContainerNull through kept, the /proc/self/fd path of the null
// device the init kept before a user's mount covered /dev (planApplier.nullSrc), or "".
func openContainerNullAt(kept string) (*os.File, error) {
	path, flags := "/dev/null", unix.O_RDWR|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC
	if kept != "" {
		path, flags = kept, flags&^unix.O_NOFOLLOW // a /proc/self/fd link is one to follow
	}
	fd, err := unix.Open(path, flags, 0)
	if err != nil {
		return nil, fmt.Errorf("opening the container's /dev/null: %w", err)
	}
	null := os.NewFile(uintptr(fd), "/dev/null")
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		null.Close()
		return nil, errors.New("the container's /dev/null is not the null device")
	}
	return null, nil
}

// nsKinds are the namespaces strata knows, in the order lsns lists them, with their
// /proc/<pid>/ns names.
var nsKinds = []struct {
	name string
	flag uintptr
}{
	{"mnt", unix.CLONE_NEWNS}, {"uts", unix.CLONE_NEWUTS}, {"ipc", unix.CLONE_NEWIPC},
	{"pid", unix.CLONE_NEWPID}, {"net", unix.CLONE_NEWNET}, {"cgroup", unix.CLONE_NEWCGROUP},
	{"user", unix.CLONE_NEWUSER}, {"time", unix.CLONE_NEWTIME},
}

// nsNames spells flags as "mnt,pid,net" for messages.
func nsNames(flags uintptr) string {
	s := ""
	for _, k := range nsKinds {
		if flags&k.flag != 0 {
			if s != "" {
				s += ","
			}
			s += k.name
		}
	}
	return s
}

// nsDiffers reports whether pid's namespace of kind name differs from this process's (pid
// and time: the one its children get, which is where this process's children would go).
func nsDiffers(pid int, name string) (bool, error) {
	self := "/proc/self/ns/" + name
	if name == "pid" || name == "time" {
		self += "_for_children"
	}
	var a, b unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, name), &a); err != nil {
		return false, fmt.Errorf("reading %s namespace of pid %d: %w", name, pid, err)
	}
	if err := unix.Stat(self, &b); err != nil {
		return false, fmt.Errorf("reading own %s namespace: %w", name, err)
	}
	return a.Ino != b.Ino || a.Dev != b.Dev, nil
}

// openRegular opens one of the container's files for reading, or returns nil when it is
// missing or not a regular file: the container may have made /etc/passwd a FIFO to hang
// whoever reads it, and O_NONBLOCK keeps even the open from blocking. Nor may it be a file of
// procfs or sysfs, which are "regular" too: a link to /proc/kmsg would have this process,
// still holding CAP_SYSLOG, drain the host's kernel messages. Nor is a magic link of /proc
// followed: through /proc/<pid>/root of a host tool `strata enter --ns pid` runs there, this
// process, root with CAP_SYS_PTRACE, read the host's /etc/passwd as the container's.
func openRegular(path string) *os.File {
	fd, err := unix.Openat2(unix.AT_FDCWD, path, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), path)
	var fs unix.Statfs_t
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() ||
		unix.Fstatfs(int(f.Fd()), &fs) != nil || fs.Type == unix.PROC_SUPER_MAGIC || fs.Type == unix.SYSFS_MAGIC {
		f.Close()
		return nil
	}
	return f
}

// openPTY allocates a pseudo-terminal in the devpts behind /dev/ptmx of the current root.
// The slave is opened from the master (TIOCGPTPEER, Linux 4.13) rather than by its
// /dev/pts/N path, which the container could have replaced.
func openPTY() (master, slave *os.File, err error) { return openPTYAt("/dev/ptmx") }

// openPTYAt is openPTY through ptmx, the path of the multiplexer.
func openPTYAt(ptmx string) (master, slave *os.File, err error) {
	// No magic link of /proc on the way either (see openRegular): a host tool's root there
	// is the host's.
	m, err := unix.Openat2(unix.AT_FDCWD, ptmx, &unix.OpenHow{
		Flags:   unix.O_RDWR | unix.O_NOCTTY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("allocating terminal: %w", &os.PathError{Op: "open", Path: ptmx, Err: err})
	}
	master = os.NewFile(uintptr(m), "pty-master")
	// The container's /dev/ptmx may be its own link to anything it can reach (/dev/tty,
	// which for exec's helper is the user's terminal): no ioctl on what is not the pty
	// multiplexer (char 5:2, devpts' ptmx or the classic node).
	var st unix.Stat_t
	if err := unix.Fstat(m, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(5, 2) {
		master.Close()
		return nil, nil, fmt.Errorf("allocating terminal: %s is not the pty multiplexer", ptmx)
	}
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("allocating terminal: unlocking: %w", err)
	}
	s, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(m), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		master.Close()
		return nil, nil, fmt.Errorf("allocating terminal: opening its peer: %w", errno)
	}
	return master, os.NewFile(s, "pty-slave"), nil
}

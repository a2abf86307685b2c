package runner

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// initPdeathsigArg tells the init it was cloned into another container's pid namespace
// (joinedPidSetup).
const initPdeathsigArg = "pdeathsig"

// joinedPidSetup is the first act of an init cloned into another container's pid namespace.
// It sets its parent-death signal itself: Go's fork cannot, whose child checks that its parent
// is still the one that forked it through getppid, which reads 0 there (the parent is outside
// that namespace), and kills itself. Should strata be gone already, its end of the socket is
// too, and the spec's read fails. And it makes itself non-dumpable, as runc's init is when it
// joins namespaces (CVE-2016-9962): that container's processes see it, root with every
// capability and host files open until it execs, and must not open its fds through /proc or
// ptrace it; execve makes it dumpable again.
func joinedPidSetup() error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("setting the parent-death signal: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("making the init non-dumpable: %w", err)
	}
	return nil
}

// nsJoin is what an init's clone enters besides namespaces of its own: the namespaces of
// other containers' PID 1s, through a pidfd of each, which pins that process: setns through it
// reaches that process's namespaces or fails, never those of a newcomer reusing its PID.
type nsJoin struct {
	targets []nsTarget
	shm     *os.File // the IPC donor's /dev/shm, or nil
}

// nsTarget is one container whose namespaces the clone enters.
type nsTarget struct {
	id    string
	kinds []string // Spec.nsContainers' names of the namespaces joined
	pid   int
	pidfd *os.File
	flags uintptr // CLONE_NEW* of the namespaces joined
}

// close closes the pidfds and the shm fd.
func (j *nsJoin) close() {
	if j == nil {
		return
	}
	for _, t := range j.targets {
		t.pidfd.Close()
	}
	if j.shm != nil {
		j.shm.Close()
	}
}

// nsKindFlags are the CLONE_NEW* of the kinds Spec.nsContainers names.
var nsKindFlags = map[string]uintptr{"pid": unix.CLONE_NEWPID, "ipc": unix.CLONE_NEWIPC, "net": unix.CLONE_NEWNET}

// openNSJoin opens the PID 1 of every container spec joins a namespace of, checked as exec
// checks the container it joins (joinTarget: running, the child of its monitor, in its
// cgroup). It returns nil when spec joins none. A container that is missing or not running
// fails in docker's words for the kind joined ("cannot join network of a non running
// container: ID").
func openNSJoin(spec Spec) (_ *nsJoin, err error) {
	targets := spec.nsContainers()
	if len(targets) == 0 {
		return nil, nil
	}
	j := &nsJoin{}
	defer func() {
		if err != nil {
			j.close()
		}
	}()
	ids := make([]string, 0, len(targets))
	for id := range targets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	store := &Store{dir: filepath.Dir(spec.Dir)}
	for _, id := range ids {
		kinds := targets[id]
		c, err := store.load(id)
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id) // docker's "No such container: ID"
		}
		if err != nil {
			return nil, err
		}
		if kinds := targets[id]; slices.Contains(kinds, "ipc") && c.Broken == nil && !ipcShareable(c.Config.Spec) {
			return nil, fmt.Errorf("cannot join IPC of container %s: non-shareable IPC (hint: use IpcMode:shareable for the donor container)", id)
		}
		pid, pidfd, err := joinTarget(c)
		if errors.Is(err, ErrNotRunning) {
			return nil, notRunningJoinError(id, kinds)
		}
		if err != nil {
			return nil, fmt.Errorf("joining the namespaces of container %s: %w", shortID(id), err)
		}
		t := nsTarget{id: id, kinds: kinds, pid: pid, pidfd: pidfd}
		for _, k := range kinds {
			t.flags |= nsKindFlags[k]
		}
		j.targets = append(j.targets, t)
		if slices.Contains(kinds, "ipc") {
			if j.shm, err = openDonorShm(pid, pidfd); errors.Is(err, ErrNotRunning) {
				return nil, notRunningJoinError(id, kinds)
			} else if err != nil {
				return nil, fmt.Errorf("cannot join IPC of container %s: %w", id, err)
			}
		}
	}
	return j, nil
}

// ipcShareable says whether a container's IPC namespace may be joined, as docker allows it:
// one made shareable, the host's, or one that is itself another's.
func ipcShareable(s Spec) bool {
	_, joined := NSContainer(s.IpcMode)
	return s.IpcMode == IPCShareable || s.IpcMode == NSHost || joined
}

// notRunningJoinError is docker's error for joining a container that is not running: its
// daemon's words for the network (getNetworkedContainer), and checkContainer's for the others.
func notRunningJoinError(id string, kinds []string) error {
	if slices.Contains(kinds, "net") {
		return fmt.Errorf("cannot join network of a non running container: %s", id)
	}
	return fmt.Errorf("container %s is not running", id)
}

// openDonorShm returns a copy of the /dev/shm mount of the container whose PID 1 is pidfd's,
// detached (open_tree's clone), which the init attaches as its own /dev/shm: a mount of
// another mount namespace cannot be bound (EINVAL), its clone made there can be moved in.
// The clone is made on a thread of its own in that namespace, where "/dev/shm" resolves
// inside the container's root, and through no link of the container's. That thread cannot come back (it left strata's shared root and working directory), so
// it stays locked and ends with its goroutine. The mount must be a tmpfs, as every
// container's /dev/shm (and the host's) is.
func openDonorShm(pid int, pidfd *os.File) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	c := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		f, err := cloneShmIn(pidfd)
		c <- result{f, err}
	}()
	r := <-c
	if r.err != nil {
		return nil, notRunningIfExited(pid, pidfd, r.err)
	}
	return r.f, nil
}

// cloneShmIn is openDonorShm's thread: it enters pidfd's mount namespace and clones /dev/shm.
func cloneShmIn(pidfd *os.File) (*os.File, error) {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return nil, fmt.Errorf("unsharing fs attributes: %w", err)
	}
	if err := unix.Setns(int(pidfd.Fd()), unix.CLONE_NEWNS); err != nil {
		return nil, fmt.Errorf("entering its mount namespace: %w", err)
	}
	// No link followed: this thread has every capability, and a magic link of the
	// container's /proc (/proc/1/root of a --pid host donor) would lead to the host's files.
	path, err := unix.Openat2(unix.AT_FDCWD, "/dev/shm", &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ELOOP) {
		// Its /dev or /dev/shm is a link: an image's /dev may be one (resolveDev), and the
		// donor may swap it at will.
		return nil, errors.New("its /dev/shm is reached through a symlink, which strata does not follow to share it")
	}
	if err != nil {
		return nil, fmt.Errorf("opening its /dev/shm: %w", err)
	}
	defer unix.Close(path)
	fd, err := unix.OpenTree(path, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return nil, fmt.Errorf("copying its /dev/shm mount: %w", err)
	}
	shm := os.NewFile(uintptr(fd), "shm")
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		shm.Close()
		return nil, errors.New("its /dev/shm is not a tmpfs")
	}
	return shm, nil
}

// cloneFlags are the namespaces the init's clone makes for shape: all strata knows but the
// network (spawnInit adds that one), less those shared with the host or another container.
func (s InitShape) cloneFlags() uintptr {
	flags := uintptr(unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC)
	if _, joined := NSContainer(s.PidMode); s.PidMode == NSHost || joined {
		flags &^= unix.CLONE_NEWPID
	}
	if _, joined := NSContainer(s.IpcMode); s.IpcMode == NSHost || joined {
		flags &^= unix.CLONE_NEWIPC
	}
	if s.UTSMode == NSHost {
		flags &^= unix.CLONE_NEWUTS
	}
	return flags
}

// joins says whether the init of shape enters another container's namespaces, which only a
// run that knows the container (startInit) can open: PrepareInit starts none for it.
func (s InitShape) joins() bool {
	for _, m := range []string{s.Network, s.PidMode, s.IpcMode} {
		if _, ok := NSContainer(m); ok {
			return true
		}
	}
	return false
}

// prepare adapts cmd, the init's command, to j: see initPdeathsigArg.
func (j *nsJoin) prepare(cmd *exec.Cmd) {
	for _, t := range j.targets {
		if t.flags&unix.CLONE_NEWPID != 0 {
			cmd.SysProcAttr.Pdeathsig = 0
			cmd.Args = append(cmd.Args, initPdeathsigArg)
			return
		}
	}
}

// start starts cmd in j's namespaces: on a thread of its own, which enters them (setns
// through each pidfd: the pid namespace becomes the one its children get), clones the init
// and comes back to its own before any other goroutine may run there. A thread that cannot
// come back is ended by the runtime (left locked), and the init with it: it dies with the
// thread that cloned it (Pdeathsig). Without j, cmd.Start.
func (j *nsJoin) start(cmd *exec.Cmd) error {
	if j == nil || len(j.targets) == 0 {
		return cmd.Start()
	}
	j.prepare(cmd)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored, err := j.startLocked(cmd)
		if restored {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// startLocked is start on the locked thread; restored says the thread is back in its own
// namespaces.
func (j *nsJoin) startLocked(cmd *exec.Cmd) (restored bool, err error) {
	var all uintptr
	for _, t := range j.targets {
		all |= t.flags
	}
	// This thread's own namespaces, to come back to: pid_for_children is where its children
	// go, which setns changes for a pid namespace (the thread's own stays).
	var homes []nsHome
	defer func() {
		for _, h := range homes {
			unix.Close(h.fd)
		}
	}()
	for _, k := range []struct {
		flag uintptr
		name string
	}{{unix.CLONE_NEWPID, "pid_for_children"}, {unix.CLONE_NEWIPC, "ipc"}, {unix.CLONE_NEWNET, "net"}} {
		if all&k.flag == 0 {
			continue
		}
		fd, err := unix.Open("/proc/thread-self/ns/"+k.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return true, fmt.Errorf("opening own %s namespace: %w", k.name, err)
		}
		homes = append(homes, nsHome{fd: fd, flag: k.flag})
	}
	restore := func() bool {
		ok := true
		for _, h := range homes {
			if unix.Setns(h.fd, int(h.flag)) != nil {
				ok = false
			}
		}
		return ok
	}
	for _, t := range j.targets {
		if err := unix.Setns(int(t.pidfd.Fd()), int(t.flags)); err != nil {
			// A container that stopped since openNSJoin found it running loses its
			// namespaces before its exit shows: said as docker says it.
			err = notRunningIfExited(t.pid, t.pidfd, fmt.Errorf("joining namespaces %s of container %s: %w", nsNames(t.flags), t.id, err))
			if errors.Is(err, ErrNotRunning) {
				err = notRunningJoinError(t.id, t.kinds)
			}
			return restore(), err
		}
	}
	err = cmd.Start()
	if !restore() {
		if err == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			err = errors.New("returning to strata's own namespaces after starting the init")
		}
		return false, err
	}
	return true, err
}

// nsHome is an fd of one of a thread's own namespaces.
type nsHome struct {
	fd   int
	flag uintptr
}

// bindOrAttach mounts source on the target open as fd: a bind, or for the IPC donor's
// /dev/shm (shmSteps), the attach of the detached copy the init got as initShmFD, which no
// bind can take from (openDonorShm).
func bindOrAttach(source string, fd int) error {
	if source == donorShmSource {
		return unix.MoveMount(initShmFD, "", fd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	}
	return unix.Mount(source, fdPath(fd), "", unix.MS_BIND|unix.MS_REC, "")
}

// ListsProcess says whether top lists process pid, a process of c's pid namespace, as c's: with a
// pid namespace of its own, every process there but those of another container that joined
// it (--pid container:c, in a cgroup of its own); with the host's or another container's pid
// namespace, only those in c's cgroup, as docker's top lists a container's cgroup.
func (c *Container) ListsProcess(pid int) bool {
	if c.Config.Spec.PidMode != "" {
		return inCgroupOf(pid, c.ID)
	}
	b, err := readSmallFile(filepath.Join("/proc", strconv.Itoa(pid), "cgroup"), 1<<20)
	if err != nil {
		return true // gone, or unreadable: as it was listed
	}
	other := false
	for line := range strings.SplitSeq(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, name := range strings.Split(parts[2], "/") {
			switch {
			case name == c.ID:
				return true
			case len(name) == 64 && isHexID(name):
				other = true
			}
		}
	}
	return !other
}

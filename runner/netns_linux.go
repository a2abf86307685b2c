package runner

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// The init's argv after its marker: initNetnsArg says ExtraFiles[1] (initNetnsFD) is a network
// namespace to join; initNetnsLaterArg that the spec message names one (initStart.Netns), or,
// if it names none, that the init makes its own; each initCgroupArg+DIR is a v1 cgroup
// directory to join.
const (
	initNetnsFD       = 4
	initNetnsArg      = "netns"
	initNetnsLaterArg = "netns=later"
	initCgroupArg     = "cgroup="
)

// netnsSource says where the init of a --network none container gets its network namespace;
// the zero value: its clone makes one.
type netnsSource struct {
	fd    *os.File // made already: the init joins it (initNetnsFD); spawnInit closes it
	later bool     // still being made (PrepareNetwork): the spec message names it
	// join, when not nil, holds other containers' namespaces the clone enters (--network,
	// --pid, --ipc container:X); spawnInit closes it.
	join *nsJoin
}

// preparedNetns is a network namespace with lo up, made beside the start of a container
// instead of in the init's clone: making one is the dearest part of that clone (about a
// millisecond, the loopback device and every pernet subsystem), and a thread of strata's
// does it on the other CPU while the cgroup is made.
type preparedNetns struct {
	done chan struct{}
	fd   *os.File // the namespace, open; nil when making it failed
}

// prepareNetns starts making a network namespace in the background; take returns it.
func prepareNetns() *preparedNetns {
	n := &preparedNetns{done: make(chan struct{})}
	go func() {
		defer close(n.done)
		n.fd, _ = newNetns()
	}()
	return n
}

// take waits for the namespace and hands it over (the caller closes it); nil means the init
// must make its own.
func (n *preparedNetns) take() *os.File {
	if n == nil {
		return nil
	}
	<-n.done
	fd := n.fd
	n.fd = nil
	return fd
}

// release closes a namespace nobody took.
func (n *preparedNetns) release() {
	if fd := n.take(); fd != nil {
		fd.Close()
	}
}

// newNetns makes a network namespace with lo up on a thread of its own, and returns it open.
// The thread goes back to its namespace after; one that cannot is left locked, so the
// runtime ends it rather than run other goroutines in the new namespace.
func newNetns() (*os.File, error) {
	runtime.LockOSThread()
	home, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer home.Close()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("creating network namespace: %w", err)
	}
	ns, err := os.Open("/proc/thread-self/ns/net")
	if err == nil {
		if err = loopbackUp(); err != nil {
			ns.Close()
			ns, err = nil, fmt.Errorf("bringing up lo: %w", err)
		}
	}
	if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
		runtime.UnlockOSThread()
	}
	return ns, err
}

// joinPreparedNetns moves the init into the network namespace its parent made for it (fd
// initNetnsFD), when there is one.
func joinPreparedNetns(prepared bool) error {
	if !prepared {
		return nil
	}
	defer unix.Close(initNetnsFD)
	if err := unix.Setns(initNetnsFD, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("joining network namespace: %w", err)
	}
	return nil
}

// joinLaterNetns gives an init started with initNetnsLaterArg its network namespace: the one
// at path (the parent's fd of it, /proc/PID/fd/N, open until the init execs), or a new one
// when path is "" or cannot be opened (a /proc that hides the parent): isolated either way.
// It reports whether lo is up already.
func joinLaterNetns(path string) (loUp bool, err error) {
	fd := -1
	if path != "" {
		fd, _ = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if fd < 0 {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return false, fmt.Errorf("creating network namespace: %w", err)
		}
		return false, nil
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return false, fmt.Errorf("joining network namespace: %w", err)
	}
	return true, nil
}

package runner

import (
	"errors"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/strata-run/strata/runner/cgroups"
	"golang.org/x/sys/unix"
)

// EarlyCgroup is the cgroup of a container, made as soon as its limits are known and before
// the container itself exists, so that the init can be started in it (PrepareInit) while the
// image is looked up and the container created.
type EarlyCgroup struct {
	id  string
	res cgroups.Resources
	cg  *cgroups.Cgroup
	err error // from making it
}

// early holds the EarlyCgroups not yet taken by a run, by container ID.
var early sync.Map

// PrepareCgroup makes the cgroup of the container that will be created with id, with limits r
// (as its Spec will hold them: with AllDevices for a privileged one, as withDefaults sets).
// The run of that container in this process (RunContainer) takes it, and Start hands it to the
// monitor; Release removes it if neither did.
func PrepareCgroup(id string, r cgroups.Resources) *EarlyCgroup {
	e := &EarlyCgroup{id: id, res: r}
	e.cg, e.err = newCgroup(id, r)
	early.Store(id, e)
	testStop(stopCgroup)
	return e
}

// TestStopEnv is a test hook: when it names one of the points below (or several, separated
// by commas), a strata run stops itself there (SIGSTOP), so that an integration test can
// SIGKILL it at exactly that point. stopCgroup: the container's cgroup is made, its dir not
// yet. stopPreparing: a create (or run) has reserved the container's name and made its dir,
// and not yet its root and volumes. stopCreated: a run's container is created (recorded with
// this process as its monitor), not yet started (in the foreground or, for -d, by its
// monitor). stopMonitorTold: Start has spawned the monitor (or told an early one its
// container) under the container's lock and waits for its answer. stopMonitor: a monitor
// has started (spawnMonitor passes TestStopEnv on to it), before it reads its container.
const TestStopEnv = "STRATA_TEST_STOP_AT"

const (
	stopCgroup      = "cgroup"
	stopPreparing   = "preparing"
	stopCreated     = "created"
	stopMonitorTold = "monitor-told"
	stopMonitor     = "monitor"
	// stopKillerExited: the killer an interrupted restart left (spawnStopKiller) has seen the
	// container's process exit, and has not yet read its state to start it again.
	stopKillerExited = "killer-exited"
	// stopInterrupted: a stop or restart interrupted (SIGINT, SIGTERM) while it waited for
	// its container to exit is about to leave the killer that finishes it (spawnStopKiller).
	stopInterrupted = "stop-interrupted"
	// stopSignalled: a stop or restart has sent its container the stop signal, its killer
	// spawned (spawnStopKiller), and not yet begun to wait for the exit.
	stopSignalled = "stop-signalled"
)

// testStop stops this process if TestStopEnv names point. The signal goes to this thread
// (tgkill), which stops on its way out of the system call: sent to the process, another
// thread took it and this one ran on meanwhile, past the point (a create stopped "preparing"
// was found whole).
func testStop(point string) {
	if env := os.Getenv(TestStopEnv); env != "" && slices.Contains(strings.Split(env, ","), point) {
		runtime.LockOSThread()
		_ = unix.Tgkill(unix.Getpid(), unix.Gettid(), unix.SIGSTOP)
		runtime.UnlockOSThread()
	}
}

// Release removes the cgroup unless a run took it; call it once the container has run or
// failed to be created.
func (e *EarlyCgroup) Release() error {
	if v, ok := earlyNetns.LoadAndDelete(e.id); ok {
		v.(*preparedNetns).release()
	}
	if v, ok := earlyInits.LoadAndDelete(e.id); ok {
		v.(*earlyInit).end()
	}
	if m := takeMonitor(e.id); m != nil {
		m.end()
	}
	if _, ok := early.LoadAndDelete(e.id); !ok {
		return nil
	}
	if e.err != nil {
		return nil
	}
	return errors.Join(e.cg.Delete(), e.cg.Close())
}

// takeCgroup returns the cgroup of container id: the one PrepareCgroup made for it (or the
// monitor adopted, adoptCgroup), or a new one.
func takeCgroup(id string, r cgroups.Resources) (*cgroups.Cgroup, error) {
	if v, ok := early.LoadAndDelete(id); ok {
		e := v.(*EarlyCgroup)
		if e.err != nil || e.res.Equal(r) {
			return e.cg, e.err
		}
		// Made with other limits than the container's: not the one it needs.
		if err := e.cg.Delete(); err != nil {
			return nil, err
		}
	}
	return newCgroup(id, r)
}

// newCgroup creates the cgroup of container id.
func newCgroup(id string, r cgroups.Resources) (*cgroups.Cgroup, error) {
	return cgroups.New(id, r)
}

// handOver takes the cgroup PrepareCgroup made for container id, for a monitor that will load
// it (adoptCgroup). ok is false when there is none; the cgroup's creation error is returned.
// The caller deletes the cgroup if the monitor fails to start.
// A cgroup made with other limits than r is deleted instead: the monitor makes its own.
func handOver(id string, r cgroups.Resources) (cg *cgroups.Cgroup, ok bool, err error) {
	v, ok := early.LoadAndDelete(id)
	if !ok {
		return nil, false, nil
	}
	e := v.(*EarlyCgroup)
	switch {
	case e.err != nil:
		return nil, true, e.err
	case !e.res.Equal(r):
		return nil, false, e.cg.Delete()
	}
	return e.cg, true, e.cg.Close()
}

// earlyCgroupFits says whether handOver would hand over the cgroup PrepareCgroup made for
// container id, as one made with limits r.
func earlyCgroupFits(id string, r cgroups.Resources) bool {
	v, ok := early.Load(id)
	if !ok {
		return false
	}
	e := v.(*EarlyCgroup)
	return e.err == nil && e.res.Equal(r)
}

// adoptCgroup is the monitor's side of handOver: the cgroup of container id exists, made with
// limits r by the strata that started this monitor, and run takes it as it is.
func adoptCgroup(id string, r cgroups.Resources) error {
	if v, ok := early.Load(id); ok {
		// Loaded already, for the init an early monitor started in it (prepareEarly).
		v.(*EarlyCgroup).res = r
		return nil
	}
	cg, err := cgroups.Load(r.Key(id))
	if err != nil {
		return err
	}
	early.Store(id, &EarlyCgroup{id: id, res: r, cg: cg})
	return nil
}

// InitShape is what the init of a container is cloned with, known from the flags before the
// container's Spec is: its namespaces and how its stdio is attached.
type InitShape struct {
	Network  string // Spec.Network
	Terminal bool   // Spec.Terminal
	Stdin    bool   // Spec.Stdin
	// PidMode, IpcMode and UTSMode are the Spec's (nsshare.go).
	PidMode, IpcMode, UTSMode string
}

// shapeOf is the shape of spec's init.
func shapeOf(spec Spec) InitShape {
	return InitShape{Network: spec.Network, Terminal: spec.Terminal, Stdin: spec.Stdin,
		PidMode: spec.PidMode, IpcMode: spec.IpcMode, UTSMode: spec.UTSMode}.withDefaults()
}

// withDefaults is s with the network a Spec defaults to (Spec.withDefaults, which would also
// look up the host name for a host-network container).
func (s InitShape) withDefaults() InitShape {
	if s.Network == "" {
		s.Network = NetworkNone
	}
	return s
}

// earlyInit is an init started by PrepareInit, waiting for its container's spec.
type earlyInit struct {
	shape InitShape
	stdio Stdio
	p     *initProc // nil when the start failed
}

// earlyInits holds the inits PrepareInit started and no run took yet, by container ID.
var earlyInits sync.Map

// earlyNetns holds the network namespaces PrepareNetwork is making, by container ID.
var earlyNetns sync.Map

// PrepareNetwork starts making, in the background, the network namespace of the container that
// will be created with id, when its network is one of its own (none): its init then joins it
// instead of making one in its clone, the dearest namespace to make. The init is PrepareInit's,
// Run's, or that of the monitor Start spawns, which Start hands it to. Called before
// PrepareCgroup, it is made while the cgroup is. Release closes it if nothing took it.
func PrepareNetwork(id, network string) {
	if network != NetworkNone && network != "" {
		return
	}
	earlyNetns.Store(id, prepareNetns())
}

// adoptNetns registers ns, which PrepareNetwork made in the strata that started this monitor,
// as the network namespace of container id.
func adoptNetns(id string, ns *os.File) {
	n := &preparedNetns{done: make(chan struct{}), fd: ns}
	close(n.done)
	earlyNetns.Store(id, n)
}

// takeNetns returns the namespace PrepareNetwork made for id, or nil.
func takeNetns(id string) *os.File {
	v, ok := earlyNetns.LoadAndDelete(id)
	if !ok {
		return nil
	}
	return v.(*preparedNetns).take()
}

// PrepareInit starts the init of the container that will be created with id, in the cgroup
// PrepareCgroup made for it, to be run in this process (RunContainer) with stdio. Its process
// start, namespaces and runtime start then overlap with the image lookup and the container's
// creation instead of following them; the run takes it if the container's spec has the same
// shape. Without a usable cgroup it does nothing, and a failed start is left to the run, which
// starts its own init and reports the error. Release ends it if no run took it.
func (e *EarlyCgroup) PrepareInit(shape InitShape, stdio Stdio) {
	if e.err != nil || !stdioComparable(stdio) || shape.joins() {
		return
	}
	shape = shape.withDefaults()
	// A namespace PrepareNetwork is still making is named in the spec message: the clone
	// need not wait for it. The clone is made here rather than from a goroutine, although it
	// returns only once the child has exec'd: on 2 CPUs, busy with the network namespace and
	// this process's start, a new goroutine waited about a millisecond for a thread, and the
	// init's start is what the container waits for (0.9 ms less per `run --rm`, A/B).
	_, preparing := earlyNetns.Load(e.id)
	p, _ := spawnInit(shape, stdio, e.cg, netnsSource{later: shape.Network == NetworkNone && preparing})
	earlyInits.Store(e.id, &earlyInit{shape: shape, stdio: stdio, p: p})
}

// takeInit returns the init PrepareInit started for container id when it fits: same shape and
// stdio, and in cg. An init that does not fit is ended; nil means the caller starts one.
func takeInit(id string, shape InitShape, stdio Stdio, cg *cgroups.Cgroup) *initProc {
	v, ok := earlyInits.LoadAndDelete(id)
	if !ok {
		return nil
	}
	ei := v.(*earlyInit)
	if ei.p != nil && ei.shape == shape && ei.p.cg == cg && stdioComparable(stdio) && ei.stdio == stdio {
		return ei.p
	}
	ei.end()
	return nil
}

// end kills an init that will not be used and reaps it.
func (ei *earlyInit) end() {
	if ei.p == nil {
		return
	}
	// Killed before its socket closes: it must not take the EOF for a spec to report on.
	_ = ei.p.cmd.Process.Kill()
	ei.p.sock.Close()
	_ = ei.p.wait()
}

// stdioComparable says whether stdio's readers and writers can be compared with ==: nil or
// pointers (an *os.File), not values of types that would make == panic.
func stdioComparable(stdio Stdio) bool {
	for _, v := range []any{stdio.Stdin, stdio.Stdout, stdio.Stderr} {
		if v != nil && reflect.TypeOf(v).Kind() != reflect.Pointer {
			return false
		}
	}
	return true
}

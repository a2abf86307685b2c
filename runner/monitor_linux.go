package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/strata-run/strata/internal/safefile"
	"github.com/strata-run/strata/runner/cgroups"
	"golang.org/x/sys/unix"
)

// monitorPipeFD is the monitor's end of the pipe Start reads its answer from.
const monitorPipeFD = 3

// monitorResult is the monitor's one answer to Start: ready, or why the container did not
// start (with the exit code strata should use).
type monitorResult struct {
	Ready bool   `json:"ready,omitempty"`
	Error string `json:"error,omitempty"`
	Code  int    `json:"code,omitempty"`
	Kind  string `json:"kind,omitempty"` // see remoteSentinels
}

// Start runs c detached, for `run -d` and `strata start`: it spawns a monitor (strata
// re-executed in a session of its own, stdio on /dev/null) that runs the container with its
// output going to log.json, records its end in state.json, and removes it when AutoRemove.
// Start returns once the command runs, or with the init's error (an *ExitCodeError). Starting
// a running container does nothing, nor does starting one its restart policy restarts.
func Start(ctx context.Context, c *Container) error {
	return start(ctx, c, false, false)
}

// start is Start, by hand or, byPolicy, by the monitor that restarts c (restartAfter): that
// one starts only the container it still restarts, and not once a stop, rm -f or kill has
// canceled the restart (errRestartCanceled, read under the lock they cannot start it under).
// attach says the caller attaches once it returns (StartInteractive, StartAttached): the
// monitor it spawns waits for that attach at the container's end (awaitStarter).
func start(ctx context.Context, c *Container, byPolicy, attach bool) (err error) {
	// A new container's config is synced while its monitor starts.
	defer func() {
		if derr := c.Durable(); derr != nil && err == nil {
			err = withCode(ExitOwnError, derr)
		}
	}()
	if c.Broken != nil {
		return withCode(ExitOwnError, c.Broken)
	}
	if c.monitored {
		c.monitored = false // the monitor spawned below takes this process's record over
		testStop(stopCreated)
	}
	// A run -d monitors c until the monitor answers, which has recorded itself by then (its
	// own proof is its command line, isDetachedMonitor). Never inherited by the monitor.
	defer dropMonitorProof(c.ID)
	// Held until the monitor has recorded the start, by the monitor too: it is handed the
	// lock's open file (see monitorLocked), so a start killed once the monitor runs leaves the
	// container locked until the monitor is done with its start.
	lock, err := c.lock()
	if err != nil {
		return withCode(ExitOwnError, err)
	}
	defer lock.Unlock()
	if err := dropForeignStarter(c); err != nil {
		return withCode(ExitOwnError, err)
	}
	if c.State.Running() {
		return nil
	}
	switch {
	case byPolicy && (!c.State.Restarting || c.State.MonitorPid != os.Getpid()):
		return nil // started by hand since
	case byPolicy && readStopMark(c) == restartCanceled:
		return errRestartCanceled
	case !byPolicy && c.State.Restarting:
		return nil // its monitor starts it after the backoff, as docker's start leaves it
	case !byPolicy:
		clearStopMark(c)
	}
	if c.State.Status == StatusRunning {
		// Exiting: its monitor records the exit (after deleting the cgroup) before a new
		// one may take over.
		if _, err := Wait(ctx, c); err != nil {
			return withCode(ExitOwnError, err)
		}
	}
	if err := readyVolatileRoot(c); err != nil {
		return withCode(ExitOwnError, err)
	}
	// A layer dir emptied or partly deleted since the container's creation is unpacked
	// again into the path its overlay names, or the start refused (SetLayerChecker).
	if err := checkLayersIntact(c); err != nil {
		return withCode(ExitOwnError, err)
	}
	var netnsPath string
	netns := takeNetns(c.ID) // made by PrepareNetwork while the container was created
	if netns != nil {
		defer netns.Close() // the monitor's init has joined it once the monitor answers
		netnsPath = fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), netns.Fd())
	}
	res := c.Config.Spec.withDefaults().Resources
	m := takeMonitor(c.ID)
	if m != nil && !earlyCgroupFits(c.ID, res) {
		m.end() // its init is in a cgroup handOver deletes
		m = nil
	}
	cg, handed, err := handOver(c.ID, res)
	if err != nil {
		return withCode(ExitOwnError, fmt.Errorf("creating cgroup: %w", err))
	}
	if handed {
		defer func() {
			if err != nil {
				_ = cg.Delete() // the monitor took it only if it answered Ready
			}
		}()
	}
	if m != nil {
		// Started by PrepareMonitor while the container was created: it waits for this.
		err = m.tell(monitorGo{Dir: c.Dir, Layers: c.layers, CgroupMade: handed, Netns: netnsPath, Attach: attach}, lock.File())
		m.goPipe.Close()
		if err != nil {
			m.end()
			m = nil
		}
	}
	if m == nil {
		args, extra := []string{monitorMarker, c.Dir, monitorLocked}, []*os.File{lock.File()} // monitorLockFD
		if netns != nil {
			args, extra = append(args, monitorNetns), append(extra, netns) // monitorNetnsFD
		}
		if handed {
			args = append(args, monitorCgroupMade)
		}
		if attach {
			args = append(args, monitorAttach)
		}
		if c.layers != "" {
			args = append(args, monitorLayers+c.layers)
		}
		if m, err = spawnMonitor(args, extra); err != nil {
			return withCode(ExitOwnError, fmt.Errorf("starting monitor: %w", err))
		}
	}
	testStop(stopMonitorTold)
	cmd, r := m.cmd, m.answer
	defer r.Close()
	// The monitor outlives a strata CLI; in a long-lived caller (tests, an API) this reaps it.
	go func() { _ = cmd.Wait() }()

	type answer struct {
		res monitorResult
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		var a answer
		a.err = json.NewDecoder(r).Decode(&a.res)
		ch <- a
	}()
	select {
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return withCode(ExitOwnError, fmt.Errorf("starting container %s: %w", shortID(c.ID), ctx.Err()))
	case a := <-ch:
		switch {
		case a.err != nil:
			return withCode(ExitOwnError, fmt.Errorf("starting container %s: monitor exited without an answer: %w", shortID(c.ID), a.err))
		case a.res.Ready:
			// The monitor recorded the running state. A --rm container may have ended and
			// been removed already (run -d --rm true): it ran, which is what was asked.
			if err := c.Reload(); err != nil && !(c.Config.AutoRemove && errors.Is(err, ErrNotFound)) {
				return err
			}
			return nil
		case a.res.Code == ExitNotFound || a.res.Code == ExitCannotInvoke:
			return &ExitCodeError{Code: a.res.Code, Err: &remoteError{a.res.Error, remoteSentinels[a.res.Kind]}}
		default:
			return &ExitCodeError{Code: ExitOwnError, Err: &remoteError{a.res.Error, remoteSentinels[a.res.Kind]}}
		}
	}
}

// The monitor's optional arguments after the container dir. monitorCgroupMade: the
// container's cgroup exists already (PrepareCgroup in the strata that started it).
// monitorLocked: fd monitorLockFD is the open file of the container's lock, which Start holds
// (see below). monitorNetns: fd monitorNetnsFD is the network namespace PrepareNetwork made
// for it. monitorAttach: the strata that starts it attaches once it has (awaitStarter).
// monitorLayers+DIR: the store's layer dir (Store.SetLayerDir), where the lowerdirs of the
// container's root must be, at this start and at each its restart policy makes.
// monitorEarly+JSON, alone: the monitor started before its container existed
// (PrepareMonitor), for the earlyMonitor the JSON describes; it reads what the others say
// from the socket at fd monitorGoFD, as a monitorGo, with the lock's open file (SCM_RIGHTS).
//
// The monitor holds the lock with Start (an flock belongs to the open file, not to a process)
// until it has recorded the start, running or failed, and then closes it: a start killed
// while its monitor starts the container left the container unlocked, and an rm, another
// start or a sweep worked on it while the monitor went on to run it (an rm removed it before
// the monitor marked itself, which then started it in a dir gone). The monitor marks every
// fd it inherits close-on-exec first: no init it clones ever holds the lock.
const (
	monitorCgroupMade = "--cgroup-made"
	monitorLocked     = "--locked"
	monitorLockFD     = 4
	monitorNetns      = "--netns"
	monitorNetnsFD    = 5
	monitorAttach     = "--attach"
	monitorLayers     = "--layers="
	monitorEarly      = "--early="
	monitorGoFD       = 4
)

// earlyMonitor is what a monitor PrepareMonitor starts knows before its container exists: the
// container's ID (its cgroup's name) and the shape of its init, which it starts at once.
type earlyMonitor struct {
	ID    string    `json:"id"`
	Shape InitShape `json:"shape"`
}

// monitorGo is what Start sends a monitor PrepareMonitor started: its container, whether its
// cgroup exists, the network namespace to join (the path of Start's fd of it, or ""), and
// whether its strata attaches (monitorAttach).
type monitorGo struct {
	Dir        string `json:"dir"`
	Layers     string `json:"layers,omitempty"` // monitorLayers
	CgroupMade bool   `json:"cgroupMade,omitempty"`
	Netns      string `json:"netns,omitempty"`
	Attach     bool   `json:"attach,omitempty"`
}

// monitorProc is a started monitor: the process, the read end of its answer pipe and, for
// one PrepareMonitor started, Start's end of the socket it sends its monitorGo on.
type monitorProc struct {
	cmd    *exec.Cmd
	answer *os.File
	goPipe *os.File
}

// spawnMonitor starts a monitor with args (after its marker) and extra files from fd 4 on: the
// helper program (or this binary) through its protected view, in a session of its own, stdio
// on /dev/null. It will be the parent of the container's processes for as long as they run.
func spawnMonitor(args []string, extra []*os.File) (_ *monitorProc, err error) {
	exe, release, err := sealedExe()
	if err != nil {
		return nil, err
	}
	defer release()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	env := []string{"GOGC=25", oneP}
	if stop := os.Getenv(TestStopEnv); stop != "" {
		env = append(env, TestStopEnv+"="+stop) // tests only: see stopMonitor
	}
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        args,
		Env:         env,
		Dir:         "/", // pin no mount
		ExtraFiles:  append([]*os.File{w}, extra...),
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	release()
	dropSealedExe() // not at this process's exit (see dropSealedExe)
	if err != nil {
		r.Close()
		return nil, err
	}
	return &monitorProc{cmd: cmd, answer: r}, nil
}

// earlyMonitors holds the monitors PrepareMonitor started and no Start took yet, by ID.
var earlyMonitors sync.Map

// PrepareMonitor starts the monitor of the container that will be created with id and run
// detached (Start), so that its process and runtime start while the image is looked up and
// the container created, instead of after: it waits for Start to name the container. A
// failed start is left to Start, which spawns its own and reports the error. Release ends a
// monitor no Start took.
func (e *EarlyCgroup) PrepareMonitor(shape InitShape) {
	if e.err != nil {
		return
	}
	arg, err := json.Marshal(earlyMonitor{ID: e.id, Shape: shape.withDefaults()})
	if err != nil {
		return
	}
	// A socket, not a pipe: the monitorGo comes with the container's lock (SCM_RIGHTS), in
	// one message.
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return
	}
	gw, gr := os.NewFile(uintptr(fds[0]), "monitor-go"), os.NewFile(uintptr(fds[1]), "monitor-go")
	defer gr.Close()
	m, err := spawnMonitor([]string{monitorMarker, monitorEarly + string(arg)}, []*os.File{gr}) // monitorGoFD
	if err != nil {
		gw.Close()
		return
	}
	m.goPipe = gw
	earlyMonitors.Store(e.id, m)
}

// tell sends a monitor PrepareMonitor started its monitorGo, with lock, the open file of the
// container's lock, which it holds until it has recorded the start.
func (m *monitorProc) tell(g monitorGo, lock *os.File) error {
	b, err := json.Marshal(g)
	if err != nil {
		return err
	}
	if len(b) > monitorGoMax {
		return fmt.Errorf("monitor: container dir too long (%d bytes)", len(g.Dir))
	}
	for {
		// A blocking socket, whose buffer takes one small message at once.
		err = unix.Sendmsg(int(m.goPipe.Fd()), b, unix.UnixRights(int(lock.Fd())), nil, unix.MSG_NOSIGNAL)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// monitorGoMax bounds a monitorGo's message: a container dir and a /proc path, far less.
const monitorGoMax = 64 << 10

// takeMonitor returns the monitor PrepareMonitor started for container id, or nil.
func takeMonitor(id string) *monitorProc {
	v, ok := earlyMonitors.LoadAndDelete(id)
	if !ok {
		return nil
	}
	return v.(*monitorProc)
}

// end ends a monitor that will not be used, before it was told of any container (its init,
// if it started one, dies with it: parent-death signal), and waits for it.
func (m *monitorProc) end() {
	if m.goPipe != nil {
		m.goPipe.Close()
	}
	_ = m.cmd.Process.Kill()
	_ = m.cmd.Wait()
	m.answer.Close()
}

// readMonitorGo reads, in a monitor PrepareMonitor started, what Start sends it, and the open
// file of the container's lock that comes with it (nil if none did).
func readMonitorGo() (g monitorGo, lock *os.File, err error) {
	defer unix.Close(monitorGoFD)
	buf, oob := make([]byte, monitorGoMax+1), make([]byte, unix.CmsgSpace(4*4))
	var n, oobn, flags int
	for {
		n, oobn, flags, _, err = unix.Recvmsg(monitorGoFD, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err == nil {
		var fds []int
		if msgs, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil {
			for _, m := range msgs {
				if rights, rerr := unix.ParseUnixRights(&m); rerr == nil {
					fds = append(fds, rights...)
				}
			}
		}
		for i, fd := range fds {
			if i == 0 {
				lock = os.NewFile(uintptr(fd), "lock")
			} else {
				unix.Close(fd)
			}
		}
	}
	switch {
	case err != nil:
	case n == 0:
		err = io.EOF // Start ended it (Release), or its strata is gone
	case n > monitorGoMax || flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0:
		err = errors.New("message truncated")
	default:
		err = json.Unmarshal(buf[:n], &g)
	}
	if err == nil && g.Dir == "" {
		err = errors.New("no container named")
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return g, nil, fmt.Errorf("monitor: waiting for its container: %w", err)
	}
	return g, lock, nil
}

// earlyMonitorArg reads the argument of a monitor PrepareMonitor started, if argv is one.
func earlyMonitorArg(argv []string) (earlyMonitor, bool) {
	var em earlyMonitor
	if len(argv) != 1 || !strings.HasPrefix(argv[0], monitorEarly) {
		return em, false
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(argv[0], monitorEarly)), &em); err != nil || em.ID == "" {
		return em, false
	}
	return em, true
}

// prepareEarly starts, in a monitor PrepareMonitor started, the init of the container em
// names, in its cgroup (made by the strata that started us) and attached to stdio, so that
// its start overlaps the container's creation. The network namespace that strata made is
// named later, by the monitorGo: until then a --network none init is told it comes later.
// It returns the namespace's placeholder to fill (nil for another network).
func prepareEarly(em earlyMonitor, stdio Stdio) *preparedNetns {
	cg, err := cgroups.Load(em.ID)
	if err != nil {
		return nil // run makes or loads it and starts its own init
	}
	var netns *preparedNetns
	if em.Shape.Network == NetworkNone {
		netns = &preparedNetns{done: make(chan struct{})}
		earlyNetns.Store(em.ID, netns)
	}
	// Its limits are the container's, which adoptCgroup records once the monitorGo names it.
	e := &EarlyCgroup{id: em.ID, cg: cg}
	early.Store(em.ID, e)
	e.PrepareInit(em.Shape, stdio)
	return netns
}

// monitorFlags are the monitor's optional arguments after the container dir.
type monitorFlags struct {
	cgroupMade, locked, netns, attach bool
	layers                            string
}

// monitorArgs reads the monitor's arguments: the container dir, then optional flags, each
// once.
func monitorArgs(argv []string) (f monitorFlags, ok bool) {
	if len(argv) == 0 || argv[0] == "" || strings.HasPrefix(argv[0], monitorEarly) {
		return monitorFlags{}, false
	}
	for _, a := range argv[1:] {
		switch {
		case a == monitorCgroupMade && !f.cgroupMade:
			f.cgroupMade = true
		case a == monitorLocked && !f.locked:
			f.locked = true
		case a == monitorNetns && !f.netns:
			f.netns = true
		case a == monitorAttach && !f.attach:
			f.attach = true
		case strings.HasPrefix(a, monitorLayers) && f.layers == "" && len(a) > len(monitorLayers):
			f.layers = strings.TrimPrefix(a, monitorLayers)
		default:
			return monitorFlags{}, false
		}
	}
	return f, true
}

// inheritedCloseOnExec marks close-on-exec every fd the monitor inherited (its answer pipe,
// the container's lock, a network namespace, an early monitor's socket): an init it clones
// gets only what it is given, never the lock nor any of strata's other files.
func inheritedCloseOnExec() {
	if unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC) != nil {
		for fd := 3; fd <= 5; fd++ { // close_range before 5.11: those the monitor is given
			unix.CloseOnExec(fd)
		}
	}
}

// runMonitor is the detached container's monitor: strata re-executed by Start.
func runMonitor() {
	inheritedCloseOnExec()
	nameProcess(monitorMarker)
	testStop(stopMonitor)
	// The monitor lives as long as the container; keep its heap small.
	debug.SetMemoryLimit(16 << 20)
	pipe := os.NewFile(monitorPipeFD, "monitor-pipe")
	// The container's lock, which Start holds too (monitorLocked): closed once the running
	// state is written, before the answer. A monitor that answers an error exits after it
	// (having recorded the failure, and removed a --rm container), which releases it.
	var lock *os.File
	answer := func(r monitorResult) {
		if lock != nil && r.Ready {
			lock.Close()
			lock = nil
		}
		if pipe != nil {
			_ = json.NewEncoder(pipe).Encode(r)
			pipe.Close()
			pipe = nil
		}
	}
	var dir, netnsPath, layers string
	var netnsFile *os.File
	var earlyNS *preparedNetns
	lw := newLogWriter(nil) // the container's log file is opened below
	// What the container writes goes to its log and to `strata attach` clients.
	hub := newAttachHub()
	stdio := Stdio{Stdout: hub.tee(frameStdout, lw.stream("stdout")), Stderr: hub.tee(frameStderr, lw.stream("stderr")), Terminal: hub}
	// -d -i: as with docker, the container's stdin stays open and never reaches EOF (cat
	// keeps running). The monitor holds the pipe's write end for as long as the container
	// runs, and writes what attach clients send to it.
	var stdinWriter *os.File
	openStdin := func() error {
		r, w, err := os.Pipe()
		if err == nil {
			stdio.Stdin, stdinWriter = r, w
			hub.setStdin(w)
		}
		return err
	}
	// The strata that started us, while it is our parent: one that attaches is waited for.
	starter := os.Getppid()
	em, early := earlyMonitorArg(os.Args[1:])
	flags, ok := monitorArgs(os.Args[1:])
	cgroupMade, attached := flags.cgroupMade, flags.attach
	switch {
	case early:
		if em.Shape.Stdin && openStdin() != nil {
			em.Shape.Stdin = false // run opens it again, and reports a failure
		}
		earlyNS = prepareEarly(em, stdio)
		g, l, err := readMonitorGo()
		lock = l
		if err != nil {
			answer(monitorResult{Error: err.Error(), Code: ExitOwnError})
			os.Exit(ExitOwnError)
		}
		dir, cgroupMade, netnsPath, attached, layers = g.Dir, g.CgroupMade, g.Netns, g.Attach, g.Layers
	case !ok:
		answer(monitorResult{Error: "monitor: want the container dir, then optionally " + monitorCgroupMade + " and " + monitorNetns, Code: ExitOwnError})
		os.Exit(ExitOwnError)
	default:
		dir, layers = os.Args[1], flags.layers
		if flags.locked {
			lock = os.NewFile(monitorLockFD, "lock")
		}
		if flags.netns {
			netnsFile = os.NewFile(monitorNetnsFD, "netns")
		}
	}
	s := &Store{dir: filepath.Dir(dir), layers: layers}
	c, err := s.load(filepath.Base(dir))
	switch {
	case err != nil:
	case early && c.ID != em.ID:
		err = errors.New("monitor: started for another container")
	case early && !cgroupMade:
		// Start hands an early monitor the cgroup it started its init in, or ends it.
		err = errors.New("monitor: its container's cgroup was not handed over")
	case cgroupMade:
		// Before markMonitor: the cgroup handed over is this start's, not one a dead monitor
		// left (removeStaleCgroup), though the run -d that made it is recorded as the
		// container's monitor and may have been killed since.
		err = adoptCgroup(c.ID, c.Config.Spec.withDefaults().Resources)
	}
	if err == nil {
		err = markMonitor(c, os.Getppid()) // the container's lock is held until we answer
	}
	if err == nil && netnsPath != "" {
		// Start's fd of it, open until we answer. One that does not open leaves the init to
		// make its own namespace: isolated either way.
		netnsFile, _ = os.Open(netnsPath)
	}
	switch {
	case earlyNS != nil:
		// The early init waits for it in its spec message (nil: it makes its own).
		earlyNS.fd = netnsFile
		close(earlyNS.done)
	case err == nil && netnsFile != nil:
		adoptNetns(c.ID, netnsFile)
	}
	if err != nil {
		answer(monitorResult{Error: err.Error(), Code: ExitOwnError})
		os.Exit(ExitOwnError)
	}
	// The log, as its driver keeps it: json-file's log.json (rotated when bounded), or
	// nothing (none).
	var logs *containerLog
	if c.Config.LogConfig.Keeps() {
		var attrs json.RawMessage
		if attrs, err = logAttrs(c); err == nil {
			lw.setAttrs(attrs)
			logs, err = openContainerLog(dir, c.Config.LogConfig)
		}
		if err != nil {
			err = fmt.Errorf("opening container log: %w", err)
			recordExit(c, result{Code: ExitOwnError}, err)
			answer(monitorResult{Error: err.Error(), Code: ExitOwnError})
			os.Exit(ExitOwnError)
		}
		lw.setOut(logs)
	} else {
		lw.discard()
	}
	if c.Config.Spec.Stdin && stdio.Stdin == nil {
		if err := openStdin(); err != nil {
			err = fmt.Errorf("creating the container's stdin: %w", err)
			recordExit(c, result{Code: ExitOwnError}, err)
			answer(monitorResult{Error: err.Error(), Code: ExitOwnError})
			os.Exit(ExitOwnError)
		}
	}
	hub.size = c.Config.ConsoleSize
	if stdinWriter != nil && !c.Config.Spec.Terminal && c.Config.StdinOnce {
		// An attach closes its stdin when its own input ends, as docker's attach of a
		// StdinOnce container: `echo hi | strata start -ai c` or `strata attach c` of a cat
		// made with create -i ends. One made with run -d -i keeps it open, as docker's.
		hub.setStdinOnce(stdinWriter)
	}
	starterAlive := func() bool { return os.Getppid() == starter }
	if attached {
		// Its output is kept from the first byte for the attach of the strata that started
		// it, which comes once the start is answered.
		hub.holdForStarter()
	}
	// The attach socket is made while the container starts, and is there once run -d returns.
	listening := make(chan struct{})
	go func() {
		defer close(listening)
		_ = hub.listen(dir) // without it, attach says the container has none
	}()
	answeredReady := false    // the starter attaches only after a start answered ready
	var health *healthChecker // its health checks, if it has some (health_linux.go)
	res, err := run(context.Background(), c, c.Config.Spec, stdio, nil, func(pid int, _ <-chan struct{}) {
		<-listening
		recordRunning(c, pid, time.Now().UTC())
		health = startHealth(c, c.State.StartedAt, true)
		answer(monitorResult{Ready: true})
		answeredReady = true
		if attached {
			// Its starter attaches now: the hold for it lasts attachHello at most, and
			// while that strata lives.
			go func() {
				hub.awaitStarter(attachHello, starterAlive)
				hub.endHold()
			}()
		}
		// What starting the container allocated (the seccomp filter's compilation above
		// all) is garbage now: collect it and give the memory back, then the binary's pages.
		debug.FreeOSMemory()
		pageOutExecutable()
	})
	// The checks end with the container, whatever one under way does, before its exit is
	// recorded: a start after that record runs checks of its own.
	health.stop()
	// Closed only now: a write end the garbage collector finalized earlier would end the
	// container's input.
	stdinWriter.Close()
	// The output has ended (run waited for its copies): its unfinished lines are logged
	// before the exit is recorded, when a follower stops reading.
	_ = lw.flush()
	// Decided before the exit is recorded: a Restart waits for that record, then starts the
	// next monitor, which removes the restart mark; read after, the mark would be gone and
	// this monitor would remove the restarted container (its cgroup under the new init).
	remove := c.Config.AutoRemove && !restarting(c)
	<-listening
	if attached && answeredReady {
		// The attach of the strata that started it comes once the start is answered: one
		// that came after this end met no socket, and its fallback a restart policy's
		// next run (its output, its status). Waited for while that strata lives.
		hub.awaitStarter(attachHello, starterAlive)
	}
	// A start that failed is answered with its error below, and no attach follows: waited
	// for, its 126 or 127 came attachHello late.
	hub.endHold()
	hub.stopListening(dir) // before the exit record lets a next start in
	code := noteExit(c, res, err)
	var delay time.Duration
	again := false
	if err == nil {
		delay, again = policyRestart(c, res)
	}
	_ = c.saveState()
	hub.finish(dir, code)
	if err != nil {
		answer(monitorResult{Error: err.Error(), Code: code, Kind: sentinelKind(err)})
	}
	if logs != nil {
		_ = logs.Close() // once its last rotated file is compressed
	}
	if again {
		restartAfter(c, delay)
		os.Exit(0)
	}
	if remove {
		release := waitForWaiters(c)
		_ = removeDir(c)
		release()
	}
	os.Exit(0)
}

// openLogForWriting opens (creating it) a container's log.json to append to: a regular file,
// never through a symlink (the container's output would overwrite the host file it names)
// nor blocking on a FIFO (the start would hang), and the container's own: a file with
// another name too (a host file linked in its place, which the output was appended to; a
// backup's `cp -al` or a dedup tool's link of two containers' equal logs) is copied to a file
// of its own, which takes log.json's place, but for log.json.1, which a rotation cut short
// leaves linked to log.json when its finish cannot take the lock (finishRotation).
func openLogForWriting(name string) (*os.File, error) {
	f, err := safefile.Open(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE|safefile.NoFollow, 0o640)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		if one, err := os.Lstat(rotatedName(name, 1, false)); err != nil || st.Nlink > 2 || !os.SameFile(fi, one) {
			f.Close()
			return unlinkedLog(name, fi)
		}
	}
	return f, nil
}

// unlinkedLog puts a copy of the log at name, which is fi and has other names, in its place
// and opens it to append to: the other names keep what they had and never get the
// container's output, and `logs` keeps the container's history.
func unlinkedLog(name string, fi fs.FileInfo) (*os.File, error) {
	src, err := safefile.Open(name, os.O_RDONLY|safefile.NoFollow, 0)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	if sfi, err := src.Stat(); err != nil || !os.SameFile(fi, sfi) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("replaced while it was opened")}
	}
	tmp := name + logUnlinkSuffix
	nf, err := createLogFile(tmp, os.O_APPEND)
	if err == nil {
		if _, err = io.Copy(nf, src); err == nil {
			if err = nf.Sync(); err == nil {
				err = os.Rename(tmp, name)
			}
		}
		if err != nil {
			nf.Close()
			_ = os.Remove(tmp)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("copying container log %s, which has other names: %w", name, err)
	}
	return nf, nil
}

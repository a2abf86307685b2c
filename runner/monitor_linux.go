package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"syscall"
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
// a running container does nothing.
func Start(ctx context.Context, c *Container) (err error) {
	// A new container's config is synced while its monitor starts.
	defer func() {
		if derr := c.Durable(); derr != nil && err == nil {
			err = withCode(ExitOwnError, derr)
		}
	}()
	unlock, err := c.Lock()
	if err != nil {
		return withCode(ExitOwnError, err)
	}
	defer unlock()
	if err := c.Reload(); err != nil {
		return withCode(ExitOwnError, err)
	}
	if c.State.Running() {
		return nil
	}
	if err := readyVolatileRoot(c); err != nil {
		return withCode(ExitOwnError, err)
	}
	// The monitor is the helper program (or this binary) through its protected view: it will
	// be the parent of container processes for as long as they run.
	exe, release, err := sealedExe()
	if err != nil {
		return withCode(ExitOwnError, fmt.Errorf("starting monitor: %w", err))
	}
	defer release()
	args := []string{monitorMarker, c.Dir}
	extra := []*os.File{nil} // the answer pipe's write end, below
	if netns := takeNetns(c.ID); netns != nil {
		// Made by PrepareNetwork while the container was created: the monitor's init joins it.
		defer netns.Close()
		args, extra = append(args, monitorNetns), append(extra, netns)
	}
	cg, handed, err := handOver(c.ID, c.Config.Spec.withDefaults().Resources)
	if err != nil {
		return withCode(ExitOwnError, fmt.Errorf("creating cgroup: %w", err))
	}
	if handed {
		args = append(args, monitorCgroupMade)
		defer func() {
			if err != nil {
				_ = cg.Delete() // the monitor took it only if it answered Ready
			}
		}()
	}
	r, w, err := os.Pipe()
	if err != nil {
		return withCode(ExitOwnError, fmt.Errorf("starting monitor: %w", err))
	}
	defer r.Close()
	extra[0] = w
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        args,
		Env:         []string{"GOGC=25"},
		Dir:         "/", // pin no mount
		ExtraFiles:  extra,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	w.Close()
	release()
	dropSealedExe() // not at this process's exit (see dropSealedExe)
	if err != nil {
		return withCode(ExitOwnError, fmt.Errorf("starting monitor: %w", err))
	}
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
			return c.Reload() // the monitor recorded the running state
		case a.res.Code == ExitNotFound || a.res.Code == ExitCannotInvoke:
			return &ExitCodeError{Code: a.res.Code, Err: &remoteError{a.res.Error, remoteSentinels[a.res.Kind]}}
		default:
			return &ExitCodeError{Code: ExitOwnError, Err: &remoteError{a.res.Error, remoteSentinels[a.res.Kind]}}
		}
	}
}

// The monitor's optional arguments after the container dir. monitorCgroupMade: the
// container's cgroup exists already (PrepareCgroup in the strata that started it).
// monitorNetns: fd monitorNetnsFD is the network namespace PrepareNetwork made for it.
const (
	monitorCgroupMade = "--cgroup-made"
	monitorNetns      = "--netns"
	monitorNetnsFD    = 4
)

// monitorArgs reads the monitor's arguments: the container dir, then optional flags.
func monitorArgs(argv []string) (cgroupMade, netns, ok bool) {
	if len(argv) == 0 || argv[0] == "" {
		return false, false, false
	}
	for _, a := range argv[1:] {
		switch {
		case a == monitorCgroupMade && !cgroupMade:
			cgroupMade = true
		case a == monitorNetns && !netns:
			netns = true
		default:
			return false, false, false
		}
	}
	return cgroupMade, netns, true
}

// runMonitor is the detached container's monitor: strata re-executed by Start.
func runMonitor() {
	// The monitor lives as long as the container; keep its heap small.
	debug.SetMemoryLimit(16 << 20)
	pipe := os.NewFile(monitorPipeFD, "monitor-pipe")
	answer := func(r monitorResult) {
		if pipe != nil {
			_ = json.NewEncoder(pipe).Encode(r)
			pipe.Close()
			pipe = nil
		}
	}
	cgroupMade, netns, ok := monitorArgs(os.Args[1:])
	if !ok {
		answer(monitorResult{Error: "monitor: want the container dir, then optionally " + monitorCgroupMade + " and " + monitorNetns, Code: ExitOwnError})
		os.Exit(ExitOwnError)
	}
	dir := os.Args[1]
	s := &Store{dir: filepath.Dir(dir)}
	c, err := s.load(filepath.Base(dir))
	if err == nil {
		err = markMonitor(c) // Start holds the container's lock until we answer
	}
	if err == nil && cgroupMade {
		err = adoptCgroup(c.ID, c.Config.Spec.withDefaults().Resources)
	}
	if err == nil && netns {
		adoptNetns(c.ID, os.NewFile(monitorNetnsFD, "netns"))
	}
	if err != nil {
		answer(monitorResult{Error: err.Error(), Code: ExitOwnError})
		os.Exit(ExitOwnError)
	}
	logs, err := os.OpenFile(filepath.Join(dir, logFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		err = fmt.Errorf("opening container log: %w", err)
		recordExit(c, result{Code: ExitOwnError}, err)
		answer(monitorResult{Error: err.Error(), Code: ExitOwnError})
		os.Exit(ExitOwnError)
	}
	lw := newLogWriter(logs)
	stdio := Stdio{Stdout: lw.stream("stdout"), Stderr: lw.stream("stderr")}
	// -d -i: as with docker, the container's stdin stays open and never reaches EOF (cat
	// keeps running). The monitor holds the pipe's write end for as long as the container
	// runs; nothing writes to it until strata has an attach command.
	var stdinWriter *os.File
	if c.Config.Spec.Stdin {
		r, w, err := os.Pipe()
		if err != nil {
			err = fmt.Errorf("creating the container's stdin: %w", err)
			recordExit(c, result{Code: ExitOwnError}, err)
			answer(monitorResult{Error: err.Error(), Code: ExitOwnError})
			os.Exit(ExitOwnError)
		}
		stdio.Stdin, stdinWriter = r, w
	}
	res, err := run(context.Background(), c.Config.Spec, stdio, func(pid int, _ <-chan struct{}) {
		dropSealedExe()
		recordRunning(c, pid)
		answer(monitorResult{Ready: true})
		// What starting the container allocated (the seccomp filter's compilation above
		// all) is garbage now: collect it and give the memory back, then the binary's pages.
		debug.FreeOSMemory()
		pageOutExecutable()
	})
	// Closed only now: a write end the garbage collector finalized earlier would end the
	// container's input.
	stdinWriter.Close()
	code := recordExit(c, res, err)
	if err != nil {
		answer(monitorResult{Error: err.Error(), Code: code, Kind: sentinelKind(err)})
	}
	logs.Close()
	if c.Config.AutoRemove && !restarting(c) {
		release := waitForWaiters(c)
		_ = removeDir(c)
		release()
	}
	os.Exit(0)
}

package runner

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// runReaper is PID 1 of a container run with --init (the sealed strata binary, exec'd by the
// init once privileges are dropped). A plain command as PID 1 neither reaps orphans nor dies
// from signals it does not handle; the reaper starts the command as its child, forwards every
// signal to it, reaps whatever exits, and leaves with the command's status (tini's job).
// argv: reaperMarker (and hideGoEnv's prefix), resolved path, command argv...
//
// The pids controller counts threads, so the reaper's count against --pids-limit (see
// minInitPidsLimit). It starts the command with syscall.ForkExec: os.StartProcess first
// clones a throwaway child to probe pidfd support, one more task at the worst moment. GC is
// off: the reaper allocates nothing per signal, and the forced GC every two minutes would
// want a worker. Reaping and forwarding are raw syscalls (wait4 with WNOHANG and kill do not
// block), which never hand the P to another thread.
//
// Its threads are the runtime's (the main one, sysmon, those it starts to run goroutines
// while others block) and os/signal's (the thread locked to its mask-keeping goroutine, the
// template thread that locking starts, the one parked in its receiver). os/signal is the
// only lossless way for Go to get SIGTERM, SIGINT, SIGHUP, SIGQUIT or SIGCHLD: the runtime
// unblocks those on every thread it starts, sysmon included, so tini's way (block them all
// and wait in rt_sigtimedwait on the main thread) left another thread to take one that came
// while the main one was not waiting, and drop it (PID 1 of a pid namespace drops a signal it
// has no handler for). That design ran in 4 threads, but lost the SIGTERM of
// TestRunInitForwardsSignals about once in 40 runs on a loaded host.
func runReaper(goEnvPrefix string) {
	// Its own GODEBUG and GOMAXPROCS (reaperGoEnv), which the command never had: hideGoEnv
	// renamed every one of goRuntimeVars the command's environment had.
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(goRuntimeVars, name)
	})
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "strata-init: want a command")
		os.Exit(ExitOwnError)
	}
	debug.SetGCPercent(-1)
	nameProcess(reaperMarker)
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)
	pid, err := syscall.ForkExec(os.Args[1], os.Args[2:], &syscall.ProcAttr{
		Env:   restoreGoEnv(env, goEnvPrefix),
		Files: []uintptr{0, 1, 2},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "strata-init: exec: %q: %v\n", os.Args[2], err)
		// The command was found before the init exec'd the reaper: ENOENT now is a script's
		// interpreter that is not there (#!/bin/bash in an alpine image), 127 as without
		// --init and as docker's tini exits.
		if errors.Is(err, syscall.ENOENT) {
			os.Exit(ExitNotFound)
		}
		os.Exit(ExitCannotInvoke)
	}
	// The command may have exited before the loop looks at its SIGCHLD.
	if code, done := reap(pid); done {
		os.Exit(code)
	}
	for s := range sigs {
		switch s {
		case unix.SIGCHLD:
			if code, done := reap(pid); done {
				os.Exit(code)
			}
		default:
			// SIGURG too, as tini forwards it: this runtime never sends it to itself
			// (reaperGoEnv), so every one comes from outside, a kill -s URG or the
			// kernel's for out-of-band data on a socket the command owns.
			if sig, ok := s.(syscall.Signal); ok {
				unix.RawSyscall(unix.SYS_KILL, uintptr(pid), uintptr(sig), 0)
			}
		}
	}
}

// reaperGoEnv is the reaper's own runtime environment, added after hideGoEnv renamed the
// command's. GODEBUG=asyncpreemptoff=1 keeps the runtime from preempting goroutines with
// SIGURG, which it sends itself otherwise, so that the reaper can tell none of the command's
// SIGURGs from its own and forwards them all; it preempts at function calls still, and its
// goroutines do little but wait. GOMAXPROCS=1 bounds its threads (see minInitPidsLimit):
// with one P per CPU, the default, the runtime starts spinning threads for the idle Ps each
// time a goroutine wakes, and os/signal's Notify wakes its mask-keeping goroutine and back
// once per signal: on 2 CPUs the reaper of the runner's test binary had 5 to 10 threads under
// load (TestReaperThreads saw 12 once in 150 runs), and at 8 Ps up to 13, over the 11 that
// minInitPidsLimit leaves it in 7 runs of 100; at one P, 4 to 7. With it, sysmon no longer
// rereads the cgroup's CPU limit every second either.
var reaperGoEnv = []string{"GODEBUG=asyncpreemptoff=1", "GOMAXPROCS=1"}

// reap collects every exited child; done is true once the command itself has exited, with
// its status mapped as a shell does (128+n after signal n).
func reap(pid int) (code int, done bool) {
	for {
		var ws unix.WaitStatus
		p, _, e := unix.RawSyscall6(unix.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(&ws)), unix.WNOHANG, 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 || int(p) <= 0 {
			return code, done
		}
		if int(p) == pid {
			done = true
			code = ws.ExitStatus()
			if ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		}
	}
}

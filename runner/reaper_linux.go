package runner

import (
	"fmt"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// runReaper is PID 1 of a container run with --init (the sealed strata binary, exec'd by the
// init once privileges are dropped). A plain command as PID 1 neither reaps orphans nor dies
// from signals it does not handle; the reaper starts the command as its child, forwards every
// signal to it, reaps whatever exits, and leaves with the command's status (tini's job).
// argv: reaperMarker, resolved path, command argv...
func runReaper() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "strata-init: want a command")
		os.Exit(ExitOwnError)
	}
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)
	child, err := os.StartProcess(os.Args[1], os.Args[2:], &os.ProcAttr{
		Env:   os.Environ(),
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "strata-init: exec: %q: %v\n", os.Args[2], err)
		os.Exit(ExitCannotInvoke)
	}
	for s := range sigs {
		switch s {
		case unix.SIGCHLD:
			if code, done := reap(child.Pid); done {
				os.Exit(code)
			}
		case unix.SIGURG:
			// The Go runtime preempts goroutines with SIGURG; not the user's signal.
		default:
			_ = child.Signal(s)
		}
	}
}

// reap collects every exited child; done is true once the command itself has exited, with
// its status mapped as a shell does (128+n after signal n).
func reap(pid int) (code int, done bool) {
	for {
		var ws unix.WaitStatus
		p, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err != nil || p <= 0 {
			return code, done
		}
		if p == pid {
			done = true
			code = ws.ExitStatus()
			if ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		}
	}
}

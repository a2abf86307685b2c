package main

import (
	"errors"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/strata-run/strata/runner"
)

// attachStreams is -a/--attach: which of the container's streams a foreground run attaches
// (stdin, stdout, stderr, any case, repeatable), as docker's validateAttach reads them.
type attachStreams []string

// String is empty when no stream is named, so that --help shows no "(default [])" after the
// default it states.
func (a *attachStreams) String() string {
	if len(*a) == 0 {
		return ""
	}
	return "[" + strings.Join(*a, ",") + "]"
}
func (a *attachStreams) Type() string { return "list" }

func (a *attachStreams) Set(v string) error {
	s := strings.ToLower(v)
	if s != "stdin" && s != "stdout" && s != "stderr" {
		return errors.New("valid streams are STDIN, STDOUT and STDERR")
	}
	if !slices.Contains(*a, s) {
		*a = append(*a, s)
	}
	return nil
}

// has says whether stream is attached: all of stdout and stderr when -a is not given, as
// docker's; stdin with -i, or when -a names it.
func (a attachStreams) has(stream string) bool {
	if len(a) == 0 {
		return stream != "stdin"
	}
	return slices.Contains(a, stream)
}

// checkAttachRestart checks -a and --restart against the other flags, as
// docker's CLI does, and returns the restart policy.
func (o *runOptions) checkAttachRestart() (runner.RestartPolicy, error) {
	if len(o.attach) > 0 && o.detach {
		return runner.RestartPolicy{}, errors.New("Conflicting options: -a and -d")
	}
	p, err := runner.ParseRestartPolicy(o.restart)
	if err != nil {
		return p, err
	}
	if !p.Restarts() {
		return runner.RestartPolicy{}, nil // "no": the config records nothing
	}
	if o.rm {
		return p, errors.New("Conflicting options: --restart and --rm")
	}
	// Without -d too, as docker's: such a run is started by a detached monitor, which
	// restarts it, and attached to until its first run ends (viaMonitor).
	return p, nil
}

// runStdio is what a foreground run attaches the container to: stdout and stderr as -a says
// (an unattached one still goes to the container's log), its signals proxied unless
// --sig-proxy=false.
func (o *runOptions) runStdio() runner.Stdio {
	stdio := runner.Stdio{Stdin: os.Stdin, NoSigProxy: !o.sigProxy}
	switch {
	case o.attach.has("stdout"):
		stdio.Stdout = os.Stdout
	case o.tty:
		// A terminal's output is read by its copy, which a nil Stdout does not make: the
		// command would block once the terminal's buffer filled.
		stdio.Stdout = io.Discard
	}
	if o.attach.has("stderr") {
		stdio.Stderr = os.Stderr
	}
	return stdio
}

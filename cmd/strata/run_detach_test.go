package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/strata-run/strata/runner"
)

// TestRunDetachable: only a foreground run with -i and -t, whatever -a names (docker's CLI
// attaches stdin with -i and reads the detach keys on it with -t), is started by a detached
// monitor and attached to (its detach keys can leave it); every other run keeps the
// foreground path, and records no console size.
func TestRunDetachable(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    runOptions
		want bool
	}{
		{"-it", runOptions{interactive: true, tty: true}, true},
		{"-it --rm", runOptions{interactive: true, tty: true, rm: true}, true},
		{"-i", runOptions{interactive: true}, false},
		{"-t", runOptions{tty: true}, false},
		{"plain", runOptions{}, false},
		{"-dit", runOptions{interactive: true, tty: true, detach: true}, false},
		{"create -it", runOptions{interactive: true, tty: true, create: true}, false},
		{"-it -a stdout", runOptions{interactive: true, tty: true, attach: attachStreams{"stdout"}}, true},
		{"-it -a stdin -a stdout", runOptions{interactive: true, tty: true, attach: attachStreams{"stdin", "stdout"}}, true},
		{"-t -a stdin -a stdout", runOptions{tty: true, attach: attachStreams{"stdin", "stdout"}}, false},
	} {
		if got := tt.o.detachable(); got != tt.want {
			t.Errorf("run %s: detachable() = %v, want %v", tt.name, got, tt.want)
		}
		if !tt.want && tt.o.consoleSize() != [2]uint16{} {
			t.Errorf("run %s: consoleSize() = %v, want none", tt.name, tt.o.consoleSize())
		}
	}
}

// TestRunDetachKeysFlag: run takes docker's --detach-keys, and refuses a bad one with exit 125
// before anything is looked up; create has no such flag, as docker create.
func TestRunDetachKeysFlag(t *testing.T) {
	g := &globals{}
	run := newRunCmd(g)
	if f := run.Flags().Lookup("detach-keys"); f == nil || f.DefValue != "ctrl-p,ctrl-q" {
		t.Fatalf("run --detach-keys = %v, want a flag defaulting to ctrl-p,ctrl-q", f)
	}
	if newCreateCmd(g).Flags().Lookup("detach-keys") != nil {
		t.Error("create has --detach-keys; docker create has none")
	}
	run.SetArgs([]string{"--detach-keys", "ctrl-1", "no/such/image"})
	run.SilenceErrors, run.SilenceUsage = true, true
	err := run.Execute()
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 125 || !strings.Contains(err.Error(), `invalid --detach-keys "ctrl-1"`) {
		t.Errorf("run --detach-keys ctrl-1 = %v, want exit 125 naming the keys", err)
	}
}

// TestRunInteractiveInterrupted: a SIGINT or SIGTERM that ended the run's context while its
// container was made ends a detachable run before any start, as a foreground run's: exit 125
// saying so, and a --rm container removed.
func TestRunInteractiveInterrupted(t *testing.T) {
	store, err := runner.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	id, err := runner.NewID()
	if err != nil {
		t.Fatal(err)
	}
	c, err := store.CreateToRun(id, runner.Config{
		Spec:       runner.Spec{Args: []string{"sh"}, Terminal: true, Stdin: true},
		AutoRemove: true,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := &runOptions{interactive: true, tty: true, rm: true, sigProxy: true}
	err = runInteractive(ctx, store, c, o)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 125 || !strings.Contains(err.Error(), "run: starting container: context canceled") {
		t.Errorf("runInteractive(canceled) = %v, want exit 125, starting container: context canceled", err)
	}
	if _, err := store.Get(id); !errors.Is(err, runner.ErrNotFound) {
		t.Errorf("the --rm container after an interrupted run: %v, want it removed", err)
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// runCLI runs strata's command tree with args after --root root, and returns the command's
// error with what it printed.
func runCLI(t *testing.T, root string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newRootCmd(&globals{})
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append([]string{"--root", root}, args...))
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// TestRmForceMissing: rm -f of a container that does not exist prints the error and exits 0,
// as docker rm -f does (the container is gone, as asked); without -f it is still a failure,
// and so is a blank name, which docker's client refuses as invalid.
func TestRmForceMissing(t *testing.T) {
	root := t.TempDir()
	for _, args := range [][]string{{"rm", "-f", "nosuch"}, {"rm", "--force", "nosuch", "other"}} {
		stdout, stderr, err := runCLI(t, root, args...)
		if err != nil {
			t.Errorf("%s = %v, want no error", strings.Join(args, " "), err)
		}
		if stdout != "" || !strings.HasPrefix(stderr, "strata: nosuch: no such container\n") {
			t.Errorf("%s printed %q on stdout and %q on stderr, want one error line for each missing container on stderr", strings.Join(args, " "), stdout, stderr)
		}
		if n := strings.Count(stderr, "\n"); n != len(args)-2 {
			t.Errorf("%s printed %d lines on stderr, want %d: %q", strings.Join(args, " "), n, len(args)-2, stderr)
		}
	}
	for _, args := range [][]string{{"rm", "nosuch"}, {"rm", "-f", ""}, {"rm", "-f", "  "}, {"rm", "-f", "nosuch", ""}} {
		if _, _, err := runCLI(t, root, args...); err == nil {
			t.Errorf("%q = no error, want a failure", args)
		}
	}
}

// TestStartFailureExit1: a start that fails exits 1, as docker start does ("failed to start
// containers"); it exited 125. A wrong argument count exits 1 too, as docker's (a plain
// error from cli.RequiresMinArgs).
func TestStartFailureExit1(t *testing.T) {
	root := t.TempDir()
	if code := execute([]string{"--root", root, "start", "nosuch"}); code != 1 {
		t.Errorf("start nosuch = exit %d, want 1", code)
	}
	if code := execute([]string{"--root", root, "start"}); code != 1 {
		t.Errorf("start (no argument) = exit %d, want 1", code)
	}
}

// TestKillEmptySignal: kill -s "" sends kill's default, SIGKILL, as docker kill does; it was
// refused as an invalid signal.
func TestKillEmptySignal(t *testing.T) {
	_, _, err := runCLI(t, t.TempDir(), "kill", "-s", "", "nosuch")
	if err == nil || err.Error() != "nosuch: no such container" {
		t.Errorf(`kill -s "" nosuch = %v, want only the missing container's error`, err)
	}
	_, _, err = runCLI(t, t.TempDir(), "kill", "-s", "NOPE", "nosuch")
	if err == nil || !strings.Contains(err.Error(), "invalid signal") {
		t.Errorf(`kill -s NOPE nosuch = %v, want an invalid signal`, err)
	}
}

// TestInOrderConcurrent: stop and kill act on their containers at once, as docker's do, so
// stop -t 1 of three containers that ignore SIGTERM takes a second, not three; each result
// is still reported in the order of the arguments.
func TestInOrderConcurrent(t *testing.T) {
	const each = 300 * time.Millisecond
	var mu sync.Mutex
	var order []int
	start := time.Now()
	inOrder(3, maxParallel, func(i int) error {
		// The first is done last: its result still comes first.
		time.Sleep(each + time.Duration(2-i)*50*time.Millisecond)
		if i == 1 {
			return errors.New("one")
		}
		return nil
	}, func(i int, err error) {
		mu.Lock()
		defer mu.Unlock()
		if (err != nil) != (i == 1) {
			t.Errorf("done(%d, %v): result of another op", i, err)
		}
		order = append(order, i)
	})
	if elapsed := time.Since(start); elapsed >= 2*each {
		t.Errorf("3 ops of %v took %v: run one after the other", each, elapsed)
	}
	if fmt.Sprint(order) != "[0 1 2]" {
		t.Errorf("results came in order %v, want [0 1 2]", order)
	}
}

// TestInOrderLimit: no more than maxParallel ops run at once, as docker's CLI bounds them.
func TestInOrderLimit(t *testing.T) {
	var running, most atomic.Int32
	n := 0
	inOrder(3*maxParallel, maxParallel, func(i int) error {
		r := running.Add(1)
		for {
			m := most.Load()
			if r <= m || most.CompareAndSwap(m, r) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		running.Add(-1)
		return nil
	}, func(i int, err error) {
		if i != n {
			t.Errorf("done(%d) came as result %d", i, n)
		}
		n++
	})
	if n != 3*maxParallel {
		t.Errorf("%d results, want %d", n, 3*maxParallel)
	}
	if m := most.Load(); m > maxParallel || m < 2 {
		t.Errorf("at most %d ops ran at once, want 2 to %d", m, maxParallel)
	}
}

// TestCPUSharesClamped: a --cpu-shares beyond the kernel's bounds is brought into them with
// docker's warning, and the run goes on (docker on cgroup v1); it was refused with exit 125.
func TestCPUSharesClamped(t *testing.T) {
	for _, tt := range []struct {
		in, want uint64
		warning  string
	}{
		{1, 2, "WARNING: Changing requested CPUShares of 1 to minimum allowed of 2\n"},
		{262145, 262144, "WARNING: Changing requested CPUShares of 262145 to maximum allowed of 262144\n"},
		{1 << 62, 262144, fmt.Sprintf("WARNING: Changing requested CPUShares of %d to maximum allowed of 262144\n", uint64(1<<62))},
		{0, 0, ""},
		{2, 2, ""},
		{1024, 1024, ""},
		{262144, 262144, ""},
	} {
		o := runOptions{cpuShares: tt.in}
		var w bytes.Buffer
		o.clampCPUShares(&w)
		if o.cpuShares != tt.want || w.String() != tt.warning {
			t.Errorf("--cpu-shares %d = %d, warning %q; want %d, %q", tt.in, o.cpuShares, w.String(), tt.want, tt.warning)
		}
		o = runOptions{cpuShares: tt.in}
		r, err := o.resources()
		if err != nil || r.CPUShares != tt.want {
			t.Errorf("resources(--cpu-shares %d) = %d, %v; want %d", tt.in, r.CPUShares, err, tt.want)
		}
		// resources runs twice in a run: the second takes the value the first clamped.
		w.Reset()
		o.clampCPUShares(&w)
		if w.Len() != 0 {
			t.Errorf("--cpu-shares %d warned again: %q", tt.in, w.String())
		}
	}
}

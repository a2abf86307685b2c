package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The restart policy without a daemon, as podman does it: the detached container's monitor,
// once the container exited, waits docker's backoff (State.Restarting meanwhile) and starts it
// again through Start, as `strata start` does (fresh namespaces and cgroup, the same writable
// layer, the log appended to), then leaves the container to the monitor that start spawned.
// A stop, an rm -f or a kill marks the container (stopMarkFile) before it signals it: the
// monitor reads the mark once the container has exited, and during the backoff, and does not
// restart it. A foreground run --restart is started by such a monitor too, and attached to
// (StartInteractive). Nothing restarts a container after a reboot.

// stopMarkFile marks a container stopped by hand (docker's HasBeenManuallyStopped), holding
// "stop" (any restart canceled) or "kill" (unless-stopped stays down). A start by hand
// removes it, a restart by the policy does not.
const stopMarkFile = "stopped"

// errRestartCanceled: the policy's restart was canceled by a stop, rm -f or kill.
var errRestartCanceled = errors.New("restart canceled")

// markStopped records that c was stopped by hand as k, for its monitor. A container without a
// restart policy is not marked. A "stop" mark is never made a "kill" one.
func markStopped(c *Container, k stopKind) error {
	if !c.Config.RestartPolicy.Restarts() || c.notDir || k == notStopped {
		return nil
	}
	if k == stoppedByHand && readStopMark(c) == restartCanceled {
		return nil
	}
	word := "stop"
	if k == stoppedByHand {
		word = "kill"
	}
	// The word is a symlink's target, which the inode keeps: the mark takes no data block,
	// so a stop, kill or rm -f on a full disk (a restart loop's log filled it) still marks
	// and cancels, where writing the word in a file failed with ENOSPC. Made under another
	// name and renamed over the last mark: never seen half made.
	tmp := filepath.Join(c.Dir, fmt.Sprintf(".%s-%d", stopMarkFile, os.Getpid()))
	_ = os.Remove(tmp)
	err := os.Symlink(word, tmp)
	if err == nil {
		if err = os.Rename(tmp, filepath.Join(c.Dir, stopMarkFile)); err != nil {
			_ = os.Remove(tmp)
		}
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil // removed meanwhile
	}
	return err
}

// readStopMark reads c's stopMarkFile. One that cannot be read is no mark.
func readStopMark(c *Container) stopKind {
	name := filepath.Join(c.Dir, stopMarkFile)
	word, err := os.Readlink(name)
	if errors.Is(err, unix.EINVAL) {
		// A file: a mark an earlier strata wrote.
		var b []byte
		b, err = readSmallFile(name, 16)
		word = string(b)
	}
	if err != nil {
		return notStopped
	}
	switch strings.TrimSpace(word) {
	case "stop":
		return restartCanceled
	case "kill":
		return stoppedByHand
	}
	return notStopped
}

// clearStopMark removes c's stopMarkFile: a start by hand, as docker's clears
// HasBeenManuallyStopped.
func clearStopMark(c *Container) {
	if c.Config.RestartPolicy.Restarts() {
		_ = os.Remove(filepath.Join(c.Dir, stopMarkFile))
	}
}

// stopKindOf is how a kill with sig stops c: docker's kill cancels the restarts (ExitOnNext)
// for SIGKILL and for the container's stop signal (any signal when it names none), and marks
// it stopped by hand for any other.
func stopKindOf(c *Container, sig syscall.Signal) stopKind {
	if unpausesOn(c, sig) {
		return restartCanceled
	}
	return stoppedByHand
}

// cancelRestarts marks c stopped by hand as k, for stop and kill, before they signal it; a
// container in its restart backoff is then waited for until its monitor has given the restart
// up (or started it: the caller then finds it running). It returns whether c was restarting.
func cancelRestarts(ctx context.Context, c *Container, k stopKind) (bool, error) {
	if !c.Config.RestartPolicy.Restarts() || c.notDir {
		return false, nil
	}
	if err := markStopped(c, k); err != nil {
		return false, err
	}
	if k != restartCanceled {
		return c.State.Restarting, nil
	}
	// The dir is watched only once the container is found in its backoff, and read again
	// then: a stop or kill of a running one paid for a watch it never waited on (see wait).
	was := false
	changes := stateWatch{-1}
	defer func() { changes.close() }()
	for watched := false; ; {
		if err := c.Reload(); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return was, nil
			}
			return was, err
		}
		if !c.State.Restarting {
			return was, nil
		}
		was = true
		if !watched {
			changes, watched = watchState(c.Dir), true
			continue
		}
		if err := waitMonitor(ctx, c.State.MonitorPid, changes); err != nil {
			return was, err
		}
	}
}

// policyRestart decides, in c's monitor, whether the container that just ended as res is
// restarted, once noteExit has set its exit in c.State and before that is saved: if so it
// notes that it is restarting (docker's RestartCount counts it from now) and returns the
// backoff to wait. A Restart under
// way (restartingFile) starts it itself.
func policyRestart(c *Container, res result) (time.Duration, bool) {
	p := recordedRestartPolicy(c)
	if !p.Restarts() || restarting(c) || !p.shouldRestart(res.Code, c.State.RestartCount, readStopMark(c)) {
		return 0, false
	}
	d := nextRestartDelay(c.State.RestartDelay, res.FinishedAt.Sub(res.StartedAt))
	c.State.Restarting, c.State.RestartCount, c.State.RestartDelay = true, c.State.RestartCount+1, d
	return d, true
}

// recordedRestartPolicy is c's restart policy as config.json has it now: `update --restart`
// changes it while the monitor runs. c's own, from the monitor's start, if it cannot be read.
func recordedRestartPolicy(c *Container) RestartPolicy {
	var cfg Config
	if err := readJSON(filepath.Join(c.Dir, configFile), &cfg); err != nil || cfg.Spec.ID != c.ID {
		return c.Config.RestartPolicy
	}
	c.Config.RestartPolicy = cfg.RestartPolicy
	return cfg.RestartPolicy
}

// restartAfter is the monitor's restart of c (policyRestart said so, and its exit with
// Restarting is recorded): it waits delay, unless a stop, rm -f or kill cancels it meanwhile,
// then starts c as `strata start` does and returns once the new monitor runs it.
func restartAfter(c *Container, delay time.Duration) {
	var why error
	if waitRestartDelay(c, delay) {
		err := start(context.Background(), c, true, false)
		if err == nil {
			return
		}
		if !errors.Is(err, errRestartCanceled) {
			why = err
		}
	}
	endRestarting(c, why)
}

// restartPoll is how often a monitor in its backoff looks for a stop mark.
const restartPoll = 20 * time.Millisecond

// waitRestartDelay waits d and reports whether the restart goes on: not when c was marked
// stopped (restartCanceled) or removed meanwhile.
func waitRestartDelay(c *Container, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if readStopMark(c) == restartCanceled {
			return false
		}
		if time.Until(deadline) <= 0 && !recordedRestartPolicy(c).Restarts() {
			return false // update --restart no meanwhile
		}
		if _, err := os.Lstat(c.Dir); err != nil {
			return false
		}
		left := time.Until(deadline)
		if left <= 0 {
			return true
		}
		time.Sleep(min(left, restartPoll))
	}
}

// endRestarting records, in the monitor, that c is not restarting after all (canceled, or its
// start failed for why), unless another process has taken it over since.
func endRestarting(c *Container, why error) {
	unlock, gone, err := lockUnlessGone(c)
	if gone || err != nil {
		return
	}
	defer unlock()
	if c.Reload() != nil || !c.State.Restarting || c.State.MonitorPid != os.Getpid() {
		return
	}
	c.State.Restarting = false
	if why != nil {
		c.State.Error = why.Error()
	}
	_ = c.saveState()
}

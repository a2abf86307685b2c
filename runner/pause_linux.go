package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/strata-run/strata/runner/cgroups"
)

// Pause stops every process of the running container c with its cgroup's freezer, as docker
// pause does: they use no CPU and see no signal but SIGKILL until Unpause. A container that
// is not running is ErrNotRunning; one already paused, ErrAlreadyPaused.
func Pause(c *Container) error {
	cg, err := runningCgroup(c)
	if err != nil {
		return err
	}
	defer cg.Close()
	if frozen, _ := cg.Frozen(); frozen {
		return fmt.Errorf("container %s is %w", shortID(c.ID), ErrAlreadyPaused)
	}
	if err := cg.Freeze(); err != nil {
		return freezeError(c, "pausing", err)
	}
	markHealthPaused(c)
	return nil
}

// Unpause lets the processes of the paused container c run again, and its health checks'
// schedule start again (markHealthUnpaused). One that is not paused is ErrNotPaused; one not
// running, ErrNotRunning.
func Unpause(c *Container) error {
	cg, err := runningCgroup(c)
	if errors.Is(err, ErrRestarting) {
		// docker's: a restarting container is running, and not paused.
		return fmt.Errorf("container %s is %w", shortID(c.ID), ErrNotPaused)
	}
	if err != nil {
		return err
	}
	defer cg.Close()
	if frozen, _ := cg.Frozen(); !frozen {
		return fmt.Errorf("container %s is %w", shortID(c.ID), ErrNotPaused)
	}
	if err := thaw(c, cg); err != nil {
		return freezeError(c, "unpausing", err)
	}
	return nil
}

// thaw lets the frozen processes of c (nil for a bare Run, which has no health checks) run
// again in cg, its cgroup, after telling its health monitor (markHealthUnpaused), as every
// resume of docker's starts its health monitor again (moby daemon/monitor.go EventResumed ->
// updateHealthMonitor), whatever resumed it: an unpause, a kill, a foreground run's signal.
// Every thaw of a container goes through it (TestThawsGoThroughThaw), so none leaves the
// checks on the schedule the pause interrupted.
func thaw(c *Container, cg *cgroups.Cgroup) error {
	if c != nil {
		markHealthUnpaused(c)
	}
	return cg.Thaw()
}

// freezeError is the error of a Pause or Unpause (what) whose freezer file was missing: a
// container that ended meanwhile, its cgroup gone, is ErrNotRunning, as when it had ended
// before, not an error naming a file under /sys/fs/cgroup.
func freezeError(c *Container, what string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		cg, lerr := cgroups.Load(c.CgroupKey())
		if errors.Is(lerr, cgroups.ErrNotFound) {
			return fmt.Errorf("container %s: %w", shortID(c.ID), ErrNotRunning)
		}
		if lerr == nil {
			cg.Close()
		}
	}
	return fmt.Errorf("%s container %s: %w", what, shortID(c.ID), err)
}

// Paused reports whether c, as last read, runs with its processes frozen by Pause: ps shows
// it "Up … (Paused)", inspect Status "paused".
func Paused(c *Container) bool {
	return c.State.Status == StatusRunning && cgroups.IsFrozen(c.CgroupKey())
}

// runningCgroup is the cgroup of c, reread, if it runs.
func runningCgroup(c *Container) (*cgroups.Cgroup, error) {
	if err := c.Reload(); err != nil {
		return nil, err
	}
	if !c.State.Running() {
		if c.State.Restarting {
			return nil, fmt.Errorf("container %s: %w", shortID(c.ID), ErrRestarting)
		}
		return nil, fmt.Errorf("container %s: %w", shortID(c.ID), NotRunningError(c))
	}
	cg, err := cgroups.Load(c.CgroupKey())
	if errors.Is(err, cgroups.ErrNotFound) {
		// Its run has just ended, and its cgroup with it.
		return nil, fmt.Errorf("container %s: %w", shortID(c.ID), ErrNotRunning)
	}
	return cg, err
}

// resumeSignalled does to c, whose PID 1 was just sent sig, what docker's kill does then: it
// resumes a paused container for SIGKILL and for its stop signal (any signal when it names
// none: unpausesOn), and leaves it paused for any other, whose signal waits, queued, until an
// unpause (moby daemon/kill.go killWithSignal: unpause = Paused only where it calls
// ExitOnNext, then task.Resume after task.Kill; containerd's task kill of a paused task, runc
// kill, signals the frozen init without thawing it, but for a SIGKILL on the v1 freezer). A
// frozen process acts on no signal, and dies of a SIGKILL on the v1 freezer only once thawed.
// Every signal strata sends a container's PID 1 comes here: kill, stop and restart's signal
// and SIGKILL, rm -f, the stop killer's SIGKILL, and the signals run, attach and start -a
// pass on (--sig-proxy), which docker's CLI passes on as kills (ForwardAllSignals ->
// ContainerKill). c is nil for a bare Run: its container names no stop signal. cg is c's
// cgroup, or nil to load it.
func resumeSignalled(c *Container, cg *cgroups.Cgroup, sig syscall.Signal) {
	if !unpausesOn(c, sig) {
		return
	}
	if cg == nil {
		if c == nil || !cgroups.IsFrozen(c.CgroupKey()) {
			return
		}
		var err error
		if cg, err = cgroups.Load(c.CgroupKey()); err != nil {
			return
		}
		defer cg.Close()
	}
	if frozen, _ := cg.Frozen(); frozen {
		_ = thaw(c, cg)
	}
}

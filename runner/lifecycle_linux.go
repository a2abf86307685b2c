package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/strata-run/strata/internal/lockfile"
	"github.com/strata-run/strata/internal/quote"
	"github.com/strata-run/strata/internal/rmtree"
	"github.com/strata-run/strata/mount"
	"github.com/strata-run/strata/runner/cgroups"
	"golang.org/x/sys/unix"
)

// pollInterval is how often Wait and Stop reread state.json.
const pollInterval = 20 * time.Millisecond

// RunContainer runs c in the foreground like Run, recording its state in the container dir
// so `strata ps`, `inspect` and `stop` see it, and removing it afterwards when it was created
// with AutoRemove (--rm). This process is the container's monitor while it runs, and logs its
// output to log.json as a detached container's monitor does (docker's json-file records
// attached containers too); not a --rm container's, whose log nobody could read after it,
// nor one whose logging driver is none.
func RunContainer(ctx context.Context, c *Container, stdio Stdio) (code int, err error) {
	// Held from its record as the monitor (CreateToRun, beginRun) to its exit's.
	defer dropMonitorProof(c.ID)
	// A new container's config is synced while it runs.
	defer func() {
		if derr := c.Durable(); derr != nil && err == nil {
			code, err = ExitOwnError, withCode(ExitOwnError, derr)
		}
	}()
	if c.monitored {
		c.monitored = false // once: a later run of this Container marks itself again
		testStop(stopCreated)
	} else if err := beginRun(c); err != nil {
		return ExitOwnError, withCode(ExitOwnError, err)
	}
	var log *logWriter
	if !c.Config.AutoRemove && c.Config.LogConfig.Keeps() {
		attrs, err := logAttrs(c)
		var f *containerLog
		if err == nil {
			f, err = openContainerLog(c.Dir, c.Config.LogConfig)
		}
		if err != nil {
			err = withCode(ExitOwnError, fmt.Errorf("opening container log: %w", err))
			return recordExit(c, result{Code: ExitOwnError}, err), err
		}
		defer f.Close()
		log = newLogWriter(f)
		log.setAttrs(attrs)
	}
	var health *healthChecker // its health checks, if it has some (health_linux.go)
	res, err := run(ctx, c, c.Config.Spec, stdio, log, func(pid int, exited <-chan struct{}) {
		startedAt := time.Now().UTC()
		// A command that ends within milliseconds (`true`) is recorded as it exits, not as
		// running first: that write, and its event, came after the exit and held up the
		// exit's record or the --rm container's removal (~0.5 ms of every such run). A
		// container is as good as created to others meanwhile, as between its create and
		// any start (State.starting).
		select {
		case <-exited:
			// It did start: docker's start event comes before its die all the same.
			Event(c, "start", nil)
		case <-time.After(runningRecordDelay):
			recordRunning(c, pid, startedAt)
			health = startHealth(c, startedAt, false)
		}
	})
	health.stop()
	if log != nil {
		// The output has ended: its unfinished lines are logged before the exit is recorded,
		// when a follower stops reading.
		_ = log.flush()
	}
	// A --rm container that a Restart stops is kept, to be started again, as the detached
	// monitor keeps it (and docker): removed here, the restart of a foreground run --rm failed
	// with "no such container (removed)" and the container was gone. Decided before the exit
	// is recorded, as the monitor decides it: the next monitor removes the mark.
	if !c.Config.AutoRemove || restarting(c) {
		return recordExit(c, res, err), err
	}
	// A --rm container's exit status is written only if it outlives its removal, or for
	// those who wait for it (a `strata wait`, a stop that had to SIGKILL it): they hold the
	// dir, which its removal waits for (waitDirWaiters), until they read an exit, and they
	// read none: stop -t 1 took 3 s, the last 2 of them that wait.
	code = noteExit(c, res, err)
	if dirHasWaiters(c.Dir) {
		_ = c.saveState()
	}
	if rerr := removeDir(c); rerr != nil {
		_ = c.saveState()
		err = errors.Join(err, withCode(ExitOwnError, rerr))
	}
	return code, err
}

// beginRun checks, under the container's lock, that c is not running, and marks this process
// as its monitor.
func beginRun(c *Container) error {
	unlock, err := c.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := dropForeignStarter(c); err != nil {
		return err
	}
	// This process monitors c from its record on (a detached monitor is known by its
	// command line instead, and holds nothing of the container's lock once it runs).
	if err := holdMonitorProof(c); err != nil {
		return err
	}
	if err := markMonitor(c, 0); err != nil {
		dropMonitorProof(c.ID)
		return err
	}
	return nil
}

// dropForeignStarter clears the monitor a created c's state names when that is no strata
// process (startingOther): markMonitor, in the monitor too, refuses a container another
// process starts, and a record naming a foreign live process kept start refusing it ("container
// is running") until that process ended or rm -f. The caller is the strata CLI and holds c's
// lock.
func dropForeignStarter(c *Container) error {
	if err := c.Reload(); err != nil {
		return err
	}
	if !c.State.starting() || c.State.startingOther(c.ID, c.Dir) {
		return nil
	}
	c.State.MonitorPid, c.State.MonitorStart = 0, 0
	return c.saveState()
}

// markMonitor records this process as c's monitor, after checking c does not run. The caller
// holds c's lock (a monitor holds it with the Start that spawned it: monitorLocked). starter,
// when not 0, is the process whose Start spawned this monitor: `run -d` records itself as
// the container's monitor from its creation (so a run killed before Start leaves an orphan
// the sweeps remove, not a --rm container that lingers), and that record is no other start
// under way.
func markMonitor(c *Container, starter int) error {
	if c.Broken != nil {
		return c.Broken
	}
	if err := c.Reload(); err != nil {
		return err
	}
	// Running, or exiting while its monitor records that.
	if c.State.Status == StatusRunning || (c.State.starting() && (starter == 0 || c.State.MonitorPid != starter)) {
		return fmt.Errorf("container %s: %w", shortID(c.ID), ErrRunning)
	}
	// Its state lost while its run or monitor lives: the start failed on its cgroup
	// ("cgroup already exists") and recorded that failure (exit 125) over the lost state, so
	// that wait and stop took the container for one that had exited while it ran on. The
	// cgroup this start made or was handed (early) is no other run's.
	if _, ours := early.Load(c.ID); !ours && lostWhileHeld(c) {
		return heldWhileDown(c)
	}
	if err := removeStaleCgroup(c); err != nil {
		return err
	}
	if err := checkWritableLayer(c); err != nil {
		return err
	}
	if err := checkVolumes(c); err != nil {
		return err
	}
	start, err := processStart(os.Getpid())
	if err != nil {
		return fmt.Errorf("reading own start time: %w", err)
	}
	// The last run's start time is kept until this run records its own (recordRunning, or
	// noteExit for one that ends first): it is what tells a --rm container's volatile
	// writable layer ran since this boot (readyVolatileRoot), and a monitor that dies before
	// the command runs (its restart SIGKILLed while it started it) left a state without it,
	// so that no start would trust the layer again ("the machine has restarted since it
	// ran") though the machine had not.
	// The exit of the last run is not overwritten before its waiters have read it
	// (holdDirAsWaiter): a wait or start -a on a container that a restart ran again read
	// this created state as an exit 0, or the next run's as its own and waited on for it.
	defer waitDirWaiters(c.Dir)()
	prev := c.State
	c.State = State{Status: StatusCreated, MonitorPid: os.Getpid(), MonitorStart: start, StartedAt: prev.StartedAt}
	if starter != 0 && prev.Restarting && prev.MonitorPid == starter {
		// Started by its restart policy (the last monitor, restartAfter): docker's count and
		// backoff go on, and it reads as restarting, with the last exit, until it runs; a
		// start by hand begins them again.
		c.State.Restarting, c.State.RestartCount, c.State.RestartDelay = true, prev.RestartCount, prev.RestartDelay
		c.State.ExitCode, c.State.FinishedAt = prev.ExitCode, prev.FinishedAt
	}
	if err := os.Remove(filepath.Join(c.Dir, restartingFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("container %s: %w", shortID(c.ID), err)
	}
	return c.saveState()
}

// removeStaleCgroup deletes the cgroup a monitor of c that died (SIGKILL, the OOM killer) left
// behind: it deletes it only as it exits, and the next start would fail on it ("cgroup
// already exists"). A monitor that exits in order has deleted it already, and a container
// that never had a monitor has only the cgroup `run -d` made for it, which is not stale.
// Nor is the one this process made or was handed for this start (PrepareCgroup, adoptCgroup,
// an early monitor's): the record of a run -d killed once it had handed its monitor the
// cgroup names it as a monitor that died, and its monitor refused the container as held by
// a live strata (its own hold) or deleted the cgroup it was to start it in.
// The caller holds c's lock and has found no live monitor.
func removeStaleCgroup(c *Container) error {
	if c.State.MonitorPid == 0 || processAlive(c.State.MonitorPid, c.State.MonitorStart) {
		return nil
	}
	if _, ours := early.Load(c.ID); ours {
		return nil
	}
	if cgroups.Held(c.CgroupKey()) {
		// Its run or monitor lives where its pid tells nothing (another pid or time
		// namespace sharing the store): the container is being started or runs there.
		return fmt.Errorf("container %s: %w (its cgroup is held by a live strata)", shortID(c.ID), ErrRunning)
	}
	cg, err := cgroups.Load(c.CgroupKey())
	if errors.Is(err, cgroups.ErrNotFound) {
		return nil
	}
	if err == nil {
		err = errors.Join(cg.Kill(), cg.Delete())
	}
	if err != nil {
		return fmt.Errorf("container %s: removing the cgroup of its last run: %w", shortID(c.ID), err)
	}
	return nil
}

// checkWritableLayer refuses a container whose upper or work dir is no directory: overlayfs
// follows a symlink in its mount options, so an upper -> /etc (a hand edit) would have the
// container write into the host's /etc. Nor may they, or the source of a bind root (the vfs
// driver's rootfs), be anywhere but in the container's own dir, where the snapshotter makes
// them: a config.json whose upperdir was edited to /etc had the container write there too.
func checkWritableLayer(c *Container) error {
	if err := checkLowers(c); err != nil {
		return err
	}
	for _, m := range c.Config.Spec.Root {
		_, upper, work := m.OverlayDirs()
		dirs := []string{upper, work}
		if m.Type == "bind" {
			dirs = append(dirs, m.Source)
		}
		for _, d := range dirs {
			if d == "" {
				continue
			}
			if !inDir(d, c.Dir) {
				return fmt.Errorf("container %s: its writable layer %s is not in the container's dir", shortID(c.ID), d)
			}
			fi, err := os.Lstat(d)
			if err != nil {
				return fmt.Errorf("container %s: its writable layer: %w", shortID(c.ID), err)
			}
			if !fi.IsDir() {
				return fmt.Errorf("container %s: its writable layer: %s is a %s, not a directory", shortID(c.ID), d, fileKind(fi.Mode()))
			}
		}
	}
	return nil
}

// checkLowers refuses a container whose root is not what the snapshotter prepares: an
// overlay, or the vfs driver's bind of its own copy (checkWritableLayer), each lowerdir one of
// the store's layer dirs (its name a DiffID's hex) or the container's own empty or
// mountpoints dir, a directory and not a symlink. overlayfs mounts any lowerdir it is given:
// a config.json edited to stack / or /etc had the host's files in the container, and in what
// cp copied out of it.
func checkLowers(c *Container) error {
	for _, m := range c.Config.Spec.Root {
		if m.Type != "overlay" && m.Type != "bind" {
			return fmt.Errorf("container %s: its root is a %s mount, not the overlay or bind strata prepares", shortID(c.ID), quote.Value(m.Type))
		}
		if m.Type != "overlay" || c.layers == "" {
			continue
		}
		lowers, _, _ := m.OverlayDirs()
		if len(lowers) == 0 {
			return fmt.Errorf("container %s: its root overlay has no lowerdir", shortID(c.ID))
		}
		for _, l := range lowers {
			base := filepath.Base(l)
			own := (base == "empty" || base == "mountpoints") && inDir(l, c.Dir)
			if !own && (!isLayerName(base) || !filepath.IsAbs(l) || !inDir(l, c.layers)) {
				return fmt.Errorf("container %s: its root's lowerdir %s is not one of the store's layer dirs", shortID(c.ID), quote.Value(l))
			}
			fi, err := os.Lstat(l)
			if err != nil {
				return fmt.Errorf("container %s: its root's lowerdir: %w", shortID(c.ID), err)
			}
			if !fi.IsDir() {
				return fmt.Errorf("container %s: its root's lowerdir %s is a %s, not a directory", shortID(c.ID), quote.Value(l), fileKind(fi.Mode()))
			}
		}
	}
	return nil
}

// LayerChecker checks the layer dirs a container's root overlay stacks (hexes, the DiffIDs'
// hex, in layersDir) before it starts, as run checks an image's layers before it creates one:
// a layer dir emptied or partly deleted since its unpack is unpacked again from its blob, into
// the same path, or the start is refused in one line. image and imageID are the container's
// (Config.Image, Config.ImageID), to find the blobs. cmd sets it (SetLayerChecker).
type LayerChecker func(ctx context.Context, layersDir, image, imageID string, hexes []string) error

var layerChecker LayerChecker

// SetLayerChecker sets what a start of a container by strata (start, start -a, restart,
// run -d) calls to check the layer dirs of its root, under the container's lock before the
// monitor is spawned: the container's overlay mount options name those paths, so a container
// created before the damage ran on it. The monitor (the strata-init helper, which holds no
// image or layer store code) sets none, so a restart policy's restart checks nothing.
func SetLayerChecker(f LayerChecker) { layerChecker = f }

// checkLayersIntact calls the LayerChecker on the store's layer dirs c's root overlay
// stacks, which checkLowers has checked are in its store's layer dir. A vfs container's root
// is its own copy, made at its creation: no layer dir is read at its start.
func checkLayersIntact(c *Container) error {
	if layerChecker == nil || c.layers == "" {
		return nil
	}
	var hexes []string
	for _, m := range c.Config.Spec.Root {
		if m.Type != "overlay" {
			continue
		}
		lowers, _, _ := m.OverlayDirs()
		for _, l := range lowers {
			if base := filepath.Base(l); isLayerName(base) {
				hexes = append(hexes, base)
			}
		}
	}
	if len(hexes) == 0 {
		return nil
	}
	if err := layerChecker(context.Background(), c.layers, c.Config.Image, c.Config.ImageID, hexes); err != nil {
		return fmt.Errorf("container %s: %w", shortID(c.ID), err)
	}
	return nil
}

// isLayerName reports whether name is a layer dir's: the 64 lower-case hex digits of a
// sha256 DiffID.
func isLayerName(name string) bool {
	return len(name) == 64 && isHexID(name)
}

// inDir reports whether path's parent is dir: the same path, or another spelling of it (a
// store created through a symlink, or a relative --root, records its dirs as they were
// spelled then, and dir is spelled as the store is opened now), as the two stat the same.
func inDir(path, dir string) bool {
	parent := filepath.Dir(filepath.Clean(path))
	if parent == filepath.Clean(dir) {
		return true
	}
	a, err := os.Stat(parent)
	if err != nil {
		return false
	}
	b, err := os.Stat(dir)
	return err == nil && os.SameFile(a, b)
}

// checkVolumes refuses a container whose anonymous volume (its -v /path, an image's VOLUME) is
// not a directory of its own dir's volumes dir, where AnonymousVolumes makes them: the init
// binds its source, following a symlink, so volumes/0 -> /etc (a hand edit) had the
// container write into the host's /etc, as a source edited to /etc in config.json did.
func checkVolumes(c *Container) error {
	for _, m := range c.Config.Spec.Mounts {
		if m.Type != TypeVolume || m.Source == "" {
			continue
		}
		if name, ok := NamedVolume(m); ok {
			if err := checkNamedVolume(c, m, name); err != nil {
				return err
			}
			continue
		}
		if err := checkAnonymousVolume(c, m); err != nil {
			return err
		}
	}
	return nil
}

// checkAnonymousVolume refuses anonymous volume m of c that is not a directory of c's own
// volumes dir (see checkVolumes).
func checkAnonymousVolume(c *Container, m mount.Mount) error {
	vols := filepath.Join(filepath.Clean(c.Dir), VolumesDir)
	if !inDir(m.Source, vols) {
		return fmt.Errorf("container %s: its volume %s is not in the container's dir", shortID(c.ID), m.Source)
	}
	for _, d := range []string{vols, m.Source} {
		fi, err := os.Lstat(d)
		if err != nil {
			return fmt.Errorf("container %s: its volume: %w", shortID(c.ID), err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("container %s: its volume: %s is a %s, not a directory", shortID(c.ID), d, fileKind(fi.Mode()))
		}
	}
	return nil
}

// runningRecordDelay is how long a foreground run waits for its command to end before it
// records the container as running (RunContainer).
const runningRecordDelay = 3 * time.Millisecond

// recordRunning is the run hook: the command runs as host pid.
func recordRunning(c *Container, pid int, startedAt time.Time) {
	c.State.Status = StatusRunning
	c.State.Pid = pid
	c.State.Restarting = false
	c.State.StartedAt = startedAt
	_ = c.saveState() // a stale state shows the container as created; the run goes on
	Event(c, "start", nil)
}

// recordExit writes how the run ended and returns the exit code to report.
func recordExit(c *Container, res result, err error) int {
	code := noteExit(c, res, err)
	_ = c.saveState()
	return code
}

// noteExit sets c.State to how the run ended and returns the exit code to report.
func noteExit(c *Container, res result, err error) int {
	code := res.Code
	var ec *ExitCodeError
	if errors.As(err, &ec) {
		code = ec.Code
	}
	c.State.Status = StatusExited
	c.State.Pid = 0
	c.State.Restarting = false // policyRestart decides again
	if c.State.StartedAt.Before(res.StartedAt) {
		// It exited before recordRunning ran: StartedAt is still the last run's, if any.
		c.State.StartedAt = res.StartedAt
	}
	c.State.ExitCode = code
	c.State.OOMKilled = res.OOMKilled
	c.State.FinishedAt = time.Now().UTC()
	if err != nil {
		c.State.Error = err.Error()
	}
	eventDie(c, code)
	return code
}

// Kill sends sig to the container's PID 1. A container that is not running is ErrNotRunning.
func Kill(c *Container, sig syscall.Signal) error {
	return kill(c, sig, nil)
}

// kill is Kill, calling before (when not nil) with a pidfd of the PID 1, once it is known to
// be the container's and before it is signalled; the pidfd is closed once kill returns.
func kill(c *Container, sig syscall.Signal, before func(pidfd int)) error {
	if err := c.Reload(); err != nil {
		return err
	}
	if !c.State.Running() || c.State.Pid <= 0 {
		return fmt.Errorf("container %s: %w", shortID(c.ID), ErrNotRunning)
	}
	// Through a pidfd of the process checked to be the monitor's child: a pid used again
	// between the check and the signal cannot receive it.
	w := watchRun(c)
	if w == nil {
		return fmt.Errorf("container %s: %w", shortID(c.ID), ErrNotRunning)
	}
	defer w.close()
	if before != nil {
		before(w.init)
	}
	if err := unix.PidfdSendSignal(w.init, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("container %s: %w", shortID(c.ID), ErrNotRunning)
		}
		return fmt.Errorf("signalling container %s: %w", shortID(c.ID), err)
	}
	resumeSignalled(c, nil, sig)
	Event(c, "kill", map[string]string{"signal": strconv.Itoa(int(sig))})
	return nil
}

// heldWhileDown is the error of a stop or kill that found c not running (ErrNotRunning) while
// a live strata holds its cgroup: its run or monitor, and so its processes, are alive, but its
// state says otherwise or cannot be read (a state.json lost, emptied or edited by hand; a
// strata in another pid namespace sharing the store). The stop succeeded without signalling
// anything and the container ran on, a kill said "container is not running": ps listed it
// Exited while its processes lived, until an rm -f. Nil when nothing holds the cgroup: the
// container is down, as read.
func heldWhileDown(c *Container) error {
	if c.notDir || c.State.Status == StatusRunning || c.State.Restarting || !cgroups.Held(c.CgroupKey()) {
		return nil
	}
	why := "its state says it is not running"
	if strings.HasPrefix(c.State.Error, stateLostPrefix) {
		why = "its state is lost"
	}
	return fmt.Errorf("container %s: %w", shortID(c.ID), heldError(why))
}

// heldError is ErrRunning, for a container that reads as not running because why, while a
// live strata holds its cgroup.
func heldError(why string) error {
	return fmt.Errorf("%w: %s, but a live strata holds its cgroup: rm -f ends it", ErrRunning, why)
}

// NotRunningError is the error of a command that needs c running (pause, unpause, exec, top)
// and found it not running: ErrNotRunning, or, where c's state is lost while a live strata
// holds its cgroup (lostWhileHeld), that it runs, which only rm -f ends. They said "container
// is not running" of a container whose processes ran.
func NotRunningError(c *Container) error {
	if lostWhileHeld(c) {
		return heldError("its state is lost")
	}
	return ErrNotRunning
}

// LostWhileHeld reports whether c's state is lost while a live strata holds its cgroup
// (lostWhileHeld): its processes are likely alive, in that cgroup, though c reads as exited.
// A reader of the cgroup (stats) reads it as a running container's.
func LostWhileHeld(c *Container) bool { return lostWhileHeld(c) }

// lostWhileHeld reports whether c's state, as read, is lost (Reload could not read it) while
// a live strata holds its cgroup: its run or monitor, and so likely its processes, are alive
// and will record its exit. Only a lost state is looked at: a recorded exit is one, whatever
// holds the cgroup after it (a start under way).
func lostWhileHeld(c *Container) bool {
	return !c.notDir && strings.HasPrefix(c.State.Error, stateLostPrefix) && cgroups.Held(c.CgroupKey())
}

// KillAfterStart is Kill after a start another strata has under way has ended
// (waitStartUnderWay), for `strata kill`: docker's kill, serialized after the start, signals
// what it started, where a kill that came meanwhile found the container not running yet and
// failed ("container is not running") as the container came up. With SIGKILL it returns once
// the exit is recorded, as docker's kill waits then (for at most killWait): a `kill` then
// `start` or `inspect` found the container running still, half the time.
func KillAfterStart(ctx context.Context, c *Container, sig syscall.Signal) error {
	// Up as the kill came: recorded running (its exit perhaps not recorded yet), or
	// restarting, which docker counts as running.
	wasUp := c.State.Status == StatusRunning || c.State.Restarting
	// Marked first, as docker's kill marks it before it signals: the monitor, or the one
	// in its restart backoff, restarts it no more (stopKindOf).
	wasRestarting, err := cancelRestarts(ctx, c, stopKindOf(c, sig))
	if err != nil {
		return err
	}
	if wasRestarting && !c.State.Running() {
		return nil // docker's kill of a restarting container only cancels its restart
	}
	if !c.State.Running() {
		if err := waitStartUnderWay(ctx, c); err != nil {
			return err
		}
	}
	// A SIGKILL's wait for the exit record watches a pidfd of the PID 1 it signalled (see
	// wait): opened after the signal, it would find that PID 1 gone, and watch the dir.
	pid1 := -1
	defer func() {
		if pid1 >= 0 {
			unix.Close(pid1)
		}
	}()
	before := func(pidfd int) {
		if sig != unix.SIGKILL {
			return
		}
		if fd, err := unix.FcntlInt(uintptr(pidfd), unix.F_DUPFD_CLOEXEC, 0); err == nil {
			pid1 = fd
		}
	}
	if err := kill(c, sig, before); err != nil || sig != unix.SIGKILL {
		if wasUp && errors.Is(err, ErrNotRunning) {
			// It ended between the look and the signal: docker's kill of a running
			// container whose process is gone succeeds. A crash-looping container's kill
			// failed "not running" one time in five: the restart its monitor had started
			// as the kill cancelled the next one ran and exited meanwhile.
			return nil
		}
		if errors.Is(err, ErrNotRunning) {
			if herr := heldWhileDown(c); herr != nil {
				return herr
			}
		}
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, killWait)
	defer cancel()
	_, err = waitRecorded(wctx, c, pid1)
	switch {
	case err == nil, removedOnExit(c, err), errors.Is(err, os.ErrNotExist):
		return nil
	case wctx.Err() != nil && ctx.Err() == nil:
		return nil // signalled; the monitor records the exit late, as docker gives up after 10 s
	}
	return err
}

// killWait bounds how long a SIGKILL waits for the exit to be recorded, as docker's does.
const killWait = 10 * time.Second

// waitStartUnderWay returns once no other process holds c's lock, as a start does until its
// state says running or failed (its monitor with it), after otherStartWait, or with ctx's
// error. A stop that came while another strata started the container found it not running
// yet, did nothing and succeeded, and the container came up a moment later (half the time
// with `start c & stop c`), where docker's stop, serialized after the start, stops it.
func waitStartUnderWay(ctx context.Context, c *Container) error {
	if c.notDir {
		return nil
	}
	for deadline := time.Now().Add(otherStartWait); ; {
		l, ok, err := lockfile.TryLockExisting(filepath.Join(c.Dir, lockFile), true)
		if err != nil {
			return nil // gone, or no lock to wait on: Kill reads what is there
		}
		if ok {
			l.Unlock()
			return nil
		}
		if time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("container %s: %w", shortID(c.ID), ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// unpausesOn reports whether a kill with sig lets a paused c run again, as docker's kill
// resumes it after signalling: for SIGKILL, and for its stop signal (any signal when the
// container names none, as a bare Run's, c nil, does not), so that a stop of a paused
// container ends it as its stop signal does instead of waiting out the timeout for a SIGKILL,
// and a kill -s TERM is delivered.
func unpausesOn(c *Container, sig syscall.Signal) bool {
	if c == nil || sig == unix.SIGKILL || c.Config.StopSignal == "" {
		return true
	}
	return StopSignalOf(c) == sig
}

// Stop sends the container's stop signal (SIGTERM unless Config.StopSignal says otherwise),
// waits up to timeout for it to exit, then sends SIGKILL, as docker stop does. Stopping a
// container that is not running does nothing. It keeps the container down whatever its
// restart policy, as docker's: it returns once no monitor is about to restart it.
func Stop(ctx context.Context, c *Container, timeout time.Duration) error {
	_, err := stopAs(ctx, c, timeout, false)
	return err
}

// stopAs is Stop, for a Restart when restart says so: the killer it leaves beside the
// container (spawnStopKiller) starts it again too should the restart be gone before it does,
// and an interrupted one's error is then errRestartLeft. A restart's stop that succeeds
// returns that killer, which the restart dismisses once it has started the container.
func stopAs(ctx context.Context, c *Container, timeout time.Duration, restart bool) (*stopKiller, error) {
	if _, err := cancelRestarts(ctx, c, restartCanceled); err != nil {
		return nil, err
	}
	k, err := stop(ctx, c, timeout, restart)
	if err != nil || !c.Config.RestartPolicy.Restarts() {
		return k, err
	}
	// Its monitor may have read no mark yet as the container exited by itself meanwhile: it
	// finds it in its backoff and gives the restart up.
	if _, err := cancelRestarts(ctx, c, restartCanceled); err != nil {
		k.dismiss()
		return nil, err
	}
	return k, nil
}

// errRestartLeft is an interrupted restart's error once the process it left finishes it
// (spawnStopKiller), which the restart mark names then.
var errRestartLeft = errors.New("restart left to finish")

// stop is Stop's signal and wait, the restart policy aside; restart as stopAs, whose killer
// it returns (for a restart's stop that succeeded; nil otherwise).
func stop(ctx context.Context, c *Container, timeout time.Duration, restart bool) (kept *stopKiller, err error) {
	sig := StopSignalOf(c)
	if !c.State.Running() {
		if err := waitStartUnderWay(ctx, c); err != nil {
			return nil, err
		}
	}
	// From before the stop signal to the return of an interrupted stop, strata's root lets
	// no second SIGINT or SIGTERM end this process (StopsSettled); interrupted already, it
	// signals nothing, and has nothing to leave.
	defer enterStop()()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The killer spawned before the signal (spawnStopKiller): dismissed on return, but when
	// the stop is interrupted (left to finish it) or a restart's stop succeeds (returned).
	var k *stopKiller
	left := false
	defer func() {
		switch {
		case left:
			k.leave()
		case restart && err == nil:
			kept = k
		default:
			k.dismiss()
		}
	}()
	var deadline time.Time
	marked := false // the restart mark names the killer
	pid1 := -1      // a pidfd of the PID 1 signalled, which the wait for the exit polls
	defer func() {
		if pid1 >= 0 {
			unix.Close(pid1)
		}
	}()
	before := func(pidfd int) {
		if fd, err := unix.FcntlInt(uintptr(pidfd), unix.F_DUPFD_CLOEXEC, 0); err == nil {
			pid1 = fd
		}
		deadline = time.Now().Add(timeout)
		if timeout >= maxStopDeadline && !restart {
			return // -t -1: nothing to kill, ever
		}
		d := deadline
		if timeout >= maxStopDeadline {
			d = time.Time{} // a restart's -t -1: no kill, the start after the exit
		}
		var err error
		if k, err = spawnStopKiller(c, pidfd, d, restart); err != nil {
			return // no killer: the stop kills at the deadline if it lives
		}
		if restart {
			// The restart mark names the killer from now on: a --rm container's monitor
			// keeps the container on this exit while the killer lives (restarting), even
			// if this process is gone by then. It named this process until then, alive
			// still, so that it never named no live restart.
			marked = writeRestartMark(filepath.Join(c.Dir, restartingFile), k.pid()) == nil
		}
	}
	if err := kill(c, sig, before); err != nil {
		if errors.Is(err, ErrNotRunning) && c.State.Status == StatusRunning {
			// Exiting: its PID 1 is gone and its monitor has yet to record how it ended.
			// Stop returns once that is recorded, as after a signal: a script's stop then
			// inspect read the container as running still, exit code 0.
			if _, err := waitRecorded(ctx, c, -1); err != nil && !removedOnExit(c, err) {
				return nil, err
			}
			return nil, nil
		}
		if removedOnExit(c, err) {
			return nil, nil
		}
		if errors.Is(err, ErrNotRunning) {
			return nil, heldWhileDown(c)
		}
		return nil, err
	}
	testStop(stopSignalled)
	tctx, cancel := context.WithDeadline(ctx, deadline)
	if timeout >= maxStopDeadline {
		tctx, cancel = context.WithCancel(ctx)
	}
	_, err = wait(tctx, c, false, pid1)
	cancel()
	if err == nil || removedOnExit(c, err) {
		return nil, nil
	}
	if ctx.Err() != nil {
		// Interrupted (Ctrl-C): the SIGKILL at the deadline is still sent, by the killer
		// left for it, as docker's daemon finishes the stop its CLI left, and so is a
		// restart's start after it (docker's daemon finishes the whole restart).
		if k == nil {
			return nil, ctx.Err()
		}
		testStop(stopInterrupted)
		left = true
		if !restart || !marked {
			return nil, ctx.Err() // a restart's killer starts it all the same; a --rm one may be gone
		}
		return nil, fmt.Errorf("%w: %w", ctx.Err(), errRestartLeft)
	}
	if !restart {
		k.dismiss() // before the SIGKILL: the kill and its event are this process's alone
		k = nil
	}
	if err := Kill(c, unix.SIGKILL); err != nil && !errors.Is(err, ErrNotRunning) && !removedOnExit(c, err) {
		return nil, err
	}
	if _, err = waitRecorded(ctx, c, pid1); removedOnExit(c, err) {
		return nil, nil
	}
	return nil, err
}

// waitRecorded is Wait for a container that was killed, bounded where Wait is not: a monitor
// that is stopped (SIGSTOP, a debugger) records the exit only once it resumes, and stop then
// says so instead of waiting for ever. pid1 is a pidfd of the PID 1 killed, or -1 (see wait).
func waitRecorded(ctx context.Context, c *Container, pid1 int) (int, error) {
	for {
		wctx, cancel := context.WithTimeout(ctx, maxWaiterHold)
		code, err := wait(wctx, c, false, pid1)
		late := wctx.Err() != nil
		cancel()
		if err == nil || ctx.Err() != nil || !late {
			return code, err
		}
		if pid := c.State.MonitorPid; monitorStopped(pid, c.State.MonitorStart) {
			return ExitOwnError, fmt.Errorf("container %s was signalled, but its monitor (PID %d) is stopped: it records the exit once it is resumed (kill -CONT %d)", shortID(c.ID), pid, pid)
		}
	}
}

// monitorStopped reports whether process pid, started at start, is stopped or traced (state
// T or t in /proc/PID/stat).
func monitorStopped(pid int, start uint64) bool {
	b, err := readProcStat(pid)
	if err != nil || !processAlive(pid, start) {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	return b[i+2] == 'T' || b[i+2] == 't'
}

// otherStartWait bounds WaitOtherStart: a monitor answers its start within a second or two
// (an image's first unpack is done before), and one that hangs is not waited on for ever.
const otherStartWait = 10 * time.Second

// WaitOtherStart waits while another strata process starts c: a start killed after it
// spawned the monitor, which goes on to run the container (holding its lock until it has
// recorded the start: monitorLocked). Before the monitor held the lock a start then spawned a
// second monitor, which refused the container as running ("container is running") though the
// start asked for had not failed, and the container came up a moment later; a restart must
// not stop it before it runs. It returns once that start has ended either way (c reloaded),
// after otherStartWait, or with ctx's error. Only the strata CLI may call it (startingOther).
// It watches the dir only once it has found such a start, and reads it again then: every
// start and restart watched it, and paid for the watch as it closed it (see wait), 4 to 16
// ms, where no other start was under way.
func WaitOtherStart(ctx context.Context, c *Container) error {
	deadline := time.Now().Add(otherStartWait)
	changes := stateWatch{-1}
	defer func() { changes.close() }()
	for watched := false; ; {
		if err := c.Reload(); err != nil {
			return err
		}
		if !c.State.startingOther(c.ID, c.Dir) || time.Now().After(deadline) {
			return nil
		}
		if !watched {
			// A state written after the read below wakes the wait at once.
			changes, watched = watchState(c.Dir), true
			continue
		}
		if err := waitMonitor(ctx, c.State.MonitorPid, changes); err != nil {
			return err
		}
	}
}

// removedOnExit says whether err is c's dir being gone because c, a --rm container, ended:
// a stop has done its job then.
func removedOnExit(c *Container, err error) bool {
	return c.Config.AutoRemove && (errors.Is(err, ErrRemovedOnExit) || errors.Is(err, os.ErrNotExist))
}

// restartingFile marks a container Restart is stopping to start it again: its monitor does not
// remove it on that exit even with --rm, as docker does not remove a --rm container it
// restarts. The next monitor removes the mark (markMonitor). It holds the pid and start time
// of the restarting process, which alone it speaks for (restarting).
const restartingFile = "restarting"

// Restart stops c as Stop does and starts it again, detached; a container that is not
// running is just started.
func Restart(ctx context.Context, c *Container, timeout time.Duration) error {
	if c.Broken != nil {
		return c.Broken
	}
	// A start under way (a restart killed while its monitor started the container) ends
	// first: stopped before it runs, it would be started twice.
	if err := WaitOtherStart(ctx, c); err != nil {
		return err
	}
	mark := filepath.Join(c.Dir, restartingFile)
	if err := writeRestartMark(mark, os.Getpid()); err != nil {
		if gone := c.StillThere(); gone != nil {
			// Removed since it was read (rm -f): docker's "No such container", where the
			// mark's write named a temporary file in the store.
			return gone
		}
		return fmt.Errorf("restarting container %s: marking it: %w", shortID(c.ID), err)
	}
	k, err := stopAs(ctx, c, timeout, true)
	if err != nil {
		if !errors.Is(err, errRestartLeft) {
			_ = os.Remove(mark)
		}
		return err
	}
	// The killer the stop left starts the container again should this process be gone
	// before it has; once it has started it (or failed to), the killer has no more use.
	defer k.dismiss()
	err = Start(ctx, c)
	if err != nil {
		// Refused as running: a monitor a killed start or restart spawned took the
		// container as this one's was spawned. Started all the same, once that ended.
		if werr := WaitOtherStart(ctx, c); werr == nil && c.State.Running() {
			return nil
		}
	}
	return err
}

// writeRestartMark writes pid (this process, or the killer an interrupted restart left) and
// its start time to mark whole or not at all:
// written in a file of its own, put in place (writeFileReplace). Created empty and then
// written, a restart killed between the two (Ctrl-C, a busy machine's test) left an empty
// mark, which restarting reads as a live restart's: the --rm container's monitor kept it on
// its next exit, and no sweep took it, for ever. A symlink or FIFO at mark is replaced,
// never followed.
func writeRestartMark(mark string, pid int) error {
	start, err := processStart(pid)
	if err != nil {
		return fmt.Errorf("reading the start time of process %d: %w", pid, err)
	}
	return writeFileReplace(mark, fmt.Appendf(nil, "%d %d\n", pid, start), 0o600, false)
}

// readyVolatileRoot lets the root of a --rm container be mounted again (restart). Its overlay
// was mounted volatile, and overlayfs marks such a workdir (work/incompat/volatile) and
// refuses to mount it again while the mark is there: a volatile upper is never synced, so a
// crash may have lost part of it. The mark is removed when the container last ran since this
// boot, where nothing can have been lost; after a reboot its writable layer is not trusted and
// the start fails.
func readyVolatileRoot(c *Container) error {
	for _, m := range c.Config.Spec.Root {
		if !slices.Contains(m.Options, "volatile") {
			continue
		}
		_, _, work := m.OverlayDirs()
		if work == "" {
			continue
		}
		mark := filepath.Join(work, "work", "incompat", "volatile") // a dir, holding "dirty"
		if _, err := os.Lstat(mark); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if !ranSinceBoot(c.State) {
			return fmt.Errorf("container %s: its writable layer was never synced to disk (--rm) and the machine has restarted since it ran: remove it and run a new one", shortID(c.ID))
		}
		if err := os.RemoveAll(mark); err != nil {
			return fmt.Errorf("container %s: readying its writable layer: %w", shortID(c.ID), err)
		}
	}
	return nil
}

// ranSinceBoot says whether st's container started after this machine booted.
func ranSinceBoot(st State) bool {
	boot, err := bootTime()
	return err == nil && !st.StartedAt.IsZero() && st.StartedAt.After(boot)
}

// bootTime is when this machine booted, from /proc/stat's btime.
func bootTime() (time.Time, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("parsing /proc/stat btime: %w", err)
			}
			return time.Unix(secs, 0), nil
		}
	}
	return time.Time{}, errors.New("no btime in /proc/stat")
}

// restarting says whether Restart marked c (see restartingFile) and the restart that did is
// alive. A restart killed between its stop and its start left a --rm container marked for
// ever: its monitor kept it and no sweep took it for an orphan, so it lingered as exited. A
// mark that names no process (not strata's) counts as a live restart's.
func restarting(c *Container) bool {
	b, err := readSmallFile(filepath.Join(c.Dir, restartingFile), 64)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	var pid int
	var start uint64
	if err != nil {
		return true
	}
	if n, err := fmt.Sscanf(string(b), "%d %d", &pid, &start); err != nil || n != 2 {
		return true
	}
	return processAlive(pid, start)
}

// restartAlive says whether a restart that lives marked c (restartingFile). Unlike
// restarting, a mark that names no process (a restart killed as it wrote it: empty) counts
// for nothing: it would keep the container from a plain rm and a prune for ever.
func restartAlive(c *Container) bool {
	b, err := readSmallFile(filepath.Join(c.Dir, restartingFile), 64)
	if err != nil {
		return false
	}
	var pid int
	var start uint64
	if n, err := fmt.Sscanf(string(b), "%d %d", &pid, &start); err != nil || n != 2 {
		return false
	}
	return processAlive(pid, start)
}

// Wait blocks until c is not running and returns its exit code. It returns at once for a
// container that is created or exited, or in its restart policy's backoff.
func Wait(ctx context.Context, c *Container) (int, error) {
	return wait(ctx, c, false, -1)
}

// WaitNotRunning is Wait as docker's wait: a container in its restart policy's backoff
// counts as running (docker's State.Running stays true while it restarts), and the wait
// returns at its next exit, or once a stop cancels the restart. `strata wait` printed the
// last exit code at once, docker's waits. So does a container whose state is lost while a
// live strata holds its cgroup (lostWhileHeld): the wait returns the exit its monitor
// records, or 255 once nothing holds the cgroup; `strata wait` printed 255 at once while it
// ran on. The other waits (stop's, a start's, rm's) see a lost state as exited, as before.
func WaitNotRunning(ctx context.Context, c *Container) (int, error) {
	return wait(ctx, c, true, -1)
}

// wait is Wait, and WaitNotRunning when throughBackoff. It waits on a pidfd of the
// container's PID 1 (pid1: a stop's or a kill's, the one it signalled through; otherwise
// opened once state.json says running, checked as watchRun checks it) and of its monitor,
// and once that PID 1 has exited, polls state.json every recordPollTick for recordPollMax,
// the moment the monitor takes to record the exit, before it watches the dir for the record.
// It watches the dir from the start only where there is no such PID 1: a container in its
// restart backoff (throughBackoff), one whose PID 1 cannot be told apart from a process that
// took its pid. A wait that watched paid for the watch at its end: the last close of an
// inotify fd that had a watch waits for an SRCU grace period of the kernel's fsnotify
// (fsnotify_destroy_group, fsnotify_wait_marks_destroyed), whole jiffies long, 4 to 16 ms
// on the 250 Hz kernel of the bench VM, ~12 ms of a stop of ~20. The exit of the process
// closes what it left open, so the stop (the kill, the wait, the attach) returned to its
// shell no sooner. pid1 stays the caller's; one wait opened is closed on return.
func wait(ctx context.Context, c *Container, throughBackoff bool, pid1 int) (int, error) {
	// A --rm container's monitor removes it only once no waiter holds this: the waiter reads
	// the exit status it records first.
	if c.Config.AutoRemove {
		defer holdAsWaiter(c)()
	}
	// Any container's removal (rm -f of it running) waits for its waiters to read the exit
	// its monitor records (waitDirWaiters).
	defer holdDirAsWaiter(c.Dir)()
	// A state written after a read wakes the wait at once: the read after the PID 1 was
	// opened (its exit comes after that read), or after the watch was made.
	changes := stateWatch{-1}
	defer func() { changes.close() }()
	ownPid1 := false // pid1 was opened here, and is closed on return
	defer func() {
		if ownPid1 && pid1 >= 0 {
			unix.Close(pid1)
		}
	}()
	var exitedAt time.Time // when the PID 1 was seen exited (pid1)
	watchTried := false    // the dir's watch was made (or failed): no PID 1 is opened then
	// backoff is the exit whose restart backoff the wait began in (throughBackoff): the
	// container counts as running until a state records another exit, or no restart.
	var backoff time.Time
	inBackoff := false
	for first := true; ; first = false {
		if err := c.Reload(); err != nil {
			if errors.Is(err, os.ErrNotExist) && c.Config.AutoRemove {
				return ExitUnknown, fmt.Errorf("container %s: %w", shortID(c.ID), ErrRemovedOnExit)
			}
			if errors.Is(err, os.ErrNotExist) && !c.notDir {
				if _, serr := os.Lstat(c.Dir); serr == nil {
					// Its state.json is lost (an rm killed half-way): nothing of it runs,
					// and how it ended is unknown, as ps shows it.
					return ExitUnknown, nil
				}
			}
			return ExitOwnError, err
		}
		if c.State.Status != StatusRunning {
			stillBackoff := throughBackoff && c.State.Restarting &&
				(first || inBackoff && c.State.FinishedAt.Equal(backoff))
			if !stillBackoff {
				if !throughBackoff || !lostWhileHeld(c) {
					return c.State.ExitCode, nil
				}
				// Its state is lost (deleted, emptied, garbled) while its run or monitor
				// lives: wait printed 255 at once for a container that ran on. Its monitor
				// records the exit in state.json when it comes, which the watch sees; a
				// monitor that ends without that (SIGKILL) lets go of the cgroup, which
				// only the slow poll sees (no pid of it is known).
				if changes.fd < 0 {
					changes, pid1 = watchState(c.Dir), -1
				}
				if err := changes.wait(ctx, eventPollMax); err != nil {
					return ExitOwnError, fmt.Errorf("waiting for container %s: %w", shortID(c.ID), err)
				}
				continue
			}
			backoff, inBackoff = c.State.FinishedAt, true
		}
		if pid1 < 0 && !watchTried {
			// Running: its PID 1, checked to be the container's, read again once opened.
			if fd := openPid1(c); fd >= 0 {
				pid1, ownPid1 = fd, true
				if pid1Opened != nil {
					pid1Opened(c.Dir)
				}
				continue
			}
			// None (in its backoff, not told apart): watched from now, and read again.
			watchTried = true
			if changes = watchState(c.Dir); changes.fd >= 0 {
				continue
			}
		}
		if pid1 >= 0 && changes.fd < 0 {
			if exitedAt.IsZero() {
				// Its exit, or its monitor's (which records nothing then), wakes this.
				if err := waitExit(ctx, c.State.MonitorPid, pid1); err != nil {
					return ExitOwnError, fmt.Errorf("waiting for container %s: %w", shortID(c.ID), err)
				}
				if pidfdExited(pid1) {
					exitedAt = time.Now()
				}
				continue
			}
			if time.Since(exitedAt) < recordPollMax {
				if err := sleepCtx(ctx, recordPollTick); err != nil {
					return ExitOwnError, fmt.Errorf("waiting for container %s: %w", shortID(c.ID), err)
				}
				continue
			}
			// Late (a busy host, a stopped monitor): watched from now, and read again.
			watchTried = true
			if changes = watchState(c.Dir); changes.fd >= 0 {
				continue
			}
			if ownPid1 {
				unix.Close(pid1)
				ownPid1 = false
			}
			pid1 = -1 // no watch: waitMonitor polls
		}
		if err := waitMonitor(ctx, c.State.MonitorPid, changes); err != nil {
			return ExitOwnError, fmt.Errorf("waiting for container %s: %w", shortID(c.ID), err)
		}
	}
}

// waitersFile is the lock a --rm container's waiters hold shared while they wait; its monitor
// takes it exclusively, after recording the exit, before it removes the container. The
// container's creation makes it (Store.CreateWithID).
const waitersFile = "waiters"

// holdAsWaiter takes waitersFile shared and returns its release. A waiter that finds the lock
// taken exclusively (the container is being removed) waits for the removal and then finds the
// container gone. It never creates the file: made in a dir that `rm -f` is emptying, it
// would fail that removal ("directory not empty"); a missing lock means a removal is under
// way, and the waiter then finds the container gone.
func holdAsWaiter(c *Container) (release func()) {
	// No symlink followed, no FIFO waited on (a hand edit): the waiter then holds nothing.
	fd, err := unix.Open(filepath.Join(c.Dir, waitersFile), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return func() {}
	}
	if err := unix.Flock(fd, unix.LOCK_SH); err != nil {
		unix.Close(fd)
		return func() {}
	}
	return func() { unix.Close(fd) }
}

// holdDirAsWaiter takes a shared flock on the container dir itself (of any container, --rm or
// not) and returns its release; removeDir takes it exclusively (waitDirWaiters) before the dir
// goes, and a start (markMonitor) before it overwrites the last run's exit. An rm -f of a running container removed it as soon as its PID 1 was dead, before a
// `strata wait` on it had read the exit its monitor records, and the wait failed with "no such
// container (removed)", or "removed when it exited" for a --rm one, where docker's prints 137.
// Never blocking: a removal under way holds it, and the waiter then finds the container gone.
// No symlink followed (a hand edit): the waiter then holds nothing.
func holdDirAsWaiter(dir string) (release func()) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return func() {}
	}
	if err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		return func() {}
	}
	return func() { unix.Close(fd) }
}

// dirHasWaiters says whether a waiter holds dir now (holdDirAsWaiter).
func dirHasWaiters(dir string) bool {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return errors.Is(unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB), unix.EWOULDBLOCK)
}

// waitDirWaiters returns once no waiter holds dir (holdDirAsWaiter), or after maxWaiterHold,
// holding it until release: a waiter that comes meanwhile finds the container removed. With
// no waiter it costs an open and a flock.
func waitDirWaiters(dir string) (release func()) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return func() {}
	}
	for deadline := time.Now().Add(maxWaiterHold); ; time.Sleep(time.Millisecond) {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil || !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
			return func() { unix.Close(fd) }
		}
	}
}

// maxWaiterHold bounds how long a --rm container's monitor waits for its waiters to read its
// exit status: a stopped `strata wait` must not keep the container forever.
const maxWaiterHold = 2 * time.Second

// waitForWaiters returns once no waiter of c holds waitersFile (or after maxWaiterHold),
// holding it until release: a waiter that comes meanwhile finds the container removed.
func waitForWaiters(c *Container) (release func()) {
	fd, err := unix.Open(filepath.Join(c.Dir, waitersFile), unix.O_RDONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return func() {}
	}
	for deadline := time.Now().Add(maxWaiterHold); ; time.Sleep(time.Millisecond) {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil || !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
			return func() { unix.Close(fd) }
		}
	}
}

// stateWatch is an inotify watch on a container dir for files renamed into it (saveState
// writes state.json that way); fd is -1 without one.
type stateWatch struct{ fd int }

func watchState(dir string) stateWatch {
	return watchDir(dir, unix.IN_MOVED_TO)
}

// watchMade, when set (tests), is called by watchDir as it makes a watch; pid1Opened by wait
// as it has opened the PID 1 of the container in dir.
var watchMade, pid1Opened func(dir string)

// watchDir watches dir for the inotify events of mask (and its removal, which ends a watch).
func watchDir(dir string, mask uint32) stateWatch {
	if watchMade != nil {
		watchMade(dir)
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return stateWatch{-1}
	}
	if _, err := unix.InotifyAddWatch(fd, dir, mask|unix.IN_ONLYDIR); err != nil {
		unix.Close(fd)
		return stateWatch{-1}
	}
	return stateWatch{fd}
}

// drain discards the events read so far.
func (w stateWatch) drain() {
	var buf [4096]byte
	for w.fd >= 0 {
		if n, err := unix.Read(w.fd, buf[:]); n <= 0 || err != nil {
			return
		}
	}
}

// wait returns once an event came (a state written, and what else the watch asked for),
// after d, or with ctx's error.
func (w stateWatch) wait(ctx context.Context, d time.Duration) error {
	err := pollUntil(ctx, []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}, d)
	w.drain()
	return err
}

func (w stateWatch) close() {
	if w.fd >= 0 {
		unix.Close(w.fd)
	}
}

// waitMonitor returns when the monitor process pid exits (it records the container's exit
// first), when a file is renamed into the container dir or the dir goes (changes), or with
// ctx's error. Woken by those events, it rereads nothing until one comes: a wait, and every
// attach (run -it's too), reread state.json and /proc 50 times a second for as long as the
// container ran, ~3% of a CPU each. What no event covers, it waits pollInterval for: a
// monitor it could not open a pidfd for, a dir it could not watch; and at most
// eventPollMax otherwise, in case a change came some other way.
func waitMonitor(ctx context.Context, pid int, changes stateWatch) error {
	var fds []unix.PollFd
	watched := changes.fd >= 0
	if pid > 0 {
		fd, err := unix.PidfdOpen(pid, 0)
		if err == nil {
			defer unix.Close(fd)
			fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
		} else {
			watched = false
		}
	}
	if changes.fd >= 0 {
		fds = append(fds, unix.PollFd{Fd: int32(changes.fd), Events: unix.POLLIN})
		defer changes.drain()
	}
	timeout := pollInterval
	if watched {
		timeout = eventPollMax
	}
	return pollUntil(ctx, fds, timeout)
}

// waitExit returns when the process of pidfd pid1 exits, when the monitor process pid does,
// after eventPollMax (pollInterval when the monitor cannot be watched), or with ctx's error.
func waitExit(ctx context.Context, pid int, pid1 int) error {
	fds := []unix.PollFd{{Fd: int32(pid1), Events: unix.POLLIN}}
	timeout := pollInterval
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		defer unix.Close(fd)
		fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
		timeout = eventPollMax
	}
	return pollUntil(ctx, fds, timeout)
}

// openPid1 returns a pidfd of the PID 1 c's state names, checked as watchRun checks it (the
// child of the live monitor recorded, in the container's cgroup), or -1.
func openPid1(c *Container) int {
	if c.State.Status != StatusRunning {
		return -1
	}
	w := watchRun(c)
	if w == nil {
		return -1
	}
	fd := w.init
	w.init = -1
	w.close()
	return fd
}

// pidfdExited says whether the process of pidfd fd has exited (a zombie included).
func pidfdExited(fd int) bool {
	n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
	return n > 0
}

// sleepCtx sleeps for d, or returns ctx's error once it ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// recordPollTick and recordPollMax: how often, and for how long after its PID 1 exited, a
// stop rereads state.json for the exit its monitor records, a millisecond or two later, before
// it watches the container dir for it (see wait). Variables for tests.
var (
	recordPollTick = time.Millisecond
	recordPollMax  = 50 * time.Millisecond
)

// eventPollMax bounds the wait of waitMonitor, and of a log's follower, when events cover
// what they wait for (a variable for tests, which make it long to show the events suffice).
var eventPollMax = 2 * time.Second

// pollUntil polls fds for at most timeout, returning early once one is ready or ctx ends
// (ctx's error then): an eventfd ctx's end writes is polled with them.
func pollUntil(ctx context.Context, fds []unix.PollFd, timeout time.Duration) error {
	if ctx.Done() != nil {
		efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			timeout = min(timeout, pollInterval) // ctx's end noticed within pollInterval
		} else {
			defer unix.Close(efd)
			wrote := make(chan struct{})
			stop := context.AfterFunc(ctx, func() {
				_, _ = unix.Write(efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
				close(wrote)
			})
			// The eventfd is closed only once its write cannot come: a write to its number
			// reused by then would land in another file.
			defer func() {
				if !stop() {
					<-wrote
				}
			}()
			fds = append(fds, unix.PollFd{Fd: int32(efd), Events: unix.POLLIN})
		}
	}
	if len(fds) == 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		return ctx.Err()
	}
	_, _ = unix.Poll(fds, int(timeout/time.Millisecond))
	return ctx.Err()
}

// Remove deletes the container: its cgroup, anything left mounted at its rootfs, and its dir.
// A running container is refused with ErrRunning unless force, which kills it first.
func (s *Store) Remove(ctx context.Context, c *Container, force bool) error {
	if err := s.remove(ctx, c, force); !errors.Is(err, errRemovedMeanwhile) {
		return err
	}
	return nil
}

// RemoveOwn is Remove that reports a container another process removed meanwhile (its own
// --rm, another rm or prune) as ErrNotFound: container prune lists only what it removed.
func (s *Store) RemoveOwn(ctx context.Context, c *Container, force bool) error {
	err := s.remove(ctx, c, force)
	if errors.Is(err, errRemovedMeanwhile) {
		return fmt.Errorf("container %s: %w", shortID(c.ID), ErrNotFound)
	}
	return err
}

// errRemovedMeanwhile: the container Remove was given is gone, removed by another process.
var errRemovedMeanwhile = errors.New("removed meanwhile")

func (s *Store) remove(ctx context.Context, c *Container, force bool) error {
	// rm -f waits no longer than this for a monitor that does not record the exit (stopped,
	// stuck): its container's processes are gone, and it finds the dir gone when it resumes.
	deadline := time.Now().Add(maxWaiterHold)
	for {
		late := time.Now().After(deadline)
		err := s.removeOnce(ctx, c, force, force && late)
		if !errors.Is(err, errBusy) {
			return err
		}
		if late {
			// A plain rm neither kills nor waits for ever: a state that names a live process
			// as the container's monitor but that nothing ends (a hand edit, pids that other
			// processes took after a reboot) kept it looping until it was interrupted.
			return fmt.Errorf("cannot remove container %q: %w: stop the container before removing or force remove", c.Config.Name, ErrRunning)
		}
		// Started, starting or exiting: its monitor writes in the dir. Looked at again once
		// that has moved on.
		if err := waitMonitor(ctx, c.State.MonitorPid, stateWatch{-1}); err != nil {
			return fmt.Errorf("removing container %s: %w", shortID(c.ID), err)
		}
	}
}

// errPausedRemove is a plain rm of a paused container, refused in docker's words; it is an
// ErrRunning, as the container runs.
var errPausedRemove = pausedRemoveError{}

type pausedRemoveError struct{}

func (pausedRemoveError) Error() string        { return "container is paused and must be unpaused first" }
func (pausedRemoveError) Is(target error) bool { return target == ErrRunning }

// errRestartingRemove is a plain rm (or a container prune) of a container a live Restart
// marked (restarting), between its stop and its start, refused in docker's words; it is an
// ErrRunning, as the container is about to run again.
var errRestartingRemove = restartingRemoveError{}

type restartingRemoveError struct{}

func (restartingRemoveError) Error() string {
	return "container is restarting: stop the container before removing or force remove"
}
func (restartingRemoveError) Is(target error) bool { return target == ErrRunning }

// errBusy: a container Remove found idle had a live monitor by the time it held its lock.
var errBusy = errors.New("container busy")

func (s *Store) removeOnce(ctx context.Context, c *Container, force, anyway bool) error {
	if c.notDir {
		return s.removeNotDir(c)
	}
	if gone, err := reloadToRemove(c); gone {
		return errRemovedMeanwhile
	} else if err != nil {
		return err
	}
	if force {
		// Before it is killed: its monitor must not restart it (restart_linux.go).
		if err := markStopped(c, restartCanceled); err != nil {
			return err
		}
	}
	if c.State.Restarting {
		if !force {
			return fmt.Errorf("cannot remove container %q: %w", c.Config.Name, errRestartingRemove)
		}
		if !anyway {
			return errBusy // its monitor gives the restart up, or starts it to be killed
		}
	}
	if c.State.Running() {
		if !force {
			if Paused(c) {
				return fmt.Errorf("cannot remove container %q: %w", c.Config.Name, errPausedRemove)
			}
			return fmt.Errorf("cannot remove container %q: %w: stop the container before removing or force remove", c.Config.Name, ErrRunning)
		}
		if w := watchRun(c); w != nil {
			defer w.close()
			return s.killAndRemove(ctx, c, w)
		}
		// No process can be shown to be the container's: the state names one that is not
		// (a forged or recycled pid) or it has just exited. Nothing is signalled; its
		// cgroup is emptied with the dir below, once no monitor writes in it.
		if err := Kill(c, unix.SIGKILL); err == nil {
			if _, err := Wait(ctx, c); err != nil {
				return err
			}
		} else if !errors.Is(err, ErrNotRunning) {
			return err
		}
	}
	unlock, gone, err := lockUnlessGone(c)
	if gone {
		return errRemovedMeanwhile
	} else if err != nil {
		return err
	}
	defer unlock()
	// Read again under the lock: a start may have run it since, and its monitor would
	// write state.json into the dir being removed (and a plain rm must not kill it).
	if gone, err := reloadToRemove(c); gone {
		return errRemovedMeanwhile
	} else if err != nil {
		return err
	}
	if !force && restartAlive(c) {
		// Stopped by a restart that starts it next: a container prune removed it there,
		// and the restart failed with "no such container (removed)".
		return fmt.Errorf("cannot remove container %q: %w", c.Config.Name, errRestartingRemove)
	}
	if !anyway && (c.State.Status == StatusRunning || c.State.startingOther(c.ID, c.Dir)) {
		return errBusy
	}
	if !force && cgroups.Held(c.CgroupKey()) {
		// Its run or monitor lives where its pid tells nothing (another pid or time namespace
		// sharing the store), so its state read as exited: it runs or starts there.
		return fmt.Errorf("cannot remove container %q: %w: stop the container before removing or force remove", c.Config.Name, ErrRunning)
	}
	err = removeDir(c)
	if anyway && force && c.State.MonitorPid > 0 {
		killDetachedMonitor(c.State, c.ID)
	}
	return err
}

// reloadToRemove rereads c's state for Remove: gone when its dir no longer exists (removed
// meanwhile, e.g. by its own --rm). A dir without state.json (an rm killed half-way, a crash
// while creating it) reads as exited: nothing shows that anything of it runs.
func reloadToRemove(c *Container) (gone bool, err error) {
	err = c.Reload()
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	if _, serr := os.Lstat(c.Dir); errors.Is(serr, os.ErrNotExist) {
		return true, nil
	}
	c.State = State{Status: StatusExited, ExitCode: ExitUnknown, Error: err.Error()}
	return false, nil
}

// removeNotDir removes a container entry that is no directory (Container.notDir): the entry
// itself, never what a symlink points at, and the cgroup and names of its ID.
func (s *Store) removeNotDir(c *Container) error {
	fi, err := os.Lstat(c.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing container %s: %w", shortID(c.ID), err)
	}
	if fi.IsDir() {
		return fmt.Errorf("removing container %s: its entry changed meanwhile: try again", shortID(c.ID))
	}
	var errs []error
	if err := removeCgroup(c.CgroupKey()); err != nil {
		errs = append(errs, err)
	}
	if err := os.Remove(c.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	} else {
		s.releaseNamesOf(c.ID)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing container %s: %w", shortID(c.ID), err)
	}
	return nil
}

// SweepCgroups deletes the cgroups that strata processes killed before they could remove
// them left under strata's parent (cgroups.Sweep): empty, held by no process and older than
// cgroups.StaleAge. Most belong to no container dir (the cgroup is made first), in this store
// or another.
func SweepCgroups() error {
	_, err := cgroups.Sweep(cgroups.StaleAge)
	return err
}

// An orphan is a --rm container that nothing will remove any more: the strata that created it
// to run it in the foreground (CreateToRun), or its last monitor, was killed before it removed
// it, e.g. between the container's creation and its start, which leaves it created. Docker
// never lets a --rm container linger, so the next strata that lists containers removes it.
// That its recorded monitor is gone is told by its pid and start time together (processAlive),
// so a pid used again by another process does not keep it; a container another strata is
// still creating (no monitor recorded until its state is written), starting (under its lock)
// or running (its monitor alive) is never one. One Restart marked is left to it. Nor is one
// whose cgroup is in use (cgroups.InUse): a run or monitor holds its container's cgroup for
// its whole life, which tells it alive where its pid does not (a strata in another pid or
// time namespace sharing the store sees no such pid, or another start time).

// orphaned reports whether c, as read, is an orphan.
func orphaned(c *Container) bool {
	return c.Broken == nil && !c.notDir && c.Config.AutoRemove && c.State.MonitorPid != 0 &&
		!processAlive(c.State.MonitorPid, c.State.MonitorStart) && !restarting(c) &&
		!cgroups.InUse(c.CgroupKey())
}

// removeOrphan removes c if, read again under its lock, it is an orphan. A container whose
// lock another strata holds (starting or removing it) is left to that one.
func (s *Store) removeOrphan(c *Container) (removed bool, err error) {
	l, ok, err := lockfile.TryLock(filepath.Join(c.Dir, lockFile), 0o600, true)
	if err != nil || !ok {
		return false, nil
	}
	defer l.Unlock()
	now, err := s.load(c.ID)
	if err != nil || !orphaned(now) {
		return false, nil
	}
	if err := removeDir(now); err != nil {
		return false, err
	}
	return true, nil
}

// RemoveOrphans removes the orphans (see above) among list, which List returned, and returns
// the others. Best effort: a container that cannot be removed stays in the result, and the
// errors are joined in err. It costs nothing more than List did for a store without --rm
// containers whose monitor is gone. A container whose create was killed before its
// state.json (abandonedRm: a --rm one, or one without config.json either) goes too, as
// removeAbandoned judges it under the store lock: a run --rm killed there stayed listed as
// "Exited (255)" or "Dead" until an rm, a prune or a create of its name, where docker never
// shows a --rm container that ended, nor one whose create did not complete.
func (s *Store) RemoveOrphans(list []*Container) (kept []*Container, err error) {
	var errs []error
	removed := map[string]bool{}
	var abandoned []string
	for _, c := range list {
		switch {
		case orphaned(c):
			r, rerr := s.removeOrphan(c)
			if rerr != nil {
				errs = append(errs, rerr)
			}
			removed[c.ID] = r
		case abandonedRm(c):
			abandoned = append(abandoned, c.ID)
		}
	}
	if len(abandoned) > 0 {
		// Not waited for: a create holds it only to reserve a name; the next listing looks
		// again.
		if l, ok, lerr := lockfile.TryLock(filepath.Join(s.dir, ".lock"), 0o600, true); lerr == nil && ok {
			for _, id := range abandoned {
				r, rerr := s.removeAbandoned(id)
				if rerr != nil {
					errs = append(errs, rerr)
				}
				removed[id] = r
			}
			_ = l.Unlock()
		}
	}
	for _, c := range list {
		if !removed[c.ID] {
			kept = append(kept, c)
		}
	}
	return kept, errors.Join(errs...)
}

// abandonedRm reports whether c, as read, looks like a container whose create was killed
// before it wrote its state.json, its creating mark still there: a --rm one (no monitor
// recorded), or one whose config.json was not written either (listed as Dead; whatever it
// was to be, no one was given its ID). removeAbandoned decides, under the locks.
func abandonedRm(c *Container) bool {
	if c.notDir || c.State.MonitorPid != 0 {
		return false
	}
	var st unix.Stat_t
	if c.Broken != nil {
		if unix.Lstat(filepath.Join(c.Dir, configFile), &st) != unix.ENOENT {
			return false
		}
	} else if !c.Config.AutoRemove {
		return false
	}
	return unix.Lstat(filepath.Join(c.Dir, stateFile), &st) == unix.ENOENT &&
		unix.Lstat(filepath.Join(c.Dir, creatingFile), &st) == nil
}

// SweepOrphans removes the store's orphan containers and the stale cgroups of any store
// (SweepCgroups), for commands that do not list containers themselves. Only --rm containers
// are read (the waiters file their creation makes marks them), and of them only the monitor's
// pid and start time until one is found whose monitor is gone: a directory listing and a stat
// per container, and for a running --rm one a read of its state and of its monitor's stat.
func (s *Store) SweepOrphans() error {
	err := s.sweepOrphans(false)
	if cerr := SweepCgroups(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return err
}

// SweepLeftovers is SweepOrphans that also removes the dirs of creates killed while they
// prepared their container (removeAbandoned), for rm and prune: it looks for a creating mark
// in every container without a waiters file, which a run's sweep, on every run's exit, does
// not pay for (the next create of such a dir's name removes it too, removedOrphanNamed).
func (s *Store) SweepLeftovers() error {
	err := s.sweepOrphans(true)
	if cerr := SweepCgroups(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return err
}

// sweepOrphans is SweepOrphans (SweepLeftovers with abandoned) without SweepCgroups. A --rm
// container costs a stat, a read of its state and, if its monitor is in this pid namespace,
// one of the monitor's /proc/<pid>/stat, in eight syscalls: the rest (loading it whole, its
// cgroup) is for one whose monitor looks gone. With abandoned, any container without a
// waiters file or a state.json costs a stat more, of its creating mark.
func (s *Store) sweepOrphans(abandoned bool) error {
	var errs []error
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		errs = append(errs, fmt.Errorf("listing containers: %w", err))
	}
	var fst unix.Stat_t
	buf := make([]byte, stateReadSize)
	// Dirs with a creating mark and no state.json: being created, or abandoned by a create
	// killed while it prepared them (removeAbandoned), judged below under the store lock.
	var marked []string
	hasMark := func(dir string) bool {
		return abandoned && unix.Lstat(filepath.Join(dir, creatingFile), &fst) == nil
	}
	var creating []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), removingPrefix) {
			if err := s.sweepRemoving(e.Name()); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if strings.HasPrefix(e.Name(), creatingPrefix) {
			creating = append(creating, e.Name())
			continue
		}
		if !e.IsDir() || len(e.Name()) != 64 || !isHexID(e.Name()) {
			continue
		}
		dir := filepath.Join(s.dir, e.Name())
		if unix.Lstat(filepath.Join(dir, waitersFile), &fst) != nil {
			if hasMark(dir) {
				marked = append(marked, e.Name())
			}
			continue
		}
		m, err := readMonitor(filepath.Join(dir, stateFile), buf)
		if errors.Is(err, fs.ErrNotExist) && hasMark(dir) {
			marked = append(marked, e.Name())
		}
		if err != nil || m.MonitorPid == 0 || processAlive(m.MonitorPid, m.MonitorStart) {
			continue
		}
		c, err := s.load(e.Name())
		if err != nil || !orphaned(c) {
			continue
		}
		if _, err := s.removeOrphan(c); err != nil {
			errs = append(errs, err)
		}
	}
	if len(marked) > 0 || len(creating) > 0 {
		// Not waited for: a create holds it only to reserve a name; the next sweep looks again.
		if l, ok, err := lockfile.TryLock(filepath.Join(s.dir, ".lock"), 0o600, true); err == nil && ok {
			for _, id := range marked {
				if _, err := s.removeAbandoned(id); err != nil {
					errs = append(errs, err)
				}
			}
			if err := s.sweepCreating(creating); err != nil {
				errs = append(errs, err)
			}
			_ = l.Unlock()
		}
	}
	return errors.Join(errs...)
}

// monitorOf is the part of state.json SweepOrphans reads of every --rm container.
type monitorOf struct {
	MonitorPid   int    `json:"monitorPid,omitempty"`
	MonitorStart uint64 `json:"monitorStart,omitempty"`
}

// stateReadSize is the buffer readMonitor reads a state.json into: strata writes them at a
// few hundred bytes, more only with a long Error.
const stateReadSize = 4096

// readMonitor reads the monitor a state.json names, as readJSON would but in four syscalls
// (open, fstat, read, close) rather than a dozen, into buf (stateReadSize bytes, reused):
// SweepOrphans reads it for every --rm container of the store as each run exits. It refuses
// what readJSON refuses (a symlink, a file that is not regular); a state.json that fills buf
// is read by readJSON.
func readMonitor(name string, buf []byte) (monitorOf, error) {
	var m monitorOf
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return m, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return m, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return m, &fs.PathError{Op: "open", Path: name, Err: errors.New("not a regular file")}
	}
	n, err := unix.Read(fd, buf)
	if err != nil {
		return m, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	if n == len(buf) {
		err = readJSON(name, &m)
		return m, err
	}
	if err := json.Unmarshal(buf[:n], &m); err != nil {
		return m, fmt.Errorf("decoding %s: %w", name, err)
	}
	return m, nil
}

// removeCgroup kills what runs in the cgroup of a container (key: Container.CgroupKey) and
// deletes it, if it exists. The cgroup is strata's by its name, a fresh random ID.
func removeCgroup(key string) error {
	cg, err := cgroups.Load(key)
	if errors.Is(err, cgroups.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return errors.Join(cg.Kill(), cg.Delete())
}

// lockedRemoveDir is removeDir under the container's lock. A dir that is gone already (a
// --rm container's monitor removed it) is no error.
func lockedRemoveDir(c *Container) error {
	unlock, gone, err := lockUnlessGone(c)
	if gone || err != nil {
		return err
	}
	defer unlock()
	return removeDir(c)
}

// lockUnlessGone takes c's lock, or reports gone when its dir no longer exists (removed
// meanwhile, by another rm or its own --rm).
func lockUnlessGone(c *Container) (unlock func() error, gone bool, err error) {
	unlock, err = c.Lock()
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(c.Dir); errors.Is(serr, os.ErrNotExist) {
			return nil, true, nil
		}
	}
	return unlock, false, err
}

// runWatch holds pidfds of a running container's monitor and of its PID 1.
type runWatch struct {
	monitor, init int
}

// watchRun opens pidfds of c's monitor and PID 1, or returns nil when either cannot be told
// apart from a process that took a recycled pid: the monitor must have the recorded start
// time, PID 1 must be its child, both checked after the pidfd was opened.
func watchRun(c *Container) *runWatch {
	w := &runWatch{monitor: -1, init: -1}
	var err error
	if w.monitor, err = unix.PidfdOpen(c.State.MonitorPid, 0); err != nil {
		return nil
	}
	if !processAlive(c.State.MonitorPid, c.State.MonitorStart) || c.State.Pid <= 0 {
		w.close()
		return nil
	}
	if w.init, err = unix.PidfdOpen(c.State.Pid, 0); err != nil {
		w.close()
		return nil
	}
	if ppid, _, err := processStat(c.State.Pid); err != nil || ppid != c.State.MonitorPid {
		w.close()
		return nil
	}
	// A state.json written by hand can name a live process and one of its children with their
	// true start time. The container's PID 1 is in its cgroup, named by its random ID, from
	// before it runs the command (born there, or joined before its exec) until it exits.
	if !inCgroupOf(c.State.Pid, c.ID) {
		w.close()
		return nil
	}
	return w
}

func (w *runWatch) close() {
	for _, fd := range []int{w.monitor, w.init} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// killAndRemove is `rm -f` of a running container. Once its PID 1 is gone (and with it every
// process of its pid namespace and its mounts: the kernel tears those down before the exit
// is visible) the container is removed while its monitor winds down; the monitor is waited
// for last, so no process of the container outlives the rm.
func (s *Store) killAndRemove(ctx context.Context, c *Container, w *runWatch) error {
	if err := unix.PidfdSendSignal(w.init, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signalling container %s: %w", shortID(c.ID), err)
	}
	// A paused container is thawed, as Kill thaws it: its PID 1 ends only once every other
	// process of its pid namespace is reaped, and a frozen exec's would never be.
	resumeSignalled(c, nil, unix.SIGKILL)
	if err := waitPidfd(ctx, w.init); err != nil {
		return fmt.Errorf("waiting for container %s: %w", shortID(c.ID), err)
	}
	// Its monitor waits no longer for a stalled run -it or start -a to take the last
	// output: it records the exit (137) for them and the waiters, who read it before the
	// removal below takes the dir.
	releaseAttach(c.Dir)
	err := lockedRemoveDir(c)
	// The monitor records the exit, then ends; one that is stopped or stuck is waited for no
	// longer than maxWaiterHold. A detached monitor is then killed: the container's processes
	// are gone, nothing of it is left to record, and rm leaves no process of the container
	// behind. A foreground run (the CLI is its own container's monitor) is left alone: it may
	// be a user's suspended job that restores its terminal when it resumes.
	mctx, cancel := context.WithTimeout(ctx, maxWaiterHold)
	werr := waitPidfd(mctx, w.monitor)
	cancel()
	if werr != nil && ctx.Err() != nil {
		return errors.Join(err, fmt.Errorf("waiting for container %s: %w", shortID(c.ID), werr))
	}
	if werr != nil && isDetachedMonitor(c.State.MonitorPid, c.ID) {
		// The pidfd is the monitor watchRun checked, never a process that took its pid since.
		_ = unix.PidfdSendSignal(w.monitor, unix.SIGKILL, nil, 0)
	}
	if err != nil {
		// The monitor may have written its last state in the dir meanwhile; it is gone now.
		err = lockedRemoveDir(c)
	}
	return err
}

// isDetachedMonitor reports whether process pid was exec'd as container id's detached monitor
// (its argv[0] is monitorMarker, its arguments name the container), not a foreground strata
// run watching its own container.
func isDetachedMonitor(pid int, id string) bool {
	b, err := readSmallFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"), 1<<20)
	if err != nil {
		return false
	}
	argv0, args, _ := bytes.Cut(b, []byte{0})
	return string(argv0) == monitorMarker && bytes.Contains(args, []byte(id))
}

// killDetachedMonitor ends the detached monitor st names, if it is still that process (its
// start time, checked after its pidfd is open) and container id's: rm -f removed the
// container without it, as it was stopped or stuck and recorded nothing.
func killDetachedMonitor(st State, id string) {
	fd, err := unix.PidfdOpen(st.MonitorPid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if processAlive(st.MonitorPid, st.MonitorStart) && isDetachedMonitor(st.MonitorPid, id) {
		_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	}
}

// inCgroupOf reports whether process pid is in the cgroup of container id (in any hierarchy:
// on cgroup v1 each controller's line names it), as /proc/<pid>/cgroup shows.
func inCgroupOf(pid int, id string) bool {
	b, err := readSmallFile(filepath.Join("/proc", strconv.Itoa(pid), "cgroup"), 1<<20)
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && slices.Contains(strings.Split(parts[2], "/"), id) {
			return true
		}
	}
	return false
}

// waitPidfd returns once the process of pidfd fd has exited, or with ctx's error.
func waitPidfd(ctx context.Context, fd int) error {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(pollInterval/time.Millisecond))
		if n > 0 {
			return nil
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// mayHoldMounts says whether anything could be mounted at or under the container's rootfs on
// the host. The init mounts the root in its own mount namespace, so the host's rootfs dir is
// normally an empty directory that is no mountpoint: then there is nothing to unmount and the
// mount table need not be read.
func mayHoldMounts(rootfs string) bool {
	// A rootfs that is no directory (a symlink to / from a hand edit) holds no mount of the
	// container's, and unmounting "under" it would unmount what it points at: the host's.
	if fi, err := os.Lstat(rootfs); err != nil || !fi.IsDir() {
		return false
	}
	if mounted, err := mountinfo.Mounted(rootfs); err != nil || mounted {
		return true
	}
	f, err := os.Open(rootfs)
	if err != nil {
		return true
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	return len(names) > 0 || (err != nil && !errors.Is(err, io.EOF))
}

// removeDir removes what a container may have left behind and then its dir.
func removeDir(c *Container) error {
	// A waiter reads the exit the monitor records (rm -f removes the dir once PID 1 is dead,
	// maybe before that record) before the dir goes.
	defer waitDirWaiters(c.Dir)()
	shared := sharedAnonymousVolumes(c)
	var errs []error
	rootfs := filepath.Join(c.Dir, "rootfs")
	if mayHoldMounts(rootfs) {
		if err := mount.UnmountAll(rootfs); err != nil {
			errs = append(errs, err)
		}
	}
	if err := removeCgroup(c.CgroupKey()); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		store := &Store{dir: filepath.Dir(c.Dir)}
		// Renamed out of the store's sight first, in one step: a removal killed while it
		// emptied the dir in place left a container without config.json, listed as Dead
		// and holding its name, for ever for a --rm one (no sweep removes a container it
		// cannot read), so a run --rm --name killed while its container was being removed
		// could not be run again. The renamed dir is no container any more; what a kill
		// leaves of it the next sweep removes (sweepRemoving). A start, stop or wait that
		// then finds its dir gone reads the container as removed.
		dir := filepath.Join(store.dir, removingPrefix+c.ID)
		// Its time is the rename's, which a sweep waits removingGrace past.
		now := time.Now()
		_ = os.Chtimes(c.Dir, now, now)
		if err := os.Rename(c.Dir, dir); err == nil {
			// The container is gone: its name is free whatever becomes of its files. Freed
			// while they are removed: the unlink of its link, a block of its own (a target
			// of 64 bytes is no inline symlink), waits for a discard (see removeRenamed).
			var named sync.WaitGroup
			named.Go(func() {
				if c.Broken != nil {
					store.releaseNamesOf(c.ID)
				} else {
					store.releaseName(c.Config.Name, c.ID)
				}
			})
			if err := removeRenamed(dir); err != nil {
				errs = append(errs, err)
			}
			named.Wait()
		} else {
			// In place, as before: config.json first, so that a start, stop or wait
			// that then finds state.json missing reads it as removed (beingRemoved).
			// One walk: on 2 CPUs removing the dir's subtrees from goroutines of their
			// own was slower (each blocked one costs a thread to make and to end at exit).
			_ = os.Remove(filepath.Join(c.Dir, configFile))
			if err := removeAllRetry(c.Dir); err != nil {
				errs = append(errs, err)
			} else if c.Broken != nil {
				store.releaseNamesOf(c.ID)
			} else {
				store.releaseName(c.Config.Name, c.ID)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing container %s: %w", shortID(c.ID), err)
	}
	Event(c, "destroy", nil)
	releaseAnonymousVolumes(c, shared)
	return nil
}

// removingPrefix names a container dir that removeDir renamed away to empty it: ".removing-"
// and the container's ID. It is no container (List reads only IDs); one that is left (its
// removal killed, or failing) is removed by sweepRemoving.
const removingPrefix = ".removing-"

// renameNoReplace renames dir old to new, failing if new exists (renameat2's
// RENAME_NOREPLACE, or a check before the rename where the filesystem has no such flag: the
// caller holds the store lock, which every maker of a container dir holds).
func renameNoReplace(old, new string) error {
	err := unix.Renameat2(unix.AT_FDCWD, old, unix.AT_FDCWD, new, unix.RENAME_NOREPLACE)
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
		if err != nil {
			return &os.LinkError{Op: "rename", Old: old, New: new, Err: err}
		}
		return nil
	}
	if _, err := os.Lstat(new); err == nil {
		return &os.LinkError{Op: "rename", Old: old, New: new, Err: os.ErrExist}
	}
	return os.Rename(old, new)
}

// removingGrace is how long after its rename a sweep leaves a removed container's dir alone
// even though no process holds its lock: its remover takes the lock just after the rename
// when its caller does not hold it already.
const removingGrace = 5 * time.Second

// removeRenamed empties and removes dir, a container dir removeDir renamed away, holding its
// lock (taken here unless the caller holds it) until all but the lock file is gone, so that
// a sweep tells a removal at work from one killed half-way (sweepRemoving).
func removeRenamed(dir string) error {
	if l, ok, err := lockfile.TryLock(filepath.Join(dir, lockFile), 0o600, true); err == nil && ok {
		defer func() { _ = l.Unlock() }()
	}
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	// Each subdirectory (rootfs, upper, work) is emptied and removed from a goroutine of its
	// own, the files here meanwhile. On ext4 mounted with discard and without a journal,
	// freeing a block (each directory's, a synced file's) waits in the unlink for the
	// device to complete a discard of it, ~0.1 ms, and a --rm container's dir holds eight
	// directories: those discards are most of the time a run --rm spends removing its
	// container. An idle virtio disk completes them about one at a time whoever issues
	// them (8 rmdirs from 1 to 8 goroutines: 0.9-1.0 ms alike); a busy one takes several
	// at once, and one after the other they cost a run --rm 0.3-0.6 ms more (see the commit).
	var mu sync.Mutex
	var errs []error
	var subtrees sync.WaitGroup
	for _, e := range ents {
		if e.Name() == lockFile {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if e.IsDir() {
			subtrees.Go(func() {
				if err := removeAllRetry(path); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
			continue
		}
		if err := removeAllRetry(path); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	subtrees.Wait()
	if len(errs) == 0 {
		errs = append(errs, removeAllRetry(dir))
	}
	return errors.Join(errs...)
}

// sweepRemoving removes the container dir removeDir renamed to name, in the store dir, and
// left: its remover was killed, or failed. One whose lock a process holds is its remover's,
// still at work, and so is one renamed less than removingGrace ago.
func (s *Store) sweepRemoving(name string) error {
	dir := filepath.Join(s.dir, name)
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || time.Since(fi.ModTime()) < removingGrace {
		return nil
	}
	l, ok, err := lockfile.TryLockExisting(filepath.Join(dir, lockFile), true)
	if err == nil && !ok {
		return nil
	}
	if l != nil {
		defer func() { _ = l.Unlock() }()
	}
	if err := removeAllRetry(dir); err != nil {
		return fmt.Errorf("removing what is left of a removed container: %w", err)
	}
	return nil
}

// removeAllRetry is os.RemoveAll of a container dir, again when a file appeared in it while it
// was emptied: a strata locking the container meanwhile (a start racing an rm) makes its
// lock file anew, then finds no container and goes away.
//
// It never deletes through a mount: none of strata's is in a container dir on the host (the
// init mounts in its own namespace; rootfs is unmounted before), but one put there (a host
// dir bound on a volume's dir by hand, by a tool that crashed) had rm delete that host dir's
// files, then fail on its mount point. The walk stops at a mount point; every mount under dir
// is then detached, and the removal goes on. The mount table is read only then.
func removeAllRetry(dir string) error {
	unmounted := false
	for i := 0; ; i++ {
		err := removeTree(dir)
		if errors.Is(err, unix.EXDEV) && !unmounted {
			unmounted = true
			if uerr := mount.UnmountAll(dir); uerr != nil {
				return errors.Join(err, uerr)
			}
			continue
		}
		if err == nil || !errors.Is(err, unix.ENOTEMPTY) || i == 10 {
			return err
		}
		time.Sleep(time.Millisecond)
	}
}

// removeTree removes the file or tree at path, never through a symlink nor into another
// mount (rmtree.RemoveAtSameMount); one that is gone is no error.
func removeTree(path string) error {
	parent, err := unix.Open(filepath.Dir(path), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: filepath.Dir(path), Err: err}
	}
	defer unix.Close(parent)
	if err := rmtree.RemoveAtSameMount(parent, filepath.Base(path)); err != nil {
		return &os.PathError{Op: "remove", Path: path, Err: err}
	}
	return nil
}

// RunningPid is the host PID of the container's running PID 1, or 0: only a process that is
// the recorded monitor's child and in the container's cgroup, so that what reads or joins it
// (top, inspect's process card) never takes another process a state.json names for it.
func (c *Container) RunningPid() int {
	if c.Broken != nil || !c.State.Running() || c.State.Pid <= 0 || !inCgroupOf(c.State.Pid, c.ID) {
		return 0
	}
	return c.State.Pid
}

package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/strata-run/strata/runner/cgroups"
)

// Update changes container c's cgroup limits as docker update does: the limits ch sets
// replace the recorded ones (cgroups.Merge). A running container's cgroup gets them at once; a
// stopped one's next start does. restart, if not nil, replaces its restart policy, which its
// monitor reads when the container exits. config.json is rewritten atomically, under the
// container's lock and after the cgroup took the limits, so inspect and start see what applies.
func Update(c *Container, ch cgroups.Change, restart *RestartPolicy) error {
	unlock, err := c.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	var cfg Config
	if err := readJSON(filepath.Join(c.Dir, configFile), &cfg); err != nil {
		if errors.Is(err, os.ErrNotExist) && isGone(c.Dir) {
			return &removedError{id: c.ID, err: err}
		}
		return fmt.Errorf("reading container %s config: %w", shortID(c.ID), err)
	}
	if restart != nil && restart.Restarts() && cfg.AutoRemove {
		// docker's words.
		return errors.New("restart policy cannot be updated because AutoRemove is enabled for the container")
	}
	res, err := cgroups.Merge(cfg.Spec.Resources, ch)
	if err != nil {
		return err
	}
	if err := cgroups.CheckSupported(res); err != nil {
		return err
	}
	// What a create refuses, an update must not record: the next start of a --init container
	// failed on the limit it took ("--init needs --pids-limit of at least 12").
	spec := cfg.Spec
	spec.Resources = res
	if err := validateInitPids(spec); err != nil {
		return err
	}
	if ch.CpusetCpus != "" {
		if err := cgroups.CheckCpusOnline(ch.CpusetCpus); err != nil {
			return err
		}
	}
	if ch.CpusetMems != "" {
		if err := cgroups.CheckMemsOnline(ch.CpusetMems); err != nil {
			return err
		}
	}
	if err := c.Reload(); err != nil {
		return err
	}
	if !c.State.Running() && !ch.Empty() && lostWhileHeld(c) {
		// Its state lost while its run or monitor lives: the limits were recorded for a
		// next start and the processes running ran on without them, the update said done.
		return heldWhileDown(c)
	}
	if c.State.Running() && !ch.Empty() {
		cg, err := cgroups.Load(c.CgroupKey())
		switch {
		case errors.Is(err, cgroups.ErrNotFound):
			// It ended meanwhile: recorded for its next start.
		case err != nil:
			return err
		default:
			err = cg.Update(res)
			_ = cg.Release()
			if err != nil {
				return err
			}
		}
	}
	cfg.Spec.Resources = res
	if restart != nil {
		cfg.RestartPolicy = *restart
	}
	c.Config = cfg
	return c.SaveConfig()
}

// CgroupKey is how the cgroups package names c's cgroup (cgroups.Key): its ID, under its
// --cgroup-parent if it has one.
func (c *Container) CgroupKey() string { return c.Config.Spec.Resources.Key(c.ID) }

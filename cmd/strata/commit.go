package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/spf13/cobra"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/platforms"
	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/runner/fstar"
)

type commitOptions struct {
	author  string
	message string
	changes []string
	pause   bool
}

// newCommitCmd is docker commit: a container's writable layer becomes a new image's top
// layer, over its image's, with the container's config.
func newCommitCmd(g *globals) *cobra.Command {
	var o commitOptions
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			return runCommit(cmd.Context(), g, o, args[0], name, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.StringVarP(&o.author, "author", "a", "", `author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	f.StringVarP(&o.message, "message", "m", "", "commit message")
	stringArrayVar(f, &o.changes, "change", "c", nil, "apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)")
	f.BoolVarP(&o.pause, "pause", "p", true, "pause the container while its changes are read")
	return cmd
}

func runCommit(ctx context.Context, g *globals, o commitOptions, arg, name string, out io.Writer) (err error) {
	ref, err := newImageRef(name)
	if err != nil {
		return err
	}
	// A bad change is refused before anything is read or written.
	if err := applyChanges(&v1.Config{}, o.changes); err != nil {
		return err
	}
	_, c, err := g.getContainer(arg)
	if err != nil {
		return err
	}
	if c.Broken != nil {
		return fmt.Errorf("%s: %w", arg, c.Broken)
	}
	store, err := g.openStore()
	if err != nil {
		return err
	}
	snap, err := g.openSnapshotter()
	if err != nil {
		return err
	}
	base, baseCfg, err := containerImage(store, c)
	if err != nil {
		return fmt.Errorf("%s: %w", arg, err)
	}
	cfg := baseCfg.DeepCopy()
	cfg.Config = commitConfig(c)
	// docker's: the changes apply over the container's config, then what they left zero of
	// a HEALTHCHECK comes from the container's (the daemon's merge).
	inspect := runner.Inspect(c)
	health := inspect.Config.Healthcheck
	changed, err := applyChangesHealth(&cfg.Config, o.changes)
	if err != nil {
		return err
	}
	if changed != nil {
		// What the HEALTHCHECK leaves zero is the container's, as a run's flags over an image's.
		health = runner.MergeHealthConfig(changed, health)
		cfg.Config.Healthcheck = &v1.HealthConfig{Test: health.Test, Interval: health.Interval, Timeout: health.Timeout, StartPeriod: health.StartPeriod, Retries: health.Retries}
	}
	now := time.Now().UTC()
	cfg.Created = v1.Time{Time: now}
	cfg.Author = o.author
	cfg.Container = c.ID
	cfg.DockerVersion = ""

	mt := types.OCILayer
	if m, err := base.MediaType(); err == nil && m == types.DockerManifestSchema2 {
		mt = types.DockerLayer
	}
	unpause, err := pauseForCommit(c, o.pause)
	if err != nil {
		return fmt.Errorf("%s: %w", arg, err)
	}
	lf, err := writeLayerFile(store, mt, func(w io.Writer) error { return fstar.WriteChanges(ctx, c, w) })
	if uerr := unpause(); uerr != nil {
		err = errors.Join(err, uerr)
	}
	if err != nil {
		if lf != nil {
			lf.remove()
		}
		return fmt.Errorf("%s: %w", arg, err)
	}
	defer lf.remove()

	// docker's: the container's command, its entrypoint left out.
	hist := v1.History{
		Created: v1.Time{Time: now}, Author: o.author, Comment: o.message,
		CreatedBy: strings.Join(inspect.Config.Cmd, " "),
	}
	var img v1.Image
	if lf.empty {
		hist.EmptyLayer = true
		cfg.History = append(cfg.History, hist)
		if img, err = mutate.ConfigFile(base, cfg); err != nil {
			return err
		}
	} else {
		if err := lf.unpack(ctx, snap); err != nil {
			return fmt.Errorf("%s: %w", arg, err)
		}
		if img, err = mutate.ConfigFile(base, cfg); err != nil {
			return err
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: fileLayer{lf}, History: hist, MediaType: mt}); err != nil {
			return err
		}
	}
	// The healthcheck whole, with the StartInterval cfg's has no field for.
	if img, err = withHealthcheck(img, health); err != nil {
		return err
	}
	id, err := storeNewImage(ctx, store, snap, ref, img)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, id.String())
	// docker's daemon logs the new name's tag, then the container's commit event.
	imageRef := tagEvent(g, id, ref)
	runner.Event(c, "commit", map[string]string{"comment": o.message, "imageID": id.String(), "imageRef": imageRef})
	return nil
}

// pauseForCommit freezes c while its writable layer is read, when it runs and is not paused
// already (docker commit --pause): a file half written is not committed. It returns what
// thaws it again. A container another command thawed meanwhile (an unpause, an rm -f or kill,
// which thaw it to end it) is not an error of the commit, whose read of the layer is whole:
// docker's commit ignores its unpause's error. The commit of a container an rm -f removed
// meanwhile fails still, as no such container (its reload's error).
func pauseForCommit(c *runner.Container, pause bool) (func() error, error) {
	none := func() error { return nil }
	if !pause || c.State.Status != runner.StatusRunning || runner.Paused(c) {
		return none, nil
	}
	if err := runner.Pause(c); err != nil {
		if errors.Is(err, runner.ErrNotRunning) || errors.Is(err, runner.ErrAlreadyPaused) {
			return none, nil // it ended (or another pause came) meanwhile
		}
		return nil, err
	}
	return func() error {
		if err := runner.Unpause(c); err != nil && !errors.Is(err, runner.ErrNotRunning) && !errors.Is(err, runner.ErrNotPaused) {
			return err
		}
		return nil
	}, nil
}

// containerImage is the image c was created from, found by the ID it recorded (named or
// dangling: the collection keeps it while the container exists), and its config.
func containerImage(store *cache.Store, c *runner.Container) (v1.Image, *v1.ConfigFile, error) {
	id, err := v1.NewHash(c.Config.ImageID)
	if err != nil {
		return nil, nil, fmt.Errorf("the container records no image ID: it was made by an older strata")
	}
	r, err := store.FindImageWith(id.String(), []v1.Hash{id})
	if err != nil {
		return nil, nil, fmt.Errorf("its image %s: %w", id.Hex[:12], err)
	}
	desc, err := store.ImageFor(r, platforms.Host())
	if err != nil {
		return nil, nil, fmt.Errorf("its image %s: %w", id.Hex[:12], err)
	}
	img, err := store.Image(desc.Digest)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, nil, fmt.Errorf("its image %s: reading its config: %w", id.Hex[:12], err)
	}
	return img, cfg, nil
}

// commitConfig is the image config docker commit writes: the container's (the image's with
// what run changed), as inspect shows it.
func commitConfig(c *runner.Container) v1.Config {
	ic := runner.Inspect(c).Config
	cfg := v1.Config{
		User: ic.User, Env: ic.Env, Entrypoint: ic.Entrypoint, Cmd: ic.Cmd, WorkingDir: ic.WorkingDir,
		Labels: ic.Labels, ExposedPorts: ic.ExposedPorts, Volumes: ic.Volumes, StopSignal: ic.StopSignal,
		ArgsEscaped: ic.ArgsEscaped,
	}
	if len(cfg.Labels) == 0 {
		cfg.Labels = nil
	}
	if h := ic.Healthcheck; h != nil {
		cfg.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	return cfg
}

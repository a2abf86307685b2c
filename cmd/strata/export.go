package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/runner/fstar"
)

// newExportCmd is docker export: a container's whole filesystem as a plain tar.
func newExportCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Write a container's filesystem as a tar archive (running or stopped; volumes left out)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, c, err := g.getContainer(args[0])
			if err != nil {
				return err
			}
			if c.Broken != nil {
				return fmt.Errorf("%s: %w", args[0], c.Broken)
			}
			lowers, err := imageLayerDirs(g, c)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			// docker's daemon logs an export event once the archive is written.
			write := func(w io.Writer) error {
				if err := fstar.Export(ctx, c, lowers, w); err != nil {
					return err
				}
				runner.Event(c, "export", nil)
				return nil
			}
			if output == "" || output == "-" {
				out := cmd.OutOrStdout()
				if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
				return write(out)
			}
			if err := refuseOwnFiles(g, output); err != nil {
				return err
			}
			return writeFileAtomic(output, write)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file, instead of STDOUT")
	return cmd
}

// imageLayerDirs are the layer dirs of c's image, top first, each once (its topmost place),
// as the snapshotter stacks them: found from the image the container recorded, not from the
// container's record of its mount. A container on the vfs driver needs none.
func imageLayerDirs(g *globals, c *runner.Container) ([]string, error) {
	for _, m := range c.Config.Spec.Root {
		if m.Type == "bind" {
			return nil, nil
		}
	}
	store, err := g.openStore()
	if err != nil {
		return nil, err
	}
	snap, err := g.openSnapshotter()
	if err != nil {
		return nil, err
	}
	_, cfg, err := containerImage(store, c)
	if err != nil {
		return nil, err
	}
	ids := cfg.RootFS.DiffIDs
	seen := map[string]bool{}
	var dirs []string
	for i := len(ids) - 1; i >= 0; i-- {
		if !snap.Has(ids[i]) {
			return nil, fmt.Errorf("layer %s of its image is not unpacked", ids[i].Hex[:12])
		}
		d := snap.LayerDir(ids[i])
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs, nil
}

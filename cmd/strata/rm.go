package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/runner"
)

func newRmCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove containers (and their writable layer)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.openContainers()
			if err != nil {
				return err
			}
			// Like docker, remove what can be and name each failure: Get's and Remove's
			// errors name the container already.
			var errs []error
			for _, a := range args {
				c, err := findContainer(store, a)
				if err == nil {
					err = store.Remove(cmd.Context(), c, force)
				}
				if err != nil && force && errors.Is(err, runner.ErrNotFound) && strings.TrimSpace(a) != "" {
					// docker rm -f prints a missing container's error and still exits 0:
					// -f asks for it to be gone, and it is. A blank name is no container's
					// (docker's client refuses it as invalid, with exit 1).
					fmt.Fprintln(cmd.ErrOrStderr(), "strata: "+oneLine(err.Error()))
					continue
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), a)
			}
			// The --rm containers and the cgroups of killed runs (the cgroup is made before the
			// container dir, so no rm can name it). Best effort: what it cannot delete is no
			// failure of this rm.
			_ = store.SweepLeftovers()
			return eachError(cmd.ErrOrStderr(), errs)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill a running container first")
	// Scripts written for docker say `rm -fv`. The anonymous volumes of an image's VOLUMEs
	// live in the container dir here, and go with it with or without -v: no volume is left
	// behind that nothing names (docker keeps them without -v). One a --volumes-from shared
	// stays while another container mounts it, as docker's rm -v keeps it.
	cmd.Flags().BoolP("volumes", "v", false, "accepted for docker's scripts: a container's anonymous volumes are always removed with it (but one another container mounts through --volumes-from)")
	return cmd
}

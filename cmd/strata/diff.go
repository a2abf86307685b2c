package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/runner"
)

// newDiffCmd is docker diff: what a container changed in its filesystem, a line each, "A" for
// added, "C" for changed, "D" for deleted, from its writable layer.
func newDiffCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "List the files a container added (A), changed (C) or deleted (D) in its image's filesystem",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.openContainers()
			if err != nil {
				return err
			}
			return onContainer(store, args[0], func(c *runner.Container) error {
				changes, err := runner.Diff(c)
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				for _, ch := range changes {
					fmt.Fprintf(w, "%s %s\n", ch.Kind, psText(ch.Path))
				}
				return nil
			})
		},
	}
}

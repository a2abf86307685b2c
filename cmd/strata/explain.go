package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/proccard"
	"github.com/strata-run/strata/runner"
)

func newExplainCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "explain CONTAINER",
		Short: "Explain what a running container is on this host, with the commands that show it",
		Long: `Walk through a running container as the kernel sees it: its host process and parent, its
namespaces, its cgroup and limits, and the image layers under its root, from live data, each
with the host commands (ls -l /proc/PID/ns, lsns, nsenter, the cgroup files) that show the same.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, c, err := g.getContainer(args[0])
			if err != nil {
				return err
			}
			if !c.State.Running() {
				return fmt.Errorf("container %s: %w", args[0], runner.ErrNotRunning)
			}
			card, err := readCard(g, c)
			if errors.Is(err, proccard.ErrNoProcess) {
				// It exited while we looked.
				return fmt.Errorf("container %s: %w", args[0], runner.ErrNotRunning)
			}
			if err != nil {
				return err
			}
			return proccard.Explain(cmd.OutOrStdout(), c.Name(), card)
		},
	}
}

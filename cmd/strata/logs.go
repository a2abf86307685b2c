package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/runner"
)

func newLogsCmd(g *globals) *cobra.Command {
	var o runner.LogOptions
	var tail string
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Print the output of a detached container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Tail, err = parseTail(tail); err != nil {
				return err
			}
			store, err := g.openContainers()
			if err != nil {
				return err
			}
			c, err := store.Get(args[0])
			if err != nil {
				return err
			}
			return runner.Logs(cmd.Context(), c, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Follow, "follow", "f", false, "keep printing new output")
	f.StringVarP(&tail, "tail", "n", "all", "number of lines to show from the end, or all (0: none, with -f only new lines)")
	f.BoolVarP(&o.Timestamps, "timestamps", "t", false, "show timestamps")
	return cmd
}

// parseTail reads --tail as docker does: "all" prints every line, a number the last that
// many, and 0 none of the past output.
func parseTail(s string) (int, error) {
	if s == "all" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid --tail %q: want a number or all", s)
	}
	if n == 0 {
		return runner.TailNone, nil
	}
	return n, nil
}

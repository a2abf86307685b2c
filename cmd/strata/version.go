package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// newVersionCmd is `strata version`, beside --version, as docker and podman have both: the
// lines a bug report needs.
func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show the strata version, the Go version it was built with, and the platform",
		Args:  noArgs,
		// No store is opened: a version query works whatever --root says.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "Version:    %s\nGo version: %s\nOS/Arch:    %s/%s\n",
				version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}

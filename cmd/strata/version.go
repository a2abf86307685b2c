package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// versionClient is what `version --format` reads, under docker's names: docker version's
// Client fields that strata has. There is no Server: strata has no daemon.
type versionClient struct {
	Version   string
	GoVersion string
	Os        string
	Arch      string
}

// versionReport is docker version's top level, so '{{.Client.Version}}' and '{{json .}}'
// read as docker's.
type versionReport struct {
	Client versionClient
}

// newVersionCmd is `strata version`, beside --version, as docker and podman have both: the
// lines a bug report needs.
func newVersionCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the strata version, the Go version it was built with, and the platform",
		Args:  noArgs,
		// No store is opened: a version query works whatever --root says.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, args []string) error {
			v := versionReport{Client: versionClient{
				Version: version, GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH,
			}}
			switch format {
			case "":
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "Version:    %s\nGo version: %s\nOS/Arch:    %s/%s\n",
					v.Client.Version, v.Client.GoVersion, v.Client.Os, v.Client.Arch)
				return err
			case "json":
				format = "{{json .}}"
			}
			b, _, err := renderTemplate(format, []versionReport{v})
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "a Go template over docker's version fields ('{{.Client.Version}}', '{{.Client.GoVersion}}', '{{.Client.Os}}', '{{.Client.Arch}}', '{{json .}}'), or json")
	return cmd
}

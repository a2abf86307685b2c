package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// versionClient is what `version --format` reads, under docker's names: docker version's
// Client fields that strata has.
type versionClient struct {
	Version   string
	GoVersion string
	Os        string
	Arch      string
}

// versionServer is docker version's Server section (moby api/types Version) for the local
// engine: strata has no daemon, so, as podman version does, the server is this binary, and
// scripts written for docker ('{{.Server.Version}}', the Engine component's Details) work.
// There is no API, so APIVersion and MinAPIVersion are empty.
type versionServer struct {
	Platform      struct{ Name string }
	Components    []versionComponent
	Version       string
	APIVersion    string `json:"ApiVersion"`
	MinAPIVersion string `json:"MinAPIVersion,omitempty"`
	GitCommit     string
	GoVersion     string
	Os            string
	Arch          string
	KernelVersion string `json:",omitempty"`
	Experimental  bool   `json:",omitempty"`
	BuildTime     string `json:",omitempty"`
}

// versionComponent is one of docker version's server components; strata's one is the
// "Engine", whose Details docker's own template reads.
type versionComponent struct {
	Name    string
	Version string
	Details map[string]string `json:",omitempty"`
}

// versionReport is docker version's top level, so '{{.Client.Version}}',
// '{{.Server.Version}}' and '{{json .}}' read as docker's.
type versionReport struct {
	Client versionClient
	Server versionServer
}

// localServer is the Server section: this binary, on this kernel.
func localServer() versionServer {
	s := versionServer{Version: version, GitCommit: version, GoVersion: runtime.Version(),
		Os: runtime.GOOS, Arch: runtime.GOARCH}
	s.Platform.Name = "strata"
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		s.KernelVersion = unix.ByteSliceToString(uts.Release[:])
	}
	s.Components = []versionComponent{{Name: "Engine", Version: version, Details: map[string]string{
		"ApiVersion": "", "MinAPIVersion": "", "GitCommit": s.GitCommit, "GoVersion": s.GoVersion,
		"Os": s.Os, "Arch": s.Arch, "KernelVersion": s.KernelVersion, "Experimental": "false",
	}}}
	return s
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
			}, Server: localServer()}
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
	cmd.Flags().StringVarP(&format, "format", "f", "", "a Go template over docker's version fields ('{{.Client.Version}}', '{{.Server.Version}}', '{{.Client.GoVersion}}', '{{.Client.Os}}', '{{.Client.Arch}}', '{{json .}}'), or json")
	return cmd
}

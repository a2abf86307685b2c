package main

import (
	"testing"

	"github.com/spf13/cobra"
)

// TestNetAlias: --net is docker's hidden alias of --network, for run and create alike.
func TestNetAlias(t *testing.T) {
	for _, args := range [][]string{{"--net", "host"}, {"--net=host"}, {"--network", "host"}} {
		var o runOptions
		cmd := &cobra.Command{Use: "run"}
		addContainerFlags(cmd, &o)
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if o.network != "host" {
			t.Errorf("%q: network %q, want host", args, o.network)
		}
		if f := cmd.Flags().Lookup("net"); f == nil || !f.Hidden {
			t.Errorf("--net is missing or shown in the help: %+v", f)
		}
	}
}

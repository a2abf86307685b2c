package main

import (
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
)

// TestAddHostStoredDockerForm: --add-host values reach the spec (and so inspect's
// HostConfig.ExtraHosts) in docker's name:ip form, whichever separator was typed.
func TestAddHostStoredDockerForm(t *testing.T) {
	var o runOptions
	cmd := &cobra.Command{Use: "run"}
	addContainerFlags(cmd, &o)
	if err := cmd.ParseFlags([]string{"--add-host", "bar=::1", "--add-host", "foo:1.2.3.4", "--add-host", "v6=[::2]"}); err != nil {
		t.Fatal(err)
	}
	spec, err := o.spec(&v1.ConfigFile{Config: v1.Config{Cmd: []string{"sh"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"bar:::1", "foo:1.2.3.4", "v6:::2"}; !slices.Equal(spec.ExtraHosts, want) {
		t.Errorf("ExtraHosts = %q, want %q", spec.ExtraHosts, want)
	}
}

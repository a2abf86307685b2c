package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestUsageLineOptions: a command whose usage names [OPTIONS] does not get cobra's " [flags]"
// after its arguments, as docker's usage lines do not: "strata run [OPTIONS] IMAGE [COMMAND]
// [ARG...] [flags]" told the user to put flags after the container's command, where run
// passes them to the container.
func TestUsageLineOptions(t *testing.T) {
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !strings.Contains(c.Use, "[OPTIONS]") {
			return
		}
		n++
		if line := c.UseLine(); strings.Contains(line, "[flags]") {
			t.Errorf("usage line of %s = %q, want no [flags] after [OPTIONS]", c.CommandPath(), line)
		}
	}
	walk(newRootCmd(&globals{}))
	if n < 10 {
		t.Errorf("only %d commands name [OPTIONS]", n)
	}
	out, err := strata(t, t.TempDir(), nil, "run", "--help")
	if want := "strata run [OPTIONS] IMAGE [COMMAND] [ARG...]\n"; err != nil || !strings.Contains(out, want) {
		t.Errorf("run --help = %q, %v; want the line %q", out, err, want)
	}
}

package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestUsageLineNoFlagsSuffix: no usage line but the root's ends in cobra's " [flags]", as no
// docker usage line does, and a command with flags of its own names [OPTIONS] where they go.
// "strata top CONTAINER [ps OPTIONS] [flags]" put strata's flags where top hands them to ps,
// and "strata enter [--ns ...] CONTAINER -- COMMAND [ARG...] [flags]" after the command.
func TestUsageLineNoFlagsSuffix(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "completion" {
			return // cobra's own, in cobra's style
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.HasParent() {
			return
		}
		if line := c.UseLine(); strings.Contains(line, "[flags]") {
			t.Errorf("usage line of %s = %q, want no [flags]", c.CommandPath(), line)
		}
		own := false
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" && !f.Hidden {
				own = true
			}
		})
		if own && !strings.Contains(c.Use, "[OPTIONS]") {
			t.Errorf("usage of %s = %q has flags but no [OPTIONS]", c.CommandPath(), c.Use)
		}
	}
	walk(newRootCmd(&globals{}))
	for args, want := range map[string]string{
		"top --help":      "strata top CONTAINER [ps OPTIONS]\n",
		"tag --help":      "strata tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n",
		"enter --help":    "strata enter [OPTIONS] CONTAINER -- COMMAND [ARG...]\n",
		"image ls --help": "strata image ls [OPTIONS] [REPOSITORY[:TAG]]\n",
	} {
		out, err := strata(t, t.TempDir(), nil, strings.Fields(args)...)
		if err != nil || !strings.Contains(out, "  "+want) {
			t.Errorf("strata %s = %q, %v; want the line %q", args, out, err, want)
		}
	}
}

// TestStopTimeHelpDefault: stop's and restart's -t say their default once, as it is: the
// container's --stop-timeout, else 10. pflag's "(default 10)" after it said 10 for every
// container.
func TestStopTimeHelpDefault(t *testing.T) {
	for _, name := range []string{"stop", "restart"} {
		out, err := strata(t, t.TempDir(), nil, name, "--help")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "(-1: forever; default: the container's --stop-timeout, else 10)\n") || strings.Contains(out, "(default 10)") {
			t.Errorf("%s --help = %q, want -t's default said once, without pflag's (default 10)", name, out)
		}
	}
}

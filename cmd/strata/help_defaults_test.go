package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestHelpOneDefault: no flag's help line states its default twice, as run's -a did ("(default:
// STDOUT and STDERR) (default [])"): a flag whose usage says its default must print no
// empty value of its own.
func TestHelpOneDefault(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, line := range strings.Split(c.LocalFlags().FlagUsages(), "\n") {
			if strings.Count(line, "(default") > 1 || strings.Contains(line, "(default [])") {
				t.Errorf("%s --help: %q", c.CommandPath(), strings.TrimSpace(line))
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(&globals{}))
}

// TestUsageLinesNameCommand: every usage line a command's help prints names the command as it
// is called: container cp's second line read "strata cp [OPTIONS] SRC_PATH|- ...".
func TestUsageLinesNameCommand(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for i, line := range strings.Split(c.UseLine(), "\n") {
			if line = strings.TrimSpace(line); line != c.CommandPath() && !strings.HasPrefix(line, c.CommandPath()+" ") {
				t.Errorf("%s --help: usage line %d is %q", c.CommandPath(), i+1, line)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(&globals{}))
}

// TestGlobalFlagsNameTheirEnv: a global flag whose default comes from an environment variable
// says which in its help: --storage-driver read STRATA_STORAGE_DRIVER without a word.
func TestGlobalFlagsNameTheirEnv(t *testing.T) {
	t.Setenv("STRATA_ROOT", "")
	t.Setenv("STRATA_REGISTRY_MIRROR", "")
	t.Setenv("STRATA_STORAGE_DRIVER", "")
	pf := newRootCmd(&globals{}).PersistentFlags()
	for flag, env := range map[string]string{"root": "STRATA_ROOT", "registry-mirror": "STRATA_REGISTRY_MIRROR", "storage-driver": "STRATA_STORAGE_DRIVER"} {
		if f := pf.Lookup(flag); f == nil || !strings.Contains(f.Usage, "env "+env) {
			t.Errorf("--%s's help does not name env %s", flag, env)
		}
	}
}

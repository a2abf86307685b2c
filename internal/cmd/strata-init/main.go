// A detached monitor lives as long as its container, mostly asleep: Go 1.25's runtime would
// wake it every second to reread the CPU limit of its cgroup for GOMAXPROCS.
//go:debug updatemaxprocs=0

// Command strata-init is strata's helper program: the container's init, the detached
// monitor, exec's namespace joiner and --init's reaper. It holds only runner's helper code, so
// it starts in a fraction of the time the whole strata binary takes; `make build` embeds it
// in strata (see runner.UseHelper). Run by hand, it only says what it is.
package main

import (
	"fmt"
	"os"

	"github.com/strata-run/strata/runner"
)

func main() {
	runner.MaybeInit()
	fmt.Fprintln(os.Stderr, "strata-init: strata's container helper; strata starts it, it is not run by hand")
	os.Exit(runner.ExitOwnError)
}

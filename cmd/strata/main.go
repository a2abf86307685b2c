// Command strata is a daemonless container tool: pull OCI images into a content-addressed
// store, unpack each layer once, and run containers as plain Linux processes.
package main

import (
	"os"

	"github.com/strata-run/strata/runner"
)

func main() {
	// The re-executed container init and the detached monitor are this same binary; they must
	// take over before cobra parses anything.
	runner.MaybeInit()
	os.Exit(execute(os.Args[1:]))
}

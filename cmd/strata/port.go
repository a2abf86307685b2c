package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// newPortCmd is docker's port (docker/cli cli/command/container/port.go). strata has no
// bridge network and publishes no port (run refuses -p and -P), so a container has no
// mapping to list: port prints nothing, and a PRIVATE_PORT is "No public port" as docker's
// CLI says for a port it did not publish.
func newPortCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container (strata publishes no ports, so there are none)",
		Long: `List the port mappings of a container, as docker port does. strata has no bridge network and
publishes no ports (run refuses -p and -P): for a container port prints nothing, and with a
PRIVATE_PORT[/PROTO] (tcp unless told) it fails, "No public port '80/tcp' published for NAME".`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, _, err := g.getContainer(args[0]); err != nil {
				return err
			}
			if len(args) == 1 {
				return nil // no mapping to list
			}
			return portError(args[0], args[1])
		},
	}
}

// portError is docker port's answer for container (as the user named it) and port, "" for
// every mapping or PRIVATE_PORT[/PROTO] for one, when the container publishes nothing, as
// every strata container: nil for "", which prints nothing, else "No public port" in docker's
// words, naming the port as given. A port that is no number from 0 to 65535 is refused first,
// as docker's CLI refuses it.
func portError(container, port string) error {
	if port == "" {
		return nil
	}
	num, _, _ := strings.Cut(port, "/")
	if _, err := strconv.ParseUint(num, 10, 16); err != nil {
		return fmt.Errorf("invalid port (%s): not a number from 0 to 65535", quoteArg(num))
	}
	return fmt.Errorf("No public port '%s' published for %s", escapeUnprintable(port), quoteArg(container))
}

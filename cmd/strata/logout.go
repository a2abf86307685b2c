package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/registry"
)

func newLogoutCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Remove a registry's stored credentials (docker.io if no server is given)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			shown, err := registry.LogoutTarget(server)
			if err != nil {
				return fmt.Errorf("logout: %w", err)
			}
			// Login stores only hosts that parse; anything else is a typo, and printed back in
			// "Not logged in to …" it would reach the terminal raw.
			if len(shown) > 255 || !printableWord(shown) {
				return fmt.Errorf("logout: invalid registry %s", quoteArg(server))
			}
			err = registry.LogoutWarn(cmd.Context(), server, func(w string) {
				fmt.Fprintln(cmd.ErrOrStderr(), "strata: warning: "+w)
			})
			if errors.Is(err, registry.ErrNotLoggedIn) {
				// As docker: nothing to remove is not a failure, so scripts may log out twice.
				fmt.Fprintf(cmd.OutOrStdout(), "Not logged in to %s\n", shown)
				if host, ok := registry.KeptFor(err); ok {
					// `login HOST/NS` stored them as HOST's: left without a word, a script's
					// logout of what it logged in to kept them on disk.
					fmt.Fprintf(cmd.ErrOrStderr(), "strata: warning: the credentials of %s itself are kept (a login to %s stores them there); 'strata logout %s' removes them\n", host, shown, host)
				}
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removing login credentials for %s\n", shown)
			return nil
		},
	}
}

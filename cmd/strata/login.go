package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/strata-run/strata/registry"
)

type loginOptions struct {
	user          string
	password      string
	passwordStdin bool
}

func newLoginCmd(g *globals) *cobra.Command {
	var o loginOptions
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry (docker.io if no server is given), storing credentials as docker does",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			return runLogin(cmd.Context(), g, o, server, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.user, "username", "u", "", "user name")
	f.StringVarP(&o.password, "password", "p", "", "password or token (visible to other users: prefer --password-stdin)")
	f.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password or token from stdin")
	return cmd
}

// maxPasswordStdin bounds what --password-stdin reads: tokens are a few KiB at most.
const maxPasswordStdin = 64 << 10

func runLogin(ctx context.Context, g *globals, o loginOptions, server string, in io.Reader, out, errOut io.Writer) error {
	// As logout: a server that is no host name is said so at once, quoted and cut, before a
	// password is read or asked for; printed back raw it would reach the terminal whole.
	host, err := registry.LoginHost(server)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if len(host) > 255 || !printableWord(host) {
		return fmt.Errorf("login: invalid registry %s", quoteArg(server))
	}
	// A host no image reference can name ("host:1:2", "host:port") is no registry to pull
	// from: said at once, not once a password is read and a URL of it fails to parse.
	if !registry.ValidRegistry(host) {
		return fmt.Errorf("login: invalid registry %s: want a host name or IP address, with an optional port", quoteArg(server))
	}
	// As docker: spaces around a user name (a copy and paste, a quoted "$USER ") are no part
	// of it.
	o.user = strings.TrimSpace(o.user)
	if o.password != "" && o.passwordStdin {
		return errors.New("login: --password and --password-stdin exclude each other")
	}
	if o.passwordStdin {
		if o.user == "" {
			return errors.New("login: --password-stdin needs --username")
		}
		// Ctrl-C ends the wait for stdin too: a terminal there (the pipe forgotten) is read to
		// its end, a Ctrl-D, and the first Ctrl-C did nothing.
		b, err := readInterruptible(ctx, func() ([]byte, error) { return io.ReadAll(io.LimitReader(in, maxPasswordStdin+1)) })
		if ctx.Err() != nil {
			return fmt.Errorf("login: interrupted: %w", context.Cause(ctx))
		}
		if err != nil {
			return fmt.Errorf("login: reading the password from stdin: %w", err)
		}
		if len(b) > maxPasswordStdin {
			// Cut short, it would be another password, sent and stored without a word.
			return fmt.Errorf("login: --password-stdin read more than %d KiB: that is not a password or token", maxPasswordStdin>>10)
		}
		// As docker: one trailing newline (from echo or a here-string) is not part of it.
		o.password = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if o.password == "" {
			// Said here: the registry would refuse it only after a round trip, in its own words.
			return errors.New("login: password is empty: --password-stdin read nothing from stdin")
		}
	} else if o.password != "" {
		fmt.Fprintln(errOut, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
	}
	if o.user == "" && o.password == "" {
		// As docker: without a user name or password, the credentials already stored for the
		// registry (a login before, a credential helper's) are tried first, and a script's
		// `login REGISTRY` after a login, or with ecr-login as its helper, succeeds.
		ok, err := registry.LoginStored(ctx, server, g.registryOptions(), func(user string) {
			if user != "" && user != "<token>" {
				fmt.Fprintf(errOut, "Authenticating with existing credentials... [Username: %s]\n", oneLine(user))
			} else {
				fmt.Fprintln(errOut, "Authenticating with existing credentials...")
			}
		})
		if ctx.Err() != nil {
			return fmt.Errorf("login: interrupted: %w", context.Cause(ctx))
		}
		switch {
		case ok && err == nil:
			fmt.Fprintln(out, "Login Succeeded")
			return nil
		case ok && errors.Is(err, registry.ErrUnauthorized):
			fmt.Fprintln(errOut, "Stored credentials invalid or expired")
		case err != nil:
			// The registry could not be asked, or the stored credentials not read: said as
			// they are, not hidden behind a prompt that cannot help.
			return err
		}
	}
	if err := prompt(ctx, &o, in, out); err != nil {
		return err
	}
	if err := registry.Login(ctx, server, o.user, o.password, g.registryOptions()); err != nil {
		return err
	}
	if path, plain := registry.PlainFile(server); plain {
		// docker's warning (cli/command/registry/login.go), on stderr as docker's.
		fmt.Fprintf(errOut, "\nWARNING! Your credentials are stored unencrypted in '%s'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n", path)
	}
	fmt.Fprintln(out, "Login Succeeded")
	return nil
}

// prompt asks for what the flags left out, but only on a terminal: in a script a prompt would
// hang, so the missing value is an error instead. The user's Ctrl-C (ctx ending) stops it at
// once, the terminal's echo restored: the read went on, deaf to the first Ctrl-C, and the
// second killed strata with the echo still off, the shell then showing nothing typed.
func prompt(ctx context.Context, o *loginOptions, in io.Reader, out io.Writer) error {
	if o.user != "" && o.password != "" {
		return nil
	}
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return errors.New("login: username and password are required: use --username with --password-stdin (stdin is not a terminal to ask on)")
	}
	r := bufio.NewReader(f)
	if o.user == "" {
		fmt.Fprint(out, "Username: ")
		line, err := readInterruptible(ctx, func() (string, error) { return r.ReadString('\n') })
		if ctx.Err() != nil {
			fmt.Fprintln(out)
			return fmt.Errorf("login: interrupted: %w", context.Cause(ctx))
		}
		if err != nil && line == "" {
			return fmt.Errorf("login: reading the username: %w", err)
		}
		o.user = strings.TrimSpace(line)
	}
	if o.password == "" {
		fmt.Fprint(out, "Password: ")
		// The echo goes off here, before the read starts, and comes back here once it ended
		// or was given up: turned off by the read itself (term.ReadPassword), a Ctrl-C that
		// came first had it restored before, and strata left the terminal silent.
		restore, err := echoOff(int(f.Fd()))
		if err != nil {
			return fmt.Errorf("login: reading the password: %w", err)
		}
		line, err := readInterruptible(ctx, func() (string, error) { return r.ReadString('\n') })
		restore()
		fmt.Fprintln(out)
		if ctx.Err() != nil {
			return fmt.Errorf("login: interrupted: %w", context.Cause(ctx))
		}
		if err != nil && line == "" {
			return fmt.Errorf("login: reading the password: %w", err)
		}
		o.password = strings.TrimRight(line, "\r\n")
	}
	return nil
}

// echoOff turns the echo of terminal fd off for a password, as term.ReadPassword does
// (canonical lines, signals and CR-to-NL kept), and returns what restores it.
func echoOff(fd int) (restore func(), err error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	quiet.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return nil, err
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}

// readInterruptible returns what read returns, or ctx's cause as soon as ctx ends, leaving
// read blocked: a terminal read cannot be called off, and strata is about to exit.
func readInterruptible[T any](ctx context.Context, read func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := read()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, context.Cause(ctx)
	}
}

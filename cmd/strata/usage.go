package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// usageError is a mistake in how c was called (an unknown subcommand, a global flag's
// value; the number of arguments is checkUsage's, always 1): one line naming the command and where its help is,
// with the status docker gives usage errors (flagErrorCode).
func usageError(c *cobra.Command, err error) error {
	return usageErrorCode(c, err, flagErrorCode(c))
}

// flagError is a flag that does not parse (unknown, missing its value, a value of the wrong
// type): 125 for every command, as docker's FlagErrorFunc answers.
func flagError(c *cobra.Command, err error) error {
	return usageErrorCode(c, err, 125)
}

func usageErrorCode(c *cobra.Command, err error, code int) error {
	var bad *pflag.InvalidValueError
	if errors.As(err, &bad) {
		err = flagValueError(bad)
	}
	if !c.HasParent() {
		return withCode(code, fmt.Errorf("%w (see '%s --help')", err, c.CommandPath()))
	}
	name := strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
	return withCode(code, fmt.Errorf("%s: %w (see '%s --help')", name, err, c.CommandPath()))
}

// flagValueError says what a flag wants instead of how Go failed to parse the value:
// pflag's "strconv.ParseInt: parsing \"x\": invalid syntax" names a Go function. A value
// strata's own code refused (a flag.Value's Set) keeps its reason.
func flagValueError(bad *pflag.InvalidValueError) error {
	f := bad.GetFlag()
	name := "--" + f.Name
	if f.Shorthand != "" && f.ShorthandDeprecated == "" {
		name = "-" + f.Shorthand + ", " + name
	}
	reason := errors.Unwrap(bad)
	// A comma-list flag's value is read as CSV: its line and column say nothing of one argument.
	var csvErr *csv.ParseError
	if errors.As(reason, &csvErr) {
		reason = csvErr.Err
	}
	var num *strconv.NumError
	if errors.As(reason, &num) {
		want := "want " + flagTypeWords(f.Value.Type())
		if errors.Is(num.Err, strconv.ErrRange) {
			want = "out of range"
		}
		reason = errors.New(want)
	}
	return fmt.Errorf("invalid argument %s for %q flag: %w", quoteValue(bad.GetValue()), name, reason)
}

// flagTypeWords names what a flag of pflag's type name takes, for people.
func flagTypeWords(typ string) string {
	switch {
	case typ == "bool":
		return "true or false"
	case strings.HasPrefix(typ, "uint"):
		return "a whole number, 0 or more"
	case strings.HasPrefix(typ, "int"):
		return "a whole number"
	case strings.HasPrefix(typ, "float"):
		return "a number"
	}
	return "a " + typ
}

// noArgs refuses arguments: a group command (image, system) takes a subcommand, which this
// one is not; any other command takes none.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if c.HasSubCommands() {
		if c.SuggestionsMinimumDistance <= 0 {
			c.SuggestionsMinimumDistance = 2 // cobra's default, which SuggestionsFor does not apply
		}
		// cobra finds a command by its name unless a "--" came before it: then it is an
		// argument, and "did you mean" would suggest the very name given.
		for _, sub := range c.Commands() {
			if sub.Name() == args[0] || sub.HasAlias(args[0]) {
				return fmt.Errorf("%s after \"--\" is an argument, not a command: give the command before \"--\"", quoteValue(args[0]))
			}
		}
		msg := fmt.Sprintf("unknown command %s", quoteValue(args[0]))
		// Every command starts with "": cobra would suggest the first one for it.
		if s := c.SuggestionsFor(args[0]); len(s) > 0 && strings.TrimSpace(args[0]) != "" {
			msg += fmt.Sprintf(", did you mean %q?", s[0])
		}
		return fmt.Errorf("%s", msg)
	}
	return fmt.Errorf("accepts no arguments, got %s", quoteValue(args[0]))
}

// checkUsage walks the command tree once it is built so that every command treats usage the
// same way: argument-count errors become usage errors, one line naming the command's help
// (cobra returns them bare), and a group without a command of its own (strata, strata system) prints
// its help when called alone but refuses an unknown subcommand. Cobra would print the help
// and exit 0 for "strata system bogus", and tell "strata bogus" on several lines.
func checkUsage(c *cobra.Command) {
	for _, sub := range c.Commands() {
		checkUsage(sub)
	}
	// A usage line that names [OPTIONS] says where the flags go, as docker's does: cobra's
	// " [flags]" after it read "strata run [OPTIONS] IMAGE [COMMAND] [ARG...] [flags]", flags
	// after the container's arguments, which run passes to the container. A command without
	// flags of its own gets none either, as docker's: "strata top CONTAINER [ps OPTIONS]
	// [flags]" put strata's flags where top hands them to ps.
	if strings.Contains(c.Use, "[OPTIONS]") || !hasOwnFlags(c) {
		c.DisableFlagsInUseLine = true
	}
	if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
		c.Args = noArgs
		c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	}
	if c.Args == nil {
		return
	}
	check := c.Args
	c.Args = func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			// Exit 1 for every command, run's family too: docker's cli.RequiresMinArgs and
			// its siblings return a plain error, not the StatusError (125) of its
			// FlagErrorFunc, and `docker run` with no image exits 1.
			return usageErrorCode(cmd, err, 1)
		}
		return nil
	}
}

// hasOwnFlags says whether c has a flag of its own besides --help (the global flags are the
// root's own).
func hasOwnFlags(c *cobra.Command) bool {
	own := false
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" && !f.Hidden {
			own = true
		}
	})
	return own
}

// newHelpCmd replaces cobra's help command, which prints "Unknown help topic" and the usage
// to stdout and exits 0 for a command that does not exist.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND]",
		Short: "Help about any command",
		// No store is opened: help works whatever --root says.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil || target == nil || len(rest) > 0 {
				return usageError(c.Root(), fmt.Errorf("unknown help topic %s", quoteValue(strings.Join(args, " "))))
			}
			return target.Help()
		},
	}
}

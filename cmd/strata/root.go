package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/snapshotter"
)

// defaultRoot is where strata keeps images, layers and containers unless --root or
// STRATA_ROOT says otherwise.
const defaultRoot = "/var/lib/strata"

// stopsSettleWait bounds how long, after the first SIGINT or SIGTERM, the next one is held for
// the stops it interrupted to leave their killers (runner.StopsSettled): a fork and exec, long
// only on a machine so busy that a Ctrl-C should end strata all the same.
const stopsSettleWait = 5 * time.Second

// globals are the flags every command shares.
type globals struct {
	root               string
	debug              bool
	mirrors            []string
	insecureRegistries []string
	insecure           bool
	storageDriver      string
}

// exitError carries the exit status a command wants, with the message to print (if any).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode makes err exit with code unless it already carries one.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return &exitError{code: code, err: err}
}

// silentExit ends strata with code and prints nothing (the container's own status).
func silentExit(code int) error { return &exitError{code: code} }

func execute(args []string) int {
	g := &globals{}
	cmd := newBareRootCmd(g)
	only := commandIn(cmd, args)
	switch only {
	case "run", "start", "exec":
		// They start a helper process: its one-time costs are paid while cobra parses.
		runner.WarmStart()
	}
	addCommands(cmd, g, only)
	cmd.SetArgs(args)
	// SIGHUP (the user's terminal closed) as SIGINT and SIGTERM: a stop or restart it ended
	// mid-wait died without the killer that finishes it (below), its container left running.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// The first signal cancels the command; the next one ends strata as if it caught none.
	// A command blocked where the context cannot reach (opening a FIFO nobody writes) would
	// otherwise ignore every Ctrl-C. run and exec forward signals to the container through
	// their own handlers, which this does not touch. A stop or restart the first interrupted
	// leaves its killer first (runner.StopsSettled), a moment's work: a second Ctrl-C meanwhile
	// is caught, not fatal, so that the container is still killed at the timeout (and started
	// again), as docker's daemon finishes what its CLI left.
	go func() {
		<-ctx.Done()
		select {
		case <-runner.StopsSettled():
		case <-time.After(stopsSettleWait):
		}
		stop()
	}()
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code
		}
	}
	fmt.Fprintln(os.Stderr, "strata: "+oneLine(err.Error()))
	return code
}

// oneLine folds a multi-line error into one line: every error strata prints is one line.
// Errors quote what registries, images and archives say (platforms, media types, names) and
// what the user typed: the control characters left after folding (an escape sequence that
// would drive the user's terminal), bidi overrides (which would reorder what is shown) and
// bytes that are not UTF-8 are written escaped, and each line of the error is cut to
// maxErrorLine runes around its middle, so a 100 KB argument quoted back is no 100 KB line.
func oneLine(s string) string {
	var parts []string
	for _, line := range strings.Split(s, "\n") {
		// Spaces inside a line stay: they may be in a quoted value ("   " is no " ").
		if line = strings.TrimSpace(strings.ReplaceAll(line, "\t", " ")); line != "" {
			parts = append(parts, elide(escapeUnprintable(line), maxErrorLine))
		}
	}
	return strings.Join(parts, "; ")
}

// maxErrorLine bounds one line of an error as oneLine prints it, in runes: room for any
// message strata writes and a long path or reference in it.
const maxErrorLine = 1000

// escapeUnprintable writes the runes of s that would act on a terminal, and the bytes that
// are not UTF-8, as Go escapes.
func escapeUnprintable(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unprintable) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case !unprintable(r):
			b.WriteString(s[i : i+size])
		case r < 0x100:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			fmt.Fprintf(&b, "\\u%04x", r)
		}
		i += size
	}
	return b.String()
}

// elide cuts s to at most max runes, keeping its start (what failed) and its end (why).
func elide(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	const mark = " … "
	r := []rune(s)
	tail := max / 4
	head := max - tail - utf8.RuneCountInString(mark)
	return string(r[:head]) + mark + string(r[len(r)-tail:])
}

// unprintable says whether r would act on a terminal rather than show as itself.
func unprintable(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}

// commands are strata's subcommands, by name, in the order help lists them.
var commands = []struct {
	name string
	make func(*globals) *cobra.Command
}{
	{"pull", newPullCmd}, {"images", newImagesCmd}, {"run", newRunCmd}, {"create", newCreateCmd},
	{"ps", newPsCmd}, {"rm", newRmCmd}, {"rmi", newRmiCmd}, {"save", newSaveCmd},
	{"load", newLoadCmd}, {"serve", newServeCmd}, {"prune", newPruneCmd},
	{"system", newSystemCmd}, {"login", newLoginCmd}, {"logout", newLogoutCmd}, {"search", newSearchCmd},
	{"push", newPushCmd}, {"tag", newTagCmd}, {"image", newImageCmd}, {"history", newHistoryCmd}, {"exec", newExecCmd},
	{"container", newContainerCmd}, {"volume", newVolumeCmd},
	{"enter", newEnterCmd}, {"inspect", newInspectCmd}, {"top", newTopCmd},
	{"stats", newStatsCmd}, {"explain", newExplainCmd}, {"stop", newStopCmd},
	{"kill", newKillCmd}, {"start", newStartCmd}, {"restart", newRestartCmd},
	{"pause", newPauseCmd}, {"unpause", newUnpauseCmd}, {"diff", newDiffCmd},
	{"commit", newCommitCmd}, {"export", newExportCmd}, {"import", newImportCmd},
	{"rename", newRenameCmd}, {"wait", newWaitCmd}, {"logs", newLogsCmd}, {"attach", newAttachCmd},
	{"update", newUpdateCmd}, {"port", newPortCmd},
	{"cp", newCpCmd},
	{"info", newInfoCmd}, {"events", newEventsCmd},
	{"bench", newBenchCmd}, {"version", func(*globals) *cobra.Command { return newVersionCmd() }},
}

// newContainerCmd is docker's `container` group: the container commands under the names
// docker's scripts call them by (`container ls -aq`, `container rm -f`, `container inspect`),
// which strata refused as an unknown command.
func newContainerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "container",
		Short: "Manage containers: ls, run, create, start, stop, kill, restart, rm, inspect, logs, ...",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	ls := newPsCmd(g)
	ls.Use, ls.Aliases = "ls [OPTIONS]", []string{"list", "ps"}
	rm := newRmCmd(g)
	rm.Aliases = []string{"remove"}
	// docker container inspect looks names up as containers only.
	inspect := newInspectCmd(g)
	inspect.Short = "Show containers as docker's JSON, with the process card of running ones"
	if f := inspect.Flags().Lookup("type"); f != nil {
		_ = f.Value.Set("container")
		f.DefValue = "container"
		f.Hidden = true
	}
	cmd.AddCommand(ls, rm, inspect, newRunCmd(g), newCreateCmd(g), newStartCmd(g), newStopCmd(g),
		newKillCmd(g), newRestartCmd(g), newRenameCmd(g), newWaitCmd(g), newLogsCmd(g), newTopCmd(g),
		newStatsCmd(g), newExecCmd(g), newContainerPruneCmd(g), newPauseCmd(g), newUnpauseCmd(g), newDiffCmd(g), newAttachCmd(g),
		newUpdateCmd(g), newPortCmd(g))
	// Hidden, as image's save and load: the top-level commit and export are the ones help lists.
	for _, c := range []*cobra.Command{newCommitCmd(g), newExportCmd(g)} {
		c.Hidden = true
		cmd.AddCommand(c)
	}
	// cp's usage has a second line, which names the command in full.
	cp := newCpCmd(g)
	cp.Use = strings.Replace(cp.Use, "\n  strata cp ", "\n  strata container cp ", 1)
	cmd.AddCommand(cp)
	return cmd
}

// newRootCmd builds the root command with all of strata's subcommands.
func newRootCmd(g *globals) *cobra.Command {
	root := newBareRootCmd(g)
	addCommands(root, g, "")
	return root
}

// newBareRootCmd builds the root command and its flags, without subcommands.
func newBareRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "strata",
		Version:       version,
		Short:         "Daemonless containers: pull OCI images, share their layers, run them as processes",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if g.root == "" {
				return usageError(cmd, errors.New("--root must not be empty"))
			}
			abs, err := filepath.Abs(g.root)
			if err != nil {
				return err
			}
			// Caught here, the mistake is named once, as the flag, instead of as a failure to
			// create each store under it.
			if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
				return usageError(cmd, fmt.Errorf("invalid --root %s: not a directory", quotePath(g.root)))
			}
			// Checked for every command, not only those that open the layer store: a typo
			// must not pass silently through `strata images`.
			switch snapshotter.Driver(g.storageDriver) {
			case "", snapshotter.Overlay, snapshotter.VFS:
			default:
				return usageError(cmd, fmt.Errorf("invalid --storage-driver %s: want %s or %s", quoteValue(g.storageDriver), snapshotter.Overlay, snapshotter.VFS))
			}
			g.root = abs
			useHelper(abs)
			// net/http's transport logs some faults of a registry or a client (bytes after a
			// response's declared end: "Unsolicited response received on idle HTTP channel
			// starting with …") through the standard logger, on stderr: the peer's bytes in a
			// line that is no strata message, about nothing a command relies on (what it
			// stores is verified). Pull, push, login and serve alike; --debug keeps them.
			if !g.debug {
				log.SetOutput(io.Discard)
			}
			return nil
		},
	}
	// Bad flags are usage errors: exit 125 for the run family as docker does, 1 otherwise.
	root.SetFlagErrorFunc(flagError)
	pf := root.PersistentFlags()
	pf.StringVar(&g.root, "root", envOr("STRATA_ROOT", defaultRoot), "where images, layers and containers live (env STRATA_ROOT)")
	pf.BoolVar(&g.debug, "debug", false, "print debugging details")
	stringArrayVar(pf, &g.mirrors, "registry-mirror", "", envList("STRATA_REGISTRY_MIRROR"), "a mirror tried before docker.io (repeatable; env STRATA_REGISTRY_MIRROR, comma-separated)")
	stringArrayVar(pf, &g.insecureRegistries, "insecure-registry", "", nil, "a registry reached over plain HTTP or unverified TLS (repeatable)")
	pf.BoolVar(&g.insecure, "insecure", false, "allow plain HTTP and unverified TLS for every registry")
	pf.StringVar(&g.storageDriver, "storage-driver", envOr("STRATA_STORAGE_DRIVER", ""), "layer storage: overlay or vfs (default: overlay when it can be mounted; env STRATA_STORAGE_DRIVER)")
	return root
}

// addCommands adds subcommand only to root, or all of them when only is "". Building all
// forty with their flags is half a millisecond of every strata start: execute builds just
// the one its arguments name (commandIn).
func addCommands(root *cobra.Command, g *globals, only string) {
	for _, c := range commands {
		if only == "" || c.name == only {
			root.AddCommand(c.make(g))
		}
	}
	// cobra adds these when it executes; added now, they get the same usage checks.
	root.SetHelpCommand(newHelpCmd())
	root.InitDefaultHelpCmd()
	if only != "" {
		// args name one command, and it is not cobra's completion command: that one (four
		// shells' subcommands, their flags and help texts) is not made, some 8 page faults.
		root.CompletionOptions.DisableDefaultCmd = true
	} else {
		root.InitDefaultCompletionCmd()
	}
	checkUsage(root)
	dockerUsageLines(root)
}

// dockerUsageLines gives a command that takes a subcommand docker's one usage line,
// "strata [OPTIONS] COMMAND", "strata image COMMAND", and its closing line: cobra printed
// "strata image" (as if it did something alone) and then "strata image [command]". The rest
// of the template is cobra's own; it is parsed only when a help is printed.
func dockerUsageLines(root *cobra.Command) {
	t := root.UsageTemplate()
	t = strings.Replace(t, "Usage:{{if .Runnable}}\n  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}\n  {{.CommandPath}} [command]{{end}}",
		"Usage:{{if .HasAvailableSubCommands}}\n  {{.CommandPath}}{{if not .HasParent}} [OPTIONS]{{end}} COMMAND{{else if .Runnable}}\n  {{.UseLine}}{{end}}", 1)
	t = strings.Replace(t, `Use "{{.CommandPath}} [command] --help" for more information about a command.`,
		`Run '{{.CommandPath}} COMMAND --help' for more information on a command.`, 1)
	root.SetUsageTemplate(t)
}

// commandIn returns the subcommand args run (after root's flags), when it is one of commands
// and nothing in args needs the others (help, --version, a misspelt command and its
// suggestions); else "". Root flags before it are skipped as cobra parses them: a flag that
// takes a value and has no "=" takes the next argument.
func commandIn(root *cobra.Command, args []string) string {
	flags := root.PersistentFlags()
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--" || a == "-h" || a == "--help" || a == "--version" || a == "-v":
			return ""
		case strings.HasPrefix(a, "--"):
			name, _, hasValue := strings.Cut(a[2:], "=")
			f := flags.Lookup(name)
			if f == nil {
				return "" // cobra's error, with the whole tree
			}
			if !hasValue && f.NoOptDefVal == "" {
				i++
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			return "" // root has no short flags but -h and -v
		default:
			for _, c := range commands {
				if c.name == a {
					return a
				}
			}
			return ""
		}
	}
	return ""
}

// flagErrorCode is the status for a usage error other than the argument count (a value
// refused before anything is done, --detach-keys, --root): docker's run, create, start and
// exec exit 125, as they do for every error of their own; enter, exec's
// sibling, does the same. The names count at the top or under container: volume create is
// not one of them.
func flagErrorCode(c *cobra.Command) int {
	if p := c.Parent(); p != nil && p.HasParent() && p.Name() != "container" {
		return 1
	}
	switch c.Name() {
	case "run", "create", "start", "exec", "enter":
		return 125
	}
	return 1
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envList(key string) []string {
	var out []string
	for _, s := range strings.Split(os.Getenv(key), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

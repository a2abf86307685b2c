package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/runner"
)

func newLogsCmd(g *globals) *cobra.Command {
	var o runner.LogOptions
	var tail, since, until string
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Print the output of a container (any but a foreground --rm one, which keeps no log, or one with --log-driver none)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			o.Tail = parseTail(tail)
			now := time.Now()
			if o.Since, err = parseLogTime("--since", since, now); err != nil {
				return err
			}
			if o.Until, err = parseLogTime("--until", until, now); err != nil {
				return err
			}
			_, c, err := g.getContainer(args[0])
			if err != nil {
				return err
			}
			var damage runner.LogDamage
			o.Damage = &damage
			err = runner.Logs(cmd.Context(), c, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if damage.Lines > 0 {
				// After the output, not amid it: the container's stderr goes there too.
				fmt.Fprintln(cmd.ErrOrStderr(), logDamageWarning(args[0], damage))
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Follow, "follow", "f", false, "keep printing new output")
	f.StringVarP(&tail, "tail", "n", "all", "number of lines to show from the end, or all (0: none, with -f only new lines)")
	f.BoolVarP(&o.Timestamps, "timestamps", "t", false, "show timestamps")
	f.BoolVar(&o.Details, "details", false, "show the attributes of each line (a container has none: a space before each line, as docker's)")
	f.StringVar(&since, "since", "", "show logs since a time (2006-01-02T15:04:05Z, 2006-01-02, a Unix time) or a duration ago (42m)")
	f.StringVar(&until, "until", "", "show logs before a time or a duration ago, as --since")
	return cmd
}

// logDamageWarning says that lines of a container's log could not be read: logs prints what
// it can and skips the rest, as docker's reader does, but said nothing of it, so a log.json
// damaged by hand printed less with no sign that anything was left out.
func logDamageWarning(name string, d runner.LogDamage) string {
	what := "1 line"
	if d.Lines > 1 {
		what = strconv.Itoa(d.Lines) + " lines"
	}
	return oneLine(fmt.Sprintf("strata: warning: %s of the log of container %s could not be read and were skipped (the first at byte %d of %s)",
		what, name, d.First, quotePath(d.File)))
}

// parseTail reads --tail as docker does: a number prints the last that many lines, 0 none of
// the past output, and anything else ("all", a negative number, a word) every line. docker's
// daemon takes any value its strconv.Atoi refuses as all, and its reference says so: "Passing
// a negative number or a non-integer to --tail is invalid and the value is set to all".
func parseTail(s string) int {
	n, err := strconv.Atoi(s)
	switch {
	case err != nil || n < 0:
		return 0
	case n == 0:
		return runner.TailNone
	}
	return n
}

// parseLogTime reads --since and --until as docker does: empty is no bound, and so is an
// --until of 0; a Go duration
// ("42m", "1h30m") counts back from now, a negative one ("-10s") forward; otherwise a Unix time in seconds (with an optional
// fraction) or an RFC 3339 time, with or without its zone (then local), or a date alone.
func parseLogTime(flag, s string, now time.Time) (time.Time, error) {
	// docker's daemon takes --until 0 as no bound, the API's default, not as the Unix time 0
	// (which printed nothing): its logs --until 0 prints every line.
	if s == "" || flag == "--until" && s == "0" {
		return time.Time{}, nil
	}
	// "0" is the Unix time 0 (everything since 1970), not a duration of nothing ago, as
	// docker's GetTimestamp reads it: `logs --since 0` printed nothing. A negative duration
	// is a time to come, as there (reference.Add(-d)): `logs -f --until -10s` follows for
	// ten seconds more.
	if d, err := time.ParseDuration(s); err == nil && s != "0" {
		return now.Add(-d), nil
	}
	if sec, frac, ok := strings.Cut(s, "."); allDigits(sec) && (!ok || allDigits(frac)) {
		n, err := strconv.ParseInt(sec, 10, 64)
		if err == nil {
			var ns int64
			if ok {
				frac = (frac + "000000000")[:9]
				ns, _ = strconv.ParseInt(frac, 10, 64)
			}
			return time.Unix(n, ns), nil
		}
	}
	// docker's GetTimestamp's layouts: to the second, the minute or the hour, or a date
	// alone, each with a zone ("Z", "+01:00") or without one.
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04Z07:00", "2006-01-02T15:04",
		"2006-01-02T15Z07:00", "2006-01-02T15", "2006-01-02Z07:00", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid %s %s: want a time (2006-01-02T15:04:05Z07:00, 2006-01-02, a Unix time) or a duration (42m)", flag, quoteValue(s))
}

// allDigits says whether s is one or more ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

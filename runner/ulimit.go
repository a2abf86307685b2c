package runner

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/quote"
)

// Ulimit is one --ulimit: a resource limit the init sets on the container's process before it
// execs it, as docker's HostConfig.Ulimits entry (whose JSON it shares). Soft and Hard are in
// the resource's unit (bytes, seconds, a count); -1 is unlimited (RLIM_INFINITY).
type Ulimit struct {
	Name string `json:"Name"`
	Hard int64  `json:"Hard"`
	Soft int64  `json:"Soft"`
}

// ulimitResources are docker's --ulimit names (go-units ulimit.go) and the resources they set.
var ulimitResources = map[string]int{
	"core":       unix.RLIMIT_CORE,
	"cpu":        unix.RLIMIT_CPU,
	"data":       unix.RLIMIT_DATA,
	"fsize":      unix.RLIMIT_FSIZE,
	"locks":      unix.RLIMIT_LOCKS,
	"memlock":    unix.RLIMIT_MEMLOCK,
	"msgqueue":   unix.RLIMIT_MSGQUEUE,
	"nice":       unix.RLIMIT_NICE,
	"nofile":     unix.RLIMIT_NOFILE,
	"nproc":      unix.RLIMIT_NPROC,
	"rss":        unix.RLIMIT_RSS,
	"rtprio":     unix.RLIMIT_RTPRIO,
	"rttime":     unix.RLIMIT_RTTIME,
	"sigpending": unix.RLIMIT_SIGPENDING,
	"stack":      unix.RLIMIT_STACK,
}

// ulimitNames lists ulimitResources' names, sorted, for messages.
func ulimitNames() string {
	names := make([]string, 0, len(ulimitResources))
	for n := range ulimitResources {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// ParseUlimits parses --ulimit values, "TYPE=SOFT[:HARD]" each, as docker does: HARD defaults
// to SOFT, -1 is unlimited, and a later value for a type replaces an earlier one (in its
// place). A soft limit above the hard one, an unknown type or a bad number is an error.
func ParseUlimits(values []string) ([]Ulimit, error) {
	var out []Ulimit
	for _, v := range values {
		u, err := parseUlimit(v)
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(out, func(o Ulimit) bool { return o.Name == u.Name }); i >= 0 {
			out[i] = u
		} else {
			out = append(out, u)
		}
	}
	return out, nil
}

func parseUlimit(v string) (Ulimit, error) {
	name, limits, ok := strings.Cut(v, "=")
	if !ok {
		return Ulimit{}, fmt.Errorf("invalid --ulimit %s: want TYPE=SOFT[:HARD]", quote.Value(v))
	}
	soft, hard, twoValues := strings.Cut(limits, ":")
	if !twoValues {
		hard = soft
	}
	u := Ulimit{Name: name}
	var err error
	if u.Soft, err = parseLimit(soft); err == nil {
		u.Hard, err = parseLimit(hard)
	}
	if err != nil {
		return Ulimit{}, fmt.Errorf("invalid --ulimit %s: %w", quote.Value(v), err)
	}
	if err := u.validate(); err != nil {
		return Ulimit{}, fmt.Errorf("invalid --ulimit %s: %w", quote.Value(v), err)
	}
	return u, nil
}

// parseLimit reads one limit: a non-negative decimal number, or -1 for unlimited.
func parseLimit(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < -1 {
		return 0, fmt.Errorf("limit %s is not a number (or -1 for unlimited)", quote.Value(s))
	}
	return n, nil
}

// validate checks the type and that the soft limit is within the hard one.
func (u Ulimit) validate() error {
	if _, ok := ulimitResources[u.Name]; !ok {
		return fmt.Errorf("unknown type %s (want one of %s)", quote.Value(u.Name), ulimitNames())
	}
	if u.Soft < -1 || u.Hard < -1 {
		return errors.New("a limit is negative (only -1, unlimited, is allowed)")
	}
	if u.Hard != -1 && (u.Soft == -1 || u.Soft > u.Hard) {
		return fmt.Errorf("soft limit %s is above the hard limit %s", limitString(u.Soft), limitString(u.Hard))
	}
	return nil
}

// rlimit is u as setrlimit takes it.
func (u Ulimit) rlimit() (resource int, lim unix.Rlimit) {
	return ulimitResources[u.Name], unix.Rlimit{Cur: rlimValue(u.Soft), Max: rlimValue(u.Hard)}
}

func rlimValue(n int64) uint64 {
	if n == -1 {
		return unix.RLIM_INFINITY
	}
	return uint64(n)
}

func limitString(n int64) string {
	if n == -1 {
		return "unlimited"
	}
	return strconv.FormatInt(n, 10)
}

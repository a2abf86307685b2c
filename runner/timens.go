package runner

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/strata-run/strata/internal/quote"
)

// TimeNamespace gives a container a time namespace of its own (run --ns time=new), in which
// CLOCK_MONOTONIC and CLOCK_BOOTTIME read their offset more than on the host: a container can
// believe the machine booted days ago (testing uptime logic) or that it just did. No peer
// exposes this; the kernel has had it since Linux 5.6.
//
// How: unshare(CLONE_NEWTIME) does not move the caller, it makes the namespace the one its
// children get (time_for_children), and /proc/self/timens_offsets can be written only until a
// first process enters it. The init unshares, writes the offsets, and its execve of the
// command then enters the namespace (Linux 6.0 switches a task that execs to its
// time_for_children, the same as a fork would). timens_offsets belongs to the thread group
// leader, so the init must run on the main thread: this file's init() locks it there.
type TimeNamespace struct {
	// Monotonic and Boottime are the clocks' offsets; negative ones are allowed as long as
	// the clock stays positive, which the kernel checks.
	Monotonic time.Duration `json:"monotonic,omitempty"`
	Boottime  time.Duration `json:"boottime,omitempty"`
}

// ParseTimeNamespace turns run's flags into a TimeNamespace: ns are the --ns values (only
// "time=new" is known; "time=host" is the default), offsets the --time-offset value,
// "monotonic=SECS,boottime=SECS" with SECS a decimal number of seconds, possibly negative.
// It returns nil when no time namespace is asked for; offsets without --ns time=new imply it.
func ParseTimeNamespace(ns []string, offsets string) (*TimeNamespace, error) {
	var t *TimeNamespace
	for _, v := range ns {
		for _, v := range strings.Split(v, ",") {
			switch v {
			case "time=new":
				t = &TimeNamespace{}
			case "time=host", "time":
				t = nil
			default:
				return nil, fmt.Errorf("--ns %s: %w: only time=new and time=host are known", quote.Value(v), ErrUnsupported)
			}
		}
	}
	if offsets == "" {
		return t, nil
	}
	if t == nil {
		t = &TimeNamespace{}
	}
	for _, kv := range strings.Split(offsets, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		secs, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) || math.Abs(secs) > 1e9 {
			return nil, fmt.Errorf("invalid --time-offset %s: want monotonic=SECS,boottime=SECS", quote.Value(kv))
		}
		d := time.Duration(secs * float64(time.Second))
		switch k {
		case "monotonic":
			t.Monotonic = d
		case "boottime":
			t.Boottime = d
		default:
			return nil, fmt.Errorf("invalid --time-offset %s: clock %s is not monotonic or boottime", quote.Value(kv), quote.Value(k))
		}
	}
	return t, nil
}

// offsetsFile is t as /proc/<pid>/timens_offsets spells it: "<clock> <secs> <nanosecs>" per
// line, nanoseconds in [0, 1e9) (so -1.5s is "-2 500000000").
func (t TimeNamespace) offsetsFile() string {
	line := func(clock string, d time.Duration) string {
		secs := int64(d / time.Second)
		nsec := int64(d % time.Second)
		if nsec < 0 {
			secs--
			nsec += int64(time.Second)
		}
		return fmt.Sprintf("%s %d %d\n", clock, secs, nsec)
	}
	return line("monotonic", t.Monotonic) + line("boottime", t.Boottime)
}

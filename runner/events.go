package runner

import (
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/strata-run/strata/internal/events"
)

// Event appends a container event (create, start, die, kill, stop, destroy, ...) about c to
// its store's event log, with docker's attributes: extra (an exit code, a signal), the
// container's labels over them, then the image and the name, in the order docker's daemon
// sets them (LogContainerEventWithAttributes), so `events --filter label=KEY[=VALUE]`
// finds a labelled container's events. Best effort: a lost event never fails what made it.
func Event(c *Container, action string, extra map[string]string) {
	if root, m, ok := eventMessage(c, action, extra); ok {
		events.Append(root, m)
	}
}

// eventMessage is the event Event appends, stamped now, and the root whose log it goes to;
// ok is false for a container with no root to log in.
func eventMessage(c *Container, action string, extra map[string]string) (root string, m events.Message, ok bool) {
	if c == nil || c.Dir == "" {
		return "", m, false
	}
	store := filepath.Dir(c.Dir)
	if filepath.Base(store) != "containers" {
		return "", m, false // a store outside a strata root (a test's): no root to log in
	}
	m = events.New(events.Container, action, c.ID, eventAttrs(c, extra, true))
	if !events.Fits(m) {
		// Labels too big for a reader's line (events.MaxLine, which every reader skips): the
		// event goes without them, as events went before they carried labels, not lost.
		m = events.New(events.Container, action, c.ID, eventAttrs(c, extra, false))
	}
	// The root is the containers dir's parent: <root>/containers/<id>.
	return filepath.Dir(store), m, true
}

// eventAttrs is extra, c's labels over them (withLabels), then c's image and name.
func eventAttrs(c *Container, extra map[string]string, withLabels bool) map[string]string {
	attrs := make(map[string]string, len(extra)+len(c.Config.Labels)+2)
	for k, v := range extra {
		attrs[k] = v
	}
	if withLabels {
		for k, v := range c.Config.Labels {
			attrs[k] = v
		}
	}
	attrs["image"], attrs["name"] = c.Config.Image, c.Config.Name
	return attrs
}

// eventDie records c's exit, with its code, as docker's die event.
func eventDie(c *Container, code int) {
	Event(c, "die", map[string]string{"exitCode": strconv.Itoa(code)})
}

// ExecEvents logs docker's exec_create and exec_start events of an exec of args in c, when c
// runs, each with the exec's ID (execID), and returns what logs its exec_die with the same ID
// and the command's exit code once it has ended; an err there says the command never ran,
// and logs nothing. strata exec logs through it, and so do the health checks, which docker's
// daemon runs as execs (moby daemon/health.go), with the same events. The action names the
// command as docker's does (moby daemon/exec.go): "exec_create: " + the entrypoint + " " +
// the arguments joined by spaces.
func ExecEvents(c *Container, args []string) func(code int, err error) {
	if !c.State.Running() {
		return func(int, error) {} // refused: docker creates no exec either
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	// docker's words exactly: the entrypoint, a space, then its arguments joined by spaces,
	// so that a command without arguments ends in a space ("exec_start: true ").
	var what string
	if len(args) > 0 {
		what = args[0] + " " + strings.Join(args[1:], " ")
	}
	Event(c, "exec_create: "+what, map[string]string{"execID": id})
	Event(c, "exec_start: "+what, map[string]string{"execID": id})
	return func(code int, err error) {
		if err == nil {
			Event(c, "exec_die", map[string]string{"execID": id, "exitCode": strconv.Itoa(code)})
		}
	}
}

package runner

import (
	"path/filepath"
	"strconv"

	"github.com/strata-run/strata/internal/events"
)

// Event appends a container event (create, start, die, kill, stop, destroy, ...) about c to
// its store's event log, with docker's attributes: the image, the name and extra (an exit
// code, a signal). Best effort: a lost event never fails what made it.
func Event(c *Container, action string, extra map[string]string) {
	if c == nil || c.Dir == "" {
		return
	}
	store := filepath.Dir(c.Dir)
	if filepath.Base(store) != "containers" {
		return // a store outside a strata root (a test's): no root to log in
	}
	attrs := map[string]string{"image": c.Config.Image, "name": c.Config.Name}
	for k, v := range extra {
		attrs[k] = v
	}
	// The root is the containers dir's parent: <root>/containers/<id>.
	events.Append(filepath.Dir(store), events.New(events.Container, action, c.ID, attrs))
}

// eventDie records c's exit, with its code, as docker's die event.
func eventDie(c *Container, code int) {
	Event(c, "die", map[string]string{"exitCode": strconv.Itoa(code)})
}

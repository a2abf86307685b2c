package progress

import (
	"fmt"

	"github.com/strata-run/strata/cache"
)

// writePlain prints the line for a layer's state change, like docker's non-TTY output; Event
// calls it only on changes so logs stay short: repeated Downloading events print nothing.
func (r *Renderer) writePlain(l *layer, e cache.Event) {
	fmt.Fprintf(r.w, "%s: %s\n", l.id, status(l, e))
}

// status is the docker-style text for a layer's state.
func status(l *layer, e cache.Event) string {
	switch e.Kind {
	case cache.Waiting:
		return "Waiting"
	case cache.Exists:
		return "Already exists"
	case cache.Downloading:
		return "Downloading " + HumanSize(e.Total)
	case cache.Resuming:
		if e.Err != nil {
			return fmt.Sprintf("Resuming at %s/%s after: %s", HumanSize(e.Current), HumanSize(e.Total), oneLine(e.Err.Error()))
		}
		return fmt.Sprintf("Resuming at %s/%s", HumanSize(e.Current), HumanSize(e.Total))
	case cache.Verifying:
		return "Verifying Checksum"
	case cache.Extracting:
		return "Extracting"
	case cache.Done:
		if l.extracted {
			return "Pull complete"
		}
		return "Download complete"
	case cache.Failed:
		if e.Err != nil {
			return "Failed: " + oneLine(e.Err.Error())
		}
		return "Failed"
	}
	return e.Kind.String()
}

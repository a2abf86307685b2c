package progress

import (
	"encoding/json"

	"github.com/strata-run/strata/cache"
)

// jsonEvent is one line of JSON output. Field names are stable: scripts parse them.
type jsonEvent struct {
	Digest  string `json:"digest"`
	Status  string `json:"status"`
	Current int64  `json:"current"`
	Total   int64  `json:"total"`
	Error   string `json:"error,omitempty"`
}

// writeJSON prints every event as one JSON object on its own line.
func (r *Renderer) writeJSON(e cache.Event) {
	je := jsonEvent{Digest: e.Digest.String(), Status: e.Kind.String(), Current: e.Current, Total: e.Total}
	if e.Err != nil {
		je.Error = e.Err.Error()
	}
	b, err := json.Marshal(je)
	if err != nil {
		// Cannot happen for these field types; a progress line is not worth failing a pull.
		return
	}
	r.w.Write(append(b, '\n'))
}

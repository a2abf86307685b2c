package cache

import v1 "github.com/google/go-containerregistry/pkg/v1"

// EventKind is the state of one layer during WriteImage.
type EventKind int

// The states a layer goes through. A downloaded layer goes Waiting → Downloading (repeated,
// Current rising) → Verifying → [Extracting →] Done; a resumed one reports Resuming first,
// and again after each dropped connection. A stored one goes Waiting → Exists, and through
// Extracting → Done when NeedLayer asks for it. Any layer may end in Failed.
const (
	// Waiting: queued behind Concurrency, or behind another process downloading the same blob.
	Waiting EventKind = iota
	// Exists: the blob is already stored; nothing is downloaded.
	Exists
	// Downloading: Current of Total bytes are on disk.
	Downloading
	// Resuming: a download continues from Current, either from a .partial file left by an
	// earlier pull or after a dropped connection (then Err says why it dropped).
	Resuming
	// Verifying: all bytes are on disk and the digest is being checked.
	Verifying
	// Extracting: the blob is stored and the Layer callback is still consuming it.
	Extracting
	// Done: the blob is stored (and the Layer callback, if any, returned nil).
	Done
	// Failed: the layer failed with Err; WriteImage returns an error.
	Failed
)

var kindNames = [...]string{"waiting", "exists", "downloading", "resuming", "verifying", "extracting", "done", "failed"}

// String returns the lower-case name of k, as progress's JSON output uses it.
func (k EventKind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// MarshalText makes EventKind appear by name in JSON.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Event reports the progress of one layer blob. Config and manifest blobs are small and are
// not reported, as docker does not show them either.
type Event struct {
	Digest v1.Hash
	Kind   EventKind
	// Current is the number of bytes on disk for Downloading, Resuming and Verifying.
	Current int64
	// Total is the blob's size from the manifest.
	Total int64
	// Err is set for Failed, and for Resuming after a dropped connection.
	Err error
}

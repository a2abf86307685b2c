package archive

import v1 "github.com/google/go-containerregistry/pkg/v1"

// EventKind says what happened to one entry, blob or ref.
type EventKind int

// The events Save and Load report, in the order they happen for one blob.
const (
	// Read: Load read (and, from a tar stream, staged) an entry of the archive.
	Read EventKind = iota
	// Exists: the blob is already in the store (Load) and is not written again.
	Exists
	// Stored: the blob was written into the store (Load) or into the archive (Save).
	Stored
	// Tagged: a ref now names a loaded image.
	Tagged
)

// String returns the lower-case name of k.
func (k EventKind) String() string {
	switch k {
	case Read:
		return "read"
	case Exists:
		return "exists"
	case Stored:
		return "stored"
	case Tagged:
		return "tagged"
	}
	return "unknown"
}

// Event reports progress. Name is the entry name for Read and the ref for Tagged; Digest and
// Size describe the blob (Size is the entry's size for Read).
type Event struct {
	Kind   EventKind
	Name   string
	Digest v1.Hash
	Size   int64
}

// report calls fn with e if fn is set: progress is optional everywhere.
func report(fn func(Event), e Event) {
	if fn != nil {
		fn(e)
	}
}

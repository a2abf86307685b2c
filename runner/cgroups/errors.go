package cgroups

import (
	"errors"
	"fmt"

	"github.com/strata-run/strata/internal/quote"
)

// Sentinels callers branch on with errors.Is.
var (
	// ErrNotFound means the container's cgroup does not exist (Load of an unknown name).
	ErrNotFound = errors.New("cgroup not found")
	// ErrExists means a cgroup of that name already exists: another container owns it, or a
	// crashed run left it behind. New never adopts or removes it.
	ErrExists = errors.New("cgroup already exists")
	// ErrUnsupported means a requested limit cannot be enforced on this host: its controller is
	// not mounted or enabled, swap accounting is off, or the CPUs asked for are not allowed.
	ErrUnsupported = errors.New("limit not supported by this host's cgroups")
	// ErrBusy means a cgroup could not be removed because processes are still in it (Delete
	// without Kill first, or a process stuck in the kernel).
	ErrBusy = errors.New("cgroup still has processes")
	// ErrInvalid means a value (a flag, a limit, a name) is malformed or out of range.
	ErrInvalid = errors.New("invalid value")
)

// ValueError is a malformed or out-of-range user value, e.g. --memory 12x. Its message is what
// docker prints for the same mistake, so users recognize it; it matches ErrInvalid.
type ValueError struct {
	What   string // "memory", "cpus", "cpuset cpus", ...
	Value  string // the value as the user gave it
	Reason string // optional: why it is invalid
}

// Error reads like docker's message for the same value: invalid memory value "12x".
func (e *ValueError) Error() string {
	msg := fmt.Sprintf("invalid %s value %s", e.What, quote.Value(e.Value))
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Unwrap lets errors.Is(err, ErrInvalid) hold for every ValueError.
func (e *ValueError) Unwrap() error { return ErrInvalid }

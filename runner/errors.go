package runner

import (
	"errors"
	"fmt"
)

// Exit codes strata uses for its own failures, as docker and podman do.
const (
	// ExitOwnError means strata (or the init before exec) failed.
	ExitOwnError = 125
	// ExitCannotInvoke means the command exists but could not be executed.
	ExitCannotInvoke = 126
	// ExitNotFound means the command was not found.
	ExitNotFound = 127
)

var (
	// ErrNoCommand means neither the image nor the flags give a command to run.
	ErrNoCommand = errors.New("no command specified")
	// ErrNotFound means no container matches a name, ID or ID prefix.
	ErrNotFound = errors.New("no such container")
	// ErrAmbiguous means an ID prefix matches more than one container.
	ErrAmbiguous = errors.New("container id prefix is ambiguous")
	// ErrNameInUse means another container already has the requested name.
	ErrNameInUse = errors.New("name already in use")
	// ErrRunning means the operation needs a container that is not running.
	ErrRunning = errors.New("container is running")
	// ErrNotRunning means the operation needs a running container.
	ErrNotRunning = errors.New("container is not running")
	// ErrRestarting is an act that needs a running container (pause, exec, top) on one in
	// its restart policy's backoff, in docker's words; it is ErrNotRunning too.
	ErrRestarting error = restartingError{}
	// ErrAlreadyPaused is pause of a paused container ("container ID is already paused").
	ErrAlreadyPaused = errors.New("already paused")
	// ErrNotPaused is unpause of a container that is not paused ("container ID is not paused").
	ErrNotPaused = errors.New("not paused")
	// ErrRemovedOnExit means the container ended and was removed with it (--rm), so its exit
	// status is gone.
	ErrRemovedOnExit = errors.New("container was removed when it exited (--rm)")
	// ErrUnsupported means a flag value strata does not implement.
	ErrUnsupported = errors.New("not supported")
	// ErrUnknownUser means the user or group is not in the container's passwd or group file.
	ErrUnknownUser = errors.New("no matching entries")
)

// ExitCodeError is an error with the exit status strata should end with: 125 for strata's own
// failures, 126 when the command cannot be executed, 127 when it is not found.
type ExitCodeError struct {
	Code int
	Err  error
}

// Error returns the wrapped error's message: the code is for the exit status, not the text.
func (e *ExitCodeError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *ExitCodeError) Unwrap() error { return e.Err }

// withCode wraps err in an ExitCodeError unless it already carries one.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	var ec *ExitCodeError
	if errors.As(err, &ec) {
		return err
	}
	return &ExitCodeError{Code: code, Err: err}
}

// NameInUseError says which container holds a name, as docker does.
type NameInUseError struct {
	Name, ID string
}

// Error words the conflict as docker does, so users recognize it.
func (e *NameInUseError) Error() string {
	return fmt.Sprintf("the container name %q is already in use by container %q: you have to remove (or rename) that container to be able to reuse that name", "/"+e.Name, e.ID)
}

// Is makes errors.Is(err, ErrNameInUse) true.
func (e *NameInUseError) Is(target error) bool { return target == ErrNameInUse }

// restartingError is ErrRestarting: docker counts a restarting container as running, and
// refuses these acts with "Container ID is restarting, wait until the container is running",
// where strata said "container is not running".
type restartingError struct{}

func (restartingError) Error() string {
	return "container is restarting, wait until the container is running"
}

func (restartingError) Is(target error) bool { return target == ErrNotRunning }

package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/strata-run/strata/internal/safefile"
	"golang.org/x/sys/unix"
)

// Status is a container's lifecycle state, as docker names them.
type Status string

// The statuses a container moves through: created → running → exited (→ running again on
// start).
const (
	StatusCreated Status = "created"
	StatusRunning Status = "running"
	StatusExited  Status = "exited"
	// StatusDead is a broken container's (Container.Broken), as docker calls one it could
	// not remove: it can only be removed.
	StatusDead Status = "dead"
)

// ExitUnknown is the exit code recorded for a container whose monitor vanished without
// recording one (killed, or the machine rebooted).
const ExitUnknown = 255

// Config is a container's config.json: what to run and how it was asked for.
type Config struct {
	Spec Spec `json:"spec"`
	// Image is the image reference the container was created from, as the user wrote it.
	Image string `json:"image"`
	// ImageID is the image's config digest, when cmd knows it.
	ImageID string `json:"imageId,omitempty"`
	// Name is the container's unique name, without docker's leading "/".
	Name string `json:"name"`
	// Created is when the container was created (UTC).
	Created time.Time `json:"created"`
	// AutoRemove removes the container when it exits (--rm).
	AutoRemove bool `json:"autoRemove,omitempty"`
	// StopSignal is the signal Stop sends first ("SIGQUIT", "3"): --stop-signal, else the
	// image's STOPSIGNAL; empty means SIGTERM.
	StopSignal string `json:"stopSignal,omitempty"`
	// StopTimeout is how many seconds stop waits by default before SIGKILL (--stop-timeout);
	// nil means docker's 10.
	StopTimeout *int `json:"stopTimeout,omitempty"`
	// EntrypointArgs is how many of Spec.Args are the entrypoint (EffectiveEntrypoint), the
	// rest being the command, as inspect shows them apart.
	EntrypointArgs int `json:"entrypointArgs,omitempty"`
	// ExposedPorts are the image's EXPOSE ports ("80/tcp"), copied at creation as docker
	// copies them into the container's config; inspect shows them. Absent in containers
	// made before strata kept them.
	ExposedPorts map[string]struct{} `json:"exposedPorts,omitempty"`
	// Labels are the image's labels with --label-file's and --label's over them
	// (MergeLabels), as docker keeps them in the container's config.
	Labels map[string]string `json:"labels,omitempty"`
	// AttachStdin, AttachStdout, AttachStderr and StdinOnce are docker's for how the
	// container was made: run and create attach stdout and stderr, and with -i stdin, which
	// closes when that client leaves (StdinOnce); run -d attaches nothing. Containers made
	// before strata kept them read as false, docker's zero values.
	AttachStdin  bool `json:"attachStdin,omitempty"`
	AttachStdout bool `json:"attachStdout,omitempty"`
	AttachStderr bool `json:"attachStderr,omitempty"`
	StdinOnce    bool `json:"stdinOnce,omitempty"`
	// ArgsEscaped is the image's, kept when the container runs the image's command (no
	// command, no --entrypoint), as docker merges it; it means something on Windows only.
	ArgsEscaped bool `json:"argsEscaped,omitempty"`
	// Healthcheck is the image's HEALTHCHECK with the --health-* flags over it
	// (MergeHealthConfig), as docker's daemon keeps it in the container's config, which the
	// container's monitor runs (health.go); nil without one.
	Healthcheck *HealthConfig `json:"healthcheck,omitempty"`
	// RestartPolicy is --restart (restart.go); zero is "no".
	RestartPolicy RestartPolicy `json:"restartPolicy,omitzero"`
	// LogConfig is --log-driver and --log-opt (logconfig.go); zero is json-file without
	// options, as containers made before strata kept it.
	LogConfig LogConfig `json:"logConfig,omitzero"`
	// ConsoleSize is the rows and columns a -t container's terminal starts with when no
	// terminal of the user's is at hand to size it: docker's HostConfig.ConsoleSize, which
	// run -it records from the user's terminal. Its detached monitor starts the container,
	// and the attach that sizes the terminal comes only once the command runs: a first
	// `stty size` read 0 0. Zero leaves the terminal unsized until a client sizes it.
	ConsoleSize [2]uint16 `json:"consoleSize,omitzero"`
	// VolumesFrom are the --volumes-from values as given (CONTAINER[:MODE]), which inspect
	// shows; the mounts they gave are in Spec.Mounts.
	VolumesFrom []string `json:"volumesFrom,omitempty"`
}

// HealthConfig is docker's HealthConfig (moby api/types/container), with its JSON names:
// the test ({"CMD", args...}, {"CMD-SHELL", command} or {"NONE"}) and its timings, zero
// meaning the default.
type HealthConfig struct {
	Test          []string      `json:",omitempty"`
	Interval      time.Duration `json:",omitempty"`
	Timeout       time.Duration `json:",omitempty"`
	StartPeriod   time.Duration `json:",omitempty"`
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

// DefaultStopTimeout is how long stop waits for a container that sets no StopTimeout.
const DefaultStopTimeout = 10

// StopSignalOf returns the signal Stop sends c first: its Config.StopSignal, or SIGTERM when
// that is empty or does not parse. An image's STOPSIGNAL is recorded as the image has it,
// checked nowhere, as docker's daemon records it (only --stop-signal is validated, before the
// image's config is merged) and its container.StopSignal falls back to SIGTERM the same way:
// a bad value in an image, or in a config.json edited by hand, never keeps a container from
// stopping.
func StopSignalOf(c *Container) syscall.Signal {
	if c.Config.StopSignal == "" {
		return syscall.SIGTERM
	}
	sig, err := ParseSignal(c.Config.StopSignal)
	if err != nil {
		return syscall.SIGTERM
	}
	return sig
}

// State is a container's state.json: how it runs or how it ended.
type State struct {
	Status Status `json:"status"`
	// Pid is the host pid of the container's PID 1 while it runs.
	Pid int `json:"pid,omitempty"`
	// MonitorPid is the strata process that waits for the container: the monitor when
	// detached, `strata run` itself in the foreground. Its start time (clock ticks since
	// boot, /proc/<pid>/stat field 22) tells it apart from a later process with the same pid.
	MonitorPid   int    `json:"monitorPid,omitempty"`
	MonitorStart uint64 `json:"monitorStart,omitempty"`
	ExitCode     int    `json:"exitCode"`
	OOMKilled    bool   `json:"oomKilled,omitempty"`
	// Error is why the container failed to start, if it did.
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// Restarting: the container exited and its monitor waits RestartDelay to start it again
	// (its restart policy), or the monitor that start spawned is starting it; believed only
	// while that monitor lives (effective).
	// RestartCount is how many times the policy restarted it since a start by hand, as
	// docker's; RestartDelay is the backoff's last wait.
	Restarting   bool          `json:"restarting,omitempty"`
	RestartCount int           `json:"restartCount,omitempty"`
	RestartDelay time.Duration `json:"restartDelay,omitempty"`
}

// Running reports whether the state says the container runs, its monitor is alive and its
// PID 1 is the monitor's child. A running state whose monitor is gone is stale: the container
// died with it (the init has the monitor as parent-death signal source). One whose Pid is
// not the monitor's child names some other process (a pid used again, or a forged state),
// which nothing may then signal or inspect as the container.
func (s State) Running() bool {
	if s.Status != StatusRunning || !processAlive(s.MonitorPid, s.MonitorStart) {
		return false
	}
	if s.Pid <= 0 {
		return true
	}
	ppid, _, err := processStat(s.Pid)
	return err == nil && ppid == s.MonitorPid
}

// starting reports whether another process is starting the container: it is created and
// names a live monitor (a foreground run records itself before the container runs).
func (s State) starting() bool {
	return s.Status == StatusCreated && s.MonitorPid != 0 && s.MonitorPid != os.Getpid() &&
		processAlive(s.MonitorPid, s.MonitorStart)
}

// startingOther reports whether another strata process is starting container id, whose dir
// is dir: s is starting and names id's monitor (isMonitorOf). A created state naming any other
// live process with its true start time (a hand edit, pids and start times that other
// processes took after a reboot, or another strata process: a `strata events -f`, another
// container's monitor) starts nothing, and start, rm and logs -f waited on it or refused the
// container for as long as that process lived.
func (s State) startingOther(id, dir string) bool {
	return s.starting() && isMonitorOf(s.MonitorPid, id, dir)
}

// exiting reports whether s says running, its monitor lives and its PID 1 is gone or a
// zombie: the container has just exited, and its monitor records the exit status next.
func (s State) exiting() bool {
	if s.Status != StatusRunning || s.Pid <= 0 || !processAlive(s.MonitorPid, s.MonitorStart) {
		return false
	}
	_, _, err := processStat(s.Pid)
	return err != nil
}

// NeverStarted reports whether s is an exited state of a container that never ran: its start
// failed (an executable not found, 127: an error recorded, no start time) and no earlier one
// succeeded. Docker shows such a container as created (its StateString: not running,
// StartedAt zero), and so do ps, inspect and system df; wait and start treat it as exited. A
// running state found stale (ExitUnknown) ran, whatever its start time.
func (s State) NeverStarted() bool {
	return s.Status == StatusExited && s.StartedAt.IsZero() && s.Error != "" && s.ExitCode != ExitUnknown
}

// effective is the state as users should see it: a stale "running" becomes exited. An
// exiting container stays running until its monitor records how it ended (ExitUnknown read
// meanwhile was `strata wait` printing 255 for a container that exited 5), though nothing
// may signal it (Running).
func (s State) effective() State {
	if s.Restarting && (s.Status == StatusRunning || !processAlive(s.MonitorPid, s.MonitorStart)) {
		s.Restarting = false // its monitor died in the backoff: nothing restarts it
	}
	if s.Status == StatusRunning && !s.Running() && !s.exiting() {
		return s.stale("container monitor exited without recording the container's status")
	}
	return s
}

// stale is s, a running state that describes no process of the container, as exited with
// ExitUnknown; why is its Error unless it has one.
func (s State) stale(why string) State {
	s.Status = StatusExited
	s.Pid = 0
	s.ExitCode = ExitUnknown
	if s.Error == "" {
		s.Error = why
	}
	return s
}

// effectiveFor is effective for container id: a running state is believed only while its
// PID 1 is in the container's cgroup, named by its random ID (or has just exited, exiting).
// A state.json naming a live process and one of its children with their true start times (a
// hand edit, or a stale state after a reboot whose pids now belong to other processes) would
// otherwise read as running for ever: ps showed it Up, wait waited on the unrelated process
// and start refused the container, though nothing could signal it (watchRun, RunningPid).
func (s State) effectiveFor(id string) State {
	s = s.effective()
	if s.Status == StatusRunning && (s.Pid <= 0 || !inCgroupOf(s.Pid, id)) && !s.exiting() {
		return s.stale("the recorded process is not the container's")
	}
	return s
}

// processAlive reports whether pid runs and started at start. Every monitor strata records
// has its start time: without one, pid may be any process that took the number since.
func processAlive(pid int, start uint64) bool {
	if pid <= 0 || start == 0 {
		return false
	}
	got, err := processStart(pid)
	return err == nil && got == start
}

// processStart reads a process's start time from /proc/<pid>/stat. A zombie counts as gone.
func processStart(pid int) (uint64, error) {
	_, start, err := processStat(pid)
	return start, err
}

// processStat reads a process's parent and start time from /proc/<pid>/stat. A zombie
// counts as gone.
func processStat(pid int) (ppid int, start uint64, err error) {
	b, err := readProcStat(pid)
	if err != nil {
		return 0, 0, err
	}
	// The command name may contain spaces and parentheses: fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state), so field 4 (ppid) is f[1] and field 22 (starttime) f[19].
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	if string(f[0]) == "Z" || string(f[0]) == "X" {
		return 0, 0, fmt.Errorf("process %d is a zombie", pid)
	}
	if ppid, err = strconv.Atoi(string(f[1])); err != nil {
		return 0, 0, fmt.Errorf("parsing /proc/%d/stat: %w", pid, err)
	}
	start, err = strconv.ParseUint(string(f[19]), 10, 64)
	return ppid, start, err
}

// readProcStat reads /proc/<pid>/stat with an open, one read and a close: orphan sweeps read
// it for every --rm container in the store, and os.ReadFile costs twice the syscalls (a stat,
// a poller registration, a read to EOF). A stat line longer than the buffer (a kernel with
// many more fields) is read whole.
func readProcStat(pid int) ([]byte, error) {
	name := "/proc/" + strconv.Itoa(pid) + "/stat"
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	var buf [1024]byte
	n, err := unix.Read(fd, buf[:])
	unix.Close(fd)
	switch {
	case err != nil:
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	case n == len(buf):
		return os.ReadFile(name)
	}
	return buf[:n], nil
}

// maxJSONSize bounds config.json and state.json. Strata writes them at a few KiB (a config
// with a 70 KB command or 100 layers stays far below); a bigger one is not strata's, and
// reading it whole would cost that much memory in every ps.
const maxJSONSize = 16 << 20

// readJSON decodes a small JSON file that strata wrote. It reads only a regular file, never
// through a symlink (a hand-made config.json -> /etc/shadow is refused), never blocking (a
// FIFO in its place would hang every ps), and at most maxJSONSize bytes.
func readJSON(name string, v any) error {
	b, err := readSmallFile(name, maxJSONSize)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return &decodeError{name: name, err: err}
	}
	return nil
}

// decodeError is readJSON's for a file that is no JSON of the value's shape: bad syntax, a
// wrong type, a value its type's own decoder refuses (a time that does not parse), or a state
// strata never writes (readState). Whatever the cause, the file is unusable (isUnusable).
type decodeError struct {
	name string
	err  error
}

func (e *decodeError) Error() string { return fmt.Sprintf("decoding %s: %v", e.name, e.err) }
func (e *decodeError) Unwrap() error { return e.err }

// readState reads the state.json at name: a decodeError for one whose status is none that
// strata records (null, {}, a hand edit), whose processes nothing shows to run.
func readState(name string, st *State) error {
	if err := readJSON(name, st); err != nil {
		return err
	}
	switch st.Status {
	case StatusCreated, StatusRunning, StatusExited:
		return nil
	}
	return &decodeError{name: name, err: fmt.Errorf("status %q is none that strata records", st.Status)}
}

// writeJSON writes v to name atomically; durable adds an fsync before the rename.
func writeJSON(name string, v any, durable bool) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", name, err)
	}
	return writeFileReplace(name, append(b, '\n'), 0o600, durable)
}

// readSmallFile reads the regular file name, of at most limit bytes, without following a
// symlink at its last component or blocking on a FIFO or device in its place.
func readSmallFile(name string, limit int64) ([]byte, error) {
	return safefile.Read(name, os.O_RDONLY|safefile.NoFollow, limit)
}

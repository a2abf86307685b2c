package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/quote"
)

// EnterOptions are `strata enter`'s flags.
type EnterOptions struct {
	// Namespaces are the namespaces to join, by their /proc/<pid>/ns names: "net", "pid",
	// "uts", "ipc", "mnt", "cgroup", or "all" for every one of them. Empty means "net".
	Namespaces []string
	// Args is the command, a HOST binary looked up in Env's $PATH on the host.
	Args []string
	// Env is the command's environment; nil means strata's own.
	Env []string
	// Cwd is the working directory, a host path; empty means strata's own, as nsenter keeps
	// the caller's.
	Cwd string
	// Terminal allocates a pseudo-terminal; Stdin keeps stdin attached.
	Terminal bool
	Stdin    bool
}

// enterKinds are the namespaces Enter accepts by name.
var enterKinds = map[string]uintptr{
	"net": unix.CLONE_NEWNET, "pid": unix.CLONE_NEWPID, "uts": unix.CLONE_NEWUTS,
	"ipc": unix.CLONE_NEWIPC, "mnt": unix.CLONE_NEWNS, "cgroup": unix.CLONE_NEWCGROUP,
}

// ParseNamespaces turns Enter's namespace names ("net,pid" split or not, "all") into a
// validated, de-duplicated list; an unknown name is an error naming the accepted ones.
func ParseNamespaces(names []string) ([]string, error) {
	if len(names) == 0 {
		return []string{"net"}, nil
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		for _, n := range strings.Split(n, ",") {
			n = strings.TrimSpace(n)
			if n == "all" {
				return []string{"mnt", "uts", "ipc", "pid", "net", "cgroup"}, nil
			}
			if _, ok := enterKinds[n]; !ok {
				return nil, fmt.Errorf("unknown namespace %s: want net, pid, uts, ipc, mnt, cgroup or all", quote.Value(n))
			}
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// Enter runs a host binary (ip, ss, tcpdump, strace, gdb, a shell) in some namespaces of
// running container c, for debugging images that have no tools, as nsenter --target does.
// The command keeps the host's filesystem: without "mnt" it never leaves the host's mount
// namespace; with "mnt" it joins the container's and then returns to the host's root
// through a directory fd opened before, so /proc/self/mountinfo shows the container's
// mounts while paths resolve on the host. Either way the container's own files are at
// /proc/<pid>/root, <pid> being the container's host pid (State.Pid).
//
// With "pid" the command gets a pid in the container's pid namespace (it can signal and
// ptrace the container's processes by their pids), but /proc stays the host's, so ps and top
// list the host's processes; the container's are under /proc/<pid>/root/proc.
//
// The command runs with strata's credentials: root, every capability, no seccomp filter,
// outside the container's cgroup. Its exit status is returned as Exec's is.
func Enter(ctx context.Context, c *Container, opts EnterOptions, stdio Stdio) (int, error) {
	code, err := enter(ctx, c, opts, stdio)
	if err != nil {
		err = withCode(ExitOwnError, fmt.Errorf("%s: %w", joinDoing("entering", c, err), err))
		var ec *ExitCodeError
		errors.As(err, &ec)
		return ec.Code, err
	}
	return code, nil
}

func enter(ctx context.Context, c *Container, opts EnterOptions, stdio Stdio) (int, error) {
	if len(opts.Args) == 0 {
		return ExitOwnError, ErrNoCommand
	}
	names, err := ParseNamespaces(opts.Namespaces)
	if err != nil {
		return ExitOwnError, err
	}
	var want uintptr
	for _, n := range names {
		want |= enterKinds[n]
	}
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	cwd := opts.Cwd
	switch {
	case cwd == "":
		if cwd, err = os.Getwd(); err != nil {
			cwd = "/"
		}
	case !filepath.IsAbs(cwd):
		// A host path, taken from where strata runs, as a shell's cd takes it: the helper
		// would take it from the host's / once it has joined the mount namespace, and from
		// strata's working directory without it.
		if cwd, err = filepath.Abs(cwd); err != nil {
			return ExitOwnError, fmt.Errorf("working directory %q: %w", opts.Cwd, err)
		}
	}
	req := joinRequest{Args: opts.Args, Env: env, Cwd: cwd, HostRoot: true, Terminal: opts.Terminal}
	pid, pidfd, err := joinTarget(c)
	if err != nil {
		return ExitOwnError, err
	}
	defer pidfd.Close()
	if req.Flags, err = containerNamespaces(pid, want); err != nil {
		return ExitOwnError, err
	}
	return runJoin(ctx, req, 0, pidfd, nil, stdio, opts.Stdin, nil, nil)
}

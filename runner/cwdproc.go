package runner

import (
	"fmt"
	"strings"
)

// procSelfCwd rewrites an exec working directory that goes through /proc/self or
// /proc/thread-self: the helper that enters it is not in the container's pid namespace (only
// the command it forks is), so the container's /proc has no self for it, and `-w
// /proc/self/cwd` failed with "no such file or directory". runc enters the working directory
// from its init, already in the container's pid namespace, whose cwd and root are then the
// container's root (setns into the mount namespace put them there): /proc/self/cwd and
// /proc/self/root name "/" there, and docker exec -w /proc/self/cwd runs in /. So do they
// here: the prefix up to them becomes "/", the rest is entered as it is, and the result is
// checked to lie in the container's root as any working directory is (verifyCwd). Anything
// else under /proc/self (fd/N, task/..., the directory itself) names the helper's own
// process, which the command does not see: refused, in a line. The prefix is read as the
// kernel walks a path (empty and "." components skipped, ".." one up) through / and /proc
// only, where no link can be: a path through anything else is left as it is.
func procSelfCwd(cwd string) (string, error) {
	parts := strings.Split(cwd, "/")
	var stack []string
	for i, p := range parts {
		switch p {
		case "", ".":
			continue
		case "..":
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		stack = append(stack, p)
		switch {
		case len(stack) == 1 && p == "proc":
			continue
		case len(stack) == 2 && (p == "self" || p == "thread-self"):
			continue
		case len(stack) == 3 && (p == "cwd" || p == "root"):
			return "/" + strings.Join(parts[i+1:], "/"), nil
		case len(stack) == 3:
			return "", fmt.Errorf("working directory %s: under /proc/%s only cwd and root can be entered: strata enters the working directory before the command has a process in the container", cwd, stack[1])
		}
		return cwd, nil // not through /proc/self
	}
	if len(stack) == 2 {
		return "", fmt.Errorf("working directory %s: /proc/%s itself cannot be entered: strata enters the working directory before the command has a process in the container", cwd, stack[1])
	}
	return cwd, nil
}

package runner

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-run/strata/internal/quote"
)

// namespacedSysctls are the sysctls outside fs.mqueue and net that a container may set:
// the IPC namespace's, as docker's allowlist (cli opts.ValidateSysctl, runc's validator).
// kernel.domainname is the UTS namespace's, which every strata container has of its own.
var namespacedSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true,
	"kernel.shm_rmid_forced": true, "kernel.domainname": true,
}

// maxSysctlValue bounds a --sysctl value: the kernel reads at most a page of a /proc/sys write.
const maxSysctlValue = 4096

// ParseSysctl splits one --sysctl KEY=VALUE; validateSysctl checks it.
func ParseSysctl(v string) (key, value string, err error) {
	key, value, ok := strings.Cut(v, "=")
	if !ok || key == "" {
		return "", "", fmt.Errorf("invalid --sysctl %s: want KEY=VALUE", quote.Value(v))
	}
	return key, value, nil
}

// validateSysctl refuses a sysctl the container may not set, as docker does: only namespaced
// ones (namespacedSysctls, fs.mqueue.*, and net.* when the container has a network namespace
// of its own), with a key of dot-separated names and a value the kernel can take.
func validateSysctl(key, value, network string) error {
	valid := key != "" && len(key) <= 256
	for _, part := range strings.Split(key, ".") {
		if part == "" || strings.Trim(part, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
			valid = false
		}
	}
	switch {
	case !valid:
		return fmt.Errorf("invalid sysctl %s: want dot-separated names of letters, digits, _ and -", quote.Value(key))
	case key == "kernel.hostname":
		return fmt.Errorf("sysctl %q is not allowed: it conflicts with --hostname", key)
	case strings.HasPrefix(key, "net."):
		if network == NetworkHost {
			return fmt.Errorf("sysctl %q is not allowed in host network namespace", key)
		}
	case namespacedSysctls[key], strings.HasPrefix(key, "fs.mqueue."):
	default:
		return fmt.Errorf("sysctl %q is not whitelisted: only namespaced sysctls (kernel.msg*, kernel.sem, kernel.shm*, kernel.domainname, fs.mqueue.*, net.*) may be set", key)
	}
	switch {
	case value == "":
		return fmt.Errorf("invalid sysctl %s: empty value", quote.Value(key))
	case len(value) > maxSysctlValue:
		return fmt.Errorf("invalid sysctl %s: the value is %d bytes, the kernel takes at most %d", quote.Value(key), len(value), maxSysctlValue)
	case strings.ContainsAny(value, "\x00\n"):
		return fmt.Errorf("invalid sysctl %s: the value %s holds a NUL byte or a newline", quote.Value(key), strconv.Quote(value))
	}
	return nil
}

// hostNamespaceSysctl refuses a namespaced sysctl whose namespace is the host's (--ipc host,
// --uts host), as runc's validator does: the init would write the host's own.
func hostNamespaceSysctl(key, ipcMode, utsMode string) error {
	switch {
	case key == "kernel.domainname":
		if utsMode == NSHost {
			return fmt.Errorf("sysctl %q is not allowed in the host's UTS namespace (--uts host)", key)
		}
	case ipcMode == NSHost && (namespacedSysctls[key] || strings.HasPrefix(key, "fs.mqueue.")):
		return fmt.Errorf("sysctl %q is not allowed in the host's IPC namespace (--ipc host)", key)
	}
	return nil
}

// sysctlSteps are the plan's writes of sysctls, by key for a stable order: Target is the file
// under /proc/sys, Source the key, Data the value.
func sysctlSteps(sysctls map[string]string) []Step {
	keys := make([]string, 0, len(sysctls))
	for k := range sysctls {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	steps := make([]Step, 0, len(keys))
	for _, k := range keys {
		steps = append(steps, Step{Op: OpSysctl, Target: path.Join("/proc/sys", strings.ReplaceAll(k, ".", "/")), Source: k, Data: sysctls[k]})
	}
	return steps
}

// validateOomScoreAdj checks --oom-score-adj's range, in docker's words.
func validateOomScoreAdj(n *int) error {
	if n != nil && (*n < -1000 || *n > 1000) {
		return fmt.Errorf("invalid value %d, range for oom score adj is [-1000, 1000]", *n)
	}
	return nil
}

package runner

import (
	"slices"
	"strings"
)

// goRuntimeVars are the variables a Go program's runtime reads as it starts, before main can
// undo them: GORACE and GOCOVERDIR in race and coverage builds only.
var goRuntimeVars = []string{"GODEBUG", "GOGC", "GOMAXPROCS", "GOMEMLIMIT", "GOTRACEBACK", "GORACE", "GOCOVERDIR"}

// oneP is the GOMAXPROCS of the helpers strata starts beside a container: its init (until it
// execs the command, which gets the container's environment, not the init's), its detached
// monitor and the killer of an interrupted stop. Each does one thing at a time and is no
// parallel computation; with one P per CPU, the default, the runtime makes a thread for an
// idle P each time a goroutine wakes (7 to 11 threads in a monitor here, 7 to 8 at one P),
// which costs the start its clones and a monitor its stacks: at one P, run --rm alpine true
// took 0.12 ms less (bench/ab.sh, 300 pairs twice), run -d 0.9 ms less, and a monitor's RSS
// was 4.4 MiB where it was 4.7 to 4.9.
const oneP = "GOMAXPROCS=1"

// hiddenGoEnvPrefix is what hideGoEnv puts before the name of a variable of goRuntimeVars.
const hiddenGoEnvPrefix = "STRATA_CMD_"

// hideGoEnv returns env as strata's own Go program that starts the command in a container
// (--init's reaper, exec's limits-exec) is exec'd with: the command's environment, of the image
// and the user, whose GODEBUG, GOMAXPROCS or GOMEMLIMIT are the command's business, not the
// helper's runtime's. Each of goRuntimeVars is renamed with prefix in place, and restoreGoEnv
// renames it back for the command; prefix is "" when env holds none. prefix is
// hiddenGoEnvPrefix and one "_" more than any name of env has after it before a name of
// goRuntimeVars: only the renamed ones have it then.
func hideGoEnv(env []string) (_ []string, prefix string) {
	runtimeVar := func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(goRuntimeVars, name)
	}
	if !slices.ContainsFunc(env, runtimeVar) {
		return env, ""
	}
	n := 0
	for _, kv := range env {
		if rest, ok := strings.CutPrefix(kv, hiddenGoEnvPrefix); ok {
			k := len(rest) - len(strings.TrimLeft(rest, "_"))
			if runtimeVar(rest[k:]) {
				n = max(n, k+1)
			}
		}
	}
	prefix = hiddenGoEnvPrefix + strings.Repeat("_", n)
	out := make([]string, len(env))
	for i, kv := range env {
		if runtimeVar(kv) {
			kv = prefix + kv
		}
		out[i] = kv
	}
	return out, prefix
}

// restoreGoEnv is the command's environment that hideGoEnv hid with prefix in env.
func restoreGoEnv(env []string, prefix string) []string {
	if prefix == "" {
		return env
	}
	out := make([]string, len(env))
	for i, kv := range env {
		if rest, ok := strings.CutPrefix(kv, prefix); ok {
			name, _, _ := strings.Cut(rest, "=")
			if slices.Contains(goRuntimeVars, name) {
				kv = rest
			}
		}
		out[i] = kv
	}
	return out
}

// withGoEnvPrefix is the argv[0] of helper marker that tells it hideGoEnv's prefix;
// splitMarker takes it apart again.
func withGoEnvPrefix(marker, prefix string) string {
	if prefix == "" {
		return marker
	}
	return marker + ":" + prefix
}

// splitMarker is argv[0]'s marker and the prefix withGoEnvPrefix put after it.
func splitMarker(argv0 string) (marker, prefix string) {
	marker, prefix, _ = strings.Cut(argv0, ":")
	return marker, prefix
}

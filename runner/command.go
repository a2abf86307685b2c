package runner

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/quote"
)

// DefaultPath is the PATH a container gets when neither the image nor the flags set one
// (the value Docker uses).
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// MergeCommand computes the argv to run from the image's Entrypoint and Cmd and the run flags,
// following Docker's rules (docs "ENTRYPOINT / CMD interaction"):
//
//   - --entrypoint replaces the image's entrypoint and clears the image's Cmd; an empty
//     --entrypoint "" removes the entrypoint altogether;
//   - arguments after the image replace Cmd;
//   - the result is entrypoint followed by cmd.
//
// An empty result means there is nothing to run (ErrNoCommand at Run).
func MergeCommand(entrypoint, cmd []string, overrideEntrypoint *string, args []string) []string {
	if overrideEntrypoint != nil {
		cmd = nil
	}
	entrypoint = EffectiveEntrypoint(entrypoint, overrideEntrypoint)
	if len(args) > 0 {
		cmd = args
	}
	out := make([]string, 0, len(entrypoint)+len(cmd))
	out = append(out, entrypoint...)
	return append(out, cmd...)
}

// EffectiveEntrypoint is the entrypoint MergeCommand puts first: the image's, or
// --entrypoint's (none when that is empty).
func EffectiveEntrypoint(entrypoint []string, overrideEntrypoint *string) []string {
	switch {
	case overrideEntrypoint == nil:
		return entrypoint
	case *overrideEntrypoint == "":
		return nil
	}
	return []string{*overrideEntrypoint}
}

// MergeEnv merges the image's environment with --env-file files and then -e flags, later
// values winning by key while keeping the first position, as docker does. A flag or file line
// without "=" takes the variable from strata's own environment; when strata has none, the
// variable is dropped, the image's value with it.
// In env files, as in docker's, a byte-order mark opening the file and whitespace opening a
// line are skipped, and blank lines and lines starting with '#' are ignored.
func MergeEnv(imageEnv, envFlags []string, envFiles []string) ([]string, error) {
	var out []string
	index := map[string]int{}
	size := 0 // what out takes of the kernel's room for argv and envp: strings and pointers
	set := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		size += envSize(kv)
		if i, ok := index[k]; ok {
			size -= envSize(out[i])
			out[i] = kv
			return
		}
		index[k] = len(out)
		out = append(out, kv)
	}
	// An environment no execve can take is refused now, in one line: twenty env files of
	// 15 MB were read whole (180 MB, seconds) for the exec to fail with "argument list too long".
	tooBig := func(after string) error {
		if size <= maxExecStrings {
			return nil
		}
		return fmt.Errorf("the environment is %d bytes after %s, over the %d the kernel passes to a command with its arguments", size, after, maxExecStrings)
	}
	// As docker: a -e name may hold any character but "=", an env file's no whitespace.
	fromFlag := func(v string, fileLine bool) error {
		k, _, hasValue := strings.Cut(v, "=")
		if k == "" {
			return fmt.Errorf("invalid environment variable %s: empty name", quote.Value(v))
		}
		if fileLine && strings.ContainsAny(k, " \t") {
			return fmt.Errorf("invalid environment variable %s: name contains whitespace", quote.Value(v))
		}
		// Refused here, with the file and line, for run and exec alike: exec's went on to
		// the command's execve, which failed it as the command's (126), naming nothing.
		if strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("invalid environment variable %s: contains a NUL byte", quote.Value(k))
		}
		if hasValue {
			set(v)
		} else if hv, ok := os.LookupEnv(k); ok {
			set(k + "=" + hv)
		} else if i, ok := index[k]; ok {
			// Unset here: the image's or a file's value goes too, as docker's daemon drops
			// a variable the client sent without "=" (set again later, it keeps its place).
			size -= envSize(out[i])
			out[i] = ""
		}
		return nil
	}
	for _, kv := range imageEnv {
		if kv != "" {
			set(kv)
		}
	}
	if err := tooBig("the image's"); err != nil {
		return nil, err
	}
	for _, f := range envFiles {
		if err := readKVFile("env", f, maxEnvFile, maxEnvLine, func(line string) error { return fromFlag(line, true) }); err != nil {
			return nil, err
		}
		if err := tooBig("env file " + quote.Value(f)); err != nil {
			return nil, err
		}
	}
	for _, v := range envFlags {
		if err := fromFlag(v, false); err != nil {
			return nil, err
		}
	}
	if err := tooBig("-e"); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(kv string) bool { return kv == "" }), nil
}

// withDefaultEnv adds PATH, HOSTNAME, HOME and TERM the way Docker does when they are unset.
func withDefaultEnv(env []string, hostname, home string, terminal bool) ([]string, error) {
	has := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		has[k] = true
	}
	out := append([]string(nil), env...)
	if !has["PATH"] {
		out = append(out, "PATH="+DefaultPath)
	}
	if !has["HOSTNAME"] && hostname != "" {
		out = append(out, "HOSTNAME="+hostname)
	}
	if !has["TERM"] && terminal {
		out = append(out, "TERM=xterm")
	}
	if !has["HOME"] {
		if home == "" {
			home = "/"
		}
		// The image's /etc/passwd may hold, in the home field, a NUL byte or more than the
		// kernel takes of one variable (lines of up to maxUserLine are read), which execve
		// refuses: the command failed "exec: \"sh\": invalid argument" or "argument list too
		// long", 126, as if the command were at fault. runc fails the start too (setenv:
		// invalid argument, or its execve; docker's CLI exits 125), as validateExecStrings
		// refuses such a variable of the image's; an image or -e that sets HOME never reads it.
		kv := "HOME=" + home
		switch maxLen := 32 * os.Getpagesize(); {
		case strings.ContainsRune(home, 0):
			return nil, fmt.Errorf("the home directory in /etc/passwd, %s, contains a NUL byte", quote.Value(home))
		case len(kv) >= maxLen:
			return nil, fmt.Errorf("the home directory in /etc/passwd, %s, is over the kernel's limit of %d bytes for $HOME", quote.Value(home), maxLen-1-len("HOME="))
		}
		out = append(out, kv)
	}
	return out, nil
}

// lookupEnv returns the value of key in a KEY=VALUE list.
func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// ParseSignal parses a signal as docker accepts it: "TERM", "SIGTERM", "sigterm" or "15".
// A name is one of docker's Linux signal map (moby/sys/signal), no more: its aliases (CLD,
// IOT, POLL) included, and of the realtime signals RTMIN, RTMIN+1 to RTMIN+15, RTMAX-14 to
// RTMAX-1 and RTMAX. "" is refused: kill reads it as its default before it gets here.
func ParseSignal(s string) (syscall.Signal, error) {
	if s == "" {
		return 0, fmt.Errorf("invalid signal %s", quote.Value(s))
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %s: out of range", quote.Value(s))
		}
		return syscall.Signal(n), nil
	}
	if sig, ok := signalNames()[strings.TrimPrefix(strings.ToUpper(s), "SIG")]; ok {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal %s", quote.Value(s))
}

// The realtime signals as docker numbers them (moby/sys/signal): SIGRTMIN is 34, as glibc
// reserves 32 and 33, and SIGRTMAX 64.
const (
	sigRTMin = 34
	sigRTMax = 64
)

// signalNames is docker's signal map for Linux, without the SIG prefix. It is made on first
// use: the init and most commands never name a signal, and it is some 60 map entries.
var signalNames = sync.OnceValue(func() map[string]syscall.Signal {
	m := map[string]syscall.Signal{
		"ABRT": unix.SIGABRT, "ALRM": unix.SIGALRM, "BUS": unix.SIGBUS, "CHLD": unix.SIGCHLD,
		"CLD": unix.SIGCLD, "CONT": unix.SIGCONT, "FPE": unix.SIGFPE, "HUP": unix.SIGHUP,
		"ILL": unix.SIGILL, "INT": unix.SIGINT, "IO": unix.SIGIO, "IOT": unix.SIGIOT,
		"KILL": unix.SIGKILL, "PIPE": unix.SIGPIPE, "POLL": unix.SIGPOLL, "PROF": unix.SIGPROF,
		"PWR": unix.SIGPWR, "QUIT": unix.SIGQUIT, "SEGV": unix.SIGSEGV, "STKFLT": unix.SIGSTKFLT,
		"STOP": unix.SIGSTOP, "SYS": unix.SIGSYS, "TERM": unix.SIGTERM, "TRAP": unix.SIGTRAP,
		"TSTP": unix.SIGTSTP, "TTIN": unix.SIGTTIN, "TTOU": unix.SIGTTOU, "URG": unix.SIGURG,
		"USR1": unix.SIGUSR1, "USR2": unix.SIGUSR2, "VTALRM": unix.SIGVTALRM,
		"WINCH": unix.SIGWINCH, "XCPU": unix.SIGXCPU, "XFSZ": unix.SIGXFSZ,
		// systemd images stop with SIGRTMIN+3.
		"RTMIN": sigRTMin, "RTMAX": sigRTMax,
	}
	for n := 1; n <= 15; n++ {
		m["RTMIN+"+strconv.Itoa(n)] = syscall.Signal(sigRTMin + n)
	}
	for n := 1; n <= 14; n++ {
		m["RTMAX-"+strconv.Itoa(n)] = syscall.Signal(sigRTMax - n)
	}
	return m
})

// maxEnvFile bounds an --env-file: far more than any environment the kernel would pass.
const maxEnvFile = 16 << 20

// maxEnvLine bounds one line of an --env-file: more than a variable execve takes (32 pages).
const maxEnvLine = 1 << 20

// maxExecStrings is the most an execve takes of argv and envp together, their strings with
// their NULs and a pointer each, whatever the stack limit: 3/4 of _STK_LIM (8 MiB), as
// bprm_stack_limits in the kernel's fs/exec.c computes it.
const maxExecStrings = 6 << 20

// envSize is what kv takes of maxExecStrings.
func envSize(kv string) int {
	if kv == "" {
		return 0 // an unset variable's place
	}
	return len(kv) + 1 + 8
}

package runner

import "fmt"

// minInitPidsLimit is the smallest --pids-limit a container with --init can run in. The pids
// controller counts threads, not processes, and --init's reaper is a Go program: PID 1 holds
// the runtime's and os/signal's threads (see runReaper), and the command's processes share
// what is left. Measured with strata-init on Go 1.26, 200 starts of
// `run --rm --init --pids-limit N alpine true` each: the reaper has 7 or 8 threads once it
// runs, and its start is timing-dependent enough to reach 9 before the command is forked
// (at N=8 a fifth of the starts could not fork it, at N=9 one in 200, at N=10 none). So 9
// threads and the command itself: 10; and two more, as on a loaded machine a reaper of a
// larger binary (a strata built without its helper, which re-executes itself; the runner's
// test binary) reached 10 threads before it forked the command (make test met one such
// 126). Under it the runtime could die with a dump of all its goroutines when it could not
// make a thread (up to N=7), or the command could not be forked (126). Those threads grew
// with the runtime's Ps, one per CPU: the measures above are of 2 CPUs, and at 8 Ps the test
// binary's reaper had up to 13. It now runs at one P (reaperGoEnv): strata-init's reaper has
// 4 to 7 threads once the command runs (200 starts under load, 6 to 9 at 2 Ps), the test
// binary's 4 to 7 (300 runs; 5 to 10 at 2 Ps), whatever the host. docker's --init (tini, one
// thread) runs at 2.
const minInitPidsLimit = 12

// validateInitPids refuses a --pids-limit too small for --init's reaper and its command,
// before anything is created. A container without --init, or without a limit, is not
// concerned.
func validateInitPids(s Spec) error {
	if s.Init && s.Resources.PidsLimit > 0 && s.Resources.PidsLimit < minInitPidsLimit {
		return fmt.Errorf("--init needs --pids-limit of at least %d (the reaper's threads count toward it)", minInitPidsLimit)
	}
	return nil
}

// validateInitNproc refuses, in the init once the user is known, an nproc ulimit too small
// for --init's reaper: RLIMIT_NPROC counts the threads of the command's user, and the
// reaper runs as that user. Under minInitPidsLimit the Go runtime died with a dump of all
// its goroutines when it could not make a thread (`run --init -u 1000 --ulimit nproc=4`),
// where docker's tini forks the command. Root is not limited by RLIMIT_NPROC (strata uses
// no user namespace), nor is a container without --init: the init execs the command.
func validateInitNproc(s Spec, uid uint32) error {
	if !s.Init || uid == 0 {
		return nil
	}
	soft := ulimitSoft(s, "nproc")
	if soft >= 0 && soft < minInitPidsLimit {
		return fmt.Errorf("--init needs --ulimit nproc of at least %d for a user other than root (the reaper's threads count toward it)", minInitPidsLimit)
	}
	return nil
}

// ulimitSoft is the soft limit s's --ulimit sets for name (the last one given is the one
// set), or -1 when none does.
func ulimitSoft(s Spec, name string) int64 {
	soft := int64(-1)
	for _, u := range s.Ulimits {
		if u.Name == name {
			soft = u.Soft
		}
	}
	return soft
}

// minInitData is the smallest --ulimit data (its soft limit, which the kernel enforces) a
// container with --init can run in. RLIMIT_DATA bounds a process's private writable
// mappings, and the reaper is a Go program: its runtime maps tens of MB before main runs (on
// amd64 the heap arena index alone is 32 MiB), and GC is off. Measured with strata-init on Go
// 1.26: at 64 MiB the runtime died at start with "out of memory allocating heap arena map"
// and a dump of its goroutines, at 16 MiB it died of SIGSEGV without a word (the container
// "exited 139" and its command never ran), from 80 MiB it started every time. Twice that
// leaves the heap room. docker's --init (tini) runs at much less.
const minInitData = 128 << 20

// validateInitData refuses, before anything is created, a --ulimit data too small for
// --init's reaper. Root is bound by it too; a container without --init is not concerned.
func validateInitData(s Spec) error {
	if !s.Init {
		return nil
	}
	soft := ulimitSoft(s, "data")
	if soft >= 0 && soft < minInitData {
		return fmt.Errorf("--init needs --ulimit data of at least %d (%d MiB): the reaper's runtime maps that much", minInitData, minInitData>>20)
	}
	return nil
}

// minInitNofile is the smallest --ulimit nofile (its soft limit) a container with --init can
// run in: the reaper's Go runtime opens its poller's descriptors at start, and starting the
// command takes a pipe. Measured with strata-init on Go 1.26: under 5 the runtime died at
// start ("fatal error: runtime: netpollinit failed" and a dump of its goroutines), at 8 it
// could not start the command ("too many open files", 126), from 9 it ran every time.
const minInitNofile = 12

// validateInitNofile refuses, before anything is created, a --ulimit nofile too small for
// --init's reaper. A container without --init is not concerned: the init execs the command.
func validateInitNofile(s Spec) error {
	if !s.Init {
		return nil
	}
	soft := ulimitSoft(s, "nofile")
	if soft >= 0 && soft < minInitNofile {
		return fmt.Errorf("--init needs --ulimit nofile of at least %d (the reaper's runtime and its start of the command hold that many)", minInitNofile)
	}
	return nil
}

// Command interleave times commands in turn, one run of each per round, and writes the runs
// as hyperfine's --export-json does, so bench/lib reads them alike. hyperfine times one
// command's runs in a block, then the next command's: on a VM whose speed drifts by a third
// within minutes (see bench/ab.sh), two blocks a minute apart measure the drift as much as the
// tools. Here the runs of every command are spread over the same minutes, and each round's
// order is rotated, so no command always runs after the same one.
//
//	interleave [-runs N] [-warmup N] [-gap SECONDS] [-o FILE] -n NAME [-mntns PID] -- CMD ARG… ;; …
//
// Each command is given as -n NAME, optionally -mntns PID (run it in the mount namespace of
// process PID, as `nsenter -t PID -m` would, but without an nsenter process in the time), then
// its argv up to a ";;" argument or the end. -gap sleeps that long before each run, untimed.
// A run's time is from the fork to the reaping of the command, as hyperfine -N measures it;
// its CPU time is the command's and its reaped children's user and system time.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// command is one command to time and its runs.
type command struct {
	name  string
	mntns int // pid whose mount namespace the command runs in; 0: ours
	argv  []string

	times, user, system []float64 // seconds, per timed run
	codes               []int
}

// result is one command's entry of hyperfine's export.
type result struct {
	Command   string    `json:"command"`
	Mean      float64   `json:"mean"`
	Median    float64   `json:"median"`
	Min       float64   `json:"min"`
	Max       float64   `json:"max"`
	User      float64   `json:"user"`
	System    float64   `json:"system"`
	Times     []float64 `json:"times"`
	ExitCodes []int     `json:"exit_codes"`
}

func main() {
	runs := flag.Int("runs", 20, "timed rounds")
	warmup := flag.Int("warmup", 3, "untimed rounds first")
	gap := flag.Float64("gap", 0, "seconds slept before each run, untimed")
	out := flag.String("o", "", "file for the JSON export (default stdout)")
	// The flags end at the first -n: the commands' own arguments are theirs.
	first := slices.Index(os.Args[1:], "-n") + 1
	if first == 0 {
		first = len(os.Args)
	}
	_ = flag.CommandLine.Parse(os.Args[1:first])
	cmds, err := parseCommands(append(flag.Args(), os.Args[first:]...))
	if err == nil && *runs < 1 {
		err = errors.New("-runs must be at least 1")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "interleave:", err)
		os.Exit(2)
	}
	for round := -*warmup; round < *runs; round++ {
		for i := range cmds {
			c := &cmds[(i+round+*warmup)%len(cmds)]
			if *gap > 0 {
				time.Sleep(time.Duration(*gap * float64(time.Second)))
			}
			wall, user, sys, code, err := runOnce(c)
			if err != nil {
				fmt.Fprintf(os.Stderr, "interleave: %s: %v\n", c.name, err)
				os.Exit(1)
			}
			if round >= 0 {
				c.times = append(c.times, wall)
				c.user = append(c.user, user)
				c.system = append(c.system, sys)
				c.codes = append(c.codes, code)
			}
		}
	}
	var export struct {
		Results []result `json:"results"`
	}
	for _, c := range cmds {
		export.Results = append(export.Results, summarize(c))
	}
	b, _ := json.MarshalIndent(export, "", "  ")
	b = append(b, '\n')
	if *out == "" {
		_, err = os.Stdout.Write(b)
	} else {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "interleave:", err)
		os.Exit(1)
	}
}

// parseCommands reads "-n NAME [-mntns PID] [--] ARGV… ;; …".
func parseCommands(args []string) ([]command, error) {
	var cmds []command
	for len(args) > 0 {
		if args[0] != "-n" || len(args) < 2 {
			return nil, fmt.Errorf("want -n NAME before each command, at %q", args[0])
		}
		c := command{name: args[1]}
		args = args[2:]
		if len(args) >= 2 && args[0] == "-mntns" {
			pid, err := strconv.Atoi(args[1])
			if err != nil || pid <= 0 {
				return nil, fmt.Errorf("%s: -mntns wants a pid, not %q", c.name, args[1])
			}
			c.mntns = pid
			args = args[2:]
		}
		if len(args) > 0 && args[0] == "--" {
			args = args[1:]
		}
		end := slices.Index(args, ";;")
		if end < 0 {
			end = len(args)
		}
		c.argv = args[:end]
		if len(c.argv) == 0 {
			return nil, fmt.Errorf("%s: no command", c.name)
		}
		if end < len(args) {
			end++
		}
		args = args[end:]
		cmds = append(cmds, c)
	}
	if len(cmds) == 0 {
		return nil, errors.New("no commands")
	}
	return cmds, nil
}

// runOnce runs c once, with its output discarded, and returns its wall time and CPU times in
// seconds and its exit code. A command run in another mount namespace is started from a
// thread of its own that joined that namespace and ends with the goroutine (it is never
// unlocked), so no other goroutine runs in that namespace.
func runOnce(c *command) (wall, user, sys float64, code int, err error) {
	type outcome struct {
		wall, user, sys float64
		code            int
		err             error
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		if c.mntns != 0 {
			runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
			if o.err = joinMountNS(c.mntns); o.err != nil {
				done <- o
				return
			}
		}
		cmd := exec.Command(c.argv[0], c.argv[1:]...)
		t0 := time.Now()
		o.err = cmd.Start()
		if o.err == nil {
			o.err = cmd.Wait()
		}
		o.wall = time.Since(t0).Seconds()
		var exit *exec.ExitError
		if errors.As(o.err, &exit) {
			o.err = nil // a failed run is recorded by its code, as hyperfine -i does
		}
		if o.err == nil {
			ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			o.user = time.Duration(ru.Utime.Nano()).Seconds()
			o.sys = time.Duration(ru.Stime.Nano()).Seconds()
			o.code = cmd.ProcessState.ExitCode()
		}
		done <- o
	}()
	o := <-done
	return o.wall, o.user, o.sys, o.code, o.err
}

// joinMountNS moves this thread into the mount namespace of process pid; the thread first
// stops sharing the process's filesystem attributes, which the kernel requires.
func joinMountNS(pid int) error {
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/mnt", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening mount namespace: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare(CLONE_FS): %w", err)
	}
	if err := unix.Setns(fd, unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("joining mount namespace of %d: %w", pid, err)
	}
	return nil
}

// summarize is c's entry in the export; user and system are means, as hyperfine gives them.
func summarize(c command) result {
	r := result{Command: c.name, Times: c.times, ExitCodes: c.codes}
	sorted := slices.Sorted(slices.Values(c.times))
	r.Min, r.Max = sorted[0], sorted[len(sorted)-1]
	r.Median = sorted[len(sorted)/2]
	if len(sorted)%2 == 0 {
		r.Median = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	r.Mean, r.User, r.System = mean(c.times), mean(c.user), mean(c.system)
	return r
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

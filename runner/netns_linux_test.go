package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/runner/cgroups"
	"golang.org/x/sys/unix"
)

// testNetns makes a network namespace with newNetns, closed when the test ends, and returns
// it with its name ("net:[…]").
func testNetns(t *testing.T) (*os.File, string) {
	t.Helper()
	ns, err := newNetns()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns, mustReadlink(t, "/proc/self/fd/"+strconv.Itoa(int(ns.Fd())))
}

// TestNewNetns: the namespace is a new one with lo up, and the thread that made it is back in
// its own namespace afterwards.
func TestNewNetns(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	before := mustReadlink(t, "/proc/thread-self/ns/net")
	_, made := testNetns(t)
	after := mustReadlink(t, "/proc/thread-self/ns/net")
	if made == before || !strings.HasPrefix(made, "net:[") {
		t.Errorf("newNetns returned %q; want a network namespace other than the host's %q", made, before)
	}
	if after != before {
		t.Errorf("this thread is in %q after newNetns, want its own %q", after, before)
	}
}

// TestEarlyNetworkRun: an init started while PrepareNetwork makes the namespace is cloned
// without one and joins it once the spec names it; the container has only lo, up, in it.
func TestEarlyNetworkRun(t *testing.T) {
	spec := testSpec(t, "sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/operstate; readlink /proc/self/ns/net")
	var out, errb bytes.Buffer
	stdio := Stdio{Stdout: &out, Stderr: &errb}
	PrepareNetwork(spec.ID, NetworkNone)
	e := PrepareCgroup(spec.ID, spec.Resources)
	t.Cleanup(func() { _ = e.Release() })
	e.PrepareInit(InitShape{}, stdio)
	p := earlyInitOf(t, spec.ID)
	if !slices.Contains(p.cmd.Args, initNetnsLaterArg) {
		t.Fatalf("early init started as %q, want it to be told the namespace later", p.cmd.Args)
	}
	prepared := preparedNetnsOf(t, spec.ID)
	code, err := Run(context.Background(), spec, stdio)
	if err != nil || code != 0 {
		t.Fatalf("Run = %d, %v (stderr %q)", code, err, errb.String())
	}
	host := mustReadlink(t, "/proc/self/ns/net")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || lines[0] != "lo" || lines[1] != "unknown" || lines[2] != prepared || lines[2] == host {
		t.Errorf("container saw %q; want only lo, up, in the prepared namespace %s (host: %s)", lines, prepared, host)
	}
	if _, ok := earlyNetns.Load(spec.ID); ok {
		t.Error("the prepared namespace is still registered after the run")
	}
}

// TestEarlyNetworkHostIgnored: PrepareNetwork makes nothing for a container on the host's
// network, and Release closes a namespace no init took.
func TestEarlyNetworkHostIgnored(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	id := randomID(t)
	PrepareNetwork(id, NetworkHost)
	if _, ok := earlyNetns.Load(id); ok {
		t.Error("PrepareNetwork made a namespace for --network host")
	}
	PrepareNetwork(id, NetworkNone)
	preparedNetnsOf(t, id)
	v, _ := earlyNetns.Load(id)
	n := v.(*preparedNetns)
	e := PrepareCgroup(id, cgroups.Resources{})
	if err := e.Release(); err != nil {
		t.Fatal(err)
	}
	if _, ok := earlyNetns.Load(id); ok || n.fd != nil {
		t.Error("Release left the unused namespace open")
	}
}

// preparedNetnsOf waits for the namespace PrepareNetwork is making for id and returns what
// it is (readlink of its fd, "net:[inode]").
func preparedNetnsOf(t *testing.T, id string) string {
	t.Helper()
	v, ok := earlyNetns.Load(id)
	if !ok {
		t.Fatal("PrepareNetwork made no namespace")
	}
	n := v.(*preparedNetns)
	<-n.done
	if n.fd == nil {
		t.Fatal("making the namespace failed")
	}
	l := mustReadlink(t, "/proc/self/fd/"+strconv.Itoa(int(n.fd.Fd())))
	return l
}

func TestParseInitArgs(t *testing.T) {
	a, err := parseInitArgs([]string{initNetnsArg, initCgroupArg + "/sys/fs/cgroup/pids/strata/x", initCgroupArg + "/sys/fs/cgroup/memory/strata/x"})
	if err != nil || !a.netns || len(a.cgroupDirs) != 2 || a.cgroupDirs[1] != "/sys/fs/cgroup/memory/strata/x" {
		t.Errorf("parseInitArgs = %+v, %v", a, err)
	}
	for _, bad := range [][]string{{"cgroup=relative/dir"}, {"--netns"}, {""}} {
		if _, err := parseInitArgs(bad); err == nil {
			t.Errorf("parseInitArgs(%q) accepted it", bad)
		}
	}
}

// TestJoinLaterNetns: the init joins the namespace the path names (lo up already), or makes
// one of its own when there is none to open; either way it leaves the host's. It runs on a
// thread of its own, which ends with it.
func TestJoinLaterNetns(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	host := mustReadlink(t, "/proc/self/ns/net")
	ns, want := testNetns(t)
	for _, tt := range []struct {
		path string
		loUp bool
	}{
		{fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), ns.Fd()), true},
		{"", false},
		{"/proc/self/fd/999999", false},
	} {
		type result struct {
			loUp bool
			ns   string
			err  error
		}
		c := make(chan result, 1)
		onThrowawayThread(func() {
			var r result
			if r.loUp, r.err = joinLaterNetns(tt.path); r.err == nil {
				r.ns, r.err = os.Readlink("/proc/thread-self/ns/net")
			}
			c <- r
		})
		r := <-c
		switch {
		case r.err != nil:
			t.Errorf("joinLaterNetns(%q) = %v", tt.path, r.err)
		case r.loUp != tt.loUp || r.ns == host || (tt.loUp && r.ns != want):
			t.Errorf("joinLaterNetns(%q): in %s, lo up %v; want lo up %v, not the host's %s (prepared: %s)", tt.path, r.ns, r.loUp, tt.loUp, host, want)
		}
	}
}

// TestOnThrowawayThread: what a throwaway thread does to its namespaces never shows in the
// process's (/proc/self is the main thread's), however often it runs.
func TestOnThrowawayThread(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	host := mustReadlink(t, "/proc/self/ns/net")
	for i := 0; i < 50; i++ {
		errc := make(chan error, 1)
		onThrowawayThread(func() { errc <- unix.Unshare(unix.CLONE_NEWNET) })
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if now, err := os.Readlink("/proc/self/ns/net"); err != nil || now != host {
			t.Fatalf("after %d throwaway threads the process is in %s, %v; want %s", i+1, now, err, host)
		}
	}
}

// mustReadlink is os.Readlink for a link the test cannot go on without.
func mustReadlink(t *testing.T, p string) string {
	t.Helper()
	l, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

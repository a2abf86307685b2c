package integration

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestContainerPrune: docker's `container prune` on a running container, an exited one and a
// created one. Answered "n" it removes nothing; label= matches no strata container (they carry
// no labels) and until= keeps those created after it; -f removes the exited and created ones,
// newest first, in docker's format, and leaves the running one without a word; an unknown
// filter key is an error.
func TestContainerPrune(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "cp-up", "cp-ex", "cp-cr") })
	mustStrata(t, root, "run", "-d", "--name", "cp-up", "alpine", "sleep", "600")
	mustStrata(t, root, "run", "--name", "cp-ex", "alpine", "sh", "-c", "head -c 20000 /dev/zero > /written")
	mustStrata(t, root, "create", "--name", "cp-cr", "alpine", "true")
	id := func(name string) string {
		return strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.Id}}", name).Stdout)
	}
	exID, crID := id("cp-ex"), id("cp-cr")
	names := func() []string {
		out := mustStrata(t, root, "ps", "-a", "--format", "{{.Names}}").Stdout
		names := strings.Fields(out)
		slices.Sort(names)
		return names
	}
	all := []string{"cp-cr", "cp-ex", "cp-up"}
	const prompt = "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "

	for _, answer := range []string{"n\n", "\n", "", "nope\ny\n"} {
		r := run(t, testEnv(t.TempDir()), answer, root, "container", "prune")
		if r.Code != 0 || r.Stdout != prompt || r.Stderr != "" {
			t.Errorf("container prune answered %q = exit %d, stdout %q, stderr %q; want 0 and only the question", answer, r.Code, r.Stdout, r.Stderr)
		}
	}
	if got := names(); !slices.Equal(got, all) {
		t.Fatalf("after answering no: %q, want %q", got, all)
	}

	for _, filter := range [][]string{{"--filter", "label=team"}, {"--filter", "label=team=a", "--filter", "label!=x"}, {"--filter", "until=1h"}, {"--filter", "until=2000-01-01T00:00:00Z"}} {
		r := strata(t, root, append([]string{"container", "prune", "-f"}, filter...)...)
		if r.Code != 0 || r.Stdout != "Total reclaimed space: 0B\n" || r.Stderr != "" {
			t.Errorf("container prune -f %q = exit %d, stdout %q, stderr %q; want 0 and nothing reclaimed", filter, r.Code, r.Stdout, r.Stderr)
		}
	}
	if got := names(); !slices.Equal(got, all) {
		t.Fatalf("after the filters that match nothing: %q, want %q", got, all)
	}

	r := strata(t, root, "container", "prune", "-f", "--filter", "x=1")
	checkFailed(t, r, `invalid --filter "x=1": unknown key "x"`)
	if r.Code != 1 || r.Stdout != "" {
		t.Errorf("container prune --filter x=1 = exit %d, stdout %q; want 1 and nothing", r.Code, r.Stdout)
	}

	// label!= passes every container without the label: all of strata's.
	r = strata(t, root, "container", "prune", "--force", "--filter", "label!=team", "--filter", "until=2099-01-01T00:00:00Z")
	want := regexp.MustCompile("^Deleted Containers:\n" + crID + "\n" + exID + "\n\nTotal reclaimed space: [0-9.]+kB\n$")
	if r.Code != 0 || !want.MatchString(r.Stdout) || r.Stderr != "" {
		t.Errorf("container prune -f = exit %d, stdout %q, stderr %q; want 0 and %s", r.Code, r.Stdout, r.Stderr, want)
	}
	if got := names(); !slices.Equal(got, []string{"cp-up"}) {
		t.Errorf("after prune -f: %q, want only the running cp-up", got)
	}
	if out := mustStrata(t, root, "inspect", "-f", "{{.State.Running}}", "cp-up").Stdout; out != "true\n" {
		t.Errorf("cp-up after prune: running = %q, want true", out)
	}
	r = run(t, testEnv(t.TempDir()), "y\n", root, "container", "prune")
	if r.Code != 0 || r.Stdout != prompt+"Total reclaimed space: 0B\n" || r.Stderr != "" {
		t.Errorf("container prune answered y with only a running container = exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
}

// TestContainerPruneRacesStart: a prune while its containers are being started removes each
// one that was not started yet and leaves each one that was, running, without an error: a
// start that won the race makes Remove refuse the container as running, and prune skips it.
func TestContainerPruneRacesStart(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	var names []string
	for i := range 4 {
		names = append(names, fmt.Sprintf("cpr-%d", i))
	}
	t.Cleanup(func() { strata(t, root, append([]string{"rm", "-f"}, names...)...) })
	ids := map[string]string{}
	for _, n := range names {
		ids[n] = strings.TrimSpace(mustStrata(t, root, "create", "--name", n, "alpine", "sleep", "600").Stdout)
	}
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			strata(t, root, "start", n)
		}()
	}
	r := strata(t, root, "container", "prune", "-f")
	wg.Wait()
	if r.Code != 0 || r.Stderr != "" || !strings.HasSuffix(r.Stdout, "B\n") {
		t.Fatalf("container prune -f racing starts = exit %d, stdout %q, stderr %q; want 0 and no error", r.Code, r.Stdout, r.Stderr)
	}
	deleted := 0
	for _, n := range names {
		gone := strings.Contains(r.Stdout, ids[n]+"\n")
		state := strata(t, root, "inspect", "-f", "{{.State.Status}}", n)
		switch {
		case gone && state.Code == 0:
			t.Errorf("%s listed as deleted but still there (%s)", n, strings.TrimSpace(state.Stdout))
		case gone:
			deleted++
		case state.Code != 0 || state.Stdout != "running\n":
			t.Errorf("%s not deleted: inspect exit %d, status %q; want running", n, state.Code, state.Stdout)
		}
	}
	t.Logf("prune deleted %d of %d containers racing their starts", deleted, len(names))
}
